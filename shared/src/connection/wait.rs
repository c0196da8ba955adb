//! [`wait`]: CPython's `multiprocessing.connection.wait`, one wait on several connections and
//! process sentinels at once.

use std::fs::File;
use std::net::{TcpListener, TcpStream, UdpSocket};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::net::{UnixListener, UnixStream};
use std::process::{ChildStderr, ChildStdout};
use std::time::Duration;

use super::Connection;
use crate::deadline::Deadline;
use crate::error::{Error, Result};
use crate::sys::poll;

/// Something [`wait`] can wait on: a [`Connection`], or a descriptor (a process's
/// [`sentinel`](crate::Process::sentinel), a socket, a pipe, any `BorrowedFd`).
///
/// Implemented for [`Connection`], [`BorrowedFd`], [`OwnedFd`], [`File`], the socket types of
/// `std::net` and `std::os::unix::net`, and a child's `stdout`/`stderr`; any other [`AsFd`]
/// type can be waited on through its [`as_fd`](AsFd::as_fd).
///
/// # Examples
///
/// ```
/// use std::os::fd::AsFd;
/// use std::time::Duration;
/// use multiprocessing::{Pipe, Waitable, wait};
///
/// let (a, b) = Pipe(true)?;
/// let (stream, _peer) = std::os::unix::net::UnixStream::pair().unwrap();
/// a.send(&1u8)?;
/// let objects: [&dyn Waitable; 2] = [&b, &stream.as_fd()];
/// assert_eq!(wait(&objects, Some(Duration::from_secs(5)))?, [0]);
/// # Ok::<(), multiprocessing::Error>(())
/// ```
pub trait Waitable {
    /// The descriptor to wait on: readable means ready.
    ///
    /// # Errors
    /// Whatever makes the object unfit to wait on (a closed connection, the write-only end
    /// of a one-way pipe).
    fn wait_fd(&self) -> Result<BorrowedFd<'_>>;

    /// Whether the object is ready although its descriptor may not say so (a connection that
    /// read messages ahead). False unless overridden.
    fn ready_now(&self) -> bool {
        false
    }
}

impl Waitable for Connection {
    fn wait_fd(&self) -> Result<BorrowedFd<'_>> {
        self.check_readable()?;
        Ok(self.fd.as_fd())
    }

    fn ready_now(&self) -> bool {
        !self.closed() && self.has_buffered()
    }
}

macro_rules! waitable_descriptors {
    ($($t:ty),* $(,)?) => {$(
        impl Waitable for $t {
            fn wait_fd(&self) -> Result<BorrowedFd<'_>> {
                Ok(self.as_fd())
            }
        }
    )*};
}

waitable_descriptors!(
    BorrowedFd<'_>,
    OwnedFd,
    File,
    UnixStream,
    UnixListener,
    TcpStream,
    TcpListener,
    UdpSocket,
    ChildStdout,
    ChildStderr,
);

/// Waits until at least one of `objects` is ready, or `timeout` passes (`None` waits for ever),
/// like CPython's `multiprocessing.connection.wait(object_list, timeout)`. Returns the places
/// in `objects` of those that are ready, in order; empty when the time ran out.
///
/// A connection is ready when a [`recv`](Connection::recv) would not block at its start: a
/// message is waiting (also one it already read ahead, which its descriptor does not show), or
/// the peer closed its end (the `recv` then returns [`Error::Eof`] at once). A process's
/// [`sentinel`](crate::Process::sentinel) is ready when the process has ended; any other
/// descriptor when it is readable.
///
/// # Differences from Python
/// CPython returns the ready objects; Rust returns their places in the slice, which the caller
/// can index (the objects are borrowed, and differ in type).
///
/// # Errors
/// [`Error::State`] for a closed connection or the write-only end of a one-way pipe;
/// [`Error::Os`] if `poll` fails (`EBADF` for a descriptor that is not open).
///
/// # Examples
///
/// Three children answer at different times; the parent takes each answer as it comes, and
/// knows each child has ended from its sentinel:
///
/// ```
/// use std::time::Duration;
/// use multiprocessing::{Connection, Pipe, Process, Waitable, wait};
///
/// fn answer((conn, delay_ms): (Connection, u64)) {
///     std::thread::sleep(Duration::from_millis(delay_ms));
///     conn.send(&delay_ms).unwrap();
/// }
///
/// let mut readers = Vec::new();
/// let mut processes = Vec::new();
/// for delay_ms in [30, 10, 20] {
///     let (reader, writer) = Pipe(false)?;
///     let mut p = Process::new(answer, (writer, delay_ms));
///     p.start()?;
///     readers.push(reader);
///     processes.push(p);
/// }
/// let mut answers = Vec::new();
/// while answers.len() < 3 {
///     let objects: Vec<&dyn Waitable> = readers.iter().map(|r| r as &dyn Waitable).collect();
///     for i in wait(&objects, Some(Duration::from_secs(30)))? {
///         if let Ok(delay) = readers[i].recv::<u64>() {
///             answers.push(delay);
///         }
///     }
/// }
/// answers.sort();
/// assert_eq!(answers, [10, 20, 30]);
/// for p in &processes {
///     p.join()?;
/// }
/// # Ok::<(), multiprocessing::Error>(())
/// ```
pub fn wait(objects: &[&dyn Waitable], timeout: Option<Duration>) -> Result<Vec<usize>> {
    let deadline = Deadline::after(timeout);
    let fds = objects.iter().map(|o| o.wait_fd()).collect::<Result<Vec<_>>>()?;
    loop {
        // What was read ahead is ready at once: then the poll only looks, without waiting.
        let ahead: Vec<bool> = objects.iter().map(|o| o.ready_now()).collect();
        let left = if ahead.contains(&true) {
            Some(Duration::ZERO)
        } else {
            deadline.left()
        };
        let readable = poll::poll_readable_many(&fds, left).map_err(|e| Error::os("wait: poll", e))?;
        let ready: Vec<usize> = (0..objects.len()).filter(|&i| ahead[i] || readable[i]).collect();
        // Nothing ready: the time ran out, or a signal interrupted the poll.
        if !ready.is_empty() || deadline.passed() {
            return Ok(ready);
        }
    }
}

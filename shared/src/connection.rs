//! Connections: [`Pipe`] and [`Connection`], after CPython's `Lib/multiprocessing/connection.py`.
//!
//! A [`Connection`] carries whole messages over a byte stream (a Unix socket or a pipe). Every
//! message is a frame: a length header, then the payload.
//!
//! ```text
//! length < 0xFFFF_FFFF:   [length: u32 LE][payload]
//! otherwise:              [0xFFFF_FFFF][length: u64 LE][payload]
//! ```
//!
//! (CPython does the same with a big-endian `i32` and `-1` as the escape.) Objects are turned
//! into payloads by the crate's [`codec`](crate::codec); [`Connection::send_bytes`] and
//! [`Connection::recv_bytes`] move raw payloads.
//!
//! Reading is buffered for small messages and exact for big ones: a `recv` reads whatever is
//! waiting, up to 4 KiB, with one system call, so a small message (header and
//! payload) usually costs one `read`; bytes of the messages after it stay in the `Connection`
//! for the next `recv`. A payload that does not fit is read straight into its own buffer, up to
//! its last byte and no further. A connection with a second reader (made by
//! [`Connection::try_clone`]) reads exactly: one header and one payload, never a byte more.

use std::fmt;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError, TryLockError};
use std::time::{Duration, Instant};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::codec;
use crate::error::{Error, Result};
use crate::sys::{fcntl, poll, socket};

/// The default [`Connection::max_message_size`]: 1 GiB.
pub const DEFAULT_MAX_MESSAGE_SIZE: u64 = 1 << 30;

/// The escape value of the 4-byte header: an 8-byte length follows.
const LONG_HEADER: u32 = u32::MAX;

/// Payloads up to this size are copied behind their header and sent with one `send`; longer
/// ones go out with one `sendmsg` of the header and the payload where they are.
const SMALL: usize = 256;

/// How much one `read` may take in: a frame that fits (header and payload) is decoded where it
/// landed, and whatever came after it waits in the connection for the next `recv`. Allocated
/// on a connection's first `recv`.
const READ_AHEAD: usize = 4096;

/// `send` keeps its encoding buffer between messages up to this capacity.
const KEEP_OUTPUT: usize = 64 << 10;

/// A payload longer than this is read into a buffer that grows as its bytes arrive (doubling),
/// so a header that lies about the length costs no more memory than the bytes really sent,
/// plus this much. Shorter payloads get their whole buffer at once.
const GROW_FROM: usize = 16 << 20;

/// How long a blocking receive that finds nothing to read keeps trying before it sleeps in the
/// kernel. Waking a process asleep on an idle CPU costs ~40 us on this machine (a VM with
/// cpuidle), against ~0.3 us for a try; a peer that answers within the spin is seen at once.
/// Measured (`mp-bench`, 2026-11-27 11:58 UTC): 10 us is too short for a manager's answer
/// (no gain), 20-100 us all gave the full gain; 50 us leaves room for a slower answer.
const SPIN_TIME: Duration = Duration::from_micros(50);

/// After this many spins in a row that ran out, a connection stops spinning; it tries again
/// after `1 << misses` receives that slept (at most `1 << MAX_MISSES`), so a connection that
/// waits long for each message (an idle worker) spends almost nothing on spinning.
const MAX_MISSES: u32 = 8;

/// Pipes are enlarged (best effort) to this size before the first message that does not fit
/// in a default 64 KiB pipe, which lets the writer hand over big messages in fewer, larger
/// steps (measured: 0.8 GB/s through a 64 KiB pipe, 2.6 GB/s through 1 MiB).
const BIG_PIPE: usize = 1 << 20;

/// Returns a pair of connected [`Connection`]s, like Python's `multiprocessing.Pipe(duplex)`.
///
/// With `duplex` true both ends send and receive (a Unix socket pair). With `duplex` false the
/// first end only receives and the second only sends (a pipe), as CPython's
/// `Pipe(False)` returns `(reader, writer)`.
///
/// # Errors
/// [`Error::Os`] when the process is out of descriptors.
///
/// # Examples
///
/// ```
/// use multiprocessing::{Pipe, Process};
/// use multiprocessing::Connection;
///
/// fn send_obj(conn: Connection) {
///     conn.send("这是通过管道发送的信息").unwrap();
///     conn.close();
/// }
///
/// let (parent_conn, child_conn) = Pipe(true)?;
/// let mut p = Process::new(send_obj, child_conn);
/// p.start()?;
/// let msg: String = parent_conn.recv()?;
/// assert_eq!(msg, "这是通过管道发送的信息");
/// p.join()?;
/// # Ok::<(), multiprocessing::Error>(())
/// ```
#[allow(non_snake_case, reason = "the name of Python's multiprocessing.Pipe")]
pub fn Pipe(duplex: bool) -> Result<(Connection, Connection)> {
    if duplex {
        let (a, b) = socket::socketpair().map_err(|e| Error::os("Pipe(duplex=true): socketpair", e))?;
        Ok((
            Connection::new(a, true, true, true),
            Connection::new(b, true, true, true),
        ))
    } else {
        let (r, w) = socket::pipe().map_err(|e| Error::os("Pipe(duplex=false): pipe2", e))?;
        Ok((
            Connection::new(r, true, false, false),
            Connection::new(w, false, true, false),
        ))
    }
}

/// One end of a message channel, like Python's `multiprocessing.connection.Connection`.
///
/// Made by [`Pipe`], or from any stream socket or pipe end by [`Connection::from_owned_fd`].
/// [`send`](Connection::send) a serde value and [`recv`](Connection::recv) it in the other
/// process; messages of any size keep their boundaries.
///
/// # Framing
/// Every message is a frame: a 4-byte little-endian length, then the payload; a payload of
/// `0xFFFF_FFFF` bytes or more has the escape `0xFFFF_FFFF` followed by an 8-byte length (CPython
/// does the same with a big-endian length and `-1`).
///
/// # Reading ahead
/// A `recv` reads whatever is waiting, up to 4 KiB, with one system call: a small message costs
/// one `read`, and when the peer sent several messages back to back, the ones after it wait in
/// this `Connection`, so the next `recv` makes no system call at all;
/// [`poll`](Connection::poll) counts them. A payload that does not fit is read straight into its
/// own buffer, up to its last byte and no further. Two consequences:
/// - To share one channel between readers (processes taking turns under a lock), give each its
///   own [`try_clone`](Connection::try_clone): a clone, and the connection it was cloned from,
///   read exactly (one header and one payload, never a byte more), so no reader holds messages
///   that another is waiting for. A `Connection` moved into a child by
///   [`Process::new`](crate::Process::new) takes what it read ahead with it (the parent's copy is
///   closed when the child starts), so nothing is lost or read twice.
/// - Waiting on the descriptor yourself ([`AsFd`] with `poll` or `epoll`) does not see messages
///   already read ahead: ask [`poll`](Connection::poll), or keep receiving while it says true.
///
/// # Waiting: a short spin, then sleep
/// A receive that finds no complete message waiting does not go to sleep at once: for up to
/// 50 us it keeps trying to read without blocking (`recv(MSG_DONTWAIT)` on a socket, a
/// zero-timeout `poll` on a pipe), and only then blocks in the kernel. Waking a process that
/// sleeps on an idle CPU costs ~40 us on a VM with cpuidle, so a peer that answers within the
/// spin is seen in a few microseconds instead (`mp-bench pipe_rtt` on a quiet 2-CPU VM: a median
/// of 7.0 us, spread 3.5-61 us, became 4.0 us, spread 3.2-6.6 us). The cost is CPU time: at
/// most 50 us of one CPU per receive that has to wait. A spin that runs out makes the connection stop spinning for the next
/// 1, 3, 7, ... 255 receives (doubling after each spin in a row that ran out, back to spinning
/// every time once a spin catches a message), so a connection that waits long for its
/// messages (an idle pool worker, a manager without clients) spends well under a microsecond
/// of spinning per receive, and a long wait costs no CPU beyond its first 50 us.
/// [`poll`](Connection::poll) never spins, and neither does a timeout.
///
/// # Errors a receiver sees
/// - The peer closed its end (or exited) between messages: [`Error::Eof`], Python's `EOFError`.
/// - The peer died in the middle of a message: [`Error::Eof`] that says how many bytes of the
///   frame arrived ("truncated frame"). Nothing more can be read after that.
/// - The payload does not decode as the requested type: [`Error::Codec`] naming the type. The
///   frame was consumed, so the next `recv` reads the next message.
/// - The header announces more than [`max_message_size`](Connection::max_message_size) bytes:
///   an [`Error::Os`] of kind `InvalidData`, returned before anything is allocated for it. The
///   payload is read and thrown away in small pieces, so the next `recv` reads the next message.
///
/// # Concurrency
/// A `Connection` is `Send` and `Sync`, but, as in CPython, two threads or processes that
/// send on the same connection at the same time may interleave their frames (a big message is
/// written in several steps), and two that receive at the same time may each get part of one
/// frame. Guard a connection shared by several senders or receivers with a lock, as CPython's
/// `Pool` does, or use a `Queue`, which does that for you.
///
/// # End of file and `fork`
/// A forked child inherits *every* descriptor of its parent, so both ends of a pipe made
/// before the fork are open in both processes. The reader sees end of file only once every copy
/// of the other end is closed: the parent's copy of a `Connection` moved into
/// [`Process::new`](crate::Process::new) is closed when the process starts, but a child that
/// still holds its own copy of the peer waits forever, exactly as in Python. End such loops with
/// a sentinel message.
///
/// # Passing to a process
/// Under `fork` a `Connection` passed to [`Process::new`](crate::Process::new) is simply
/// inherited. It also implements `Serialize`/`Deserialize` for the `spawn` start method
/// (issue 7): it serializes its descriptor number (and the bytes it has read ahead, which
/// the new process receives first), and deserializing adopts that inherited descriptor, taking
/// ownership of it. Deserialize a connection only in the process that
/// inherited the descriptor, and only once.
///
/// # Examples
///
/// ```
/// use multiprocessing::{Error, Pipe};
///
/// let (a, b) = Pipe(true)?;
/// a.send(&vec![1u32, 2, 3])?;
/// assert_eq!(b.recv::<Vec<u32>>()?, [1, 2, 3]);
/// b.send_bytes(b"raw")?;
/// assert_eq!(a.recv_bytes()?, b"raw");
/// a.close();
/// assert!(matches!(b.recv::<u32>(), Err(Error::Eof(_))));
/// # Ok::<(), multiprocessing::Error>(())
/// ```
pub struct Connection {
    fd: OwnedFd,
    readable: bool,
    writable: bool,
    /// Sockets are written with `send(MSG_NOSIGNAL)`, pipes with `write`.
    socket: bool,
    max_message_size: AtomicU64,
    /// Whether we already tried to enlarge this pipe for big messages.
    enlarged: AtomicBool,
    /// Read exactly, without reading ahead: set once the descriptor has a second reader.
    exact: AtomicBool,
    /// Bytes read from the descriptor and not yet returned. Held for the whole of a `recv`.
    input: Mutex<ReadBuf>,
    /// Spins in a row that ran out before data came (see `SPIN_TIME`).
    spin_misses: AtomicU32,
    /// Receives left to sleep without spinning, after a spin that ran out.
    spin_skip: AtomicU32,
    /// Where `send` encodes a message, reused (up to `KEEP_OUTPUT` bytes of capacity).
    output: Mutex<Vec<u8>>,
}

/// The read-ahead buffer: `data[start..end]` is what came in and was not returned yet, always
/// the beginning of a frame (between `recv`s).
#[derive(Default)]
struct ReadBuf {
    data: Vec<u8>,
    start: usize,
    end: usize,
}

impl ReadBuf {
    fn buffered(&self) -> usize {
        self.end - self.start
    }

    fn consume(&mut self, n: usize) {
        self.start += n;
        if self.start == self.end {
            // Empty: the next read may use the whole buffer.
            self.start = 0;
            self.end = 0;
        }
    }

    fn clear(&mut self) {
        self.consume(self.buffered());
    }
}

impl Connection {
    fn new(fd: OwnedFd, readable: bool, writable: bool, socket: bool) -> Connection {
        Connection {
            fd,
            readable,
            writable,
            socket,
            max_message_size: AtomicU64::new(DEFAULT_MAX_MESSAGE_SIZE),
            enlarged: AtomicBool::new(false),
            exact: AtomicBool::new(false),
            input: Mutex::new(ReadBuf::default()),
            spin_misses: AtomicU32::new(0),
            spin_skip: AtomicU32::new(0),
            output: Mutex::new(Vec::new()),
        }
    }

    /// A connection over `fd`, any connected stream socket or either end of a pipe. Both
    /// directions are allowed; the OS refuses the one the descriptor cannot do.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::os::unix::net::UnixStream;
    /// use multiprocessing::Connection;
    ///
    /// let (a, b) = UnixStream::pair().unwrap();
    /// let (a, b) = (Connection::from_owned_fd(a.into()), Connection::from_owned_fd(b.into()));
    /// a.send(&42u8)?;
    /// assert_eq!(b.recv::<u8>()?, 42);
    /// # Ok::<(), multiprocessing::Error>(())
    /// ```
    pub fn from_owned_fd(fd: OwnedFd) -> Connection {
        let socket = socket::is_socket(fd.as_fd());
        Connection::new(fd, true, true, socket)
    }

    /// Sends `obj`, encoded by the crate's [`codec`](crate::codec), as one message.
    ///
    /// # Errors
    /// [`Error::Codec`] naming the type when `obj` cannot be encoded (nothing is sent);
    /// [`Error::State`] on the read-only end of a one-way pipe; [`Error::Os`] when writing
    /// fails, e.g. `EPIPE` because the peer has closed its end.
    ///
    /// # Examples
    ///
    /// ```
    /// let (a, b) = multiprocessing::Pipe(true)?;
    /// a.send(&("任务", 7u64))?;
    /// assert_eq!(b.recv::<(String, u64)>()?, ("任务".to_string(), 7));
    /// # Ok::<(), multiprocessing::Error>(())
    /// ```
    pub fn send<T: Serialize + ?Sized>(&self, obj: &T) -> Result<()> {
        self.check_writable()?;
        // Encode into the connection's own buffer, kept from one message to the next: a fresh
        // vector cost a calloc, a realloc and a free per message, about half the instructions
        // of a small `send`. (A `send` from inside another one's `Serialize`, or racing
        // another thread's, encodes into a vector of its own.)
        let mut spare = Vec::new();
        let mut kept = match self.output.try_lock() {
            Ok(buf) => Some(buf),
            Err(TryLockError::Poisoned(buf)) => Some(buf.into_inner()),
            Err(TryLockError::WouldBlock) => None,
        };
        let buf: &mut Vec<u8> = kept.as_deref_mut().unwrap_or(&mut spare);
        // Leave room for the longest header in front, then encode once and fill the header in
        // just before the payload, so the frame goes out in one piece without a second copy.
        buf.clear();
        buf.reserve(12 + SMALL);
        buf.resize(12, 0);
        let sent = match codec::encode_into(obj, buf) {
            Ok(()) => {
                let len = (buf.len() - 12) as u64;
                let start = put_header(&mut buf[..12], len);
                self.write_frame_data(&buf[start..], len)
            }
            Err(e) => Err(e.into()),
        };
        if buf.capacity() > KEEP_OUTPUT {
            // One big message must not pin its buffer for the connection's life.
            *buf = Vec::new();
        }
        sent
    }

    /// Receives one message and decodes it as a `T`. Blocks until a whole message is there.
    ///
    /// # Errors
    /// [`Error::Eof`] when the peer closed its end (see the type's docs for a truncated frame),
    /// [`Error::Codec`] naming `T` when the payload is not a `T`, and the errors of
    /// [`recv_bytes`](Connection::recv_bytes).
    ///
    /// # Examples
    ///
    /// ```
    /// let (a, b) = multiprocessing::Pipe(false)?;
    /// b.send("hello")?;
    /// let err = a.recv::<u64>().unwrap_err(); // a string is not a u64
    /// assert!(err.to_string().contains("u64"), "{err}");
    /// # Ok::<(), multiprocessing::Error>(())
    /// ```
    pub fn recv<T: DeserializeOwned>(&self) -> Result<T> {
        Ok(self.recv_frame(
            |payload| codec::decode(payload),
            |payload| codec::decode(&payload),
        )??)
    }

    /// Sends `buf` as one message, as is.
    ///
    /// # Errors
    /// As [`send`](Connection::send), less the codec.
    ///
    /// # Examples
    ///
    /// ```
    /// let (a, b) = multiprocessing::Pipe(true)?;
    /// a.send_bytes(&[1, 2, 3])?;
    /// assert_eq!(b.recv_bytes()?, [1, 2, 3]);
    /// # Ok::<(), multiprocessing::Error>(())
    /// ```
    pub fn send_bytes(&self, buf: &[u8]) -> Result<()> {
        self.check_writable()?;
        let len = buf.len() as u64;
        let mut header = [0u8; 12];
        let start = put_header(&mut header, len);
        if buf.len() <= SMALL {
            let mut frame = [0u8; 12 + SMALL];
            let head = 12 - start;
            frame[..head].copy_from_slice(&header[start..]);
            frame[head..head + buf.len()].copy_from_slice(buf);
            return self.write_frame_data(&frame[..head + buf.len()], len);
        }
        // A big payload is not worth copying: the header and the payload leave in one
        // `sendmsg`/`writev` from where they are.
        self.write_frame_parts(&header[start..], buf, len)
    }

    /// Receives one message as raw bytes. Blocks until a whole message is there.
    ///
    /// # Errors
    /// [`Error::Eof`] when the peer closed its end; [`Error::Os`] of kind `InvalidData` when
    /// the message is longer than [`max_message_size`](Connection::max_message_size) (it is
    /// skipped, so the next message can still be read); [`Error::State`] on the write-only end
    /// of a one-way pipe; [`Error::Os`] when reading fails.
    ///
    /// # Examples
    ///
    /// ```
    /// let (a, b) = multiprocessing::Pipe(true)?;
    /// b.set_max_message_size(4);
    /// a.send_bytes(b"too long")?;
    /// a.send_bytes(b"ok")?;
    /// assert!(b.recv_bytes().unwrap_err().to_string().contains("longer than"));
    /// assert_eq!(b.recv_bytes()?, b"ok");
    /// # Ok::<(), multiprocessing::Error>(())
    /// ```
    pub fn recv_bytes(&self) -> Result<Vec<u8>> {
        self.recv_frame(<[u8]>::to_vec, |payload| payload)
    }

    /// Waits until there is something to read, or at most `timeout` (`None` waits forever).
    /// Returns whether a [`recv`](Connection::recv) would not block at its start. A closed
    /// peer counts as readable: the `recv` then returns [`Error::Eof`] at once, as in CPython.
    ///
    /// # Errors
    /// [`Error::State`] on the write-only end of a one-way pipe; [`Error::Os`] if `poll` fails.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    ///
    /// let (a, b) = multiprocessing::Pipe(true)?;
    /// assert!(!b.poll(Some(Duration::ZERO))?);
    /// a.send(&1u8)?;
    /// assert!(b.poll(Some(Duration::from_secs(5)))?);
    /// # Ok::<(), multiprocessing::Error>(())
    /// ```
    pub fn poll(&self, timeout: Option<Duration>) -> Result<bool> {
        self.check_readable()?;
        // What was read ahead is there to receive, whatever the descriptor says.
        if self.has_buffered() {
            return Ok(true);
        }
        poll::poll_readable(self.fd.as_fd(), timeout).map_err(|e| self.os("poll", e))
    }

    /// Whether bytes read ahead are waiting in this connection, so the next `recv` starts
    /// without a system call (no system call is made to find out). False while another thread
    /// is in the middle of a `recv`.
    pub(crate) fn has_buffered(&self) -> bool {
        match self.input.try_lock() {
            Ok(input) => input.buffered() > 0,
            Err(std::sync::TryLockError::Poisoned(input)) => input.into_inner().buffered() > 0,
            Err(std::sync::TryLockError::WouldBlock) => false,
        }
    }

    /// Closes the connection (dropping it does the same). The peer's next `recv` returns
    /// [`Error::Eof`] once no other process holds this end open.
    ///
    /// # Examples
    ///
    /// ```
    /// let (a, b) = multiprocessing::Pipe(true)?;
    /// a.close();
    /// assert!(b.recv_bytes().is_err());
    /// # Ok::<(), multiprocessing::Error>(())
    /// ```
    pub fn close(self) {
        drop(self);
    }

    /// A second connection over the same channel (a duplicated descriptor). From then on
    /// both read exactly, without reading ahead (see the type's docs), so they can take turns
    /// receiving.
    ///
    /// # Errors
    /// [`Error::Os`] when the process is out of descriptors.
    ///
    /// # Examples
    ///
    /// ```
    /// let (a, b) = multiprocessing::Pipe(true)?;
    /// let a2 = a.try_clone()?;
    /// a2.send(&5u8)?;
    /// assert_eq!(b.recv::<u8>()?, 5);
    /// # Ok::<(), multiprocessing::Error>(())
    /// ```
    pub fn try_clone(&self) -> Result<Connection> {
        let fd = fcntl::dup_cloexec(self.fd.as_raw_fd()).map_err(|e| self.os("dup", e))?;
        let clone = Connection::new(fd, self.readable, self.writable, self.socket);
        // Two readers of one channel: neither may take in bytes of a message meant for the
        // other. (What this one already read ahead stays with it.)
        self.exact.store(true, Ordering::Relaxed);
        clone.exact.store(true, Ordering::Relaxed);
        clone.set_max_message_size(self.max_message_size());
        clone
            .enlarged
            .store(self.enlarged.load(Ordering::Relaxed), Ordering::Relaxed);
        Ok(clone)
    }

    /// The longest message [`recv`](Connection::recv) accepts, in bytes
    /// ([`DEFAULT_MAX_MESSAGE_SIZE`], 1 GiB, unless set).
    ///
    /// # Examples
    ///
    /// ```
    /// let (a, _b) = multiprocessing::Pipe(true)?;
    /// assert_eq!(a.max_message_size(), multiprocessing::DEFAULT_MAX_MESSAGE_SIZE);
    /// # Ok::<(), multiprocessing::Error>(())
    /// ```
    pub fn max_message_size(&self) -> u64 {
        self.max_message_size.load(Ordering::Relaxed)
    }

    /// Sets the longest message this end accepts. A longer one is refused by `recv` before
    /// anything is allocated for it, which protects a process from a peer that announces
    /// gigabytes (by bug or malice).
    ///
    /// # Examples
    ///
    /// ```
    /// let (a, b) = multiprocessing::Pipe(true)?;
    /// b.set_max_message_size(3);
    /// a.send_bytes(b"four")?;
    /// let err = b.recv_bytes().unwrap_err();
    /// assert!(err.to_string().contains("refused a message of 4 bytes"), "{err}");
    /// # Ok::<(), multiprocessing::Error>(())
    /// ```
    pub fn set_max_message_size(&self, bytes: u64) {
        self.max_message_size.store(bytes, Ordering::Relaxed);
    }

    /// Whether this end can receive (false for the write end of `Pipe(false)`).
    pub fn readable(&self) -> bool {
        self.readable
    }

    /// Whether this end can send (false for the read end of `Pipe(false)`).
    pub fn writable(&self) -> bool {
        self.writable
    }

    fn check_readable(&self) -> Result<()> {
        if self.readable {
            Ok(())
        } else {
            Err(Error::state(format!("{self:?} is write-only")))
        }
    }

    fn check_writable(&self) -> Result<()> {
        if self.writable {
            Ok(())
        } else {
            Err(Error::state(format!("{self:?} is read-only")))
        }
    }

    fn os(&self, what: &str, e: std::io::Error) -> Error {
        Error::os(format!("{what} on {self:?}"), e)
    }

    /// Writes part of a frame whose payload is `len` bytes long.
    fn write_frame_data(&self, data: &[u8], len: u64) -> Result<()> {
        if !self.socket && len > 65536 && !self.enlarged.swap(true, Ordering::Relaxed) {
            // Best effort: a user at their pipe-buffer quota keeps the default size.
            let _ = socket::set_pipe_size(self.fd.as_fd(), BIG_PIPE);
        }
        socket::write_all(self.fd.as_fd(), data, self.socket).map_err(|e| {
            if e.kind() == std::io::ErrorKind::BrokenPipe {
                self.os("send (the peer has closed its end)", e)
            } else {
                self.os("send", e)
            }
        })
    }

    /// Writes a frame in two parts (header and payload) with one system call where it can.
    fn write_frame_parts(&self, header: &[u8], payload: &[u8], len: u64) -> Result<()> {
        if !self.socket && len > 65536 && !self.enlarged.swap(true, Ordering::Relaxed) {
            let _ = socket::set_pipe_size(self.fd.as_fd(), BIG_PIPE);
        }
        socket::write_two_all(self.fd.as_fd(), header, payload, self.socket).map_err(|e| {
            if e.kind() == std::io::ErrorKind::BrokenPipe {
                self.os("send (the peer has closed its end)", e)
            } else {
                self.os("send", e)
            }
        })
    }

    fn input(&self) -> MutexGuard<'_, ReadBuf> {
        // The buffer is consistent between system calls, so a panic elsewhere leaves it usable.
        self.input.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Receives one frame and hands its payload to `small` (a slice of the read-ahead buffer)
    /// or `big` (a vector of its own, filled without an extra copy).
    fn recv_frame<R>(&self, small: impl FnOnce(&[u8]) -> R, big: impl FnOnce(Vec<u8>) -> R) -> Result<R> {
        self.check_readable()?;
        let mut input = self.input();
        let (head, len) = self.read_header(&mut input)?;
        let max = self.max_message_size();
        if len > max {
            input.consume(head);
            let skipped = match self.skip(&mut input, len) {
                Ok(()) => "it was skipped".to_string(),
                Err(e) => format!("skipping it failed: {e}"),
            };
            return Err(Error::os(
                format!("recv on {self:?}"),
                std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    format!(
                        "refused a message of {len} bytes, longer than the maximum of {max} bytes \
                         (Connection::set_max_message_size); {skipped}"
                    ),
                ),
            ));
        }
        if len <= (READ_AHEAD - head) as u64 {
            // `len` fits in the buffer, hence in a usize.
            let frame = head + len as usize;
            let got = self.fill(&mut input, frame)?;
            if got < frame {
                input.clear();
                return Err(self.truncated((got - head) as u64, len));
            }
            let payload = input.start + head..input.start + frame;
            let out = small(&input.data[payload]);
            input.consume(frame);
            return Ok(out);
        }
        input.consume(head);
        // Everything buffered belongs to this payload, which is longer than the buffer.
        let have = input.start..input.end;
        let payload = self.read_big_payload(&input.data[have], len);
        input.clear();
        Ok(big(payload?))
    }

    /// Makes `need` bytes (at most `READ_AHEAD`) buffered, reading as much as is waiting
    /// (exactly what is missing once the connection is shared). Returns how many bytes are
    /// buffered: fewer than `need` only at end of file.
    fn fill(&self, input: &mut ReadBuf, need: usize) -> Result<usize> {
        if input.data.is_empty() {
            input.data = vec![0; READ_AHEAD];
        }
        if input.start + need > input.data.len() {
            let ReadBuf { data, start, end } = input;
            data.copy_within(*start..*end, 0);
            *end -= *start;
            *start = 0;
        }
        let exact = self.exact.load(Ordering::Relaxed);
        while input.buffered() < need {
            let limit = if exact {
                input.start + need
            } else {
                input.data.len()
            };
            let end = input.end;
            let buf = &mut input.data[end..limit];
            let n = match self.spin_read(buf).map_err(|e| self.os("recv", e))? {
                Some(n) => n,
                None => socket::read_some(self.fd.as_fd(), buf).map_err(|e| self.os("recv", e))?,
            };
            if n == 0 {
                break;
            }
            input.end += n;
        }
        Ok(input.buffered())
    }

    /// Tries to read without sleeping for up to `SPIN_TIME`: `Some(n)` as `read` returns it, or
    /// `None` when nothing came (or this connection is not spinning now), and the caller sleeps
    /// in a blocking `read`. Keeps a count of spins that ran out, so that a connection whose
    /// peer is slow to answer soon stops spinning (see `MAX_MISSES`).
    fn spin_read(&self, buf: &mut [u8]) -> std::io::Result<Option<usize>> {
        let skip = self.spin_skip.load(Ordering::Relaxed);
        if skip > 0 {
            self.spin_skip.store(skip - 1, Ordering::Relaxed);
            return Ok(None);
        }
        let fd = self.fd.as_fd();
        if let Some(n) = socket::read_nowait(fd, buf, self.socket)? {
            // Something was waiting: no spin was needed, nothing to learn.
            return Ok(Some(n));
        }
        let until = Instant::now() + SPIN_TIME;
        loop {
            for _ in 0..8 {
                std::hint::spin_loop();
            }
            if let Some(n) = socket::read_nowait(fd, buf, self.socket)? {
                self.spin_misses.store(0, Ordering::Relaxed);
                return Ok(Some(n));
            }
            if Instant::now() >= until {
                let misses = (self.spin_misses.load(Ordering::Relaxed) + 1).min(MAX_MISSES);
                self.spin_misses.store(misses, Ordering::Relaxed);
                self.spin_skip.store((1 << misses) - 1, Ordering::Relaxed);
                return Ok(None);
            }
        }
    }

    /// Reads a frame header into the buffer and returns its size and the payload length. The
    /// header stays buffered.
    fn read_header(&self, input: &mut ReadBuf) -> Result<(usize, u64)> {
        let got = self.fill(input, 4)?;
        if got == 0 {
            return Err(Error::Eof(format!("{self:?}: the peer has closed its end")));
        }
        if got < 4 {
            input.clear();
            return Err(self.truncated(got as u64, 4));
        }
        let at = input.start;
        let short = u32::from_le_bytes(input.data[at..at + 4].try_into().expect("4 bytes"));
        if short != LONG_HEADER {
            return Ok((4, u64::from(short)));
        }
        let got = self.fill(input, 12)?;
        if got < 12 {
            input.clear();
            return Err(self.truncated(got as u64, 12));
        }
        let at = input.start;
        let long = u64::from_le_bytes(input.data[at + 4..at + 12].try_into().expect("8 bytes"));
        Ok((12, long))
    }

    fn truncated(&self, got: u64, of: u64) -> Error {
        Error::Eof(format!(
            "{self:?}: truncated frame: the peer closed its end after {got} of {of} bytes of a message"
        ))
    }

    /// Reads the rest of a `len`-byte payload (`len` within the maximum) whose first bytes,
    /// `have`, were read ahead, into a new vector. Reads exactly to the payload's end.
    fn read_big_payload(&self, have: &[u8], len: u64) -> Result<Vec<u8>> {
        let len =
            usize::try_from(len).map_err(|_| self.os("recv", std::io::ErrorKind::OutOfMemory.into()))?;
        // Trust the header only as far as the bytes that really came: a peer that announces a
        // gigabyte and sends nothing costs 16 MiB, not a gigabyte (nor an abort if the
        // allocation fails). Zeroed memory for a big buffer comes straight from fresh pages,
        // so this costs no pass.
        let mut payload = vec![0u8; len.min(GROW_FROM)];
        payload[..have.len()].copy_from_slice(have);
        let mut filled = have.len();
        loop {
            let got =
                socket::read_full(self.fd.as_fd(), &mut payload[filled..]).map_err(|e| self.os("recv", e))?;
            filled += got;
            if filled < payload.len() {
                return Err(self.truncated(filled as u64, len as u64));
            }
            if filled == len {
                return Ok(payload);
            }
            payload.resize(len.min(2 * filled), 0);
        }
    }

    /// Discards a `len`-byte payload, the buffered part first, so the stream is at the next
    /// frame again. Reads exactly to the payload's end.
    fn skip(&self, input: &mut ReadBuf, len: u64) -> Result<()> {
        let buffered = input.buffered().min(usize::try_from(len).unwrap_or(usize::MAX));
        input.consume(buffered);
        let total = len;
        let mut len = len - buffered as u64;
        let mut sink = [0u8; 16384];
        while len > 0 {
            let want = usize::try_from(len).unwrap_or(usize::MAX).min(sink.len());
            let n = socket::read_some(self.fd.as_fd(), &mut sink[..want]).map_err(|e| self.os("recv", e))?;
            if n == 0 {
                return Err(self.truncated(total - len, total));
            }
            len -= n as u64;
        }
        Ok(())
    }
}

/// Writes the header for a `len`-byte payload at the end of `room` (12 bytes) and returns where
/// it starts.
fn put_header(room: &mut [u8], len: u64) -> usize {
    match u32::try_from(len) {
        Ok(short) if short != LONG_HEADER => {
            room[8..12].copy_from_slice(&short.to_le_bytes());
            8
        }
        _ => {
            room[0..4].copy_from_slice(&LONG_HEADER.to_le_bytes());
            room[4..12].copy_from_slice(&len.to_le_bytes());
            0
        }
    }
}

impl fmt::Debug for Connection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mode = match (self.readable, self.writable) {
            (true, true) => "read-write",
            (true, false) => "read-only",
            _ => "write-only",
        };
        write!(f, "Connection(fd {}, {mode})", self.fd.as_raw_fd())
    }
}

impl AsRawFd for Connection {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

impl AsFd for Connection {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

impl From<Connection> for OwnedFd {
    fn from(conn: Connection) -> OwnedFd {
        conn.fd
    }
}

/// What identifies a connection to a process that inherited its descriptor.
#[derive(Serialize, Deserialize)]
struct Wire {
    fd: RawFd,
    readable: bool,
    writable: bool,
    max_message_size: u64,
    exact: bool,
    /// What the sender had read ahead and not yet returned: the receiver's first messages.
    pending: Vec<u8>,
}

impl Serialize for Connection {
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        // A spawned child must inherit this descriptor at this number.
        crate::spawn::note_fd(self.fd.as_raw_fd());
        Wire {
            fd: self.fd.as_raw_fd(),
            readable: self.readable,
            writable: self.writable,
            max_message_size: self.max_message_size(),
            exact: self.exact.load(Ordering::Relaxed),
            pending: {
                let input = self.input();
                input.data[input.start..input.end].to_vec()
            },
        }
        .serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Connection {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        let wire = Wire::deserialize(deserializer)?;
        if wire.pending.len() > READ_AHEAD {
            return Err(serde::de::Error::custom(format!(
                "a connection with {} bytes read ahead (at most {READ_AHEAD} can be)",
                wire.pending.len()
            )));
        }
        let fd = socket::adopt_inherited(wire.fd).map_err(serde::de::Error::custom)?;
        let socket = socket::is_socket(fd.as_fd());
        let conn = Connection::new(fd, wire.readable, wire.writable, socket);
        conn.set_max_message_size(wire.max_message_size);
        conn.exact.store(wire.exact, Ordering::Relaxed);
        if !wire.pending.is_empty() {
            let mut input = conn.input();
            input.end = wire.pending.len();
            input.data = wire.pending;
            input.data.resize(READ_AHEAD, 0);
        }
        Ok(conn)
    }
}

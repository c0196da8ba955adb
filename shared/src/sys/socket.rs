//! `<sys/socket.h>` and the pipe calls of `<unistd.h>`/`<fcntl.h>`: the byte
//! channels under `Connection`. Built on nix's safe wrappers; raw `libc` only where nix has no
//! call (`sigpending`, for the `SIGPIPE` guard of a plain pipe's write).
//!
//! Every descriptor made here is close-on-exec, so a program started with `exec` never inherits
//! a channel it does not know about (a forked child does, which is the point).
#![expect(
    unsafe_code,
    reason = "the signal mask around a pipe write, reads into uninitialized buffers, adopting descriptors"
)]

use std::io::{self, IoSlice};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};

use nix::errno::Errno;
use nix::sys::socket::{MsgFlags, Shutdown};

use super::{retry_eintr, unistd};

/// A nix call's result as an `io::Result`, retried while it fails with `EINTR`.
fn retry<T>(mut call: impl FnMut() -> nix::Result<T>) -> io::Result<T> {
    retry_eintr(|| call().map_err(io::Error::from))
}

/// A connected pair of Unix stream sockets (both ends read and write).
pub(crate) fn socketpair() -> io::Result<(OwnedFd, OwnedFd)> {
    use nix::sys::socket::{AddressFamily, SockFlag, SockType};
    nix::sys::socket::socketpair(
        AddressFamily::Unix,
        SockType::Stream,
        None,
        SockFlag::SOCK_CLOEXEC,
    )
    .map_err(io::Error::from)
}

/// A one-way pair of Unix stream sockets: `(read end, write end)`. The read end is shut down for
/// writing and the write end for reading, so each refuses the other direction as a pipe's ends
/// do; unlike a pipe, a write to it whose reader is gone is an `EPIPE` error and never a
/// `SIGPIPE` (it is written with `MSG_NOSIGNAL`), and it can carry descriptors.
pub(crate) fn one_way_socketpair() -> io::Result<(OwnedFd, OwnedFd)> {
    let (read, write) = socketpair()?;
    shutdown(read.as_fd(), Shutdown::Write)?;
    shutdown(write.as_fd(), Shutdown::Read)?;
    Ok((read, write))
}

fn shutdown(fd: BorrowedFd<'_>, how: Shutdown) -> io::Result<()> {
    nix::sys::socket::shutdown(fd.as_raw_fd(), how).map_err(io::Error::from)
}

/// Whether `fd` is a socket (then [`write_some`] can use `MSG_NOSIGNAL`), as opposed to a pipe.
pub(crate) fn is_socket(fd: BorrowedFd<'_>) -> bool {
    use nix::sys::stat::SFlag;
    nix::sys::stat::fstat(fd)
        .is_ok_and(|st| SFlag::from_bits_truncate(st.st_mode & SFlag::S_IFMT.bits()) == SFlag::S_IFSOCK)
}

/// Writes some of `buf` to `fd`; returns how many bytes went. On a socket this is
/// `send(MSG_NOSIGNAL)`, so a closed peer is an `EPIPE` error rather than a `SIGPIPE`; on a
/// pipe, see [`write_pipe`].
pub(crate) fn write_some(fd: BorrowedFd<'_>, buf: &[u8], socket: bool) -> io::Result<usize> {
    if socket {
        retry(|| nix::sys::socket::send(fd.as_raw_fd(), buf, MsgFlags::MSG_NOSIGNAL))
    } else {
        write_pipe(|| nix::unistd::write(fd, buf))
    }
}

/// Writes all of `buf`, looping over partial writes.
pub(crate) fn write_all(fd: BorrowedFd<'_>, mut buf: &[u8], socket: bool) -> io::Result<()> {
    while !buf.is_empty() {
        let n = write_some(fd, buf, socket)?;
        buf = &buf[n..];
    }
    Ok(())
}

/// Writes all of `first` then all of `second` with as few system calls as the kernel allows
/// (one `sendmsg`/`writev` for both when the buffer has room), so a header and its payload
/// leave together without being copied into one buffer first.
pub(crate) fn write_two_all(
    fd: BorrowedFd<'_>,
    mut first: &[u8],
    mut second: &[u8],
    socket: bool,
) -> io::Result<()> {
    while !first.is_empty() {
        let iov = [IoSlice::new(first), IoSlice::new(second)];
        let n = if socket {
            retry(|| {
                nix::sys::socket::sendmsg::<()>(fd.as_raw_fd(), &iov, &[], MsgFlags::MSG_NOSIGNAL, None)
            })?
        } else {
            write_pipe(|| nix::sys::uio::writev(fd, &iov))?
        };
        if n < first.len() {
            first = &first[n..];
        } else {
            second = &second[n - first.len()..];
            first = &[];
        }
    }
    write_all(fd, second, socket)
}

/// Runs one `write` to a pipe without letting a reader that is gone kill the process.
///
/// A socket is asked not to signal (`MSG_NOSIGNAL`); a pipe cannot be asked per call, and a
/// program may have put `SIGPIPE` back to its default (Rust ignores it at start-up; a command-line
/// tool that wants to die quietly on a closed stdout restores it). So the calling thread blocks
/// `SIGPIPE` for the write, and when the write failed with `EPIPE`, takes back the `SIGPIPE` the
/// kernel queued for it (unless one was already pending before, which is not ours to take):
/// the broken pipe is an `EPIPE` error, as on a socket. `Pipe(false)` is a one-way socket
/// pair and never comes here; only a pipe handed to [`Connection::from_owned_fd`] does.
///
/// [`Connection::from_owned_fd`]: crate::Connection::from_owned_fd
fn write_pipe(mut write: impl FnMut() -> nix::Result<usize>) -> io::Result<usize> {
    use nix::sys::signal::{SigSet, SigmaskHow, Signal, pthread_sigmask};
    let mut pipe_only = SigSet::empty();
    pipe_only.add(Signal::SIGPIPE);
    let mut old = SigSet::empty();
    pthread_sigmask(SigmaskHow::SIG_BLOCK, Some(&pipe_only), Some(&mut old)).map_err(io::Error::from)?;
    let pending_before = old.contains(Signal::SIGPIPE) && sigpipe_pending();
    let written = retry(&mut write);
    if matches!(&written, Err(e) if e.raw_os_error() == Some(Errno::EPIPE as i32))
        && !pending_before
        && sigpipe_pending()
    {
        take_pending_sigpipe();
    }
    if !old.contains(Signal::SIGPIPE) {
        // Restoring a mask we just read cannot fail.
        let _ = pthread_sigmask(SigmaskHow::SIG_UNBLOCK, Some(&pipe_only), None);
    }
    written
}

/// Whether a `SIGPIPE` is pending for the calling thread or the process (`sigpending`, which
/// nix does not wrap).
fn sigpipe_pending() -> bool {
    let mut set = std::mem::MaybeUninit::<libc::sigset_t>::uninit();
    // SAFETY: `set` is writable storage for one sigset_t, which sigpending fills on success.
    if unsafe { libc::sigpending(set.as_mut_ptr()) } != 0 {
        return false;
    }
    // SAFETY: sigpending returned 0, so it initialized `set`; sigismember only reads it.
    unsafe { libc::sigismember(set.as_ptr(), libc::SIGPIPE) == 1 }
}

/// Takes the pending `SIGPIPE` (which is blocked) without waiting.
fn take_pending_sigpipe() {
    let mut set = nix::sys::signal::SigSet::empty();
    set.add(nix::sys::signal::Signal::SIGPIPE);
    // `sigwait` returns at once: the signal is pending and blocked (checked by the caller).
    let _ = set.wait();
}

/// Reads at most `buf.len()` bytes; `Ok(0)` means end of file.
pub(crate) fn read_some(fd: BorrowedFd<'_>, buf: &mut [u8]) -> io::Result<usize> {
    retry(|| nix::unistd::read(fd, buf))
}

/// Reads at most `max` bytes into the spare capacity of `buf` (reserved by the caller) and
/// appends them; returns how many (`Ok(0)`: end of file). The spare capacity is not zeroed
/// first: for a big payload that pass would cost as much as the copy the kernel makes (nix's
/// calls take only initialized buffers, hence the raw ones).
///
/// On a socket this is one `recv(MSG_WAITALL)`, which returns only when all `max` bytes came
/// (or the peer closed, or a signal came): one system call for a payload that arrives in many
/// pieces, where `read` returns each piece. A pipe is read with `read`.
pub(crate) fn read_appending(
    fd: BorrowedFd<'_>,
    buf: &mut Vec<u8>,
    max: usize,
    socket: bool,
) -> io::Result<usize> {
    let spare = buf.spare_capacity_mut();
    let want = spare.len().min(max);
    let n = retry_eintr(|| {
        let to = spare.as_mut_ptr().cast();
        let n = if socket {
            // SAFETY: `to` is writable memory of at least `want` bytes, borrowed from `buf`
            // for the call; the kernel writes at most `want` bytes into it and reads none.
            unsafe { libc::recv(fd.as_raw_fd(), to, want, libc::MSG_WAITALL) }
        } else {
            // SAFETY: as above.
            unsafe { libc::read(fd.as_raw_fd(), to, want) }
        };
        if n < 0 {
            Err(io::Error::last_os_error())
        } else {
            Ok(n.unsigned_abs())
        }
    })?;
    // SAFETY: the kernel initialized the first `n <= want` bytes of the spare capacity.
    unsafe { buf.set_len(buf.len() + n) };
    Ok(n)
}

/// Fills `buf` completely, as [`read_full`] does, with `recv(MSG_WAITALL)` on a socket (see
/// [`read_appending`]). Returns `buf.len()`, or fewer when the peer closed first.
pub(crate) fn read_full_waitall(fd: BorrowedFd<'_>, buf: &mut [u8], socket: bool) -> io::Result<usize> {
    if !socket {
        return read_full(fd, buf);
    }
    let mut got = 0;
    while got < buf.len() {
        let n = retry(|| nix::sys::socket::recv(fd.as_raw_fd(), &mut buf[got..], MsgFlags::MSG_WAITALL))?;
        if n == 0 {
            break;
        }
        got += n;
    }
    Ok(got)
}

/// Reads at most `buf.len()` bytes if some are waiting, without ever sleeping: `Ok(None)` when
/// nothing is there yet, `Ok(Some(0))` at end of file. A socket is read with
/// `recv(MSG_DONTWAIT)` (one call); a pipe cannot be asked per call and its `O_NONBLOCK` is shared
/// with every process holding it, so it is polled with a zero timeout first, then read.
pub(crate) fn read_nowait(fd: BorrowedFd<'_>, buf: &mut [u8], socket: bool) -> io::Result<Option<usize>> {
    if !socket {
        if !super::poll::poll_readable(fd, Some(std::time::Duration::ZERO))? {
            return Ok(None);
        }
        // Readable: data or end of file is there (a second reader could take it first; then
        // this read sleeps, as a blocking receive would have).
        return read_some(fd, buf).map(Some);
    }
    // The errno is matched before it becomes an `io::Error`: a spinning receive mostly finds
    // nothing, and each try costs less.
    loop {
        return match nix::sys::socket::recv(fd.as_raw_fd(), buf, MsgFlags::MSG_DONTWAIT) {
            Ok(n) => Ok(Some(n)),
            Err(Errno::EAGAIN) => Ok(None),
            Err(Errno::EINTR) => continue,
            Err(e) => Err(e.into()),
        };
    }
}

/// Fills `buf` completely. Returns how many bytes were read: `buf.len()`, or fewer when the
/// peer closed first (end of file).
pub(crate) fn read_full(fd: BorrowedFd<'_>, buf: &mut [u8]) -> io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        let n = read_some(fd, &mut buf[got..])?;
        if n == 0 {
            break;
        }
        got += n;
    }
    Ok(got)
}

/// Asks for a pipe buffer of `bytes` (`F_SETPIPE_SZ`); returns the size the kernel granted.
/// Unprivileged processes are capped by `/proc/sys/fs/pipe-max-size` (1 MiB by default).
pub(crate) fn set_pipe_size(fd: BorrowedFd<'_>, bytes: usize) -> io::Result<usize> {
    let want = libc::c_int::try_from(bytes).unwrap_or(libc::c_int::MAX);
    let got = nix::fcntl::fcntl(fd, nix::fcntl::FcntlArg::F_SETPIPE_SZ(want)).map_err(io::Error::from)?;
    Ok(got.unsigned_abs() as usize)
}

/// Takes ownership of descriptor number `fd`, which this process inherited from its parent and
/// was told about in a message (the `spawn` start method's way of passing a resource).
///
/// This trusts the message: the caller must deserialize each inherited resource once, in the
/// process that inherited it. A number that is not open is refused with `EBADF`.
pub(crate) fn adopt_inherited(fd: RawFd) -> io::Result<OwnedFd> {
    if !super::fcntl::is_open(fd) {
        return Err(io::Error::from_raw_os_error(libc::EBADF));
    }
    // SAFETY: the descriptor is open, and by the contract above it was handed to this process
    // to own (its sender's copy lives in another process).
    Ok(unsafe { unistd::owned(fd) })
}

/// Lets go of the channel behind `fd` without freeing its number: `/dev/null` takes its place
/// (in one `dup2`, which also closes the channel), so the number never comes to mean another
/// file while something may still hold it. For a `close` through a shared reference.
pub(crate) fn let_go(fd: BorrowedFd<'_>) -> io::Result<()> {
    let devnull = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/null")?;
    unistd::dup2(devnull.as_raw_fd(), fd.as_raw_fd())?;
    // `dup2` clears close-on-exec; every descriptor of ours has it.
    super::fcntl::set_cloexec(fd.as_raw_fd(), true)
}

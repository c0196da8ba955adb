//! `<sys/socket.h>` and the pipe calls of `<unistd.h>`/`<fcntl.h>`: the byte
//! channels under `Connection`.
//!
//! Every descriptor made here is close-on-exec, so a program started with `exec` never inherits
//! a channel it does not know about (a forked child does, which is the point).

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd, RawFd};

use super::{cvt, retry_eintr, unistd};

/// A connected pair of Unix stream sockets (both ends read and write). nix's safe wrapper, as
/// for the fork server's `scm::seqpacket_pair`.
pub(crate) fn socketpair() -> io::Result<(OwnedFd, OwnedFd)> {
    use nix::sys::socket::{AddressFamily, SockFlag, SockType};
    Ok(nix::sys::socket::socketpair(
        AddressFamily::Unix,
        SockType::Stream,
        None,
        SockFlag::SOCK_CLOEXEC,
    )?)
}

/// A pipe: `(read end, write end)`.
pub(crate) fn pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    Ok(nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)?)
}

/// Whether `fd` is a socket (then [`send`] can use `MSG_NOSIGNAL`), as opposed to a pipe.
pub(crate) fn is_socket(fd: BorrowedFd<'_>) -> bool {
    let mut st = std::mem::MaybeUninit::<libc::stat>::uninit();
    // SAFETY: `st` is writable storage for one `struct stat`, which fstat fills on success.
    if cvt(unsafe { libc::fstat(fd.as_raw_fd(), st.as_mut_ptr()) }).is_err() {
        return false;
    }
    // SAFETY: fstat returned 0, so it initialized `st`.
    let st = unsafe { st.assume_init() };
    st.st_mode & libc::S_IFMT == libc::S_IFSOCK
}

/// Writes some of `buf` to `fd`; returns how many bytes went. On a socket this is
/// `send(MSG_NOSIGNAL)`, so a closed peer is an `EPIPE` error rather than a `SIGPIPE`.
/// (A pipe cannot ask for that; Rust programs ignore `SIGPIPE` from the start, and a forked
/// child inherits that.)
pub(crate) fn write_some(fd: BorrowedFd<'_>, buf: &[u8], socket: bool) -> io::Result<usize> {
    retry_eintr(|| {
        let n = if socket {
            // SAFETY: `buf` is valid for reads of `buf.len()` bytes for the call's duration.
            cvt(unsafe { libc::send(fd.as_raw_fd(), buf.as_ptr().cast(), buf.len(), libc::MSG_NOSIGNAL) })?
        } else {
            // SAFETY: `buf` is valid for reads of `buf.len()` bytes for the call's duration.
            cvt(unsafe { libc::write(fd.as_raw_fd(), buf.as_ptr().cast(), buf.len()) })?
        };
        Ok(n.unsigned_abs())
    })
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
        let mut iov = [
            libc::iovec {
                iov_base: first.as_ptr().cast_mut().cast(),
                iov_len: first.len(),
            },
            libc::iovec {
                iov_base: second.as_ptr().cast_mut().cast(),
                iov_len: second.len(),
            },
        ];
        let n = retry_eintr(|| {
            let n = if socket {
                // SAFETY: an all-zero msghdr is valid (no name, no control data).
                let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
                msg.msg_iov = iov.as_mut_ptr();
                msg.msg_iovlen = iov.len();
                // SAFETY: `msg` points at two iovecs that describe live, readable slices for
                // the call's duration; the kernel only reads them.
                cvt(unsafe { libc::sendmsg(fd.as_raw_fd(), &msg, libc::MSG_NOSIGNAL) })?
            } else {
                // SAFETY: `iov` is two iovecs over live, readable slices; writev only reads them.
                cvt(unsafe { libc::writev(fd.as_raw_fd(), iov.as_ptr(), 2) })?
            };
            Ok(n.unsigned_abs())
        })?;
        if n < first.len() {
            first = &first[n..];
        } else {
            second = &second[n - first.len()..];
            first = &[];
        }
    }
    write_all(fd, second, socket)
}

/// Reads at most `buf.len()` bytes; `Ok(0)` means end of file.
pub(crate) fn read_some(fd: BorrowedFd<'_>, buf: &mut [u8]) -> io::Result<usize> {
    retry_eintr(|| {
        // SAFETY: `buf` is valid for writes of `buf.len()` bytes for the call's duration.
        let n = cvt(unsafe { libc::read(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) })?;
        Ok(n.unsigned_abs())
    })
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
    let got = retry_eintr(|| {
        // SAFETY: `buf` is valid for writes of `buf.len()` bytes for the call's duration.
        let n = cvt(unsafe {
            libc::recv(
                fd.as_raw_fd(),
                buf.as_mut_ptr().cast(),
                buf.len(),
                libc::MSG_DONTWAIT,
            )
        })?;
        Ok(n.unsigned_abs())
    });
    match got {
        Ok(n) => Ok(Some(n)),
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(None),
        Err(e) => Err(e),
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
    // SAFETY: F_SETPIPE_SZ takes an int argument; a non-pipe is reported as EBADF/EINVAL.
    let got = cvt(unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_SETPIPE_SZ, want) })?;
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

//! `<fcntl.h>`: the close-on-exec flag, which decides what a re-executed child inherits.
//!
//! These take descriptor *numbers*, not `OwnedFd`s or `BorrowedFd`s: the numbers a spawned
//! child must inherit, handled between `fork` and `exec` where nothing may allocate, and the
//! numbers a child was told about and has not adopted yet. nix's `fcntl` wants a borrowed
//! descriptor, which a number that may be closed cannot honestly be; raw `libc` it is.
#![expect(
    unsafe_code,
    reason = "fcntl and close on descriptor numbers that no OwnedFd stands for (yet)"
)]

use std::io;
use std::os::fd::{OwnedFd, RawFd};

use super::cvt;

/// Sets or clears `FD_CLOEXEC` on descriptor `fd`.
///
/// Async-signal-safe (two `fcntl` calls, no allocation): the `spawn` start method calls it in
/// the forked child between `fork` and `exec`, where nothing else is allowed.
pub(crate) fn set_cloexec(fd: RawFd, on: bool) -> io::Result<()> {
    // SAFETY: F_GETFD only takes integers; a closed number comes back as EBADF.
    let flags = cvt(unsafe { libc::fcntl(fd, libc::F_GETFD) })?;
    let wanted = if on {
        flags | libc::FD_CLOEXEC
    } else {
        flags & !libc::FD_CLOEXEC
    };
    if wanted != flags {
        // SAFETY: F_SETFD takes the new flags as an int; no pointers.
        cvt(unsafe { libc::fcntl(fd, libc::F_SETFD, wanted) })?;
    }
    Ok(())
}

/// Whether descriptor number `fd` is open in this process.
pub(crate) fn is_open(fd: RawFd) -> bool {
    // SAFETY: F_GETFD only inspects the descriptor table; a closed number gives EBADF.
    cvt(unsafe { libc::fcntl(fd, libc::F_GETFD) }).is_ok()
}

/// A copy of `fd` at the lowest free number at or above `min`, close-on-exec
/// (`F_DUPFD_CLOEXEC`). The caller owns the returned number.
pub(crate) fn dup_at_least(fd: RawFd, min: RawFd) -> io::Result<RawFd> {
    // SAFETY: F_DUPFD_CLOEXEC takes the lowest acceptable number; no pointers.
    cvt(unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, min) })
}

/// A new close-on-exec descriptor for the file that descriptor number `fd` refers to, owned by
/// the caller; `fd` itself is left alone. A number that is not open is `EBADF`.
pub(crate) fn dup_cloexec(fd: RawFd) -> io::Result<OwnedFd> {
    let new = dup_at_least(fd, 0)?;
    // SAFETY: the kernel just returned this descriptor and nothing else owns it.
    Ok(unsafe { super::unistd::owned(new) })
}

/// Closes descriptor number `fd`, ignoring errors; the caller owns the number and forgets it.
pub(crate) fn close(fd: RawFd) {
    // SAFETY: close only takes an integer; by the contract above no one else uses this number.
    unsafe { libc::close(fd) };
}

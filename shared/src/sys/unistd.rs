//! `<unistd.h>`: fork, _exit, process ids, and descriptors.

use std::io;
use std::os::fd::{FromRawFd, OwnedFd, RawFd};

use super::cvt;

/// Which side of a [`fork`] we are on.
pub(crate) enum Fork {
    /// The original process; the value is the child's pid.
    Parent(libc::pid_t),
    /// The new process.
    Child,
}

/// Forks the calling process.
///
/// # Safety
/// The child starts with only the calling thread. If other threads existed, any lock they held
/// (the allocator's, stdout's, ...) stays locked forever in the child, so the child must restrict
/// itself to async-signal-safe calls unless the caller knows the process is single-threaded, or
/// that no other thread can hold a lock the child will take.
pub(crate) unsafe fn fork() -> io::Result<Fork> {
    // SAFETY: fork has no memory-safety preconditions of its own; the caller upholds the
    // post-fork obligations documented above.
    let pid = cvt(unsafe { libc::fork() })?;
    Ok(if pid == 0 { Fork::Child } else { Fork::Parent(pid) })
}

/// Ends the calling process at once with `code`: no atexit handlers, no destructors, no flush.
pub(crate) fn exit_now(code: i32) -> ! {
    // SAFETY: `_exit` is async-signal-safe and takes no pointers; it cannot fail.
    unsafe { libc::_exit(code) }
}

/// The calling process's id.
pub(crate) fn getpid() -> libc::pid_t {
    // SAFETY: getpid takes no arguments and cannot fail.
    unsafe { libc::getpid() }
}

/// The calling thread's kernel thread id; it equals [`getpid`] in the main thread only.
pub(crate) fn gettid() -> libc::pid_t {
    // SAFETY: gettid takes no arguments and cannot fail.
    unsafe { libc::gettid() }
}

/// The parent's process id.
pub(crate) fn getppid() -> libc::pid_t {
    // SAFETY: getppid takes no arguments and cannot fail.
    unsafe { libc::getppid() }
}

/// The number of processors online, as `os.cpu_count()` reports it.
pub(crate) fn cpu_count() -> usize {
    // SAFETY: sysconf takes an integer name and has no other preconditions.
    let n = unsafe { libc::sysconf(libc::_SC_NPROCESSORS_ONLN) };
    usize::try_from(n).ok().filter(|&n| n > 0).unwrap_or(1)
}

/// Opens `/dev/null` read-only and puts it on descriptor `fd` (CPython does this to a child's
/// standard input, so two processes never read the same terminal).
pub(crate) fn redirect_to_dev_null(fd: RawFd) -> io::Result<()> {
    let devnull = std::fs::File::open("/dev/null")?;
    dup2(std::os::fd::AsRawFd::as_raw_fd(&devnull), fd)
}

/// Makes `new` a copy of `old`, closing what `new` was.
pub(crate) fn dup2(old: RawFd, new: RawFd) -> io::Result<()> {
    // SAFETY: dup2 only takes integers; an invalid descriptor is reported as EBADF.
    cvt(unsafe { libc::dup2(old, new) }).map(drop)
}

/// Takes ownership of a descriptor the kernel just returned.
///
/// # Safety
/// `fd` must be an open descriptor that nothing else owns or will close.
pub(crate) unsafe fn owned(fd: RawFd) -> OwnedFd {
    // SAFETY: forwarded to the caller.
    unsafe { OwnedFd::from_raw_fd(fd) }
}

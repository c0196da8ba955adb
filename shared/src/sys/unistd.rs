//! `<unistd.h>`: fork, _exit, process ids, and descriptors.

use std::io;
use std::os::fd::{FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::sync::Once;

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
    if pid == 0 {
        // The `pthread_atfork` handler did this already if `getpid` ever ran; it costs nothing.
        forget_pid();
    }
    Ok(if pid == 0 { Fork::Child } else { Fork::Parent(pid) })
}

/// Ends the calling process at once with `code`: no atexit handlers, no destructors, no flush.
pub(crate) fn exit_now(code: i32) -> ! {
    // SAFETY: `_exit` is async-signal-safe and takes no pointers; it cannot fail.
    unsafe { libc::_exit(code) }
}

/// This process's id, once asked (0: not known yet). Emptied in every child of a `fork`.
static PID: AtomicI32 = AtomicI32::new(0);

/// The calling process's id. Remembered after the first call, so the creator checks that
/// start, join and every manager call make cost no system call; a `pthread_atfork` handler
/// forgets it in the child of any `fork` (ours or anyone's in the program).
pub(crate) fn getpid() -> libc::pid_t {
    match PID.load(Ordering::Relaxed) {
        0 => ask_pid(),
        pid => pid,
    }
}

#[cold]
fn ask_pid() -> libc::pid_t {
    static HANDLER: Once = Once::new();
    HANDLER.call_once(|| {
        // SAFETY: registers a plain `extern "C"` function, valid for the program's life, as
        // the child handler; no pointers are kept. Failing (ENOMEM) leaves the cache off.
        if unsafe { libc::pthread_atfork(None, None, Some(forget_pid_in_child)) } != 0 {
            CACHE_PID.store(false, Ordering::Relaxed);
        }
    });
    // SAFETY: getpid takes no arguments and cannot fail.
    let pid = unsafe { libc::getpid() };
    if CACHE_PID.load(Ordering::Relaxed) {
        PID.store(pid, Ordering::Relaxed);
    }
    pid
}

/// Whether [`getpid`] may remember the pid (only once the fork handler is in place).
static CACHE_PID: AtomicBool = AtomicBool::new(true);

fn forget_pid() {
    PID.store(0, Ordering::Relaxed);
}

/// Runs in the child of every `fork`, before `fork` returns there (async-signal-safe: one
/// atomic store).
extern "C" fn forget_pid_in_child() {
    forget_pid();
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

//! `<unistd.h>`: fork, _exit, process ids, and descriptors.
//!
//! nix's safe wrappers where it has them (`getpid`, `getppid`, `gettid`, `dup2_stdin`); raw
//! `libc` for what nix lacks (`_exit`, `pthread_atfork`; `sysconf` without its `feature`
//! feature) and for `dup2` onto a number nobody owns yet (nix's `dup2` wants the target as an
//! `OwnedFd`).
#![expect(
    unsafe_code,
    reason = "fork, _exit, pthread_atfork, sysconf and dup2 onto a raw number have no safe wrapper here"
)]

use std::io;
use std::os::fd::{AsFd, FromRawFd, OwnedFd, RawFd};
use std::sync::Once;
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};

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
    let forked = unsafe { nix::unistd::fork() }.map_err(io::Error::from)?;
    Ok(match forked {
        nix::unistd::ForkResult::Child => {
            // The `pthread_atfork` handler did this already if `getpid` ever ran; it costs
            // nothing.
            forget_pid();
            Fork::Child
        }
        nix::unistd::ForkResult::Parent { child } => Fork::Parent(child.as_raw()),
    })
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
    let pid = nix::unistd::getpid().as_raw();
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
    nix::unistd::gettid().as_raw()
}

/// The parent's process id.
pub(crate) fn getppid() -> libc::pid_t {
    nix::unistd::getppid().as_raw()
}

/// The number of processors online, as `os.cpu_count()` reports it.
pub(crate) fn cpu_count() -> usize {
    // nix's `sysconf` sits behind its `feature` feature, which the crate does not enable for
    // this one call.
    // SAFETY: sysconf takes an integer name and has no other preconditions.
    let n = unsafe { libc::sysconf(libc::_SC_NPROCESSORS_ONLN) };
    usize::try_from(n).ok().filter(|&n| n > 0).unwrap_or(1)
}

/// Puts `file` on the standard input (descriptor 0), closing what was there.
pub(crate) fn dup_onto_stdin(file: impl AsFd) -> io::Result<()> {
    nix::unistd::dup2_stdin(file).map_err(io::Error::from)
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

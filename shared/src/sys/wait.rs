//! `<sys/wait.h>` and `pidfd_open`: learning that a child ended, and how.
//!
//! Raw `libc` on purpose: nix's `WaitStatus` decodes the signal that ended a child into its
//! `Signal` enum, which has no real-time signals (`SIGRTMIN+n`), so a child killed by one would
//! come back as an error after it was reaped, and its exit code would be lost. nix has no
//! `pidfd_open` at all.
#![expect(
    unsafe_code,
    reason = "waitpid with a raw status word, and pidfd_open, which no crate wraps"
)]

use std::io;
use std::os::fd::OwnedFd;

use super::{cvt, retry_eintr};

/// How a child ended, in CPython's `exitcode` convention: its exit status, or `-N` when
/// signal `N` killed it.
pub(crate) type ExitCode = i32;

/// Reaps `pid` if it has ended, without blocking. `Ok(None)` while it still runs.
pub(crate) fn try_wait(pid: libc::pid_t) -> io::Result<Option<ExitCode>> {
    let mut status = 0;
    // SAFETY: `status` is a valid, writable int for the duration of the call.
    let ret = retry_eintr(|| cvt(unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) }))?;
    if ret == 0 {
        return Ok(None);
    }
    Ok(Some(decode_status(status)))
}

/// Waits until child `pid` has ended, without reaping it (`waitid` with `WNOWAIT`): the caller
/// reaps it afterwards with [`try_wait`], under the lock that keeps signals away from a reaped
/// pid. Retries on `EINTR`.
pub(crate) fn wait_exited(pid: libc::pid_t) -> io::Result<()> {
    use nix::sys::wait::{Id, WaitPidFlag, waitid};
    loop {
        let flags = WaitPidFlag::WEXITED | WaitPidFlag::WNOWAIT;
        match waitid(Id::Pid(nix::unistd::Pid::from_raw(pid)), flags) {
            // nix could not name the signal that ended it (a real-time one): ended all the same.
            Ok(_) | Err(nix::errno::Errno::EINVAL) => return Ok(()),
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => return Err(e.into()),
        }
    }
}

/// Turns a `waitpid` status into CPython's exit code.
fn decode_status(status: i32) -> ExitCode {
    if libc::WIFSIGNALED(status) {
        -libc::WTERMSIG(status)
    } else if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else {
        // Stopped or continued children are still alive; callers only pass final statuses.
        0
    }
}

/// Opens a pidfd for `pid`: a descriptor that becomes readable when the process ends.
/// Returns `Ok(None)` on kernels older than 5.3, which lack `pidfd_open`.
pub(crate) fn pidfd_open(pid: libc::pid_t) -> io::Result<Option<OwnedFd>> {
    // SAFETY: pidfd_open takes a pid and flags; it returns a new descriptor or -1.
    let ret = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    match cvt(ret) {
        Ok(fd) => {
            let fd = i32::try_from(fd).map_err(|_| io::Error::other("pidfd out of range"))?;
            // SAFETY: the kernel just returned this descriptor and nothing else owns it.
            Ok(Some(unsafe { super::unistd::owned(fd) }))
        }
        Err(e) if e.raw_os_error() == Some(libc::ENOSYS) => Ok(None),
        Err(e) => Err(e),
    }
}

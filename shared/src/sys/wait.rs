//! `<sys/wait.h>` and `pidfd_open`: learning that a child ended, and how.

use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::time::Duration;

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

/// Waits until `fd` is readable or `timeout` passes (`None` waits forever). Returns whether it
/// became readable.
pub(crate) fn wait_readable(fd: &OwnedFd, timeout: Option<Duration>) -> io::Result<bool> {
    let deadline = timeout.map(|t| std::time::Instant::now() + t);
    loop {
        let ms = match deadline {
            None => -1,
            Some(d) => {
                let left = d.saturating_duration_since(std::time::Instant::now());
                // Round up so a short timeout does not become a busy loop of zero-length polls.
                i32::try_from(left.as_micros().div_ceil(1000)).unwrap_or(i32::MAX)
            }
        };
        let mut pfd = libc::pollfd {
            fd: fd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: `pfd` is one valid pollfd and we pass a count of 1.
        match cvt(unsafe { libc::poll(&mut pfd, 1, ms) }) {
            Ok(0) => {
                if deadline.is_some_and(|d| std::time::Instant::now() >= d) {
                    return Ok(false);
                }
            }
            Ok(_) => return Ok(true),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

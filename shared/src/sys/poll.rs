//! `<poll.h>`: waiting until descriptors are readable (a connection's data, a pidfd's exit, a
//! pool's workers). nix's safe `poll`.

use std::io;
use std::os::fd::BorrowedFd;
use std::time::Duration;

use nix::errno::Errno;
use nix::poll::{PollFd, PollFlags, PollTimeout};

use crate::deadline::Deadline;

/// `poll`'s timeout argument for `timeout` (`None` waits forever). Rounds up so a short
/// timeout does not become a busy loop of zero-length polls.
fn poll_timeout(timeout: Option<Duration>) -> PollTimeout {
    timeout.map_or(PollTimeout::NONE, |t| {
        let ms = i32::try_from(t.as_micros().div_ceil(1000)).unwrap_or(i32::MAX);
        PollTimeout::try_from(ms).unwrap_or(PollTimeout::MAX)
    })
}

/// What counts as readable: data, or the peer hung up or failed (the next read then returns at
/// once, with the end of file or the error).
fn ready(fd: &PollFd<'_>) -> bool {
    fd.revents()
        .is_some_and(|r| r.intersects(PollFlags::POLLIN | PollFlags::POLLHUP | PollFlags::POLLERR))
}

/// Whether `poll` reported a descriptor that is not open.
fn invalid(fd: &PollFd<'_>) -> bool {
    fd.revents().is_some_and(|r| r.contains(PollFlags::POLLNVAL))
}

/// Waits until `fd` is readable, or its peer hung up, or `timeout` passes (`None` waits
/// forever). Returns whether it became readable (a hang-up counts: the next read sees the end
/// of file at once). Retries on `EINTR` without extending the deadline.
pub(crate) fn poll_readable(fd: BorrowedFd<'_>, timeout: Option<Duration>) -> io::Result<bool> {
    let deadline = Deadline::after(timeout);
    loop {
        let mut fds = [PollFd::new(fd, PollFlags::POLLIN)];
        match nix::poll::poll(&mut fds, poll_timeout(deadline.left())) {
            Ok(0) => {
                if deadline.passed() {
                    return Ok(false);
                }
            }
            Ok(_) => {
                if invalid(&fds[0]) {
                    return Err(io::Error::from_raw_os_error(libc::EBADF));
                }
                return Ok(true);
            }
            Err(Errno::EINTR) => {}
            Err(e) => return Err(e.into()),
        }
    }
}

/// Waits until at least one of `fds` is readable, hung up or in error, or `timeout` passes
/// (`None` waits forever). Returns one flag per descriptor, in order: whether a read would not
/// block (a hang-up counts, the next read sees the end of file at once). All flags are `false`
/// when the time ran out or a signal interrupted the wait; callers loop with their own deadline.
pub(crate) fn poll_readable_many(fds: &[BorrowedFd<'_>], timeout: Option<Duration>) -> io::Result<Vec<bool>> {
    let mut pfds: Vec<PollFd<'_>> = fds.iter().map(|&fd| PollFd::new(fd, PollFlags::POLLIN)).collect();
    match nix::poll::poll(&mut pfds, poll_timeout(timeout)) {
        Ok(_) => {}
        Err(Errno::EINTR) => return Ok(vec![false; fds.len()]),
        Err(e) => return Err(e.into()),
    }
    if pfds.iter().any(invalid) {
        return Err(io::Error::from_raw_os_error(libc::EBADF));
    }
    Ok(pfds.iter().map(ready).collect())
}

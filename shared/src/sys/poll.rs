//! `<poll.h>`: waiting until descriptors are readable (a connection's data, a pidfd's exit, a
//! pool's workers).

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd};
use std::time::{Duration, Instant};

use super::cvt;

/// `poll`'s timeout argument for `timeout` (`None` waits forever: `-1`). Rounds up so a short
/// timeout does not become a busy loop of zero-length polls.
fn timeout_ms(timeout: Option<Duration>) -> i32 {
    timeout.map_or(-1, |t| {
        i32::try_from(t.as_micros().div_ceil(1000)).unwrap_or(i32::MAX)
    })
}

/// Waits until `fd` is readable, or its peer hung up, or `timeout` passes (`None` waits
/// forever). Returns whether it became readable (a hang-up counts: the next read sees the end
/// of file at once). Retries on `EINTR` without extending the deadline.
pub(crate) fn poll_readable(fd: BorrowedFd<'_>, timeout: Option<Duration>) -> io::Result<bool> {
    let deadline = timeout.map(|t| Instant::now() + t);
    loop {
        let ms = timeout_ms(deadline.map(|d| d.saturating_duration_since(Instant::now())));
        let mut pfd = libc::pollfd {
            fd: fd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: `pfd` is one valid pollfd and we pass a count of 1.
        match cvt(unsafe { libc::poll(&mut pfd, 1, ms) }) {
            Ok(0) => {
                if deadline.is_some_and(|d| Instant::now() >= d) {
                    return Ok(false);
                }
            }
            Ok(_) => {
                if pfd.revents & libc::POLLNVAL != 0 {
                    return Err(io::Error::from_raw_os_error(libc::EBADF));
                }
                return Ok(true);
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

/// Waits until at least one of `fds` is readable, hung up or in error, or `timeout` passes
/// (`None` waits forever). Returns one flag per descriptor, in order: whether a read would not
/// block (a hang-up counts, the next read sees the end of file at once). All flags are `false`
/// when the time ran out or a signal interrupted the wait; callers loop with their own deadline.
pub(crate) fn poll_readable_many(fds: &[BorrowedFd<'_>], timeout: Option<Duration>) -> io::Result<Vec<bool>> {
    let mut pfds: Vec<libc::pollfd> = fds
        .iter()
        .map(|fd| libc::pollfd {
            fd: fd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        })
        .collect();
    let count =
        libc::nfds_t::try_from(pfds.len()).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    // SAFETY: `pfds` is a valid, writable array of `count` pollfd structures for the call.
    match cvt(unsafe { libc::poll(pfds.as_mut_ptr(), count, timeout_ms(timeout)) }) {
        Ok(_) => {}
        Err(e) if e.kind() == io::ErrorKind::Interrupted => return Ok(vec![false; fds.len()]),
        Err(e) => return Err(e),
    }
    if pfds.iter().any(|p| p.revents & libc::POLLNVAL != 0) {
        return Err(io::Error::from_raw_os_error(libc::EBADF));
    }
    Ok(pfds
        .iter()
        .map(|p| p.revents & (libc::POLLIN | libc::POLLHUP | libc::POLLERR) != 0)
        .collect())
}

//! `<poll.h>` for several descriptors at once: how a pool's parent waits on all its workers.

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd};
use std::time::Duration;

use super::cvt;

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
    // Round up so a short timeout does not become a busy loop of zero-length polls.
    let ms = timeout.map_or(-1, |t| {
        i32::try_from(t.as_micros().div_ceil(1000)).unwrap_or(i32::MAX)
    });
    let count =
        libc::nfds_t::try_from(pfds.len()).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    // SAFETY: `pfds` is a valid, writable array of `count` pollfd structures for the call.
    match cvt(unsafe { libc::poll(pfds.as_mut_ptr(), count, ms) }) {
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

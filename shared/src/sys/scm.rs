//! `<sys/socket.h>` ancillary data: passing descriptors between processes (`SCM_RIGHTS`) over
//! Unix sockets, for the fork server (sequenced packets) and for connections (streams). Built
//! on nix's safe `sendmsg`/`recvmsg`.
#![expect(unsafe_code, reason = "SCM_RIGHTS control messages built and read by hand")]

use std::io::{self, IoSlice, IoSliceMut};
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

use nix::sys::socket::{
    AddressFamily, ControlMessage, ControlMessageOwned, MsgFlags, SockFlag, SockType, recvmsg, sendmsg,
    socketpair,
};

/// The most descriptors one message may carry (the kernel's `SCM_MAX_FD` is 253).
pub(crate) const MAX_FDS: usize = 253;

/// A connected pair of Unix sequenced-packet sockets: every `send` is one message that the
/// peer receives whole, so several processes can share one end without mixing messages.
pub(crate) fn seqpacket_pair() -> io::Result<(OwnedFd, OwnedFd)> {
    socketpair(
        AddressFamily::Unix,
        SockType::SeqPacket,
        None,
        SockFlag::SOCK_CLOEXEC,
    )
    .map_err(io::Error::from)
}

/// Refuses more descriptors than one message carries (the kernel would refuse them too, less
/// clearly).
fn check_count(fds: &[RawFd]) -> io::Result<()> {
    if fds.len() > MAX_FDS {
        return Err(io::Error::other(format!(
            "{} descriptors, more than the {MAX_FDS} one message can carry",
            fds.len()
        )));
    }
    Ok(())
}

/// Sends `bytes` (at least one) with copies of `fds` attached.
pub(crate) fn send_with_fds(socket: BorrowedFd<'_>, bytes: &[u8], fds: &[RawFd]) -> io::Result<()> {
    check_count(fds)?;
    let iov = [IoSlice::new(bytes)];
    let cmsgs = [ControlMessage::ScmRights(fds)];
    let cmsgs: &[ControlMessage<'_>] = if fds.is_empty() { &[] } else { &cmsgs };
    loop {
        match sendmsg::<()>(socket.as_raw_fd(), &iov, cmsgs, MsgFlags::MSG_NOSIGNAL, None) {
            Ok(_) => return Ok(()),
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => return Err(io::Error::from(e)),
        }
    }
}

/// Receives one message into `buf` and the descriptors attached to it (close-on-exec, owned by
/// the caller). Returns the number of bytes (0 at end of file) and the descriptors.
pub(crate) fn recv_with_fds(socket: BorrowedFd<'_>, buf: &mut [u8]) -> io::Result<(usize, Vec<OwnedFd>)> {
    let mut space = nix::cmsg_space!([RawFd; MAX_FDS]);
    let mut iov = [IoSliceMut::new(buf)];
    let msg = loop {
        match recvmsg::<()>(
            socket.as_raw_fd(),
            &mut iov,
            Some(&mut space),
            MsgFlags::MSG_CMSG_CLOEXEC,
        ) {
            Ok(msg) => break msg,
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => return Err(io::Error::from(e)),
        }
    };
    let mut fds = Vec::new();
    for cmsg in msg.cmsgs().map_err(io::Error::from)? {
        if let ControlMessageOwned::ScmRights(received) = cmsg {
            // SAFETY: the kernel just installed these descriptors in our table for this message,
            // and nothing else knows their numbers.
            fds.extend(received.into_iter().map(|fd| unsafe { OwnedFd::from_raw_fd(fd) }));
        }
    }
    if msg.flags.contains(MsgFlags::MSG_CTRUNC) {
        return Err(io::Error::other(
            "descriptors were lost: the control buffer was too small",
        ));
    }
    Ok((msg.bytes, fds))
}

/// Whether `fd` is a Unix-domain socket, the only kind that can carry descriptors.
pub(crate) fn is_unix_socket(fd: BorrowedFd<'_>) -> bool {
    use nix::sys::socket::{SockaddrLike, SockaddrStorage, getsockname};
    getsockname::<SockaddrStorage>(fd.as_raw_fd())
        .is_ok_and(|addr| addr.family() == Some(AddressFamily::Unix))
}

/// Writes all of `bytes` to the Unix stream socket `socket`, with copies of `fds` attached to
/// its first byte (one `sendmsg`; what it did not take follows as plain writes). A peer that is
/// gone is an `EPIPE` error, never a `SIGPIPE`.
pub(crate) fn send_stream_with_fds(socket: BorrowedFd<'_>, bytes: &[u8], fds: &[RawFd]) -> io::Result<()> {
    check_count(fds)?;
    let iov = [IoSlice::new(bytes)];
    let cmsgs = [ControlMessage::ScmRights(fds)];
    let sent = loop {
        match sendmsg::<()>(socket.as_raw_fd(), &iov, &cmsgs, MsgFlags::MSG_NOSIGNAL, None) {
            Ok(n) => break n,
            // Interrupted before anything was sent: the descriptors were not sent either.
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => return Err(io::Error::from(e)),
        }
    };
    super::socket::write_all(socket, &bytes[sent..], true)
}

/// The control buffer of [`recv_stream`]: room for the most descriptors a message may carry,
/// aligned for the `cmsghdr` the kernel writes into it. A reader keeps one for all its reads:
/// the kernel says how much of it each read filled, so it needs no clearing in between.
#[repr(C, align(8))]
pub(crate) struct ControlBuffer([u8; nix::sys::socket::cmsg_space::<[RawFd; MAX_FDS]>()]);

impl ControlBuffer {
    pub(crate) fn new() -> Box<ControlBuffer> {
        Box::new(ControlBuffer(
            [0; nix::sys::socket::cmsg_space::<[RawFd; MAX_FDS]>()],
        ))
    }
}

/// Reads at most `buf.len()` bytes from the Unix stream socket `socket`, and the descriptors
/// that came attached to them (close-on-exec, owned by the caller); without waiting if `nowait`
/// (`Ok(None)`: nothing there yet). `Ok(Some((0, _)))` is end of file.
///
/// Every read of a socket that may carry descriptors must take the control data: a plain
/// `read` of bytes that carry descriptors closes them. The kernel ends a read after the bytes
/// that carry descriptors, so one read brings at most one message's descriptors.
pub(crate) fn recv_stream(
    socket: BorrowedFd<'_>,
    buf: &mut [u8],
    nowait: bool,
    control: &mut ControlBuffer,
) -> io::Result<Option<(usize, Vec<OwnedFd>)>> {
    let mut iov = [IoSliceMut::new(buf)];
    let mut flags = MsgFlags::MSG_CMSG_CLOEXEC;
    if nowait {
        flags |= MsgFlags::MSG_DONTWAIT;
    }
    let msg = loop {
        match recvmsg::<()>(socket.as_raw_fd(), &mut iov, Some(&mut control.0), flags) {
            Ok(msg) => break msg,
            Err(nix::errno::Errno::EINTR) => continue,
            Err(nix::errno::Errno::EAGAIN) if nowait => return Ok(None),
            Err(e) => return Err(io::Error::from(e)),
        }
    };
    // The buffer holds the most descriptors the kernel sends in one message, so it is never
    // truncated (`cmsgs` refuses a truncated one).
    let cmsgs = msg
        .cmsgs()
        .map_err(|_| io::Error::other("descriptors were lost: the control buffer was too small"))?;
    let mut fds = Vec::new();
    for cmsg in cmsgs {
        if let ControlMessageOwned::ScmRights(received) = cmsg {
            // SAFETY: the kernel just installed these descriptors in our table for this
            // message, and nothing else knows their numbers.
            fds.extend(received.into_iter().map(|fd| unsafe { OwnedFd::from_raw_fd(fd) }));
        }
    }
    Ok(Some((msg.bytes, fds)))
}

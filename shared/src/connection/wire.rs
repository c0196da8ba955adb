//! How a [`Connection`] crosses to another process as a value: its descriptor as an
//! [`FdRef`] (passed with a message, or inherited by a child; see [`passing`](super::passing)),
//! its settings, and what it had read ahead, with the descriptors that came with that.

use std::collections::VecDeque;
use std::os::fd::{AsFd, OwnedFd};
use std::sync::atomic::Ordering;

use serde::de::Error as _;
use serde::ser::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::frame::{READ_AHEAD, ReadBuf};
use super::passing::{self, FdRef};
use super::{Connection, Kind};

const WHAT: &str = "a Connection";

/// A connection as it crosses.
#[derive(Serialize, Deserialize)]
struct Wire {
    fd: FdRef,
    readable: bool,
    writable: bool,
    max_message_size: u64,
    exact: bool,
    /// What the sender had read ahead and not yet returned: the receiver's first messages.
    pending: Vec<u8>,
    /// The descriptors that came with those bytes, one batch per frame that announced some.
    pending_fds: Vec<Vec<FdRef>>,
}

impl Serialize for Connection {
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        if self.closed() {
            let why = format!("{self:?} cannot be sent: the connection is closed");
            return Err(S::Error::custom(passing::refuse(why)));
        }
        let fd = passing::fd_out(self.fd.as_fd(), WHAT).map_err(S::Error::custom)?;
        let input = self.input();
        let (pending, batches) = input.pending();
        let pending_fds = batches
            .iter()
            .map(|batch| {
                batch
                    .iter()
                    .map(|fd| passing::fd_out(fd.as_fd(), WHAT))
                    .collect::<Result<Vec<_>, _>>()
            })
            .collect::<Result<Vec<_>, _>>()
            .map_err(S::Error::custom)?;
        Wire {
            fd,
            readable: self.readable,
            writable: self.writable,
            max_message_size: self.max_message_size(),
            exact: self.exact.load(Ordering::Relaxed),
            pending: pending.to_vec(),
            pending_fds,
        }
        .serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Connection {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        let wire = Wire::deserialize(deserializer)?;
        if wire.pending.len() > READ_AHEAD {
            return Err(D::Error::custom(format!(
                "a connection with {} bytes read ahead (at most {READ_AHEAD} can be)",
                wire.pending.len()
            )));
        }
        // Every descriptor is taken before any error can return, so none is left behind.
        let fd = passing::fd_in(wire.fd, WHAT);
        let pending_fds = wire
            .pending_fds
            .into_iter()
            .map(|batch| {
                batch
                    .into_iter()
                    .map(|fd| passing::fd_in(fd, WHAT))
                    .collect::<Result<Vec<OwnedFd>, _>>()
            })
            .collect::<Result<VecDeque<_>, _>>();
        let (fd, pending_fds) = (
            fd.map_err(D::Error::custom)?,
            pending_fds.map_err(D::Error::custom)?,
        );
        let kind = Kind::of(fd.as_fd());
        let conn = Connection::new(fd, wire.readable, wire.writable, kind);
        conn.set_max_message_size(wire.max_message_size);
        conn.exact.store(wire.exact, Ordering::Relaxed);
        *conn.input() = ReadBuf::with_pending(wire.pending, pending_fds);
        Ok(conn)
    }
}

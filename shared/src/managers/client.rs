//! The client side: where a manager lives, and the connections each process holds to it.
//!
//! Every process talks to the server over connections of its own. A proxy that was moved into a
//! forked child still holds (a copy of) its parent's connection pool; it notices by the pid that
//! it is in a new process, forgets the inherited connections without using them (they belong to
//! the parent: a request sent on them would interleave with the parent's), and connects anew.
//! Within a process, each thread that makes a call takes an idle connection from the pool and
//! gives it back after the answer, so threads never share a connection mid-request either.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::protocol::{Bytes, Reply, Request, Response};
use crate::connection::Connection;
use crate::connection::listener::{Address, authenticate_client, connect};
use crate::error::{Error, Result};
use crate::sys::unistd;

/// A manager server as its clients know it, with this process's connections to it.
#[derive(Debug)]
pub(crate) struct Endpoint {
    address: Address,
    /// The key every connection proves it holds: the process's own key for a local manager
    /// (CPython's `current_process().authkey`), the one given for [`Manager::serve`] and
    /// [`Manager::connect`].
    ///
    /// [`Manager::serve`]: super::Manager::serve
    /// [`Manager::connect`]: super::Manager::connect
    authkey: Vec<u8>,
    /// `SyncManager-1`, or the address for a manager we only connected to; for messages.
    name: String,
    pool: Mutex<Pool>,
}

#[derive(Debug)]
struct Pool {
    /// The process these connections belong to.
    pid: libc::pid_t,
    idle: Vec<Connection>,
}

impl Endpoint {
    pub(crate) fn new(address: Address, authkey: Vec<u8>, name: String) -> Endpoint {
        Endpoint {
            address,
            authkey,
            name,
            pool: Mutex::new(Pool {
                pid: unistd::getpid(),
                idle: Vec::new(),
            }),
        }
    }

    pub(crate) fn address(&self) -> &Address {
        &self.address
    }

    pub(crate) fn name(&self) -> &str {
        &self.name
    }

    /// Sends `request` and returns the server's reply, or the server's fault as an error.
    /// `timeout` is only used to word a timeout error.
    pub(crate) fn call(&self, request: &Request, timeout: Option<Duration>) -> Result<Reply> {
        let me = unistd::getpid();
        let conn = self.take(me)?;
        match self.round_trip(&conn, request) {
            Ok(response) => {
                self.give(conn, me);
                response.map_err(|fault| fault.into_error(&self.name, timeout))
            }
            // The connection is in an unknown state: drop it rather than reuse it.
            Err(e) => Err(e),
        }
    }

    fn round_trip(&self, conn: &Connection, request: &Request) -> Result<Response> {
        conn.send_plain(request).map_err(|e| self.gone(e))?;
        conn.recv_plain::<Response>().map_err(|e| self.gone(e))
    }

    /// Says plainly that the server went away, instead of a bare "end of file".
    fn gone(&self, e: Error) -> Error {
        match e {
            Error::Eof(_) | Error::Os { .. } => Error::Eof(format!(
                "the manager server {} at {} closed the connection (it was shut down or died): {e}",
                self.name, self.address
            )),
            other => other,
        }
    }

    /// An idle connection of this process, or a new one.
    fn take(&self, me: libc::pid_t) -> Result<Connection> {
        {
            let mut pool = self.lock_pool();
            if pool.pid != me {
                // Inherited through fork: the parent's connections. Forget them unused.
                pool.pid = me;
                pool.idle.clear();
            }
            if let Some(conn) = pool.idle.pop() {
                return Ok(conn);
            }
        }
        self.open()
    }

    /// Keeps `conn` for the next call of this process, `me`.
    fn give(&self, conn: Connection, me: libc::pid_t) {
        let mut pool = self.lock_pool();
        if pool.pid == me {
            pool.idle.push(conn);
        }
    }

    /// Opens and authenticates a new connection.
    pub(crate) fn open(&self) -> Result<Connection> {
        let conn = connect(&self.address).map_err(|e| match e {
            Error::Os { source, .. } => Error::os(
                format!(
                    "connecting to the manager server {} at {} (is it running? it may have been shut down or died)",
                    self.name, self.address
                ),
                source,
            ),
            other => other,
        })?;
        if let Err(e) = authenticate_client(&conn, &self.authkey) {
            // A handshake cut short because the server died looks like any failed handshake;
            // whether anything still listens at the address tells them apart.
            drop(conn);
            return Err(match connect(&self.address) {
                Ok(_) => e,
                Err(gone) => self.gone(gone),
            });
        }
        // Requests and replies hold no descriptors: read with a plain `recv`.
        Ok(conn.without_descriptors())
    }

    /// Opens a connection now and keeps it for the next call, so a wrong address or authkey
    /// fails at once.
    pub(crate) fn warm_up(&self) -> Result<()> {
        let conn = self.open()?;
        self.give(conn, unistd::getpid());
        Ok(())
    }

    /// Closes this process's idle connections.
    pub(crate) fn disconnect(&self) {
        self.lock_pool().idle.clear();
    }

    fn lock_pool(&self) -> MutexGuard<'_, Pool> {
        self.pool.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// One shared object on one server: what every proxy holds.
#[derive(Clone, Debug)]
pub struct ObjectRef {
    pub(crate) endpoint: Arc<Endpoint>,
    pub(crate) id: u64,
}

impl ObjectRef {
    pub(crate) fn call(&self, op: super::protocol::Op) -> Result<Reply> {
        self.endpoint.call(&Request::Call { id: self.id, op }, None)
    }

    pub(crate) fn call_timeout(&self, op: super::protocol::Op, timeout: Option<Duration>) -> Result<Reply> {
        self.endpoint.call(&Request::Call { id: self.id, op }, timeout)
    }

    /// A reply of the wrong shape: a bug or a server of another version, never a user error.
    pub(crate) fn unexpected(&self, reply: &Reply) -> Error {
        Error::Remote(format!(
            "{}: unexpected reply {reply:?} for object {}",
            self.endpoint.name, self.id
        ))
    }

    /// `reply` as the `Done` that acknowledges a change.
    pub(crate) fn expect_done(&self, reply: Reply) -> Result<()> {
        match reply {
            Reply::Done => Ok(()),
            other => Err(self.unexpected(&other)),
        }
    }

    /// `reply` as one `Item`, decoded.
    pub(crate) fn expect_item<T: DeserializeOwned>(&self, reply: Reply) -> Result<T> {
        match reply {
            Reply::Item(b) => dec(&b),
            other => Err(self.unexpected(&other)),
        }
    }

    /// `reply` as a `Bool`.
    pub(crate) fn expect_bool(&self, reply: Reply) -> Result<bool> {
        match reply {
            Reply::Bool(b) => Ok(b),
            other => Err(self.unexpected(&other)),
        }
    }

    /// Takes a unit of the lock or semaphore behind this object (`Op::Acquire`): `true` once
    /// taken, `false` when it was not free (`block` false) or `timeout` ran out.
    pub(crate) fn acquire(&self, block: bool, timeout: Option<Duration>) -> Result<bool> {
        self.expect_bool(self.call_timeout(super::protocol::Op::Acquire { block, timeout }, timeout)?)
    }

    /// The answer of a blocking acquire with no timeout: the server replies only once `what` is
    /// taken, so `false` is a broken reply, not a state of the object.
    pub(crate) fn expect_acquired(&self, taken: bool, what: &str) -> Result<()> {
        if taken {
            Ok(())
        } else {
            Err(Error::Remote(format!(
                "{}: acquire returned without {what}",
                self.endpoint.name
            )))
        }
    }

    /// `reply` as a `Len` (a count or an index).
    pub(crate) fn expect_len(&self, reply: Reply) -> Result<usize> {
        match reply {
            Reply::Len(n) => Ok(usize::try_from(n).unwrap_or(usize::MAX)),
            other => Err(self.unexpected(&other)),
        }
    }
}

/// What identifies a shared object for the `spawn` start method: the server's address, the
/// authkey, and the object's id. Under `fork` a proxy is simply moved into the child.
///
/// The key travels only in the arguments of a child being started (CPython's
/// `BaseProxy.__reduce__` adds it only while spawning). A proxy sent anywhere else (through a
/// queue, a pipe, a file) carries no key, and the receiver authenticates with its own process
/// key: a child of this program holds it, a stranger does not.
#[derive(Serialize, Deserialize)]
struct ObjectWire {
    address: Address,
    authkey: Option<Vec<u8>>,
    name: String,
    id: u64,
}

impl Serialize for ObjectRef {
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        ObjectWire {
            address: self.endpoint.address.clone(),
            authkey: crate::reduction::encoding_for_child().then(|| self.endpoint.authkey.clone()),
            name: self.endpoint.name.clone(),
            id: self.id,
        }
        .serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for ObjectRef {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        let wire = ObjectWire::deserialize(deserializer)?;
        Ok(ObjectRef {
            endpoint: Arc::new(Endpoint::new(
                wire.address,
                wire.authkey.unwrap_or_else(|| crate::authkey::get().to_vec()),
                wire.name,
            )),
            id: wire.id,
        })
    }
}

/// Encodes a value for the server.
pub(crate) fn enc<T: Serialize + ?Sized>(value: &T) -> Result<Bytes> {
    Ok(crate::codec::encode(value)?)
}

/// Decodes a value the server kept for us.
pub(crate) fn dec<T: DeserializeOwned>(bytes: &[u8]) -> Result<T> {
    Ok(crate::codec::decode(bytes)?)
}

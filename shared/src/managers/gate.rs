//! The gate of a manager's server: who gets a thread, and for how long, before proving that it
//! holds the key.
//!
//! Every connection runs the authkey handshake on a thread of its own, so a slow client never
//! stalls the accept loop. Three bounds keep a stranger from holding the server:
//! - **A deadline on the whole handshake** ([`Limits::handshake_timeout`]). The handshake reads
//!   several messages, each of which may block; a client that sends one byte and stalls, or
//!   trickles its answer, would hold its thread for ever. A watchdog thread shuts down the socket
//!   of any connection still in its handshake when its deadline passes: the blocked read then
//!   returns, the handshake fails, and the thread ends.
//! - **A bound on connections in their handshake at once** ([`Limits::max_handshakes`]). At the
//!   bound the accept loop waits for a slot, so new connections queue in the listen backlog
//!   instead of each pinning a thread: a flood costs the server at most that many threads, each
//!   for at most the deadline, and a client that holds the key gets in once a slot frees.
//! - **An optional bound on authenticated clients** ([`Limits::max_clients`]). A client over it
//!   proved the key, so it is told why in the answer to its first request, and disconnected.

use std::os::fd::{AsFd, OwnedFd};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::protocol::{Fault, Response};
use crate::connection::Connection;
use crate::connection::listener::{Listener, authenticate_server};
use crate::deadline::Deadline;
use crate::error::Error;

/// How long a connection may take over the whole handshake by default.
pub(crate) const DEFAULT_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// How many connections may be in their handshake at once by default. A handshake between
/// processes of one machine takes well under a millisecond, so a burst of honest clients rarely
/// fills even a few slots; the bound is for clients that do not finish.
pub(crate) const DEFAULT_MAX_HANDSHAKES: usize = 32;

/// The longest handshake message (CPython reads them with `recv_bytes(256)`): until a client
/// proves it holds the key, it may not make the server allocate more.
const HANDSHAKE_MESSAGE_LIMIT: u64 = 256;

/// The bounds a server applies to its connections.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct Limits {
    /// The time a connection has, from its accept, to finish the handshake.
    pub(crate) handshake_timeout: Duration,
    /// Connections in their handshake at once; more wait in the listen backlog.
    pub(crate) max_handshakes: usize,
    /// Authenticated connections at once; `None` for no bound.
    pub(crate) max_clients: Option<usize>,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            handshake_timeout: DEFAULT_HANDSHAKE_TIMEOUT,
            max_handshakes: DEFAULT_MAX_HANDSHAKES,
            max_clients: None,
        }
    }
}

/// Accepts connections for ever, authenticates each on a thread of its own within the limits,
/// and hands every client that proved the key to `serve` on that thread.
pub(super) fn accept_loop(listener: &Listener, limits: Limits, serve: Arc<dyn Fn(Connection) + Send + Sync>) {
    // A manager's listener always has a key (a local manager's is the process's); an empty
    // one would still make every client run the handshake.
    let key: Arc<[u8]> = listener.authkey().unwrap_or_default().into();
    let gate = Arc::new(Gate {
        limits,
        counts: Mutex::new(Counts::default()),
        slot_freed: Condvar::new(),
        watchdog: Watchdog::new(),
    });
    loop {
        let slot = gate.handshake_slot();
        let conn = match listener.accept_unauthenticated() {
            Ok(conn) => conn,
            // Out of descriptors, or a connection reset before we took it: wait a little and
            // keep serving (the slot is given back as it drops).
            Err(_) => {
                drop(slot);
                std::thread::sleep(Duration::from_millis(10));
                continue;
            }
        };
        let (gate, key, serve) = (Arc::clone(&gate), Arc::clone(&key), Arc::clone(&serve));
        let spawned = std::thread::Builder::new()
            .name("manager-session".into())
            .spawn(move || gate.admit(conn, slot, &key, &*serve));
        // Out of threads: the closure, the connection and the slot are dropped (the client
        // sees the connection closed), and we go on serving the clients we have.
        drop(spawned);
    }
}

/// What the accept loop and the session threads share.
struct Gate {
    limits: Limits,
    counts: Mutex<Counts>,
    /// Signalled when a handshake slot frees.
    slot_freed: Condvar,
    watchdog: Arc<Watchdog>,
}

#[derive(Default)]
struct Counts {
    handshakes: usize,
    clients: usize,
}

impl Gate {
    fn counts(&self) -> MutexGuard<'_, Counts> {
        self.counts.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Waits until fewer than `max_handshakes` connections are in their handshake, and takes
    /// a place among them.
    fn handshake_slot(self: &Arc<Self>) -> HandshakeSlot {
        let max = self.limits.max_handshakes.max(1);
        let mut counts = self.counts();
        while counts.handshakes >= max {
            counts = self
                .slot_freed
                .wait(counts)
                .unwrap_or_else(PoisonError::into_inner);
        }
        counts.handshakes += 1;
        HandshakeSlot(Arc::clone(self))
    }

    /// A place among the authenticated clients, or `None` at `max_clients`.
    fn client_slot(self: &Arc<Self>) -> Option<ClientSlot> {
        let mut counts = self.counts();
        if self.limits.max_clients.is_some_and(|max| counts.clients >= max) {
            return None;
        }
        counts.clients += 1;
        Some(ClientSlot(Arc::clone(self)))
    }

    /// Runs the handshake on `conn` within the deadline, then serves the client if there is
    /// room for it.
    fn admit(
        self: &Arc<Self>,
        conn: Connection,
        slot: HandshakeSlot,
        key: &[u8],
        serve: &dyn Fn(Connection),
    ) {
        let deadline = Deadline::after(Some(self.limits.handshake_timeout));
        // Without a watch (out of descriptors) nobody could cut a stalled handshake short:
        // turn the client away instead.
        let Ok(watch) = self.watchdog.watch(&conn, deadline) else {
            return;
        };
        let limit = conn.max_message_size();
        conn.set_max_message_size(HANDSHAKE_MESSAGE_LIMIT);
        if authenticate_server(&conn, key).is_err() {
            return;
        }
        let Some(client) = self.client_slot() else {
            // The client holds the key: tell it why, in the answer to its first request (still
            // under the watch and the handshake's size limit, so a client that never asks, or
            // asks at length, is cut off at the deadline too). A request too long to read was
            // skipped whole, and is answered the same.
            let max = self.limits.max_clients.unwrap_or_default();
            match conn.recv_bytes() {
                Err(Error::Eof(_)) => {}
                Err(Error::Os { source, .. }) if source.kind() != std::io::ErrorKind::InvalidData => {}
                _ => {
                    let refusal: Response = Err(Fault::other(format!(
                        "the manager serves at most {max} clients at once (ManagerBuilder::max_clients); \
                         this connection was refused, try again when another client has left"
                    )));
                    let _ = conn.send(&refusal);
                }
            }
            return;
        };
        conn.set_max_message_size(limit);
        drop(watch);
        drop(slot);
        serve(conn);
        drop(client);
    }
}

/// A connection's place among those in their handshake; given back when dropped.
struct HandshakeSlot(Arc<Gate>);

impl Drop for HandshakeSlot {
    fn drop(&mut self) {
        self.0.counts().handshakes -= 1;
        self.0.slot_freed.notify_one();
    }
}

/// A client's place among the authenticated ones; given back when dropped.
struct ClientSlot(Arc<Gate>);

impl Drop for ClientSlot {
    fn drop(&mut self) {
        self.0.counts().clients -= 1;
    }
}

/// Shuts down the sockets of connections whose handshake outlived its deadline.
struct Watchdog {
    entries: Mutex<Vec<Entry>>,
    /// Signalled when an entry is added, so the thread sleeps until the earliest deadline.
    added: Condvar,
    next_id: AtomicU64,
    /// Whether the watchdog's thread was started (on the first watch: a manager that only ever
    /// serves its owner through the watch socket never needs it) and runs. Without it no
    /// deadline would be enforced, so every connection is turned away instead.
    thread: Mutex<Option<bool>>,
}

struct Entry {
    id: u64,
    deadline: Deadline,
    /// A duplicate of the connection's descriptor: shutting it down shuts down the socket, and
    /// holding it means the number can never name another file meanwhile.
    socket: OwnedFd,
}

impl Watchdog {
    fn new() -> Arc<Watchdog> {
        Arc::new(Watchdog {
            entries: Mutex::new(Vec::new()),
            added: Condvar::new(),
            next_id: AtomicU64::new(1),
            thread: Mutex::new(None),
        })
    }

    /// Starts the thread the first time; whether it runs.
    fn running(self: &Arc<Self>) -> bool {
        let mut thread = self.thread.lock().unwrap_or_else(PoisonError::into_inner);
        *thread.get_or_insert_with(|| {
            let runner = Arc::clone(self);
            std::thread::Builder::new()
                .name("manager-watchdog".into())
                .spawn(move || runner.run())
                .is_ok()
        })
    }

    fn entries(&self) -> MutexGuard<'_, Vec<Entry>> {
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Watches `conn` until the returned guard drops, shutting it down if `deadline` passes
    /// first.
    fn watch(self: &Arc<Self>, conn: &Connection, deadline: Deadline) -> std::io::Result<Watch> {
        if !self.running() {
            return Err(std::io::Error::other("the handshake watchdog is not running"));
        }
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let socket = conn.as_fd().try_clone_to_owned()?;
        self.entries().push(Entry { id, deadline, socket });
        self.added.notify_one();
        Ok(Watch {
            watchdog: Arc::clone(self),
            id,
        })
    }

    fn run(&self) {
        let mut entries = self.entries();
        loop {
            entries.retain(|entry| {
                if !entry.deadline.passed() {
                    return true;
                }
                // The blocked read (or write) of the handshake returns at once; the socket
                // closes when the session thread drops its connection.
                let _ = socket2::SockRef::from(&entry.socket).shutdown(std::net::Shutdown::Both);
                false
            });
            let earliest = entries.iter().filter_map(|entry| entry.deadline.left()).min();
            entries = match earliest {
                Some(left) => {
                    self.added
                        .wait_timeout(entries, left)
                        .unwrap_or_else(PoisonError::into_inner)
                        .0
                }
                None => self.added.wait(entries).unwrap_or_else(PoisonError::into_inner),
            };
        }
    }
}

/// A connection under the watchdog's eye; dropping it ends the watch.
struct Watch {
    watchdog: Arc<Watchdog>,
    id: u64,
}

impl Drop for Watch {
    fn drop(&mut self) {
        self.watchdog.entries().retain(|entry| entry.id != self.id);
    }
}

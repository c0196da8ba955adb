//! [`ManagerBuilder`]: a manager's start method and the bounds its server puts on clients.

use std::time::Duration;

use super::Manager;
use super::gate::Limits;
use super::served::{Managed, Registration};
use crate::connection::listener::Address;
use crate::error::Result;
use crate::start_method::StartMethod;

/// Options for a [`Manager`]: the start method of its server, and the bounds the server puts on
/// connections. [`Manager::new`] and [`Manager::serve`] use the defaults.
///
/// The bounds are what keep a client that does not hold the key from holding the server (see
/// the module docs' "Security" section):
/// - [`handshake_timeout`](ManagerBuilder::handshake_timeout): the time a connection has to
///   finish the authkey handshake, 10 seconds by default;
/// - [`max_handshakes`](ManagerBuilder::max_handshakes): connections in their handshake at
///   once, 32 by default; more wait in the listen backlog;
/// - [`max_clients`](ManagerBuilder::max_clients): connections that proved the key, served at
///   once; no bound by default, as in CPython.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use multiprocessing::{Address, Manager};
///
/// let server = Manager::builder()
///     .handshake_timeout(Duration::from_secs(2))
///     .max_handshakes(8)
///     .max_clients(2)
///     .serve(&"127.0.0.1:0".parse::<Address>()?, b"a long random key")?;
/// let first = Manager::connect(server.address(), b"a long random key")?;
/// let d = server.dict::<String, i32>()?; // the server's own connection is the second client
/// server.register("d", &d)?;
/// // A third client holds the key, so it is told why it is turned away.
/// let third = Manager::connect(server.address(), b"a long random key")?;
/// let err = third.get::<multiprocessing::DictProxy<String, i32>>("d").unwrap_err();
/// assert!(err.to_string().contains("at most 2 clients"), "{err}");
/// drop(first);
/// # Ok::<(), multiprocessing::Error>(())
/// ```
#[must_use]
#[derive(Debug, Default)]
pub struct ManagerBuilder {
    pub(super) method: Option<StartMethod>,
    pub(super) limits: Limits,
    /// The user's types the server can make.
    pub(super) types: Vec<Registration>,
}

impl ManagerBuilder {
    /// Starts the server by `method` instead of the default start method.
    pub fn start_method(mut self, method: StartMethod) -> ManagerBuilder {
        self.method = Some(method);
        self
    }

    /// How long a connection may take over the whole authkey handshake, from its accept to the
    /// last message (default 10 seconds). A client that stalls or trickles is disconnected
    /// then, whatever it sent.
    pub fn handshake_timeout(mut self, timeout: Duration) -> ManagerBuilder {
        self.limits.handshake_timeout = timeout;
        self
    }

    /// How many connections may be in their handshake at once (default 32, at least 1). At the
    /// bound the server accepts no more until one finishes or runs out of time: new clients
    /// wait in the listen backlog, and a flood of strangers pins at most this many threads.
    pub fn max_handshakes(mut self, n: usize) -> ManagerBuilder {
        self.limits.max_handshakes = n.max(1);
        self
    }

    /// How many authenticated connections the server serves at once (default: no bound). Each
    /// process that uses the manager holds a connection, one more for each of its threads
    /// calling at the same moment, and the manager's owner holds one too. A client over the
    /// bound gets an error that says so in answer to its first request.
    pub fn max_clients(mut self, n: usize) -> ManagerBuilder {
        self.limits.max_clients = Some(n);
        self
    }

    /// Lets the server make objects of your type `T` with [`Manager::create`] (CPython's
    /// `BaseManager.register(typeid, callable)`); see [`Managed`] for an example. Registering
    /// the same type twice is harmless.
    pub fn register<T: Managed>(mut self) -> ManagerBuilder {
        self.types.push(Registration::of::<T>());
        self
    }

    /// Starts a local manager with these options (see [`Manager::new`]).
    ///
    /// # Errors
    /// As [`Manager::new`].
    pub fn start(self) -> Result<Manager> {
        Manager::start_local(self)
    }

    /// Starts a manager on `address` with these options (see [`Manager::serve`]).
    ///
    /// # Errors
    /// As [`Manager::serve`].
    pub fn serve(self, address: &Address, authkey: &[u8]) -> Result<Manager> {
        Manager::start_remote(address, authkey, self)
    }
}

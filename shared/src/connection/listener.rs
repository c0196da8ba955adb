//! Listeners and clients on an address, with an authentication handshake: CPython's
//! `multiprocessing.connection.Listener`, `Client`, `deliver_challenge` and `answer_challenge`.
//!
//! A [`Listener`] binds a Unix-socket path or a TCP address; [`Client`] connects to one. Both give
//! a [`Connection`]. When an authkey is given, the two ends prove to each other that they hold the
//! same key before any data flows, with CPython's HMAC challenge ([`auth`](super::auth)).
//!
//! TCP connections disable Nagle's delay (requests are small and answered one by one) and
//! enable keepalive probes, so a peer whose machine vanished without closing is noticed within
//! about 25 seconds instead of being waited for forever.
//!
//! As in CPython, the handshake authenticates but does not encrypt: across machines, run it
//! inside a network you trust or a tunnel.
//!
//! # Examples
//!
//! ```
//! use multiprocessing::{Address, Client, Listener};
//!
//! let listener = Listener::bind(&"127.0.0.1:0".parse::<Address>()?, Some(b"secret"))?;
//! let address = listener.address().clone();
//! let server = std::thread::spawn(move || -> multiprocessing::Result<String> {
//!     let conn = listener.accept()?;
//!     conn.recv::<String>()
//! });
//! let conn = Client(&address, Some(b"secret"))?;
//! conn.send("hello")?;
//! assert_eq!(server.join().unwrap()?, "hello");
//! # Ok::<(), multiprocessing::Error>(())
//! ```

use std::fmt;
use std::net::{SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::Connection;
pub use super::auth::{answer_challenge, deliver_challenge};
pub(crate) use super::auth::{authenticate_client, authenticate_server};
use super::passing::{self, FdRef};
use crate::error::{Error, Result};

/// Where a [`Listener`] listens and a [`Client`] connects: a Unix-socket path (CPython's
/// `'AF_UNIX'` family) or a TCP address (`'AF_INET'`).
///
/// Parsing a string gives a TCP address when it looks like `host:port` (`127.0.0.1:5000`,
/// `[::1]:5000`, `localhost:5000`) and a Unix-socket path otherwise.
///
/// # Examples
///
/// ```
/// use multiprocessing::Address;
///
/// let tcp: Address = "127.0.0.1:50000".parse()?;
/// assert!(matches!(tcp, Address::Tcp(_)));
/// let unix: Address = "/tmp/my-manager.sock".parse()?;
/// assert_eq!(unix.to_string(), "/tmp/my-manager.sock");
/// # Ok::<(), multiprocessing::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Address {
    /// A Unix-domain stream socket at this path.
    Unix(PathBuf),
    /// A TCP socket at this IP address and port.
    Tcp(SocketAddr),
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Address::Unix(path) => write!(f, "{}", path.display()),
            Address::Tcp(addr) => write!(f, "{addr}"),
        }
    }
}

impl FromStr for Address {
    type Err = Error;

    fn from_str(s: &str) -> Result<Address> {
        if s.starts_with('/') || s.starts_with('.') {
            return Ok(Address::Unix(PathBuf::from(s)));
        }
        if let Ok(addr) = s.parse::<SocketAddr>() {
            return Ok(Address::Tcp(addr));
        }
        // `host:port` with a name: resolve it now, so a typo fails here and not at connect.
        if let Some((_, port)) = s.rsplit_once(':') {
            if port.parse::<u16>().is_ok() {
                let mut addrs = s
                    .to_socket_addrs()
                    .map_err(|e| Error::os(format!("resolving the address {s:?}"), e))?;
                return addrs
                    .next()
                    .map(Address::Tcp)
                    .ok_or_else(|| Error::state(format!("the address {s:?} resolves to nothing")));
            }
        }
        Ok(Address::Unix(PathBuf::from(s)))
    }
}

impl From<SocketAddr> for Address {
    fn from(addr: SocketAddr) -> Address {
        Address::Tcp(addr)
    }
}

impl From<PathBuf> for Address {
    fn from(path: PathBuf) -> Address {
        Address::Unix(path)
    }
}

/// A socket that accepts connections, like CPython's `multiprocessing.connection.Listener`.
///
/// # Examples
///
/// ```
/// use multiprocessing::{Address, Client, Listener};
///
/// let dir = std::env::temp_dir().join(format!("listener-doc-{}", std::process::id()));
/// std::fs::create_dir_all(&dir).unwrap();
/// let address = Address::Unix(dir.join("socket"));
/// let listener = Listener::bind(&address, None)?;
/// let client = Client(&address, None)?;
/// let server_side = listener.accept()?;
/// client.send(&42u32)?;
/// assert_eq!(server_side.recv::<u32>()?, 42);
/// drop(listener);
/// std::fs::remove_dir_all(&dir).unwrap();
/// # Ok::<(), multiprocessing::Error>(())
/// ```
#[derive(Debug)]
pub struct Listener {
    socket: Socket,
    address: Address,
    authkey: Option<Vec<u8>>,
}

#[derive(Debug)]
enum Socket {
    Unix(UnixListener),
    Tcp(TcpListener),
}

impl Listener {
    /// Binds `address`. With an `authkey`, [`accept`](Listener::accept) authenticates every
    /// client. A TCP port `0` lets the system pick a free port; [`address`](Listener::address)
    /// tells which.
    ///
    /// # Errors
    /// [`Error::Os`] naming the address when it cannot be bound (in use, no permission, a path
    /// too long for a Unix socket).
    pub fn bind(address: &Address, authkey: Option<&[u8]>) -> Result<Listener> {
        let context = || format!("binding the listener address {address}");
        let (socket, address) = match address {
            Address::Unix(path) => {
                let l = UnixListener::bind(path).map_err(|e| Error::os(context(), e))?;
                (Socket::Unix(l), address.clone())
            }
            Address::Tcp(addr) => {
                let l = TcpListener::bind(addr).map_err(|e| Error::os(context(), e))?;
                let bound = l.local_addr().map_err(|e| Error::os(context(), e))?;
                (Socket::Tcp(l), Address::Tcp(bound))
            }
        };
        Ok(Listener {
            socket,
            address,
            authkey: authkey.map(<[u8]>::to_vec),
        })
    }

    /// The address clients connect to (with the real port when port `0` was asked for).
    pub fn address(&self) -> &Address {
        &self.address
    }

    /// Waits for a client and, with an authkey, runs the handshake (server side first).
    ///
    /// # Errors
    /// [`Error::Os`] when accepting fails; [`Error::Authentication`] when the client does not
    /// hold the key (the connection is closed; the listener goes on working).
    pub fn accept(&self) -> Result<Connection> {
        let conn = self.accept_unauthenticated()?;
        if let Some(key) = &self.authkey {
            authenticate_server(&conn, key)?;
        }
        Ok(conn)
    }

    /// Accepts a client without the handshake, so a server can run the handshake on the
    /// connection's own thread and a slow client never stalls the accept loop.
    pub(crate) fn accept_unauthenticated(&self) -> Result<Connection> {
        let context = || format!("accepting a connection on {}", self.address);
        let fd: OwnedFd = match &self.socket {
            Socket::Unix(l) => l.accept().map_err(|e| Error::os(context(), e))?.0.into(),
            Socket::Tcp(l) => {
                let (stream, _) = l.accept().map_err(|e| Error::os(context(), e))?;
                tune_tcp(&stream).map_err(|e| Error::os(context(), e))?;
                stream.into()
            }
        };
        Ok(Connection::from_owned_fd(fd))
    }

    /// The authkey clients must prove they hold, if any.
    pub(crate) fn authkey(&self) -> Option<&[u8]> {
        self.authkey.as_deref()
    }
}

/// The listening socket, for waiting on it with other descriptors (a readable listener has a
/// client to accept).
impl AsFd for Listener {
    fn as_fd(&self) -> BorrowedFd<'_> {
        match &self.socket {
            Socket::Unix(l) => l.as_fd(),
            Socket::Tcp(l) => l.as_fd(),
        }
    }
}

/// What a [`Listener`] serializes as (for a manager's server started by the `spawn` or
/// `forkserver` start method, or sent through a connection): its socket, passed or inherited as
/// a connection's is (see [`passing`](super::passing)), its address and its authkey.
#[derive(Deserialize)]
struct ListenerWire {
    socket: FdRef,
    tcp: bool,
    address: Address,
    authkey: Option<Vec<u8>>,
}

impl Serialize for Listener {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        /// The same layout as [`ListenerWire`], borrowing.
        #[derive(Serialize)]
        struct ListenerRef<'a> {
            socket: FdRef,
            tcp: bool,
            address: &'a Address,
            authkey: &'a Option<Vec<u8>>,
        }
        let (socket, tcp) = match &self.socket {
            Socket::Unix(l) => (l.as_fd(), false),
            Socket::Tcp(l) => (l.as_fd(), true),
        };
        ListenerRef {
            socket: passing::fd_out(socket, "a Listener").map_err(serde::ser::Error::custom)?,
            tcp,
            address: &self.address,
            authkey: &self.authkey,
        }
        .serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Listener {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        let wire = ListenerWire::deserialize(deserializer)?;
        let fd = passing::fd_in(wire.socket, "a Listener").map_err(serde::de::Error::custom)?;
        let socket = if wire.tcp {
            Socket::Tcp(TcpListener::from(fd))
        } else {
            Socket::Unix(UnixListener::from(fd))
        };
        Ok(Listener {
            socket,
            address: wire.address,
            authkey: wire.authkey,
        })
    }
}

/// Connects to a [`Listener`] at `address`, like CPython's `multiprocessing.connection.Client`.
/// With an `authkey`, runs the handshake (client side first).
///
/// # Errors
/// [`Error::Os`] naming the address when nothing listens there; [`Error::Authentication`] when
/// the keys differ.
///
/// # Examples
///
/// ```
/// use multiprocessing::{Address, Client, Listener};
///
/// let listener = Listener::bind(&"127.0.0.1:0".parse::<Address>()?, Some(b"right"))?;
/// let address = listener.address().clone();
/// let server = std::thread::spawn(move || listener.accept().map(drop));
/// let err = Client(&address, Some(b"wrong")).unwrap_err();
/// assert!(err.to_string().contains("authentication"), "{err}");
/// assert!(server.join().unwrap().is_err());
/// # Ok::<(), multiprocessing::Error>(())
/// ```
#[allow(non_snake_case, reason = "the name of CPython's function")]
pub fn Client(address: &Address, authkey: Option<&[u8]>) -> Result<Connection> {
    let conn = connect(address)?;
    if let Some(key) = authkey {
        authenticate_client(&conn, key)?;
    }
    Ok(conn)
}

/// Opens a stream to `address` without the handshake.
pub(crate) fn connect(address: &Address) -> Result<Connection> {
    let context = || format!("connecting to {address}");
    let fd: OwnedFd = match address {
        Address::Unix(path) => UnixStream::connect(path)
            .map_err(|e| Error::os(context(), e))?
            .into(),
        Address::Tcp(addr) => {
            let stream = TcpStream::connect(addr).map_err(|e| Error::os(context(), e))?;
            tune_tcp(&stream).map_err(|e| Error::os(context(), e))?;
            stream.into()
        }
    };
    Ok(Connection::from_owned_fd(fd))
}

/// How long a TCP connection may be silent before the kernel starts probing the peer, and how
/// often and how many times it probes: a peer whose machine died or dropped off the network is
/// found out in about 25 seconds, and a call blocked on it fails instead of hanging forever.
const KEEPALIVE: socket2::TcpKeepalive = socket2::TcpKeepalive::new()
    .with_time(Duration::from_secs(10))
    .with_interval(Duration::from_secs(5))
    .with_retries(3);

/// Sets up a TCP connection for request and reply traffic between machines.
fn tune_tcp(stream: &TcpStream) -> std::io::Result<()> {
    // Requests are small and answered one by one: Nagle's delay would add tens of milliseconds
    // to every round trip.
    stream.set_nodelay(true)?;
    // Loopback and LAN peers that vanish without a FIN (power loss, a cable) send nothing more:
    // without keepalive a blocked `recv` would wait for them forever.
    socket2::SockRef::from(stream).set_tcp_keepalive(&KEEPALIVE)
}

//! Managers: a server process that holds shared objects, and proxies that reach them.
//!
//! Mirrors CPython's `Lib/multiprocessing/managers.py`. [`Manager::new`] (Python's
//! `multiprocessing.Manager()`) starts a server process named `SyncManager-N` (by the default
//! start method, or a [`Context`](crate::Context)'s), and hands out typed proxies:
//! [`DictProxy`], [`ListProxy`], [`NamespaceProxy`], [`QueueProxy`], [`ValueProxy`],
//! [`LockProxy`]. A proxy can be given to child processes; each process talks to
//! the server over connections of its own. [`Manager::serve`] and [`Manager::connect`] are
//! CPython's `BaseManager(address, authkey)`: a server on a TCP or Unix-socket address that
//! other programs, on other machines too, reach with the same authkey.
//!
//! Tutorial section 3 / 1.5, in Rust:
//!
//! ```
//! use multiprocessing::{DictProxy, Manager, Process};
//!
//! fn worker((shared_dict, key, value): (DictProxy<String, i32>, String, i32)) {
//!     shared_dict.set(&key, &value).unwrap();
//! }
//!
//! {
//!     let manager = Manager::new()?;
//!     let shared_dict = manager.dict()?;
//!     let mut processes = Vec::new();
//!     for i in 0..5 {
//!         let mut p = Process::new(worker, (shared_dict.clone(), format!("key{i}"), i));
//!         p.start()?;
//!         processes.push(p);
//!     }
//!     for p in &processes {
//!         p.join()?;
//!     }
//!     println!("{shared_dict}"); // {'key0': 0, 'key1': 1, ...} in the order they arrived
//!     assert_eq!(shared_dict.len()?, 5);
//! } // the manager is dropped here: its server is shut down and reaped
//! # Ok::<(), multiprocessing::Error>(())
//! ```
//!
//! # Passing proxies to processes
//! A proxy is an ordinary argument of [`Process::new`](crate::Process::new): under `fork` it is
//! moved into the child, which notices by its pid that it is a new process and opens its own
//! connections to the server on first use. Proxies implement serde for the `spawn` start method:
//! they serialize the server's address, the authkey and the object's id, and the receiving
//! process connects anew. Proxies are also `Send` and `Sync`: threads of one process share them,
//! each call taking an idle connection of the process (or opening one), so two threads never
//! interleave on one connection.
//!
//! # Performance
//! Measured on the 2-core development machine (release build, other work running, so a spread
//! of runs), against CPython 3.11's `multiprocessing.Manager` on the same machine at the same
//! time (`bench/python/bench_mp.py`):
//!
//! | workload | this crate | CPython 3.11 |
//! |---|---|---|
//! | dict `set` + `get`, one client | 117,000-178,000 ops/s | 47,000-71,000 ops/s |
//! | dict `set` + `get`, four client processes | 160,000-200,000 ops/s | 44,000-46,000 ops/s |
//! | dict `update` of 1,000 pairs per call | 4.7-5.9 million pairs/s | |
//! | `Manager::new()` + `shutdown()` | 0.6-2.6 ms | 12-15 ms |
//!
//! One round trip costs a request frame and a reply frame over a Unix socket (about 6 us
//! here, against 9-11 us for the machine's raw socket round trip between two processes as
//! `mp-bench raw_socket_rtt` measures it); `update`, `extend` and `copy` move many items in one
//! round trip, which is the way to move bulk data.
//!
//! # Differences from CPython
//! - Proxies are typed: `dict::<K, V>()` holds `K` keys and `V` values of any serde types.
//!   The server stores them encoded and never decodes them.
//! - A shared object lives until its manager shuts down, not until its last proxy is dropped
//!   (CPython counts references across processes; a proxy moved into a forked child would need a
//!   hook at fork to take part in that count).
//! - A manager lock whose holder died is released by the server instead of staying locked.
//! - The local manager's socket lives in a directory only its user can enter (mode 0700), and
//!   its connections skip the authkey handshake; a manager on an address always runs it.

mod client;
mod dict;
mod list;
mod protocol;
mod proxies;
mod repr;
mod server;

use std::fmt;
use std::os::unix::fs::DirBuilderExt;
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use self::client::{Endpoint, ObjectRef};
pub use self::dict::{DictProxy, PyDict};
pub use self::list::{ListProxy, PyList};
use self::protocol::{Reply, Request, Spec};
pub use self::proxies::{LockProxy, LockProxyGuard, NamespaceProxy, QueueProxy, ValueProxy};
pub use self::repr::{py_repr, PyRepr};
use crate::context::StartMethod;
use crate::error::{Error, Result};
use crate::listener::{Address, Listener};
use crate::process::{join_identity, Process};
use crate::spawn::InheritedFd;
use crate::sys::unistd;

/// How long [`Manager::shutdown`] waits for the server to leave after asking, before it
/// terminates it (CPython waits 1 s, then 0.1 s after `terminate`).
const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);

/// A manager: a server process holding shared objects, and the factory of proxies to them
/// (Python's `multiprocessing.Manager()`, a `SyncManager`).
///
/// # Examples
///
/// ```
/// use multiprocessing::{active_children, Manager};
///
/// let manager = Manager::new()?;
/// let name = manager.name().to_string();
/// assert!(name.starts_with("SyncManager-"));
/// assert!(active_children().iter().any(|c| c.name() == name));
///
/// let d = manager.dict::<String, i32>()?;
/// d.set("key0", &0)?;
/// assert_eq!(d.copy()?.to_string(), "{'key0': 0}");
///
/// drop(manager); // shuts the server down and reaps it
/// assert!(!active_children().iter().any(|c| c.name() == name));
/// # Ok::<(), multiprocessing::Error>(())
/// ```
///
/// # Drop
/// Dropping the manager in the process that started it shuts the server down, as leaving
/// Python's `with Manager() as manager:` block does: proxies still held anywhere then fail with
/// an error that says the server is gone. A manager that only [`connect`](Manager::connect)ed
/// closes its connections and leaves the server running.
///
/// # Fork safety
/// Under the `fork` start method (the default) the server is forked when the manager is made:
/// make managers before starting threads, or use a `spawn` or `forkserver`
/// [`Context::manager`](crate::Context::manager). If the process that made the manager dies
/// without dropping it (killed, or `std::process::exit`), the server notices that its owner is
/// gone and exits by itself.
pub struct Manager {
    endpoint: Arc<Endpoint>,
    server: Option<ServerProcess>,
}

/// The server process a manager started, and what shutting it down needs.
struct ServerProcess {
    process: Process,
    /// The pid of the process that started it: only that one shuts it down.
    owner: libc::pid_t,
    /// Our end of a socket pair whose other end the server watches: it closes when we exit,
    /// however we exit, and the server then leaves too.
    watch: Arc<Mutex<Option<UnixStream>>>,
    /// The private directory of a local manager's socket, removed after the server.
    temp_dir: Option<PathBuf>,
}

/// What a manager's server started by `spawn` or `forkserver` receives.
#[derive(Serialize, Deserialize)]
struct SpawnedServer {
    listener: Listener,
    watch: InheritedFd,
    remove: Vec<PathBuf>,
}

/// The target of a manager's server started by `spawn` or `forkserver`.
fn serve_spawned(args: SpawnedServer) {
    server::serve(args.listener, Some(UnixStream::from(args.watch.0)), args.remove);
}

impl Manager {
    /// Starts a local manager: a server process `SyncManager-N`, listening on a Unix socket in a
    /// private temporary directory (Python's `multiprocessing.Manager()`).
    ///
    /// # Errors
    /// [`Error::Os`] when the socket cannot be made or the server process cannot be started.
    pub fn new() -> Result<Manager> {
        Manager::new_with(None)
    }

    /// [`Manager::new`] with the server started by `method` (`None`: the default start
    /// method), for [`Context::manager`](crate::Context::manager).
    pub(crate) fn new_with(method: Option<StartMethod>) -> Result<Manager> {
        let dir = std::env::temp_dir().join(format!("pymp-{}", random_hex()?));
        std::fs::DirBuilder::new()
            .mode(0o700)
            .create(&dir)
            .map_err(|e| Error::os(format!("creating the manager's directory {}", dir.display()), e))?;
        let address = Address::Unix(dir.join(format!("listener-{}", random_hex()?)));
        Manager::start(&address, None, Some(dir), method)
    }

    /// Starts a manager server process listening on `address`, which clients with the same
    /// `authkey` can reach from anywhere the address is reachable (Python's
    /// `BaseManager(address, authkey).start()`). TCP port `0` picks a free port: see
    /// [`address`](Manager::address).
    ///
    /// # Errors
    /// [`Error::Os`] when the address cannot be bound or the server process cannot be started.
    ///
    /// # Examples
    ///
    /// ```
    /// use multiprocessing::{Address, Manager};
    ///
    /// let server = Manager::serve(&"127.0.0.1:0".parse::<Address>()?, b"secret")?;
    /// let queue = server.queue::<String>()?;
    /// server.register("jobs", &queue)?;
    ///
    /// // Elsewhere, with the address and the key:
    /// let client = Manager::connect(server.address(), b"secret")?;
    /// let jobs = client.get::<multiprocessing::QueueProxy<String>>("jobs")?;
    /// jobs.put(&"job 1".to_string())?;
    /// assert_eq!(queue.get()?, "job 1");
    ///
    /// let err = Manager::connect(server.address(), b"wrong").unwrap_err();
    /// assert!(matches!(err, multiprocessing::Error::Authentication(_)), "{err}");
    /// # Ok::<(), multiprocessing::Error>(())
    /// ```
    pub fn serve(address: &Address, authkey: &[u8]) -> Result<Manager> {
        Manager::start(address, Some(authkey.to_vec()), None, None)
    }

    /// Connects to a manager server that another process started with [`Manager::serve`]
    /// (Python's `BaseManager(address, authkey).connect()`). Shared objects registered there by
    /// name are found with [`get`](Manager::get).
    ///
    /// # Errors
    /// [`Error::Os`] when nothing listens at `address`; [`Error::Authentication`] when the
    /// server does not accept `authkey`.
    pub fn connect(address: &Address, authkey: &[u8]) -> Result<Manager> {
        let endpoint = Arc::new(Endpoint::new(
            address.clone(),
            Some(authkey.to_vec()),
            format!("manager at {address}"),
        ));
        // Connect now, so a wrong address or key fails here rather than at first use.
        endpoint.warm_up()?;
        Ok(Manager {
            endpoint,
            server: None,
        })
    }

    fn start(
        address: &Address,
        authkey: Option<Vec<u8>>,
        temp_dir: Option<PathBuf>,
        method: Option<StartMethod>,
    ) -> Result<Manager> {
        let cleanup = |e: Error| {
            if let Some(dir) = &temp_dir {
                let _ = std::fs::remove_dir_all(dir);
            }
            e
        };
        // Bind before forking: the address is known and already accepting (into the backlog)
        // when we return, so there is no handshake to wait for, and a bind error is ours to
        // report.
        let listener = Listener::bind(address, authkey.as_deref()).map_err(cleanup)?;
        let address = listener.address().clone();
        let (owner_end, server_end) = UnixStream::pair()
            .map_err(|e| cleanup(Error::os("creating the manager's watch socket pair", e)))?;
        let watch = Arc::new(Mutex::new(Some(owner_end)));
        let mut remove: Vec<PathBuf> = match &address {
            Address::Unix(path) => vec![path.clone()],
            Address::Tcp(_) => Vec::new(),
        };
        remove.extend(temp_dir.clone());
        let method = method.unwrap_or_else(crate::context::default_start_method);
        let process = if method == StartMethod::Fork {
            let watch_in_child = Arc::clone(&watch);
            Process::from_closure(Box::new(move || {
                // The fork copied our end of the pair too: close it, or the server would watch
                // itself.
                drop(
                    watch_in_child
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .take(),
                );
                server::serve(listener, Some(server_end), remove);
            }))
        } else {
            // A new run of the program (or a child of the fork server) receives the listening
            // socket and its end of the watch pair; ours is close-on-exec and stays behind.
            let args = SpawnedServer {
                listener,
                watch: InheritedFd(server_end.into()),
                remove,
            };
            Process::new(serve_spawned, args).with_start_method(method)
        };
        // A daemon: if the owner exits without shutting it down, the runtime's exit handler
        // terminates it instead of waiting for it forever. Not killed with its owner, though:
        // it watches the owner itself, and removes its socket and directory on the way out.
        let process = process.with_daemon(true).outliving_parent();
        let name = format!("SyncManager-{}", join_identity(process.ident()));
        let mut process = process.with_name(name.clone());
        process.start().map_err(cleanup)?;
        let endpoint = Arc::new(Endpoint::new(address, authkey, name));
        let server = ServerProcess {
            process,
            owner: unistd::getpid(),
            watch,
            temp_dir,
        };
        Ok(Manager {
            endpoint,
            server: Some(server),
        })
    }

    /// The address the server listens on.
    pub fn address(&self) -> &Address {
        self.endpoint.address()
    }

    /// The server process's name, `SyncManager-N` (or `manager at ADDRESS` for a manager that
    /// only connected).
    pub fn name(&self) -> &str {
        self.endpoint.name()
    }

    /// The server process's pid, for a manager that started one.
    pub fn pid(&self) -> Option<i32> {
        self.server.as_ref().and_then(|s| s.process.pid())
    }

    /// A new shared dict (Python's `manager.dict()`).
    ///
    /// # Errors
    /// [`Error::Eof`] or [`Error::Os`] when the server is gone.
    pub fn dict<K, V>(&self) -> Result<DictProxy<K, V>>
    where
        K: Serialize + DeserializeOwned,
        V: Serialize + DeserializeOwned,
    {
        self.create(Spec::Dict)
    }

    /// A new shared list (Python's `manager.list()`).
    ///
    /// # Errors
    /// As [`dict`](Manager::dict).
    pub fn list<T: Serialize + DeserializeOwned>(&self) -> Result<ListProxy<T>> {
        self.create(Spec::List)
    }

    /// A new shared namespace (Python's `manager.Namespace()`).
    ///
    /// # Errors
    /// As [`dict`](Manager::dict).
    pub fn namespace(&self) -> Result<NamespaceProxy> {
        self.create(Spec::Namespace)
    }

    /// A new unbounded shared queue (Python's `manager.Queue()`).
    ///
    /// # Errors
    /// As [`dict`](Manager::dict).
    pub fn queue<T: Serialize + DeserializeOwned>(&self) -> Result<QueueProxy<T>> {
        self.create(Spec::Queue { maxsize: 0 })
    }

    /// A new shared queue holding at most `maxsize` items, `0` for no bound (Python's
    /// `manager.Queue(maxsize)`).
    ///
    /// # Errors
    /// As [`dict`](Manager::dict).
    pub fn queue_with_maxsize<T: Serialize + DeserializeOwned>(
        &self,
        maxsize: usize,
    ) -> Result<QueueProxy<T>> {
        self.create(Spec::Queue {
            maxsize: maxsize as u64,
        })
    }

    /// A new shared value starting at `value` (Python's `manager.Value(typecode, value)`; the
    /// type stands for the typecode).
    ///
    /// # Errors
    /// As [`dict`](Manager::dict); [`Error::Codec`] when `value` does not encode.
    pub fn value<T: Serialize + DeserializeOwned>(&self, value: T) -> Result<ValueProxy<T>> {
        self.create(Spec::Value(client::enc(&value)?))
    }

    /// A new shared lock (Python's `manager.Lock()`).
    ///
    /// # Errors
    /// As [`dict`](Manager::dict).
    pub fn lock(&self) -> Result<LockProxy> {
        self.create(Spec::Lock)
    }

    /// Gives `proxy`'s object a name on this manager's server, so clients that
    /// [`connect`](Manager::connect) can [`get`](Manager::get) it (what CPython's
    /// `BaseManager.register(typeid, callable)` is used for).
    ///
    /// # Errors
    /// [`Error::State`] when `proxy` belongs to another manager; as [`dict`](Manager::dict).
    pub fn register<P: Proxy>(&self, name: &str, proxy: &P) -> Result<()> {
        let object = proxy.object();
        if object.endpoint.address() != self.address() {
            return Err(Error::state(format!(
                "cannot register {name:?} on {}: the object belongs to {}",
                self.name(),
                object.endpoint.name()
            )));
        }
        match self.endpoint.call(
            &Request::Register {
                name: name.to_string(),
                id: object.id,
            },
            None,
        )? {
            Reply::Done => Ok(()),
            other => Err(Error::Remote(format!(
                "{}: unexpected reply {other:?} to register",
                self.name()
            ))),
        }
    }

    /// A proxy to the object registered as `name`, which must be of the proxy's kind and types.
    ///
    /// # Errors
    /// [`Error::Remote`] when no object has that name, or it is of another kind or type; as
    /// [`dict`](Manager::dict).
    pub fn get<P: Proxy>(&self, name: &str) -> Result<P> {
        let request = Request::Lookup {
            name: name.to_string(),
            kind: P::KIND,
            types: P::types(),
        };
        self.proxy(&request, "a lookup")
    }

    fn create<P: Proxy>(&self, spec: Spec) -> Result<P> {
        let request = Request::Create {
            spec,
            types: P::types(),
        };
        self.proxy(&request, "create")
    }

    /// Sends `request` (a lookup or a create, named `what` in errors) and makes a proxy to the
    /// object whose id the server answers.
    fn proxy<P: Proxy>(&self, request: &Request, what: &str) -> Result<P> {
        match self.endpoint.call(request, None)? {
            Reply::Id(id) => Ok(P::from_object(ObjectRef {
                endpoint: Arc::clone(&self.endpoint),
                id,
            })),
            other => Err(Error::Remote(format!(
                "{}: unexpected reply {other:?} to {what}",
                self.name()
            ))),
        }
    }

    /// Stops the server and waits for it to exit (Python's `manager.shutdown()`). Called by
    /// drop; calling it twice is harmless. For a manager that only connected, closes this
    /// process's connections and leaves the server running.
    ///
    /// The server is asked to leave; if it has not within two seconds it is terminated, then
    /// killed. Either way it is reaped, and a local manager's socket directory is removed.
    ///
    /// # Errors
    /// [`Error::Os`] if waiting for the server fails.
    ///
    /// # Examples
    ///
    /// ```
    /// let mut manager = multiprocessing::Manager::new()?;
    /// let d = manager.dict::<String, i32>()?;
    /// manager.shutdown()?;
    /// let err = d.len().unwrap_err();
    /// assert!(err.to_string().contains("SyncManager-"), "{err}");
    /// # Ok::<(), multiprocessing::Error>(())
    /// ```
    pub fn shutdown(&mut self) -> Result<()> {
        let Some(server) = self.server.take() else {
            self.endpoint.disconnect();
            return Ok(());
        };
        if server.owner != unistd::getpid() {
            // A copy of the manager in a forked child: the server is its parent's to stop.
            return Ok(());
        }
        // The server may already be gone (killed); then there is nobody to ask, and reaping it
        // below is all that is left to do.
        let _ = self.endpoint.call(&Request::Shutdown, None);
        self.endpoint.disconnect();
        drop(server.watch.lock().unwrap_or_else(PoisonError::into_inner).take());
        let process = &server.process;
        let mut ended = process.join_timeout(SHUTDOWN_GRACE)?;
        if !ended {
            process.terminate()?;
            ended = process.join_timeout(SHUTDOWN_GRACE)?;
        }
        if !ended {
            process.kill()?;
            process.join()?;
        }
        if let Some(dir) = &server.temp_dir {
            let _ = std::fs::remove_dir_all(dir);
        }
        Ok(())
    }
}

impl Drop for Manager {
    fn drop(&mut self) {
        let _ = self.shutdown();
    }
}

impl fmt::Debug for Manager {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<Manager {} at {}>", self.name(), self.address())
    }
}

/// A proxy type a [`Manager`] can [`register`](Manager::register) and [`get`](Manager::get) by
/// name: [`DictProxy`], [`ListProxy`], [`NamespaceProxy`], [`QueueProxy`], [`ValueProxy`],
/// [`LockProxy`]. Sealed: the server knows only these kinds.
pub trait Proxy: sealed::ProxyImpl {}

mod sealed {
    use super::client::ObjectRef;
    use super::protocol::Kind;

    /// What the manager needs of a proxy type; private so only this module's proxies exist.
    pub trait ProxyImpl: Sized {
        const KIND: Kind;
        fn types() -> String;
        fn from_object(object: ObjectRef) -> Self;
        fn object(&self) -> &ObjectRef;
    }
}

/// 16 random hex digits, for names nobody can guess.
fn random_hex() -> Result<String> {
    let mut bytes = [0u8; 8];
    getrandom::fill(&mut bytes).map_err(|e| Error::os("reading random bytes for a socket name", e.into()))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

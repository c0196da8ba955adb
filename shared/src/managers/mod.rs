//! Managers: a server process that holds shared objects, and proxies that reach them.
//!
//! Mirrors CPython's `Lib/multiprocessing/managers.py`. [`Manager::new`] (Python's
//! `multiprocessing.Manager()`) starts a server process named `SyncManager-N` (by the default
//! start method, or a [`Context`](crate::Context)'s), and hands out typed proxies:
//! [`DictProxy`], [`ListProxy`], [`NamespaceProxy`], [`QueueProxy`], [`ValueProxy`],
//! [`ArrayProxy`], [`LockProxy`], [`EventProxy`], [`SemaphoreProxy`], [`ConditionProxy`],
//! [`BarrierProxy`], and [`ServedProxy`] for objects of your own type ([`Managed`]). A proxy
//! can be given to child processes; each process talks to
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
//! they serialize the server's address and the object's id, and the receiving process connects
//! anew. The authkey travels with them only in the arguments of a child being started; a proxy
//! sent anywhere else (a queue, a pipe) carries no key, and its receiver authenticates with its
//! own process key, as in CPython. Proxies are also `Send` and `Sync`: threads of one process share them,
//! each call taking an idle connection of the process (or opening one), so two threads never
//! interleave on one connection.
//!
//! # Security
//! A manager serves only clients that prove they hold its authkey, with CPython's HMAC-SHA256
//! challenge in both directions; the key itself never crosses the wire. A local manager's key is
//! the process's (32 random bytes, inherited by every child), and its socket lives in a
//! directory only its user can enter. A manager on an address ([`Manager::serve`]) defends
//! against:
//! - clients without the key: refused at the handshake, before any request is read;
//! - an empty key: `serve` refuses to start;
//! - clients that connect and stall, or trickle their answer: the whole handshake has a
//!   deadline ([`ManagerBuilder::handshake_timeout`], 10 s by default), after which the
//!   connection is cut;
//! - floods of connections: at most [`ManagerBuilder::max_handshakes`] (32) are in their
//!   handshake at once, each on one thread for at most the deadline; the rest wait in the listen
//!   backlog, so a flood costs a bounded number of threads, not the machine's pids;
//! - handshake messages that announce gigabytes: nothing over 256 bytes is read before the key
//!   is proven;
//! - too many clients, when [`ManagerBuilder::max_clients`] is set: the one over the bound is
//!   told so and disconnected;
//! - peers whose machine vanished: TCP keepalive notices them in about 25 seconds.
//!
//! It does not defend against:
//! - anyone who holds the key: a client that proved it may read, change and delete every
//!   shared object, shut the server down, and send messages up to the connection's size limit
//!   (1 GiB), which the server holds in memory; trust every holder of the key;
//! - eavesdropping and tampering on the network: the handshake authenticates the start of a
//!   connection but nothing is encrypted or signed after it, so an attacker on the path can
//!   read the traffic or take over a connection. Across machines, use a network you trust or a
//!   tunnel (SSH, WireGuard, TLS);
//! - a stranger who keeps every handshake slot busy: clients with the key then wait up to the
//!   deadline for a turn (slowed, not served wrongly); a firewall is the defence against that;
//! - guessing a short key: use a long random one.
//!
//! # Performance
//! Measured on the 2-core development machine (release build of `mp-bench`, other work running:
//! the load average was 3-15, hence the spread), against CPython 3.11's `multiprocessing.Manager`
//! on the same machine in the same rounds (`bench/python/bench_mp.py`); medians of 9 rounds,
//! quartiles in brackets:
//!
//! | workload | this crate | CPython 3.11 |
//! |---|---|---|
//! | dict `set` + `get`, one client | 194,000 ops/s [137,000-213,000] | 59,000 ops/s [37,000-70,000] |
//! | dict `set` + `get`, four client processes | 181,000 ops/s [171,000-234,000] | 40,000 ops/s [38,000-46,000] |
//! | `Manager::new()` + `shutdown()` | 3.8 ms [2.3-5.8]; 0.52 ms [0.46-0.61] in quieter rounds | 21 ms [13-22]; 6.8 ms [6.7-7.0] |
//!
//! One round trip costs a request frame and a reply frame over a Unix socket, about 4-5 us
//! here, near the machine's raw socket round trip between two processes (3.5-5 us as
//! `mp-bench raw_socket_rtt` measures it); `update`, `extend` and `copy` move many items in one
//! round trip, which is the way to move bulk data. Starting and stopping a manager costs one
//! fork and one exit, plus 0.37 ms of CPU in all (`perf stat`); the shutdown is one byte on a
//! private socket, with no connection to open, so under load the time goes to waiting for the
//! scheduler, not to work.
//!
//! # Python to Rust
//!
//! | Python | Rust |
//! |---|---|
//! | `manager.dict()`, `manager.list()`, `manager.Namespace()` | [`Manager::dict`], [`Manager::list`], [`Manager::namespace`] |
//! | `manager.Queue(maxsize)`, `q.full()` | [`Manager::queue_with_maxsize`], [`QueueProxy::full`] |
//! | `manager.Value('d', 1.5)`, `manager.Array('i', [1, 2])` | [`Manager::value`]`(1.5)`, [`Manager::array`]`(&[1, 2])` |
//! | `manager.Lock()`, `manager.Event()`, `manager.Condition()` | [`Manager::lock`], [`Manager::event`], [`Manager::condition`] |
//! | `manager.Semaphore(2)`, `manager.BoundedSemaphore(2)`, `manager.Barrier(3)` | [`Manager::semaphore`], [`Manager::bounded_semaphore`], [`Manager::barrier`] |
//! | `l[1:3]`, `l[::-1]`, `l[1:3] = [x]`, `del l[:2]`, `l += [x]` | [`ListProxy::get_slice`]`(1..3)`, [`ListProxy::get_slice_step`]`(.., -1)`, [`ListProxy::set_slice`], [`ListProxy::del_slice`], [`ListProxy::iadd`] (or `extend`) |
//! | `MyManager.register('Foo', Foo)`, `manager.Foo(args)` | `Manager::builder().`[`register`](ManagerBuilder::register)`::<Foo>()`, [`Manager::create`]`::<Foo>(args)` |
//! | `BaseManager(address, authkey).start()`, `.connect()` | [`Manager::serve`], [`Manager::connect`] |
//! | `BaseManager.register('get_queue', callable=lambda: queue)` | [`Manager::register`]`("queue", &proxy)`, then [`Manager::get`] |
//!
//! # Differences from CPython
//! - Proxies are typed: `dict::<K, V>()` holds `K` keys and `V` values of any serde types.
//!   The server stores them encoded and never decodes them.
//! - A shared object lives until its manager shuts down, not until its last proxy is dropped
//!   (CPython counts references across processes; a proxy moved into a forked child would need a
//!   hook at fork to take part in that count).
//! - A manager lock, or a condition's lock, whose holder died is released by the server
//!   instead of staying locked; a barrier party killed while it waits is no longer counted.
//! - A type of your own is served through the [`Managed`] trait: its methods are the variants
//!   of one `Call` type, since a Rust proxy cannot expose methods by name at run time.
//! - An [`ArrayProxy`] keeps its length: a slice assignment must give as many items.
//! - A proxy carries the authkey only into a child being started; sent anywhere else (a
//!   queue, a pipe), it carries none and its receiver uses its own process key (CPython's
//!   proxies refuse to pickle the key in that case, to the same effect).
//! - The local manager's socket lives in a directory only its user can enter (mode 0700), and
//!   every connection runs the authkey handshake with the process's key, as CPython's does.

#[macro_use]
mod macros;
mod array;
mod builder;
mod client;
mod condition;
mod data;
mod dict;
mod gate;
mod list;
mod protocol;
mod proxies;
mod served;
mod server;
mod sync_proxies;
mod waiting;

use std::fmt;
use std::os::unix::fs::DirBuilderExt;
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

pub use self::array::ArrayProxy;
pub use self::builder::ManagerBuilder;
use self::client::{Endpoint, ObjectRef};
pub use self::dict::{DictProxy, PyDict};
use self::gate::Limits;
pub use self::list::{ListProxy, PyList};
use self::protocol::{Reply, Request, Spec};
pub use self::proxies::{LockProxy, LockProxyGuard, NamespaceProxy, QueueProxy, ValueProxy};
use self::served::Registration;
pub use self::served::{Managed, ServedProxy};
pub use self::sync_proxies::{
    BarrierProxy, ConditionProxy, ConditionProxyGuard, EventProxy, SemaphoreProxy, SemaphoreProxyGuard,
};
use crate::connection::listener::{Address, Listener};
use crate::error::{Error, Result};
use crate::process::{Process, join_identity};
pub use crate::py::{PyRepr, py_repr};
use crate::reduction::InheritedFd;
use crate::start_method::StartMethod;
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
/// gone and exits by itself, removing its socket and directory.
///
/// # Ctrl-C
/// A Ctrl-C in a terminal sends SIGINT to the whole process group, the server included. The
/// server ignores it, as CPython's does: the owner decides whether the program ends, and when it
/// does, the server leaves as above, with nothing left behind.
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
    /// What we made for the server (a Unix socket, a local manager's private directory),
    /// removed after it, in case it could not remove them itself (it was killed).
    made: Vec<PathBuf>,
}

/// What a manager's server started by `spawn` or `forkserver` receives.
#[derive(Serialize, Deserialize)]
struct SpawnedServer {
    listener: Listener,
    limits: Limits,
    /// The user's types, each installed before the server serves.
    types: Vec<Registration>,
    watch: InheritedFd,
    remove: Vec<PathBuf>,
}

/// The target of a manager's server started by `spawn` or `forkserver`.
fn serve_spawned(args: SpawnedServer) {
    args.types.iter().for_each(Registration::install);
    server::serve(
        args.listener,
        args.limits,
        UnixStream::from(args.watch.0),
        args.remove,
    );
}

impl Manager {
    /// Starts a local manager: a server process `SyncManager-N`, listening on a Unix socket in a
    /// private temporary directory (Python's `multiprocessing.Manager()`).
    ///
    /// The server accepts only clients that prove they hold the process's authkey (32 random
    /// bytes made at start-up, CPython's `current_process().authkey`), which every child of
    /// this program inherits: another process that finds the socket is refused at the handshake.
    ///
    /// # Errors
    /// [`Error::Os`] when the socket cannot be made or the server process cannot be started.
    pub fn new() -> Result<Manager> {
        Manager::builder().start()
    }

    /// Options for a manager's server: its start method and the bounds it puts on clients
    /// (see [`ManagerBuilder`]).
    ///
    /// # Examples
    ///
    /// ```
    /// use multiprocessing::{Manager, StartMethod};
    ///
    /// let manager = Manager::builder().start_method(StartMethod::Fork).max_clients(64).start()?;
    /// assert_eq!(manager.dict::<String, i32>()?.len()?, 0);
    /// # Ok::<(), multiprocessing::Error>(())
    /// ```
    pub fn builder() -> ManagerBuilder {
        ManagerBuilder::default()
    }

    /// [`Manager::new`] with the server started by `method` (`None`: the default start
    /// method), for [`Context::manager`](crate::Context::manager).
    pub(crate) fn new_with(method: Option<StartMethod>) -> Result<Manager> {
        let mut options = Manager::builder();
        options.method = method;
        options.start()
    }

    /// A local manager with these options, for [`ManagerBuilder::start`].
    fn start_local(options: ManagerBuilder) -> Result<Manager> {
        // Both names first: nothing can fail between making the directory and handing it to
        // `start`, which removes it if the manager does not start.
        let dir = std::env::temp_dir().join(format!("pymp-{}", random_hex()?));
        let address = Address::Unix(dir.join(format!("listener-{}", random_hex()?)));
        std::fs::DirBuilder::new()
            .mode(0o700)
            .create(&dir)
            .map_err(|e| Error::os(format!("creating the manager's directory {}", dir.display()), e))?;
        // Every manager holds the process's key (CPython's `BaseManager` takes
        // `current_process().authkey`): children inherit it and reach the server, a stranger
        // who finds the socket is refused at the handshake.
        Manager::start(&address, crate::authkey::get().to_vec(), Some(dir), options)
    }

    /// Starts a manager server process listening on `address`, which clients with the same
    /// `authkey` can reach from anywhere the address is reachable (Python's
    /// `BaseManager(address, authkey).start()`). TCP port `0` picks a free port: see
    /// [`address`](Manager::address).
    ///
    /// What a remote manager defends against, and what not, is in the module docs' "Security"
    /// section; [`ManagerBuilder`] sets its bounds.
    ///
    /// # Errors
    /// [`Error::State`] when `authkey` is empty (anyone could answer the challenge);
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
        Manager::builder().serve(address, authkey)
    }

    /// A manager on `address` with these options, for [`ManagerBuilder::serve`].
    fn start_remote(address: &Address, authkey: &[u8], options: ManagerBuilder) -> Result<Manager> {
        if authkey.is_empty() {
            return Err(Error::state(format!(
                "refusing to serve a manager on {address} with an empty authkey: anyone who reaches \
                 the address could use it; give a long random key (32 bytes from the OS's random source)"
            )));
        }
        Manager::start(address, authkey.to_vec(), None, options)
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
            authkey.to_vec(),
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
        authkey: Vec<u8>,
        temp_dir: Option<PathBuf>,
        options: ManagerBuilder,
    ) -> Result<Manager> {
        // What we made on the way, removed again if the server does not start: by path, with
        // no descriptor needed (the usual reason to fail here is having none left, EMFILE).
        let mut made: Vec<PathBuf> = temp_dir.into_iter().collect();
        match Manager::start_server(address, authkey, options, &mut made) {
            Ok(manager) => Ok(manager),
            Err(e) => {
                // Every descriptor of the attempt is closed by now (they lived in
                // `start_server`); a server that was started removes these too.
                remove_paths(&made);
                Err(e)
            }
        }
    }

    /// Binds, starts the server process, and returns the manager; `made` collects the paths
    /// the server must remove on its way out (a Unix socket, then its private directory).
    fn start_server(
        address: &Address,
        authkey: Vec<u8>,
        options: ManagerBuilder,
        made: &mut Vec<PathBuf>,
    ) -> Result<Manager> {
        let ManagerBuilder {
            method,
            limits,
            types,
        } = options;
        // Bind before forking: the address is known and already accepting (into the backlog)
        // when we return, so there is no handshake to wait for, and a bind error is ours to
        // report.
        let listener = Listener::bind(address, Some(&authkey))?;
        let address = listener.address().clone();
        if let Address::Unix(path) = &address {
            // Ours from now on; the socket goes before its directory.
            made.insert(0, path.clone());
        }
        let (owner_end, server_end) =
            UnixStream::pair().map_err(|e| Error::os("creating the manager's watch socket pair", e))?;
        let watch = Arc::new(Mutex::new(Some(owner_end)));
        let remove = made.clone();
        let method = method.unwrap_or_else(crate::start_method::default_start_method);
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
                types.iter().for_each(Registration::install);
                server::serve(listener, limits, server_end, remove);
            }))
        } else {
            // A new run of the program (or a child of the fork server) receives the listening
            // socket and its end of the watch pair; ours is close-on-exec and stays behind.
            let args = SpawnedServer {
                listener,
                limits,
                types,
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
        process.start()?;
        let endpoint = Arc::new(Endpoint::new(address, authkey, name));
        let server = ServerProcess {
            process,
            owner: unistd::getpid(),
            watch,
            made: made.clone(),
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
        self.make(Spec::Dict)
    }

    /// A new shared list (Python's `manager.list()`).
    ///
    /// # Errors
    /// As [`dict`](Manager::dict).
    pub fn list<T: Serialize + DeserializeOwned>(&self) -> Result<ListProxy<T>> {
        self.make(Spec::List)
    }

    /// A new shared namespace (Python's `manager.Namespace()`).
    ///
    /// # Errors
    /// As [`dict`](Manager::dict).
    pub fn namespace(&self) -> Result<NamespaceProxy> {
        self.make(Spec::Namespace)
    }

    /// A new unbounded shared queue (Python's `manager.Queue()`).
    ///
    /// # Errors
    /// As [`dict`](Manager::dict).
    pub fn queue<T: Serialize + DeserializeOwned>(&self) -> Result<QueueProxy<T>> {
        self.make(Spec::Queue { maxsize: 0 })
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
        self.make(Spec::Queue {
            maxsize: maxsize as u64,
        })
    }

    /// A new shared value starting at `value` (Python's `manager.Value(typecode, value)`; the
    /// type stands for the typecode).
    ///
    /// # Errors
    /// As [`dict`](Manager::dict); [`Error::Codec`] when `value` does not encode.
    pub fn value<T: Serialize + DeserializeOwned>(&self, value: T) -> Result<ValueProxy<T>> {
        self.make(Spec::Value(client::enc(&value)?))
    }

    /// A new shared lock (Python's `manager.Lock()`).
    ///
    /// # Errors
    /// As [`dict`](Manager::dict).
    pub fn lock(&self) -> Result<LockProxy> {
        self.make(Spec::Lock)
    }

    /// Gives `proxy`'s object a name on this manager's server, so clients that
    /// [`connect`](Manager::connect) can [`get`](Manager::get) it (what CPython's
    /// `BaseManager.register(typeid, callable)` is used for). To serve objects of a type of
    /// your own, see [`ManagerBuilder::register`].
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

    /// A new shared event, not set (Python's `manager.Event()`).
    ///
    /// # Errors
    /// As [`dict`](Manager::dict).
    pub fn event(&self) -> Result<EventProxy> {
        self.make(Spec::Event)
    }

    /// A new shared semaphore with `value` units (Python's `manager.Semaphore(value)`).
    ///
    /// # Errors
    /// As [`dict`](Manager::dict).
    pub fn semaphore(&self, value: usize) -> Result<SemaphoreProxy> {
        self.make(Spec::Semaphore {
            value: value as u64,
            bounded: false,
        })
    }

    /// A new shared semaphore that refuses to be released past `value` units (Python's
    /// `manager.BoundedSemaphore(value)`).
    ///
    /// # Errors
    /// As [`dict`](Manager::dict).
    pub fn bounded_semaphore(&self, value: usize) -> Result<SemaphoreProxy> {
        self.make(Spec::Semaphore {
            value: value as u64,
            bounded: true,
        })
    }

    /// A new shared condition variable over a reentrant lock (Python's `manager.Condition()`).
    ///
    /// # Errors
    /// As [`dict`](Manager::dict).
    pub fn condition(&self) -> Result<ConditionProxy> {
        self.make(Spec::Condition)
    }

    /// A new shared barrier for `parties` waiters (Python's `manager.Barrier(parties)`).
    ///
    /// # Errors
    /// [`Error::State`] when `parties` is 0; as [`dict`](Manager::dict).
    pub fn barrier(&self, parties: usize) -> Result<BarrierProxy> {
        self.barrier_with_timeout(parties, None)
    }

    /// A new shared barrier whose `wait` gives up after `timeout` unless told otherwise
    /// (Python's `manager.Barrier(parties, timeout=timeout)`).
    ///
    /// # Errors
    /// As [`barrier`](Manager::barrier).
    pub fn barrier_with_timeout(&self, parties: usize, timeout: Option<Duration>) -> Result<BarrierProxy> {
        if parties == 0 {
            return Err(Error::state("a Barrier needs at least one party"));
        }
        self.make(Spec::Barrier {
            parties: parties as u64,
            timeout,
        })
    }

    /// A new shared array holding a copy of `items`; its length is fixed (Python's
    /// `manager.Array(typecode, sequence)`; the item type stands for the typecode).
    ///
    /// # Errors
    /// As [`dict`](Manager::dict); [`Error::Codec`] when an item does not encode.
    pub fn array<T: Serialize + DeserializeOwned>(&self, items: &[T]) -> Result<ArrayProxy<T>> {
        let items = items.iter().map(client::enc).collect::<Result<Vec<_>>>()?;
        self.make(Spec::Array(items))
    }

    /// A new object of a type of your own, made in the server from `args` (what CPython's
    /// `manager.Foo(args)` does after `BaseManager.register('Foo', Foo)`). The type must have
    /// been registered with [`ManagerBuilder::register`] before the manager started; see
    /// [`Managed`] for an example.
    ///
    /// # Errors
    /// [`Error::Remote`] when `T` is not registered with this manager's server, or its `new`
    /// panicked; [`Error::Codec`] when `args` does not encode; as [`dict`](Manager::dict).
    pub fn create<T: Managed>(&self, args: T::Args) -> Result<ServedProxy<T>> {
        self.make(Spec::Served(client::enc(&args)?))
    }

    fn make<P: Proxy>(&self, spec: Spec) -> Result<P> {
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
        // Ask through the private watch socket: no connection or handshake is needed (a
        // manager that served nothing never opened one), and a byte reaches the server even
        // while forked children hold copies of our end, which would keep a mere close from
        // being seen. The server may already be gone (killed): then nobody reads it (`send`
        // must not raise SIGPIPE), and reaping it below is all that is left to do.
        if let Some(watch) = server.watch.lock().unwrap_or_else(PoisonError::into_inner).take() {
            let _ = socket2::SockRef::from(&watch).send_with_flags(&[1], libc::MSG_NOSIGNAL);
        }
        self.endpoint.disconnect();
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
        remove_paths(&server.made);
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
/// [`LockProxy`], [`EventProxy`], [`SemaphoreProxy`], [`ConditionProxy`], [`BarrierProxy`],
/// [`ArrayProxy`], and [`ServedProxy`] for a type of your own. Sealed: the server knows only
/// these kinds (your own types join through [`Managed`]).
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

/// Removes each path, a file or an empty directory, in order, by path alone (no descriptor is
/// needed, so it works when the process has none left). A directory that is not empty stays:
/// it holds something we did not make.
pub(crate) fn remove_paths(paths: &[PathBuf]) {
    for path in paths {
        let _ = std::fs::remove_file(path).or_else(|_| std::fs::remove_dir(path));
    }
}

/// 16 random hex digits, for names nobody can guess.
fn random_hex() -> Result<String> {
    let mut bytes = [0u8; 8];
    getrandom::fill(&mut bytes).map_err(|e| Error::os("reading random bytes for a socket name", e.into()))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

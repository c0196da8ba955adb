//! Start methods and contexts: [`get_context`], [`set_start_method`], [`get_start_method`],
//! [`Context`] (CPython's `Lib/multiprocessing/context.py`).
//!
//! The public explanation of the start methods is on [`StartMethod`] (this module is
//! private; its items are re-exported at the crate root).
//!
//! [`Process::new`] uses the default start method (the one [`set_start_method`] chose, `fork`
//! otherwise); a [`Context`] makes processes and pools that use its own method, whatever the
//! default is, as CPython's `get_context("spawn").Process(...)` does.

use std::fmt;
use std::str::FromStr;
use std::sync::Mutex;

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::connection::{Connection, Pipe};
use crate::error::{Error, Result};
use crate::managers::Manager;
use crate::pool::{Pool, PoolBuilder};
use crate::process::Process;
use crate::queues::{JoinableQueue, Queue, SimpleQueue};
use crate::sharedctypes::{Array, Element, Value};
use crate::synchronize::{Barrier, BoundedSemaphore, Condition, Event, Lock, RLock, Semaphore};

/// How a child process begins: by `fork`, by re-executing the program (`spawn`), or by asking a
/// fork server (`forkserver`). Choose it for the whole program with [`set_start_method`], or for
/// some processes with [`get_context`].
///
/// - `fork`: the child is a copy of the parent made by `fork(2)`, and runs its target at once.
///   The default on Linux, as in CPython before 3.14. Fast, but a parent with other threads can
///   hand its child a lock held forever (see the "Fork safety" section of [`Process`]).
/// - `spawn`: the child is a fresh run of the same executable; [`freeze_support`] (called first
///   in `main`) turns it into the child, which receives its target and arguments encoded by the
///   codec (as CPython's child unpickles them). Safe from any parent; costs an `exec`.
/// - `forkserver`: a single-threaded server process, started on first use, forks each child on
///   request. Safe from a multi-threaded parent, and cheaper than `spawn` once the server runs.
///   CPython 3.14's default on Linux.
///
/// What each costs, measured on the 2-core development machine (release build, starting and
/// joining a process with an empty target, averaged over 200 runs; CPython 3.11 on the same
/// machine in parentheses): `fork` 0.45 to 0.8 ms (6.3 ms), `spawn` 1.8 to 2.2 ms (104 ms),
/// `forkserver` 0.22 to 0.29 ms once its server runs (13 ms). A forkserver child is the cheapest
/// here because the server is small: `fork` copies the page tables of whoever forks.
///
/// What reaches a `spawn` or `forkserver` child: its target (a `fn`, found by its offset in
/// the executable, which is the same program) and its arguments, encoded by the codec. Objects
/// that stand for an OS resource ([`Connection`], [`Lock`], [`Value`], [`Array`], [`Queue`],
/// the other locks, manager proxies, a `Barrier` with its action) cross as their descriptors,
/// which the child inherits at the same numbers. A static of the parent does not cross (the
/// child's is fresh), and the runtime's closures cannot: they only run under `fork`.
///
/// [`freeze_support`]: crate::freeze_support
///
/// # Examples
///
/// ```
/// use multiprocessing::StartMethod;
///
/// let method: StartMethod = "spawn".parse()?;
/// assert_eq!(method, StartMethod::Spawn);
/// assert_eq!(method.name(), "spawn");
/// assert!("thread".parse::<StartMethod>().is_err());
/// # Ok::<(), multiprocessing::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum StartMethod {
    /// `fork(2)`: the child is a copy of the parent.
    Fork,
    /// The child re-executes the program, and [`freeze_support`](crate::freeze_support) runs
    /// its target.
    Spawn,
    /// A single-threaded fork server forks the child. The child is the server's child:
    /// [`parent_process`](crate::parent_process) still names the process that started it, but
    /// its operating-system parent (`getppid`) is the server, which reaps it and reports its
    /// exit code to the parent.
    Forkserver,
}

impl StartMethod {
    /// The name CPython uses: `"fork"`, `"spawn"` or `"forkserver"`.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(multiprocessing::StartMethod::Forkserver.name(), "forkserver");
    /// ```
    pub fn name(self) -> &'static str {
        match self {
            StartMethod::Fork => "fork",
            StartMethod::Spawn => "spawn",
            StartMethod::Forkserver => "forkserver",
        }
    }

    /// The class name CPython's context gives its processes, the prefix of their default
    /// names: `ForkProcess`, `SpawnProcess`, `ForkServerProcess`.
    pub(crate) fn process_class(self) -> &'static str {
        match self {
            StartMethod::Fork => "ForkProcess",
            StartMethod::Spawn => "SpawnProcess",
            StartMethod::Forkserver => "ForkServerProcess",
        }
    }

    /// The prefix of a pool worker's name (CPython replaces `Process` with `PoolWorker` in the
    /// class name): `ForkPoolWorker`, `SpawnPoolWorker`, `ForkServerPoolWorker`.
    pub(crate) fn pool_worker_class(self) -> &'static str {
        match self {
            StartMethod::Fork => "ForkPoolWorker",
            StartMethod::Spawn => "SpawnPoolWorker",
            StartMethod::Forkserver => "ForkServerPoolWorker",
        }
    }
}

impl fmt::Display for StartMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for StartMethod {
    type Err = Error;

    /// Parses `"fork"`, `"spawn"` or `"forkserver"`; anything else is CPython's
    /// `ValueError: cannot find context for 'x'`.
    fn from_str(s: &str) -> Result<StartMethod> {
        match s {
            "fork" => Ok(StartMethod::Fork),
            "spawn" => Ok(StartMethod::Spawn),
            "forkserver" => Ok(StartMethod::Forkserver),
            other => Err(Error::state(format!("cannot find context for '{other}'"))),
        }
    }
}

/// The start method chosen by [`set_start_method`], if any.
static DEFAULT: Mutex<Option<StartMethod>> = Mutex::new(None);

/// The start method that [`Process::new`] and [`Pool::new`] use: the one [`set_start_method`]
/// chose, otherwise `fork`. Asking fixes the default, as in CPython: a later
/// [`set_start_method`] without `force` is refused.
pub(crate) fn default_start_method() -> StartMethod {
    *DEFAULT
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .get_or_insert(StartMethod::Fork)
}

/// The default start method if one was chosen or fixed, for a spawned child to inherit (as
/// CPython's `spawn.prepare` passes `start_method` on).
pub(crate) fn chosen_start_method() -> Option<StartMethod> {
    *DEFAULT.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Sets the default start method in a spawned child to its parent's.
pub(crate) fn inherit_start_method(method: StartMethod) {
    *DEFAULT.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(method);
}

/// The default start method's name (Python's `multiprocessing.get_start_method()`): `"fork"`
/// unless [`set_start_method`] chose another. As in CPython, asking fixes the default.
///
/// # Examples
///
/// ```
/// assert_eq!(multiprocessing::get_start_method(), "fork");
/// ```
pub fn get_start_method() -> &'static str {
    default_start_method().name()
}

/// Chooses the start method of [`Process::new`] and [`Pool::new`] (Python's
/// `multiprocessing.set_start_method(method, force=False)`). Call it once, early in `main`
/// (after [`freeze_support`](crate::freeze_support)).
///
/// # Errors
/// [`Error::State`] for an unknown method ("cannot find context for 'x'"), or when the default
/// was already chosen or used and `force` is false ("context has already been set").
///
/// # Examples
///
/// ```
/// use multiprocessing::{get_start_method, set_start_method, Process};
///
/// fn worker(x: u32) {
///     assert_eq!(x, 7);
/// }
///
/// multiprocessing::freeze_support();
/// set_start_method("spawn", false)?;
/// assert_eq!(get_start_method(), "spawn");
/// assert!(set_start_method("fork", false).is_err(), "already set");
/// let mut p = Process::new(worker, 7);
/// p.start()?;
/// p.join()?;
/// assert_eq!(p.exitcode(), Some(0));
/// # Ok::<(), multiprocessing::Error>(())
/// ```
pub fn set_start_method(method: &str, force: bool) -> Result<()> {
    let method: StartMethod = method.parse()?;
    let mut default = DEFAULT.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    if default.is_some() && !force {
        return Err(Error::state("context has already been set"));
    }
    *default = Some(method);
    Ok(())
}

/// The start methods this platform supports, the default first (Python's
/// `multiprocessing.get_all_start_methods()`).
///
/// # Examples
///
/// ```
/// assert_eq!(multiprocessing::get_all_start_methods(), ["fork", "spawn", "forkserver"]);
/// ```
pub fn get_all_start_methods() -> Vec<&'static str> {
    vec!["fork", "spawn", "forkserver"]
}

/// A context: an object with the same API as the crate's root that starts its processes with
/// one start method (Python's `multiprocessing.get_context(method)`).
///
/// # Examples
///
/// ```
/// use multiprocessing::get_context;
///
/// fn worker(name: String) {
///     assert_eq!(multiprocessing::current_process().name(), "SpawnProcess-1");
///     assert_eq!(name, "A");
/// }
///
/// multiprocessing::freeze_support();
/// let ctx = get_context("spawn")?;
/// let mut p = ctx.process(worker, "A".to_string());
/// p.start()?;
/// p.join()?;
/// assert_eq!(p.exitcode(), Some(0));
/// # Ok::<(), multiprocessing::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Context {
    method: StartMethod,
}

/// The context of start method `method`: `"fork"`, `"spawn"` or `"forkserver"`.
///
/// # Errors
/// [`Error::State`] for any other name: "cannot find context for 'x'".
///
/// # Examples
///
/// ```
/// let ctx = multiprocessing::get_context("forkserver")?;
/// assert_eq!(ctx.get_start_method(), "forkserver");
/// assert!(multiprocessing::get_context("thread").is_err());
/// # Ok::<(), multiprocessing::Error>(())
/// ```
pub fn get_context(method: &str) -> Result<Context> {
    Ok(Context {
        method: method.parse()?,
    })
}

impl Context {
    /// The context of the default start method (Python's `get_context()` with no argument).
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(multiprocessing::Context::default_context().get_start_method(), "fork");
    /// ```
    pub fn default_context() -> Context {
        Context {
            method: default_start_method(),
        }
    }

    /// The context's start method.
    ///
    /// # Examples
    ///
    /// ```
    /// use multiprocessing::{get_context, StartMethod};
    ///
    /// assert_eq!(get_context("spawn")?.start_method(), StartMethod::Spawn);
    /// # Ok::<(), multiprocessing::Error>(())
    /// ```
    pub fn start_method(&self) -> StartMethod {
        self.method
    }

    /// The start method's name.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(multiprocessing::get_context("fork")?.get_start_method(), "fork");
    /// # Ok::<(), multiprocessing::Error>(())
    /// ```
    pub fn get_start_method(&self) -> &'static str {
        self.method.name()
    }

    /// A process that runs `target(args)` with this context's start method (Python's
    /// `ctx.Process(target=..., args=...)`). Its default name is the context's class name, as
    /// in CPython: `ForkProcess-1`, `SpawnProcess-1`, `ForkServerProcess-1`.
    ///
    /// # Examples
    ///
    /// ```
    /// fn worker(_: ()) {}
    ///
    /// multiprocessing::freeze_support();
    /// let ctx = multiprocessing::get_context("fork")?;
    /// let mut p = ctx.process(worker, ());
    /// assert_eq!(p.name(), "ForkProcess-1");
    /// p.start()?;
    /// p.join()?;
    /// # Ok::<(), multiprocessing::Error>(())
    /// ```
    pub fn process<A>(&self, target: fn(A), args: A) -> Process
    where
        A: Serialize + DeserializeOwned + 'static,
    {
        Process::new(target, args).with_context_method(self.method)
    }

    /// A pool of `processes` workers started with this context's method (Python's
    /// `ctx.Pool(processes)`); its workers are `SpawnPoolWorker-N` under `spawn`, and so on.
    ///
    /// # Errors
    /// As [`Pool::new`].
    ///
    /// # Examples
    ///
    /// ```
    /// fn square(x: u64) -> u64 {
    ///     x * x
    /// }
    ///
    /// multiprocessing::freeze_support();
    /// let pool = multiprocessing::get_context("spawn")?.pool(2)?;
    /// assert_eq!(pool.map(square, [1, 2, 3])?, [1, 4, 9]);
    /// # Ok::<(), multiprocessing::Error>(())
    /// ```
    pub fn pool(&self, processes: usize) -> Result<Pool> {
        self.pool_builder().processes(processes).build()
    }

    /// Options for a pool started with this context's method: see [`PoolBuilder`].
    ///
    /// # Examples
    ///
    /// ```
    /// fn square(x: u64) -> u64 {
    ///     x * x
    /// }
    ///
    /// multiprocessing::freeze_support();
    /// let ctx = multiprocessing::get_context("fork")?;
    /// let pool = ctx.pool_builder().processes(2).maxtasksperchild(5).build()?;
    /// assert_eq!(pool.map(square, [4])?, [16]);
    /// # Ok::<(), multiprocessing::Error>(())
    /// ```
    pub fn pool_builder(&self) -> PoolBuilder {
        Pool::builder().start_method(self.method)
    }

    /// A [`Lock`] (Python's `ctx.Lock()`). Shared objects are the same under every start
    /// method: they live in shared memory whose descriptor a spawned child inherits.
    ///
    /// # Errors
    /// As [`Lock::new`].
    ///
    /// # Examples
    ///
    /// ```
    /// let lock = multiprocessing::get_context("spawn")?.lock()?;
    /// drop(lock.acquire());
    /// # Ok::<(), multiprocessing::Error>(())
    /// ```
    pub fn lock(&self) -> Result<Lock> {
        Lock::new()
    }

    /// An [`RLock`] (Python's `ctx.RLock()`).
    ///
    /// # Errors
    /// As [`RLock::new`].
    ///
    /// # Examples
    ///
    /// ```
    /// let lock = multiprocessing::get_context("spawn")?.rlock()?;
    /// drop(lock.acquire());
    /// # Ok::<(), multiprocessing::Error>(())
    /// ```
    pub fn rlock(&self) -> Result<RLock> {
        RLock::new()
    }

    /// A [`Semaphore`] (Python's `ctx.Semaphore(value)`).
    ///
    /// # Errors
    /// As [`Semaphore::new`].
    ///
    /// # Examples
    ///
    /// ```
    /// let sem = multiprocessing::get_context("spawn")?.semaphore(2)?;
    /// drop(sem.acquire());
    /// # Ok::<(), multiprocessing::Error>(())
    /// ```
    pub fn semaphore(&self, value: u32) -> Result<Semaphore> {
        Semaphore::new(value)
    }

    /// A [`Value`] (Python's `ctx.Value(typecode, value)`).
    ///
    /// # Errors
    /// As [`Value::new`].
    ///
    /// # Examples
    ///
    /// ```
    /// let v = multiprocessing::get_context("spawn")?.value(5i32)?;
    /// assert_eq!(v.get(), 5);
    /// # Ok::<(), multiprocessing::Error>(())
    /// ```
    pub fn value<T: Element>(&self, value: T) -> Result<Value<T>> {
        Value::new(value)
    }

    /// An [`Array`] (Python's `ctx.Array(typecode, items)`).
    ///
    /// # Errors
    /// As [`Array::new`].
    ///
    /// # Examples
    ///
    /// ```
    /// let a = multiprocessing::get_context("spawn")?.array(&[1i32, 2, 3])?;
    /// assert_eq!(a.len(), 3);
    /// # Ok::<(), multiprocessing::Error>(())
    /// ```
    pub fn array<T: Element>(&self, items: &[T]) -> Result<Array<T>> {
        Array::new(items)
    }

    /// A [`Pipe`] (Python's `ctx.Pipe(duplex)`).
    ///
    /// # Errors
    /// As [`Pipe`].
    ///
    /// # Examples
    ///
    /// ```
    /// let (a, b) = multiprocessing::get_context("spawn")?.pipe(true)?;
    /// a.send(&1u8)?;
    /// assert_eq!(b.recv::<u8>()?, 1);
    /// # Ok::<(), multiprocessing::Error>(())
    /// ```
    pub fn pipe(&self, duplex: bool) -> Result<(Connection, Connection)> {
        Pipe(duplex)
    }

    /// A [`Queue`] (Python's `ctx.Queue(maxsize)`).
    ///
    /// # Errors
    /// As [`Queue::new`].
    ///
    /// # Examples
    ///
    /// ```
    /// let q = multiprocessing::get_context("spawn")?.queue::<String>(0)?;
    /// q.put(&"消息".to_string())?;
    /// assert_eq!(q.get()?, "消息");
    /// # Ok::<(), multiprocessing::Error>(())
    /// ```
    pub fn queue<T: Serialize + DeserializeOwned>(&self, maxsize: usize) -> Result<Queue<T>> {
        Queue::new(maxsize)
    }

    /// A [`Manager`] whose server process is started with this context's method (Python's
    /// `ctx.Manager()`): under `forkserver` or `spawn` a parent with running threads can start
    /// one safely.
    ///
    /// # Errors
    /// As [`Manager::new`].
    ///
    /// # Examples
    ///
    /// ```
    /// multiprocessing::freeze_support();
    /// let manager = multiprocessing::get_context("spawn")?.manager()?;
    /// let d = manager.dict::<String, i32>()?;
    /// d.set("key", &1)?;
    /// assert_eq!(d.get("key")?, Some(1));
    /// # Ok::<(), multiprocessing::Error>(())
    /// ```
    pub fn manager(&self) -> Result<Manager> {
        Manager::new_with(Some(self.method))
    }

    /// A [`BoundedSemaphore`] (Python's `ctx.BoundedSemaphore(value)`).
    ///
    /// # Errors
    /// As [`BoundedSemaphore::new`].
    ///
    /// # Examples
    ///
    /// ```
    /// let sem = multiprocessing::get_context("forkserver")?.bounded_semaphore(1)?;
    /// drop(sem.acquire());
    /// # Ok::<(), multiprocessing::Error>(())
    /// ```
    pub fn bounded_semaphore(&self, value: u32) -> Result<BoundedSemaphore> {
        BoundedSemaphore::new(value)
    }

    /// An [`Event`] (Python's `ctx.Event()`).
    ///
    /// # Errors
    /// As [`Event::new`].
    ///
    /// # Examples
    ///
    /// ```
    /// let event = multiprocessing::get_context("spawn")?.event()?;
    /// event.set();
    /// assert!(event.is_set());
    /// # Ok::<(), multiprocessing::Error>(())
    /// ```
    pub fn event(&self) -> Result<Event> {
        Event::new()
    }

    /// A [`Condition`] over its own [`RLock`] (Python's `ctx.Condition()`).
    ///
    /// # Errors
    /// As [`Condition::new`].
    ///
    /// # Examples
    ///
    /// ```
    /// let cond = multiprocessing::get_context("spawn")?.condition()?;
    /// drop(cond.acquire());
    /// # Ok::<(), multiprocessing::Error>(())
    /// ```
    pub fn condition(&self) -> Result<Condition> {
        Condition::new()
    }

    /// A [`Barrier`] for `parties` processes (Python's `ctx.Barrier(parties)`).
    ///
    /// # Errors
    /// As [`Barrier::new`].
    ///
    /// # Examples
    ///
    /// ```
    /// let barrier = multiprocessing::get_context("spawn")?.barrier(1)?;
    /// assert_eq!(barrier.wait()?, 0);
    /// # Ok::<(), multiprocessing::Error>(())
    /// ```
    pub fn barrier(&self, parties: u32) -> Result<Barrier> {
        Barrier::new(parties)
    }

    /// A [`SimpleQueue`] (Python's `ctx.SimpleQueue()`).
    ///
    /// # Errors
    /// As [`SimpleQueue::new`].
    ///
    /// # Examples
    ///
    /// ```
    /// let q = multiprocessing::get_context("spawn")?.simple_queue::<u32>()?;
    /// q.put(&7)?;
    /// assert_eq!(q.get()?, 7);
    /// # Ok::<(), multiprocessing::Error>(())
    /// ```
    pub fn simple_queue<T: Serialize + DeserializeOwned>(&self) -> Result<SimpleQueue<T>> {
        SimpleQueue::new()
    }

    /// A [`JoinableQueue`] (Python's `ctx.JoinableQueue(maxsize)`).
    ///
    /// # Errors
    /// As [`JoinableQueue::new`].
    ///
    /// # Examples
    ///
    /// ```
    /// let q = multiprocessing::get_context("spawn")?.joinable_queue::<u32>(0)?;
    /// q.put(&7)?;
    /// assert_eq!(q.get()?, 7);
    /// q.task_done()?;
    /// q.join();
    /// # Ok::<(), multiprocessing::Error>(())
    /// ```
    pub fn joinable_queue<T: Serialize + DeserializeOwned>(
        &self,
        maxsize: usize,
    ) -> Result<JoinableQueue<T>> {
        JoinableQueue::new(maxsize)
    }
}

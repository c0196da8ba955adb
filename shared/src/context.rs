//! Start methods and contexts: [`get_context`], [`set_start_method`], [`get_start_method`],
//! [`Context`] (CPython's `Lib/multiprocessing/context.py`).
//!
//! The public explanation of the start methods is on [`StartMethod`] (this module is
//! private; its items are re-exported at the crate root).
//!
//! [`Process::new`] uses the default start method (the one [`set_start_method`] chose, `fork`
//! otherwise); a [`Context`] makes processes and pools that use its own method, whatever the
//! default is, as CPython's `get_context("spawn").Process(...)` does.

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::connection::{Connection, Pipe};
use crate::error::Result;
use crate::managers::Manager;
use crate::pool::{Pool, PoolBuilder};
use crate::process::Process;
use crate::queues::{JoinableQueue, Queue, SimpleQueue};
use crate::sharedctypes::{Array, Element, Value};
use crate::start_method::{StartMethod, default_start_method};
use crate::synchronize::{Barrier, BoundedSemaphore, Condition, Event, Lock, RLock, Semaphore};

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
/// [`Error::State`](crate::Error::State) for any other name: "cannot find context for 'x'".
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
        A: Serialize + DeserializeOwned + Send + 'static,
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

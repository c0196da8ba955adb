//! Process pools: [`Pool`], [`AsyncResult`], [`IMapIterator`] (CPython's
//! `Lib/multiprocessing/pool.py`).
//!
//! The pool's design is documented on [`Pool`] (this module is private): how a task travels,
//! why the pool pulls, and why the parent runs no threads. Its parts, one file each:
//!
//! - `worker`: the worker process's loop (CPython's `pool.worker`);
//! - `wire`: the messages between the parent and a worker;
//! - `task`: the shapes of task a worker runs (`map`, `starmap`), as `reduction::TaskCode`s;
//! - `jobs`: a call as the parent holds it, the source of its chunks and the sink of its results;
//! - `scheduler`: which worker gets the next chunk (the pool pulls);
//! - `supervisor`: starting, watching, reaping and replacing the workers;
//! - `results`: [`AsyncResult`] and the collecting of a `map`'s chunks;
//! - `map`, `imap`: the calls themselves; `builder`: [`PoolBuilder`]; `stats`: [`PoolStats`].

mod builder;
mod imap;
mod jobs;
mod map;
mod map_with;
mod results;
mod scheduler;
mod stats;
mod supervisor;
mod task;
mod wire;
mod worker;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crate::error::{Error, Result, TooLarge};
#[cfg(doc)]
use crate::{connection::Connection, process::Process};

pub use builder::PoolBuilder;
pub use imap::{IMAP_BUFFER_PER_WORKER, IMapIterator};
pub use results::AsyncResult;
pub use scheduler::PREFETCH;
pub use stats::{PoolStats, WorkerStats};

use jobs::{Job, Sink, Source, Work};
use scheduler::State;
use stats::worker_stats;
use supervisor::Shared;

/// Python's default chunksize for `map` over `len` items on a pool of `processes` workers:
/// `divmod(len, 4 * processes)`, plus one if there is a remainder; `0` for no items.
///
/// The tutorial's section 7 quotes a simplified `max(1, len // (4 * processes))`, which rounds
/// down instead of up: for 100 tasks on 4 workers CPython uses 7, not 6.
///
/// # Examples
///
/// ```
/// use multiprocessing::default_chunksize;
///
/// assert_eq!(default_chunksize(100, 4), 7);
/// assert_eq!(default_chunksize(10, 4), 1);
/// assert_eq!(default_chunksize(16, 4), 1);
/// assert_eq!(default_chunksize(0, 4), 0);
/// ```
pub fn default_chunksize(len: usize, processes: usize) -> usize {
    let per = 4 * processes.max(1);
    len / per + usize::from(len % per != 0)
}

/// A pool of worker processes, like Python's `multiprocessing.Pool`.
///
/// Tasks are plain functions `fn(T) -> R` whose arguments and results are serde types; they
/// run in forked workers named `ForkPoolWorker-N`, and come back in input order for
/// [`map`](Pool::map) and [`imap`](Pool::imap).
///
/// # Examples
///
/// The tutorial's section 3 / 1.2:
///
/// ```
/// use multiprocessing::Pool;
///
/// fn square(x: i32) -> i32 {
///     x * x
/// }
///
/// {
///     let pool = Pool::new(4)?;
///     let results = pool.map(square, [1, 2, 3, 4, 5])?;
///     println!("{results:?}");
///     assert_eq!(results, [1, 4, 9, 16, 25]);
/// } // Leaving the block terminates the pool, as leaving `with Pool(...)` does.
/// # Ok::<(), multiprocessing::Error>(())
/// ```
///
/// # Tasks that need more than their item
/// A task is a plain `fn` (or a closure that captures nothing): it runs in another process,
/// so a closure that captures a local cannot be sent (rustc says `expected fn pointer, found
/// closure`). Three patterns cover what a captured value would do.
///
/// **A context passed once.** [`map_with`](Pool::map_with) (and
/// [`map_async_with`](Pool::map_async_with), [`imap_with`](Pool::imap_with)) takes a value
/// every task borrows: `f(&context, item)`. It is sent once to each worker, not once per item.
///
/// ```
/// use multiprocessing::Pool;
///
/// fn count_word(word: &String, line: String) -> usize {
///     line.split_whitespace().filter(|w| w == word).count()
/// }
///
/// let lines = ["a rose is a rose", "is a rose"].map(String::from);
/// let pool = Pool::new(2)?;
/// assert_eq!(pool.map_with("rose".to_string(), count_word, lines)?, [2, 1]);
/// # Ok::<(), multiprocessing::Error>(())
/// ```
///
/// **Python's `functools.partial`.** `pool.map(partial(pow, exp=3), xs)` fixes an argument
/// for every call: pass it as the context, with a closure that captures nothing. Arguments
/// that differ per item travel with the item, as a tuple or through
/// [`starmap`](Pool::starmap).
///
/// ```
/// use multiprocessing::Pool;
///
/// let pool = Pool::new(2)?;
/// assert_eq!(pool.map_with(3, |exp: &u32, x: u64| x.pow(*exp), [1, 2, 3])?, [1, 8, 27]);
/// assert_eq!(pool.starmap(u64::pow, [(2, 10), (3, 2)])?, [1024, 9]);
/// # Ok::<(), multiprocessing::Error>(())
/// ```
///
/// **Per-worker state from the initializer.** What every task of every call needs (a loaded
/// model, a configuration, a connection of its own) is set once per worker by the
/// [initializer](PoolBuilder::initializer), into a `static` the tasks read (CPython's
/// idiom of a global set by `initializer=`):
///
/// ```
/// use std::sync::OnceLock;
/// use multiprocessing::Pool;
///
/// static PREFIX: OnceLock<String> = OnceLock::new();
///
/// fn init(prefix: String) {
///     PREFIX.set(prefix).expect("the initializer runs once in each worker");
/// }
///
/// fn label(x: u32) -> String {
///     format!("{}-{x}", PREFIX.get().expect("set by the initializer"))
/// }
///
/// let pool = Pool::builder().processes(2).initializer(init, "job".to_string()).build()?;
/// assert_eq!(pool.map(label, [1, 2])?, ["job-1", "job-2"]);
/// # Ok::<(), multiprocessing::Error>(())
/// ```
///
/// # Errors
/// Where Python raises, methods return an [`Error`]: [`Error::State`] for a call the pool's
/// state forbids (`"Pool not running"` after [`close`](Pool::close), `"Pool is still
/// running"` for [`join`](Pool::join) before `close`). A task's failure is a variant a program
/// can match, with fields:
///
/// | variant | when | fields |
/// |---|---|---|
/// | [`Error::TaskPanicked`] | the task panicked (Python: the task raised) | [`TaskPanicked`](crate::TaskPanicked): `task` (its index in the input), `worker`, `message`, `location` |
/// | [`Error::WorkerLost`] | its worker died while running it (a signal, an exit) | [`WorkerLost`](crate::WorkerLost): `worker`, `pid`, `signal`, `exit_code`, `task`, `tasks` |
/// | [`Error::TooLarge`] | its arguments or results are over [`PoolBuilder::max_message_size`] | [`TooLarge`](crate::TooLarge): `size`, `limit` |
/// | [`Error::TaskFailed`] | its results did not encode (or arguments decode) in the worker | [`TaskFailed`](crate::TaskFailed): `task`, `tasks`, `worker`, `message` |
/// | [`Error::InitializerPanicked`] | the initializer panicked: the pool can run nothing | `detail`: the worker and the message |
/// | [`Error::PoolBroken`] | workers cannot be started, or end before they are ready | `reason` |
/// | [`Error::FailedFast`] | a [fail-fast](AsyncResult::fail_fast) call stopped | `first`, `not_run`, `tasks` |
///
/// ```
/// use multiprocessing::{Error, Pool};
///
/// fn check(x: u32) -> u32 {
///     assert!(x % 2 == 0, "odd input");
///     x
/// }
///
/// let pool = Pool::new(2)?;
/// match pool.map_chunked(check, [2, 4, 5, 6], 1) {
///     Err(Error::TaskPanicked(panic)) => assert_eq!((panic.task, panic.message.as_str()), (2, "odd input")),
///     other => panic!("{other:?}"),
/// }
/// # Ok::<(), multiprocessing::Error>(())
/// ```
///
/// # How a task travels
/// Each worker is a forked child ([`Process`], named `ForkPoolWorker-N`) with its own duplex
/// [`Connection`] to the parent. A task is a plain `fn(T) -> R`; the parent sends a worker the
/// address of a monomorphized *trampoline* (which knows `T` and `R`), the address of the
/// function, and the encoded arguments of one chunk. A forked worker has the parent's code at
/// the same addresses, so it turns both numbers back into function pointers, decodes the
/// chunk, runs it, and sends back the encoded results. The two numbers are offsets from a
/// reference function of the crate (the runtime's `reduction` module measures them, and is the
/// one place that turns them back into functions), so they also hold in a worker that is a
/// new run of the executable (the `spawn` and `forkserver` start methods), where ASLR put the
/// code elsewhere.
///
/// # The pool pulls
/// As in CPython, idle workers take the next chunk; the parent never pushes work to a worker
/// that has not asked for it. A worker asks once when it starts (after its initializer), and
/// every result it sends back is its next ask. The parent hands the next chunk to the worker
/// that asked first. A worker that runs quick chunks (under a millisecond) may hold
/// [`PREFETCH`] of them (one running, one waiting in its socket), so it does not sit idle for
/// a round trip between two tiny tasks. Nothing is sent ahead to a worker busy with a longer
/// chunk, nor near the end of a job (fewer chunks left than workers): a chunk queued behind
/// another would wait for it while a sibling may be idle, and CPython never assigns a chunk
/// before an idle worker takes it. Because the pool pulls, a
/// worker that starts early and runs fast tasks may take every task before its siblings ask at
/// all: section 8 of the tutorial, "every task in one PID".
///
/// # Progress and callbacks: no background threads
/// CPython's pool runs three threads in the parent (worker handler, task handler, result
/// handler). This one runs none: the pool makes progress inside the caller's own calls
/// ([`Pool::map`], [`AsyncResult::get`], [`AsyncResult::wait`], [`AsyncResult::ready`],
/// iterating an [`IMapIterator`], [`Pool::join`], ...). Each of those hands out waiting
/// chunks, reads the results that came back, and watches the workers (`poll` on their sockets
/// and pidfds). Callbacks therefore run in the caller's thread, inside one of those calls. The
/// reason is fork safety: a dead or retired worker is replaced by forking the parent, and
/// forking a process whose other threads may hold a lock (the allocator's, stdout's) can
/// deadlock the child. With no threads of ours, the parent is as single-threaded as the
/// program that owns the pool. The price: work is only handed out inside the pool's calls
/// (submitting work hands out what idle workers asked for; after that, chunks move while some
/// call waits on the pool, and workers meanwhile run the chunks they hold).
///
/// A pool, its [`AsyncResult`]s and [`IMapIterator`]s share one state behind a lock, so they
/// may be moved to other threads (callbacks and `imap` inputs must then be `Send`). One call
/// at a time moves the pool forward: a call in one thread waits while another thread's call
/// waits on the workers, and goes on when that one does.
///
/// # Where this pool is stronger than CPython's
/// - A worker that dies mid-task (SIGKILL, the OOM killer, `abort`) fails exactly the chunk it
///   was running, with an error naming the worker and the signal; the chunks it had not
///   started go to other workers, a new worker takes its place, and the caller's `map` or
///   `get` returns at once instead of hanging forever.
/// - A panicking initializer fails the pool's pending and later calls with the panic message,
///   instead of respawning workers in an endless loop; so do workers that end before they are
///   ready, three in a row (a `spawn` program without `freeze_support()`).
/// - A result larger than [`PoolBuilder::max_message_size`] fails that task with its size and
///   the limit; the worker goes on.
/// - [`Pool::terminate`] (and dropping the pool) fails the results still pending instead of
///   leaving their `get` to hang.
/// - Workers die with the pool's process: each asks the kernel for a signal when its parent
///   dies (`PR_SET_PDEATHSIG`), and a forked worker closes every descriptor its parent held
///   for the workers, so that it sees end of file and leaves when the parent is gone even if
///   the program's own handler catches that signal. A parent killed by `SIGKILL` leaves no
///   orphaned worker running (CPython's workers of a killed parent live on until they next
///   read from it).
///
/// # Drop
/// Dropping a pool terminates it, as leaving `with Pool(...) as pool:` does in Python: workers
/// get `SIGTERM` (then `SIGKILL` after a second), are waited for, and results still pending
/// fail with "Pool(4) was terminated". To let the work finish, call [`close`](Pool::close)
/// and [`join`](Pool::join) first.
///
/// # Fork safety
/// Workers are started when the pool is made and whenever one must be replaced (it died, or
/// it reached `maxtasksperchild`). The pool itself starts no threads (see above). Under the
/// `fork` start method (the default), make pools from a single-threaded program, or before
/// starting other threads, as for [`Process`]; a `spawn` or `forkserver` pool
/// ([`PoolBuilder::start_method`]) has no such limit.
pub struct Pool {
    shared: Arc<Shared>,
    processes: usize,
}

impl Pool {
    /// A pool of `processes` workers (Python's `Pool(processes)`).
    ///
    /// # Errors
    /// [`Error::State`] when `processes` is 0 ("Number of processes must be at least 1");
    /// [`Error::Os`] when a worker cannot be started.
    ///
    /// # Examples
    ///
    /// ```
    /// use multiprocessing::Pool;
    ///
    /// let pool = Pool::new(2)?;
    /// assert_eq!(pool.processes(), 2);
    /// assert!(Pool::new(0).is_err());
    /// # Ok::<(), multiprocessing::Error>(())
    /// ```
    pub fn new(processes: usize) -> Result<Pool> {
        Pool::builder().processes(processes).build()
    }

    /// A pool with one worker per CPU (Python's `Pool()`).
    ///
    /// # Errors
    /// As [`Pool::new`].
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = multiprocessing::Pool::with_cpu_count()?;
    /// assert_eq!(pool.processes(), multiprocessing::cpu_count());
    /// # Ok::<(), multiprocessing::Error>(())
    /// ```
    pub fn with_cpu_count() -> Result<Pool> {
        Pool::builder().build()
    }

    /// Options beyond the size: see [`PoolBuilder`].
    pub fn builder() -> PoolBuilder {
        PoolBuilder::new()
    }

    /// The number of workers the pool keeps.
    pub fn processes(&self) -> usize {
        self.processes
    }

    /// Queues a job and hands out what idle workers asked for; returns the job's id.
    fn submit(
        &self,
        work: Work,
        chunksize: usize,
        source: Box<dyn Source>,
        sink: Box<dyn Sink>,
    ) -> Result<u64> {
        let id = {
            let mut inner = self.shared.lock();
            inner.core.check_running()?;
            let id = inner.core.next_job;
            let context = work.context.map(|c| wire::context_message(id, &c));
            let size = context.as_ref().map_or(0, |c| c.len() as u64);
            if size > inner.core.max_message_size {
                return Err(Error::TooLarge(Box::new(TooLarge {
                    pool: inner.core.label.clone(),
                    what: "the context of the call is".to_string(),
                    size,
                    limit: inner.core.max_message_size,
                })));
            }
            inner.core.next_job += 1;
            let job = Job {
                code: work.code,
                context,
                chunksize,
                source,
                chunks_made: 0,
                tasks_made: 0,
                sink,
            };
            inner.core.jobs.insert(id, job);
            inner.core.queue.push_back(id);
            id
        };
        // Read the asks that are waiting and hand out work now, without blocking, so that
        // idle workers start while the caller goes on.
        self.shared.pump(Some(Duration::ZERO))?;
        Ok(id)
    }

    /// Accepts no more work (Python's `close`); the workers leave once what was submitted is
    /// done. Call [`join`](Pool::join) to wait for that.
    ///
    /// # Errors
    /// None today; `Result` keeps the door open for a failing OS call.
    ///
    /// # Examples
    ///
    /// ```
    /// use multiprocessing::Pool;
    ///
    /// fn square(x: u64) -> u64 {
    ///     x * x
    /// }
    ///
    /// let pool = Pool::new(2)?;
    /// let result = pool.map_async(square, 0..10)?;
    /// pool.close()?;
    /// assert!(pool.map(square, [1]).is_err(), "Pool not running");
    /// pool.join()?;
    /// assert_eq!(result.get()?[9], 81);
    /// # Ok::<(), multiprocessing::Error>(())
    /// ```
    pub fn close(&self) -> Result<()> {
        {
            let mut inner = self.shared.lock();
            if inner.core.state == State::Run {
                inner.core.state = State::Close;
            }
            inner.dispatch();
        }
        self.shared.run_completions();
        Ok(())
    }

    /// Stops the workers at once (Python's `terminate`): `SIGTERM`, then `SIGKILL` for a
    /// worker still there after a second. Pending results fail with "Pool(N) was
    /// terminated", without calling their callbacks.
    ///
    /// # Errors
    /// None today; `Result` keeps the door open for a failing OS call.
    ///
    /// # Examples
    ///
    /// ```
    /// use multiprocessing::Pool;
    ///
    /// fn nap(ms: u64) {
    ///     std::thread::sleep(std::time::Duration::from_millis(ms));
    /// }
    ///
    /// let pool = Pool::new(1)?;
    /// let result = pool.apply_async(nap, 60_000)?;
    /// pool.terminate()?;
    /// assert!(result.get().is_err());
    /// pool.join()?;
    /// # Ok::<(), multiprocessing::Error>(())
    /// ```
    pub fn terminate(&self) -> Result<()> {
        self.shared.lock().terminate();
        Ok(())
    }

    /// Waits for the workers to exit (Python's `join`), after [`close`](Pool::close) (all
    /// submitted work is done first) or [`terminate`](Pool::terminate).
    ///
    /// # Errors
    /// [`Error::State`] ("Pool is still running") before `close` or `terminate`, as CPython
    /// raises `ValueError`.
    ///
    /// # Examples
    ///
    /// ```
    /// use multiprocessing::{active_children, Pool};
    ///
    /// let pool = Pool::new(2)?;
    /// assert!(pool.join().is_err());
    /// pool.close()?;
    /// pool.join()?;
    /// assert!(active_children().is_empty());
    /// # Ok::<(), multiprocessing::Error>(())
    /// ```
    pub fn join(&self) -> Result<()> {
        if self.shared.lock().core.state == State::Run {
            return Err(Error::state("Pool is still running"));
        }
        let shared = &self.shared;
        loop {
            if shared.lock().workers.is_empty() {
                return Ok(());
            }
            shared.pump(None)?;
        }
    }

    /// What has crossed between the parent and the workers so far, and what each worker did.
    ///
    /// # Examples
    ///
    /// ```
    /// use multiprocessing::Pool;
    ///
    /// fn square(x: u64) -> u64 {
    ///     x * x
    /// }
    ///
    /// let pool = Pool::new(4)?;
    /// pool.map_chunked(square, 0..100, 1)?;
    /// let stats = pool.stats();
    /// assert_eq!(stats.task_messages + stats.result_messages, 200);
    /// # Ok::<(), multiprocessing::Error>(())
    /// ```
    pub fn stats(&self) -> PoolStats {
        let inner = self.shared.lock();
        let mut stats = inner.core.stats.clone();
        stats
            .workers
            .extend(inner.workers.iter().map(|w| worker_stats(w, true)));
        stats
    }

    /// The process ids of the current workers.
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = multiprocessing::Pool::new(3)?;
    /// assert_eq!(pool.pids().len(), 3);
    /// # Ok::<(), multiprocessing::Error>(())
    /// ```
    pub fn pids(&self) -> Vec<i32> {
        self.shared.lock().workers.iter().map(|w| w.pid).collect()
    }
}

impl fmt::Debug for Pool {
    /// Like CPython's repr: `<Pool state=RUN pool_size=4>`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let inner = self.shared.lock();
        let state = match inner.core.state {
            State::Run => "RUN",
            State::Close => "CLOSE",
            State::Terminate => "TERMINATE",
        };
        write!(f, "<Pool state={state} pool_size={}>", inner.workers.len())
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        self.shared.lock().terminate();
    }
}

#[cfg(test)]
mod tests {
    /// Everything the pool keeps of its own can cross threads, checked by the compiler. (The
    /// workers' `Process` objects are the process module's; see `Shared::new`.)
    #[test]
    fn the_pools_own_state_is_send() {
        fn send<T: Send>() {}
        fn sync<T: Sync>() {}
        send::<super::scheduler::Core>();
        send::<super::jobs::Job>();
        send::<super::results::Slot<Vec<u64>>>();
        sync::<super::results::Slot<Vec<u64>>>();
        send::<super::worker::Initializer>();
    }
}

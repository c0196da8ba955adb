//! [`PoolBuilder`]: a pool's size, initializer, `maxtasksperchild` and start method.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, PoisonError};

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::connection::DEFAULT_MAX_MESSAGE_SIZE;
use crate::error::{Error, Result};
use crate::process::spawn::Call;
use crate::process::{cpu_count, current_process};
use crate::start_method::StartMethod;

use super::Pool;

/// The smallest `max_message_size` a pool takes: enough for its control messages and for a
/// failure report whose text is cut to fit.
const MIN_MESSAGE_SIZE: u64 = 64;
use super::scheduler::{Core, State};
use super::stats::PoolStats;
use super::supervisor::{Inner, Shared};
use super::worker::{Initializer, InitializerCall};

/// Options for a [`Pool`]: its size, an initializer, and `maxtasksperchild`.
///
/// # Examples
///
/// ```
/// use multiprocessing::Pool;
///
/// fn init(greeting: String) {
///     assert_eq!(greeting, "hello");
/// }
///
/// fn double(x: u32) -> u32 {
///     2 * x
/// }
///
/// let pool = Pool::builder().processes(2).initializer(init, "hello".to_string()).maxtasksperchild(10).build()?;
/// assert_eq!(pool.map(double, [1, 2, 3])?, [2, 4, 6]);
/// # Ok::<(), multiprocessing::Error>(())
/// ```
#[must_use]
pub struct PoolBuilder {
    processes: Option<usize>,
    initializer: Option<Initializer>,
    initializer_call: Option<InitializerCall>,
    maxtasksperchild: Option<usize>,
    start_method: Option<StartMethod>,
    max_message_size: u64,
}

impl PoolBuilder {
    /// The options of [`Pool::builder`]: every one at its default.
    pub(super) fn new() -> PoolBuilder {
        PoolBuilder {
            processes: None,
            initializer: None,
            initializer_call: None,
            maxtasksperchild: None,
            start_method: None,
            max_message_size: DEFAULT_MAX_MESSAGE_SIZE,
        }
    }
}

impl PoolBuilder {
    /// The number of workers (Python's `processes=`); [`cpu_count`] if not set.
    pub fn processes(mut self, processes: usize) -> Self {
        self.processes = Some(processes);
        self
    }

    /// Runs `initializer(initargs)` once in each worker when it starts (Python's
    /// `initializer=` and `initargs=`). Each worker gets its own clone of `initargs`.
    pub fn initializer<A>(mut self, initializer: fn(A), initargs: A) -> Self
    where
        A: Serialize + DeserializeOwned + Clone + Send + 'static,
    {
        // Behind a lock, so that `A` need only be `Send`: each worker clones its own copy.
        let initargs = Arc::new(Mutex::new(initargs));
        let for_spawn = Arc::clone(&initargs);
        let args = move |args: &Mutex<A>| args.lock().unwrap_or_else(PoisonError::into_inner).clone();
        self.initializer = Some(Arc::new(move || initializer(args(&initargs))));
        self.initializer_call = Some(Arc::new(move || {
            let args = for_spawn.lock().unwrap_or_else(PoisonError::into_inner);
            Call::new(initializer, &*args)
        }));
        self
    }

    /// Starts the workers with `method` instead of the default start method (what
    /// [`Context::pool`](crate::Context::pool) sets). Workers are named after it:
    /// `ForkPoolWorker-N`, `SpawnPoolWorker-N`, `ForkServerPoolWorker-N`.
    ///
    /// # Examples
    ///
    /// ```
    /// use multiprocessing::{Pool, StartMethod};
    ///
    /// fn pid(_: u32) -> u32 {
    ///     std::process::id()
    /// }
    ///
    /// multiprocessing::freeze_support();
    /// let pool = Pool::builder().processes(1).start_method(StartMethod::Spawn).build()?;
    /// assert_ne!(pool.map(pid, [0])?, [std::process::id()]);
    /// # Ok::<(), multiprocessing::Error>(())
    /// ```
    pub fn start_method(mut self, method: StartMethod) -> Self {
        self.start_method = Some(method);
        self
    }

    /// Replaces a worker after it has completed this many chunks (Python's
    /// `maxtasksperchild=`); by default workers live as long as the pool.
    pub fn maxtasksperchild(mut self, maxtasks: usize) -> Self {
        self.maxtasksperchild = Some(maxtasks);
        self
    }

    /// The largest message, in bytes, that goes between the pool and a worker (the
    /// [`Connection::max_message_size`](crate::Connection::max_message_size) of both ends of
    /// each worker's socket); [`DEFAULT_MAX_MESSAGE_SIZE`] (1 GiB) if not set.
    ///
    /// A chunk whose encoded results are larger fails with an error that gives their size and
    /// this limit, and its worker goes on; so does a chunk whose arguments are larger, which is
    /// never sent. The other chunks of the call run as usual.
    ///
    /// # Examples
    ///
    /// ```
    /// use multiprocessing::Pool;
    ///
    /// fn zeros(n: usize) -> Vec<u8> {
    ///     vec![0; n]
    /// }
    ///
    /// let pool = Pool::builder().processes(1).max_message_size(4096).build()?;
    /// assert_eq!(pool.apply(zeros, 10)?.len(), 10);
    /// let err = pool.apply(zeros, 100_000).unwrap_err();
    /// assert!(err.to_string().contains("more than the limit of 4096 bytes"), "{err}");
    /// # Ok::<(), multiprocessing::Error>(())
    /// ```
    pub fn max_message_size(mut self, bytes: u64) -> Self {
        self.max_message_size = bytes;
        self
    }

    /// Starts the workers.
    ///
    /// # Errors
    /// [`Error::State`] for zero processes or a zero `maxtasksperchild` (CPython's
    /// `ValueError`), or a `max_message_size` under 64 bytes; [`Error::State`] naming the
    /// caller when it is a daemon process, which may not have children; [`Error::Os`] when a socket fails or a worker cannot be started.
    pub fn build(self) -> Result<Pool> {
        let processes = self.processes.unwrap_or_else(cpu_count);
        if processes < 1 {
            return Err(Error::state("Number of processes must be at least 1"));
        }
        if self.maxtasksperchild == Some(0) {
            return Err(Error::state("maxtasksperchild must be a positive int or None"));
        }
        if self.max_message_size < MIN_MESSAGE_SIZE {
            return Err(Error::state(format!(
                "max_message_size must be at least {MIN_MESSAGE_SIZE} bytes, the size of the \
                 pool's own messages; got {}",
                self.max_message_size
            )));
        }
        let label = format!("Pool({processes})");
        // Checked here, not only by each worker's `start`, so that the error names the daemon
        // (the caller), not the worker it would have started.
        let me = current_process();
        if me.daemon() {
            return Err(Error::state(format!(
                "{label} cannot start its workers in {}: daemonic processes are not allowed to have \
                 children (start the pool in a process that is not a daemon)",
                me.name()
            )));
        }
        let mut inner = Inner {
            workers: Vec::with_capacity(processes),
            core: Core {
                label,
                processes,
                state: State::Run,
                ready: VecDeque::new(),
                jobs: HashMap::default(),
                queue: VecDeque::new(),
                retry: VecDeque::new(),
                next_job: 0,
                stats: PoolStats::default(),
                initializer: self.initializer,
                initializer_call: self.initializer_call,
                method: self
                    .start_method
                    .unwrap_or_else(crate::start_method::default_start_method),
                maxtasks: self.maxtasksperchild,
                max_message_size: self.max_message_size,
                broken: None,
                failed_starts: 0,
                completions: Vec::new(),
            },
        };
        for _ in 0..processes {
            if let Err(e) = inner.spawn_worker() {
                inner.terminate();
                return Err(e);
            }
        }
        Ok(Pool {
            shared: Shared::new(inner),
            processes,
        })
    }
}

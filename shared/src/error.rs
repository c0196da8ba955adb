//! The crate's one error type.
//!
//! Python's `multiprocessing` raises exceptions; this crate returns [`Result`]s. Each variant
//! below names the Python exception it stands for, so a reader of the tutorial knows what to
//! expect where the Python would raise.

use std::fmt;
use std::io;
use std::time::Duration;

/// A `Result` whose error is this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in this crate.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An operating-system call failed. `context` says what we were doing.
    #[error("{context}: {source}")]
    Os {
        /// What the runtime was doing, e.g. "fork for Process-1".
        context: String,
        /// The error the OS returned.
        #[source]
        source: io::Error,
    },
    /// A method was called in a state that does not allow it (Python's `AssertionError` or
    /// `ValueError`), e.g. starting a process twice.
    #[error("{0}")]
    State(String),
    /// The peer closed its end (Python's `EOFError`).
    #[error("end of file: {0}")]
    Eof(String),
    /// A value could not be encoded or decoded by the codec.
    #[error("{0}")]
    Codec(#[from] crate::codec::CodecError),
    /// A blocking call gave up after its timeout (Python's `TimeoutError`).
    #[error("timed out after {0:?}")]
    Timeout(Duration),
    /// A bounded queue is full (Python's `queue.Full`).
    #[error("queue is full")]
    Full,
    /// A queue is empty (Python's `queue.Empty`).
    #[error("queue is empty")]
    Empty,
    /// Another process reported a failure that has no variant of its own: a manager's server
    /// (Python's remote exception, e.g. `KeyError`), a queue's producer that died in the
    /// middle of a message. A pool's failures have variants of their own:
    /// [`TaskPanicked`](Error::TaskPanicked), [`WorkerLost`](Error::WorkerLost),
    /// [`TooLarge`](Error::TooLarge), [`TaskFailed`](Error::TaskFailed),
    /// [`InitializerPanicked`](Error::InitializerPanicked), [`PoolBroken`](Error::PoolBroken).
    #[error("{0}")]
    Remote(String),
    /// The peer does not hold the same authkey (Python's `AuthenticationError`).
    #[error("authentication error: {0}")]
    Authentication(String),
    /// A barrier was broken: aborted, reset while processes waited, timed out, or its action
    /// panicked (Python's `threading.BrokenBarrierError`).
    #[error("the barrier is broken (aborted, reset, timed out, or its action failed)")]
    BrokenBarrier,
    /// A fail-fast pool call ([`AsyncResult::fail_fast`](crate::AsyncResult::fail_fast))
    /// stopped at its first failure: `first` is that failure, and `not_run` of the call's
    /// `tasks` tasks were never handed to a worker. (CPython has no fail-fast `map`: it runs
    /// every task, then raises the first error, as [`Pool::map`](crate::Pool::map) does.)
    #[error("{first} (fail-fast: {not_run} of {tasks} tasks were not run)")]
    FailedFast {
        /// The failure that stopped the call.
        first: Box<Error>,
        /// How many tasks were never run.
        not_run: usize,
        /// How many tasks the call had.
        tasks: usize,
    },
    /// A pool task panicked in its worker (where Python re-raises the task's exception in the
    /// parent). The pool and the worker go on.
    #[error("{0}")]
    TaskPanicked(Box<TaskPanicked>),
    /// A pool worker ended while it ran a chunk of tasks: killed by a signal (the OOM killer,
    /// `kill -9`), exited, or killed by the pool because it broke the pool's protocol. That
    /// chunk fails, its other chunks go to other workers, and a new worker takes its place.
    #[error("{0}")]
    WorkerLost(Box<WorkerLost>),
    /// A message between a pool and a worker would be larger than
    /// [`PoolBuilder::max_message_size`](crate::PoolBuilder::max_message_size) (1 GiB unless
    /// set): the tasks it carries fail, and the worker goes on.
    #[error("{0}")]
    TooLarge(Box<TooLarge>),
    /// A chunk of pool tasks failed in its worker without a panic: its arguments did not
    /// decode there, or its results did not encode (a `Serialize` impl that fails).
    #[error("{0}")]
    TaskFailed(Box<TaskFailed>),
    /// A pool's initializer panicked in a worker. The pool can run no task: this call and
    /// every later one fail with this error, and no worker is started again.
    #[error("{pool}: the initializer panicked in {}: {}", .detail.0, .detail.1)]
    InitializerPanicked {
        /// The pool, as `Pool(4)`.
        pool: String,
        /// The worker's name, and the panic's message (with where it panicked).
        detail: Box<(String, String)>,
    },
    /// A pool cannot keep its workers: one could not be started, or they end before they are
    /// ready (a `spawn` worker whose program does not call `freeze_support()` first in `main`).
    /// Pending and later calls fail with this error; no worker is started again.
    #[error("{pool}: {reason}")]
    PoolBroken {
        /// The pool, as `Pool(4)`.
        pool: String,
        /// What went wrong.
        reason: String,
    },
    /// A message did not fit the buffer given to
    /// [`Connection::recv_bytes_into`](crate::Connection::recv_bytes_into) (Python's
    /// `multiprocessing.BufferTooShort`, whose `args[0]` is the message). The message was
    /// received, and is here whole.
    #[error("a message of {} bytes does not fit a buffer of {capacity} bytes", message.len())]
    BufferTooShort {
        /// The whole message.
        message: Vec<u8>,
        /// The size of the buffer it did not fit.
        capacity: usize,
    },
}

// The pool's failures, each boxed in its variant so that `Error` (and every `Result` of the
// crate) stays small.

/// The details of [`Error::TaskPanicked`]: a pool task that panicked.
///
/// # Examples
///
/// ```
/// use multiprocessing::{Error, Pool};
///
/// fn check(x: u32) -> u32 {
///     assert!(x != 3, "three is not allowed");
///     x
/// }
///
/// let pool = Pool::new(2)?;
/// let Err(Error::TaskPanicked(panic)) = pool.map_chunked(check, 0..5, 1) else { panic!() };
/// assert_eq!((panic.task, panic.message.as_str()), (3, "three is not allowed"));
/// assert!(panic.worker.contains("PoolWorker-"));
/// # Ok::<(), multiprocessing::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TaskPanicked {
    /// The pool, as `Pool(4)`.
    pub pool: String,
    /// The task's index in the call's input.
    pub task: usize,
    /// The worker's name, as `ForkPoolWorker-3`.
    pub worker: String,
    /// The panic's message.
    pub message: String,
    /// Where it panicked (`file:line:column`), when known.
    pub location: Option<String>,
}

impl fmt::Display for TaskPanicked {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let TaskPanicked {
            pool,
            task,
            worker,
            message,
            location,
        } = self;
        write!(f, "{pool}: task {task} panicked in {worker}: {message}")?;
        if let Some(at) = location {
            write!(f, " (at {at})")?;
        }
        Ok(())
    }
}

/// The details of [`Error::WorkerLost`]: a pool worker that ended while it ran tasks.
///
/// # Examples
///
/// ```
/// use multiprocessing::{Error, Pool};
///
/// fn die(_: ()) {
///     std::process::abort();
/// }
///
/// let pool = Pool::new(1)?;
/// let Err(Error::WorkerLost(lost)) = pool.apply(die, ()) else { panic!() };
/// assert_eq!((lost.signal, lost.task, lost.tasks), (Some(6), 0, 1)); // SIGABRT
/// assert!(lost.to_string().contains("was killed by SIGABRT while running task 0"));
/// # Ok::<(), multiprocessing::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WorkerLost {
    /// The pool, as `Pool(4)`.
    pub pool: String,
    /// The worker's name.
    pub worker: String,
    /// The worker's process id.
    pub pid: i32,
    /// The signal that killed it, if one did (9 for `SIGKILL`).
    pub signal: Option<i32>,
    /// Its exit code, if it exited.
    pub exit_code: Option<i32>,
    /// The index of the first task of the chunk it was running.
    pub task: usize,
    /// How many tasks that chunk holds.
    pub tasks: usize,
    /// Why the pool killed it, if it did: what the worker sent that it should not have.
    pub fault: Option<String>,
}

impl fmt::Display for WorkerLost {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: worker {} ", self.pool, self.worker)?;
        match (&self.fault, self.signal, self.exit_code) {
            (Some(fault), _, _) => write!(f, "was killed after it {fault}")?,
            (None, Some(signal), _) => {
                write!(f, "was killed by {}", crate::sys::signal::signal_name(signal))?
            }
            (None, None, Some(0)) => write!(f, "exited")?,
            (None, None, Some(code)) => write!(f, "exited with code {code}")?,
            (None, None, None) => write!(f, "ended")?,
        }
        write!(f, " while running {}", tasks_text(self.task, self.tasks))
    }
}

/// The details of [`Error::TooLarge`]: a message over a pool's limit.
///
/// # Examples
///
/// ```
/// use multiprocessing::{Error, Pool};
///
/// fn zeros(n: usize) -> Vec<u8> {
///     vec![0; n]
/// }
///
/// let pool = Pool::builder().processes(1).max_message_size(1024).build()?;
/// let Err(Error::TooLarge(big)) = pool.apply(zeros, 5000) else { panic!() };
/// assert!(big.size > 5000 && big.limit == 1024);
/// # Ok::<(), multiprocessing::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TooLarge {
    /// The pool, as `Pool(4)`.
    pub pool: String,
    /// What was too large: "the results of task 7 are", "the arguments of tasks 0-9 are",
    /// "the context of the call is".
    pub what: String,
    /// Its size in bytes (the whole message).
    pub size: u64,
    /// The limit in bytes.
    pub limit: u64,
}

impl fmt::Display for TooLarge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let TooLarge {
            pool,
            what,
            size,
            limit,
        } = self;
        write!(
            f,
            "{pool}: {what} {size} bytes, more than the limit of {limit} bytes (PoolBuilder::max_message_size)"
        )
    }
}

/// The details of [`Error::TaskFailed`]: a chunk that failed in its worker without a panic.
///
/// # Examples
///
/// ```
/// use multiprocessing::{Error, Pool};
///
/// /// A result whose encoding always fails, as a `Serialize` impl may.
/// #[derive(serde::Deserialize)]
/// struct Refuses;
///
/// impl serde::Serialize for Refuses {
///     fn serialize<S: serde::Serializer>(&self, _: S) -> Result<S::Ok, S::Error> {
///         Err(serde::ser::Error::custom("no"))
///     }
/// }
///
/// fn make(_: ()) -> Refuses {
///     Refuses
/// }
///
/// let pool = Pool::new(1)?;
/// let Err(Error::TaskFailed(failed)) = pool.apply(make, ()) else { panic!() };
/// assert!(failed.message.contains("cannot encode"));
/// # Ok::<(), multiprocessing::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TaskFailed {
    /// The pool, as `Pool(4)`.
    pub pool: String,
    /// The index of the chunk's first task.
    pub task: usize,
    /// How many tasks the chunk holds.
    pub tasks: usize,
    /// The worker's name.
    pub worker: String,
    /// What went wrong, naming the type.
    pub message: String,
}

impl fmt::Display for TaskFailed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let TaskFailed {
            pool,
            task,
            tasks,
            worker,
            message,
        } = self;
        write!(
            f,
            "{pool}: {} failed in {worker}: {message}",
            tasks_text(*task, *tasks)
        )
    }
}

/// `task 17`, or `tasks 25-49` for a chunk.
fn tasks_text(first: usize, tasks: usize) -> String {
    if tasks == 1 {
        format!("task {first}")
    } else {
        format!("tasks {first}-{}", first + tasks.saturating_sub(1))
    }
}

impl Error {
    /// An [`Error::Os`] from an `io::Error`, with a description of what failed.
    pub(crate) fn os(context: impl Into<String>, source: io::Error) -> Self {
        Error::Os {
            context: context.into(),
            source,
        }
    }

    /// An [`Error::State`]: a call the object's state does not allow.
    pub(crate) fn state(message: impl Into<String>) -> Self {
        Error::State(message.into())
    }
}

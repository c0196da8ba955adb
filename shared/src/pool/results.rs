//! Results of asynchronous calls ([`AsyncResult`], CPython's `ApplyResult` and `MapResult`),
//! and the sink that collects a `map`'s chunks into one value.

use std::collections::BTreeMap;
use std::fmt;
use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use serde::de::DeserializeOwned;

use crate::codec;
use crate::deadline::Deadline;
use crate::error::{Error, Result};

use super::jobs::{Completion, Sink, decode_chunk};
use super::supervisor::Shared;

type Callback<V> = Box<dyn FnOnce(&V) + Send>;

/// The shared state behind an [`AsyncResult`].
pub(super) struct Slot<V> {
    outcome: Mutex<Outcome<V>>,
    /// Whether the call stops at its first failure ([`AsyncResult::fail_fast`]).
    fail_fast: AtomicBool,
    callback: Mutex<Option<Callback<V>>>,
    error_callback: Mutex<Option<Callback<Error>>>,
}

enum Outcome<V> {
    Pending,
    Ready(Result<V>),
    /// A callback is running with the result (taken out so that no lock is held meanwhile).
    InCallback {
        success: bool,
    },
    /// The value was moved out ([`AsyncResult::into_value`], or the pool's own `map`).
    Taken {
        success: bool,
    },
}

impl<V> Outcome<V> {
    fn success(&self) -> Option<bool> {
        match self {
            Outcome::Pending => None,
            Outcome::Ready(r) => Some(r.is_ok()),
            Outcome::InCallback { success } | Outcome::Taken { success } => Some(*success),
        }
    }
}

/// Locks `mutex`; what it guards is consistent between statements, so a panic elsewhere (in a
/// callback) leaves it usable.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl<V: Send + 'static> Slot<V> {
    pub(super) fn new() -> Arc<Self> {
        Arc::new(Slot {
            outcome: Mutex::new(Outcome::Pending),
            fail_fast: AtomicBool::new(false),
            callback: Mutex::new(None),
            error_callback: Mutex::new(None),
        })
    }

    fn is_ready(&self) -> bool {
        !matches!(*lock(&self.outcome), Outcome::Pending)
    }

    /// Sets the outcome once, and returns the completion that runs the callbacks.
    fn set(self: &Arc<Self>, result: Result<V>) -> Option<Completion> {
        let mut outcome = lock(&self.outcome);
        if !matches!(*outcome, Outcome::Pending) {
            return None;
        }
        *outcome = Outcome::Ready(result);
        let slot = Arc::clone(self);
        Some(Box::new(move || slot.run_callbacks()))
    }

    /// Runs the callback that the outcome calls for, if it was given. The result is taken out
    /// of the slot while the callback runs (and put back after, even if it panics), so that
    /// the callback may look at this result again without a deadlock.
    fn run_callbacks(&self) {
        let mut outcome = lock(&self.outcome);
        let Some(success) = outcome.success() else { return };
        if !matches!(*outcome, Outcome::Ready(_)) {
            return;
        }
        let (on_ok, on_err) = if success {
            (lock(&self.callback).take(), None)
        } else {
            (None, lock(&self.error_callback).take())
        };
        if on_ok.is_none() && on_err.is_none() {
            return;
        }
        let Outcome::Ready(result) = std::mem::replace(&mut *outcome, Outcome::InCallback { success }) else {
            unreachable!("checked above")
        };
        drop(outcome);
        let restore = Restore {
            slot: self,
            result: Some(result),
        };
        match (restore.result.as_ref(), on_ok, on_err) {
            (Some(Ok(value)), Some(cb), _) => cb(value),
            (Some(Err(error)), _, Some(cb)) => cb(error),
            _ => {}
        }
    }
}

/// Puts a result back into its slot once its callback is done (or has panicked).
struct Restore<'a, V> {
    slot: &'a Slot<V>,
    result: Option<Result<V>>,
}

impl<V> Drop for Restore<'_, V> {
    fn drop(&mut self) {
        if let Some(result) = self.result.take() {
            *lock(&self.slot.outcome) = Outcome::Ready(result);
        }
    }
}

/// The same error again, for a second [`AsyncResult::get`]. Each failure of a pool call is
/// rebuilt whole; an OS error keeps its code and message. A kind of error no pool call gives
/// (should one appear) comes back as [`Error::State`] with the same message.
fn duplicate(error: &Error) -> Error {
    match error {
        Error::Os { context, source } => {
            let source = match source.raw_os_error() {
                Some(code) => io::Error::from_raw_os_error(code),
                None => io::Error::new(source.kind(), source.to_string()),
            };
            Error::os(context.clone(), source)
        }
        Error::State(message) => Error::State(message.clone()),
        Error::Eof(message) => Error::Eof(message.clone()),
        Error::Codec(e) => Error::Codec(e.clone()),
        Error::Timeout(after) => Error::Timeout(*after),
        Error::Remote(message) => Error::Remote(message.clone()),
        Error::FailedFast {
            first,
            not_run,
            tasks,
        } => Error::FailedFast {
            first: Box::new(duplicate(first)),
            not_run: *not_run,
            tasks: *tasks,
        },
        Error::TaskPanicked(e) => Error::TaskPanicked(e.clone()),
        Error::WorkerLost(e) => Error::WorkerLost(e.clone()),
        Error::TooLarge(e) => Error::TooLarge(e.clone()),
        Error::TaskFailed(e) => Error::TaskFailed(e.clone()),
        Error::InitializerPanicked { pool, detail } => Error::InitializerPanicked {
            pool: pool.clone(),
            detail: detail.clone(),
        },
        Error::PoolBroken { pool, reason } => Error::PoolBroken {
            pool: pool.clone(),
            reason: reason.clone(),
        },
        other => Error::State(other.to_string()),
    }
}

/// The sink of `map`, `starmap` and `apply`: every chunk's results, in order, into one value.
///
/// As CPython's `MapResult`: every task runs, and the call is ready once the last chunk is back;
/// if any failed, the call's error is the first failure to arrive. A fail-fast call
/// ([`AsyncResult::fail_fast`]) stops at that failure instead: its chunks not yet handed out
/// are skipped (and counted), and it is ready once the chunks already in workers are back.
pub(super) struct CollectSink<R, V> {
    /// The results so far, in input order: chunk after chunk, each decoded straight onto the
    /// end (no vector per chunk, no flattening at the end).
    values: Vec<R>,
    /// The chunk whose results go onto `values` next.
    next_chunk: u32,
    /// Chunks that came back before the ones they follow, decoded, waiting for their turn.
    early: BTreeMap<u32, Vec<R>>,
    /// How many tasks the call has (as its input said; corrected when the input ends).
    tasks: usize,
    /// Tasks whose chunk came back, with results or failed.
    settled: usize,
    /// Tasks never run, since the call stopped (fail-fast).
    skipped: usize,
    /// Whether the input has ended, so `tasks` is exact.
    counted: bool,
    /// The first failure to arrive.
    error: Option<Error>,
    finish: fn(Vec<R>) -> V,
    slot: Arc<Slot<V>>,
    finished: bool,
}

impl<R: DeserializeOwned + Send + 'static, V: Send + 'static> CollectSink<R, V> {
    /// The sink of a call of `tasks` tasks, whose results `finish` makes into the value.
    pub(super) fn new(tasks: usize, finish: fn(Vec<R>) -> V, slot: Arc<Slot<V>>) -> Self {
        CollectSink {
            values: Vec::with_capacity(tasks),
            next_chunk: 0,
            early: BTreeMap::new(),
            tasks,
            settled: 0,
            skipped: 0,
            counted: false,
            error: None,
            finish,
            slot,
            finished: false,
        }
    }

    fn complete(&mut self) -> Option<Completion> {
        // Every task is accounted for, and the input has ended (or a fail-fast call skipped
        // what was left of it).
        let all_in = self.settled + self.skipped >= self.tasks;
        if self.finished || !all_in || !(self.counted || self.skipped > 0) {
            return None;
        }
        self.finished = true;
        let result = match self.error.take() {
            Some(first) if self.skipped > 0 => Err(Error::FailedFast {
                first: Box::new(first),
                not_run: self.skipped,
                tasks: self.tasks,
            }),
            Some(first) => Err(first),
            None => Ok((self.finish)(std::mem::take(&mut self.values))),
        };
        self.early.clear();
        self.slot.set(result)
    }

    /// Takes in the results of chunk `chunk` (of `items` tasks).
    fn take_in(&mut self, chunk: u32, items: usize, bytes: &[u8]) -> Result<()> {
        if chunk != self.next_chunk {
            self.early.insert(chunk, decode_chunk::<R>(bytes, items)?);
            return Ok(());
        }
        let got = codec::decode_extend(bytes, &mut self.values)?;
        if got != items {
            self.values.truncate(self.values.len() - got);
            return Err(Error::state(format!(
                "a worker returned {got} results for a chunk of {items} tasks"
            )));
        }
        self.next_chunk += 1;
        while let Some(mut part) = self.early.remove(&self.next_chunk) {
            self.values.append(&mut part);
            self.next_chunk += 1;
        }
        Ok(())
    }
}

impl<R: DeserializeOwned + Send + 'static, V: Send + 'static> Sink for CollectSink<R, V> {
    fn deliver(&mut self, chunk: u32, items: usize, result: Result<&[u8]>) -> Option<Completion> {
        if self.finished {
            return None;
        }
        self.settled += items;
        // Once a chunk failed, the others' results are not needed any more.
        let taken = match result {
            Ok(_) if self.error.is_some() => Ok(()),
            Ok(bytes) => self.take_in(chunk, items, bytes),
            Err(e) => Err(e),
        };
        if let Err(e) = taken {
            self.values = Vec::new();
            self.early.clear();
            self.error.get_or_insert(e);
        }
        self.complete()
    }

    fn set_total(&mut self, _chunks: u32, tasks: usize) -> Option<Completion> {
        // The input has ended: now the number of tasks is exact (an empty call completes here).
        self.tasks = tasks;
        self.counted = true;
        self.complete()
    }

    fn fail(&mut self, error: Error) -> Option<Completion> {
        if self.finished {
            return None;
        }
        self.finished = true;
        self.values = Vec::new();
        self.early.clear();
        self.slot.set(Err(error))
    }

    fn done(&self) -> bool {
        self.finished
    }

    fn stopped(&self) -> bool {
        !self.finished && self.error.is_some() && self.slot.fail_fast.load(Ordering::Relaxed)
    }

    fn skip(&mut self, tasks: usize) -> Option<Completion> {
        self.skipped += tasks;
        self.complete()
    }
}

/// The result of an asynchronous call ([`Pool::apply_async`](crate::Pool::apply_async),
/// [`Pool::map_async`](crate::Pool::map_async),
/// [`Pool::starmap_async`](crate::Pool::starmap_async)), like Python's `AsyncResult`.
///
/// Waiting on it moves the pool forward (see [`Pool`](crate::Pool)'s "Progress and
/// callbacks"); callbacks run in the thread that waits. As in Python, [`get`](AsyncResult::get)
/// may be called again and returns the same value again (a clone; the same error for a failed
/// call). [`into_value`](AsyncResult::into_value) takes the value without cloning it.
///
/// # Examples
///
/// ```
/// use multiprocessing::Pool;
///
/// fn square(x: i32) -> i32 {
///     x * x
/// }
///
/// let pool = Pool::new(2)?;
/// let result = pool.apply_async(square, 3)?;
/// result.wait()?;
/// assert!(result.ready());
/// assert!(result.successful()?);
/// assert_eq!(result.get()?, 9);
/// assert_eq!(result.get()?, 9); // again, as in Python
/// # Ok::<(), multiprocessing::Error>(())
/// ```
#[must_use = "the task runs anyway, but its result and errors are lost"]
pub struct AsyncResult<V> {
    pub(super) shared: Arc<Shared>,
    pub(super) slot: Arc<Slot<V>>,
    /// The job behind it, in the pool.
    pub(super) job: u64,
}

impl<V: Send + 'static> AsyncResult<V> {
    /// Makes the call stop at its first failure, where CPython (and this pool, by default) runs
    /// every task of a `map` and then reports the first error. The chunks not yet handed to a
    /// worker are never run, the ones already in workers are waited for, and the call fails
    /// with [`Error::FailedFast`], which holds the first failure and says how many tasks did
    /// not run. For a call of one task (`apply_async`) it changes nothing.
    ///
    /// # Examples
    ///
    /// ```
    /// use multiprocessing::{Error, Pool};
    ///
    /// fn check(x: u32) -> u32 {
    ///     assert!(x != 0, "zero is not allowed");
    ///     x
    /// }
    ///
    /// let pool = Pool::new(1)?;
    /// // By default every task runs, then the first error is returned.
    /// assert!(pool.map_chunked(check, 0..20, 1).is_err());
    /// // Fail-fast: the first failure stops the call, and the error counts what did not run.
    /// let err = pool.map_async_chunked(check, 0..20, 1)?.fail_fast().get().unwrap_err();
    /// let Error::FailedFast { first, not_run, tasks } = err else { panic!("{err}") };
    /// assert!(first.to_string().contains("zero is not allowed"));
    /// assert!(not_run > 0 && tasks == 20);
    /// # Ok::<(), multiprocessing::Error>(())
    /// ```
    pub fn fail_fast(self) -> Self {
        self.slot.fail_fast.store(true, Ordering::Relaxed);
        // A failure may have come in already. (If the pool is busy, in another thread's call,
        // the call stops at its next result instead.)
        if let Some(mut inner) = self.shared.try_lock() {
            inner.core.cancel_rest(self.job);
        }
        self.shared.run_completions();
        self
    }

    /// Calls `callback(&value)` in the parent once the call succeeds (Python's `callback=`).
    /// If it already has, the callback runs now.
    pub fn callback(self, callback: impl FnOnce(&V) + Send + 'static) -> Self {
        *lock(&self.slot.callback) = Some(Box::new(callback));
        self.slot.run_callbacks();
        self
    }

    /// Calls `error_callback(&error)` in the parent if the call fails (Python's
    /// `error_callback=`). If it already has, the callback runs now.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::{Arc, Mutex};
    /// use multiprocessing::Pool;
    ///
    /// fn fail(_: ()) -> i32 {
    ///     panic!("no luck");
    /// }
    ///
    /// let pool = Pool::new(1)?;
    /// let seen = Arc::new(Mutex::new(String::new()));
    /// let s = Arc::clone(&seen);
    /// let result = pool.apply_async(fail, ())?.error_callback(move |e| *s.lock().unwrap() = e.to_string());
    /// assert!(result.get().is_err());
    /// assert!(seen.lock().unwrap().contains("no luck"));
    /// # Ok::<(), multiprocessing::Error>(())
    /// ```
    pub fn error_callback(self, error_callback: impl FnOnce(&Error) + Send + 'static) -> Self {
        *lock(&self.slot.error_callback) = Some(Box::new(error_callback));
        self.slot.run_callbacks();
        self
    }

    /// Whether the call has completed (Python's `ready()`). Looks at the workers without
    /// waiting.
    pub fn ready(&self) -> bool {
        if !self.slot.is_ready() {
            let _ = self.shared.pump(Some(Duration::ZERO));
        }
        self.slot.is_ready()
    }

    /// Whether the call completed without error (Python's `successful()`).
    ///
    /// # Errors
    /// [`Error::State`] if it has not completed, as Python raises `ValueError`.
    pub fn successful(&self) -> Result<bool> {
        if !self.ready() {
            return Err(Error::state("result is not ready"));
        }
        Ok(lock(&self.slot.outcome).success().unwrap_or(false))
    }

    /// Waits until the call completes (Python's `wait()`).
    ///
    /// # Errors
    /// [`Error::Os`] if waiting on the workers fails.
    pub fn wait(&self) -> Result<()> {
        self.shared
            .wait_until(Deadline::NEVER, || self.slot.is_ready())
            .map(drop)
    }

    /// Waits at most `timeout`; returns whether the call completed (Python's `wait(timeout)`
    /// followed by `ready()`).
    ///
    /// # Errors
    /// As [`wait`](AsyncResult::wait).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use multiprocessing::Pool;
    ///
    /// fn nap(ms: u64) {
    ///     std::thread::sleep(Duration::from_millis(ms));
    /// }
    ///
    /// let pool = Pool::new(1)?;
    /// let result = pool.apply_async(nap, 300)?;
    /// assert!(!result.wait_timeout(Duration::from_millis(10))?);
    /// assert!(result.wait_timeout(Duration::from_secs(10))?);
    /// # Ok::<(), multiprocessing::Error>(())
    /// ```
    pub fn wait_timeout(&self, timeout: Duration) -> Result<bool> {
        self.shared
            .wait_until(Deadline::after(Some(timeout)), || self.slot.is_ready())
    }

    /// Waits for the call and returns its value (Python's `get()`). It can be called again,
    /// and returns the value again (a clone), or the same error, as Python does; for a value
    /// that cannot be cloned, use [`into_value`](AsyncResult::into_value).
    ///
    /// # Errors
    /// The call's error ([`Error::TaskPanicked`], [`Error::WorkerLost`], ... as listed on
    /// [`Pool`](crate::Pool); [`Error::State`] if the pool was terminated), every time;
    /// [`Error::State`] when called from this result's own callback.
    pub fn get(&self) -> Result<V>
    where
        V: Clone,
    {
        self.wait()?;
        self.peek()
    }

    /// Waits at most `timeout` for the value (Python's `get(timeout)`).
    ///
    /// # Errors
    /// [`Error::Timeout`] if the call has not completed in time (it goes on, and a later
    /// `get` can still return it); otherwise as [`get`](AsyncResult::get).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use multiprocessing::{Error, Pool};
    ///
    /// fn slow_square(x: u64) -> u64 {
    ///     std::thread::sleep(Duration::from_millis(300));
    ///     x * x
    /// }
    ///
    /// let pool = Pool::new(1)?;
    /// let result = pool.apply_async(slow_square, 4)?;
    /// assert!(matches!(result.get_timeout(Duration::from_millis(10)), Err(Error::Timeout(_))));
    /// assert_eq!(result.get_timeout(Duration::from_secs(10))?, 16);
    /// # Ok::<(), multiprocessing::Error>(())
    /// ```
    pub fn get_timeout(&self, timeout: Duration) -> Result<V>
    where
        V: Clone,
    {
        if !self.wait_timeout(timeout)? {
            return Err(Error::Timeout(timeout));
        }
        self.peek()
    }

    /// Waits for the call and returns its value, moved out instead of cloned: the result is
    /// used up, so this is for a value that is not `Clone`, or too large to copy.
    ///
    /// # Errors
    /// As [`get`](AsyncResult::get).
    ///
    /// # Examples
    ///
    /// ```
    /// use multiprocessing::Pool;
    ///
    /// #[derive(serde::Serialize, serde::Deserialize)]
    /// struct Report {
    ///     lines: Vec<String>,
    /// }
    ///
    /// fn report(n: usize) -> Report {
    ///     Report { lines: vec!["ok".to_string(); n] }
    /// }
    ///
    /// let pool = Pool::new(1)?;
    /// let report: Report = pool.apply_async(report, 3)?.into_value()?;
    /// assert_eq!(report.lines.len(), 3);
    /// # Ok::<(), multiprocessing::Error>(())
    /// ```
    pub fn into_value(self) -> Result<V> {
        self.take_value()
    }

    /// Waits for the call and moves its value out: for [`into_value`](AsyncResult::into_value)
    /// and the pool's own blocking calls (`map`, `apply`), which drop the result right after.
    pub(super) fn take_value(&self) -> Result<V> {
        self.wait()?;
        let mut outcome = lock(&self.slot.outcome);
        let success = outcome.success().unwrap_or(false);
        match std::mem::replace(&mut *outcome, Outcome::Taken { success }) {
            Outcome::Ready(result) => result,
            other => {
                *outcome = other;
                Err(self.unavailable(&outcome))
            }
        }
    }

    /// The value again (cloned), or the error again.
    fn peek(&self) -> Result<V>
    where
        V: Clone,
    {
        let outcome = lock(&self.slot.outcome);
        match &*outcome {
            Outcome::Ready(Ok(value)) => Ok(value.clone()),
            Outcome::Ready(Err(error)) => Err(duplicate(error)),
            _ => Err(self.unavailable(&outcome)),
        }
    }

    /// Why a completed call has no value to give.
    fn unavailable(&self, outcome: &Outcome<V>) -> Error {
        Error::state(match outcome {
            Outcome::Pending => "result is not ready",
            Outcome::InCallback { .. } => "get() called from this result's own callback",
            Outcome::Taken { .. } | Outcome::Ready(_) => "the result's value was already moved out",
        })
    }
}

impl<V> fmt::Debug for AsyncResult<V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match lock(&self.slot.outcome).success() {
            None => "pending",
            Some(true) => "successful",
            Some(false) => "failed",
        };
        write!(f, "<AsyncResult {state}>")
    }
}

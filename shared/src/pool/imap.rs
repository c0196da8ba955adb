//! Lazy maps: [`Pool::imap`] and its variants, and the [`IMapIterator`] they return
//! (CPython's `IMapIterator` and `IMapUnorderedIterator`).
//!
//! An imap's input is read only as workers ask for chunks, and only while fewer than its
//! buffer of chunks have been taken and not yet yielded, so an endless input, or a consumer
//! slower than the workers, costs a fixed amount of memory.

use std::collections::{BTreeMap, VecDeque};
use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::codec::CodecError;
use crate::deadline::Deadline;
use crate::error::{Error, Result};
use crate::reduction::TaskFn;

use super::Pool;
use super::jobs::{ChunkSource, Completion, Sink, Source, Work, decode_chunk};
use super::scheduler::PREFETCH;
use super::supervisor::Shared;
use super::task::{Code, MapTask};

/// The default buffer of [`Pool::imap`] and [`Pool::imap_unordered`], in chunks per worker:
/// at most this many times the pool's size in chunks are taken from the input and not yet
/// yielded. Enough to keep every worker's [`PREFETCH`] full while results wait to be read or
/// wait for an earlier slow one, and small enough that an endless input costs flat memory.
pub const IMAP_BUFFER_PER_WORKER: usize = 4 * PREFETCH;

/// An `imap`'s input, read only while fewer than `buffersize` of its chunks have been taken and
/// not yet yielded (CPython 3.14's `buffersize`): the [`IMapIterator`] gives a credit back each
/// time it yields the last result of a chunk. So an endless input, or a consumer slower than
/// the workers, costs a fixed amount of memory, and other jobs are served meanwhile.
struct BufferedSource<S> {
    inner: S,
    /// How many more chunks may be taken now.
    credits: Arc<AtomicUsize>,
}

impl<S: Source> Source for BufferedSource<S> {
    fn next_chunk(&mut self, out: &mut Vec<u8>) -> Option<(usize, std::result::Result<(), CodecError>)> {
        let chunk = self.inner.next_chunk(out);
        if chunk.is_some() {
            // A chunk that failed to encode is yielded too (as its error), and gives its
            // credit back then.
            let _ = self
                .credits
                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |c| {
                    Some(c.saturating_sub(1))
                });
        }
        chunk
    }

    fn skip_rest(&mut self) -> usize {
        self.inner.skip_rest()
    }

    fn exhausted(&self) -> bool {
        self.inner.exhausted()
    }

    fn chunks_left(&self) -> Option<usize> {
        let credits = self.credits.load(Ordering::Relaxed);
        Some(self.inner.chunks_left().map_or(credits, |n| n.min(credits)))
    }

    fn blocked(&self) -> bool {
        self.credits.load(Ordering::Relaxed) == 0
    }
}

/// The state behind an [`IMapIterator`].
struct IMapState<R> {
    ordered: bool,
    /// Ordered mode: chunks that arrived before the ones they follow.
    early: BTreeMap<u32, Result<Vec<R>>>,
    next_chunk: u32,
    ready: VecDeque<Result<R>>,
    /// How many entries of `ready` each chunk still has there, oldest first: when one reaches
    /// zero, the chunk is yielded and its credit goes back to the input (`BufferedSource`).
    ready_chunks: VecDeque<usize>,
    credits: Arc<AtomicUsize>,
    total: Option<u32>,
    received: u32,
    failed: bool,
}

impl<R> IMapState<R> {
    fn finished(&self) -> bool {
        self.failed || self.total.is_some_and(|t| self.received >= t)
    }

    fn push(&mut self, chunk: Result<Vec<R>>) {
        let before = self.ready.len();
        match chunk {
            Ok(values) => self.ready.extend(values.into_iter().map(Ok)),
            // A failed chunk stands in the sequence as one error, as in CPython's imap.
            Err(e) => self.ready.push_back(Err(e)),
        }
        if self.ready.len() > before {
            self.ready_chunks.push_back(self.ready.len() - before);
        }
    }

    /// The next result; returns whether it was the last of its chunk, so a credit went back to
    /// the input.
    fn pop(&mut self) -> (Option<Result<R>>, bool) {
        let item = self.ready.pop_front();
        let mut freed = false;
        if item.is_some() {
            if let Some(left) = self.ready_chunks.front_mut() {
                *left -= 1;
                if *left == 0 {
                    self.ready_chunks.pop_front();
                    self.credits.fetch_add(1, Ordering::Relaxed);
                    freed = true;
                }
            }
        }
        (item, freed)
    }
}

struct IMapSink<R> {
    state: Arc<Mutex<IMapState<R>>>,
}

impl<R: DeserializeOwned + Send + 'static> Sink for IMapSink<R> {
    fn deliver(&mut self, chunk: u32, items: usize, result: Result<&[u8]>) -> Option<Completion> {
        let values = result.and_then(|bytes| decode_chunk::<R>(bytes, items));
        let mut state = lock(&self.state);
        state.received += 1;
        if state.ordered {
            state.early.insert(chunk, values);
            loop {
                let next = state.next_chunk;
                let Some(values) = state.early.remove(&next) else {
                    break;
                };
                state.next_chunk += 1;
                state.push(values);
            }
        } else {
            state.push(values);
        }
        None
    }

    fn set_total(&mut self, total: u32, _tasks: usize) -> Option<Completion> {
        lock(&self.state).total = Some(total);
        None
    }

    fn fail(&mut self, error: Error) -> Option<Completion> {
        let mut state = lock(&self.state);
        if !state.finished() {
            // What arrived in order still counts; then the error, then the end.
            let early = std::mem::take(&mut state.early);
            for (_, values) in early {
                state.push(values);
            }
            state.ready.push_back(Err(error));
            state.failed = true;
        }
        None
    }

    fn done(&self) -> bool {
        lock(&self.state).finished()
    }
}

impl Pool {
    /// The work of a call of `func` on each item.
    fn plain<T, R>(func: fn(T) -> R) -> Work
    where
        T: DeserializeOwned + 'static,
        R: Serialize + 'static,
    {
        Work::plain(Code::new::<MapTask<T, R>>(TaskFn::unary(func)))
    }

    /// Submits a lazy map of `work` over `iterable`.
    pub(super) fn imap_inner<T, R, I>(
        &self,
        work: Work,
        iterable: I,
        chunksize: usize,
        buffersize: Option<usize>,
        ordered: bool,
    ) -> Result<IMapIterator<R>>
    where
        T: Serialize + DeserializeOwned + Send + 'static,
        R: Serialize + DeserializeOwned + Send + 'static,
        I: IntoIterator<Item = T>,
        I::IntoIter: Send + 'static,
    {
        Pool::check_chunksize(chunksize)?;
        if buffersize == Some(0) {
            return Err(Error::state("buffersize must be a positive number of chunks"));
        }
        let credits = Arc::new(AtomicUsize::new(
            buffersize.unwrap_or(self.processes.max(1) * IMAP_BUFFER_PER_WORKER),
        ));
        let state = Arc::new(Mutex::new(IMapState {
            ordered,
            early: BTreeMap::new(),
            next_chunk: 0,
            ready: VecDeque::new(),
            ready_chunks: VecDeque::new(),
            credits: Arc::clone(&credits),
            total: None,
            received: 0,
            failed: false,
        }));
        let sink = IMapSink {
            state: Arc::clone(&state),
        };
        let source = BufferedSource {
            inner: ChunkSource {
                iter: iterable.into_iter(),
                chunksize,
            },
            credits,
        };
        let job = self.submit(work, chunksize, Box::new(source), Box::new(sink))?;
        Ok(IMapIterator {
            shared: Arc::clone(&self.shared),
            state,
            job,
        })
    }

    /// A lazy [`map`](Pool::map) (Python's `imap`, chunksize 1): results come in input order
    /// as they are ready, and the input is read only as workers ask for more.
    ///
    /// # Errors
    /// [`Error::State`] after [`close`](Pool::close). A failed task is an `Err` item.
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
    /// let squares: Vec<u64> = pool.imap(square, 1..=4)?.collect::<Result<_, _>>()?;
    /// assert_eq!(squares, [1, 4, 9, 16]);
    /// # Ok::<(), multiprocessing::Error>(())
    /// ```
    pub fn imap<T, R, I>(&self, func: fn(T) -> R, iterable: I) -> Result<IMapIterator<R>>
    where
        T: Serialize + DeserializeOwned + Send + 'static,
        R: Serialize + DeserializeOwned + Send + 'static,
        I: IntoIterator<Item = T>,
        I::IntoIter: Send + 'static,
    {
        self.imap_inner(Pool::plain(func), iterable, 1, None, true)
    }

    /// [`imap`](Pool::imap) with an explicit chunksize.
    ///
    /// # Errors
    /// As [`imap`](Pool::imap), and [`Error::State`] for a chunksize of 0. A failed chunk is
    /// one `Err` item in place of its results.
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
    /// let total: u64 = pool.imap_chunked(square, 0..100, 10)?.map(Result::unwrap).sum();
    /// assert_eq!(total, 328_350);
    /// # Ok::<(), multiprocessing::Error>(())
    /// ```
    pub fn imap_chunked<T, R, I>(
        &self,
        func: fn(T) -> R,
        iterable: I,
        chunksize: usize,
    ) -> Result<IMapIterator<R>>
    where
        T: Serialize + DeserializeOwned + Send + 'static,
        R: Serialize + DeserializeOwned + Send + 'static,
        I: IntoIterator<Item = T>,
        I::IntoIter: Send + 'static,
    {
        self.imap_inner(Pool::plain(func), iterable, chunksize, None, true)
    }

    /// Like [`imap`](Pool::imap), but results come in the order they finish (Python's
    /// `imap_unordered`).
    ///
    /// # Errors
    /// As [`imap`](Pool::imap).
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
    /// let mut squares: Vec<u64> = pool.imap_unordered(square, 1..=4)?.collect::<Result<_, _>>()?;
    /// squares.sort(); // any order is valid
    /// assert_eq!(squares, [1, 4, 9, 16]);
    /// # Ok::<(), multiprocessing::Error>(())
    /// ```
    pub fn imap_unordered<T, R, I>(&self, func: fn(T) -> R, iterable: I) -> Result<IMapIterator<R>>
    where
        T: Serialize + DeserializeOwned + Send + 'static,
        R: Serialize + DeserializeOwned + Send + 'static,
        I: IntoIterator<Item = T>,
        I::IntoIter: Send + 'static,
    {
        self.imap_inner(Pool::plain(func), iterable, 1, None, false)
    }

    /// [`imap_unordered`](Pool::imap_unordered) with an explicit chunksize.
    ///
    /// # Errors
    /// As [`imap_chunked`](Pool::imap_chunked).
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
    /// assert_eq!(pool.imap_unordered_chunked(square, 0..10, 5)?.count(), 10);
    /// # Ok::<(), multiprocessing::Error>(())
    /// ```
    pub fn imap_unordered_chunked<T, R, I>(
        &self,
        func: fn(T) -> R,
        iterable: I,
        chunksize: usize,
    ) -> Result<IMapIterator<R>>
    where
        T: Serialize + DeserializeOwned + Send + 'static,
        R: Serialize + DeserializeOwned + Send + 'static,
        I: IntoIterator<Item = T>,
        I::IntoIter: Send + 'static,
    {
        self.imap_inner(Pool::plain(func), iterable, chunksize, None, false)
    }

    /// [`imap_chunked`](Pool::imap_chunked) with an explicit buffer (CPython's `buffersize`):
    /// at most `buffersize` chunks are taken from the input and not yet yielded; the input is
    /// read further only as results are consumed. `imap` and `imap_chunked` use
    /// [`IMAP_BUFFER_PER_WORKER`] chunks per worker. Give at least as many chunks as the pool
    /// has workers to keep them all busy, more to let results wait behind a slow one.
    ///
    /// Once the pool is [closed](Pool::close), the buffer no longer holds the input back, so
    /// that [`join`](Pool::join) returns after the whole input is done.
    ///
    /// # Errors
    /// As [`imap_chunked`](Pool::imap_chunked), and [`Error::State`] for a buffersize of 0.
    ///
    /// # Examples
    ///
    /// An endless input, read no faster than the results are taken:
    ///
    /// ```
    /// use multiprocessing::Pool;
    ///
    /// fn square(x: u64) -> u64 {
    ///     x * x
    /// }
    ///
    /// let pool = Pool::new(2)?;
    /// let mut squares = pool.imap_buffered(square, 0.., 10, 4)?;
    /// assert_eq!(squares.nth(1_000).transpose()?, Some(1_000_000));
    /// // Meanwhile other work is served: the imap waits for its consumer, not the pool.
    /// assert_eq!(pool.apply(square, 3)?, 9);
    /// # Ok::<(), multiprocessing::Error>(())
    /// ```
    pub fn imap_buffered<T, R, I>(
        &self,
        func: fn(T) -> R,
        iterable: I,
        chunksize: usize,
        buffersize: usize,
    ) -> Result<IMapIterator<R>>
    where
        T: Serialize + DeserializeOwned + Send + 'static,
        R: Serialize + DeserializeOwned + Send + 'static,
        I: IntoIterator<Item = T>,
        I::IntoIter: Send + 'static,
    {
        self.imap_inner(Pool::plain(func), iterable, chunksize, Some(buffersize), true)
    }

    /// [`imap_unordered_chunked`](Pool::imap_unordered_chunked) with an explicit buffer, as
    /// [`imap_buffered`](Pool::imap_buffered).
    ///
    /// # Errors
    /// As [`imap_buffered`](Pool::imap_buffered).
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
    /// let total: u64 = pool
    ///     .imap_unordered_buffered(square, 0..100, 5, 2)?
    ///     .map(Result::unwrap)
    ///     .sum();
    /// assert_eq!(total, 328_350);
    /// assert!(pool.imap_unordered_buffered(square, 0..1, 1, 0).is_err());
    /// # Ok::<(), multiprocessing::Error>(())
    /// ```
    pub fn imap_unordered_buffered<T, R, I>(
        &self,
        func: fn(T) -> R,
        iterable: I,
        chunksize: usize,
        buffersize: usize,
    ) -> Result<IMapIterator<R>>
    where
        T: Serialize + DeserializeOwned + Send + 'static,
        R: Serialize + DeserializeOwned + Send + 'static,
        I: IntoIterator<Item = T>,
        I::IntoIter: Send + 'static,
    {
        self.imap_inner(Pool::plain(func), iterable, chunksize, Some(buffersize), false)
    }
}

/// Locks an imap's state; it is consistent between statements, so a panic elsewhere leaves it
/// usable.
fn lock<R>(state: &Mutex<IMapState<R>>) -> MutexGuard<'_, IMapState<R>> {
    state.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The iterator of [`Pool::imap`] and [`Pool::imap_unordered`]: each item is a task's result,
/// or the error of the task (or chunk) that failed.
///
/// Each `next` moves the pool forward until the next result is there.
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
/// for (x, square) in (1..=3).zip(pool.imap(square, 1..=3)?) {
///     println!("{x}² = {}", square?);
/// }
/// # Ok::<(), multiprocessing::Error>(())
/// ```
#[must_use = "iterators are lazy: the results are only collected when iterated"]
pub struct IMapIterator<R> {
    shared: Arc<Shared>,
    state: Arc<Mutex<IMapState<R>>>,
    job: u64,
}

impl<R> Drop for IMapIterator<R> {
    /// Cancels what is left: no more of the input is read, and results still on their way are
    /// dropped. Without this, an endless input would keep the workers busy for ever and every
    /// later call would wait behind it.
    fn drop(&mut self) {
        // Waits for a call of another thread that moves the pool now: the job must go.
        let mut inner = self.shared.lock();
        inner.core.jobs.remove(&self.job);
        inner.core.queue.retain(|&id| id != self.job);
    }
}

impl<R> IMapIterator<R> {
    /// The next result, waiting at most `timeout` (Python's `next(timeout)`). `Ok(None)` at
    /// the end.
    ///
    /// # Errors
    /// [`Error::Timeout`] when no result came in time; the task's error if it failed.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use multiprocessing::Pool;
    ///
    /// fn square(x: u64) -> u64 {
    ///     x * x
    /// }
    ///
    /// let pool = Pool::new(1)?;
    /// let mut it = pool.imap(square, [3])?;
    /// assert_eq!(it.next_timeout(Duration::from_secs(10))?, Some(9));
    /// assert_eq!(it.next_timeout(Duration::from_secs(10))?, None);
    /// # Ok::<(), multiprocessing::Error>(())
    /// ```
    pub fn next_timeout(&mut self, timeout: Duration) -> Result<Option<R>> {
        if !self.wait_ready(Deadline::after(Some(timeout)))? {
            return Err(Error::Timeout(timeout));
        }
        self.take().transpose()
    }

    /// Moves the pool forward until a result is ready or none will come; `false` when
    /// `deadline` passed first.
    fn wait_ready(&self, deadline: Deadline) -> Result<bool> {
        let state = &self.state;
        self.shared.wait_until(deadline, || {
            let s = lock(state);
            !s.ready.is_empty() || s.finished()
        })
    }

    /// The next ready result. When it ends a chunk, its credit went back to the input, so
    /// the next chunk is handed out now to a worker that asked, not at the next wait.
    fn take(&mut self) -> Option<Result<R>> {
        let (item, freed) = lock(&self.state).pop();
        if freed {
            // Not borrowed when a callback iterates from inside the pool's own call: the
            // chunk then goes out at that call's next step.
            if let Some(mut inner) = self.shared.try_lock() {
                inner.dispatch();
            }
            self.shared.run_completions();
        }
        item
    }
}

impl<R> Iterator for IMapIterator<R> {
    type Item = Result<R>;

    fn next(&mut self) -> Option<Result<R>> {
        if let Err(e) = self.wait_ready(Deadline::NEVER) {
            // Waiting itself failed: report it once, then end, rather than fail forever.
            lock(&self.state).failed = true;
            return Some(Err(e));
        }
        self.take()
    }
}

impl<R> fmt::Debug for IMapIterator<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = lock(&self.state);
        write!(
            f,
            "<IMapIterator ready={} finished={}>",
            s.ready.len(),
            s.finished()
        )
    }
}

//! The calls that collect every result into one value: [`Pool::apply`], [`Pool::map`],
//! [`Pool::starmap`] and their `_async` and `_chunked` forms (CPython's `apply_async`,
//! `_map_async`, `MapResult`).

use std::sync::Arc;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::{Error, Result};
use crate::reduction::TaskFn;

use super::jobs::{ChunkSource, Work};
use super::results::{AsyncResult, CollectSink, Slot};
use super::task::{Code, MapTask, StarTask};
use super::{Pool, default_chunksize};

impl Pool {
    /// Submits a call whose results are collected into one value by `finish`.
    pub(super) fn collect_async<T, R, V>(
        &self,
        work: Work,
        items: Vec<T>,
        chunksize: usize,
        finish: fn(Vec<R>) -> V,
    ) -> Result<AsyncResult<V>>
    where
        T: Serialize + Send + 'static,
        R: DeserializeOwned + Send + 'static,
        V: Send + 'static,
    {
        let slot = Slot::new();
        if items.len().div_ceil(chunksize.max(1)) > u32::MAX as usize {
            return Err(Error::state("too many chunks: use a larger chunksize"));
        }
        let sink = CollectSink::new(items.len(), finish, Arc::clone(&slot));
        let source = ChunkSource {
            iter: items.into_iter(),
            chunksize: chunksize.max(1),
        };
        let job = self.submit(work, chunksize.max(1), Box::new(source), Box::new(sink))?;
        Ok(AsyncResult {
            shared: Arc::clone(&self.shared),
            slot,
            job,
        })
    }

    /// A chunksize of 0 is refused, as CPython's `ValueError`.
    pub(super) fn check_chunksize(chunksize: usize) -> Result<()> {
        if chunksize < 1 {
            return Err(Error::state("Chunksize must be 1+, not 0"));
        }
        Ok(())
    }

    /// Runs `func(args)` in a worker and waits for its result (Python's `apply`).
    ///
    /// # Errors
    /// [`Error::State`] after [`close`](Pool::close); [`Error::TaskPanicked`] when the task
    /// panicked (with its message and place), [`Error::WorkerLost`] when its worker died.
    ///
    /// # Examples
    ///
    /// ```
    /// use multiprocessing::Pool;
    ///
    /// fn add((a, b): (i32, i32)) -> i32 {
    ///     a + b
    /// }
    ///
    /// let pool = Pool::new(1)?;
    /// assert_eq!(pool.apply(add, (2, 3))?, 5);
    /// # Ok::<(), multiprocessing::Error>(())
    /// ```
    pub fn apply<A, R>(&self, func: fn(A) -> R, args: A) -> Result<R>
    where
        A: Serialize + DeserializeOwned + Send + 'static,
        R: Serialize + DeserializeOwned + Send + 'static,
    {
        self.apply_async(func, args)?.take_value()
    }

    /// Starts `func(args)` in a worker and returns at once (Python's `apply_async`); attach
    /// callbacks with [`AsyncResult::callback`] and [`AsyncResult::error_callback`].
    ///
    /// # Errors
    /// [`Error::State`] after [`close`](Pool::close).
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
    /// let result = pool.apply_async(square, 7)?.callback(|v| println!("got {v}"));
    /// assert_eq!(result.get()?, 49);
    /// # Ok::<(), multiprocessing::Error>(())
    /// ```
    pub fn apply_async<A, R>(&self, func: fn(A) -> R, args: A) -> Result<AsyncResult<R>>
    where
        A: Serialize + DeserializeOwned + Send + 'static,
        R: Serialize + DeserializeOwned + Send + 'static,
    {
        fn first<R>(results: Vec<R>) -> R {
            results.into_iter().next().expect("one task, one result")
        }
        self.collect_async(
            Work::plain(Code::new::<MapTask<A, R>>(TaskFn::unary(func))),
            vec![args],
            1,
            first::<R>,
        )
    }

    /// Applies `func` to every item and returns the results in input order (Python's `map`),
    /// with CPython's default chunksize ([`default_chunksize`]).
    ///
    /// # Errors
    /// [`Error::State`] after [`close`](Pool::close); the error of a task that failed
    /// ([`Error::TaskPanicked`], [`Error::WorkerLost`], ...: see [`Pool`]'s errors). As in CPython, every task runs
    /// even when one fails, and the error is the first failure to come back; to stop at the
    /// first failure instead, use [`map_async`](Pool::map_async) and
    /// [`AsyncResult::fail_fast`], which says how many tasks did not run.
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
    /// assert_eq!(pool.map(square, 0..10)?, [0, 1, 4, 9, 16, 25, 36, 49, 64, 81]);
    /// assert_eq!(pool.map(square, Vec::new())?, Vec::<u64>::new());
    /// # Ok::<(), multiprocessing::Error>(())
    /// ```
    pub fn map<T, R>(&self, func: fn(T) -> R, iterable: impl IntoIterator<Item = T>) -> Result<Vec<R>>
    where
        T: Serialize + DeserializeOwned + Send + 'static,
        R: Serialize + DeserializeOwned + Send + 'static,
    {
        self.map_async(func, iterable)?.take_value()
    }

    /// [`map`](Pool::map) with an explicit chunksize (Python's `map(func, iterable, chunksize)`).
    ///
    /// # Errors
    /// As [`map`](Pool::map), and [`Error::State`] for a chunksize of 0.
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
    /// let results = pool.map_chunked(square, 0..100, 25)?; // 4 chunks of 25
    /// assert_eq!(results[99], 9801);
    /// # Ok::<(), multiprocessing::Error>(())
    /// ```
    pub fn map_chunked<T, R>(
        &self,
        func: fn(T) -> R,
        iterable: impl IntoIterator<Item = T>,
        chunksize: usize,
    ) -> Result<Vec<R>>
    where
        T: Serialize + DeserializeOwned + Send + 'static,
        R: Serialize + DeserializeOwned + Send + 'static,
    {
        self.map_async_chunked(func, iterable, chunksize)?.take_value()
    }

    /// Starts a [`map`](Pool::map) and returns at once (Python's `map_async`).
    ///
    /// # Errors
    /// [`Error::State`] after [`close`](Pool::close).
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
    /// let result = pool.map_async(square, [1, 2, 3])?.callback(|v| println!("{v:?}"));
    /// assert_eq!(result.get()?, [1, 4, 9]);
    /// # Ok::<(), multiprocessing::Error>(())
    /// ```
    pub fn map_async<T, R>(
        &self,
        func: fn(T) -> R,
        iterable: impl IntoIterator<Item = T>,
    ) -> Result<AsyncResult<Vec<R>>>
    where
        T: Serialize + DeserializeOwned + Send + 'static,
        R: Serialize + DeserializeOwned + Send + 'static,
    {
        let items: Vec<T> = iterable.into_iter().collect();
        let chunksize = default_chunksize(items.len(), self.processes);
        self.shared.lock().core.check_running()?;
        self.collect_async(
            Work::plain(Code::new::<MapTask<T, R>>(TaskFn::unary(func))),
            items,
            chunksize,
            std::convert::identity,
        )
    }

    /// [`map_async`](Pool::map_async) with an explicit chunksize.
    ///
    /// # Errors
    /// As [`map_async`](Pool::map_async), and [`Error::State`] for a chunksize of 0.
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
    /// assert_eq!(pool.map_async_chunked(square, 0..4, 2)?.get()?, [0, 1, 4, 9]);
    /// # Ok::<(), multiprocessing::Error>(())
    /// ```
    pub fn map_async_chunked<T, R>(
        &self,
        func: fn(T) -> R,
        iterable: impl IntoIterator<Item = T>,
        chunksize: usize,
    ) -> Result<AsyncResult<Vec<R>>>
    where
        T: Serialize + DeserializeOwned + Send + 'static,
        R: Serialize + DeserializeOwned + Send + 'static,
    {
        Pool::check_chunksize(chunksize)?;
        let items: Vec<T> = iterable.into_iter().collect();
        self.collect_async(
            Work::plain(Code::new::<MapTask<T, R>>(TaskFn::unary(func))),
            items,
            chunksize,
            std::convert::identity,
        )
    }

    /// Like [`map`](Pool::map) for a function of two arguments, each item being their pair
    /// (Python's `starmap`, where each item is unpacked into the arguments). For one argument
    /// use `map`; for three or more, a function that takes a tuple.
    ///
    /// # Errors
    /// As [`map`](Pool::map).
    ///
    /// # Examples
    ///
    /// ```
    /// use multiprocessing::Pool;
    ///
    /// fn add(a: i32, b: i32) -> i32 {
    ///     a + b
    /// }
    ///
    /// let pool = Pool::new(2)?;
    /// assert_eq!(pool.starmap(add, [(1, 2), (3, 4)])?, [3, 7]);
    /// # Ok::<(), multiprocessing::Error>(())
    /// ```
    pub fn starmap<A, B, R>(
        &self,
        func: fn(A, B) -> R,
        iterable: impl IntoIterator<Item = (A, B)>,
    ) -> Result<Vec<R>>
    where
        A: Serialize + DeserializeOwned + Send + 'static,
        B: Serialize + DeserializeOwned + Send + 'static,
        R: Serialize + DeserializeOwned + Send + 'static,
    {
        self.starmap_async(func, iterable)?.take_value()
    }

    /// Starts a [`starmap`](Pool::starmap) and returns at once (Python's `starmap_async`).
    ///
    /// # Errors
    /// [`Error::State`] after [`close`](Pool::close).
    ///
    /// # Examples
    ///
    /// ```
    /// use multiprocessing::Pool;
    ///
    /// fn mul(a: i32, b: i32) -> i32 {
    ///     a * b
    /// }
    ///
    /// let pool = Pool::new(2)?;
    /// assert_eq!(pool.starmap_async(mul, [(2, 3), (4, 5)])?.get()?, [6, 20]);
    /// # Ok::<(), multiprocessing::Error>(())
    /// ```
    pub fn starmap_async<A, B, R>(
        &self,
        func: fn(A, B) -> R,
        iterable: impl IntoIterator<Item = (A, B)>,
    ) -> Result<AsyncResult<Vec<R>>>
    where
        A: Serialize + DeserializeOwned + Send + 'static,
        B: Serialize + DeserializeOwned + Send + 'static,
        R: Serialize + DeserializeOwned + Send + 'static,
    {
        let items: Vec<(A, B)> = iterable.into_iter().collect();
        let chunksize = default_chunksize(items.len(), self.processes);
        self.starmap_async_chunked(func, items, chunksize.max(1))
    }

    /// [`starmap_async`](Pool::starmap_async) with an explicit chunksize.
    ///
    /// # Errors
    /// As [`starmap_async`](Pool::starmap_async), and [`Error::State`] for a chunksize of 0.
    ///
    /// # Examples
    ///
    /// ```
    /// use multiprocessing::Pool;
    ///
    /// fn pow(base: u64, exp: u32) -> u64 {
    ///     base.pow(exp)
    /// }
    ///
    /// let pool = Pool::new(2)?;
    /// assert_eq!(pool.starmap_async_chunked(pow, [(2, 10), (3, 2)], 1)?.get()?, [1024, 9]);
    /// # Ok::<(), multiprocessing::Error>(())
    /// ```
    pub fn starmap_async_chunked<A, B, R>(
        &self,
        func: fn(A, B) -> R,
        iterable: impl IntoIterator<Item = (A, B)>,
        chunksize: usize,
    ) -> Result<AsyncResult<Vec<R>>>
    where
        A: Serialize + DeserializeOwned + Send + 'static,
        B: Serialize + DeserializeOwned + Send + 'static,
        R: Serialize + DeserializeOwned + Send + 'static,
    {
        Pool::check_chunksize(chunksize)?;
        let items: Vec<(A, B)> = iterable.into_iter().collect();
        self.collect_async(
            Work::plain(Code::new::<StarTask<A, B, R>>(TaskFn::binary(func))),
            items,
            chunksize,
            std::convert::identity,
        )
    }
}

//! Calls whose tasks share a context: [`Pool::map_with`] and its kin (rayon's `map_with`,
//! Python's `functools.partial` given to `pool.map`).
//!
//! A task is a plain `fn`, so it cannot capture a local. A call with context sends the context
//! once to each worker that takes part (encoded once, in the parent), and each task borrows it:
//! `func(&context, item)`. A worker keeps the context of the last such call it ran, so a call
//! whose chunks a worker runs one after another costs one context message per worker.

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::Result;
use crate::reduction::TaskFn;

use super::jobs::Work;
use super::results::AsyncResult;
use super::task::{Code, ContextTask};
use super::{IMapIterator, Pool, default_chunksize};

impl Pool {
    /// The work of a call of `func(&context, item)` on each item.
    fn with_context<C, T, R>(context: &C, func: fn(&C, T) -> R) -> Result<Work>
    where
        C: Serialize + DeserializeOwned + 'static,
        T: DeserializeOwned + Send + 'static,
        R: Serialize + Send + 'static,
    {
        Work::with_context(
            Code::new::<ContextTask<C, T, R>>(TaskFn::with_context(func)),
            context,
        )
    }

    /// Applies `func(&context, item)` to every item and returns the results in input order:
    /// [`map`](Pool::map) for a task that needs more than its item. The context is sent once
    /// to each worker that runs part of the call, not once per item.
    ///
    /// `func` is a plain `fn` or a closure that captures nothing; what it would capture goes
    /// in `context`. This plays the part of Python's `pool.map(partial(f, a, b), items)`.
    ///
    /// # Errors
    /// As [`map`](Pool::map); [`Error::Codec`](crate::Error::Codec) if the context does not
    /// encode, and an error naming the size and the limit if it is larger than
    /// [`PoolBuilder::max_message_size`](crate::PoolBuilder::max_message_size).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::collections::HashMap;
    /// use multiprocessing::Pool;
    ///
    /// fn price(prices: &HashMap<String, u32>, item: String) -> u32 {
    ///     prices[&item]
    /// }
    ///
    /// let prices = HashMap::from([("apple".to_string(), 3), ("pear".to_string(), 5)]);
    /// let pool = Pool::new(2)?;
    /// let items = ["pear", "apple", "pear"].map(String::from);
    /// assert_eq!(pool.map_with(prices, price, items)?, [5, 3, 5]);
    ///
    /// // Like functools.partial(pow, exp=3): a closure that captures nothing.
    /// assert_eq!(pool.map_with(3, |exp: &u32, x: u64| x.pow(*exp), [1, 2, 3])?, [1, 8, 27]);
    /// # Ok::<(), multiprocessing::Error>(())
    /// ```
    pub fn map_with<C, T, R>(
        &self,
        context: C,
        func: fn(&C, T) -> R,
        iterable: impl IntoIterator<Item = T>,
    ) -> Result<Vec<R>>
    where
        C: Serialize + DeserializeOwned + 'static,
        T: Serialize + DeserializeOwned + Send + 'static,
        R: Serialize + DeserializeOwned + Send + 'static,
    {
        self.map_async_with(context, func, iterable)?.take_value()
    }

    /// [`map_with`](Pool::map_with) with an explicit chunksize.
    ///
    /// # Errors
    /// As [`map_with`](Pool::map_with), and [`Error::State`](crate::Error::State) for a
    /// chunksize of 0.
    ///
    /// # Examples
    ///
    /// ```
    /// use multiprocessing::Pool;
    ///
    /// fn scale(factor: &f64, x: f64) -> f64 {
    ///     factor * x
    /// }
    ///
    /// let pool = Pool::new(2)?;
    /// assert_eq!(pool.map_with_chunked(2.0, scale, [1.0, 2.5], 1)?, [2.0, 5.0]);
    /// # Ok::<(), multiprocessing::Error>(())
    /// ```
    pub fn map_with_chunked<C, T, R>(
        &self,
        context: C,
        func: fn(&C, T) -> R,
        iterable: impl IntoIterator<Item = T>,
        chunksize: usize,
    ) -> Result<Vec<R>>
    where
        C: Serialize + DeserializeOwned + 'static,
        T: Serialize + DeserializeOwned + Send + 'static,
        R: Serialize + DeserializeOwned + Send + 'static,
    {
        Pool::check_chunksize(chunksize)?;
        let work = Pool::with_context(&context, func)?;
        let items: Vec<T> = iterable.into_iter().collect();
        self.collect_async(work, items, chunksize, std::convert::identity)?
            .take_value()
    }

    /// Starts a [`map_with`](Pool::map_with) and returns at once (as
    /// [`map_async`](Pool::map_async)).
    ///
    /// # Errors
    /// As [`map_async`](Pool::map_async), and as [`map_with`](Pool::map_with) for the context.
    ///
    /// # Examples
    ///
    /// ```
    /// use multiprocessing::Pool;
    ///
    /// fn greet(greeting: &String, name: String) -> String {
    ///     format!("{greeting}, {name}!")
    /// }
    ///
    /// let pool = Pool::new(2)?;
    /// let names = ["Ada", "Alan"].map(String::from);
    /// let result = pool.map_async_with("Hello".to_string(), greet, names)?;
    /// assert_eq!(result.get()?, ["Hello, Ada!", "Hello, Alan!"]);
    /// # Ok::<(), multiprocessing::Error>(())
    /// ```
    pub fn map_async_with<C, T, R>(
        &self,
        context: C,
        func: fn(&C, T) -> R,
        iterable: impl IntoIterator<Item = T>,
    ) -> Result<AsyncResult<Vec<R>>>
    where
        C: Serialize + DeserializeOwned + 'static,
        T: Serialize + DeserializeOwned + Send + 'static,
        R: Serialize + DeserializeOwned + Send + 'static,
    {
        let work = Pool::with_context(&context, func)?;
        let items: Vec<T> = iterable.into_iter().collect();
        let chunksize = default_chunksize(items.len(), self.processes);
        self.collect_async(work, items, chunksize, std::convert::identity)
    }

    /// A lazy [`map_with`](Pool::map_with) (as [`imap`](Pool::imap), chunksize 1): results
    /// come in input order as they are ready.
    ///
    /// # Errors
    /// As [`imap`](Pool::imap), and as [`map_with`](Pool::map_with) for the context.
    ///
    /// # Examples
    ///
    /// ```
    /// use multiprocessing::Pool;
    ///
    /// fn offset(by: &i64, x: i64) -> i64 {
    ///     x + by
    /// }
    ///
    /// let pool = Pool::new(2)?;
    /// let got: Vec<i64> = pool.imap_with(100, offset, 0..5)?.collect::<Result<_, _>>()?;
    /// assert_eq!(got, [100, 101, 102, 103, 104]);
    /// # Ok::<(), multiprocessing::Error>(())
    /// ```
    pub fn imap_with<C, T, R, I>(
        &self,
        context: C,
        func: fn(&C, T) -> R,
        iterable: I,
    ) -> Result<IMapIterator<R>>
    where
        C: Serialize + DeserializeOwned + 'static,
        T: Serialize + DeserializeOwned + Send + 'static,
        R: Serialize + DeserializeOwned + Send + 'static,
        I: IntoIterator<Item = T>,
        I::IntoIter: Send + 'static,
    {
        let work = Pool::with_context(&context, func)?;
        self.imap_inner(work, iterable, 1, None, true)
    }

    /// Like [`imap_with`](Pool::imap_with), but results come in the order they finish (as
    /// [`imap_unordered`](Pool::imap_unordered)).
    ///
    /// # Errors
    /// As [`imap_with`](Pool::imap_with).
    ///
    /// # Examples
    ///
    /// ```
    /// use multiprocessing::Pool;
    ///
    /// fn offset(by: &i64, x: i64) -> i64 {
    ///     x + by
    /// }
    ///
    /// let pool = Pool::new(2)?;
    /// let mut got: Vec<i64> = pool.imap_unordered_with(10, offset, 0..3)?.collect::<Result<_, _>>()?;
    /// got.sort(); // any order is valid
    /// assert_eq!(got, [10, 11, 12]);
    /// # Ok::<(), multiprocessing::Error>(())
    /// ```
    pub fn imap_unordered_with<C, T, R, I>(
        &self,
        context: C,
        func: fn(&C, T) -> R,
        iterable: I,
    ) -> Result<IMapIterator<R>>
    where
        C: Serialize + DeserializeOwned + 'static,
        T: Serialize + DeserializeOwned + Send + 'static,
        R: Serialize + DeserializeOwned + Send + 'static,
        I: IntoIterator<Item = T>,
        I::IntoIter: Send + 'static,
    {
        let work = Pool::with_context(&context, func)?;
        self.imap_inner(work, iterable, 1, None, false)
    }
}

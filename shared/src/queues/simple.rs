//! [`SimpleQueue`]: CPython's `multiprocessing.SimpleQueue`, a [`Queue`] without `maxsize` or
//! timeouts.

use std::fmt;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::{Queue, QueueItem};
#[cfg(doc)]
use crate::error::Error;
use crate::error::Result;

/// A simpler queue, like Python's `multiprocessing.SimpleQueue`: `put`, `get` and `empty`,
/// no `maxsize` and no timeouts.
///
/// # Examples
///
/// ```
/// use multiprocessing::{Process, SimpleQueue};
///
/// fn square(q: SimpleQueue<u64>) {
///     q.put(7 * 7).unwrap();
/// }
///
/// let q = SimpleQueue::new()?;
/// let mut p = Process::new(square, q.clone());
/// p.start()?;
/// assert_eq!(q.get()?, 49);
/// p.join()?;
/// assert!(q.empty());
/// # Ok::<(), multiprocessing::Error>(())
/// ```
#[derive(Serialize, Deserialize)]
#[serde(bound = "")]
pub struct SimpleQueue<T> {
    queue: Queue<T>,
}

impl<T> Clone for SimpleQueue<T> {
    fn clone(&self) -> Self {
        SimpleQueue {
            queue: self.queue.clone(),
        }
    }
}

impl<T> fmt::Debug for SimpleQueue<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Simple{:?}", self.queue)
    }
}

impl<T: Serialize + DeserializeOwned> SimpleQueue<T> {
    /// A new, empty queue.
    ///
    /// # Errors
    /// [`Error::Os`] if shared memory cannot be made.
    ///
    /// # Examples
    ///
    /// ```
    /// let q = multiprocessing::SimpleQueue::<String>::new()?;
    /// assert!(q.empty());
    /// # Ok::<(), multiprocessing::Error>(())
    /// ```
    pub fn new() -> Result<SimpleQueue<T>> {
        Ok(SimpleQueue {
            queue: Queue::new(0)?,
        })
    }

    /// As [`Queue::put`].
    ///
    /// # Errors
    /// [`Error::Codec`] if `item` cannot be encoded.
    ///
    /// # Examples
    ///
    /// ```
    /// let q = multiprocessing::SimpleQueue::new()?;
    /// q.put(1u8)?;
    /// assert_eq!(q.get()?, 1);
    /// # Ok::<(), multiprocessing::Error>(())
    /// ```
    pub fn put(&self, item: impl QueueItem<T>) -> Result<()> {
        self.queue.put(item)
    }

    /// As [`Queue::get`].
    ///
    /// # Errors
    /// As [`Queue::get`].
    ///
    /// # Examples
    ///
    /// ```
    /// let q = multiprocessing::SimpleQueue::<String>::new()?;
    /// q.put("x".to_string())?;
    /// assert_eq!(q.get()?, "x");
    /// # Ok::<(), multiprocessing::Error>(())
    /// ```
    pub fn get(&self) -> Result<T> {
        self.queue.get()
    }

    /// As [`Queue::empty`].
    ///
    /// # Examples
    ///
    /// ```
    /// let q = multiprocessing::SimpleQueue::<u8>::new()?;
    /// assert!(q.empty());
    /// # Ok::<(), multiprocessing::Error>(())
    /// ```
    pub fn empty(&self) -> bool {
        self.queue.empty()
    }

    /// Closes this handle (Python's `close()`); see [`Queue::close`].
    ///
    /// # Examples
    ///
    /// ```
    /// let q = multiprocessing::SimpleQueue::<u8>::new()?;
    /// q.close();
    /// assert!(q.get().is_err());
    /// # Ok::<(), multiprocessing::Error>(())
    /// ```
    pub fn close(&self) {
        self.queue.close();
    }
}

//! [`JoinableQueue`]: CPython's `multiprocessing.JoinableQueue`, a [`Queue`] that counts
//! unfinished tasks.

use std::fmt;
use std::ops::Deref;
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::ring::Ring;
use super::{DEFAULT_QUEUE_CAPACITY, Queue};
use crate::deadline::Deadline;
#[cfg(doc)]
use crate::error::Error;
use crate::error::Result;

/// A [`Queue`] that counts unfinished tasks, like Python's `multiprocessing.JoinableQueue`.
///
/// Every [`put`](Queue::put) adds a task; a consumer calls [`task_done`](JoinableQueue::task_done)
/// once per item it has finished, and [`join`](JoinableQueue::join) waits until every task is
/// done. It dereferences to a [`Queue`] for `put`, `get` and the rest, as Python's class
/// derives from `Queue`.
///
/// # Examples
///
/// ```
/// use multiprocessing::{JoinableQueue, Process};
///
/// fn worker(q: JoinableQueue<u32>) {
///     loop {
///         let item = q.get().unwrap();
///         q.task_done().unwrap();
///         if item == 0 {
///             break;
///         }
///     }
/// }
///
/// let q = JoinableQueue::new(0)?;
/// let mut p = Process::new(worker, q.clone());
/// p.start()?;
/// for item in [3, 2, 1, 0] {
///     q.put(item)?;
/// }
/// q.join(); // every item was taken and marked done
/// p.join()?;
/// # Ok::<(), multiprocessing::Error>(())
/// ```
#[derive(Serialize, Deserialize)]
#[serde(bound = "")]
pub struct JoinableQueue<T> {
    queue: Queue<T>,
}

impl<T> Clone for JoinableQueue<T> {
    fn clone(&self) -> Self {
        JoinableQueue {
            queue: self.queue.clone(),
        }
    }
}

impl<T> fmt::Debug for JoinableQueue<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Joinable{:?}", self.queue)
    }
}

impl<T> Deref for JoinableQueue<T> {
    type Target = Queue<T>;
    fn deref(&self) -> &Queue<T> {
        &self.queue
    }
}

impl<T: Serialize + DeserializeOwned> JoinableQueue<T> {
    /// A joinable queue holding at most `maxsize` items (0: no limit), with the default ring.
    ///
    /// # Errors
    /// As [`Queue::new`].
    ///
    /// # Examples
    ///
    /// ```
    /// let q = multiprocessing::JoinableQueue::<u8>::new(0)?;
    /// q.join(); // nothing was put: returns at once
    /// # Ok::<(), multiprocessing::Error>(())
    /// ```
    pub fn new(maxsize: usize) -> Result<JoinableQueue<T>> {
        JoinableQueue::with_capacity(maxsize, DEFAULT_QUEUE_CAPACITY)
    }

    /// A joinable queue with a ring of `bytes` bytes (see [`Queue::with_capacity`]).
    ///
    /// # Errors
    /// As [`Queue::new`].
    ///
    /// # Examples
    ///
    /// ```
    /// let q = multiprocessing::JoinableQueue::<u8>::with_capacity(0, 1 << 16)?;
    /// assert_eq!(q.capacity(), 1 << 16);
    /// # Ok::<(), multiprocessing::Error>(())
    /// ```
    pub fn with_capacity(maxsize: usize, bytes: usize) -> Result<JoinableQueue<T>> {
        Ok(JoinableQueue {
            queue: Queue::from_ring(Ring::new(maxsize, bytes, true)?),
        })
    }
}

impl<T> JoinableQueue<T> {
    /// Marks one task taken with `get` as done.
    ///
    /// # Errors
    /// [`Error::State`] when called more times than items were put (Python's `ValueError`).
    ///
    /// # Examples
    ///
    /// ```
    /// let q = multiprocessing::JoinableQueue::new(0)?;
    /// q.put(1u8)?;
    /// q.get()?;
    /// q.task_done()?;
    /// assert!(q.task_done().is_err()); // one too many
    /// # Ok::<(), multiprocessing::Error>(())
    /// ```
    pub fn task_done(&self) -> Result<()> {
        self.queue.ring.task_done()
    }

    /// Waits until every item put has been marked done with [`task_done`](JoinableQueue::task_done).
    ///
    /// # Examples
    ///
    /// ```
    /// let q = multiprocessing::JoinableQueue::new(0)?;
    /// q.put(1u8)?;
    /// q.get()?;
    /// q.task_done()?;
    /// q.join();
    /// # Ok::<(), multiprocessing::Error>(())
    /// ```
    pub fn join(&self) {
        self.queue.ring.join(Deadline::NEVER);
    }

    /// Waits at most `timeout` for every task to be done; returns whether they all were.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let q = multiprocessing::JoinableQueue::new(0)?;
    /// q.put(1u8)?;
    /// assert!(!q.join_timeout(Duration::from_millis(10)));
    /// # Ok::<(), multiprocessing::Error>(())
    /// ```
    pub fn join_timeout(&self, timeout: Duration) -> bool {
        self.queue.ring.join(Deadline::after(Some(timeout)))
    }
}

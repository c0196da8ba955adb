//! The synchronization objects a manager serves: [`EventProxy`], [`SemaphoreProxy`],
//! [`ConditionProxy`], [`BarrierProxy`] (CPython's `manager.Event()`, `Semaphore()`,
//! `BoundedSemaphore()`, `Condition()`, `Barrier()`).
//!
//! They live in the server, so any process that reaches it can use them, including processes
//! of other programs ([`Manager::connect`](crate::Manager::connect)); the runtime's own
//! [`Event`](crate::Event), [`Semaphore`](crate::Semaphore), ... in shared memory are much
//! faster between related processes. A blocked call waits in the server; if the waiting process
//! is killed, the server notices within 50 ms and the object is not left changed on its behalf.

use std::time::Duration;

use super::protocol::{Op, Owner, Reply};
use crate::deadline::Deadline;
// `Error` is named only by the doc comments' links.
#[cfg(doc)]
use crate::error::Error;
use crate::error::Result;
use crate::sys::unistd;

/// The calling thread, as the owner of a condition's lock.
fn me() -> Owner {
    (unistd::getpid(), unistd::gettid())
}

proxy! {
    /// A `threading.Event` in the manager's server (Python's `manager.Event()`). Made by
    /// [`Manager::event`](crate::Manager::event).
    ///
    /// # Examples
    ///
    /// ```
    /// use multiprocessing::{EventProxy, Manager, Process};
    ///
    /// fn worker(ready: EventProxy) {
    ///     ready.set().unwrap();
    /// }
    ///
    /// let manager = Manager::new()?;
    /// let ready = manager.event()?;
    /// assert!(!ready.is_set()?);
    /// let mut p = Process::new(worker, ready.clone());
    /// p.start()?;
    /// assert!(ready.wait()?);
    /// p.join()?;
    /// ready.clear()?;
    /// assert!(!ready.wait_timeout(std::time::Duration::from_millis(10))?);
    /// # Ok::<(), multiprocessing::Error>(())
    /// ```
    pub struct EventProxy;
    kind: Event, typeid: "Event", types: ()
}

impl EventProxy {
    /// Whether the flag is set (Python's `event.is_set()`).
    ///
    /// # Errors
    /// [`Error::Eof`] or [`Error::Os`] when the server is gone.
    pub fn is_set(&self) -> Result<bool> {
        self.object.expect_bool(self.object.call(Op::EventIsSet)?)
    }

    /// Sets the flag and wakes every waiter (Python's `event.set()`).
    ///
    /// # Errors
    /// As [`is_set`](EventProxy::is_set).
    pub fn set(&self) -> Result<()> {
        self.object.expect_done(self.object.call(Op::EventSet)?)
    }

    /// Clears the flag (Python's `event.clear()`).
    ///
    /// # Errors
    /// As [`is_set`](EventProxy::is_set).
    pub fn clear(&self) -> Result<()> {
        self.object.expect_done(self.object.call(Op::EventClear)?)
    }

    /// Waits until the flag is set; returns `true` (Python's `event.wait()`).
    ///
    /// # Errors
    /// As [`is_set`](EventProxy::is_set).
    pub fn wait(&self) -> Result<bool> {
        self.wait_op(None)
    }

    /// Waits at most `timeout` for the flag; returns it, `false` when the time ran out
    /// (Python's `event.wait(timeout)`).
    ///
    /// # Errors
    /// As [`is_set`](EventProxy::is_set).
    pub fn wait_timeout(&self, timeout: Duration) -> Result<bool> {
        self.wait_op(Some(timeout))
    }

    fn wait_op(&self, timeout: Option<Duration>) -> Result<bool> {
        self.object
            .expect_bool(self.object.call_timeout(Op::EventWait { timeout }, timeout)?)
    }
}

proxy! {
    /// A `threading.Semaphore` or `threading.BoundedSemaphore` in the manager's server (Python's
    /// `manager.Semaphore(value)`, `manager.BoundedSemaphore(value)`). Made by
    /// [`Manager::semaphore`](crate::Manager::semaphore) and
    /// [`Manager::bounded_semaphore`](crate::Manager::bounded_semaphore).
    ///
    /// # Examples
    ///
    /// ```
    /// let manager = multiprocessing::Manager::new()?;
    /// let sem = manager.bounded_semaphore(2)?;
    /// {
    ///     let _one = sem.guard()?; // Python's `with sem:`
    ///     assert!(sem.try_acquire()?);
    ///     assert!(!sem.try_acquire()?); // both units are taken
    ///     sem.release()?;
    /// }
    /// assert_eq!(sem.get_value()?, 2);
    /// let err = sem.release().unwrap_err(); // a bounded semaphore refuses a third unit
    /// assert!(err.to_string().contains("released too many times"), "{err}");
    /// # Ok::<(), multiprocessing::Error>(())
    /// ```
    pub struct SemaphoreProxy;
    kind: Semaphore, typeid: "Semaphore", types: ()
}

impl SemaphoreProxy {
    /// Waits for a unit and takes it (Python's `sem.acquire()`).
    ///
    /// # Errors
    /// [`Error::Eof`] or [`Error::Os`] when the server is gone.
    pub fn acquire(&self) -> Result<()> {
        self.object
            .expect_acquired(self.object.acquire(true, None)?, "a unit")
    }

    /// Takes a unit if one is free now (Python's `sem.acquire(False)`).
    ///
    /// # Errors
    /// As [`acquire`](SemaphoreProxy::acquire).
    pub fn try_acquire(&self) -> Result<bool> {
        self.object.acquire(false, None)
    }

    /// Waits at most `timeout` for a unit (Python's `sem.acquire(timeout=t)`).
    ///
    /// # Errors
    /// As [`acquire`](SemaphoreProxy::acquire).
    pub fn acquire_timeout(&self, timeout: Duration) -> Result<bool> {
        self.object.acquire(true, Some(timeout))
    }

    /// Gives a unit back (Python's `sem.release()`).
    ///
    /// # Errors
    /// [`Error::Remote`] for a bounded semaphore already at its starting value ("Semaphore
    /// released too many times", Python's `ValueError`); as [`acquire`](SemaphoreProxy::acquire).
    pub fn release(&self) -> Result<()> {
        self.object.expect_done(self.object.call(Op::Release)?)
    }

    /// The number of free units now (`multiprocessing.Semaphore.get_value()`).
    ///
    /// # Errors
    /// As [`acquire`](SemaphoreProxy::acquire).
    pub fn get_value(&self) -> Result<usize> {
        self.object.expect_len(self.object.call(Op::Len)?)
    }

    /// Takes a unit and returns a guard that gives it back when dropped: Python's `with sem:`.
    ///
    /// # Errors
    /// As [`acquire`](SemaphoreProxy::acquire).
    pub fn guard(&self) -> Result<SemaphoreProxyGuard<'_>> {
        self.acquire()?;
        Ok(SemaphoreProxyGuard { semaphore: self })
    }
}

/// Holds a unit of a [`SemaphoreProxy`] until dropped; made by [`SemaphoreProxy::guard`].
///
/// # Drop
/// Releases the unit; an error (the server is gone) is ignored.
#[derive(Debug)]
#[must_use = "the unit is released as soon as the guard is dropped"]
pub struct SemaphoreProxyGuard<'a> {
    semaphore: &'a SemaphoreProxy,
}

impl Drop for SemaphoreProxyGuard<'_> {
    fn drop(&mut self) {
        let _ = self.semaphore.release();
    }
}

proxy! {
    /// A `threading.Condition` in the manager's server (Python's `manager.Condition()`), over a
    /// reentrant lock as CPython's default. Made by [`Manager::condition`](crate::Manager::condition).
    ///
    /// The lock belongs to the thread that took it: another thread of the same process cannot
    /// release it, wait or notify (Python's `RuntimeError`, here [`Error::Remote`]). If the process
    /// holding it dies, the server releases it.
    ///
    /// # Examples
    ///
    /// ```
    /// use multiprocessing::{ConditionProxy, ListProxy, Manager, Process};
    ///
    /// fn producer((cond, items): (ConditionProxy, ListProxy<u32>)) {
    ///     let _guard = cond.guard().unwrap(); // Python's `with cond:`
    ///     items.append(&42).unwrap();
    ///     cond.notify().unwrap();
    /// }
    ///
    /// let manager = Manager::new()?;
    /// let cond = manager.condition()?;
    /// let items = manager.list::<u32>()?;
    /// let mut p = Process::new(producer, (cond.clone(), items.clone()));
    /// {
    ///     let _guard = cond.guard()?;
    ///     p.start()?;
    ///     assert!(cond.wait_for(|| Ok(!items.is_empty()?), None)?);
    /// }
    /// p.join()?;
    /// assert_eq!(items.get(0)?, 42);
    /// # Ok::<(), multiprocessing::Error>(())
    /// ```
    pub struct ConditionProxy;
    kind: Condition, typeid: "Condition", types: ()
}

impl ConditionProxy {
    /// Waits for the lock and takes it (again, if this thread holds it already) (Python's
    /// `cond.acquire()`).
    ///
    /// # Errors
    /// [`Error::Eof`] or [`Error::Os`] when the server is gone.
    pub fn acquire(&self) -> Result<()> {
        self.object
            .expect_acquired(self.acquire_op(true, None)?, "the lock")
    }

    /// Takes the lock if it is free now (Python's `cond.acquire(False)`).
    ///
    /// # Errors
    /// As [`acquire`](ConditionProxy::acquire).
    pub fn try_acquire(&self) -> Result<bool> {
        self.acquire_op(false, None)
    }

    /// Waits at most `timeout` for the lock (Python's `cond.acquire(timeout=t)`).
    ///
    /// # Errors
    /// As [`acquire`](ConditionProxy::acquire).
    pub fn acquire_timeout(&self, timeout: Duration) -> Result<bool> {
        self.acquire_op(true, Some(timeout))
    }

    fn acquire_op(&self, block: bool, timeout: Option<Duration>) -> Result<bool> {
        let op = Op::CondAcquire {
            owner: me(),
            block,
            timeout,
        };
        self.object.expect_bool(self.object.call_timeout(op, timeout)?)
    }

    /// Releases the lock once (Python's `cond.release()`).
    ///
    /// # Errors
    /// [`Error::Remote`] when this thread does not hold it; as
    /// [`acquire`](ConditionProxy::acquire).
    pub fn release(&self) -> Result<()> {
        self.object
            .expect_done(self.object.call(Op::CondRelease { owner: me() })?)
    }

    /// Takes the lock and returns a guard that releases it when dropped: Python's `with cond:`.
    ///
    /// # Errors
    /// As [`acquire`](ConditionProxy::acquire).
    pub fn guard(&self) -> Result<ConditionProxyGuard<'_>> {
        self.acquire()?;
        Ok(ConditionProxyGuard { condition: self })
    }

    /// Releases the lock, waits to be notified, and takes the lock back (Python's
    /// `cond.wait()`). Returns `true`.
    ///
    /// # Errors
    /// [`Error::Remote`] when this thread does not hold the lock; as
    /// [`acquire`](ConditionProxy::acquire).
    pub fn wait(&self) -> Result<bool> {
        self.wait_op(None)
    }

    /// As [`wait`](ConditionProxy::wait), for at most `timeout`; returns `false` when the time
    /// ran out (Python's `cond.wait(timeout)`). The lock is held again either way.
    ///
    /// # Errors
    /// As [`wait`](ConditionProxy::wait).
    pub fn wait_timeout(&self, timeout: Duration) -> Result<bool> {
        self.wait_op(Some(timeout))
    }

    fn wait_op(&self, timeout: Option<Duration>) -> Result<bool> {
        let op = Op::CondWait { owner: me(), timeout };
        self.object.expect_bool(self.object.call_timeout(op, timeout)?)
    }

    /// Waits until `predicate` is true, for at most `timeout` if given, and returns its last
    /// value (Python's `cond.wait_for(predicate, timeout)`). The predicate runs here, with the
    /// lock held, before each wait and after each wake-up.
    ///
    /// # Errors
    /// The predicate's error; as [`wait`](ConditionProxy::wait).
    pub fn wait_for(
        &self,
        mut predicate: impl FnMut() -> Result<bool>,
        timeout: Option<Duration>,
    ) -> Result<bool> {
        let deadline = Deadline::after(timeout);
        loop {
            if predicate()? {
                return Ok(true);
            }
            match deadline.left() {
                None => {
                    self.wait()?;
                }
                Some(left) if left.is_zero() => return Ok(false),
                Some(left) => {
                    self.wait_timeout(left)?;
                }
            }
        }
    }

    /// Wakes one waiter (Python's `cond.notify()`).
    ///
    /// # Errors
    /// [`Error::Remote`] when this thread does not hold the lock; as
    /// [`acquire`](ConditionProxy::acquire).
    pub fn notify(&self) -> Result<()> {
        self.notify_op(Some(1))
    }

    /// Wakes up to `n` waiters, the longest waiting first (Python's `cond.notify(n)`).
    ///
    /// # Errors
    /// As [`notify`](ConditionProxy::notify).
    pub fn notify_n(&self, n: usize) -> Result<()> {
        self.notify_op(Some(n as u64))
    }

    /// Wakes every waiter (Python's `cond.notify_all()`).
    ///
    /// # Errors
    /// As [`notify`](ConditionProxy::notify).
    pub fn notify_all(&self) -> Result<()> {
        self.notify_op(None)
    }

    fn notify_op(&self, n: Option<u64>) -> Result<()> {
        self.object
            .expect_done(self.object.call(Op::CondNotify { owner: me(), n })?)
    }
}

/// Holds a [`ConditionProxy`]'s lock until dropped; made by [`ConditionProxy::guard`].
///
/// # Drop
/// Releases the lock once; an error (the server is gone) is ignored.
#[derive(Debug)]
#[must_use = "the lock is released as soon as the guard is dropped"]
pub struct ConditionProxyGuard<'a> {
    condition: &'a ConditionProxy,
}

impl Drop for ConditionProxyGuard<'_> {
    fn drop(&mut self) {
        let _ = self.condition.release();
    }
}

proxy! {
    /// A `threading.Barrier` in the manager's server (Python's `manager.Barrier(parties)`). Made by
    /// [`Manager::barrier`](crate::Manager::barrier).
    ///
    /// Unlike CPython's, a party killed while it waits is no longer counted: the others still need
    /// `parties` arrivals, and are not blocked for ever by one that cannot come.
    ///
    /// # Examples
    ///
    /// ```
    /// use multiprocessing::{BarrierProxy, Manager, Process};
    ///
    /// fn party(barrier: BarrierProxy) {
    ///     barrier.wait().unwrap();
    /// }
    ///
    /// let manager = Manager::new()?;
    /// let barrier = manager.barrier(2)?;
    /// let mut p = Process::new(party, barrier.clone());
    /// p.start()?;
    /// let index = barrier.wait()?; // 0 or 1: the order of arrival
    /// assert!(index < 2);
    /// p.join()?;
    /// assert_eq!(barrier.parties()?, 2);
    /// barrier.abort()?;
    /// assert!(barrier.broken()?);
    /// assert!(matches!(barrier.wait(), Err(multiprocessing::Error::BrokenBarrier)));
    /// # Ok::<(), multiprocessing::Error>(())
    /// ```
    pub struct BarrierProxy;
    kind: Barrier, typeid: "Barrier", types: ()
}

impl BarrierProxy {
    /// Waits until `parties` processes (or threads) are waiting, then returns this caller's
    /// arrival index, `0..parties` (Python's `barrier.wait()`). Waits at most the barrier's
    /// default timeout, if it was made with one.
    ///
    /// # Errors
    /// [`Error::BrokenBarrier`] when the barrier is or becomes broken (aborted, reset while we
    /// wait, or a wait timed out); [`Error::Eof`] or [`Error::Os`] when the server is gone.
    pub fn wait(&self) -> Result<usize> {
        self.wait_op(None)
    }

    /// As [`wait`](BarrierProxy::wait), for at most `timeout`; when it runs out the barrier
    /// breaks, for every waiter (Python's `barrier.wait(timeout)`).
    ///
    /// # Errors
    /// As [`wait`](BarrierProxy::wait).
    pub fn wait_timeout(&self, timeout: Duration) -> Result<usize> {
        self.wait_op(Some(timeout))
    }

    fn wait_op(&self, timeout: Option<Duration>) -> Result<usize> {
        self.object
            .expect_len(self.object.call_timeout(Op::BarrierWait { timeout }, timeout)?)
    }

    /// Breaks the barrier: every waiter, and every later `wait` until [`reset`](Self::reset),
    /// fails with [`Error::BrokenBarrier`] (Python's `barrier.abort()`).
    ///
    /// # Errors
    /// [`Error::Eof`] or [`Error::Os`] when the server is gone.
    pub fn abort(&self) -> Result<()> {
        self.object.expect_done(self.object.call(Op::BarrierAbort)?)
    }

    /// Returns the barrier to its empty, unbroken state; those waiting get
    /// [`Error::BrokenBarrier`] (Python's `barrier.reset()`).
    ///
    /// # Errors
    /// As [`abort`](BarrierProxy::abort).
    pub fn reset(&self) -> Result<()> {
        self.object.expect_done(self.object.call(Op::BarrierReset)?)
    }

    /// How many must wait for the barrier to pass (Python's `barrier.parties`).
    ///
    /// # Errors
    /// As [`abort`](BarrierProxy::abort).
    pub fn parties(&self) -> Result<usize> {
        Ok(self.state()?.0)
    }

    /// How many are waiting now (Python's `barrier.n_waiting`).
    ///
    /// # Errors
    /// As [`abort`](BarrierProxy::abort).
    pub fn n_waiting(&self) -> Result<usize> {
        Ok(self.state()?.1)
    }

    /// Whether the barrier is broken (Python's `barrier.broken`).
    ///
    /// # Errors
    /// As [`abort`](BarrierProxy::abort).
    pub fn broken(&self) -> Result<bool> {
        Ok(self.state()?.2)
    }

    fn state(&self) -> Result<(usize, usize, bool)> {
        match self.object.call(Op::BarrierState)? {
            Reply::Barrier {
                parties,
                n_waiting,
                broken,
            } => Ok((
                usize::try_from(parties).unwrap_or(usize::MAX),
                usize::try_from(n_waiting).unwrap_or(usize::MAX),
                broken,
            )),
            other => Err(self.object.unexpected(&other)),
        }
    }
}

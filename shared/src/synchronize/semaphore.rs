//! [`Semaphore`] and [`BoundedSemaphore`]: counting semaphores shared between processes
//! (CPython's `synchronize.Semaphore` and `synchronize.BoundedSemaphore`).

use std::fmt;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::deadline::Deadline;
use crate::error::{Error, Result};
use crate::heap::SharedBlock;

use super::{SEM_VALUE_MAX, sleepers};

crate::heap::inherited_only!(semaphore_by_inheritance, "Semaphore");
crate::heap::inherited_only!(bounded_semaphore_by_inheritance, "BoundedSemaphore");

/// A counting semaphore shared between processes, like Python's `multiprocessing.Semaphore`.
///
/// [`acquire`](Semaphore::acquire) takes one unit, waiting while the value is 0;
/// [`release`](Semaphore::release) gives one back, from any process.
///
/// # Examples
///
/// At most two processes in the critical section at once:
///
/// ```
/// use multiprocessing::{Process, Semaphore};
///
/// fn worker(sem: Semaphore) {
///     let _unit = sem.acquire(); // Python: with sem:
///     assert!(sem.get_value() <= 1);
/// }
///
/// let sem = Semaphore::new(2)?;
/// let mut processes: Vec<Process> = (0..4).map(|_| Process::new(worker, sem.clone())).collect();
/// for p in &mut processes {
///     p.start()?;
/// }
/// for p in &processes {
///     p.join()?;
///     assert_eq!(p.exitcode(), Some(0));
/// }
/// assert_eq!(sem.get_value(), 2);
/// # Ok::<(), multiprocessing::Error>(())
/// ```
#[derive(Clone, Serialize, Deserialize)]
pub struct Semaphore {
    /// Word 0: the value (the futex word). Word 1: how many may be asleep on it.
    #[serde(serialize_with = "semaphore_by_inheritance")]
    block: SharedBlock,
    /// The value `release` may not exceed: [`SEM_VALUE_MAX`], or the initial value of a
    /// [`BoundedSemaphore`].
    max: u32,
}

impl Semaphore {
    /// A semaphore with `value` units (Python's default is 1).
    ///
    /// # Errors
    /// [`Error::State`] if `value` exceeds [`SEM_VALUE_MAX`]; [`Error::Os`] if shared memory
    /// cannot be made.
    ///
    /// # Examples
    ///
    /// ```
    /// let sem = multiprocessing::Semaphore::new(3)?;
    /// assert_eq!(sem.get_value(), 3);
    /// # Ok::<(), multiprocessing::Error>(())
    /// ```
    pub fn new(value: u32) -> Result<Semaphore> {
        Semaphore::with_max(value, SEM_VALUE_MAX)
    }

    fn with_max(value: u32, max: u32) -> Result<Semaphore> {
        if value > SEM_VALUE_MAX {
            return Err(Error::state(format!(
                "Semaphore: initial value {value} exceeds SEM_VALUE_MAX"
            )));
        }
        let block = SharedBlock::new(8)?;
        block.atomic_u32(0).store(value, Ordering::Relaxed);
        Ok(Semaphore { block, max })
    }

    fn value(&self) -> &AtomicU32 {
        self.block.atomic_u32(0)
    }

    fn sleepers(&self) -> &AtomicU32 {
        self.block.atomic_u32(4)
    }

    /// Takes one unit, waiting while there is none; the guard gives it back when dropped.
    ///
    /// # Examples
    ///
    /// ```
    /// let sem = multiprocessing::Semaphore::new(1)?;
    /// {
    ///     let _unit = sem.acquire();
    ///     assert_eq!(sem.get_value(), 0);
    /// }
    /// assert_eq!(sem.get_value(), 1);
    /// # Ok::<(), multiprocessing::Error>(())
    /// ```
    pub fn acquire(&self) -> SemaphoreGuard<'_> {
        self.raw_acquire(None);
        SemaphoreGuard { sem: self }
    }

    /// Waits at most `timeout` for a unit: `None` if there was none by then (Python's
    /// `acquire(timeout=t)` returning `False`).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let sem = multiprocessing::Semaphore::new(0)?;
    /// assert!(sem.acquire_timeout(Duration::from_millis(10)).is_none());
    /// # Ok::<(), multiprocessing::Error>(())
    /// ```
    pub fn acquire_timeout(&self, timeout: Duration) -> Option<SemaphoreGuard<'_>> {
        self.raw_acquire(Some(timeout))
            .then(|| SemaphoreGuard { sem: self })
    }

    /// Takes a unit only if one is available now (Python's `acquire(False)`).
    ///
    /// # Examples
    ///
    /// ```
    /// let sem = multiprocessing::Semaphore::new(1)?;
    /// let unit = sem.try_acquire().expect("one unit");
    /// assert!(sem.try_acquire().is_none());
    /// # Ok::<(), multiprocessing::Error>(())
    /// ```
    pub fn try_acquire(&self) -> Option<SemaphoreGuard<'_>> {
        self.raw_acquire(Some(Duration::ZERO))
            .then(|| SemaphoreGuard { sem: self })
    }

    /// Takes one unit, waiting at most `timeout`. Returns whether it got one.
    pub(crate) fn raw_acquire(&self, timeout: Option<Duration>) -> bool {
        let value = self.value();
        // The clock is read only once a wait is needed: a unit that is there costs no call.
        let mut deadline = None;
        loop {
            let v = value.load(Ordering::Relaxed);
            if v > 0 {
                if value
                    .compare_exchange_weak(v, v - 1, Ordering::Acquire, Ordering::Relaxed)
                    .is_ok()
                {
                    return true;
                }
                continue;
            }
            let left = deadline.get_or_insert_with(|| Deadline::after(timeout)).left();
            if left == Some(Duration::ZERO) {
                return false;
            }
            sleepers::sleep(value, self.sleepers(), left, |v| v == 0);
        }
    }

    /// Gives one unit back, waking a waiter if there is one. Any process may release.
    ///
    /// # Errors
    /// [`Error::State`] if the value would exceed its maximum: [`SEM_VALUE_MAX`], or the
    /// initial value of a [`BoundedSemaphore`].
    ///
    /// # Examples
    ///
    /// ```
    /// let sem = multiprocessing::Semaphore::new(0)?;
    /// sem.release()?;
    /// assert_eq!(sem.get_value(), 1);
    /// # Ok::<(), multiprocessing::Error>(())
    /// ```
    pub fn release(&self) -> Result<()> {
        let value = self.value();
        // One atomic step checks the bound and increments: two processes releasing at once
        // cannot both pass the check.
        value
            .fetch_update(Ordering::SeqCst, Ordering::Relaxed, |v| {
                (v < self.max).then_some(v + 1)
            })
            .map_err(|_| Error::state("semaphore or lock released too many times"))?;
        sleepers::wake(value, self.sleepers(), 1);
        Ok(())
    }

    /// The current number of units (Python's `get_value()`).
    ///
    /// # Examples
    ///
    /// ```
    /// let sem = multiprocessing::Semaphore::new(2)?;
    /// let _unit = sem.acquire();
    /// assert_eq!(sem.get_value(), 1);
    /// # Ok::<(), multiprocessing::Error>(())
    /// ```
    pub fn get_value(&self) -> u32 {
        self.value().load(Ordering::Relaxed)
    }
}

impl fmt::Debug for Semaphore {
    /// `Semaphore(value=2)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Semaphore(value={})", self.get_value())
    }
}

/// A unit taken from a [`Semaphore`] or [`BoundedSemaphore`]; given back when dropped.
#[must_use = "the unit is given back as soon as the guard is dropped"]
#[derive(Debug)]
pub struct SemaphoreGuard<'a> {
    sem: &'a Semaphore,
}

impl SemaphoreGuard<'_> {
    /// Keeps the unit after the guard is gone; give it back later with `release`, from this
    /// or any process.
    ///
    /// # Examples
    ///
    /// ```
    /// let sem = multiprocessing::Semaphore::new(1)?;
    /// sem.acquire().keep();
    /// assert_eq!(sem.get_value(), 0);
    /// sem.release()?;
    /// # Ok::<(), multiprocessing::Error>(())
    /// ```
    pub fn keep(self) {
        std::mem::forget(self);
    }
}

impl Drop for SemaphoreGuard<'_> {
    fn drop(&mut self) {
        // Fails only if others released more than they took from a bounded semaphore; that
        // error was theirs and has been reported to them.
        let _ = self.sem.release();
    }
}

/// A semaphore that refuses to be released above its initial value, like Python's
/// `multiprocessing.BoundedSemaphore`: an extra release is a bug, and it is reported.
///
/// The check and the increment are one atomic step, so two processes releasing at once
/// cannot both pass the bound.
///
/// # Examples
///
/// ```
/// use multiprocessing::BoundedSemaphore;
///
/// let sem = BoundedSemaphore::new(1)?;
/// {
///     let _unit = sem.acquire();
/// }
/// assert!(sem.release().is_err()); // one release too many
/// assert_eq!(sem.get_value(), 1);
/// # Ok::<(), multiprocessing::Error>(())
/// ```
#[derive(Clone, Serialize, Deserialize)]
pub struct BoundedSemaphore {
    #[serde(serialize_with = "bounded_semaphore_by_inheritance")]
    inner: Semaphore,
}

impl BoundedSemaphore {
    /// A bounded semaphore with `value` units, which is also its maximum.
    ///
    /// # Errors
    /// As [`Semaphore::new`].
    ///
    /// # Examples
    ///
    /// ```
    /// let sem = multiprocessing::BoundedSemaphore::new(2)?;
    /// assert_eq!(sem.get_value(), 2);
    /// # Ok::<(), multiprocessing::Error>(())
    /// ```
    pub fn new(value: u32) -> Result<BoundedSemaphore> {
        Ok(BoundedSemaphore {
            inner: Semaphore::with_max(value, value)?,
        })
    }

    /// As [`Semaphore::acquire`].
    ///
    /// # Examples
    ///
    /// ```
    /// let sem = multiprocessing::BoundedSemaphore::new(1)?;
    /// let _unit = sem.acquire();
    /// assert_eq!(sem.get_value(), 0);
    /// # Ok::<(), multiprocessing::Error>(())
    /// ```
    pub fn acquire(&self) -> SemaphoreGuard<'_> {
        self.inner.acquire()
    }

    /// As [`Semaphore::acquire_timeout`].
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let sem = multiprocessing::BoundedSemaphore::new(1)?;
    /// let _unit = sem.acquire();
    /// assert!(sem.acquire_timeout(Duration::from_millis(10)).is_none());
    /// # Ok::<(), multiprocessing::Error>(())
    /// ```
    pub fn acquire_timeout(&self, timeout: Duration) -> Option<SemaphoreGuard<'_>> {
        self.inner.acquire_timeout(timeout)
    }

    /// As [`Semaphore::try_acquire`].
    ///
    /// # Examples
    ///
    /// ```
    /// let sem = multiprocessing::BoundedSemaphore::new(1)?;
    /// assert!(sem.try_acquire().is_some());
    /// # Ok::<(), multiprocessing::Error>(())
    /// ```
    pub fn try_acquire(&self) -> Option<SemaphoreGuard<'_>> {
        self.inner.try_acquire()
    }

    /// Gives one unit back.
    ///
    /// # Errors
    /// [`Error::State`] if the value is already at its initial value (Python's `ValueError`).
    ///
    /// # Examples
    ///
    /// ```
    /// let sem = multiprocessing::BoundedSemaphore::new(1)?;
    /// sem.acquire().keep();
    /// sem.release()?;
    /// assert!(sem.release().is_err());
    /// # Ok::<(), multiprocessing::Error>(())
    /// ```
    pub fn release(&self) -> Result<()> {
        self.inner.release()
    }

    /// The current number of units.
    ///
    /// # Examples
    ///
    /// ```
    /// let sem = multiprocessing::BoundedSemaphore::new(3)?;
    /// assert_eq!(sem.get_value(), 3);
    /// # Ok::<(), multiprocessing::Error>(())
    /// ```
    pub fn get_value(&self) -> u32 {
        self.inner.get_value()
    }
}

impl fmt::Debug for BoundedSemaphore {
    /// `BoundedSemaphore(value=1, maxvalue=2)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "BoundedSemaphore(value={}, maxvalue={})",
            self.get_value(),
            self.inner.max
        )
    }
}

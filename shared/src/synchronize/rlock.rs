//! [`RLock`]: a recursive lock shared between processes (CPython's `synchronize.RLock`).

use std::fmt;
use std::marker::PhantomData;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::heap::SharedBlock;
use crate::py::PyRepr;

#[cfg(doc)]
use super::Lock;
use super::mutex::{Acquired, Mutex, Sealed, SyncLock};
use super::owner::Owner;
use crate::sys::futex;

/// The recursion count's word, after the mutex: touched only by the holder.
const COUNT: usize = Mutex::SIZE;

crate::heap::inherited_only!(rlock_by_inheritance, "RLock");

/// A recursive lock shared between processes, like Python's `multiprocessing.RLock`.
///
/// The thread that holds it may acquire it again; it is free once released as many times as
/// it was acquired. Only the holder may release it. The holder is a thread of a process: a
/// forked child does not hold its parent's `RLock`.
///
/// If the holder dies, the next acquirer takes the lock over (with a recursion level of 1)
/// and [`RLockGuard::owner_died`] says so (see [`Lock`'s docs](Lock#when-a-holder-dies)).
///
/// # Examples
///
/// ```
/// use multiprocessing::RLock;
///
/// let lock = RLock::new()?;
/// let outer = lock.acquire();
/// let inner = lock.acquire(); // the same thread may enter again
/// assert_eq!(lock.recursion(), 2);
/// drop(inner);
/// drop(outer);
/// assert_eq!(lock.recursion(), 0);
/// # Ok::<(), multiprocessing::Error>(())
/// ```
#[derive(Clone, Serialize, Deserialize)]
pub struct RLock {
    /// The mutex ([`Mutex`]), then the recursion count ([`COUNT`]).
    #[serde(serialize_with = "rlock_by_inheritance")]
    block: SharedBlock,
}

impl RLock {
    /// A new, unlocked recursive lock.
    ///
    /// # Errors
    /// [`Error::Os`] if shared memory cannot be made.
    ///
    /// # Examples
    ///
    /// ```
    /// let lock = multiprocessing::RLock::new()?;
    /// assert_eq!(lock.recursion(), 0);
    /// # Ok::<(), multiprocessing::Error>(())
    /// ```
    pub fn new() -> Result<RLock> {
        Ok(RLock {
            block: SharedBlock::new(COUNT + 4)?,
        })
    }

    /// The mutex and the count, with one bounds check.
    #[inline]
    fn parts(&self) -> (Mutex<'_>, &AtomicU32) {
        const { assert!(COUNT == 8) };
        let [word, holder_pid, count] = self.block.atomic_u32s(0);
        (Mutex::of(word, holder_pid), count)
    }

    #[inline]
    fn mutex(&self) -> Mutex<'_> {
        self.parts().0
    }

    #[inline]
    fn count(&self) -> &AtomicU32 {
        self.parts().1
    }

    /// Blocks until the calling thread holds the lock (again); the guard releases one level.
    ///
    /// # Examples
    ///
    /// ```
    /// let lock = multiprocessing::RLock::new()?;
    /// let _guard = lock.acquire();
    /// assert!(lock.is_owned());
    /// # Ok::<(), multiprocessing::Error>(())
    /// ```
    #[inline]
    pub fn acquire(&self) -> RLockGuard<'_> {
        self.guard(self.raw_acquire(None))
            .expect("an acquire without timeout does not time out")
    }

    /// Waits at most `timeout`: `None` if another thread still holds the lock then.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use multiprocessing::{Process, RLock};
    ///
    /// fn try_it(lock: RLock) {
    ///     assert!(lock.acquire_timeout(Duration::from_millis(50)).is_none());
    /// }
    ///
    /// let lock = RLock::new()?;
    /// let _held = lock.acquire();
    /// let mut p = Process::new(try_it, lock.clone());
    /// p.start()?;
    /// p.join()?;
    /// assert_eq!(p.exitcode(), Some(0));
    /// # Ok::<(), multiprocessing::Error>(())
    /// ```
    pub fn acquire_timeout(&self, timeout: Duration) -> Option<RLockGuard<'_>> {
        self.guard(self.raw_acquire(Some(timeout)))
    }

    /// Acquires only if the lock is free now or already ours (Python's `acquire(False)`).
    ///
    /// # Examples
    ///
    /// ```
    /// let lock = multiprocessing::RLock::new()?;
    /// let a = lock.try_acquire().expect("free");
    /// let b = lock.try_acquire().expect("ours already");
    /// # Ok::<(), multiprocessing::Error>(())
    /// ```
    pub fn try_acquire(&self) -> Option<RLockGuard<'_>> {
        self.guard(self.raw_acquire(Some(Duration::ZERO)))
    }

    #[inline]
    fn guard(&self, acquired: Acquired) -> Option<RLockGuard<'_>> {
        match acquired {
            Acquired::TimedOut => None,
            a => Some(RLockGuard {
                lock: self,
                owner_died: a == Acquired::OwnerDied,
                _not_send: PhantomData,
            }),
        }
    }

    /// The acquire: inlined for the two uncontended cases (ours already, or free), the wait
    /// out of line.
    #[inline]
    fn raw_acquire(&self, timeout: Option<Duration>) -> Acquired {
        let me = futex::current_tid();
        let (mutex, count) = self.parts();
        if mutex.held_by(me) {
            // Only the holder touches the count: a plain read and write, no atomic add.
            count.store(count.load(Ordering::Relaxed).wrapping_add(1), Ordering::Relaxed);
            return Acquired::Yes;
        }
        if mutex.try_take(me) {
            count.store(1, Ordering::Relaxed);
            return Acquired::Yes;
        }
        self.acquire_contended(timeout)
    }

    /// [`RLock::raw_acquire`] when another thread holds the lock: waits for it.
    #[cold]
    #[inline(never)]
    fn acquire_contended(&self, timeout: Option<Duration>) -> Acquired {
        let acquired = self.mutex().acquire(timeout);
        if acquired != Acquired::TimedOut {
            // A dead holder's count is meaningless: we start at one level.
            self.count().store(1, Ordering::Relaxed);
        }
        acquired
    }

    /// Releases one level of the calling thread's hold.
    ///
    /// # Errors
    /// [`Error::State`] if the calling thread does not hold the lock (Python's
    /// `AssertionError`).
    ///
    /// # Examples
    ///
    /// ```
    /// let lock = multiprocessing::RLock::new()?;
    /// lock.acquire().keep();
    /// lock.release()?;
    /// assert!(lock.release().is_err());
    /// # Ok::<(), multiprocessing::Error>(())
    /// ```
    #[inline]
    pub fn release(&self) -> Result<()> {
        if self.release_level() {
            Ok(())
        } else {
            Err(not_owned())
        }
    }

    /// Releases one level if the calling thread holds the lock; returns whether it did.
    #[inline]
    fn release_level(&self) -> bool {
        let (mutex, count) = self.parts();
        if !mutex.held_by_me() {
            return false;
        }
        // Only the holder touches the count: a plain read and write, no atomic subtract.
        match count.load(Ordering::Relaxed) {
            1 => {
                count.store(0, Ordering::Relaxed);
                mutex.release();
            }
            n => count.store(n.wrapping_sub(1), Ordering::Relaxed),
        }
        true
    }

    /// Whether the calling thread holds the lock.
    ///
    /// # Examples
    ///
    /// ```
    /// let lock = multiprocessing::RLock::new()?;
    /// assert!(!lock.is_owned());
    /// # Ok::<(), multiprocessing::Error>(())
    /// ```
    #[inline]
    pub fn is_owned(&self) -> bool {
        self.mutex().held_by_me()
    }

    /// How many times the calling thread holds the lock (0 if it does not hold it).
    ///
    /// # Examples
    ///
    /// ```
    /// let lock = multiprocessing::RLock::new()?;
    /// let _a = lock.acquire();
    /// assert_eq!(lock.recursion(), 1);
    /// # Ok::<(), multiprocessing::Error>(())
    /// ```
    pub fn recursion(&self) -> u32 {
        if self.is_owned() {
            self.count().load(Ordering::Relaxed)
        } else {
            0
        }
    }
}

/// [`RLock::release`]'s error, out of its inlined path.
#[cold]
#[inline(never)]
fn not_owned() -> Error {
    Error::state("RLock.release(): attempt to release recursive lock not owned by thread")
}

impl Sealed for RLock {
    #[inline]
    fn raw_acquire(&self, timeout: Option<Duration>) -> Acquired {
        RLock::raw_acquire(self, timeout)
    }
    #[inline]
    fn raw_release(&self) -> Result<()> {
        self.release()
    }
    #[inline]
    fn is_owned(&self) -> bool {
        RLock::is_owned(self)
    }
    fn release_save(&self) -> Result<u32> {
        if !self.is_owned() {
            return Err(Error::state("cannot wait on un-acquired lock"));
        }
        let count = self.count().swap(0, Ordering::Relaxed);
        self.mutex().release();
        Ok(count)
    }
    fn acquire_restore(&self, saved: u32) {
        let _ = self.mutex().acquire(None);
        self.count().store(saved, Ordering::Relaxed);
    }
}

impl SyncLock for RLock {}

impl PyRepr for RLock {
    /// CPython's `repr(rlock)`: `<RLock(None, 0)>`, `<RLock(MainProcess, 2)>` (the holder is
    /// the calling thread, named as for a [`Lock`], with its recursion level),
    /// `<RLock(SomeOtherThread, nonzero)>` or `<RLock(SomeOtherProcess, nonzero)>`.
    fn fmt_py(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.mutex().owner() {
            Owner::Nobody => write!(f, "<RLock(None, 0)>"),
            Owner::Me => write!(
                f,
                "<RLock({}, {})>",
                Owner::Me.name(),
                self.count().load(Ordering::Relaxed)
            ),
            other => write!(f, "<RLock({}, nonzero)>", other.name()),
        }
    }
}

impl fmt::Debug for RLock {
    /// As [`PyRepr`]: `<RLock(None, 0)>`.
    ///
    /// # Examples
    ///
    /// ```
    /// let lock = multiprocessing::RLock::new()?;
    /// assert_eq!(format!("{lock:?}"), "<RLock(None, 0)>");
    /// let _a = lock.acquire();
    /// let _b = lock.acquire();
    /// assert_eq!(format!("{lock:?}"), "<RLock(MainProcess, 2)>");
    /// # Ok::<(), multiprocessing::Error>(())
    /// ```
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.fmt_py(f)
    }
}

/// Proof that the calling thread holds an [`RLock`] one more time; releases that level when
/// dropped. It cannot move to another thread, which could not release it.
#[must_use = "the lock is released as soon as the guard is dropped"]
#[derive(Debug)]
pub struct RLockGuard<'a> {
    lock: &'a RLock,
    owner_died: bool,
    _not_send: PhantomData<*const ()>,
}

impl RLockGuard<'_> {
    /// Whether the lock was taken over from a holder that died while holding it.
    ///
    /// # Examples
    ///
    /// ```
    /// let lock = multiprocessing::RLock::new()?;
    /// assert!(!lock.acquire().owner_died());
    /// # Ok::<(), multiprocessing::Error>(())
    /// ```
    pub fn owner_died(&self) -> bool {
        self.owner_died
    }

    /// Keeps this level held after the guard is gone; release it later with
    /// [`RLock::release`] from the same thread.
    ///
    /// # Examples
    ///
    /// ```
    /// let lock = multiprocessing::RLock::new()?;
    /// lock.acquire().keep();
    /// assert!(lock.is_owned());
    /// lock.release()?;
    /// # Ok::<(), multiprocessing::Error>(())
    /// ```
    pub fn keep(self) {
        std::mem::forget(self);
    }
}

impl Drop for RLockGuard<'_> {
    #[inline]
    fn drop(&mut self) {
        // Not held any more only if the holder released it by hand ([`RLock::release`]) while
        // the guard lived: nothing left to release, and a drop must not fail.
        self.lock.release_level();
    }
}

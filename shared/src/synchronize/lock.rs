//! [`Lock`]: a non-recursive lock shared between processes (CPython's `synchronize.Lock`).

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::heap::SharedBlock;
use crate::py::PyRepr;

use super::mutex::{Acquired, Mutex, Sealed, SyncLock};
#[cfg(doc)]
use super::{OWNER_CHECK_INTERVAL, RLock};

crate::heap::inherited_only!(lock_by_inheritance, "Lock");

/// A non-recursive lock shared between processes, like Python's `multiprocessing.Lock`.
///
/// Any process (or thread) may release it, not only the one that acquired it; releasing it
/// while it is not held is an error. Acquiring it twice from the same thread blocks (or times
/// out), as in Python; use an [`RLock`] for recursion.
///
/// # How it works
/// This lock, like every object of this module, is a few 32-bit words in a `MAP_SHARED`
/// memfd mapping, used as process-shared
/// futexes (`FUTEX_WAIT`/`FUTEX_WAKE` without the private flag; `std::sync` uses private
/// futexes, which do not work across processes). An uncontended acquire or release is one
/// atomic instruction and no system call; a process that must wait sleeps in the kernel and is
/// woken by the releasing process, without spinning.
///
/// # When a holder dies
/// CPython's locks deadlock forever when a process dies holding one (e.g. killed by `SIGKILL`
/// inside `with lock:`). Ours do not: a [`Lock`] or [`RLock`] records its holder's thread id,
/// and a waiter that has slept for [`OWNER_CHECK_INTERVAL`] without being woken checks whether
/// the holder still exists (a thread that has exited, and a process that has ended but is not
/// yet reaped, count as dead). If it does not, the waiter takes the lock over, and its guard
/// says so: [`LockGuard::owner_died`] returns `true`. This is the spirit of a robust mutex's
/// `EOWNERDEAD` and of the poisoning of `std::sync::Mutex`: the lock keeps working, and the
/// one process that inherits it learns that the data it protects may be half-updated. Unlike
/// `std`'s poisoning the signal is given once, to the next acquirer, not to every later one.
///
/// The holder's identity is its kernel thread id. If the holder died and the kernel has since
/// given the same id to a new thread (ids are reused only after the whole id space cycles),
/// the lock is recovered only once that thread ends.
///
/// # Differences from Python
/// - `with lock:` is `let _guard = lock.acquire();`: the guard releases the lock where it is
///   dropped. `acquire(timeout=t)` is [`acquire_timeout`](Lock::acquire_timeout), returning
///   `None` where Python returns `False`; `acquire(False)` is [`try_acquire`](Lock::try_acquire).
/// - Python's bare `lock.acquire()` is `lock.acquire().keep()`, and `lock.release()` is
///   [`release`](Lock::release), which any process may call.
/// - Releasing an unlocked lock is an [`Error::State`] rather than a `ValueError`.
///
/// # Examples
///
/// The tutorial's example 3/2.1: three processes take turns printing.
///
/// ```
/// use multiprocessing::{Lock, Process};
///
/// fn worker((lock, num): (Lock, u32)) {
///     let _guard = lock.acquire(); // Python: with lock:
///     println!("进程 {num} 正在安全地访问共享资源");
/// }
///
/// let lock = Lock::new()?;
/// let mut processes: Vec<Process> = (0..3).map(|i| Process::new(worker, (lock.clone(), i))).collect();
/// for p in &mut processes {
///     p.start()?;
/// }
/// for p in &processes {
///     p.join()?;
/// }
/// # Ok::<(), multiprocessing::Error>(())
/// ```
///
/// # Sharing it with another process
/// A lock reaches another process by inheritance only, as in CPython: as (part of) the
/// argument of a [`Process`](crate::Process) (or a pool's initializer). Under `fork` it is
/// simply copied into the child; under `spawn` and `forkserver` it serializes as its shared
/// memory descriptor, offset and length, and the child adopts the inherited descriptor.
/// Serializing it for anything else (a [`Connection`](crate::Connection), a
/// [`Queue`](crate::Queue), a pool task) fails with an error at the sender, as CPython's
/// `RuntimeError: Lock objects should only be shared between processes through inheritance`:
/// the receiver could not map the memory. Every object of this module, and
/// [`Value`](crate::Value) and [`Array`](crate::Array), behave the same.
///
/// ```
/// use multiprocessing::{Lock, Pipe};
///
/// let (a, _b) = Pipe(true)?;
/// assert!(a.send(&Lock::new()?).is_err());
/// # Ok::<(), multiprocessing::Error>(())
/// ```
#[derive(Clone, Serialize, Deserialize)]
pub struct Lock {
    #[serde(serialize_with = "lock_by_inheritance")]
    block: SharedBlock,
}

impl Lock {
    /// A new, unlocked lock.
    ///
    /// # Errors
    /// [`Error::Os`] if shared memory cannot be made (e.g. too many open files).
    ///
    /// # Examples
    ///
    /// ```
    /// let lock = multiprocessing::Lock::new()?;
    /// assert!(!lock.is_locked());
    /// # Ok::<(), multiprocessing::Error>(())
    /// ```
    pub fn new() -> Result<Lock> {
        Ok(Lock {
            block: SharedBlock::new(Mutex::SIZE)?,
        })
    }

    #[inline]
    fn mutex(&self) -> Mutex<'_> {
        Mutex::at(&self.block)
    }

    /// Blocks until the lock is acquired; the guard releases it when dropped.
    ///
    /// # Examples
    ///
    /// ```
    /// let lock = multiprocessing::Lock::new()?;
    /// {
    ///     let guard = lock.acquire();
    ///     assert!(lock.is_locked());
    ///     assert!(!guard.owner_died());
    /// }
    /// assert!(!lock.is_locked());
    /// # Ok::<(), multiprocessing::Error>(())
    /// ```
    #[inline]
    pub fn acquire(&self) -> LockGuard<'_> {
        self.guard(self.raw_acquire(None))
            .expect("an acquire without timeout does not time out")
    }

    /// Waits at most `timeout` for the lock: `None` when it is still held by someone else
    /// then (Python's `acquire(timeout=t)` returning `False`).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let lock = multiprocessing::Lock::new()?;
    /// let held = lock.acquire();
    /// assert!(lock.acquire_timeout(Duration::from_millis(10)).is_none());
    /// drop(held);
    /// assert!(lock.acquire_timeout(Duration::from_millis(10)).is_some());
    /// # Ok::<(), multiprocessing::Error>(())
    /// ```
    pub fn acquire_timeout(&self, timeout: Duration) -> Option<LockGuard<'_>> {
        self.guard(self.raw_acquire(Some(timeout)))
    }

    /// Acquires the lock only if it is free now (Python's `acquire(False)`).
    ///
    /// # Examples
    ///
    /// ```
    /// let lock = multiprocessing::Lock::new()?;
    /// let held = lock.try_acquire().expect("free");
    /// assert!(lock.try_acquire().is_none());
    /// # Ok::<(), multiprocessing::Error>(())
    /// ```
    pub fn try_acquire(&self) -> Option<LockGuard<'_>> {
        self.guard(self.raw_acquire(Some(Duration::ZERO)))
    }

    #[inline]
    fn guard(&self, acquired: Acquired) -> Option<LockGuard<'_>> {
        match acquired {
            Acquired::TimedOut => None,
            a => Some(LockGuard {
                lock: self,
                owner_died: a == Acquired::OwnerDied,
            }),
        }
    }

    /// Releases the lock, whoever acquired it (Python allows any process to release a
    /// `multiprocessing.Lock`). Pair it with [`LockGuard::keep`].
    ///
    /// # Errors
    /// [`Error::State`] if the lock is not held (Python's `ValueError`).
    ///
    /// # Examples
    ///
    /// ```
    /// let lock = multiprocessing::Lock::new()?;
    /// lock.acquire().keep(); // Python: lock.acquire()
    /// lock.release()?;       // Python: lock.release()
    /// assert!(lock.release().is_err());
    /// # Ok::<(), multiprocessing::Error>(())
    /// ```
    #[inline]
    pub fn release(&self) -> Result<()> {
        if self.mutex().release() {
            Ok(())
        } else {
            Err(not_locked())
        }
    }

    /// Whether some thread of some process holds the lock now (Python's `locked()`).
    ///
    /// # Examples
    ///
    /// ```
    /// let lock = multiprocessing::Lock::new()?;
    /// let _guard = lock.acquire();
    /// assert!(lock.is_locked());
    /// # Ok::<(), multiprocessing::Error>(())
    /// ```
    #[inline]
    pub fn is_locked(&self) -> bool {
        self.mutex().holder() != 0
    }

    #[inline]
    fn raw_acquire(&self, timeout: Option<Duration>) -> Acquired {
        self.mutex().acquire(timeout)
    }
}

/// [`Lock::release`]'s error, out of its inlined path.
#[cold]
#[inline(never)]
fn not_locked() -> Error {
    Error::state("Lock.release(): the lock is not locked (semaphore or lock released too many times)")
}

impl Sealed for Lock {
    #[inline]
    fn raw_acquire(&self, timeout: Option<Duration>) -> Acquired {
        Lock::raw_acquire(self, timeout)
    }
    #[inline]
    fn raw_release(&self) -> Result<()> {
        self.release()
    }
    #[inline]
    fn is_owned(&self) -> bool {
        self.mutex().held_by_me()
    }
    fn release_save(&self) -> Result<u32> {
        self.release().map(|()| 1)
    }
    fn acquire_restore(&self, _saved: u32) {
        let _ = Lock::raw_acquire(self, None);
    }
}

impl SyncLock for Lock {}

impl PyRepr for Lock {
    /// CPython's `repr(lock)`: `<Lock(owner=None)>`, `<Lock(owner=MainProcess)>` (the holder
    /// is the calling thread, named by its process and, unless it is the main thread,
    /// `|thread`), `<Lock(owner=SomeOtherThread)>` or `<Lock(owner=SomeOtherProcess)>`.
    fn fmt_py(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<Lock(owner={})>", self.mutex().owner().name())
    }
}

impl fmt::Debug for Lock {
    /// As [`PyRepr`]: `<Lock(owner=None)>`.
    ///
    /// # Examples
    ///
    /// ```
    /// let lock = multiprocessing::Lock::new()?;
    /// assert_eq!(format!("{lock:?}"), "<Lock(owner=None)>");
    /// let _held = lock.acquire();
    /// assert_eq!(format!("{lock:?}"), "<Lock(owner=MainProcess)>");
    /// # Ok::<(), multiprocessing::Error>(())
    /// ```
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.fmt_py(f)
    }
}

/// Proof that a [`Lock`] is held; releases it when dropped (the end of Python's `with`).
#[must_use = "the lock is released as soon as the guard is dropped"]
#[derive(Debug)]
pub struct LockGuard<'a> {
    lock: &'a Lock,
    owner_died: bool,
}

impl LockGuard<'_> {
    /// Whether the lock was taken over from a holder that died while holding it: the data it
    /// protects may have been left half-updated.
    ///
    /// # Examples
    ///
    /// ```
    /// use multiprocessing::{Lock, Process};
    ///
    /// fn die_holding(lock: Lock) {
    ///     lock.acquire().keep();
    ///     std::process::exit(3); // ends without releasing it
    /// }
    ///
    /// let lock = Lock::new()?;
    /// let mut p = Process::new(die_holding, lock.clone());
    /// p.start()?;
    /// p.join()?;
    /// let guard = lock.acquire(); // no deadlock
    /// assert!(guard.owner_died());
    /// # Ok::<(), multiprocessing::Error>(())
    /// ```
    pub fn owner_died(&self) -> bool {
        self.owner_died
    }

    /// Keeps the lock held after the guard is gone; release it later with [`Lock::release`].
    ///
    /// # Examples
    ///
    /// ```
    /// let lock = multiprocessing::Lock::new()?;
    /// lock.acquire().keep();
    /// assert!(lock.is_locked());
    /// lock.release()?;
    /// # Ok::<(), multiprocessing::Error>(())
    /// ```
    pub fn keep(self) {
        std::mem::forget(self);
    }
}

impl Drop for LockGuard<'_> {
    #[inline]
    fn drop(&mut self) {
        // Someone else may have released it already (any process may release a Lock): then
        // there is nothing left to do.
        let _ = self.lock.release();
    }
}

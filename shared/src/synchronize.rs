//! Process-shared synchronization: [`Lock`], [`RLock`], [`Semaphore`], [`BoundedSemaphore`],
//! [`Event`], [`Condition`] and [`Barrier`], after CPython's `multiprocessing/synchronize.py`.
//!
//! Each object lives in shared memory ([`crate::heap`]): a child forked after the object was
//! made (or one that receives it as a [`Process`](crate::Process) argument) shares it with its
//! parent. Clones refer to the same object.
//!
//! # How they work
//! Every object is a few 32-bit words in a `MAP_SHARED` memfd mapping, used as process-shared
//! futexes (`FUTEX_WAIT`/`FUTEX_WAKE` without the private flag; `std::sync` uses private
//! futexes, which do not work across processes). An uncontended acquire or release is one
//! atomic instruction and no system call; a process that must wait sleeps in the kernel and is
//! woken by the releasing process, without spinning.
//!
//! # When a holder dies
//! CPython's locks deadlock forever when a process dies holding one (e.g. killed by `SIGKILL`
//! inside `with lock:`). Ours do not: a [`Lock`] or [`RLock`] records its holder's thread id,
//! and a waiter that has slept for [`OWNER_CHECK_INTERVAL`] without being woken checks whether
//! the holder still exists (a thread that has exited, and a process that has ended but is not
//! yet reaped, count as dead). If it does not, the waiter takes the lock over, and its guard
//! says so: [`LockGuard::owner_died`] returns `true`. This is the spirit of a robust mutex's
//! `EOWNERDEAD` and of the poisoning of `std::sync::Mutex`: the lock keeps working, and the
//! one process that inherits it learns that the data it protects may be half-updated. Unlike
//! `std`'s poisoning the signal is given once, to the next acquirer, not to every later one.
//!
//! The holder's identity is its kernel thread id. If the holder died and the kernel has since
//! given the same id to a new thread (ids are reused only after the whole id space cycles),
//! the lock is recovered only once that thread ends.
//!
//! # Differences from Python
//! - `with lock:` becomes `let _guard = lock.acquire();`: the guard releases when it is
//!   dropped. `acquire(timeout=...)` is [`Lock::acquire_timeout`], returning `None` where
//!   Python returns `False`; `acquire(False)` is [`Lock::try_acquire`].
//! - To hold a lock past the guard's scope (Python's bare `lock.acquire()`), call
//!   [`LockGuard::keep`] and later [`Lock::release`], from this or any process.
//! - Python's exceptions are [`Error`]s: releasing an unlocked lock is [`Error::State`], a
//!   broken barrier is `Error::BrokenBarrier`.

use std::fmt;
use std::marker::PhantomData;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::heap::SharedBlock;
use crate::sys::futex::{self, Wake};

/// How long a waiter sleeps before it checks whether the holder of a [`Lock`] or [`RLock`]
/// is still alive. A dead holder is noticed after at most about this long.
pub const OWNER_CHECK_INTERVAL: Duration = Duration::from_millis(100);

/// The largest value of a [`Semaphore`] (CPython's `SEM_VALUE_MAX` on Linux).
pub const SEM_VALUE_MAX: u32 = i32::MAX as u32;

// ---------------------------------------------------------------------------------------------
// The mutex word shared by Lock and RLock.
// ---------------------------------------------------------------------------------------------

/// Set in a mutex word when some process may be sleeping on it, so the releaser must wake one.
const WAITERS: u32 = 1 << 31;
/// The holder's thread id (0 when unlocked). Linux thread ids are below 2^22.
const TID_MASK: u32 = !WAITERS;

use private::Acquired;

/// Sleeps on `word` while it holds `expected`, at most `timeout`. The futex call fails only
/// for a bad address or operation, which our words never are.
fn sleep_on(word: &AtomicU32, expected: u32, timeout: Option<Duration>) -> Wake {
    futex::wait(word, expected, timeout).expect("FUTEX_WAIT on a shared-memory word")
}

/// Wakes up to `n` sleepers on `word`.
fn wake(word: &AtomicU32, n: u32) {
    futex::wake(word, n).expect("FUTEX_WAKE on a shared-memory word");
}

/// Time left until `deadline` (`None`: no deadline).
fn time_left(deadline: Option<Instant>) -> Option<Duration> {
    deadline.map(|d| d.saturating_duration_since(Instant::now()))
}

/// Takes the mutex `word` for thread `me`, waiting at most `timeout` (`None`: forever).
///
/// The word is 0 when free, else the holder's thread id, plus [`WAITERS`] once someone sleeps.
/// The fast path is one compare-exchange; the slow path is a classic three-state futex mutex
/// (Drepper, "Futexes Are Tricky", mutex 2), except that the holder is named, so that a
/// waiter that sleeps a full [`OWNER_CHECK_INTERVAL`] can check whether it is still alive.
fn mutex_acquire(word: &AtomicU32, me: u32, timeout: Option<Duration>) -> Acquired {
    if word
        .compare_exchange(0, me, Ordering::Acquire, Ordering::Relaxed)
        .is_ok()
    {
        return Acquired::Yes;
    }
    let deadline = timeout.map(|t| Instant::now() + t);
    loop {
        let mut c = word.load(Ordering::Relaxed);
        if c == 0 {
            // We have contended, so others may be asleep too: keep the waiters bit set so that
            // our release wakes one of them.
            match word.compare_exchange(0, me | WAITERS, Ordering::Acquire, Ordering::Relaxed) {
                Ok(_) => return Acquired::Yes,
                Err(_) => continue,
            }
        }
        let left = time_left(deadline);
        if left == Some(Duration::ZERO) {
            // Before giving up, make sure we are not waiting on the dead.
            return if take_from_dead(word, c, me) {
                Acquired::OwnerDied
            } else {
                Acquired::TimedOut
            };
        }
        if c & WAITERS == 0 {
            if word
                .compare_exchange(c, c | WAITERS, Ordering::Relaxed, Ordering::Relaxed)
                .is_err()
            {
                continue;
            }
            c |= WAITERS;
        }
        let slice = left.map_or(OWNER_CHECK_INTERVAL, |l| l.min(OWNER_CHECK_INTERVAL));
        if sleep_on(word, c, Some(slice)) == Wake::TimedOut && take_from_dead(word, c, me) {
            return Acquired::OwnerDied;
        }
    }
}

/// If the word still reads `seen` and its holder is dead, takes it over for `me`.
fn take_from_dead(word: &AtomicU32, seen: u32, me: u32) -> bool {
    let holder = seen & TID_MASK;
    if holder == 0 || holder == me || futex::thread_alive(holder) {
        return false;
    }
    // Others may be asleep on the word: keep them wakeable.
    word.compare_exchange(seen, me | WAITERS, Ordering::Acquire, Ordering::Relaxed)
        .is_ok()
        || word
            .compare_exchange(seen | WAITERS, me | WAITERS, Ordering::Acquire, Ordering::Relaxed)
            .is_ok()
}

/// Frees the mutex `word`, waking one sleeper if there may be any. Returns whether it was
/// locked.
fn mutex_release(word: &AtomicU32) -> bool {
    let previous = word.swap(0, Ordering::Release);
    if previous & WAITERS != 0 {
        wake(word, 1);
    }
    previous != 0
}

/// Behaviour a [`Condition`] needs from its lock; implemented by [`Lock`] and [`RLock`] only.
pub trait SyncLock: private::Sealed {}

pub(crate) mod private {
    use crate::error::Result;
    use std::time::Duration;

    /// The outcome of a raw acquire.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub enum Acquired {
        /// Acquired.
        Yes,
        /// Acquired, taken over from a holder that died.
        OwnerDied,
        /// Not acquired within the timeout.
        TimedOut,
    }

    /// The crate-internal half of [`super::SyncLock`].
    pub trait Sealed {
        /// Acquires like `acquire(timeout)`.
        fn raw_acquire(&self, timeout: Option<Duration>) -> Acquired;
        /// Releases once.
        fn raw_release(&self) -> Result<()>;
        /// Whether the calling thread holds the lock.
        fn is_owned(&self) -> bool;
        /// Releases completely (every recursive level), returning what to restore.
        fn release_save(&self) -> Result<u32>;
        /// Acquires again and restores what `release_save` returned.
        fn acquire_restore(&self, saved: u32);
    }
}

// ---------------------------------------------------------------------------------------------
// Lock
// ---------------------------------------------------------------------------------------------

/// A non-recursive lock shared between processes, like Python's `multiprocessing.Lock`.
///
/// Any process (or thread) may release it, not only the one that acquired it; releasing it
/// while it is not held is an error. Acquiring it twice from the same thread blocks (or times
/// out), as in Python; use an [`RLock`] for recursion.
///
/// If the holder dies, the next acquirer takes the lock over and is told so by
/// [`LockGuard::owner_died`] (see the [module docs](self)).
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
/// # Serialization
/// A lock serializes as its shared memory descriptor, offset and length, for the `spawn`
/// start method; a process that deserializes it adopts the inherited descriptor. Under `fork`
/// it is simply copied into the child.
#[derive(Clone, Serialize, Deserialize)]
pub struct Lock {
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
            block: SharedBlock::new(4)?,
        })
    }

    fn word(&self) -> &AtomicU32 {
        self.block.atomic_u32(0)
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
    pub fn release(&self) -> Result<()> {
        if mutex_release(self.word()) {
            Ok(())
        } else {
            Err(Error::state(
                "Lock.release(): the lock is not locked (semaphore or lock released too many times)",
            ))
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
    pub fn is_locked(&self) -> bool {
        self.word().load(Ordering::Relaxed) != 0
    }

    fn raw_acquire(&self, timeout: Option<Duration>) -> Acquired {
        mutex_acquire(self.word(), futex::current_tid(), timeout)
    }
}

impl private::Sealed for Lock {
    fn raw_acquire(&self, timeout: Option<Duration>) -> Acquired {
        Lock::raw_acquire(self, timeout)
    }
    fn raw_release(&self) -> Result<()> {
        self.release()
    }
    fn is_owned(&self) -> bool {
        self.word().load(Ordering::Relaxed) & TID_MASK == futex::current_tid()
    }
    fn release_save(&self) -> Result<u32> {
        self.release().map(|()| 1)
    }
    fn acquire_restore(&self, _saved: u32) {
        let _ = Lock::raw_acquire(self, None);
    }
}

impl SyncLock for Lock {}

impl fmt::Debug for Lock {
    /// `Lock(unlocked)`, or `Lock(held by thread 1234)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.word().load(Ordering::Relaxed) & TID_MASK {
            0 => write!(f, "Lock(unlocked)"),
            tid => write!(f, "Lock(held by thread {tid})"),
        }
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
    ///     std::process::abort(); // dies without releasing
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
    fn drop(&mut self) {
        // Someone else may have released it already (any process may release a Lock): then
        // there is nothing left to do.
        let _ = self.lock.release();
    }
}

// ---------------------------------------------------------------------------------------------
// RLock
// ---------------------------------------------------------------------------------------------

/// A recursive lock shared between processes, like Python's `multiprocessing.RLock`.
///
/// The thread that holds it may acquire it again; it is free once released as many times as
/// it was acquired. Only the holder may release it. The holder is a thread of a process: a
/// forked child does not hold its parent's `RLock`.
///
/// If the holder dies, the next acquirer takes the lock over (with a recursion level of 1)
/// and [`RLockGuard::owner_died`] says so (see the [module docs](self)).
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
    /// Word 0: the mutex word. Word 1: the recursion count, touched only by the holder.
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
            block: SharedBlock::new(8)?,
        })
    }

    fn word(&self) -> &AtomicU32 {
        self.block.atomic_u32(0)
    }

    fn count(&self) -> &AtomicU32 {
        self.block.atomic_u32(4)
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

    fn raw_acquire(&self, timeout: Option<Duration>) -> Acquired {
        let me = futex::current_tid();
        if self.word().load(Ordering::Relaxed) & TID_MASK == me {
            self.count().fetch_add(1, Ordering::Relaxed);
            return Acquired::Yes;
        }
        let acquired = mutex_acquire(self.word(), me, timeout);
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
    pub fn release(&self) -> Result<()> {
        if !self.is_owned() {
            return Err(Error::state(
                "RLock.release(): attempt to release recursive lock not owned by thread",
            ));
        }
        if self.count().fetch_sub(1, Ordering::Relaxed) == 1 {
            mutex_release(self.word());
        }
        Ok(())
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
    pub fn is_owned(&self) -> bool {
        self.word().load(Ordering::Relaxed) & TID_MASK == futex::current_tid()
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

impl private::Sealed for RLock {
    fn raw_acquire(&self, timeout: Option<Duration>) -> Acquired {
        RLock::raw_acquire(self, timeout)
    }
    fn raw_release(&self) -> Result<()> {
        self.release()
    }
    fn is_owned(&self) -> bool {
        RLock::is_owned(self)
    }
    fn release_save(&self) -> Result<u32> {
        if !self.is_owned() {
            return Err(Error::state("cannot wait on un-acquired lock"));
        }
        let count = self.count().swap(0, Ordering::Relaxed);
        mutex_release(self.word());
        Ok(count)
    }
    fn acquire_restore(&self, saved: u32) {
        let _ = mutex_acquire(self.word(), futex::current_tid(), None);
        self.count().store(saved, Ordering::Relaxed);
    }
}

impl SyncLock for RLock {}

impl fmt::Debug for RLock {
    /// `RLock(unlocked)`, or `RLock(held by thread 1234)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.word().load(Ordering::Relaxed) & TID_MASK {
            0 => write!(f, "RLock(unlocked)"),
            tid => write!(f, "RLock(held by thread {tid})"),
        }
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
    fn drop(&mut self) {
        let _ = self.lock.release();
    }
}

// ---------------------------------------------------------------------------------------------
// Semaphore and BoundedSemaphore
// ---------------------------------------------------------------------------------------------

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
            let deadline = *deadline.get_or_insert_with(|| timeout.map(|t| Instant::now() + t));
            let left = time_left(deadline);
            if left == Some(Duration::ZERO) {
                return false;
            }
            // Announce ourselves before sleeping: a releaser that increments the value after
            // our check either sees us (and wakes us) or changed the value before the kernel
            // compares it (and we do not sleep). SeqCst orders the two words.
            self.sleepers().fetch_add(1, Ordering::SeqCst);
            sleep_on(value, 0, left);
            self.sleepers().fetch_sub(1, Ordering::Relaxed);
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
        if self.sleepers().load(Ordering::SeqCst) > 0 {
            wake(value, 1);
        }
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

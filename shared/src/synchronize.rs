//! Process-shared synchronization: [`Lock`], [`RLock`], [`Semaphore`], [`BoundedSemaphore`],
//! [`Event`], [`Condition`] and [`Barrier`], after CPython's `multiprocessing/synchronize.py`.
//!
//! Each object lives in shared memory ([`crate::heap`]): a child forked after the object was
//! made (or one that receives it as a [`Process`](crate::Process) argument) shares it with its
//! parent. Clones refer to the same object.
//!
//! How they work (process-shared futexes, no system call when uncontended) and what happens
//! when a holder dies are documented on [`Lock`], where a reader of the API finds them.
//!
//! # Differences from Python
//! - `with lock:` becomes `let _guard = lock.acquire();`: the guard releases when it is
//!   dropped. `acquire(timeout=...)` is [`Lock::acquire_timeout`], returning `None` where
//!   Python returns `False`; `acquire(False)` is [`Lock::try_acquire`].
//! - To hold a lock past the guard's scope (Python's bare `lock.acquire()`), call
//!   [`LockGuard::keep`] and later [`Lock::release`], from this or any process.
//! - Python's exceptions are [`Error`]s: releasing an unlocked lock is [`Error::State`], a
//!   broken barrier is [`Error::BrokenBarrier`].

use std::fmt;
use std::marker::PhantomData;
use std::panic;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::heap::SharedBlock;
use crate::sys::futex::{self, Wake};

/// How long a waiter sleeps before it checks whether the holder of a [`Lock`] or [`RLock`]
/// is still alive. A dead holder is noticed after at most about this long.
pub const OWNER_CHECK_INTERVAL: Duration = Duration::from_millis(100);

/// How many waiters of a [`Condition`] are recorded by thread id, so that a notifier can tell
/// when one died waiting. Waiters beyond this many work the same, untracked.
const WAITER_SLOTS: usize = 32;

/// How long [`Condition::notify`] waits for the processes it woke to leave their sleep.
const NOTIFY_PATIENCE: Duration = Duration::from_secs(2);

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

// ---------------------------------------------------------------------------------------------
// Event
// ---------------------------------------------------------------------------------------------

/// A flag shared between processes that they can wait for, like Python's
/// `multiprocessing.Event`.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use multiprocessing::{Event, Process};
///
/// fn waiter(event: Event) {
///     event.wait(); // sleeps until the parent sets the flag
///     assert!(event.is_set());
/// }
///
/// let event = Event::new()?;
/// let mut p = Process::new(waiter, event.clone());
/// p.start()?;
/// std::thread::sleep(Duration::from_millis(50));
/// event.set();
/// p.join()?;
/// assert_eq!(p.exitcode(), Some(0));
/// # Ok::<(), multiprocessing::Error>(())
/// ```
#[derive(Clone, Serialize, Deserialize)]
pub struct Event {
    /// Word 0: the flag (the futex word). Word 1: how many may be asleep on it.
    block: SharedBlock,
}

impl Event {
    /// A new event, not set.
    ///
    /// # Errors
    /// [`Error::Os`] if shared memory cannot be made.
    ///
    /// # Examples
    ///
    /// ```
    /// let event = multiprocessing::Event::new()?;
    /// assert!(!event.is_set());
    /// # Ok::<(), multiprocessing::Error>(())
    /// ```
    pub fn new() -> Result<Event> {
        Ok(Event {
            block: SharedBlock::new(8)?,
        })
    }

    fn flag(&self) -> &AtomicU32 {
        self.block.atomic_u32(0)
    }

    fn sleepers(&self) -> &AtomicU32 {
        self.block.atomic_u32(4)
    }

    /// Whether the flag is set.
    ///
    /// # Examples
    ///
    /// ```
    /// let event = multiprocessing::Event::new()?;
    /// event.set();
    /// assert!(event.is_set());
    /// # Ok::<(), multiprocessing::Error>(())
    /// ```
    pub fn is_set(&self) -> bool {
        self.flag().load(Ordering::Acquire) != 0
    }

    /// Sets the flag and wakes every process waiting for it.
    ///
    /// # Examples
    ///
    /// ```
    /// let event = multiprocessing::Event::new()?;
    /// event.set();
    /// assert!(event.wait_timeout(std::time::Duration::ZERO));
    /// # Ok::<(), multiprocessing::Error>(())
    /// ```
    pub fn set(&self) {
        self.flag().store(1, Ordering::SeqCst);
        if self.sleepers().load(Ordering::SeqCst) > 0 {
            wake(self.flag(), u32::MAX);
        }
    }

    /// Clears the flag: later waits block until the next [`set`](Event::set).
    ///
    /// # Examples
    ///
    /// ```
    /// let event = multiprocessing::Event::new()?;
    /// event.set();
    /// event.clear();
    /// assert!(!event.is_set());
    /// # Ok::<(), multiprocessing::Error>(())
    /// ```
    pub fn clear(&self) {
        self.flag().store(0, Ordering::SeqCst);
    }

    /// Blocks until the flag is set.
    ///
    /// # Examples
    ///
    /// ```
    /// let event = multiprocessing::Event::new()?;
    /// event.set();
    /// event.wait(); // returns at once
    /// # Ok::<(), multiprocessing::Error>(())
    /// ```
    pub fn wait(&self) {
        self.wait_until(None);
    }

    /// Blocks until the flag is set or `timeout` passes; returns the flag (Python's
    /// `wait(timeout)`).
    ///
    /// # Examples
    ///
    /// ```
    /// let event = multiprocessing::Event::new()?;
    /// assert!(!event.wait_timeout(std::time::Duration::from_millis(10)));
    /// # Ok::<(), multiprocessing::Error>(())
    /// ```
    pub fn wait_timeout(&self, timeout: Duration) -> bool {
        self.wait_until(Some(Instant::now() + timeout))
    }

    fn wait_until(&self, deadline: Option<Instant>) -> bool {
        loop {
            if self.is_set() {
                return true;
            }
            let left = time_left(deadline);
            if left == Some(Duration::ZERO) {
                return false;
            }
            // As for the semaphore: announce, then sleep only while the flag still reads 0.
            self.sleepers().fetch_add(1, Ordering::SeqCst);
            sleep_on(self.flag(), 0, left);
            self.sleepers().fetch_sub(1, Ordering::Relaxed);
        }
    }
}

impl fmt::Debug for Event {
    /// `Event(set)` or `Event(unset)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Event({})", if self.is_set() { "set" } else { "unset" })
    }
}

// ---------------------------------------------------------------------------------------------
// Condition
// ---------------------------------------------------------------------------------------------

/// A condition variable shared between processes, like Python's `multiprocessing.Condition`.
///
/// It is used with its lock held: [`acquire`](Condition::acquire) it, check the state the
/// lock protects, and [`wait`](Condition::wait) until another process changes it and calls
/// [`notify`](Condition::notify). `wait` releases the lock completely while it sleeps (every
/// level of a recursive hold) and restores it before returning.
///
/// The lock is an [`RLock`] by default; [`Condition::with_lock`] takes a [`Lock`] or an
/// `RLock` of your choice.
///
/// `notify(n)` wakes `n` of the processes waiting at that moment (or all, if fewer wait); a
/// process that starts waiting later is not woken by it. Which `n` is unspecified.
///
/// # When a waiter dies
/// CPython's `notify` waits for the processes it wakes, so it hangs forever once a waiter has
/// died. Ours notices: a notifier whose woken waiters are slow to come out checks, every
/// [`OWNER_CHECK_INTERVAL`], whether the waiters it is waiting for still live, and stops
/// counting the dead ones. (The first 32 waiters are tracked by thread id; should a waiter
/// beyond those die, `notify` gives up on it after a couple of seconds instead.)
///
/// # Examples
///
/// ```
/// use multiprocessing::{Condition, Process, Value};
///
/// fn consumer((cond, ready): (Condition, Value<i32>)) {
///     let _guard = cond.acquire(); // with cond:
///     cond.wait_for(|| ready.get() == 1, None).unwrap();
/// }
///
/// let cond = Condition::new()?;
/// let ready = Value::new(0)?;
/// let mut p = Process::new(consumer, (cond.clone(), ready.clone()));
/// p.start()?;
/// {
///     let _guard = cond.acquire();
///     ready.set(1);
///     cond.notify_all()?;
/// }
/// p.join()?;
/// assert_eq!(p.exitcode(), Some(0));
/// # Ok::<(), multiprocessing::Error>(())
/// ```
#[derive(Clone, Serialize, Deserialize)]
#[serde(bound(serialize = "L: Serialize", deserialize = "L: Deserialize<'de>"))]
pub struct Condition<L: SyncLock = RLock> {
    lock: L,
    /// CPython's scheme with counters instead of semaphores. Word 0: a sequence number bumped
    /// by every notify (the futex word waiters sleep on). Word 1: waiters not yet notified
    /// (`_sleeping_count`). Word 2: notifications not yet taken (`_wait_semaphore`). Word 3:
    /// waiters that have left their sleep, by notification or timeout (`_woken_count`).
    /// Words 4 to 4 + [`WAITER_SLOTS`]: the thread ids of waiters, to notice dead ones.
    block: SharedBlock,
}

impl Condition {
    /// A new condition over a new [`RLock`].
    ///
    /// # Errors
    /// [`Error::Os`] if shared memory cannot be made.
    ///
    /// # Examples
    ///
    /// ```
    /// let cond = multiprocessing::Condition::new()?;
    /// let _guard = cond.acquire();
    /// # Ok::<(), multiprocessing::Error>(())
    /// ```
    pub fn new() -> Result<Condition> {
        Condition::with_lock(RLock::new()?)
    }
}

impl<L: SyncLock> Condition<L> {
    /// A new condition over `lock` (Python's `Condition(lock)`).
    ///
    /// # Errors
    /// [`Error::Os`] if shared memory cannot be made.
    ///
    /// # Examples
    ///
    /// ```
    /// use multiprocessing::{Condition, Lock};
    ///
    /// let cond = Condition::with_lock(Lock::new()?)?;
    /// let _guard = cond.acquire();
    /// assert!(cond.get_lock().is_locked());
    /// # Ok::<(), multiprocessing::Error>(())
    /// ```
    pub fn with_lock(lock: L) -> Result<Condition<L>> {
        Ok(Condition {
            lock,
            block: SharedBlock::new(16 + 4 * WAITER_SLOTS)?,
        })
    }

    fn seq(&self) -> &AtomicU32 {
        self.block.atomic_u32(0)
    }

    fn sleeping(&self) -> &AtomicU32 {
        self.block.atomic_u32(4)
    }

    fn tokens(&self) -> &AtomicU32 {
        self.block.atomic_u32(8)
    }

    fn woken(&self) -> &AtomicU32 {
        self.block.atomic_u32(12)
    }

    /// Waiter slot `i`: the thread id of a waiter, or 0.
    fn slot(&self, i: usize) -> &AtomicU32 {
        self.block.atomic_u32(16 + 4 * i)
    }

    /// The underlying lock.
    ///
    /// # Examples
    ///
    /// ```
    /// let cond = multiprocessing::Condition::new()?;
    /// assert!(!cond.get_lock().is_owned());
    /// # Ok::<(), multiprocessing::Error>(())
    /// ```
    pub fn get_lock(&self) -> &L {
        &self.lock
    }

    /// Acquires the underlying lock (Python's `with cond:`); the guard releases it.
    ///
    /// # Examples
    ///
    /// ```
    /// let cond = multiprocessing::Condition::new()?;
    /// let guard = cond.acquire();
    /// assert!(!guard.owner_died());
    /// # Ok::<(), multiprocessing::Error>(())
    /// ```
    pub fn acquire(&self) -> ConditionGuard<'_, L> {
        let acquired = self.lock.raw_acquire(None);
        ConditionGuard {
            cond: self,
            owner_died: acquired == Acquired::OwnerDied,
            _not_send: PhantomData,
        }
    }

    /// Acquires the underlying lock, waiting at most `timeout`.
    ///
    /// # Examples
    ///
    /// ```
    /// let cond = multiprocessing::Condition::new()?;
    /// assert!(cond.acquire_timeout(std::time::Duration::from_millis(10)).is_some());
    /// # Ok::<(), multiprocessing::Error>(())
    /// ```
    pub fn acquire_timeout(&self, timeout: Duration) -> Option<ConditionGuard<'_, L>> {
        match self.lock.raw_acquire(Some(timeout)) {
            Acquired::TimedOut => None,
            a => Some(ConditionGuard {
                cond: self,
                owner_died: a == Acquired::OwnerDied,
                _not_send: PhantomData,
            }),
        }
    }

    /// Releases the lock, sleeps until notified, and acquires the lock again.
    ///
    /// # Errors
    /// [`Error::State`] if the calling thread does not hold the lock (Python's
    /// `RuntimeError: cannot wait on un-acquired lock`).
    ///
    /// # Examples
    ///
    /// ```
    /// let cond = multiprocessing::Condition::new()?;
    /// assert!(cond.wait().is_err()); // not acquired
    /// # Ok::<(), multiprocessing::Error>(())
    /// ```
    pub fn wait(&self) -> Result<()> {
        self.wait_until(None).map(drop)
    }

    /// As [`wait`](Condition::wait), giving up after `timeout`: returns `false` if it was not
    /// notified in time. The lock is held again in both cases.
    ///
    /// # Errors
    /// As [`wait`](Condition::wait).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let cond = multiprocessing::Condition::new()?;
    /// let _guard = cond.acquire();
    /// assert!(!cond.wait_timeout(Duration::from_millis(10))?);
    /// assert!(cond.get_lock().is_owned());
    /// # Ok::<(), multiprocessing::Error>(())
    /// ```
    pub fn wait_timeout(&self, timeout: Duration) -> Result<bool> {
        self.wait_until(Some(Instant::now() + timeout))
    }

    /// Waits until `predicate()` is true, checking it first and after every wake-up; at most
    /// `timeout` if given. Returns the predicate's last result.
    ///
    /// # Errors
    /// As [`wait`](Condition::wait).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let cond = multiprocessing::Condition::new()?;
    /// let _guard = cond.acquire();
    /// assert!(cond.wait_for(|| true, None)?);
    /// assert!(!cond.wait_for(|| false, Some(Duration::from_millis(10)))?);
    /// # Ok::<(), multiprocessing::Error>(())
    /// ```
    pub fn wait_for(&self, mut predicate: impl FnMut() -> bool, timeout: Option<Duration>) -> Result<bool> {
        let deadline = timeout.map(|t| Instant::now() + t);
        loop {
            if predicate() {
                return Ok(true);
            }
            if time_left(deadline) == Some(Duration::ZERO) {
                return Ok(false);
            }
            self.wait_until(deadline)?;
        }
    }

    fn wait_until(&self, deadline: Option<Instant>) -> Result<bool> {
        if !self.lock.is_owned() {
            return Err(Error::state("Condition.wait(): cannot wait on un-acquired lock"));
        }
        self.sleeping().fetch_add(1, Ordering::SeqCst);
        let slot = self.take_slot();
        let saved = self.lock.release_save()?;
        let mut notified = false;
        loop {
            // Read the sequence before looking for a notification: a notify after the look
            // changes it, and the kernel then refuses to put us to sleep.
            let seq = self.seq().load(Ordering::SeqCst);
            if self.take_token() {
                notified = true;
                break;
            }
            let left = time_left(deadline);
            if left == Some(Duration::ZERO) {
                break;
            }
            sleep_on(self.seq(), seq, left);
        }
        // Tell a notifier that waits for its sleepers that we are out (by notification or by
        // timeout), then take the lock back.
        if let Some(slot) = slot {
            self.slot(slot).store(0, Ordering::SeqCst);
        }
        self.woken().fetch_add(1, Ordering::SeqCst);
        wake(self.woken(), 1);
        self.lock.acquire_restore(saved);
        Ok(notified)
    }

    /// Records the calling thread in a free waiter slot, if there is one, so that a notifier
    /// can tell when it died waiting.
    fn take_slot(&self) -> Option<usize> {
        let me = futex::current_tid();
        (0..WAITER_SLOTS).find(|&i| {
            self.slot(i)
                .compare_exchange(0, me, Ordering::SeqCst, Ordering::Relaxed)
                .is_ok()
        })
    }

    /// Counts every waiter that died while waiting as having left (as if it had timed out),
    /// so that nobody waits for it again. Returns how many were found.
    fn reap_dead_waiters(&self) -> u32 {
        let mut dead = 0;
        for i in 0..WAITER_SLOTS {
            let tid = self.slot(i).load(Ordering::SeqCst);
            if tid != 0
                && !futex::thread_alive(tid)
                && self
                    .slot(i)
                    .compare_exchange(tid, 0, Ordering::SeqCst, Ordering::Relaxed)
                    .is_ok()
            {
                self.woken().fetch_add(1, Ordering::SeqCst);
                dead += 1;
            }
        }
        dead
    }

    fn take_token(&self) -> bool {
        self.tokens()
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |t| t.checked_sub(1))
            .is_ok()
    }

    /// Wakes up to `n` waiting processes (Python's `notify(n)`; Python's default `n` is 1).
    ///
    /// As CPython's does, `notify` returns once the processes it woke have left their sleep,
    /// so that a process that starts waiting afterwards cannot take a wake-up meant for an
    /// earlier one. A woken process that died waiting is noticed and not waited for (see
    /// [`Condition`]'s docs).
    ///
    /// # Errors
    /// [`Error::State`] if the calling thread does not hold the lock.
    ///
    /// # Examples
    ///
    /// ```
    /// let cond = multiprocessing::Condition::new()?;
    /// let _guard = cond.acquire();
    /// cond.notify(1)?; // nobody waits: nothing happens
    /// # Ok::<(), multiprocessing::Error>(())
    /// ```
    pub fn notify(&self, n: u32) -> Result<()> {
        if !self.lock.is_owned() {
            return Err(Error::state(
                "Condition.notify(): cannot notify on un-acquired lock",
            ));
        }
        // Account for the waiters that left (by timeout) since the last notify.
        let gone = self.woken().swap(0, Ordering::SeqCst);
        let _ = self
            .sleeping()
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |s| {
                Some(s.saturating_sub(gone))
            });
        let k = n.min(self.sleeping().load(Ordering::SeqCst));
        if k == 0 {
            return Ok(());
        }
        self.sleeping().fetch_sub(k, Ordering::SeqCst);
        self.tokens().fetch_add(k, Ordering::SeqCst);
        self.seq().fetch_add(1, Ordering::SeqCst);
        wake(self.seq(), k);
        // Wait (holding the lock, so nobody new can start waiting) until k waiters are out.
        let deadline = Instant::now() + NOTIFY_PATIENCE;
        loop {
            let out = self.woken().load(Ordering::SeqCst);
            if out >= k {
                self.woken().fetch_sub(k, Ordering::SeqCst);
                // Tokens left over were meant for waiters that timed out instead: drop them.
                self.tokens().store(0, Ordering::SeqCst);
                return Ok(());
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if sleep_on(self.woken(), out, Some(left.min(OWNER_CHECK_INTERVAL))) == Wake::TimedOut
                && self.reap_dead_waiters() > 0
            {
                continue;
            }
            if left.is_zero() {
                // Leave the tokens for the late waiters rather than lose their wake-up, and
                // count them as sleeping again: when they do leave, the next notify's
                // accounting of `woken` takes them off once more.
                self.woken().fetch_sub(out, Ordering::SeqCst);
                self.sleeping().fetch_add(k - out, Ordering::SeqCst);
                return Ok(());
            }
        }
    }

    /// Wakes every waiting process.
    ///
    /// # Errors
    /// [`Error::State`] if the calling thread does not hold the lock.
    ///
    /// # Examples
    ///
    /// ```
    /// let cond = multiprocessing::Condition::new()?;
    /// let _guard = cond.acquire();
    /// cond.notify_all()?;
    /// # Ok::<(), multiprocessing::Error>(())
    /// ```
    pub fn notify_all(&self) -> Result<()> {
        self.notify(u32::MAX)
    }
}

impl<L: SyncLock> fmt::Debug for Condition<L> {
    /// `Condition(sleeping=2)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Condition(sleeping={})",
            self.sleeping().load(Ordering::Relaxed)
        )
    }
}

/// Proof that the calling thread holds a [`Condition`]'s lock; releases it when dropped.
#[must_use = "the lock is released as soon as the guard is dropped"]
pub struct ConditionGuard<'a, L: SyncLock = RLock> {
    cond: &'a Condition<L>,
    owner_died: bool,
    _not_send: PhantomData<*const ()>,
}

impl<L: SyncLock> ConditionGuard<'_, L> {
    /// Whether the lock was taken over from a holder that died while holding it.
    ///
    /// # Examples
    ///
    /// ```
    /// let cond = multiprocessing::Condition::new()?;
    /// assert!(!cond.acquire().owner_died());
    /// # Ok::<(), multiprocessing::Error>(())
    /// ```
    pub fn owner_died(&self) -> bool {
        self.owner_died
    }
}

impl<L: SyncLock> fmt::Debug for ConditionGuard<'_, L> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConditionGuard")
            .field("owner_died", &self.owner_died)
            .finish()
    }
}

impl<L: SyncLock> Drop for ConditionGuard<'_, L> {
    fn drop(&mut self) {
        let _ = self.cond.lock.raw_release();
    }
}

// ---------------------------------------------------------------------------------------------
// Barrier
// ---------------------------------------------------------------------------------------------

/// The barrier's states, as in CPython's `threading.Barrier`.
const FILLING: u32 = 0;
const DRAINING: u32 = 1;
const RESETTING: u32 = 2;
const BROKEN: u32 = 3;

/// A meeting point for a fixed number of processes, like Python's `multiprocessing.Barrier`
/// (which is `threading.Barrier` over shared memory).
///
/// Each of `parties` processes calls [`wait`](Barrier::wait); all of them block until the
/// last one arrives, then all go on. Each gets a distinct index in `0..parties`. The barrier
/// can be used again at once. An optional action runs in one of the processes (the last to
/// arrive) before the others are released.
///
/// The barrier *breaks* when a wait times out, when [`abort`](Barrier::abort) is called, when
/// it is [`reset`](Barrier::reset) while processes wait, or when the action panics: every
/// current and later `wait` then fails with [`Error::BrokenBarrier`] until `reset`.
///
/// # Examples
///
/// ```
/// use multiprocessing::{Barrier, Process};
///
/// fn runner(barrier: Barrier) {
///     let index = barrier.wait().unwrap();
///     assert!(index < 3);
/// }
///
/// let barrier = Barrier::new(3)?;
/// let mut processes: Vec<Process> = (0..2).map(|_| Process::new(runner, barrier.clone())).collect();
/// for p in &mut processes {
///     p.start()?;
/// }
/// barrier.wait()?; // the third party
/// for p in &processes {
///     p.join()?;
///     assert_eq!(p.exitcode(), Some(0));
/// }
/// # Ok::<(), multiprocessing::Error>(())
/// ```
///
/// # Serialization
/// Under `fork` a barrier is simply copied into the child. A `spawn` or `forkserver` child
/// receives its action as the function's offset in the executable (a run of the same program);
/// anywhere else (through a `Connection`, say) a barrier with an action cannot be serialized.
#[derive(Clone, Serialize, Deserialize)]
pub struct Barrier {
    cond: Condition<Lock>,
    /// Word 0: the state. Word 1: how many are inside `wait`. Changed with the lock held.
    block: SharedBlock,
    parties: u32,
    #[serde(serialize_with = "no_action", deserialize_with = "no_action_back")]
    action: Option<fn()>,
    timeout: Option<Duration>,
}

/// Serializes a barrier's action: its absence, or its code offset for a child process.
fn no_action<S: serde::Serializer>(
    action: &Option<fn()>,
    serializer: S,
) -> std::result::Result<S::Ok, S::Error> {
    match action {
        None => Option::<u64>::None.serialize(serializer),
        Some(action) => match crate::spawn::fn_to_child(*action) {
            Some(offset) => Some(offset).serialize(serializer),
            None => Err(serde::ser::Error::custom(
                "a Barrier with an action can only be sent to a child process as its argument",
            )),
        },
    }
}

/// Reads what [`no_action`] wrote.
fn no_action_back<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> std::result::Result<Option<fn()>, D::Error> {
    match Option::<u64>::deserialize(deserializer)? {
        None => Ok(None),
        Some(offset) => crate::spawn::fn_from_parent(offset).map(Some).ok_or_else(|| {
            serde::de::Error::custom("a Barrier's action is only accepted from the parent process")
        }),
    }
}

impl Barrier {
    /// A barrier for `parties` processes, with no action and no default timeout.
    ///
    /// # Errors
    /// [`Error::State`] if `parties` is 0 (Python's `ValueError`); [`Error::Os`] if shared
    /// memory cannot be made.
    ///
    /// # Examples
    ///
    /// ```
    /// let barrier = multiprocessing::Barrier::new(1)?;
    /// assert_eq!(barrier.wait()?, 0); // one party: passes at once
    /// # Ok::<(), multiprocessing::Error>(())
    /// ```
    pub fn new(parties: u32) -> Result<Barrier> {
        if parties == 0 {
            return Err(Error::state("Barrier: parties must be at least 1"));
        }
        Ok(Barrier {
            cond: Condition::with_lock(Lock::new()?)?,
            block: SharedBlock::new(8)?,
            parties,
            action: None,
            timeout: None,
        })
    }

    /// Sets the action run by the last process to arrive, before the others are released
    /// (Python's `action=`).
    ///
    /// # Examples
    ///
    /// ```
    /// fn report() {
    ///     println!("all arrived");
    /// }
    ///
    /// let barrier = multiprocessing::Barrier::new(1)?.with_action(report);
    /// barrier.wait()?; // prints "all arrived"
    /// # Ok::<(), multiprocessing::Error>(())
    /// ```
    #[must_use]
    pub fn with_action(mut self, action: fn()) -> Barrier {
        self.action = Some(action);
        self
    }

    /// Sets the timeout of a [`wait`](Barrier::wait) that is given none (Python's `timeout=`).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let barrier = multiprocessing::Barrier::new(2)?.with_timeout(Duration::from_millis(10));
    /// assert!(barrier.wait().is_err()); // nobody else came: broken
    /// assert!(barrier.broken());
    /// # Ok::<(), multiprocessing::Error>(())
    /// ```
    #[must_use]
    pub fn with_timeout(mut self, timeout: Duration) -> Barrier {
        self.timeout = Some(timeout);
        self
    }

    fn state(&self) -> &AtomicU32 {
        self.block.atomic_u32(0)
    }

    fn count(&self) -> &AtomicU32 {
        self.block.atomic_u32(4)
    }

    /// Waits until all parties have arrived (or the default timeout passes). Returns this
    /// process's arrival index, in `0..parties`.
    ///
    /// # Errors
    /// [`Error::BrokenBarrier`] if the barrier is or becomes broken while waiting.
    ///
    /// # Examples
    ///
    /// ```
    /// let barrier = multiprocessing::Barrier::new(1)?;
    /// assert_eq!(barrier.wait()?, 0);
    /// assert_eq!(barrier.wait()?, 0); // reusable
    /// # Ok::<(), multiprocessing::Error>(())
    /// ```
    pub fn wait(&self) -> Result<u32> {
        self.wait_inner(self.timeout)
    }

    /// As [`wait`](Barrier::wait), giving up after `timeout`, which breaks the barrier.
    ///
    /// # Errors
    /// [`Error::BrokenBarrier`], also on timeout.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let barrier = multiprocessing::Barrier::new(2)?;
    /// assert!(barrier.wait_timeout(Duration::from_millis(10)).is_err());
    /// # Ok::<(), multiprocessing::Error>(())
    /// ```
    pub fn wait_timeout(&self, timeout: Duration) -> Result<u32> {
        self.wait_inner(Some(timeout))
    }

    /// CPython's `Barrier.wait`, step for step.
    fn wait_inner(&self, timeout: Option<Duration>) -> Result<u32> {
        let _guard = self.cond.acquire();
        self.enter()?;
        let index = self.count().fetch_add(1, Ordering::Relaxed);
        let outcome = if index + 1 == self.parties {
            self.release()
        } else {
            Ok(self.wait_released(timeout))
        };
        // CPython's `finally:`
        self.count().fetch_sub(1, Ordering::Relaxed);
        self.exit();
        match outcome {
            Ok(Ok(())) => Ok(index),
            Ok(Err(e)) => Err(e),
            Err(panic) => panic::resume_unwind(panic),
        }
    }

    /// Blocks while the barrier drains or resets; fails if it is broken.
    fn enter(&self) -> Result<()> {
        while matches!(self.state().load(Ordering::Relaxed), DRAINING | RESETTING) {
            self.cond.wait()?;
        }
        if self.state().load(Ordering::Relaxed) == BROKEN {
            return Err(Error::BrokenBarrier);
        }
        Ok(())
    }

    /// The last party: runs the action and lets everyone go. A panic in the action breaks
    /// the barrier and is passed on, as an exception is in Python.
    fn release(&self) -> std::result::Result<Result<()>, Box<dyn std::any::Any + Send>> {
        if let Some(action) = self.action {
            if let Err(panic) = panic::catch_unwind(action) {
                self.break_barrier();
                return Err(panic);
            }
        }
        self.state().store(DRAINING, Ordering::Relaxed);
        let _ = self.cond.notify_all();
        Ok(Ok(()))
    }

    /// Every other party: waits for the release, or breaks the barrier on timeout.
    fn wait_released(&self, timeout: Option<Duration>) -> Result<()> {
        let released = self
            .cond
            .wait_for(|| self.state().load(Ordering::Relaxed) != FILLING, timeout)?;
        if !released {
            self.break_barrier();
            return Err(Error::BrokenBarrier);
        }
        if self.state().load(Ordering::Relaxed) != DRAINING {
            return Err(Error::BrokenBarrier);
        }
        Ok(())
    }

    /// The last one out after a drain or reset makes the barrier fill again.
    fn exit(&self) {
        if self.count().load(Ordering::Relaxed) == 0
            && matches!(self.state().load(Ordering::Relaxed), DRAINING | RESETTING)
        {
            self.state().store(FILLING, Ordering::Relaxed);
            let _ = self.cond.notify_all();
        }
    }

    fn break_barrier(&self) {
        self.state().store(BROKEN, Ordering::Relaxed);
        let _ = self.cond.notify_all();
    }

    /// Returns the barrier to its empty state. Processes waiting on it fail with
    /// [`Error::BrokenBarrier`]; a broken barrier becomes usable again.
    ///
    /// # Examples
    ///
    /// ```
    /// let barrier = multiprocessing::Barrier::new(2)?;
    /// barrier.abort();
    /// assert!(barrier.broken());
    /// barrier.reset();
    /// assert!(!barrier.broken());
    /// # Ok::<(), multiprocessing::Error>(())
    /// ```
    pub fn reset(&self) {
        let _guard = self.cond.acquire();
        if self.count().load(Ordering::Relaxed) > 0 {
            if matches!(self.state().load(Ordering::Relaxed), FILLING | BROKEN) {
                // Wake the waiters with an error; the last one out sets FILLING.
                self.state().store(RESETTING, Ordering::Relaxed);
            }
        } else {
            self.state().store(FILLING, Ordering::Relaxed);
        }
        let _ = self.cond.notify_all();
    }

    /// Breaks the barrier: current and later waits fail with [`Error::BrokenBarrier`] until
    /// [`reset`](Barrier::reset). Use it when a party cannot come, so the others do not wait
    /// forever.
    ///
    /// # Examples
    ///
    /// ```
    /// let barrier = multiprocessing::Barrier::new(2)?;
    /// barrier.abort();
    /// assert!(matches!(barrier.wait(), Err(multiprocessing::Error::BrokenBarrier)));
    /// # Ok::<(), multiprocessing::Error>(())
    /// ```
    pub fn abort(&self) {
        let _guard = self.cond.acquire();
        self.break_barrier();
    }

    /// The number of processes that must call `wait`.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(multiprocessing::Barrier::new(4)?.parties(), 4);
    /// # Ok::<(), multiprocessing::Error>(())
    /// ```
    pub fn parties(&self) -> u32 {
        self.parties
    }

    /// How many processes are waiting now.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(multiprocessing::Barrier::new(2)?.n_waiting(), 0);
    /// # Ok::<(), multiprocessing::Error>(())
    /// ```
    pub fn n_waiting(&self) -> u32 {
        if self.state().load(Ordering::Relaxed) == FILLING {
            self.count().load(Ordering::Relaxed)
        } else {
            0
        }
    }

    /// Whether the barrier is broken.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(!multiprocessing::Barrier::new(2)?.broken());
    /// # Ok::<(), multiprocessing::Error>(())
    /// ```
    pub fn broken(&self) -> bool {
        self.state().load(Ordering::Relaxed) == BROKEN
    }
}

impl fmt::Debug for Barrier {
    /// `Barrier(parties=3, waiting=1, broken=false)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Barrier(parties={}, waiting={}, broken={})",
            self.parties,
            self.n_waiting(),
            self.broken()
        )
    }
}

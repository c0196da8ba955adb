//! The mutex word that [`Lock`](super::Lock) and [`RLock`](super::RLock) share: who holds it,
//! how a waiter sleeps on it, and how a waiter takes it over from a holder that died.
//!
//! Also the trait through which a [`Condition`](super::Condition), a
//! [`Value`](crate::Value) or an [`Array`](crate::Array) uses either lock.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use crate::deadline::Deadline;
use crate::heap::SharedBlock;
use crate::sys::futex::{self, Wake};

use super::OWNER_CHECK_INTERVAL;
use super::owner::Owner;

/// Set in a mutex word when some process may be sleeping on it, so the releaser must wake one.
const WAITERS: u32 = 1 << 31;
/// The holder's thread id (0 when unlocked). Linux thread ids are below 2^22.
const TID_MASK: u32 = !WAITERS;

pub(crate) use private::{Acquired, Sealed};

/// The mutex at the start of a lock's block: two words, the word itself, then the process id
/// of its holder (written by each acquirer, read only to print the owner).
pub(super) struct Mutex<'a> {
    word: &'a AtomicU32,
    holder_pid: &'a AtomicU32,
}

impl<'a> Mutex<'a> {
    /// The bytes a mutex takes at the start of a block; a lock keeps its own words after them.
    pub(super) const SIZE: usize = 8;

    /// The mutex whose words start `block`.
    #[inline]
    pub(super) fn at(block: &'a SharedBlock) -> Mutex<'a> {
        let [word, holder_pid] = block.atomic_u32s(0);
        Mutex::of(word, holder_pid)
    }

    /// The mutex of these two words (the first two of a lock's block, taken with the lock's
    /// own words in one bounds check).
    #[inline]
    pub(super) fn of(word: &'a AtomicU32, holder_pid: &'a AtomicU32) -> Mutex<'a> {
        Mutex { word, holder_pid }
    }

    #[inline]
    fn word(&self) -> &'a AtomicU32 {
        self.word
    }

    #[inline]
    fn holder_pid(&self) -> &'a AtomicU32 {
        self.holder_pid
    }

    /// The thread id of the holder, or 0 when it is free.
    #[inline]
    pub(super) fn holder(&self) -> u32 {
        self.word().load(Ordering::Relaxed) & TID_MASK
    }

    /// Whether the calling thread holds it (a thread that has not named itself yet holds no
    /// lock: see [`futex::tid_if_known`]).
    #[inline]
    pub(super) fn held_by_me(&self) -> bool {
        self.holder() == futex::tid_if_known()
    }

    /// Who holds it, as CPython's `__repr__` names the holder.
    pub(super) fn owner(&self) -> Owner {
        match self.holder() {
            0 => Owner::Nobody,
            tid if tid == futex::current_tid() => Owner::Me,
            _ if self.holder_pid().load(Ordering::Relaxed) == futex::current_pid() => Owner::OtherThread,
            _ => Owner::OtherProcess,
        }
    }

    /// Whether thread `me` holds it.
    #[inline]
    pub(super) fn held_by(&self, me: u32) -> bool {
        self.holder() == me
    }

    /// Takes the mutex for thread `me` (the caller) if it is free now, without waiting: the
    /// uncontended acquire, one compare-exchange.
    #[inline]
    pub(super) fn try_take(&self, me: u32) -> bool {
        if self
            .word()
            .compare_exchange(0, me, Ordering::Acquire, Ordering::Relaxed)
            .is_ok()
        {
            self.holder_pid().store(futex::current_pid(), Ordering::Relaxed);
            return true;
        }
        false
    }

    /// Takes the mutex for the calling thread, waiting at most `timeout` (`None`: forever).
    #[inline]
    pub(super) fn acquire(&self, timeout: Option<Duration>) -> Acquired {
        let acquired = acquire(self.word(), futex::current_tid(), timeout);
        if acquired != Acquired::TimedOut {
            self.holder_pid().store(futex::current_pid(), Ordering::Relaxed);
        }
        acquired
    }

    /// Frees the mutex, waking one sleeper if there may be any. Returns whether it was locked.
    #[inline]
    pub(super) fn release(&self) -> bool {
        release(self.word())
    }
}

/// Takes the mutex `word` for thread `me`, waiting at most `timeout` (`None`: forever).
///
/// The word is 0 when free, else the holder's thread id, plus [`WAITERS`] once someone sleeps.
/// The fast path is one compare-exchange; the slow path is a classic three-state futex mutex
/// (Drepper, "Futexes Are Tricky", mutex 2), except that the holder is named, so that a
/// waiter that sleeps a full [`OWNER_CHECK_INTERVAL`] can check whether it is still alive.
#[inline]
fn acquire(word: &AtomicU32, me: u32, timeout: Option<Duration>) -> Acquired {
    if word
        .compare_exchange(0, me, Ordering::Acquire, Ordering::Relaxed)
        .is_ok()
    {
        return Acquired::Yes;
    }
    acquire_contended(word, me, timeout)
}

/// [`acquire`] after its fast path failed: the word was not free.
#[cold]
#[inline(never)]
fn acquire_contended(word: &AtomicU32, me: u32, timeout: Option<Duration>) -> Acquired {
    let deadline = Deadline::after(timeout);
    // `FUTEX_WAIT`s in a row that found the word changed and did not sleep.
    let mut missed = 0;
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
        if deadline.passed() {
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
        let slice = deadline.left_at_most(OWNER_CHECK_INTERVAL);
        // The futex call fails only for a bad address or operation, which a word of ours in
        // shared memory never is.
        match futex::wait(word, c, Some(slice)).expect("FUTEX_WAIT on a shared-memory word") {
            Wake::TimedOut if take_from_dead(word, c, me) => return Acquired::OwnerDied,
            Wake::Changed => {
                missed += 1;
                if missed >= MISSES_BEFORE_BACKOFF {
                    std::thread::sleep(deadline.left_at_most(BACKOFF));
                }
            }
            _ => missed = 0,
        }
    }
}

/// How many times in a row a waiter may find the word changed before it could sleep, before it
/// backs off: see [`BACKOFF`].
const MISSES_BEFORE_BACKOFF: u32 = 2;

/// How long a waiter stays away from a mutex that is released and taken again faster than it
/// can fall asleep. Such a holder (a loop of short critical sections, as `with v.get_lock():
/// v.value += 1`) frees the word for a few nanoseconds at a time, and a waiter's `FUTEX_WAIT`
/// then finds it changed, again and again: each try costs the waiter a system call and the
/// holder another (the waiters bit makes its release call `FUTEX_WAKE`), so both crawl. Away,
/// the waiter lets the holder run at its uncontended speed; it tries again after this long
/// (plus the kernel's timer slack), bounded by its deadline.
const BACKOFF: Duration = Duration::from_micros(50);

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
#[inline]
fn release(word: &AtomicU32) -> bool {
    let previous = word.swap(0, Ordering::Release);
    if previous & WAITERS != 0 {
        wake_one(word);
    }
    previous != 0
}

/// Wakes one sleeper on a mutex word just freed: the release's slow path.
#[cold]
#[inline(never)]
fn wake_one(word: &AtomicU32) {
    futex::wake(word, 1).expect("FUTEX_WAKE on a shared-memory word");
}

/// What a [`Condition`](super::Condition), a [`Value`](crate::Value) or an
/// [`Array`](crate::Array) needs from its lock; implemented by [`Lock`](super::Lock) and
/// [`RLock`](super::RLock) only (the trait is sealed).
///
/// # Examples
///
/// ```
/// use multiprocessing::{Condition, Lock, RLock, SyncLock, Value};
///
/// // Generic code can take either lock.
/// fn counter<L: SyncLock>(lock: L) -> multiprocessing::Result<Value<i32, L>> {
///     Value::with_lock(0, lock)
/// }
///
/// let a = counter(Lock::new()?)?;
/// let b = counter(RLock::new()?)?;
/// let _cond: Condition<Lock> = Condition::with_lock(Lock::new()?)?;
/// assert_eq!(a.get() + b.get(), 0);
/// # Ok::<(), multiprocessing::Error>(())
/// ```
pub trait SyncLock: private::Sealed {}

mod private {
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

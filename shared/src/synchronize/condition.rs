//! [`Condition`]: a condition variable shared between processes (CPython's
//! `synchronize.Condition`).

use std::fmt;
use std::marker::PhantomData;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::deadline::Deadline;
use crate::error::{Error, Result};
use crate::heap::SharedBlock;
use crate::sys::futex::Wake;

#[cfg(doc)]
use super::Lock;
use super::mutex::{Acquired, SyncLock};
use super::{OWNER_CHECK_INTERVAL, RLock, sleepers, slots};

crate::heap::inherited_only!(condition_by_inheritance, "Condition");

/// How many waiters of a [`Condition`] are recorded by thread id, so that a notifier can tell
/// when one died waiting. Waiters beyond this many work the same, untracked.
const WAITER_SLOTS: usize = 32;

/// How long [`Condition::notify`] waits for the processes it woke to leave their sleep.
const NOTIFY_PATIENCE: Duration = Duration::from_secs(2);

/// The words of a condition's block, by byte offset.
const SEQ: usize = 0;
const SLEEPING: usize = 4;
const TOKENS: usize = 8;
const WOKEN: usize = 12;
const SEQ_SLEEPERS: usize = 16;
const WOKEN_SLEEPERS: usize = 20;
const SLOTS: usize = 24;

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
    #[serde(serialize_with = "condition_by_inheritance")]
    lock: L,
    /// CPython's scheme with counters instead of semaphores. [`SEQ`]: a sequence number bumped
    /// by every notify (the futex word waiters sleep on). [`SLEEPING`]: waiters not yet
    /// notified (`_sleeping_count`). [`TOKENS`]: notifications not yet taken
    /// (`_wait_semaphore`). [`WOKEN`]: waiters that have left their sleep, by notification or
    /// timeout (`_woken_count`; a notifier sleeps on it). [`SEQ_SLEEPERS`] and
    /// [`WOKEN_SLEEPERS`]: who is asleep on those two words ([`sleepers`]). From [`SLOTS`],
    /// [`WAITER_SLOTS`] words: the thread ids of waiters, to notice dead ones.
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
            block: SharedBlock::new(SLOTS + 4 * WAITER_SLOTS)?,
        })
    }

    fn seq(&self) -> &AtomicU32 {
        self.block.atomic_u32(SEQ)
    }

    fn sleeping(&self) -> &AtomicU32 {
        self.block.atomic_u32(SLEEPING)
    }

    fn tokens(&self) -> &AtomicU32 {
        self.block.atomic_u32(TOKENS)
    }

    fn woken(&self) -> &AtomicU32 {
        self.block.atomic_u32(WOKEN)
    }

    fn seq_sleepers(&self) -> &AtomicU32 {
        self.block.atomic_u32(SEQ_SLEEPERS)
    }

    fn woken_sleepers(&self) -> &AtomicU32 {
        self.block.atomic_u32(WOKEN_SLEEPERS)
    }

    /// Waiter slot `i`: the thread id of a waiter, or 0.
    fn slot(&self, i: usize) -> &AtomicU32 {
        self.block.atomic_u32(SLOTS + 4 * i)
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
        self.wait_until(Deadline::NEVER).map(drop)
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
        self.wait_until(Deadline::after(Some(timeout)))
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
        let deadline = Deadline::after(timeout);
        loop {
            if predicate() {
                return Ok(true);
            }
            if deadline.passed() {
                return Ok(false);
            }
            self.wait_until(deadline)?;
        }
    }

    fn wait_until(&self, deadline: Deadline) -> Result<bool> {
        if !self.lock.is_owned() {
            return Err(Error::state("Condition.wait(): cannot wait on un-acquired lock"));
        }
        self.sleeping().fetch_add(1, Ordering::SeqCst);
        // Recorded, if a slot is free, so that a notifier can tell when it died waiting.
        let slot = slots::claim(self.slots());
        let saved = self.lock.release_save()?;
        let mut notified = false;
        loop {
            let left = deadline.left();
            if left == Some(Duration::ZERO) {
                // A notification that came with the deadline still counts.
                notified = self.take_token();
                break;
            }
            // A notifier adds its tokens before it bumps the sequence word we sleep on, so a
            // token we do not find here comes with a changed word, and we do not sleep.
            sleepers::sleep(self.seq(), self.seq_sleepers(), left, |_| {
                notified = self.take_token();
                !notified
            });
            if notified {
                break;
            }
        }
        // Tell a notifier that waits for its sleepers that we are out (by notification or by
        // timeout), then take the lock back.
        if let Some(slot) = slot {
            slot.store(0, Ordering::SeqCst);
        }
        self.woken().fetch_add(1, Ordering::SeqCst);
        sleepers::wake(self.woken(), self.woken_sleepers(), 1);
        self.lock.acquire_restore(saved);
        Ok(notified)
    }

    /// The waiter slots: the thread id of each recorded waiter, or 0.
    fn slots(&self) -> impl Iterator<Item = &AtomicU32> {
        (0..WAITER_SLOTS).map(|i| self.slot(i))
    }

    /// Counts every waiter that died while waiting as having left (as if it had timed out),
    /// so that nobody waits for it again.
    fn reap_dead_waiters(&self) {
        let dead = slots::reap_dead(self.slots());
        if dead > 0 {
            self.woken()
                .fetch_add(u32::try_from(dead).unwrap_or(u32::MAX), Ordering::SeqCst);
        }
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
        sleepers::wake(self.seq(), self.seq_sleepers(), k);
        // Wait (holding the lock, so nobody new can start waiting) until k waiters are out.
        let deadline = Deadline::after(Some(NOTIFY_PATIENCE));
        loop {
            let out = self.woken().load(Ordering::SeqCst);
            if out >= k {
                self.woken().fetch_sub(k, Ordering::SeqCst);
                // Tokens left over were meant for waiters that timed out instead: drop them.
                self.tokens().store(0, Ordering::SeqCst);
                return Ok(());
            }
            if deadline.passed() {
                // Leave the tokens for the late waiters rather than lose their wake-up, and
                // count them as sleeping again: when they do leave, the next notify's
                // accounting of `woken` takes them off once more.
                self.woken().fetch_sub(out, Ordering::SeqCst);
                self.sleeping().fetch_add(k - out, Ordering::SeqCst);
                return Ok(());
            }
            // Sleep a slice at a time: a waiter that died asleep never comes out, and is
            // counted as out by `reap_dead_waiters` instead.
            let slice = deadline.left_at_most(OWNER_CHECK_INTERVAL);
            let woke = sleepers::sleep(self.woken(), self.woken_sleepers(), Some(slice), |out| out < k);
            if woke == Wake::TimedOut {
                self.reap_dead_waiters();
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

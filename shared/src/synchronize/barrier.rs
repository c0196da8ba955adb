//! [`Barrier`]: a meeting point for a fixed number of processes (CPython's
//! `synchronize.Barrier`, which is `threading.Barrier` over shared memory).

use std::fmt;
use std::panic;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::deadline::Deadline;
use crate::error::{Error, Result};
use crate::heap::SharedBlock;
use crate::sys::futex::Wake;

use super::mutex::Sealed;
use super::{Lock, OWNER_CHECK_INTERVAL, sleepers, slots};

crate::heap::inherited_only!(barrier_by_inheritance, "Barrier");

/// The barrier's states, as in CPython's `threading.Barrier`.
const FILLING: u32 = 0;
const DRAINING: u32 = 1;
const RESETTING: u32 = 2;
const BROKEN: u32 = 3;

/// The words of a barrier's block, by byte offset: the state; a sequence number bumped by every
/// change of state (the futex word waiters sleep on); who sleeps on it ([`sleepers`]); and from
/// `SLOTS`, one word per party: the thread id of a party inside `wait`, or 0.
const STATE: usize = 0;
const SEQ: usize = 4;
const SEQ_SLEEPERS: usize = 8;
const SLOTS: usize = 16;

/// The most parties a barrier may have: each has a word of shared memory (256 KiB at most).
const MAX_PARTIES: u32 = 1 << 16;

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
/// # When a party dies
/// CPython counts a party that dies inside `wait` for ever: it never runs the `finally` that
/// takes it off, so the barrier passes one party short, or never drains and blocks every later
/// `wait`, timed or not. Ours records each party inside `wait` by thread id and takes a dead
/// one off (as if it had left with an exception, which in CPython does not break the barrier):
/// when the last party seems to have arrived, while a round drains for longer than
/// [`OWNER_CHECK_INTERVAL`], and in [`reset`](Barrier::reset) and
/// [`n_waiting`](Barrier::n_waiting). The live parties go on waiting for a party to take its
/// place, until their timeout breaks the barrier as usual. A timed `wait` returns by its
/// deadline, dead parties or not (unless the action is still running then: as in CPython, it
/// runs holding the barrier's lock, which every party needs to leave); if the previous round
/// is still draining at the deadline, it fails with [`Error::BrokenBarrier`] without breaking
/// the barrier, which that round's parties have passed.
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
/// # Sharing it with another process
/// By inheritance only, as a [`Lock`]: as a process's argument. Under `fork` a barrier is
/// simply copied into the child. A `spawn` or `forkserver` child receives its action as the
/// function's offset in the executable (a run of the same program).
#[derive(Clone, Serialize, Deserialize)]
pub struct Barrier {
    /// Held to change or read the block (CPython's `Condition(Lock())`).
    #[serde(serialize_with = "barrier_by_inheritance")]
    lock: Lock,
    /// The state, the sequence word and the parties' slots (see [`STATE`]).
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
        Some(action) => match crate::reduction::fn_to_child(*action) {
            Some(offset) => Some(offset).serialize(serializer),
            None => Err(crate::codec::refuse(
                "a Barrier with an action can only be sent to a child process as its argument".into(),
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
        Some(offset) => crate::reduction::fn_from_parent(offset).map(Some).ok_or_else(|| {
            serde::de::Error::custom("a Barrier's action is only accepted from the parent process")
        }),
    }
}

impl Barrier {
    /// A barrier for `parties` processes, with no action and no default timeout.
    ///
    /// # Errors
    /// [`Error::State`] if `parties` is 0 (Python's `ValueError`) or more than 65,536 (each
    /// party has a word of shared memory); [`Error::Os`] if shared memory cannot be made.
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
        if parties > MAX_PARTIES {
            return Err(Error::state(format!(
                "Barrier: at most {MAX_PARTIES} parties, not {parties}"
            )));
        }
        Ok(Barrier {
            lock: Lock::new()?,
            block: SharedBlock::new(SLOTS + 4 * parties as usize)?,
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
        self.block.atomic_u32(STATE)
    }

    fn seq(&self) -> &AtomicU32 {
        self.block.atomic_u32(SEQ)
    }

    fn seq_sleepers(&self) -> &AtomicU32 {
        self.block.atomic_u32(SEQ_SLEEPERS)
    }

    /// Party slot `i`: the thread id of a party inside `wait`, or 0.
    fn slot(&self, i: usize) -> &AtomicU32 {
        self.block.atomic_u32(SLOTS + 4 * i)
    }

    fn slots(&self) -> impl Iterator<Item = &AtomicU32> {
        (0..self.parties as usize).map(|i| self.slot(i))
    }

    /// How many parties are inside `wait` (CPython's `_count`).
    fn count(&self) -> u32 {
        let n = self.slots().filter(|s| s.load(Ordering::Relaxed) != 0).count();
        u32::try_from(n).unwrap_or(u32::MAX)
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

    /// CPython's `Barrier.wait`, step for step, with each party inside recorded in a slot.
    fn wait_inner(&self, timeout: Option<Duration>) -> Result<u32> {
        let deadline = Deadline::after(timeout);
        let _guard = self.lock.acquire();
        self.enter(deadline)?;
        let Some(slot) = slots::claim(self.slots()) else {
            // Only `parties` can be inside at once (the rest wait in `enter`): a full table
            // means the memory was written by something other than a barrier.
            return Err(Error::state("Barrier: more parties inside wait than it has"));
        };
        let mut arrived = self.count();
        if arrived == self.parties && self.reap_dead() {
            // The round is complete only if every party in it still lives.
            arrived = self.count();
        }
        let index = arrived - 1;
        let outcome = if arrived == self.parties {
            self.release()
        } else {
            Ok(self.wait_released(deadline))
        };
        // CPython's `finally:`
        slot.store(0, Ordering::Relaxed);
        self.exit();
        match outcome {
            Ok(Ok(())) => Ok(index),
            Ok(Err(e)) => Err(e),
            Err(panic) => panic::resume_unwind(panic),
        }
    }

    /// Sets the state and wakes every process asleep in [`sleep_unlocked`](Self::sleep_unlocked),
    /// so that each looks at it again.
    fn set_state(&self, state: u32) {
        self.state().store(state, Ordering::Relaxed);
        self.seq().fetch_add(1, Ordering::SeqCst);
        sleepers::wake(self.seq(), self.seq_sleepers(), u32::MAX);
    }

    /// Releases the lock, sleeps until the state changes or `slice` passes, and takes the lock
    /// again (CPython's `self._cond.wait(timeout)`).
    fn sleep_unlocked(&self, slice: Duration) -> Wake {
        // Read under the lock: a change of state after we let go bumps the word, and the kernel
        // then does not put us to sleep.
        let seen = self.seq().load(Ordering::SeqCst);
        // Held by us: the release cannot fail.
        let _ = self.lock.release();
        let woke = sleepers::sleep(self.seq(), self.seq_sleepers(), Some(slice), |seq| seq == seen);
        // The guard of `wait_inner` releases it again. A holder that died is taken over; the
        // state it left is whole, as every change is one store.
        self.lock.acquire().keep();
        woke
    }

    /// Blocks while the barrier drains or resets; fails if it is broken, or if the deadline
    /// passes first (without breaking it: the draining parties have passed).
    fn enter(&self, deadline: Deadline) -> Result<()> {
        while matches!(self.state().load(Ordering::Relaxed), DRAINING | RESETTING) {
            if deadline.passed() {
                return Err(Error::BrokenBarrier);
            }
            // A party that died before it left would hold the round open for ever: look for
            // the dead whenever a slice passes without the round ending.
            if self.sleep_unlocked(deadline.left_at_most(OWNER_CHECK_INTERVAL)) == Wake::TimedOut {
                self.reap_dead();
            }
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
                self.set_state(BROKEN);
                return Err(panic);
            }
        }
        self.set_state(DRAINING);
        Ok(Ok(()))
    }

    /// Every other party: waits for the release, or breaks the barrier on timeout.
    fn wait_released(&self, deadline: Deadline) -> Result<()> {
        while self.state().load(Ordering::Relaxed) == FILLING {
            if deadline.passed() {
                self.set_state(BROKEN);
                return Err(Error::BrokenBarrier);
            }
            // A slice at a time: should the last party die between its change of state and
            // the wake-up, we still see the change.
            self.sleep_unlocked(deadline.left_at_most(OWNER_CHECK_INTERVAL));
        }
        if self.state().load(Ordering::Relaxed) != DRAINING {
            return Err(Error::BrokenBarrier);
        }
        Ok(())
    }

    /// The last one out after a drain or reset makes the barrier fill again.
    fn exit(&self) {
        if self.count() == 0 && matches!(self.state().load(Ordering::Relaxed), DRAINING | RESETTING) {
            self.set_state(FILLING);
        }
    }

    /// Takes every party that died inside `wait` off the count, as if it had left; if it was
    /// the last one out of a draining or resetting round, the barrier fills again. Called with
    /// the lock held. Returns whether it found one.
    fn reap_dead(&self) -> bool {
        let found = slots::reap_dead(self.slots()) > 0;
        if found {
            self.exit();
        }
        found
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
        let _guard = self.lock.acquire();
        self.reap_dead();
        if self.count() > 0 {
            if matches!(self.state().load(Ordering::Relaxed), FILLING | BROKEN) {
                // Wake the waiters with an error; the last one out sets FILLING.
                self.set_state(RESETTING);
            }
        } else {
            self.set_state(FILLING);
        }
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
        let _guard = self.lock.acquire();
        self.set_state(BROKEN);
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

    /// How many processes are waiting now. A party that died waiting is not counted.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(multiprocessing::Barrier::new(2)?.n_waiting(), 0);
    /// # Ok::<(), multiprocessing::Error>(())
    /// ```
    pub fn n_waiting(&self) -> u32 {
        // Inside the action this thread holds the lock already (and the dead were just
        // looked for): taking it again would deadlock.
        if !self.lock.is_owned() {
            let _guard = self.lock.acquire();
            self.reap_dead();
        }
        self.waiting()
    }

    /// [`n_waiting`](Barrier::n_waiting) as last recorded, the dead included.
    fn waiting(&self) -> u32 {
        if self.state().load(Ordering::Relaxed) == FILLING {
            self.count()
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
            self.waiting(),
            self.broken()
        )
    }
}

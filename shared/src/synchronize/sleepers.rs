//! The futex wait that every blocking object of the runtime shares: a word that changes when
//! the object's state changes, a count of the processes asleep on it, and the rule that makes
//! a wake-up impossible to lose. Locks, semaphores, conditions, barriers and the queues'
//! ring all sleep through [`sleep`] and wake through [`wake`], so the argument below is made
//! once.
//!
//! # Why no wake-up is lost
//! A sleeper (1) counts itself in `sleepers`, (2) reads `word`, (3) checks its condition with
//! the value it read, and (4) asks the kernel to sleep *only while `word` still holds that
//! value*. A waker (a) changes the state and `word`, then (b) reads `sleepers` and calls
//! `FUTEX_WAKE` if it is not zero. All four steps of each side are `SeqCst`, so they fall in
//! one order:
//! - if (b) comes after (1), the waker sees the sleeper and wakes it (if the sleeper is not
//!   asleep yet, the kernel's compare in (4) sees the changed word and does not sleep);
//! - if (b) comes before (1), then (a) came before (2): the sleeper reads the new word and its
//!   check in (3) sees the new state, so it does not sleep at all.
//!
//! The count lets an uncontended waker skip the system call: a release that nobody waits for
//! costs one atomic read.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use crate::sys::futex::{self, Wake};

/// Sleeps on `word` for at most `timeout` (`None`: until woken), announced in `sleepers`,
/// unless `blocked(value)` says the value just read no longer blocks the caller.
///
/// Returns [`Wake::Woken`] when the caller should look at its state again (woken, a signal, a
/// spurious wake-up, the word changed, or `blocked` said no) and [`Wake::TimedOut`] when the
/// timeout passed. The caller loops: look, then sleep again with the time that is left.
pub(crate) fn sleep(
    word: &AtomicU32,
    sleepers: &AtomicU32,
    timeout: Option<Duration>,
    blocked: impl FnOnce(u32) -> bool,
) -> Wake {
    sleepers.fetch_add(1, Ordering::SeqCst);
    let seen = word.load(Ordering::SeqCst);
    let woke = if blocked(seen) {
        // The futex call fails only for a bad address or operation, which a word of ours in
        // shared memory never is.
        futex::wait(word, seen, timeout).expect("FUTEX_WAIT on a shared-memory word")
    } else {
        Wake::Woken
    };
    sleepers.fetch_sub(1, Ordering::SeqCst);
    woke
}

/// Wakes at most `n` of the processes asleep on `word` in [`sleep`], after the caller changed
/// the state (and `word`): no system call when nobody sleeps.
pub(crate) fn wake(word: &AtomicU32, sleepers: &AtomicU32, n: u32) {
    if sleepers.load(Ordering::SeqCst) > 0 {
        futex::wake(word, n).expect("FUTEX_WAKE on a shared-memory word");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_changed_word_does_not_sleep() {
        let word = AtomicU32::new(1);
        let sleepers = AtomicU32::new(0);
        // The condition is already met: no sleep, and the count is back to zero.
        assert_eq!(sleep(&word, &sleepers, None, |v| v == 0), Wake::Woken);
        assert_eq!(sleepers.load(Ordering::SeqCst), 0);
    }

    #[test]
    fn a_blocked_sleeper_times_out() {
        let word = AtomicU32::new(0);
        let sleepers = AtomicU32::new(0);
        let woke = sleep(&word, &sleepers, Some(Duration::from_millis(5)), |v| v == 0);
        assert_eq!(woke, Wake::TimedOut);
        assert_eq!(sleepers.load(Ordering::SeqCst), 0);
    }

    #[test]
    fn a_waker_wakes_a_sleeper_in_another_thread() {
        static WORD: AtomicU32 = AtomicU32::new(0);
        static SLEEPERS: AtomicU32 = AtomicU32::new(0);
        let t = std::thread::spawn(|| {
            loop {
                if WORD.load(Ordering::SeqCst) != 0 {
                    return;
                }
                sleep(&WORD, &SLEEPERS, Some(Duration::from_secs(10)), |v| v == 0);
            }
        });
        std::thread::sleep(Duration::from_millis(10));
        WORD.store(1, Ordering::SeqCst);
        wake(&WORD, &SLEEPERS, 1);
        t.join().unwrap();
    }
}

//! The futex wait that every blocking object of the runtime shares: a word that changes when
//! the object's state changes, a count of the processes asleep on it, and the rule that makes
//! a wake-up impossible to lose. Locks, semaphores, conditions and barriers sleep through
//! [`sleep`] and wake through [`wake`]; the queues' ring, whose every wake-up wakes everyone,
//! through [`sleep_flagged`] and [`wake_all_flagged`]. Each argument is made once, here.
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
//!
//! # Words that always wake everyone: a waiting bit instead of a count
//! A count stays up until each woken sleeper has run again, and a busy waker (a queue's
//! producer, putting every few hundred nanoseconds) calls `FUTEX_WAKE` on every change in
//! between, although everyone is already awake. Where every wake-up wakes all sleepers, the
//! announcement is instead the low bit of the word itself ([`sleep_flagged`],
//! [`wake_all_flagged`]): a sleeper (1) sets the bit and reads the word in one atomic step,
//! (2) checks its condition, and (3) sleeps only while the word still holds the value read in
//! (1), bit included. A waker (a) changes the state, then (b) bumps the word and clears the bit
//! in one atomic step, and calls `FUTEX_WAKE` only if the bit was set. Steps (1) and (b) are
//! read-modify-writes of one word, so one comes first:
//! - if (1) comes first, (b) sees the bit and wakes everyone; a sleeper not asleep yet finds the
//!   word changed in (3), bit and count, and does not sleep;
//! - if (b) comes first, (1) reads the word (b) wrote, and so sees the state (a) changed: the
//!   sleeper's check in (2) finds it.
//!
//! A woken sleeper that must wait again sets the bit again, so the next change wakes it; a waker
//! that finds the bit clear (everyone already woken, nobody asleep) makes no system call.

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

/// The announcement bit of a word slept on with [`sleep_flagged`].
const WAITING: u32 = 1;

/// Sleeps on `word` for at most `timeout` (`None`: until woken), announced by the word's low
/// bit, unless `blocked()`, asked after the announcement, says the caller need not wait. For
/// words whose every wake-up is [`wake_all_flagged`] (see the module's second argument).
///
/// Returns as [`sleep`] does; the caller loops the same way.
pub(crate) fn sleep_flagged(
    word: &AtomicU32,
    timeout: Option<Duration>,
    blocked: impl FnOnce() -> bool,
) -> Wake {
    let seen = word.fetch_or(WAITING, Ordering::SeqCst) | WAITING;
    if !blocked() {
        return Wake::Woken;
    }
    futex::wait(word, seen, timeout).expect("FUTEX_WAIT on a shared-memory word")
}

/// Changes `word` after the caller changed the state, and wakes every process asleep on it in
/// [`sleep_flagged`]: no system call unless one announced itself since the last wake-up.
pub(crate) fn wake_all_flagged(word: &AtomicU32) {
    // Bump the count above the bit and clear the bit: (v | 1) + 1 is v + 2 with bit 0 clear.
    let old = word
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |v| {
            Some((v | WAITING).wrapping_add(1))
        })
        .unwrap_or_else(|v| v);
    if old & WAITING != 0 {
        futex::wake(word, u32::MAX).expect("FUTEX_WAKE on a shared-memory word");
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
    fn a_flagged_word_wakes_once_then_skips_the_call() {
        let word = AtomicU32::new(0);
        // Not blocked: the bit is set, no sleep.
        assert_eq!(sleep_flagged(&word, None, || false), Wake::Woken);
        assert_eq!(word.load(Ordering::SeqCst), 1);
        // The waker clears the bit and bumps the count; the next one finds no bit.
        wake_all_flagged(&word);
        assert_eq!(word.load(Ordering::SeqCst), 2);
        wake_all_flagged(&word);
        assert_eq!(word.load(Ordering::SeqCst), 4);
        // A blocked sleeper that nobody wakes times out, its bit left for the next waker.
        let woke = sleep_flagged(&word, Some(Duration::from_millis(5)), || true);
        assert_eq!(woke, Wake::TimedOut);
        assert_eq!(word.load(Ordering::SeqCst), 5);
    }

    #[test]
    fn a_flagged_sleeper_in_another_thread_is_woken() {
        static WORD: AtomicU32 = AtomicU32::new(0);
        static READY: AtomicU32 = AtomicU32::new(0);
        let t = std::thread::spawn(|| {
            while READY.load(Ordering::SeqCst) == 0 {
                sleep_flagged(&WORD, Some(Duration::from_secs(10)), || {
                    READY.load(Ordering::SeqCst) == 0
                });
            }
        });
        std::thread::sleep(Duration::from_millis(10));
        let started = std::time::Instant::now();
        READY.store(1, Ordering::SeqCst);
        wake_all_flagged(&WORD);
        t.join().unwrap();
        // A lost wake-up would leave the thread asleep for its 10 s timeout.
        assert!(started.elapsed() < Duration::from_secs(5));
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

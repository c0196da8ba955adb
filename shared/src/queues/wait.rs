//! How a ring's producer waits for room and its consumer for data: check, spin a little, then
//! sleep on a futex word through [`sleepers`](crate::synchronize::sleepers), which argues once
//! why no wake-up is lost.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use crate::deadline::Deadline;
use crate::synchronize::OWNER_CHECK_INTERVAL;
use crate::synchronize::sleepers;
use crate::sys::futex::Wake;

/// How long a waiter keeps checking before it goes to sleep. A sleeping process costs its
/// waker a system call and itself a trip through the scheduler (measured here: 55 us for a
/// wake-up on another core), while a producer and consumer running at once on two cores see
/// each other's writes within a microsecond. Spinning longer only burns a core that another
/// process may need (measured: a 100 us spin made round trips ten times slower on a busy
/// machine), so the spin is short, bounded in time, and idle waiting costs no CPU.
const SPIN_TIME: Duration = Duration::from_micros(10);

/// How many checks between two looks at the clock while spinning.
const SPIN_CHECKS: u32 = 16;

/// Bumps the futex word `seq` after the caller changed the state a waiter checks, and wakes
/// every process asleep on it: no system call when nobody sleeps.
pub(super) fn notify(seq: &AtomicU32, sleepers: &AtomicU32) {
    seq.fetch_add(1, Ordering::SeqCst);
    sleepers::wake(seq, sleepers, u32::MAX);
}

/// Waits until `ready()` or `deadline`: checks once (no clock is read when the state is already
/// there, the common case of a `put` into a ring with room), spins a little, then sleeps on
/// `seq`, announced in `sleepers` (see [`notify`]). Calls `idle` after each
/// [`OWNER_CHECK_INTERVAL`] asleep, so the caller can look for a dead peer.
///
/// `ready` is checked after the sleeper has counted itself and read `seq` (inside
/// [`sleepers::sleep`]), which is what keeps a wake-up from being lost: the notifier changes
/// the state before it bumps `seq`. The state itself may be a release store that `ready`
/// reads with an acquire load: a sleeper that reads the bumped `seq` synchronizes with the
/// bump and sees the new state; one that read `seq` before the bump either finds the word
/// changed in the kernel or is counted when the notifier looks, and woken.
pub(super) fn wait_until(
    seq: &AtomicU32,
    sleepers: &AtomicU32,
    deadline: Deadline,
    mut ready: impl FnMut() -> bool,
    mut idle: impl FnMut(),
) -> bool {
    if ready() {
        return true;
    }
    if deadline.passed() {
        return false;
    }
    let spin_until = Instant::now() + SPIN_TIME;
    'spin: loop {
        for _ in 0..SPIN_CHECKS {
            if ready() {
                return true;
            }
            std::hint::spin_loop();
        }
        if Instant::now() >= spin_until {
            break 'spin;
        }
    }
    loop {
        let slice = deadline.left_at_most(OWNER_CHECK_INTERVAL);
        if slice.is_zero() {
            return ready();
        }
        let woke = sleepers::sleep(seq, sleepers, Some(slice), |_| !ready());
        if ready() {
            return true;
        }
        if woke == Wake::TimedOut {
            idle();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ready_state_returns_at_once_and_a_passed_deadline_gives_up() {
        let (seq, sleepers) = (AtomicU32::new(0), AtomicU32::new(0));
        assert!(wait_until(&seq, &sleepers, Deadline::NEVER, || true, || ()));
        let past = Deadline::after(Some(Duration::ZERO));
        assert!(!wait_until(&seq, &sleepers, past, || false, || ()));
        let soon = Deadline::after(Some(Duration::from_millis(20)));
        let started = Instant::now();
        assert!(!wait_until(&seq, &sleepers, soon, || false, || ()));
        assert!(started.elapsed() >= Duration::from_millis(20));
        assert_eq!(sleepers.load(Ordering::SeqCst), 0);
    }
}

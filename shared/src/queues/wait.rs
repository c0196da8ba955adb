//! How a ring's producer waits for room and its consumer for data: check, spin a little, then
//! sleep on a futex word through [`sleepers`](crate::synchronize::sleepers), which argues once
//! why no wake-up is lost. Every change wakes every sleeper, so the word carries its own
//! waiting bit ([`sleep_flagged`](sleepers::sleep_flagged)): once the sleepers are woken, the
//! puts that follow make no system call until one of them waits again.

use std::sync::atomic::AtomicU32;
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
/// every process asleep on it: no system call when nobody announced itself since the last
/// wake-up.
pub(super) fn notify(seq: &AtomicU32) {
    sleepers::wake_all_flagged(seq);
}

/// Waits until `ready()` or `deadline`: checks once (no clock is read when the state is already
/// there, the common case of a `put` into a ring with room), spins a little, then sleeps on
/// `seq` with its waiting bit set (see [`notify`]). Calls `idle` after each
/// [`OWNER_CHECK_INTERVAL`] asleep, so the caller can look for a dead peer.
///
/// `ready` is checked after the sleeper has set the bit and read `seq` in one step (inside
/// [`sleepers::sleep_flagged`]), which is what keeps a wake-up from being lost: the notifier
/// changes the state before it bumps `seq`. The state itself may be a release store that
/// `ready` reads with an acquire load: a sleeper whose read-modify-write of `seq` follows the
/// bump synchronizes with it and sees the new state; one whose step came first either finds the
/// word changed in the kernel or is woken, as the notifier sees its bit.
pub(super) fn wait_until(
    seq: &AtomicU32,
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
        let woke = sleepers::sleep_flagged(seq, Some(slice), || !ready());
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
    use std::sync::atomic::Ordering;

    #[test]
    fn a_ready_state_returns_at_once_and_a_passed_deadline_gives_up() {
        let seq = AtomicU32::new(0);
        assert!(wait_until(&seq, Deadline::NEVER, || true, || ()));
        let past = Deadline::after(Some(Duration::ZERO));
        assert!(!wait_until(&seq, past, || false, || ()));
        let soon = Deadline::after(Some(Duration::from_millis(20)));
        let started = Instant::now();
        assert!(!wait_until(&seq, soon, || false, || ()));
        assert!(started.elapsed() >= Duration::from_millis(20));
        // The sleeper left its bit: the next notify wakes (nobody) and clears it.
        assert_eq!(seq.load(Ordering::SeqCst) & 1, 1);
        notify(&seq);
        assert_eq!(seq.load(Ordering::SeqCst) & 1, 0);
    }
}

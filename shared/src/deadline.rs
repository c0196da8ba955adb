//! Deadlines: the one place that turns a caller's timeout into "how long may I still sleep".
//!
//! Every timed call of the runtime (`join_timeout`, `acquire_timeout`, `get_timeout`, a
//! queue's `put` and `get`, ...) may sleep several times before it returns: woken early, it
//! checks its condition and sleeps again for *what is left*, never for the whole timeout again.
//! A [`Deadline`] is computed once, when the call begins, and asked for the time left before
//! each sleep, so a timed call returns by its deadline however often it is woken.
use std::time::{Duration, Instant};

/// When a timed call must give up; `None` inside means never (a call without a timeout).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Deadline(Option<Instant>);

impl Deadline {
    /// The deadline `timeout` from now; `None` waits for ever. A timeout too large to add to the
    /// clock also waits for ever.
    pub(crate) fn after(timeout: Option<Duration>) -> Deadline {
        Deadline(timeout.and_then(|t| Instant::now().checked_add(t)))
    }

    /// A deadline that never passes.
    pub(crate) const NEVER: Deadline = Deadline(None);

    /// How long a sleep may still last: `None` for ever, `Some(ZERO)` once the deadline passed.
    pub(crate) fn left(self) -> Option<Duration> {
        self.0.map(|d| d.saturating_duration_since(Instant::now()))
    }

    /// Whether the deadline has passed.
    pub(crate) fn passed(self) -> bool {
        self.left() == Some(Duration::ZERO)
    }

    /// The time left, capped at `slice`: a sleeper that must look at something else now and
    /// then (a dead owner, a dead peer) sleeps at most `slice` at a time.
    pub(crate) fn left_at_most(self, slice: Duration) -> Duration {
        self.left().map_or(slice, |left| left.min(slice))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_has_no_end() {
        assert_eq!(Deadline::NEVER.left(), None);
        assert!(!Deadline::after(None).passed());
        assert_eq!(
            Deadline::NEVER.left_at_most(Duration::from_millis(5)),
            Duration::from_millis(5)
        );
    }

    #[test]
    fn the_time_left_shrinks_to_zero() {
        let d = Deadline::after(Some(Duration::from_millis(50)));
        assert!(d.left().unwrap() <= Duration::from_millis(50));
        assert!(!d.passed());
        let past = Deadline::after(Some(Duration::ZERO));
        assert!(past.passed());
        assert_eq!(past.left_at_most(Duration::from_secs(1)), Duration::ZERO);
    }

    #[test]
    fn a_huge_timeout_waits_for_ever() {
        assert_eq!(Deadline::after(Some(Duration::MAX)), Deadline::NEVER);
    }
}

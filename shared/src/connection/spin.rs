//! The short spin of a receive that finds nothing to read: it keeps trying without blocking for
//! a few tens of microseconds before it sleeps in the kernel, because a peer that answers
//! within that time is seen at once instead of after a wake-up (see the `Connection` docs,
//! "Waiting: a short spin, then sleep").
//!
//! The spin adapts to the waits for messages. It pays while the peer answers within a few
//! microseconds (a round trip) or a few tens (a manager's reply); it does not when messages
//! come every 40 us or more: a receiver that spun for each would burn a CPU to save a wake-up
//! it could have slept through (measured in issue 16: a message every 40 us took the receiver
//! from ~20% of a CPU with blocking reads to ~95% with a 50 us spin).
//!
//! So:
//! - a spin that runs out is a miss, and so are two spins in a row that catch their message
//!   only after [`WORTH`] (one may just have met a peer that was descheduled): misses in a row
//!   make the connection sleep at once for the next 1, 3, 7, ... 255 receives;
//! - a spin that catches its message early lets the next receive spin too, and if the receive
//!   before it also spun, the misses are forgotten: spinning pays again.
//!
//! Why a spin after a spin: a receiver that slept wakes late (~40 us on a VM), so the wait right
//! after a sleep looks short even in a slow trickle. The spins after that one show the real
//! gaps: in a trickle they catch late (another miss), in a round trip early (back to spinning).

use std::io;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// The longest a receive that finds nothing to read keeps trying before it sleeps in the
/// kernel. Waking a process asleep on an idle CPU costs ~40 us on this machine (a VM with
/// cpuidle), against ~0.3 us for a try; a peer that answers within the spin is seen at once.
/// Measured (`mp-bench`, 2026-11-27 11:58 UTC): 10 us is too short for a manager's answer
/// (no gain), 20-100 us all gave the full gain; 50 us leaves room for a slower answer.
const SPIN_TIME: Duration = Duration::from_micros(50);

/// A spin that waited longer than this for its message was not worth its CPU time (a sleep
/// and a wake-up cost the receiver a few microseconds of CPU, a spin all of its length): it
/// counts as a miss, as one that ran out does. Long enough for a manager's reply (20 us gave
/// the full gain, above), short enough that a message every 40 us is slept for.
const WORTH: Duration = Duration::from_micros(25);

/// Misses in a row make a connection sleep without spinning for the next `2^misses - 1`
/// receives, at most `2^MAX_MISSES - 1`, so a connection that waits long for each message (an
/// idle worker, a slow trickle) spends almost nothing on spinning.
const MAX_MISSES: u32 = 8;

/// One connection's spin state: what its recent waits taught it.
pub(super) struct Spin {
    /// Misses in a row (spins that ran out, or caught their message late).
    misses: AtomicU32,
    /// Receives left to sleep without spinning, after a miss.
    skip: AtomicU32,
    /// Whether the last wait ended in a sleep (so the next one may look shorter than the gaps
    /// between messages are).
    slept: AtomicBool,
    /// Whether the last spin caught its message late.
    late: AtomicBool,
}

impl Spin {
    pub(super) fn new() -> Spin {
        Spin {
            misses: AtomicU32::new(0),
            skip: AtomicU32::new(0),
            slept: AtomicBool::new(false),
            late: AtomicBool::new(false),
        }
    }

    /// One read that returns data or the end of file: `read(true)` must never sleep
    /// (`Ok(None)`: nothing there yet), `read(false)` may. When nothing is waiting, spins on
    /// `read(true)` for up to `SPIN_TIME` (unless this connection is not spinning now), then
    /// sleeps in `read(false)`; learns from each wait whether spinning pays (see the module
    /// docs).
    pub(super) fn read(&self, mut read: impl FnMut(bool) -> io::Result<Option<usize>>) -> io::Result<usize> {
        if let Some(n) = read(true)? {
            // Something was waiting: no wait, nothing to learn.
            return Ok(n);
        }
        let skip = self.skip.load(Ordering::Relaxed);
        if skip > 0 {
            self.skip.store(skip - 1, Ordering::Relaxed);
        } else {
            let started = Instant::now();
            // How long the spin had lasted at the last look at the clock: a catch is timed
            // by it, which spares a round trip's catch a clock read.
            let mut waited = Duration::ZERO;
            loop {
                // Between two tries, the CPU goes to any process that is ready to run: on a
                // machine with more busy processes than CPUs that is often the peer we wait
                // for (a manager's server, a pool worker), and with a CPU to spare it returns
                // at once. Measured against 8 pause instructions (`mp-bench`, 7 interleaved
                // runs each, 2 CPUs): map_chunk1 0.52 -> 0.29 ms, manager_dict_4 302k -> 382k
                // ops/s, pipe_rtt 5.1 -> 3.5 us, manager_dict and recv_trickle unchanged.
                std::thread::yield_now();
                if let Some(n) = read(true)? {
                    if waited <= WORTH {
                        // Worth it. Spin next time too; after a spin (not a late wake-up),
                        // this is the real gap: forget the misses.
                        if !self.slept.load(Ordering::Relaxed) {
                            self.misses.store(0, Ordering::Relaxed);
                        }
                        self.late.store(false, Ordering::Relaxed);
                    } else if self.late.swap(true, Ordering::Relaxed) {
                        // Late twice in a row: the gaps are long.
                        self.missed();
                    }
                    self.slept.store(false, Ordering::Relaxed);
                    return Ok(n);
                }
                waited = started.elapsed();
                if waited >= SPIN_TIME {
                    self.missed();
                    break;
                }
            }
        }
        self.slept.store(true, Ordering::Relaxed);
        // A blocking read returns data or the end of file, never "nothing yet".
        Ok(read(false)?.unwrap_or(0))
    }

    /// Counts a miss: the connection sleeps without spinning for the next `2^misses - 1`
    /// receives.
    fn missed(&self) {
        let misses = (self.misses.load(Ordering::Relaxed) + 1).min(MAX_MISSES);
        self.misses.store(misses, Ordering::Relaxed);
        self.skip.store((1 << misses) - 1, Ordering::Relaxed);
        self.late.store(false, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A receiver on a clock: message `k` arrives at `start + k * gap` (`gap` zero: each one
    /// `answer` after the receive begins, a round trip), and a receive that sleeps wakes
    /// `wake` after its message came, as a sleeping process does. Returns the time spent
    /// spinning, and how many receives slept.
    struct Sim {
        gap: Duration,
        answer: Duration,
        wake: Duration,
        /// Every this many receives, the answer takes 60 us (the peer was descheduled).
        hiccup_every: u32,
    }

    impl Sim {
        fn run(&self, spin: &Spin, receives: u32) -> (Duration, u32, u32) {
            let start = Instant::now();
            let (mut spinning, mut slept, mut spun) = (Duration::ZERO, 0, 0);
            for k in 1..=receives {
                let begun = Instant::now();
                let due = if self.gap.is_zero() {
                    let hiccup = self.hiccup_every > 0 && k % self.hiccup_every == 0;
                    begun
                        + if hiccup {
                            Duration::from_micros(60)
                        } else {
                            self.answer
                        }
                } else {
                    start + self.gap * k
                };
                // Spinning is the time from the first look to the catch, or to the sleep.
                let (mut first_look, mut blocked, mut looks) = (None, None, 0);
                let n = spin
                    .read(|nowait| {
                        if nowait {
                            looks += 1;
                            first_look.get_or_insert_with(Instant::now);
                            return Ok((Instant::now() >= due).then_some(1));
                        }
                        blocked = Some(Instant::now());
                        while Instant::now() < due + self.wake {
                            std::hint::spin_loop();
                        }
                        Ok(Some(1))
                    })
                    .unwrap();
                assert_eq!(n, 1);
                let first_look = first_look.expect("a read looks first");
                match blocked {
                    Some(at) => {
                        slept += 1;
                        spinning += at - first_look;
                    }
                    None => spinning += first_look.elapsed(),
                }
                if looks > 1 {
                    spun += 1;
                }
            }
            (spinning, slept, spun)
        }
    }

    /// Issue 16: a message every 40 us is slept for, not spun for (a spin that caught each one
    /// spent ~40 us of CPU per message), even though each wake-up comes late and makes the next
    /// wait look short; a peer that answers at once keeps the spin; and a connection whose
    /// waits become short again spins again within a few hundred receives.
    #[test]
    fn the_spin_adapts_to_the_waits_for_messages() {
        let spin = Spin::new();
        let trickle = Sim {
            gap: Duration::from_micros(40),
            answer: Duration::ZERO,
            wake: Duration::from_micros(30),
            hiccup_every: 0,
        };
        let receives = 1000;
        let (spinning, slept, spun) = trickle.run(&spin, receives);
        println!("40 us trickle: {spun} of {receives} spun ({spinning:?}), {slept} slept");
        // Counted, not timed: on a loaded machine a spin's tries can take long (each yields the
        // CPU), and a time bound would measure the load.
        assert!(
            spun <= receives / 10,
            "{spun} of {receives} receives of a 40 us trickle spun"
        );

        // A round trip, whose sleeps wake 40 us late: within 256 receives the connection spins
        // again, and then every receive catches its answer without sleeping.
        let mut round_trip = Sim {
            gap: Duration::ZERO,
            answer: Duration::from_micros(3),
            wake: Duration::from_micros(40),
            hiccup_every: 0,
        };
        let (_, slept, _) = round_trip.run(&spin, 300);
        assert!(slept <= 256, "{slept} receives slept");
        let (_, slept, _) = round_trip.run(&spin, 300);
        assert!(slept <= 10, "{slept} of 300 quick receives slept");

        // A slow answer now and then costs a sleep or two, not a return to sleeping.
        round_trip.hiccup_every = 50;
        let (_, slept, _) = round_trip.run(&spin, 1000);
        assert!(
            slept <= 60,
            "{slept} of 1000 receives slept, with 20 slow answers"
        );
    }
}

//! The Rust side of `cargo xtask bench`.
//!
//! `mp-bench NAME [--quick]` measures one workload once and prints one JSON object,
//! `{"name": ..., "unit": ..., "value": ...}`, exactly as `bench/python/bench_mp.py` does for
//! CPython. The xtask runs both sides several times, alternating them, and reports medians.
//! Workloads named `raw_*` are the operating system's ceilings, measured with the thinnest code
//! that does the same thing through the same mechanism (libc and nix, no runtime), so the report
//! shows how close the runtime gets to the machine.
#![allow(
    unsafe_code,
    reason = "the raw ceilings fork, map shared memory and wait on futexes directly, without the runtime"
)]

mod memory;
mod raw;
mod workloads;

use std::hint::black_box;
use std::time::{Duration, Instant};

/// Seconds per call of `f`, averaged over `n` calls.
pub(crate) fn per_op(n: u32, mut f: impl FnMut()) -> f64 {
    let t = Instant::now();
    for _ in 0..n {
        f();
    }
    t.elapsed().as_secs_f64() / f64::from(n)
}

/// Serial/parallel pairs per `tutorial_speedup` and `raw_fork_split` run. Each pair is timed
/// back to back, so a burst of load hits both halves of a pair alike; the figure is the sum of
/// the serial times over the sum of the parallel ones.
pub(crate) const PAIRS: usize = 3;

/// Section 8's 100 tasks, each `rounds` multiplications. A Rust task of 10,000,000 rounds takes
/// about 5 ms here, longer than a scheduler tick (4 ms at 250 Hz), so that no single tick decides
/// which worker ends last; CPython's task of the tutorial's 1,000,000 rounds takes about 30 ms.
pub(crate) fn speedup_tasks(quick: bool) -> Vec<(u64, u32)> {
    let rounds = if quick { 1_000_000 } else { 10_000_000 };
    (0..100).map(|x| (x, rounds)).collect()
}

/// Section 8's task. `black_box` keeps every multiplication: without it the compiler drops the
/// loop, and the task would weigh nothing.
pub(crate) fn heavy((x, rounds): (u64, u32)) -> (u64, u32) {
    let mut i = 0;
    for _ in 0..rounds {
        i = black_box(black_box(x) * black_box(x));
    }
    black_box(i);
    (x, std::process::id())
}

/// Serial time over parallel time, summed over [`PAIRS`] pairs; the order within a pair
/// alternates, so that neither side always runs first.
pub(crate) fn speedup_pairs(mut serial: impl FnMut(), mut parallel: impl FnMut()) -> f64 {
    let (mut serial_s, mut parallel_s) = (0.0, 0.0);
    for pair in 0..PAIRS {
        for serial_now in [pair % 2 == 0, pair % 2 != 0] {
            let t = Instant::now();
            if serial_now {
                serial();
                serial_s += t.elapsed().as_secs_f64();
            } else {
                parallel();
                parallel_s += t.elapsed().as_secs_f64();
            }
        }
    }
    serial_s / parallel_s
}

/// Messages in a trickle run, one every [`TRICKLE_GAP`].
pub(crate) fn trickle_messages(quick: bool) -> u32 {
    if quick { 2_000 } else { 10_000 }
}

/// The gap between two messages of a trickle: shorter than the receive spin, so that a spin
/// that does not adapt always catches the next message, and burns the whole gap doing it.
pub(crate) const TRICKLE_GAP: Duration = Duration::from_micros(40);

/// How much earlier than the next send the sender wakes: a 40 us sleep overshoots by 15-25 us
/// on this VM, so the sender sleeps until this long before the send and spins the rest.
const TRICKLE_EARLY: Duration = Duration::from_micros(30);

/// Calls `send(i)` for `i` in `0..n`, one every [`TRICKLE_GAP`], and prints the mean gap it
/// achieved on stderr. The sender sleeps most of each gap and spins the last
/// [`TRICKLE_EARLY`] of it (its own CPU time is not the figure); its timer slack goes down to
/// 1 ns first, as by default a sleep of 40 us lasts 90 us or more.
pub(crate) fn trickle(n: u32, mut send: impl FnMut(u32)) {
    nix::sys::prctl::set_timerslack(1).expect("prctl(PR_SET_TIMERSLACK)");
    let start = Instant::now();
    let mut next = start;
    for i in 0..n {
        next += TRICKLE_GAP;
        let now = Instant::now();
        if now > next + TRICKLE_GAP {
            // Far behind (the sender was preempted): start the schedule again rather than
            // send a burst, which the receiver would read in one go.
            next = now;
        } else if next > now + TRICKLE_EARLY {
            std::thread::sleep(next - now - TRICKLE_EARLY);
        }
        while Instant::now() < next {
            std::hint::spin_loop();
        }
        send(i);
    }
    let mean_gap = start.elapsed().as_secs_f64() / f64::from(n) * 1e6;
    eprintln!("trickle: {n} messages, a mean gap of {mean_gap:.1} us");
}

/// This process's CPU time so far, user + system, in seconds.
pub(crate) fn cpu_time() -> f64 {
    use nix::sys::resource::{UsageWho, getrusage};
    let usage = getrusage(UsageWho::RUSAGE_SELF).expect("getrusage");
    let secs = |t: nix::sys::time::TimeVal| t.tv_sec() as f64 + t.tv_usec() as f64 * 1e-6;
    secs(usage.user_time()) + secs(usage.system_time())
}

fn main() {
    // A spawned or forkserver child of the runtime runs its target here and never returns.
    multiprocessing::freeze_support();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let quick = args.iter().any(|a| a == "--quick");
    let Some(name) = args.iter().find(|a| !a.starts_with("--")) else {
        eprintln!(
            "usage: mp-bench NAME [--quick]\nworkloads: {}",
            names().join(", ")
        );
        std::process::exit(2);
    };
    let Some((unit, value)) = raw::run(name, quick)
        .or_else(|| workloads::run(name, quick))
        .or_else(|| memory::run(name, quick))
    else {
        eprintln!(
            "mp-bench: unknown workload {name:?}; known: {}",
            names().join(", ")
        );
        std::process::exit(2);
    };
    println!("{{\"name\": \"{name}\", \"unit\": \"{unit}\", \"value\": {value}}}");
}

fn names() -> Vec<&'static str> {
    raw::NAMES
        .iter()
        .chain(workloads::NAMES)
        .chain(memory::NAMES)
        .copied()
        .collect()
}

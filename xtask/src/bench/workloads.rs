//! The workloads, their OS ceilings and their goals: the benchmark issue's table, as data.
//!
//! A workload has the same name in `mp-bench` (the `bench/` crate) and in
//! `bench/python/bench_mp.py`, and both print it in the same unit. A ceiling is a `raw_*`
//! workload of `mp-bench`: the thinnest Rust code (libc and nix, no runtime) that does the same
//! thing through the same mechanism, so that it bounds what the runtime can reach.

/// An OS ceiling that bounds a workload: a `raw_*` workload of `mp-bench`.
#[derive(Debug, Clone, Copy)]
pub struct Ceiling {
    /// The `mp-bench` workload that measures it.
    pub raw: &'static str,
    /// The unit `mp-bench` prints it in.
    pub raw_unit: &'static str,
    /// How the workload's figure comes from it, in words (`raw_from` in the report).
    pub from: &'static str,
    /// From the raw workload's value to the workload's unit.
    pub convert: fn(f64) -> f64,
}

/// One goal of the benchmark issue for a workload; a workload meets its goals when its medians
/// over a full run meet every one.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Goal {
    /// Rust's median at most this many times the ceiling's (a time).
    WithinRaw(f64),
    /// Rust's median at least this fraction of the ceiling's (a rate or a ratio).
    FractionOfRaw(f64),
    /// Rust at least this many times better than CPython.
    TimesBetter(f64),
}

/// One workload: the same name in `mp-bench` and `bench_mp.py`.
#[derive(Debug, Clone, Copy)]
pub struct Workload {
    /// The name both programs know it by.
    pub name: &'static str,
    /// The unit both print.
    pub unit: &'static str,
    /// What is measured, for the report.
    pub what: &'static str,
    /// The OS ceiling, where one applies.
    pub ceiling: Option<Ceiling>,
    /// What the runtime should reach: every one of them.
    pub goals: &'static [Goal],
}

impl Workload {
    /// Whether a higher figure is better: rates and ratios yes, times and memory no.
    pub fn higher_is_better(&self) -> bool {
        !matches!(self.unit, "ms" | "us" | "kB")
    }
}

/// The same workload's value as the ceiling's (the ceiling prints it in the workload's unit).
fn same(v: f64) -> f64 {
    v
}

const FORK: Ceiling = Ceiling {
    raw: "raw_fork_wait",
    raw_unit: "ms",
    from: "raw_fork_wait",
    convert: same,
};
const SOCKET_RTT_SPIN: Ceiling = Ceiling {
    raw: "raw_socket_rtt_spin",
    raw_unit: "us",
    from: "raw_socket_rtt_spin",
    convert: same,
};
const SOCKETPAIR_1MIB: Ceiling = Ceiling {
    raw: "raw_socketpair_1mib",
    raw_unit: "MB/s",
    from: "raw_socketpair_1mib",
    convert: same,
};
const SHM_RING: Ceiling = Ceiling {
    raw: "raw_shm_ring",
    raw_unit: "MB/s",
    from: "raw_shm_ring",
    convert: same,
};
const FORK_SPLIT: Ceiling = Ceiling {
    raw: "raw_fork_split",
    raw_unit: "x",
    from: "raw_fork_split",
    convert: same,
};
const TRICKLE: Ceiling = Ceiling {
    raw: "raw_trickle",
    raw_unit: "us",
    from: "raw_trickle",
    convert: same,
};

/// The memory goals: a worker, the manager and the parent, each RSS 5x and PSS 15x smaller.
const RSS_GOAL: &[Goal] = &[Goal::TimesBetter(5.0)];
const PSS_GOAL: &[Goal] = &[Goal::TimesBetter(15.0)];

/// The workloads and their goals, in the order.
#[rustfmt::skip]
pub const WORKLOADS: &[Workload] = &[
    Workload { name: "process_start_join", unit: "ms",
        what: "start and join one process running an empty target (fork)",
        ceiling: Some(FORK), goals: &[Goal::WithinRaw(1.15)] },
    Workload { name: "process_start_join_spawn", unit: "ms",
        what: "start and join one process running an empty target, start method spawn",
        ceiling: None, goals: &[Goal::TimesBetter(10.0)] },
    Workload { name: "process_start_join_forkserver", unit: "ms",
        what: "start and join one process running an empty target, start method forkserver",
        ceiling: None, goals: &[Goal::TimesBetter(10.0)] },
    Workload { name: "pool_lifecycle", unit: "ms",
        what: "Pool(4) created, terminated and joined",
        ceiling: Some(Ceiling { raw: "raw_fork_wait", raw_unit: "ms", from: "4 x raw_fork_wait", convert: |ms| 4.0 * ms }),
        goals: &[Goal::TimesBetter(25.0)] },
    Workload { name: "map_chunk1", unit: "ms",
        what: "map(square, 0..100, chunksize=1) on a warm Pool(4)",
        ceiling: None, goals: &[Goal::TimesBetter(10.0)] },
    Workload { name: "map_100k", unit: "ms",
        what: "map(square, 0..100_000), default chunksize, warm Pool(4)",
        ceiling: None, goals: &[Goal::TimesBetter(15.0)] },
    Workload { name: "tutorial_speedup", unit: "x",
        what: "section 8's 100 heavy tasks: loop time / Pool(4) time, 3 interleaved pairs",
        ceiling: Some(FORK_SPLIT), goals: &[Goal::FractionOfRaw(0.95)] },
    Workload { name: "queue_small", unit: "msgs/s",
        what: "Queue: one producer, one consumer, 100,000 small ints",
        ceiling: None, goals: &[Goal::TimesBetter(25.0)] },
    Workload { name: "queue_1mib", unit: "MB/s",
        what: "Queue: 200 messages of 1 MiB",
        ceiling: Some(SHM_RING), goals: &[Goal::FractionOfRaw(0.85)] },
    Workload { name: "pipe_rtt", unit: "us",
        what: "Pipe round trip of a small value",
        ceiling: Some(SOCKET_RTT_SPIN), goals: &[Goal::TimesBetter(10.0), Goal::WithinRaw(1.15)] },
    Workload { name: "pipe_1mib", unit: "MB/s",
        what: "Pipe: one-way send_bytes of 1 MiB, 1,000 times",
        ceiling: Some(SOCKETPAIR_1MIB), goals: &[Goal::FractionOfRaw(0.95)] },
    Workload { name: "value_lock", unit: "increments/s",
        what: "2 processes x 200,000 `+= 1` under get_lock()",
        ceiling: None, goals: &[Goal::TimesBetter(30.0)] },
    Workload { name: "manager_dict", unit: "ops/s",
        what: "Manager dict set+get from one client",
        ceiling: Some(Ceiling { raw: "raw_socket_rtt_spin", raw_unit: "us", from: "1e6 / raw_socket_rtt_spin", convert: |us| 1e6 / us }),
        goals: &[Goal::FractionOfRaw(0.9)] },
    Workload { name: "manager_dict_4", unit: "ops/s",
        what: "Manager dict set+get from 4 client processes",
        ceiling: None, goals: &[Goal::TimesBetter(15.0)] },
    Workload { name: "manager_start", unit: "ms",
        what: "Manager() start and shutdown",
        ceiling: None, goals: &[Goal::TimesBetter(14.0)] },
    Workload { name: "recv_trickle", unit: "us",
        what: "receiver's CPU time (user+system) per message, one small message every 40 us",
        ceiling: Some(TRICKLE), goals: &[Goal::WithinRaw(1.5)] },
    // Footprint (the memory issue): one scene, a Pool(4) after a map and a Manager after a dict
    // set+get; `better` is CPython's kB over Rust's.
    Workload { name: "mem_pool_worker_rss", unit: "kB",
        what: "RSS of a Pool(4) worker (mean of 4), smaps_rollup",
        ceiling: None, goals: RSS_GOAL },
    Workload { name: "mem_pool_worker_pss", unit: "kB",
        what: "PSS of a Pool(4) worker (mean of 4), smaps_rollup",
        ceiling: None, goals: PSS_GOAL },
    Workload { name: "mem_manager_rss", unit: "kB",
        what: "RSS of the Manager server process",
        ceiling: None, goals: RSS_GOAL },
    Workload { name: "mem_manager_pss", unit: "kB",
        what: "PSS of the Manager server process",
        ceiling: None, goals: PSS_GOAL },
    Workload { name: "mem_parent_rss", unit: "kB",
        what: "RSS of the parent holding the Pool(4) and the Manager",
        ceiling: None, goals: RSS_GOAL },
    Workload { name: "mem_parent_pss", unit: "kB",
        what: "PSS of the parent holding the Pool(4) and the Manager",
        ceiling: None, goals: PSS_GOAL },
];

/// The workload called `name`.
pub fn find(name: &str) -> Option<&'static Workload> {
    WORKLOADS.iter().find(|w| w.name == name)
}

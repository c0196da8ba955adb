//! The runtime's workloads, named as in the benchmark issue and in `bench/python/bench_mp.py`.

use multiprocessing::Process;

use crate::per_op;

/// The workloads of this module.
pub(crate) const NAMES: &[&str] = &["process_start_join"];

/// Runs `name` if it is one of ours.
pub(crate) fn run(name: &str, quick: bool) -> Option<(&'static str, f64)> {
    Some(match name {
        "process_start_join" => ("ms", process_start_join(quick) * 1e3),
        _ => return None,
    })
}

fn empty(_: ()) {}

fn process_start_join(quick: bool) -> f64 {
    let once = || {
        let mut p = Process::new(empty, ());
        p.start().expect("start");
        p.join().expect("join");
    };
    once();
    per_op(if quick { 50 } else { 300 }, once)
}

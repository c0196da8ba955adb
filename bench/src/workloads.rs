//! The runtime's workloads, named as in the benchmark issue and in `bench/python/bench_mp.py`.

use std::time::Instant;

use multiprocessing::{DictProxy, Manager, Process};

use crate::per_op;

/// The workloads of this module.
pub(crate) const NAMES: &[&str] = &[
    "process_start_join",
    "manager_dict",
    "manager_dict_4",
    "manager_start",
];

/// Runs `name` if it is one of ours.
pub(crate) fn run(name: &str, quick: bool) -> Option<(&'static str, f64)> {
    Some(match name {
        "process_start_join" => ("ms", process_start_join(quick) * 1e3),
        "manager_dict" => ("ops/s", manager_dict(quick)),
        "manager_dict_4" => ("ops/s", manager_dict_4(quick)),
        "manager_start" => ("ms", manager_start(quick) * 1e3),
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

/// `n` times `d[k] = i; d[k]`, as `_dict_ops` in bench_mp.py.
fn dict_ops((d, n, k): (DictProxy<String, u64>, u64, String)) {
    for i in 0..n {
        d.set(&k, &i).expect("set");
        d.get(&k).expect("get");
    }
}

fn manager_dict(quick: bool) -> f64 {
    let n = if quick { 2_000 } else { 10_000 };
    let manager = Manager::new().expect("Manager::new");
    let d = manager.dict().expect("dict");
    let t = Instant::now();
    dict_ops((d, n, "k".into()));
    2.0 * n as f64 / t.elapsed().as_secs_f64()
}

fn manager_dict_4(quick: bool) -> f64 {
    let n = if quick { 1_000 } else { 5_000 };
    let manager = Manager::new().expect("Manager::new");
    let d: DictProxy<String, u64> = manager.dict().expect("dict");
    let mut ps: Vec<Process> = (0..4)
        .map(|i| Process::new(dict_ops, (d.clone(), n, format!("k{i}"))))
        .collect();
    let t = Instant::now();
    for p in &mut ps {
        p.start().expect("start");
    }
    for p in &ps {
        p.join().expect("join");
    }
    4.0 * 2.0 * n as f64 / t.elapsed().as_secs_f64()
}

fn manager_start(quick: bool) -> f64 {
    per_op(if quick { 3 } else { 10 }, || {
        let mut manager = Manager::new().expect("Manager::new");
        manager.shutdown().expect("shutdown");
    })
}

//! The Rust side of `cargo xtask bench`.
//!
//! `mp-bench NAME [--quick]` measures one workload once and prints one JSON object,
//! `{"name": ..., "unit": ..., "value": ...}`, exactly as `bench/python/bench_mp.py` does for
//! CPython. The xtask runs both sides several times, alternating them, and reports medians.
//! Workloads named `raw_*` are the operating system's ceilings, measured with the thinnest code
//! that does the same thing, so the report shows how close the runtime gets to the machine.
#![allow(unsafe_code, reason = "the raw ceilings fork directly, without the runtime")]

mod memory;
mod raw;
mod workloads;

use std::time::Instant;

/// Seconds per call of `f`, averaged over `n` calls.
pub(crate) fn per_op(n: u32, mut f: impl FnMut()) -> f64 {
    let t = Instant::now();
    for _ in 0..n {
        f();
    }
    t.elapsed().as_secs_f64() / f64::from(n)
}

fn main() {
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

//! `freeze_support()` first in `main`, then one child process, started by the `spawn` start
//! method, where `freeze_support()` does the real work.
//!
//! Tutorial: 3 / 3.3 "freeze_support()", 示例.
//! Run: `cargo run -p ex-3-3-3-freeze-support [-- --start-method spawn|fork|forkserver]`.
//!
//! Under `spawn` (the default here, and what Windows always does) the child is this program run
//! again. Its `freeze_support()` sees that it was started to be the child, runs `worker`, and
//! exits: the child never reaches the rest of `main`. Delete the `freeze_support()` line and the
//! child runs `main` again instead; it is stopped at `p.start()` with the error "call
//! multiprocessing::freeze_support() first in main", where Windows would spawn without end.
//!
//! Differences from the Python:
//! - `set_start_method` picks the start method (the Python relies on the platform's default);
//!   under `fork`, Linux's default, `freeze_support()` has nothing to do, as in CPython on Linux.
//! - `worker()` takes no arguments; a Rust target takes one value, here `()`.

use multiprocessing::{freeze_support, set_start_method, Process};

fn worker(_: ()) {
    println!("子进程运行");
}

fn main() -> multiprocessing::Result<()> {
    freeze_support(); // 仅在 Windows 下需要 (here: under spawn)
    set_start_method(&start_method(), false)?;
    let mut p = Process::new(worker, ());
    p.start()?;
    p.join()?;
    Ok(())
}

/// `--start-method NAME`, or `spawn`.
fn start_method() -> String {
    let args: Vec<String> = std::env::args().collect();
    args.windows(2)
        .find(|w| w[0] == "--start-method")
        .map_or_else(|| "spawn".to_string(), |w| w[1].clone())
}

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
//! - Both sides choose spawn with `set_start_method`, as the tutorial's Windows always does (the
//!   Python would fork on Linux otherwise); with `--start-method fork`, Linux's default,
//!   `freeze_support()` has nothing to do, as in CPython on Linux.
//!   中文：两边都用 `set_start_method` 选择 spawn，和教程所用的 Windows 一样（否则 Linux 上
//!   的 Python 会用 fork）；加上 `--start-method fork`（Linux 的默认方式）时，`freeze_support()` 什
//!   么也不用做，和 Linux 上的 CPython 一样。
//! - `worker()` takes no arguments; a Rust target takes one value, here `()`.
//!   中文：`worker()` 没有参数；Rust 的目标函数接收一个值，这里是 `()`。

use multiprocessing::{Process, freeze_support, get_all_start_methods, set_start_method};

fn worker(_: ()) {
    println!("子进程运行");
}

fn main() -> anyhow::Result<()> {
    freeze_support(); // 仅在 Windows 下需要 (here: under spawn)
    set_start_method(&start_method()?, false)?;
    let mut p = Process::new(worker, ());
    p.start()?;
    p.join()?;
    Ok(())
}

/// `--start-method NAME`, or `spawn`.
fn start_method() -> anyhow::Result<String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let method = match args.as_slice() {
        [] => return Ok("spawn".to_string()),
        [flag, method] if flag == "--start-method" => method.as_str(),
        _ => "",
    };
    let methods = get_all_start_methods();
    anyhow::ensure!(
        methods.contains(&method),
        "usage: ex-3-3-3-freeze-support [--start-method M], where M is one of {}",
        methods.join(", ")
    );
    Ok(method.to_string())
}

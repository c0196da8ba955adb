//! `freeze_support()` first in `main`, then one child process.
//!
//! Tutorial: 3 / 3.3 "freeze_support()", 示例. Run: `cargo run -p ex-3-3-3-freeze-support`.
//!
//! Differences from the Python:
//! - `freeze_support()` does nothing here, as in CPython on Linux: under the `fork` start method
//!   a child never runs `main` again, so there is no endless re-creation of children to prevent
//!   (the Windows problem it solves for frozen executables).
//! - `worker()` takes no arguments; a Rust target takes one value, here `()`.

use multiprocessing::{freeze_support, Process};

fn worker(_: ()) {
    println!("子进程运行");
}

fn main() -> multiprocessing::Result<()> {
    freeze_support(); // 仅在 Windows 下需要
    let mut p = Process::new(worker, ());
    p.start()?;
    p.join()?;
    Ok(())
}

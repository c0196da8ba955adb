//! A child process prints the name it was given and the name `current_process()` reports.
//!
//! Tutorial: 5 / 示例 1 "Process 类". Run: `cargo run -p ex-5-1-process`.
//!
//! Differences from the Python:
//! - `start()` and `join()` return a `Result`; `?` stands where Python would raise.
//! - `print("...\n")` is `println!("...\n")`: both end in an empty line.
//! - The two names agree because this is the first process the program makes, so its default
//!   name is `Process-1`, exactly as in CPython; the argument does not name the process.

use multiprocessing::{current_process, Process};

fn worker(name: String) {
    println!(
        "子进程 {name} 开始运行，当前进程名称：{}",
        current_process().name()
    );
}

fn main() -> multiprocessing::Result<()> {
    let mut p = Process::new(worker, "Process-1".to_string());
    p.start()?;
    p.join()?;
    println!("Process 示例结束。\n");
    Ok(())
}

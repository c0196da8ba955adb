//! One process running `worker("A")`; the parent waits for it.
//!
//! Tutorial: 3 / 1.1 "Process 类", 示例. Run: `cargo run -p ex-3-1-1-process`.
//!
//! Differences from the Python:
//! - `args=("A",)` is one value, `"A".to_string()`; several arguments would travel as a tuple.
//! - `start()` and `join()` return a `Result`; `?` stands where Python would raise.
//! - There is no `if __name__ == '__main__':` guard: a forked child never returns into `main`.

use multiprocessing::Process;

fn worker(name: String) {
    println!("进程 {name} 正在运行");
}

fn main() -> multiprocessing::Result<()> {
    let mut p = Process::new(worker, "A".to_string());
    p.start()?;
    p.join()?; // 等待进程执行完毕
    Ok(())
}

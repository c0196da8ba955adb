//! Five processes, each printing its number; the parent waits for all of them.
//!
//! Tutorial: 2.1 "multiprocessing 模块", 示例代码. Run: `cargo run -p ex-2-1-process`.
//!
//! Differences from the Python:
//! - `start()` and `join()` return a `Result`; `?` stands where Python would raise.
//! - There is no `if __name__ == '__main__':` guard: a forked child never returns into `main`.

use multiprocessing::Process;

fn worker(num: u32) {
    println!("进程 {num} 正在运行");
}

fn main() -> multiprocessing::Result<()> {
    let mut processes = Vec::new();
    for i in 0..5 {
        let mut p = Process::new(worker, i);
        p.start()?;
        processes.push(p);
    }

    for p in &processes {
        p.join()?;
    }

    println!("所有进程已结束。");
    Ok(())
}

//! Three processes take turns with one `Lock`: only one at a time is inside the `with lock:`
//! block.
//!
//! Tutorial: 3 / 2.1 "Lock 和 RLock", 示例. Run: `cargo run -p ex-3-2-1-lock`.
//!
//! The three lines come in whatever order the processes get the lock; each line is printed
//! whole.
//!
//! Differences from the Python:
//! - `with lock:` is a block holding the guard `lock.acquire()`; the lock is released where the
//!   guard is dropped.
//!   中文：`with lock:` 对应一个持有守卫 `lock.acquire()` 的代码块；守卫被 drop 的地方释放锁。
//! - `Lock()` returns a `Result` (it allocates shared memory).
//!   中文：`Lock()` 返回 `Result`（它要分配共享内存）。
//! - The arguments travel as one tuple, which the target takes apart in its parameter (a Rust
//!   target takes one value).
//!   中文：多个参数作为一个元组传递，目标函数在参数里把它拆开（Rust 的目标函数只接收一个值）。

use multiprocessing::{Lock, Process};

fn worker((lock, num): (Lock, u32)) {
    let _guard = lock.acquire(); // with lock:
    println!("进程 {num} 正在安全地访问共享资源");
}

fn main() -> anyhow::Result<()> {
    let lock = Lock::new()?;
    let mut processes: Vec<Process> = (0..3).map(|i| Process::new(worker, (lock.clone(), i))).collect();
    for p in &mut processes {
        p.start()?;
    }
    for p in &processes {
        p.join()?;
    }
    Ok(())
}

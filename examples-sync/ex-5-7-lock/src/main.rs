//! A `Lock` lets only one process at a time print.
//!
//! Tutorial: 5 / 示例 7 "Lock". Run: `cargo run -p ex-5-7-lock`.
//!
//! The three lines come in whatever order the processes get the lock.
//!
//! Differences from the Python:
//! - `with lock:` is a block holding the guard `lock.acquire()`; the lock is released where the
//!   guard is dropped.
//!   中文：`with lock:` 对应一个持有守卫 `lock.acquire()` 的代码块；守卫被 drop 的地方释放锁。
//! - `Lock()` returns a `Result` (it allocates shared memory).
//!   中文：`Lock()` 返回 `Result`（它要分配共享内存）。

use multiprocessing::{Lock, Process};

fn safe_print((lock, num): (Lock, u32)) {
    let _guard = lock.acquire();
    // 同一时间只允许一个进程进入此区域
    println!("Lock 示例：进程 {num} 正在安全地打印信息");
}

fn main() -> anyhow::Result<()> {
    let lock = Lock::new()?;
    let mut processes: Vec<Process> = (0..3)
        .map(|i| Process::new(safe_print, (lock.clone(), i)))
        .collect();
    for p in &mut processes {
        p.start()?;
    }
    for p in &processes {
        p.join()?;
    }
    println!("Lock 示例结束。\n");
    Ok(())
}

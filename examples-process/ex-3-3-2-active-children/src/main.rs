//! `active_children()` lists the children that are still running: none before `start`, all
//! three while they sleep, none once they are joined.
//!
//! Tutorial: 3 / 3.2 "active_children()" (no code in the tutorial; this is the program it
//! describes). Run: `cargo run -p ex-3-3-2-active-children`. The Python it mirrors:
//!
//! ```python
//! import time
//! from multiprocessing import Process, active_children
//!
//! def worker(seconds):
//!     time.sleep(seconds)
//!
//! if __name__ == '__main__':
//!     processes = [Process(target=worker, args=(1,)) for _ in range(3)]
//!     print(f"启动前: {len(active_children())} 个活动子进程")
//!     for p in processes:
//!         p.start()
//!     names = sorted(c.name for c in active_children())
//!     print(f"运行中: {len(names)} 个活动子进程 {names}")
//!     for p in processes:
//!         p.join()
//!     print(f"join 之后: {len(active_children())} 个活动子进程")
//! ```
//!
//! Differences from the Python:
//! - `active_children()` returns descriptions (`multiprocessing::ProcessInfo`) rather than the
//!   `Process` objects. Like Python's, it reaps the children that have ended.
//!   中文：`active_children()` 返回的是描述（`multiprocessing::ProcessInfo`），不是 `Process` 对
//!   象。和 Python 的一样，它会回收已经结束的子进程。
//! - `py_repr` prints the sorted names as Python prints a list: `['Process-1', ...]`.
//!   中文：`py_repr` 像 Python 打印列表那样打印排好序的名字：`['Process-1', ...]`。

use std::time::Duration;

use multiprocessing::{Process, active_children, py_repr};

fn worker(seconds: f64) {
    std::thread::sleep(Duration::from_secs_f64(seconds));
}

fn main() -> anyhow::Result<()> {
    let mut processes: Vec<Process> = (0..3).map(|_| Process::new(worker, 1.0)).collect();
    println!("启动前: {} 个活动子进程", active_children().len());
    for p in &mut processes {
        p.start()?;
    }
    let mut names: Vec<String> = active_children().iter().map(|c| c.name().to_string()).collect();
    names.sort();
    println!("运行中: {} 个活动子进程 {}", names.len(), py_repr(&names));
    for p in &processes {
        p.join()?;
    }
    println!("join 之后: {} 个活动子进程", active_children().len());
    Ok(())
}

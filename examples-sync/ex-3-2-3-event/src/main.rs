//! Three processes wait for an `Event`; the main process sets it and all of them go on.
//!
//! Tutorial: 3 / 2.3 "Event" (described without a program; this one is ours).
//! Run: `cargo run -p ex-3-2-3-event`.
//!
//! The Python it mirrors:
//!
//! ```python
//! import time
//! from multiprocessing import Event, Process
//!
//! def waiter(event, num):
//!     print(f"进程 {num} 等待事件")
//!     event.wait()
//!     print(f"进程 {num} 收到事件，继续执行")
//!
//! if __name__ == '__main__':
//!     event = Event()
//!     processes = [Process(target=waiter, args=(event, i)) for i in range(3)]
//!     for p in processes:
//!         p.start()
//!     time.sleep(0.5)
//!     print("主进程：wait(0.1) 返回", event.wait(0.1))
//!     print("主进程：设置事件")
//!     event.set()
//!     for p in processes:
//!         p.join()
//!     event.clear()
//!     print("主进程：清除事件后 is_set() =", event.is_set())
//! ```
//!
//! The lines within each group come in whatever order the processes run.
//!
//! Differences from the Python:
//! - `wait(timeout)` is `wait_timeout(..)`; `wait()` without a timeout returns nothing, since it
//!   only returns once the flag is set.
//!   中文：`wait(timeout)` 对应 `wait_timeout(..)`；不带超时的 `wait()` 不返回值，因为它只在标志被
//!   设置后才返回。
//! - The runtime's `py_repr` prints a boolean the way Python does (`True`, `False`), so the output
//!   reads the same.
//!   中文：运行时的 `py_repr` 按 Python 的样子打印布尔值（`True`、`False`），所以两边输出一样。

use std::time::Duration;

use multiprocessing::{Event, Process, py_repr};

fn waiter((event, num): (Event, u32)) {
    println!("进程 {num} 等待事件");
    event.wait();
    println!("进程 {num} 收到事件，继续执行");
}

fn main() -> anyhow::Result<()> {
    let event = Event::new()?;
    let mut processes: Vec<Process> = (0..3).map(|i| Process::new(waiter, (event.clone(), i))).collect();
    for p in &mut processes {
        p.start()?;
    }
    std::thread::sleep(Duration::from_millis(500));
    println!(
        "主进程：wait(0.1) 返回 {}",
        py_repr(&event.wait_timeout(Duration::from_millis(100)))
    );
    println!("主进程：设置事件");
    event.set();
    for p in &processes {
        p.join()?;
    }
    event.clear();
    println!("主进程：清除事件后 is_set() = {}", py_repr(&event.is_set()));
    Ok(())
}

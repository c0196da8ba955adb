//! `current_process()` tells a process who it is: the parent is `MainProcess`, each child has
//! its own name and PID, and `parent_process()` names the parent.
//!
//! Tutorial: 3 / 3.1 "current_process()" (no code in the tutorial; this is the program it
//! describes). Run: `cargo run -p ex-3-3-1-current-process`. The Python it mirrors:
//!
//! ```python
//! from multiprocessing import Process, current_process, parent_process
//!
//! def worker():
//!     p = current_process()
//!     print(f"子进程: name={p.name}, pid={p.pid}, 父进程={parent_process().name}")
//!
//! if __name__ == '__main__':
//!     me = current_process()
//!     print(f"主进程: name={me.name}, pid={me.pid}")
//!     for p in [Process(target=worker), Process(target=worker, name="工作进程")]:
//!         p.start()
//!         p.join()
//!         print(f"主进程看到: name={p.name}, pid={p.pid}")
//! ```
//!
//! Differences from the Python:
//! - `current_process()` returns a description (`multiprocessing::ProcessInfo`), not the `Process`
//!   object itself; `name` and `pid` are methods.
//!   中文：`current_process()` 返回一份描述（`multiprocessing::ProcessInfo`），而不是 `Process` 对
//!   象本身；`name` 和 `pid` 是方法。
//! - `parent_process()` and `p.pid()` return an `Option` (`None` in the main process, and before
//!   `start`); `py_repr` prints the PID, or `None`, as Python does.
//!   中文：`parent_process()` 和 `p.pid()` 返回 `Option`（在主进程里、以及 `start` 之前
//!   为 `None`）；`py_repr` 像 Python 一样打印 PID 或 `None`。
//! - `Process(target=worker, name=...)` is `Process::new(worker, ()).with_name(...)`.
//!   中文：`Process(target=worker, name=...)` 对应 `Process::new(worker, ()).with_name(...)`。

use multiprocessing::{Process, current_process, parent_process, py_repr};

fn worker(_: ()) {
    let p = current_process();
    let parent = parent_process().map_or_else(|| "None".to_string(), |pp| pp.name().to_string());
    println!("子进程: name={}, pid={}, 父进程={parent}", p.name(), p.pid());
}

fn main() -> anyhow::Result<()> {
    let me = current_process();
    println!("主进程: name={}, pid={}", me.name(), me.pid());
    for mut p in [
        Process::new(worker, ()),
        Process::new(worker, ()).with_name("工作进程"),
    ] {
        p.start()?;
        p.join()?;
        println!("主进程看到: name={}, pid={}", p.name(), py_repr(&p.pid()));
    }
    Ok(())
}

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
//! - `current_process()` returns a description ([`multiprocessing::ProcessInfo`]), not the
//!   `Process` object itself; `name` and `pid` are methods.
//! - `parent_process()` returns an `Option`: `None` in the main process, as Python's `None`.
//! - `Process(target=worker, name=...)` is `Process::new(worker, ()).with_name(...)`.

use multiprocessing::{current_process, parent_process, Process};

fn worker(_: ()) {
    let p = current_process();
    let parent = parent_process().map_or_else(|| "None".to_string(), |pp| pp.name().to_string());
    println!("子进程: name={}, pid={}, 父进程={parent}", p.name(), p.pid());
}

fn main() -> multiprocessing::Result<()> {
    let me = current_process();
    println!("主进程: name={}, pid={}", me.name(), me.pid());
    for mut p in [
        Process::new(worker, ()),
        Process::new(worker, ()).with_name("工作进程"),
    ] {
        p.start()?;
        p.join()?;
        let pid = p.pid().map_or_else(|| "None".to_string(), |pid| pid.to_string());
        println!("主进程看到: name={}, pid={pid}", p.name());
    }
    Ok(())
}

//! Three processes each write one key into a dict shared through a Manager; the parent prints a
//! copy of it.
//!
//! Tutorial: 5 "使用 Manager 共享数据", 示例 5. Run: `cargo run -p ex-5-5-manager`.
//!
//! Differences from the Python:
//! - `manager.dict()` is typed: `DictProxy<String, i32>`; `shared_dict[key] = value` is
//!   `shared_dict.set(&key, &value)`, and `dict(shared_dict)` is `shared_dict.copy()`.
//! - `with Manager() as manager:` is a block; the manager is shut down where it is dropped.
//! - `p.start()` comes before `processes.append(p)`: the vector owns the process once pushed.
//! - The keys print in the order the writes arrived, as in Python: it varies from run to run.

use multiprocessing::{DictProxy, Manager, Process};

fn update_dict((shared_dict, key, value): (DictProxy<String, i32>, String, i32)) {
    shared_dict.set(&key, &value).expect("the manager is running");
}

fn main() -> multiprocessing::Result<()> {
    {
        let manager = Manager::new()?;
        let shared_dict = manager.dict()?;
        let mut processes = Vec::new();
        for i in 0..3 {
            let mut p = Process::new(update_dict, (shared_dict.clone(), format!("key{i}"), i));
            p.start()?;
            processes.push(p);
        }
        for p in &processes {
            p.join()?;
        }
        println!("Manager 示例共享字典: {}", shared_dict.copy()?);
    }
    println!("Manager 示例结束。\n");
    Ok(())
}

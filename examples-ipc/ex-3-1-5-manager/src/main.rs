//! Five processes each write one key into a dict that lives in a Manager's server process.
//!
//! Tutorial: 3 / 1.5 "Manager", 示例. Run: `cargo run -p ex-3-1-5-manager`.
//!
//! Differences from the Python:
//! - `manager.dict()` is typed: `DictProxy<String, i32>`; `shared_dict[key] = value` is
//!   `shared_dict.set(&key, &value)`.
//! - `with Manager() as manager:` is a block; the manager is shut down where it is dropped.
//! - `p.start()` comes before `processes.append(p)`: the vector owns the process once pushed.
//! - The keys print in the order the processes' writes arrived, as in Python: the order varies
//!   from run to run.

use multiprocessing::{DictProxy, Manager, Process};

fn worker((shared_dict, key, value): (DictProxy<String, i32>, String, i32)) {
    shared_dict.set(&key, &value).expect("the manager is running");
}

fn main() -> multiprocessing::Result<()> {
    {
        let manager = Manager::new()?;
        let shared_dict = manager.dict()?;
        let mut processes = Vec::new();
        for i in 0..5 {
            let mut p = Process::new(worker, (shared_dict.clone(), format!("key{i}"), i));
            p.start()?;
            processes.push(p);
        }
        for p in &processes {
            p.join()?;
        }
        println!("{shared_dict}");
    }
    Ok(())
}

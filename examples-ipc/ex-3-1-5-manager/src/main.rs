//! Five processes each write one key into a dict that lives in a Manager's server process.
//!
//! Tutorial: 3 / 1.5 "Manager", 示例. Run: `cargo run -p ex-3-1-5-manager`.
//!
//! Differences from the Python:
//! - `manager.dict()` is typed: `DictProxy<String, i32>`; `shared_dict[key] = value` is
//!   `shared_dict.set(&key, &value)`.
//!   中文：`manager.dict()` 有类型：`DictProxy<String, i32>`；`shared_dict[key] = value` 对
//!   应 `shared_dict.set(&key, &value)`。
//! - `with Manager() as manager:` is a block; the manager is shut down where it is dropped.
//!   中文：`with Manager() as manager:` 对应一个代码块；管理器在被 drop 的地方关闭。
//! - `p.start()` comes before `processes.push(p)` (Python appends first): the vector owns the
//!   process once pushed.
//!   中文：`p.start()` 写在 `processes.push(p)` 之前（Python 先 append）：放进向量之后，进程归向量
//!   所有。
//! - The arguments travel as one tuple, which the target takes apart in its parameter (a Rust
//!   target takes one value).
//!   中文：多个参数作为一个元组传递，目标函数在参数里把它拆开（Rust 的目标函数只接收一个值）。
//! - The keys print in the order the processes' writes arrived, as in Python: the order varies from
//!   run to run.
//!   中文：键按各进程写入到达的顺序打印，和 Python 一样：每次运行的顺序都可能不同。

use multiprocessing::{DictProxy, Manager, Process};

fn worker((shared_dict, key, value): (DictProxy<String, i32>, String, i32)) {
    shared_dict.set(&key, &value).expect("the manager is running");
}

fn main() -> anyhow::Result<()> {
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

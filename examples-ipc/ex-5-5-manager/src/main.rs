//! Three processes each write one key into a dict shared through a Manager; the parent prints a
//! copy of it.
//!
//! Tutorial: 5 "使用 Manager 共享数据", 示例 5. Run: `cargo run -p ex-5-5-manager`.
//!
//! Differences from the Python:
//! - `manager.dict()` is typed: `DictProxy<String, i32>`; `shared_dict[key] = value` is
//!   `shared_dict.set(&key, &value)`, and `dict(shared_dict)` is `shared_dict.copy()`.
//!   中文：`manager.dict()` 有类型：`DictProxy<String, i32>`；`shared_dict[key] = value` 对
//!   应 `shared_dict.set(&key, &value)`，`dict(shared_dict)` 对应 `shared_dict.copy()`。
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
//! - `print("...\n")` is `println!("...\n")`: both end in an empty line.
//!   中文：`print("...\n")` 对应 `println!("...\n")`：两者最后都多一个空行。

use multiprocessing::{DictProxy, Manager, Process};

fn update_dict((shared_dict, key, value): (DictProxy<String, i32>, String, i32)) {
    shared_dict.set(&key, &value).expect("the manager is running");
}

fn main() -> anyhow::Result<()> {
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

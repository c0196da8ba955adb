//! A child process prints the name it was given and the name `current_process()` reports.
//!
//! Tutorial: 5 / 示例 1 "Process 类". Run: `cargo run -p ex-5-1-process`.
//!
//! Differences from the Python:
//! - `start()` and `join()` return a `Result`; `?` stands where Python would raise.
//!   中文：`start()` 和 `join()` 返回 `Result`；Python 会抛出异常的地方，Rust 写 `?`。
//! - `print("...\n")` is `println!("...\n")`: both end in an empty line.
//!   中文：`print("...\n")` 对应 `println!("...\n")`：两者最后都多一个空行。
//! - The two names agree because this is the first process the program makes, so its default name
//!   is `Process-1`, exactly as in CPython; the argument does not name the process.
//!   中文：两个名字相同，是因为这是程序创建的第一个进程，默认名字就是 `Process-1`，和 CPython 完全
//!   一样；参数并不会给进程命名。

use multiprocessing::{Process, current_process};

fn worker(name: String) {
    println!(
        "子进程 {name} 开始运行，当前进程名称：{}",
        current_process().name()
    );
}

fn main() -> anyhow::Result<()> {
    let mut p = Process::new(worker, "Process-1".to_string());
    p.start()?;
    p.join()?;
    println!("Process 示例结束。\n");
    Ok(())
}

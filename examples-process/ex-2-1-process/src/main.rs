//! Five processes, each printing its number; the parent waits for all of them.
//!
//! Tutorial: 2.1 "multiprocessing 模块", 示例代码. Run: `cargo run -p ex-2-1-process`.
//!
//! Differences from the Python:
//! - `start()` and `join()` return a `Result`; `?` stands where Python would raise.
//!   中文：`start()` 和 `join()` 返回 `Result`；Python 会抛出异常的地方，Rust 写 `?`。
//! - `p.start()` comes before `processes.push(p)` (Python appends first): the vector owns the
//!   process once pushed.
//!   中文：`p.start()` 写在 `processes.push(p)` 之前（Python 先 append）：放进向量之后，进程归向量
//!   所有。
//! - There is no `if __name__ == '__main__':` guard: a forked child never returns into `main`.
//!   中文：没有 `if __name__ == '__main__':` 保护：fork 出来的子进程永远不会回到 `main`。

use multiprocessing::Process;

fn worker(num: u32) {
    println!("进程 {num} 正在运行");
}

fn main() -> anyhow::Result<()> {
    let mut processes = Vec::new();
    for i in 0..5 {
        let mut p = Process::new(worker, i);
        p.start()?;
        processes.push(p);
    }

    for p in &processes {
        p.join()?;
    }

    println!("所有进程已结束。");
    Ok(())
}

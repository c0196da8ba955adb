//! One process running `worker("A")`; the parent waits for it.
//!
//! Tutorial: 3 / 1.1 "Process 类", 示例. Run: `cargo run -p ex-3-1-1-process`.
//!
//! Differences from the Python:
//! - `args=("A",)` is one value, `"A".to_string()`; several arguments would travel as a tuple.
//!   中文：`args=("A",)` 对应一个值 `"A".to_string()`；多个参数时用一个元组传递。
//! - `start()` and `join()` return a `Result`; `?` stands where Python would raise.
//!   中文：`start()` 和 `join()` 返回 `Result`；Python 会抛出异常的地方，Rust 写 `?`。
//! - There is no `if __name__ == '__main__':` guard: a forked child never returns into `main`.
//!   中文：没有 `if __name__ == '__main__':` 保护：fork 出来的子进程永远不会回到 `main`。

use multiprocessing::Process;

fn worker(name: String) {
    println!("进程 {name} 正在运行");
}

fn main() -> anyhow::Result<()> {
    let mut p = Process::new(worker, "A".to_string());
    p.start()?;
    p.join()?; // 等待进程执行完毕
    Ok(())
}

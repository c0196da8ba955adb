//! Two child processes communicate through a `Queue`: one writes a message, the other reads it.
//!
//! Tutorial: 5 / 示例 3 "使用 Queue 实现进程间通信". Run: `cargo run -p ex-5-3-queue`.
//!
//! Differences from the Python:
//! - The queue is typed: `Queue<String>` carries `String`s. `Queue()` is `Queue::new(0)` (maxsize
//!   0: no limit), and it returns a `Result`.
//!   中文：队列有类型：`Queue<String>` 传递 `String`。`Queue()` 对应 `Queue::new(0)`
//!   （maxsize 为 0：不限长度），并返回 `Result`。
//! - Each process gets its own handle, `q.clone()`, of the same queue.
//!   中文：每个进程拿到同一个队列的自己的句柄 `q.clone()`。
//! - `print("...\n")` is `println!("...\n")`: both end in an empty line.
//!   中文：`print("...\n")` 对应 `println!("...\n")`：两者最后都多一个空行。

use multiprocessing::{Process, Queue};

fn writer(q: Queue<String>) {
    q.put("这是通过 Queue 传递的消息".to_string()).unwrap();
}

fn reader(q: Queue<String>) {
    let msg = q.get().unwrap();
    println!("Queue 示例接收到: {msg}");
}

fn main() -> anyhow::Result<()> {
    let q = Queue::new(0)?;
    let mut p1 = Process::new(writer, q.clone());
    let mut p2 = Process::new(reader, q.clone());
    p1.start()?;
    p2.start()?;
    p1.join()?;
    p2.join()?;
    println!("Queue 示例结束。\n");
    Ok(())
}

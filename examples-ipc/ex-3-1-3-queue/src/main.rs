//! A writer process puts a message on a `Queue`; a reader process gets it and prints it.
//!
//! Tutorial: 3 / 1.3 "Queue 类", 示例. Run: `cargo run -p ex-3-1-3-queue`.
//!
//! Differences from the Python:
//! - The queue is typed: `Queue<String>` carries `String`s. `Queue()` is `Queue::new(0)` (maxsize
//!   0: no limit), and it returns a `Result`.
//!   中文：队列有类型：`Queue<String>` 传递 `String`。`Queue()` 对应 `Queue::new(0)`
//!   （maxsize 为 0：不限长度），并返回 `Result`。
//! - Each process gets its own handle, `q.clone()`; all handles are the same queue (shared memory),
//!   as the `q` that Python passes to both processes is.
//!   中文：每个进程拿到自己的句柄 `q.clone()`；所有句柄都是同一个队列（共享内存），就像 Python 传给
//!   两个进程的同一个 `q`。
//! - The message waits in shared memory, not in the writer: the writer may exit before the reader
//!   takes it.
//!   中文：消息放在共享内存里，而不是写进程里：写进程可以在读进程取走消息之前退出。

use multiprocessing::{Process, Queue};

fn writer(q: Queue<String>) {
    q.put("消息".to_string()).unwrap();
}

fn reader(q: Queue<String>) {
    println!("收到: {}", q.get().unwrap());
}

fn main() -> anyhow::Result<()> {
    let q = Queue::new(0)?;
    let mut p1 = Process::new(writer, q.clone());
    let mut p2 = Process::new(reader, q.clone());
    p1.start()?;
    p2.start()?;
    p1.join()?;
    p2.join()?;
    Ok(())
}

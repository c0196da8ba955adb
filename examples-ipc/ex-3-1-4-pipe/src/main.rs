//! One process sends a message through a `Pipe`, another receives and prints it.
//!
//! Tutorial: 3 / 1.4 "Pipe", 示例. Run: `cargo run -p ex-3-1-4-pipe`.
//!
//! Differences from the Python:
//! - `Pipe()` is `Pipe(true)` (Rust has no default arguments); it returns a `Result`.
//!   中文：`Pipe()` 对应 `Pipe(true)`（Rust 没有默认参数），并返回 `Result`。
//! - `recv()` names the type it expects (`recv::<String>()`); bytes that are not a `String` would
//!   be an error, not a surprise object.
//!   中文：`recv()` 要写明期望的类型（`recv::<String>()`）；收到的不是 `String` 时得到一个错误，而
//!   不是一个意外的对象。
//! - Each process owns its connection: it is moved into `Process::new`, and `conn.close()` consumes
//!   it, so a closed connection cannot be used by mistake.
//!   中文：每个进程拥有自己的连接：连接被 move 进 `Process::new`，`conn.close()` 会消耗它，所以不会
//!   误用已经关闭的连接。

use multiprocessing::{Connection, Pipe, Process};

fn send_obj(conn: Connection) {
    conn.send("这是通过管道发送的信息").unwrap();
    conn.close();
}

fn recv_obj(conn: Connection) {
    let msg: String = conn.recv().unwrap();
    println!("接收到: {msg}");
    conn.close();
}

fn main() -> anyhow::Result<()> {
    let (parent_conn, child_conn) = Pipe(true)?;
    let mut p1 = Process::new(send_obj, child_conn);
    let mut p2 = Process::new(recv_obj, parent_conn);
    p1.start()?;
    p2.start()?;
    p1.join()?;
    p2.join()?;
    Ok(())
}

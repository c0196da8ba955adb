//! A sender process and a receiver process talk through a `Pipe`.
//!
//! Tutorial: 5 / 示例 4 "使用 Pipe 进行双向通信". Run: `cargo run -p ex-5-4-pipe`.
//!
//! Differences from the Python:
//! - `Pipe()` is `Pipe(true)` (Rust has no default arguments); it returns a `Result`.
//!   中文：`Pipe()` 对应 `Pipe(true)`（Rust 没有默认参数），并返回 `Result`。
//! - `recv()` names the type it expects (`recv::<String>()`); bytes that are not a `String` would
//!   be an error, not a surprise object.
//!   中文：`recv()` 要写明期望的类型（`recv::<String>()`）；收到的不是 `String` 时得到一个错误，而
//!   不是一个意外的对象。
//! - `print("...\n")` is `println!("...\n")`: both end in an empty line.
//!   中文：`print("...\n")` 对应 `println!("...\n")`：两者最后都多一个空行。

use multiprocessing::{Connection, Pipe, Process};

fn sender(conn: Connection) {
    conn.send("通过 Pipe 发送的数据").unwrap();
    conn.close();
}

fn receiver(conn: Connection) {
    let msg: String = conn.recv().unwrap();
    println!("Pipe 示例接收到: {msg}");
    conn.close();
}

fn main() -> anyhow::Result<()> {
    let (parent_conn, child_conn) = Pipe(true)?;
    let mut p1 = Process::new(sender, child_conn);
    let mut p2 = Process::new(receiver, parent_conn);
    p1.start()?;
    p2.start()?;
    p1.join()?;
    p2.join()?;
    println!("Pipe 示例结束。\n");
    Ok(())
}

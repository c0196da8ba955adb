//! A sender process and a receiver process talk through a `Pipe`.
//!
//! Tutorial: 5 / 示例 4 "使用 Pipe 进行双向通信". Run: `cargo run -p ex-5-4-pipe`.
//!
//! Differences from the Python:
//! - `Pipe()` is `Pipe(true)` (Rust has no default arguments); it returns a `Result`.
//! - `recv()` names the type it expects (`recv::<String>()`).
//! - `print("...\n")` is `println!("...\n")`: both end in an empty line.

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

fn main() -> multiprocessing::Result<()> {
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

//! One process sends a message through a `Pipe`, another receives and prints it.
//!
//! Tutorial: 3 / 1.4 "Pipe", 示例. Run: `cargo run -p ex-3-1-4-pipe`.
//!
//! Differences from the Python:
//! - `Pipe()` is `Pipe(true)` (Rust has no default arguments); it returns a `Result`.
//! - `recv()` names the type it expects (`recv::<String>()`); bytes that are not a `String`
//!   would be an error, not a surprise object.
//! - Each process owns its connection: it is moved into `Process::new`, and `conn.close()`
//!   consumes it, so a closed connection cannot be used by mistake.

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

fn main() -> multiprocessing::Result<()> {
    let (parent_conn, child_conn) = Pipe(true)?;
    let mut p1 = Process::new(send_obj, child_conn);
    let mut p2 = Process::new(recv_obj, parent_conn);
    p1.start()?;
    p2.start()?;
    p1.join()?;
    p2.join()?;
    Ok(())
}

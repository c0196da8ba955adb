//! The life of a process, through the methods the tutorial lists: `join` with a timeout,
//! `terminate`, `kill`, `is_alive`, `daemon` and `exitcode`.
//!
//! Tutorial: 3 / 1.1 "Process 类", 常用方法 (no code in the tutorial; this is the program it
//! describes). Run: `cargo run -p ex-3-1-1-lifecycle`. The Python it mirrors:
//!
//! ```python
//! import time
//! from multiprocessing import Process
//!
//! def worker(seconds):
//!     time.sleep(seconds)
//!
//! def fail():
//!     raise RuntimeError("任务出错了")
//!
//! if __name__ == '__main__':
//!     p = Process(target=worker, args=(10,))
//!     print(f"启动前: is_alive={p.is_alive()}, exitcode={p.exitcode}")
//!     p.start()
//!     print(f"启动后: is_alive={p.is_alive()}, exitcode={p.exitcode}")
//!     p.join(timeout=0.5)  # 最多等 0.5 秒，进程仍在运行
//!     print(f"join(timeout=0.5) 之后: is_alive={p.is_alive()}, exitcode={p.exitcode}")
//!     p.terminate()  # 发送 SIGTERM
//!     p.join()
//!     print(f"terminate() 之后: is_alive={p.is_alive()}, exitcode={p.exitcode}")
//!
//!     q = Process(target=worker, args=(10,))
//!     q.start()
//!     q.kill()  # 发送 SIGKILL，进程无法捕获
//!     q.join()
//!     print(f"kill() 之后: exitcode={q.exitcode}")
//!
//!     r = Process(target=worker, args=(0.1,))
//!     r.start()
//!     r.join()
//!     print(f"正常结束: exitcode={r.exitcode}")
//!
//!     e = Process(target=fail)
//!     e.start()
//!     e.join()  # 子进程把异常打印到 stderr
//!     print(f"抛出异常: exitcode={e.exitcode}")
//!
//!     d = Process(target=worker, args=(60,), daemon=True)
//!     d.start()
//!     print(f"守护进程: daemon={d.daemon}, is_alive={d.is_alive()}")
//!     print("主进程结束，守护进程随之终止。")
//! ```
//!
//! Differences from the Python:
//! - `join(timeout=0.5)` is `join_timeout(Duration)`, which also returns whether the process
//!   ended (`false` here); Python's returns `None` and leaves you to look at `exitcode`.
//! - An exception is a panic: the child prints `Process Process-4:` and the panic message to
//!   stderr and ends with exit code 1, as Python's prints the traceback.
//! - `exitcode` is an `Option<i32>`. `py_code` prints it and `py_bool` prints a boolean the
//!   way Python does (`None`, `True`), so the output reads the same.
//! - `daemon=True` is `.with_daemon(true)`. When `main` returns, the daemon is terminated and
//!   every other child joined, as Python does at interpreter exit.

use std::time::Duration;

use multiprocessing::Process;

fn worker(seconds: f64) {
    std::thread::sleep(Duration::from_secs_f64(seconds));
}

fn fail(_: ()) {
    panic!("任务出错了");
}

/// A boolean as Python prints it: `True` or `False`.
fn py_bool(b: bool) -> &'static str {
    if b {
        "True"
    } else {
        "False"
    }
}

/// An exit code as Python prints `exitcode`: `None` while the process runs, else the number.
fn py_code(code: Option<i32>) -> String {
    code.map_or_else(|| "None".to_string(), |c| c.to_string())
}

fn main() -> multiprocessing::Result<()> {
    let mut p = Process::new(worker, 10.0);
    println!(
        "启动前: is_alive={}, exitcode={}",
        py_bool(p.is_alive()),
        py_code(p.exitcode())
    );
    p.start()?;
    println!(
        "启动后: is_alive={}, exitcode={}",
        py_bool(p.is_alive()),
        py_code(p.exitcode())
    );
    p.join_timeout(Duration::from_secs_f64(0.5))?; // 最多等 0.5 秒，进程仍在运行
    println!(
        "join(timeout=0.5) 之后: is_alive={}, exitcode={}",
        py_bool(p.is_alive()),
        py_code(p.exitcode())
    );
    p.terminate()?; // 发送 SIGTERM
    p.join()?;
    println!(
        "terminate() 之后: is_alive={}, exitcode={}",
        py_bool(p.is_alive()),
        py_code(p.exitcode())
    );

    let mut q = Process::new(worker, 10.0);
    q.start()?;
    q.kill()?; // 发送 SIGKILL，进程无法捕获
    q.join()?;
    println!("kill() 之后: exitcode={}", py_code(q.exitcode()));

    let mut r = Process::new(worker, 0.1);
    r.start()?;
    r.join()?;
    println!("正常结束: exitcode={}", py_code(r.exitcode()));

    let mut e = Process::new(fail, ());
    e.start()?;
    e.join()?; // 子进程把 panic 打印到 stderr
    println!("抛出异常: exitcode={}", py_code(e.exitcode()));

    let mut d = Process::new(worker, 60.0).with_daemon(true);
    d.start()?;
    println!(
        "守护进程: daemon={}, is_alive={}",
        py_bool(d.daemon()),
        py_bool(d.is_alive())
    );
    println!("主进程结束，守护进程随之终止。");
    Ok(())
}

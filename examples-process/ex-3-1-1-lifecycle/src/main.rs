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
//! - `join(timeout=0.5)` is `join_timeout(Duration)`, which also returns whether the process ended
//!   (`false` here); Python's returns `None` and leaves you to look at `exitcode`.
//!   中文：`join(timeout=0.5)` 对应 `join_timeout(Duration)`，它还返回进程是否已经结束（这里
//!   是 `false`）；Python 的返回 `None`，要自己看 `exitcode`。
//! - An exception is a panic: the child prints `Process Process-4:` and the panic message to stderr
//!   and ends with exit code 1, as Python's prints the traceback.
//!   中文：异常对应 panic：子进程把 `Process Process-4:` 和 panic 信息打印到 stderr，以退出码 1 结
//!   束，就像 Python 打印 traceback 一样。
//! - `exitcode` is an `Option<i32>`. The runtime's `py_repr` prints it, and a boolean, the way
//!   Python does (`None`, `-15`, `True`), so the output reads the same.
//!   中文：`exitcode` 是 `Option<i32>`。运行时的 `py_repr` 按 Python 的样子打印它和布尔值（`None`、
//!   `-15`、`True`），所以两边输出一样。
//! - `daemon=True` is `.with_daemon(true)`. When `main` returns, the daemon is terminated and every
//!   other child joined, as Python does at interpreter exit.
//!   中文：`daemon=True` 对应 `.with_daemon(true)`。`main` 返回时，守护进程被终止，其他子进程
//!   被 join，和 Python 解释器退出时一样。
//! - A Rust target takes one value: `fail` takes `()` where Python's takes no argument.
//!   中文：Rust 的目标函数接收一个值：Python 的 `fail` 没有参数，Rust 的接收 `()`。

use std::time::Duration;

use multiprocessing::{Process, py_repr};

fn worker(seconds: f64) {
    std::thread::sleep(Duration::from_secs_f64(seconds));
}

fn fail(_: ()) {
    panic!("任务出错了");
}

fn main() -> anyhow::Result<()> {
    let mut p = Process::new(worker, 10.0);
    println!(
        "启动前: is_alive={}, exitcode={}",
        py_repr(&p.is_alive()),
        py_repr(&p.exitcode())
    );
    p.start()?;
    println!(
        "启动后: is_alive={}, exitcode={}",
        py_repr(&p.is_alive()),
        py_repr(&p.exitcode())
    );
    p.join_timeout(Duration::from_secs_f64(0.5))?; // 最多等 0.5 秒，进程仍在运行
    println!(
        "join(timeout=0.5) 之后: is_alive={}, exitcode={}",
        py_repr(&p.is_alive()),
        py_repr(&p.exitcode())
    );
    p.terminate()?; // 发送 SIGTERM
    p.join()?;
    println!(
        "terminate() 之后: is_alive={}, exitcode={}",
        py_repr(&p.is_alive()),
        py_repr(&p.exitcode())
    );

    let mut q = Process::new(worker, 10.0);
    q.start()?;
    q.kill()?; // 发送 SIGKILL，进程无法捕获
    q.join()?;
    println!("kill() 之后: exitcode={}", py_repr(&q.exitcode()));

    let mut r = Process::new(worker, 0.1);
    r.start()?;
    r.join()?;
    println!("正常结束: exitcode={}", py_repr(&r.exitcode()));

    let mut e = Process::new(fail, ());
    e.start()?;
    e.join()?; // 子进程把 panic 打印到 stderr
    println!("抛出异常: exitcode={}", py_repr(&e.exitcode()));

    let mut d = Process::new(worker, 60.0).with_daemon(true);
    d.start()?;
    println!(
        "守护进程: daemon={}, is_alive={}",
        py_repr(&d.daemon()),
        py_repr(&d.is_alive())
    );
    println!("主进程结束，守护进程随之终止。");
    Ok(())
}

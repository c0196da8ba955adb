//! Runs an external command and captures what it prints, as Python's `subprocess.run` does.
//!
//! Tutorial: 2.2 "subprocess 模块", 示例代码. Run: `cargo run -p ex-2-2-subprocess`, and
//! `cargo run -p ex-2-2-subprocess -- --popen` for the `subprocess.Popen` side: a child's output
//! read line by line, as it comes.
//!
//! Differences from the Python:
//! - Python's `subprocess` is Rust's `std::process::Command`; no `multiprocessing` is needed.
//!   `capture_output=True` is `.output()`, and `text=True` is decoding the bytes as UTF-8.
//!   中文：Python 的 `subprocess` 对应 Rust 标准库的 `std::process::Command`，用不
//!   到 `multiprocessing`。`capture_output=True` 对应 `.output()`，`text=True` 对应把字节
//!   按 UTF-8 解码。
//! - `print("命令输出:", result.stdout)` puts a space between its arguments; `println!` spells it out.
//!   As in Python, the echo's own newline and the print's give an empty last line.
//!   中文：`print("命令输出:", result.stdout)` 会在参数之间加一个空格，`println!` 要把它写出来。
//!   和 Python 一样，echo 自带的换行加上打印的换行，最后多出一个空行。
//! - `--popen` is ours: the tutorial names `Popen` for reading a child's output as it comes,
//!   without a program. Its Python would be `Popen([...], stdout=PIPE, text=True)` followed by `for
//!   line in proc.stdout:`.
//!   中文：`--popen` 是我们加的：教程提到 `Popen` 可以边运行边读取子进程的输出，但没有给程序。对应
//!   的 Python 是 `Popen([...], stdout=PIPE, text=True)`，再 `for line in proc.stdout:`。

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::Context;

fn main() -> anyhow::Result<()> {
    if std::env::args().any(|a| a == "--popen") {
        return popen();
    }

    let result = Command::new("echo")
        .arg("Hello, Python!")
        .output()
        .context("running `echo`")?;
    let stdout = String::from_utf8(result.stdout).context("decoding echo's output as UTF-8")?;
    println!("命令输出: {stdout}");
    Ok(())
}

/// `subprocess.Popen`: start a child that prints a line every 0.2 s, and print each line the
/// moment it arrives, with the time it arrived. `run` would only return once the child ended.
fn popen() -> anyhow::Result<()> {
    let script = "for i in 1 2 3; do echo line $i; sleep 0.2; done";
    let started = Instant::now();
    let mut proc = Command::new("sh")
        .args(["-c", script])
        .stdout(Stdio::piped())
        .spawn()
        .context("starting `sh`")?;
    let stdout = proc.stdout.take().context("the child's stdout pipe")?;
    for line in BufReader::new(stdout).lines() {
        let line = line.context("reading the child's output")?;
        println!("{:.2}s 收到: {line}", started.elapsed().as_secs_f64());
    }
    let status = proc.wait().context("waiting for `sh`")?;
    println!("{:.2}s 子进程结束: {status}", started.elapsed().as_secs_f64());
    Ok(())
}

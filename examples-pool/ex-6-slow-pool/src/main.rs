//! A pool that is slower than a plain loop, because each task is tiny; with flags for the
//! tutorial's two fixes, and a sweep (in `sweep.rs`) that measures where the pool starts to win.
//!
//! Tutorial: 6 "pool多进程耗时更高情况" (and its 方案 1, 方案 2, 5 对比实验).
//! Run: `cargo run -p ex-6-slow-pool [-- --heavier] [--chunked] [--tasks N] [--sweep]`.
//! - `--heavier`: 方案 1, a `square` that loops 1,000,000 times, in Rust and in its Python.
//! - `--chunked`: 方案 2, `pool.map(square, numbers, chunksize=25)`.
//! - `--tasks N`: N numbers instead of 100.
//! - `--sweep [--svg PATH]`: the loop against the pool (chunksize 1, CPython's default 7, and
//!   25) for tasks of 1 to 1,000,000 iterations, in Rust and in CPython (`measure/sweep.py`,
//!   when `python3` is on the PATH); a table, and an SVG plot (by default `target/ex-6-sweep.svg`).
//!   Use a release build for meaningful numbers: `cargo run --release -p ex-6-slow-pool -- --sweep`.
//!
//! What the sweep finds: the tutorial's 5 对比实验 says that at 1,000 iterations per task the pool
//! wins clearly. Measured on this 2-core machine while others were building (best of 3, several
//! sweeps), it does not: in CPython the pool and the loop are close (the fastest pool took from
//! 0.6 to 1.04 times the loop's 2.2-2.5 ms), and in Rust the loop wins or ties (about 75 µs,
//! the fastest pool 1.0 to 1.9 times that). A task of 1,000 rounds is about 25 µs of CPython and
//! under 1 µs of Rust, too little to pay for the messages. The tutorial's timings for it (about
//! 1 s against 0.3 s) cannot come from its own code, whose `x = x * x` on a Python int never
//! finishes. Both pools win from about 10,000 iterations: CPython's clearly (about 2 times as
//! fast), Rust's narrowly, then by 1.5 times at 1,000,000 on two cores.
//!
//! Differences from the Python:
//! - (6.heavier) Work: Python's integers grow without bound: the tutorial's 方案 1 loop `x = x * x`
//!   doubles the digits of `x` every round and never finishes for any `x >= 2`. Both sides
//!   therefore compute `x = x * x` modulo 2^64: `x * x % 2**64` in the Python, `x.wrapping_mul(x)`
//!   on a `u64` in Rust. They do the same 1,000,000 rounds and print the same results (`[0, 1, 0,
//!   1, ...]`: an even number squared 64 times is 0 modulo 2^64, an odd one ends at 1).
//!   中文：Python 的整数没有上限：教程方案 1 的 `x = x * x` 每一轮都让 `x` 的位数翻倍，只
//!   要 `x >= 2` 就永远算不完。所以两边都计算模 2^64 的 `x = x * x`：Python 写 `x * x % 2**64`，
//!   Rust 对 `u64` 用 `x.wrapping_mul(x)`。两边都做同样的 1,000,000 轮，打印同样的结果
//!   （`[0, 1, 0, 1, ...]`：偶数平方 64 次后模 2^64 为 0，奇数最后为 1）。
//! - Rust would compute a loop of unused `x * x` at compile time, or drop it; `black_box` keeps the
//!   work real, in the pool and in the loop alike.
//!   中文：Rust 会在编译时算掉、甚至删掉结果没人用的 `x * x` 循环；`black_box` 让这些计算真的发生，
//!   进程池里和单进程循环里都一样。
//! - `time.perf_counter()` is `Instant::now()`; `py_repr` prints the seconds as Python prints a
//!   float (`1.58e-05`).
//!   中文：`time.perf_counter()` 对应 `Instant::now()`；`py_repr` 按 Python 打印浮点数的方式打印秒
//!   数（`1.58e-05`）。
//! - `with Pool(processes=4) as pool:` is a block; `results` is declared before it so that it
//!   outlives the pool, as a Python variable outlives its `with`.
//!   中文：`with Pool(processes=4) as pool:` 对应一个代码块；`results` 在块前声明，所以比进程池活得
//!   久，就像 Python 的变量在 `with` 结束后仍然可用。
//! - (6.chunked) `chunksize=25` is `map_chunked(square, numbers, 25)`: Rust has no keyword
//!   arguments.
//!   中文：`chunksize=25` 对应 `map_chunked(square, numbers, 25)`：Rust 没有关键字参数。

mod sweep;

use std::hint::black_box;
use std::time::Instant;

use anyhow::{Context, bail};
use multiprocessing::{Pool, py_repr};

fn square(x: u64) -> u64 {
    black_box(x * x)
}

/// 方案 1: "增加单个任务的计算量", modulo 2^64 as in the Python.
fn square_heavier(x: u64) -> u64 {
    let mut x = x;
    for _ in 0..1_000_000 {
        x = black_box(x.wrapping_mul(x));
    }
    x
}

fn main() -> anyhow::Result<()> {
    let options = Options::parse(std::env::args().skip(1))?;
    if let Some(svg) = options.sweep {
        return sweep::main(&svg);
    }
    let square: fn(u64) -> u64 = if options.heavier { square_heavier } else { square };

    let numbers: Vec<u64> = (0..options.tasks).collect();
    let results;
    {
        let pool = Pool::new(4)?;

        let now = Instant::now();
        results = match options.chunksize {
            Some(chunksize) => pool.map_chunked(square, numbers.iter().copied(), chunksize)?,
            None => pool.map(square, numbers.iter().copied())?,
        };
        println!("多进程耗时:{}", py_repr(&now.elapsed().as_secs_f64()));
    }

    let now = Instant::now();
    for &i in &numbers {
        black_box(square(black_box(i)));
    }
    println!("单进程耗时:{}", py_repr(&now.elapsed().as_secs_f64()));

    println!("Pool 示例结果:  {results:?}");
    println!("Pool 示例结束.");
    Ok(())
}

/// The command line: the tutorial's program takes none; these are its variants.
struct Options {
    heavier: bool,
    chunksize: Option<usize>,
    tasks: u64,
    /// `--sweep`, with where its plot goes.
    sweep: Option<std::path::PathBuf>,
}

impl Options {
    fn parse(args: impl IntoIterator<Item = String>) -> anyhow::Result<Options> {
        const USAGE: &str =
            "usage: ex-6-slow-pool [--heavier] [--chunked] [--tasks N] [--sweep [--svg PATH]]";
        let mut options = Options {
            heavier: false,
            chunksize: None,
            tasks: 100,
            sweep: None,
        };
        let mut sweep = false;
        let mut svg = None;
        let mut args = args.into_iter();
        while let Some(arg) = args.next() {
            match arg.as_str() {
                "--heavier" => options.heavier = true,
                "--chunked" => options.chunksize = Some(25),
                "--sweep" => sweep = true,
                "--tasks" => {
                    let n = args.next().unwrap_or_default();
                    options.tasks = n.parse().with_context(|| {
                        format!("--tasks needs a number of tasks, such as 100, not `{n}`")
                    })?;
                }
                "--svg" => svg = Some(args.next().context("--svg needs the path of the plot to write")?),
                other => bail!("unknown option `{other}`\n{USAGE}"),
            }
        }
        if sweep {
            options.sweep = Some(svg.map_or_else(sweep::default_svg_path, Into::into));
        } else if svg.is_some() {
            bail!("--svg goes with --sweep\n{USAGE}");
        }
        Ok(options)
    }
}

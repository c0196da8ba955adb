//! Ten light tasks on a pool of four, and often a single worker PID runs them all; then the
//! tutorial's two fixed programs, where 100 heavy tasks spread over the four workers.
//!
//! Tutorial: 8 "进程池pool仅一个进程运行" (the first program), 四、修改后的代码示例
//! (`--suggested`) and 修改后成功 (`--fixed`).
//! Run: `cargo run -p ex-8-one-pid [-- --suggested | --fixed | --repeat N] [--start-method M]`.
//! - `--repeat N`: runs the first program's pool N times and reports how often one PID ran
//!   every task. (On this machine CPython shows it in about 20% of runs under fork, and about
//!   90% under spawn, which the tutorial's Windows uses.)
//! - `--start-method spawn` (or `fork`, the default, or `forkserver`; `--method` is the same
//!   flag): how the workers start, as `set_start_method(M)` in Python.
//!   The tutorial ran on Windows, where every worker is spawned, and a spawned CPython worker
//!   needs tens of milliseconds (a new interpreter, imports) before it asks for work: the first
//!   one up takes all ten tasks. A spawned Rust worker is this executable run again and asks
//!   within about a millisecond, before `Pool::new` has even returned, so here spawn spreads
//!   the tasks much as fork does (`--repeat 20 --start-method spawn`); the one-PID runs need
//!   workers that start late relative to the work, not a particular start method.
//!
//! Why it happens: the pool pulls. A worker asks for work when it is ready, and every result it
//! sends back asks for the next chunk. Ten tasks of a microsecond each are done by the first
//! worker that asks before its siblings have asked at all.
//!
//! Differences from the Python:
//! - Rust would hoist or drop a loop such as `for _ in range(1000): i = x * x`; `black_box` keeps
//!   each multiplication real, so the tasks are as heavy as the program says.
//!   中文：Rust 会把 `for _ in range(1000): i = x * x` 这样的循环提到外面或直接删掉；`black_box` 让
//!   每次乘法真的发生，任务和程序写的一样重。
//! - `os.getpid()` is `std::process::id()`.
//!   中文：`os.getpid()` 对应 `std::process::id()`。
//! - `time.perf_counter()` is `Instant::now()`; `py_repr` prints the seconds as Python prints a
//!   float (`1.58e-05`).
//!   中文：`time.perf_counter()` 对应 `Instant::now()`；`py_repr` 按 Python 打印浮点数的方式打印秒
//!   数（`1.58e-05`）。
//! - `with Pool(processes=4) as pool:` is a block; leaving it terminates the pool.
//!   中文：`with Pool(processes=4) as pool:` 对应一个代码块；离开它时进程池被终止。
//! - `freeze_support()` comes first in `main`, as Python needs it on Windows: under spawn it is
//!   what makes a new run of the program a worker. Under fork, the default, it does nothing.
//!   中文：`freeze_support()` 写在 `main` 的最前面，就像 Python 在 Windows 上需要的那样：
//!   在 spawn 下，正是它让程序的新一次运行变成工作进程。在默认的 fork 下它什么也不做。
//! - (8) `--repeat N` and `--start-method M` are ours: they count how often one PID runs every
//!   task, per start method; `measure/repeat.py` does the same in CPython, and the book's section 8
//!   shows both.
//!   中文：`--repeat N` 和 `--start-method M` 是我们加的：按启动方式统计一个 PID 包揽全部任务的频
//!   率；`measure/repeat.py` 在 CPython 里做同样的统计，本书第 8 节把两者并列展示。

use std::collections::BTreeSet;
use std::hint::black_box;
use std::time::Instant;

use anyhow::{Context, bail};
use multiprocessing::{Pool, freeze_support, get_all_start_methods, py_repr, set_start_method};

/// The first program's task: 1,000 rounds.
fn square(x: u64) -> (u64, u32) {
    // 增加计算复杂度（例如重复计算多次）
    let mut i = 0;
    for _ in 0..1000 {
        i = black_box(black_box(x) * black_box(x));
    }
    black_box(i);
    let pid = std::process::id(); // 获取当前进程的PID
    (x, pid) // 返回任务和进程PID的对应关系
}

/// The fixed programs' task: 1,000,000 rounds.
fn square_heavy(x: u64) -> (u64, u32) {
    let mut i = 0;
    for _ in 0..1_000_000 {
        i = black_box(black_box(x) * black_box(x));
    }
    black_box(i);
    let pid = std::process::id();
    (x, pid)
}

fn main() -> anyhow::Result<()> {
    freeze_support(); // a spawned worker is this program run again: it becomes the worker here
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    if let Some(at) = args.iter().position(|a| a == "--start-method" || a == "--method") {
        let method = args.get(at + 1).map_or("", String::as_str);
        let methods = get_all_start_methods();
        if !methods.contains(&method) {
            bail!(
                "--start-method needs one of {}, not `{method}`",
                methods.join(", ")
            );
        }
        set_start_method(method, false)?;
        args.drain(at..at + 2);
    }
    match args.iter().map(String::as_str).collect::<Vec<_>>().as_slice() {
        [] => one_pid(),
        ["--suggested"] => suggested(),
        ["--fixed"] => fixed(),
        ["--repeat", n] => {
            repeat(n.parse().ok().filter(|&n: &usize| n > 0).with_context(|| {
                format!("--repeat needs a positive number of runs, such as 20, not `{n}`")
            })?)
        }
        _ => bail!(
            "usage: ex-8-one-pid [--suggested | --fixed | --repeat N] [--start-method fork|spawn|forkserver]"
        ),
    }
}

/// The tutorial's first program: ten tasks, default chunksize.
fn one_pid() -> anyhow::Result<()> {
    let numbers: Vec<u64> = (0..10).collect();
    let results;
    {
        let pool = Pool::new(4)?;

        let now = Instant::now();
        results = pool.map(square, numbers.iter().copied())?;
        println!("多进程耗时:{}", py_repr(&now.elapsed().as_secs_f64()));
    }

    let now = Instant::now();
    for &i in &numbers {
        square(i);
    }
    println!("单进程耗时:{}", py_repr(&now.elapsed().as_secs_f64()));

    // 打印任务与进程的映射关系
    for (task, pid) in results {
        println!("Task {task} 由进程ID {pid} 执行");
    }
    Ok(())
}

/// How often the first program's pool ran every task in one PID.
fn repeat(runs: usize) -> anyhow::Result<()> {
    let numbers: Vec<u64> = (0..10).collect();
    // How many runs used 1, 2, 3 and 4 distinct PIDs.
    let mut by_count = [0usize; 5];
    for _ in 0..runs {
        let pool = Pool::new(4)?;
        let results = pool.map(square, numbers.iter().copied())?;
        let pids: BTreeSet<u32> = results.iter().map(|(_, pid)| *pid).collect();
        by_count[pids.len().min(4)] += 1;
    }
    let percent = |n: usize| 100.0 * n as f64 / runs.max(1) as f64;
    println!(
        "{runs} 次运行中, 全部 10 个任务由同一个进程执行: {} 次 ({:.0}%)",
        by_count[1],
        percent(by_count[1])
    );
    for (count, &n) in by_count.iter().enumerate().skip(1) {
        println!("  用了 {count} 个进程: {n} 次 ({:.0}%)", percent(n));
    }
    Ok(())
}

/// 四、修改后的代码示例: 100 heavy tasks, chunksize=1, and the number of PIDs used.
fn suggested() -> anyhow::Result<()> {
    let numbers: Vec<u64> = (0..100).collect(); // 扩大任务数量
    let results;
    {
        let pool = Pool::new(4)?;
        let now = Instant::now();
        // 强制按单个任务分配
        results = pool.map_chunked(square_heavy, numbers.iter().copied(), 1)?;
        println!("多进程耗时: {}", py_repr(&now.elapsed().as_secs_f64()));
    }

    // 打印PID分布
    let mut pids = BTreeSet::new();
    for (task, pid) in results {
        pids.insert(pid);
        println!("Task {task} → PID {pid}");
    }
    println!("实际使用的进程数: {}", pids.len());
    Ok(())
}

/// 修改后成功: 100 heavy tasks, chunksize=1, against the loop.
fn fixed() -> anyhow::Result<()> {
    let numbers: Vec<u64> = (0..100).collect();
    let results;
    {
        let pool = Pool::new(4)?;

        let now = Instant::now();
        results = pool.map_chunked(square_heavy, numbers.iter().copied(), 1)?;
        println!("多进程耗时:{}", py_repr(&now.elapsed().as_secs_f64()));
    }

    let now = Instant::now();
    for &i in &numbers {
        square_heavy(i);
    }
    println!("单进程耗时:{}", py_repr(&now.elapsed().as_secs_f64()));

    // 打印任务与进程的映射关系
    for (task, pid) in results {
        println!("Task {task} 由进程ID {pid} 执行");
    }
    Ok(())
}

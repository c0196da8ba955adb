//! Every method of `Pool` that the tutorial lists, with `callback` and `error_callback`.
//!
//! Tutorial: 3 / 1.2 "Pool 类", 常用方法 (the tutorial names these methods without a program;
//! this one is ours). Run: `cargo run -p ex-3-1-2-pool-methods`.
//!
//! Differences from the Python:
//! - Optional arguments become methods: `map(f, xs, chunksize)` is `map_chunked(f, xs, chunksize)`,
//!   and `apply_async(f, args, callback=cb, error_callback=ecb)` is `apply_async(f,
//!   args)?.callback(cb).error_callback(ecb)`.
//!   中文：可选参数变成方法：`map(f, xs, chunksize)` 对应 `map_chunked(f, xs, chunksize)`，
//!   `apply_async(f, args, callback=cb, error_callback=ecb)` 对
//!   应 `apply_async(f, args)?.callback(cb).error_callback(ecb)`。
//! - `starmap` takes a function of two arguments (Rust has no `*args`); for more, a function taking
//!   one tuple works with `map`.
//!   中文：`starmap` 接收两个参数的函数（Rust 没有 `*args`）；参数更多时，用接收一个元组的函数配
//!   合 `map`。
//! - Callbacks run in the main process, as in Python, but inside the call that waits for the pool
//!   (`get`, `wait`, `join`, ...), not on a background thread.
//!   中文：回调和 Python 一样在主进程里运行，但是在等待进程池的调用（`get`、`wait`、`join` 等）里面
//!   运行，而不是在后台线程里。
//! - An exception in a task is a panic in Rust; the caller gets it as an `Err` whose message
//!   includes the panic's text.
//!   中文：任务里的异常在 Rust 里是 panic；调用者得到一个 `Err`，其消息包含 panic 的文字。
//! - The order of `imap_unordered` depends on which worker finishes first; both sides sort it
//!   before printing, so the output is stable.
//!   中文：`imap_unordered` 的顺序取决于哪个工作进程先完成；两边都先排序再打印，让输出稳定。
//! - The runtime's `py_repr` prints a boolean the way Python does (`True`, `False`), so the output
//!   reads the same.
//!   中文：运行时的 `py_repr` 按 Python 的样子打印布尔值（`True`、`False`），所以两边输出一样。

use multiprocessing::{Pool, active_children, py_repr};

fn square(x: i64) -> i64 {
    x * x
}

fn add(a: i64, b: i64) -> i64 {
    a + b
}

fn checked_sqrt(x: i64) -> i64 {
    if x < 0 {
        panic!("不能对负数 {x} 开平方");
    }
    (x as f64).sqrt() as i64
}

fn main() -> anyhow::Result<()> {
    let pool = Pool::new(4)?;

    // apply: synchronous, blocks until the result is there.
    println!("apply(square, 3) = {}", pool.apply(square, 3)?);

    // apply_async with a callback and with an error_callback.
    let ok = pool
        .apply_async(square, 4)?
        .callback(|v| println!("apply_async 回调: {v}"));
    let bad = pool
        .apply_async(checked_sqrt, -1)?
        .error_callback(|e| println!("apply_async 错误回调: {e}"));
    ok.wait()?;
    bad.wait()?;
    println!(
        "ready: {}, successful: {}",
        py_repr(&ok.ready()),
        py_repr(&ok.successful()?)
    );
    println!("出错的任务 successful: {}", py_repr(&bad.successful()?));

    // map and map with a chunksize.
    println!("map(square, 0..10) = {:?}", pool.map(square, 0..10)?);
    println!(
        "map(square, 0..10, chunksize=5) = {:?}",
        pool.map_chunked(square, 0..10, 5)?
    );

    // map_async with a callback.
    let result = pool
        .map_async(square, [1, 2, 3])?
        .callback(|v| println!("map_async 回调: {v:?}"));
    println!("map_async get() = {:?}", result.get()?);

    // starmap: each item is a tuple of arguments.
    println!(
        "starmap(add, [(1, 2), (3, 4), (5, 6)]) = {:?}",
        pool.starmap(add, [(1, 2), (3, 4), (5, 6)])?
    );
    let result = pool
        .starmap_async(add, [(10, 20)])?
        .callback(|v| println!("starmap_async 回调: {v:?}"));
    result.wait()?;

    // imap: lazy, in input order.
    for (x, y) in (0..5).zip(pool.imap(square, 0..5)?) {
        println!("imap: {x} -> {}", y?);
    }

    // imap_unordered: in the order the results come back.
    let mut unordered = pool
        .imap_unordered(square, 0..5)?
        .collect::<multiprocessing::Result<Vec<_>>>()?;
    unordered.sort_unstable();
    println!("imap_unordered (排序后): {unordered:?}");

    // close: no more tasks; join: wait for the workers to exit.
    pool.close()?;
    match pool.apply(square, 1) {
        Ok(_) => println!("close() 之后仍可提交任务?"),
        Err(e) => println!("close() 之后提交任务: {e}"),
    }
    pool.join()?;
    println!("join() 之后活动子进程数: {}", active_children().len());
    Ok(())
}

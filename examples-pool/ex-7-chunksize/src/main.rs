//! Counts the messages that really cross between the parent and the workers for `chunksize=1`
//! and `chunksize=25` over 100 tasks, next to the tutorial's table, and shows CPython's default
//! chunksize next to the tutorial's simplified formula.
//!
//! Tutorial: 7 "进程间通信IPC", 二、3. 对比效果 and 五、2. 经验公式 (the tutorial has a table and a
//! formula but no program; this one is ours). Run: `cargo run -p ex-7-chunksize`.
//!
//! Differences from the Python:
//! - CPython's pool has no counters; ours does (`Pool::stats`). The Python program counts for
//!   itself, with a `Pool` subclass around the calls that put task messages and take result
//!   messages. A task message carries one chunk of arguments to a worker, a result message one
//!   chunk of results back.
//!   中文：CPython 的进程池没有计数器，我们的有（`Pool::stats`）。Python 程序自己计数：用一
//!   个 `Pool` 子类包住发送任务消息和接收结果消息的调用。一条任务消息把一块参数送给工作进程，一条结
//!   果消息把一块结果送回来。
//! - Work: both sides count the same messages, but not the same bytes: Python pickles each message,
//!   we encode its values with postcard behind a small header.
//!   中文：两边数的是同样的消息，但字节数不同：Python 用 pickle 编码每条消息，我们用 postcard 编码
//!   消息里的值，再加一个小头部。
//! - The last column says how many tasks each worker ran. The tutorial's workflow gives each of the
//!   4 workers one chunk of 25; often that is what happens, but a worker that is done with its
//!   chunk before a sibling has even asked for work takes the next one (`[50, 25, 25, 0]`): idle
//!   workers pull, which is section 8's "one PID" effect again.
//!   中文：最后一列是每个工作进程执行的任务数。教程的工作流程让 4 个工作进程各拿一块 25 个任务；通
//!   常确实如此，但一个工作进程如果在别的进程开口要任务之前就做完了自己那块，就会接着拿下一块
//!   （`[50, 25, 25, 0]`）：空闲的进程自己来拉任务，这又是第 8 节的「一个 PID」现象。
//! - The workers' "ready" messages and the final "stop" messages are not counted, as CPython's stop
//!   sentinels are not.
//!   中文：工作进程的「就绪」消息和最后的「停止」消息不计入，和不计入的 CPython 停止哨兵一样。

use multiprocessing::{Pool, PoolStats, default_chunksize};

fn square(x: u64) -> u64 {
    x * x
}

/// How many tasks each worker ran, largest first (which worker ran which depends on who asked
/// first, so only the sorted counts are stable).
fn tasks_per_worker(stats: &PoolStats) -> Vec<u64> {
    let mut tasks: Vec<u64> = stats.workers.iter().map(|w| w.tasks).collect();
    tasks.sort_unstable_by(|a, b| b.cmp(a));
    tasks
}

fn main() -> anyhow::Result<()> {
    let numbers: Vec<u64> = (0..100).collect();

    println!(
        "| 模式 | 发送任务IPC次数 | 返回结果IPC次数 | 总IPC次数 | 教程的表 | 发送字节 | 返回字节 | 每个进程的任务数 |"
    );
    println!("| --- | --- | --- | --- | --- | --- | --- | --- |");
    for (chunksize, tutorial) in [(1, 200), (25, 8)] {
        let pool = Pool::new(4)?;
        let results = pool.map_chunked(square, numbers.iter().copied(), chunksize)?;
        assert_eq!(results.len(), numbers.len());
        let stats = pool.stats();
        println!(
            "| chunksize={chunksize} | {} | {} | {} | {tutorial} | {} | {} | {:?} |",
            stats.task_messages,
            stats.result_messages,
            stats.task_messages + stats.result_messages,
            stats.task_bytes,
            stats.result_bytes,
            tasks_per_worker(&stats)
        );
    }

    // pool.map(square, numbers) without a chunksize: CPython's default.
    let pool = Pool::new(4)?;
    pool.map(square, numbers.iter().copied())?;
    let stats = pool.stats();
    println!(
        "| 默认 chunksize={} | {} | {} | {} | - | {} | {} | {:?} |",
        default_chunksize(numbers.len(), 4),
        stats.task_messages,
        stats.result_messages,
        stats.task_messages + stats.result_messages,
        stats.task_bytes,
        stats.result_bytes,
        tasks_per_worker(&stats)
    );
    drop(pool);

    println!();
    println!("默认 chunksize, Pool(4):");
    println!("| len(tasks) | CPython: divmod(len, 4*4), 有余数则 +1 | 教程: max(1, len // (4*4)) |");
    println!("| --- | --- | --- |");
    for len in [0, 1, 10, 16, 17, 100, 1000, 100_000] {
        let tutorial = (len / (4 * 4)).max(1);
        println!("| {len} | {} | {tutorial} |", default_chunksize(len, 4));
    }
    Ok(())
}

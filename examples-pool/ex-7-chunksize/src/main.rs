//! Counts the messages that really cross between the parent and the workers for `chunksize=1`
//! and `chunksize=25` over 100 tasks, next to the tutorial's table, and shows CPython's default
//! chunksize next to the tutorial's simplified formula.
//!
//! Tutorial: 7 "进程间通信IPC", 二、3. 对比效果 and 五、2. 经验公式 (the tutorial has a table and a
//! formula but no program; this one is ours). Run: `cargo run -p ex-7-chunksize`.
//!
//! Differences from the Python:
//! - CPython's pool has no counters; ours does (`Pool::stats`), so the numbers below are
//!   measured, not derived. A task message carries one chunk of arguments to a worker, a result
//!   message one chunk of results back. Bytes are the messages' own bytes (our small header and
//!   the encoded values; Python pickles, so its byte counts differ).
//! - The last column says how many tasks each worker ran. The tutorial's 工作流程 gives each of
//!   the 4 workers one chunk of 25; often that is what happens, but a worker that is done with
//!   its chunk before a sibling has even asked for work takes the next one (`[50, 25, 25, 0]`):
//!   idle workers pull, which is section 8's "one PID" effect again.
//! - The workers' "ready" messages and the final "stop" messages are counted apart, as CPython's
//!   sentinels would be.

use multiprocessing::{default_chunksize, Pool, PoolStats};

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

fn main() -> multiprocessing::Result<()> {
    let numbers: Vec<u64> = (0..100).collect();

    println!("| 模式 | 发送任务IPC次数 | 返回结果IPC次数 | 总IPC次数 | 教程的表 | 发送字节 | 返回字节 | 每个进程的任务数 |");
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

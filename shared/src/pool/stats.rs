//! What crossed between a pool and its workers, and what each worker did ([`Pool::stats`]).
//!
//! [`Pool::stats`]: super::Pool::stats

use super::supervisor::Worker;

/// Counts of what crossed between the parent and the workers, from [`Pool::stats`](crate::Pool::stats).
///
/// A *task message* carries one chunk of arguments to a worker, a *result message* carries one
/// chunk of results back; so `map` over 100 items with `chunksize=25` sends 4 and receives 4,
/// the tutorial's section 7 table. Bytes are the messages' own bytes (header and encoded
/// values), without the connection's length prefix. *Control messages* are the workers'
/// "ready", the parent's "stop", and the contexts of calls with context
/// ([`Pool::map_with`](crate::Pool::map_with)), whose bytes count as task bytes.
///
/// # Examples
///
/// ```
/// use multiprocessing::Pool;
///
/// fn square(x: u64) -> u64 {
///     x * x
/// }
///
/// let pool = Pool::new(4)?;
/// pool.map_chunked(square, 0..100, 25)?;
/// let stats = pool.stats();
/// assert_eq!((stats.task_messages, stats.result_messages), (4, 4));
/// assert_eq!(stats.workers.iter().map(|w| w.tasks).sum::<u64>(), 100);
/// # Ok::<(), multiprocessing::Error>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PoolStats {
    /// Chunks of arguments sent to workers.
    pub task_messages: u64,
    /// Bytes of those messages.
    pub task_bytes: u64,
    /// Chunks of results received from workers.
    pub result_messages: u64,
    /// Bytes of those messages.
    pub result_bytes: u64,
    /// "Ready" messages from workers and "stop" messages to them.
    pub control_messages: u64,
    /// The workers that have left (the last 1,000 at most), in the order they left, then the
    /// current ones, in the order they started.
    pub workers: Vec<WorkerStats>,
}

/// What one worker did, in [`PoolStats`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WorkerStats {
    /// `ForkPoolWorker-N`.
    pub name: String,
    /// Its process id.
    pub pid: i32,
    /// Chunks it completed.
    pub chunks: u64,
    /// Tasks (items) it completed.
    pub tasks: u64,
    /// Whether it is still one of the pool's workers.
    pub alive: bool,
}

/// How many workers that have left [`PoolStats::workers`] remembers: with `maxtasksperchild`
/// a long-lived pool goes through workers without end.
const RETIRED_WORKERS_KEPT: usize = 1000;

/// What worker `w` did, for [`PoolStats`] (`alive` says whether it still runs).
pub(super) fn worker_stats(w: &Worker, alive: bool) -> WorkerStats {
    WorkerStats {
        name: w.name.clone(),
        pid: w.pid,
        chunks: w.chunks_done,
        tasks: w.tasks_done,
        alive,
    }
}

/// Remembers a worker that has left (the live ones are read from the workers themselves).
pub(super) fn record_retired(stats: &mut PoolStats, w: &Worker) {
    if stats.workers.len() >= RETIRED_WORKERS_KEPT {
        stats.workers.remove(0);
    }
    stats.workers.push(worker_stats(w, false));
}

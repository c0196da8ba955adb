//! The parent's side of the work (CPython's task handler): the jobs waiting to be handed out,
//! and which worker gets the next chunk.
//!
//! The pool pulls: a worker that asked for work is in the `ready` line, and each chunk goes to
//! the first asker that may take it. A worker may hold a second, small chunk ahead of time
//! while it runs quick ones ([`PREFETCH`]), never near the end of the work.

use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasherDefault, Hasher};
use std::time::{Duration, Instant};

use crate::error::{Error, Result, TooLarge};
use crate::start_method::StartMethod;

use super::PoolStats;
use super::jobs::{Completion, Job};
use super::supervisor::{Inner, Worker};
use super::wire;
use super::worker::{Initializer, InitializerCall};

/// How many chunks a worker may hold at once: the one it runs and, if it runs quick chunks, one
/// waiting in its socket.
pub const PREFETCH: usize = 2;

/// A chunk larger than this is only sent to a worker that holds no other chunk. The parent's
/// writes block, so it must never write a message that cannot fit in the socket buffer (about
/// 208 KiB) to a worker that may itself be blocked writing a large result: both would wait
/// forever. A worker with nothing in flight is about to read, so any size is safe for it.
const PREFETCH_MAX_BYTES: usize = 32 * 1024;

/// A chunk shorter than this is "quick": a second chunk may be sent ahead to a worker that runs
/// quick chunks. Sending ahead saves a round trip (tens of microseconds) per chunk, which only
/// matters for chunks far shorter than this.
const QUICK_CHUNK: Duration = Duration::from_millis(1);

/// How many workers in a row may end before they say they are ready before the pool gives up
/// on them ([`Error::PoolBroken`]), instead of starting new ones for ever. A worker that ends
/// before it is ready could not start at all: a `spawn` worker whose program does not call
/// `freeze_support()` first, a broken executable. (CPython's pool starts new ones without end.)
pub(super) const MAX_FAILED_STARTS: usize = 3;

/// Why a pool can run no more tasks.
#[derive(Clone)]
pub(super) enum Broken {
    /// The initializer panicked in `worker`.
    Initializer { worker: String, message: String },
    /// Workers could not be started, or ended before they were ready.
    Workers(String),
}

impl Broken {
    /// The error of a call on the pool `label`.
    fn error(&self, label: &str) -> Error {
        let pool = label.to_string();
        match self {
            Broken::Initializer { worker, message } => Error::InitializerPanicked {
                pool,
                detail: Box::new((worker.clone(), message.clone())),
            },
            Broken::Workers(reason) => Error::PoolBroken {
                pool,
                reason: reason.clone(),
            },
        }
    }
}

/// A chunk on its way to, or inside, a worker.
pub(super) struct InFlight {
    pub(super) job: u64,
    pub(super) chunk: u32,
    /// The index of its first task in the job's input.
    pub(super) first: usize,
    pub(super) items: usize,
    pub(super) message: Vec<u8>,
    /// When it was last sent to a worker.
    pub(super) sent_at: Option<Instant>,
}

impl InFlight {
    /// `task 17`, or `tasks 25-49` for a chunk.
    pub(super) fn describe(&self) -> String {
        if self.items == 1 {
            format!("task {}", self.first)
        } else {
            format!("tasks {}-{}", self.first, self.first + self.items - 1)
        }
    }
}

/// The pool's state, as CPython names it.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) enum State {
    Run,
    Close,
    Terminate,
}

/// Everything but the workers, so a worker can be borrowed beside it.
pub(super) struct Core {
    /// `Pool(4)`, the name errors give the pool.
    pub(super) label: String,
    pub(super) processes: usize,
    pub(super) state: State,
    /// Workers that asked for work, in the order they asked (their pids).
    pub(super) ready: VecDeque<i32>,
    pub(super) jobs: HashMap<u64, Job, BuildHasherDefault<JobIdHasher>>,
    /// Jobs that still have chunks to hand out, first come first served.
    pub(super) queue: VecDeque<u64>,
    /// Chunks a dead worker never started, to hand out before any new chunk.
    pub(super) retry: VecDeque<InFlight>,
    pub(super) next_job: u64,
    pub(super) stats: PoolStats,
    pub(super) initializer: Option<Initializer>,
    /// The initializer as a call a spawned worker can make.
    pub(super) initializer_call: Option<InitializerCall>,
    /// How workers are started.
    pub(super) method: StartMethod,
    pub(super) maxtasks: Option<usize>,
    /// The largest message either end of a worker's socket takes, in bytes.
    pub(super) max_message_size: u64,
    /// Why the pool cannot work any more (a failing initializer, workers that cannot start).
    pub(super) broken: Option<Broken>,
    /// Workers that ended before they said they were ready, in a row (see
    /// [`MAX_FAILED_STARTS`]).
    pub(super) failed_starts: usize,
    pub(super) completions: Vec<Completion>,
}

impl Core {
    pub(super) fn check_running(&self) -> Result<()> {
        if self.state != State::Run {
            return Err(Error::state("Pool not running"));
        }
        match self.broken_error() {
            Some(error) => Err(error),
            None => Ok(()),
        }
    }

    /// The error every call of a broken pool gets (a fresh one each time).
    fn broken_error(&self) -> Option<Error> {
        Some(self.broken.as_ref()?.error(&self.label))
    }

    /// Breaks the pool: every pending call fails (with its error callbacks), and so will every
    /// later one.
    pub(super) fn break_pool(&mut self, why: Broken) {
        let label = self.label.clone();
        let each = why.clone();
        self.broken = Some(why);
        self.fail_all(|| each.error(&label), true);
    }

    pub(super) fn finish(&mut self, completion: Option<Completion>) {
        if let Some(c) = completion {
            self.completions.push(c);
        }
    }

    /// Hands a chunk's outcome to its job, and retires the job once it expects nothing more.
    pub(super) fn deliver(&mut self, task: &InFlight, result: Result<&[u8]>) {
        let Some(job) = self.jobs.get_mut(&task.job) else {
            return;
        };
        let c = job.sink.deliver(task.chunk, task.items, result);
        let (done, stopped) = (job.sink.done(), job.sink.stopped());
        self.finish(c);
        if done {
            self.jobs.remove(&task.job);
        } else if stopped {
            self.cancel_rest(task.job);
        }
    }

    /// A job whose sink [stopped](super::jobs::Sink::stopped) (a fail-fast call that saw a
    /// failure): the chunks not yet handed out never will be, and the sink learns how many
    /// tasks that is. Chunks already in workers run to their end, and are waited for.
    pub(super) fn cancel_rest(&mut self, id: u64) {
        let Some(job) = self.jobs.get_mut(&id) else {
            return;
        };
        if !job.sink.stopped() {
            return;
        }
        let mut skipped = job.source.skip_rest();
        self.queue.retain(|&queued| queued != id);
        self.retry.retain(|task| {
            let ours = task.job == id;
            if ours {
                skipped += task.items;
            }
            !ours
        });
        let c = job.sink.skip(skipped);
        let done = job.sink.done();
        self.finish(c);
        if done {
            self.jobs.remove(&id);
        }
    }

    /// Fails every job; `callbacks` says whether their error callbacks run.
    pub(super) fn fail_all(&mut self, error: impl Fn() -> Error, callbacks: bool) {
        for (_, mut job) in self.jobs.drain() {
            let c = job.sink.fail(error());
            if callbacks {
                if let Some(c) = c {
                    self.completions.push(c);
                }
            }
        }
        self.queue.clear();
        self.retry.clear();
    }

    /// Whether enough chunks wait to be handed out that every worker will get one even if some
    /// worker takes a second ahead of time: only then is prefetching harmless. Near the end of
    /// the work, a chunk sent ahead to the first worker that asked could leave a later asker
    /// idle while that chunk waits (4 chunks of 25 on 4 workers would run on 3).
    fn plenty_left(&self) -> bool {
        let mut left = self.retry.len();
        for id in &self.queue {
            // Stop counting once the answer is known: with 10,000 `apply_async` calls queued,
            // counting them all for every chunk handed out made submitting quadratic.
            if left >= self.processes {
                return true;
            }
            match self.jobs.get(id).map(|job| job.source.chunks_left()) {
                Some(None) => return true,
                Some(Some(n)) => left += n,
                None => {}
            }
        }
        left >= self.processes
    }

    /// The next chunk to hand out: one a dead worker never started, else the next of the
    /// oldest job that has any left.
    fn next_task(&mut self) -> Option<InFlight> {
        while let Some(task) = self.retry.pop_front() {
            if self.jobs.contains_key(&task.job) {
                return Some(task);
            }
        }
        let mut at = 0;
        while let Some(&id) = self.queue.get(at) {
            let Some(job) = self.jobs.get_mut(&id) else {
                self.queue.remove(at);
                continue;
            };
            // A full imap buffer waits for its consumer; jobs behind it go on. Once the pool is
            // closed, every job runs to its end so that `join` returns (where CPython's
            // buffersize leaves `close(); join()` waiting for a consumer that is not reading).
            if self.state == State::Run && job.source.blocked() {
                at += 1;
                continue;
            }
            let chunk = job.chunks_made;
            let mut message = Vec::with_capacity(64);
            wire::task_header(id, chunk, job.code.to_wire(), &mut message);
            match job.source.next_chunk(&mut message) {
                Some((items, encoded)) => {
                    job.chunks_made += 1;
                    job.tasks_made += items;
                    let first = chunk as usize * job.chunksize;
                    let task = InFlight {
                        sent_at: None,
                        job: id,
                        chunk,
                        first,
                        items,
                        message,
                    };
                    if let Err(e) = encoded {
                        // Like CPython's task handler when `put` fails: this chunk fails, the
                        // others go on.
                        self.deliver(&task, Err(e.into()));
                        continue;
                    }
                    let size = task.message.len() as u64;
                    if size <= self.max_message_size {
                        if job.source.exhausted() {
                            // The last chunk: the job's size is known now, not only once a
                            // worker asks for more and the source says so.
                            let c = job.sink.set_total(job.chunks_made, job.tasks_made);
                            self.queue.remove(at);
                            self.finish(c);
                        }
                        return Some(task);
                    }
                    // The worker's end would refuse it: fail this chunk, and go on.
                    let error = Error::TooLarge(Box::new(TooLarge {
                        pool: self.label.clone(),
                        what: format!("the arguments of {} are", task.describe()),
                        size,
                        limit: self.max_message_size,
                    }));
                    self.deliver(&task, Err(error));
                }
                None => {
                    self.queue.remove(at);
                    let c = job.sink.set_total(chunk, job.tasks_made);
                    let done = job.sink.done();
                    self.finish(c);
                    if done {
                        self.jobs.remove(&id);
                    }
                }
            }
        }
        None
    }
}

impl Inner {
    /// Hands chunks to the workers that asked, first asker first.
    pub(super) fn dispatch(&mut self) {
        let Inner { workers, core } = self;
        while !core.ready.is_empty() {
            let Some(task) = core.next_task() else { break };
            // A worker that holds a chunk gets a second only if it is small (see
            // `PREFETCH_MAX_BYTES`; the call's context counts, for a worker that must be sent
            // it), enough work is left for everyone, and the worker is quick.
            let context_len = core
                .jobs
                .get(&task.job)
                .and_then(|j| j.context.as_ref())
                .map_or(0, Vec::len);
            let prefetch = task.message.len() <= PREFETCH_MAX_BYTES && core.plenty_left();
            let now = Instant::now();
            // The first asker that can take this chunk; askers that cannot take any are let go
            // (they rejoin the line when they send a result).
            let mut chosen = None;
            let mut i = 0;
            while i < core.ready.len() {
                let pid = core.ready[i];
                let Some(w) = workers.iter_mut().find(|w| w.pid == pid) else {
                    core.ready.remove(i);
                    continue;
                };
                if !can_take(w, core.maxtasks) {
                    w.queued = false;
                    core.ready.remove(i);
                    continue;
                }
                let extra = if w.context_job == Some(task.job) {
                    0
                } else {
                    context_len
                };
                let small = task.message.len() + extra <= PREFETCH_MAX_BYTES;
                let may_take = w.in_flight.is_empty() || (prefetch && small && is_quick(w, task.job, now));
                if !may_take {
                    i += 1;
                    continue;
                }
                chosen = Some(i);
                break;
            }
            let Some(i) = chosen else {
                core.retry.push_front(task);
                break;
            };
            let pid = core.ready.remove(i).expect("index found above");
            let w = workers.iter_mut().find(|w| w.pid == pid).expect("found above");
            w.queued = false;
            let context = core.jobs.get(&task.job).and_then(|j| j.context.as_ref());
            let sent = match context {
                // The worker keeps one context: the call's goes first, once per worker (again
                // only if another call's context came in between).
                Some(context) if w.context_job != Some(task.job) => w.conn.send_bytes(context).map(|()| {
                    w.context_job = Some(task.job);
                    core.stats.control_messages += 1;
                    core.stats.task_bytes += context.len() as u64;
                }),
                _ => Ok(()),
            };
            match sent.and_then(|()| w.conn.send_bytes(&task.message)) {
                Ok(()) => {
                    core.stats.task_messages += 1;
                    core.stats.task_bytes += task.message.len() as u64;
                    w.sent += 1;
                    let mut task = task;
                    task.sent_at = Some(Instant::now());
                    w.in_flight.push_back(task);
                    if can_take(w, core.maxtasks) {
                        w.queued = true;
                        core.ready.push_back(pid);
                    }
                }
                Err(_) => {
                    // The worker is gone or going; its pidfd tells us how, and the chunk goes
                    // to someone else.
                    w.hung_up = true;
                    core.retry.push_front(task);
                }
            }
        }
        // A closed pool whose work is all done tells its workers to leave.
        if core.state == State::Close && core.jobs.is_empty() {
            for w in workers.iter_mut().filter(|w| !w.stopped) {
                w.stopped = true;
                core.stats.control_messages += 1;
                let _ = w.conn.send_bytes(&[wire::STOP]);
            }
        }
    }
}

/// Whether worker `w` runs short chunks of `job`: the last chunk it finished was of this job and
/// took less than [`QUICK_CHUNK`], and so far does the one it runs now. Only then is a chunk of
/// `job` sent ahead to it: a chunk queued behind a long one would wait for it while other
/// workers may be idle (which CPython's pool, where a chunk is only taken by an idle worker,
/// never does). Asking for a finished chunk *of the same job* means the first chunks of a job
/// are never sent ahead: the parent cannot know yet whether they are long.
fn is_quick(w: &Worker, job: u64, now: Instant) -> bool {
    if w.last_job != Some(job) {
        return false;
    }
    let Some(front) = w.in_flight.front() else {
        return true;
    };
    let started = match (front.sent_at, w.last_result_at) {
        (Some(sent), Some(last)) => sent.max(last),
        (Some(sent), None) => sent,
        (None, _) => return false,
    };
    w.last_service.is_some_and(|d| d < QUICK_CHUNK) && now.saturating_duration_since(started) < QUICK_CHUNK
}

/// Whether worker `w` may be handed a chunk now: it asked, is still there, holds fewer than
/// [`PREFETCH`] chunks, and has not been sent its `maxtasksperchild` yet.
pub(super) fn can_take(w: &Worker, maxtasks: Option<usize>) -> bool {
    w.asked && !w.hung_up && !w.stopped && w.in_flight.len() < PREFETCH && maxtasks.is_none_or(|m| w.sent < m)
}

/// Hashes the pool's job ids, which it numbers itself from 0 (so no one can choose colliding
/// keys): one multiplication, as FxHash does, where the default SipHash cost about 450
/// instructions per task of `map` with chunksize 1 (callgrind), for a few lookups each.
#[derive(Default)]
pub(super) struct JobIdHasher(u64);

impl Hasher for JobIdHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.write_u64(u64::from(byte));
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(5) ^ n).wrapping_mul(0x517c_c1b7_2722_0a95);
    }
}

//! The parent's side of the workers (CPython's worker and result handlers, run inside the
//! caller's calls): start them, wait on their sockets and pidfds, take in their results, and
//! replace the ones that died or retired.

use std::collections::VecDeque;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, TryLockError};
use std::time::{Duration, Instant};

use crate::codec;
use crate::connection::{Connection, Pipe};
use crate::deadline::Deadline;
use crate::error::{Error, Result, TaskFailed, TaskPanicked, TooLarge, WorkerLost};
use crate::process::{Process, join_identity};
use crate::start_method::StartMethod;
use crate::sys::{fcntl, poll, signal, unistd, wait};

use super::scheduler::{Broken, Core, InFlight, MAX_FAILED_STARTS, State, can_take};
use super::stats::record_retired;
use super::wire::{self, Failure};
use super::worker::{SpawnedWorker, spawned_worker_main, worker_main};

/// How long [`Pool::terminate`](super::Pool::terminate) waits after `SIGTERM` before it sends
/// `SIGKILL`.
const TERMINATE_GRACE: Duration = Duration::from_secs(1);

/// The parent's record of one worker.
pub(super) struct Worker {
    pub(super) name: String,
    pub(super) process: Process,
    pub(super) pid: i32,
    pub(super) conn: Connection,
    /// Readable once the worker has ended; `None` on kernels without `pidfd_open`, where the
    /// end of the socket is the only sign.
    pidfd: Option<OwnedFd>,
    /// The chunks sent and not yet answered, oldest (the running one) first.
    pub(super) in_flight: VecDeque<InFlight>,
    /// Whether the worker said it is ready; only then is work sent to it.
    pub(super) asked: bool,
    /// Whether the worker is in the `ready` line.
    pub(super) queued: bool,
    /// The socket reached its end: the worker is exiting.
    pub(super) hung_up: bool,
    /// Chunks sent in all (for `maxtasksperchild`).
    pub(super) sent: usize,
    pub(super) stopped: bool,
    /// It sent a message that is not our protocol, or one its socket refused, and was killed
    /// for it: what was wrong.
    fault: Option<String>,
    /// When its last result came; how long its last chunk ran (as the parent sees it).
    pub(super) last_result_at: Option<Instant>,
    pub(super) last_service: Option<Duration>,
    /// The job of the last chunk it finished.
    pub(super) last_job: Option<u64>,
    /// The job whose context it was sent last, and keeps (see `wire::CONTEXT`).
    pub(super) context_job: Option<u64>,
    pub(super) chunks_done: u64,
    pub(super) tasks_done: u64,
}

impl Drop for Worker {
    fn drop(&mut self) {
        // Before the fields close the descriptors, so a number is never listed once it may be
        // reused for something else.
        forget_parent_side(&self.parent_side());
    }
}

impl Worker {
    /// The descriptors the pool's process holds for this worker.
    fn parent_side(&self) -> Vec<RawFd> {
        let mut fds = vec![self.conn.as_raw_fd()];
        fds.extend(self.pidfd.as_ref().map(AsRawFd::as_raw_fd));
        fds
    }
}

/// The descriptors this process holds for its pools' workers, in every pool: the parent's end of
/// each worker's socket, and each worker's pidfd.
///
/// A forked worker inherits every descriptor of its parent. While any worker holds a copy of
/// the parent's end of a worker's socket (its own, or a sibling's), that worker never sees end
/// of file when the parent dies, and an idle worker waits in `recv` for ever if the
/// parent-death signal is caught (a program's own SIGTERM handler, inherited across `fork`).
/// So a forked worker closes all of these first (`close_parent_side`). Spawned and forkserver
/// workers inherit none of them (they are close-on-exec, and the fork server has none).
static PARENT_SIDE: Mutex<Vec<RawFd>> = Mutex::new(Vec::new());

fn parent_side() -> MutexGuard<'static, Vec<RawFd>> {
    // A list of numbers is consistent whatever panicked while it was held.
    PARENT_SIDE.lock().unwrap_or_else(PoisonError::into_inner)
}

fn remember_parent_side(fds: &[RawFd]) {
    parent_side().extend_from_slice(fds);
}

fn forget_parent_side(fds: &[RawFd]) {
    parent_side().retain(|fd| !fds.contains(fd));
}

/// The pool's whole state in the parent: its workers, and everything else.
pub(super) struct Inner {
    pub(super) workers: Vec<Worker>,
    pub(super) core: Core,
}

impl Inner {
    /// One round: hand out work, wait at most `timeout` for the workers, take in what they
    /// sent, replace the dead. Returns `false` if there was nothing to wait for.
    fn step(&mut self, timeout: Option<Duration>) -> Result<bool> {
        self.dispatch();
        let mut fds: Vec<BorrowedFd<'_>> = Vec::new();
        let mut owners: Vec<(usize, bool)> = Vec::new();
        for (i, w) in self.workers.iter().enumerate() {
            if !w.hung_up {
                fds.push(w.conn.as_fd());
                owners.push((i, false));
            }
            if let Some(pidfd) = &w.pidfd {
                fds.push(pidfd.as_fd());
                owners.push((i, true));
            }
        }
        if fds.is_empty() {
            return Ok(false);
        }
        let readable = poll::poll_readable_many(&fds, timeout)
            .map_err(|e| Error::os(format!("poll: waiting for the workers of {}", self.core.label), e))?;
        drop(fds);
        let mut exited = Vec::new();
        for (&(i, is_pidfd), &ready) in owners.iter().zip(&readable) {
            if !ready {
                continue;
            }
            if is_pidfd {
                exited.push(i);
            } else {
                self.drain(i, false);
                // Without a pidfd, the end of the socket is how we learn the worker ended.
                if self.workers[i].hung_up && self.workers[i].pidfd.is_none() {
                    exited.push(i);
                }
            }
        }
        exited.sort_unstable();
        exited.dedup();
        for &i in exited.iter().rev() {
            self.drain(i, true);
            self.reap(i);
        }
        if !exited.is_empty() {
            self.replace_workers();
        }
        self.dispatch();
        Ok(true)
    }

    /// Reads the messages worker `i` has sent. With `all`, reads until its end of file (the
    /// worker has ended, so everything it sent is already there); otherwise while more is
    /// waiting.
    fn drain(&mut self, i: usize, all: bool) {
        let Inner { workers, core } = self;
        let w = &mut workers[i];
        let mut first = true;
        while !w.hung_up {
            // `poll` already said the first message is there, unless the worker has ended.
            // After it, go on only with what the connection has read ahead (no system call):
            // anything still in the socket wakes the next round's `poll`.
            let more = if all {
                w.conn.poll(Some(Duration::ZERO)).unwrap_or(false)
            } else {
                first || w.conn.has_buffered()
            };
            if !more {
                break;
            }
            first = false;
            match w.conn.recv_bytes() {
                Ok(msg) => on_message(core, w, &msg),
                // A frame the socket refused (longer than the limit): the worker is alive and
                // waits for its next chunk, so waiting for its end would wait for ever. It is
                // killed, and its end fails the chunk it was running with this reason (a
                // worker of ours never sends such a frame: it reports results over the limit
                // itself).
                Err(Error::Os { source, context }) if source.kind() == io::ErrorKind::InvalidData => {
                    protocol_error(w, format!("sent a message the pool refused: {context}: {source}"));
                    w.hung_up = true;
                }
                // End of file, or a reset (a killed worker that had not read all it was sent):
                // the worker is gone, and its pidfd (or this) says so.
                Err(_) => w.hung_up = true,
            }
        }
    }

    /// Worker `i` has ended: learn how, fail the chunk it was running, give the others back.
    fn reap(&mut self, i: usize) {
        let mut w = self.workers.remove(i);
        let core = &mut self.core;
        // The pidfd is readable or the socket ended, so this wait is short; the bound only
        // guards against a worker whose socket a grandchild still holds.
        let code = match w.process.join_timeout(Duration::from_secs(5)) {
            Ok(true) => w.process.exitcode(),
            _ => {
                let _ = w.process.kill();
                let _ = w.process.join();
                w.process.exitcode()
            }
        };
        let (signal, exit_code) = match code {
            Some(c) if c < 0 => (Some(-c), None),
            other => (None, other),
        };
        let label = core.label.clone();
        let lost = |task: usize, tasks: usize| {
            Error::WorkerLost(Box::new(WorkerLost {
                pool: label.clone(),
                worker: w.name.clone(),
                pid: w.pid,
                signal,
                exit_code,
                task,
                tasks,
                fault: w.fault.clone(),
            }))
        };
        if let Some(task) = w.in_flight.pop_front() {
            let error = lost(task.first, task.items);
            core.deliver(&task, Err(error));
        }
        if !w.asked && w.fault.is_none() && core.state != State::Terminate {
            // It ended before it was ready: it could not start. A few in a row, and the pool
            // stops starting new ones (see `MAX_FAILED_STARTS`).
            core.failed_starts += 1;
            if core.failed_starts >= MAX_FAILED_STARTS && core.broken.is_none() {
                let how = match (signal, exit_code) {
                    (Some(signal), _) => format!("killed by {}", signal::signal_name(signal)),
                    (None, Some(code)) => format!("exit code {code}"),
                    (None, None) => "ended".to_string(),
                };
                core.break_pool(Broken::Workers(format!(
                    "{MAX_FAILED_STARTS} workers in a row ended before they were ready (the last, \
                     {}: {how}); see their standard error. Under the spawn start method, call \
                     multiprocessing::freeze_support() first in main",
                    w.name
                )));
            }
        }
        for task in w.in_flight.drain(..).rev() {
            core.retry.push_front(task);
        }
        core.ready.retain(|&pid| pid != w.pid);
        record_retired(&mut core.stats, &w);
    }

    /// Keeps the pool at its size while it has work to do or may get some.
    fn replace_workers(&mut self) {
        let wanted = match self.core.state {
            State::Run => true,
            State::Close => !self.core.jobs.is_empty(),
            State::Terminate => false,
        };
        while wanted && self.core.broken.is_none() && self.workers.len() < self.core.processes {
            if let Err(e) = self.spawn_worker() {
                self.core
                    .break_pool(Broken::Workers(format!("cannot start a worker: {e}")));
            }
        }
    }

    /// Starts one worker, by the pool's start method, and adds it to the pool.
    pub(super) fn spawn_worker(&mut self) -> Result<()> {
        let (parent_end, child_end) = Pipe(true)?;
        // Both ends refuse the same: the worker checks its results against it before sending.
        parent_end.set_max_message_size(self.core.max_message_size);
        child_end.set_max_message_size(self.core.max_message_size);
        let maxtasks = self.core.maxtasks;
        let method = self.core.method;
        // The worker checks that its parent is alive: the fork server's children are its own.
        let parent = match method {
            StartMethod::Forkserver => crate::process::forkserver::server_pid()?,
            StartMethod::Fork | StartMethod::Spawn => unistd::getpid(),
        };
        let process = match method {
            StartMethod::Fork => {
                let initializer = self.core.initializer.clone();
                // Read here, not in the child: another thread may hold the lock at the fork.
                let mut not_ours = parent_side().clone();
                not_ours.push(parent_end.as_raw_fd());
                Process::from_closure(Box::new(move || {
                    close_parent_side(&not_ours);
                    worker_main(child_end, parent, initializer, maxtasks)
                }))
            }
            StartMethod::Spawn | StartMethod::Forkserver => {
                let initializer = self.core.initializer_call.as_ref().map(|c| c()).transpose()?;
                let args = SpawnedWorker {
                    conn: child_end,
                    parent,
                    initializer,
                    maxtasks,
                };
                Process::new(spawned_worker_main, args).with_start_method(method)
            }
        };
        let name = format!(
            "{}-{}",
            method.pool_worker_class(),
            join_identity(process.ident())
        );
        let mut process = process.with_name(name.clone()).with_daemon(true);
        process.start()?;
        let pid = process.pid().expect("a started process has a pid");
        // Without a pidfd the socket's end still tells us; we only lose the exact moment.
        let pidfd = wait::pidfd_open(pid).ok().flatten();
        let worker = Worker {
            name,
            process,
            pid,
            conn: parent_end,
            pidfd,
            in_flight: VecDeque::new(),
            asked: false,
            queued: false,
            hung_up: false,
            sent: 0,
            stopped: false,
            fault: None,
            last_result_at: None,
            last_service: None,
            last_job: None,
            context_job: None,
            chunks_done: 0,
            tasks_done: 0,
        };
        remember_parent_side(&worker.parent_side());
        self.workers.push(worker);
        Ok(())
    }

    /// Stops every worker (`SIGTERM`, then `SIGKILL` after [`TERMINATE_GRACE`]) and fails
    /// what is pending, without callbacks.
    pub(super) fn terminate(&mut self) {
        if self.core.state == State::Terminate && self.workers.is_empty() {
            return;
        }
        self.core.state = State::Terminate;
        let label = self.core.label.clone();
        // CPython leaves such results pending forever; ours fail, without callbacks, since the
        // caller asked for the end.
        self.core
            .fail_all(|| Error::state(format!("{label} was terminated")), false);
        for w in &self.workers {
            let _ = w.process.terminate();
        }
        for w in self.workers.drain(..) {
            if !matches!(w.process.join_timeout(TERMINATE_GRACE), Ok(true)) {
                let _ = w.process.kill();
                let _ = w.process.join();
            }
            record_retired(&mut self.core.stats, &w);
        }
        self.core.ready.clear();
    }
}

/// In a forked worker, first thing: closes the descriptors the pool's process held for its
/// workers when it forked (see [`PARENT_SIDE`]). The child has copies of the parent's objects
/// that own them, but it never drops those (it leaves by `_exit`), so closing the numbers
/// takes nothing from anyone.
fn close_parent_side(fds: &[RawFd]) {
    for &fd in fds {
        fcntl::close(fd);
    }
}

/// Takes in one message from worker `w`.
fn on_message(core: &mut Core, w: &mut Worker, msg: &[u8]) {
    match msg.first().copied() {
        Some(wire::READY) => {
            core.stats.control_messages += 1;
            core.failed_starts = 0;
            w.asked = true;
            if !w.queued && can_take(w, core.maxtasks) {
                w.queued = true;
                core.ready.push_back(w.pid);
            }
        }
        Some(kind @ (wire::OK | wire::FAILED)) => {
            let job = wire::u64_at(msg, 1);
            let chunk = wire::u32_at(msg, 9);
            let matches = w
                .in_flight
                .front()
                .is_some_and(|t| Some(t.job) == job && Some(t.chunk) == chunk);
            if !matches {
                protocol_error(w, "sent a result for a chunk it was not running".to_string());
                return;
            }
            let task = w.in_flight.pop_front().expect("checked above");
            // The worker started this chunk once it was sent and the previous one was done.
            let now = Instant::now();
            if let Some(sent) = task.sent_at {
                let started = w.last_result_at.map_or(sent, |last| last.max(sent));
                w.last_service = Some(now.saturating_duration_since(started));
            }
            w.last_result_at = Some(now);
            w.last_job = Some(task.job);
            core.stats.result_messages += 1;
            core.stats.result_bytes += msg.len() as u64;
            w.chunks_done += 1;
            w.tasks_done += task.items as u64;
            if !w.queued && can_take(w, core.maxtasks) {
                w.queued = true;
                core.ready.push_back(w.pid);
            }
            let payload = &msg[wire::RESULT_HEADER..];
            let result = if kind == wire::OK {
                Ok(payload)
            } else {
                match codec::decode::<Failure>(payload) {
                    Ok(failure) => Err(failure_error(core, w, &task, failure)),
                    Err(e) => {
                        protocol_error(w, format!("sent a failure that does not decode: {e}"));
                        w.in_flight.push_front(task);
                        return;
                    }
                }
            };
            core.deliver(&task, result);
        }
        Some(wire::INIT_FAILED) => {
            core.break_pool(Broken::Initializer {
                worker: w.name.clone(),
                message: String::from_utf8_lossy(&msg[1..]).into_owned(),
            });
        }
        _ => protocol_error(w, "sent a message that is not the pool's protocol".to_string()),
    }
}

/// The error of a chunk whose worker reported `failure`.
fn failure_error(core: &Core, w: &Worker, task: &InFlight, failure: Failure) -> Error {
    let pool = core.label.clone();
    let worker = w.name.clone();
    match failure {
        Failure::Panicked { index, message } => {
            let (message, location) = split_location(message);
            Error::TaskPanicked(Box::new(TaskPanicked {
                pool,
                task: task.first + index as usize,
                worker,
                message,
                location,
            }))
        }
        Failure::Codec(message) => Error::TaskFailed(Box::new(TaskFailed {
            pool,
            task: task.first,
            tasks: task.items,
            worker,
            message,
        })),
        Failure::TooLarge { size, limit } => Error::TooLarge(Box::new(TooLarge {
            pool,
            what: format!("the results of {} are", task.describe()),
            size,
            limit,
        })),
    }
}

/// A panic's message as the worker's panic hook records it, `message (at file:line:col)`, split
/// into the message and the place.
fn split_location(recorded: String) -> (String, Option<String>) {
    if let Some(body) = recorded.strip_suffix(')') {
        if let Some((message, at)) = body.rsplit_once(" (at ") {
            return (message.to_string(), Some(at.to_string()));
        }
    }
    (recorded, None)
}

/// A worker sent something that is not our protocol (`what` it did): stop trusting it. It is
/// killed, and its end is handled like any other death, naming `what`.
fn protocol_error(w: &mut Worker, what: String) {
    let _ = w.process.kill();
    w.asked = false;
    w.fault.get_or_insert(what);
}

/// The pool as its handles share it: the [`Pool`](super::Pool), its [`AsyncResult`]s and
/// [`IMapIterator`]s, which may be in different threads. One call at a time moves the pool
/// forward, holding the lock while it waits on the workers.
///
/// [`AsyncResult`]: super::AsyncResult
/// [`IMapIterator`]: super::IMapIterator
pub(super) struct Shared {
    inner: Mutex<Inner>,
}

impl Shared {
    /// Shares `inner` between a pool and its handles.
    pub(super) fn new(inner: Inner) -> Arc<Shared> {
        Arc::new(Shared {
            inner: Mutex::new(inner),
        })
    }

    /// The pool's state. Its parts are consistent between statements of the pool's own code,
    /// so a panic in the middle of a call (a user's `Serialize` impl, say) leaves it usable.
    pub(super) fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The pool's state, unless a call (in this thread or another) holds it now.
    pub(super) fn try_lock(&self) -> Option<MutexGuard<'_, Inner>> {
        match self.inner.try_lock() {
            Ok(inner) => Some(inner),
            Err(TryLockError::Poisoned(inner)) => Some(inner.into_inner()),
            Err(TryLockError::WouldBlock) => None,
        }
    }

    /// Runs the callbacks that became due, without holding the pool, so a callback may use
    /// the pool again.
    pub(super) fn run_completions(&self) {
        loop {
            let due = std::mem::take(&mut self.lock().core.completions);
            if due.is_empty() {
                return;
            }
            for c in due {
                c();
            }
        }
    }

    /// One round of progress (see [`Inner::step`]), then the callbacks it made due.
    pub(super) fn pump(&self, timeout: Option<Duration>) -> Result<bool> {
        let waited = self.lock().step(timeout);
        self.run_completions();
        waited
    }

    /// Moves the pool forward until `done()` or the deadline. Returns whether `done()`.
    ///
    /// `done()` is asked again under the pool's lock before each wait: another thread that
    /// uses the pool reads the workers' messages while it holds that lock, and may complete
    /// what this one waits for. Asked only before taking the lock, the answer could be stale,
    /// and this thread would then wait for a message that has already been read.
    pub(super) fn wait_until(&self, deadline: Deadline, done: impl Fn() -> bool) -> Result<bool> {
        loop {
            if done() {
                return Ok(true);
            }
            let waited = {
                let mut inner = self.lock();
                if done() {
                    return Ok(true);
                }
                // Past the deadline: one last look without waiting.
                let timeout = if deadline.passed() {
                    Some(Duration::ZERO)
                } else {
                    deadline.left()
                };
                inner.step(timeout)
            };
            self.run_completions();
            let waited = waited?;
            if deadline.passed() {
                return Ok(done());
            }
            if !waited && !done() {
                let label = self.lock().core.label.clone();
                return Err(Error::state(format!("{label} has no workers left to wait for")));
            }
        }
    }
}

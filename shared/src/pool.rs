//! Process pools: [`Pool`], [`AsyncResult`], [`IMapIterator`] (CPython's
//! `Lib/multiprocessing/pool.py`).
//!
//! The pool's design is documented on [`Pool`] (this module is private): how a task travels,
//! why the pool pulls, and why the parent runs no threads.
#![allow(
    unsafe_code,
    reason = "a task reaches a forked worker as the address of a monomorphized function, which the worker turns back into a function pointer"
)]

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::fmt;
use std::hash::{BuildHasherDefault, Hasher};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::panic::{self, AssertUnwindSafe};
use std::rc::Rc;
use std::time::{Duration, Instant};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::codec::{self, CodecError};
use crate::connection::{Connection, Pipe};
use crate::context::StartMethod;
use crate::error::{Error, Result};
use crate::process::{cpu_count, join_identity, Process};
use crate::spawn::Call;
use crate::sys::{poll, signal, unistd, wait};

/// How many chunks a worker may hold at once: the one it runs and, if it runs quick chunks, one
/// waiting in its socket.
pub const PREFETCH: usize = 2;

/// A chunk larger than this is only sent to a worker that holds no other chunk. The parent's
/// writes block, so it must never write a message that cannot fit in the socket buffer (about
/// 208 KiB) to a worker that may itself be blocked writing a large result: both would wait
/// forever. A worker with nothing in flight is about to read, so any size is safe for it.
const PREFETCH_MAX_BYTES: usize = 32 * 1024;

/// The default buffer of [`Pool::imap`] and [`Pool::imap_unordered`], in chunks per worker:
/// at most this many times the pool's size in chunks are taken from the input and not yet
/// yielded. Enough to keep every worker's [`PREFETCH`] full while results wait to be read or
/// wait for an earlier slow one, and small enough that an endless input costs flat memory.
pub const IMAP_BUFFER_PER_WORKER: usize = 4 * PREFETCH;

/// A chunk shorter than this is "quick": a second chunk may be sent ahead to a worker that runs
/// quick chunks. Sending ahead saves a round trip (tens of microseconds) per chunk, which only
/// matters for chunks far shorter than this.
const QUICK_CHUNK: Duration = Duration::from_millis(1);

/// How long [`Pool::terminate`] waits after `SIGTERM` before it sends `SIGKILL`.
const TERMINATE_GRACE: Duration = Duration::from_secs(1);

/// The messages between the parent and a worker: a kind byte, then fixed little-endian fields,
/// then an encoded payload. The header is hand-laid so that a chunk's arguments and results are
/// encoded once, straight into the message.
mod wire {
    /// Parent to worker: `[TASK][job u64][chunk u32][trampoline u64][func u64]` + encoded `Vec<T>`.
    pub(super) const TASK: u8 = 0;
    /// Parent to worker: leave the loop and exit.
    pub(super) const STOP: u8 = 1;
    /// Worker to parent: ready for work (sent once, after the initializer).
    pub(super) const READY: u8 = 10;
    /// Worker to parent: `[OK][job u64][chunk u32]` + encoded `Vec<R>`.
    pub(super) const OK: u8 = 11;
    /// Worker to parent: `[FAILED][job u64][chunk u32]` + the panic message in UTF-8.
    pub(super) const FAILED: u8 = 12;
    /// Worker to parent: `[INIT_FAILED]` + the initializer's panic message; the worker exits.
    pub(super) const INIT_FAILED: u8 = 13;
    pub(super) const TASK_HEADER: usize = 1 + 8 + 4 + 8 + 8;
    pub(super) const RESULT_HEADER: usize = 1 + 8 + 4;

    pub(super) fn u64_at(buf: &[u8], at: usize) -> Option<u64> {
        buf.get(at..at + 8)
            .map(|b| u64::from_le_bytes(b.try_into().expect("8 bytes")))
    }

    pub(super) fn u32_at(buf: &[u8], at: usize) -> Option<u32> {
        buf.get(at..at + 4)
            .map(|b| u32::from_le_bytes(b.try_into().expect("4 bytes")))
    }

    pub(super) fn result_header(kind: u8, job: u64, chunk: u32, out: &mut Vec<u8>) {
        out.clear();
        out.push(kind);
        out.extend_from_slice(&job.to_le_bytes());
        out.extend_from_slice(&chunk.to_le_bytes());
    }
}

/// What a worker calls: decodes a chunk of arguments, runs the task function `func` (an
/// address) on each, and appends the encoded results to `out`.
type Trampoline = fn(usize, &[u8], &mut Vec<u8>) -> std::result::Result<(), String>;

/// The offset of a function, to send to a worker: the same in a forked and in a spawned worker.
/// Its provenance is exposed, so the worker may legitimately rebuild a pointer from the number.
fn address_of(ptr: *const ()) -> usize {
    crate::spawn::code_offset(ptr)
}

/// The trampoline of `map`, `imap` and `apply`: `Vec<T>` in, `Vec<R>` out.
fn run_map<T: DeserializeOwned, R: Serialize>(
    func: usize,
    args: &[u8],
    out: &mut Vec<u8>,
) -> std::result::Result<(), String> {
    let ptr: *const () = crate::spawn::code_pointer(func);
    // SAFETY: the parent sent this instantiation's address together with the address of a
    // `fn(T) -> R` (see `Pool::submit`); a worker runs the parent's executable, where offsets
    // from the reference function are the same, and a fn pointer has the size and layout of a data pointer on our targets.
    let func = unsafe { std::mem::transmute::<*const (), fn(T) -> R>(ptr) };
    let items: Vec<T> = codec::decode(args).map_err(|e| e.to_string())?;
    let results: Vec<R> = items.into_iter().map(func).collect();
    codec::encode_into(&results, out).map_err(|e| e.to_string())
}

/// The trampoline of `starmap`: `Vec<(A, B)>` in, `Vec<R>` out.
fn run_star<A: DeserializeOwned, B: DeserializeOwned, R: Serialize>(
    func: usize,
    args: &[u8],
    out: &mut Vec<u8>,
) -> std::result::Result<(), String> {
    let ptr: *const () = crate::spawn::code_pointer(func);
    // SAFETY: as in `run_map`, with a `fn(A, B) -> R` sent by `Pool::starmap_async_chunked`.
    let func = unsafe { std::mem::transmute::<*const (), fn(A, B) -> R>(ptr) };
    let items: Vec<(A, B)> = codec::decode(args).map_err(|e| e.to_string())?;
    let results: Vec<R> = items.into_iter().map(|(a, b)| func(a, b)).collect();
    codec::encode_into(&results, out).map_err(|e| e.to_string())
}

/// Whether a message is a task or a stop, as the worker reads it.
enum Order<'a> {
    Task {
        job: u64,
        chunk: u32,
        trampoline: Trampoline,
        func: usize,
        args: &'a [u8],
    },
    Stop,
}

fn parse_order(msg: &[u8]) -> Option<Order<'_>> {
    match *msg.first()? {
        wire::STOP => Some(Order::Stop),
        wire::TASK => {
            let job = wire::u64_at(msg, 1)?;
            let chunk = wire::u32_at(msg, 9)?;
            let trampoline = usize::try_from(wire::u64_at(msg, 13)?).ok()?;
            let func = usize::try_from(wire::u64_at(msg, 21)?).ok()?;
            let ptr: *const () = crate::spawn::code_pointer(trampoline);
            // SAFETY: the parent wrote the address of a `Trampoline` instantiation here
            // (`Pool::submit`), and a worker runs the parent's executable (same offsets).
            let trampoline = unsafe { std::mem::transmute::<*const (), Trampoline>(ptr) };
            Some(Order::Task {
                job,
                chunk,
                trampoline,
                func,
                args: &msg[wire::TASK_HEADER..],
            })
        }
        _ => None,
    }
}

thread_local! {
    /// The message of the last panic in this worker, recorded by its panic hook.
    static LAST_PANIC: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Records a panic's message and place instead of printing it: the parent reports it.
fn record_panic(info: &panic::PanicHookInfo<'_>) {
    let payload = info.payload();
    let message = payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "Box<dyn Any>".to_string());
    let message = match info.location() {
        Some(at) => format!("{message} (at {at})"),
        None => message,
    };
    LAST_PANIC.with(|p| *p.borrow_mut() = Some(message));
}

fn take_panic_message() -> String {
    LAST_PANIC
        .with(|p| p.borrow_mut().take())
        .unwrap_or_else(|| "panicked".to_string())
}

/// The body of a worker process: initializer, "ready", then one chunk after another until the
/// parent says stop, goes away, or `maxtasks` chunks are done.
fn worker_main(
    conn: Connection,
    parent: libc::pid_t,
    initializer: Option<Rc<dyn Fn()>>,
    maxtasks: Option<usize>,
) {
    // A worker must not outlive its pool's process: if the parent dies (even by SIGKILL), the
    // kernel sends us SIGTERM. A parent that died before the call is caught by the check after.
    let _ = signal::set_parent_death_signal(libc::SIGTERM);
    if unistd::getppid() != parent {
        return;
    }
    panic::set_hook(Box::new(record_panic));
    if let Some(init) = initializer {
        if panic::catch_unwind(AssertUnwindSafe(|| init())).is_err() {
            let mut msg = vec![wire::INIT_FAILED];
            msg.extend_from_slice(take_panic_message().as_bytes());
            let _ = conn.send_bytes(&msg);
            return;
        }
    }
    if conn.send_bytes(&[wire::READY]).is_err() {
        return;
    }
    let mut completed = 0;
    let mut out = Vec::new();
    loop {
        // End of file or an error: the parent is gone, and there is no one to work for.
        let Ok(msg) = conn.recv_bytes() else { return };
        let Some(order) = parse_order(&msg) else { return };
        let Order::Task {
            job,
            chunk,
            trampoline,
            func,
            args,
        } = order
        else {
            return;
        };
        wire::result_header(wire::OK, job, chunk, &mut out);
        let failure = match panic::catch_unwind(AssertUnwindSafe(|| trampoline(func, args, &mut out))) {
            Ok(Ok(())) => None,
            Ok(Err(message)) => Some(message),
            Err(_) => Some(take_panic_message()),
        };
        if let Some(message) = failure {
            wire::result_header(wire::FAILED, job, chunk, &mut out);
            out.extend_from_slice(message.as_bytes());
        }
        if conn.send_bytes(&out).is_err() {
            return;
        }
        completed += 1;
        if maxtasks.is_some_and(|m| completed >= m) {
            return;
        }
    }
}

/// A pool initializer as a call a spawned worker can make (encoded afresh for each worker).
type InitializerCall = Rc<dyn Fn() -> Result<Call>>;

/// What a spawned (or forkserver) worker receives: what a forked worker's closure captures.
#[derive(Serialize, Deserialize)]
struct SpawnedWorker {
    conn: Connection,
    parent: libc::pid_t,
    initializer: Option<Call>,
    maxtasks: Option<usize>,
}

/// The target of a spawned worker.
fn spawned_worker_main(args: SpawnedWorker) {
    let initializer = args.initializer.map(|call| {
        // `worker_main` calls its initializer once; a `Call` is consumed by that one call.
        let call = RefCell::new(Some(call));
        Rc::new(move || {
            if let Some(call) = call.borrow_mut().take() {
                call.invoke();
            }
        }) as Rc<dyn Fn()>
    });
    worker_main(args.conn, args.parent, initializer, args.maxtasks)
}

/// Python's default chunksize for `map` over `len` items on a pool of `processes` workers:
/// `divmod(len, 4 * processes)`, plus one if there is a remainder; `0` for no items.
///
/// The tutorial's section 7 quotes a simplified `max(1, len // (4 * processes))`, which rounds
/// down instead of up: for 100 tasks on 4 workers CPython uses 7, not 6.
///
/// # Examples
///
/// ```
/// use multiprocessing::default_chunksize;
///
/// assert_eq!(default_chunksize(100, 4), 7);
/// assert_eq!(default_chunksize(10, 4), 1);
/// assert_eq!(default_chunksize(16, 4), 1);
/// assert_eq!(default_chunksize(0, 4), 0);
/// ```
pub fn default_chunksize(len: usize, processes: usize) -> usize {
    let per = 4 * processes.max(1);
    len / per + usize::from(len % per != 0)
}

// ---------------------------------------------------------------------------------------------
// Jobs: where chunks come from, and where their results go.

/// Yields the encoded chunks of a job, lazily.
trait Source {
    /// Appends the next chunk's encoding to `out`; returns how many items it holds, or `None`
    /// when there are no more.
    fn next_chunk(&mut self, out: &mut Vec<u8>) -> Option<std::result::Result<usize, CodecError>>;

    /// How many chunks are left, at most; `None` when the input does not say (an endless
    /// iterator given to `imap`).
    fn chunks_left(&self) -> Option<usize>;

    /// Whether no chunk may be taken now (an `imap` whose buffer is full); the pool then serves
    /// the jobs queued behind this one.
    fn blocked(&self) -> bool {
        false
    }
}

struct ChunkSource<I> {
    iter: I,
    chunksize: usize,
}

impl<I> Source for ChunkSource<I>
where
    I: Iterator,
    I::Item: Serialize,
{
    fn next_chunk(&mut self, out: &mut Vec<u8>) -> Option<std::result::Result<usize, CodecError>> {
        let chunk: Vec<I::Item> = self.iter.by_ref().take(self.chunksize).collect();
        if chunk.is_empty() {
            return None;
        }
        Some(codec::encode_into(&chunk, out).map(|()| chunk.len()))
    }

    fn chunks_left(&self) -> Option<usize> {
        self.iter.size_hint().1.map(|n| n.div_ceil(self.chunksize))
    }
}

/// An `imap`'s input, read only while fewer than `buffersize` of its chunks have been taken and
/// not yet yielded (CPython 3.14's `buffersize`): the [`IMapIterator`] gives a credit back each
/// time it yields the last result of a chunk. So an endless input, or a consumer slower than
/// the workers, costs a fixed amount of memory, and other jobs are served meanwhile.
struct BufferedSource<S> {
    inner: S,
    /// How many more chunks may be taken now.
    credits: Rc<Cell<usize>>,
}

impl<S: Source> Source for BufferedSource<S> {
    fn next_chunk(&mut self, out: &mut Vec<u8>) -> Option<std::result::Result<usize, CodecError>> {
        let chunk = self.inner.next_chunk(out);
        if matches!(chunk, Some(Ok(_))) {
            self.credits.set(self.credits.get().saturating_sub(1));
        }
        chunk
    }

    fn chunks_left(&self) -> Option<usize> {
        let credits = self.credits.get();
        Some(self.inner.chunks_left().map_or(credits, |n| n.min(credits)))
    }

    fn blocked(&self) -> bool {
        self.credits.get() == 0
    }
}

/// What runs in the caller's thread once the pool is no longer borrowed: callbacks.
type Completion = Box<dyn FnOnce()>;

/// Receives a job's results.
trait Sink {
    /// Chunk `chunk` came back with its encoded results, or failed.
    fn deliver(&mut self, chunk: u32, items: usize, result: Result<&[u8]>) -> Option<Completion>;
    /// The job has `total` chunks in all.
    fn set_total(&mut self, total: u32) -> Option<Completion>;
    /// The whole job failed (terminated pool, broken pool, unencodable arguments).
    fn fail(&mut self, error: Error) -> Option<Completion>;
    /// Whether nothing more is expected.
    fn done(&self) -> bool;
}

type Callback<V> = Box<dyn FnOnce(&V)>;

/// The shared state behind an [`AsyncResult`].
struct Slot<V> {
    outcome: RefCell<Outcome<V>>,
    callback: RefCell<Option<Callback<V>>>,
    error_callback: RefCell<Option<Callback<Error>>>,
}

enum Outcome<V> {
    Pending,
    Ready(Result<V>),
    Taken { success: bool },
}

impl<V: 'static> Slot<V> {
    fn new() -> Rc<Self> {
        Rc::new(Slot {
            outcome: RefCell::new(Outcome::Pending),
            callback: RefCell::new(None),
            error_callback: RefCell::new(None),
        })
    }

    fn is_ready(&self) -> bool {
        !matches!(*self.outcome.borrow(), Outcome::Pending)
    }

    /// Sets the outcome once, and returns the completion that runs the callbacks.
    fn set(self: &Rc<Self>, result: Result<V>) -> Option<Completion> {
        let mut outcome = self.outcome.borrow_mut();
        if !matches!(*outcome, Outcome::Pending) {
            return None;
        }
        *outcome = Outcome::Ready(result);
        let slot = Rc::clone(self);
        Some(Box::new(move || slot.run_callbacks()))
    }

    fn run_callbacks(&self) {
        let outcome = self.outcome.borrow();
        match &*outcome {
            Outcome::Ready(Ok(value)) => {
                let cb = self.callback.borrow_mut().take();
                if let Some(cb) = cb {
                    cb(value);
                }
            }
            Outcome::Ready(Err(error)) => {
                let cb = self.error_callback.borrow_mut().take();
                if let Some(cb) = cb {
                    cb(error);
                }
            }
            Outcome::Pending | Outcome::Taken { .. } => {}
        }
    }
}

/// The sink of `map`, `starmap` and `apply`: every chunk's results, in order, into one value.
struct CollectSink<R, V> {
    parts: BTreeMap<u32, Vec<R>>,
    total: Option<u32>,
    finish: fn(Vec<R>) -> V,
    slot: Rc<Slot<V>>,
    finished: bool,
}

impl<R: DeserializeOwned + 'static, V: 'static> CollectSink<R, V> {
    fn complete(&mut self) -> Option<Completion> {
        let total = self.total?;
        if self.finished || self.parts.len() != total as usize {
            return None;
        }
        self.finished = true;
        let results: Vec<R> = std::mem::take(&mut self.parts).into_values().flatten().collect();
        self.slot.set(Ok((self.finish)(results)))
    }
}

impl<R: DeserializeOwned + 'static, V: 'static> Sink for CollectSink<R, V> {
    fn deliver(&mut self, chunk: u32, items: usize, result: Result<&[u8]>) -> Option<Completion> {
        if self.finished {
            return None;
        }
        match result.and_then(|bytes| decode_chunk::<R>(bytes, items)) {
            Ok(values) => {
                self.parts.insert(chunk, values);
                self.complete()
            }
            // As CPython's MapResult: the first failure settles the whole call.
            Err(e) => self.fail(e),
        }
    }

    fn set_total(&mut self, total: u32) -> Option<Completion> {
        self.total = Some(total);
        self.complete()
    }

    fn fail(&mut self, error: Error) -> Option<Completion> {
        if self.finished {
            return None;
        }
        self.finished = true;
        self.parts.clear();
        self.slot.set(Err(error))
    }

    fn done(&self) -> bool {
        self.finished
    }
}

fn decode_chunk<R: DeserializeOwned>(bytes: &[u8], items: usize) -> Result<Vec<R>> {
    let values: Vec<R> = codec::decode(bytes)?;
    if values.len() != items {
        return Err(Error::Remote(format!(
            "a worker returned {} results for a chunk of {items} tasks",
            values.len()
        )));
    }
    Ok(values)
}

/// The state behind an [`IMapIterator`].
struct IMapState<R> {
    ordered: bool,
    /// Ordered mode: chunks that arrived before the ones they follow.
    early: BTreeMap<u32, Result<Vec<R>>>,
    next_chunk: u32,
    ready: VecDeque<Result<R>>,
    /// How many entries of `ready` each chunk still has there, oldest first: when one reaches
    /// zero, the chunk is yielded and its credit goes back to the input (`BufferedSource`).
    ready_chunks: VecDeque<usize>,
    credits: Rc<Cell<usize>>,
    total: Option<u32>,
    received: u32,
    failed: bool,
}

impl<R> IMapState<R> {
    fn finished(&self) -> bool {
        self.failed || self.total.is_some_and(|t| self.received >= t)
    }

    fn push(&mut self, chunk: Result<Vec<R>>) {
        let before = self.ready.len();
        match chunk {
            Ok(values) => self.ready.extend(values.into_iter().map(Ok)),
            // A failed chunk stands in the sequence as one error, as in CPython's imap.
            Err(e) => self.ready.push_back(Err(e)),
        }
        if self.ready.len() > before {
            self.ready_chunks.push_back(self.ready.len() - before);
        }
    }

    /// The next result; returns whether it was the last of its chunk, so a credit went back to
    /// the input.
    fn pop(&mut self) -> (Option<Result<R>>, bool) {
        let item = self.ready.pop_front();
        let mut freed = false;
        if item.is_some() {
            if let Some(left) = self.ready_chunks.front_mut() {
                *left -= 1;
                if *left == 0 {
                    self.ready_chunks.pop_front();
                    self.credits.set(self.credits.get().saturating_add(1));
                    freed = true;
                }
            }
        }
        (item, freed)
    }
}

struct IMapSink<R> {
    state: Rc<RefCell<IMapState<R>>>,
}

impl<R: DeserializeOwned + 'static> Sink for IMapSink<R> {
    fn deliver(&mut self, chunk: u32, items: usize, result: Result<&[u8]>) -> Option<Completion> {
        let values = result.and_then(|bytes| decode_chunk::<R>(bytes, items));
        let mut state = self.state.borrow_mut();
        state.received += 1;
        if state.ordered {
            state.early.insert(chunk, values);
            loop {
                let next = state.next_chunk;
                let Some(values) = state.early.remove(&next) else {
                    break;
                };
                state.next_chunk += 1;
                state.push(values);
            }
        } else {
            state.push(values);
        }
        None
    }

    fn set_total(&mut self, total: u32) -> Option<Completion> {
        self.state.borrow_mut().total = Some(total);
        None
    }

    fn fail(&mut self, error: Error) -> Option<Completion> {
        let mut state = self.state.borrow_mut();
        if !state.finished() {
            // What arrived in order still counts; then the error, then the end.
            let early = std::mem::take(&mut state.early);
            for (_, values) in early {
                state.push(values);
            }
            state.ready.push_back(Err(error));
            state.failed = true;
        }
        None
    }

    fn done(&self) -> bool {
        self.state.borrow().finished()
    }
}

struct Job {
    trampoline: usize,
    func: usize,
    chunksize: usize,
    source: Box<dyn Source>,
    chunks_made: u32,
    sink: Box<dyn Sink>,
}

// ---------------------------------------------------------------------------------------------
// The pool's state, owned by the parent and moved forward by the caller's calls.

/// A chunk on its way to, or inside, a worker.
struct InFlight {
    job: u64,
    chunk: u32,
    first: usize,
    items: usize,
    message: Vec<u8>,
    /// When it was last sent to a worker.
    sent_at: Option<Instant>,
}

impl InFlight {
    /// `task 17`, or `tasks 25-49` for a chunk.
    fn describe(&self) -> String {
        if self.items == 1 {
            format!("task {}", self.first)
        } else {
            format!("tasks {}-{}", self.first, self.first + self.items - 1)
        }
    }
}

struct Worker {
    name: String,
    process: Process,
    pid: i32,
    conn: Connection,
    /// Readable once the worker has ended; `None` on kernels without `pidfd_open`, where the
    /// end of the socket is the only sign.
    pidfd: Option<OwnedFd>,
    /// The chunks sent and not yet answered, oldest (the running one) first.
    in_flight: VecDeque<InFlight>,
    /// Whether the worker said it is ready; only then is work sent to it.
    asked: bool,
    /// Whether the worker is in the `ready` line.
    queued: bool,
    /// The socket reached its end: the worker is exiting.
    hung_up: bool,
    /// Chunks sent in all (for `maxtasksperchild`).
    sent: usize,
    stopped: bool,
    /// It sent a message that is not our protocol, and was killed for it.
    broke_protocol: bool,
    /// When its last result came; how long its last chunk ran (as the parent sees it).
    last_result_at: Option<Instant>,
    last_service: Option<Duration>,
    /// The job of the last chunk it finished.
    last_job: Option<u64>,
    chunks_done: u64,
    tasks_done: u64,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum State {
    Run,
    Close,
    Terminate,
}

/// Everything but the workers, so a worker can be borrowed beside it.
struct Core {
    label: String,
    processes: usize,
    state: State,
    /// Workers that asked for work, in the order they asked (their pids).
    ready: VecDeque<i32>,
    jobs: HashMap<u64, Job, BuildHasherDefault<JobIdHasher>>,
    /// Jobs that still have chunks to hand out, first come first served.
    queue: VecDeque<u64>,
    /// Chunks a dead worker never started, to hand out before any new chunk.
    retry: VecDeque<InFlight>,
    next_job: u64,
    stats: PoolStats,
    initializer: Option<Rc<dyn Fn()>>,
    /// The initializer as a call a spawned worker can make.
    initializer_call: Option<InitializerCall>,
    /// How workers are started.
    method: StartMethod,
    maxtasks: Option<usize>,
    /// Why the pool cannot work any more (a failing initializer, a failing fork).
    broken: Option<String>,
    completions: Vec<Completion>,
}

struct Inner {
    workers: Vec<Worker>,
    core: Core,
}

impl Core {
    fn check_running(&self) -> Result<()> {
        if self.state != State::Run {
            return Err(Error::state("Pool not running"));
        }
        if let Some(why) = &self.broken {
            return Err(Error::Remote(why.clone()));
        }
        Ok(())
    }

    fn finish(&mut self, completion: Option<Completion>) {
        if let Some(c) = completion {
            self.completions.push(c);
        }
    }

    /// Hands a chunk's outcome to its job, and retires the job once it expects nothing more.
    fn deliver(&mut self, task: &InFlight, result: Result<&[u8]>) {
        let Some(job) = self.jobs.get_mut(&task.job) else {
            return;
        };
        let c = job.sink.deliver(task.chunk, task.items, result);
        let done = job.sink.done();
        self.finish(c);
        if done {
            self.jobs.remove(&task.job);
        }
    }

    fn fail_job(&mut self, job: u64, error: Error) {
        if let Some(mut j) = self.jobs.remove(&job) {
            let c = j.sink.fail(error);
            self.finish(c);
        }
    }

    /// Fails every job; `callbacks` says whether their error callbacks run.
    fn fail_all(&mut self, error: impl Fn() -> Error, callbacks: bool) {
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
            message.push(wire::TASK);
            message.extend_from_slice(&id.to_le_bytes());
            message.extend_from_slice(&chunk.to_le_bytes());
            message.extend_from_slice(&(job.trampoline as u64).to_le_bytes());
            message.extend_from_slice(&(job.func as u64).to_le_bytes());
            match job.source.next_chunk(&mut message) {
                Some(Ok(items)) => {
                    job.chunks_made += 1;
                    let first = chunk as usize * job.chunksize;
                    return Some(InFlight {
                        sent_at: None,
                        job: id,
                        chunk,
                        first,
                        items,
                        message,
                    });
                }
                Some(Err(e)) => {
                    self.queue.remove(at);
                    self.fail_job(id, e.into());
                }
                None => {
                    self.queue.remove(at);
                    let c = job.sink.set_total(chunk);
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
    fn dispatch(&mut self) {
        let Inner { workers, core } = self;
        while !core.ready.is_empty() {
            let Some(task) = core.next_task() else { break };
            // A worker that holds a chunk gets a second only if it is small (see
            // `PREFETCH_MAX_BYTES`), enough work is left for everyone, and the worker is quick.
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
                let may_take = w.in_flight.is_empty() || (prefetch && is_quick(w, task.job, now));
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
            match w.conn.send_bytes(&task.message) {
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
            .map_err(|e| Error::os(format!("waiting for the workers of {}", self.core.label), e))?;
        drop(fds);
        let mut exited = Vec::new();
        for (&(i, is_pidfd), &ready) in owners.iter().zip(&readable) {
            if !ready {
                continue;
            }
            if is_pidfd {
                exited.push(i);
            } else {
                self.drain(i, false)?;
                // Without a pidfd, the end of the socket is how we learn the worker ended.
                if self.workers[i].hung_up && self.workers[i].pidfd.is_none() {
                    exited.push(i);
                }
            }
        }
        exited.sort_unstable();
        exited.dedup();
        for &i in exited.iter().rev() {
            self.drain(i, true)?;
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
    fn drain(&mut self, i: usize, all: bool) -> Result<()> {
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
                Err(_) => w.hung_up = true,
            }
        }
        Ok(())
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
        let how = match code {
            _ if w.broke_protocol => "sent a malformed message and was killed".to_string(),
            Some(c) if c < 0 => format!("was killed by {}", signal::signal_name(-c)),
            Some(0) => "exited".to_string(),
            Some(c) => format!("exited with code {c}"),
            None => "ended".to_string(),
        };
        if let Some(task) = w.in_flight.pop_front() {
            let error = Error::Remote(format!(
                "{}: worker {} {how} while running {}",
                core.label,
                w.name,
                task.describe()
            ));
            core.deliver(&task, Err(error));
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
                let why = format!("{}: cannot start a worker: {e}", self.core.label);
                self.core.broken = Some(why.clone());
                self.core.fail_all(|| Error::Remote(why.clone()), true);
            }
        }
    }

    fn spawn_worker(&mut self) -> Result<()> {
        let (parent_end, child_end) = Pipe(true)?;
        let maxtasks = self.core.maxtasks;
        let method = self.core.method;
        // The worker checks that its parent is alive: the fork server's children are its own.
        let parent = match method {
            StartMethod::Forkserver => crate::forkserver::server_pid()?,
            StartMethod::Fork | StartMethod::Spawn => unistd::getpid(),
        };
        let process = match method {
            StartMethod::Fork => {
                let initializer = self.core.initializer.clone();
                Process::from_closure(Box::new(move || {
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
        self.workers.push(Worker {
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
            broke_protocol: false,
            last_result_at: None,
            last_service: None,
            last_job: None,
            chunks_done: 0,
            tasks_done: 0,
        });
        Ok(())
    }

    fn terminate(&mut self) {
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

fn can_take(w: &Worker, maxtasks: Option<usize>) -> bool {
    w.asked && !w.hung_up && !w.stopped && w.in_flight.len() < PREFETCH && maxtasks.is_none_or(|m| w.sent < m)
}

/// Hashes the pool's job ids, which it numbers itself from 0 (so no one can choose colliding
/// keys): one multiplication, as FxHash does, where the default SipHash cost about 450
/// instructions per task of `map` with chunksize 1 (callgrind), for a few lookups each.
#[derive(Default)]
struct JobIdHasher(u64);

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

/// How many workers that have left [`PoolStats::workers`] remembers: with `maxtasksperchild`
/// a long-lived pool goes through workers without end.
const RETIRED_WORKERS_KEPT: usize = 1000;

/// What worker `w` did, for [`PoolStats`] (`alive` says whether it still runs).
fn worker_stats(w: &Worker, alive: bool) -> WorkerStats {
    WorkerStats {
        name: w.name.clone(),
        pid: w.pid,
        chunks: w.chunks_done,
        tasks: w.tasks_done,
        alive,
    }
}

/// Remembers a worker that has left (the live ones are read from the workers themselves).
fn record_retired(stats: &mut PoolStats, w: &Worker) {
    if stats.workers.len() >= RETIRED_WORKERS_KEPT {
        stats.workers.remove(0);
    }
    stats.workers.push(worker_stats(w, false));
}

fn on_message(core: &mut Core, w: &mut Worker, msg: &[u8]) {
    match msg.first().copied() {
        Some(wire::READY) => {
            core.stats.control_messages += 1;
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
                protocol_error(w);
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
                let text = String::from_utf8_lossy(payload);
                Err(Error::Remote(format!(
                    "{}: {} panicked in {}: {text}",
                    core.label,
                    task.describe(),
                    w.name
                )))
            };
            core.deliver(&task, result);
        }
        Some(wire::INIT_FAILED) => {
            let text = String::from_utf8_lossy(&msg[1..]);
            let why = format!("{}: the initializer panicked in {}: {text}", core.label, w.name);
            core.broken = Some(why.clone());
            core.fail_all(|| Error::Remote(why.clone()), true);
        }
        _ => protocol_error(w),
    }
}

/// A worker sent something that is not our protocol: stop trusting it. It is killed, and its
/// end is handled like any other death.
fn protocol_error(w: &mut Worker) {
    let _ = w.process.kill();
    w.asked = false;
    w.broke_protocol = true;
}

// ---------------------------------------------------------------------------------------------
// The public face.

/// Counts of what crossed between the parent and the workers, from [`Pool::stats`].
///
/// A *task message* carries one chunk of arguments to a worker, a *result message* carries one
/// chunk of results back; so `map` over 100 items with `chunksize=25` sends 4 and receives 4,
/// the tutorial's section 7 table. Bytes are the messages' own bytes (header and encoded
/// values), without the connection's length prefix. *Control messages* are the workers'
/// "ready" and the parent's "stop".
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

struct Shared {
    inner: RefCell<Inner>,
}

impl Shared {
    /// Runs the callbacks that became due, outside any borrow of the pool, so a callback may
    /// use the pool again.
    fn run_completions(&self) {
        loop {
            let due = std::mem::take(&mut self.inner.borrow_mut().core.completions);
            if due.is_empty() {
                return;
            }
            for c in due {
                c();
            }
        }
    }

    /// One round of progress (see [`Inner::step`]), then the callbacks it made due.
    fn pump(&self, timeout: Option<Duration>) -> Result<bool> {
        let waited = self.inner.borrow_mut().step(timeout);
        self.run_completions();
        waited
    }

    /// Moves the pool forward until `done()` or the deadline. Returns whether `done()`.
    fn wait_until(&self, deadline: Option<Instant>, done: impl Fn() -> bool) -> Result<bool> {
        loop {
            if done() {
                return Ok(true);
            }
            let left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
            if left == Some(Duration::ZERO) {
                // One last look without waiting.
                self.pump(Some(Duration::ZERO))?;
                return Ok(done());
            }
            if !self.pump(left)? && !done() {
                let label = self.inner.borrow().core.label.clone();
                return Err(Error::state(format!("{label} has no workers left to wait for")));
            }
        }
    }
}

/// A pool of worker processes, like Python's `multiprocessing.Pool`.
///
/// Tasks are plain functions `fn(T) -> R` whose arguments and results are serde types; they
/// run in forked workers named `ForkPoolWorker-N`, and come back in input order for
/// [`map`](Pool::map) and [`imap`](Pool::imap).
///
/// # Examples
///
/// The tutorial's section 3 / 1.2:
///
/// ```
/// use multiprocessing::Pool;
///
/// fn square(x: i32) -> i32 {
///     x * x
/// }
///
/// {
///     let pool = Pool::new(4)?;
///     let results = pool.map(square, [1, 2, 3, 4, 5])?;
///     println!("{results:?}");
///     assert_eq!(results, [1, 4, 9, 16, 25]);
/// } // Leaving the block terminates the pool, as leaving `with Pool(...)` does.
/// # Ok::<(), multiprocessing::Error>(())
/// ```
///
/// # Errors
/// Where Python raises, methods return an [`Error`]: [`Error::State`] for a call the pool's
/// state forbids (`"Pool not running"` after [`close`](Pool::close), `"Pool is still
/// running"` for [`join`](Pool::join) before `close`), [`Error::Remote`] for a task that
/// panicked (with its message) or whose worker died (naming the worker and the signal).
///
/// # How a task travels
/// Each worker is a forked child ([`Process`], named `ForkPoolWorker-N`) with its own duplex
/// [`Connection`] to the parent. A task is a plain `fn(T) -> R`; the parent sends a worker the
/// address of a monomorphized *trampoline* (which knows `T` and `R`), the address of the
/// function, and the encoded arguments of one chunk. A forked worker has the parent's code at
/// the same addresses, so it turns both numbers back into function pointers, decodes the
/// chunk, runs it, and sends back the encoded results. The two numbers are offsets from a
/// reference function of the crate (`spawn::code_offset`), so they also hold in a worker that
/// is a new run of the executable (the `spawn` and `forkserver` start methods), where ASLR
/// put the code elsewhere.
///
/// # The pool pulls
/// As in CPython, idle workers take the next chunk; the parent never pushes work to a worker
/// that has not asked for it. A worker asks once when it starts (after its initializer), and
/// every result it sends back is its next ask. The parent hands the next chunk to the worker
/// that asked first. A worker that runs quick chunks (under a millisecond) may hold
/// [`PREFETCH`] of them (one running, one waiting in its socket), so it does not sit idle for
/// a round trip between two tiny tasks. Nothing is sent ahead to a worker busy with a longer
/// chunk, nor near the end of a job (fewer chunks left than workers): a chunk queued behind
/// another would wait for it while a sibling may be idle, and CPython never assigns a chunk
/// before an idle worker takes it. Because the pool pulls, a
/// worker that starts early and runs fast tasks may take every task before its siblings ask at
/// all: section 8 of the tutorial, "every task in one PID".
///
/// # Progress and callbacks: no background threads
/// CPython's pool runs three threads in the parent (worker handler, task handler, result
/// handler). This one runs none: the pool makes progress inside the caller's own calls
/// ([`Pool::map`], [`AsyncResult::get`], [`AsyncResult::wait`], [`AsyncResult::ready`],
/// iterating an [`IMapIterator`], [`Pool::join`], ...). Each of those hands out waiting
/// chunks, reads the results that came back, and watches the workers (`poll` on their sockets
/// and pidfds). Callbacks therefore run in the caller's thread, inside one of those calls. The
/// reason is fork safety: a dead or retired worker is replaced by forking the parent, and
/// forking a process whose other threads may hold a lock (the allocator's, stdout's) can
/// deadlock the child. With no threads of ours, the parent is as single-threaded as the
/// program that owns the pool. The price: a pool is `!Send`, and work is only handed out inside
/// the pool's calls (submitting work hands out what idle workers asked for; after that, chunks
/// move while some call waits on the pool, and workers meanwhile run the chunks they hold).
///
/// # Where this pool is stronger than CPython's
/// - A worker that dies mid-task (SIGKILL, the OOM killer, `abort`) fails exactly the chunk it
///   was running, with an error naming the worker and the signal; the chunks it had not
///   started go to other workers, a new worker takes its place, and the caller's `map` or
///   `get` returns at once instead of hanging forever.
/// - A panicking initializer fails the pool's pending and later calls with the panic message,
///   instead of respawning workers in an endless loop.
/// - [`Pool::terminate`] (and dropping the pool) fails the results still pending instead of
///   leaving their `get` to hang.
/// - Workers die with the pool's process: each asks the kernel for a signal when its parent
///   dies (`PR_SET_PDEATHSIG`), so a parent killed by `SIGKILL` leaves no orphaned worker
///   running (CPython's workers of a killed parent live on until they next read from it).
///
/// # Drop
/// Dropping a pool terminates it, as leaving `with Pool(...) as pool:` does in Python: workers
/// get `SIGTERM` (then `SIGKILL` after a second), are waited for, and results still pending
/// fail with "Pool(4) was terminated". To let the work finish, call [`close`](Pool::close)
/// and [`join`](Pool::join) first.
///
/// # Fork safety
/// Workers are started when the pool is made and whenever one must be replaced (it died, or
/// it reached `maxtasksperchild`). The pool itself starts no threads (see above). Under the
/// `fork` start method (the default), make pools from a single-threaded program, or before
/// starting other threads, as for [`Process`]; a `spawn` or `forkserver` pool
/// ([`PoolBuilder::start_method`]) has no such limit.
pub struct Pool {
    shared: Rc<Shared>,
    processes: usize,
}

/// Options for a [`Pool`]: its size, an initializer, and `maxtasksperchild`.
///
/// # Examples
///
/// ```
/// use multiprocessing::Pool;
///
/// fn init(greeting: String) {
///     assert_eq!(greeting, "hello");
/// }
///
/// fn double(x: u32) -> u32 {
///     2 * x
/// }
///
/// let pool = Pool::builder().processes(2).initializer(init, "hello".to_string()).maxtasksperchild(10).build()?;
/// assert_eq!(pool.map(double, [1, 2, 3])?, [2, 4, 6]);
/// # Ok::<(), multiprocessing::Error>(())
/// ```
#[must_use]
pub struct PoolBuilder {
    processes: Option<usize>,
    initializer: Option<Rc<dyn Fn()>>,
    initializer_call: Option<InitializerCall>,
    maxtasksperchild: Option<usize>,
    start_method: Option<StartMethod>,
}

impl PoolBuilder {
    /// The number of workers (Python's `processes=`); [`cpu_count`] if not set.
    pub fn processes(mut self, processes: usize) -> Self {
        self.processes = Some(processes);
        self
    }

    /// Runs `initializer(initargs)` once in each worker when it starts (Python's
    /// `initializer=` and `initargs=`). Each worker gets its own clone of `initargs`.
    pub fn initializer<A>(mut self, initializer: fn(A), initargs: A) -> Self
    where
        A: Serialize + DeserializeOwned + Clone + 'static,
    {
        let for_spawn = initargs.clone();
        self.initializer = Some(Rc::new(move || initializer(initargs.clone())));
        self.initializer_call = Some(Rc::new(move || Call::new(initializer, &for_spawn)));
        self
    }

    /// Starts the workers with `method` instead of the default start method (what
    /// [`Context::pool`](crate::Context::pool) sets). Workers are named after it:
    /// `ForkPoolWorker-N`, `SpawnPoolWorker-N`, `ForkServerPoolWorker-N`.
    ///
    /// # Examples
    ///
    /// ```
    /// use multiprocessing::{Pool, StartMethod};
    ///
    /// fn pid(_: u32) -> u32 {
    ///     std::process::id()
    /// }
    ///
    /// multiprocessing::freeze_support();
    /// let pool = Pool::builder().processes(1).start_method(StartMethod::Spawn).build()?;
    /// assert_ne!(pool.map(pid, [0])?, [std::process::id()]);
    /// # Ok::<(), multiprocessing::Error>(())
    /// ```
    pub fn start_method(mut self, method: StartMethod) -> Self {
        self.start_method = Some(method);
        self
    }

    /// Replaces a worker after it has completed this many chunks (Python's
    /// `maxtasksperchild=`); by default workers live as long as the pool.
    pub fn maxtasksperchild(mut self, maxtasks: usize) -> Self {
        self.maxtasksperchild = Some(maxtasks);
        self
    }

    /// Starts the workers.
    ///
    /// # Errors
    /// [`Error::State`] for zero processes or a zero `maxtasksperchild` (CPython's
    /// `ValueError`); [`Error::Os`] when a socket fails or a worker cannot be started.
    pub fn build(self) -> Result<Pool> {
        let processes = self.processes.unwrap_or_else(cpu_count);
        if processes < 1 {
            return Err(Error::state("Number of processes must be at least 1"));
        }
        if self.maxtasksperchild == Some(0) {
            return Err(Error::state("maxtasksperchild must be a positive int or None"));
        }
        let label = format!("Pool({processes})");
        let mut inner = Inner {
            workers: Vec::with_capacity(processes),
            core: Core {
                label,
                processes,
                state: State::Run,
                ready: VecDeque::new(),
                jobs: HashMap::default(),
                queue: VecDeque::new(),
                retry: VecDeque::new(),
                next_job: 0,
                stats: PoolStats::default(),
                initializer: self.initializer,
                initializer_call: self.initializer_call,
                method: self
                    .start_method
                    .unwrap_or_else(crate::context::default_start_method),
                maxtasks: self.maxtasksperchild,
                broken: None,
                completions: Vec::new(),
            },
        };
        for _ in 0..processes {
            if let Err(e) = inner.spawn_worker() {
                inner.terminate();
                return Err(e);
            }
        }
        Ok(Pool {
            shared: Rc::new(Shared {
                inner: RefCell::new(inner),
            }),
            processes,
        })
    }
}

impl Pool {
    /// A pool of `processes` workers (Python's `Pool(processes)`).
    ///
    /// # Errors
    /// [`Error::State`] when `processes` is 0 ("Number of processes must be at least 1");
    /// [`Error::Os`] when a worker cannot be started.
    ///
    /// # Examples
    ///
    /// ```
    /// use multiprocessing::Pool;
    ///
    /// let pool = Pool::new(2)?;
    /// assert_eq!(pool.processes(), 2);
    /// assert!(Pool::new(0).is_err());
    /// # Ok::<(), multiprocessing::Error>(())
    /// ```
    pub fn new(processes: usize) -> Result<Pool> {
        Pool::builder().processes(processes).build()
    }

    /// A pool with one worker per CPU (Python's `Pool()`).
    ///
    /// # Errors
    /// As [`Pool::new`].
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = multiprocessing::Pool::with_cpu_count()?;
    /// assert_eq!(pool.processes(), multiprocessing::cpu_count());
    /// # Ok::<(), multiprocessing::Error>(())
    /// ```
    pub fn with_cpu_count() -> Result<Pool> {
        Pool::builder().build()
    }

    /// Options beyond the size: see [`PoolBuilder`].
    pub fn builder() -> PoolBuilder {
        PoolBuilder {
            processes: None,
            initializer: None,
            initializer_call: None,
            maxtasksperchild: None,
            start_method: None,
        }
    }

    /// The number of workers the pool keeps.
    pub fn processes(&self) -> usize {
        self.processes
    }

    fn submit(
        &self,
        trampoline: usize,
        func: usize,
        chunksize: usize,
        source: Box<dyn Source>,
        sink: Box<dyn Sink>,
    ) -> Result<u64> {
        let id = {
            let mut inner = self.shared.inner.borrow_mut();
            inner.core.check_running()?;
            let id = inner.core.next_job;
            inner.core.next_job += 1;
            let job = Job {
                trampoline,
                func,
                chunksize,
                source,
                chunks_made: 0,
                sink,
            };
            inner.core.jobs.insert(id, job);
            inner.core.queue.push_back(id);
            id
        };
        // Read the asks that are waiting and hand out work now, without blocking, so that
        // idle workers start while the caller goes on.
        self.shared.pump(Some(Duration::ZERO))?;
        Ok(id)
    }

    fn collect_async<T, R, V>(
        &self,
        trampoline: Trampoline,
        func: *const (),
        items: Vec<T>,
        chunksize: usize,
        finish: fn(Vec<R>) -> V,
    ) -> Result<AsyncResult<V>>
    where
        T: Serialize + 'static,
        R: DeserializeOwned + 'static,
        V: 'static,
    {
        let slot = Slot::new();
        let total = if items.is_empty() {
            0
        } else {
            items.len().div_ceil(chunksize)
        };
        let total =
            u32::try_from(total).map_err(|_| Error::state("too many chunks: use a larger chunksize"))?;
        let sink = CollectSink {
            parts: BTreeMap::new(),
            total: Some(total),
            finish,
            slot: Rc::clone(&slot),
            finished: false,
        };
        let source = ChunkSource {
            iter: items.into_iter(),
            chunksize: chunksize.max(1),
        };
        self.submit(
            address_of(trampoline as *const ()),
            address_of(func),
            chunksize.max(1),
            Box::new(source),
            Box::new(sink),
        )?;
        Ok(AsyncResult {
            shared: Rc::clone(&self.shared),
            slot,
        })
    }

    fn check_chunksize(chunksize: usize) -> Result<()> {
        if chunksize < 1 {
            return Err(Error::state("Chunksize must be 1+, not 0"));
        }
        Ok(())
    }

    /// Runs `func(args)` in a worker and waits for its result (Python's `apply`).
    ///
    /// # Errors
    /// [`Error::State`] after [`close`](Pool::close); [`Error::Remote`] when the task
    /// panicked (with its message) or its worker died.
    ///
    /// # Examples
    ///
    /// ```
    /// use multiprocessing::Pool;
    ///
    /// fn add((a, b): (i32, i32)) -> i32 {
    ///     a + b
    /// }
    ///
    /// let pool = Pool::new(1)?;
    /// assert_eq!(pool.apply(add, (2, 3))?, 5);
    /// # Ok::<(), multiprocessing::Error>(())
    /// ```
    pub fn apply<A, R>(&self, func: fn(A) -> R, args: A) -> Result<R>
    where
        A: Serialize + DeserializeOwned + 'static,
        R: Serialize + DeserializeOwned + 'static,
    {
        self.apply_async(func, args)?.get()
    }

    /// Starts `func(args)` in a worker and returns at once (Python's `apply_async`); attach
    /// callbacks with [`AsyncResult::callback`] and [`AsyncResult::error_callback`].
    ///
    /// # Errors
    /// [`Error::State`] after [`close`](Pool::close).
    ///
    /// # Examples
    ///
    /// ```
    /// use multiprocessing::Pool;
    ///
    /// fn square(x: i32) -> i32 {
    ///     x * x
    /// }
    ///
    /// let pool = Pool::new(2)?;
    /// let result = pool.apply_async(square, 7)?.callback(|v| println!("got {v}"));
    /// assert_eq!(result.get()?, 49);
    /// # Ok::<(), multiprocessing::Error>(())
    /// ```
    pub fn apply_async<A, R>(&self, func: fn(A) -> R, args: A) -> Result<AsyncResult<R>>
    where
        A: Serialize + DeserializeOwned + 'static,
        R: Serialize + DeserializeOwned + 'static,
    {
        fn first<R>(results: Vec<R>) -> R {
            results.into_iter().next().expect("one task, one result")
        }
        self.collect_async(run_map::<A, R>, func as *const (), vec![args], 1, first::<R>)
    }

    /// Applies `func` to every item and returns the results in input order (Python's `map`),
    /// with CPython's default chunksize ([`default_chunksize`]).
    ///
    /// # Errors
    /// [`Error::State`] after [`close`](Pool::close); [`Error::Remote`] for the first chunk
    /// that failed (a panic, with its message, or a dead worker).
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
    /// assert_eq!(pool.map(square, 0..10)?, [0, 1, 4, 9, 16, 25, 36, 49, 64, 81]);
    /// assert_eq!(pool.map(square, Vec::new())?, Vec::<u64>::new());
    /// # Ok::<(), multiprocessing::Error>(())
    /// ```
    pub fn map<T, R>(&self, func: fn(T) -> R, iterable: impl IntoIterator<Item = T>) -> Result<Vec<R>>
    where
        T: Serialize + DeserializeOwned + 'static,
        R: Serialize + DeserializeOwned + 'static,
    {
        self.map_async(func, iterable)?.get()
    }

    /// [`map`](Pool::map) with an explicit chunksize (Python's `map(func, iterable, chunksize)`).
    ///
    /// # Errors
    /// As [`map`](Pool::map), and [`Error::State`] for a chunksize of 0.
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
    /// let results = pool.map_chunked(square, 0..100, 25)?; // 4 chunks of 25
    /// assert_eq!(results[99], 9801);
    /// # Ok::<(), multiprocessing::Error>(())
    /// ```
    pub fn map_chunked<T, R>(
        &self,
        func: fn(T) -> R,
        iterable: impl IntoIterator<Item = T>,
        chunksize: usize,
    ) -> Result<Vec<R>>
    where
        T: Serialize + DeserializeOwned + 'static,
        R: Serialize + DeserializeOwned + 'static,
    {
        self.map_async_chunked(func, iterable, chunksize)?.get()
    }

    /// Starts a [`map`](Pool::map) and returns at once (Python's `map_async`).
    ///
    /// # Errors
    /// [`Error::State`] after [`close`](Pool::close).
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
    /// let pool = Pool::new(2)?;
    /// let result = pool.map_async(square, [1, 2, 3])?.callback(|v| println!("{v:?}"));
    /// assert_eq!(result.get()?, [1, 4, 9]);
    /// # Ok::<(), multiprocessing::Error>(())
    /// ```
    pub fn map_async<T, R>(
        &self,
        func: fn(T) -> R,
        iterable: impl IntoIterator<Item = T>,
    ) -> Result<AsyncResult<Vec<R>>>
    where
        T: Serialize + DeserializeOwned + 'static,
        R: Serialize + DeserializeOwned + 'static,
    {
        let items: Vec<T> = iterable.into_iter().collect();
        let chunksize = default_chunksize(items.len(), self.processes);
        self.shared.inner.borrow().core.check_running()?;
        self.collect_async(
            run_map::<T, R>,
            func as *const (),
            items,
            chunksize,
            std::convert::identity,
        )
    }

    /// [`map_async`](Pool::map_async) with an explicit chunksize.
    ///
    /// # Errors
    /// As [`map_async`](Pool::map_async), and [`Error::State`] for a chunksize of 0.
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
    /// let pool = Pool::new(2)?;
    /// assert_eq!(pool.map_async_chunked(square, 0..4, 2)?.get()?, [0, 1, 4, 9]);
    /// # Ok::<(), multiprocessing::Error>(())
    /// ```
    pub fn map_async_chunked<T, R>(
        &self,
        func: fn(T) -> R,
        iterable: impl IntoIterator<Item = T>,
        chunksize: usize,
    ) -> Result<AsyncResult<Vec<R>>>
    where
        T: Serialize + DeserializeOwned + 'static,
        R: Serialize + DeserializeOwned + 'static,
    {
        Pool::check_chunksize(chunksize)?;
        let items: Vec<T> = iterable.into_iter().collect();
        self.collect_async(
            run_map::<T, R>,
            func as *const (),
            items,
            chunksize,
            std::convert::identity,
        )
    }

    /// Like [`map`](Pool::map) for a function of two arguments, each item being their pair
    /// (Python's `starmap`, where each item is unpacked into the arguments). For one argument
    /// use `map`; for three or more, a function that takes a tuple.
    ///
    /// # Errors
    /// As [`map`](Pool::map).
    ///
    /// # Examples
    ///
    /// ```
    /// use multiprocessing::Pool;
    ///
    /// fn add(a: i32, b: i32) -> i32 {
    ///     a + b
    /// }
    ///
    /// let pool = Pool::new(2)?;
    /// assert_eq!(pool.starmap(add, [(1, 2), (3, 4)])?, [3, 7]);
    /// # Ok::<(), multiprocessing::Error>(())
    /// ```
    pub fn starmap<A, B, R>(
        &self,
        func: fn(A, B) -> R,
        iterable: impl IntoIterator<Item = (A, B)>,
    ) -> Result<Vec<R>>
    where
        A: Serialize + DeserializeOwned + 'static,
        B: Serialize + DeserializeOwned + 'static,
        R: Serialize + DeserializeOwned + 'static,
    {
        self.starmap_async(func, iterable)?.get()
    }

    /// Starts a [`starmap`](Pool::starmap) and returns at once (Python's `starmap_async`).
    ///
    /// # Errors
    /// [`Error::State`] after [`close`](Pool::close).
    ///
    /// # Examples
    ///
    /// ```
    /// use multiprocessing::Pool;
    ///
    /// fn mul(a: i32, b: i32) -> i32 {
    ///     a * b
    /// }
    ///
    /// let pool = Pool::new(2)?;
    /// assert_eq!(pool.starmap_async(mul, [(2, 3), (4, 5)])?.get()?, [6, 20]);
    /// # Ok::<(), multiprocessing::Error>(())
    /// ```
    pub fn starmap_async<A, B, R>(
        &self,
        func: fn(A, B) -> R,
        iterable: impl IntoIterator<Item = (A, B)>,
    ) -> Result<AsyncResult<Vec<R>>>
    where
        A: Serialize + DeserializeOwned + 'static,
        B: Serialize + DeserializeOwned + 'static,
        R: Serialize + DeserializeOwned + 'static,
    {
        let items: Vec<(A, B)> = iterable.into_iter().collect();
        let chunksize = default_chunksize(items.len(), self.processes);
        self.starmap_async_chunked(func, items, chunksize.max(1))
    }

    /// [`starmap_async`](Pool::starmap_async) with an explicit chunksize.
    ///
    /// # Errors
    /// As [`starmap_async`](Pool::starmap_async), and [`Error::State`] for a chunksize of 0.
    ///
    /// # Examples
    ///
    /// ```
    /// use multiprocessing::Pool;
    ///
    /// fn pow(base: u64, exp: u32) -> u64 {
    ///     base.pow(exp)
    /// }
    ///
    /// let pool = Pool::new(2)?;
    /// assert_eq!(pool.starmap_async_chunked(pow, [(2, 10), (3, 2)], 1)?.get()?, [1024, 9]);
    /// # Ok::<(), multiprocessing::Error>(())
    /// ```
    pub fn starmap_async_chunked<A, B, R>(
        &self,
        func: fn(A, B) -> R,
        iterable: impl IntoIterator<Item = (A, B)>,
        chunksize: usize,
    ) -> Result<AsyncResult<Vec<R>>>
    where
        A: Serialize + DeserializeOwned + 'static,
        B: Serialize + DeserializeOwned + 'static,
        R: Serialize + DeserializeOwned + 'static,
    {
        Pool::check_chunksize(chunksize)?;
        let items: Vec<(A, B)> = iterable.into_iter().collect();
        self.collect_async(
            run_star::<A, B, R>,
            func as *const (),
            items,
            chunksize,
            std::convert::identity,
        )
    }

    fn imap_with<T, R, I>(
        &self,
        func: fn(T) -> R,
        iterable: I,
        chunksize: usize,
        buffersize: Option<usize>,
        ordered: bool,
    ) -> Result<IMapIterator<R>>
    where
        T: Serialize + DeserializeOwned + 'static,
        R: Serialize + DeserializeOwned + 'static,
        I: IntoIterator<Item = T>,
        I::IntoIter: 'static,
    {
        Pool::check_chunksize(chunksize)?;
        if buffersize == Some(0) {
            return Err(Error::state("buffersize must be a positive number of chunks"));
        }
        let credits = Rc::new(Cell::new(
            buffersize.unwrap_or(self.processes.max(1) * IMAP_BUFFER_PER_WORKER),
        ));
        let state = Rc::new(RefCell::new(IMapState {
            ordered,
            early: BTreeMap::new(),
            next_chunk: 0,
            ready: VecDeque::new(),
            ready_chunks: VecDeque::new(),
            credits: Rc::clone(&credits),
            total: None,
            received: 0,
            failed: false,
        }));
        let sink = IMapSink {
            state: Rc::clone(&state),
        };
        let source = BufferedSource {
            inner: ChunkSource {
                iter: iterable.into_iter(),
                chunksize,
            },
            credits,
        };
        let trampoline: Trampoline = run_map::<T, R>;
        let job = self.submit(
            address_of(trampoline as *const ()),
            address_of(func as *const ()),
            chunksize,
            Box::new(source),
            Box::new(sink),
        )?;
        Ok(IMapIterator {
            shared: Rc::clone(&self.shared),
            state,
            job,
        })
    }

    /// A lazy [`map`](Pool::map) (Python's `imap`, chunksize 1): results come in input order
    /// as they are ready, and the input is read only as workers ask for more.
    ///
    /// # Errors
    /// [`Error::State`] after [`close`](Pool::close). A failed task is an `Err` item.
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
    /// let pool = Pool::new(2)?;
    /// let squares: Vec<u64> = pool.imap(square, 1..=4)?.collect::<Result<_, _>>()?;
    /// assert_eq!(squares, [1, 4, 9, 16]);
    /// # Ok::<(), multiprocessing::Error>(())
    /// ```
    pub fn imap<T, R, I>(&self, func: fn(T) -> R, iterable: I) -> Result<IMapIterator<R>>
    where
        T: Serialize + DeserializeOwned + 'static,
        R: Serialize + DeserializeOwned + 'static,
        I: IntoIterator<Item = T>,
        I::IntoIter: 'static,
    {
        self.imap_with(func, iterable, 1, None, true)
    }

    /// [`imap`](Pool::imap) with an explicit chunksize.
    ///
    /// # Errors
    /// As [`imap`](Pool::imap), and [`Error::State`] for a chunksize of 0. A failed chunk is
    /// one `Err` item in place of its results.
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
    /// let pool = Pool::new(2)?;
    /// let total: u64 = pool.imap_chunked(square, 0..100, 10)?.map(Result::unwrap).sum();
    /// assert_eq!(total, 328_350);
    /// # Ok::<(), multiprocessing::Error>(())
    /// ```
    pub fn imap_chunked<T, R, I>(
        &self,
        func: fn(T) -> R,
        iterable: I,
        chunksize: usize,
    ) -> Result<IMapIterator<R>>
    where
        T: Serialize + DeserializeOwned + 'static,
        R: Serialize + DeserializeOwned + 'static,
        I: IntoIterator<Item = T>,
        I::IntoIter: 'static,
    {
        self.imap_with(func, iterable, chunksize, None, true)
    }

    /// Like [`imap`](Pool::imap), but results come in the order they finish (Python's
    /// `imap_unordered`).
    ///
    /// # Errors
    /// As [`imap`](Pool::imap).
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
    /// let pool = Pool::new(2)?;
    /// let mut squares: Vec<u64> = pool.imap_unordered(square, 1..=4)?.collect::<Result<_, _>>()?;
    /// squares.sort(); // any order is valid
    /// assert_eq!(squares, [1, 4, 9, 16]);
    /// # Ok::<(), multiprocessing::Error>(())
    /// ```
    pub fn imap_unordered<T, R, I>(&self, func: fn(T) -> R, iterable: I) -> Result<IMapIterator<R>>
    where
        T: Serialize + DeserializeOwned + 'static,
        R: Serialize + DeserializeOwned + 'static,
        I: IntoIterator<Item = T>,
        I::IntoIter: 'static,
    {
        self.imap_with(func, iterable, 1, None, false)
    }

    /// [`imap_unordered`](Pool::imap_unordered) with an explicit chunksize.
    ///
    /// # Errors
    /// As [`imap_chunked`](Pool::imap_chunked).
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
    /// let pool = Pool::new(2)?;
    /// assert_eq!(pool.imap_unordered_chunked(square, 0..10, 5)?.count(), 10);
    /// # Ok::<(), multiprocessing::Error>(())
    /// ```
    pub fn imap_unordered_chunked<T, R, I>(
        &self,
        func: fn(T) -> R,
        iterable: I,
        chunksize: usize,
    ) -> Result<IMapIterator<R>>
    where
        T: Serialize + DeserializeOwned + 'static,
        R: Serialize + DeserializeOwned + 'static,
        I: IntoIterator<Item = T>,
        I::IntoIter: 'static,
    {
        self.imap_with(func, iterable, chunksize, None, false)
    }

    /// [`imap_chunked`](Pool::imap_chunked) with an explicit buffer (CPython's `buffersize`):
    /// at most `buffersize` chunks are taken from the input and not yet yielded; the input is
    /// read further only as results are consumed. `imap` and `imap_chunked` use
    /// [`IMAP_BUFFER_PER_WORKER`] chunks per worker. Give at least as many chunks as the pool
    /// has workers to keep them all busy, more to let results wait behind a slow one.
    ///
    /// Once the pool is [closed](Pool::close), the buffer no longer holds the input back, so
    /// that [`join`](Pool::join) returns after the whole input is done.
    ///
    /// # Errors
    /// As [`imap_chunked`](Pool::imap_chunked), and [`Error::State`] for a buffersize of 0.
    ///
    /// # Examples
    ///
    /// An endless input, read no faster than the results are taken:
    ///
    /// ```
    /// use multiprocessing::Pool;
    ///
    /// fn square(x: u64) -> u64 {
    ///     x * x
    /// }
    ///
    /// let pool = Pool::new(2)?;
    /// let mut squares = pool.imap_buffered(square, 0.., 10, 4)?;
    /// assert_eq!(squares.nth(1_000).transpose()?, Some(1_000_000));
    /// // Meanwhile other work is served: the imap waits for its consumer, not the pool.
    /// assert_eq!(pool.apply(square, 3)?, 9);
    /// # Ok::<(), multiprocessing::Error>(())
    /// ```
    pub fn imap_buffered<T, R, I>(
        &self,
        func: fn(T) -> R,
        iterable: I,
        chunksize: usize,
        buffersize: usize,
    ) -> Result<IMapIterator<R>>
    where
        T: Serialize + DeserializeOwned + 'static,
        R: Serialize + DeserializeOwned + 'static,
        I: IntoIterator<Item = T>,
        I::IntoIter: 'static,
    {
        self.imap_with(func, iterable, chunksize, Some(buffersize), true)
    }

    /// [`imap_unordered_chunked`](Pool::imap_unordered_chunked) with an explicit buffer, as
    /// [`imap_buffered`](Pool::imap_buffered).
    ///
    /// # Errors
    /// As [`imap_buffered`](Pool::imap_buffered).
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
    /// let pool = Pool::new(2)?;
    /// let total: u64 = pool
    ///     .imap_unordered_buffered(square, 0..100, 5, 2)?
    ///     .map(Result::unwrap)
    ///     .sum();
    /// assert_eq!(total, 328_350);
    /// assert!(pool.imap_unordered_buffered(square, 0..1, 1, 0).is_err());
    /// # Ok::<(), multiprocessing::Error>(())
    /// ```
    pub fn imap_unordered_buffered<T, R, I>(
        &self,
        func: fn(T) -> R,
        iterable: I,
        chunksize: usize,
        buffersize: usize,
    ) -> Result<IMapIterator<R>>
    where
        T: Serialize + DeserializeOwned + 'static,
        R: Serialize + DeserializeOwned + 'static,
        I: IntoIterator<Item = T>,
        I::IntoIter: 'static,
    {
        self.imap_with(func, iterable, chunksize, Some(buffersize), false)
    }

    /// Accepts no more work (Python's `close`); the workers leave once what was submitted is
    /// done. Call [`join`](Pool::join) to wait for that.
    ///
    /// # Errors
    /// None today; `Result` keeps the door open for a failing OS call.
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
    /// let pool = Pool::new(2)?;
    /// let result = pool.map_async(square, 0..10)?;
    /// pool.close()?;
    /// assert!(pool.map(square, [1]).is_err(), "Pool not running");
    /// pool.join()?;
    /// assert_eq!(result.get()?[9], 81);
    /// # Ok::<(), multiprocessing::Error>(())
    /// ```
    pub fn close(&self) -> Result<()> {
        {
            let mut inner = self.shared.inner.borrow_mut();
            if inner.core.state == State::Run {
                inner.core.state = State::Close;
            }
            inner.dispatch();
        }
        self.shared.run_completions();
        Ok(())
    }

    /// Stops the workers at once (Python's `terminate`): `SIGTERM`, then `SIGKILL` for a
    /// worker still there after a second. Pending results fail with "Pool(N) was
    /// terminated", without calling their callbacks.
    ///
    /// # Errors
    /// None today; `Result` keeps the door open for a failing OS call.
    ///
    /// # Examples
    ///
    /// ```
    /// use multiprocessing::Pool;
    ///
    /// fn nap(ms: u64) {
    ///     std::thread::sleep(std::time::Duration::from_millis(ms));
    /// }
    ///
    /// let pool = Pool::new(1)?;
    /// let result = pool.apply_async(nap, 60_000)?;
    /// pool.terminate()?;
    /// assert!(result.get().is_err());
    /// pool.join()?;
    /// # Ok::<(), multiprocessing::Error>(())
    /// ```
    pub fn terminate(&self) -> Result<()> {
        self.shared.inner.borrow_mut().terminate();
        Ok(())
    }

    /// Waits for the workers to exit (Python's `join`), after [`close`](Pool::close) (all
    /// submitted work is done first) or [`terminate`](Pool::terminate).
    ///
    /// # Errors
    /// [`Error::State`] ("Pool is still running") before `close` or `terminate`, as CPython
    /// raises `ValueError`.
    ///
    /// # Examples
    ///
    /// ```
    /// use multiprocessing::{active_children, Pool};
    ///
    /// let pool = Pool::new(2)?;
    /// assert!(pool.join().is_err());
    /// pool.close()?;
    /// pool.join()?;
    /// assert!(active_children().is_empty());
    /// # Ok::<(), multiprocessing::Error>(())
    /// ```
    pub fn join(&self) -> Result<()> {
        if self.shared.inner.borrow().core.state == State::Run {
            return Err(Error::state("Pool is still running"));
        }
        let shared = &self.shared;
        loop {
            if shared.inner.borrow().workers.is_empty() {
                return Ok(());
            }
            shared.pump(None)?;
        }
    }

    /// What has crossed between the parent and the workers so far, and what each worker did.
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
    /// pool.map_chunked(square, 0..100, 1)?;
    /// let stats = pool.stats();
    /// assert_eq!(stats.task_messages + stats.result_messages, 200);
    /// # Ok::<(), multiprocessing::Error>(())
    /// ```
    pub fn stats(&self) -> PoolStats {
        let inner = self.shared.inner.borrow();
        let mut stats = inner.core.stats.clone();
        stats
            .workers
            .extend(inner.workers.iter().map(|w| worker_stats(w, true)));
        stats
    }

    /// The process ids of the current workers.
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = multiprocessing::Pool::new(3)?;
    /// assert_eq!(pool.pids().len(), 3);
    /// # Ok::<(), multiprocessing::Error>(())
    /// ```
    pub fn pids(&self) -> Vec<i32> {
        self.shared.inner.borrow().workers.iter().map(|w| w.pid).collect()
    }
}

impl fmt::Debug for Pool {
    /// Like CPython's repr: `<Pool state=RUN pool_size=4>`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let inner = self.shared.inner.borrow();
        let state = match inner.core.state {
            State::Run => "RUN",
            State::Close => "CLOSE",
            State::Terminate => "TERMINATE",
        };
        write!(f, "<Pool state={state} pool_size={}>", inner.workers.len())
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        if let Ok(mut inner) = self.shared.inner.try_borrow_mut() {
            inner.terminate();
        }
    }
}

/// The result of an asynchronous call ([`Pool::apply_async`], [`Pool::map_async`],
/// [`Pool::starmap_async`]), like Python's `AsyncResult`.
///
/// Waiting on it moves the pool forward (see [`Pool`]'s "Progress and callbacks"); callbacks
/// run in the thread that waits. The value can be taken once: a second
/// [`get`](AsyncResult::get) returns [`Error::State`] (Python returns the same object again;
/// Rust moves it).
///
/// # Examples
///
/// ```
/// use multiprocessing::Pool;
///
/// fn square(x: i32) -> i32 {
///     x * x
/// }
///
/// let pool = Pool::new(2)?;
/// let result = pool.apply_async(square, 3)?;
/// result.wait()?;
/// assert!(result.ready());
/// assert!(result.successful()?);
/// assert_eq!(result.get()?, 9);
/// # Ok::<(), multiprocessing::Error>(())
/// ```
#[must_use = "the task runs anyway, but its result and errors are lost"]
pub struct AsyncResult<V> {
    shared: Rc<Shared>,
    slot: Rc<Slot<V>>,
}

impl<V: 'static> AsyncResult<V> {
    /// Calls `callback(&value)` in the parent once the call succeeds (Python's `callback=`).
    /// If it already has, the callback runs now.
    pub fn callback(self, callback: impl FnOnce(&V) + 'static) -> Self {
        *self.slot.callback.borrow_mut() = Some(Box::new(callback));
        if self.slot.is_ready() {
            self.slot.run_callbacks();
        }
        self
    }

    /// Calls `error_callback(&error)` in the parent if the call fails (Python's
    /// `error_callback=`). If it already has, the callback runs now.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::cell::RefCell;
    /// use std::rc::Rc;
    /// use multiprocessing::Pool;
    ///
    /// fn fail(_: ()) -> i32 {
    ///     panic!("no luck");
    /// }
    ///
    /// let pool = Pool::new(1)?;
    /// let seen = Rc::new(RefCell::new(String::new()));
    /// let s = Rc::clone(&seen);
    /// let result = pool.apply_async(fail, ())?.error_callback(move |e| *s.borrow_mut() = e.to_string());
    /// assert!(result.get().is_err());
    /// assert!(seen.borrow().contains("no luck"));
    /// # Ok::<(), multiprocessing::Error>(())
    /// ```
    pub fn error_callback(self, error_callback: impl FnOnce(&Error) + 'static) -> Self {
        *self.slot.error_callback.borrow_mut() = Some(Box::new(error_callback));
        if self.slot.is_ready() {
            self.slot.run_callbacks();
        }
        self
    }

    /// Whether the call has completed (Python's `ready()`). Looks at the workers without
    /// waiting.
    pub fn ready(&self) -> bool {
        if !self.slot.is_ready() {
            let _ = self.shared.pump(Some(Duration::ZERO));
        }
        self.slot.is_ready()
    }

    /// Whether the call completed without error (Python's `successful()`).
    ///
    /// # Errors
    /// [`Error::State`] if it has not completed, as Python raises `ValueError`.
    pub fn successful(&self) -> Result<bool> {
        if !self.ready() {
            return Err(Error::state("result is not ready"));
        }
        Ok(match &*self.slot.outcome.borrow() {
            Outcome::Ready(r) => r.is_ok(),
            Outcome::Taken { success } => *success,
            Outcome::Pending => false,
        })
    }

    /// Waits until the call completes (Python's `wait()`).
    ///
    /// # Errors
    /// [`Error::Os`] if waiting on the workers fails.
    pub fn wait(&self) -> Result<()> {
        self.shared.wait_until(None, || self.slot.is_ready()).map(drop)
    }

    /// Waits at most `timeout`; returns whether the call completed (Python's `wait(timeout)`
    /// followed by `ready()`).
    ///
    /// # Errors
    /// As [`wait`](AsyncResult::wait).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use multiprocessing::Pool;
    ///
    /// fn nap(ms: u64) {
    ///     std::thread::sleep(Duration::from_millis(ms));
    /// }
    ///
    /// let pool = Pool::new(1)?;
    /// let result = pool.apply_async(nap, 300)?;
    /// assert!(!result.wait_timeout(Duration::from_millis(10))?);
    /// assert!(result.wait_timeout(Duration::from_secs(10))?);
    /// # Ok::<(), multiprocessing::Error>(())
    /// ```
    pub fn wait_timeout(&self, timeout: Duration) -> Result<bool> {
        self.shared
            .wait_until(Some(Instant::now() + timeout), || self.slot.is_ready())
    }

    /// Waits for the call and returns its value (Python's `get()`).
    ///
    /// # Errors
    /// The call's error ([`Error::Remote`] for a panic or a dead worker, [`Error::State`] if
    /// the pool was terminated), or [`Error::State`] if the value was already taken.
    pub fn get(&self) -> Result<V> {
        self.wait()?;
        self.take()
    }

    /// Waits at most `timeout` for the value (Python's `get(timeout)`).
    ///
    /// # Errors
    /// [`Error::Timeout`] if the call has not completed in time (it goes on, and a later
    /// `get` can still return it); otherwise as [`get`](AsyncResult::get).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use multiprocessing::{Error, Pool};
    ///
    /// fn slow_square(x: u64) -> u64 {
    ///     std::thread::sleep(Duration::from_millis(300));
    ///     x * x
    /// }
    ///
    /// let pool = Pool::new(1)?;
    /// let result = pool.apply_async(slow_square, 4)?;
    /// assert!(matches!(result.get_timeout(Duration::from_millis(10)), Err(Error::Timeout(_))));
    /// assert_eq!(result.get_timeout(Duration::from_secs(10))?, 16);
    /// # Ok::<(), multiprocessing::Error>(())
    /// ```
    pub fn get_timeout(&self, timeout: Duration) -> Result<V> {
        if !self.wait_timeout(timeout)? {
            return Err(Error::Timeout(timeout));
        }
        self.take()
    }

    fn take(&self) -> Result<V> {
        let mut outcome = self
            .slot
            .outcome
            .try_borrow_mut()
            .map_err(|_| Error::state("get() called from this result's own callback"))?;
        match std::mem::replace(&mut *outcome, Outcome::Taken { success: false }) {
            Outcome::Ready(result) => {
                *outcome = Outcome::Taken {
                    success: result.is_ok(),
                };
                result
            }
            Outcome::Taken { success } => {
                *outcome = Outcome::Taken { success };
                Err(Error::state("the result was already taken by an earlier get()"))
            }
            Outcome::Pending => {
                *outcome = Outcome::Pending;
                Err(Error::state("result is not ready"))
            }
        }
    }
}

impl<V> fmt::Debug for AsyncResult<V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match &*self.slot.outcome.borrow() {
            Outcome::Pending => "pending",
            Outcome::Ready(Ok(_)) | Outcome::Taken { success: true } => "successful",
            Outcome::Ready(Err(_)) | Outcome::Taken { success: false } => "failed",
        };
        write!(f, "<AsyncResult {state}>")
    }
}

/// The iterator of [`Pool::imap`] and [`Pool::imap_unordered`]: each item is a task's result,
/// or the error of the task (or chunk) that failed.
///
/// Each `next` moves the pool forward until the next result is there.
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
/// let pool = Pool::new(2)?;
/// for (x, square) in (1..=3).zip(pool.imap(square, 1..=3)?) {
///     println!("{x}² = {}", square?);
/// }
/// # Ok::<(), multiprocessing::Error>(())
/// ```
#[must_use = "iterators are lazy: the results are only collected when iterated"]
pub struct IMapIterator<R> {
    shared: Rc<Shared>,
    state: Rc<RefCell<IMapState<R>>>,
    job: u64,
}

impl<R> Drop for IMapIterator<R> {
    /// Cancels what is left: no more of the input is read, and results still on their way are
    /// dropped. Without this, an endless input would keep the workers busy for ever and every
    /// later call would wait behind it.
    fn drop(&mut self) {
        if let Ok(mut inner) = self.shared.inner.try_borrow_mut() {
            inner.core.jobs.remove(&self.job);
            inner.core.queue.retain(|&id| id != self.job);
        }
    }
}

impl<R> IMapIterator<R> {
    /// The next result, waiting at most `timeout` (Python's `next(timeout)`). `Ok(None)` at
    /// the end.
    ///
    /// # Errors
    /// [`Error::Timeout`] when no result came in time; the task's error if it failed.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use multiprocessing::Pool;
    ///
    /// fn square(x: u64) -> u64 {
    ///     x * x
    /// }
    ///
    /// let pool = Pool::new(1)?;
    /// let mut it = pool.imap(square, [3])?;
    /// assert_eq!(it.next_timeout(Duration::from_secs(10))?, Some(9));
    /// assert_eq!(it.next_timeout(Duration::from_secs(10))?, None);
    /// # Ok::<(), multiprocessing::Error>(())
    /// ```
    pub fn next_timeout(&mut self, timeout: Duration) -> Result<Option<R>> {
        let state = &self.state;
        let arrived = self.shared.wait_until(Some(Instant::now() + timeout), || {
            let s = state.borrow();
            !s.ready.is_empty() || s.finished()
        })?;
        if !arrived {
            return Err(Error::Timeout(timeout));
        }
        self.take().transpose()
    }

    /// The next ready result. When it ends a chunk, its credit went back to the input, so
    /// the next chunk is handed out now to a worker that asked, not at the next wait.
    fn take(&mut self) -> Option<Result<R>> {
        let (item, freed) = self.state.borrow_mut().pop();
        if freed {
            // Not borrowed when a callback iterates from inside the pool's own call: the
            // chunk then goes out at that call's next step.
            if let Ok(mut inner) = self.shared.inner.try_borrow_mut() {
                inner.dispatch();
            }
            self.shared.run_completions();
        }
        item
    }
}

impl<R> Iterator for IMapIterator<R> {
    type Item = Result<R>;

    fn next(&mut self) -> Option<Result<R>> {
        let state = &self.state;
        let waited = self.shared.wait_until(None, || {
            let s = state.borrow();
            !s.ready.is_empty() || s.finished()
        });
        if let Err(e) = waited {
            // Waiting itself failed: report it once, then end, rather than fail forever.
            self.state.borrow_mut().failed = true;
            return Some(Err(e));
        }
        self.take()
    }
}

impl<R> fmt::Debug for IMapIterator<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.state.borrow();
        write!(
            f,
            "<IMapIterator ready={} finished={}>",
            s.ready.len(),
            s.finished()
        )
    }
}

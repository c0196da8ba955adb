//! Python's `multiprocessing`, in Rust.
//!
//! Real processes (`fork(2)`), real shared memory, process-shared locks and real sockets, with
//! the names and the behaviour a reader of Python's documentation knows. The modules are named
//! after CPython's files (`process`, `pool`, `queues`, `connection`, `managers`,
//! `sharedctypes`, `synchronize`), and the crate root re-exports a flat API:
//!
//! ```
//! use multiprocessing::{current_process, Process};
//!
//! fn worker(num: u32) {
//!     println!("进程 {num} 正在运行 ({})", current_process().name());
//! }
//!
//! let mut processes = Vec::new();
//! for i in 0..5 {
//!     let mut p = Process::new(worker, i);
//!     p.start()?;
//!     processes.push(p);
//! }
//! for p in &processes {
//!     p.join()?;
//! }
//! println!("所有进程已结束。");
//! # Ok::<(), multiprocessing::Error>(())
//! ```
//!
//! Children start by `fork` by default; [`get_context`] and [`set_start_method`] choose `spawn`
//! (the program runs again and [`freeze_support`], called first in `main`, turns it into the
//! child) or `forkserver` (a single-threaded server forks each child, safe from a
//! multi-threaded parent), as CPython's start methods.
//!
//! Where Python raises an exception, this crate returns an [`Error`]; each variant names the
//! Python exception it stands for.
//!
//! # Python to Rust
//!
//! | Python | Rust |
//! |---|---|
//! | `Process(target=f, args=(a, b))` | [`Process::new`]`(f, (a, b))`, with `fn f((a, b): (A, B))` |
//! | `current_process()`, `parent_process()`, `active_children()` | [`current_process`], [`parent_process`], [`active_children`] |
//! | `Pool(4)`, `with Pool(4) as pool:` | [`Pool::new`]`(4)?`; a block whose end drops (terminates) the pool |
//! | `pool.map(f, xs, chunksize)`, `apply_async(f, args, callback=cb)` | [`Pool::map`], [`Pool::map_chunked`], [`Pool::apply_async`]`(f, args)?.callback(cb)` |
//! | `Queue()`, `SimpleQueue()`, `JoinableQueue()` | [`Queue`]`::<T>::new(0)?`, [`SimpleQueue`], [`JoinableQueue`] |
//! | `Pipe()`, `conn.send(obj)`, `conn.recv()` | [`Pipe`]`(true)?`, [`Connection::send`], [`Connection::recv`] |
//! | `Manager()`, `manager.dict()` | [`Manager::new`]`()?`, [`Manager::dict`] giving a typed [`DictProxy`] |
//! | `Value('i', 0)`, `Array('i', [1, 2])`, `with v.get_lock():` | [`Value::new`]`(0i32)?`, [`Array::new`]`(&[1i32, 2])?`, `let _g = v.get_lock().acquire();` |
//! | `Lock()`, `RLock()`, `Semaphore(n)`, `Event()`, `Condition()`, `Barrier(n)` | [`Lock`], [`RLock`], [`Semaphore`], [`Event`], [`Condition`], [`Barrier`], each with `new` |
//! | `get_context("spawn")`, `set_start_method(..)`, `freeze_support()` | [`get_context`], [`set_start_method`], [`freeze_support`] |
//! | `bytes` | [`ByteBuf`] (copied as one block by the codec) |

pub mod codec;
mod connection;
mod context;
mod error;
mod forkserver;
mod heap;
mod listener;
mod managers;
mod pool;
mod process;
mod queues;
mod sharedctypes;
mod spawn;
mod synchronize;
mod sys;

pub use codec::ByteBuf;
pub use connection::{Connection, Pipe, DEFAULT_MAX_MESSAGE_SIZE};
pub use context::{
    get_all_start_methods, get_context, get_start_method, set_start_method, Context, StartMethod,
};
pub use error::{Error, Result};
pub use listener::{answer_challenge, deliver_challenge, Address, Client, Listener};
pub use managers::{
    py_repr, DictProxy, ListProxy, LockProxy, LockProxyGuard, Manager, NamespaceProxy, Proxy, PyDict, PyList,
    PyRepr, QueueProxy, ValueProxy,
};
pub use pool::{
    default_chunksize, AsyncResult, IMapIterator, Pool, PoolBuilder, PoolStats, WorkerStats,
    IMAP_BUFFER_PER_WORKER, PREFETCH,
};
pub use process::{
    active_children, cpu_count, current_process, freeze_support, parent_process, Process, ProcessInfo,
};
pub use queues::{JoinableQueue, Queue, SimpleQueue, DEFAULT_QUEUE_CAPACITY};
pub use sharedctypes::{Array, Element, RawArray, RawValue, Value};
pub use synchronize::{
    Barrier, BoundedSemaphore, Condition, ConditionGuard, Event, Lock, LockGuard, RLock, RLockGuard,
    Semaphore, SemaphoreGuard, SyncLock, OWNER_CHECK_INTERVAL, SEM_VALUE_MAX,
};
pub use sys::signal::signal_name;

//! Python's `multiprocessing`, in Rust: real processes (started by `fork`, `spawn` or
//! `forkserver`), pools, queues, pipes, managers, shared memory and process-shared locks, with
//! the names and the behaviour a reader of Python's documentation knows.
//! What crosses between processes is any serde type, and where Python raises an exception, a
//! call returns an [`Error`] that names it.
//!
//! The crate root re-exports a flat API (`use multiprocessing::{Pool, Process, Queue};`); the
//! modules behind it are private, named after CPython's files, and listed at the end of this
//! page.
//!
//! # A first look
//!
//! **Processes.** Five processes, each printing its number; the parent waits for them all
//! (the tutorial's section 2.1: `Process(target=worker, args=(i,))`, `p.start()`, `p.join()`):
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
//! **A pool.** Four workers square five numbers; the results come back in input order
//! (section 3 / 1.2: `with Pool(processes=4) as pool: pool.map(square, [1, 2, 3, 4, 5])`):
//!
//! ```
//! use multiprocessing::Pool;
//!
//! fn square(x: i32) -> i32 {
//!     x * x
//! }
//!
//! {
//!     let pool = Pool::new(4)?;
//!     let results = pool.map(square, [1, 2, 3, 4, 5])?;
//!     println!("{results:?}");
//!     assert_eq!(results, [1, 4, 9, 16, 25]);
//! } // The end of the block terminates the pool, as the end of `with Pool(...)` does.
//! # Ok::<(), multiprocessing::Error>(())
//! ```
//!
//! **A task that needs context.** A task is a plain `fn`: it runs in another process, so it
//! cannot capture a local. [`Pool::map_with`] sends a context once to each worker, and every
//! task borrows it (Python's `pool.map(functools.partial(count_word, "rose"), lines)`; the
//! [`Pool`] page shows the other patterns):
//!
//! ```
//! use multiprocessing::Pool;
//!
//! fn count_word(word: &String, line: String) -> usize {
//!     line.split_whitespace().filter(|w| w == word).count()
//! }
//!
//! let lines = ["a rose is a rose", "is a rose", "a tulip"].map(String::from);
//! let pool = Pool::new(2)?;
//! assert_eq!(pool.map_with("rose".to_string(), count_word, lines)?, [2, 1, 0]);
//! # Ok::<(), multiprocessing::Error>(())
//! ```
//!
//! **A producer and two consumers.** A [`Queue`] carries numbers from a producer process to
//! two consumer processes, and a second queue carries their squares back (Python:
//! `for n in range(1, 11): q.put(n)`, one `q.put(None)` per consumer, and
//! `for n in iter(q.get, None): results.put(n * n)`):
//!
//! ```
//! use multiprocessing::{Process, Queue};
//!
//! fn producer(q: Queue<Option<u32>>) {
//!     for n in 1..=10 {
//!         q.put(Some(n)).unwrap();
//!     }
//!     for _ in 0..2 {
//!         q.put(None).unwrap(); // one stop sign per consumer
//!     }
//! }
//!
//! fn consumer((q, results): (Queue<Option<u32>>, Queue<u32>)) {
//!     while let Some(n) = q.get().unwrap() {
//!         results.put(n * n).unwrap();
//!     }
//! }
//!
//! let q = Queue::new(0)?;
//! let results = Queue::new(0)?;
//! let mut processes = vec![Process::new(producer, q.clone())];
//! for _ in 0..2 {
//!     processes.push(Process::new(consumer, (q.clone(), results.clone())));
//! }
//! for p in &mut processes {
//!     p.start()?;
//! }
//! let mut squares: Vec<u32> = (0..10).map(|_| results.get()).collect::<Result<_, _>>()?;
//! for p in &processes {
//!     p.join()?;
//! }
//! squares.sort(); // the two consumers finish in any order
//! assert_eq!(squares, [1, 4, 9, 16, 25, 36, 49, 64, 81, 100]);
//! # Ok::<(), multiprocessing::Error>(())
//! ```
//!
//! **Shared memory.** Four processes add to one [`Value`] and to every element of an
//! [`Array`], each read-modify-write under the object's lock (Python:
//! `with counter.get_lock(): counter.value += 1`, and likewise for `numbers[i] += 1`):
//!
//! ```
//! use multiprocessing::{Array, Process, Value};
//!
//! fn add((counter, numbers): (Value<i32>, Array<i32>)) {
//!     for _ in 0..1000 {
//!         let _guard = counter.get_lock().acquire(); // with counter.get_lock():
//!         counter.set(counter.get() + 1); //                counter.value += 1
//!     }
//!     let _guard = numbers.get_lock().acquire(); // with numbers.get_lock():
//!     for i in 0..numbers.len() {
//!         numbers.set(i, numbers.get(i) + 1); //        numbers[i] += 1
//!     }
//! }
//!
//! let counter = Value::new(0)?;
//! let numbers = Array::new(&[0, 10, 20])?;
//! let mut processes: Vec<Process> =
//!     (0..4).map(|_| Process::new(add, (counter.clone(), numbers.clone()))).collect();
//! for p in &mut processes {
//!     p.start()?;
//! }
//! for p in &processes {
//!     p.join()?;
//! }
//! println!("共享 Value: {}, 共享 Array: {:?}", counter.get(), numbers.to_vec());
//! assert_eq!(counter.get(), 4000); // without the guard, usually less
//! assert_eq!(numbers.to_vec(), [4, 14, 24]);
//! # Ok::<(), multiprocessing::Error>(())
//! ```
//!
//! # Use it in your own crate
//!
//! The crate is not on crates.io: depend on it by path or by git (the package is found by
//! its name, `multiprocessing`, inside this workspace). It needs Linux (futexes, memfd,
//! pidfd) and Rust 1.85 or newer.
//!
//! ```toml
//! [dependencies]
//! multiprocessing = { path = "../path/to/this/workspace/shared" }
//! # or: multiprocessing = { git = "<this repository's URL>" }
//! serde = { version = "1", features = ["derive"] }
//! ```
//!
//! - **Your types need serde.** What crosses to another process (a target's arguments, a
//!   task's item and result, what a queue or a pipe carries) is `Serialize` and
//!   `DeserializeOwned`. serde is not re-exported: add it yourself, with its `derive` feature.
//! - **`freeze_support()` first in `main`.** Under the `spawn` and `forkserver` start methods
//!   a child is a new run of your program, and [`freeze_support`] is where that run turns into
//!   the child instead of running your `main` (it plays the part of Python's
//!   `if __name__ == "__main__":`). Under `fork` it returns at once, so calling it always costs
//!   nothing.
//! - **Errors for people.** A `main` that returns `multiprocessing::Result<()>` (as below)
//!   prints a failure as `Debug` (`Error: State("...")`); return `anyhow::Result<()>` to print
//!   the message a person reads. Every [`Error`] can also be matched by its variant.
//! - **License:** MIT OR Apache-2.0, at your option (`LICENSE-MIT` and `LICENSE-APACHE` at the
//!   workspace's root).
//!
//! ```
//! use multiprocessing::{freeze_support, set_start_method, Pool};
//! use serde::{Deserialize, Serialize};
//!
//! #[derive(Serialize, Deserialize)]
//! struct Order {
//!     item: String,
//!     qty: u32,
//! }
//!
//! fn label(order: Order) -> String {
//!     format!("{} x{}", order.item, order.qty)
//! }
//!
//! fn main() -> multiprocessing::Result<()> {
//!     freeze_support(); // first: a spawned child, or the fork server, takes over here
//!     set_start_method("forkserver", false)?; // optional: CPython 3.14's default on Linux
//!     let pool = Pool::new(2)?;
//!     let orders = vec![Order { item: "tea".into(), qty: 2 }, Order { item: "rice".into(), qty: 5 }];
//!     assert_eq!(pool.map(label, orders)?, ["tea x2", "rice x5"]);
//!     Ok(())
//! }
//! ```
//!
//! # Python to Rust
//!
//! | Python | Rust |
//! |---|---|
//! | `Process(target=f, args=(a, b))` | [`Process::new`]`(f, (a, b))`, with `fn f((a, b): (A, B))` |
//! | `p.start()`, `p.join(timeout)`, `p.is_alive()`, `p.exitcode` | [`Process::start`], [`Process::join`] / [`Process::join_timeout`], [`Process::is_alive`], [`Process::exitcode`] |
//! | `p.terminate()`, `p.kill()`, `p.interrupt()`, `p.close()`, `p.sentinel` | [`Process::terminate`], [`Process::kill`], [`Process::interrupt`], [`Process::close`], [`Process::sentinel`] |
//! | `current_process()`, `parent_process()`, `active_children()` | [`current_process`], [`parent_process`], [`active_children`] |
//! | `current_process().authkey` | [`ProcessInfo::authkey`] (made once, inherited by every child) |
//! | `Pool(4)`, `with Pool(4) as pool:` | [`Pool::new`]`(4)?`; a block whose end drops (terminates) the pool |
//! | `Pool(2, initializer=f, initargs=(x,), maxtasksperchild=n)` | [`Pool::builder`]`().processes(2).`[`initializer`](PoolBuilder::initializer)`(f, x).`[`maxtasksperchild`](PoolBuilder::maxtasksperchild)`(n).build()?` |
//! | `pool.map(f, xs, chunksize)`, `pool.starmap(f, pairs)` | [`Pool::map`], [`Pool::map_chunked`], [`Pool::starmap`] |
//! | `pool.imap(f, xs)`, `pool.imap_unordered(f, xs)` | [`Pool::imap`], [`Pool::imap_unordered`], giving an [`IMapIterator`] |
//! | `pool.map(partial(f, ctx), xs)` | [`Pool::map_with`]`(ctx, f, xs)` with `fn f(&C, T) -> R`; [`Pool::map_async_with`], [`Pool::imap_with`] |
//! | `apply_async(f, args, callback=cb, error_callback=ecb)`, `r.get(timeout)` | [`Pool::apply_async`]`(f, args)?.`[`callback`](AsyncResult::callback)`(cb).`[`error_callback`](AsyncResult::error_callback)`(ecb)`, [`AsyncResult::get`], [`AsyncResult::get_timeout`] |
//! | `except Exception as e:` around `pool.map(f, xs)` | `match` the [`Error`]: [`Error::TaskPanicked`] (task, worker, message, location), [`Error::WorkerLost`] (worker, pid, signal), [`Error::TooLarge`], [`Error::TaskFailed`], [`Error::InitializerPanicked`], [`Error::PoolBroken`] |
//! | (no CPython equivalent) stop a `map` at its first failure | [`Pool::map_async`]`(f, xs)?.`[`fail_fast`](AsyncResult::fail_fast)`()`, failing with [`Error::FailedFast`] |
//! | `Queue()`, `SimpleQueue()`, `JoinableQueue()` | [`Queue`]`::<T>::new(0)?`, [`SimpleQueue`], [`JoinableQueue`] |
//! | `q.put(x)`, `q.get(timeout=t)`, `q.full()`, `q.close()` | [`Queue::put`] (a `&str` for a `Queue<String>`, through [`QueueItem`]), [`Queue::get_timeout`], [`Queue::full`], [`Queue::close`] |
//! | `queue.Full`, `queue.Empty`, `EOFError`, `TimeoutError` | [`Error::Full`], [`Error::Empty`], [`Error::Eof`], [`Error::Timeout`] |
//! | `Pipe()`, `conn.send(obj)`, `conn.recv()`, `conn.poll(t)` | [`Pipe`]`(true)?`, [`Connection::send`], [`Connection::recv`], [`Connection::poll`] |
//! | `conn.send_bytes(buf)`, `conn.send_bytes(buf, offset, size)` | [`Connection::send_bytes`], [`Connection::send_bytes_range`]`(buf, offset, size)` |
//! | `conn.recv_bytes()`, `conn.recv_bytes_into(buf)`, `BufferTooShort` | [`Connection::recv_bytes`], [`Connection::recv_bytes_into`], [`Error::BufferTooShort`] (which holds the message) |
//! | `conn.close()`, `conn.closed` | [`Connection::close`], [`Connection::closed`] |
//! | `multiprocessing.connection.wait([c, p.sentinel], timeout)` | [`wait`]`(&objects, Some(timeout))?` over `&dyn` [`Waitable`]s (a [`Connection`], a [`Process::sentinel`], any descriptor), giving the indices of the ready ones |
//! | `Listener(address, authkey=k)`, `Client(address, authkey=k)` | [`Listener::bind`]`(&address, Some(k))`, [`Client`]`(&address, Some(k))` |
//! | `Manager()`, `manager.dict()`, `manager.list()`, `manager.Namespace()` | [`Manager::new`]`()?`, [`Manager::dict`] giving a typed [`DictProxy`], [`Manager::list`], [`Manager::namespace`] |
//! | `manager.Queue(maxsize)`, `q.full()` | [`Manager::queue_with_maxsize`], [`QueueProxy::full`] |
//! | `manager.Value('d', 1.5)`, `manager.Array('i', [1, 2])` | [`Manager::value`]`(1.5)?`, [`Manager::array`]`(&[1, 2])?` |
//! | `manager.Lock()`, `Event()`, `Condition()` | [`Manager::lock`], [`Manager::event`], [`Manager::condition`] |
//! | `manager.Semaphore(2)`, `BoundedSemaphore(2)`, `Barrier(3)` | [`Manager::semaphore`], [`Manager::bounded_semaphore`], [`Manager::barrier`] |
//! | `l[1:3]`, `l[1:3] = xs`, `l.extend(xs)`, `l += xs` | [`ListProxy::get_slice`]`(1..3)`, [`ListProxy::set_slice`], [`ListProxy::extend`], [`ListProxy::iadd`] |
//! | `MyManager.register('Foo', Foo)`, `manager.Foo(args)` | `Manager::builder().`[`register`](ManagerBuilder::register)`::<Foo>()`, [`Manager::create`]`::<Foo>(args)` |
//! | `BaseManager.register('get_queue', callable=...)` | [`Manager::register`]`("queue", &proxy)`, then [`Manager::get`] |
//! | `BaseManager(address, authkey).start()`, `.connect()` | [`Manager::serve`], [`Manager::connect`] |
//! | `Value('i', 0)`, `Array('i', [1, 2])`, `with v.get_lock():` | [`Value::new`]`(0i32)?`, [`Array::new`]`(&[1i32, 2])?`, `let _g = v.get_lock().acquire();` |
//! | `Lock()`, `RLock()`, `Semaphore(n)`, `Event()`, `Condition()`, `Barrier(n)` | [`Lock`], [`RLock`], [`Semaphore`], [`Event`], [`Condition`], [`Barrier`], each with `new` |
//! | `with lock:`, `repr(lock)` | `let _guard = lock.acquire();`, `format!("{lock:?}")` giving `<Lock(owner=MainProcess)>` |
//! | `get_context("spawn")`, `set_start_method(..)`, `freeze_support()` | [`get_context`], [`set_start_method`], [`freeze_support`] |
//! | `bytes` | [`ByteBuf`] (copied as one block by the codec) |
//!
//! # Where this crate differs from CPython, and why
//!
//! The details are on each item, under "Differences from Python"; in short:
//!
//! - **Errors are values.** A call returns `Result<T, `[`Error`]`>` where Python raises: Rust
//!   has no exceptions, and each variant names the Python exception it stands for.
//! - **Targets and tasks are `fn`s, not pickled callables.** A spawned child finds a `fn` by
//!   its offset in the same executable; a closure's captures have no such address. Context
//!   goes through [`Pool::map_with`], a tuple argument, or a pool's initializer.
//! - **Data is typed.** `Queue<T>`, `recv::<T>()` and `dict::<K, V>()` carry serde types, not
//!   any picklable object: decoding needs the type, and a wrong one is an [`Error::Codec`]
//!   naming it.
//! - **No background threads.** A [`Queue`] has no feeder thread (a failed `put` returns its
//!   error, and a child may exit before its data is read), and a [`Pool`] no handler threads
//!   (it makes progress inside the caller's calls, and callbacks run there): a program whose
//!   runtime starts no threads stays safe to `fork`.
//! - **A killed pool worker fails its tasks instead of hanging.** The caller gets an error
//!   naming the worker and the signal, and a new worker takes its place; CPython's `map`
//!   waits for ever for a result that will not come.
//! - **A dead holder's lock is recovered.** The next acquirer of a [`Lock`] or [`RLock`] whose
//!   holder died takes it over (a manager's server releases its own locks likewise), where
//!   CPython's stays locked and every waiter hangs.
//! - **Daemons die with their parent.** Daemon children and pool workers are killed when their
//!   parent dies, even by `SIGKILL` (`PR_SET_PDEATHSIG`), so none is left orphaned; CPython's
//!   run on.
//! - **Shared memory crosses by inheritance only, as in CPython.** A [`Lock`], [`Value`],
//!   [`Array`] or [`Queue`] sent through a pipe, a queue or a pool task is refused at the
//!   sender ("should only be shared between processes through inheritance"): the receiver
//!   could not map the memory. Give it as a [`Process`] argument or a pool's initializer
//!   argument.
//! - **A [`Connection`] crosses with its descriptor.** Sent through a [`Pipe`] (a Unix socket)
//!   it takes the descriptor along (`SCM_RIGHTS`, as CPython's `reduction` does), but a
//!   [`Queue`] refuses it: its shared-memory ring cannot carry a descriptor, and CPython's way
//!   round that, a `resource_sharer` thread, is a thread this runtime does not run.
//! - **A one-way `Pipe(false)` is a socket pair shut in one direction**, where CPython uses an
//!   OS pipe: a write to a socket cannot raise `SIGPIPE` (a dead reader is an error, never a
//!   signal), and a socket can carry descriptors.
//! - **Manager objects are typed, and live as long as their manager.** Proxies are generic
//!   ([`DictProxy<K, V>`](DictProxy)), and a type of your own is served through the
//!   [`Managed`] trait, since a Rust proxy cannot find methods by name at run time. CPython
//!   counts proxies across processes, which would need a hook at every `fork`.
//! - **The default start method is `fork`**, as in CPython up to 3.13, because the
//!   tutorial's programs are written for it. CPython 3.14 made `forkserver` the Linux default,
//!   since a forked child of a multi-threaded parent can inherit a lock that no thread will
//!   release; to do the same, call `set_start_method("forkserver", false)?` right after
//!   [`freeze_support`] in `main`, or make some processes through `get_context("forkserver")?`
//!   ([`StartMethod`] compares the three).
//! - **`freeze_support()` is needed under `spawn` and `forkserver` on every platform.** A
//!   Python child imports the main module, which `if __name__ == "__main__":` guards; a Rust
//!   child runs `main` itself, so the guard is a call at its top. A program without it gets one
//!   clear error from its first start, not a child that loops.
//! - **Linux only.** Process-shared futexes, memfd shared memory, pidfds and
//!   `PR_SET_PDEATHSIG` are what make the points above cheap and reliable.
//!
//! # Inside the crate
//!
//! One file per concern, in layers: each top-level module uses only the layers below it, so
//! a reader can start at the ground and climb. The modules are private (all but [`codec`]),
//! and their public items are re-exported at the crate root.
//!
//! ```text
//! 1. ground
//! error              the one Error type; each variant names the Python exception it stands for
//! codec              values to bytes and back (serde + postcard); ByteBuf for Python's bytes
//! deadline           a timeout computed once, asked for the time left before each sleep
//! authkey            the process's 32-byte key, made once and inherited by every child
//! sys/               every raw OS call, one file per C header:
//!   fcntl              close-on-exec, which decides what a re-executed child inherits
//!   futex              process-shared futex wait and wake; thread ids
//!   mman               memfd_create, for a spawned child's payload
//!   poll               waiting until descriptors are readable
//!   scm                passing descriptors over Unix sockets (SCM_RIGHTS)
//!   signal             sending and naming signals; the dispositions a child starts with
//!   socket             socket pairs and pipes, the byte channels under a Connection
//!   stdlib             handlers that run at a normal exit
//!   unistd             fork, _exit, process ids, descriptors
//!   wait               waitid and pidfd_open: learning that a child ended, and how
//!
//! 2. what crosses, where shared memory lives, how things print
//! reduction          what crosses a process boundary: inherited descriptors, code offsets to fns
//! heap               shared memory: memfd segments mapped MAP_SHARED, carved into blocks
//! py                 Python-style printing: True, None, {'key0': 0}, reprs
//!
//! 3. channels and primitives
//! connection/        Pipe and Connection (CPython's connection.py)
//!   frame              a length header, then the payload; buffered reads
//!   spin               the short spin of a receive before it sleeps
//!   wire               how a Connection travels to a spawned child
//!   passing            a value that owns a descriptor crossing with it (SCM_RIGHTS)
//!   wait               wait(): several connections and sentinels at once
//!   listener           Listener and Client on a Unix or TCP address
//!   auth               the HMAC challenge that proves both ends hold the authkey
//! synchronize/       process-shared locks (CPython's synchronize.py)
//!   sleepers           the futex wait every blocking object shares, argued once
//!   mutex              the lock word: its holder, its waiters, taking over from a dead holder
//!   owner              who holds a lock, named as CPython's repr names it
//!   lock, rlock        Lock and RLock
//!   semaphore          Semaphore and BoundedSemaphore
//!   event              Event
//!   condition          Condition
//!   barrier            Barrier
//! sharedctypes/      numbers and arrays in shared memory (CPython's sharedctypes.py)
//!   element            the numbers that fit, with Python's typecodes
//!   value              RawValue and Value
//!   array              RawArray and Array
//! queues/            Queue (CPython's queues.py)
//!   simple             SimpleQueue
//!   joinable           JoinableQueue
//!   item               what put accepts for a Queue<T>
//!   ring               the shared-memory byte ring under every queue
//!   stream             messages larger than the ring, streamed through it
//!   wait               how a ring's producer and consumer wait for each other
//!   buffer             per-thread buffers, so put and get allocate nothing
//!
//! 4. processes
//! start_method       StartMethod and the process-wide default
//! process/           Process (CPython's process.py and popen_*.py)
//!   handle             the Process a parent holds: target, name, daemon flag, repr
//!   lifecycle          start, join, signals, sentinel, close
//!   children           the parent's record of its children; active_children; cleanup at exit
//!   current            what a process knows of itself and its parent: current_process()
//!   bootstrap          the child's side: run the target, leave with its exit code
//!   panics             the one panic hook: "Process <name>:" in a child
//!   call               a target as a call another run of the executable can make
//!   fork               the fork start method
//!   spawn              the spawn start method: a fresh run of the same executable
//!   forkserver         the forkserver start method: a single-threaded server forks children
//!
//! 5. pools and managers
//! pool/              Pool (CPython's pool.py)
//!   builder            PoolBuilder: size, initializer, maxtasksperchild, start method
//!   map, map_with      the calls that collect every result: apply, map, starmap; with context
//!   imap               lazy maps and IMapIterator
//!   results            AsyncResult, and the collecting of a map's chunks
//!   jobs               a call as the parent holds it: where its chunks come from and go
//!   scheduler          which worker gets the next chunk (the pool pulls)
//!   supervisor         starting, watching, reaping and replacing workers
//!   task               the shapes of task a worker runs
//!   wire               the messages between the pool and a worker
//!   worker             the worker process's loop
//!   stats              PoolStats: what crossed, and what each worker did
//! managers/          Manager and its proxies (CPython's managers.py)
//!   builder            ManagerBuilder: start method, bounds on clients, register
//!   client             where a manager lives, and each process's connections to it
//!   protocol           the requests and replies between clients and the server
//!   server             the server's loop: a thread per connection
//!   gate               who gets a thread, and for how long, before proving the key
//!   data               the server's plain objects: dict, list, array, namespace, value
//!   waiting            the server's objects that make a caller wait: queue, lock, event, semaphore
//!   condition          the server's condition variable and barrier
//!   dict, list, array  DictProxy, ListProxy, ArrayProxy
//!   proxies            NamespaceProxy, QueueProxy, ValueProxy, LockProxy
//!   sync_proxies       EventProxy, SemaphoreProxy, ConditionProxy, BarrierProxy
//!   served             objects of your own type (BaseManager.register)
//!   macros             the macro that gives each proxy its common impls
//!
//! 6. the facade
//! context            get_context and Context: objects made with a chosen start method
//! ```

mod authkey;
pub mod codec;
mod connection;
mod context;
mod deadline;
mod error;
mod heap;
mod managers;
mod pool;
mod process;
mod py;
mod queues;
mod reduction;
mod sharedctypes;
mod start_method;
mod synchronize;
mod sys;

pub use codec::ByteBuf;
pub use connection::listener::{Address, Client, Listener, answer_challenge, deliver_challenge};
pub use connection::wait::{Waitable, wait};
pub use connection::{Connection, DEFAULT_MAX_MESSAGE_SIZE, Pipe};
pub use context::{Context, get_context};
pub use error::{Error, Result, TaskFailed, TaskPanicked, TooLarge, WorkerLost};
pub use managers::{
    ArrayProxy, BarrierProxy, ConditionProxy, ConditionProxyGuard, DictProxy, EventProxy, ListProxy,
    LockProxy, LockProxyGuard, Managed, Manager, ManagerBuilder, NamespaceProxy, Proxy, PyDict, PyList,
    PyRepr, QueueProxy, SemaphoreProxy, SemaphoreProxyGuard, ServedProxy, ValueProxy, py_repr,
};
pub use pool::{
    AsyncResult, IMAP_BUFFER_PER_WORKER, IMapIterator, PREFETCH, Pool, PoolBuilder, PoolStats, WorkerStats,
    default_chunksize,
};
pub use process::{
    Process, ProcessInfo, active_children, cpu_count, current_process, freeze_support, parent_process,
};
pub use queues::{DEFAULT_QUEUE_CAPACITY, JoinableQueue, Queue, QueueItem, SimpleQueue};
pub use sharedctypes::{Array, Element, RawArray, RawValue, Value};
pub use start_method::{StartMethod, get_all_start_methods, get_start_method, set_start_method};
pub use synchronize::{
    Barrier, BoundedSemaphore, Condition, ConditionGuard, Event, Lock, LockGuard, OWNER_CHECK_INTERVAL,
    RLock, RLockGuard, SEM_VALUE_MAX, Semaphore, SemaphoreGuard, SyncLock,
};
pub use sys::signal::signal_name;

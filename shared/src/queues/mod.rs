//! Queues: [`Queue`], [`SimpleQueue`] and [`JoinableQueue`], after CPython's
//! `Lib/multiprocessing/queues.py`.
//!
//! The public queues live here and beside it ([`simple`], [`joinable`]); under them all is one
//! shared-memory byte ring ([`ring`], with [`stream`] for messages larger than the ring and
//! [`wait`] for how its two sides wait for each other). The design, what happens past the
//! ring's capacity and when a process dies are documented on [`Queue`], where a reader of the
//! public API finds them.

use std::fmt;
use std::marker::PhantomData;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::codec;
use crate::connection::passing::{self, Route};
use crate::deadline::Deadline;
use crate::error::{Error, Result};

mod buffer;
mod item;
mod joinable;
mod ring;
mod simple;
mod stream;
mod wait;

use buffer::{ENCODE_BUF, with_buffer};
pub use item::QueueItem;
pub use joinable::JoinableQueue;
use ring::Ring;
pub use simple::SimpleQueue;

/// The ring size of a queue made by [`Queue::new`]: 4 MiB (measured: 1 MiB messages move at
/// about twice the rate through a 4 MiB ring as through a 1 MiB one, which they must stream
/// through).
pub const DEFAULT_QUEUE_CAPACITY: usize = 4 << 20;

/// Values that encode to more bytes than this are encoded straight into the ring (see
/// `put_until`).
const IN_PLACE_FROM: usize = 64 << 10;

/// What a queue is, for the error that refuses to put a value that owns a descriptor.
const NO_DESCRIPTORS: &str = "a Queue (its shared-memory ring cannot carry a descriptor)";

/// Runs an encoding for a queue: a value that owns a descriptor (a Connection) cannot cross in
/// shared memory.
#[inline]
fn encode<R>(f: impl FnOnce() -> std::result::Result<R, codec::CodecError>) -> Result<R> {
    let mut out = None;
    passing::encode_for(Route::Refused(NO_DESCRIPTORS), || {
        out = Some(f()?);
        Ok(())
    })?;
    Ok(out.expect("the encoding succeeded"))
}

/// A queue shared between processes, like Python's `multiprocessing.Queue`.
///
/// Any number of processes may put and get; clones (and copies inherited by forked
/// children) are the same queue. Each producer's items come out in the order it put them.
///
/// # Design
/// CPython's `Queue` is a pipe, a lock per end, and a *feeder thread* in every producer that
/// pickles items and writes them into the pipe in the background. That thread is why a child
/// that put data cannot be joined before the data is drained (the thread must finish writing
/// into a full pipe before the process may exit), and why a value that fails to pickle is a
/// traceback on stderr rather than an error from `put`.
///
/// Ours has no thread and no pipe. A queue is a byte ring in shared memory (a `MAP_SHARED`
/// memfd) that every process forked after the queue was made maps:
///
/// - **`put` encodes the value and copies it into the ring itself**, under the queue's write
///   [`Lock`](crate::Lock), held for the whole message, so messages never interleave and each producer's
///   messages stay in order. An encoding error is returned by `put`, and nothing is written.
///   A value that encodes to more than 64 KiB (and fits the ring) is measured first, then
///   encoded straight into the ring under the lock, saving a copy; so its `Serialize` must
///   not put into the same queue.
/// - **`get` copies one message out** under the read lock, also held for the whole message.
/// - When the ring has room, a `put` makes no system call at all; neither does a `get` that
///   finds data. A process that must wait (for data, or for room) spins briefly, then sleeps
///   on a process-shared futex; the other side makes a `FUTEX_WAKE` only when someone sleeps.
/// - **Data lives in shared memory, not in the producer**: a child that put data can exit and
///   be joined before anyone reads the queue (up to the ring's capacity; see below).
///
/// # Capacity
/// The ring holds [`DEFAULT_QUEUE_CAPACITY`] bytes (4 MiB) unless made with
/// [`Queue::with_capacity`]. Memory is touched only as the ring fills. Each message takes its
/// encoded size plus an 8-byte header, rounded up to 8 bytes. A message over 64 KiB that would
/// wrap around the ring's end starts at its beginning instead when the ring has room for that
/// at once, and the bytes it skipped stay taken until it is (so a consumer decodes it in one
/// piece, where it lies).
/// - While the ring is full, `put` waits for room (or returns [`Error::Full`] for
///   [`put_nowait`](Queue::put_nowait) and after a timeout), exactly like a bounded queue.
/// - A message larger than the ring *streams* through it: the producer keeps the write lock
///   and writes the message in chunks as a consumer frees room, and the consumer keeps the
///   read lock and reads the chunks as they come. So any size works, but such a `put` returns
///   only when a consumer has taken all but the last ring-full of it.
///
/// # When a process dies
/// The locks are [`Lock`](crate::Lock)s, which a waiter takes over from a dead holder. A producer killed
/// in the middle of a message that fits the ring leaves nothing behind (a message becomes
/// visible only when complete). A producer killed while streaming a big message leaves a
/// partial one: the next producer, or a consumer that notices the producer is gone, marks it
/// aborted, and the consumer reading it gets an [`Error::Remote`] saying so; later messages are
/// intact. A consumer killed in the middle of a streamed message loses that message (as it
/// would in CPython); the next consumer skips the rest of it.
///
/// A killed process never takes capacity with it: the number of items (for `maxsize`,
/// [`qsize`](Queue::qsize) and [`full`](Queue::full)) is counted in the ring itself, in the
/// same store that publishes or takes a message, so a producer killed while it waits for room
/// leaves the queue's `maxsize` as it was. (CPython's producer takes a semaphore slot before it
/// puts, and one killed in between keeps that slot for ever.)
///
/// # Differences from Python
/// - Queues are typed: `Queue<T>` carries `T`s, any `Serialize + DeserializeOwned` type, and
///   bytes that do not decode as a `T` are an [`Error::Codec`] naming the type.
/// - `put(obj, block, timeout)` and `get(block, timeout)` are [`put`](Queue::put),
///   [`put_timeout`](Queue::put_timeout), [`put_nowait`](Queue::put_nowait), and likewise
///   for `get`. `queue.Full`/`queue.Empty` are [`Error::Full`]/[`Error::Empty`].
/// - There is no `join_thread`/`cancel_join_thread`: there is no feeder thread.
/// - Python's `Queue(maxsize)` bounds the number of items; so does ours, and the ring also
///   bounds the bytes waiting in the queue (see "Capacity").
///
/// # Examples
///
/// The tutorial's example 3/1.3: one process writes, another reads.
///
/// ```
/// use multiprocessing::{Process, Queue};
///
/// fn writer(q: Queue<String>) {
///     q.put("消息".to_string()).unwrap();
/// }
///
/// fn reader(q: Queue<String>) {
///     println!("收到: {}", q.get().unwrap());
/// }
///
/// let q = Queue::new(0)?;
/// let mut p1 = Process::new(writer, q.clone());
/// let mut p2 = Process::new(reader, q.clone());
/// p1.start()?;
/// p2.start()?;
/// p1.join()?;
/// p2.join()?;
/// # Ok::<(), multiprocessing::Error>(())
/// ```
///
/// A child can put data and exit before anyone reads it (CPython's Queue would keep the
/// child alive until the data is read, and `join` would deadlock):
///
/// ```
/// use multiprocessing::{Process, Queue};
///
/// fn producer(q: Queue<u32>) {
///     for i in 0..1000 {
///         q.put(i).unwrap();
///     }
/// }
///
/// let q = Queue::new(0)?;
/// let mut p = Process::new(producer, q.clone());
/// p.start()?;
/// p.join()?; // before draining
/// assert_eq!(q.qsize(), 1000);
/// assert!((0..1000).all(|i| q.get().unwrap() == i));
/// # Ok::<(), multiprocessing::Error>(())
/// ```
///
/// # Serialization
/// Under `fork` a queue is simply inherited. For the `spawn` start method (issue 7) it
/// serializes as its shared memory and locks (descriptor numbers, offsets), and deserializing
/// adopts the inherited descriptors.
#[derive(Serialize, Deserialize)]
#[serde(bound = "")]
pub struct Queue<T> {
    ring: Ring,
    /// Whether this handle was closed (a handle that crosses to another process is open there,
    /// as CPython's queue is after it is pickled).
    #[serde(skip)]
    closed: AtomicBool,
    #[serde(skip)]
    _items: PhantomData<fn(T) -> T>,
}

impl<T> Queue<T> {
    /// A queue handle over `ring`.
    fn from_ring(ring: Ring) -> Queue<T> {
        Queue {
            ring,
            closed: AtomicBool::new(false),
            _items: PhantomData,
        }
    }

    /// Refuses a `put` or `get` on a closed handle, as CPython's `_check_closed`.
    fn check_open(&self) -> Result<()> {
        if self.closed() {
            Err(Error::state(format!("{self:?} is closed")))
        } else {
            Ok(())
        }
    }
}

impl<T> Clone for Queue<T> {
    /// Another handle to the same queue, closed if this one is.
    fn clone(&self) -> Self {
        let clone = Queue::from_ring(self.ring.clone());
        clone.closed.store(self.closed(), Ordering::Relaxed);
        clone
    }
}

impl<T> fmt::Debug for Queue<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Queue(maxsize={}, qsize={}, capacity={} bytes)",
            self.ring.maxsize,
            self.qsize(),
            self.ring.capacity
        )
    }
}

impl<T: Serialize + DeserializeOwned> Queue<T> {
    /// A queue holding at most `maxsize` items (0: no limit on the number of items), with a
    /// ring of [`DEFAULT_QUEUE_CAPACITY`] bytes. Python's `Queue(maxsize=0)`.
    ///
    /// # Errors
    /// [`Error::Os`] if shared memory cannot be made; [`Error::State`] if `maxsize` exceeds
    /// [`SEM_VALUE_MAX`](crate::SEM_VALUE_MAX).
    ///
    /// # Examples
    ///
    /// ```
    /// use multiprocessing::{Error, Queue};
    ///
    /// let q = Queue::new(1)?;
    /// q.put(1u8)?;
    /// assert!(q.full());
    /// assert!(matches!(q.put_nowait(2), Err(Error::Full)));
    /// # Ok::<(), multiprocessing::Error>(())
    /// ```
    pub fn new(maxsize: usize) -> Result<Queue<T>> {
        Queue::with_capacity(maxsize, DEFAULT_QUEUE_CAPACITY)
    }

    /// A queue whose ring holds `bytes` bytes (rounded up to a power of two, at least 4 KiB).
    /// A bigger ring lets producers run further ahead of consumers, and lets more data wait
    /// in the queue after its producers exit.
    ///
    /// # Errors
    /// As [`Queue::new`].
    ///
    /// # Examples
    ///
    /// ```
    /// use multiprocessing::{Process, Queue};
    ///
    /// fn consumer(q: Queue<Vec<u8>>) {
    ///     assert_eq!(q.get().unwrap(), vec![7; 100_000]);
    /// }
    ///
    /// let q = Queue::with_capacity(0, 4096)?;
    /// assert_eq!(q.capacity(), 4096);
    /// let mut p = Process::new(consumer, q.clone());
    /// p.start()?;
    /// q.put(vec![7; 100_000])?; // 25 times the ring: it streams through as the consumer reads
    /// p.join()?;
    /// assert_eq!(p.exitcode(), Some(0));
    /// # Ok::<(), multiprocessing::Error>(())
    /// ```
    pub fn with_capacity(maxsize: usize, bytes: usize) -> Result<Queue<T>> {
        Ok(Queue::from_ring(Ring::new(maxsize, bytes, false)?))
    }

    /// Puts `item`, waiting while the queue is full. `item` may be a `T`, a `&T`, or a
    /// borrowed form that encodes as a `T` does, such as a `&str` for a `Queue<String>` (see
    /// [`QueueItem`]).
    ///
    /// # Errors
    /// [`Error::Codec`] naming the type if `item` cannot be encoded (nothing is put);
    /// [`Error::State`] if it holds a value that owns a descriptor, such as a
    /// [`Connection`](crate::Connection), which shared memory cannot carry (send it through a
    /// connection instead).
    ///
    /// # Examples
    ///
    /// ```
    /// let q = multiprocessing::Queue::<String>::new(0)?;
    /// let s = "hello".to_string();
    /// q.put(&s)?;
    /// q.put(s)?;
    /// q.put("hi")?;
    /// assert_eq!(q.qsize(), 3);
    /// # Ok::<(), multiprocessing::Error>(())
    /// ```
    pub fn put(&self, item: impl QueueItem<T>) -> Result<()> {
        self.put_until(item.form(), Deadline::NEVER)
    }

    /// Puts `item`, waiting at most `timeout` for room (Python's `put(obj, timeout=t)`).
    ///
    /// # Errors
    /// [`Error::Full`] if there was no room in time; [`Error::Codec`] as for [`put`](Queue::put).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use multiprocessing::{Error, Queue};
    ///
    /// let q = Queue::new(1)?;
    /// q.put_timeout(1, Duration::from_millis(10))?;
    /// assert!(matches!(q.put_timeout(2, Duration::from_millis(10)), Err(Error::Full)));
    /// # Ok::<(), multiprocessing::Error>(())
    /// ```
    pub fn put_timeout(&self, item: impl QueueItem<T>, timeout: Duration) -> Result<()> {
        self.put_until(item.form(), Deadline::after(Some(timeout)))
    }

    /// Puts `item` only if that needs no waiting (Python's `put_nowait`, `put(obj, False)`).
    ///
    /// # Errors
    /// [`Error::Full`] if the queue has `maxsize` items, or its ring has no room, or another
    /// producer is putting at this moment; [`Error::Codec`] as for [`put`](Queue::put).
    ///
    /// # Examples
    ///
    /// ```
    /// let q = multiprocessing::Queue::new(0)?;
    /// q.put_nowait(5)?;
    /// assert_eq!(q.get()?, 5);
    /// # Ok::<(), multiprocessing::Error>(())
    /// ```
    pub fn put_nowait(&self, item: impl QueueItem<T>) -> Result<()> {
        self.put_until(item.form(), Deadline::after(Some(Duration::ZERO)))
    }

    /// Encodes `item` and puts it. A value that encodes to at most [`IN_PLACE_FROM`] bytes is
    /// encoded into this thread's buffer, outside the write lock, and copied in; a longer one
    /// that fits the ring is measured first, then encoded straight into the ring's free space
    /// under the write lock (one copy of its bytes instead of two: measured, a 1 MiB
    /// `ByteBuf` in a 4 MiB ring, 2 MiB copied per message instead of 3.5 over both sides).
    fn put_until<F: Serialize + ?Sized>(&self, item: &F, deadline: Deadline) -> Result<()> {
        self.check_open()?;
        with_buffer(&ENCODE_BUF, |buf| {
            if !encode(|| codec::encode_into_at_most(item, buf, IN_PLACE_FROM))? {
                let len = encode(|| codec::encoded_size(item))?;
                if self.ring.fits_whole(len) {
                    let write = |first: &mut [u8], second: &mut [u8]| {
                        encode(|| codec::encode_to_parts(item, first, second))
                    };
                    if self.ring.put_in_place(len, deadline, write)? {
                        return Ok(());
                    }
                    // The value encoded to another length the second time (a `Serialize`
                    // that changes its mind): nothing was put; put it as it encodes now.
                }
                encode(|| codec::encode_into(item, buf))?;
            }
            self.ring.put_bytes(buf, deadline)
        })
    }

    /// Takes the next item, waiting until there is one.
    ///
    /// # Errors
    /// [`Error::Codec`] naming `T` if the message does not decode as a `T` (it is consumed);
    /// [`Error::Remote`] if its producer died while streaming a message larger than the ring.
    ///
    /// # Examples
    ///
    /// ```
    /// let q = multiprocessing::Queue::new(0)?;
    /// q.put((1, "one".to_string()))?;
    /// assert_eq!(q.get()?, (1, "one".to_string()));
    /// # Ok::<(), multiprocessing::Error>(())
    /// ```
    pub fn get(&self) -> Result<T> {
        self.get_until(Deadline::NEVER)
    }

    /// Takes the next item, waiting at most `timeout` (Python's `get(timeout=t)`).
    ///
    /// The timeout bounds the wait for an item to start arriving. Once a message larger than
    /// the ring has begun to stream in, the rest is awaited as long as its producer lives, so
    /// that a message is never torn in two by a timeout.
    ///
    /// # Errors
    /// [`Error::Empty`] if no item came in time; otherwise as [`get`](Queue::get).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use multiprocessing::{Error, Queue};
    ///
    /// let q: Queue<u8> = Queue::new(0)?;
    /// assert!(matches!(q.get_timeout(Duration::from_millis(10)), Err(Error::Empty)));
    /// # Ok::<(), multiprocessing::Error>(())
    /// ```
    pub fn get_timeout(&self, timeout: Duration) -> Result<T> {
        self.get_until(Deadline::after(Some(timeout)))
    }

    /// Takes the next item only if one is there now (Python's `get_nowait`, `get(False)`).
    ///
    /// # Errors
    /// [`Error::Empty`] if the queue is empty, or another consumer is taking an item at this
    /// moment; otherwise as [`get`](Queue::get).
    ///
    /// # Examples
    ///
    /// ```
    /// use multiprocessing::{Error, Queue};
    ///
    /// let q: Queue<u8> = Queue::new(0)?;
    /// assert!(matches!(q.get_nowait(), Err(Error::Empty)));
    /// # Ok::<(), multiprocessing::Error>(())
    /// ```
    pub fn get_nowait(&self) -> Result<T> {
        self.get_until(Deadline::after(Some(Duration::ZERO)))
    }

    fn get_until(&self, deadline: Deadline) -> Result<T> {
        self.check_open()?;
        let decode = |bytes: &[u8]| passing::decode_with("a Queue", Vec::new(), || codec::decode::<T>(bytes));
        self.ring.get_with(deadline, decode)?
    }
}

impl<T> Queue<T> {
    /// The number of items in the queue: a snapshot, which other processes may change before
    /// the caller acts on it (as in Python, where it is "approximate").
    ///
    /// # Examples
    ///
    /// ```
    /// let q = multiprocessing::Queue::new(0)?;
    /// q.put(1)?;
    /// assert_eq!(q.qsize(), 1);
    /// # Ok::<(), multiprocessing::Error>(())
    /// ```
    pub fn qsize(&self) -> usize {
        self.ring.items() as usize
    }

    /// Whether the queue is empty: a snapshot (see [`qsize`](Queue::qsize)).
    ///
    /// # Examples
    ///
    /// ```
    /// let q = multiprocessing::Queue::<u8>::new(0)?;
    /// assert!(q.empty());
    /// # Ok::<(), multiprocessing::Error>(())
    /// ```
    pub fn empty(&self) -> bool {
        !self.ring.has_data()
    }

    /// Whether the queue holds `maxsize` items: a snapshot (see [`qsize`](Queue::qsize)).
    /// Always false for a queue without `maxsize`, even when its ring is momentarily full.
    ///
    /// # Examples
    ///
    /// ```
    /// let q = multiprocessing::Queue::new(2)?;
    /// q.put(1)?;
    /// assert!(!q.full());
    /// q.put(2)?;
    /// assert!(q.full());
    /// # Ok::<(), multiprocessing::Error>(())
    /// ```
    pub fn full(&self) -> bool {
        self.ring.maxsize > 0 && self.ring.items() >= self.ring.maxsize as u64
    }

    /// The `maxsize` the queue was made with (0: no limit on the number of items).
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(multiprocessing::Queue::<u8>::new(3)?.maxsize(), 3);
    /// # Ok::<(), multiprocessing::Error>(())
    /// ```
    pub fn maxsize(&self) -> usize {
        self.ring.maxsize
    }

    /// The size of the queue's ring in bytes.
    ///
    /// # Examples
    ///
    /// ```
    /// let q = multiprocessing::Queue::<u8>::new(0)?;
    /// assert_eq!(q.capacity(), multiprocessing::DEFAULT_QUEUE_CAPACITY);
    /// # Ok::<(), multiprocessing::Error>(())
    /// ```
    pub fn capacity(&self) -> usize {
        self.ring.capacity as usize
    }

    /// Closes this handle, as Python's `close()`: this process will put and get no more
    /// through it, and a later `put` or `get` on it is an [`Error::State`] that says the queue
    /// is closed (CPython's `ValueError: Queue ... is closed`). Other handles, and the queue's
    /// contents, are untouched: there is no feeder thread to flush, everything put is already
    /// in the queue. Closing twice does nothing.
    ///
    /// # Examples
    ///
    /// ```
    /// let q = multiprocessing::Queue::<u8>::new(0)?;
    /// let q2 = q.clone();
    /// q2.put(1)?;
    /// q2.close();
    /// assert!(q2.closed());
    /// assert!(q2.put(2).unwrap_err().to_string().contains("closed"));
    /// assert_eq!(q.get()?, 1);
    /// # Ok::<(), multiprocessing::Error>(())
    /// ```
    pub fn close(&self) {
        self.closed.store(true, Ordering::Relaxed);
    }

    /// Whether this handle was closed.
    ///
    /// # Examples
    ///
    /// ```
    /// let q = multiprocessing::Queue::<u8>::new(0)?;
    /// assert!(!q.closed());
    /// q.close();
    /// assert!(q.closed());
    /// # Ok::<(), multiprocessing::Error>(())
    /// ```
    pub fn closed(&self) -> bool {
        self.closed.load(Ordering::Relaxed)
    }
}

//! Queues: [`Queue`], [`SimpleQueue`] and [`JoinableQueue`], after CPython's
//! `Lib/multiprocessing/queues.py`.
//!
//! The design, what happens past the ring's capacity and when a process dies are documented
//! on [`Queue`], where a reader of the public API finds them.
#![allow(
    unsafe_code,
    reason = "copying message bytes in and out of a shared-memory ring"
)]

use std::borrow::Borrow;
use std::cell::RefCell;
use std::fmt;
use std::marker::PhantomData;
use std::ops::Deref;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::codec;
use crate::error::{Error, Result};
use crate::heap::SharedBlock;
use crate::synchronize::{Lock, LockGuard, Semaphore, OWNER_CHECK_INTERVAL, SEM_VALUE_MAX};
use crate::sys::futex::{self, Wake};

/// The ring size of a queue made by [`Queue::new`]: 4 MiB (measured: 1 MiB messages move at
/// about twice the rate through a 4 MiB ring as through a 1 MiB one, which they must stream
/// through).
pub const DEFAULT_QUEUE_CAPACITY: usize = 4 << 20;

/// The smallest ring we make (one page).
const MIN_CAPACITY: usize = 4096;
/// The largest ring we make.
const MAX_CAPACITY: usize = 1 << 30;

// The header before the ring. Fields written by producers and by consumers sit on separate
// cache lines, so the two sides do not slow each other down.
/// Total bytes ever published (producers write it).
const HEAD: usize = 64;
/// The thread id of a producer streaming a message, or 0 if it gave up (producers write it).
const WRITER_TID: usize = 72;
/// 1 while a producer is in the middle of a streamed message.
const WRITER_STREAMING: usize = 76;
/// Total bytes ever consumed (consumers write it).
const TAIL: usize = 128;
/// 1 while a consumer is in the middle of a streamed message.
const READER_STREAMING: usize = 136;
/// Futex word bumped when data is published, and the number of processes sleeping on it.
const DATA_SEQ: usize = 192;
const DATA_SLEEPERS: usize = 196;
/// Futex word bumped when room is freed, and the number of processes sleeping on it.
const SPACE_SEQ: usize = 256;
const SPACE_SLEEPERS: usize = 260;
/// Messages in the queue (published, not yet taken): `qsize`.
const ITEMS: usize = 320;
/// A `JoinableQueue`'s unfinished tasks (a futex word), and the joiners sleeping on it.
const UNFINISHED: usize = 384;
const JOIN_SLEEPERS: usize = 388;
/// Where the ring starts.
const HEADER: usize = 448;

/// A chunk header: `[payload length: u32][flags: u32]`, at an 8-aligned ring position.
const CHUNK_HEADER: u64 = 8;
/// The chunk starts a message.
const FIRST: u32 = 1;
/// The chunk ends a message.
const LAST: u32 = 2;
/// The message being streamed was abandoned by its producer; its chunks so far are void.
const ABORT: u32 = 4;

/// How long a waiter keeps checking before it goes to sleep. A sleeping process costs its
/// waker a system call and itself a trip through the scheduler (measured here: 55 us for a
/// wake-up on another core), while a producer and consumer running at once on two cores see
/// each other's writes within a microsecond. Spinning longer only burns a core that another
/// process may need (measured: a 100 us spin made round trips ten times slower on a busy
/// machine), so the spin is short, bounded in time, and idle waiting costs no CPU.
const SPIN_TIME: Duration = Duration::from_micros(10);
/// How many checks between two looks at the clock while spinning.
const SPIN_CHECKS: u32 = 16;

/// The largest buffer a thread keeps between two `put`s or two `get`s.
const KEEP_BUF: usize = 4 << 20;

/// Messages up to this size are copied out onto the stack and decoded from there.
const SMALL: usize = 512;

/// Rounds a payload length up to the ring's 8-byte grain.
fn pad(len: u64) -> u64 {
    len.next_multiple_of(8)
}

/// What a handle refers to: the shared memory, the two locks and the item counter.
#[derive(Clone, Serialize, Deserialize)]
struct Shared {
    /// The header and the ring.
    block: SharedBlock,
    capacity: u64,
    /// Held by a producer for the whole of one message.
    write_lock: Lock,
    /// Held by a consumer for the whole of one message.
    read_lock: Lock,
    /// `maxsize` free slots, for a bounded queue.
    slots: Option<Semaphore>,
    maxsize: usize,
    joinable: bool,
}

/// Why a `put` failed: before anything was visible, or after part of a streamed message was.
enum PutFailed {
    NothingPut(Error),
    Abandoned(Error),
}

thread_local! {
    /// Where `put` encodes, reused so that a `put` allocates nothing.
    static ENCODE_BUF: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
    /// Where `get` gathers a message that wraps around the ring's end or streams through it.
    static GATHER_BUF: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// Runs `f` with this thread's buffer `key`, cleared; a re-entrant call (a `Serialize` impl
/// that uses a queue) gets a fresh one. Keeps the buffer's memory for the next call (a fresh
/// one costs page faults, measured: a third of the time of 1 MiB messages), up to
/// [`KEEP_BUF`] bytes.
fn with_buffer<R>(
    key: &'static std::thread::LocalKey<RefCell<Vec<u8>>>,
    f: impl FnOnce(&mut Vec<u8>) -> R,
) -> R {
    key.with(|cell| {
        let mut fresh = Vec::new();
        let mut borrowed = cell.try_borrow_mut();
        let buf = borrowed.as_deref_mut().unwrap_or(&mut fresh);
        buf.clear();
        let result = f(buf);
        if buf.capacity() > KEEP_BUF {
            *buf = Vec::new();
        }
        result
    })
}

impl Shared {
    fn new(maxsize: usize, capacity: usize, joinable: bool) -> Result<Shared> {
        // At most 1 GiB, so that a chunk's length always fits its 32-bit header field.
        let capacity = capacity.clamp(MIN_CAPACITY, MAX_CAPACITY).next_power_of_two();
        let slots = match maxsize {
            0 => None,
            n => {
                let n = u32::try_from(n)
                    .ok()
                    .filter(|&n| n <= SEM_VALUE_MAX)
                    .ok_or_else(|| {
                        Error::state(format!("Queue(maxsize={maxsize}): maxsize exceeds SEM_VALUE_MAX"))
                    })?;
                Some(Semaphore::new(n)?)
            }
        };
        Ok(Shared {
            block: SharedBlock::new(HEADER + capacity)?,
            capacity: capacity as u64,
            write_lock: Lock::new()?,
            read_lock: Lock::new()?,
            slots,
            maxsize,
            joinable,
        })
    }

    fn u64(&self, offset: usize) -> &AtomicU64 {
        self.block.atomic_u64(offset)
    }

    fn u32(&self, offset: usize) -> &AtomicU32 {
        self.block.atomic_u32(offset)
    }

    fn head(&self) -> u64 {
        self.u64(HEAD).load(Ordering::SeqCst)
    }

    fn tail(&self) -> u64 {
        self.u64(TAIL).load(Ordering::SeqCst)
    }

    fn free(&self) -> u64 {
        self.capacity - (self.head() - self.tail())
    }

    /// Copies `src` into the ring at stream position `pos`, wrapping around the end.
    /// The caller holds the write lock and has checked that the bytes are free.
    fn ring_write(&self, pos: u64, src: &[u8]) {
        let start = (pos & (self.capacity - 1)) as usize;
        let first = src.len().min(self.capacity as usize - start);
        let ring = self.block.as_ptr().wrapping_add(HEADER);
        // SAFETY: `start + first <= capacity`, inside the block (HEADER + capacity bytes),
        // which lives as long as `self`. These bytes are free space: only the write-lock
        // holder (us) writes them, and no consumer reads them until we publish `head`.
        unsafe { std::ptr::copy_nonoverlapping(src.as_ptr(), ring.add(start), first) };
        if first < src.len() {
            // SAFETY: the rest, `src.len() - first <= capacity` bytes, goes to the start of
            // the ring, under the same guarantee.
            unsafe { std::ptr::copy_nonoverlapping(src.as_ptr().add(first), ring, src.len() - first) };
        }
    }

    /// Copies `dst.len()` bytes out of the ring from stream position `pos`. The caller holds
    /// the read lock and has seen `head` beyond these bytes.
    fn ring_read(&self, pos: u64, dst: &mut [u8]) {
        let start = (pos & (self.capacity - 1)) as usize;
        let first = dst.len().min(self.capacity as usize - start);
        let ring = self.block.as_ptr().wrapping_add(HEADER);
        // SAFETY: in bounds as in `ring_write`. The bytes were published (the Acquire side of
        // our SeqCst load of `head` synchronizes with the producer's store), and no producer
        // writes them again until we advance `tail`.
        unsafe { std::ptr::copy_nonoverlapping(ring.add(start), dst.as_mut_ptr(), first) };
        if first < dst.len() {
            // SAFETY: the wrapped rest, under the same guarantee.
            unsafe { std::ptr::copy_nonoverlapping(ring, dst.as_mut_ptr().add(first), dst.len() - first) };
        }
    }

    /// The `len` bytes at stream position `pos`, in place, if they do not wrap around the
    /// ring's end. The caller holds the read lock, has seen `head` beyond these bytes, and
    /// drops the slice before it advances `tail` past them.
    fn ring_slice(&self, pos: u64, len: usize) -> Option<&[u8]> {
        let start = (pos & (self.capacity - 1)) as usize;
        if start + len > self.capacity as usize {
            return None;
        }
        let ring = self.block.as_ptr().wrapping_add(HEADER);
        // SAFETY: `start + len <= capacity`, inside the block, which outlives the borrow of
        // `self`. The bytes were published before our load of `head`, and no process writes
        // them until `tail` moves past them, which our caller does only after this slice is
        // gone; so nothing mutates them while the shared slice lives.
        Some(unsafe { std::slice::from_raw_parts(ring.add(start), len) })
    }

    fn write_chunk_header(&self, pos: u64, len: u32, flags: u32) {
        let mut h = [0u8; 8];
        h[..4].copy_from_slice(&len.to_le_bytes());
        h[4..].copy_from_slice(&flags.to_le_bytes());
        self.ring_write(pos, &h);
    }

    fn read_chunk_header(&self, pos: u64) -> (u32, u32) {
        let mut h = [0u8; 8];
        self.ring_read(pos, &mut h);
        (
            u32::from_le_bytes([h[0], h[1], h[2], h[3]]),
            u32::from_le_bytes([h[4], h[5], h[6], h[7]]),
        )
    }

    /// Makes the bytes up to `head` visible to consumers and wakes one that sleeps.
    fn publish(&self, head: u64) {
        self.u64(HEAD).store(head, Ordering::SeqCst);
        notify(self.u32(DATA_SEQ), self.u32(DATA_SLEEPERS));
    }

    /// Frees the bytes up to `tail` for producers and wakes those that sleep.
    fn consume(&self, tail: u64) {
        self.u64(TAIL).store(tail, Ordering::SeqCst);
        notify(self.u32(SPACE_SEQ), self.u32(SPACE_SLEEPERS));
    }

    /// Waits until `ready()`, for data (`data` true) or for room; gives up at `deadline`.
    fn wait(&self, data: bool, deadline: Option<Instant>, ready: impl FnMut() -> bool) -> bool {
        let (seq, sleepers) = if data {
            (DATA_SEQ, DATA_SLEEPERS)
        } else {
            (SPACE_SEQ, SPACE_SLEEPERS)
        };
        let idle = || {
            if data {
                self.abort_abandoned_message();
            }
        };
        wait_until(self.u32(seq), self.u32(sleepers), deadline, ready, idle)
    }

    /// Called by a consumer waiting for data: if a producer died (or gave up) in the middle
    /// of a streamed message, nobody will ever finish it, so mark it aborted.
    fn abort_abandoned_message(&self) {
        if !self.writer_abandoned() {
            return;
        }
        if let Some(guard) = self.write_lock.try_acquire() {
            // Waiting for data means the ring is empty, so there is room for the marker.
            self.finish_abandoned(&guard, Some(Instant::now()));
        }
    }

    fn writer_abandoned(&self) -> bool {
        if self.u32(WRITER_STREAMING).load(Ordering::SeqCst) == 0 {
            return false;
        }
        let tid = self.u32(WRITER_TID).load(Ordering::SeqCst);
        tid == 0 || !futex::thread_alive(tid)
    }

    /// With the write lock held: if the previous producer left a streamed message unfinished,
    /// ends it with an abort marker. Returns false if there was no room by `deadline`.
    fn finish_abandoned(&self, _guard: &LockGuard<'_>, deadline: Option<Instant>) -> bool {
        if self.u32(WRITER_STREAMING).load(Ordering::SeqCst) == 0 {
            return true;
        }
        if !self.wait(false, deadline, || self.free() >= CHUNK_HEADER) {
            return false;
        }
        let head = self.head();
        self.write_chunk_header(head, 0, ABORT);
        self.u32(WRITER_STREAMING).store(0, Ordering::SeqCst);
        self.publish(head + CHUNK_HEADER);
        true
    }

    /// Puts one encoded message. `deadline` `None` waits as long as it takes; a deadline in
    /// the past does not wait at all. Returns `Error::Full` when it gave up.
    fn put_bytes(&self, payload: &[u8], deadline: Option<Instant>) -> Result<()> {
        if let Some(slots) = &self.slots {
            // The unit is given back by the consumer that takes the message.
            if !slots.raw_acquire(deadline.map(|d| d.saturating_duration_since(Instant::now()))) {
                return Err(Error::Full);
            }
        }
        match self.put_locked(payload, deadline) {
            Ok(()) => Ok(()),
            Err(PutFailed::NothingPut(e)) => {
                if let Some(slots) = &self.slots {
                    let _ = slots.release();
                }
                Err(e)
            }
            // The consumer that meets the abort marker counts the message out.
            Err(PutFailed::Abandoned(e)) => Err(e),
        }
    }

    fn put_locked(&self, payload: &[u8], deadline: Option<Instant>) -> Result<(), PutFailed> {
        let guard = match deadline {
            None => self.write_lock.acquire(),
            Some(d) => self
                .write_lock
                .acquire_timeout(d.saturating_duration_since(Instant::now()))
                .ok_or(PutFailed::NothingPut(Error::Full))?,
        };
        if !self.finish_abandoned(&guard, deadline) {
            return Err(PutFailed::NothingPut(Error::Full));
        }
        let len = payload.len() as u64;
        let need = CHUNK_HEADER + pad(len);
        if need <= self.capacity {
            if !self.wait(false, deadline, || self.free() >= need) {
                return Err(PutFailed::NothingPut(Error::Full));
            }
            let head = self.head();
            self.write_chunk_header(head, len as u32, FIRST | LAST);
            self.ring_write(head + CHUNK_HEADER, payload);
            self.count_in();
            self.publish(head + need);
            return Ok(());
        }
        self.put_streamed(payload, deadline)
    }

    /// Counts a message in, before it becomes visible (a consumer counts it out).
    fn count_in(&self) {
        if self.joinable {
            self.u32(UNFINISHED).fetch_add(1, Ordering::SeqCst);
        }
        self.u64(ITEMS).fetch_add(1, Ordering::SeqCst);
    }

    /// Streams a message larger than the ring, chunk by chunk, as consumers free room. The
    /// first chunk starts with the message's total length.
    fn put_streamed(&self, payload: &[u8], deadline: Option<Instant>) -> Result<(), PutFailed> {
        self.u32(WRITER_TID).store(futex::current_tid(), Ordering::SeqCst);
        self.u32(WRITER_STREAMING).store(1, Ordering::SeqCst);
        let total = (payload.len() as u64).to_le_bytes();
        let mut rest = payload;
        let mut first = true;
        // Waiting for a quarter of the ring keeps chunks large (few wake-ups) while letting
        // the consumer copy out one part as we copy in the next.
        let grain = self.capacity / 4;
        while first || !rest.is_empty() {
            let want = CHUNK_HEADER + pad(rest.len() as u64 + if first { 8 } else { 0 }).min(grain);
            if !self.wait(false, deadline, || self.free() >= want) {
                if first {
                    self.u32(WRITER_STREAMING).store(0, Ordering::SeqCst);
                    return Err(PutFailed::NothingPut(Error::Full));
                }
                // We cannot take back what is published: leave the message for the next
                // producer (or a waiting consumer) to mark aborted.
                self.u32(WRITER_TID).store(0, Ordering::SeqCst);
                return Err(PutFailed::Abandoned(Error::Full));
            }
            let head = self.head();
            let room = (self.free() - CHUNK_HEADER) & !7;
            let prefix = if first { 8 } else { 0 };
            let take = (rest.len() as u64).min(room - prefix) as usize;
            let last = take == rest.len();
            let flags = if first { FIRST } else { 0 } | if last { LAST } else { 0 };
            let chunk = prefix + take as u64;
            self.write_chunk_header(head, chunk as u32, flags);
            if first {
                self.ring_write(head + CHUNK_HEADER, &total);
            }
            self.ring_write(head + CHUNK_HEADER + prefix, &rest[..take]);
            rest = &rest[take..];
            if first {
                self.count_in();
            }
            if last {
                self.u32(WRITER_STREAMING).store(0, Ordering::SeqCst);
            }
            self.publish(head + CHUNK_HEADER + pad(chunk));
            first = false;
        }
        Ok(())
    }

    /// Takes one message. Returns `Error::Empty` when it gave up at `deadline`.
    /// Takes one message and hands its bytes to `decode`. Returns `Error::Empty` when it gave
    /// up at `deadline`.
    ///
    /// A small message is copied onto the stack and decoded after the read lock is released;
    /// a bigger one is decoded where it lies in the ring (no copy, no allocation besides the
    /// value's own) before its room is freed; one that wraps around the ring's end, or streams
    /// through it, is gathered into a vector first.
    fn get_with<R>(&self, deadline: Option<Instant>, decode: impl FnOnce(&[u8]) -> R) -> Result<R> {
        let guard = match deadline {
            None => self.read_lock.acquire(),
            Some(d) => self
                .read_lock
                .acquire_timeout(d.saturating_duration_since(Instant::now()))
                .ok_or(Error::Empty)?,
        };
        if self.u32(READER_STREAMING).load(Ordering::SeqCst) != 0 {
            // A consumer died in the middle of a streamed message: skip what is left of it.
            self.skip_rest(deadline)?;
        }
        loop {
            if !self.wait(true, deadline, || self.head() > self.tail()) {
                return Err(Error::Empty);
            }
            let tail = self.tail();
            let (len, flags) = self.read_chunk_header(tail);
            self.check_chunk(tail, len, flags)?;
            let next = tail + CHUNK_HEADER + pad(u64::from(len));
            if flags == FIRST | LAST {
                let len = len as usize;
                let at = tail + CHUNK_HEADER;
                if len <= SMALL {
                    let mut buf = [0u8; SMALL];
                    self.ring_read(at, &mut buf[..len]);
                    self.consume(next);
                    self.count_out(false);
                    drop(guard);
                    return Ok(decode(&buf[..len]));
                }
                if let Some(bytes) = self.ring_slice(at, len) {
                    let value = decode(bytes);
                    self.consume(next);
                    self.count_out(false);
                    return Ok(value);
                }
                return Ok(with_buffer(&GATHER_BUF, |buf| {
                    buf.resize(len, 0);
                    self.ring_read(at, buf);
                    self.consume(next);
                    self.count_out(false);
                    drop(guard);
                    decode(buf)
                }));
            }
            if flags & FIRST != 0 {
                return with_buffer(&GATHER_BUF, |buf| {
                    self.get_streamed(guard, len, buf)?;
                    Ok(decode(buf))
                });
            }
            // A stray abort marker, or the tail of a message whose start was skipped.
            self.consume(next);
        }
    }

    /// Checks a chunk header before trusting its length: every chunk is published whole, so
    /// a length that runs past the published bytes, or flags no producer writes, mean the
    /// shared memory was overwritten (a stray write by some process that maps it). Reading on
    /// would copy from outside the ring; instead everything published so far is dropped, the
    /// caller gets an error that says so, and later messages arrive intact.
    fn check_chunk(&self, tail: u64, len: u32, flags: u32) -> Result<()> {
        let head = self.head();
        let fits = tail + CHUNK_HEADER + pad(u64::from(len)) <= head;
        let known =
            matches!(flags, 0 | FIRST | LAST) || flags == FIRST | LAST || (flags == ABORT && len == 0);
        let first_ok = flags & FIRST == 0 || len >= 8 || flags & LAST != 0;
        if fits && known && first_ok {
            return Ok(());
        }
        self.consume(head);
        self.count_out(true);
        Err(Error::Remote(format!(
            "Queue: corrupt message header (length {len}, flags {flags:#x}) with {} bytes \
             published: the queue's shared memory was overwritten; those bytes were dropped",
            head - tail
        )))
    }

    /// Counts a message out and frees its slot. An aborted message also counts as a done
    /// task: no consumer will ever call `task_done` for it.
    fn count_out(&self, aborted: bool) {
        self.u64(ITEMS).fetch_sub(1, Ordering::SeqCst);
        if let Some(slots) = &self.slots {
            let _ = slots.release();
        }
        if aborted && self.joinable {
            let _ = self.task_done();
        }
    }

    /// Reads a streamed message whose first chunk (of `first_len` bytes) is at the tail.
    fn get_streamed(&self, guard: LockGuard<'_>, first_len: u32, message: &mut Vec<u8>) -> Result<()> {
        let tail = self.tail();
        let mut total = [0u8; 8];
        self.ring_read(tail + CHUNK_HEADER, &mut total);
        let total = u64::from_le_bytes(total);
        self.u32(READER_STREAMING).store(1, Ordering::SeqCst);
        // The total is only a hint for the reservation: a corrupt one must not cost memory.
        message.reserve(usize::try_from(total.min(self.capacity * 16)).unwrap_or(0));
        let (mut len, mut pos) = (u64::from(first_len) - 8, tail + CHUNK_HEADER + 8);
        let mut next = tail + CHUNK_HEADER + pad(u64::from(first_len));
        loop {
            let start = message.len();
            message.resize(start + len as usize, 0);
            self.ring_read(pos, &mut message[start..]);
            let done = message.len() as u64 >= total;
            if done {
                // Cleared before the last chunk is freed: a consumer that dies in between
                // loses only its own message, never makes the next one skip the following.
                self.u32(READER_STREAMING).store(0, Ordering::SeqCst);
            }
            self.consume(next);
            if done {
                break;
            }
            // The producer is streaming the rest: wait for it without a deadline (a dead or
            // departed producer is noticed by `wait`, which marks the message aborted).
            self.wait(true, None, || self.head() > self.tail());
            let tail = self.tail();
            let (chunk, flags) = self.read_chunk_header(tail);
            if let Err(e) = self.check_chunk(tail, chunk, flags) {
                self.u32(READER_STREAMING).store(0, Ordering::SeqCst);
                return Err(e);
            }
            if flags & ABORT != 0 {
                self.consume(tail + CHUNK_HEADER);
                self.u32(READER_STREAMING).store(0, Ordering::SeqCst);
                self.count_out(true);
                drop(guard);
                return Err(Error::Remote(format!(
                    "Queue: the producer of a {total}-byte message died or gave up while putting it; \
                     the {} bytes received were dropped",
                    message.len()
                )));
            }
            (len, pos, next) = (
                u64::from(chunk),
                tail + CHUNK_HEADER,
                tail + CHUNK_HEADER + pad(u64::from(chunk)),
            );
        }
        self.count_out(false);
        drop(guard);
        Ok(())
    }

    /// With the read lock held: consumes chunks up to the end of the message a dead consumer
    /// was reading (its last chunk or an abort marker).
    fn skip_rest(&self, deadline: Option<Instant>) -> Result<()> {
        loop {
            if !self.wait(true, deadline, || self.head() > self.tail()) {
                return Err(Error::Empty);
            }
            let tail = self.tail();
            let (len, flags) = self.read_chunk_header(tail);
            if let Err(e) = self.check_chunk(tail, len, flags) {
                self.u32(READER_STREAMING).store(0, Ordering::SeqCst);
                return Err(e);
            }
            self.consume(tail + CHUNK_HEADER + pad(u64::from(len)));
            if flags & (LAST | ABORT) != 0 {
                self.u32(READER_STREAMING).store(0, Ordering::SeqCst);
                // The message was lost with its consumer; nobody will mark it done.
                self.count_out(true);
                return Ok(());
            }
        }
    }

    fn task_done(&self) -> Result<()> {
        let unfinished = self.u32(UNFINISHED);
        let left = unfinished
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .map_err(|_| Error::state("JoinableQueue.task_done(): called too many times"))?
            - 1;
        if left == 0 && self.u32(JOIN_SLEEPERS).load(Ordering::SeqCst) > 0 {
            let _ = futex::wake(unfinished, u32::MAX);
        }
        Ok(())
    }

    fn join(&self, deadline: Option<Instant>) -> bool {
        let unfinished = self.u32(UNFINISHED);
        let sleepers = self.u32(JOIN_SLEEPERS);
        loop {
            sleepers.fetch_add(1, Ordering::SeqCst);
            let n = unfinished.load(Ordering::SeqCst);
            if n == 0 {
                sleepers.fetch_sub(1, Ordering::SeqCst);
                return true;
            }
            let left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
            if left == Some(Duration::ZERO) {
                sleepers.fetch_sub(1, Ordering::SeqCst);
                return false;
            }
            let _ = futex::wait(unfinished, n, left);
            sleepers.fetch_sub(1, Ordering::SeqCst);
        }
    }
}

/// Bumps a futex word and wakes its sleepers, if any: no system call when nobody sleeps.
fn notify(seq: &AtomicU32, sleepers: &AtomicU32) {
    seq.fetch_add(1, Ordering::SeqCst);
    if sleepers.load(Ordering::SeqCst) > 0 {
        let _ = futex::wake(seq, u32::MAX);
    }
}

/// Waits until `ready()` or `deadline`: spins a little, then sleeps on `seq`, announced in
/// `sleepers` (see `notify`). Calls `idle` after each [`OWNER_CHECK_INTERVAL`] asleep.
///
/// No wake-up is lost: a sleeper counts itself and reads `seq` before it checks `ready()`;
/// a notifier changes the state, then bumps `seq`, then reads `sleepers`. Either the notifier
/// sees the sleeper and wakes it, or the sleeper's check sees the new state, or the kernel
/// finds `seq` changed and does not let it sleep (all SeqCst, so one order holds for all).
fn wait_until(
    seq: &AtomicU32,
    sleepers: &AtomicU32,
    deadline: Option<Instant>,
    mut ready: impl FnMut() -> bool,
    mut idle: impl FnMut(),
) -> bool {
    if deadline.is_some_and(|d| d <= Instant::now()) {
        return ready();
    }
    let spin_until = Instant::now() + SPIN_TIME;
    'spin: loop {
        for _ in 0..SPIN_CHECKS {
            if ready() {
                return true;
            }
            std::hint::spin_loop();
        }
        if Instant::now() >= spin_until {
            break 'spin;
        }
    }
    loop {
        let left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
        if left == Some(Duration::ZERO) {
            return ready();
        }
        sleepers.fetch_add(1, Ordering::SeqCst);
        let s = seq.load(Ordering::SeqCst);
        if ready() {
            sleepers.fetch_sub(1, Ordering::SeqCst);
            return true;
        }
        let slice = left.map_or(OWNER_CHECK_INTERVAL, |l| l.min(OWNER_CHECK_INTERVAL));
        let woke = futex::wait(seq, s, Some(slice));
        sleepers.fetch_sub(1, Ordering::SeqCst);
        if ready() {
            return true;
        }
        if matches!(woke, Ok(Wake::TimedOut)) {
            idle();
        }
    }
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
///   [`Lock`], held for the whole message, so messages never interleave and each producer's
///   messages stay in order. An encoding error is returned by `put`, and nothing is written.
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
/// encoded size plus an 8-byte header, rounded up to 8 bytes.
/// - While the ring is full, `put` waits for room (or returns [`Error::Full`] for
///   [`put_nowait`](Queue::put_nowait) and after a timeout), exactly like a bounded queue.
/// - A message larger than the ring *streams* through it: the producer keeps the write lock
///   and writes the message in chunks as a consumer frees room, and the consumer keeps the
///   read lock and reads the chunks as they come. So any size works, but such a `put` returns
///   only when a consumer has taken all but the last ring-full of it.
///
/// # When a process dies
/// The locks are [`Lock`]s, which a waiter takes over from a dead holder. A producer killed
/// in the middle of a message that fits the ring leaves nothing behind (a message becomes
/// visible only when complete). A producer killed while streaming a big message leaves a
/// partial one: the next producer, or a consumer that notices the producer is gone, marks it
/// aborted, and the consumer reading it gets an [`Error::Remote`] saying so; later messages are
/// intact. A consumer killed in the middle of a streamed message loses that message (as it
/// would in CPython); the next consumer skips the rest of it.
///
/// # Differences from Python
/// - Queues are typed: `Queue<T>` carries `T`s, any `Serialize + DeserializeOwned` type, and
///   bytes that do not decode as a `T` are an [`Error::Codec`] naming the type.
/// - `put(obj, block, timeout)` and `get(block, timeout)` are [`put`](Queue::put),
///   [`put_timeout`](Queue::put_timeout), [`put_nowait`](Queue::put_nowait), and likewise
///   for `get`. `queue.Full`/`queue.Empty` are [`Error::Full`]/[`Error::Empty`].
/// - There is no `close`/`join_thread`/`cancel_join_thread`: there is no feeder thread.
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
    shared: Shared,
    #[serde(skip)]
    _items: PhantomData<fn(T) -> T>,
}

impl<T> Clone for Queue<T> {
    fn clone(&self) -> Self {
        Queue {
            shared: self.shared.clone(),
            _items: PhantomData,
        }
    }
}

impl<T> fmt::Debug for Queue<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Queue(maxsize={}, qsize={}, capacity={} bytes)",
            self.shared.maxsize,
            self.qsize(),
            self.shared.capacity
        )
    }
}

impl<T: Serialize + DeserializeOwned> Queue<T> {
    /// A queue holding at most `maxsize` items (0: no limit on the number of items), with a
    /// ring of [`DEFAULT_QUEUE_CAPACITY`] bytes. Python's `Queue(maxsize=0)`.
    ///
    /// # Errors
    /// [`Error::Os`] if shared memory cannot be made; [`Error::State`] if `maxsize` exceeds
    /// [`SEM_VALUE_MAX`].
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
        Ok(Queue {
            shared: Shared::new(maxsize, bytes, false)?,
            _items: PhantomData,
        })
    }

    /// Puts `item`, waiting while the queue is full. `item` may be a `T` or a `&T`.
    ///
    /// # Errors
    /// [`Error::Codec`] naming the type if `item` cannot be encoded (nothing is put).
    ///
    /// # Examples
    ///
    /// ```
    /// let q = multiprocessing::Queue::<String>::new(0)?;
    /// let s = "hello".to_string();
    /// q.put(&s)?;
    /// q.put(s)?;
    /// assert_eq!(q.qsize(), 2);
    /// # Ok::<(), multiprocessing::Error>(())
    /// ```
    pub fn put(&self, item: impl Borrow<T>) -> Result<()> {
        self.put_until(item.borrow(), None)
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
    pub fn put_timeout(&self, item: impl Borrow<T>, timeout: Duration) -> Result<()> {
        self.put_until(item.borrow(), Some(Instant::now() + timeout))
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
    pub fn put_nowait(&self, item: impl Borrow<T>) -> Result<()> {
        self.put_until(item.borrow(), Some(Instant::now()))
    }

    fn put_until(&self, item: &T, deadline: Option<Instant>) -> Result<()> {
        with_buffer(&ENCODE_BUF, |buf| {
            codec::encode_into(item, buf)?;
            self.shared.put_bytes(buf, deadline)
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
        self.get_until(None)
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
        self.get_until(Some(Instant::now() + timeout))
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
        self.get_until(Some(Instant::now()))
    }

    fn get_until(&self, deadline: Option<Instant>) -> Result<T> {
        Ok(self.shared.get_with(deadline, codec::decode::<T>)??)
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
        self.shared.u64(ITEMS).load(Ordering::SeqCst) as usize
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
        self.shared.head() == self.shared.tail()
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
        self.shared.slots.as_ref().is_some_and(|s| s.get_value() == 0)
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
        self.shared.maxsize
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
        self.shared.capacity as usize
    }

    /// Drops this handle (Python's `close()`: this process will put no more). There is no
    /// feeder thread to flush: everything put is already in the queue.
    ///
    /// # Examples
    ///
    /// ```
    /// let q = multiprocessing::Queue::<u8>::new(0)?;
    /// let q2 = q.clone();
    /// q2.put(1)?;
    /// q2.close();
    /// assert_eq!(q.get()?, 1);
    /// # Ok::<(), multiprocessing::Error>(())
    /// ```
    pub fn close(self) {
        drop(self);
    }
}

/// A simpler queue, like Python's `multiprocessing.SimpleQueue`: `put`, `get` and `empty`,
/// no `maxsize` and no timeouts.
///
/// # Examples
///
/// ```
/// use multiprocessing::{Process, SimpleQueue};
///
/// fn square(q: SimpleQueue<u64>) {
///     q.put(7 * 7).unwrap();
/// }
///
/// let q = SimpleQueue::new()?;
/// let mut p = Process::new(square, q.clone());
/// p.start()?;
/// assert_eq!(q.get()?, 49);
/// p.join()?;
/// assert!(q.empty());
/// # Ok::<(), multiprocessing::Error>(())
/// ```
#[derive(Serialize, Deserialize)]
#[serde(bound = "")]
pub struct SimpleQueue<T> {
    queue: Queue<T>,
}

impl<T> Clone for SimpleQueue<T> {
    fn clone(&self) -> Self {
        SimpleQueue {
            queue: self.queue.clone(),
        }
    }
}

impl<T> fmt::Debug for SimpleQueue<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Simple{:?}", self.queue)
    }
}

impl<T: Serialize + DeserializeOwned> SimpleQueue<T> {
    /// A new, empty queue.
    ///
    /// # Errors
    /// [`Error::Os`] if shared memory cannot be made.
    ///
    /// # Examples
    ///
    /// ```
    /// let q = multiprocessing::SimpleQueue::<String>::new()?;
    /// assert!(q.empty());
    /// # Ok::<(), multiprocessing::Error>(())
    /// ```
    pub fn new() -> Result<SimpleQueue<T>> {
        Ok(SimpleQueue {
            queue: Queue::new(0)?,
        })
    }

    /// As [`Queue::put`].
    ///
    /// # Errors
    /// [`Error::Codec`] if `item` cannot be encoded.
    ///
    /// # Examples
    ///
    /// ```
    /// let q = multiprocessing::SimpleQueue::new()?;
    /// q.put(1u8)?;
    /// assert_eq!(q.get()?, 1);
    /// # Ok::<(), multiprocessing::Error>(())
    /// ```
    pub fn put(&self, item: impl Borrow<T>) -> Result<()> {
        self.queue.put(item)
    }

    /// As [`Queue::get`].
    ///
    /// # Errors
    /// As [`Queue::get`].
    ///
    /// # Examples
    ///
    /// ```
    /// let q = multiprocessing::SimpleQueue::<String>::new()?;
    /// q.put("x".to_string())?;
    /// assert_eq!(q.get()?, "x");
    /// # Ok::<(), multiprocessing::Error>(())
    /// ```
    pub fn get(&self) -> Result<T> {
        self.queue.get()
    }

    /// As [`Queue::empty`].
    ///
    /// # Examples
    ///
    /// ```
    /// let q = multiprocessing::SimpleQueue::<u8>::new()?;
    /// assert!(q.empty());
    /// # Ok::<(), multiprocessing::Error>(())
    /// ```
    pub fn empty(&self) -> bool {
        self.queue.empty()
    }

    /// Drops this handle (Python's `close()`).
    ///
    /// # Examples
    ///
    /// ```
    /// multiprocessing::SimpleQueue::<u8>::new()?.close();
    /// # Ok::<(), multiprocessing::Error>(())
    /// ```
    pub fn close(self) {
        drop(self);
    }
}

/// A [`Queue`] that counts unfinished tasks, like Python's `multiprocessing.JoinableQueue`.
///
/// Every [`put`](Queue::put) adds a task; a consumer calls [`task_done`](JoinableQueue::task_done)
/// once per item it has finished, and [`join`](JoinableQueue::join) waits until every task is
/// done. It dereferences to a [`Queue`] for `put`, `get` and the rest, as Python's class
/// derives from `Queue`.
///
/// # Examples
///
/// ```
/// use multiprocessing::{JoinableQueue, Process};
///
/// fn worker(q: JoinableQueue<u32>) {
///     loop {
///         let item = q.get().unwrap();
///         q.task_done().unwrap();
///         if item == 0 {
///             break;
///         }
///     }
/// }
///
/// let q = JoinableQueue::new(0)?;
/// let mut p = Process::new(worker, q.clone());
/// p.start()?;
/// for item in [3, 2, 1, 0] {
///     q.put(item)?;
/// }
/// q.join(); // every item was taken and marked done
/// p.join()?;
/// # Ok::<(), multiprocessing::Error>(())
/// ```
#[derive(Serialize, Deserialize)]
#[serde(bound = "")]
pub struct JoinableQueue<T> {
    queue: Queue<T>,
}

impl<T> Clone for JoinableQueue<T> {
    fn clone(&self) -> Self {
        JoinableQueue {
            queue: self.queue.clone(),
        }
    }
}

impl<T> fmt::Debug for JoinableQueue<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Joinable{:?}", self.queue)
    }
}

impl<T> Deref for JoinableQueue<T> {
    type Target = Queue<T>;
    fn deref(&self) -> &Queue<T> {
        &self.queue
    }
}

impl<T: Serialize + DeserializeOwned> JoinableQueue<T> {
    /// A joinable queue holding at most `maxsize` items (0: no limit), with the default ring.
    ///
    /// # Errors
    /// As [`Queue::new`].
    ///
    /// # Examples
    ///
    /// ```
    /// let q = multiprocessing::JoinableQueue::<u8>::new(0)?;
    /// q.join(); // nothing was put: returns at once
    /// # Ok::<(), multiprocessing::Error>(())
    /// ```
    pub fn new(maxsize: usize) -> Result<JoinableQueue<T>> {
        JoinableQueue::with_capacity(maxsize, DEFAULT_QUEUE_CAPACITY)
    }

    /// A joinable queue with a ring of `bytes` bytes (see [`Queue::with_capacity`]).
    ///
    /// # Errors
    /// As [`Queue::new`].
    ///
    /// # Examples
    ///
    /// ```
    /// let q = multiprocessing::JoinableQueue::<u8>::with_capacity(0, 1 << 16)?;
    /// assert_eq!(q.capacity(), 1 << 16);
    /// # Ok::<(), multiprocessing::Error>(())
    /// ```
    pub fn with_capacity(maxsize: usize, bytes: usize) -> Result<JoinableQueue<T>> {
        Ok(JoinableQueue {
            queue: Queue {
                shared: Shared::new(maxsize, bytes, true)?,
                _items: PhantomData,
            },
        })
    }
}

impl<T> JoinableQueue<T> {
    /// Marks one task taken with `get` as done.
    ///
    /// # Errors
    /// [`Error::State`] when called more times than items were put (Python's `ValueError`).
    ///
    /// # Examples
    ///
    /// ```
    /// let q = multiprocessing::JoinableQueue::new(0)?;
    /// q.put(1u8)?;
    /// q.get()?;
    /// q.task_done()?;
    /// assert!(q.task_done().is_err()); // one too many
    /// # Ok::<(), multiprocessing::Error>(())
    /// ```
    pub fn task_done(&self) -> Result<()> {
        self.queue.shared.task_done()
    }

    /// Waits until every item put has been marked done with [`task_done`](JoinableQueue::task_done).
    ///
    /// # Examples
    ///
    /// ```
    /// let q = multiprocessing::JoinableQueue::new(0)?;
    /// q.put(1u8)?;
    /// q.get()?;
    /// q.task_done()?;
    /// q.join();
    /// # Ok::<(), multiprocessing::Error>(())
    /// ```
    pub fn join(&self) {
        self.queue.shared.join(None);
    }

    /// Waits at most `timeout` for every task to be done; returns whether they all were.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let q = multiprocessing::JoinableQueue::new(0)?;
    /// q.put(1u8)?;
    /// assert!(!q.join_timeout(Duration::from_millis(10)));
    /// # Ok::<(), multiprocessing::Error>(())
    /// ```
    pub fn join_timeout(&self, timeout: Duration) -> bool {
        self.queue.shared.join(Some(Instant::now() + timeout))
    }
}

//! The shared-memory ring under every queue: a byte ring in a `MAP_SHARED` block, a write
//! lock held by a producer for one whole message, a read lock held by a consumer for one whole
//! message, and futex words to sleep on. Messages that fit are copied (or encoded) in and out
//! whole here; messages larger than the ring stream through it ([`stream`](super::stream)).
//!
//! # Layout
//! A header, then the ring. Every message is one or more chunks, each a
//! `[length: u32][flags: u32]` header at an 8-aligned position and its payload. A message
//! written in place may follow a pad chunk that fills the rest of the ring, published and
//! taken in the same store as the message.
//!
//! # One store per step
//! Each side's whole state is one 64-bit word, an [`End`]: the producers' `HEAD` (bytes and
//! messages published, and whether a message is half streamed) and the consumers' `TAIL` (bytes
//! and messages taken, and whether a message is half read). A producer publishes a message and
//! counts it in one store; a consumer frees its bytes and counts it out in one store. So a
//! process killed at any instruction leaves the two words consistent: the queue's length and
//! its `maxsize` room are computed from them and cannot drift (issue 14: a producer killed while
//! it held a semaphore slot used to take that slot with it for ever).
#![expect(
    unsafe_code,
    reason = "copying message bytes in and out of a shared-memory ring"
)]

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use serde::{Deserialize, Serialize};

use super::buffer::{GATHER_BUF, with_buffer};
use super::wait::{notify, wait_until};
use crate::deadline::Deadline;
use crate::error::{Error, Result};
use crate::heap::SharedBlock;
use crate::synchronize::{Lock, OWNER_CHECK_INTERVAL, SEM_VALUE_MAX, sleepers};

/// The smallest ring we make (one page).
const MIN_CAPACITY: usize = 4096;
/// The largest ring we make.
const MAX_CAPACITY: usize = 1 << 30;

// The header before the ring. Fields written by producers and by consumers sit on separate
// cache lines, so the two sides do not slow each other down.
/// The producers' [`End`]: bytes and messages published, and whether a message is streaming.
const HEAD: usize = 64;
/// The thread id of a producer streaming a message, or 0 if it gave up (producers write it).
pub(super) const WRITER_TID: usize = 72;
/// The consumers' [`End`]: bytes consumed and messages taken, and whether one is half read.
const TAIL: usize = 128;
/// Futex word bumped when data is published; its low bit says a consumer sleeps on it (see
/// [`notify`]).
const DATA_SEQ: usize = 192;
/// Futex word bumped when room is freed; its low bit says a producer sleeps on it.
const SPACE_SEQ: usize = 256;
/// A `JoinableQueue`'s tasks marked done (a futex word, counted as [`End::count`] is), and the
/// joiners sleeping on it.
const DONE: usize = 384;
const JOIN_SLEEPERS: usize = 388;
/// Where the ring starts.
const HEADER: usize = 448;

/// A chunk header: `[payload length: u32][flags: u32]`, at an 8-aligned ring position.
pub(super) const CHUNK_HEADER: u64 = 8;
/// The chunk starts a message.
pub(super) const FIRST: u32 = 1;
/// The chunk ends a message.
pub(super) const LAST: u32 = 2;
/// The message being streamed was abandoned by its producer; its chunks so far are void.
pub(super) const ABORT: u32 = 4;
/// The chunk fills the rest of the ring, unused: the next message, written in place, starts
/// at the ring's beginning instead of wrapping around its end.
const PAD: u32 = 8;

/// Messages up to this size are copied out onto the stack and decoded from there.
const SMALL: usize = 512;

/// Counts are kept modulo 2^31 (31 bits of an [`End`]); a ring holds at most 2^27 messages (a
/// 1 GiB ring of empty ones), so differences of counts are never ambiguous.
const COUNT_MASK: u32 = (1 << 31) - 1;

/// Rounds a payload length up to the ring's 8-byte grain.
pub(super) fn pad(len: u64) -> u64 {
    len.next_multiple_of(8)
}

/// `a - b` of two counts kept modulo 2^31.
pub(super) fn count_diff(a: u32, b: u32) -> u32 {
    a.wrapping_sub(b) & COUNT_MASK
}

/// One side of the ring, packed into one 64-bit word so that a single store moves all of it:
/// `pos` in the low 32 bits, `count` in the next 31, `streaming` in the top bit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct End {
    /// Bytes published (or consumed) since the queue was made, modulo 2^32. A ring holds at
    /// most 2^30 bytes, so `head - tail` (wrapping) is always the bytes in the ring, and
    /// `pos % capacity` is the place in the ring.
    pub(super) pos: u32,
    /// Messages published (or taken) since the queue was made, modulo 2^31.
    pub(super) count: u32,
    /// The producers' word: a message is half published (its producer streams the rest). The
    /// consumers' word: a message is half read (its consumer reads the rest).
    pub(super) streaming: bool,
}

impl End {
    fn unpack(word: u64) -> End {
        End {
            pos: word as u32,
            count: (word >> 32) as u32 & COUNT_MASK,
            streaming: word >> 63 != 0,
        }
    }

    fn pack(self) -> u64 {
        u64::from(self.pos) | u64::from(self.count & COUNT_MASK) << 32 | u64::from(self.streaming) << 63
    }

    /// This end moved on by `bytes` and `messages` (each message counted once), with
    /// `streaming` as given.
    pub(super) fn advanced(self, bytes: u64, messages: u32, streaming: bool) -> End {
        End {
            pos: self.pos.wrapping_add(bytes as u32),
            count: self.count.wrapping_add(messages) & COUNT_MASK,
            streaming,
        }
    }
}

/// What a queue handle refers to: the shared memory and the two locks.
#[derive(Clone, Serialize, Deserialize)]
pub(super) struct Ring {
    /// The header and the ring.
    block: SharedBlock,
    pub(super) capacity: u64,
    /// Held by a producer for the whole of one message.
    pub(super) write_lock: Lock,
    /// Held by a consumer for the whole of one message.
    pub(super) read_lock: Lock,
    /// At most this many messages (0: no limit), Python's `maxsize`.
    pub(super) maxsize: usize,
    joinable: bool,
}

impl Ring {
    /// A ring of at least `capacity` bytes (rounded up to a power of two, at least a page, at
    /// most 1 GiB) for a queue of at most `maxsize` items (0: no limit).
    pub(super) fn new(maxsize: usize, capacity: usize, joinable: bool) -> Result<Ring> {
        // At most 1 GiB, so that a chunk's length always fits its 32-bit header field.
        let capacity = capacity.clamp(MIN_CAPACITY, MAX_CAPACITY).next_power_of_two();
        if maxsize > SEM_VALUE_MAX as usize {
            return Err(Error::state(format!(
                "Queue(maxsize={maxsize}): maxsize exceeds SEM_VALUE_MAX"
            )));
        }
        Ok(Ring {
            block: SharedBlock::new(HEADER + capacity)?,
            capacity: capacity as u64,
            write_lock: Lock::new()?,
            read_lock: Lock::new()?,
            maxsize,
            joinable,
        })
    }

    fn u64(&self, offset: usize) -> &AtomicU64 {
        self.block.atomic_u64(offset)
    }

    pub(super) fn u32(&self, offset: usize) -> &AtomicU32 {
        self.block.atomic_u32(offset)
    }

    /// The producers' end.
    pub(super) fn head(&self) -> End {
        End::unpack(self.u64(HEAD).load(Ordering::Acquire))
    }

    /// The consumers' end.
    pub(super) fn tail(&self) -> End {
        End::unpack(self.u64(TAIL).load(Ordering::Acquire))
    }

    /// Both ends, the consumers' read first: whatever happens in between, the producers' end
    /// is then at least as far on, so the differences are never negative.
    fn ends(&self) -> (End, End) {
        let tail = self.tail();
        (self.head(), tail)
    }

    /// The bytes in the ring.
    fn used(&self) -> u64 {
        let (head, tail) = self.ends();
        u64::from(head.pos.wrapping_sub(tail.pos))
    }

    pub(super) fn free(&self) -> u64 {
        self.capacity - self.used()
    }

    /// Whether bytes are waiting to be consumed.
    pub(super) fn has_data(&self) -> bool {
        let (head, tail) = self.ends();
        head.pos != tail.pos
    }

    /// The number of messages published and not yet taken (`qsize`).
    pub(super) fn items(&self) -> u64 {
        let (head, tail) = self.ends();
        u64::from(count_diff(head.count, tail.count))
    }

    /// Whether a new message may start: fewer than `maxsize` messages wait.
    pub(super) fn below_maxsize(&self) -> bool {
        self.maxsize == 0 || self.items() < self.maxsize as u64
    }

    /// Copies `src` into the ring at stream position `pos`, wrapping around the end.
    /// The caller holds the write lock and has checked that the bytes are free.
    pub(super) fn ring_write(&self, pos: u32, src: &[u8]) {
        let start = (u64::from(pos) & (self.capacity - 1)) as usize;
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
    pub(super) fn ring_read(&self, pos: u32, dst: &mut [u8]) {
        let start = (u64::from(pos) & (self.capacity - 1)) as usize;
        let first = dst.len().min(self.capacity as usize - start);
        let ring = self.block.as_ptr().wrapping_add(HEADER);
        // SAFETY: in bounds as in `ring_write`. The bytes were published (our acquire load of
        // `head` synchronizes with the producer's release store), and no producer writes them
        // again until we advance `tail`.
        unsafe { std::ptr::copy_nonoverlapping(ring.add(start), dst.as_mut_ptr(), first) };
        if first < dst.len() {
            // SAFETY: the wrapped rest, under the same guarantee.
            unsafe { std::ptr::copy_nonoverlapping(ring, dst.as_mut_ptr().add(first), dst.len() - first) };
        }
    }

    /// Appends `len` bytes from the ring at stream position `pos` to `out`, copied straight
    /// into its spare room (not zero-filled first). The caller holds the read lock and has seen
    /// `head` beyond these bytes.
    pub(super) fn ring_read_append(&self, pos: u32, len: usize, out: &mut Vec<u8>) {
        out.reserve(len);
        let spare = &mut out.spare_capacity_mut()[..len];
        let start = (u64::from(pos) & (self.capacity - 1)) as usize;
        let first = len.min(self.capacity as usize - start);
        let ring = self.block.as_ptr().wrapping_add(HEADER);
        let dst = spare.as_mut_ptr().cast::<u8>();
        // SAFETY: the source bytes are in bounds and published as in `ring_read`; `dst` has
        // room for `len` bytes (reserved above), which do not overlap shared memory.
        unsafe { std::ptr::copy_nonoverlapping(ring.add(start), dst, first) };
        if first < len {
            // SAFETY: the wrapped rest, under the same guarantee.
            unsafe { std::ptr::copy_nonoverlapping(ring, dst.add(first), len - first) };
        }
        // SAFETY: the `len` bytes after the old length were initialized just above.
        unsafe { out.set_len(out.len() + len) };
    }

    /// Runs `f` on the ring's free space for `len` bytes at stream position `pos`, as one
    /// part or, when it wraps around the ring's end, two (the second empty otherwise). The
    /// caller holds the write lock and has checked that the bytes are free and that `len <=
    /// capacity`.
    fn with_free_parts<R>(&self, pos: u32, len: usize, f: impl FnOnce(&mut [u8], &mut [u8]) -> R) -> R {
        let start = (u64::from(pos) & (self.capacity - 1)) as usize;
        let first = len.min(self.capacity as usize - start);
        let ring = self.block.as_ptr().wrapping_add(HEADER);
        // SAFETY: `start + first <= capacity` and `len - first <= start` (as `len <=
        // capacity`), so the two parts are inside the block, which outlives this call, and do
        // not overlap. They are free space: only the write-lock holder (our caller) writes
        // them, and no consumer reads them until `head` is published past them, which our
        // caller does only after `f` has returned and the parts are gone.
        let (a, b) = unsafe {
            (
                std::slice::from_raw_parts_mut(ring.add(start), first),
                std::slice::from_raw_parts_mut(ring, len - first),
            )
        };
        f(a, b)
    }

    /// The `len` bytes at stream position `pos`, in place, if they do not wrap around the
    /// ring's end. The caller holds the read lock, has seen `head` beyond these bytes, and
    /// drops the slice before it advances `tail` past them.
    fn ring_slice(&self, pos: u32, len: usize) -> Option<&[u8]> {
        let start = (u64::from(pos) & (self.capacity - 1)) as usize;
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

    pub(super) fn write_chunk_header(&self, pos: u32, len: u32, flags: u32) {
        let mut h = [0u8; 8];
        h[..4].copy_from_slice(&len.to_le_bytes());
        h[4..].copy_from_slice(&flags.to_le_bytes());
        self.ring_write(pos, &h);
    }

    pub(super) fn read_chunk_header(&self, pos: u32) -> (u32, u32) {
        let mut h = [0u8; 8];
        self.ring_read(pos, &mut h);
        (
            u32::from_le_bytes([h[0], h[1], h[2], h[3]]),
            u32::from_le_bytes([h[4], h[5], h[6], h[7]]),
        )
    }

    /// Makes `head` the producers' end (the bytes before it visible, its messages counted in)
    /// and wakes the consumers that sleep. The caller holds the write lock.
    ///
    /// A release store is enough (a plain store on x86, where a sequentially consistent one is
    /// a full barrier): it makes the bytes visible to a consumer's acquire load of `HEAD`, and
    /// no wake-up can be lost, because `notify` then bumps the futex word with a sequentially
    /// consistent step, which a sleeper reads before it looks at `HEAD` (see `wait`).
    pub(super) fn publish(&self, head: End) {
        self.u64(HEAD).store(head.pack(), Ordering::Release);
        notify(self.u32(DATA_SEQ));
    }

    /// Makes `tail` the consumers' end (the bytes before it free, its messages counted out)
    /// and wakes the producers that sleep. The caller holds the read lock. A release store, as
    /// in [`publish`](Ring::publish).
    pub(super) fn consume(&self, tail: End) {
        self.u64(TAIL).store(tail.pack(), Ordering::Release);
        notify(self.u32(SPACE_SEQ));
    }

    /// Waits until `ready()`, for data (`data` true) or for room; gives up at `deadline`.
    /// A consumer that waits long for data looks for a producer that died mid-message.
    pub(super) fn wait(&self, data: bool, deadline: Deadline, ready: impl FnMut() -> bool) -> bool {
        let seq = if data { DATA_SEQ } else { SPACE_SEQ };
        let idle = || {
            if data {
                self.abort_abandoned_message();
            }
        };
        wait_until(self.u32(seq), deadline, ready, idle)
    }

    /// Puts one encoded message, waiting until `deadline` for room (an item slot under
    /// `maxsize`, and bytes in the ring). Returns `Error::Full` when it gave up.
    pub(super) fn put_bytes(&self, payload: &[u8], deadline: Deadline) -> Result<()> {
        let guard = match deadline.left() {
            None => self.write_lock.acquire(),
            Some(left) => self.write_lock.acquire_timeout(left).ok_or(Error::Full)?,
        };
        if !self.finish_abandoned(&guard, deadline) {
            return Err(Error::Full);
        }
        let len = payload.len() as u64;
        let need = CHUNK_HEADER + pad(len);
        if need > self.capacity {
            return self.put_streamed(payload, deadline);
        }
        if !self.wait(false, deadline, || self.below_maxsize() && self.free() >= need) {
            return Err(Error::Full);
        }
        let head = self.head();
        self.write_chunk_header(head.pos, len as u32, FIRST | LAST);
        self.ring_write(head.pos.wrapping_add(CHUNK_HEADER as u32), payload);
        self.publish(head.advanced(need, 1, false));
        Ok(())
    }

    /// Whether a message of `len` bytes fits the ring whole (a longer one streams).
    pub(super) fn fits_whole(&self, len: usize) -> bool {
        CHUNK_HEADER + pad(len as u64) <= self.capacity
    }

    /// Puts one message of `len` bytes that [fits the ring whole](Ring::fits_whole), written in
    /// place by `write` into the ring's free space (two parts when it wraps around the ring's
    /// end), which returns whether it wrote exactly those bytes. Waits for room as
    /// [`put_bytes`](Ring::put_bytes) does. Returns `Ok(false)` if `write` did not, and the
    /// error of a `write` that fails: then nothing is published.
    ///
    /// A message that would wrap starts at the ring's beginning instead, after a [`PAD`] chunk
    /// published with it, if the ring has room for both now; so a consumer finds it in one
    /// piece and decodes it where it lies.
    pub(super) fn put_in_place(
        &self,
        len: usize,
        deadline: Deadline,
        write: impl FnOnce(&mut [u8], &mut [u8]) -> Result<bool>,
    ) -> Result<bool> {
        let guard = match deadline.left() {
            None => self.write_lock.acquire(),
            Some(left) => self.write_lock.acquire_timeout(left).ok_or(Error::Full)?,
        };
        if !self.finish_abandoned(&guard, deadline) {
            return Err(Error::Full);
        }
        let need = CHUNK_HEADER + pad(len as u64);
        assert!(
            need <= self.capacity,
            "put_in_place of a message larger than the ring"
        );
        if !self.wait(false, deadline, || self.below_maxsize() && self.free() >= need) {
            return Err(Error::Full);
        }
        let head = self.head();
        let start = u64::from(head.pos) & (self.capacity - 1);
        let to_end = self.capacity - start;
        let skip = if start + need > self.capacity && self.free() >= to_end + need {
            self.write_chunk_header(head.pos, (to_end - CHUNK_HEADER) as u32, PAD);
            to_end
        } else {
            0
        };
        let at = head.pos.wrapping_add((skip + CHUNK_HEADER) as u32);
        if !self.with_free_parts(at, len, write)? {
            return Ok(false);
        }
        self.write_chunk_header(head.pos.wrapping_add(skip as u32), len as u32, FIRST | LAST);
        self.publish(head.advanced(skip + need, 1, false));
        drop(guard);
        Ok(true)
    }

    /// Takes one message and hands its bytes to `decode`. Returns `Error::Empty` when it gave
    /// up at `deadline`.
    ///
    /// A small message is copied onto the stack and decoded after the read lock is released;
    /// a bigger one is decoded where it lies in the ring (no copy, no allocation besides the
    /// value's own) before its room is freed; one that wraps around the ring's end, or streams
    /// through it, is gathered into a vector first.
    pub(super) fn get_with<R>(&self, deadline: Deadline, decode: impl FnOnce(&[u8]) -> R) -> Result<R> {
        let guard = match deadline.left() {
            None => self.read_lock.acquire(),
            Some(left) => self.read_lock.acquire_timeout(left).ok_or(Error::Empty)?,
        };
        if self.tail().streaming {
            // A consumer died in the middle of a streamed message: skip what is left of it.
            self.skip_rest(deadline)?;
        }
        loop {
            let (mut tail, mut len, mut flags) = self.next_chunk(deadline)?;
            if flags == PAD {
                // The rest of the ring was left unused, published with the message after it
                // (at the ring's start), which is taken in the same store as the pad.
                let after = tail.advanced(CHUNK_HEADER + pad(u64::from(len)), 0, false);
                let (next_len, next_flags) = self.read_chunk_header(after.pos);
                self.check_chunk(after, next_len, next_flags)?;
                if next_flags != FIRST | LAST {
                    // Not what a producer writes after a pad: take the pad alone.
                    self.consume(after);
                    continue;
                }
                (tail, len, flags) = (after, next_len, next_flags);
            }
            let chunk = CHUNK_HEADER + pad(u64::from(len));
            let at = tail.pos.wrapping_add(CHUNK_HEADER as u32);
            if flags == FIRST | LAST {
                let len = len as usize;
                let taken = tail.advanced(chunk, 1, false);
                if len <= SMALL {
                    let mut buf = [0u8; SMALL];
                    self.ring_read(at, &mut buf[..len]);
                    self.consume(taken);
                    drop(guard);
                    return Ok(decode(&buf[..len]));
                }
                if let Some(bytes) = self.ring_slice(at, len) {
                    let value = decode(bytes);
                    self.consume(taken);
                    return Ok(value);
                }
                return Ok(with_buffer(&GATHER_BUF, |buf| {
                    self.ring_read_append(at, len, buf);
                    self.consume(taken);
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
            // An abort marker that ends no message (a producer marked one twice, or died
            // after starting to mark it): nothing to count.
            self.consume(tail.advanced(chunk, 0, false));
        }
    }

    /// With the read lock held: waits until `deadline` for a published chunk, then reads its
    /// header at the tail and checks it ([`check_chunk`](Ring::check_chunk)) before its length is
    /// trusted. Returns the tail, the chunk's length and its flags; `Error::Empty` when it gave up
    /// at `deadline`.
    pub(super) fn next_chunk(&self, deadline: Deadline) -> Result<(End, u32, u32)> {
        if !self.wait(true, deadline, || self.has_data()) {
            return Err(Error::Empty);
        }
        let tail = self.tail();
        let (len, flags) = self.read_chunk_header(tail.pos);
        self.check_chunk(tail, len, flags)?;
        Ok((tail, len, flags))
    }

    /// Checks a chunk header at `tail` before trusting its length: every chunk is published
    /// whole, so a length that runs past the published bytes, or flags no producer writes,
    /// mean the shared memory was overwritten (a stray write by some process that maps it).
    /// Reading on would copy from outside the ring; instead everything published so far is
    /// dropped, the caller gets an error that says so, and later messages arrive intact.
    pub(super) fn check_chunk(&self, tail: End, len: u32, flags: u32) -> Result<()> {
        let head = self.head();
        let published = u64::from(head.pos.wrapping_sub(tail.pos));
        let fits = CHUNK_HEADER + pad(u64::from(len)) <= published;
        let known = matches!(flags, 0 | FIRST | LAST)
            || flags == FIRST | LAST
            || (flags == ABORT && len == 0)
            || flags == PAD;
        let first_ok = flags & FIRST == 0 || len >= 8 || flags & LAST != 0;
        if fits && known && first_ok {
            return Ok(());
        }
        let dropped = count_diff(head.count, tail.count);
        self.consume(End {
            streaming: false,
            ..head
        });
        // Nobody will mark the dropped messages done.
        self.count_done(dropped);
        Err(Error::Remote(format!(
            "Queue: corrupt message header (length {len}, flags {flags:#x}) with {published} bytes \
             published: the queue's shared memory was overwritten; those bytes were dropped",
        )))
    }

    /// Counts `n` tasks of a `JoinableQueue` done that no consumer will mark (messages lost
    /// with a consumer that died reading them, or dropped as corrupt).
    ///
    /// This is a second store after the one that took the messages: a consumer killed between
    /// the two leaves the tasks unfinished, and `join` waits for them (as CPython's does for a
    /// consumer that died before `task_done`); the queue's length and room are not affected.
    pub(super) fn count_done(&self, n: u32) {
        if self.joinable && n > 0 {
            self.u32(DONE).fetch_add(n, Ordering::SeqCst);
            sleepers::wake(self.u32(DONE), self.u32(JOIN_SLEEPERS), u32::MAX);
        }
    }

    /// The tasks of a `JoinableQueue` put and not yet marked done, given the `done` count.
    /// A count of more `task_done`s than tasks (which `task_done` refuses, but an aborted
    /// message can uncount a task after its check) reads as none.
    fn unfinished(&self, done: u32) -> u32 {
        let n = count_diff(self.head().count, done);
        if n > COUNT_MASK / 2 { 0 } else { n }
    }

    /// Marks one task of a `JoinableQueue` done, and wakes the joiners when none is left.
    pub(super) fn task_done(&self) -> Result<()> {
        let done = self.u32(DONE);
        let mut seen = done.load(Ordering::SeqCst);
        loop {
            if self.unfinished(seen) == 0 {
                return Err(Error::state("JoinableQueue.task_done(): called too many times"));
            }
            match done.compare_exchange_weak(seen, seen.wrapping_add(1), Ordering::SeqCst, Ordering::SeqCst) {
                Ok(_) => break,
                Err(now) => seen = now,
            }
        }
        if self.unfinished(seen.wrapping_add(1)) == 0 {
            sleepers::wake(done, self.u32(JOIN_SLEEPERS), u32::MAX);
        }
        Ok(())
    }

    /// Waits until every task of a `JoinableQueue` is done, or `deadline`; returns whether
    /// they all were. Sleeps in slices of [`OWNER_CHECK_INTERVAL`]: a message aborted by a
    /// dead producer uncounts its task without a `task_done` to wake anyone.
    pub(super) fn join(&self, deadline: Deadline) -> bool {
        let done = self.u32(DONE);
        loop {
            if self.unfinished(done.load(Ordering::SeqCst)) == 0 {
                return true;
            }
            let slice = deadline.left_at_most(OWNER_CHECK_INTERVAL);
            if slice.is_zero() {
                return false;
            }
            sleepers::sleep(done, self.u32(JOIN_SLEEPERS), Some(slice), |seen| {
                self.unfinished(seen) != 0
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_end_packs_into_one_word_and_wraps() {
        let end = End {
            pos: u32::MAX - 7,
            count: COUNT_MASK,
            streaming: true,
        };
        assert_eq!(End::unpack(end.pack()), end);
        let next = end.advanced(16, 1, false);
        assert_eq!((next.pos, next.count, next.streaming), (8, 0, false));
        assert_eq!(next.pos.wrapping_sub(end.pos), 16);
        assert_eq!(count_diff(next.count, end.count), 1);
    }

    /// A message written in place that would wrap around the ring's end starts at its
    /// beginning after a pad, when the ring has room for both; otherwise it wraps (two parts).
    /// One that fails to be written publishes nothing.
    #[test]
    fn in_place_messages_pad_or_wrap() {
        let ring = Ring::new(0, 4096, false).unwrap();
        let now = || Deadline::after(Some(std::time::Duration::ZERO));
        let start = End {
            pos: 1000,
            count: 0,
            streaming: false,
        };
        ring.u64(HEAD).store(start.pack(), Ordering::SeqCst);
        ring.u64(TAIL).store(start.pack(), Ordering::SeqCst);
        let z: Vec<u8> = (0..1000u32).map(|i| i as u8).collect();
        let write_z = |a: &mut [u8], b: &mut [u8]| {
            let (x, y) = z.split_at(a.len());
            a.copy_from_slice(x);
            b.copy_from_slice(y);
            Ok(true)
        };
        let take = || ring.get_with(now(), <[u8]>::to_vec).unwrap();
        // 2,896 bytes used up to 3,896: 1,200 free, 1,008 needed, 200 more to pad. It wraps.
        ring.put_bytes(&[1; 2888], now()).unwrap();
        let before = ring.head();
        let parts = std::cell::Cell::new((0, 0));
        let write = |a: &mut [u8], b: &mut [u8]| {
            parts.set((a.len(), b.len()));
            write_z(a, b)
        };
        assert!(ring.put_in_place(1000, now(), write).unwrap());
        assert_eq!(parts.get(), (192, 808));
        assert_eq!(ring.head(), before.advanced(1008, 1, false));
        assert_eq!(take(), [1; 2888]);
        assert_eq!(take(), z);
        // Empty at 808, then one message up to 3,816: the next one is padded.
        ring.put_bytes(&[2; 3000], now()).unwrap();
        assert_eq!(take(), [2; 3000]);
        let before = ring.head();
        let write = |a: &mut [u8], b: &mut [u8]| {
            parts.set((a.len(), b.len()));
            write_z(a, b)
        };
        assert!(ring.put_in_place(1000, now(), write).unwrap());
        assert_eq!(parts.get(), (1000, 0));
        assert_eq!(ring.head(), before.advanced(280 + 1008, 1, false));
        assert_eq!(ring.items(), 1);
        assert_eq!(take(), z);
        assert_eq!(ring.tail(), ring.head());
        // A write that fails, or writes other than it should, publishes nothing.
        let before = ring.head();
        let err = ring.put_in_place(1000, now(), |_, _| Err(Error::state("no")));
        assert!(matches!(err, Err(Error::State(_))));
        assert!(!ring.put_in_place(1000, now(), |_, _| Ok(false)).unwrap());
        assert_eq!((ring.head(), ring.items()), (before, 0));
        assert!(ring.write_lock.try_acquire().is_some(), "the lock was released");
        // An overwritten header that claims a pad past the published bytes, or a pad with no
        // message after it, is an error that drops what was published; the ring goes on.
        for pad_len in [1 << 20, 1000] {
            ring.put_bytes(&[3; 1000], now()).unwrap();
            ring.write_chunk_header(ring.tail().pos, pad_len, PAD);
            let err = ring.get_with(now(), <[u8]>::to_vec).unwrap_err();
            assert!(err.to_string().contains("corrupt message header"), "{err}");
            assert_eq!((ring.items(), ring.has_data()), (0, false));
        }
        ring.put_bytes(&[4; 10], now()).unwrap();
        assert_eq!(take(), [4; 10]);
    }

    /// Positions and counts wrap (after 4 GiB and 2^31 messages): a ring set just before both
    /// wraps carries whole and streamed messages across them, and counts right.
    #[test]
    fn positions_and_counts_wrap() {
        let ring = Ring::new(3, 4096, true).unwrap();
        let start = End {
            pos: u32::MAX - 100,
            count: COUNT_MASK - 1,
            streaming: false,
        };
        ring.u64(HEAD).store(start.pack(), Ordering::SeqCst);
        ring.u64(TAIL).store(start.pack(), Ordering::SeqCst);
        ring.u32(DONE).store(start.count, Ordering::SeqCst);
        let now = || Deadline::after(Some(std::time::Duration::ZERO));
        for round in 0..3u8 {
            let small = vec![round; 700];
            ring.put_bytes(&small, now()).unwrap();
            ring.put_bytes(&small, now()).unwrap();
            assert_eq!(ring.items(), 2);
            ring.put_bytes(&[1], now()).unwrap();
            assert!(
                matches!(ring.put_bytes(&[2], now()), Err(Error::Full)),
                "maxsize 3"
            );
            for want in [&small[..], &small[..], &[1]] {
                assert_eq!(ring.get_with(now(), <[u8]>::to_vec).unwrap(), want);
                ring.task_done().unwrap();
            }
            assert_eq!(ring.items(), 0);
            assert!(ring.join(now()));
            assert!(ring.task_done().is_err());
        }
        // A message three times the ring streams through it, across the wraps too.
        let big: Vec<u8> = (0..12_000u32).map(|i| i as u8).collect();
        std::thread::scope(|s| {
            s.spawn(|| ring.put_bytes(&big, Deadline::NEVER).unwrap());
            assert_eq!(ring.get_with(Deadline::NEVER, <[u8]>::to_vec).unwrap(), big);
        });
        assert_eq!(ring.items(), 0);
        assert!(!ring.tail().streaming && !ring.head().streaming);
    }
}

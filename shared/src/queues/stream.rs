//! Messages larger than the ring: the producer keeps the write lock and writes the message in
//! chunks as a consumer frees room, and the consumer keeps the read lock and reads the chunks as
//! they come. The first chunk starts with the message's total length.
//!
//! Either side may die in the middle. A producer that died (or gave up at its deadline) leaves
//! a partial message, which the next producer, or a consumer waiting for the rest, ends with an
//! abort marker; a consumer that died leaves the consumers' end marked streaming, and the next consumer skips
//! the rest of that message.

use std::sync::atomic::Ordering;

use super::ring::{ABORT, CHUNK_HEADER, FIRST, LAST, Ring, WRITER_TID, pad};
use crate::deadline::Deadline;
use crate::error::{Error, Result};
use crate::synchronize::LockGuard;
use crate::sys::futex;

impl Ring {
    /// Streams a message larger than the ring, chunk by chunk, as consumers free room. The
    /// first chunk counts the message in and marks the producers' end streaming; the last one
    /// clears the mark.
    pub(super) fn put_streamed(&self, payload: &[u8], deadline: Deadline) -> Result<()> {
        self.u32(WRITER_TID).store(futex::current_tid(), Ordering::SeqCst);
        let total = (payload.len() as u64).to_le_bytes();
        let mut rest = payload;
        let mut first = true;
        // Waiting for a quarter of the ring keeps chunks large (few wake-ups) while letting
        // the consumer copy out one part as we copy in the next.
        let grain = self.capacity / 4;
        while first || !rest.is_empty() {
            let want = CHUNK_HEADER + pad(rest.len() as u64 + if first { 8 } else { 0 }).min(grain);
            let room = || (!first || self.below_maxsize()) && self.free() >= want;
            if !self.wait(false, deadline, room) {
                if !first {
                    // We cannot take back what is published: leave the message for the next
                    // producer (or a waiting consumer) to mark aborted.
                    self.u32(WRITER_TID).store(0, Ordering::SeqCst);
                }
                return Err(Error::Full);
            }
            let head = self.head();
            let room = (self.free() - CHUNK_HEADER) & !7;
            let prefix = if first { 8 } else { 0 };
            let take = (rest.len() as u64).min(room - prefix) as usize;
            let last = take == rest.len();
            let flags = if first { FIRST } else { 0 } | if last { LAST } else { 0 };
            let chunk = prefix + take as u64;
            let at = head.pos.wrapping_add(CHUNK_HEADER as u32);
            self.write_chunk_header(head.pos, chunk as u32, flags);
            if first {
                self.ring_write(at, &total);
            }
            self.ring_write(at.wrapping_add(prefix as u32), &rest[..take]);
            rest = &rest[take..];
            self.publish(head.advanced(CHUNK_HEADER + pad(chunk), u32::from(first), !last));
            first = false;
        }
        Ok(())
    }

    /// Called by a consumer waiting for data: if a producer died (or gave up) in the middle
    /// of a streamed message, nobody will ever finish it, so mark it aborted.
    pub(super) fn abort_abandoned_message(&self) {
        if !self.writer_abandoned() {
            return;
        }
        if let Some(guard) = self.write_lock.try_acquire() {
            // Waiting for data means the ring is empty, so there is room for the marker.
            self.finish_abandoned(&guard, Deadline::after(Some(std::time::Duration::ZERO)));
        }
    }

    fn writer_abandoned(&self) -> bool {
        if !self.head().streaming {
            return false;
        }
        let tid = self.u32(WRITER_TID).load(Ordering::SeqCst);
        tid == 0 || !futex::thread_alive(tid)
    }

    /// With the write lock held: if the previous producer left a streamed message unfinished,
    /// ends it with an abort marker, which also counts the message out again (it never
    /// reaches a consumer, so it is neither an item nor a task). Returns false if there was
    /// no room for the marker by `deadline`.
    pub(super) fn finish_abandoned(&self, _guard: &LockGuard<'_>, deadline: Deadline) -> bool {
        if !self.head().streaming {
            return true;
        }
        if !self.wait(false, deadline, || self.free() >= CHUNK_HEADER) {
            return false;
        }
        let head = self.head();
        self.write_chunk_header(head.pos, 0, ABORT);
        // One store: the marker, the uncounted message and the cleared mark, so a producer
        // killed here leaves either all of it or none (and then the next one does it).
        self.publish(head.advanced(CHUNK_HEADER, u32::MAX, false));
        true
    }

    /// Reads a streamed message whose first chunk (of `first_len` bytes) is at the tail.
    pub(super) fn get_streamed(
        &self,
        guard: LockGuard<'_>,
        first_len: u32,
        message: &mut Vec<u8>,
    ) -> Result<()> {
        let mut tail = self.tail();
        let mut total = [0u8; 8];
        self.ring_read(tail.pos.wrapping_add(CHUNK_HEADER as u32), &mut total);
        let total = u64::from_le_bytes(total);
        // The total is only a hint for the reservation: a corrupt one must not cost memory.
        message.reserve(usize::try_from(total.min(self.capacity * 16)).unwrap_or(0));
        let (mut len, mut skip) = (u64::from(first_len), 8);
        loop {
            let payload = (len - skip) as usize;
            let at = tail.pos.wrapping_add((CHUNK_HEADER + skip) as u32);
            self.ring_read_append(at, payload, message);
            let done = message.len() as u64 >= total;
            // One store frees the chunk and, at the end, counts the message out and clears
            // the mark; until then the mark tells the next consumer, should we die, to skip
            // the rest of this message.
            tail = tail.advanced(CHUNK_HEADER + pad(len), u32::from(done), !done);
            self.consume(tail);
            if done {
                break;
            }
            // The producer is streaming the rest: wait for it without a deadline (a dead or
            // departed producer is noticed by `wait`, which marks the message aborted).
            let (next, chunk, flags) = self.next_chunk(Deadline::NEVER)?;
            tail = next;
            if flags & ABORT != 0 {
                // The producer that marked it counted the message out already.
                self.consume(tail.advanced(CHUNK_HEADER, 0, false));
                drop(guard);
                return Err(Error::Remote(format!(
                    "Queue: the producer of a {total}-byte message died or gave up while putting it; \
                     the {} bytes received were dropped",
                    message.len()
                )));
            }
            (len, skip) = (u64::from(chunk), 0);
        }
        drop(guard);
        Ok(())
    }

    /// With the read lock held: consumes chunks up to the end of the message a dead consumer
    /// was reading (its last chunk or an abort marker).
    pub(super) fn skip_rest(&self, deadline: Deadline) -> Result<()> {
        loop {
            let (tail, len, flags) = self.next_chunk(deadline)?;
            let chunk = CHUNK_HEADER + pad(u64::from(len));
            if flags & ABORT != 0 {
                // Its producer gave up on it too, and counted it out.
                self.consume(tail.advanced(chunk, 0, false));
                return Ok(());
            }
            if flags & LAST != 0 {
                self.consume(tail.advanced(chunk, 1, false));
                // The message was lost with its consumer; nobody will mark it done.
                self.count_done(1);
                return Ok(());
            }
            self.consume(tail.advanced(chunk, 0, true));
        }
    }
}

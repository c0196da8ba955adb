//! The per-thread buffers a queue encodes into and gathers messages in, kept between calls so
//! that a `put` or a `get` allocates nothing.

use std::cell::RefCell;
use std::thread::LocalKey;

/// The largest buffer a thread keeps between two `put`s or two `get`s.
const KEEP_BUF: usize = 4 << 20;

thread_local! {
    /// Where `put` encodes, reused so that a `put` allocates nothing.
    pub(super) static ENCODE_BUF: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
    /// Where `get` gathers a message that wraps around the ring's end or streams through it.
    pub(super) static GATHER_BUF: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// Runs `f` with this thread's buffer `key`, cleared; a re-entrant call (a `Serialize` impl
/// that uses a queue) gets a fresh one. Keeps the buffer's memory for the next call (a fresh
/// one costs page faults, measured: a third of the time of 1 MiB messages), up to
/// [`KEEP_BUF`] bytes.
pub(super) fn with_buffer<R>(
    key: &'static LocalKey<RefCell<Vec<u8>>>,
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

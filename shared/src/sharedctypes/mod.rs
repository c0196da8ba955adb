//! Numbers and arrays in shared memory: [`Value`], [`Array`], [`RawValue`], [`RawArray`], after
//! CPython's `multiprocessing/sharedctypes.py`.
//!
//! The memory is `MAP_SHARED` (see [`crate::heap`]): a child that receives a `Value` or an
//! `Array` as its [`Process`](crate::Process) argument writes the very bytes its parent reads.
//! As in CPython they cross by inheritance only: sent through a `Connection`, a `Queue` or a
//! pool task, they are refused at the sender with "Value objects should only be shared
//! between processes through inheritance".
//!
//! The element types and their Python typecodes are listed on [`Element`]; why a
//! read-modify-write needs the lock is shown on [`Value`].
//!
//! Reading or writing one element is always whole (never torn): elements are accessed with
//! atomic loads and stores, so even the raw types are free of data races in Rust's sense.
//!
//! # Differences from Python
//! - `val.value` is [`Value::get`] / [`Value::set`]; `arr[i]` is [`Array::get`] /
//!   [`Array::set`]; `list(arr)` is [`Array::to_vec`]; `arr[a:b]` is [`Array::slice`].
//! - `Value('i', 0, lock=False)` is [`RawValue::new`]; `lock=some_lock` is
//!   [`Value::with_lock`]. A caller-supplied [`Lock`](crate::Lock) does not deadlock `get`/`set` inside
//!   `get_lock()` as it does in Python: an access by the thread that holds the lock does not
//!   take it again.
//!
//! # Files
//! `element` ([`Element`]: the types and their typecodes), `value` ([`RawValue`], [`Value`])
//! and `array` ([`RawArray`], [`Array`]).

use crate::synchronize::SyncLock;

mod array;
mod element;
mod value;

pub use array::{Array, RawArray};
pub use element::Element;
pub use value::{RawValue, Value};

/// Runs `f` holding `lock`, unless the calling thread holds it already (then it is either
/// re-entered, for an RLock, or would deadlock, for a Lock: in both cases `f` may just run).
///
/// Inlined: inside `get_lock()` (the common case) an access costs one holder check.
#[inline]
fn locked<L: SyncLock, R>(lock: &L, f: impl FnOnce() -> R) -> R {
    if lock.is_owned() {
        return f();
    }
    locked_by_us(lock, f)
}

/// [`locked`] when the caller does not hold the lock yet: takes it around `f`.
#[inline(never)]
fn locked_by_us<L: SyncLock, R>(lock: &L, f: impl FnOnce() -> R) -> R {
    /// Releases on drop, so that a panic inside `f` (an index out of range) frees the lock.
    struct Release<'a, L: SyncLock>(&'a L);
    impl<L: SyncLock> Drop for Release<'_, L> {
        fn drop(&mut self) {
            let _ = self.0.raw_release();
        }
    }
    let _ = lock.raw_acquire(None);
    let _release = Release(lock);
    f()
}

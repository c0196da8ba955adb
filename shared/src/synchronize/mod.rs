//! Process-shared synchronization: [`Lock`], [`RLock`], [`Semaphore`], [`BoundedSemaphore`],
//! [`Event`], [`Condition`] and [`Barrier`], after CPython's `multiprocessing/synchronize.py`.
//!
//! Each object lives in shared memory ([`crate::heap`]): a child forked after the object was
//! made (or one that receives it as a [`Process`](crate::Process) argument) shares it with its
//! parent. Clones refer to the same object. As in CPython, an object crosses to another
//! process by inheritance only: sent through a `Connection`, a `Queue` or a pool task, it is
//! refused at the sender ([`Lock`'s docs](Lock#sharing-it-with-another-process)).
//!
//! How they work (process-shared futexes, no system call when uncontended) and what happens
//! when a holder dies are documented on [`Lock`], where a reader of the API finds them.
//!
//! # Differences from Python
//! - `with lock:` becomes `let _guard = lock.acquire();`: the guard releases when it is
//!   dropped. `acquire(timeout=...)` is [`Lock::acquire_timeout`], returning `None` where
//!   Python returns `False`; `acquire(False)` is [`Lock::try_acquire`].
//! - To hold a lock past the guard's scope (Python's bare `lock.acquire()`), call
//!   [`LockGuard::keep`] and later [`Lock::release`], from this or any process.
//! - Python's exceptions are [`Error`](crate::Error)s: releasing an unlocked lock is
//!   [`Error::State`](crate::Error::State), a broken barrier is
//!   [`Error::BrokenBarrier`](crate::Error::BrokenBarrier).
//!
//! # Files
//! One file per primitive, as CPython's classes: `lock` ([`Lock`]), `rlock` ([`RLock`]),
//! `semaphore` ([`Semaphore`], [`BoundedSemaphore`]), `event` ([`Event`]), `condition`
//! ([`Condition`]) and `barrier` ([`Barrier`]). Beside them, the futex parts they share:
//! `mutex` (the word that names a lock's holder, and the take-over from a dead holder) and
//! `sleepers` (the futex wait, with its no-lost-wake-up argument).

use std::time::Duration;

mod barrier;
mod condition;
mod event;
mod lock;
mod mutex;
mod owner;
mod rlock;
mod semaphore;
pub(crate) mod sleepers;
mod slots;

pub use barrier::Barrier;
pub use condition::{Condition, ConditionGuard};
pub use event::Event;
pub use lock::{Lock, LockGuard};
pub use mutex::SyncLock;
pub(crate) use owner::set_process_name_source;
pub use rlock::{RLock, RLockGuard};
pub use semaphore::{BoundedSemaphore, Semaphore, SemaphoreGuard};

/// How long a waiter sleeps before it checks whether the holder of a [`Lock`] or [`RLock`]
/// is still alive. A dead holder is noticed after at most about this long.
pub const OWNER_CHECK_INTERVAL: Duration = Duration::from_millis(100);

/// The largest value of a [`Semaphore`] (CPython's `SEM_VALUE_MAX` on Linux).
pub const SEM_VALUE_MAX: u32 = i32::MAX as u32;

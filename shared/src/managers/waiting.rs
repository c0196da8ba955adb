//! The server's objects that make a caller wait: the queue, the lock, the event and the
//! semaphore (CPython's manager serves `queue.Queue`, `threading.Lock`, `threading.Event` and
//! `threading.Semaphore` for them).
//!
//! Each waits through [`Caller::wait`], which wakes now and then to see whether the client is
//! still there: a client killed while it waits takes no item, no lock and no unit with it.

use std::collections::VecDeque;
use std::sync::{Condvar, Mutex};
use std::time::Duration;

use super::protocol::{Bytes, Fault, FaultKind, Op, Reply, Response};
use super::server::{Caller, lock, wrong_method};
use crate::deadline::Deadline;

/// `what` as the fault a wait that stopped for `kind` answers: a timeout becomes `timeout_as`
/// (Python's `queue.Empty` or `queue.Full`), anything else stays what it was.
fn stopped(kind: FaultKind, timeout_as: FaultKind, what: &str) -> Fault {
    Fault {
        kind: if kind == FaultKind::Timeout {
            timeout_as
        } else {
            kind
        },
        message: what.into(),
    }
}

/// A `queue.Queue(maxsize)`.
pub(super) struct SharedQueue {
    items: Mutex<VecDeque<Bytes>>,
    /// `0`: no bound.
    maxsize: usize,
    not_empty: Condvar,
    not_full: Condvar,
}

impl SharedQueue {
    pub(super) fn new(maxsize: u64) -> SharedQueue {
        SharedQueue {
            items: Mutex::default(),
            maxsize: usize::try_from(maxsize).unwrap_or(usize::MAX),
            not_empty: Condvar::new(),
            not_full: Condvar::new(),
        }
    }

    /// Takes the front item, waiting for one as `block` and `timeout` say.
    pub(super) fn get(
        &self,
        caller: &Caller<'_>,
        block: bool,
        timeout: Option<Duration>,
    ) -> Result<Bytes, Fault> {
        let deadline = Deadline::after(timeout);
        let mut items = lock(&self.items);
        loop {
            if let Some(item) = items.pop_front() {
                self.not_full.notify_one();
                return Ok(item);
            }
            if !block {
                return Err(stopped(FaultKind::Empty, FaultKind::Empty, "queue is empty"));
            }
            // Python's `get(timeout=...)` raises `queue.Empty` when the time runs out.
            items = caller
                .wait(&self.not_empty, items, deadline)
                .map_err(|kind| stopped(kind, FaultKind::Empty, "queue is empty"))?;
        }
    }

    /// Puts back at the front an item whose taker left before it got the answer.
    pub(super) fn requeue(&self, item: Bytes) {
        lock(&self.items).push_front(item);
        self.not_empty.notify_one();
    }

    pub(super) fn op(&self, caller: &Caller<'_>, op: Op) -> Response {
        match op {
            Op::Len => Ok(Reply::Len(lock(&self.items).len() as u64)),
            Op::QueueFull => Ok(Reply::Bool(
                self.maxsize > 0 && lock(&self.items).len() >= self.maxsize,
            )),
            Op::QueuePut { item, block, timeout } => {
                let deadline = Deadline::after(timeout);
                let mut items = lock(&self.items);
                while self.maxsize > 0 && items.len() >= self.maxsize {
                    if !block {
                        return Err(stopped(FaultKind::Full, FaultKind::Full, "queue is full"));
                    }
                    items = caller
                        .wait(&self.not_full, items, deadline)
                        .map_err(|kind| stopped(kind, FaultKind::Full, "queue is full"))?;
                }
                items.push_back(item);
                self.not_empty.notify_one();
                Ok(Reply::Done)
            }
            Op::Clear => {
                lock(&self.items).clear();
                self.not_full.notify_all();
                Ok(Reply::Done)
            }
            op => Err(wrong_method("Queue", &op)),
        }
    }
}

/// A `threading.Lock`: held by a session (a client connection), released by anyone.
pub(super) struct SharedLock {
    /// The session holding the lock, if any.
    holder: Mutex<Option<u64>>,
    released: Condvar,
}

impl SharedLock {
    pub(super) fn new() -> SharedLock {
        SharedLock {
            holder: Mutex::new(None),
            released: Condvar::new(),
        }
    }

    pub(super) fn op(&self, caller: &Caller<'_>, op: Op) -> Response {
        match op {
            Op::Acquire { block, timeout } => {
                let deadline = Deadline::after(timeout);
                let mut holder = lock(&self.holder);
                while holder.is_some() {
                    if !block {
                        return Ok(Reply::Bool(false));
                    }
                    holder = match caller.wait(&self.released, holder, deadline) {
                        Ok(h) => h,
                        Err(FaultKind::Timeout) => return Ok(Reply::Bool(false)),
                        Err(kind) => return Err(stopped(kind, kind, "acquire abandoned")),
                    };
                }
                *holder = Some(caller.session);
                Ok(Reply::Bool(true))
            }
            Op::Release => {
                if lock(&self.holder).take().is_none() {
                    return Err(Fault::other("release unlocked lock"));
                }
                self.released.notify_one();
                Ok(Reply::Done)
            }
            Op::Locked => Ok(Reply::Bool(lock(&self.holder).is_some())),
            op => Err(wrong_method("Lock", &op)),
        }
    }

    /// Releases the lock if `session` (a client that left) still holds it.
    pub(super) fn release_for(&self, session: u64) {
        let mut holder = lock(&self.holder);
        if *holder == Some(session) {
            *holder = None;
            self.released.notify_one();
        }
    }
}

/// A `threading.Event`.
pub(super) struct SharedEvent {
    flag: Mutex<bool>,
    changed: Condvar,
}

impl SharedEvent {
    pub(super) fn new() -> SharedEvent {
        SharedEvent {
            flag: Mutex::new(false),
            changed: Condvar::new(),
        }
    }

    pub(super) fn op(&self, caller: &Caller<'_>, op: Op) -> Response {
        match op {
            Op::EventSet => {
                *lock(&self.flag) = true;
                self.changed.notify_all();
                Ok(Reply::Done)
            }
            Op::EventClear => {
                *lock(&self.flag) = false;
                Ok(Reply::Done)
            }
            Op::EventIsSet => Ok(Reply::Bool(*lock(&self.flag))),
            Op::EventWait { timeout } => {
                let deadline = Deadline::after(timeout);
                let mut flag = lock(&self.flag);
                while !*flag {
                    flag = match caller.wait(&self.changed, flag, deadline) {
                        Ok(f) => f,
                        // Python's `wait(timeout)` returns the flag, false when time ran out.
                        Err(FaultKind::Timeout) => return Ok(Reply::Bool(false)),
                        Err(kind) => return Err(stopped(kind, kind, "wait abandoned")),
                    };
                }
                Ok(Reply::Bool(true))
            }
            op => Err(wrong_method("Event", &op)),
        }
    }
}

/// A `threading.Semaphore(value)`, or a `BoundedSemaphore` that refuses to rise past it.
pub(super) struct SharedSemaphore {
    value: Mutex<u64>,
    /// The starting value, the ceiling of a bounded semaphore.
    initial: u64,
    bounded: bool,
    released: Condvar,
}

impl SharedSemaphore {
    pub(super) fn new(value: u64, bounded: bool) -> SharedSemaphore {
        SharedSemaphore {
            value: Mutex::new(value),
            initial: value,
            bounded,
            released: Condvar::new(),
        }
    }

    pub(super) fn op(&self, caller: &Caller<'_>, op: Op) -> Response {
        match op {
            Op::Acquire { block, timeout } => {
                let deadline = Deadline::after(timeout);
                let mut value = lock(&self.value);
                while *value == 0 {
                    if !block {
                        return Ok(Reply::Bool(false));
                    }
                    value = match caller.wait(&self.released, value, deadline) {
                        Ok(v) => v,
                        Err(FaultKind::Timeout) => return Ok(Reply::Bool(false)),
                        Err(kind) => return Err(stopped(kind, kind, "acquire abandoned")),
                    };
                }
                *value -= 1;
                Ok(Reply::Bool(true))
            }
            Op::Release => {
                let mut value = lock(&self.value);
                if self.bounded && *value >= self.initial {
                    // CPython's `threading.BoundedSemaphore` raises this `ValueError`.
                    return Err(Fault::other("Semaphore released too many times"));
                }
                *value += 1;
                self.released.notify_one();
                Ok(Reply::Done)
            }
            Op::Len => Ok(Reply::Len(*lock(&self.value))),
            op => Err(wrong_method("Semaphore", &op)),
        }
    }
}

//! The server's condition variable and barrier (CPython's manager serves `threading.Condition`
//! and `threading.Barrier` for them).

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use super::protocol::{Fault, FaultKind, Op, Owner, Reply, Response};
use super::server::{Caller, lock, wrong_method};
use crate::deadline::Deadline;

/// A `threading.Condition()`: an `RLock` (CPython's default lock for a condition) owned by a
/// client thread, and a first-come, first-notified line of waiters.
pub(super) struct SharedCondition {
    state: Mutex<CondState>,
    /// Signalled on every change: the lock released, waiters notified.
    changed: Condvar,
}

struct CondState {
    /// The thread holding the lock, and how many times it took it.
    holder: Option<(Owner, u32)>,
    /// The tickets of the waiters not yet notified, oldest first.
    waiting: VecDeque<u64>,
    /// The tickets notified and not yet back.
    notified: Vec<u64>,
    next_ticket: u64,
}

impl SharedCondition {
    pub(super) fn new() -> SharedCondition {
        SharedCondition {
            state: Mutex::new(CondState {
                holder: None,
                waiting: VecDeque::new(),
                notified: Vec::new(),
                next_ticket: 0,
            }),
            changed: Condvar::new(),
        }
    }

    pub(super) fn op(&self, caller: &Caller<'_>, op: Op) -> Response {
        match op {
            Op::CondAcquire {
                owner,
                block,
                timeout,
            } => self.acquire(caller, owner, block, timeout),
            Op::CondRelease { owner } => {
                let mut state = lock(&self.state);
                match &mut state.holder {
                    Some((holder, depth)) if *holder == owner => {
                        *depth -= 1;
                        if *depth == 0 {
                            state.holder = None;
                            self.changed.notify_all();
                        }
                        Ok(Reply::Done)
                    }
                    _ => Err(Fault::other("cannot release un-acquired lock")),
                }
            }
            Op::CondWait { owner, timeout } => self.wait(caller, owner, timeout),
            Op::CondNotify { owner, n } => {
                let mut state = lock(&self.state);
                if !matches!(state.holder, Some((holder, _)) if holder == owner) {
                    return Err(Fault::other("cannot notify on un-acquired lock"));
                }
                let n = n.map_or(usize::MAX, |n| usize::try_from(n).unwrap_or(usize::MAX));
                let wake = n.min(state.waiting.len());
                let woken: Vec<u64> = state.waiting.drain(..wake).collect();
                state.notified.extend(woken);
                self.changed.notify_all();
                Ok(Reply::Done)
            }
            op => Err(wrong_method("Condition", &op)),
        }
    }

    fn acquire(&self, caller: &Caller<'_>, owner: Owner, block: bool, timeout: Option<Duration>) -> Response {
        let deadline = Deadline::after(timeout);
        let mut state = lock(&self.state);
        loop {
            match &mut state.holder {
                None => {
                    state.holder = Some((owner, 1));
                    return Ok(Reply::Bool(true));
                }
                // An `RLock`: its holder may take it again.
                Some((holder, depth)) if *holder == owner => {
                    *depth += 1;
                    return Ok(Reply::Bool(true));
                }
                Some(_) if !block => return Ok(Reply::Bool(false)),
                Some(_) => {}
            }
            state = match caller.wait(&self.changed, state, deadline) {
                Ok(s) => s,
                Err(FaultKind::Timeout) => return Ok(Reply::Bool(false)),
                Err(kind) => {
                    return Err(Fault {
                        kind,
                        message: "acquire abandoned".into(),
                    });
                }
            };
        }
    }

    /// Python's `cond.wait(timeout)`: releases the lock however deep it is held, waits to be
    /// notified, and takes it back as deep as before. Replies whether it was notified.
    fn wait(&self, caller: &Caller<'_>, owner: Owner, timeout: Option<Duration>) -> Response {
        let deadline = Deadline::after(timeout);
        let mut state = lock(&self.state);
        let depth = match state.holder {
            Some((holder, depth)) if holder == owner => depth,
            _ => return Err(Fault::other("cannot wait on un-acquired lock")),
        };
        state.holder = None;
        let ticket = state.next_ticket;
        state.next_ticket += 1;
        state.waiting.push_back(ticket);
        self.changed.notify_all();
        let notified = loop {
            if let Some(at) = state.notified.iter().position(|t| *t == ticket) {
                state.notified.swap_remove(at);
                break true;
            }
            state = match caller.wait(&self.changed, state, deadline) {
                Ok(s) => s,
                Err(kind) => {
                    state = lock(&self.state);
                    if let Some(at) = state.notified.iter().position(|t| *t == ticket) {
                        state.notified.swap_remove(at);
                        if kind == FaultKind::Timeout {
                            // Notified at the very end: that counts.
                            break true;
                        }
                        // A notification meant for a client that is gone goes to the next
                        // waiter, as if it had been sent to that one.
                        if let Some(next) = state.waiting.pop_front() {
                            state.notified.push(next);
                            self.changed.notify_all();
                        }
                    } else {
                        state.waiting.retain(|t| *t != ticket);
                    }
                    if kind == FaultKind::Timeout {
                        break false;
                    }
                    return Err(Fault {
                        kind,
                        message: "wait abandoned".into(),
                    });
                }
            };
        };
        // Take the lock back, without a time limit, as Python's `wait` does.
        while state.holder.is_some() {
            state = caller
                .wait(&self.changed, state, Deadline::NEVER)
                .map_err(|kind| Fault {
                    kind,
                    message: "wait abandoned".into(),
                })?;
        }
        state.holder = Some((owner, depth));
        Ok(Reply::Bool(notified))
    }

    /// Releases the lock if `owner` (whose client left) still holds it.
    pub(super) fn release_for(&self, owner: Owner) {
        let mut state = lock(&self.state);
        if matches!(state.holder, Some((holder, _)) if holder == owner) {
            state.holder = None;
            self.changed.notify_all();
        }
    }
}

/// Where one round of a barrier stands.
const FILLING: u8 = 0;
const PASSED: u8 = 1;
const BROKEN: u8 = 2;

/// A `threading.Barrier(parties, timeout=timeout)`.
pub(super) struct SharedBarrier {
    parties: u64,
    /// The default timeout of `wait`.
    timeout: Option<Duration>,
    state: Mutex<BarrierState>,
    changed: Condvar,
}

struct BarrierState {
    /// Parties waiting in the current round.
    waiting: u64,
    /// The current round: every waiter keeps its round's handle, and learns from it whether
    /// the round passed or broke, whatever rounds came after.
    round: Arc<AtomicU8>,
    /// Broken until `reset`: every `wait` fails at once.
    broken: bool,
}

impl SharedBarrier {
    pub(super) fn new(parties: u64, timeout: Option<Duration>) -> SharedBarrier {
        SharedBarrier {
            parties: parties.max(1),
            timeout,
            state: Mutex::new(BarrierState {
                waiting: 0,
                round: Arc::new(AtomicU8::new(FILLING)),
                broken: false,
            }),
            changed: Condvar::new(),
        }
    }

    pub(super) fn op(&self, caller: &Caller<'_>, op: Op) -> Response {
        match op {
            Op::BarrierWait { timeout } => self.wait(caller, timeout.or(self.timeout)),
            Op::BarrierAbort => {
                let mut state = lock(&self.state);
                self.end_round(&mut state, BROKEN);
                state.broken = true;
                Ok(Reply::Done)
            }
            Op::BarrierReset => {
                // Those waiting now get `BrokenBarrierError`; the barrier starts afresh.
                let mut state = lock(&self.state);
                self.end_round(&mut state, BROKEN);
                state.broken = false;
                Ok(Reply::Done)
            }
            Op::BarrierState => {
                let state = lock(&self.state);
                Ok(Reply::Barrier {
                    parties: self.parties,
                    n_waiting: state.waiting,
                    broken: state.broken,
                })
            }
            op => Err(wrong_method("Barrier", &op)),
        }
    }

    /// Ends the current round as `outcome` (if it had waiters) and starts a new, empty one.
    fn end_round(&self, state: &mut BarrierState, outcome: u8) {
        if state.waiting > 0 {
            state.round.store(outcome, Ordering::Relaxed);
        }
        state.round = Arc::new(AtomicU8::new(FILLING));
        state.waiting = 0;
        self.changed.notify_all();
    }

    fn wait(&self, caller: &Caller<'_>, timeout: Option<Duration>) -> Response {
        let broken = || Fault {
            kind: FaultKind::BrokenBarrier,
            message: "the barrier is broken".into(),
        };
        let deadline = Deadline::after(timeout);
        let mut state = lock(&self.state);
        if state.broken {
            return Err(broken());
        }
        let index = state.waiting;
        state.waiting += 1;
        let round = Arc::clone(&state.round);
        if state.waiting == self.parties {
            // The last party: the round passes, every waiter returns.
            self.end_round(&mut state, PASSED);
            return Ok(Reply::Len(index));
        }
        loop {
            match round.load(Ordering::Relaxed) {
                PASSED => return Ok(Reply::Len(index)),
                BROKEN => return Err(broken()),
                _ => {}
            }
            state = match caller.wait(&self.changed, state, deadline) {
                Ok(s) => s,
                Err(kind) => {
                    let mut state = lock(&self.state);
                    match round.load(Ordering::Relaxed) {
                        PASSED => return Ok(Reply::Len(index)),
                        BROKEN => return Err(broken()),
                        _ => {}
                    }
                    if kind == FaultKind::Timeout {
                        // Python's `wait` breaks the barrier when its timeout runs out.
                        self.end_round(&mut state, BROKEN);
                        state.broken = true;
                        return Err(broken());
                    }
                    // The client is gone: it never arrived, as far as the others are
                    // concerned (CPython's barrier would count it for ever).
                    state.waiting -= 1;
                    return Err(Fault {
                        kind,
                        message: "wait abandoned".into(),
                    });
                }
            };
        }
    }
}

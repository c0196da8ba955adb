//! Tables of thread ids in shared memory: who is inside a wait right now, so that one who died
//! there can be noticed and counted as having left. A [`Condition`](super::Condition) records
//! its waiters this way, a [`Barrier`](super::Barrier) the parties inside `wait`.

use std::sync::atomic::{AtomicU32, Ordering};

use crate::sys::futex;

/// Records the calling thread in the first free slot and returns it (the caller frees it with
/// `store(0)` when it leaves); `None` when every slot is taken.
pub(super) fn claim<'a>(slots: impl IntoIterator<Item = &'a AtomicU32>) -> Option<&'a AtomicU32> {
    let me = futex::current_tid();
    slots.into_iter().find(|s| {
        s.compare_exchange(0, me, Ordering::SeqCst, Ordering::Relaxed)
            .is_ok()
    })
}

/// Frees every slot whose thread has died and returns how many it freed. Each is freed by a
/// compare-exchange, so a dead thread is counted out exactly once, even when several processes
/// reap at the same time.
pub(super) fn reap_dead<'a>(slots: impl IntoIterator<Item = &'a AtomicU32>) -> usize {
    let me = futex::current_tid();
    slots
        .into_iter()
        .filter(|s| {
            let tid = s.load(Ordering::SeqCst);
            tid != 0
                && tid != me
                && !futex::thread_alive(tid)
                && s.compare_exchange(tid, 0, Ordering::SeqCst, Ordering::Relaxed)
                    .is_ok()
        })
        .count()
}

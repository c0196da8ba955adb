//! `<linux/futex.h>`: process-shared futexes, and the thread ids a lock records as its owner.
//!
//! We use the *shared* operations (`FUTEX_WAIT`, `FUTEX_WAKE`, without `FUTEX_PRIVATE_FLAG`):
//! the kernel then keys a waiter on the file page behind the address rather than on the
//! process's address space, so a process sleeping on a word in a `MAP_SHARED` memfd mapping is
//! woken by a `FUTEX_WAKE` from any other process that maps the same page, at whatever address.
//! `std::sync` uses private futexes, which is why its locks do not work across processes.
#![expect(
    unsafe_code,
    reason = "the futex system call, which neither nix nor std wraps"
)]

use std::cell::Cell;
use std::io;
use std::sync::Once;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use super::cvt;

/// Why [`wait`] returned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Wake {
    /// Woken by [`wake`], by a signal, or spuriously. The caller looks at the word again.
    Woken,
    /// Not asleep at all: the word no longer held the expected value (`EAGAIN`). The caller
    /// looks at the word again.
    Changed,
    /// The timeout passed.
    TimedOut,
}

/// Sleeps while `word` holds `expected`, at most `timeout` (`None`: until woken).
///
/// The kernel compares the word and queues us atomically with respect to [`wake`], so a wake
/// that follows a change of the word is never lost.
pub(crate) fn wait(word: &AtomicU32, expected: u32, timeout: Option<Duration>) -> io::Result<Wake> {
    let ts = timeout.map(|t| libc::timespec {
        tv_sec: libc::time_t::try_from(t.as_secs()).unwrap_or(libc::time_t::MAX),
        tv_nsec: libc::c_long::from(t.subsec_nanos()),
    });
    let ts_ptr = ts
        .as_ref()
        .map_or(std::ptr::null(), |ts| ts as *const libc::timespec);
    // SAFETY: `word` is a live, aligned 32-bit atomic for the duration of the call; the
    // timeout, if any, points to a timespec on our stack; the unused arguments are null/0.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_futex,
            word.as_ptr(),
            libc::FUTEX_WAIT,
            expected,
            ts_ptr,
            std::ptr::null::<u32>(),
            0,
        )
    };
    match cvt(ret) {
        Ok(_) => Ok(Wake::Woken),
        Err(e) => match e.raw_os_error() {
            Some(libc::EAGAIN) => Ok(Wake::Changed),
            Some(libc::EINTR) => Ok(Wake::Woken),
            Some(libc::ETIMEDOUT) => Ok(Wake::TimedOut),
            _ => Err(e),
        },
    }
}

/// Wakes at most `n` processes or threads sleeping in [`wait`] on `word`; returns how many woke.
pub(crate) fn wake(word: &AtomicU32, n: u32) -> io::Result<usize> {
    let n = i32::try_from(n).unwrap_or(i32::MAX);
    // SAFETY: `word` is a live, aligned 32-bit atomic; FUTEX_WAKE reads no other argument.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_futex,
            word.as_ptr(),
            libc::FUTEX_WAKE,
            n,
            std::ptr::null::<libc::timespec>(),
            std::ptr::null::<u32>(),
            0,
        )
    };
    cvt(ret).map(|n| usize::try_from(n).unwrap_or(0))
}

/// [`TID`] before the thread first asks: above every thread id (they are below 2^22), and
/// above every holder a lock word can name (31 bits), so no lock seems held by it.
const UNKNOWN_TID: u32 = u32::MAX;

thread_local! {
    /// This thread's kernel thread id, or [`UNKNOWN_TID`] until first asked. Cached because
    /// `gettid` is a system call and an uncontended lock must not make one.
    static TID: Cell<u32> = const { Cell::new(UNKNOWN_TID) };
}

/// The calling thread's kernel thread id (`gettid`), unique among the live threads of every
/// process in the pid namespace. Locks store it as their owner.
///
/// Inlined: every lock operation asks, and the cached answer is one thread-local load.
#[inline]
pub(crate) fn current_tid() -> u32 {
    match TID.with(Cell::get) {
        UNKNOWN_TID => fill_tid(),
        tid => tid,
    }
}

/// For a holder check: the calling thread's id if it has asked for it before ([`current_tid`]),
/// else a value that equals no holder, without the branch that fills the cache.
///
/// Right because a thread holds a lock only after acquiring it, and every acquire names its
/// holder by [`current_tid`], which fills the cache: a thread whose cache is empty (never
/// asked, or the one thread of a child forked since, see [`register_fork_handler`]) holds
/// nothing.
#[inline]
pub(crate) fn tid_if_known() -> u32 {
    TID.with(Cell::get)
}

/// The first [`current_tid`] of a thread (or of a forked child's thread): asks the kernel.
#[cold]
#[inline(never)]
fn fill_tid() -> u32 {
    // Register before the first cache fill, so that no fork can copy a filled cache into a
    // child without the handler that clears it.
    register_fork_handler();
    let tid = u32::try_from(nix::unistd::gettid().as_raw()).unwrap_or(0);
    TID.with(|cell| cell.set(tid));
    tid
}

/// This process's id, or 0 until first asked (cached for the same reason as [`TID`]).
static PID: AtomicU32 = AtomicU32::new(0);

/// The calling process's id (`getpid`, the thread group id), which a lock records beside its
/// holder's thread id, so that it can tell a holder in this process from one in another even
/// after the holding thread has gone.
#[inline]
pub(crate) fn current_pid() -> u32 {
    match PID.load(Ordering::Relaxed) {
        0 => fill_pid(),
        pid => pid,
    }
}

/// The first [`current_pid`] of a process: asks the kernel.
#[cold]
#[inline(never)]
fn fill_pid() -> u32 {
    register_fork_handler();
    let pid = u32::try_from(nix::unistd::getpid().as_raw()).unwrap_or(0);
    PID.store(pid, Ordering::Relaxed);
    pid
}

/// After a fork the child's one thread has a new id, but its thread-local cache still holds
/// the parent thread's (and the process id cache the parent's): clear them in the child.
fn register_fork_handler() {
    static ONCE: Once = Once::new();
    extern "C" fn in_child() {
        TID.with(|tid| tid.set(UNKNOWN_TID));
        PID.store(0, Ordering::Relaxed);
    }
    ONCE.call_once(|| {
        // SAFETY: `in_child` is a plain function that lives for the whole program and only
        // touches its own thread's thread-local.
        let rc = unsafe { libc::pthread_atfork(None, None, Some(in_child)) };
        // Without the handler a forked child would believe it is its parent's thread and
        // could, e.g., re-enter an RLock its parent holds; there is no safe way on.
        assert_eq!(
            rc, 0,
            "pthread_atfork failed: cannot track thread ids across fork"
        );
    });
}

/// Whether thread `tid` still runs. A thread that has exited, and a process that has ended
/// but whose parent has not reaped it yet (a zombie, which still answers `kill(pid, 0)`),
/// count as dead: neither will ever release a lock.
pub(crate) fn thread_alive(tid: u32) -> bool {
    // /proc/<tid> exists for every thread id, not only for process ids.
    match std::fs::read(format!("/proc/{tid}/stat")) {
        // The state is the first field after the command name, which is in parentheses and
        // may itself contain ") ", so look after the last ')'.
        Ok(stat) => match stat.iter().rposition(|&b| b == b')') {
            Some(i) => !matches!(stat.get(i + 2), Some(b'Z' | b'X' | b'x')),
            None => true,
        },
        Err(e) if e.kind() == io::ErrorKind::NotFound => false,
        // ESRCH: the thread went away while we read. Anything else (no /proc?): assume
        // alive, so that we never steal a lock from a live owner.
        Err(e) => e.raw_os_error() != Some(libc::ESRCH),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_thread_is_unknown_until_it_asks_for_its_id() {
        std::thread::spawn(|| {
            // Equal to no holder a lock word can name (31 bits): a holder check says "not me".
            assert_eq!(tid_if_known(), UNKNOWN_TID);
            assert!(UNKNOWN_TID > i32::MAX as u32);
            let tid = current_tid();
            assert_eq!(i64::from(tid), i64::from(nix::unistd::gettid().as_raw()));
            assert_eq!(tid_if_known(), tid);
        })
        .join()
        .unwrap();
    }
}

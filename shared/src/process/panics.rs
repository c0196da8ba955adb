//! The runtime's one panic hook: what a panic prints in each kind of process.
//!
//! A child must not touch std's panic-hook lock at start: a thread of the parent that was
//! panicking at the moment of the `fork` holds it (for reading, while its hook runs) in the
//! child for ever, and `take_hook` / `set_hook` wait for it for ever. So the hook is installed
//! once per program run ([`install`]: in the parent before its first `fork`, in a spawned child
//! and in the fork server before anything else), and a child only tells it, through two
//! atomics, what to do: chain to the program's hook (the main process), print CPython's
//! `Process <name>:` first (a child: [`report_as`]), or keep the message for the parent instead
//! of printing it (a pool worker: [`record_panics`], [`take_panic_message`]).
#![expect(
    unsafe_code,
    reason = "the hook reads the child's name through an atomic pointer, so that it takes no lock"
)]

use std::cell::RefCell;
use std::panic::{self, PanicHookInfo};
use std::sync::Once;
use std::sync::atomic::{AtomicPtr, AtomicU8, Ordering};

/// What the hook does in this process.
static MODE: AtomicU8 = AtomicU8::new(CHAIN);
/// Only the hook that was there before ours: the main process.
const CHAIN: u8 = 0;
/// `Process <name>:`, then the hook that was there before ours: a child.
const REPORT: u8 = 1;
/// Record the message for [`take_panic_message`], print nothing: a pool worker.
const RECORD: u8 = 2;

/// The child's name for its report: a leaked `String`, swapped in once per child (a child's
/// child swaps in its own; one small string per generation is all that leaks). An atomic
/// pointer rather than a lock, so that the hook never waits for a thread of the parent.
static NAME: AtomicPtr<String> = AtomicPtr::new(std::ptr::null_mut());

thread_local! {
    /// The message of the last panic on this thread, in a process that records them.
    static LAST_PANIC: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Installs the runtime's hook, in front of the one the program has now (std's default one
/// unless the program set its own), once per run of the program. Call it before the first
/// `fork`, never in a forked child (a forked child finds it done: the `Once` is copied).
pub(crate) fn install() {
    static INSTALLED: Once = Once::new();
    INSTALLED.call_once(|| {
        let previous = panic::take_hook();
        panic::set_hook(Box::new(move |info| match MODE.load(Ordering::Acquire) {
            RECORD => record(info),
            REPORT => {
                let name = NAME.load(Ordering::Acquire);
                if !name.is_null() {
                    // SAFETY: a non-null `NAME` comes from `Box::into_raw` in `report_as` and
                    // is never freed, so it points to a live `String` for the process's life.
                    let name: &String = unsafe { &*name };
                    eprintln!("Process {name}:");
                }
                previous(info);
            }
            _ => previous(info),
        }));
    });
}

/// A child's name, made ready for [`report_as`] before the `fork`, so that the child does not
/// allocate. Boxed so that the hook can reach it through one thin atomic pointer.
#[expect(
    clippy::box_collection,
    reason = "an AtomicPtr points to a sized String, not to a str"
)]
pub(crate) struct ReportName(Box<String>);

impl ReportName {
    pub(crate) fn new(name: &str) -> ReportName {
        ReportName(Box::new(name.to_string()))
    }
}

/// Makes a panic in this process (a child named `name`) print `Process <name>:` before the
/// panic itself, as CPython's `_bootstrap` prints `Process Process-1:` before the traceback.
/// Touches no lock, and allocates nothing: safe in a child forked while another thread of the
/// parent panicked.
pub(crate) fn report_as(name: ReportName) {
    let name = Box::into_raw(name.0);
    // The previous name (the parent's, copied by `fork`) is left as it is: a panicking thread
    // of the parent may have been reading it, and it is small.
    NAME.store(name, Ordering::Release);
    MODE.store(REPORT, Ordering::Release);
}

/// Makes a panic in this process print nothing and keep its message (and where it happened)
/// for [`take_panic_message`] on the same thread instead: a pool worker, whose parent reports
/// a failed task with that message. Touches no lock, like [`report_as`].
pub(crate) fn record_panics() {
    MODE.store(RECORD, Ordering::Release);
}

/// The message of the last panic on this thread, recorded since [`record_panics`], as
/// `"<message> (at <file>:<line>:<column>)"`; `"panicked"` if there is none.
pub(crate) fn take_panic_message() -> String {
    LAST_PANIC
        .with(|p| p.borrow_mut().take())
        .unwrap_or_else(|| "panicked".to_string())
}

/// Records a panic's message and place instead of printing it.
fn record(info: &PanicHookInfo<'_>) {
    let payload = info.payload();
    let message = payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "Box<dyn Any>".to_string());
    let message = match info.location() {
        Some(at) => format!("{message} (at {at})"),
        None => message,
    };
    LAST_PANIC.with(|p| *p.borrow_mut() = Some(message));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_recorded_panic_keeps_its_message_and_place() {
        install();
        record_panics();
        let line = line!() + 1;
        let caught = panic::catch_unwind(|| panic!("任务出错了: {}", 42));
        MODE.store(CHAIN, Ordering::Relaxed);
        assert!(caught.is_err());
        let message = take_panic_message();
        assert!(message.starts_with("任务出错了: 42 (at "), "{message}");
        assert!(message.contains(&format!("panics.rs:{line}:")), "{message}");
        assert_eq!(take_panic_message(), "panicked", "taken once");
    }
}

//! Who holds a [`Lock`](super::Lock) or an [`RLock`](super::RLock), named as CPython's
//! `synchronize.Lock.__repr__` names it: `MainProcess` (the calling process's name, with
//! `|thread` when the caller is not its main thread), `SomeOtherThread`, `SomeOtherProcess`,
//! or `None`.
//!
//! The calling process's name belongs to the process layer, above this module, so it is read
//! through a source that layer registers ([`set_process_name_source`]); until it does, the
//! name is `MainProcess`, which is what every process is called before a child is started.

use std::sync::{PoisonError, RwLock};

use crate::sys::futex;

/// Who holds a lock, from the calling thread's point of view.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Owner {
    /// Nobody: the lock is free.
    Nobody,
    /// The calling thread.
    Me,
    /// Another thread of the calling process.
    OtherThread,
    /// A thread of another process.
    OtherProcess,
}

impl Owner {
    /// The holder as CPython prints it: `None`, this process's name (see
    /// [`current_holder_name`]), `SomeOtherThread` or `SomeOtherProcess`.
    pub(super) fn name(self) -> String {
        match self {
            Owner::Nobody => "None".to_string(),
            Owner::Me => current_holder_name(),
            Owner::OtherThread => "SomeOtherThread".to_string(),
            Owner::OtherProcess => "SomeOtherProcess".to_string(),
        }
    }
}

/// Where the calling process's name comes from.
static PROCESS_NAME: RwLock<fn() -> String> = RwLock::new(main_process);

/// The name of a process before the process layer says otherwise.
fn main_process() -> String {
    "MainProcess".to_string()
}

/// Registers the function that gives the calling process's name (Python's
/// `current_process().name`). The process layer calls it once, before a lock's owner is
/// printed in a child (e.g. in the child's bootstrap); a child forked later keeps the function.
pub(crate) fn set_process_name_source(source: fn() -> String) {
    *PROCESS_NAME.write().unwrap_or_else(PoisonError::into_inner) = source;
}

/// The calling thread as CPython's `__repr__` names a holder that is the caller: the process's
/// name, followed by `|` and the thread's name unless this is the main thread (Rust's unnamed
/// threads are `<unnamed>`, as in its panic messages).
fn current_holder_name() -> String {
    let source = *PROCESS_NAME.read().unwrap_or_else(PoisonError::into_inner);
    let mut name = source();
    // The main thread's id is the process's id.
    if futex::current_tid() != futex::current_pid() {
        let thread = std::thread::current();
        name.push('|');
        name.push_str(thread.name().unwrap_or("<unnamed>"));
    }
    name
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_registered_source_names_the_holder() {
        fn worker_name() -> String {
            "Process-7".to_string()
        }
        let block = crate::heap::SharedBlock::new(8).unwrap();
        let mutex = super::super::mutex::Mutex::at(&block);
        assert_eq!(mutex.owner().name(), "None");
        assert_eq!(mutex.acquire(None), super::super::mutex::Acquired::Yes);
        // Unit tests run on threads other than the main one.
        let thread = std::thread::current().name().unwrap_or("<unnamed>").to_string();
        assert_eq!(mutex.owner().name(), format!("MainProcess|{thread}"));
        set_process_name_source(worker_name);
        let named = mutex.owner().name();
        set_process_name_source(main_process);
        assert_eq!(named, format!("Process-7|{thread}"));
        std::thread::scope(|s| {
            s.spawn(|| assert_eq!(mutex.owner(), Owner::OtherThread));
        });
        assert!(mutex.release());
    }
}

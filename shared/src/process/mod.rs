//! Processes: [`Process`], [`current_process`], [`parent_process`], [`active_children`].
//!
//! Mirrors CPython's `Lib/multiprocessing/process.py` and `popen_fork.py`: a process is made
//! with a target and its arguments, started with `fork(2)` (or by the `spawn` and `forkserver`
//! start methods), and ended either by returning from its target (exit code 0), by panicking
//! (exit code 1, after printing `Process <name>:` and the panic to stderr), or by a signal (exit
//! code `-N`).
//!
//! One file per concern:
//! - `handle`: the [`Process`] object a parent holds, its target, name, daemon flag and repr;
//! - `lifecycle`: what the parent does with it (start, join, signals, sentinel);
//! - `children`: the parent's record of each started child (reaping, waiting, signalling) and
//!   the registry behind [`active_children`], joined or terminated at the parent's exit;
//! - `current`: what a process knows about itself and its parent ([`current_process`],
//!   [`parent_process`], [`ProcessInfo`]), and the numbering behind the names;
//! - `bootstrap`: the child's side: becoming the child, running the target, the exit code;
//! - `panics`: the one panic hook, installed once, that prints `Process <name>:` in a child
//!   (or keeps the message, in a pool worker) without touching a lock in the child;
//! - `fork`: the `fork` start; `spawn` and `forkserver`: the other two start methods.
//!
//! What a user must know (fork safety, what happens when the parent dies) is documented on
//! [`Process`], since this module is private and only its items are re-exported.

use std::sync::{Mutex, MutexGuard, PoisonError};

mod bootstrap;
mod call;
mod children;
mod current;
mod fork;
pub(crate) mod forkserver;
mod handle;
mod lifecycle;
mod panics;
pub(crate) mod spawn;

pub use children::active_children;
pub(crate) use current::join_identity;
pub use current::{ProcessInfo, current_process, parent_process};
pub use handle::Process;
pub(crate) use panics::{record_panics, take_panic_message};

/// Locks a runtime mutex; a panic elsewhere while it was held leaves data we can still use.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The number of CPUs online, like Python's `multiprocessing.cpu_count()`.
///
/// # Examples
///
/// ```
/// assert!(multiprocessing::cpu_count() >= 1);
/// ```
pub fn cpu_count() -> usize {
    crate::sys::unistd::cpu_count()
}

/// Python's `freeze_support()`: call it first in `main`. In a program started by the `spawn`
/// or `forkserver` start method to be a child, it turns the process into that child, runs its
/// target and exits (with the target's exit code), never returning into `main`. In any other
/// run it returns at once, which is all it does under `fork`, the default: a forked child never
/// runs `main` again.
///
/// A spawned child re-executes the program, so without this call the child would run the
/// parent's `main` again. It never gets far: the parent's first spawn [`Process::start`] (or
/// `Pool::new`) waits for its first child to become the child, and returns an error that says
/// to add this call when the child runs `main` instead; the child leaves without a word, and
/// no child is ever spawned again and again.
///
/// Call it before anything else, in particular before any thread starts: the fork server is
/// a run of the program that this call takes over, and it must be single-threaded to fork
/// safely. A program whose `main` is not yours (libtest's `#[test]` harness) cannot call it
/// first, so its tests should use `fork`, or be a `harness = false` test binary whose `main`
/// calls it.
///
/// # Examples
///
/// ```
/// use multiprocessing::{freeze_support, get_context};
///
/// fn worker(_: ()) {
///     println!("子进程运行");
/// }
///
/// freeze_support();
/// let mut p = get_context("spawn")?.process(worker, ());
/// p.start()?;
/// p.join()?;
/// assert_eq!(p.exitcode(), Some(0));
/// # Ok::<(), multiprocessing::Error>(())
/// ```
pub fn freeze_support() {
    spawn::run_if_spawned();
    forkserver::run_if_server();
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::start_method::StartMethod;

    #[test]
    fn a_closure_cannot_be_sent_to_a_new_run_of_the_program() {
        for method in [StartMethod::Spawn, StartMethod::Forkserver] {
            let mut p = Process::from_closure(Box::new(|| {})).with_start_method(method);
            // Refused before anything starts: nothing to clean up.
            let err = p.start().unwrap_err().to_string();
            assert!(
                err.contains("closure") && err.contains("fork start method"),
                "{err}"
            );
            assert!(p.pid().is_none());
        }
    }
}

//! The `fork` start method (CPython's `popen_fork.py`): the child is a copy of the parent made
//! by `fork(2)`, and runs its target at once.
#![expect(
    unsafe_code,
    reason = "fork is the one unsafe call a process runtime cannot avoid"
)]

use std::io::Write;
use std::sync::Arc;

use super::bootstrap::{self, ChildInfo, bootstrap, tie_to_parent};
use super::children::{self, Child, Leftovers};
use super::current::{Current, current};
use super::forkserver;
use super::handle::Target;
use super::panics::{self, ReportName};
use crate::error::Error;
use crate::sys::{signal, unistd};

/// Forks a child that runs `target` and exits. Returns the parent's record of the child and
/// the target's box, emptied of its arguments, for the caller to free once the child no longer
/// shares its memory. On failure the target is handed back.
///
/// A daemon child started from the main thread dies with this process when `die_with_parent`
/// (see [`tie_to_parent`]).
pub(super) fn start(
    info: ChildInfo,
    target: Target,
    die_with_parent: bool,
) -> std::result::Result<(Arc<Child>, Target), (Error, Target)> {
    children::before_start();
    // Before any lock is taken: `install` may wait for a thread that is inside a panic (and
    // printing to stderr), which must not wait for us in turn. The child never touches the hook.
    panics::install();
    // The key is made now if it was not yet, so that parent and child hold the same one.
    let _ = crate::authkey::get();
    // And what the child's standard input becomes is decided here, once.
    bootstrap::prepare_stdin();
    // Everything the child needs is made now, before the fork: memory a child writes (an
    // allocation, a free) is copied for it page by page, a page fault each, so the child only
    // moves what is ready. The parent's record of the child is made here too, its pid filled
    // in after the fork.
    let mut record = Child::ours(
        0,
        ChildInfo {
            name: info.name.clone(),
            identity: info.identity.clone(),
            daemon: info.daemon,
        },
    );
    let report_name = ReportName::new(&info.name);
    // Hold, across the fork, every lock the child will take, so that no other thread of ours
    // can hold one at the moment of the fork (the child would wait for it forever). The order
    // is stdout, stderr, the current process's record, the registry of children, then the fork
    // server's link (a child may ask the same server for children of its own); no code of ours
    // prints while holding the last three.
    let mut stdout = std::io::stdout().lock();
    let mut stderr = std::io::stderr().lock();
    // Anything buffered now would otherwise be printed twice, once by each process.
    let _ = stdout.flush();
    let _ = stderr.flush();
    let mut me = current();
    let mut registry = children::registry();
    registry.reserve(1);
    let server = forkserver::hold_for_fork();
    let parent = me.as_parent();
    let parent_pid = parent.pid;
    let tie = die_with_parent && info.daemon && unistd::gettid() == parent_pid;
    let becoming = Current::child(info.name, info.identity, info.daemon, parent);

    // SAFETY: fork's obligation is that the child only takes locks no vanished thread holds.
    // The child takes stdout, stderr, our two tables and the fork server's link, all held by
    // this thread right now, and the allocator's, which glibc resets in the child; it does not
    // take the panic-hook lock (see `panics.rs`), and the start method and the authkey it
    // reads are atomics or initialised already. The rest is the caller's part of the bargain
    // described in `Process`'s "Fork safety" section. It leaves through `_exit`.
    let forked = unsafe { unistd::fork() };
    match forked {
        Err(e) => {
            drop((server, registry, me, stderr, stdout));
            Err((Error::os(format!("fork: starting {}", record.name), e), target))
        }
        Ok(unistd::Fork::Child) => {
            if tie {
                tie_to_parent(parent_pid);
            }
            if target.is_runtime_own() {
                // The runtime ends its own children with SIGTERM (`Pool::terminate`, the
                // parent's exit, a pool worker's parent-death signal). A handler the program
                // installed would catch it here for nobody: the thread that acts on it (a
                // signal-hook iterator, say) was not copied into the child.
                let _ = signal::restore_default(libc::SIGTERM);
            }
            // The parent's record of itself is not freed here: that would only write to
            // memory the child shares with its parent.
            std::mem::forget(std::mem::replace(&mut *me, becoming));
            // The parent's children are not ours; forget them (closing our copies of their
            // pidfds), as CPython's `_bootstrap` empties `_children`.
            registry.clear();
            drop((server, registry, me, stderr, stdout));
            bootstrap(report_name, move || {
                let mut target = target;
                target.run();
                // Its box is the parent's memory: left alone, like the record above.
                std::mem::forget(target);
            })
        }
        Ok(unistd::Fork::Parent(pid)) => {
            // Our copies of what the child needed are freed once the child is reaped: see
            // `Child::forked`.
            let leftovers = Leftovers {
                _becoming: becoming,
                _report_name: report_name,
            };
            Child::forked(&mut record, pid, leftovers);
            registry.push(Arc::clone(&record));
            drop((server, registry, me, stderr, stdout));
            // The child has its own copy of the arguments now; ours go (CPython's `del
            // self._target, self._args`) at once, since what they hold (a pipe end, say) must
            // close, and after our locks are released, since their destructors are user code.
            // The emptied box goes back to the caller, to be freed later as well.
            let mut target = target;
            target.drop_args();
            Ok((record, target))
        }
    }
}

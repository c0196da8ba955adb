//! The child's side (CPython's `BaseProcess._bootstrap`): becoming the child, running the
//! target, and leaving with its exit code: 0 after a return, 1 after a panic (printed as
//! `Process <name>:` and the panic message), or the code the target gave
//! [`std::process::exit`]. Whatever the start method, a child ends here, through `_exit`, never
//! returning into the parent's `main`.

use std::fs::File;
use std::io::Write;
use std::panic::{self, AssertUnwindSafe};
use std::sync::{Arc, OnceLock};

use nix::sys::stat::{FileStat, fstat};

use super::children;
use super::current::{Current, Parent, current};
use super::panics::{self, ReportName};
use crate::sys::{signal, unistd, wait};

/// What a child is told about itself.
pub(crate) struct ChildInfo {
    pub(crate) name: String,
    pub(crate) identity: Vec<u32>,
    pub(crate) daemon: bool,
}

/// Makes the calling process (a spawned child that has just read its payload) the child
/// described by `info`.
pub(crate) fn become_child(info: ChildInfo, mut parent: Parent) {
    if unistd::getppid() != parent.pid {
        // A child of the fork server: watch the real parent through a pidfd (it is alive now,
        // since it waits for our pid; a failure only costs the exact answer of `is_alive`).
        parent.pidfd = wait::pidfd_open(parent.pid).ok().flatten().map(Arc::new);
    }
    *current() = Current::child(info.name, info.identity, info.daemon, parent);
}

/// Makes the calling child (just forked by `parent`) die by `SIGKILL` when its parent dies,
/// however the parent dies (`PR_SET_PDEATHSIG`). Called first thing after the fork: a parent
/// that died before the call cannot send the signal any more, so the child then checks that
/// its parent is still `parent` (an orphan has been adopted by `init` or a subreaper) and
/// leaves at once if not.
///
/// Only for a child forked by the main thread: the kernel sends the signal when the *thread*
/// that forked ends, and only the main thread ends with the process.
pub(crate) fn tie_to_parent(parent: libc::pid_t) {
    // A refusal (the kernel has none for a valid signal) would only lose the tie.
    let _ = signal::set_parent_death_signal(libc::SIGKILL);
    if unistd::getppid() != parent {
        // The parent died before the call: a daemon has nobody left to serve.
        unistd::exit_now(1);
    }
}

/// The child's life: run the target, then leave through `_exit` so that it never returns into
/// the parent's `main` (and never runs the parent's destructors or exit handlers).
pub(crate) fn bootstrap(name: ReportName, target: impl FnOnce()) -> ! {
    // As CPython does: the child does not share the parent's standard input.
    stdin_from_dev_null();

    // Not `take_hook` / `set_hook`: a thread of the parent that was panicking when we were
    // forked holds their lock for ever here. The runtime's hook is in place already.
    panics::report_as(name);
    let code = match panic::catch_unwind(AssertUnwindSafe(target)) {
        Ok(()) => 0,
        Err(payload) => {
            // Dropping the payload runs user code that could panic again, outside any
            // catch_unwind; we are about to `_exit`, so let the memory go with the process.
            std::mem::forget(payload);
            1
        }
    };
    // Join our own children (terminating daemons first), as CPython's `_bootstrap` does.
    let _ = panic::catch_unwind(children::exit_function);
    flush_std_streams();
    unistd::exit_now(code)
}

/// `/dev/null`, opened once by the first start (in the parent, before its first `fork`) for
/// every child to put on its standard input; `None` when the standard input is `/dev/null`
/// already (a service, a test harness, a benchmark), and children have nothing to do.
static DEV_NULL: OnceLock<Option<File>> = OnceLock::new();

/// Decides, once, what [`stdin_from_dev_null`] does in each child. Called before the `fork`, so
/// that a child neither opens a file nor initialises the `OnceLock`.
pub(super) fn prepare_stdin() {
    DEV_NULL.get_or_init(|| {
        let devnull = File::open("/dev/null").ok()?;
        let same = |a: &FileStat, b: &FileStat| a.st_rdev == b.st_rdev && a.st_mode == b.st_mode;
        match (fstat(std::io::stdin()), fstat(&devnull)) {
            (Ok(stdin), Ok(null)) if same(&stdin, &null) => None,
            _ => Some(devnull),
        }
    });
}

/// Puts `/dev/null` on the standard input, so that two processes never read the same
/// terminal (CPython's `util._close_stdin`). One `dup2`, of a file the parent opened once; a
/// failure leaves the inherited standard input, which is what the child had anyway.
fn stdin_from_dev_null() {
    prepare_stdin();
    if let Some(Some(devnull)) = DEV_NULL.get() {
        let _ = unistd::dup_onto_stdin(devnull);
    }
}

/// Flushes what Rust buffered for stdout and stderr (a `fork` would copy it, an `_exit` would
/// lose it).
pub(super) fn flush_std_streams() {
    let _ = std::io::stdout().flush();
    let _ = std::io::stderr().flush();
}

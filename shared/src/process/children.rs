//! The parent's side of its children: the record of each started child ([`Child`]: reaping it,
//! waiting for it, signalling it), and the registry of running children behind
//! [`active_children`], which is cleaned before each start and joined (daemons terminated
//! first) at the parent's normal exit, as CPython's `process._children` and
//! `util._exit_function`.

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::panic;
use std::sync::{Arc, Mutex, MutexGuard, Once, OnceLock, PoisonError};
use std::time::Duration;

use super::bootstrap::ChildInfo;
use super::current::{Current, ProcessInfo};
use super::panics::ReportName;
use super::{forkserver, lock};
use crate::deadline::Deadline;
use crate::error::{Error, Result};
use crate::sys::{poll, signal, stdlib, wait};

/// The parent's record of a started child, shared by its [`Process`](crate::Process) and the
/// registry behind [`active_children`].
pub(crate) struct Child {
    pub(crate) pid: libc::pid_t,
    pub(super) name: String,
    pub(super) daemon: bool,
    pub(super) identity: Vec<u32>,
    /// For a child of the fork server, which reaps it: the socket on which the server writes
    /// its exit code (readable once it has). `None` for a child we reap with `waitpid`.
    served: Option<OwnedFd>,
    /// A descriptor that is readable once our child has ended, opened on first need (a timed
    /// wait, [`Process::sentinel`](crate::Process::sentinel)) rather than at every start: a
    /// pidfd, or for a child already reaped when it was asked for, the read end of a pipe
    /// without writers. `Some(None)` on kernels without `pidfd_open`.
    sentinel: OnceLock<Option<OwnedFd>>,
    /// The exit code once reaped. Every `waitpid` and every signal happens with this lock
    /// held, so exactly one caller reaps, everyone sees its result, and no signal is sent to a
    /// pid that was reaped (and may have been reused) in between.
    exitcode: Mutex<Option<i32>>,
    /// What the parent made for the child before the `fork` and has no use for: freed once the
    /// child is reaped rather than at once, while the child still shares the pages (a free
    /// then writes to them, and each write to a shared page is a copy).
    leftovers: Mutex<Option<Leftovers>>,
}

/// What the `fork` start made for the child, or emptied, and the parent frees only once the
/// child is reaped (see [`Child::forked`]).
pub(super) struct Leftovers {
    /// The record the child took as its own.
    pub(super) _becoming: Current,
    /// The name the child's panic hook reports.
    pub(super) _report_name: ReportName,
}

impl Child {
    /// The record of a child we forked or spawned, which we reap with `waitpid`.
    pub(super) fn ours(pid: libc::pid_t, info: ChildInfo) -> Arc<Child> {
        Child::new(pid, info, None)
    }

    /// The record of a child of the fork server, which reports its exit code on `status`.
    pub(super) fn served(pid: libc::pid_t, info: ChildInfo, status: OwnedFd) -> Arc<Child> {
        Child::new(pid, info, Some(status))
    }

    fn new(pid: libc::pid_t, info: ChildInfo, served: Option<OwnedFd>) -> Arc<Child> {
        Arc::new(Child {
            pid,
            name: info.name,
            daemon: info.daemon,
            identity: info.identity,
            served,
            sentinel: OnceLock::new(),
            exitcode: Mutex::new(None),
            leftovers: Mutex::new(None),
        })
    }

    /// Fills in the pid of a record made before the `fork`, and what to free once the child is
    /// reaped. Only while nobody else holds the record.
    pub(super) fn forked(record: &mut Arc<Child>, pid: libc::pid_t, leftovers: Leftovers) {
        let child = Arc::get_mut(record).expect("a record is not shared before it is registered");
        child.pid = pid;
        *child.leftovers.get_mut().unwrap_or_else(PoisonError::into_inner) = Some(leftovers);
    }

    fn exitcode(&self) -> MutexGuard<'_, Option<i32>> {
        lock(&self.exitcode)
    }

    /// A descriptor that is readable once the child has ended (Python's `sentinel`); `None`
    /// only on kernels without pidfds. Opened on the first call, once.
    pub(crate) fn sentinel(&self) -> Option<BorrowedFd<'_>> {
        if let Some(status) = &self.served {
            return Some(status.as_fd());
        }
        self.sentinel
            .get_or_init(|| {
                // With the lock held, the pid cannot be reaped (and reused) while we open it.
                let code = self.exitcode();
                if code.is_none() {
                    // A failure only costs the sleeping wait; polling still works.
                    wait::pidfd_open(self.pid).ok().flatten()
                } else {
                    // Reaped already: a pipe whose writer is gone is readable for ever.
                    nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)
                        .ok()
                        .map(|(reader, _writer)| reader)
                }
            })
            .as_ref()
            .map(AsFd::as_fd)
    }

    /// Reaps the child if it has ended, without blocking.
    pub(crate) fn poll(&self) -> Result<Option<i32>> {
        let code = self.reap()?;
        if code.is_some() {
            // The child is gone: its pages are ours alone, and freeing costs no copy.
            drop(lock(&self.leftovers).take());
        }
        Ok(code)
    }

    /// Reaps the child if it has ended, without blocking (the work of [`Child::poll`]).
    fn reap(&self) -> Result<Option<i32>> {
        let mut code = self.exitcode();
        if code.is_none() {
            *code = match &self.served {
                Some(status) => forkserver::try_exit_code(status).map_err(|e| {
                    Error::os(
                        format!(
                            "read: the exit code of {} (pid {}) from the fork server",
                            self.name, self.pid
                        ),
                        e,
                    )
                })?,
                None => wait::try_wait(self.pid).map_err(|e| self.wait_error(e))?,
            };
        }
        Ok(*code)
    }

    fn wait_error(&self, e: std::io::Error) -> Error {
        let context = if e.raw_os_error() == Some(libc::ECHILD) {
            format!(
                "waitpid: {} (pid {}) was reaped by someone else (a waitpid(-1) elsewhere, or \
                 SIGCHLD set to SIG_IGN), so its exit code is lost",
                self.name, self.pid
            )
        } else {
            format!("waitpid: reaping {} (pid {})", self.name, self.pid)
        };
        Error::os(context, e)
    }

    /// Waits for the child to end, at most `timeout` if given. `Ok(None)` on timeout.
    ///
    /// Each round sleeps first and then reaps, so a join costs two system calls: the sleep,
    /// which returns at once for a child that has ended, and the `waitpid` that reaps it.
    pub(crate) fn wait(&self, timeout: Option<Duration>) -> Result<Option<i32>> {
        let deadline = Deadline::after(timeout);
        let mut backoff = Duration::from_micros(50);
        loop {
            if let Some(code) = *self.exitcode() {
                return Ok(Some(code));
            }
            if !deadline.passed() {
                self.sleep(deadline, &mut backoff)?;
            }
            if let Some(code) = self.poll()? {
                return Ok(Some(code));
            }
            if deadline.passed() {
                return Ok(None);
            }
        }
    }

    /// Sleeps until the child has ended or `deadline` passes (or a little less: the caller
    /// looks again and sleeps again).
    fn sleep(&self, deadline: Deadline, backoff: &mut Duration) -> Result<()> {
        let waiting =
            |call: &str, e| Error::os(format!("{call}: waiting for {} (pid {})", self.name, self.pid), e);
        if self.served.is_none() && deadline == Deadline::NEVER {
            // No timeout: the kernel tells us when it has ended, without a descriptor. The
            // exit code was not there a moment ago, so the pid is still our unreaped child
            // (only a reap by another thread in between, and the pid's reuse by a new child
            // of ours, could fool this; the reap under our lock then still reports right).
            match wait::wait_exited(self.pid) {
                Ok(()) => return Ok(()),
                // Reaped by someone: `poll` says by whom. Anything else: poll as below.
                Err(e) if e.raw_os_error() == Some(libc::ECHILD) => return Ok(()),
                Err(_) => {}
            }
        }
        match self.sentinel() {
            // Readable when the child ends: sleep in the kernel until then.
            Some(fd) => {
                poll::poll_readable(fd, deadline.left()).map_err(|e| waiting("poll", e))?;
            }
            // Old kernels: poll with a growing sleep, capped so the answer stays prompt.
            None => {
                std::thread::sleep(deadline.left_at_most(*backoff));
                *backoff = (*backoff * 2).min(Duration::from_millis(10));
            }
        }
        Ok(())
    }

    /// Sends `sig` unless the child has already been reaped (its pid may then be reused).
    pub(crate) fn signal(&self, sig: i32) -> Result<()> {
        let code = self.exitcode();
        if code.is_some() {
            return Ok(());
        }
        match signal::kill(self.pid, sig) {
            Ok(()) => Ok(()),
            // Cannot happen for an unreaped child of ours, but there is nothing left to signal.
            Err(e) if e.raw_os_error() == Some(libc::ESRCH) => Ok(()),
            Err(e) => Err(Error::os(
                format!(
                    "kill: sending {} to {} (pid {})",
                    signal::signal_name(sig),
                    self.name,
                    self.pid
                ),
                e,
            )),
        }
    }
}

/// The running children of this process, in the order they were started.
static CHILDREN: Mutex<Vec<Arc<Child>>> = Mutex::new(Vec::new());

/// The registry, locked. The fork start holds it across `fork` (see `fork.rs`).
pub(super) fn registry() -> MutexGuard<'static, Vec<Arc<Child>>> {
    lock(&CHILDREN)
}

/// Adds a child that has just started to the registry.
pub(super) fn register(child: &Arc<Child>) {
    registry().push(Arc::clone(child));
}

/// What every start does first: drop the finished children from the registry, and make sure
/// the registry is joined at this process's exit.
pub(super) fn before_start() {
    cleanup();
    register_exit_handler();
}

/// Drops finished children from the registry (CPython's `_cleanup`, run before each start).
/// Each finished child is reaped on the way, so none stays a zombie.
fn cleanup() {
    registry().retain(|c| matches!(c.poll(), Ok(None)));
}

/// Removes a child that has ended from the registry (CPython's `_children.discard`).
pub(super) fn forget_child(child: &Arc<Child>) {
    registry().retain(|c| !Arc::ptr_eq(c, child));
}

/// What Python runs at interpreter exit (`util._exit_function`): terminate daemonic children,
/// then join every child.
pub(super) fn exit_function() {
    let children: Vec<Arc<Child>> = registry().clone();
    for child in children.iter().filter(|c| c.daemon) {
        let _ = child.signal(libc::SIGTERM);
    }
    for child in &children {
        let _ = child.wait(None);
    }
    registry().clear();
    // Its children are all reported now; the fork server (if we started one) goes too.
    forkserver::shutdown();
}

extern "C" fn exit_handler() {
    // A panic must not unwind into libc's `exit`.
    let _ = panic::catch_unwind(exit_function);
}

fn register_exit_handler() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // Without the handler, children are still reaped by the OS when we exit; only the
        // join-at-exit courtesy is lost, so a failure here is not worth failing `start` for.
        let _ = stdlib::atexit(exit_handler);
    });
}

/// The children of the calling process that are still running, in the order they were
/// started, like Python's `multiprocessing.active_children()` (whose order is a set's). As in
/// Python, it reaps the children that have ended, including those whose
/// [`Process`](crate::Process) was dropped.
///
/// # Examples
///
/// ```
/// use multiprocessing::{active_children, Process};
///
/// fn worker(seconds: u64) {
///     std::thread::sleep(std::time::Duration::from_secs(seconds));
/// }
///
/// let mut p = Process::new(worker, 60);
/// assert!(active_children().is_empty());
/// p.start()?;
/// assert_eq!(active_children()[0].name(), "Process-1");
/// p.kill()?;
/// p.join()?;
/// assert!(active_children().is_empty());
/// # Ok::<(), multiprocessing::Error>(())
/// ```
pub fn active_children() -> Vec<ProcessInfo> {
    cleanup();
    registry().iter().map(ProcessInfo::of_child).collect()
}

//! Processes: [`Process`], [`current_process`], [`parent_process`], [`active_children`].
//!
//! Mirrors CPython's `Lib/multiprocessing/process.py` and `popen_fork.py`: a process is made
//! with a target and its arguments, started with `fork(2)`, and ended either by returning from
//! its target (exit code 0), by panicking (exit code 1, after printing `Process <name>:` and the
//! panic to stderr), or by a signal (exit code `-N`).
//!
//! # Fork safety
//! `fork` copies only the calling thread. A child started from a multi-threaded parent may find
//! a lock (the allocator's, stdout's) held forever by a thread that does not exist in the child.
//! Start processes from a single-threaded parent, or before other threads are spawned; the
//! `forkserver` start method lifts this restriction.

#![allow(
    unsafe_code,
    reason = "fork is the one unsafe call a process runtime cannot avoid"
)]

use std::fmt;
use std::io::Write;
use std::os::fd::OwnedFd;
use std::panic::{self, AssertUnwindSafe};
use std::sync::{Arc, Mutex, MutexGuard, Once, PoisonError};
use std::time::{Duration, Instant};

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::error::{Error, Result};
use crate::sys::{signal, stdlib, unistd, wait};

/// A child process that runs `target(args)`, like Python's `multiprocessing.Process`.
///
/// Build it with [`Process::new`], optionally name it or make it a daemon, then [`start`] it
/// and [`join`] it.
///
/// # Examples
///
/// ```
/// use multiprocessing::Process;
///
/// fn worker(name: String) {
///     println!("进程 {name} 正在运行");
/// }
///
/// let mut p = Process::new(worker, "A".to_string());
/// p.start()?;
/// p.join()?;
/// assert_eq!(p.exitcode(), Some(0));
/// # Ok::<(), multiprocessing::Error>(())
/// ```
///
/// Several arguments travel as a tuple, as in Python's `args=(lock, i)`; the target takes the
/// tuple apart in its parameter list:
///
/// ```
/// use multiprocessing::Process;
///
/// fn worker((a, b): (u32, String)) {
///     assert_eq!((a, b.as_str()), (1, "two"));
/// }
///
/// let mut p = Process::new(worker, (1, "two".to_string()));
/// p.start()?;
/// p.join()?;
/// assert_eq!(p.exitcode(), Some(0));
/// # Ok::<(), multiprocessing::Error>(())
/// ```
///
/// # Drop
/// Dropping a `Process` that is still running does not kill or wait for it, as in Python: the
/// child runs on and stays registered, so [`active_children`] still lists it, the next
/// [`Process::start`] reaps it once it ends, and at the parent's normal exit it is joined (or
/// terminated first, if it is a daemon). No zombie is left behind.
///
/// [`start`]: Process::start
/// [`join`]: Process::join
pub struct Process {
    name: String,
    daemon: bool,
    identity: Vec<u32>,
    target: Option<Box<dyn FnOnce()>>,
    child: Option<Arc<Child>>,
}

impl Process {
    /// A process that will run `target(args)` once started. `args` is one value; pass a tuple
    /// for several, as Python's `args=(...)`.
    ///
    /// The arguments must be serde types so that the same call works under the `spawn` start
    /// method, where they are sent to a fresh executable; under `fork` they are simply moved
    /// into the child's copy of memory.
    pub fn new<A>(target: fn(A), args: A) -> Process
    where
        A: Serialize + DeserializeOwned + 'static,
    {
        Process::from_closure(Box::new(move || target(args)))
    }

    /// A process running an arbitrary closure; for the runtime's own workers and servers.
    pub(crate) fn from_closure(target: Box<dyn FnOnce()>) -> Process {
        let identity = next_identity();
        let name = format!("Process-{}", join_identity(&identity));
        Process {
            name,
            daemon: false,
            identity,
            target: Some(target),
            child: None,
        }
    }

    /// Sets the name (Python's `name=` argument), returning the process for chaining.
    #[must_use]
    pub fn with_name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// Sets the daemon flag (Python's `daemon=` argument), returning the process for chaining.
    ///
    /// A daemon process is terminated when its parent exits normally, and may not start
    /// children of its own.
    #[must_use]
    pub fn with_daemon(mut self, daemon: bool) -> Self {
        self.daemon = daemon;
        self
    }

    /// The process's name: `Process-1`, `Process-1:2` for a child's child, or what was set.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Renames the process. A started child keeps the name it was started with.
    pub fn set_name(&mut self, name: impl Into<String>) {
        self.name = name.into();
    }

    /// Whether this is a daemon process.
    pub fn daemon(&self) -> bool {
        self.daemon
    }

    /// Sets the daemon flag.
    ///
    /// # Errors
    /// [`Error::State`] once the process has started, as CPython refuses it.
    pub fn set_daemon(&mut self, daemon: bool) -> Result<()> {
        if self.child.is_some() {
            return Err(Error::state("process has already started"));
        }
        self.daemon = daemon;
        Ok(())
    }

    /// The identity numbers behind the default name: `[1, 2]` for `Process-1:2`.
    pub fn ident(&self) -> &[u32] {
        &self.identity
    }

    /// Starts the child: forks, runs the target in the child, and returns in the parent.
    ///
    /// # Errors
    /// [`Error::State`] when the process was already started ("cannot start a process twice")
    /// or when the caller is a daemon process ("daemonic processes are not allowed to have
    /// children"); [`Error::Os`] when `fork` fails.
    pub fn start(&mut self) -> Result<()> {
        let Some(target) = self.target.take() else {
            return Err(Error::state("cannot start a process twice"));
        };
        if current().daemon {
            self.target = Some(target);
            return Err(Error::state(
                "daemonic processes are not allowed to have children",
            ));
        }
        let info = ChildInfo {
            name: self.name.clone(),
            identity: self.identity.clone(),
            daemon: self.daemon,
        };
        match start_child(info, target) {
            Ok(child) => {
                self.child = Some(child);
                Ok(())
            }
            Err((e, target)) => {
                self.target = Some(target);
                Err(e)
            }
        }
    }

    /// Waits until the process ends.
    ///
    /// # Errors
    /// [`Error::State`] when the process was never started; [`Error::Os`] if waiting fails.
    pub fn join(&self) -> Result<()> {
        self.started()?.wait(None).map(drop)
    }

    /// Waits at most `timeout` for the process to end. Returns `true` if it ended, `false` if
    /// it is still running (Python's `join(timeout)` followed by a look at `exitcode`).
    ///
    /// # Errors
    /// As [`Process::join`].
    pub fn join_timeout(&self, timeout: Duration) -> Result<bool> {
        Ok(self.started()?.wait(Some(timeout))?.is_some())
    }

    /// Whether the process has started and not yet ended.
    pub fn is_alive(&self) -> bool {
        match &self.child {
            None => false,
            Some(child) => matches!(child.poll(), Ok(None)),
        }
    }

    /// The child's pid once started.
    pub fn pid(&self) -> Option<i32> {
        self.child.as_ref().map(|c| c.pid)
    }

    /// How the process ended: `None` while it runs (or before it starts), `0` after a normal
    /// return, `1` after a panic, `-N` when signal `N` killed it.
    pub fn exitcode(&self) -> Option<i32> {
        self.child.as_ref().and_then(|c| c.poll().ok().flatten())
    }

    /// Sends `SIGTERM`. The child is not waited for: [`join`](Process::join) it afterwards.
    ///
    /// # Errors
    /// [`Error::State`] before start; [`Error::Os`] if the signal cannot be sent.
    pub fn terminate(&self) -> Result<()> {
        self.started()?.signal(libc::SIGTERM)
    }

    /// Sends `SIGKILL`, which the child cannot catch.
    ///
    /// # Errors
    /// As [`Process::terminate`].
    pub fn kill(&self) -> Result<()> {
        self.started()?.signal(libc::SIGKILL)
    }

    fn started(&self) -> Result<&Arc<Child>> {
        self.child
            .as_ref()
            .ok_or_else(|| Error::state("can only join a started process"))
    }
}

impl fmt::Debug for Process {
    /// Like CPython's repr: `<Process name='Process-1' pid=42 started>`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let status = match (&self.child, self.exitcode()) {
            (None, _) => "initial".to_string(),
            (Some(_), None) => "started".to_string(),
            (Some(_), Some(code)) => format!("stopped exitcode={code}"),
        };
        write!(f, "<Process name='{}'", self.name)?;
        if let Some(pid) = self.pid() {
            write!(f, " pid={pid}")?;
        }
        if self.daemon {
            write!(f, " daemon")?;
        }
        write!(f, " {status}>")
    }
}

/// What a child runs.
type Target = Box<dyn FnOnce()>;

/// What a forked child is told about itself.
pub(crate) struct ChildInfo {
    pub(crate) name: String,
    pub(crate) identity: Vec<u32>,
    pub(crate) daemon: bool,
}

/// The parent's record of a started child, shared by its [`Process`] and the registry behind
/// [`active_children`].
pub(crate) struct Child {
    pub(crate) pid: libc::pid_t,
    name: String,
    daemon: bool,
    identity: Vec<u32>,
    /// Readable once the child has ended; `None` on kernels without `pidfd_open`.
    pidfd: Option<OwnedFd>,
    /// The exit code once reaped. Every `waitpid` happens with this lock held, so exactly one
    /// caller reaps and everyone sees its result.
    exitcode: Mutex<Option<i32>>,
}

impl Child {
    /// Reaps the child if it has ended, without blocking.
    pub(crate) fn poll(&self) -> Result<Option<i32>> {
        let mut code = lock(&self.exitcode);
        if code.is_none() {
            *code =
                wait::try_wait(self.pid).map_err(|e| Error::os(format!("waitpid for {}", self.name), e))?;
        }
        Ok(*code)
    }

    /// Waits for the child to end, at most `timeout` if given. `Ok(None)` on timeout.
    pub(crate) fn wait(&self, timeout: Option<Duration>) -> Result<Option<i32>> {
        let deadline = timeout.map(|t| Instant::now() + t);
        let mut backoff = Duration::from_micros(50);
        loop {
            if let Some(code) = self.poll()? {
                return Ok(Some(code));
            }
            let left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
            if left == Some(Duration::ZERO) {
                return Ok(None);
            }
            match &self.pidfd {
                // The pidfd turns readable when the child ends: sleep in the kernel until then.
                Some(fd) => {
                    wait::wait_readable(fd, left)
                        .map_err(|e| Error::os(format!("waiting for {}", self.name), e))?;
                }
                // Old kernels: poll with a growing sleep, capped so the answer stays prompt.
                None => {
                    std::thread::sleep(left.map_or(backoff, |l| l.min(backoff)));
                    backoff = (backoff * 2).min(Duration::from_millis(10));
                }
            }
        }
    }

    /// Sends `sig` unless the child has already been reaped (its pid may then be reused).
    pub(crate) fn signal(&self, sig: i32) -> Result<()> {
        let code = lock(&self.exitcode);
        if code.is_some() {
            return Ok(());
        }
        match signal::kill(self.pid, sig) {
            Ok(()) => Ok(()),
            // A zombie that is not yet reaped: nothing left to signal.
            Err(e) if e.raw_os_error() == Some(libc::ESRCH) => Ok(()),
            Err(e) => Err(Error::os(
                format!("sending {} to {}", signal::signal_name(sig), self.name),
                e,
            )),
        }
    }

    fn info(&self) -> ProcessInfo {
        ProcessInfo {
            name: self.name.clone(),
            pid: self.pid,
            daemon: self.daemon,
            ident: self.identity.clone(),
        }
    }
}

/// Forks a child that runs `target` and exits. On failure the target is handed back.
pub(crate) fn start_child(
    info: ChildInfo,
    target: Box<dyn FnOnce()>,
) -> std::result::Result<Arc<Child>, (Error, Target)> {
    cleanup();
    register_exit_handler();
    // Anything buffered now would otherwise be printed twice, once by each process.
    flush_std_streams();
    // SAFETY: the child only touches state this thread owns or that the runtime's documented
    // fork-safety rule covers (see the module docs), then leaves through `_exit`.
    let forked = unsafe { unistd::fork() };
    match forked {
        Err(e) => Err((Error::os(format!("fork for {}", info.name), e), target)),
        Ok(unistd::Fork::Child) => bootstrap(info, target),
        Ok(unistd::Fork::Parent(pid)) => {
            // A failed pidfd_open only costs us the sleeping wait; polling still works.
            let pidfd = wait::pidfd_open(pid).ok().flatten();
            let child = Arc::new(Child {
                pid,
                name: info.name,
                daemon: info.daemon,
                identity: info.identity,
                pidfd,
                exitcode: Mutex::new(None),
            });
            lock(&CHILDREN).push(Arc::clone(&child));
            Ok(child)
        }
    }
}

/// The first and last thing a forked child does: become the new process, run the target, and
/// leave through `_exit` so that it never returns into the parent's `main`.
fn bootstrap(info: ChildInfo, target: Box<dyn FnOnce()>) -> ! {
    let parent = {
        let me = current();
        Some((me.pid, me.name.clone()))
    };
    {
        let mut me = current();
        *me = Current {
            name: info.name.clone(),
            identity: info.identity,
            daemon: info.daemon,
            pid: unistd::getpid(),
            counter: 0,
            parent,
        };
    }
    // The parent's children are not ours; forget them (this closes our copies of their pidfds).
    lock(&CHILDREN).clear();
    // As CPython does: the child does not share the parent's standard input.
    let _ = unistd::redirect_to_dev_null(0);

    let name = info.name;
    let previous = panic::take_hook();
    panic::set_hook(Box::new(move |panic_info| {
        eprintln!("Process {name}:");
        previous(panic_info);
    }));
    let code = match panic::catch_unwind(AssertUnwindSafe(target)) {
        Ok(()) => 0,
        Err(_) => 1,
    };
    exit_function();
    flush_std_streams();
    unistd::exit_now(code)
}

fn flush_std_streams() {
    let _ = std::io::stdout().flush();
    let _ = std::io::stderr().flush();
}

/// What Python runs at interpreter exit (`util._exit_function`): terminate daemonic children,
/// then join every child.
fn exit_function() {
    let children: Vec<Arc<Child>> = lock(&CHILDREN).clone();
    for child in children.iter().filter(|c| c.daemon) {
        let _ = child.signal(libc::SIGTERM);
    }
    for child in &children {
        let _ = child.wait(None);
    }
    lock(&CHILDREN).clear();
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

/// Drops finished children from the registry (CPython's `_cleanup`, run before each start).
fn cleanup() {
    lock(&CHILDREN).retain(|c| matches!(c.poll(), Ok(None)));
}

/// A description of a process: the calling one ([`current_process`]), its parent
/// ([`parent_process`]) or a running child ([`active_children`]).
///
/// # Examples
///
/// ```
/// use multiprocessing::current_process;
///
/// let me = current_process();
/// assert_eq!(me.name(), "MainProcess");
/// assert_eq!(me.pid(), std::process::id() as i32);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProcessInfo {
    name: String,
    pid: i32,
    daemon: bool,
    ident: Vec<u32>,
}

impl ProcessInfo {
    /// The process's name, e.g. `MainProcess` or `Process-1`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The process id.
    pub fn pid(&self) -> i32 {
        self.pid
    }

    /// Whether it is a daemon process.
    pub fn daemon(&self) -> bool {
        self.daemon
    }

    /// The identity numbers behind its name (empty for `MainProcess`).
    pub fn ident(&self) -> &[u32] {
        &self.ident
    }

    /// Whether the process still exists (a zombie that was not yet reaped counts as alive).
    pub fn is_alive(&self) -> bool {
        self.pid == unistd::getpid() || signal::kill(self.pid, 0).is_ok()
    }
}

/// The process that is running this code, like Python's `multiprocessing.current_process()`.
///
/// # Examples
///
/// ```
/// use multiprocessing::{current_process, Process};
///
/// fn worker(_: ()) {
///     assert_eq!(current_process().name(), "Process-1");
/// }
///
/// assert_eq!(current_process().name(), "MainProcess");
/// let mut p = Process::new(worker, ());
/// p.start()?;
/// p.join()?;
/// assert_eq!(p.exitcode(), Some(0));
/// # Ok::<(), multiprocessing::Error>(())
/// ```
pub fn current_process() -> ProcessInfo {
    let me = current();
    ProcessInfo {
        name: me.name.clone(),
        pid: unistd::getpid(),
        daemon: me.daemon,
        ident: me.identity.clone(),
    }
}

/// The parent of the calling process, or `None` in the main process (Python's
/// `multiprocessing.parent_process()`).
///
/// # Examples
///
/// ```
/// use multiprocessing::parent_process;
///
/// assert!(parent_process().is_none());
/// ```
pub fn parent_process() -> Option<ProcessInfo> {
    let me = current();
    me.parent.as_ref().map(|(pid, name)| ProcessInfo {
        name: name.clone(),
        pid: *pid,
        daemon: false,
        ident: Vec::new(),
    })
}

/// The children of the calling process that are still running, like Python's
/// `multiprocessing.active_children()`. As in Python, it reaps the children that have ended.
///
/// # Examples
///
/// ```
/// use multiprocessing::{active_children, Process};
///
/// fn worker(_: ()) {}
///
/// let mut p = Process::new(worker, ());
/// p.start()?;
/// p.join()?;
/// assert!(active_children().is_empty());
/// # Ok::<(), multiprocessing::Error>(())
/// ```
pub fn active_children() -> Vec<ProcessInfo> {
    cleanup();
    lock(&CHILDREN).iter().map(|c| c.info()).collect()
}

/// The number of CPUs online, like Python's `multiprocessing.cpu_count()`.
///
/// # Examples
///
/// ```
/// assert!(multiprocessing::cpu_count() >= 1);
/// ```
pub fn cpu_count() -> usize {
    unistd::cpu_count()
}

/// Python's `freeze_support()`. Under the `fork` start method, the default on Linux, it does
/// nothing, exactly as in CPython on Linux: a forked child never runs `main` again, so there is
/// nothing to intercept. Calling it first in `main` costs nothing and keeps the program ready
/// for the `spawn` start method.
///
/// # Examples
///
/// ```
/// multiprocessing::freeze_support();
/// ```
pub fn freeze_support() {}

/// What the calling process knows about itself.
struct Current {
    name: String,
    identity: Vec<u32>,
    daemon: bool,
    pid: libc::pid_t,
    /// How many processes this one has made (CPython's `_process_counter`).
    counter: u32,
    parent: Option<(libc::pid_t, String)>,
}

static CURRENT: Mutex<Option<Current>> = Mutex::new(None);
static CHILDREN: Mutex<Vec<Arc<Child>>> = Mutex::new(Vec::new());

/// Locks a runtime mutex; a panic elsewhere while it was held leaves data we can still use.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The calling process's record, made on first use for the main process.
fn current() -> CurrentGuard {
    let mut guard = lock(&CURRENT);
    guard.get_or_insert_with(|| Current {
        name: "MainProcess".into(),
        identity: Vec::new(),
        daemon: false,
        pid: unistd::getpid(),
        counter: 0,
        parent: None,
    });
    CurrentGuard(guard)
}

struct CurrentGuard(MutexGuard<'static, Option<Current>>);

impl std::ops::Deref for CurrentGuard {
    type Target = Current;
    fn deref(&self) -> &Current {
        self.0.as_ref().expect("initialised by current()")
    }
}

impl std::ops::DerefMut for CurrentGuard {
    fn deref_mut(&mut self) -> &mut Current {
        self.0.as_mut().expect("initialised by current()")
    }
}

/// The identity of the next process this one makes: ours plus the next count.
pub(crate) fn next_identity() -> Vec<u32> {
    let mut me = current();
    me.counter += 1;
    let mut identity = me.identity.clone();
    identity.push(me.counter);
    identity
}

/// `[1, 2]` as `1:2`.
pub(crate) fn join_identity(identity: &[u32]) -> String {
    identity.iter().map(u32::to_string).collect::<Vec<_>>().join(":")
}

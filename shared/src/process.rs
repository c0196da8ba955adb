//! Processes: [`Process`], [`current_process`], [`parent_process`], [`active_children`].
//!
//! Mirrors CPython's `Lib/multiprocessing/process.py` and `popen_fork.py`: a process is made
//! with a target and its arguments, started with `fork(2)` (or by the `spawn` and `forkserver`
//! start methods of `spawn.rs` and `forkserver.rs`, chosen through `context.rs`), and ended
//! either by returning from its target (exit code 0), by panicking (exit code 1, after printing
//! `Process <name>:` and the panic to stderr), or by a signal (exit code `-N`).
//!
//! What a user must know (fork safety, what happens when the parent dies) is documented on
//! [`Process`], since this module is private and only its items are re-exported.
#![allow(
    unsafe_code,
    reason = "fork is the one unsafe call a process runtime cannot avoid"
)]

use std::fmt;
use std::io::Write;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::panic::{self, AssertUnwindSafe};
use std::sync::{Arc, Mutex, MutexGuard, Once, PoisonError};
use std::time::{Duration, Instant};

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::context::{self, StartMethod};
use crate::error::{Error, Result};
use crate::spawn::{self, Call};
use crate::sys::{poll, signal, stdlib, unistd, wait};

/// A child process that runs `target(args)`, like Python's `multiprocessing.Process`.
///
/// Build it with [`Process::new`], optionally name it or make it a daemon, then [`start`] it
/// and [`join`] it. Names follow CPython: the first process a program makes is `Process-1`,
/// the next `Process-2`, and the first child made by `Process-1` is `Process-1:1`.
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
/// # Panics in the child
/// A panic in the target does not reach the parent: the child prints `Process <name>:` and the
/// panic message to stderr (as CPython prints `Process Process-1:` and the traceback) and ends
/// with exit code 1.
///
/// # Fork safety
/// `fork` copies only the calling thread. A child started from a multi-threaded parent may find
/// a lock held forever by a thread that does not exist in the child. The runtime protects the
/// locks it knows the child will take: [`Process::start`] holds stdout's and stderr's locks and
/// the runtime's own process tables across the `fork`, so the child finds them free, and glibc's
/// `malloc` resets its own locks in the child. Locks of your own that another thread holds at
/// the moment of the `fork` stay held in the child: start processes from a single-threaded
/// parent, or before other threads are spawned, or make sure the child never takes them; or
/// use the `forkserver` or `spawn` start method ([`get_context`](crate::get_context),
/// [`set_start_method`](crate::set_start_method)), whose children do not copy the parent's
/// threads' state at all.
///
/// # When the parent dies
/// At the parent's normal exit (`main` returns, or [`std::process::exit`]) its daemon children
/// are terminated and the others joined, as CPython does. If the parent dies without exiting
/// normally (killed by a signal, `abort`, `_exit`), its
/// non-daemonic children run on, adopted by `init` (or the nearest subreaper), which reaps them
/// when they end, as in CPython. *Daemonic* children die with their parent, which CPython's do
/// not: a daemon started from the main thread asks the kernel for `SIGKILL` when its parent
/// dies (`PR_SET_PDEATHSIG`, set right after the fork, then a check that the parent is still
/// alive to close the race), so a parent killed by `SIGKILL` or the OOM killer leaves no
/// orphaned daemon behind. A daemon started from another thread is not tied this way (the
/// kernel would kill it when that *thread* ends), and a daemon that was ended like this runs
/// no cleanup of its own. [`Pool`](crate::Pool) workers die with their pool's process too.
/// Under the `forkserver` start method a daemon is the fork server's child, so it dies with the
/// server, which leaves once the parent and the parent's forked children are gone.
///
/// # Drop
/// Dropping a `Process` does not kill or wait for the child, as in Python: a child that has
/// already ended is reaped on the spot; one that still runs stays registered, so
/// [`active_children`] still lists it, and it is reaped by the first [`Process::start`] or
/// [`active_children`] call after it ends, or at the parent's normal exit, where it is joined
/// (or terminated first, if it is a daemon). No zombie outlives the parent's exit.
///
/// [`start`]: Process::start
/// [`join`]: Process::join
pub struct Process {
    name: String,
    daemon: bool,
    identity: Vec<u32>,
    /// The pid of the process that made this object: only it may start, join or signal it.
    creator: libc::pid_t,
    target: Option<Target>,
    /// The start method chosen by a [`Context`](crate::Context); `None` uses the default at
    /// `start`, as CPython's plain `Process` does.
    method: Option<StartMethod>,
    child: Option<Arc<Child>>,
    /// Whether a daemon may outlive a parent that dies abnormally (the manager's server, which
    /// watches its owner itself and cleans up on the way out).
    outlives_parent: bool,
}

/// What a child runs.
pub(crate) type Target = Box<dyn Task>;

/// A process's target: run it in a forked child, or describe it as a [`Call`] for a child that
/// is a new run of the executable (`spawn`, `forkserver`).
pub(crate) trait Task {
    /// Runs the target (in a forked child).
    fn run(self: Box<Self>);
    /// The target as a call another run of this executable can make.
    fn to_call(&self, who: &str) -> Result<Call>;
}

/// `target(args)` from [`Process::new`]: sendable to any start method.
struct FnTask<A> {
    target: fn(A),
    args: A,
}

impl<A: Serialize + DeserializeOwned + 'static> Task for FnTask<A> {
    fn run(self: Box<Self>) {
        (self.target)(self.args)
    }

    fn to_call(&self, who: &str) -> Result<Call> {
        Call::new(self.target, &self.args)
            .map_err(|e| Error::state(format!("{who}: cannot send its arguments to the child: {e}")))
    }
}

/// A closure (the runtime's own servers): only a forked child can run it.
struct ClosureTask(Box<dyn FnOnce()>);

impl Task for ClosureTask {
    fn run(self: Box<Self>) {
        (self.0)()
    }

    fn to_call(&self, who: &str) -> Result<Call> {
        Err(Error::state(format!(
            "{who}: its target is a closure, which only the fork start method can run"
        )))
    }
}

impl Process {
    /// A process that will run `target(args)` once started. `args` is one value; pass a tuple
    /// for several, as Python's `args=(...)`, and `()` for none.
    ///
    /// The arguments must be serde types so that the same call works under the `spawn` start
    /// method, where they are sent to a fresh executable; under `fork` they are simply moved
    /// into the child's copy of memory and serde is never called.
    ///
    /// Making a process takes the next number of the calling process's counter, as CPython
    /// does, whether or not the process is started: its default name is `Process-N`.
    ///
    /// # Examples
    ///
    /// ```
    /// use multiprocessing::Process;
    ///
    /// fn worker(_: ()) {}
    ///
    /// let p = Process::new(worker, ());
    /// assert_eq!(p.name(), "Process-1");
    /// assert_eq!(Process::new(worker, ()).name(), "Process-2");
    /// ```
    pub fn new<A>(target: fn(A), args: A) -> Process
    where
        A: Serialize + DeserializeOwned + 'static,
    {
        Process::from_task(Box::new(FnTask { target, args }))
    }

    /// A process running an arbitrary closure; for the runtime's own workers and servers. Only
    /// the `fork` start method can run it.
    pub(crate) fn from_closure(target: Box<dyn FnOnce()>) -> Process {
        Process::from_task(Box::new(ClosureTask(target))).with_start_method(StartMethod::Fork)
    }

    fn from_task(target: Target) -> Process {
        let identity = next_identity();
        let name = format!("Process-{}", join_identity(&identity));
        // As CPython copies the current process's config: a process made inside a daemon is a
        // daemon too (it cannot be started there anyway).
        let daemon = current().daemon;
        Process {
            name,
            daemon,
            identity,
            creator: unistd::getpid(),
            target: Some(target),
            method: None,
            child: None,
            outlives_parent: false,
        }
    }

    /// Lets this daemon outlive a parent that dies abnormally, for a child that watches its
    /// parent itself and must clean up before it goes (the manager's server).
    pub(crate) fn outliving_parent(mut self) -> Self {
        self.outlives_parent = true;
        self
    }

    /// Uses `method` to start, whatever the default is.
    pub(crate) fn with_start_method(mut self, method: StartMethod) -> Self {
        self.method = Some(method);
        self
    }

    /// Uses `method` to start, and takes the name a context of that method gives:
    /// `SpawnProcess-1` instead of `Process-1`.
    pub(crate) fn with_context_method(mut self, method: StartMethod) -> Self {
        if self.name == format!("Process-{}", join_identity(&self.identity)) {
            self.name = format!("{}-{}", method.process_class(), join_identity(&self.identity));
        }
        self.with_start_method(method)
    }

    /// The start method `start` will use: the one chosen for this process, or the default.
    pub(crate) fn start_method(&self) -> StartMethod {
        self.method.unwrap_or_else(context::default_start_method)
    }

    /// Sets the name (Python's `name=` argument), returning the process for chaining.
    ///
    /// # Examples
    ///
    /// ```
    /// use multiprocessing::Process;
    ///
    /// fn worker(_: ()) {}
    ///
    /// let p = Process::new(worker, ()).with_name("工作进程");
    /// assert_eq!(p.name(), "工作进程");
    /// ```
    #[must_use]
    pub fn with_name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// Sets the daemon flag (Python's `daemon=` argument), returning the process for chaining.
    /// Use it before [`start`](Process::start); once started, the child keeps the flag it was
    /// started with (use [`set_daemon`](Process::set_daemon) for an error instead).
    ///
    /// A daemon process is terminated when its parent exits normally, and may not start
    /// children of its own. Unlike CPython's, it is also killed when its parent dies without
    /// exiting normally (SIGKILL, a crash): see "When the parent dies" on [`Process`].
    ///
    /// # Examples
    ///
    /// ```
    /// use multiprocessing::Process;
    ///
    /// fn worker(_: ()) {}
    ///
    /// let mut p = Process::new(worker, ()).with_daemon(true);
    /// assert!(p.daemon());
    /// p.start()?;
    /// p.join()?;
    /// # Ok::<(), multiprocessing::Error>(())
    /// ```
    #[must_use]
    pub fn with_daemon(mut self, daemon: bool) -> Self {
        if self.child.is_none() {
            self.daemon = daemon;
        }
        self
    }

    /// The process's name: `Process-1`, `Process-1:2` for a child's child, or what was set.
    ///
    /// # Examples
    ///
    /// ```
    /// use multiprocessing::Process;
    ///
    /// fn worker(_: ()) {}
    ///
    /// assert_eq!(Process::new(worker, ()).name(), "Process-1");
    /// ```
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Renames the process. A started child keeps the name it was started with: this changes
    /// only what the parent's object reports.
    ///
    /// # Examples
    ///
    /// ```
    /// use multiprocessing::Process;
    ///
    /// fn worker(_: ()) {}
    ///
    /// let mut p = Process::new(worker, ());
    /// p.set_name("读者");
    /// assert_eq!(p.name(), "读者");
    /// ```
    pub fn set_name(&mut self, name: impl Into<String>) {
        self.name = name.into();
    }

    /// Whether this is a daemon process.
    ///
    /// # Examples
    ///
    /// ```
    /// use multiprocessing::Process;
    ///
    /// fn worker(_: ()) {}
    ///
    /// assert!(!Process::new(worker, ()).daemon());
    /// ```
    pub fn daemon(&self) -> bool {
        self.daemon
    }

    /// Sets the daemon flag.
    ///
    /// # Errors
    /// [`Error::State`] once the process has started, as CPython refuses it.
    ///
    /// # Examples
    ///
    /// ```
    /// use multiprocessing::Process;
    ///
    /// fn worker(_: ()) {}
    ///
    /// let mut p = Process::new(worker, ());
    /// p.set_daemon(true)?;
    /// p.start()?;
    /// assert!(p.set_daemon(false).is_err());
    /// p.join()?;
    /// # Ok::<(), multiprocessing::Error>(())
    /// ```
    pub fn set_daemon(&mut self, daemon: bool) -> Result<()> {
        if self.child.is_some() {
            return Err(Error::state(format!(
                "{}: process has already started",
                self.name
            )));
        }
        self.daemon = daemon;
        Ok(())
    }

    /// The identity numbers behind the default name: `[1, 2]` for `Process-1:2`.
    ///
    /// Unlike CPython's `ident`, which is a synonym of `pid`, this is CPython's `_identity`;
    /// the pid is [`Process::pid`].
    ///
    /// # Examples
    ///
    /// ```
    /// use multiprocessing::Process;
    ///
    /// fn worker(_: ()) {}
    ///
    /// assert_eq!(Process::new(worker, ()).ident(), &[1]);
    /// ```
    pub fn ident(&self) -> &[u32] {
        &self.identity
    }

    /// Starts the child by the process's start method. Under `fork` (the default) it flushes
    /// stdout and stderr, forks, runs the target in the child, and returns in the parent; the
    /// child never returns from this call: it leaves through `_exit` when its target ends. Under
    /// `spawn` and `forkserver` the child is a new run of the program (or a child of the fork
    /// server) that receives the target and its arguments and runs them.
    ///
    /// Once the child runs, the parent drops its own copy of the target and its arguments, as
    /// CPython's `start` deletes `_target` and `_args`: a pipe end moved into
    /// [`Process::new`] is then open only in the child, so its peer sees end of file when the
    /// child ends.
    ///
    /// # Errors
    /// [`Error::State`] when the process was already started ("cannot start a process twice"),
    /// when the caller is a daemon process ("daemonic processes are not allowed to have
    /// children") or did not make this object; [`Error::Os`] when the child cannot be started
    /// (`fork` fails, say; the process can then be started again).
    ///
    /// # Examples
    ///
    /// ```
    /// use multiprocessing::Process;
    ///
    /// fn worker(_: ()) {}
    ///
    /// let mut p = Process::new(worker, ());
    /// p.start()?;
    /// assert!(p.start().is_err(), "a process starts once");
    /// p.join()?;
    /// # Ok::<(), multiprocessing::Error>(())
    /// ```
    pub fn start(&mut self) -> Result<()> {
        let Some(target) = self.target.take() else {
            return Err(Error::state(format!(
                "{}: cannot start a process twice",
                self.name
            )));
        };
        if let Err(e) = spawn::check_bootstrapped(&self.name) {
            self.target = Some(target);
            return Err(e);
        }
        let refusal = if self.creator != unistd::getpid() {
            Some("can only start a process object created by current process")
        } else if current().daemon {
            Some("daemonic processes are not allowed to have children")
        } else {
            None
        };
        if let Some(why) = refusal {
            self.target = Some(target);
            return Err(Error::state(format!("{}: {why}", self.name)));
        }
        let info = ChildInfo {
            name: self.name.clone(),
            identity: self.identity.clone(),
            daemon: self.daemon,
        };
        let started = match self.start_method() {
            StartMethod::Fork => start_child(info, target, !self.outlives_parent),
            StartMethod::Spawn => start_spawned(info, target, false, !self.outlives_parent),
            StartMethod::Forkserver => start_spawned(info, target, true, !self.outlives_parent),
        };
        match started {
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
    /// [`Error::State`] when the process was never started ("can only join a started
    /// process") or is not a child of the caller; [`Error::Os`] if waiting fails, e.g. when
    /// something else in the program reaped the child first (`waitpid(-1)`, `SIGCHLD`
    /// ignored): its exit code is then lost and the error says so.
    ///
    /// # Examples
    ///
    /// ```
    /// use multiprocessing::Process;
    ///
    /// fn worker(_: ()) {}
    ///
    /// let mut p = Process::new(worker, ());
    /// assert!(p.join().is_err(), "not started");
    /// p.start()?;
    /// p.join()?;
    /// assert_eq!(p.exitcode(), Some(0));
    /// # Ok::<(), multiprocessing::Error>(())
    /// ```
    pub fn join(&self) -> Result<()> {
        let child = self.started("join")?;
        child.wait(None)?;
        forget_child(child);
        Ok(())
    }

    /// Waits at most `timeout` for the process to end. Returns `true` if it ended, `false` if
    /// it is still running (Python's `join(timeout)` followed by a look at `exitcode`).
    ///
    /// # Errors
    /// As [`Process::join`].
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use multiprocessing::Process;
    ///
    /// fn worker(seconds: u64) {
    ///     std::thread::sleep(Duration::from_secs(seconds));
    /// }
    ///
    /// let mut p = Process::new(worker, 60);
    /// p.start()?;
    /// assert!(!p.join_timeout(Duration::from_millis(50))?, "still sleeping");
    /// p.kill()?;
    /// assert!(p.join_timeout(Duration::from_secs(10))?);
    /// # Ok::<(), multiprocessing::Error>(())
    /// ```
    pub fn join_timeout(&self, timeout: Duration) -> Result<bool> {
        let child = self.started("join")?;
        let ended = child.wait(Some(timeout))?.is_some();
        if ended {
            forget_child(child);
        }
        Ok(ended)
    }

    /// Whether the process has started and not yet ended. A child that has ended is reaped by
    /// this call.
    ///
    /// # Examples
    ///
    /// ```
    /// use multiprocessing::Process;
    ///
    /// fn worker(_: ()) {}
    ///
    /// let mut p = Process::new(worker, ());
    /// assert!(!p.is_alive());
    /// p.start()?;
    /// p.join()?;
    /// assert!(!p.is_alive());
    /// # Ok::<(), multiprocessing::Error>(())
    /// ```
    pub fn is_alive(&self) -> bool {
        self.started("test")
            .is_ok_and(|child| matches!(child.poll(), Ok(None)))
    }

    /// The child's pid once started (Python's `pid`, which is `None` before `start`).
    ///
    /// # Examples
    ///
    /// ```
    /// use multiprocessing::Process;
    ///
    /// fn worker(_: ()) {}
    ///
    /// let mut p = Process::new(worker, ());
    /// assert_eq!(p.pid(), None);
    /// p.start()?;
    /// assert!(p.pid().is_some());
    /// p.join()?;
    /// # Ok::<(), multiprocessing::Error>(())
    /// ```
    pub fn pid(&self) -> Option<i32> {
        self.child.as_ref().map(|c| c.pid)
    }

    /// How the process ended: `None` while it runs (or before it starts), `0` after a normal
    /// return, `1` after a panic, `-N` when signal `N` killed it, or the code the target passed
    /// to [`std::process::exit`].
    ///
    /// # Examples
    ///
    /// ```
    /// use multiprocessing::Process;
    ///
    /// fn fail(_: ()) {
    ///     panic!("任务出错了");
    /// }
    ///
    /// let mut p = Process::new(fail, ());
    /// assert_eq!(p.exitcode(), None);
    /// p.start()?;
    /// p.join()?;
    /// assert_eq!(p.exitcode(), Some(1));
    /// # Ok::<(), multiprocessing::Error>(())
    /// ```
    pub fn exitcode(&self) -> Option<i32> {
        self.started("test").ok().and_then(|c| c.poll().ok().flatten())
    }

    /// Sends `SIGTERM`, which ends the child unless it handles the signal; its exit code is
    /// then `-15`. The child is not waited for: [`join`](Process::join) it afterwards. Sending
    /// to a child that has already ended does nothing.
    ///
    /// As in CPython, the child's own children are not signalled, and whatever the child held
    /// (a lock, a half-written message) is left as it was. A child inherits its parent's signal
    /// mask and handlers: if the parent blocked or handled `SIGTERM` when it started the child,
    /// `terminate` may not end it; [`kill`](Process::kill) always does.
    ///
    /// # Errors
    /// [`Error::State`] before start; [`Error::Os`] if the signal cannot be sent.
    ///
    /// # Examples
    ///
    /// ```
    /// use multiprocessing::Process;
    ///
    /// fn worker(seconds: u64) {
    ///     std::thread::sleep(std::time::Duration::from_secs(seconds));
    /// }
    ///
    /// let mut p = Process::new(worker, 60);
    /// p.start()?;
    /// p.terminate()?;
    /// p.join()?;
    /// assert_eq!(p.exitcode(), Some(-15));
    /// # Ok::<(), multiprocessing::Error>(())
    /// ```
    pub fn terminate(&self) -> Result<()> {
        self.started("terminate")?.signal(libc::SIGTERM)
    }

    /// Sends `SIGKILL`, which the child cannot catch; its exit code is then `-9`.
    ///
    /// # Errors
    /// As [`Process::terminate`].
    ///
    /// # Examples
    ///
    /// ```
    /// use multiprocessing::Process;
    ///
    /// fn worker(seconds: u64) {
    ///     std::thread::sleep(std::time::Duration::from_secs(seconds));
    /// }
    ///
    /// let mut p = Process::new(worker, 60);
    /// p.start()?;
    /// p.kill()?;
    /// p.join()?;
    /// assert_eq!(p.exitcode(), Some(-9));
    /// # Ok::<(), multiprocessing::Error>(())
    /// ```
    pub fn kill(&self) -> Result<()> {
        self.started("kill")?.signal(libc::SIGKILL)
    }

    /// A descriptor that becomes readable when the child ends (Python's `sentinel`): a pidfd
    /// (for a child of the fork server, the socket on which the server reports its exit code),
    /// to wait for a process together with pipes or sockets in one `poll`. `None` before
    /// `start`, and on kernels older than 5.3, which have no pidfds.
    ///
    /// Readable means ended, not reaped: [`join`](Process::join) it to collect the exit code.
    ///
    /// # Examples
    ///
    /// ```
    /// use multiprocessing::Process;
    ///
    /// fn worker(_: ()) {}
    ///
    /// let mut p = Process::new(worker, ());
    /// assert!(p.sentinel().is_none());
    /// p.start()?;
    /// if let Some(fd) = p.sentinel() {
    ///     let mut fds = [nix::poll::PollFd::new(fd, nix::poll::PollFlags::POLLIN)];
    ///     nix::poll::poll(&mut fds, nix::poll::PollTimeout::from(10_000u16))?;
    /// }
    /// p.join()?;
    /// assert_eq!(p.exitcode(), Some(0));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn sentinel(&self) -> Option<BorrowedFd<'_>> {
        self.child.as_ref()?.pidfd.as_ref().map(AsFd::as_fd)
    }

    /// The started child, or why `what` cannot be done to it.
    fn started(&self, what: &str) -> Result<&Arc<Child>> {
        let child = self
            .child
            .as_ref()
            .ok_or_else(|| Error::state(format!("{}: can only {what} a started process", self.name)))?;
        if self.creator != unistd::getpid() {
            return Err(Error::state(format!(
                "{}: can only {what} a child process",
                self.name
            )));
        }
        Ok(child)
    }
}

impl Drop for Process {
    /// Reaps the child if it has ended; a running child is left running (see `# Drop`).
    fn drop(&mut self) {
        if let Ok(child) = self.started("drop") {
            if matches!(child.poll(), Ok(Some(_))) {
                forget_child(child);
            }
        }
    }
}

impl fmt::Debug for Process {
    /// Like CPython's repr: `<Process name='Process-1' pid=42 parent=41 stopped exitcode=-SIGTERM>`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<Process name='{}'", self.name)?;
        if let Some(pid) = self.pid() {
            write!(f, " pid={pid}")?;
        }
        write!(f, " parent={}", self.creator)?;
        match (&self.child, self.exitcode()) {
            (None, _) => write!(f, " initial")?,
            (Some(_), _) if self.creator != unistd::getpid() => write!(f, " unknown")?,
            (Some(_), None) => write!(f, " started")?,
            (Some(_), Some(code)) if code < 0 => {
                write!(f, " stopped exitcode=-{}", signal::signal_name(-code))?
            }
            (Some(_), Some(code)) => write!(f, " stopped exitcode={code}")?,
        }
        if self.daemon {
            write!(f, " daemon")?;
        }
        write!(f, ">")
    }
}

/// What a forked child is told about itself.
pub(crate) struct ChildInfo {
    pub(crate) name: String,
    pub(crate) identity: Vec<u32>,
    pub(crate) daemon: bool,
}

/// Who reaps a child and learns its exit code.
enum Reaper {
    /// We do, with `waitpid`: a child we forked or spawned.
    Waitpid,
    /// The fork server does, and writes the code on the socket kept in `Child::pidfd`.
    Server,
}

/// The parent's record of a started child, shared by its [`Process`] and the registry behind
/// [`active_children`].
pub(crate) struct Child {
    pub(crate) pid: libc::pid_t,
    name: String,
    daemon: bool,
    identity: Vec<u32>,
    /// Readable once the child has ended: a pidfd (`None` on kernels without `pidfd_open`),
    /// or for a child of the fork server the socket on which the server reports its exit code.
    pidfd: Option<OwnedFd>,
    /// Who learns the exit code.
    reaper: Reaper,
    /// The exit code once reaped. Every `waitpid` and every signal happens with this lock
    /// held, so exactly one caller reaps, everyone sees its result, and no signal is sent to a
    /// pid that was reaped (and may have been reused) in between.
    exitcode: Mutex<Option<i32>>,
}

impl Child {
    /// Reaps the child if it has ended, without blocking.
    pub(crate) fn poll(&self) -> Result<Option<i32>> {
        let mut code = lock(&self.exitcode);
        if code.is_none() {
            *code = match (&self.reaper, &self.pidfd) {
                (Reaper::Server, Some(status)) => crate::forkserver::try_exit_code(status).map_err(|e| {
                    Error::os(
                        format!(
                            "the exit code of {} (pid {}) from the fork server",
                            self.name, self.pid
                        ),
                        e,
                    )
                })?,
                _ => wait::try_wait(self.pid).map_err(|e| self.wait_error(e))?,
            };
        }
        Ok(*code)
    }

    fn wait_error(&self, e: std::io::Error) -> Error {
        let context = if e.raw_os_error() == Some(libc::ECHILD) {
            format!(
                "waitpid for {} (pid {}): it was reaped by someone else (a waitpid(-1) elsewhere, or \
                 SIGCHLD set to SIG_IGN), so its exit code is lost",
                self.name, self.pid
            )
        } else {
            format!("waitpid for {} (pid {})", self.name, self.pid)
        };
        Error::os(context, e)
    }

    /// Waits for the child to end, at most `timeout` if given. `Ok(None)` on timeout.
    pub(crate) fn wait(&self, timeout: Option<Duration>) -> Result<Option<i32>> {
        let deadline = timeout.map(|t| Instant::now() + t);
        let mut backoff = Duration::from_micros(50);
        // With a descriptor to sleep on, the first look is the sleep itself (it returns at
        // once for a child that has ended), which saves a non-blocking waitpid per join.
        let mut sleep_first = self.pidfd.is_some() && timeout != Some(Duration::ZERO);
        loop {
            if sleep_first {
                sleep_first = false;
                if let Some(code) = *lock(&self.exitcode) {
                    return Ok(Some(code));
                }
            } else if let Some(code) = self.poll()? {
                return Ok(Some(code));
            }
            let left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
            if left == Some(Duration::ZERO) {
                return Ok(None);
            }
            match &self.pidfd {
                // The pidfd turns readable when the child ends: sleep in the kernel until then.
                Some(fd) => {
                    poll::poll_readable(fd.as_fd(), left)
                        .map_err(|e| Error::os(format!("waiting for {} (pid {})", self.name, self.pid), e))?;
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
            // Cannot happen for an unreaped child of ours, but there is nothing left to signal.
            Err(e) if e.raw_os_error() == Some(libc::ESRCH) => Ok(()),
            Err(e) => Err(Error::os(
                format!(
                    "sending {} to {} (pid {})",
                    signal::signal_name(sig),
                    self.name,
                    self.pid
                ),
                e,
            )),
        }
    }
}

/// Forks a child that runs `target` and exits. On failure the target is handed back.
///
/// A daemon child started from the main thread dies with this process when `die_with_parent`
/// (see [`tie_to_parent`]).
pub(crate) fn start_child(
    info: ChildInfo,
    target: Target,
    die_with_parent: bool,
) -> std::result::Result<Arc<Child>, (Error, Target)> {
    cleanup();
    register_exit_handler();
    // Hold, across the fork, every lock the child will take, so that no other thread of ours
    // can hold one at the moment of the fork (the child would wait for it forever). The order
    // is stdout, stderr, CURRENT, CHILDREN, then the fork server's link (a child may ask the
    // same server for children of its own); no code of ours prints while holding the last three.
    let mut stdout = std::io::stdout().lock();
    let mut stderr = std::io::stderr().lock();
    // Anything buffered now would otherwise be printed twice, once by each process.
    let _ = stdout.flush();
    let _ = stderr.flush();
    let mut me = current();
    let mut children = lock(&CHILDREN);
    let server = crate::forkserver::hold_for_fork();
    let parent = me.as_parent();
    let tie = die_with_parent && info.daemon && unistd::gettid() == parent.pid;

    // SAFETY: fork's obligation is that the child only takes locks no vanished thread holds.
    // The child takes stdout, stderr, our two tables and the fork server's link, all held by this thread right now,
    // and the allocator's, which glibc resets in the child; the rest is the caller's part of
    // the bargain described in the module's "Fork safety" section. It leaves through `_exit`.
    let forked = unsafe { unistd::fork() };
    match forked {
        Err(e) => Err((Error::os(format!("fork for {}", info.name), e), target)),
        Ok(unistd::Fork::Child) => {
            if tie {
                tie_to_parent(parent.pid);
            }
            *me = Current {
                name: info.name.clone(),
                identity: info.identity,
                daemon: info.daemon,
                counter: 0,
                parent: Some(parent),
            };
            // The parent's children are not ours; forget them (closing our copies of their
            // pidfds), as CPython's `_bootstrap` empties `_children`.
            children.clear();
            drop((server, children, me, stderr, stdout));
            bootstrap(info.name, Box::new(move || target.run()))
        }
        Ok(unistd::Fork::Parent(pid)) => {
            drop((server, me, stderr, stdout));
            let child = new_child(pid, info);
            children.push(Arc::clone(&child));
            drop(children);
            // The child has its own copy now; ours goes (CPython's `del self._target, self._args`),
            // after our locks are released, since its destructors are user code.
            drop(target);
            Ok(child)
        }
    }
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

/// The parent's record of a child it just started (by `fork` or `spawn`).
fn new_child(pid: libc::pid_t, info: ChildInfo) -> Arc<Child> {
    // A failed pidfd_open only costs us the sleeping wait; polling still works.
    let pidfd = wait::pidfd_open(pid).ok().flatten();
    Arc::new(Child {
        pid,
        name: info.name,
        daemon: info.daemon,
        identity: info.identity,
        pidfd,
        reaper: Reaper::Waitpid,
        exitcode: Mutex::new(None),
    })
}

/// Starts a child that runs `target` described as a [`Call`]: a new run of this executable
/// (`spawn`), or a child of the fork server (`forkserver`). On failure the target is handed
/// back.
fn start_spawned(
    info: ChildInfo,
    target: Target,
    forkserver: bool,
    die_with_parent: bool,
) -> std::result::Result<Arc<Child>, (Error, Target)> {
    cleanup();
    register_exit_handler();
    // Not for duplication, as under fork (the new run has empty buffers), but for order: what
    // the parent printed before `start` comes out before what the child prints.
    flush_std_streams();
    let call = match target.to_call(&info.name) {
        Ok(call) => call,
        Err(e) => return Err((e, target)),
    };
    let bootstrap = spawn::Bootstrap::new(&info, call, die_with_parent && info.daemon);
    let child = if forkserver {
        match crate::forkserver::start(&bootstrap) {
            Ok((pid, status)) => Arc::new(Child {
                pid,
                name: info.name,
                daemon: info.daemon,
                identity: info.identity,
                pidfd: Some(status),
                reaper: Reaper::Server,
                exitcode: Mutex::new(None),
            }),
            Err(e) => return Err((e, target)),
        }
    } else {
        match spawn::spawn(&bootstrap) {
            Ok(pid) => new_child(pid, info),
            Err(e) => return Err((e, target)),
        }
    };
    lock(&CHILDREN).push(Arc::clone(&child));
    // As under fork, the parent's copy of the arguments goes now: the child has its own.
    drop(bootstrap);
    drop(target);
    Ok(child)
}

/// The child's life: run the target, then leave through `_exit` so that it never returns into
/// the parent's `main` (and never runs the parent's destructors or exit handlers).
pub(crate) fn bootstrap(name: String, target: Box<dyn FnOnce()>) -> ! {
    // As CPython does: the child does not share the parent's standard input.
    let _ = unistd::redirect_to_dev_null(0);

    let previous = panic::take_hook();
    panic::set_hook(Box::new(move |panic_info| {
        eprintln!("Process {name}:");
        previous(panic_info);
    }));
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
    let _ = panic::catch_unwind(exit_function);
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
    // Its children are all reported now; the fork server (if we started one) goes too.
    crate::forkserver::shutdown();
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
/// Each finished child is reaped on the way, so none stays a zombie.
fn cleanup() {
    lock(&CHILDREN).retain(|c| matches!(c.poll(), Ok(None)));
}

/// Removes a child that has ended from the registry (CPython's `_children.discard`).
fn forget_child(child: &Arc<Child>) {
    lock(&CHILDREN).retain(|c| !Arc::ptr_eq(c, child));
}

/// A description of a process: the calling one ([`current_process`]), its parent
/// ([`parent_process`]) or a running child ([`active_children`]).
///
/// Python returns the `Process` objects themselves; a description is what Rust can hand out
/// without sharing ownership of a child. Two descriptions are equal when they describe the same
/// process (name, pid, daemon flag and identity).
///
/// # Examples
///
/// ```
/// use multiprocessing::current_process;
///
/// let me = current_process();
/// assert_eq!(me.name(), "MainProcess");
/// assert_eq!(me.pid(), std::process::id() as i32);
/// assert!(me.is_alive());
/// ```
#[derive(Clone)]
pub struct ProcessInfo {
    name: String,
    pid: i32,
    daemon: bool,
    ident: Vec<u32>,
    relation: Relation,
}

/// How the described process relates to the caller, which decides how to tell it is alive.
#[derive(Clone)]
enum Relation {
    Current,
    Parent(Option<Arc<OwnedFd>>),
    Child(Arc<Child>),
}

impl ProcessInfo {
    /// The process's name, e.g. `MainProcess` or `Process-1`.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(multiprocessing::current_process().name(), "MainProcess");
    /// ```
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The process id.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(multiprocessing::current_process().pid(), std::process::id() as i32);
    /// ```
    pub fn pid(&self) -> i32 {
        self.pid
    }

    /// Whether it is a daemon process.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(!multiprocessing::current_process().daemon());
    /// ```
    pub fn daemon(&self) -> bool {
        self.daemon
    }

    /// The identity numbers behind its name (empty for `MainProcess`; `[1, 2]` for
    /// `Process-1:2`).
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(multiprocessing::current_process().ident().is_empty());
    /// ```
    pub fn ident(&self) -> &[u32] {
        &self.ident
    }

    /// Whether the process is still running. The calling process always is; a child is
    /// alive until it ends (and is reaped by this call if it has ended); the parent is alive
    /// while it is still our parent (once it dies, we are adopted by another process).
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
    /// p.start()?;
    /// let child = active_children().pop().unwrap();
    /// assert!(child.is_alive());
    /// p.kill()?;
    /// p.join()?;
    /// assert!(!child.is_alive());
    /// # Ok::<(), multiprocessing::Error>(())
    /// ```
    pub fn is_alive(&self) -> bool {
        match &self.relation {
            Relation::Current => self.pid == unistd::getpid(),
            Relation::Parent(None) => self.pid == unistd::getppid(),
            // Readable means the parent has ended.
            Relation::Parent(Some(pidfd)) => {
                !poll::poll_readable(pidfd.as_fd(), Some(Duration::ZERO)).unwrap_or(true)
            }
            Relation::Child(child) => matches!(child.poll(), Ok(None)),
        }
    }
}

impl PartialEq for ProcessInfo {
    fn eq(&self, other: &Self) -> bool {
        (&self.name, self.pid, self.daemon, &self.ident)
            == (&other.name, other.pid, other.daemon, &other.ident)
    }
}

impl Eq for ProcessInfo {}

impl fmt::Debug for ProcessInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProcessInfo")
            .field("name", &self.name)
            .field("pid", &self.pid)
            .field("daemon", &self.daemon)
            .field("ident", &self.ident)
            .finish()
    }
}

/// The process that is running this code, like Python's `multiprocessing.current_process()`:
/// `MainProcess` in the program's first process, the child's name in a child.
///
/// # Examples
///
/// ```
/// use multiprocessing::{current_process, Process};
///
/// fn worker(_: ()) {
///     assert_eq!(current_process().name(), "Process-1");
///     assert_eq!(current_process().pid(), std::process::id() as i32);
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
        relation: Relation::Current,
    }
}

/// The parent of the calling process, or `None` in the main process (Python's
/// `multiprocessing.parent_process()`).
///
/// # Examples
///
/// ```
/// use multiprocessing::{parent_process, Process};
///
/// fn worker(parent_pid: i32) {
///     let parent = parent_process().expect("a child has a parent");
///     assert_eq!((parent.name(), parent.pid()), ("MainProcess", parent_pid));
///     assert!(parent.is_alive());
/// }
///
/// assert!(parent_process().is_none());
/// let mut p = Process::new(worker, std::process::id() as i32);
/// p.start()?;
/// p.join()?;
/// assert_eq!(p.exitcode(), Some(0));
/// # Ok::<(), multiprocessing::Error>(())
/// ```
pub fn parent_process() -> Option<ProcessInfo> {
    let me = current();
    me.parent.as_ref().map(|p| ProcessInfo {
        name: p.name.clone(),
        pid: p.pid,
        daemon: p.daemon,
        ident: p.ident.clone(),
        relation: Relation::Parent(p.pidfd.clone()),
    })
}

/// The children of the calling process that are still running, in the order they were
/// started, like Python's `multiprocessing.active_children()` (whose order is a set's). As in
/// Python, it reaps the children that have ended, including those whose [`Process`] was
/// dropped.
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
    lock(&CHILDREN)
        .iter()
        .map(|c| ProcessInfo {
            name: c.name.clone(),
            pid: c.pid,
            daemon: c.daemon,
            ident: c.identity.clone(),
            relation: Relation::Child(Arc::clone(c)),
        })
        .collect()
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

/// Python's `freeze_support()`: call it first in `main`. In a program started by the `spawn`
/// or `forkserver` start method to be a child, it turns the process into that child, runs its
/// target and exits (with the target's exit code), never returning into `main`. In any other
/// run it returns at once, which is all it does under `fork`, the default: a forked child never
/// runs `main` again.
///
/// A spawned child re-executes the program, so without this call the child would run the
/// parent's `main` again; that child is refused at its first [`Process::start`] (or `Pool`)
/// with an error that says to add this call, instead of spawning children without end.
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
    crate::forkserver::run_if_server();
}

/// What the calling process knows about itself.
struct Current {
    name: String,
    identity: Vec<u32>,
    daemon: bool,
    /// How many processes this one has made (CPython's `_process_counter`).
    counter: u32,
    parent: Option<Parent>,
}

impl Current {
    /// What a child started now is told about this process, its parent.
    fn as_parent(&self) -> Parent {
        Parent {
            name: self.name.clone(),
            pid: unistd::getpid(),
            daemon: self.daemon,
            ident: self.identity.clone(),
            pidfd: None,
        }
    }
}

/// What a child knows about its parent, as it was when the child was started.
#[derive(Clone, Serialize, serde::Deserialize)]
pub(crate) struct Parent {
    name: String,
    pid: libc::pid_t,
    daemon: bool,
    ident: Vec<u32>,
    /// A pidfd of the parent, for a child that is not the parent's own (a child of the fork
    /// server), where `getppid` cannot tell whether the parent lives.
    #[serde(skip)]
    pidfd: Option<Arc<OwnedFd>>,
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

/// What a child started now is told about its parent (this process).
pub(crate) fn parent_record() -> Parent {
    current().as_parent()
}

/// Makes the calling process (a spawned child that has just read its payload) the child
/// described by `info`.
pub(crate) fn become_child(info: ChildInfo, mut parent: Parent) {
    if unistd::getppid() != parent.pid {
        // A child of the fork server: watch the real parent through a pidfd (it is alive now,
        // since it waits for our pid; a failure only costs the exact answer of `is_alive`).
        parent.pidfd = wait::pidfd_open(parent.pid).ok().flatten().map(Arc::new);
    }
    *current() = Current {
        name: info.name,
        identity: info.identity,
        daemon: info.daemon,
        counter: 0,
        parent: Some(parent),
    };
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

#[cfg(test)]
mod tests {
    use super::*;

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

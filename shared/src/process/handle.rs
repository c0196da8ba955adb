//! The [`Process`] object a parent holds (CPython's `BaseProcess`): its target and
//! arguments, its name and identity, its daemon flag and start method, and its repr. What the
//! parent does with it once it is built (start, join, signals) is in `lifecycle.rs`.

use std::fmt;
use std::sync::Arc;

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::call::Call;
use super::children::{Child, forget_child};
use super::current::{current, join_identity, next_identity};
use crate::error::{Error, Result};
use crate::start_method::{self, StartMethod};
use crate::sys::{signal, unistd};

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
/// The `Process <name>:` line comes from a panic hook the runtime installs once, at the first
/// [`start`](Process::start), in front of the hook the program has then (std's default one, or
/// yours), which it calls after that line. Set a hook of your own before starting processes:
/// one set later replaces the runtime's, and children then print the panic without the line.
///
/// # Fork safety
/// `fork` copies only the calling thread. A child started from a multi-threaded parent may find
/// a lock held forever by a thread that does not exist in the child. The runtime protects the
/// locks it knows the child will take: [`Process::start`] holds stdout's and stderr's locks and
/// the runtime's own process tables across the `fork`, so the child finds them free, and glibc's
/// `malloc` resets its own locks in the child. The child does not touch std's panic-hook lock
/// at start (a thread that is panicking holds it), nor the environment's lock, and reads the
/// start method and the authentication key without a lock. One lock remains out of reach: std's
/// own backtrace lock, held by a thread that is *printing* a panic. A child forked at that very
/// moment that panics in turn waits for it for ever. Locks of your own that another thread holds at
/// the moment of the `fork` stay held in the child: start processes from a single-threaded
/// parent, or before other threads are spawned, or make sure the child never takes them; or
/// use the `forkserver` or `spawn` start method ([`get_context`](crate::get_context),
/// [`set_start_method`](crate::set_start_method)), whose children do not copy the parent's
/// threads' state at all.
///
/// # When the parent dies
/// At the parent's normal exit (`main` returns, or [`std::process::exit`]) its daemon children
/// are terminated and the others joined, as CPython does. If the parent dies without exiting
/// normally (killed by a signal, `abort`, `_exit`), its non-daemonic children run on, adopted by
/// `init` (or the nearest subreaper), which reaps them when they end, as in CPython.
///
/// *Daemonic* children die with their parent, which CPython's do not: a daemon started from
/// the main thread asks the kernel for a signal when its parent dies (`PR_SET_PDEATHSIG`, set
/// right after the fork, then a check with `getppid` that the parent is still alive, which
/// closes the race with a parent that died before the call), so a parent killed by `SIGKILL` or
/// the OOM killer leaves no orphaned daemon behind. The signal is `SIGKILL`, which no handler
/// can catch: a child inherits its parent's signal handlers, and a program that handles
/// `SIGTERM` to shut down cleanly (with signal-hook, say) would otherwise keep its daemons
/// alive for ever, since the thread that acts on the handler's flag does not exist in the
/// child. The price is that a daemon ended like this runs no cleanup of its own.
///
/// A daemon started from another thread is not tied this way (the kernel would kill it when
/// that *thread* ends). [`Pool`](crate::Pool) workers die with their pool's process too, and
/// the runtime's own children (pool workers, a manager's server) start with `SIGTERM` at its
/// default action, whatever the program made of it, since the runtime ends them with it. Under
/// the `forkserver` start method a daemon is the fork server's child, so it dies with the
/// server, which leaves once the parent and the parent's forked children are gone.
///
/// # Drop
/// Dropping a `Process` does not kill or wait for the child, as in Python: a child that has
/// already ended is reaped on the spot; one that still runs stays registered, so
/// [`active_children`](crate::active_children) still lists it, and it is reaped by the first [`Process::start`] or
/// [`active_children`] call after it ends, or at the parent's normal exit, where it is joined
/// (or terminated first, if it is a daemon). No zombie outlives the parent's exit.
///
/// [`start`]: Process::start
/// [`join`]: Process::join
/// [`active_children`]: crate::active_children
pub struct Process {
    pub(super) name: String,
    pub(super) daemon: bool,
    pub(super) identity: Vec<u32>,
    /// The pid of the process that made this object: only it may start, join or signal it.
    pub(super) creator: libc::pid_t,
    pub(super) target: Option<Target>,
    /// The start method chosen by a [`Context`](crate::Context); `None` uses the default at
    /// `start`, as CPython's plain `Process` does.
    method: Option<StartMethod>,
    pub(super) child: Option<Arc<Child>>,
    /// Whether a daemon may outlive a parent that dies abnormally (the manager's server, which
    /// watches its owner itself and cleans up on the way out).
    pub(super) outlives_parent: bool,
    /// Whether [`close`](Process::close) was called.
    pub(super) closed: bool,
    /// A forked child's target box, its arguments dropped at `start`: freed with this object
    /// rather than at once, while the child still shares the page it is on.
    pub(super) spent: Option<Target>,
}

/// What a child runs.
pub(crate) type Target = Box<dyn Task>;

/// A process's target: run it in a forked child, or describe it as a [`Call`] for a child that
/// is a new run of the executable (`spawn`, `forkserver`).
pub(crate) trait Task: Send {
    /// Runs the target (in a forked child), once: its arguments are moved out. In place, so
    /// that the child frees nothing of its parent's (each free writes to shared memory).
    fn run(&mut self);
    /// Drops the arguments (and for a closure, what it captured), keeping the box: the
    /// parent's side of CPython's `del self._target, self._args` right after a `fork`.
    fn drop_args(&mut self);
    /// The target as a call another run of this executable can make.
    fn to_call(&self, who: &str) -> Result<Call>;
    /// Whether this is one of the runtime's own children (a pool worker, a manager's server),
    /// which must die of `SIGTERM` whatever the program made of that signal.
    fn is_runtime_own(&self) -> bool {
        false
    }
}

/// `target(args)` from [`Process::new`]: sendable to any start method.
struct FnTask<A> {
    target: fn(A),
    /// `None` once run.
    args: Option<A>,
}

impl<A: Serialize + DeserializeOwned + Send + 'static> Task for FnTask<A> {
    fn run(&mut self) {
        if let Some(args) = self.args.take() {
            (self.target)(args)
        }
    }

    fn drop_args(&mut self) {
        self.args = None;
    }

    fn to_call(&self, who: &str) -> Result<Call> {
        let args = self
            .args
            .as_ref()
            .ok_or_else(|| Error::state(format!("{who}: its target has run already")))?;
        Call::new(self.target, args)
            .map_err(|e| Error::state(format!("{who}: cannot send its arguments to the child: {e}")))
    }
}

/// A closure (the runtime's own servers): only a forked child can run it.
struct ClosureTask(Option<Box<dyn FnOnce() + Send>>);

impl Task for ClosureTask {
    fn run(&mut self) {
        if let Some(target) = self.0.take() {
            target()
        }
    }

    fn drop_args(&mut self) {
        self.0 = None;
    }

    fn to_call(&self, who: &str) -> Result<Call> {
        Err(Error::state(format!(
            "{who}: its target is a closure, which only the fork start method can run"
        )))
    }

    fn is_runtime_own(&self) -> bool {
        true
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
        A: Serialize + DeserializeOwned + Send + 'static,
    {
        Process::from_task(Box::new(FnTask {
            target,
            args: Some(args),
        }))
    }

    /// A process running an arbitrary closure; for the runtime's own workers and servers. Only
    /// the `fork` start method can run it.
    pub(crate) fn from_closure(target: Box<dyn FnOnce() + Send>) -> Process {
        Process::from_task(Box::new(ClosureTask(Some(target)))).with_start_method(StartMethod::Fork)
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
            closed: false,
            spent: None,
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
        self.method.unwrap_or_else(start_method::default_start_method)
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
            (None, _) if self.closed => write!(f, " closed")?,
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

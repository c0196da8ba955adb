//! The start methods (CPython's `get_start_method`, `set_start_method`, and the
//! `_default_context` of `context.py`): [`StartMethod`] and the process-wide default that
//! [`Process::new`](crate::Process::new), [`Pool::new`](crate::Pool::new) and
//! [`Manager::new`](crate::Manager::new) use. Everything below `context` asks this module, so
//! nothing needs the facade to learn which method to use.

use std::fmt;
use std::str::FromStr;
use std::sync::atomic::{AtomicU8, Ordering};

use crate::error::{Error, Result};

/// How a child process begins: by `fork`, by re-executing the program (`spawn`), or by asking a
/// fork server (`forkserver`). Choose it for the whole program with [`set_start_method`], or for
/// some processes with [`get_context`](crate::get_context).
///
/// - `fork`: the child is a copy of the parent made by `fork(2)`, and runs its target at once.
///   The default on Linux, as in CPython before 3.14. Fast, but a parent with other threads can
///   hand its child a lock held forever (see the "Fork safety" section of [`Process`](crate::Process)).
/// - `spawn`: the child is a fresh run of the same executable; [`freeze_support`] (called first
///   in `main`) turns it into the child, which receives its target and arguments encoded by the
///   codec (as CPython's child unpickles them). Safe from any parent; costs an `exec`.
/// - `forkserver`: a single-threaded server process, started on first use, forks each child on
///   request. Safe from a multi-threaded parent, and cheaper than `spawn` once the server runs.
///   CPython 3.14's default on Linux.
///
/// What each costs, measured on the 2-core development machine (release build, starting and
/// joining a process with an empty target, averaged over 200 runs; CPython 3.11 on the same
/// machine in parentheses): `fork` 0.45 to 0.8 ms (6.3 ms), `spawn` 1.8 to 2.2 ms (104 ms),
/// `forkserver` 0.22 to 0.29 ms once its server runs (13 ms). A forkserver child is the cheapest
/// here because the server is small: `fork` copies the page tables of whoever forks.
///
/// What reaches a `spawn` or `forkserver` child: its target (a `fn`, found by its offset in
/// the executable, which is the same program) and its arguments, encoded by the codec. Objects
/// that stand for an OS resource ([`Connection`](crate::Connection), [`Lock`](crate::Lock), [`Value`](crate::Value), [`Array`](crate::Array), [`Queue`](crate::Queue),
/// the other locks, manager proxies, a `Barrier` with its action) cross as their descriptors,
/// which the child inherits at the same numbers. A static of the parent does not cross (the
/// child's is fresh), and the runtime's closures cannot: they only run under `fork`.
///
/// # The default
/// The default is `fork`, as in CPython up to 3.13, because the tutorial's programs are written
/// for it. CPython 3.14 made `forkserver` the default on Linux, since a forked child of a
/// multi-threaded parent can inherit a lock that no thread will ever release. To do as 3.14
/// does, choose it once, first in `main` after [`freeze_support`]:
/// `set_start_method("forkserver", false)?`; to choose it for some processes only, make them
/// through `get_context("forkserver")?`. Either way, `main` must call [`freeze_support`] first,
/// since the fork server is a run of the program.
///
/// [`freeze_support`]: crate::freeze_support
///
/// # Examples
///
/// ```
/// use multiprocessing::StartMethod;
///
/// let method: StartMethod = "spawn".parse()?;
/// assert_eq!(method, StartMethod::Spawn);
/// assert_eq!(method.name(), "spawn");
/// assert!("thread".parse::<StartMethod>().is_err());
/// # Ok::<(), multiprocessing::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum StartMethod {
    /// `fork(2)`: the child is a copy of the parent.
    Fork,
    /// The child re-executes the program, and [`freeze_support`](crate::freeze_support) runs
    /// its target.
    Spawn,
    /// A single-threaded fork server forks the child. The child is the server's child:
    /// [`parent_process`](crate::parent_process) still names the process that started it, but
    /// its operating-system parent (`getppid`) is the server, which reaps it and reports its
    /// exit code to the parent.
    Forkserver,
}

impl StartMethod {
    /// The name CPython uses: `"fork"`, `"spawn"` or `"forkserver"`.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(multiprocessing::StartMethod::Forkserver.name(), "forkserver");
    /// ```
    pub fn name(self) -> &'static str {
        match self {
            StartMethod::Fork => "fork",
            StartMethod::Spawn => "spawn",
            StartMethod::Forkserver => "forkserver",
        }
    }

    /// The class name CPython's context gives its processes, the prefix of their default
    /// names: `ForkProcess`, `SpawnProcess`, `ForkServerProcess`.
    pub(crate) fn process_class(self) -> &'static str {
        match self {
            StartMethod::Fork => "ForkProcess",
            StartMethod::Spawn => "SpawnProcess",
            StartMethod::Forkserver => "ForkServerProcess",
        }
    }

    /// The prefix of a pool worker's name (CPython replaces `Process` with `PoolWorker` in the
    /// class name): `ForkPoolWorker`, `SpawnPoolWorker`, `ForkServerPoolWorker`.
    pub(crate) fn pool_worker_class(self) -> &'static str {
        match self {
            StartMethod::Fork => "ForkPoolWorker",
            StartMethod::Spawn => "SpawnPoolWorker",
            StartMethod::Forkserver => "ForkServerPoolWorker",
        }
    }
}

impl fmt::Display for StartMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for StartMethod {
    type Err = Error;

    /// Parses `"fork"`, `"spawn"` or `"forkserver"`; anything else is CPython's
    /// `ValueError: cannot find context for 'x'`.
    fn from_str(s: &str) -> Result<StartMethod> {
        match s {
            "fork" => Ok(StartMethod::Fork),
            "spawn" => Ok(StartMethod::Spawn),
            "forkserver" => Ok(StartMethod::Forkserver),
            other => Err(Error::state(format!("cannot find context for '{other}'"))),
        }
    }
}

/// The start method chosen by [`set_start_method`] (or fixed by a first use), as
/// [`StartMethod::code`]; 0 while none is. An atomic rather than a lock: a forked child reads
/// it when it starts processes of its own, and must never find it locked by a thread of the
/// parent that does not exist in the child.
static DEFAULT: AtomicU8 = AtomicU8::new(0);

impl StartMethod {
    /// The method's number in [`DEFAULT`] (never 0).
    const fn code(self) -> u8 {
        match self {
            StartMethod::Fork => 1,
            StartMethod::Spawn => 2,
            StartMethod::Forkserver => 3,
        }
    }

    fn from_code(code: u8) -> Option<StartMethod> {
        match code {
            1 => Some(StartMethod::Fork),
            2 => Some(StartMethod::Spawn),
            3 => Some(StartMethod::Forkserver),
            _ => None,
        }
    }
}

/// The start method that [`Process::new`](crate::Process::new) and [`Pool::new`](crate::Pool::new) use: the one [`set_start_method`]
/// chose, otherwise `fork`. Asking fixes the default, as in CPython: a later
/// [`set_start_method`] without `force` is refused.
pub(crate) fn default_start_method() -> StartMethod {
    // Fix `fork` unless a method is there; either way, the one there afterwards is the answer.
    let fixed =
        match DEFAULT.compare_exchange(0, StartMethod::Fork.code(), Ordering::AcqRel, Ordering::Acquire) {
            Ok(_) => StartMethod::Fork.code(),
            Err(code) => code,
        };
    StartMethod::from_code(fixed).unwrap_or(StartMethod::Fork)
}

/// The default start method if one was chosen or fixed, for a spawned child to inherit (as
/// CPython's `spawn.prepare` passes `start_method` on).
pub(crate) fn chosen_start_method() -> Option<StartMethod> {
    StartMethod::from_code(DEFAULT.load(Ordering::Acquire))
}

/// Sets the default start method in a spawned child to its parent's.
pub(crate) fn inherit_start_method(method: StartMethod) {
    DEFAULT.store(method.code(), Ordering::Release);
}

/// The default start method's name (Python's `multiprocessing.get_start_method()`): `"fork"`
/// unless [`set_start_method`] chose another (CPython 3.14 answers `"forkserver"` on Linux; see
/// "The default" on [`StartMethod`]). As in CPython, asking fixes the default.
///
/// # Examples
///
/// ```
/// assert_eq!(multiprocessing::get_start_method(), "fork");
/// ```
pub fn get_start_method() -> &'static str {
    default_start_method().name()
}

/// Chooses the start method of [`Process::new`](crate::Process::new) and [`Pool::new`](crate::Pool::new) (Python's
/// `multiprocessing.set_start_method(method, force=False)`). Call it once, early in `main`
/// (after [`freeze_support`](crate::freeze_support)).
///
/// # Errors
/// [`Error::State`] for an unknown method ("cannot find context for 'x'"), or when the default
/// was already chosen or used and `force` is false ("context has already been set").
///
/// # Examples
///
/// ```
/// use multiprocessing::{get_start_method, set_start_method, Process};
///
/// fn worker(x: u32) {
///     assert_eq!(x, 7);
/// }
///
/// multiprocessing::freeze_support();
/// set_start_method("spawn", false)?;
/// assert_eq!(get_start_method(), "spawn");
/// assert!(set_start_method("fork", false).is_err(), "already set");
/// let mut p = Process::new(worker, 7);
/// p.start()?;
/// p.join()?;
/// assert_eq!(p.exitcode(), Some(0));
/// # Ok::<(), multiprocessing::Error>(())
/// ```
pub fn set_start_method(method: &str, force: bool) -> Result<()> {
    let method: StartMethod = method.parse()?;
    if force {
        DEFAULT.store(method.code(), Ordering::Release);
        return Ok(());
    }
    DEFAULT
        .compare_exchange(0, method.code(), Ordering::AcqRel, Ordering::Acquire)
        .map(drop)
        .map_err(|_| Error::state("context has already been set"))
}

/// The start methods this platform supports, the default first (Python's
/// `multiprocessing.get_all_start_methods()`).
///
/// # Examples
///
/// ```
/// assert_eq!(multiprocessing::get_all_start_methods(), ["fork", "spawn", "forkserver"]);
/// ```
pub fn get_all_start_methods() -> Vec<&'static str> {
    vec!["fork", "spawn", "forkserver"]
}

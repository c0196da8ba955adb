//! What a process knows about itself and its parent: its name, identity and daemon flag, the
//! counter behind its children's names, and the [`ProcessInfo`] descriptions that
//! [`current_process`], [`parent_process`] and [`active_children`](crate::active_children)
//! hand out.

use std::fmt;
use std::os::fd::{AsFd, OwnedFd};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use serde::Serialize;

use super::children::Child;
use super::lock;
use crate::sys::{poll, unistd};

/// What the calling process knows about itself.
pub(super) struct Current {
    pub(super) name: String,
    pub(super) identity: Vec<u32>,
    pub(super) daemon: bool,
    /// How many processes this one has made (CPython's `_process_counter`).
    counter: u32,
    parent: Option<Parent>,
}

impl Current {
    /// The record of a child that has just become `name`, started by `parent`.
    pub(super) fn child(name: String, identity: Vec<u32>, daemon: bool, parent: Parent) -> Current {
        Current {
            name,
            identity,
            daemon,
            counter: 0,
            parent: Some(parent),
        }
    }

    /// What a child started now is told about this process, its parent.
    pub(super) fn as_parent(&self) -> Parent {
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
    pub(super) pid: libc::pid_t,
    daemon: bool,
    ident: Vec<u32>,
    /// A pidfd of the parent, for a child that is not the parent's own (a child of the fork
    /// server), where `getppid` cannot tell whether the parent lives.
    #[serde(skip)]
    pub(super) pidfd: Option<Arc<OwnedFd>>,
}

static CURRENT: Mutex<Option<Current>> = Mutex::new(None);

/// The calling process's name, for a lock's `repr` (registered with the synchronize layer,
/// which sits below this one).
fn current_name() -> String {
    current_process().name().to_string()
}

/// The calling process's record, made on first use for the main process.
pub(super) fn current() -> CurrentGuard {
    let mut guard = lock(&CURRENT);
    guard.get_or_insert_with(|| {
        // From now on a lock's owner prints under this process's name (CPython's
        // `<Lock(owner=Process-1)>`); children inherit the registration.
        crate::synchronize::set_process_name_source(current_name);
        Current {
            name: "MainProcess".into(),
            identity: Vec::new(),
            daemon: false,
            counter: 0,
            parent: None,
        }
    });
    CurrentGuard(guard)
}

/// The locked record of the calling process.
pub(super) struct CurrentGuard(MutexGuard<'static, Option<Current>>);

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

/// The identity of the next process this one makes: ours plus the next count.
pub(super) fn next_identity() -> Vec<u32> {
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

/// A description of a process: the calling one ([`current_process`]), its parent
/// ([`parent_process`]) or a running child ([`active_children`](crate::active_children)).
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
    /// The description of a started child of ours.
    pub(super) fn of_child(child: &Arc<Child>) -> ProcessInfo {
        ProcessInfo {
            name: child.name.clone(),
            pid: child.pid,
            daemon: child.daemon,
            ident: child.identity.clone(),
            relation: Relation::Child(Arc::clone(child)),
        }
    }

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

    /// The process's authentication key (CPython's `Process.authkey`): 32 random bytes that
    /// the main process makes on first use and every child inherits, whatever its start method
    /// (a forked child shares its parent's memory; a `spawn` or `forkserver` child receives the
    /// key with its target). So the calling process, its parent and its children all hold the
    /// same key, which is what this returns for each of them.
    ///
    /// It authenticates connections between the processes of one program: CPython's managers
    /// use it when given no key, and a [`Listener::bind`](crate::Listener::bind) or
    /// [`Client`](crate::Client) given it lets in only processes of this program. Unlike
    /// CPython's, it cannot be replaced: a program that needs another key passes that key to
    /// those calls.
    ///
    /// Keep it secret: whoever holds it can talk to this program's managers. It is never part
    /// of a [`ProcessInfo`]'s `Debug` output.
    ///
    /// # Examples
    ///
    /// ```
    /// use multiprocessing::{current_process, Pipe, Process};
    ///
    /// fn worker(conn: multiprocessing::Connection) {
    ///     conn.send(&current_process().authkey().to_vec()).unwrap();
    /// }
    ///
    /// let key = current_process().authkey();
    /// assert_eq!(key.len(), 32);
    /// let (reader, writer) = Pipe(false)?;
    /// let mut p = Process::new(worker, writer);
    /// p.start()?;
    /// assert_eq!(reader.recv::<Vec<u8>>()?, key, "the child inherited the key");
    /// p.join()?;
    /// # Ok::<(), multiprocessing::Error>(())
    /// ```
    pub fn authkey(&self) -> [u8; 32] {
        crate::authkey::get()
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

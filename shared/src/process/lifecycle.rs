//! What a parent does with a [`Process`] it built: start it (by `fork`, `spawn` or
//! `forkserver`), wait for it, look at it, and signal it (CPython's `BaseProcess.start`,
//! `join`, `is_alive`, `exitcode`, `terminate`, `kill`, `sentinel`).

use std::os::fd::BorrowedFd;
use std::sync::Arc;
use std::time::Duration;

use super::bootstrap::ChildInfo;
use super::children::{Child, forget_child};
use super::current::current;
use super::handle::Process;
use super::{fork, spawn};
use crate::error::{Error, Result};
use crate::start_method::StartMethod;
use crate::sys::unistd;

impl Process {
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
    /// children") or did not make this object, or when the object was closed; under `spawn`,
    /// [`Error::State`] when the program's first spawned child ran `main` again instead of
    /// becoming the child ("call multiprocessing::freeze_support() first in main", see
    /// [`freeze_support`](crate::freeze_support)); [`Error::Os`] when the child cannot be
    /// started (`fork` fails, say). After an error the process can be started again.
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
        self.check_closed()?;
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
            StartMethod::Fork => fork::start(info, target, !self.outlives_parent).map(|(child, spent)| {
                self.spent = Some(spent);
                child
            }),
            StartMethod::Spawn => spawn::start(info, target, false, !self.outlives_parent),
            StartMethod::Forkserver => spawn::start(info, target, true, !self.outlives_parent),
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

    /// Sends `SIGINT` (Python's `interrupt()`, new in 3.14), as Ctrl-C in a terminal would. A
    /// child that leaves `SIGINT` at its default action ends with exit code `-2`; the child is
    /// not waited for: [`join`](Process::join) it afterwards.
    ///
    /// A Python child turns `SIGINT` into a `KeyboardInterrupt` exception, which unwinds its
    /// target and ends it with exit code 1 after a traceback. A Rust target opts into the same
    /// by taking the signal itself: block it (`SigSet::thread_block`, first thing in the
    /// target), then look for it where the work can stop (`SigSet::wait`, or a non-blocking
    /// check of the pending set between steps; or a signal-hook flag), and panic with
    /// `KeyboardInterrupt`: the child prints `Process <name>:` and the message and ends with
    /// exit code 1, as CPython's does. A target that must clean up returns instead (exit code
    /// 0) or calls [`std::process::exit`] with the code it wants.
    ///
    /// A forked child inherits what the parent made of `SIGINT` (a handler, or `SIG_IGN`), so
    /// under `fork` `interrupt` ends the child only if the parent left `SIGINT` alone, or the
    /// target restores the default. A spawned child starts with the default unless the parent
    /// ignored `SIGINT`; a child of the fork server always does.
    ///
    /// # Errors
    /// As [`Process::terminate`].
    ///
    /// # Examples
    ///
    /// Under the default action:
    ///
    /// ```
    /// use multiprocessing::{Connection, Pipe, Process};
    ///
    /// fn worker(ready: Connection) {
    ///     ready.send(&()).unwrap();
    ///     std::thread::sleep(std::time::Duration::from_secs(60));
    /// }
    ///
    /// let (reader, writer) = Pipe(false)?;
    /// let mut p = Process::new(worker, writer);
    /// p.start()?;
    /// reader.recv::<()>()?;
    /// p.interrupt()?;
    /// p.join()?;
    /// # // Where the doc test runs as a background job, SIGINT starts ignored.
    /// # if p.exitcode() != Some(0) {
    /// assert_eq!(p.exitcode(), Some(-2));
    /// # }
    /// # Ok::<(), multiprocessing::Error>(())
    /// ```
    ///
    /// A target that treats `SIGINT` as CPython's `KeyboardInterrupt`:
    ///
    /// ```
    /// use multiprocessing::{Connection, Pipe, Process};
    /// use nix::sys::signal::{SigSet, Signal};
    ///
    /// fn worker(ready: Connection) {
    ///     let mut sigint = SigSet::empty();
    ///     sigint.add(Signal::SIGINT);
    ///     sigint.thread_block().unwrap();
    ///     ready.send(&()).unwrap();
    ///     // The work would go here, looking at `sigint` between steps.
    ///     sigint.wait().unwrap();
    ///     panic!("KeyboardInterrupt");
    /// }
    ///
    /// let (reader, writer) = Pipe(false)?;
    /// let mut p = Process::new(worker, writer);
    /// p.start()?;
    /// reader.recv::<()>()?;
    /// p.interrupt()?;
    /// p.join()?;
    /// assert_eq!(p.exitcode(), Some(1));
    /// # Ok::<(), multiprocessing::Error>(())
    /// ```
    pub fn interrupt(&self) -> Result<()> {
        self.started("interrupt")?.signal(libc::SIGINT)
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
    /// `start`, after [`close`](Process::close), and on kernels older than 5.3, which have no
    /// pidfds.
    ///
    /// The pidfd is opened by the first call (or the first timed join), not at `start`: a
    /// process that is only started and joined never needs one. Asked for after the child was
    /// reaped, it is a descriptor that is always readable.
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
        self.child.as_ref()?.sentinel()
    }

    /// Releases what the object holds (Python's `close()`): the record of an ended child
    /// (its sentinel descriptor, its place among [`active_children`](crate::active_children)),
    /// or the target and arguments of a process that never started. Afterwards
    /// [`start`](Process::start), [`join`](Process::join), [`join_timeout`](Process::join_timeout),
    /// [`terminate`](Process::terminate), [`kill`](Process::kill) and
    /// [`interrupt`](Process::interrupt) fail with "process object is closed", as CPython's
    /// raise `ValueError`; where CPython raises from a property, the Rust method has no error
    /// to return and reports nothing instead: [`is_alive`](Process::is_alive) is `false`,
    /// [`exitcode`](Process::exitcode), [`pid`](Process::pid) and
    /// [`sentinel`](Process::sentinel) are `None`. The name, the daemon flag and the identity
    /// stay readable. Closing a closed process does nothing.
    ///
    /// Dropping a `Process` releases the same, so `close` matters where the object lives on
    /// (in a list of processes, say).
    ///
    /// # Errors
    /// [`Error::State`] while the child is still running: "Cannot close a process while it is
    /// still running. You should first call join() or terminate()."; nothing is closed then.
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
    /// p.join()?;
    /// p.close()?;
    /// assert!(p.join().is_err(), "process object is closed");
    /// assert_eq!(p.exitcode(), None);
    /// # Ok::<(), multiprocessing::Error>(())
    /// ```
    pub fn close(&mut self) -> Result<()> {
        if let Some(child) = &self.child {
            if self.creator == unistd::getpid() && matches!(child.poll(), Ok(None)) {
                return Err(Error::state(format!(
                    "{}: Cannot close a process while it is still running. You should first \
                     call join() or terminate().",
                    self.name
                )));
            }
            forget_child(child);
        }
        self.child = None;
        // A process that never started lets go of its target and arguments (a pipe end, say).
        self.target = None;
        self.closed = true;
        Ok(())
    }

    /// CPython's `_check_closed`.
    fn check_closed(&self) -> Result<()> {
        if self.closed {
            return Err(Error::state(format!("{}: process object is closed", self.name)));
        }
        Ok(())
    }

    /// The started child, or why `what` cannot be done to it.
    pub(super) fn started(&self, what: &str) -> Result<&Arc<Child>> {
        self.check_closed()?;
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

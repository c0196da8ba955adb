//! The `spawn` start method (CPython's `spawn.py` and `popen_spawn_posix.py`): a child that is
//! a fresh run of the same executable.
//!
//! # How a spawned child finds its target
//! CPython pickles the process object, whose target is found by its module and name. A Rust
//! `fn` has no name at run time, but it has an address, and the same executable keeps the same
//! distances between its functions wherever ASLR loads it. So the parent sends two numbers: the
//! offset of the target `fn(A)` from a reference function of this crate ([`code_offset`]), and
//! the offset of a monomorphized *trampoline* that decodes an `A` and calls a `fn(A)`. The
//! child adds its own address of the reference function back. To be sure the child runs the
//! same code, it is started from `/proc/self/exe` (the parent's very executable, even if the
//! file on disk was replaced since), and it checks one known offset before trusting the others.
//!
//! # How the payload and the shared objects cross
//! The parent writes the payload (name, identity, daemon flag, the parent's own record, the
//! target and its encoded arguments) to a memfd and names its number in the environment
//! variable [`PAYLOAD_VAR`]. An argument that stands for an OS resource (a [`Connection`], a
//! [`Lock`], a [`Value`], ...) serializes its descriptor number and reports it through
//! [`note_fd`] while the arguments are encoded; between `fork` and `exec` the child clears
//! `FD_CLOEXEC` on exactly those numbers (and the memfd), so they survive the `exec` at the same
//! numbers, and each object's `Deserialize` adopts its inherited descriptor. Every other
//! descriptor of ours is close-on-exec and stays behind.
//!
//! # The child's side
//! [`freeze_support`](crate::freeze_support), called first in `main`, sees [`PAYLOAD_VAR`],
//! reads the payload, becomes the child and runs its target through the same path as a forked
//! child (a panic prints `Process <name>:` and gives exit code 1), and leaves with `_exit`. A
//! program that forgets `freeze_support` reaches `Process::start` or `Pool::new` with the
//! variable still set; that is refused (see the next section for how the parent hears of it),
//! so a forgotten call can never re-spawn children without end.
//!
//! # A child that cannot become the child
//! Until one spawned child has become the child, the parent also hands it the write end of a
//! pipe ([`REPORT_VAR`]) and waits in `start` for its report: one byte once `freeze_support`
//! has read the payload, or one byte from a child that ran `main` instead and reached the
//! runtime there (which then leaves at once, printing nothing), or the end of the pipe from a
//! child that ended without either. Only the first report is a success; anything else makes
//! `Process::start` (and so `Pool::new`) return one error that says to add `freeze_support()`,
//! instead of a child that silently runs `main` again (a spawn `Pool` would replace such
//! workers for ever). Once a child has become the child, the program is known to call
//! `freeze_support`, and later children are not waited for.
//!
//! [`Connection`]: crate::Connection
//! [`Lock`]: crate::Lock
//! [`Value`]: crate::Value
#![expect(
    unsafe_code,
    reason = "a spawned child clears close-on-exec between fork and exec, and drops its payload variable"
)]

use std::ffi::OsString;
use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};
use std::os::unix::fs::FileExt;
use std::os::unix::process::CommandExt;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::bootstrap::{self, ChildInfo, flush_std_streams};
pub(crate) use super::call::Call;
use super::children::{self, Child};
use super::current::{self, Parent};
use super::forkserver;
use super::handle::Target;
use super::panics::{self, ReportName};
use crate::codec;
use crate::deadline::Deadline;
use crate::error::{Error, Result};
use crate::reduction::code_offset;
use crate::start_method::{self, StartMethod};
use crate::sys::{fcntl, mman, poll, signal, socket, unistd, wait};

/// The environment variable that tells a re-executed program it is a spawned child, and which
/// descriptor holds its payload.
pub(crate) const PAYLOAD_VAR: &str = "MULTIPROCESSING_SPAWN_FD";

/// The environment variable naming the pipe on which a spawned child reports to its parent
/// whether it became the child (see "A child that cannot become the child" in the module
/// docs).
pub(crate) const REPORT_VAR: &str = "MULTIPROCESSING_SPAWN_REPORT_FD";

/// The report of a child that became the child.
const BOOTSTRAPPED: u8 = b'K';
/// The report of a child that ran `main` instead, and reached the runtime there.
const REFUSED: u8 = b'F';

/// How long the parent waits for a spawned child's report: a child that has not called
/// `freeze_support` within it is not going to.
const REPORT_TIMEOUT: Duration = Duration::from_secs(30);

/// Whether a spawned child of this program has reported that it became the child. Then the
/// program calls `freeze_support`, and later children are not waited for: each would cost its
/// `start` the time of an `exec`.
static VERIFIED: AtomicBool = AtomicBool::new(false);

/// What the child checks before it trusts the payload's offsets: the executable file it runs
/// (device and inode of `/proc/self/exe`) and one known offset. The first catches a payload
/// that reached another program (its variable inherited through a forgetful child); the second
/// a different build behind the same file.
fn build_check() -> (u64, u64, u64) {
    use std::os::unix::fs::MetadataExt;
    let (dev, ino) = std::fs::metadata("/proc/self/exe").map_or((0, 0), |m| (m.dev(), m.ino()));
    let offset = code_offset(super::freeze_support as fn() as *const ()) as u64;
    (dev, ino, offset)
}

/// Everything a spawned (or forkserver) child needs to become the child.
#[derive(Serialize, Deserialize)]
pub(crate) struct Bootstrap {
    check: (u64, u64, u64),
    pub(crate) name: String,
    pub(crate) identity: Vec<u32>,
    pub(crate) daemon: bool,
    /// Whether the child dies with its parent (a daemon, unless it opted out, as the manager's
    /// server does: it watches its owner and cleans up itself).
    pub(crate) tied: bool,
    pub(crate) parent: Parent,
    /// The parent's default start method, if it chose one: the child's processes use it too.
    start_method: Option<StartMethod>,
    /// The parent's authentication key, which the child takes as its own (CPython passes
    /// `authkey` in the same way, in `spawn.get_preparation_data`).
    authkey: [u8; 32],
    pub(crate) call: Call,
}

impl Bootstrap {
    /// The descriptors the child must inherit, in the order the payload names them.
    pub(crate) fn call_fds(&self) -> &[RawFd] {
        self.call.fds()
    }

    pub(crate) fn new(info: &ChildInfo, call: Call, tied: bool) -> Bootstrap {
        Bootstrap {
            check: build_check(),
            name: info.name.clone(),
            identity: info.identity.clone(),
            daemon: info.daemon,
            tied,
            parent: current::parent_record(),
            start_method: start_method::chosen_start_method(),
            authkey: crate::authkey::get(),
            call,
        }
    }

    /// Turns the calling process into the child and runs the target; never returns. A spawned
    /// child whose parent waits for its report (see the module docs) sends it on `report`
    /// once it knows it can run the target.
    pub(crate) fn run(self, report: Option<File>) -> ! {
        // First, before anything could make a key of its own.
        crate::authkey::inherit(self.authkey);
        // A spawned child is a fresh run of the program, single-threaded here; a child of the
        // fork server finds the server's hook in place and does nothing.
        panics::install();
        if self.check != build_check() {
            eprintln!(
                "multiprocessing: {} was started from a different executable than its parent's; \
                 it cannot find its target",
                self.name
            );
            crate::sys::unistd::exit_now(1);
        }
        if let Some(mut report) = report {
            // A parent that is gone or gave up has nothing to hear; the child runs anyway.
            let _ = report.write_all(&[BOOTSTRAPPED]);
        }
        // The inherited descriptors are owned by the arguments from now on; a child of this
        // child (spawned in turn) must not inherit them unless it is given them explicitly.
        for &fd in self.call.fds() {
            let _ = fcntl::set_cloexec(fd, true);
        }
        if let Some(method) = self.start_method {
            start_method::inherit_start_method(method);
        }
        bootstrap::become_child(
            ChildInfo {
                name: self.name.clone(),
                identity: self.identity,
                daemon: self.daemon,
            },
            self.parent,
        );
        let call = self.call;
        bootstrap::bootstrap(ReportName::new(&self.name), move || call.invoke())
    }
}

/// Starts a child that runs `target` described as a [`Call`]: a new run of this executable
/// (`spawn`), or a child of the fork server (`forkserver`). On failure the target is handed
/// back.
pub(super) fn start(
    info: ChildInfo,
    target: Target,
    forkserver: bool,
    die_with_parent: bool,
) -> std::result::Result<Arc<Child>, (Error, Target)> {
    children::before_start();
    // Not for duplication, as under fork (the new run has empty buffers), but for order: what
    // the parent printed before `start` comes out before what the child prints.
    flush_std_streams();
    let call = match target.to_call(&info.name) {
        Ok(call) => call,
        Err(e) => return Err((e, target)),
    };
    let bootstrap = Bootstrap::new(&info, call, die_with_parent && info.daemon);
    let started = if forkserver {
        forkserver::start(&bootstrap).map(|(pid, status)| Child::served(pid, info, status))
    } else {
        spawn(&bootstrap).map(|pid| Child::ours(pid, info))
    };
    let child = match started {
        Ok(child) => child,
        Err(e) => return Err((e, target)),
    };
    children::register(&child);
    // As under fork, the parent's copy of the arguments goes now: the child has its own.
    drop(bootstrap);
    drop(target);
    Ok(child)
}

/// Starts a spawned child that will run `bootstrap`: the program again, from
/// `/proc/self/exe`, with the same arguments, the payload in a memfd named by [`PAYLOAD_VAR`],
/// and the argument's descriptors kept open across `exec`. Returns its pid.
fn spawn(bootstrap: &Bootstrap) -> Result<libc::pid_t> {
    let who = &bootstrap.name;
    // Every way to spawn passes here: a run of the program that forgot `freeze_support` stops.
    check_bootstrapped(who)?;
    let payload = codec::encode(bootstrap)?;
    let memfd = mman::memfd_create(c"mp-spawn")
        .map_err(|e| Error::os(format!("memfd_create: the payload of {who}"), e))?;
    let mut file = File::from(memfd);
    file.write_all(&payload)
        .map_err(|e| Error::os(format!("write: the payload of {who}"), e))?;
    let mut keep: Vec<RawFd> = bootstrap.call.fds().to_vec();
    keep.push(file.as_raw_fd());
    for &fd in &keep {
        if !fcntl::is_open(fd) {
            return Err(Error::state(format!(
                "{who}: descriptor {fd} named by its arguments is not open in the parent"
            )));
        }
    }
    let mut command = rerun_command("multiprocessing-child");
    command.env(PAYLOAD_VAR, file.as_raw_fd().to_string());
    // Until a child has shown that the program calls `freeze_support`, this one reports.
    let report = if VERIFIED.load(Ordering::Relaxed) {
        command.env_remove(REPORT_VAR);
        None
    } else {
        let (ours, theirs) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)
            .map_err(|e| Error::os(format!("pipe2: the bootstrap report of {who}"), e.into()))?;
        keep.push(theirs.as_raw_fd());
        command.env(REPORT_VAR, theirs.as_raw_fd().to_string());
        Some((ours, theirs))
    };
    // A daemon dies with its parent, as under fork (see `bootstrap::tie_to_parent`); the signal
    // set before `exec` survives it.
    let parent = unistd::getpid();
    let tie = bootstrap.tied && unistd::gettid() == parent;
    // SAFETY: the closure runs in the forked child before `exec`; it only calls `fcntl` (through
    // `set_cloexec`), `prctl` and `getppid`, which are async-signal-safe, and reads `keep`, which
    // was allocated before the fork and is not freed or resized in the child.
    unsafe {
        command.pre_exec(move || {
            for &fd in &keep {
                fcntl::set_cloexec(fd, false)?;
            }
            if tie {
                signal::set_parent_death_signal(libc::SIGKILL)?;
                if unistd::getppid() != parent {
                    return Err(std::io::Error::from_raw_os_error(libc::ESRCH));
                }
            }
            Ok(())
        });
    }
    let child = command
        .spawn()
        .map_err(|e| Error::os(format!("fork and exec of /proc/self/exe: spawning {who}"), e))?;
    // The runtime reaps the child itself (`Process::join`); dropping std's handle neither
    // waits for nor kills it.
    let pid = child.id() as libc::pid_t;
    drop(child);
    if let Some((ours, theirs)) = report {
        // Our copy of the child's end goes, so that the child's exit ends the pipe.
        drop(theirs);
        await_report(who, pid, ours)?;
    }
    Ok(pid)
}

/// Waits for the report of spawned child `pid` (see the module docs). On anything but success
/// the child is ended and reaped, and the error says what to add.
fn await_report(who: &str, pid: libc::pid_t, report: OwnedFd) -> Result<()> {
    let mut byte = [0u8];
    let got = match poll::poll_readable(report.as_fd(), Some(REPORT_TIMEOUT)) {
        Ok(true) => File::from(report).read(&mut byte).ok(),
        _ => None,
    };
    let what = match got {
        Some(1) if byte[0] == BOOTSTRAPPED => {
            VERIFIED.store(true, Ordering::Relaxed);
            return Ok(());
        }
        Some(1) if byte[0] == REFUSED => "ran main() again instead of becoming the child".to_string(),
        Some(_) => match end_and_reap(pid) {
            Some(code) => format!("ended (exit code {code}) before it became the child"),
            None => "ended before it became the child".to_string(),
        },
        None => format!("did not become the child within {REPORT_TIMEOUT:?}, and was killed"),
    };
    end_and_reap(pid);
    Err(Error::state(format!(
        "{who}: the spawned child (pid {pid}) {what}: call multiprocessing::freeze_support() \
         first in main, which turns a spawned run of the program into the child"
    )))
}

/// Ends a spawned child that did not become the child (`SIGKILL` if it still runs) and reaps
/// it; its exit code, if it had one of its own. Bounded: a killed child ends within moments.
fn end_and_reap(pid: libc::pid_t) -> Option<i32> {
    if let Ok(Some(code)) = wait::try_wait(pid) {
        return Some(code);
    }
    let _ = signal::kill(pid, libc::SIGKILL);
    let deadline = Deadline::after(Some(Duration::from_secs(5)));
    while !deadline.passed() {
        match wait::try_wait(pid) {
            Ok(None) => std::thread::sleep(deadline.left_at_most(Duration::from_millis(1))),
            _ => break,
        }
    }
    None
}

/// A command that runs this program again: `/proc/self/exe` with this process's arguments,
/// `argv[0]` included (`fallback_argv0` when there is none). What a spawned child and the fork
/// server are started with.
pub(crate) fn rerun_command(fallback_argv0: &str) -> Command {
    let mut args = std::env::args_os();
    let argv0 = args.next().unwrap_or_else(|| OsString::from(fallback_argv0));
    let mut command = Command::new("/proc/self/exe");
    command.arg0(argv0).args(args);
    command
}

/// Whether this process consumed a spawn payload (it is, or was, a spawned child).
static CONSUMED: AtomicBool = AtomicBool::new(false);

/// Records that this run of the program became what it was started to be (a spawned child,
/// or the fork server), so that [`check_bootstrapped`] lets it start processes.
pub(crate) fn mark_bootstrapped() {
    CONSUMED.store(true, Ordering::Relaxed);
}

/// The child's side of `freeze_support()`: if this run of the program was started to be a
/// spawned child, become it, run the target, and exit. Otherwise return at once.
pub(crate) fn run_if_spawned() {
    let Some(value) = std::env::var_os(PAYLOAD_VAR) else {
        return;
    };
    CONSUMED.store(true, Ordering::Relaxed);
    let report = report_pipe();
    // SAFETY: `freeze_support` runs first in `main`, before the program starts any thread, so
    // no other thread reads the environment while we change it.
    unsafe {
        std::env::remove_var(PAYLOAD_VAR);
        std::env::remove_var(REPORT_VAR);
    }
    let bootstrap = read_payload(&value).unwrap_or_else(|why| {
        eprintln!("multiprocessing: cannot start the spawned child: {why}");
        crate::sys::unistd::exit_now(1)
    });
    bootstrap.run(report)
}

/// The pipe named by [`REPORT_VAR`], if the parent is waiting for a report; adopted (and made
/// close-on-exec again) so that no child of ours inherits it.
fn report_pipe() -> Option<File> {
    let fd: RawFd = std::env::var(REPORT_VAR).ok()?.parse().ok()?;
    let fd = socket::adopt_inherited(fd).ok()?;
    let _ = fcntl::set_cloexec(fd.as_raw_fd(), true);
    Some(File::from(fd))
}

fn read_payload(value: &std::ffi::OsStr) -> std::result::Result<Bootstrap, String> {
    let fd: RawFd = value
        .to_str()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("{PAYLOAD_VAR}={value:?} is not a descriptor number"))?;
    let memfd = socket::adopt_inherited(fd).map_err(|e| format!("payload descriptor {fd}: {e}"))?;
    let file = File::from(memfd);
    let len = file
        .metadata()
        .map_err(|e| format!("payload descriptor {fd}: {e}"))?
        .len();
    let mut payload = vec![0; usize::try_from(len).map_err(|e| e.to_string())?];
    file.read_exact_at(&mut payload, 0)
        .map_err(|e| format!("reading the payload from descriptor {fd}: {e}"))?;
    codec::decode(&payload).map_err(|e| e.to_string())
}

/// Refuses to start a process from a spawned child whose `main` went on without calling
/// `freeze_support()`: that child would spawn again, and again (CPython's "An attempt has been
/// made to start a new process before the current process has finished its bootstrapping
/// phase").
pub(crate) fn check_bootstrapped(who: &str) -> Result<()> {
    // What the environment said at the first start, which is before any fork of ours: a forked
    // child reads the copy, never the environment, whose lock a thread of the parent may have
    // held at the moment of the fork.
    static STARTED_AS: OnceLock<Option<&'static str>> = OnceLock::new();
    let started_as = STARTED_AS.get_or_init(|| {
        if std::env::var_os(PAYLOAD_VAR).is_some() {
            Some("by the spawn start method to run a child")
        } else if std::env::var_os(forkserver::SERVER_VAR).is_some() {
            Some("to be the fork server of the forkserver start method")
        } else {
            None
        }
    });
    let Some(started_as) = started_as else {
        return Ok(());
    };
    if !CONSUMED.load(Ordering::Relaxed) {
        if let Some(mut report) = report_pipe() {
            // Our parent waits in `start` for this, and reports the error itself: one message,
            // from the program the user ran. This run of `main` has nothing more to do.
            let _ = report.write_all(&[REFUSED]);
            unistd::exit_now(1);
        }
        return Err(Error::state(format!(
            "{who}: this process was started {started_as}, but main() went on without becoming \
             it: call multiprocessing::freeze_support() first in main, before starting any \
             process or pool"
        )));
    }
    Ok(())
}

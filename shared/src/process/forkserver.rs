//! The `forkserver` start method (CPython's `forkserver.py` and `popen_forkserver.py`): a
//! single-threaded server process forks the children, so that a parent with running threads
//! can start processes safely.
//!
//! # The server
//! Started on first use, as a spawned run of the same executable (`/proc/self/exe`) whose
//! [`freeze_support`](crate::freeze_support) sees [`SERVER_VAR`] and becomes the server before
//! `main` does anything: the server is single-threaded and has none of the parent's locks, so
//! forking it is always safe. It ignores `SIGINT`, as CPython's does (a Ctrl-C for the program
//! must not end it). The parent stops and reaps it at its normal exit, after joining its
//! children; otherwise it exits when the last process that can reach it (the parent and the
//! parent's forked children, which hold the control socket) has gone.
//!
//! We spawn the server rather than fork it from the parent at a moment we hope is
//! single-threaded: a spawned server is single-threaded whatever the parent was doing. Its
//! control socket is an inherited socket pair, not a named socket as CPython's (which needs an
//! authkey to keep strangers out): only the parent and its forked children can reach it.
//!
//! # A request
//! The parent makes a stream socket pair for the child and sends one end to the server over the
//! control socket (a sequenced-packet socket, so that several processes sharing it never mix
//! their messages), together with the descriptors the arguments name (`SCM_RIGHTS`). It then
//! writes the payload (the same one a spawned child reads, see `spawn.rs`) on its end. The
//! server forks; the child closes the server's descriptors, puts each received descriptor at
//! the number the payload names, and runs its target like a spawned child. The server writes
//! the child's pid on the request socket, and later its exit code.
//!
//! # Waiting for a grandchild
//! The child is the server's child, not the parent's: the parent cannot `waitpid` it, and a
//! pidfd only says that it ended, not how. As CPython does, the server reaps it (it watches a
//! pidfd per child) and reports the exit code (`-N` for signal `N`) on the request socket, which
//! is the parent's sentinel: readable once the child has ended. We chose this over making the
//! parent a child subreaper (`PR_SET_CHILD_SUBREAPER`), which would make every orphaned
//! descendant of the program the parent's zombie to reap. Signals (`terminate`, `kill`) go to
//! the child's pid directly.
#![expect(
    unsafe_code,
    reason = "the fork server forks, which is unsafe to call, from a process known to be single-threaded"
)]

use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};
use std::os::unix::process::CommandExt;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use crate::codec;
use crate::deadline::Deadline;
use crate::error::{Error, Result};
use crate::process::spawn::{self, Bootstrap};
use crate::sys::{fcntl, poll, scm, signal, socket, unistd, wait};

/// The environment variable that tells a run of the program to become the fork server, and
/// which inherited descriptor is its control socket.
pub(crate) const SERVER_VAR: &str = "MULTIPROCESSING_FORKSERVER_FD";

/// How long the parent waits for the server to start, and for it to report a child's pid.
const REPLY_TIMEOUT: Duration = Duration::from_secs(30);

/// A request on the control socket (one byte, with the descriptors attached).
const REQUEST: u8 = b'R';
/// The server's first message on the control socket: it is ready.
const HELLO: u8 = b'H';

/// The parent's link to its fork server.
struct Server {
    control: OwnedFd,
    pid: libc::pid_t,
    /// The process that started the server, the only one that can reap it.
    starter: libc::pid_t,
}

static SERVER: Mutex<Option<Server>> = Mutex::new(None);

fn lock() -> MutexGuard<'static, Option<Server>> {
    SERVER.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The link to the fork server, locked: `Process::start` holds it across a `fork`, so that a
/// forked child, which may ask the same server for children of its own, never finds it locked
/// by a thread that does not exist in the child.
pub(crate) fn hold_for_fork() -> impl Drop {
    lock()
}

/// Runs `f` with the running fork server, started if there is none (or the last one died).
/// The lock is held meanwhile, so that the record cannot be replaced under `f`.
fn with_server<R>(f: impl FnOnce(&Server) -> Result<R>) -> Result<R> {
    let mut guard = lock();
    if let Some(server) = guard.as_ref() {
        // A dead server is reaped here and replaced; a forked child of the starter cannot
        // tell (it is not the server's parent) and keeps using the shared one.
        if server.starter == unistd::getpid() && matches!(wait::try_wait(server.pid), Ok(Some(_))) {
            *guard = None;
        }
    }
    if guard.is_none() {
        *guard = Some(start_server()?);
    }
    f(guard.as_ref().expect("just set"))
}

/// The fork server's pid, starting it if needed (a pool worker checks that its parent is still
/// this process).
pub(crate) fn server_pid() -> Result<libc::pid_t> {
    with_server(|server| Ok(server.pid))
}

/// Stops the fork server this process started, if any, and reaps it: called at the parent's
/// normal exit, after its children were joined. Closing our control socket is the signal (the
/// server exits once no client is left); a server that lingers is killed. Reaping it here
/// matters: once we are gone, the server would be an orphan that only `init` can reap.
pub(crate) fn shutdown() {
    let Some(server) = lock().take() else {
        return;
    };
    if server.starter != unistd::getpid() {
        // A forked child's copy of the parent's link: closing it is all it may do.
        return;
    }
    let Server { control, pid, .. } = server;
    drop(control);
    let pidfd = wait::pidfd_open(pid).ok().flatten();
    let ended = match &pidfd {
        Some(fd) => poll::poll_readable(fd.as_fd(), Some(Duration::from_secs(2))).unwrap_or(false),
        None => false,
    };
    if !ended {
        let _ = signal::kill(pid, libc::SIGKILL);
    }
    reap(pid);
}

/// Reaps the server, which has ended or was sent `SIGKILL` (so it ends within moments; two
/// seconds is a bound for a machine under heavy load, not an expected wait).
fn reap(pid: libc::pid_t) {
    let deadline = Deadline::after(Some(Duration::from_secs(2)));
    while matches!(wait::try_wait(pid), Ok(None)) && !deadline.passed() {
        std::thread::sleep(deadline.left_at_most(Duration::from_millis(1)));
    }
}

fn start_server() -> Result<Server> {
    // A server that forgot `freeze_support` runs `main`; were it to start a server in turn
    // (a forkserver `Pool` starts one before any process), that would never end.
    spawn::check_bootstrapped("starting the fork server")?;
    let (mine, theirs) =
        scm::seqpacket_pair().map_err(|e| Error::os("socketpair: the fork server's control socket", e))?;
    let mut command = spawn::rerun_command("multiprocessing-forkserver");
    command
        .env(SERVER_VAR, theirs.as_raw_fd().to_string())
        .env_remove(spawn::PAYLOAD_VAR)
        .env_remove(spawn::REPORT_VAR);
    let keep = theirs.as_raw_fd();
    // SAFETY: the closure runs in the forked child before `exec` and only calls `fcntl`, which
    // is async-signal-safe.
    unsafe {
        command.pre_exec(move || fcntl::set_cloexec(keep, false));
    }
    let child = command
        .spawn()
        .map_err(|e| Error::os("fork and exec of /proc/self/exe: starting the fork server", e))?;
    let pid = child.id() as libc::pid_t;
    drop(child);
    drop(theirs);
    let server = Server {
        control: mine,
        pid,
        starter: unistd::getpid(),
    };
    // The server says hello once `freeze_support` made it the server. A program that forgot
    // `freeze_support` runs `main` instead, is refused at its first `start`, and exits.
    let hello = poll::poll_readable(server.control.as_fd(), Some(REPLY_TIMEOUT))
        .and_then(|ready| {
            let mut byte = [0u8];
            if ready {
                socket::read_some(server.control.as_fd(), &mut byte)
            } else {
                Ok(0)
            }
            .map(|n| n == 1 && byte[0] == HELLO)
        })
        .unwrap_or(false);
    if !hello {
        let _ = signal::kill(pid, libc::SIGKILL);
        reap(pid);
        return Err(Error::state(format!(
            "the fork server (pid {pid}) did not start: call multiprocessing::freeze_support() \
             first in main, which turns a run of the program into the server"
        )));
    }
    Ok(server)
}

/// Asks the fork server to start a child running `bootstrap`. Returns the child's pid and the
/// socket on which the server will write its exit code.
pub(crate) fn start(bootstrap: &Bootstrap) -> Result<(libc::pid_t, OwnedFd)> {
    let who = &bootstrap.name;
    let fds = bootstrap.call_fds();
    for &fd in fds {
        if !fcntl::is_open(fd) {
            return Err(Error::state(format!(
                "{who}: descriptor {fd} named by its arguments is not open in the parent"
            )));
        }
    }
    let payload = codec::encode(bootstrap)?;
    let (mine, theirs) = socket::socketpair()
        .map_err(|e| Error::os(format!("socketpair: the fork server's link to {who}"), e))?;
    let mut attached = vec![theirs.as_raw_fd()];
    attached.extend_from_slice(fds);
    with_server(|server| {
        scm::send_with_fds(server.control.as_fd(), &[REQUEST], &attached).map_err(|e| {
            Error::os(
                format!("sendmsg: asking the fork server (pid {}) for {who}", server.pid),
                e,
            )
        })
    })?;
    drop(theirs);
    let mut message = (payload.len() as u64).to_le_bytes().to_vec();
    message.extend_from_slice(&payload);
    socket::write_all(mine.as_fd(), &message, true).map_err(|e| {
        Error::os(
            format!("write: sending the payload of {who} to the fork server"),
            e,
        )
    })?;
    let pid = read_i32(&mine, Some(REPLY_TIMEOUT))
        .map_err(|e| Error::os(format!("read: the fork server did not start {who}"), e))?;
    Ok((pid, mine))
}

/// Reads one little-endian `i32` from `fd`, waiting at most `timeout`.
fn read_i32(fd: &OwnedFd, timeout: Option<Duration>) -> std::io::Result<i32> {
    if !poll::poll_readable(fd.as_fd(), timeout)? {
        return Err(std::io::Error::from(std::io::ErrorKind::TimedOut));
    }
    let mut bytes = [0u8; 4];
    let n = socket::read_full(fd.as_fd(), &mut bytes)?;
    if n < 4 {
        return Err(std::io::Error::new(
            std::io::ErrorKind::UnexpectedEof,
            "the fork server closed the connection (it died, or refused the request)",
        ));
    }
    Ok(i32::from_le_bytes(bytes))
}

/// Reads the exit code the server reported on `status`, if it has: `Ok(None)` while the child
/// runs.
pub(crate) fn try_exit_code(status: &OwnedFd) -> std::io::Result<Option<i32>> {
    if !poll::poll_readable(status.as_fd(), Some(Duration::ZERO))? {
        return Ok(None);
    }
    read_i32(status, Some(Duration::ZERO)).map(Some)
}

/// A child the server forked and has not reaped yet.
struct Running {
    pid: libc::pid_t,
    pidfd: OwnedFd,
    status: OwnedFd,
}

/// The server side of `freeze_support()`: if this run of the program was started to be the
/// fork server, serve until the last client has gone, then exit. Otherwise return at once.
pub(crate) fn run_if_server() {
    let Some(value) = std::env::var_os(SERVER_VAR) else {
        return;
    };
    // SAFETY: the fork server is the spawned program inside `freeze_support`, which runs first
    // in `main`, before any thread exists, so no other thread reads the environment.
    unsafe { std::env::remove_var(SERVER_VAR) };
    spawn::mark_bootstrapped();
    // Once, here, for every child the server forks (they must not touch the hook's lock).
    super::panics::install();
    let fd: Option<RawFd> = value.to_str().and_then(|s| s.parse().ok());
    let Some(control) = fd.and_then(|fd| socket::adopt_inherited(fd).ok()) else {
        eprintln!("multiprocessing: {SERVER_VAR}={value:?} is not an inherited descriptor");
        unistd::exit_now(1)
    };
    let _ = fcntl::set_cloexec(control.as_raw_fd(), true);
    // A Ctrl-C in the terminal goes to the whole process group; the program decides what its
    // children do, the server must survive it to report their exit codes.
    let _ = signal::set_ignored(libc::SIGINT, true);
    // An ignored SIGCHLD survives `exec`, and would make the kernel reap our children before we
    // can read their exit codes.
    let _ = signal::set_ignored(libc::SIGCHLD, false);
    if scm::send_with_fds(control.as_fd(), &[HELLO], &[]).is_err() {
        unistd::exit_now(0);
    }
    serve(control)
}

fn serve(control: OwnedFd) -> ! {
    let mut running: Vec<Running> = Vec::new();
    loop {
        let ready = {
            let mut fds = vec![control.as_fd()];
            fds.extend(running.iter().map(|r| r.pidfd.as_fd()));
            match poll::poll_readable_many(&fds, None) {
                Ok(ready) => ready,
                Err(_) => continue,
            }
        };
        // Report the children that ended, then take new requests.
        let mut i = 0;
        let mut index = 1;
        while i < running.len() {
            if ready[index] {
                let done = running.remove(i);
                report(done);
            } else {
                i += 1;
            }
            index += 1;
        }
        if ready[0] {
            let mut byte = [0u8; 1];
            match scm::recv_with_fds(control.as_fd(), &mut byte) {
                // Every client has gone: nobody is left to report to.
                Ok((0, _)) => unistd::exit_now(0),
                Ok((_, fds)) if byte[0] == REQUEST => {
                    if let Some(child) = fork_one(&control, &running, fds) {
                        running.push(child);
                    }
                }
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(_) => unistd::exit_now(1),
            }
        }
    }
}

/// Reaps an ended child and writes its exit code on its request socket.
fn report(done: Running) {
    let code = match wait::try_wait(done.pid) {
        Ok(Some(code)) => code,
        // The pidfd said it ended; if it is not reapable yet, wait for it (it is a zombie).
        _ => loop {
            match wait::try_wait(done.pid) {
                Ok(Some(code)) => break code,
                Ok(None) => std::thread::sleep(Duration::from_micros(100)),
                Err(_) => break 255,
            }
        },
    };
    let _ = socket::write_all(done.status.as_fd(), &code.to_le_bytes(), true);
}

/// Reads one request and forks its child. `None` if the request was bad (its socket is then
/// closed, which the parent reports).
fn fork_one(control: &OwnedFd, running: &[Running], mut fds: Vec<OwnedFd>) -> Option<Running> {
    if fds.is_empty() {
        return None;
    }
    let status = fds.remove(0);
    let mut len = [0u8; 8];
    if socket::read_full(status.as_fd(), &mut len).ok()? < 8 {
        return None;
    }
    let len = usize::try_from(u64::from_le_bytes(len)).ok()?;
    let mut payload = vec![0u8; len];
    if socket::read_full(status.as_fd(), &mut payload).ok()? < len {
        return None;
    }
    let bootstrap: Bootstrap = codec::decode(&payload).ok()?;
    if bootstrap.call_fds().len() != fds.len() {
        return None;
    }
    let server = unistd::getpid();
    // SAFETY: the server is single-threaded (it became the server in `freeze_support`, before
    // `main` could start a thread), so the child finds no lock held by a vanished thread.
    match unsafe { unistd::fork() } {
        Err(_) => None,
        Ok(unistd::Fork::Child) => {
            // A daemon dies with the server (which leaves once the parent and the parent's
            // forked children are gone), as a forked daemon dies with its parent.
            if bootstrap.tied {
                super::bootstrap::tie_to_parent(server);
            }
            // The server's descriptors are not the child's: without this, the server would
            // never see its clients go (the child would hold the control socket).
            for r in running {
                fcntl::close(r.pidfd.as_raw_fd());
                fcntl::close(r.status.as_raw_fd());
            }
            fcntl::close(control.as_raw_fd());
            fcntl::close(status.as_raw_fd());
            let _ = signal::set_ignored(libc::SIGINT, false);
            if let Err(e) = place_fds(fds, bootstrap.call_fds()) {
                eprintln!(
                    "multiprocessing: {}: cannot put the inherited descriptors in place: {e}",
                    bootstrap.name
                );
                unistd::exit_now(1);
            }
            bootstrap.run(None)
        }
        Ok(unistd::Fork::Parent(pid)) => {
            drop(fds);
            let Ok(Some(pidfd)) = wait::pidfd_open(pid) else {
                // Without a pidfd we cannot tell when it ends; it still runs, unreported.
                return None;
            };
            socket::write_all(status.as_fd(), &pid.to_le_bytes(), true).ok()?;
            Some(Running { pid, pidfd, status })
        }
    }
}

/// Moves each received descriptor to the number the parent knew it by. Received numbers and
/// wanted numbers may overlap, so everything goes above both first.
fn place_fds(received: Vec<OwnedFd>, wanted: &[RawFd]) -> std::io::Result<()> {
    let floor = received
        .iter()
        .map(AsRawFd::as_raw_fd)
        .chain(wanted.iter().copied())
        .max()
        .unwrap_or(2)
        + 1;
    let mut parked = Vec::with_capacity(received.len());
    for fd in &received {
        parked.push(fcntl::dup_at_least(fd.as_raw_fd(), floor)?);
    }
    drop(received);
    for (&from, &to) in parked.iter().zip(wanted) {
        unistd::dup2(from, to)?;
        fcntl::close(from);
    }
    Ok(())
}

//! Process semantics, checked against CPython's conventions (`Lib/multiprocessing/process.py`,
//! `popen_fork.py`, and `Lib/test/_test_multiprocessing.py`).
//!
//! Some behaviour can only be seen from outside a program (what it prints to stderr, what
//! happens when its `main` returns). For those, the test runs this same binary again as a small
//! helper program (`MP_PROCESS_TEST_HELPER=<mode>`, see [`helper`]) and watches it.

#[macro_use]
mod common;

use std::io::Read;
use std::process::{Command, ExitCode, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};

use common::{Test, sleep_ms};
use multiprocessing::{Process, active_children, current_process, parent_process};
use nix::sys::wait::{WaitPidFlag, waitpid};
use nix::unistd::Pid;

fn noop(_: ()) {}

/// Whether the suite runs under `forkserver` (`MP_TEST_START_METHOD`, see the harness): the
/// children are then the fork server's, which is itself a child of ours, as in CPython.
fn under_forkserver() -> bool {
    multiprocessing::get_start_method() == "forkserver"
}

fn name_pid_and_exitcode() {
    let mut p = Process::new(noop, ());
    assert_eq!(p.name(), "Process-1");
    assert_eq!(p.exitcode(), None);
    assert_eq!(p.pid(), None);
    p.start().unwrap();
    assert!(
        p.pid()
            .is_some_and(|pid| pid > 0 && pid != std::process::id() as i32)
    );
    p.join().unwrap();
    assert_eq!(p.exitcode(), Some(0));
    assert!(!p.is_alive());
}

fn panic_gives_exitcode_1() {
    fn boom(_: ()) {
        panic!("boom");
    }
    let mut p = Process::new(boom, ());
    p.start().unwrap();
    p.join().unwrap();
    assert_eq!(p.exitcode(), Some(1));
}

fn terminate_and_kill() {
    let mut p = Process::new(sleep_ms, 60_000);
    p.start().unwrap();
    assert!(p.is_alive());
    p.terminate().unwrap();
    p.join().unwrap();
    assert_eq!(p.exitcode(), Some(-15));

    let mut q = Process::new(sleep_ms, 60_000);
    q.start().unwrap();
    q.kill().unwrap();
    q.join().unwrap();
    assert_eq!(q.exitcode(), Some(-9));
}

fn join_timeout_returns_on_time() {
    let mut p = Process::new(sleep_ms, 60_000);
    p.start().unwrap();
    let started = Instant::now();
    assert!(!p.join_timeout(Duration::from_millis(200)).unwrap());
    let took = started.elapsed();
    assert!(took >= Duration::from_millis(200), "returned early: {took:?}");
    assert!(took < Duration::from_secs(5), "returned late: {took:?}");
    assert!(p.is_alive());
    assert_eq!(p.exitcode(), None);
    p.kill().unwrap();
    assert!(p.join_timeout(Duration::from_secs(10)).unwrap());
}

fn active_children_lifecycle() {
    assert!(active_children().is_empty());
    let mut p = Process::new(sleep_ms, 60_000);
    assert!(
        active_children().is_empty(),
        "a process that is not started is not a child"
    );
    p.start().unwrap();
    let children = active_children();
    assert_eq!(children.len(), 1);
    assert_eq!(children[0].name(), "Process-1");
    assert_eq!(Some(children[0].pid()), p.pid());
    p.kill().unwrap();
    p.join().unwrap();
    assert!(active_children().is_empty());
}

fn daemon_cannot_have_children() {
    fn try_child(_: ()) {
        let mut p = Process::new(noop, ());
        let err = p.start().unwrap_err();
        assert!(
            err.to_string()
                .contains("daemonic processes are not allowed to have children"),
            "{err}"
        );
    }
    let mut p = Process::new(try_child, ()).with_daemon(true);
    p.start().unwrap();
    p.join().unwrap();
    assert_eq!(p.exitcode(), Some(0));
}

fn double_start_fails() {
    let mut p = Process::new(noop, ());
    p.start().unwrap();
    let err = p.start().unwrap_err();
    assert!(err.to_string().contains("cannot start a process twice"), "{err}");
    p.join().unwrap();
}

fn grandchild_is_named_1_1() {
    fn inner(_: ()) {
        assert_eq!(current_process().name(), "Process-1:1");
        assert_eq!(multiprocessing::parent_process().unwrap().name(), "Process-1");
    }
    fn outer(_: ()) {
        assert_eq!(current_process().name(), "Process-1");
        let mut p = Process::new(inner, ());
        assert_eq!(p.name(), "Process-1:1");
        p.start().unwrap();
        p.join().unwrap();
        assert_eq!(p.exitcode(), Some(0));
    }
    let mut p = Process::new(outer, ());
    p.start().unwrap();
    p.join().unwrap();
    assert_eq!(p.exitcode(), Some(0));
}

fn dropped_process_is_reaped() {
    {
        let mut p = Process::new(noop, ());
        p.start().unwrap();
    }
    common::eventually(Duration::from_secs(10), "the dropped child is reaped", || {
        active_children().is_empty()
    });
}

fn names_follow_cpython() {
    assert_eq!(current_process().name(), "MainProcess");
    assert!(current_process().ident().is_empty());
    let a = Process::new(noop, ());
    let b = Process::new(noop, ()).with_name("读者");
    let c = Process::new(noop, ());
    // Making a process takes a number even when it is renamed or never started, as in CPython.
    assert_eq!((a.name(), b.name(), c.name()), ("Process-1", "读者", "Process-3"));
    assert_eq!((a.ident(), b.ident(), c.ident()), (&[1][..], &[2][..], &[3][..]));

    fn reports_its_name(expected: String) {
        assert_eq!(current_process().name(), expected);
    }
    let mut named = Process::new(reports_its_name, "读者".to_string()).with_name("读者");
    named.start().unwrap();
    named.join().unwrap();
    assert_eq!(named.exitcode(), Some(0), "the child saw another name");
}

fn current_and_parent_pid_in_child() {
    fn worker(parent_pid: i32) {
        let me = current_process();
        assert_eq!(me.pid(), std::process::id() as i32);
        assert_eq!(me.name(), "Process-1");
        assert!(me.is_alive());
        let parent = parent_process().expect("a child has a parent");
        assert_eq!((parent.name(), parent.pid()), ("MainProcess", parent_pid));
        if !under_forkserver() {
            assert_eq!(parent.pid(), nix::unistd::getppid().as_raw());
        }
        assert!(parent.is_alive());
        std::thread::sleep(Duration::from_millis(300));
    }
    assert!(parent_process().is_none());
    let me = std::process::id() as i32;
    let mut p = Process::new(worker, me);
    p.start().unwrap();
    // The pid the parent sees is a real child of ours: its /proc entry names us as parent.
    let pid = p.pid().unwrap();
    if under_forkserver() {
        // Its OS parent is the fork server; the rest of the test holds as it is.
        p.join().unwrap();
        assert_eq!(p.exitcode(), Some(0), "an assertion failed in the child");
        return;
    }
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let ppid: i32 = stat
        .rsplit(')')
        .next()
        .unwrap()
        .split_whitespace()
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(ppid, me);
    p.join().unwrap();
    assert_eq!(p.exitcode(), Some(0), "an assertion failed in the child");
}

fn exitcode_from_std_process_exit() {
    fn worker(code: i32) {
        std::process::exit(code);
    }
    let mut p = Process::new(worker, 3);
    p.start().unwrap();
    p.join().unwrap();
    assert_eq!(p.exitcode(), Some(3));
}

fn panic_prints_process_name_then_message() {
    let out = run_helper("panic", Duration::from_secs(30));
    assert!(out.status.success(), "helper failed: {out:?}");
    assert_eq!(out.stdout, "exitcode=1\n");
    let header = out
        .stderr
        .find("Process Process-1:\n")
        .unwrap_or_else(|| panic!("no header in {:?}", out.stderr));
    let message = out
        .stderr
        .find("boom: 42")
        .unwrap_or_else(|| panic!("no message in {:?}", out.stderr));
    assert!(header < message, "the name comes first: {:?}", out.stderr);
}

fn start_drops_the_parents_copy_of_the_arguments() {
    fn worker(conn: multiprocessing::Connection) {
        conn.send_bytes(b"hello").unwrap();
    }
    let (reader, writer) = multiprocessing::Pipe(false).unwrap();
    let mut p = Process::new(worker, writer);
    p.start().unwrap();
    p.join().unwrap();
    assert_eq!(reader.recv_bytes().unwrap(), b"hello");
    // Every copy of the writing end is gone (the child's at its exit, ours at `start`), so the
    // reader sees end of file instead of waiting for a message that cannot come.
    assert!(
        reader.poll(Some(Duration::from_secs(10))).unwrap(),
        "the writer is still open somewhere"
    );
    let err = reader.recv_bytes().unwrap_err();
    assert!(matches!(err, multiprocessing::Error::Eof(_)), "{err}");
}

fn a_child_cleans_up_its_own_children_when_it_ends() {
    fn grandchild(ms: u64) {
        std::thread::sleep(Duration::from_millis(ms));
    }
    fn child(conn: multiprocessing::Connection) {
        let mut daemon = Process::new(grandchild, 60_000).with_daemon(true);
        daemon.start().unwrap();
        let mut other = Process::new(grandchild, 300);
        other.start().unwrap();
        conn.send(&(daemon.pid().unwrap(), other.pid().unwrap())).unwrap();
        // Returning without joining: the child's exit must terminate the daemon and wait for
        // the other, as CPython's `_bootstrap` runs `_exit_function`.
    }
    let (reader, writer) = multiprocessing::Pipe(false).unwrap();
    let mut p = Process::new(child, writer);
    p.start().unwrap();
    assert!(
        reader.poll(Some(Duration::from_secs(20))).unwrap(),
        "no pids from the child"
    );
    let (daemon, other): (i32, i32) = reader.recv().unwrap();
    assert!(
        p.join_timeout(Duration::from_secs(20)).unwrap(),
        "the child waited for its daemon"
    );
    assert_eq!(p.exitcode(), Some(0));
    for (what, pid) in [("daemon", daemon), ("non-daemon", other)] {
        let gone = nix::sys::signal::kill(Pid::from_raw(pid), None) == Err(nix::errno::Errno::ESRCH);
        assert!(gone, "the {what} grandchild {pid} outlived the child");
    }
}

/// CPython's `test_recursion`: a tree of processes, each naming itself, children joined in turn.
fn recursion_names_every_generation() {
    fn record(path: String) {
        use std::io::Write;
        // One short O_APPEND write per process: the lines cannot interleave.
        let mut file = std::fs::OpenOptions::new().append(true).open(&path).unwrap();
        file.write_all(format!("{}\n", current_process().name()).as_bytes())
            .unwrap();
    }
    fn tree((path, depth): (String, u32)) {
        record(path.clone());
        if depth > 0 {
            for _ in 0..2 {
                let mut p = Process::new(tree, (path.clone(), depth - 1));
                p.start().unwrap();
                p.join().unwrap();
                assert_eq!(p.exitcode(), Some(0));
            }
        }
    }
    let path = std::env::temp_dir().join(format!("mp-test-recursion-{}", std::process::id()));
    std::fs::write(&path, "").unwrap();
    let path_text = path.to_str().unwrap().to_string();
    tree((path_text, 2));
    let names = std::fs::read_to_string(&path).unwrap();
    std::fs::remove_file(&path).unwrap();
    let expected = [
        "MainProcess",
        "Process-1",
        "Process-1:1",
        "Process-1:2",
        "Process-2",
        "Process-2:1",
        "Process-2:2",
    ];
    assert_eq!(names.lines().collect::<Vec<_>>(), expected);
}

/// CPython's `test_many_processes`: many children at once, all terminated, none lost.
fn many_processes_terminated_at_once() {
    let processes: Vec<Process> = (0..50)
        .map(|_| {
            let mut p = Process::new(sleep_ms, 60_000);
            p.start().unwrap();
            p
        })
        .collect();
    assert_eq!(active_children().len(), 50);
    for p in &processes {
        p.terminate().unwrap();
    }
    for p in &processes {
        assert!(
            p.join_timeout(Duration::from_secs(20)).unwrap(),
            "{} ignored SIGTERM",
            p.name()
        );
    }
    assert!(processes.iter().all(|p| p.exitcode() == Some(-15)));
    assert!(active_children().is_empty());
    drop(processes);
    assert_no_children_left();
}

/// CPython's `test_child_fd_inflation`: making processes leaks no descriptor in the parent.
fn no_descriptor_leak() {
    fn open_fds() -> usize {
        std::fs::read_dir("/proc/self/fd").unwrap().count()
    }
    // The first process may set up what lasts (the fork server's link, under forkserver).
    let mut first = Process::new(noop, ());
    first.start().unwrap();
    first.join().unwrap();
    let before = open_fds();
    for _ in 0..20 {
        let mut p = Process::new(noop, ());
        p.start().unwrap();
        p.join().unwrap();
    }
    // Dropped without a join: its pidfd must close once it is reaped.
    let mut q = Process::new(sleep_ms, 100);
    q.start().unwrap();
    drop(q);
    common::eventually(Duration::from_secs(20), "the dropped child is reaped", || {
        active_children().is_empty()
    });
    assert_eq!(open_fds(), before, "descriptors leaked");
}

fn a_child_reaped_elsewhere_is_a_clear_error() {
    if under_forkserver() {
        // Only the fork server can reap its children; nobody else in the program can.
        return;
    }
    let mut p = Process::new(noop, ());
    p.start().unwrap();
    // Someone else in the program reaps our child behind the runtime's back.
    waitpid(Pid::from_raw(p.pid().unwrap()), None).unwrap();
    let err = p.join().unwrap_err().to_string();
    assert!(
        err.contains("Process-1") && err.contains("reaped by someone else"),
        "{err}"
    );
    assert!(!p.is_alive());
    assert_eq!(p.exitcode(), None, "the exit code is lost, not invented");
}

fn unstarted_process_errors() {
    let p = Process::new(noop, ());
    for (what, err) in [
        ("join", p.join().unwrap_err()),
        ("terminate", p.terminate().unwrap_err()),
    ] {
        let text = err.to_string();
        assert!(
            text.contains(&format!("can only {what} a started process")),
            "{text}"
        );
        assert!(text.contains("Process-1"), "the error names the process: {text}");
    }
    assert!(p.kill().is_err());
    assert!(p.join_timeout(Duration::from_millis(1)).is_err());
    assert!(!p.is_alive());
    assert_eq!(p.exitcode(), None);
    assert!(p.sentinel().is_none());
}

/// A child that ends once it hears from its parent.
fn wait_for_word(conn: multiprocessing::Connection) {
    let _ = conn.recv::<()>();
}

/// CPython's `test_close`: closing a running process is refused; once it has ended, `close`
/// releases it, and every method that needs the child then says the object is closed.
fn test_close() {
    let (ours, theirs) = multiprocessing::Pipe(true).unwrap();
    let mut p = Process::new(wait_for_word, theirs).with_daemon(true);
    p.start().unwrap();
    assert!(p.is_alive());
    let err = p.close().unwrap_err();
    assert!(matches!(err, multiprocessing::Error::State(_)), "{err:?}");
    assert!(
        err.to_string().contains(
            "Cannot close a process while it is still running. You should first call join() or terminate()."
        ),
        "{err}"
    );
    assert!(p.is_alive(), "a refused close changes nothing");
    ours.send(&()).unwrap();
    p.join().unwrap();
    assert!(!p.is_alive());
    assert_eq!(p.exitcode(), Some(0));
    // The sentinel is one of the resources `close` releases.
    let sentinel = p.sentinel().map(|fd| std::os::fd::AsRawFd::as_raw_fd(&fd));
    p.close().unwrap();
    if let Some(fd) = sentinel {
        assert!(
            !std::path::Path::new(&format!("/proc/self/fd/{fd}")).exists(),
            "the sentinel {fd} is still open"
        );
    }
    for (what, result) in [
        ("join", p.join()),
        ("join_timeout", p.join_timeout(Duration::from_millis(1)).map(drop)),
        ("terminate", p.terminate()),
        ("kill", p.kill()),
        ("interrupt", p.interrupt()),
        ("start", p.start()),
    ] {
        let err = result.expect_err(what).to_string();
        assert!(
            err.contains("Process-1: process object is closed"),
            "{what}: {err}"
        );
    }
    assert!(!p.is_alive());
    assert_eq!((p.exitcode(), p.pid()), (None, None));
    assert!(p.sentinel().is_none());
    assert!(format!("{p:?}").contains(" closed"), "{p:?}");
    p.close().unwrap();
    assert!(active_children().is_empty());

    // A process that never started closes at once, and cannot be started afterwards.
    let mut q = Process::new(noop, ());
    q.close().unwrap();
    assert!(
        q.start()
            .unwrap_err()
            .to_string()
            .contains("process object is closed")
    );
}

/// A target that leaves SIGINT at its default action (CPython's `_sleep_no_int_handler`), so
/// that the test holds wherever it runs (a background job may start with SIGINT ignored).
#[allow(
    unsafe_code,
    reason = "resetting SIGINT's disposition, as CPython's test does"
)]
fn sleep_no_int_handler(ready: multiprocessing::Connection) {
    use nix::sys::signal::{SigHandler, SigSet, Signal, signal};
    // SAFETY: SIG_DFL is not a function that runs; installing it is always sound.
    unsafe { signal(Signal::SIGINT, SigHandler::SigDfl) }.unwrap();
    let mut sigint = SigSet::empty();
    sigint.add(Signal::SIGINT);
    sigint.thread_unblock().unwrap();
    ready.send(&()).unwrap();
    std::thread::sleep(Duration::from_secs(60));
}

/// CPython's `test_interrupt_no_handler`: `interrupt` sends SIGINT, which ends a child that
/// does not handle it with exit code -2.
fn test_interrupt_no_handler() {
    let (reader, writer) = multiprocessing::Pipe(false).unwrap();
    let mut p = Process::new(sleep_no_int_handler, writer);
    p.start().unwrap();
    assert!(
        reader.poll(Some(Duration::from_secs(30))).unwrap(),
        "the child is ready"
    );
    reader.recv::<()>().unwrap();
    p.interrupt().unwrap();
    assert!(
        p.join_timeout(Duration::from_secs(30)).unwrap(),
        "SIGINT ended the child"
    );
    assert_eq!(p.exitcode(), Some(-2));
    assert!(format!("{p:?}").contains("exitcode=-SIGINT"), "{p:?}");
}

/// CPython's `test_interrupt`: a target that treats SIGINT as Python's `KeyboardInterrupt`
/// (here: it waits for the signal and panics) ends with exit code 1, after `Process <name>:`
/// and the message on stderr.
fn test_interrupt() {
    let out = run_helper("interrupt", Duration::from_secs(30));
    assert!(out.status.success(), "helper failed: {out:?}");
    assert_eq!(out.stdout, "exitcode=1\n", "{out:?}");
    let header = out.stderr.find("Process Process-1:\n");
    let message = out.stderr.find("KeyboardInterrupt");
    assert!(
        header.is_some() && header < message,
        "the name, then the interrupt: {:?}",
        out.stderr
    );
}

fn signalling_an_ended_process_is_harmless() {
    let mut p = Process::new(noop, ());
    p.start().unwrap();
    p.join().unwrap();
    p.terminate().unwrap();
    p.kill().unwrap();
    assert_eq!(p.exitcode(), Some(0));
}

fn is_alive_follows_the_child() {
    let mut p = Process::new(sleep_ms, 300);
    assert!(!p.is_alive());
    p.start().unwrap();
    assert!(p.is_alive());
    // Without join: is_alive itself notices the end (and reaps the child).
    common::eventually(Duration::from_secs(20), "the child ends", || !p.is_alive());
    assert_eq!(p.exitcode(), Some(0));
    let err = waitpid(Pid::from_raw(p.pid().unwrap()), Some(WaitPidFlag::WNOHANG)).unwrap_err();
    assert_eq!(err, nix::errno::Errno::ECHILD, "the child was reaped");
}

fn active_children_reaps_ended_children() {
    let mut p = Process::new(noop, ());
    p.start().unwrap();
    let pid = p.pid().unwrap();
    // No join: active_children must notice the end and reap the child.
    common::eventually(Duration::from_secs(20), "the ended child leaves the list", || {
        active_children().is_empty()
    });
    let err = waitpid(Pid::from_raw(pid), Some(WaitPidFlag::WNOHANG)).unwrap_err();
    assert_eq!(err, nix::errno::Errno::ECHILD, "the child was reaped");
    assert_eq!(p.exitcode(), Some(0), "the exit code survives the reaping");
}

fn set_daemon_after_start_fails() {
    let mut p = Process::new(noop, ());
    p.set_daemon(true).unwrap();
    p.start().unwrap();
    let err = p.set_daemon(false).unwrap_err();
    assert!(err.to_string().contains("process has already started"), "{err}");
    assert!(p.daemon());
    p.join().unwrap();
}

fn debug_reads_like_cpython_repr() {
    let mut p = Process::new(sleep_ms, 60_000).with_daemon(true);
    let parent = std::process::id();
    assert_eq!(
        format!("{p:?}"),
        format!("<Process name='Process-1' parent={parent} initial daemon>")
    );
    p.start().unwrap();
    let pid = p.pid().unwrap();
    assert_eq!(
        format!("{p:?}"),
        format!("<Process name='Process-1' pid={pid} parent={parent} started daemon>")
    );
    p.terminate().unwrap();
    p.join().unwrap();
    assert_eq!(
        format!("{p:?}"),
        format!("<Process name='Process-1' pid={pid} parent={parent} stopped exitcode=-SIGTERM daemon>")
    );
}

fn sentinel_is_readable_once_the_child_ends() {
    use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
    let mut p = Process::new(sleep_ms, 300);
    p.start().unwrap();
    let Some(fd) = p.sentinel() else {
        // Kernels before 5.3 have no pidfd; join still works there (by polling).
        p.join().unwrap();
        return;
    };
    let mut fds = [PollFd::new(fd, PollFlags::POLLIN)];
    assert_eq!(
        poll(&mut fds, PollTimeout::ZERO).unwrap(),
        0,
        "readable while the child runs"
    );
    assert_eq!(
        poll(&mut fds, PollTimeout::from(20_000u16)).unwrap(),
        1,
        "not readable after the child ended"
    );
    p.join().unwrap();
    assert_eq!(p.exitcode(), Some(0));
}

/// The pidfds this process holds (`anon_inode:[pidfd]` in `/proc/self/fd`).
fn open_pidfds() -> usize {
    std::fs::read_dir("/proc/self/fd")
        .unwrap()
        .flatten()
        .filter(|e| std::fs::read_link(e.path()).is_ok_and(|l| l.to_string_lossy().contains("pidfd")))
        .count()
}

/// Issue 16: a start and a join cost what a `fork`, an `exit` and a `wait` cost, and no more.
/// A pidfd is opened only when something needs to sleep on one (a timed join, the sentinel),
/// and once; a plain `join` waits without one.
fn start_and_join_open_no_pidfd() {
    if under_forkserver() {
        // A fork server's child is watched through the server's socket: no pidfd either way.
        return;
    }
    let before = open_pidfds();
    let mut p = Process::new(sleep_ms, 300);
    p.start().unwrap();
    assert_eq!(open_pidfds(), before, "start opened a pidfd nobody asked for");
    p.join().unwrap();
    assert_eq!(p.exitcode(), Some(0));

    // A timed join and the sentinel share one pidfd, opened on first need.
    let mut q = Process::new(sleep_ms, 300);
    q.start().unwrap();
    assert!(!q.join_timeout(Duration::from_millis(10)).unwrap());
    let Some(sentinel) = q.sentinel().map(|fd| std::os::fd::AsRawFd::as_raw_fd(&fd)) else {
        // Kernels before 5.3 have no pidfd.
        q.join().unwrap();
        return;
    };
    assert_eq!(open_pidfds(), before + 1);
    assert_eq!(
        q.sentinel().map(|fd| std::os::fd::AsRawFd::as_raw_fd(&fd)),
        Some(sentinel)
    );
    assert!(q.join_timeout(Duration::from_secs(20)).unwrap());
    assert_eq!(q.exitcode(), Some(0));

    // Asked for only after the child was reaped, the sentinel is still readable.
    let mut r = Process::new(noop, ());
    r.start().unwrap();
    r.join().unwrap();
    let fd = r.sentinel().expect("a sentinel once started");
    let mut fds = [nix::poll::PollFd::new(fd, nix::poll::PollFlags::POLLIN)];
    assert_eq!(
        nix::poll::poll(&mut fds, nix::poll::PollTimeout::ZERO).unwrap(),
        1
    );
}

fn fork_does_not_duplicate_buffered_output() {
    let out = run_helper("flush", Duration::from_secs(30));
    assert!(out.status.success(), "helper failed: {out:?}");
    // `before ` was buffered when the child was forked: printed twice if not flushed first.
    // `after` is printed once: the child never returns into `main`.
    assert_eq!(out.stdout, "before child\nafter\n");
}

fn start_while_another_thread_holds_stdout() {
    fn worker(i: u32) {
        println!("child {i} can print");
    }
    // Two other threads take stdout's lock again and again. A child forked while one of them
    // holds it would wait for it forever in `println!`, unless `start` holds it across the fork.
    let stop = Arc::new(AtomicBool::new(false));
    let holders: Vec<_> = (0..2)
        .map(|_| {
            let stop = Arc::clone(&stop);
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    let _guard = std::io::stdout().lock();
                    std::thread::sleep(Duration::from_millis(1));
                }
            })
        })
        .collect();
    let mut processes = Vec::new();
    for i in 0..50 {
        let mut p = Process::new(worker, i);
        p.start().unwrap();
        processes.push(p);
    }
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut stuck = Vec::new();
    for p in &processes {
        let left = deadline.saturating_duration_since(Instant::now());
        if !p.join_timeout(left).unwrap() {
            stuck.push(p.name().to_string());
            p.kill().unwrap();
            p.join().unwrap();
        }
    }
    stop.store(true, Ordering::Relaxed);
    for holder in holders {
        holder.join().unwrap();
    }
    assert!(stuck.is_empty(), "children stuck on stdout's lock: {stuck:?}");
    assert!(processes.iter().all(|p| p.exitcode() == Some(0)));
}

/// Issue 14, item 3: a child forked while another thread is inside a panic must not hang. The
/// panicking thread holds std's panic-hook lock while its hook runs; a child that took that lock
/// (as `take_hook` / `set_hook` do) would wait for a thread that does not exist in it.
fn start_while_another_thread_panics() {
    // The program's own hook, which stays inside for a while: long enough for a start to fork
    // while the other thread holds the hook lock.
    let (inside, inside_rx) = mpsc::channel::<()>();
    let inside = std::sync::Mutex::new(inside);
    std::panic::set_hook(Box::new(move |_| {
        let _ = inside.lock().map(|tx| tx.send(()));
        std::thread::sleep(Duration::from_millis(1500));
    }));
    let fork = multiprocessing::get_context("fork").unwrap();
    // The first round starts the program's first process while the other thread panics; the
    // second starts one while a thread panics after processes were started already.
    for round in 0..2 {
        let panicker = std::thread::spawn(move || panic!("round {round}: a panic of another thread"));
        inside_rx
            .recv_timeout(Duration::from_secs(10))
            .expect("the other thread entered its panic hook");
        let mut p = fork.process(noop, ());
        p.start().unwrap();
        let ended = p.join_timeout(Duration::from_secs(10)).unwrap();
        if !ended {
            p.kill().unwrap();
            p.join().unwrap();
        }
        assert!(panicker.join().is_err(), "round {round}: the thread panicked");
        assert!(
            ended,
            "round {round}: the child hung at start (in the panic-hook lock)"
        );
        assert_eq!(p.exitcode(), Some(0), "round {round}");
    }
}

fn parent_exit_terminates_daemons_and_joins_others() {
    let started = Instant::now();
    let out = run_helper("exit", Duration::from_secs(30));
    let took = started.elapsed();
    assert!(out.status.success(), "helper failed: {out:?}");
    let pid_of = |label: &str| -> i32 {
        let line = out
            .stdout
            .lines()
            .find(|l| l.starts_with(label))
            .unwrap_or_else(|| panic!("{out:?}"));
        line[label.len()..].trim().parse().unwrap()
    };
    let (daemon, other) = (pid_of("daemon"), pid_of("other"));
    // Neither child outlives the helper: it killed the daemon and waited for the other.
    for (what, pid) in [("daemon", daemon), ("non-daemon", other)] {
        let gone = nix::sys::signal::kill(Pid::from_raw(pid), None) == Err(nix::errno::Errno::ESRCH);
        if !gone {
            let _ = nix::sys::signal::kill(Pid::from_raw(pid), nix::sys::signal::Signal::SIGKILL);
        }
        assert!(gone, "the {what} child {pid} outlived its parent: {out:?}");
    }
    assert!(
        out.stdout.contains("other done\n"),
        "the non-daemon child was cut short: {out:?}"
    );
    assert!(
        !out.stdout.contains("daemon done"),
        "the daemon ran to its end: {out:?}"
    );
    assert!(
        took >= Duration::from_millis(1000),
        "the parent did not wait for its child: {took:?}"
    );
    assert!(
        took < Duration::from_secs(25),
        "the parent waited for the daemon: {took:?}"
    );
}

fn dropped_processes_leave_no_zombie() {
    fn short(ms: u64) {
        std::thread::sleep(Duration::from_millis(ms));
    }
    for i in 0..6 {
        let mut p = Process::new(short, i * 50);
        p.start().unwrap();
        // Dropped here: the running ones stay registered, the ended ones are reaped at once.
    }
    // Dropping a Process leaves it running, as in Python: it is still listed.
    assert!(!active_children().is_empty());
    common::eventually(
        Duration::from_secs(20),
        "every dropped child ends and is reaped",
        || active_children().is_empty(),
    );
    assert_no_children_left();
}

fn no_zombie_after_a_mixed_workload() {
    fn boom(_: ()) {
        panic!("boom");
    }
    let mut ended = Vec::new();
    for (i, target) in [noop as fn(()), boom].into_iter().cycle().take(6).enumerate() {
        let mut p = Process::new(target, ());
        p.start().unwrap();
        if i % 2 == 0 {
            ended.push(p);
        }
    }
    let mut sleeper = Process::new(sleep_ms, 60_000);
    sleeper.start().unwrap();
    sleeper.kill().unwrap();
    for p in &ended {
        p.join().unwrap();
    }
    sleeper.join().unwrap();
    drop(sleeper);
    drop(ended);
    common::eventually(Duration::from_secs(20), "every child is reaped", || {
        active_children().is_empty()
    });
    assert_no_children_left();
}

/// Asserts that this process has no child left at all, running or zombie (under forkserver:
/// none but the fork server, running).
fn assert_no_children_left() {
    if under_forkserver() {
        let me = std::process::id();
        let children = std::fs::read_to_string(format!("/proc/{me}/task/{me}/children")).unwrap();
        let children: Vec<&str> = children.split_whitespace().collect();
        assert!(
            children.len() <= 1,
            "children left besides the fork server: {children:?}"
        );
        for pid in children {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
            let state = stat
                .rsplit(')')
                .next()
                .unwrap()
                .split_whitespace()
                .next()
                .unwrap();
            assert_ne!(state, "Z", "a zombie child: {pid}");
        }
        return;
    }
    // waitpid(-1) reports ECHILD only when there is no child at all, zombies included.
    match waitpid(None, Some(WaitPidFlag::WNOHANG)) {
        Err(nix::errno::Errno::ECHILD) => {}
        other => panic!("a child is left: waitpid(-1) gave {other:?}"),
    }
    // The kernel's own list of our children, where it is available, is empty too.
    if let Ok(tasks) = std::fs::read_dir("/proc/self/task") {
        for task in tasks.flatten() {
            if let Ok(children) = std::fs::read_to_string(task.path().join("children")) {
                assert!(children.trim().is_empty(), "children left: {children}");
            }
        }
    }
}

/// What a helper program did.
#[derive(Debug)]
struct HelperOutput {
    status: std::process::ExitStatus,
    stdout: String,
    stderr: String,
}

/// Runs this binary as the helper program `mode` and collects its output; the helper and
/// everything it leaves must be done within `limit` (their output pipes close).
fn run_helper(mode: &str, limit: Duration) -> HelperOutput {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .env(HELPER_VAR, mode)
        .env_remove("MP_TEST_HARNESS_CHILD")
        .env("RUST_BACKTRACE", "0")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (tx, rx) = mpsc::channel();
    for (stream, pipe) in [
        (
            1,
            child.stdout.take().map(|p| Box::new(p) as Box<dyn Read + Send>),
        ),
        (
            2,
            child.stderr.take().map(|p| Box::new(p) as Box<dyn Read + Send>),
        ),
    ] {
        let tx = tx.clone();
        let mut pipe = pipe.unwrap();
        std::thread::spawn(move || {
            let mut text = String::new();
            let _ = pipe.read_to_string(&mut text);
            let _ = tx.send((stream, text));
        });
    }
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("helper {mode} did not finish within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let (mut stdout, mut stderr) = (String::new(), String::new());
    for _ in 0..2 {
        let left = deadline
            .saturating_duration_since(Instant::now())
            .max(Duration::from_secs(1));
        match rx.recv_timeout(left) {
            Ok((1, text)) => stdout = text,
            Ok((_, text)) => stderr = text,
            Err(_) => panic!("helper {mode} ended but something it started still holds its output open"),
        }
    }
    HelperOutput {
        status,
        stdout,
        stderr,
    }
}

/// The environment variable that turns this binary into a helper program.
const HELPER_VAR: &str = "MP_PROCESS_TEST_HELPER";

/// The helper programs: each is a small `main` whose behaviour a test watches from outside.
fn helper(mode: &str) -> ExitCode {
    match mode {
        // A child panics: its stderr shows the process name, then the panic.
        "panic" => {
            fn boom(n: u32) {
                panic!("boom: {n}");
            }
            let mut p = Process::new(boom, 42);
            p.start().unwrap();
            p.join().unwrap();
            println!("exitcode={}", p.exitcode().map_or(-1000, |c| c));
        }
        // Output buffered before a fork is printed once, and the child never reaches `after`.
        "flush" => {
            fn child(_: ()) {
                println!("child");
            }
            print!("before ");
            let mut p = Process::new(child, ());
            p.start().unwrap();
            p.join().unwrap();
            println!("after");
        }
        // `main` returns with a long-sleeping daemon and a short non-daemon child running.
        "exit" => {
            fn daemon(_: ()) {
                std::thread::sleep(Duration::from_secs(60));
                println!("daemon done");
            }
            fn other(_: ()) {
                std::thread::sleep(Duration::from_millis(1000));
                println!("other done");
            }
            let mut d = Process::new(daemon, ()).with_daemon(true);
            d.start().unwrap();
            let mut o = Process::new(other, ());
            o.start().unwrap();
            println!("daemon {}", d.pid().unwrap());
            println!("other {}", o.pid().unwrap());
            // Dropping them changes nothing: at exit the registry still knows both.
            drop(o);
        }
        // A child that turns SIGINT into a panic, as Python's KeyboardInterrupt, is interrupted.
        "interrupt" => {
            fn keyboard_interrupt(ready: multiprocessing::Connection) {
                use nix::sys::signal::{SigSet, Signal};
                let mut sigint = SigSet::empty();
                sigint.add(Signal::SIGINT);
                sigint.thread_block().unwrap();
                ready.send(&()).unwrap();
                sigint.wait().unwrap();
                panic!("KeyboardInterrupt");
            }
            let (reader, writer) = multiprocessing::Pipe(false).unwrap();
            let mut p = Process::new(keyboard_interrupt, writer);
            p.start().unwrap();
            reader.recv::<()>().unwrap();
            p.interrupt().unwrap();
            p.join().unwrap();
            println!("exitcode={}", p.exitcode().map_or(-1000, |c| c));
        }
        _ => panic!("unknown helper {mode}"),
    }
    ExitCode::SUCCESS
}

/// The runtime remembers its pid; a child forked behind its back (plain `fork`, not
/// `Process::start`) must still see its own pid, and refuse to start its parent's processes.
#[allow(unsafe_code, reason = "a fork outside the runtime is the point of the test")]
fn pid_is_right_in_a_child_forked_outside_the_runtime() {
    fn worker(_: ()) {}
    let parent = current_process().pid();
    assert_eq!(parent, std::process::id() as i32);
    let mut p = Process::new(worker, ());
    // SAFETY: the harness runs each test in a single-threaded process; the child only checks
    // a few values and leaves through `_exit`.
    match unsafe { nix::unistd::fork() }.unwrap() {
        nix::unistd::ForkResult::Child => {
            let ok = current_process().pid() == std::process::id() as i32
                && current_process().pid() != parent
                && p.start().is_err();
            // SAFETY: `_exit` takes no pointers and never returns.
            unsafe { nix::libc::_exit(if ok { 0 } else { 1 }) }
        }
        nix::unistd::ForkResult::Parent { child } => {
            let status = nix::sys::wait::waitpid(child, None).unwrap();
            assert_eq!(
                status,
                nix::sys::wait::WaitStatus::Exited(child, 0),
                "the child saw a stale pid"
            );
        }
    }
    // The parent's own pid and its right to start `p` are unchanged.
    assert_eq!(current_process().pid(), parent);
    p.start().unwrap();
    p.join().unwrap();
}

fn main() -> ExitCode {
    if let Ok(mode) = std::env::var(HELPER_VAR) {
        return helper(&mode);
    }
    common::run(&[
        case!(name_pid_and_exitcode),
        case!(panic_gives_exitcode_1),
        case!(terminate_and_kill),
        case!(join_timeout_returns_on_time),
        case!(active_children_lifecycle),
        case!(daemon_cannot_have_children),
        case!(double_start_fails),
        case!(pid_is_right_in_a_child_forked_outside_the_runtime),
        case!(grandchild_is_named_1_1),
        case!(dropped_process_is_reaped),
        case!(names_follow_cpython),
        case!(current_and_parent_pid_in_child),
        case!(exitcode_from_std_process_exit),
        case!(panic_prints_process_name_then_message),
        case!(start_drops_the_parents_copy_of_the_arguments),
        case!(a_child_cleans_up_its_own_children_when_it_ends),
        case!(recursion_names_every_generation),
        case!(many_processes_terminated_at_once),
        case!(no_descriptor_leak),
        case!(a_child_reaped_elsewhere_is_a_clear_error),
        case!(unstarted_process_errors),
        case!(test_close),
        case!(test_interrupt),
        case!(test_interrupt_no_handler),
        case!(signalling_an_ended_process_is_harmless),
        case!(is_alive_follows_the_child),
        case!(active_children_reaps_ended_children),
        case!(set_daemon_after_start_fails),
        case!(debug_reads_like_cpython_repr),
        case!(sentinel_is_readable_once_the_child_ends),
        case!(start_and_join_open_no_pidfd),
        case!(fork_does_not_duplicate_buffered_output),
        case!(start_while_another_thread_holds_stdout),
        case!(start_while_another_thread_panics),
        case!(parent_exit_terminates_daemons_and_joins_others),
        case!(dropped_processes_leave_no_zombie),
        case!(no_zombie_after_a_mixed_workload),
    ] as &[Test])
}

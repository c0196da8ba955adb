//! Process semantics, checked against CPython's conventions.

mod common;

use std::time::{Duration, Instant};

use common::{test, Test};
use multiprocessing::{active_children, current_process, Process};

fn noop(_: ()) {}

fn sleep_ms(ms: u64) {
    std::thread::sleep(Duration::from_millis(ms));
}

fn name_pid_and_exitcode() {
    let mut p = Process::new(noop, ());
    assert_eq!(p.name(), "Process-1");
    assert_eq!(p.exitcode(), None);
    assert_eq!(p.pid(), None);
    p.start().unwrap();
    assert!(p
        .pid()
        .is_some_and(|pid| pid > 0 && pid != std::process::id() as i32));
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

fn main() -> std::process::ExitCode {
    common::run(&[
        test("name_pid_and_exitcode", name_pid_and_exitcode),
        test("panic_gives_exitcode_1", panic_gives_exitcode_1),
        test("terminate_and_kill", terminate_and_kill),
        test("join_timeout_returns_on_time", join_timeout_returns_on_time),
        test("active_children_lifecycle", active_children_lifecycle),
        test("daemon_cannot_have_children", daemon_cannot_have_children),
        test("double_start_fails", double_start_fails),
        test("grandchild_is_named_1_1", grandchild_is_named_1_1),
        test("dropped_process_is_reaped", dropped_process_is_reaped),
    ] as &[Test])
}

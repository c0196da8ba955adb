//! A small test harness for tests that fork.
//!
//! libtest runs tests on several threads, and forking a multi-threaded process is unsafe (see
//! the crate's "Fork safety" docs). Test files that fork therefore use `harness = false` and
//! call [`run`]: every test runs in a fresh copy of the test binary (started with the test's
//! name as its argument), in its own process group, with a time limit. A test passes when it
//! returns within the limit *and* leaves no process behind in its group; stragglers are killed
//! and reported as a failure.
//!
//! `cargo test -p multiprocessing --test NAME -- FILTER` runs the tests whose names contain
//! `FILTER` (`--exact`: whose name is `FILTER`), as libtest does. Tests run a few at a time (one
//! more than the machine has cores); `-- --test-threads=1` or `RUST_TEST_THREADS=1` runs them one
//! by one. Each file lists its tests with [`case!`], which names each test once.
#![allow(dead_code, reason = "each test file uses the parts it needs")]

use std::os::unix::process::CommandExt;
use std::process::{Command, ExitCode, Stdio};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// One test: its name, its body, and how long it may take.
pub struct Test {
    /// The name printed and matched against the filter.
    pub name: &'static str,
    /// The body; it panics to fail.
    pub body: fn(),
    /// The time limit for the whole test process.
    pub limit: Duration,
}

/// A test with the default limit of 60 seconds.
pub const fn test(name: &'static str, body: fn()) -> Test {
    Test {
        name,
        body,
        limit: Duration::from_secs(60),
    }
}

/// One test, named once: `case!(body)` runs `fn body()` under its own name with the default
/// limit, `case!(body, 240)` with a limit of 240 seconds. The name is what `cargo test -p
/// multiprocessing --test FILE -- NAME` matches, as libtest's filter does.
macro_rules! case {
    ($body:ident) => {
        $crate::common::test(stringify!($body), $body)
    };
    ($body:ident, $secs:literal) => {
        $crate::common::Test {
            name: stringify!($body),
            body: $body,
            limit: std::time::Duration::from_secs($secs),
        }
    };
}

/// The environment variable that tells a copy of the binary which test to run.
const CHILD_VAR: &str = "MP_TEST_HARNESS_CHILD";

/// The environment variable that chooses the default start method of every test.
const START_METHOD_VAR: &str = "MP_TEST_START_METHOD";

/// Runs `tests` and returns the process exit code. Call it from `main`.
pub fn run(tests: &[Test]) -> ExitCode {
    // A spawned child (or the fork server) is this binary run again: it becomes that here.
    multiprocessing::freeze_support();
    // In a copy started by the harness: run the one named test and exit.
    if let Ok(name) = std::env::var(CHILD_VAR) {
        // `MP_TEST_START_METHOD=spawn cargo test ...` runs a suite under another start method,
        // as CPython's runs each test class under fork, spawn and forkserver.
        if let Ok(method) = std::env::var(START_METHOD_VAR) {
            multiprocessing::set_start_method(&method, true).expect("MP_TEST_START_METHOD");
        }
        let test = tests
            .iter()
            .find(|t| t.name == name)
            .expect("harness asked for an unknown test");
        (test.body)();
        return ExitCode::SUCCESS;
    }

    // libtest's command line, as far as it applies: filters match a part of the name, or the
    // whole name with `--exact`; other flags (`--nocapture`, ...) are accepted and ignored.
    let exact = std::env::args().any(|a| a == "--exact");
    let mut args = Vec::new();
    let mut all = std::env::args().skip(1);
    while let Some(arg) = all.next() {
        if arg == "--test-threads" {
            all.next(); // its value, read by `jobs`
        } else if !arg.starts_with("--") {
            args.push(arg);
        }
    }
    let matches = |name: &str, filter: &str| {
        if exact {
            name == filter
        } else {
            name.contains(filter)
        }
    };
    let selected: Vec<&Test> = tests
        .iter()
        .filter(|t| args.is_empty() || args.iter().any(|a| matches(t.name, a)))
        .collect();
    let jobs = jobs().min(selected.len()).max(1);
    println!("\nrunning {} tests ({jobs} at a time)", selected.len());
    let exe = std::env::current_exe().expect("the test binary's path");
    // Each test is a process of its own, so several run at once, as libtest runs tests on
    // several threads: most of them wait (for children, timeouts, sleeps) rather than compute.
    // The harness's threads only start processes (std's Command execs right after the fork) and
    // watch them; the test bodies run in those fresh processes, never on these threads.
    let next = AtomicUsize::new(0);
    let failed = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..jobs {
            scope.spawn(|| {
                while let Some(test) = selected.get(next.fetch_add(1, Ordering::Relaxed)) {
                    let started = Instant::now();
                    let verdict = run_one(&exe, test);
                    let took = started.elapsed();
                    match verdict {
                        Ok(()) => println!("test {} ... ok ({took:.2?})", test.name),
                        Err(why) => {
                            println!("test {} ... FAILED ({took:.2?})\n{why}", test.name);
                            failed.lock().unwrap().push(test.name);
                        }
                    }
                }
            });
        }
    });
    let failed = failed.into_inner().unwrap();
    let passed = selected.len() - failed.len();
    if !failed.is_empty() {
        println!("\nfailures:");
        for name in &failed {
            println!("    {name}");
        }
    }
    let status = if failed.is_empty() { "ok" } else { "FAILED" };
    println!(
        "\ntest result: {status}. {passed} passed; {} failed; 0 ignored; 0 measured; 0 filtered out\n",
        failed.len()
    );
    if failed.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// How many tests run at once: libtest's `--test-threads N` or `RUST_TEST_THREADS`, else one more
/// than the machine has cores (the tests mostly wait, so one extra keeps the cores busy).
fn jobs() -> usize {
    let args: Vec<String> = std::env::args().collect();
    let from_args = args.iter().enumerate().find_map(|(i, a)| {
        a.strip_prefix("--test-threads=").map(str::to_owned).or_else(|| {
            (a == "--test-threads")
                .then(|| args.get(i + 1).cloned())
                .flatten()
        })
    });
    from_args
        .or_else(|| std::env::var("RUST_TEST_THREADS").ok())
        .and_then(|n| n.parse().ok())
        .filter(|&n: &usize| n > 0)
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()) + 1)
}

fn run_one(exe: &std::path::Path, test: &Test) -> Result<(), String> {
    let mut child = Command::new(exe)
        .env(CHILD_VAR, test.name)
        .env("RUST_BACKTRACE", "0")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
        .map_err(|e| format!("cannot start the test process: {e}"))?;
    let pgid = child.id() as i32;
    // Read the output on threads so a chatty test cannot fill a pipe and stall.
    let out = child.stdout.take().map(read_all);
    let err = child.stderr.take().map(read_all);
    let deadline = Instant::now() + test.limit;
    let status = loop {
        if let Some(status) = child.try_wait().map_err(|e| e.to_string())? {
            break Some(status);
        }
        if Instant::now() >= deadline {
            break None;
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    // Whatever is left in the group is a leak (or, on timeout, the test itself).
    let leaked = group_alive(pgid);
    if leaked || status.is_none() {
        kill_group(pgid);
        let _ = child.kill();
        let _ = child.wait();
    }
    let stdout = out.map(|h| h.join().unwrap_or_default()).unwrap_or_default();
    let stderr = err.map(|h| h.join().unwrap_or_default()).unwrap_or_default();
    let output = format!("---- stdout ----\n{stdout}---- stderr ----\n{stderr}");
    match status {
        None => Err(format!("timed out after {:?}\n{output}", test.limit)),
        Some(s) if !s.success() => Err(format!("test process ended with {s}\n{output}")),
        Some(_) if leaked => Err(format!("the test left processes running in its group\n{output}")),
        Some(_) => Ok(()),
    }
}

fn read_all(mut r: impl std::io::Read + Send + 'static) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = r.read_to_end(&mut buf);
        String::from_utf8_lossy(&buf).into_owned()
    })
}

/// Whether any process is left in group `pgid`, giving stragglers a moment to finish exiting.
fn group_alive(pgid: i32) -> bool {
    let deadline = Instant::now() + Duration::from_millis(500);
    loop {
        let alive = nix::sys::signal::killpg(nix::unistd::Pid::from_raw(pgid), None).is_ok();
        if !alive || Instant::now() >= deadline {
            return alive;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn kill_group(pgid: i32) {
    let _ = nix::sys::signal::killpg(
        nix::unistd::Pid::from_raw(pgid),
        nix::sys::signal::Signal::SIGKILL,
    );
}

/// Asserts that `f` becomes true within `limit`, checking every few milliseconds.
pub fn eventually(limit: Duration, what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !f() {
        assert!(Instant::now() < deadline, "not within {limit:?}: {what}");
        std::thread::sleep(Duration::from_millis(2));
    }
}

// Helpers that several test files share.

/// Starts `target(args)` in a child process.
pub fn spawn<A>(target: fn(A), args: A) -> multiprocessing::Process
where
    A: serde::Serialize + serde::de::DeserializeOwned + Send + 'static,
{
    start(multiprocessing::Process::new(target, args))
}

/// Joins `p` within a generous bound and returns its exit code.
pub fn join(p: &multiprocessing::Process) -> i32 {
    assert!(
        p.join_timeout(Duration::from_secs(60)).unwrap(),
        "child did not end in time"
    );
    p.exitcode().expect("joined")
}

/// Joins `p` within a generous bound and asserts that it exited with `code`.
pub fn join_with(p: &multiprocessing::Process, code: i32) {
    assert!(
        p.join_timeout(Duration::from_secs(30)).unwrap(),
        "{p:?} did not end"
    );
    assert_eq!(p.exitcode(), Some(code), "{p:?}");
}

/// Starts `p` and returns it.
pub fn start(mut p: multiprocessing::Process) -> multiprocessing::Process {
    p.start().expect("start a child");
    p
}

/// Asserts that every child process of this one ends within a generous bound.
pub fn assert_no_children() {
    eventually(Duration::from_secs(10), "no child processes", || {
        multiprocessing::active_children().is_empty()
    });
}

/// Whether a process with this PID exists (a zombie counts).
pub fn pid_exists(pid: i32) -> bool {
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None).is_ok()
}

/// Sleeps `ms` milliseconds.
pub fn sleep_ms(ms: u64) {
    std::thread::sleep(Duration::from_millis(ms));
}

/// Sleeps `ms` milliseconds and returns `ms`: a pool task that takes a known time.
pub fn nap_ms(ms: u64) -> u64 {
    sleep_ms(ms);
    ms
}

/// The number of our shared memory segments this process maps.
pub fn shared_mappings() -> usize {
    let maps = std::fs::read_to_string("/proc/self/maps").unwrap();
    maps.lines().filter(|l| l.contains("memfd:mp-heap")).count()
}

/// A byte pattern that a shifted or truncated copy cannot match.
pub fn pattern(len: usize, seed: u32) -> Vec<u8> {
    // One block of a prime length, repeated: no shift by a multiple of a page or of a pipe's
    // buffer lines up with it, and the copies go at memcpy speed even in a debug build.
    const PERIOD: u32 = 65_521;
    let block: Vec<u8> = (0..PERIOD.min(len as u32))
        .map(|i| (i.wrapping_mul(2_654_435_761) ^ seed).to_le_bytes()[3])
        .collect();
    let mut out = Vec::with_capacity(len);
    while out.len() < len {
        let n = (len - out.len()).min(block.len());
        out.extend_from_slice(&block[..n]);
    }
    out
}

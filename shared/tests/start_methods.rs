//! The central behaviours of processes, pools and shared objects under each start method, as
//! CPython's `_test_multiprocessing.py` runs each test class under fork, spawn and forkserver.
//!
//! Each behaviour is a function of a [`Context`]; the `each_method!` list below registers it
//! once per method (`exit_codes::spawn`, ...). `main` calls `freeze_support()` first, as a
//! program using `spawn` must: a spawned child is this test binary run again.

#[macro_use]
mod common;

use std::process::{Command, ExitCode, Stdio};
use std::time::Duration;

use common::{Test, sleep_ms, test};
use multiprocessing::{
    Barrier, Connection, Context, DictProxy, Lock, Pipe, Process, Queue, Value, current_process,
    freeze_support, get_context, parent_process,
};

fn ctx(method: &str) -> Context {
    get_context(method).unwrap()
}

fn noop(_: ()) {}

fn boom(_: ()) {
    panic!("boom in the child");
}

fn exit_with(code: i32) {
    std::process::exit(code);
}

fn run(mut p: Process) -> Option<i32> {
    p.start().unwrap();
    assert!(
        p.join_timeout(Duration::from_secs(30)).unwrap(),
        "{} did not end",
        p.name()
    );
    p.exitcode()
}

fn exit_codes(ctx: Context) {
    assert_eq!(run(ctx.process(noop, ())), Some(0));
    assert_eq!(run(ctx.process(boom, ())), Some(1));
    assert_eq!(run(ctx.process(exit_with, 3)), Some(3));
    let mut p = ctx.process(sleep_ms, 60_000);
    p.start().unwrap();
    assert!(p.is_alive());
    p.terminate().unwrap();
    p.join().unwrap();
    assert_eq!(p.exitcode(), Some(-15));
    let mut p = ctx.process(sleep_ms, 60_000);
    p.start().unwrap();
    p.kill().unwrap();
    p.join().unwrap();
    assert_eq!(p.exitcode(), Some(-9));
}

/// What a child reports about itself: its name, its parent's name and pid, its own pid.
fn report_identity(conn: Connection) {
    let me = current_process();
    let parent = parent_process().expect("a child has a parent");
    conn.send(&(
        me.name().to_string(),
        me.ident().to_vec(),
        parent.name().to_string(),
        parent.pid(),
        me.pid(),
    ))
    .unwrap();
}

fn names(ctx: Context) {
    let class = match ctx.get_start_method() {
        "fork" => "ForkProcess",
        "spawn" => "SpawnProcess",
        _ => "ForkServerProcess",
    };
    let (reader, writer) = Pipe(false).unwrap();
    let mut p = ctx.process(report_identity, writer);
    assert_eq!(p.name(), format!("{class}-1"));
    p.start().unwrap();
    let (name, ident, parent_name, parent_pid, pid): (String, Vec<u32>, String, i32, i32) =
        reader.recv().unwrap();
    p.join().unwrap();
    assert_eq!(name, format!("{class}-1"));
    assert_eq!(ident, [1]);
    assert_eq!(parent_name, "MainProcess");
    assert_eq!(parent_pid, std::process::id() as i32);
    assert_eq!(Some(pid), p.pid());
    assert_eq!(p.exitcode(), Some(0));

    let p = ctx.process(noop, ()).with_name("读者");
    assert_eq!(p.name(), "读者");
}

type Args = (u32, String, Vec<f64>, Option<(i8, char)>, Connection);

fn echo_args((a, b, c, d, conn): Args) {
    conn.send(&(a, b, c, d)).unwrap();
}

fn args_round_trip(ctx: Context) {
    let (reader, writer) = Pipe(false).unwrap();
    let sent = (7u32, "两个字".to_string(), vec![0.5, -1.25], Some((-3i8, '中')));
    let mut p = ctx.process(
        echo_args,
        (sent.0, sent.1.clone(), sent.2.clone(), sent.3, writer),
    );
    p.start().unwrap();
    let got: (u32, String, Vec<f64>, Option<(i8, char)>) = reader.recv().unwrap();
    p.join().unwrap();
    assert_eq!(got, sent);
    assert_eq!(p.exitcode(), Some(0));
}

fn checksum((data, conn): (Vec<u8>, Connection)) {
    let sum: u64 = data.iter().map(|&b| u64::from(b)).sum();
    conn.send(&(data.len(), sum)).unwrap();
}

/// Arguments far larger than a socket buffer reach the child whole (the forkserver payload
/// is streamed while the server reads it; spawn's sits in a memfd).
fn large_arguments(ctx: Context) {
    let data: Vec<u8> = (0..4 << 20).map(|i: u32| (i % 251) as u8).collect();
    let want = (data.len(), data.iter().map(|&b| u64::from(b)).sum::<u64>());
    let (reader, writer) = Pipe(false).unwrap();
    let mut p = ctx.process(checksum, (data, writer));
    p.start().unwrap();
    assert_eq!(reader.recv::<(usize, u64)>().unwrap(), want);
    p.join().unwrap();
    assert_eq!(p.exitcode(), Some(0));
}

fn add_locked((counter, lock, times): (Value<i64>, Lock, u32)) {
    for _ in 0..times {
        let _guard = lock.acquire();
        counter.set(counter.get() + 1);
    }
}

fn value_and_lock_in_children(ctx: Context) {
    let counter = ctx.value(0i64).unwrap();
    let lock = ctx.lock().unwrap();
    let mut children: Vec<Process> = (0..2)
        .map(|_| ctx.process(add_locked, (counter.clone(), lock.clone(), 2_000)))
        .collect();
    for p in &mut children {
        p.start().unwrap();
    }
    for p in &children {
        p.join().unwrap();
        assert_eq!(p.exitcode(), Some(0));
    }
    assert_eq!(counter.get(), 4_000);
}

fn double_back(conn: Connection) {
    // Zero ends the loop: under fork the child also holds a copy of the parent's end, so it
    // would never see end of file.
    while let Ok(x) = conn.recv::<u64>() {
        if x == 0 {
            return;
        }
        conn.send(&(2 * x)).unwrap();
    }
}

fn duplex_connection(ctx: Context) {
    let (here, there) = ctx.pipe(true).unwrap();
    let mut p = ctx.process(double_back, there);
    p.start().unwrap();
    for x in [1u64, 20, 300] {
        here.send(&x).unwrap();
        assert_eq!(here.recv::<u64>().unwrap(), 2 * x);
    }
    here.send(&0u64).unwrap();
    p.join().unwrap();
    assert_eq!(p.exitcode(), Some(0));
}

fn producer((queue, n): (Queue<(u32, String)>, u32)) {
    for i in 0..n {
        queue.put(&(i, format!("消息 {i}"))).unwrap();
    }
}

fn queue_from_children(ctx: Context) {
    let queue = ctx.queue::<(u32, String)>(0).unwrap();
    let mut children: Vec<Process> = (0..2)
        .map(|_| ctx.process(producer, (queue.clone(), 50)))
        .collect();
    for p in &mut children {
        p.start().unwrap();
    }
    let mut got: Vec<(u32, String)> = (0..100)
        .map(|_| queue.get_timeout(Duration::from_secs(30)).unwrap())
        .collect();
    for p in &children {
        p.join().unwrap();
        assert_eq!(p.exitcode(), Some(0));
    }
    got.sort();
    let mut want: Vec<(u32, String)> = (0..50).flat_map(|i| vec![(i, format!("消息 {i}")); 2]).collect();
    want.sort();
    assert_eq!(got, want);
}

fn fill_dict(d: DictProxy<String, i64>) {
    let me = current_process().name().to_string();
    d.set(&me, &1).unwrap();
}

fn manager_dict_in_children(ctx: Context) {
    // The server itself is started with the context's method too.
    let manager = ctx.manager().unwrap();
    let d: DictProxy<String, i64> = manager.dict().unwrap();
    let mut children: Vec<Process> = (0..2).map(|_| ctx.process(fill_dict, d.clone())).collect();
    for p in &mut children {
        p.start().unwrap();
    }
    for p in &children {
        p.join().unwrap();
        assert_eq!(p.exitcode(), Some(0));
    }
    let mut keys: Vec<String> = d.keys().unwrap();
    keys.sort();
    let mut names: Vec<String> = children.iter().map(|p| p.name().to_string()).collect();
    names.sort();
    assert_eq!(keys, names);
}

fn parent_is_alive_in_child(conn: Connection) {
    let parent = parent_process().expect("a child has a parent");
    conn.send(&parent.is_alive()).unwrap();
}

fn parent_liveness(ctx: Context) {
    let (reader, writer) = Pipe(false).unwrap();
    let mut p = ctx.process(parent_is_alive_in_child, writer);
    p.start().unwrap();
    assert!(
        reader.recv::<bool>().unwrap(),
        "the parent is alive while it waits"
    );
    p.join().unwrap();
}

/// The file the barrier's action appends to: a spawned child has fresh statics, but it
/// inherits the environment.
const ACTION_FILE_VAR: &str = "MP_TEST_BARRIER_ACTION_FILE";

fn barrier_action() {
    use std::io::Write;
    let path = std::env::var(ACTION_FILE_VAR).unwrap();
    let mut file = std::fs::OpenOptions::new().append(true).open(path).unwrap();
    writeln!(file, "{}", current_process().name()).unwrap();
}

fn barrier_party(barrier: Barrier) {
    for _ in 0..2 {
        barrier.wait_timeout(Duration::from_secs(20)).unwrap();
    }
}

fn barrier_with_action(ctx: Context) {
    let path = std::env::temp_dir().join(format!("mp-barrier-action-{}", std::process::id()));
    std::fs::write(&path, "").unwrap();
    #[expect(
        unsafe_code,
        reason = "set_var is unsafe in edition 2024; the test is single-threaded here"
    )]
    // SAFETY: the harness runs each test in its own single-threaded copy of the binary; this
    // runs before the test starts any thread.
    unsafe {
        std::env::set_var(ACTION_FILE_VAR, &path)
    };
    let barrier = Barrier::new(3).unwrap().with_action(barrier_action);
    let mut parties: Vec<Process> = (0..2)
        .map(|_| ctx.process(barrier_party, barrier.clone()))
        .collect();
    for p in &mut parties {
        p.start().unwrap();
    }
    barrier_party(barrier);
    for p in &parties {
        p.join().unwrap();
        assert_eq!(p.exitcode(), Some(0));
    }
    let ran = std::fs::read_to_string(&path).unwrap();
    std::fs::remove_file(&path).unwrap();
    assert_eq!(
        ran.lines().count(),
        2,
        "the action runs once per round, in any party: {ran}"
    );
}

fn start_grandchild(conn: Connection) {
    let method = multiprocessing::get_start_method();
    let mut p = get_context(method).unwrap().process(report_identity, conn);
    p.start().unwrap();
    p.join().unwrap();
}

fn grandchild(ctx: Context) {
    let (reader, writer) = Pipe(false).unwrap();
    let class = ctx.start_method();
    let _ = class;
    let mut p = ctx.process(start_grandchild, writer);
    p.start().unwrap();
    let (name, ident, parent_name, _, _): (String, Vec<u32>, String, i32, i32) = reader.recv().unwrap();
    p.join().unwrap();
    assert_eq!(p.exitcode(), Some(0));
    assert_eq!(ident, [1, 1]);
    assert!(name.ends_with("Process-1:1"), "{name}");
    assert!(parent_name.ends_with("Process-1"), "{parent_name}");
}

/// Sends this process's authentication key, then has a child of its own (by the same start
/// method) do the same, `depth` generations down.
fn report_authkey((conn, method, depth): (Connection, String, u32)) {
    conn.send(&current_process().authkey().to_vec()).unwrap();
    if depth > 0 {
        let mut p = ctx(&method).process(report_authkey, (conn, method.clone(), depth - 1));
        p.start().unwrap();
        p.join().unwrap();
        assert_eq!(p.exitcode(), Some(0));
    }
}

/// CPython's `test_process` and `test_current`: a child's `current_process().authkey` is its
/// parent's (the key crosses with the target under spawn and forkserver, and is shared memory
/// under fork), and so is a grandchild's.
fn authkey_is_inherited(ctx: Context) {
    let key = current_process().authkey();
    assert_ne!(key, [0; 32]);
    assert_eq!(key, current_process().authkey(), "made once");
    let (reader, writer) = Pipe(false).unwrap();
    let mut p = ctx.process(report_authkey, (writer, ctx.get_start_method().to_string(), 1));
    p.start().unwrap();
    for generation in ["child", "grandchild"] {
        assert!(
            reader.poll(Some(Duration::from_secs(30))).unwrap(),
            "no key from the {generation}"
        );
        assert_eq!(reader.recv::<Vec<u8>>().unwrap(), key, "the {generation}'s key");
    }
    p.join().unwrap();
    assert_eq!(p.exitcode(), Some(0));
}

fn square(x: u64) -> u64 {
    x * x
}

fn worker_name(_: u32) -> String {
    current_process().name().to_string()
}

fn init_counter(counter: Value<i64>) {
    let _guard = counter.get_lock().acquire();
    counter.set(counter.get() + 1);
}

fn pool(ctx: Context) {
    let prefix = match ctx.get_start_method() {
        "fork" => "ForkPoolWorker-",
        "spawn" => "SpawnPoolWorker-",
        _ => "ForkServerPoolWorker-",
    };
    let counter = ctx.value(0i64).unwrap();
    let pool = ctx
        .pool_builder()
        .processes(2)
        .initializer(init_counter, counter.clone())
        .build()
        .unwrap();
    assert_eq!(
        pool.map(square, 0..20u64).unwrap(),
        (0..20u64).map(square).collect::<Vec<_>>()
    );
    assert_eq!(pool.apply(square, 9).unwrap(), 81);
    for name in pool.map_chunked(worker_name, 0..8, 1).unwrap() {
        assert!(name.starts_with(prefix), "{name} does not start with {prefix}");
    }
    pool.close().unwrap();
    pool.join().unwrap();
    assert_eq!(counter.get(), 2, "each worker ran the initializer once");
}

macro_rules! each_method {
    ($($name:ident),* $(,)?) => {
        mod fork { $(pub fn $name() { super::$name(super::ctx("fork")) })* }
        mod spawn { $(pub fn $name() { super::$name(super::ctx("spawn")) })* }
        mod forkserver { $(pub fn $name() { super::$name(super::ctx("forkserver")) })* }
        fn method_tests() -> Vec<Test> {
            vec![
                $(test(concat!(stringify!($name), "::fork"), fork::$name),)*
                $(test(concat!(stringify!($name), "::spawn"), spawn::$name),)*
                $(test(concat!(stringify!($name), "::forkserver"), forkserver::$name),)*
            ]
        }
    };
}

each_method!(
    exit_codes,
    names,
    args_round_trip,
    large_arguments,
    value_and_lock_in_children,
    duplex_connection,
    queue_from_children,
    manager_dict_in_children,
    parent_liveness,
    barrier_with_action,
    grandchild,
    authkey_is_inherited,
    pool,
);

/// The default start method chosen by `set_start_method` reaches `Process::new`; a process
/// made that way keeps CPython's plain `Process-N` name.
fn set_start_method_spawn() {
    // `force`: the harness may already have set a method (MP_TEST_START_METHOD).
    multiprocessing::set_start_method("spawn", true).unwrap();
    assert_eq!(multiprocessing::get_start_method(), "spawn");
    assert!(multiprocessing::set_start_method("fork", false).is_err());
    let (reader, writer) = Pipe(false).unwrap();
    let mut p = Process::new(report_identity, writer);
    p.start().unwrap();
    let (name, _, _, _, pid): (String, Vec<u32>, String, i32, i32) = reader.recv().unwrap();
    p.join().unwrap();
    assert_eq!(name, "Process-1");
    assert_eq!(Some(pid), p.pid());
}

/// A lock of the program's own, held by another thread while processes start.
static BUSY: std::sync::Mutex<u32> = std::sync::Mutex::new(0);

fn take_busy_lock(conn: Connection) {
    // Under fork this would wait forever: the child's copy of `BUSY` is held by a thread that
    // does not exist in the child. A forkserver child comes from a clean, single-threaded
    // server, where nobody holds it.
    *BUSY.lock().unwrap() += 1;
    conn.send(&"took the lock").unwrap();
}

fn forkserver_from_a_threaded_parent() {
    let (held_tx, held_rx) = std::sync::mpsc::channel();
    let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
    let holder = std::thread::spawn(move || {
        let _guard = BUSY.lock().unwrap();
        held_tx.send(()).unwrap();
        let _ = release_rx.recv_timeout(Duration::from_secs(60));
    });
    held_rx.recv().unwrap();
    let ctx = ctx("forkserver");
    let mut children = Vec::new();
    let mut readers = Vec::new();
    for _ in 0..3 {
        let (reader, writer) = Pipe(false).unwrap();
        let mut p = ctx.process(take_busy_lock, writer);
        p.start().unwrap();
        children.push(p);
        readers.push(reader);
    }
    for (p, reader) in children.iter().zip(&readers) {
        assert!(
            reader.poll(Some(Duration::from_secs(30))).unwrap(),
            "{} hung",
            p.name()
        );
        assert_eq!(reader.recv::<String>().unwrap(), "took the lock");
        assert!(p.join_timeout(Duration::from_secs(30)).unwrap());
        assert_eq!(p.exitcode(), Some(0));
    }
    release_tx.send(()).unwrap();
    holder.join().unwrap();
}

/// A code offset is trusted only on its way to a child: a barrier with an action does not
/// encode for anything else, so no other bytes can make us call an arbitrary address.
fn barrier_action_crosses_only_to_children() {
    let barrier = Barrier::new(2).unwrap().with_action(barrier_action);
    assert!(multiprocessing::codec::encode(&barrier).is_err());
    // A plain barrier does not cross either: like every shared-memory object, only by
    // inheritance (CPython's `context.assert_spawning`).
    let plain = Barrier::new(2).unwrap();
    let err = multiprocessing::codec::encode(&plain).unwrap_err();
    assert!(err.to_string().contains("inheritance"), "{err}");
}

/// Under forkserver the forgotten call is noticed twice: the server (this program run again)
/// is refused at its own `start`, and the parent, which never hears the server's hello, gets
/// an error that says what to add.
fn missing_freeze_support_under_forkserver() {
    for pool in [false, true] {
        let mut command = Command::new(std::env::current_exe().unwrap());
        command
            .env(HELPER_VAR, "forgetful-forkserver")
            .stdin(Stdio::null());
        if pool {
            command.env("MP_TEST_FORGETFUL_POOL", "1");
        }
        check_forgetful_forkserver(command.output().unwrap());
    }
}

fn check_forgetful_forkserver(out: std::process::Output) {
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(2),
        "the parent's start fails: {stdout} {stderr}"
    );
    assert!(stdout.is_empty(), "{stdout}");
    assert!(stderr.contains("to be the fork server"), "{stderr}");
    assert!(
        stderr.contains("the fork server")
            && stderr.contains("did not start: call multiprocessing::freeze_support()"),
        "{stderr}"
    );
    assert_eq!(stderr.matches("start failed").count(), 2, "{stderr}");
}

/// A child inherits its parent's chosen start method, as CPython's `spawn.prepare` does, so
/// a child's own children start the same way.
fn child_start_method(conn: Connection) {
    conn.send(&multiprocessing::get_start_method().to_string())
        .unwrap();
}

fn start_method_is_inherited() {
    for method in ["spawn", "forkserver"] {
        multiprocessing::set_start_method(method, true).unwrap();
        let (reader, writer) = Pipe(false).unwrap();
        let mut p = Process::new(child_start_method, writer);
        p.start().unwrap();
        assert_eq!(reader.recv::<String>().unwrap(), method);
        p.join().unwrap();
    }
}

fn ask_forkserver(conn: Connection) {
    let mut p = ctx("forkserver").process(report_identity, conn);
    p.start().unwrap();
    p.join().unwrap();
    assert_eq!(p.exitcode(), Some(0));
}

/// A forked child shares its parent's fork server (it inherited the link) and gets its own
/// children from it, reported to the child, not to the parent.
fn forked_child_shares_the_forkserver() {
    assert_eq!(run(ctx("forkserver").process(noop, ())), Some(0));
    let (reader, writer) = Pipe(false).unwrap();
    let mut p = ctx("fork").process(ask_forkserver, writer);
    p.start().unwrap();
    let (name, _, parent_name, parent_pid, _): (String, Vec<u32>, String, i32, i32) = reader.recv().unwrap();
    p.join().unwrap();
    assert_eq!(p.exitcode(), Some(0));
    assert_eq!(name, "ForkServerProcess-2:1");
    assert_eq!(parent_name, "ForkProcess-2");
    assert_eq!(Some(parent_pid), p.pid());
}

/// Our children that the runtime does not list: the fork server.
fn unlisted_children() -> Vec<i32> {
    let listed: Vec<i32> = multiprocessing::active_children()
        .iter()
        .map(|c| c.pid())
        .collect();
    let me = std::process::id();
    let children = std::fs::read_to_string(format!("/proc/{me}/task/{me}/children")).unwrap();
    children
        .split_whitespace()
        .map(|pid| pid.parse().unwrap())
        .filter(|pid| !listed.contains(pid))
        .collect()
}

/// A fork server killed under a running child: joining that child is a clear error (its exit
/// code is lost with the server), and the next start gets a new server.
fn a_dead_forkserver_is_a_clear_error_and_is_replaced() {
    use nix::sys::signal::{Signal, kill};
    use nix::sys::wait::waitpid;
    use nix::unistd::Pid;
    // The orphaned child comes to us, so that we can reap it (PID 1 here reaps late).
    nix::sys::prctl::set_child_subreaper(true).unwrap();
    let ctx = ctx("forkserver");
    let mut p = ctx.process(sleep_ms, 60_000);
    p.start().unwrap();
    let child = p.pid().unwrap();
    let servers = unlisted_children();
    assert_eq!(servers.len(), 1, "one fork server: {servers:?}");
    kill(Pid::from_raw(servers[0]), Signal::SIGKILL).unwrap();
    let err = p.join().unwrap_err().to_string();
    assert!(err.contains("fork server") && err.contains(p.name()), "{err}");
    // The child itself runs on (adopted by us); end it.
    kill(Pid::from_raw(child), Signal::SIGKILL).unwrap();
    common::eventually(
        Duration::from_secs(20),
        "the orphan is adopted and reaped",
        || {
            waitpid(Pid::from_raw(child), Some(nix::sys::wait::WaitPidFlag::WNOHANG))
                .is_ok_and(|s| s != nix::sys::wait::WaitStatus::StillAlive)
        },
    );
    // A new server takes the dead one's place.
    assert_eq!(run(ctx.process(noop, ())), Some(0));
    let now = unlisted_children();
    assert_eq!(now.len(), 1);
    assert_ne!(now[0], servers[0]);
}

/// The helper program a test runs: this binary with `MP_START_METHODS_HELPER=<mode>`.
const HELPER_VAR: &str = "MP_START_METHODS_HELPER";

/// A program that forgets `freeze_support()` and starts a process under spawn. Its spawned
/// child runs this same `main`, reaches `start` without having become the child, and must be
/// refused with an error that says what to add, instead of spawning again.
fn forgetful_main(method: &str) -> ExitCode {
    multiprocessing::set_start_method(method, false).unwrap();
    if std::env::var("MP_TEST_FORGETFUL_POOL").is_ok() {
        // A pool reaches the fork server before any `Process::start`.
        if let Err(e) = multiprocessing::Pool::new(2) {
            eprintln!("start failed: {e}");
            return ExitCode::from(2);
        }
        println!("pool started");
        return ExitCode::SUCCESS;
    }
    let mut p = Process::new(noop, ());
    if let Err(e) = p.start() {
        eprintln!("start failed: {e}");
        return ExitCode::from(2);
    }
    p.join().unwrap();
    println!("child exitcode: {:?}", p.exitcode());
    ExitCode::SUCCESS
}

/// Runs `command` with its output piped and returns it, failing the test if it has not ended
/// within `limit` (it is killed then).
fn output_within(mut command: Command, limit: Duration) -> std::process::Output {
    use std::io::Read;
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let read = |pipe: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            if let Some(mut pipe) = pipe {
                let _ = pipe.read_to_end(&mut bytes);
            }
            bytes
        })
    };
    let stdout = read(child.stdout.take().map(|p| Box::new(p) as Box<dyn Read + Send>));
    let stderr = read(child.stderr.take().map(|p| Box::new(p) as Box<dyn Read + Send>));
    let deadline = std::time::Instant::now() + limit;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if std::time::Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the program did not end within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    std::process::Output {
        status,
        stdout: stdout.join().unwrap(),
        stderr: stderr.join().unwrap(),
    }
}

/// Issue 17, item 2: a program that forgets `freeze_support()` and starts a process (or a pool)
/// under spawn. Its spawned child runs this same `main` again and reaches the runtime there; the
/// parent's `start` (or `Pool::new`) returns one error that says what to add, within a bound,
/// and the child prints nothing (CPython's "An attempt has been made to start a new process
/// before the current process has finished its bootstrapping phase", said once).
fn missing_freeze_support_is_a_clear_error() {
    for pool in [false, true] {
        let mut command = Command::new(std::env::current_exe().unwrap());
        command.env(HELPER_VAR, "forgetful");
        if pool {
            command.env("MP_TEST_FORGETFUL_POOL", "1");
        }
        let out = output_within(command, Duration::from_secs(40));
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(
            out.status.code(),
            Some(2),
            "pool {pool}: the parent's start fails: {stdout} {stderr}"
        );
        assert!(stdout.is_empty(), "pool {pool}: {stdout}");
        assert!(
            stderr.contains("ran main() again instead of becoming the child")
                && stderr.contains("call multiprocessing::freeze_support() first in main"),
            "pool {pool}: {stderr}"
        );
        assert_eq!(
            stderr.lines().count(),
            1,
            "pool {pool}: exactly one error, from the parent: {stderr}"
        );
    }
}

fn main() -> ExitCode {
    if let Ok(mode) = std::env::var(HELPER_VAR) {
        match mode.as_str() {
            "forgetful" => return forgetful_main("spawn"),
            "forgetful-forkserver" => return forgetful_main("forkserver"),
            other => panic!("unknown helper mode {other}"),
        }
    }
    freeze_support();
    let mut tests = method_tests();
    tests.push(case!(set_start_method_spawn));
    tests.push(case!(missing_freeze_support_under_forkserver));
    tests.push(case!(start_method_is_inherited));
    tests.push(case!(a_dead_forkserver_is_a_clear_error_and_is_replaced));
    tests.push(case!(forked_child_shares_the_forkserver));
    tests.push(case!(barrier_action_crosses_only_to_children));
    tests.push(case!(forkserver_from_a_threaded_parent));
    tests.push(case!(missing_freeze_support_is_a_clear_error));
    common::run(&tests)
}

//! Managers under the faults users meet (issue 14, items 7-9): a stranger who finds the local
//! socket, clients that stall in the handshake or flood a remote manager, Ctrl-C, and a
//! `Manager::new` that fails half-way. Each test leaves no process, descriptor or socket file.

#[macro_use]
mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use common::{Test, eventually, pid_exists, start};
use multiprocessing::{Address, Client, DictProxy, Error, Manager};

/// The number of threads of process `pid`.
fn threads_of(pid: i32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/task")).unwrap().count()
}

/// Reads from `stream` until the server closes it, and returns how long that took from
/// `since`; panics if it is still open after `limit`.
fn closed_within(stream: &mut TcpStream, since: Instant, limit: Duration) -> Duration {
    stream.set_read_timeout(Some(limit)).unwrap();
    let mut buf = [0u8; 256];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return since.elapsed(),
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return since.elapsed(),
            Err(e) => panic!(
                "the server kept a stalled handshake open for {:?}: {e}",
                since.elapsed()
            ),
        }
    }
}

/// CPython's `BaseManager.__init__` takes `current_process().authkey` when no key is given: a
/// local manager serves only the processes that hold the program's key. A stranger (any process
/// of the same user that finds the socket) is refused at the handshake, and its one-byte request
/// (what encoded `Shutdown` before) can no longer stop the server.
fn local_manager_refuses_a_stranger() {
    let manager = Manager::new().unwrap();
    let pid = manager.pid().unwrap();
    let d = manager.dict::<String, i32>().unwrap();
    d.set("before", &1).unwrap();

    // The stranger connects without a key and sends the one byte that meant "shut down" (the
    // encoding of the request that existed then; only the owner stops a manager now).
    let stranger = Client(manager.address(), None).unwrap();
    stranger.send_bytes(&[4]).unwrap();
    // Whatever the server says (a challenge, a refusal), it must never be the shutdown's
    // acknowledgement, and the connection ends.
    let mut heard = Vec::new();
    while stranger.poll(Some(Duration::from_secs(20))).unwrap() {
        match stranger.recv_bytes() {
            Ok(message) => heard.push(message),
            Err(_) => break,
        }
    }
    assert!(
        heard.iter().any(|m| m.starts_with(b"#CHALLENGE#")),
        "the server did not challenge the stranger: {heard:?}"
    );
    assert!(
        heard.iter().any(|m| m.as_slice() == b"#FAILURE#"),
        "the stranger's byte was not refused as an answer: {heard:?}"
    );

    // A stranger holding a key of its own (its process's) is refused too.
    let err = Manager::connect(manager.address(), b"the stranger's own key").unwrap_err();
    assert!(matches!(err, Error::Authentication(_)), "{err}");

    // The server is still there and still serves the program's own processes.
    assert!(pid_exists(pid));
    d.set("after", &2).unwrap();
    assert_eq!(d.len().unwrap(), 2);
}

/// A proxy travels with the manager's key only inside the arguments of a child being started
/// (CPython's `BaseProxy.__reduce__` adds the key only while spawning): sent through a pipe it
/// carries none, and the receiver authenticates with its own process key.
fn a_proxy_sent_through_a_pipe_carries_no_key() {
    /// The layout a proxy serializes to.
    #[derive(serde::Deserialize)]
    struct Wire {
        _address: Address,
        authkey: Option<Vec<u8>>,
        _name: String,
        _id: u64,
    }
    let key_on_the_wire = |d: &DictProxy<String, i32>| {
        let bytes = multiprocessing::codec::encode(d).unwrap();
        multiprocessing::codec::decode::<Wire>(&bytes).unwrap().authkey
    };
    let manager = Manager::new().unwrap();
    let d = manager.dict::<String, i32>().unwrap();
    d.set("k", &7).unwrap();
    assert_eq!(
        key_on_the_wire(&d),
        None,
        "a local manager's proxy put its key on the wire"
    );
    // A key the user chose stays home too.
    let served = Manager::serve(&"127.0.0.1:0".parse().unwrap(), b"chosen key").unwrap();
    let remote = served.dict::<String, i32>().unwrap();
    assert_eq!(
        key_on_the_wire(&remote),
        None,
        "a served manager's proxy put its key on the wire"
    );

    // Received in a process that holds the key (this one), it works.
    let (a, b) = multiprocessing::Pipe(true).unwrap();
    a.send(&d).unwrap();
    let received: DictProxy<String, i32> = b.recv().unwrap();
    assert_eq!(received.get("k").unwrap(), Some(7));
}

/// A client that sends one byte before the handshake and stalls, or trickles bytes, is
/// disconnected when the handshake's deadline passes. Before, only the first poll had a
/// timeout: the announced length was then read blocking, and the server's thread was held for
/// ever.
fn remote_handshake_has_a_deadline() {
    let server = Manager::builder()
        .handshake_timeout(Duration::from_secs(1))
        .serve(&"127.0.0.1:0".parse().unwrap(), b"key")
        .unwrap();
    let address = server.address().to_string();

    let started = Instant::now();
    let mut stall = TcpStream::connect(&address).unwrap();
    stall.write_all(&[0]).unwrap();
    let took = closed_within(&mut stall, started, Duration::from_secs(20));
    assert!(
        took >= Duration::from_millis(900),
        "cut off early, after {took:?}"
    );

    // A trickle (one byte every 200 ms) keeps every single read short, and is cut off all the
    // same: the deadline is on the whole handshake.
    let started = Instant::now();
    let mut trickle = TcpStream::connect(&address).unwrap();
    trickle.set_nonblocking(true).unwrap();
    let mut cut = false;
    while started.elapsed() < Duration::from_secs(20) {
        if trickle.write_all(&[0xff]).is_err() {
            cut = true;
            break;
        }
        let mut buf = [0u8; 256];
        match trickle.read(&mut buf) {
            Ok(0) => {
                cut = true;
                break;
            }
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(_) => {
                cut = true;
                break;
            }
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(
        cut,
        "a trickling client held its handshake for {:?}",
        started.elapsed()
    );
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "took {:?}",
        started.elapsed()
    );

    // The server goes on serving clients that hold the key.
    let client = Manager::connect(server.address(), b"key").unwrap();
    let d = server.dict::<String, i32>().unwrap();
    server.register("d", &d).unwrap();
    client
        .get::<DictProxy<String, i32>>("d")
        .unwrap()
        .set("ok", &1)
        .unwrap();
    assert_eq!(d.get("ok").unwrap(), Some(1));
}

/// Twenty stalled connections used to pin twenty threads (a few thousand, the machine's pids).
/// Now at most `max_handshakes` are in their handshake at once; the rest wait in the backlog,
/// and a client holding the key still gets in once the stalled ones run out of time.
fn a_flood_of_silent_connections_pins_few_threads() {
    const MAX: usize = 4;
    let server = Manager::builder()
        .max_handshakes(MAX)
        .handshake_timeout(Duration::from_secs(2))
        .serve(&"127.0.0.1:0".parse().unwrap(), b"key")
        .unwrap();
    let pid = server.pid().unwrap();
    let d = server.dict::<String, i32>().unwrap(); // the owner's session thread
    server.register("d", &d).unwrap();
    let base = threads_of(pid);

    let flood: Vec<TcpStream> = (0..12)
        .map(|_| {
            let mut s = TcpStream::connect(server.address().to_string()).unwrap();
            s.write_all(&[0]).unwrap();
            s
        })
        .collect();
    std::thread::sleep(Duration::from_millis(500));
    let during = threads_of(pid);
    assert!(
        during <= base + MAX,
        "{during} threads with 12 stalled connections (base {base}, bound {MAX})"
    );

    // A client with the key waits its turn behind the stalled ones (three rounds of the
    // 2-second deadline), then gets in.
    let started = Instant::now();
    let client = Manager::connect(server.address(), b"key").unwrap();
    client
        .get::<DictProxy<String, i32>>("d")
        .unwrap()
        .set("in", &1)
        .unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "took {:?}",
        started.elapsed()
    );
    assert_eq!(d.get("in").unwrap(), Some(1));
    drop(flood);
    drop(client);
    eventually(
        Duration::from_secs(10),
        "the stalled connections' threads end",
        || threads_of(pid) <= base,
    );
}

/// `max_clients` bounds the authenticated connections served at once; one over it is told why,
/// and gets in once another client has left.
fn max_clients_turns_the_extra_client_away_with_a_reason() {
    let server = Manager::builder()
        .max_clients(2)
        .serve(&"127.0.0.1:0".parse().unwrap(), b"key")
        .unwrap();
    let d = server.dict::<String, i32>().unwrap(); // the first client: the owner's connection
    server.register("d", &d).unwrap();
    let second = Manager::connect(server.address(), b"key").unwrap();
    second
        .get::<DictProxy<String, i32>>("d")
        .unwrap()
        .set("second", &2)
        .unwrap();

    let third = Manager::connect(server.address(), b"key").unwrap();
    let err = third.get::<DictProxy<String, i32>>("d").unwrap_err();
    assert!(err.to_string().contains("at most 2 clients"), "{err}");

    drop(second);
    eventually(
        Duration::from_secs(10),
        "a new client gets in once one left",
        || {
            Manager::connect(server.address(), b"key")
                .and_then(|m| m.get::<DictProxy<String, i32>>("d")?.set("third", &3))
                .is_ok()
        },
    );
    assert_eq!(d.len().unwrap(), 2);
}

/// An empty authkey would let anyone answer the challenge: `serve` refuses it before binding.
fn serve_refuses_an_empty_authkey() {
    let dir = std::env::temp_dir().join(format!("manager-empty-key-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("manager.sock");
    let result = Manager::serve(&Address::Unix(path.clone()), b"");
    let left_a_socket = path.exists();
    let err = result.err(); // a manager that did start is shut down here
    std::fs::remove_dir_all(&dir).unwrap();
    let err = err.expect("serve accepted an empty authkey");
    assert!(matches!(err, Error::State(_)), "{err}");
    assert!(err.to_string().contains("empty authkey"), "{err}");
    assert!(!left_a_socket, "a refused serve left its socket");
    assert!(Manager::serve(&"127.0.0.1:0".parse().unwrap(), b"").is_err());
}

/// Ctrl-C sends SIGINT to the whole process group: the owner and its server. The server used
/// to die of it before its cleanup, leaving its socket directory behind. Now it ignores SIGINT
/// (as CPython's does), sees its owner go, and removes its socket and directory on the way out.
fn ctrl_c_leaves_no_socket_directory() {
    use nix::sys::signal::{Signal, killpg};
    use nix::unistd::Pid;

    fn owner(report: PathBuf) {
        // A process group of its own, as a program started from a shell has, so the Ctrl-C
        // below reaches it and its server and nothing else.
        nix::unistd::setpgid(Pid::from_raw(0), Pid::from_raw(0)).unwrap();
        let manager = Manager::new().unwrap();
        let Address::Unix(socket) = manager.address().clone() else {
            panic!("a local manager listens on a Unix socket")
        };
        // One round trip: the server is in its loop (ignoring SIGINT) before we report.
        manager.dict::<String, i32>().unwrap().set("ready", &1).unwrap();
        let tmp = report.with_extension("tmp");
        std::fs::write(&tmp, format!("{} {}", manager.pid().unwrap(), socket.display())).unwrap();
        std::fs::rename(&tmp, &report).unwrap();
        std::thread::sleep(Duration::from_secs(60));
    }
    // The owner's children (the server, a fork server) become ours when it dies, so we can
    // reap them and leave no zombie.
    nix::sys::prctl::set_child_subreaper(true).unwrap();
    let report = std::env::temp_dir().join(format!("manager-ctrl-c-{}", std::process::id()));
    let _ = std::fs::remove_file(&report);
    // Forked, so that it is our child whatever the start method; its manager's server is
    // started by the suite's start method.
    let p = start(
        multiprocessing::get_context("fork")
            .unwrap()
            .process(owner, report.clone()),
    );
    let mut reported = None;
    eventually(Duration::from_secs(30), "the owner reports its server", || {
        reported = std::fs::read_to_string(&report).ok().and_then(|s| {
            let (pid, path) = s.split_once(' ')?;
            Some((pid.parse::<i32>().ok()?, PathBuf::from(path)))
        });
        reported.is_some()
    });
    std::fs::remove_file(&report).unwrap();
    let (server, socket) = reported.unwrap();
    let dir = socket.parent().unwrap().to_path_buf();
    assert!(socket.exists());

    let group = Pid::from_raw(p.pid().unwrap());
    killpg(group, Signal::SIGINT).unwrap();
    assert!(
        p.join_timeout(Duration::from_secs(20)).unwrap(),
        "the owner ignored Ctrl-C"
    );
    assert_eq!(p.exitcode(), Some(-2), "the owner dies of SIGINT");
    // Reap what the owner left us until its process group is empty.
    eventually(
        Duration::from_secs(20),
        "the owner's process group empties",
        || {
            use nix::sys::wait::{WaitPidFlag, waitpid};
            while let Ok(status) = waitpid(Pid::from_raw(-1), Some(WaitPidFlag::WNOHANG)) {
                if status.pid().is_none() {
                    break;
                }
            }
            killpg(group, None).is_err()
        },
    );
    assert!(!pid_exists(server), "the server outlived Ctrl-C");
    assert!(
        !dir.exists(),
        "Ctrl-C left the manager's directory {} behind",
        dir.display()
    );
}

/// The environment variable that turns this binary into [`manager_under_a_low_rlimit`]'s helper.
const RLIMIT_HELPER: &str = "MP_MANAGER_UNDER_RLIMIT";

/// The number of descriptors this process has open.
fn open_fds() -> usize {
    // The directory handle itself is one of the entries while we read it.
    std::fs::read_dir("/proc/self/fd").unwrap().count() - 1
}

/// The helper's side: one `Manager::new` with few descriptors left (the limit is set by the
/// shell that started us), then a report of what it left behind.
fn manager_under_a_low_rlimit_child() -> std::process::ExitCode {
    if let Ok(method) = std::env::var("MP_TEST_START_METHOD") {
        multiprocessing::set_start_method(&method, true).unwrap();
    }
    let before = open_fds();
    let outcome = match Manager::new() {
        Ok(manager) => {
            drop(manager);
            "started".to_string()
        }
        Err(e) => {
            // A failed start closes what it opened. (A successful one under forkserver keeps
            // its connection to the fork server, as it should.)
            assert_eq!(before, open_fds(), "descriptors leaked ({e})");
            format!("failed: {e}")
        }
    };
    let left: Vec<_> = std::fs::read_dir(std::env::temp_dir())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    println!("{outcome}");
    assert!(
        multiprocessing::active_children().is_empty(),
        "a child was left ({outcome})"
    );
    assert!(
        left.is_empty(),
        "left in the temporary directory: {left:?} ({outcome})"
    );
    std::process::ExitCode::SUCCESS
}

/// A `Manager::new` that fails for want of descriptors (EMFILE) leaves no directory, no
/// descriptor and no process behind. The helper runs under every descriptor limit from "too few
/// to start" to "enough", each in a temporary directory of its own.
fn manager_under_a_low_rlimit() {
    let exe = std::env::current_exe().unwrap();
    let (mut started, mut failed) = (0, 0);
    for limit in 4..=20 {
        let dir = std::env::temp_dir().join(format!("manager-rlimit-{}-{limit}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut child = std::process::Command::new("sh")
            .arg("-c")
            .arg(format!("ulimit -n {limit} && exec \"$0\""))
            .arg(&exe)
            .env(RLIMIT_HELPER, "1")
            .env_remove("MP_TEST_HARNESS_CHILD")
            .env("TMPDIR", &dir)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        while child.try_wait().unwrap().is_none() {
            assert!(Instant::now() < deadline, "the helper under limit {limit} hung");
            std::thread::sleep(Duration::from_millis(5));
        }
        let output = child.wait_with_output().unwrap();
        // Whatever the verdict, the directory goes (a failing helper may have left things in it).
        std::fs::remove_dir_all(&dir).unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success(),
            "under a limit of {limit} descriptors: {stdout}{}",
            String::from_utf8_lossy(&output.stderr)
        );
        if stdout.starts_with("started") {
            started += 1;
        } else {
            failed += 1;
        }
    }
    assert!(
        failed > 0 && started > 0,
        "{failed} failed, {started} started: widen the range"
    );
}

fn main() -> std::process::ExitCode {
    // A spawned child of the helper is this binary too: let it become that first.
    multiprocessing::freeze_support();
    if std::env::var_os(RLIMIT_HELPER).is_some() {
        return manager_under_a_low_rlimit_child();
    }
    common::run(&[
        case!(local_manager_refuses_a_stranger),
        case!(a_proxy_sent_through_a_pipe_carries_no_key),
        case!(remote_handshake_has_a_deadline),
        case!(a_flood_of_silent_connections_pins_few_threads),
        case!(max_clients_turns_the_extra_client_away_with_a_reason),
        case!(serve_refuses_an_empty_authkey),
        case!(manager_under_a_low_rlimit, 240),
        case!(ctrl_c_leaves_no_socket_directory),
    ] as &[Test])
}

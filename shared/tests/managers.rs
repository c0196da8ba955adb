//! Managers: shared objects in a server process, reached by many processes, surviving bad
//! clients, and never outliving their owner.

#[macro_use]
mod common;

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

use common::{Test, eventually, join_with, pid_exists, start};
use multiprocessing::{
    Address, DictProxy, Error, ListProxy, LockProxy, Manager, Process, QueueProxy, active_children,
    get_context,
};

fn kill9(pid: i32) {
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), nix::sys::signal::Signal::SIGKILL).unwrap();
}

fn server_is_a_named_child() {
    let manager = Manager::new().unwrap();
    assert_eq!(manager.name(), "SyncManager-1");
    let children = active_children();
    assert_eq!(children.len(), 1);
    assert_eq!(children[0].name(), "SyncManager-1");
    assert_eq!(Some(children[0].pid()), manager.pid());
    // The next process takes the next identity number, as in CPython.
    assert_eq!(Process::new(|(): ()| {}, ()).name(), "Process-2");
}

fn distinct_keys_from_many_processes_all_land() {
    fn writer((d, who): (DictProxy<String, u32>, u32)) {
        for i in 0..50 {
            d.set(&format!("p{who}-{i}"), &(who * 1000 + i)).unwrap();
        }
    }
    let manager = Manager::new().unwrap();
    let d = manager.dict::<String, u32>().unwrap();
    let ps: Vec<Process> = (1..=6)
        .map(|who| start(Process::new(writer, (d.clone(), who))))
        .collect();
    // The parent writes at the same time, over its own connection.
    for i in 0..50 {
        d.set(&format!("p0-{i}"), &i).unwrap();
    }
    ps.iter().for_each(|p| join_with(p, 0));
    assert_eq!(d.len().unwrap(), 7 * 50);
    for who in 0..=6u32 {
        for i in 0..50 {
            assert_eq!(d.get(&format!("p{who}-{i}")).unwrap(), Some(who * 1000 + i));
        }
    }
    // Each writer's keys arrived in its own order; a snapshot keeps arrival order.
    let keys: Vec<String> = d
        .keys()
        .unwrap()
        .into_iter()
        .filter(|k| k.starts_with("p3-"))
        .collect();
    assert_eq!(keys, (0..50).map(|i| format!("p3-{i}")).collect::<Vec<_>>());
}

fn threads_share_a_proxy() {
    let manager = Manager::new().unwrap();
    let d = manager.dict::<String, u32>().unwrap();
    std::thread::scope(|s| {
        for t in 0..4u32 {
            let d = &d;
            s.spawn(move || {
                for i in 0..100 {
                    d.set(&format!("t{t}-{i}"), &i).unwrap();
                    assert_eq!(d.get(&format!("t{t}-{i}")).unwrap(), Some(i));
                }
            });
        }
    });
    assert_eq!(d.len().unwrap(), 400);
}

fn dict_methods_follow_python() {
    let manager = Manager::new().unwrap();
    let d = manager.dict::<String, i64>().unwrap();
    assert!(d.is_empty().unwrap());
    d.set("b", &2).unwrap();
    d.set("a", &1).unwrap();
    d.set("c", &3).unwrap();
    d.set("b", &20).unwrap(); // a replaced key keeps its place
    assert_eq!(d.copy().unwrap().to_string(), "{'b': 20, 'a': 1, 'c': 3}");
    assert_eq!(d.remove("a").unwrap(), Some(1));
    assert_eq!(d.remove("a").unwrap(), None);
    assert!(d.contains("c").unwrap() && !d.contains("a").unwrap());
    d.set("a", &1).unwrap(); // back at the end, as in Python
    assert_eq!(d.keys().unwrap(), ["b", "c", "a"]);
    assert_eq!(d.values().unwrap(), [20, 3, 1]);
    let pairs: Vec<(String, i64)> = (0..3).map(|i| (format!("k{i}"), i)).collect();
    d.update(pairs.iter().map(|(k, v)| (k, v))).unwrap();
    assert_eq!(d.len().unwrap(), 6);
    assert_eq!(d.items().unwrap()[3], ("k0".to_string(), 0));
    assert_eq!(d.setdefault("k1", &99).unwrap(), 1);
    assert_eq!(d.setdefault("new", &99).unwrap(), 99);
    assert_eq!(
        d.to_string(),
        "{'b': 20, 'c': 3, 'a': 1, 'k0': 0, 'k1': 1, 'k2': 2, 'new': 99}"
    );
    d.clear().unwrap();
    assert_eq!(d.to_string(), "{}");

    // Strings print with Python's quotes.
    let l = manager.list::<String>().unwrap();
    l.extend(&["a".to_string(), "it's".to_string()]).unwrap();
    assert_eq!(l.to_string(), r#"['a', "it's"]"#);
}

fn list_namespace_value_queue() {
    fn child((l, q): (ListProxy<i32>, QueueProxy<(u32, String)>)) {
        l.append(&4).unwrap();
        q.put(&(7, "seven".to_string())).unwrap();
    }
    let manager = Manager::new().unwrap();
    let l = manager.list::<i32>().unwrap();
    l.extend(&[1, 2, 3]).unwrap();
    let q = manager.queue::<(u32, String)>().unwrap();
    let p = start(Process::new(child, (l.clone(), q.clone())));
    assert_eq!(
        q.get_timeout(Duration::from_secs(20)).unwrap(),
        (7, "seven".to_string())
    );
    join_with(&p, 0);
    assert_eq!(l.copy().unwrap().into_vec(), [1, 2, 3, 4]);
    assert_eq!(l.get(-1).unwrap(), 4);
    l.insert(0, &0).unwrap();
    l.insert(100, &5).unwrap();
    assert_eq!(l.to_string(), "[0, 1, 2, 3, 4, 5]");
    assert_eq!(l.pop().unwrap(), 5);
    assert_eq!(l.pop_at(0).unwrap(), 0);
    l.remove(&2).unwrap();
    assert_eq!(l.index(&3).unwrap(), 1);
    let err = l.get(10).unwrap_err();
    assert!(err.to_string().contains("out of range"), "{err}");
    assert!(l.remove(&42).unwrap_err().to_string().contains("not in list"));

    let ns = manager.namespace().unwrap();
    ns.set("x", &10).unwrap();
    ns.set("y", "hello").unwrap();
    assert_eq!(ns.get::<i32>("x").unwrap(), 10);
    assert_eq!(ns.get::<String>("y").unwrap(), "hello");
    assert_eq!(ns.names().unwrap(), ["x", "y"]);
    let err = ns.get::<i32>("z").unwrap_err();
    assert!(err.to_string().contains("has no attribute \"z\""), "{err}");
    // The wrong type is a decode error that names the type.
    let err = ns.get::<u32>("y").unwrap_err();
    assert!(matches!(err, Error::Codec(_)), "{err}");

    let v = manager.value(1u64).unwrap();
    v.set(&2).unwrap();
    assert_eq!(v.get().unwrap(), 2);

    assert!(matches!(q.get_nowait(), Err(Error::Empty)));
    let started = Instant::now();
    assert!(matches!(
        q.get_timeout(Duration::from_millis(200)),
        Err(Error::Empty)
    ));
    assert!(started.elapsed() >= Duration::from_millis(200));
    let bounded = manager.queue_with_maxsize::<u8>(1).unwrap();
    bounded.put(&1).unwrap();
    assert!(matches!(bounded.put_nowait(&2), Err(Error::Full)));
    assert!(matches!(
        bounded.put_timeout(&2, Duration::from_millis(100)),
        Err(Error::Full)
    ));
    assert_eq!(bounded.qsize().unwrap(), 1);
}

fn increments_under_lock_are_exact() {
    fn add((d, lock, n): (DictProxy<String, u64>, LockProxy, u32)) {
        for _ in 0..n {
            let _guard = lock.guard().unwrap();
            let value = d.get("counter").unwrap().unwrap_or(0);
            d.set("counter", &(value + 1)).unwrap();
        }
    }
    let manager = Manager::new().unwrap();
    let d = manager.dict::<String, u64>().unwrap();
    let lock = manager.lock().unwrap();
    let ps: Vec<Process> = (0..4)
        .map(|_| start(Process::new(add, (d.clone(), lock.clone(), 150))))
        .collect();
    ps.iter().for_each(|p| join_with(p, 0));
    assert_eq!(d.get("counter").unwrap(), Some(600));
    assert!(!lock.locked().unwrap());
    let err = lock.release().unwrap_err();
    assert!(err.to_string().contains("release unlocked lock"), "{err}");
}

fn server_survives_clients_killed_mid_request() {
    fn half_a_request(path: std::path::PathBuf) {
        let mut s = UnixStream::connect(path).unwrap();
        // Two bytes of a frame header, then nothing: the server is left mid-frame.
        s.write_all(&[0, 0]).unwrap();
        std::thread::sleep(Duration::from_secs(60));
    }
    fn blocked_get(q: QueueProxy<String>) {
        let _ = q.get();
    }
    fn hold_lock(lock: LockProxy) {
        lock.acquire().unwrap();
        std::thread::sleep(Duration::from_secs(60));
    }
    let manager = Manager::new().unwrap();
    let Address::Unix(path) = manager.address().clone() else {
        panic!("a local manager uses a Unix socket")
    };
    let d = manager.dict::<String, i32>().unwrap();
    let q = manager.queue::<String>().unwrap();
    let lock = manager.lock().unwrap();

    let half = start(Process::new(half_a_request, path));
    let getter = start(Process::new(blocked_get, q.clone()));
    let holder = start(Process::new(hold_lock, lock.clone()));
    eventually(Duration::from_secs(20), "the child holds the lock", || {
        lock.locked().unwrap()
    });
    std::thread::sleep(Duration::from_millis(200)); // let the getter block in the server
    for p in [&half, &getter, &holder] {
        p.kill().unwrap();
        p.join().unwrap();
        assert_eq!(p.exitcode(), Some(-9));
    }

    // The server still serves, the killed getter took no item, and the lock is free again.
    d.set("still", &1).unwrap();
    assert_eq!(d.get("still").unwrap(), Some(1));
    q.put(&"kept".to_string()).unwrap();
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(q.get_timeout(Duration::from_secs(5)).unwrap(), "kept");
    eventually(
        Duration::from_secs(5),
        "the dead holder's lock is released",
        || !lock.locked().unwrap(),
    );
    assert!(lock.acquire_timeout(Duration::from_secs(5)).unwrap());
    lock.release().unwrap();
}

fn malformed_request_gets_an_error_reply() {
    // A client that holds the key but sends garbage: a served manager, whose key we know.
    let manager = Manager::serve(&"127.0.0.1:0".parse().unwrap(), b"key").unwrap();
    let d = manager.dict::<String, i32>().unwrap();
    let conn = multiprocessing::Client(manager.address(), Some(b"key")).unwrap();
    conn.send_bytes(&[0xff, 0xff, 0xff, 0x13, 0x37]).unwrap();
    assert!(
        conn.poll(Some(Duration::from_secs(20))).unwrap(),
        "no reply to a malformed request"
    );
    let reply = conn.recv_bytes().unwrap();
    let text = String::from_utf8_lossy(&reply);
    assert!(text.contains("malformed request"), "{text}");
    // The same connection and every other client go on working.
    conn.send_bytes(b"more garbage").unwrap();
    assert!(String::from_utf8_lossy(&conn.recv_bytes().unwrap()).contains("malformed request"));
    d.set("ok", &1).unwrap();
    assert_eq!(d.len().unwrap(), 1);
}

fn wrong_authkey_is_refused() {
    fn remote_client((address, key): (Address, Vec<u8>)) {
        let manager = Manager::connect(&address, &key).unwrap();
        let d = manager.get::<DictProxy<String, i32>>("shared").unwrap();
        d.set("from-client", &7).unwrap();
    }
    let server = Manager::serve(&"127.0.0.1:0".parse().unwrap(), b"right key").unwrap();
    let d = server.dict::<String, i32>().unwrap();
    server.register("shared", &d).unwrap();

    let err = Manager::connect(server.address(), b"wrong key").unwrap_err();
    assert!(matches!(err, Error::Authentication(_)), "{err}");
    assert!(err.to_string().contains("rejected"), "{err}");
    // A raw connection that answers nothing is cut off by the server; that only costs a thread.
    let _silent = std::net::TcpStream::connect(server.address().to_string()).unwrap();

    // TCP connections probe a silent peer, so a machine that vanished is noticed, not awaited.
    let conn = multiprocessing::Client(server.address(), Some(b"right key")).unwrap();
    let sock = socket2::SockRef::from(&conn);
    assert!(sock.keepalive().unwrap() && sock.tcp_nodelay().unwrap());
    assert_eq!(sock.tcp_keepalive_time().unwrap(), Duration::from_secs(10));
    drop(conn);

    let p = start(Process::new(
        remote_client,
        (server.address().clone(), b"right key".to_vec()),
    ));
    join_with(&p, 0);
    assert_eq!(d.get("from-client").unwrap(), Some(7));
    // Looking up with the wrong types is refused with both type names.
    let client = Manager::connect(server.address(), b"right key").unwrap();
    let err = client.get::<DictProxy<String, String>>("shared").unwrap_err();
    assert!(err.to_string().contains("alloc::string::String, i32"), "{err}");
}

fn serve_on_a_unix_path_with_an_authkey() {
    let dir = std::env::temp_dir().join(format!("manager-unix-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let address = Address::Unix(dir.join("manager.sock"));
    {
        let server = Manager::serve(&address, b"key").unwrap();
        let l = server.list::<String>().unwrap();
        server.register("names", &l).unwrap();
        let client = Manager::connect(&address, b"key").unwrap();
        client
            .get::<ListProxy<String>>("names")
            .unwrap()
            .append(&"a".to_string())
            .unwrap();
        assert_eq!(l.copy().unwrap().into_vec(), ["a"]);
        assert!(matches!(
            Manager::connect(&address, b"other"),
            Err(Error::Authentication(_))
        ));
        // Before authenticating, a client that announces a gigabyte gets nothing allocated
        // (the handshake limit is 256 bytes); it only holds its own thread until it leaves.
        let mut raw = UnixStream::connect(dir.join("manager.sock")).unwrap();
        let mut challenge = [0u8; 64];
        raw.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        let _ = raw.read(&mut challenge).unwrap();
        raw.write_all(&[0xff, 0xff, 0xff, 0x3f]).unwrap();
        client
            .get::<ListProxy<String>>("names")
            .unwrap()
            .append(&"b".to_string())
            .unwrap();
        assert_eq!(l.len().unwrap(), 2);
        drop(raw);
    }
    assert!(
        !dir.join("manager.sock").exists(),
        "the server removes its socket"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

fn dead_server_gives_a_clear_error() {
    fn wait_on_queue(q: QueueProxy<String>) {
        let err = q.get().unwrap_err();
        assert!(matches!(err, Error::Eof(_)), "{err}");
        assert!(err.to_string().contains("SyncManager-1"), "{err}");
    }
    let mut manager = Manager::new().unwrap();
    let d = manager.dict::<String, i32>().unwrap();
    let q = manager.queue::<String>().unwrap();
    d.set("a", &1).unwrap();
    let waiter = start(Process::new(wait_on_queue, q.clone()));
    std::thread::sleep(Duration::from_millis(200));
    let pid = manager.pid().unwrap();
    kill9(pid);

    let started = Instant::now();
    let err = d.get("a").unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "took {:?}",
        started.elapsed()
    );
    let text = err.to_string();
    assert!(
        text.contains("SyncManager-1") && text.contains("shut down or died"),
        "{text}"
    );
    // A new connection is refused just as clearly.
    let err = d.get("a").unwrap_err();
    assert!(err.to_string().contains("SyncManager-1"), "{err}");
    join_with(&waiter, 0);

    manager.shutdown().unwrap();
    assert!(!pid_exists(pid));
    assert!(active_children().is_empty());
}

fn shutdown_and_drop_reap_the_server() {
    let mut manager = Manager::new().unwrap();
    let pid = manager.pid().unwrap();
    let Address::Unix(path) = manager.address().clone() else {
        panic!("a Unix socket")
    };
    let d = manager.dict::<u8, u8>().unwrap();
    d.set(&1, &1).unwrap();
    manager.shutdown().unwrap();
    assert!(!pid_exists(pid), "the server was not reaped");
    assert!(
        !path.exists() && !path.parent().unwrap().exists(),
        "the socket directory was left behind"
    );
    assert!(active_children().is_empty());
    let err = d.get(&1).unwrap_err();
    assert!(err.to_string().contains("SyncManager-1"), "{err}");
    manager.shutdown().unwrap(); // twice is harmless

    let pid = {
        let manager = Manager::new().unwrap();
        manager.pid().unwrap()
    };
    assert!(!pid_exists(pid), "drop did not reap the server");
    assert!(active_children().is_empty());
}

fn sleep_a_while(seconds: u64) {
    std::thread::sleep(Duration::from_secs(seconds));
}

/// The owner stops its server with a byte on their private watch socket: prompt even while a
/// forked child holds a copy of the owner's end (a close alone would not be seen then), and
/// without opening a connection.
fn shutdown_is_prompt_while_a_child_holds_the_watch() {
    let mut manager = Manager::new().unwrap();
    let pid = manager.pid().unwrap();
    // Forked explicitly, so the child inherits every descriptor of ours.
    let child = start(get_context("fork").unwrap().process(sleep_a_while, 60));
    let started = Instant::now();
    manager.shutdown().unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "shutdown took {:?}: the server did not hear its owner",
        started.elapsed()
    );
    assert!(!pid_exists(pid));
    child.kill().unwrap();
    child.join().unwrap();
}

fn server_leaves_when_its_owner_is_killed() {
    fn owner(report: std::path::PathBuf) {
        // Forked explicitly: under the forkserver start method the server would be the fork
        // server's child, and this test is about a server whose owner is its parent.
        let manager = get_context("fork").unwrap().manager().unwrap();
        let Address::Unix(socket) = manager.address() else {
            panic!("a Unix socket")
        };
        // Write whole, then rename: the parent never reads half a report.
        let tmp = report.with_extension("tmp");
        std::fs::write(&tmp, format!("{} {}", manager.pid().unwrap(), socket.display())).unwrap();
        std::fs::rename(&tmp, &report).unwrap();
        std::thread::sleep(Duration::from_secs(60));
    }
    // Orphans are adopted by us rather than by PID 1, so we can reap the server ourselves and
    // leave no zombie behind for the harness to find.
    nix::sys::prctl::set_child_subreaper(true).unwrap();
    let report = std::env::temp_dir().join(format!("manager-owner-test-{}", std::process::id()));
    let _ = std::fs::remove_file(&report);
    let p = start(get_context("fork").unwrap().process(owner, report.clone()));
    let mut reported = None;
    eventually(
        Duration::from_secs(20),
        "the owner reports its server's pid and socket",
        || {
            reported = std::fs::read_to_string(&report).ok().and_then(|s| {
                let (pid, path) = s.split_once(' ')?;
                Some((pid.parse::<i32>().ok()?, std::path::PathBuf::from(path)))
            });
            reported.is_some()
        },
    );
    std::fs::remove_file(&report).unwrap();
    let (server, socket) = reported.unwrap();
    assert!(pid_exists(server) && socket.exists());
    // SIGKILL: the owner runs no destructor and no exit handler.
    p.kill().unwrap();
    p.join().unwrap();
    eventually(Duration::from_secs(20), "the orphaned server exits", || {
        use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
        let pid = nix::unistd::Pid::from_raw(server);
        // Adopted once its owner died: reap it when it has exited.
        matches!(
            waitpid(pid, Some(WaitPidFlag::WNOHANG)),
            Ok(WaitStatus::Exited(..))
        )
    });
    assert!(!pid_exists(server));
    assert!(
        !socket.parent().unwrap().exists(),
        "the orphaned server left its directory behind"
    );
}

fn main() -> std::process::ExitCode {
    common::run(&[
        case!(server_is_a_named_child),
        case!(distinct_keys_from_many_processes_all_land),
        case!(threads_share_a_proxy),
        case!(dict_methods_follow_python),
        case!(list_namespace_value_queue),
        case!(increments_under_lock_are_exact),
        case!(server_survives_clients_killed_mid_request),
        case!(malformed_request_gets_an_error_reply),
        case!(wrong_authkey_is_refused),
        case!(serve_on_a_unix_path_with_an_authkey),
        case!(dead_server_gives_a_clear_error),
        case!(shutdown_and_drop_reap_the_server),
        case!(shutdown_is_prompt_while_a_child_holds_the_watch),
        case!(server_leaves_when_its_owner_is_killed),
    ] as &[Test])
}

//! The Manager API a Python user expects (issue 15): events, semaphores, conditions, barriers,
//! values and arrays served by a manager, list slices, `Queue.full`, and objects of the user's
//! own type (`BaseManager.register`). Each test is named after the CPython test it answers to
//! (`Lib/test/_test_multiprocessing.py`, run there with `TYPE = 'manager'`), and runs with
//! child processes under the suite's start method.

#[macro_use]
mod common;

use std::time::{Duration, Instant};

use common::{Test, eventually, join_with, start};
use multiprocessing::{
    Address, BarrierProxy, ConditionProxy, Error, EventProxy, Managed, Manager, Process, QueueProxy,
    SemaphoreProxy, ServedProxy, active_children,
};
use serde::{Deserialize, Serialize};

// ---- BaseManager.register: _TestMyManager, _TestManagerRestart ----

/// CPython's `FooBar` of `_TestMyManager`: a type of the test's own, served by the manager.
struct Foo {
    calls: u32,
    name: String,
}

#[derive(Serialize, Deserialize)]
enum FooCall {
    F,
    G,
    Name,
    Panic,
}

#[derive(Serialize, Deserialize, Debug, PartialEq)]
enum FooReply {
    Text(String),
    Calls(u32),
}

impl Managed for Foo {
    type Args = String;
    type Call = FooCall;
    type Reply = FooReply;

    fn new(name: String) -> Foo {
        assert!(name != "panic", "Foo::new refuses the name 'panic'");
        Foo { calls: 0, name }
    }

    fn call(&mut self, call: FooCall) -> FooReply {
        self.calls += 1;
        match call {
            FooCall::F => FooReply::Text("f()".into()),
            FooCall::G => panic!("g() raised"),
            FooCall::Name => FooReply::Text(self.name.clone()),
            FooCall::Panic => panic!("asked to"),
        }
    }
}

fn call_f_in_a_child(served: ServedProxy<Foo>) {
    assert_eq!(served.call(FooCall::F).unwrap(), FooReply::Text("f()".into()));
}

/// What CPython's `_TestMyManager.common` checks: the registered type is made in the server,
/// its methods answer, an exception in one comes back as an error, and the object is shared.
fn check_my_manager(manager: &Manager) {
    let first = manager.create::<Foo>("foo".to_string()).unwrap();
    assert_eq!(first.call(FooCall::F).unwrap(), FooReply::Text("f()".into()));
    let err = first.call(FooCall::G).unwrap_err();
    assert!(matches!(err, Error::Remote(_)), "{err}");
    assert!(err.to_string().contains("g() raised"), "{err}");
    // The object survives its method's panic, and a child's calls reach the same object.
    join_with(&start(Process::new(call_f_in_a_child, first.clone())), 0);
    assert_eq!(first.call(FooCall::Name).unwrap(), FooReply::Text("foo".into()));
    let _ = first.call(FooCall::Panic);
    // Two objects of the type are two objects.
    let bar = manager.create::<Foo>("bar".to_string()).unwrap();
    assert_eq!(bar.call(FooCall::Name).unwrap(), FooReply::Text("bar".into()));
    // A `new` that panics is an error, and the manager goes on.
    let err = manager.create::<Foo>("panic".to_string()).unwrap_err();
    assert!(err.to_string().contains("refuses the name"), "{err}");
}

fn test_mymanager() {
    let mut manager = Manager::builder().register::<Foo>().start().unwrap();
    check_my_manager(&manager);
    let pid = manager.pid().unwrap();
    manager.shutdown().unwrap();
    assert!(!common::pid_exists(pid));
    assert!(active_children().is_empty());
}

fn test_mymanager_context() {
    {
        let manager = Manager::builder().register::<Foo>().start().unwrap();
        check_my_manager(&manager);
    } // Python's `with MyManager() as manager:` ends here
    assert!(active_children().is_empty());
}

/// A type that was not registered is refused with a message that says how to register it;
/// served objects can be named and looked up from another program as every proxy.
fn test_mymanager_unregistered_and_remote() {
    struct Unregistered;
    impl Managed for Unregistered {
        type Args = ();
        type Call = ();
        type Reply = ();
        fn new((): ()) -> Unregistered {
            Unregistered
        }
        fn call(&mut self, (): ()) {}
    }
    let manager = Manager::builder().register::<Foo>().start().unwrap();
    let err = manager.create::<Unregistered>(()).unwrap_err();
    assert!(err.to_string().contains("register::<"), "{err}");

    let server = Manager::builder()
        .register::<Foo>()
        .serve(&"127.0.0.1:0".parse().unwrap(), b"key")
        .unwrap();
    let remote = server.create::<Foo>("remote".to_string()).unwrap();
    server.register("foo", &remote).unwrap();
    let client = Manager::connect(server.address(), b"key").unwrap();
    let found = client.get::<ServedProxy<Foo>>("foo").unwrap();
    assert_eq!(
        found.call(FooCall::Name).unwrap(),
        FooReply::Text("remote".into())
    );
}

fn putter((address, key): (Address, Vec<u8>)) {
    let manager = Manager::connect(&address, &key).unwrap();
    let queue = manager.get::<QueueProxy<String>>("queue").unwrap();
    queue.put(&"hello world".to_string()).unwrap();
}

/// Serves a queue on `address`, has a child of another "program" put into it through
/// `Manager::connect`, shuts down, and returns the address it listened on.
fn serve_once(address: &Address, key: &[u8]) -> Address {
    let mut manager = Manager::serve(address, key).unwrap();
    let queue = manager.queue::<String>().unwrap();
    manager.register("queue", &queue).unwrap();
    let bound = manager.address().clone();
    join_with(&start(Process::new(putter, (bound.clone(), key.to_vec()))), 0);
    assert_eq!(queue.get_timeout(Duration::from_secs(20)).unwrap(), "hello world");
    manager.shutdown().unwrap();
    bound
}

/// A manager shut down and started again at once on the same address works: TCP reuses the
/// port, and a Unix socket path is free again because the server removed its socket.
fn test_rapid_restart() {
    let key = b"a key for the restart test";
    let tcp = serve_once(&"127.0.0.1:0".parse().unwrap(), key);
    assert_eq!(serve_once(&tcp, key), tcp);

    let dir = std::env::temp_dir().join(format!("manager-restart-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let unix = Address::Unix(dir.join("manager.sock"));
    serve_once(&unix, key);
    serve_once(&unix, key);
    let left = dir.join("manager.sock").exists();
    std::fs::remove_dir_all(&dir).unwrap();
    assert!(!left, "the server left its socket");
}

// ---- _TestContainers ----

fn test_list() {
    let manager = Manager::new().unwrap();
    let a = manager.list::<i32>().unwrap();
    a.extend(&(0..10).collect::<Vec<_>>()).unwrap();
    assert_eq!(a.get_slice(..).unwrap().into_vec(), (0..10).collect::<Vec<_>>());
    let b = manager.list::<i32>().unwrap();
    assert!(b.copy().unwrap().is_empty());
    b.iadd(&[5]).unwrap(); // b += [5]
    b.iadd(&[5, 6, 7]).unwrap();
    assert_eq!(b.copy().unwrap().into_vec(), [5, 5, 6, 7]);
    // a[2:5], a[-3:], a[::2], a[::-1], a[5:2] (empty), a[-100:100] (clamped)
    assert_eq!(a.get_slice(2..5).unwrap().into_vec(), [2, 3, 4]);
    assert_eq!(a.get_slice(-3..).unwrap().into_vec(), [7, 8, 9]);
    assert_eq!(a.get_slice_step(.., 2).unwrap().into_vec(), [0, 2, 4, 6, 8]);
    assert_eq!(
        a.get_slice_step(.., -1).unwrap().into_vec(),
        (0..10).rev().collect::<Vec<_>>()
    );
    #[expect(clippy::reversed_empty_ranges, reason = "Python's a[5:2], which is empty")]
    let backwards = 5..2;
    assert!(a.get_slice(backwards).unwrap().is_empty());
    assert_eq!(a.get_slice(-100..100).unwrap().len(), 10);
    assert_eq!(a.get_slice(2..=4).unwrap().into_vec(), [2, 3, 4]);
    let err = a.get_slice_step(.., 0).unwrap_err();
    assert!(err.to_string().contains("slice step cannot be zero"), "{err}");
    // a[1:3] = [10, 11, 12] grows the list; del a[0:2]; a[::3] = ... needs the same length.
    a.set_slice(1..3, &[10, 11, 12]).unwrap();
    assert_eq!(a.get_slice(..5).unwrap().into_vec(), [0, 10, 11, 12, 3]);
    a.del_slice(0..2).unwrap();
    assert_eq!(a.len().unwrap(), 9);
    assert_eq!(a.get(0).unwrap(), 11);
    a.del_slice(-2..).unwrap();
    assert_eq!(a.copy().unwrap().into_vec(), [11, 12, 3, 4, 5, 6, 7]);
    // A step-1 slice may change the length: `a[:] = [1]`.
    a.set_slice(.., &[1]).unwrap();
    assert_eq!(a.copy().unwrap().into_vec(), [1]);
    // Python's `a.extend(a)` and printing.
    a.extend(&[2, 3]).unwrap();
    assert_eq!(a.to_string(), "[1, 2, 3]");
}

fn test_dict() {
    let manager = Manager::new().unwrap();
    let d = manager.dict::<i32, String>().unwrap();
    for i in 65..70 {
        d.set(&i, &char::from(u8::try_from(i).unwrap()).to_string())
            .unwrap();
    }
    assert_eq!(
        d.copy().unwrap().to_string(),
        "{65: 'A', 66: 'B', 67: 'C', 68: 'D', 69: 'E'}"
    );
    assert_eq!(d.keys().unwrap(), (65..70).collect::<Vec<_>>());
    assert_eq!(d.values().unwrap(), ["A", "B", "C", "D", "E"]);
    assert_eq!(d.items().unwrap()[0], (65, "A".to_string()));
}

// ---- _TestEvent ----

fn set_event(event: EventProxy) {
    std::thread::sleep(Duration::from_millis(100));
    event.set().unwrap();
}

fn test_event() {
    let manager = Manager::new().unwrap();
    let event = manager.event().unwrap();
    assert!(!event.is_set().unwrap());
    // A timed wait on a cleared event returns false after about the timeout.
    let started = Instant::now();
    assert!(!event.wait_timeout(Duration::from_millis(200)).unwrap());
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(190) && took < Duration::from_secs(5),
        "{took:?}"
    );
    event.set().unwrap();
    assert!(event.is_set().unwrap());
    assert!(event.wait().unwrap());
    assert!(event.wait_timeout(Duration::ZERO).unwrap());
    event.clear().unwrap();
    assert!(!event.is_set().unwrap());
    // Set by a child while we wait.
    let p = start(Process::new(set_event, event.clone()));
    assert!(event.wait_timeout(Duration::from_secs(20)).unwrap());
    join_with(&p, 0);
}

// ---- _TestSemaphore ----

fn test_semaphore() {
    let manager = Manager::new().unwrap();
    let sem = manager.semaphore(2).unwrap();
    assert!(sem.try_acquire().unwrap());
    assert_eq!(sem.get_value().unwrap(), 1);
    assert!(sem.try_acquire().unwrap());
    assert_eq!(sem.get_value().unwrap(), 0);
    assert!(!sem.try_acquire().unwrap());
    sem.release().unwrap();
    assert_eq!(sem.get_value().unwrap(), 1);
    sem.release().unwrap();
    assert_eq!(sem.get_value().unwrap(), 2);
    // An unbounded semaphore may rise past its start.
    sem.release().unwrap();
    assert_eq!(sem.get_value().unwrap(), 3);
}

fn test_bounded_semaphore() {
    let manager = Manager::new().unwrap();
    let sem = manager.bounded_semaphore(2).unwrap();
    sem.acquire().unwrap();
    sem.release().unwrap();
    let err = sem.release().unwrap_err();
    assert!(
        err.to_string().contains("Semaphore released too many times"),
        "{err}"
    );
    assert_eq!(sem.get_value().unwrap(), 2);
}

fn test_semaphore_timeout() {
    let manager = Manager::new().unwrap();
    let sem = manager.semaphore(0).unwrap();
    let started = Instant::now();
    assert!(!sem.acquire_timeout(Duration::from_millis(200)).unwrap());
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(190) && took < Duration::from_secs(5),
        "{took:?}"
    );
    assert!(!sem.try_acquire().unwrap());
}

// ---- _TestCondition ----

/// CPython's `_TestCondition.f`: take the lock, say we sleep, wait, say we woke.
fn cond_sleeper(
    (cond, sleeping, woken, timeout): (ConditionProxy, SemaphoreProxy, SemaphoreProxy, Option<u64>),
) {
    cond.acquire().unwrap();
    sleeping.release().unwrap();
    match timeout {
        Some(ms) => {
            cond.wait_timeout(Duration::from_millis(ms)).unwrap();
        }
        None => {
            cond.wait().unwrap();
        }
    }
    woken.release().unwrap();
    cond.release().unwrap();
}

fn start_sleepers(
    n: usize,
    cond: &ConditionProxy,
    sleeping: &SemaphoreProxy,
    woken: &SemaphoreProxy,
) -> Vec<Process> {
    let ps: Vec<Process> = (0..n)
        .map(|_| {
            start(Process::new(
                cond_sleeper,
                (cond.clone(), sleeping.clone(), woken.clone(), None),
            ))
        })
        .collect();
    for _ in 0..n {
        assert!(sleeping.acquire_timeout(Duration::from_secs(30)).unwrap());
    }
    ps
}

fn woken_reaches(woken: &SemaphoreProxy, n: usize) {
    eventually(Duration::from_secs(20), &format!("{n} woken"), || {
        woken.get_value().unwrap() == n
    });
}

fn test_notify() {
    let manager = Manager::new().unwrap();
    let cond = manager.condition().unwrap();
    let sleeping = manager.semaphore(0).unwrap();
    let woken = manager.semaphore(0).unwrap();
    let ps = start_sleepers(2, &cond, &sleeping, &woken);
    // Both sleep; nobody has woken.
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(woken.get_value().unwrap(), 0);
    // Wake one, then the other.
    for expected in 1..=2 {
        let guard = cond.guard().unwrap();
        cond.notify().unwrap();
        drop(guard);
        woken_reaches(&woken, expected);
        std::thread::sleep(Duration::from_millis(100));
        assert_eq!(
            woken.get_value().unwrap(),
            expected,
            "one notify woke more than one"
        );
    }
    ps.iter().for_each(|p| join_with(p, 0));
}

fn test_notify_all() {
    let manager = Manager::new().unwrap();
    let cond = manager.condition().unwrap();
    let sleeping = manager.semaphore(0).unwrap();
    let woken = manager.semaphore(0).unwrap();
    // Two that wait with a timeout wake on their own.
    let timed: Vec<Process> = (0..2)
        .map(|_| {
            start(Process::new(
                cond_sleeper,
                (cond.clone(), sleeping.clone(), woken.clone(), Some(100)),
            ))
        })
        .collect();
    for _ in 0..2 {
        assert!(sleeping.acquire_timeout(Duration::from_secs(30)).unwrap());
    }
    woken_reaches(&woken, 2);
    timed.iter().for_each(|p| join_with(p, 0));
    // Three without a timeout wake only on notify_all.
    let ps = start_sleepers(3, &cond, &sleeping, &woken);
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(woken.get_value().unwrap(), 2);
    {
        let _guard = cond.guard().unwrap();
        cond.notify_all().unwrap();
    }
    woken_reaches(&woken, 5);
    ps.iter().for_each(|p| join_with(p, 0));
}

fn test_notify_n() {
    let manager = Manager::new().unwrap();
    let cond = manager.condition().unwrap();
    let sleeping = manager.semaphore(0).unwrap();
    let woken = manager.semaphore(0).unwrap();
    let ps = start_sleepers(3, &cond, &sleeping, &woken);
    {
        let _guard = cond.guard().unwrap();
        cond.notify_n(2).unwrap();
    }
    woken_reaches(&woken, 2);
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(woken.get_value().unwrap(), 2, "notify(2) woke more than two");
    {
        let _guard = cond.guard().unwrap();
        cond.notify_n(4).unwrap(); // more than are waiting is fine
    }
    woken_reaches(&woken, 3);
    ps.iter().for_each(|p| join_with(p, 0));
}

fn test_condition_timeout() {
    let manager = Manager::new().unwrap();
    let cond = manager.condition().unwrap();
    let _guard = cond.guard().unwrap();
    let started = Instant::now();
    assert!(!cond.wait_timeout(Duration::from_millis(200)).unwrap());
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(190) && took < Duration::from_secs(5),
        "{took:?}"
    );
    // The lock is held again after the timed-out wait: notifying is allowed.
    cond.notify().unwrap();
}

fn count_up((cond, state): (ConditionProxy, multiprocessing::ValueProxy<i32>)) {
    for _ in 0..4 {
        std::thread::sleep(Duration::from_millis(20));
        let _guard = cond.guard().unwrap();
        state.set(&(state.get().unwrap() + 1)).unwrap();
        cond.notify().unwrap();
    }
}

fn test_waitfor() {
    let manager = Manager::new().unwrap();
    let cond = manager.condition().unwrap();
    let state = manager.value(-1i32).unwrap();
    let p = start(Process::new(count_up, (cond.clone(), state.clone())));
    {
        let _guard = cond.guard().unwrap();
        assert!(cond.wait_for(|| Ok(state.get()? == 3), None).unwrap());
        assert_eq!(state.get().unwrap(), 3);
    }
    join_with(&p, 0);
}

fn test_waitfor_timeout() {
    let manager = Manager::new().unwrap();
    let cond = manager.condition().unwrap();
    let _guard = cond.guard().unwrap();
    let started = Instant::now();
    assert!(
        !cond
            .wait_for(|| Ok(false), Some(Duration::from_millis(200)))
            .unwrap()
    );
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(190) && took < Duration::from_secs(5),
        "{took:?}"
    );
}

/// CPython's `RuntimeError`s: waiting or notifying without the lock, releasing it unheld.
fn test_condition_needs_the_lock() {
    let manager = Manager::new().unwrap();
    let cond = manager.condition().unwrap();
    for err in [
        cond.wait_timeout(Duration::from_millis(1)).unwrap_err(),
        cond.notify().unwrap_err(),
        cond.release().unwrap_err(),
    ] {
        assert!(err.to_string().contains("un-acquired lock"), "{err}");
    }
    // The lock is reentrant, and owned by a thread: another thread cannot release it.
    cond.acquire().unwrap();
    cond.acquire().unwrap();
    std::thread::scope(|s| {
        s.spawn(|| {
            assert!(!cond.try_acquire().unwrap());
            assert!(cond.release().is_err());
        });
    });
    cond.release().unwrap();
    cond.release().unwrap();
    assert!(cond.release().is_err());
}

fn hold_the_condition((cond, held): (ConditionProxy, EventProxy)) {
    cond.acquire().unwrap();
    held.set().unwrap();
    std::thread::sleep(Duration::from_secs(60));
}

/// Ours: a condition's lock whose holder is killed is released (CPython's stays held).
fn condition_lock_of_a_killed_holder_is_released() {
    let manager = Manager::new().unwrap();
    let cond = manager.condition().unwrap();
    let held = manager.event().unwrap();
    let p = start(Process::new(hold_the_condition, (cond.clone(), held.clone())));
    assert!(held.wait_timeout(Duration::from_secs(20)).unwrap());
    assert!(!cond.try_acquire().unwrap());
    p.kill().unwrap();
    p.join().unwrap();
    assert!(cond.acquire_timeout(Duration::from_secs(5)).unwrap());
    cond.release().unwrap();
}

// ---- _TestBarrier ----

fn barrier_party((barrier, results): (BarrierProxy, multiprocessing::ListProxy<usize>)) {
    let index = barrier.wait_timeout(Duration::from_secs(30)).unwrap();
    results.append(&index).unwrap();
}

/// CPython's `test_barrier` and `test_wait_return`: every party passes, and exactly one gets
/// each index.
fn test_barrier() {
    const N: usize = 4;
    let manager = Manager::new().unwrap();
    let barrier = manager.barrier(N).unwrap();
    let results = manager.list::<usize>().unwrap();
    for _round in 0..2 {
        let ps: Vec<Process> = (0..N - 1)
            .map(|_| start(Process::new(barrier_party, (barrier.clone(), results.clone()))))
            .collect();
        eventually(Duration::from_secs(30), "the others wait", || {
            barrier.n_waiting().unwrap() == N - 1
        });
        results.append(&barrier.wait().unwrap()).unwrap();
        ps.iter().for_each(|p| join_with(p, 0));
        assert_eq!(barrier.n_waiting().unwrap(), 0);
    }
    let mut indexes = results.copy().unwrap().into_vec();
    indexes.sort_unstable();
    assert_eq!(indexes, [0, 0, 1, 1, 2, 2, 3, 3]);
    assert_eq!(barrier.parties().unwrap(), N);
    assert!(!barrier.broken().unwrap());
}

fn barrier_expect_broken(barrier: BarrierProxy) {
    assert!(matches!(
        barrier.wait_timeout(Duration::from_secs(30)),
        Err(Error::BrokenBarrier)
    ));
}

fn test_abort() {
    let manager = Manager::new().unwrap();
    let barrier = manager.barrier(3).unwrap();
    let ps: Vec<Process> = (0..2)
        .map(|_| start(Process::new(barrier_expect_broken, barrier.clone())))
        .collect();
    eventually(Duration::from_secs(30), "two wait", || {
        barrier.n_waiting().unwrap() == 2
    });
    barrier.abort().unwrap();
    ps.iter().for_each(|p| join_with(p, 0));
    assert!(barrier.broken().unwrap());
    assert!(matches!(barrier.wait(), Err(Error::BrokenBarrier)));
}

fn test_reset() {
    let manager = Manager::new().unwrap();
    let barrier = manager.barrier(3).unwrap();
    let ps: Vec<Process> = (0..2)
        .map(|_| start(Process::new(barrier_expect_broken, barrier.clone())))
        .collect();
    eventually(Duration::from_secs(30), "two wait", || {
        barrier.n_waiting().unwrap() == 2
    });
    barrier.reset().unwrap();
    ps.iter().for_each(|p| join_with(p, 0));
    // Reset leaves it usable, not broken.
    assert!(!barrier.broken().unwrap());
    let results = manager.list::<usize>().unwrap();
    let ps: Vec<Process> = (0..2)
        .map(|_| start(Process::new(barrier_party, (barrier.clone(), results.clone()))))
        .collect();
    barrier.wait_timeout(Duration::from_secs(30)).unwrap();
    ps.iter().for_each(|p| join_with(p, 0));
}

fn test_abort_and_reset() {
    let manager = Manager::new().unwrap();
    let barrier = manager.barrier(2).unwrap();
    barrier.abort().unwrap();
    assert!(barrier.broken().unwrap());
    barrier.reset().unwrap();
    assert!(!barrier.broken().unwrap());
    let results = manager.list::<usize>().unwrap();
    let p = start(Process::new(barrier_party, (barrier.clone(), results.clone())));
    barrier.wait_timeout(Duration::from_secs(30)).unwrap();
    join_with(&p, 0);
}

fn test_barrier_timeout() {
    let manager = Manager::new().unwrap();
    let barrier = manager.barrier(2).unwrap();
    let started = Instant::now();
    assert!(matches!(
        barrier.wait_timeout(Duration::from_millis(200)),
        Err(Error::BrokenBarrier)
    ));
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(190) && took < Duration::from_secs(5),
        "{took:?}"
    );
    // A timeout breaks the barrier for everyone.
    assert!(barrier.broken().unwrap());
}

fn test_default_timeout() {
    let manager = Manager::new().unwrap();
    let barrier = manager
        .barrier_with_timeout(2, Some(Duration::from_millis(200)))
        .unwrap();
    let started = Instant::now();
    assert!(matches!(barrier.wait(), Err(Error::BrokenBarrier)));
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(manager.barrier(0).is_err());
}

fn wait_on_barrier(barrier: BarrierProxy) {
    let _ = barrier.wait();
}

/// Ours: a party killed while it waits no longer counts (CPython's barrier would count it, and
/// the next arrival would pass with one party short).
fn barrier_party_killed_while_waiting_is_not_counted() {
    let manager = Manager::new().unwrap();
    let barrier = manager.barrier(2).unwrap();
    let p = start(Process::new(wait_on_barrier, barrier.clone()));
    eventually(Duration::from_secs(20), "the child waits", || {
        barrier.n_waiting().unwrap() == 1
    });
    p.kill().unwrap();
    p.join().unwrap();
    eventually(Duration::from_secs(5), "the killed party is forgotten", || {
        barrier.n_waiting().unwrap() == 0
    });
    // The barrier still needs two: one arrival alone times out.
    assert!(matches!(
        barrier.wait_timeout(Duration::from_millis(100)),
        Err(Error::BrokenBarrier)
    ));
}

// ---- _TestValue, _TestArray, _TestQueue ----

fn test_value() {
    let manager = Manager::new().unwrap();
    for (start_value, new) in [(1.25f64, -5.5), (0.0, 7.0)] {
        let v = manager.value(start_value).unwrap();
        assert_eq!(v.get().unwrap(), start_value);
        v.set(&new).unwrap();
        assert_eq!(v.get().unwrap(), new);
    }
    let c = manager.value('x').unwrap();
    assert_eq!(c.get().unwrap(), 'x');
}

fn double_array(a: multiprocessing::ArrayProxy<i64>) {
    for i in 0..a.len().unwrap() {
        let i = i as i64;
        a.set(i, &(a.get(i).unwrap() * 2)).unwrap();
    }
}

fn test_array() {
    let manager = Manager::new().unwrap();
    let seq = [680, 626, 934, 821, 150, 233, 548, 982, 714, 831];
    let arr = manager.array(&seq).unwrap();
    assert_eq!(arr.len().unwrap(), seq.len());
    assert_eq!(arr.get(3).unwrap(), seq[3]);
    assert_eq!(arr.get_slice(2..7).unwrap().into_vec(), seq[2..7]);
    arr.set_slice(4..8, &arr.get_slice(1..5).unwrap().into_vec())
        .unwrap();
    let mut expected = seq;
    expected.copy_within(1..5, 4);
    assert_eq!(arr.copy().unwrap().into_vec(), expected);
    join_with(&start(Process::new(double_array, arr.clone())), 0);
    assert_eq!(
        arr.copy().unwrap().into_vec(),
        expected.iter().map(|x| x * 2).collect::<Vec<_>>()
    );
    // The length is fixed.
    assert!(arr.set_slice(.., &[1]).is_err());
    assert_eq!(arr.len().unwrap(), seq.len());
    assert!(arr.get(10).is_err());
}

fn test_queue_full() {
    let manager = Manager::new().unwrap();
    let q = manager.queue_with_maxsize::<u32>(6).unwrap();
    for i in 0..6 {
        assert!(!q.full().unwrap());
        q.put(&i).unwrap();
    }
    assert!(q.full().unwrap());
    assert!(matches!(q.put_nowait(&6), Err(Error::Full)));
    q.get().unwrap();
    assert!(!q.full().unwrap());
    let unbounded = manager.queue::<u32>().unwrap();
    unbounded.put(&1).unwrap();
    assert!(!unbounded.full().unwrap());
}

fn main() -> std::process::ExitCode {
    common::run(&[
        case!(test_mymanager),
        case!(test_mymanager_context),
        case!(test_mymanager_unregistered_and_remote),
        case!(test_rapid_restart),
        case!(test_list),
        case!(test_dict),
        case!(test_event),
        case!(test_semaphore),
        case!(test_bounded_semaphore),
        case!(test_semaphore_timeout),
        case!(test_notify),
        case!(test_notify_all),
        case!(test_notify_n),
        case!(test_condition_timeout),
        case!(test_waitfor),
        case!(test_waitfor_timeout),
        case!(test_condition_needs_the_lock),
        case!(condition_lock_of_a_killed_holder_is_released),
        case!(test_barrier),
        case!(test_abort),
        case!(test_reset),
        case!(test_abort_and_reset),
        case!(test_barrier_timeout),
        case!(test_default_timeout),
        case!(barrier_party_killed_while_waiting_is_not_counted),
        case!(test_value),
        case!(test_array),
        case!(test_queue_full),
    ] as &[Test])
}

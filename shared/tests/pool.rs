//! Pool semantics, checked against CPython's (`Lib/test/_test_multiprocessing.py`'s pool
//! tests) and against what we promise beyond it (a killed worker never hangs the caller).

#[macro_use]
mod common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{Test, assert_no_children, nap_ms};
use multiprocessing::{Error, Pool, active_children, current_process, default_chunksize};

/// The workers' name prefix under the start method the suite runs with (`MP_TEST_START_METHOD`,
/// see the harness): `ForkPoolWorker`, `SpawnPoolWorker` or `ForkServerPoolWorker`.
fn worker_class() -> &'static str {
    match multiprocessing::get_start_method() {
        "spawn" => "SpawnPoolWorker",
        "forkserver" => "ForkServerPoolWorker",
        _ => "ForkPoolWorker",
    }
}

fn square(x: i64) -> i64 {
    x * x
}

fn add(a: i64, b: i64) -> i64 {
    a + b
}

fn fail_on_5(x: i64) -> i64 {
    if x == 5 {
        panic!("five is not allowed");
    }
    x
}

fn whoami(_: u32) -> (String, i32) {
    (current_process().name().to_string(), std::process::id() as i32)
}

fn pid_after_ms(ms: u64) -> i32 {
    std::thread::sleep(Duration::from_millis(ms));
    std::process::id() as i32
}

fn map_results_in_order() {
    let pool = Pool::new(4).unwrap();
    let expected: Vec<i64> = (0..1000).map(|x| x * x).collect();
    assert_eq!(pool.map(square, 0..1000).unwrap(), expected);
    assert_eq!(pool.map_chunked(square, 0..1000, 1).unwrap(), expected);
    assert_eq!(pool.map_chunked(square, 0..1000, 333).unwrap(), expected);
    assert_eq!(pool.map_chunked(square, 0..10, 100).unwrap(), expected[..10]);
    // Tasks that finish out of order still come back in input order.
    let naps = [80, 10, 60, 0, 30, 5];
    assert_eq!(pool.map_chunked(nap_ms, naps, 1).unwrap(), naps);
    drop(pool);
    assert_no_children();
}

fn starmap_apply_and_async() {
    let pool = Pool::new(2).unwrap();
    assert_eq!(pool.starmap(add, [(1, 2), (3, 4), (5, 6)]).unwrap(), [3, 7, 11]);
    assert_eq!(
        pool.starmap_async(add, (0..50).map(|i| (i, i)))
            .unwrap()
            .get()
            .unwrap(),
        (0..50).map(|i| 2 * i).collect::<Vec<_>>()
    );
    assert_eq!(pool.apply(square, 12).unwrap(), 144);
    let r = pool.apply_async(square, 11).unwrap();
    assert_eq!(r.get().unwrap(), 121);
    assert_eq!(r.get().unwrap(), 121, "get() again returns the value again");
    let r = pool.map_async(square, [1, 2, 3]).unwrap();
    r.wait().unwrap();
    assert!(r.ready());
    assert!(r.successful().unwrap());
    assert_eq!(r.get().unwrap(), [1, 4, 9]);
}

fn empty_input() {
    let pool = Pool::new(2).unwrap();
    assert_eq!(pool.map(square, Vec::new()).unwrap(), Vec::<i64>::new());
    assert_eq!(pool.starmap(add, Vec::new()).unwrap(), Vec::<i64>::new());
    assert_eq!(pool.imap(square, Vec::new()).unwrap().count(), 0);
    assert_eq!(pool.imap_unordered(square, Vec::new()).unwrap().count(), 0);
    let r = pool.map_async(square, Vec::new()).unwrap();
    assert!(r.ready());
    assert_eq!(pool.stats().task_messages, 0);
}

fn imap_ordered_lazy_and_unordered() {
    let pool = Pool::new(3).unwrap();
    let got: Vec<i64> = pool.imap(square, 0..200).unwrap().map(Result::unwrap).collect();
    assert_eq!(got, (0..200).map(|x| x * x).collect::<Vec<_>>());
    let got: Vec<i64> = pool
        .imap_chunked(square, 0..200, 7)
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(got, (0..200).map(|x| x * x).collect::<Vec<_>>());
    let mut got: Vec<i64> = pool
        .imap_unordered_chunked(square, 0..200, 9)
        .unwrap()
        .map(Result::unwrap)
        .collect();
    got.sort_unstable();
    assert_eq!(got, (0..200).map(|x| x * x).collect::<Vec<_>>());

    // Unordered: a short task overtakes a long one.
    let first = pool
        .imap_unordered(nap_ms, [600, 1])
        .unwrap()
        .next()
        .unwrap()
        .unwrap();
    assert_eq!(first, 1);

    // Lazy: an endless input is read only as workers ask for it.
    let mut it = pool.imap(square, 0..).unwrap();
    for x in 0..20 {
        assert_eq!(it.next().unwrap().unwrap(), x * x);
    }
    // Dropping it cancels the rest, or the endless input would starve every later call.
    drop(it);
    assert_eq!(pool.map(square, 0..5).unwrap(), [0, 1, 4, 9, 16]);
    let stats = pool.stats();
    assert!(stats.task_messages < 10_000, "{stats:?}");
    // And `join`, which lets every live job run to its end, does not run the endless input.
    let _abandoned = pool.imap(square, 0..).unwrap().take(3).count();
    pool.close().unwrap();
    pool.join().unwrap();
}

fn errors_and_callbacks() {
    let pool = Pool::new(2).unwrap();
    let err = pool.map_chunked(fail_on_5, 0..10, 1).unwrap_err();
    let text = err.to_string();
    // Issue 17 item 4: an error a program can match, with the task, the worker, the message
    // and the place.
    let Error::TaskPanicked(ref panic) = err else {
        panic!("{err:?}")
    };
    assert_eq!(
        (panic.pool.as_str(), panic.task, panic.message.as_str()),
        ("Pool(2)", 5, "five is not allowed")
    );
    assert!(
        panic.worker.starts_with(&format!("{}-", worker_class())),
        "{err:?}"
    );
    assert!(
        panic
            .location
            .as_deref()
            .is_some_and(|at| at.starts_with("shared/tests/pool.rs:")),
        "{err:?}"
    );
    assert!(text.contains("five is not allowed"), "{text}");
    assert!(
        text.contains("task 5") && text.contains(&format!("{}-", worker_class())),
        "{text}"
    );
    // The pool goes on.
    assert_eq!(pool.map(square, [3]).unwrap(), [9]);

    let got = Arc::new(Mutex::new(Vec::new()));
    let (g1, g2) = (Arc::clone(&got), Arc::clone(&got));
    let ok = pool
        .apply_async(square, 4)
        .unwrap()
        .callback(move |v| g1.lock().unwrap().push(format!("ok {v}")));
    let bad = pool
        .apply_async(fail_on_5, 5)
        .unwrap()
        .error_callback(move |e| g2.lock().unwrap().push(format!("err {e}")));
    assert_eq!(ok.get().unwrap(), 16);
    assert!(bad.get().is_err());
    assert!(!bad.successful().unwrap());
    let got = got.lock().unwrap();
    assert_eq!(got.len(), 2, "{got:?}");
    assert!(got.contains(&"ok 16".to_string()), "{got:?}");
    assert!(
        got.iter()
            .any(|s| s.starts_with("err ") && s.contains("five is not allowed")),
        "{got:?}"
    );

    // imap: the failed task is an Err in its place, the rest go on.
    let items: Vec<_> = pool.imap(fail_on_5, 3..8).unwrap().collect();
    assert_eq!(items.len(), 5);
    assert!(items[2].is_err());
    assert_eq!(*items[3].as_ref().unwrap(), 6);

    // A callback may use the pool's results again.
    let second = Arc::new(Mutex::new(None));
    let s = Arc::clone(&second);
    let r = pool
        .map_async(square, [1, 2])
        .unwrap()
        .callback(move |v| *s.lock().unwrap() = Some(v.iter().sum::<i64>()));
    r.wait().unwrap();
    assert_eq!(*second.lock().unwrap(), Some(5));
}

fn timeouts() {
    let pool = Pool::new(1).unwrap();
    let r = pool.apply_async(nap_ms, 400).unwrap();
    let started = Instant::now();
    assert!(matches!(
        r.get_timeout(Duration::from_millis(100)),
        Err(Error::Timeout(_))
    ));
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(100) && took < Duration::from_secs(3),
        "{took:?}"
    );
    assert!(!r.ready());
    assert!(r.successful().is_err(), "successful() before ready is an error");
    assert!(!r.wait_timeout(Duration::from_millis(10)).unwrap());
    assert_eq!(r.get_timeout(Duration::from_secs(20)).unwrap(), 400);

    let mut it = pool.imap(nap_ms, [300]).unwrap();
    assert!(matches!(
        it.next_timeout(Duration::from_millis(50)),
        Err(Error::Timeout(_))
    ));
    assert_eq!(it.next_timeout(Duration::from_secs(20)).unwrap(), Some(300));
    assert_eq!(it.next_timeout(Duration::from_secs(20)).unwrap(), None);
}

fn close_join_terminate_rules() {
    assert!(matches!(Pool::new(0), Err(Error::State(_))));
    assert!(Pool::builder().processes(1).maxtasksperchild(0).build().is_err());

    let pool = Pool::new(2).unwrap();
    let err = pool.join().unwrap_err();
    assert!(err.to_string().contains("Pool is still running"), "{err}");
    let pending = pool.map_async(nap_ms, [50, 50, 50]).unwrap();
    pool.close().unwrap();
    let err = pool.map(square, [1]).unwrap_err();
    assert!(err.to_string().contains("Pool not running"), "{err}");
    assert!(pool.apply_async(square, 1).is_err());
    assert!(pool.imap(square, [1]).is_err());
    pool.join().unwrap();
    // Work submitted before close was done before the workers left.
    assert_eq!(pending.get().unwrap(), [50, 50, 50]);
    assert!(active_children().is_empty());
    pool.join().unwrap();

    let pool = Pool::new(2).unwrap();
    let pending = pool.apply_async(nap_ms, 60_000).unwrap();
    let started = Instant::now();
    pool.terminate().unwrap();
    pool.join().unwrap();
    assert!(started.elapsed() < Duration::from_secs(5));
    let err = pending.get().unwrap_err();
    assert!(err.to_string().contains("terminated"), "{err}");
    assert!(pool.map(square, [1]).is_err());
    assert!(active_children().is_empty());

    // Dropping terminates, as leaving `with Pool(...)` does.
    let pool = Pool::new(3).unwrap();
    let r = pool.apply_async(nap_ms, 60_000).unwrap();
    drop(pool);
    assert!(r.get().is_err());
    assert_no_children();
}

fn worker_names_and_count() {
    let pool = Pool::new(4).unwrap();
    assert_eq!(active_children().len(), 4);
    let mut names: Vec<String> = active_children().iter().map(|c| c.name().to_string()).collect();
    names.sort();
    let class = worker_class();
    assert_eq!(names, (1..=4).map(|i| format!("{class}-{i}")).collect::<Vec<_>>());
    for (name, pid) in pool.map_chunked(whoami, 0..40, 1).unwrap() {
        assert!(name.starts_with(&format!("{class}-")), "{name}");
        assert!(pool.pids().contains(&pid));
    }
    drop(pool);
    // The next pool's workers go on counting, as CPython's identities do.
    let _pool = Pool::new(1).unwrap();
    assert_eq!(active_children()[0].name(), format!("{class}-5"));
}

fn maxtasksperchild_replaces_workers() {
    let pool = Pool::builder().processes(2).maxtasksperchild(3).build().unwrap();
    let pids: Vec<i32> = pool.map_chunked(pid_after_ms, vec![2; 30], 1).unwrap();
    let mut distinct = pids.clone();
    distinct.sort_unstable();
    distinct.dedup();
    // 30 one-task chunks, at most 3 per worker: at least 10 workers took part.
    assert!(
        distinct.len() >= 10,
        "{} distinct workers: {distinct:?}",
        distinct.len()
    );
    for pid in &distinct {
        assert!(pids.iter().filter(|p| *p == pid).count() <= 3);
    }
    assert_eq!(pool.processes(), 2);
    common::eventually(Duration::from_secs(5), "the pool is back at 2 workers", || {
        let _ = pool.apply_async(square, 1).unwrap().get();
        pool.pids().len() == 2
    });
    let stats = pool.stats();
    assert!(stats.workers.iter().all(|w| w.chunks <= 3), "{stats:?}");
}

fn init(path: String) {
    // Appends are atomic for a short line, so the workers' lines never mix.
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(path)
        .unwrap();
    std::io::Write::write_all(&mut f, format!("{}\n", std::process::id()).as_bytes()).unwrap();
    #[expect(
        unsafe_code,
        reason = "set_var is unsafe in edition 2024; a worker is single-threaded"
    )]
    // SAFETY: a pool worker's initializer runs in the worker process, which has one thread.
    unsafe {
        std::env::set_var("POOL_TEST_INIT", "hi")
    };
}

fn read_init(_: u32) -> String {
    std::env::var("POOL_TEST_INIT").unwrap_or_default()
}

fn initializer_once_per_worker() {
    let path = std::env::temp_dir().join(format!("pool-test-init-{}", std::process::id()));
    let _ = std::fs::remove_file(&path);
    let pool = Pool::builder()
        .processes(3)
        .initializer(init, path.to_string_lossy().into_owned())
        .build()
        .unwrap();
    let seen = pool.map_chunked(read_init, 0..60, 1).unwrap();
    assert!(seen.iter().all(|s| s == "hi"), "{seen:?}");
    pool.close().unwrap();
    pool.join().unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::remove_file(&path).unwrap();
    let mut pids: Vec<&str> = text.lines().collect();
    assert_eq!(pids.len(), 3, "{text}");
    pids.sort_unstable();
    pids.dedup();
    assert_eq!(pids.len(), 3, "{text}");
}

fn bad_init(_: ()) {
    panic!("cannot initialise");
}

fn failing_initializer_fails_calls() {
    let pool = Pool::builder()
        .processes(2)
        .initializer(bad_init, ())
        .build()
        .unwrap();
    let err = pool.map(square, 0..10).unwrap_err();
    assert!(err.to_string().contains("cannot initialise"), "{err}");
    assert!(matches!(err, Error::InitializerPanicked { .. }), "{err:?}");
    // And every later call, with the same error.
    let err = pool.apply(square, 1).unwrap_err();
    assert!(matches!(err, Error::InitializerPanicked { .. }), "{err:?}");
    drop(pool);
    assert_no_children();
}

fn chunksize_formula() {
    // CPython: chunksize, extra = divmod(len, 4 * processes); if extra: chunksize += 1
    for (len, procs, want) in [
        (0, 4, 0),
        (1, 4, 1),
        (10, 4, 1),
        (16, 4, 1),
        (17, 4, 2),
        (100, 4, 7),
        (1000, 4, 63),
        (100, 1, 25),
        (100_000, 4, 6250),
    ] {
        assert_eq!(default_chunksize(len, procs), want, "len={len} processes={procs}");
    }
    // And map uses it: 100 tasks on 4 workers are 15 chunks of 7 (the last has 2).
    let pool = Pool::new(4).unwrap();
    pool.map(square, 0..100).unwrap();
    let stats = pool.stats();
    assert_eq!((stats.task_messages, stats.result_messages), (15, 15));
}

fn message_counts() {
    let pool = Pool::new(4).unwrap();
    pool.map_chunked(square, 0..100, 25).unwrap();
    let stats = pool.stats();
    assert_eq!((stats.task_messages, stats.result_messages), (4, 4), "{stats:?}");
    assert_eq!(stats.workers.iter().map(|w| w.tasks).sum::<u64>(), 100);
    assert!(stats.task_bytes > 0 && stats.result_bytes > 0);
    let pool = Pool::new(4).unwrap();
    pool.map_chunked(square, 0..100, 1).unwrap();
    let stats = pool.stats();
    assert_eq!(
        (stats.task_messages, stats.result_messages),
        (100, 100),
        "{stats:?}"
    );
}

fn killed_worker_fails_task_and_pool_goes_on() {
    let pool = Pool::new(2).unwrap();
    let result = pool.map_async_chunked(nap_ms, vec![400; 6], 1).unwrap();
    // Let the workers take their first tasks (waiting is what moves the pool), then kill one
    // mid-task.
    assert!(!result.wait_timeout(Duration::from_millis(150)).unwrap());
    let victim = pool.pids()[0];
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(victim),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    let started = Instant::now();
    let err = result.get_timeout(Duration::from_secs(10)).unwrap_err();
    // As CPython's map, it returns once every task has run (the killed one failed, the other
    // five ran): about 1.2 s for six tasks of 400 ms on two workers, never a hang.
    let took = started.elapsed();
    assert!(took < Duration::from_secs(5), "returned after {took:?}");
    assert_eq!(tasks_run(&pool), 5, "{:?}", pool.stats());
    let text = err.to_string();
    let Error::WorkerLost(ref lost) = err else {
        panic!("{err:?}")
    };
    assert_eq!(
        (lost.pid, lost.signal, lost.exit_code, lost.tasks),
        (victim, Some(9), None, 1),
        "{err:?}"
    );
    assert!(lost.fault.is_none(), "{err:?}");
    assert!(
        text.contains("was killed by SIGKILL while running task"),
        "{text}"
    );
    assert!(
        text.contains(&format!("Pool(2): worker {}-", worker_class())),
        "{text}"
    );
    // Replaced, and working.
    assert_eq!(pool.map(square, 0..10).unwrap()[9], 81);
    let pids = pool.pids();
    assert_eq!(pids.len(), 2);
    assert!(!pids.contains(&victim));
    assert_eq!(active_children().len(), 2);

    // An imap loses only the killed task. The workers have asked by now, so submitting hands
    // them work at once and sleeping is enough.
    pool.map(square, 0..10).unwrap();
    let mut it = pool.imap(nap_ms, vec![300; 4]).unwrap();
    std::thread::sleep(Duration::from_millis(100));
    let victim = pool.pids()[1];
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(victim),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    let mut errors = 0;
    let mut oks = 0;
    for item in &mut it {
        match item {
            Ok(_) => oks += 1,
            Err(e) => {
                assert!(e.to_string().contains("SIGKILL"), "{e}");
                errors += 1;
            }
        }
    }
    assert_eq!((oks, errors), (3, 1));
    drop(pool);
    assert_no_children();
}

fn one_worker_may_take_every_task() {
    // The pool pulls: a worker asks before it gets work. With one worker asking, it takes all.
    let pool = Pool::new(1).unwrap();
    let pids = pool.map_chunked(pid_after_ms, vec![0; 10], 1).unwrap();
    assert!(pids.iter().all(|p| *p == pids[0]));
    // With slow tasks, every worker asks and takes part.
    let pool = Pool::new(4).unwrap();
    let mut pids = pool.map_chunked(pid_after_ms, vec![50; 16], 1).unwrap();
    pids.sort_unstable();
    pids.dedup();
    assert_eq!(pids.len(), 4);
}

fn short_tasks_do_not_wait_behind_a_long_one() {
    let pool = Pool::new(2).unwrap();
    // Warm up, so both workers have a history of quick chunks.
    pool.map_chunked(square, 0..100, 1).unwrap();
    let started = Instant::now();
    let mut it = pool.imap_unordered(nap_ms, [1000, 1, 1, 1, 1, 1]).unwrap();
    for _ in 0..5 {
        assert_eq!(it.next_timeout(Duration::from_secs(10)).unwrap(), Some(1));
    }
    // The five short tasks ran on the idle worker; none was queued behind the long one.
    let took = started.elapsed();
    assert!(took < Duration::from_millis(700), "the short tasks took {took:?}");
    assert_eq!(it.next_timeout(Duration::from_secs(10)).unwrap(), Some(1000));
}

fn short_job_gets_one_chunk_per_worker() {
    // 4 chunks of 25 on 4 fresh workers: none may take a second chunk ahead of time while a
    // sibling has not asked yet, or one worker would run half the work and another none.
    let pool = Pool::new(4).unwrap();
    // Each chunk sleeps 250 ms, far longer than a worker takes to start and ask, even on a
    // loaded machine; with tiny tasks a fast worker may rightly take two chunks (example 7).
    pool.map_chunked(nap_ms, vec![10; 100], 25).unwrap();
    let stats = pool.stats();
    let mut tasks: Vec<u64> = stats.workers.iter().map(|w| w.tasks).collect();
    tasks.sort_unstable();
    assert_eq!(tasks, [25, 25, 25, 25], "{stats:?}");
}

/// A value whose encoding always fails, as a `Serialize` impl may.
#[derive(Debug, serde::Deserialize)]
struct Unencodable;

impl serde::Serialize for Unencodable {
    fn serialize<S: serde::Serializer>(&self, _: S) -> Result<S::Ok, S::Error> {
        Err(serde::ser::Error::custom("this value refuses to be encoded"))
    }
}

fn take_unencodable(_: Unencodable) -> i64 {
    1
}

fn make_unencodable(_: i64) -> Unencodable {
    Unencodable
}

fn unencodable_arguments_and_results() {
    let pool = Pool::new(2).unwrap();
    // Arguments: the call fails, naming the type, and nothing reaches a worker.
    let err = pool
        .map(take_unencodable, [Unencodable, Unencodable])
        .unwrap_err();
    assert!(matches!(err, Error::Codec(_)), "{err:?}");
    assert!(err.to_string().contains("cannot encode"), "{err}");
    assert!(err.to_string().contains("Unencodable"), "{err}");
    assert_eq!(pool.stats().task_messages, 0);
    // Results: the worker reports it, the task fails, the worker lives on.
    let pids = pool.pids();
    let err = pool.apply(make_unencodable, 1).unwrap_err();
    assert!(
        matches!(&err, Error::TaskFailed(f) if (f.task, f.tasks) == (0, 1)),
        "{err:?}"
    );
    assert!(
        err.to_string().contains("cannot encode") && err.to_string().contains("Unencodable"),
        "{err}"
    );
    assert_eq!(pool.map(square, [2, 3]).unwrap(), [4, 9]);
    assert_eq!(pool.pids(), pids);
}

fn imap_ends_when_the_pool_is_dropped() {
    let pool = Pool::new(2).unwrap();
    let mut it = pool.imap(nap_ms, vec![200; 10]).unwrap();
    assert_eq!(it.next().unwrap().unwrap(), 200);
    drop(pool);
    let rest: Vec<_> = it.collect();
    assert!(
        rest.last()
            .is_some_and(|r| r.as_ref().is_err_and(|e| e.to_string().contains("terminated"))),
        "{rest:?}"
    );
    assert!(rest.len() < 10);
    assert_no_children();
}

fn large_arguments_and_results() {
    fn reverse(v: Vec<u8>) -> Vec<u8> {
        v.into_iter().rev().collect()
    }
    let pool = Pool::new(2).unwrap();
    // Chunks far larger than a socket buffer, both ways, with several in flight.
    let inputs: Vec<Vec<u8>> = (0..8).map(|i| vec![i as u8; 1 << 20]).collect();
    let out = pool.map_chunked(reverse, inputs.clone(), 1).unwrap();
    assert_eq!(out, inputs);
}

fn zeros(n: usize) -> Vec<u8> {
    vec![0; n]
}

fn length(v: Vec<u8>) -> usize {
    v.len()
}

/// Issue 14 item 1: a result larger than the connection's limit was refused by the parent's
/// reader and taken for a hang-up, so `map` waited for ever. Now the worker reports it, exactly
/// that task fails with its size and the limit, and the worker goes on.
fn a_result_over_the_limit_fails_its_task() {
    assert!(Pool::builder().processes(1).max_message_size(10).build().is_err());
    let pool = Pool::builder()
        .processes(2)
        .max_message_size(4096)
        .build()
        .unwrap();
    let pids = pool.pids();
    let started = Instant::now();
    let err = pool.map_chunked(zeros, [10, 100_000, 10, 10], 1).unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(10));
    let text = err.to_string();
    assert!(
        matches!(&err, Error::TooLarge(t) if (t.size, t.limit) == (100_017, 4096)),
        "{err:?}"
    );
    assert!(text.contains("task 1 are 100017 bytes"), "{text}");
    assert!(text.contains("more than the limit of 4096 bytes"), "{text}");
    // `get_timeout` returns the error, not a timeout.
    let r = pool.apply_async(zeros, 5000).unwrap();
    let err = r.get_timeout(Duration::from_secs(10)).unwrap_err();
    assert!(err.to_string().contains("more than the limit"), "{err:?}");
    // In an imap, the task over the limit is an error in its place; the others arrive.
    let items: Vec<_> = pool.imap(zeros, [1, 9000, 2]).unwrap().collect();
    assert_eq!(items.len(), 3, "{items:?}");
    assert_eq!(items[0].as_ref().unwrap().len(), 1);
    assert!(items[1].is_err());
    assert_eq!(items[2].as_ref().unwrap().len(), 2);
    // Arguments over the limit fail at the parent, and are never sent.
    let sent = pool.stats().task_messages;
    let err = pool.apply(length, vec![7; 10_000]).unwrap_err();
    assert!(err.to_string().contains("the arguments of task 0 are"), "{err}");
    assert_eq!(pool.stats().task_messages, sent);
    // The workers went on: the same two, still working.
    assert_eq!(pool.map(length, [vec![1; 100], vec![]]).unwrap(), [100, 0]);
    assert_eq!(pool.pids(), pids);
    // A long panic message is cut to fit the limit instead of being refused.
    let err = pool.apply(long_panic, 10_000).unwrap_err();
    assert!(err.to_string().contains("xxxx"), "{err}");
    assert_eq!(pool.pids(), pids);
}

fn long_panic(n: usize) {
    panic!("{}", "x".repeat(n));
}

fn fail_on_0(x: i64) -> i64 {
    assert!(x != 0, "zero is not allowed");
    x
}

fn tasks_run(pool: &Pool) -> u64 {
    pool.stats().workers.iter().map(|w| w.tasks).sum()
}

/// Issue 15 item 3, after CPython's `MapResult._set` ("only consider the result ready once all
/// jobs are done", keeping the first exception): 20 tasks on `Pool(1)` whose first fails ran
/// one task and dropped the rest without a word. Now every task runs and the first error is
/// returned; fail-fast is explicit and says how many tasks did not run.
fn mapresult_runs_every_task_then_returns_the_first_error() {
    let pool = Pool::new(1).unwrap();
    let err = pool.map_chunked(fail_on_0, 0..20, 1).unwrap_err();
    assert!(err.to_string().contains("zero is not allowed"), "{err}");
    assert!(err.to_string().contains("task 0 "), "{err}");
    assert_eq!(tasks_run(&pool), 20);
    // The same with the default chunksize, and with starmap.
    assert!(pool.map(fail_on_0, 0..20).is_err());
    assert_eq!(tasks_run(&pool), 40);
    assert!(pool.starmap(add, [(1, 2), (3, 4)]).is_ok());
    // Two failures, one worker: the first to come back is the one reported.
    let err = pool.map_chunked(fail_on_5, [5, 1, 5, 2], 1).unwrap_err();
    assert!(err.to_string().contains("task 0 "), "{err}");
    let before = tasks_run(&pool);

    // Fail-fast: the call stops at the first failure and counts the tasks that did not run.
    let err = pool
        .map_async_chunked(fail_on_0, 0..20, 1)
        .unwrap()
        .fail_fast()
        .get()
        .unwrap_err();
    let ran = (tasks_run(&pool) - before) as usize;
    let Error::FailedFast {
        first,
        not_run,
        tasks,
    } = &err
    else {
        panic!("{err:?}")
    };
    assert!(first.to_string().contains("zero is not allowed"), "{err}");
    assert_eq!(*tasks, 20);
    assert_eq!(ran + not_run, 20, "{err}");
    // The failure may come back while the call is being submitted, before `fail_fast`: the
    // one worker then holds at most two more chunks (PREFETCH), which run.
    assert!(*not_run >= 17, "{err}");
    assert!(
        err.to_string()
            .contains(&format!("{not_run} of 20 tasks were not run")),
        "{err}"
    );
    // Fail-fast with no failure returns every result.
    let r = pool.map_async_chunked(square, 0..20, 1).unwrap().fail_fast();
    assert_eq!(r.get().unwrap().len(), 20);
    // The pool goes on.
    assert_eq!(pool.map(square, [4]).unwrap(), [16]);
}

#[expect(clippy::ptr_arg, reason = "map_with lends the context as it was given: &Vec")]
fn nth_of(table: &Vec<u64>, i: usize) -> u64 {
    table[i]
}

fn scaled(factor: &i64, x: i64) -> i64 {
    if x == 13 {
        panic!("thirteen");
    }
    factor * x
}

/// Issue 17 item 1: a task with context. `map_with(context, f, items)` sends the context once
/// to each worker (not once per item), and each task borrows it.
fn map_with_sends_the_context_once_per_worker() {
    let table: Vec<u64> = (0..10_000).map(|i| i * 3).collect();
    let table_bytes = multiprocessing::codec::encode(&table).unwrap().len() as u64;
    let pool = Pool::new(2).unwrap();
    let before = pool.stats().task_bytes;
    let got = pool.map_with_chunked(table.clone(), nth_of, 0..200, 1).unwrap();
    assert_eq!(got, (0..200).map(|i| i * 3).collect::<Vec<u64>>());
    let sent = pool.stats().task_bytes - before;
    // Two workers, one context each, and 200 small chunks: far less than a copy per item.
    assert!(
        sent < 2 * table_bytes + 200 * 64,
        "{sent} bytes for a {table_bytes}-byte context"
    );
    assert!(sent > table_bytes, "{sent}");

    // Calls with other contexts in between: each task sees its own call's context.
    let a = pool.map_async_with(2, scaled, 0..10).unwrap();
    let b = pool.map_async_with(-1, scaled, 0..10).unwrap();
    assert_eq!(b.get().unwrap(), (0..10).map(|x| -x).collect::<Vec<_>>());
    assert_eq!(a.get().unwrap(), (0..10).map(|x| 2 * x).collect::<Vec<_>>());
    let got: Vec<i64> = pool
        .imap_with(5, scaled, 0..13)
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(got, (0..13).map(|x| 5 * x).collect::<Vec<_>>());
    let mut got: Vec<i64> = pool
        .imap_unordered_with(7, scaled, 0..13)
        .unwrap()
        .map(Result::unwrap)
        .collect();
    got.sort_unstable();
    assert_eq!(got, (0..13).map(|x| 7 * x).collect::<Vec<_>>());
    // A panic with context is a task's error like any other; the next call still works.
    let items: Vec<_> = pool.imap_with(1, scaled, 12..15).unwrap().collect();
    assert!(
        items[1]
            .as_ref()
            .is_err_and(|e| e.to_string().contains("thirteen")),
        "{items:?}"
    );
    assert_eq!(*items[2].as_ref().unwrap(), 14);
    assert_eq!(pool.map_with(3, scaled, [1, 2]).unwrap(), [3, 6]);

    // New workers (maxtasksperchild) get the context too.
    let pool = Pool::builder().processes(2).maxtasksperchild(2).build().unwrap();
    assert_eq!(
        pool.map_with_chunked(10, scaled, 0..12, 1).unwrap(),
        (0..12).map(|x| 10 * x).collect::<Vec<_>>()
    );
    // A context over the message limit is refused at once, naming its size.
    let pool = Pool::builder()
        .processes(1)
        .max_message_size(4096)
        .build()
        .unwrap();
    let err = pool
        .map_with(vec![0u8; 10_000], |v: &Vec<u8>, i: usize| v[i], [0])
        .unwrap_err();
    assert!(err.to_string().contains("the context of the call is"), "{err}");
    assert_eq!(
        pool.map_with(vec![1u8; 100], |v: &Vec<u8>, i: usize| v[i], [0])
            .unwrap(),
        [1]
    );
}

fn pool_in_a_daemon(conn: multiprocessing::Connection) {
    let err = Pool::new(1).unwrap_err();
    let me = current_process().name().to_string();
    conn.send(&(me, err.to_string())).unwrap();
}

/// Issue 17 item 5, after CPython's "daemonic processes are not allowed to have children": a
/// pool started inside a daemon is refused, and the error names the daemon, not the worker it
/// would have started.
fn daemonic_processes_are_not_allowed_to_have_children() {
    let (reader, writer) = multiprocessing::Pipe(false).unwrap();
    let daemon = common::start(multiprocessing::Process::new(pool_in_a_daemon, writer).with_daemon(true));
    let (name, err): (String, String) = reader.recv().unwrap();
    assert_eq!(common::join(&daemon), 0);
    assert!(err.contains(&format!("in {name}:")), "{name}: {err}");
    assert!(
        err.contains("daemonic processes are not allowed to have children"),
        "{err}"
    );
    assert!(!err.contains("PoolWorker"), "{err}");
}

/// The helper program of `a_spawn_pool_without_freeze_support_fails_once`: a program that
/// forgets `freeze_support()` and uses a spawn pool. Each worker runs this `main` again.
fn forgetful_pool_main() -> std::process::ExitCode {
    multiprocessing::set_start_method("spawn", false).unwrap();
    match Pool::new(2).and_then(|pool| pool.map(square, 0..4)) {
        Ok(results) => {
            println!("results: {results:?}");
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("pool failed: {e}");
            std::process::ExitCode::from(2)
        }
    }
}

/// Issue 17 item 2: a spawn pool whose program forgets `freeze_support()` printed thousands
/// of errors and never returned: each worker ran `main` again, failed, and was replaced. Now
/// the pool gives up on workers that end before they are ready, and the program gets one
/// clear error (from `Pool::new` once `Process::start` reports the child's failure itself, or
/// from the first call).
fn a_spawn_pool_without_freeze_support_fails_once() {
    let mut child = std::process::Command::new(std::env::current_exe().unwrap())
        .env(FORGETFUL_VAR, "1")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > Duration::from_secs(30) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the forgetful program did not end within 30 s");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(status.code(), Some(2), "{stdout}{stderr}");
    assert!(stdout.is_empty(), "{stdout}");
    let failures = stderr.matches("pool failed").count();
    // The program's own error, and one per worker that ran `main` again: a handful, never a
    // loop.
    assert!((1..=6).contains(&failures), "{failures} failures: {stderr}");
    let last = stderr
        .lines()
        .rfind(|l| l.contains("pool failed"))
        .unwrap_or_default();
    assert!(last.contains("freeze_support()"), "{stderr}");
}

/// The environment variable that makes this binary the forgetful program.
const FORGETFUL_VAR: &str = "MP_POOL_TEST_FORGETFUL";

/// Issue 17 item 5, after CPython's `ApplyResult.get()`, which returns the same value each
/// time: a second `get` failed at run time here. It returns the value (or the error) again;
/// `into_value` moves it out for a type that is not `Clone`.
fn applyresult_get_returns_the_value_again() {
    let pool = Pool::new(1).unwrap();
    let r = pool.apply_async(square, 11).unwrap();
    assert_eq!(r.get().unwrap(), 121);
    assert_eq!(r.get().unwrap(), 121);
    assert_eq!(r.get_timeout(Duration::from_secs(10)).unwrap(), 121);
    assert!(r.successful().unwrap());
    let bad = pool.apply_async(fail_on_5, 5).unwrap();
    let first = bad.get().unwrap_err();
    let again = bad.get().unwrap_err();
    assert_eq!(first.to_string(), again.to_string());
    assert!(
        matches!(again, Error::TaskPanicked(ref p) if p.task == 0),
        "{again:?}"
    );
    let failed_fast = pool
        .map_async_chunked(fail_on_5, [5, 1, 2], 1)
        .unwrap()
        .fail_fast();
    let first = failed_fast.get().unwrap_err();
    assert_eq!(first.to_string(), failed_fast.get().unwrap_err().to_string());
    assert_eq!(
        pool.map_async(square, [1, 2]).unwrap().into_value().unwrap(),
        [1, 4]
    );
    // A callback that runs while the result is read elsewhere sees the value, and the value
    // is still there afterwards.
    let seen = Arc::new(Mutex::new(0));
    let s = Arc::clone(&seen);
    let r = pool
        .apply_async(square, 3)
        .unwrap()
        .callback(move |v| *s.lock().unwrap() = *v);
    assert_eq!(r.get().unwrap(), 9);
    assert_eq!(*seen.lock().unwrap(), 9);
    assert_eq!(r.get().unwrap(), 9);
}

/// Issue 17 item 5: a `Pool` (and its results) can be moved to another thread: no `Rc`
/// inside. The assertions below are checked by the compiler.
fn a_pool_moves_to_another_thread() {
    fn send<T: Send>() {}
    send::<Pool>();
    send::<multiprocessing::AsyncResult<Vec<i64>>>();
    send::<multiprocessing::IMapIterator<i64>>();
    let pool = Pool::new(2).unwrap();
    let pending = pool.map_async(square, 0..10).unwrap();
    let thread = std::thread::spawn(move || {
        let got = pool.map(square, 0..100).unwrap();
        (pool, got)
    });
    let (pool, got) = thread.join().unwrap();
    assert_eq!(got[99], 9801);
    // A result waited for in one thread while the pool is used in another.
    let waiter = std::thread::spawn(move || pending.get().unwrap());
    assert_eq!(pool.apply(square, 7).unwrap(), 49);
    assert_eq!(waiter.join().unwrap()[9], 81);
    drop(pool);
    assert_no_children();
}

/// What a program's own SIGTERM handler does here: nothing, so the signal does not kill.
extern "C" fn ignore_sigterm(_: std::ffi::c_int) {}

/// The parent of the pool in `workers_leave_when_their_parent_is_killed`: a program that installs
/// a SIGTERM handler (as signal-hook's users do), starts a pool, and waits to be killed.
fn pool_parent(pids: multiprocessing::Connection) {
    use nix::sys::signal::{SaFlags, SigAction, SigHandler, SigSet, Signal, sigaction};
    let action = SigAction::new(
        SigHandler::Handler(ignore_sigterm),
        SaFlags::SA_RESTART,
        SigSet::empty(),
    );
    #[expect(unsafe_code, reason = "installing a signal handler is unsafe in nix")]
    // SAFETY: the handler does nothing, which is async-signal-safe.
    unsafe { sigaction(Signal::SIGTERM, &action) }.unwrap();
    let pool = Pool::new(3).unwrap();
    // Every worker has started and asked for work: they wait in `recv` for the next chunk.
    pool.map_chunked(pid_after_ms, [30; 6], 1).unwrap();
    pids.send(&pool.pids()).unwrap();
    std::thread::sleep(Duration::from_secs(60));
}

/// Issue 14 item 2: idle workers of a parent killed by SIGKILL lived on when the program had a
/// SIGTERM handler (the parent-death signal was caught, and each forked worker held copies of
/// the parent's ends of the sockets, so none saw end of file). A worker closes what is not its
/// own, sees end of file when its parent is gone, and leaves. (CPython's
/// `test_pool_worker_lifetime_early_close` family checks workers end with their pool.)
fn workers_leave_when_their_parent_is_killed() {
    use nix::sys::wait::{WaitPidFlag, waitpid};
    use nix::unistd::Pid;
    // Orphans become our children, so we can see them end and reap them.
    nix::sys::prctl::set_child_subreaper(true).unwrap();
    let (reader, writer) = multiprocessing::Pipe(false).unwrap();
    let parent = common::spawn(pool_parent, writer);
    assert!(
        reader.poll(Some(Duration::from_secs(30))).unwrap(),
        "no pids from the pool's parent"
    );
    let pids: Vec<i32> = reader.recv().unwrap();
    assert_eq!(pids.len(), 3);
    // Under forkserver the pool's parent is a child of our fork server, which stays.
    let ours = std::process::id() as i32;
    let keep: Vec<i32> = stat(parent.pid().unwrap())
        .map(|(_, ppid)| ppid)
        .filter(|&ppid| ppid != ours)
        .into_iter()
        .collect();
    parent.kill().unwrap();
    assert_eq!(common::join(&parent), -9);
    let started = Instant::now();
    let ended = |pid: i32| stat(pid).is_none_or(|(state, _)| state == 'Z');
    loop {
        // Reap what the dead parent left us (its workers, under forkserver its fork server).
        for child in children_of(ours).into_iter().filter(|c| !keep.contains(c)) {
            let _ = waitpid(Pid::from_raw(child), Some(WaitPidFlag::WNOHANG));
        }
        let alive: Vec<i32> = pids.iter().copied().filter(|&pid| !ended(pid)).collect();
        let orphans: Vec<i32> = children_of(ours)
            .into_iter()
            .filter(|c| !keep.contains(c))
            .collect();
        if alive.is_empty() && orphans.is_empty() {
            break;
        }
        if started.elapsed() > Duration::from_secs(10) {
            for pid in alive.iter().chain(&orphans) {
                let _ = nix::sys::signal::kill(Pid::from_raw(*pid), nix::sys::signal::Signal::SIGKILL);
            }
            panic!("workers {alive:?} of {pids:?} (and children {orphans:?}) still alive after 10 s");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// The state letter and parent of process `pid`, from `/proc/<pid>/stat`; `None` once it is
/// gone.
fn stat(pid: i32) -> Option<(char, i32)> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces and parentheses: the fields follow the last ')'.
    let mut fields = text[text.rfind(')')? + 1..].split_whitespace();
    let state = fields.next()?.chars().next()?;
    let ppid = fields.next()?.parse().ok()?;
    Some((state, ppid))
}

/// The processes whose parent is `pid`.
fn children_of(pid: i32) -> Vec<i32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter(|&child| stat(child).is_some_and(|(_, ppid)| ppid == pid))
        .collect()
}

fn main() -> std::process::ExitCode {
    if std::env::var_os(FORGETFUL_VAR).is_some() {
        return forgetful_pool_main();
    }
    const TESTS: &[Test] = &[
        case!(map_results_in_order),
        case!(starmap_apply_and_async),
        case!(empty_input),
        case!(imap_ordered_lazy_and_unordered),
        case!(errors_and_callbacks),
        case!(timeouts),
        case!(close_join_terminate_rules),
        case!(worker_names_and_count),
        case!(maxtasksperchild_replaces_workers),
        case!(initializer_once_per_worker),
        case!(failing_initializer_fails_calls),
        case!(chunksize_formula),
        case!(message_counts),
        case!(killed_worker_fails_task_and_pool_goes_on),
        case!(one_worker_may_take_every_task),
        case!(short_job_gets_one_chunk_per_worker),
        case!(unencodable_arguments_and_results),
        case!(imap_ends_when_the_pool_is_dropped),
        case!(short_tasks_do_not_wait_behind_a_long_one),
        case!(large_arguments_and_results),
        case!(a_result_over_the_limit_fails_its_task),
        case!(workers_leave_when_their_parent_is_killed),
        case!(mapresult_runs_every_task_then_returns_the_first_error),
        case!(map_with_sends_the_context_once_per_worker),
        case!(daemonic_processes_are_not_allowed_to_have_children),
        case!(a_spawn_pool_without_freeze_support_fails_once),
        case!(applyresult_get_returns_the_value_again),
        case!(a_pool_moves_to_another_thread),
    ];
    common::run(TESTS)
}

//! Pool semantics, checked against CPython's (`Lib/test/_test_multiprocessing.py`'s pool
//! tests) and against what we promise beyond it (a killed worker never hangs the caller).

mod common;

use std::cell::RefCell;
use std::rc::Rc;
use std::time::{Duration, Instant};

use common::{assert_no_children, nap_ms, test, Test};
use multiprocessing::{active_children, current_process, default_chunksize, Error, Pool};

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
    assert!(matches!(r.get(), Err(Error::State(_))), "a value is taken once");
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
    assert!(matches!(err, Error::Remote(_)), "{err:?}");
    assert!(text.contains("five is not allowed"), "{text}");
    assert!(
        text.contains("task 5") && text.contains(&format!("{}-", worker_class())),
        "{text}"
    );
    // The pool goes on.
    assert_eq!(pool.map(square, [3]).unwrap(), [9]);

    let got = Rc::new(RefCell::new(Vec::new()));
    let (g1, g2) = (Rc::clone(&got), Rc::clone(&got));
    let ok = pool
        .apply_async(square, 4)
        .unwrap()
        .callback(move |v| g1.borrow_mut().push(format!("ok {v}")));
    let bad = pool
        .apply_async(fail_on_5, 5)
        .unwrap()
        .error_callback(move |e| g2.borrow_mut().push(format!("err {e}")));
    assert_eq!(ok.get().unwrap(), 16);
    assert!(bad.get().is_err());
    assert!(!bad.successful().unwrap());
    let got = got.borrow();
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
    let second = Rc::new(RefCell::new(None));
    let s = Rc::clone(&second);
    let r = pool
        .map_async(square, [1, 2])
        .unwrap()
        .callback(move |v| *s.borrow_mut() = Some(v.iter().sum::<i64>()));
    r.wait().unwrap();
    assert_eq!(*second.borrow(), Some(5));
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
    std::env::set_var("POOL_TEST_INIT", "hi");
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
    let took = started.elapsed();
    assert!(took < Duration::from_secs(1), "returned after {took:?}");
    let text = err.to_string();
    assert!(matches!(err, Error::Remote(_)), "{err:?}");
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
    assert!(matches!(err, Error::Remote(_)), "{err:?}");
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

fn main() -> std::process::ExitCode {
    const TESTS: &[Test] = &[
        test("map_results_in_order", map_results_in_order),
        test("starmap_apply_and_async", starmap_apply_and_async),
        test("empty_input", empty_input),
        test("imap_ordered_lazy_and_unordered", imap_ordered_lazy_and_unordered),
        test("errors_and_callbacks", errors_and_callbacks),
        test("timeouts", timeouts),
        test("close_join_terminate_rules", close_join_terminate_rules),
        test("worker_names_and_count", worker_names_and_count),
        test(
            "maxtasksperchild_replaces_workers",
            maxtasksperchild_replaces_workers,
        ),
        test("initializer_once_per_worker", initializer_once_per_worker),
        test("failing_initializer_fails_calls", failing_initializer_fails_calls),
        test("chunksize_formula", chunksize_formula),
        test("message_counts", message_counts),
        test(
            "killed_worker_fails_task_and_pool_goes_on",
            killed_worker_fails_task_and_pool_goes_on,
        ),
        test("one_worker_may_take_every_task", one_worker_may_take_every_task),
        test(
            "short_job_gets_one_chunk_per_worker",
            short_job_gets_one_chunk_per_worker,
        ),
        test(
            "unencodable_arguments_and_results",
            unencodable_arguments_and_results,
        ),
        test(
            "imap_ends_when_the_pool_is_dropped",
            imap_ends_when_the_pool_is_dropped,
        ),
        test(
            "short_tasks_do_not_wait_behind_a_long_one",
            short_tasks_do_not_wait_behind_a_long_one,
        ),
        test("large_arguments_and_results", large_arguments_and_results),
    ];
    common::run(TESTS)
}

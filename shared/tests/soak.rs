//! Load and soak: a million queue messages between four producers and four consumers, and ten
//! thousand pool tasks of which some panic, with every message and every result accounted for.
//!
//! Both run in the normal (debug) suite: the million messages take about ten seconds there.

#[macro_use]
mod common;

use std::time::{Duration, Instant};

use multiprocessing::{Connection, Error, Pipe, Pool, Process, Queue, active_children};

const PRODUCERS: u32 = 4;
const CONSUMERS: u32 = 4;

/// Messages in all.
fn total_messages() -> u32 {
    1_000_000
}

/// A message: which producer, and its sequence number there.
type Message = Option<(u32, u32)>;

fn producer((q, me, count): (Queue<Message>, u32, u32)) {
    for seq in 0..count {
        q.put(Some((me, seq))).unwrap();
    }
}

/// Takes messages until the `None` that ends its share, checks that each producer's messages
/// come in the order they were put, and sends back every (producer, seq) it took.
fn consumer((q, report): (Queue<Message>, Connection)) {
    let mut got: Vec<(u32, u32)> = Vec::new();
    let mut last = vec![None::<u32>; PRODUCERS as usize];
    while let Some((p, seq)) = q.get_timeout(Duration::from_secs(60)).unwrap() {
        let prev = &mut last[p as usize];
        assert!(prev.is_none_or(|l| l < seq), "producer {p}: {seq} after {prev:?}");
        *prev = Some(seq);
        got.push((p, seq));
    }
    report.send(&got).unwrap();
}

fn queue_million_messages() {
    let total = total_messages();
    let per_producer = total / PRODUCERS;
    // A small ring (64 KiB), so producers often wait for room and consumers for data.
    let q: Queue<Message> = Queue::with_capacity(0, 64 * 1024).unwrap();
    let started = Instant::now();
    let mut consumers = Vec::new();
    let mut reports = Vec::new();
    for _ in 0..CONSUMERS {
        let (ours, theirs) = Pipe(false).unwrap();
        let mut p = Process::new(consumer, (q.clone(), theirs));
        p.start().unwrap();
        consumers.push(p);
        reports.push(ours);
    }
    let producers: Vec<Process> = (0..PRODUCERS)
        .map(|me| {
            let mut p = Process::new(producer, (q.clone(), me, per_producer));
            p.start().unwrap();
            p
        })
        .collect();
    for p in &producers {
        assert!(p.join_timeout(Duration::from_secs(600)).unwrap(), "{p:?} hung");
        assert_eq!(p.exitcode(), Some(0), "{p:?}");
    }
    // One end marker per consumer, after every message.
    for _ in 0..CONSUMERS {
        q.put(None).unwrap();
    }
    let mut seen = vec![0u8; total as usize];
    let mut per_consumer = Vec::new();
    for (report, p) in reports.iter().zip(&consumers) {
        assert!(
            report.poll(Some(Duration::from_secs(600))).unwrap(),
            "{p:?} sent no report"
        );
        let got: Vec<(u32, u32)> = report.recv().unwrap();
        per_consumer.push(got.len());
        for (producer, seq) in got {
            seen[(producer * per_producer + seq) as usize] += 1;
        }
        assert!(p.join_timeout(Duration::from_secs(60)).unwrap(), "{p:?} hung");
        assert_eq!(p.exitcode(), Some(0), "{p:?}");
    }
    let took = started.elapsed();
    let lost = seen.iter().filter(|&&n| n == 0).count();
    let doubled = seen.iter().filter(|&&n| n > 1).count();
    assert_eq!((lost, doubled), (0, 0), "messages lost, messages delivered twice");
    assert!(q.empty() && q.qsize() == 0);
    println!(
        "{total} messages, {PRODUCERS} producers, {CONSUMERS} consumers, 64 KiB ring: none lost, \
         none twice, each producer's in order; {took:.2?} ({:.0} messages/s); per consumer \
         {per_consumer:?}",
        f64::from(total) / took.as_secs_f64()
    );
}

fn sometimes_panics(x: u64) -> u64 {
    if x % 97 == 13 {
        panic!("task {x} refuses");
    }
    x * 3
}

/// Ten thousand tasks, one in 97 panicking: through `imap` (one result per task), `map` in
/// chunks (a panic fails its whole call, naming the task) and `apply_async`; every result and
/// every failure accounted for, and the pool still whole.
fn pool_ten_thousand_tasks() {
    const TASKS: u64 = 10_000;
    let pool = Pool::new(4).unwrap();
    let started = Instant::now();
    let (mut ok, mut failed) = (0, 0);
    for (i, result) in pool
        .imap_chunked(sometimes_panics, 0..TASKS, 1)
        .unwrap()
        .enumerate()
    {
        let i = i as u64;
        match result {
            Ok(v) => {
                assert_eq!(v, i * 3);
                ok += 1;
            }
            Err(e) => {
                assert_eq!(i % 97, 13, "task {i} failed: {e}");
                assert!(
                    matches!(&e, Error::TaskPanicked(p) if p.task as u64 == i),
                    "{e:?}"
                );
                assert!(e.to_string().contains(&format!("task {i} refuses")), "{e}");
                failed += 1;
            }
        }
    }
    let expected_failures = (0..TASKS).filter(|x| x % 97 == 13).count();
    assert_eq!((ok + failed, failed), (TASKS as usize, expected_failures));

    // In chunks of 100: every chunk that holds a panicking task fails its call, and the error
    // names the task.
    let mut chunk_errors = 0;
    for start in (0..TASKS).step_by(1000) {
        match pool.map_chunked(sometimes_panics, start..start + 1000, 100) {
            Ok(v) => assert!(v.iter().zip(start..).all(|(&r, x)| r == x * 3)),
            Err(e) => {
                assert!(e.to_string().contains("refuses"), "{e}");
                chunk_errors += 1;
            }
        }
    }
    assert_eq!(chunk_errors, 10, "every block of 1,000 holds a panicking task");

    // apply_async, all submitted before any is collected.
    let pending: Vec<_> = (0..1000)
        .map(|x| (x, pool.apply_async(sometimes_panics, x).unwrap()))
        .collect();
    for (x, r) in pending {
        match r.get_timeout(Duration::from_secs(60)) {
            Ok(v) => assert_eq!(v, x * 3),
            Err(e) => assert!(x % 97 == 13 && e.to_string().contains("refuses"), "{x}: {e}"),
        }
    }
    let took = started.elapsed();
    assert_eq!(pool.pids().len(), 4);
    println!(
        "{TASKS} imap tasks ({failed} panicked, each reported with its task), {TASKS} more in \
         chunks of 100 ({chunk_errors} calls failed naming the task), 1000 apply_async: all \
         accounted for in {took:.2?}"
    );
    drop(pool);
    common::eventually(Duration::from_secs(10), "no child processes", || {
        active_children().is_empty()
    });
}

/// This process's open descriptors and its memfd mappings (shared memory segments).
fn descriptors_and_segments() -> (usize, usize) {
    let fds = std::fs::read_dir("/proc/self/fd").unwrap().count();
    let maps = std::fs::read_to_string("/proc/self/maps").unwrap();
    let segments = maps.lines().filter(|l| l.contains("/memfd:")).count();
    (fds, segments)
}

fn double(x: u64) -> u64 {
    x * 2
}

fn touch((lock, value, q): (multiprocessing::Lock, multiprocessing::Value<u64>, Queue<u64>)) {
    let _guard = lock.acquire();
    value.set(value.get() + 1);
    q.put(value.get()).unwrap();
}

/// Every kind of runtime object made, used by children and dropped, 20 times over: the
/// parent's descriptors and shared-memory mappings come back to where they were. Round 0 is a
/// warm-up: what lives as long as the program (the fork server's control socket under
/// `MP_TEST_START_METHOD=forkserver`) is made there, before the count.
fn no_descriptor_or_segment_leak() {
    use multiprocessing::{Lock, Manager, Value};
    let mut before = descriptors_and_segments();
    let mut peak = before;
    let mut alive = before;
    for round in 0..=20u64 {
        if round == 1 {
            before = descriptors_and_segments();
        }
        let pool = Pool::new(4).unwrap();
        assert_eq!(pool.map(double, 0..100).unwrap()[99], 198);
        drop(pool);

        let manager = Manager::new().unwrap();
        let d = manager.dict::<u64, u64>().unwrap();
        d.set(&round, &round).unwrap();
        let l = manager.list::<u64>().unwrap();
        l.append(&round).unwrap();
        drop((d, l, manager));

        let lock = Lock::new().unwrap();
        let value = Value::new(0u64).unwrap();
        let q: Queue<u64> = Queue::new(0).unwrap();
        let mut children: Vec<Process> = (0..3)
            .map(|_| Process::new(touch, (lock.clone(), value.clone(), q.clone())))
            .collect();
        for p in &mut children {
            p.start().unwrap();
        }
        for p in &children {
            assert!(p.join_timeout(Duration::from_secs(30)).unwrap());
            assert_eq!(p.exitcode(), Some(0));
        }
        alive = descriptors_and_segments();
        let mut got: Vec<u64> = (0..3).map(|_| q.get().unwrap()).collect();
        got.sort_unstable();
        assert_eq!(got, [1, 2, 3]);
        drop(children);
        drop((lock, value, q));

        let (a, b) = Pipe(true).unwrap();
        a.send(&round).unwrap();
        assert_eq!(b.recv::<u64>().unwrap(), round);
        drop((a, b));

        let now = descriptors_and_segments();
        peak = (peak.0.max(now.0), peak.1.max(now.1));
    }
    common::eventually(Duration::from_secs(10), "no child processes", || {
        active_children().is_empty()
    });
    // The count sees the segments: with a lock, a value and a queue alive, there are some.
    assert!(
        alive.1 > before.1,
        "no memfd mapping seen while objects lived: {alive:?}"
    );
    let after = descriptors_and_segments();
    assert_eq!(
        after, before,
        "(descriptors, memfd mappings) before and after 20 rounds"
    );
    println!(
        "20 rounds of pools, managers, locks, values, queues and pipes: (descriptors, memfd \
         mappings) {before:?} before, {alive:?} with objects alive, {after:?} after, at most \
         {peak:?} between rounds"
    );
}

fn main() -> std::process::ExitCode {
    common::run(&[
        case!(queue_million_messages, 600),
        case!(no_descriptor_or_segment_leak),
        case!(pool_ten_thousand_tasks, 300),
    ])
}

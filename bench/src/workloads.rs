//! The runtime's workloads, named as in the benchmark issue and in `bench/python/bench_mp.py`.
//!
//! Each function does the same work as its namesake in `bench_mp.py`: the same counts, the same
//! message sizes, the same warm-up, the same thing timed. Keep the two files in step.

use std::hint::black_box;
use std::time::Instant;

use multiprocessing::{
    ByteBuf, Connection, DictProxy, Manager, Pipe, Pool, Process, Queue, Value, get_context,
};

use crate::{cpu_time, heavy, per_op, speedup_pairs, speedup_tasks, trickle, trickle_messages};

/// The workloads of this module.
pub(crate) const NAMES: &[&str] = &[
    "process_start_join",
    "process_start_join_spawn",
    "process_start_join_forkserver",
    "pool_lifecycle",
    "map_chunk1",
    "map_100k",
    "tutorial_speedup",
    "queue_small",
    "queue_1mib",
    "pipe_rtt",
    "pipe_1mib",
    "value_lock",
    "manager_dict",
    "manager_dict_4",
    "manager_start",
    "recv_trickle",
];

/// Runs `name` if it is one of ours.
pub(crate) fn run(name: &str, quick: bool) -> Option<(&'static str, f64)> {
    Some(match name {
        "process_start_join" => ("ms", process_start_join(quick) * 1e3),
        "process_start_join_spawn" => ("ms", start_join_with("spawn", quick) * 1e3),
        "process_start_join_forkserver" => ("ms", start_join_with("forkserver", quick) * 1e3),
        "pool_lifecycle" => ("ms", pool_lifecycle(quick) * 1e3),
        "map_chunk1" => ("ms", map_chunk1(quick) * 1e3),
        "map_100k" => ("ms", map_100k(quick) * 1e3),
        "tutorial_speedup" => ("x", tutorial_speedup(quick)),
        "queue_small" => ("msgs/s", queue_small(quick)),
        "queue_1mib" => ("MB/s", queue_1mib(quick)),
        "pipe_rtt" => ("us", pipe_rtt(quick) * 1e6),
        "pipe_1mib" => ("MB/s", pipe_1mib(quick)),
        "value_lock" => ("increments/s", value_lock(quick)),
        "manager_dict" => ("ops/s", manager_dict(quick)),
        "manager_dict_4" => ("ops/s", manager_dict_4(quick)),
        "manager_start" => ("ms", manager_start(quick) * 1e3),
        "recv_trickle" => ("us", recv_trickle(quick) * 1e6),
        _ => return None,
    })
}

/// One MiB of `b'x'`, as `bench_mp.py`'s `blob`.
const MIB: usize = 1 << 20;

fn empty(_: ()) {}

fn square(x: u64) -> u64 {
    x * x
}

fn process_start_join(quick: bool) -> f64 {
    let once = || {
        let mut p = Process::new(empty, ());
        p.start().expect("start");
        p.join().expect("join");
    };
    once();
    per_op(if quick { 50 } else { 300 }, once)
}

/// As `process_start_join`, with the context of another start method. A warm-up start first:
/// under forkserver it starts the server, which later starts reuse.
fn start_join_with(method: &str, quick: bool) -> f64 {
    let ctx = get_context(method).expect("get_context");
    let once = || {
        let mut p = ctx.process(empty, ());
        p.start().expect("start");
        p.join().expect("join");
    };
    once();
    per_op(if quick { 5 } else { 20 }, once)
}

fn pool_lifecycle(quick: bool) -> f64 {
    per_op(if quick { 3 } else { 10 }, || {
        let pool = Pool::new(4).expect("Pool::new");
        pool.terminate().expect("terminate");
        pool.join().expect("join");
    })
}

fn map_chunk1(quick: bool) -> f64 {
    let pool = Pool::new(4).expect("Pool::new");
    let once = || {
        black_box(pool.map_chunked(square, 0..100, 1).expect("map"));
    };
    once();
    per_op(if quick { 10 } else { 50 }, once)
}

fn map_100k(quick: bool) -> f64 {
    let pool = Pool::new(4).expect("Pool::new");
    pool.map(square, 0..1000).expect("warm-up map");
    per_op(if quick { 2 } else { 5 }, || {
        black_box(pool.map(square, 0..100_000).expect("map"));
    })
}

/// Loop time over `Pool(4)` time for section 8's 100 heavy tasks, `chunksize=1`, summed over
/// interleaved pairs (see `speedup_pairs`).
fn tutorial_speedup(quick: bool) -> f64 {
    let numbers = speedup_tasks(quick);
    let pool = Pool::new(4).expect("Pool::new");
    pool.map(square, 0..8).expect("warm-up map");
    speedup_pairs(
        || {
            for &task in &numbers {
                black_box(heavy(task));
            }
        },
        || {
            black_box(pool.map_chunked(heavy, numbers.clone(), 1).expect("map"));
        },
    )
}

fn consume<T: serde::Serialize + serde::de::DeserializeOwned>((q, n): (Queue<T>, usize)) {
    for _ in 0..n {
        black_box(q.get().expect("get"));
    }
}

fn queue_small(quick: bool) -> f64 {
    let n: usize = if quick { 20_000 } else { 100_000 };
    let q = Queue::<u64>::new(0).expect("Queue::new");
    let mut p = Process::new(consume::<u64>, (q.clone(), n));
    p.start().expect("start");
    let t = Instant::now();
    for i in 0..n as u64 {
        q.put(i).expect("put");
    }
    p.join().expect("join");
    n as f64 / t.elapsed().as_secs_f64()
}

fn queue_1mib(quick: bool) -> f64 {
    let n: usize = if quick { 50 } else { 200 };
    // `ByteBuf` is Python's `bytes`: one block for the codec, where a `Vec<u8>` is a sequence.
    let blob = ByteBuf::from(vec![b'x'; MIB]);
    let q = Queue::<ByteBuf>::new(0).expect("Queue::new");
    let mut p = Process::new(consume::<ByteBuf>, (q.clone(), n));
    p.start().expect("start");
    let t = Instant::now();
    for _ in 0..n {
        q.put(&blob).expect("put");
    }
    p.join().expect("join");
    (n * MIB) as f64 / 1e6 / t.elapsed().as_secs_f64()
}

/// Sends back what comes until `None`.
fn echo(conn: Connection) {
    while let Some(msg) = conn.recv::<Option<u64>>().expect("recv") {
        conn.send(&Some(msg)).expect("send");
    }
}

fn pipe_rtt(quick: bool) -> f64 {
    let n: u64 = if quick { 2_000 } else { 10_000 };
    let (a, b) = Pipe(true).expect("Pipe");
    // `start` closes the parent's copy of `b`, as `b.close()` does in the Python.
    let mut p = Process::new(echo, b);
    p.start().expect("start");
    a.send(&Some(0u64)).expect("send");
    a.recv::<Option<u64>>().expect("recv");
    let t = Instant::now();
    for i in 0..n {
        a.send(&Some(i)).expect("send");
        black_box(a.recv::<Option<u64>>().expect("recv"));
    }
    let took = t.elapsed().as_secs_f64();
    a.send(&None::<u64>).expect("send");
    p.join().expect("join");
    took / n as f64
}

fn drain_bytes((conn, n): (Connection, usize)) {
    for _ in 0..n {
        black_box(conn.recv_bytes().expect("recv_bytes"));
    }
}

fn pipe_1mib(quick: bool) -> f64 {
    let n: usize = if quick { 200 } else { 1000 };
    let blob = vec![b'x'; MIB];
    let (a, b) = Pipe(true).expect("Pipe");
    let mut p = Process::new(drain_bytes, (b, n));
    p.start().expect("start");
    let t = Instant::now();
    for _ in 0..n {
        a.send_bytes(&blob).expect("send_bytes");
    }
    p.join().expect("join");
    (n * MIB) as f64 / 1e6 / t.elapsed().as_secs_f64()
}

fn increment((val, n): (Value<i32>, u32)) {
    for _ in 0..n {
        let _guard = val.get_lock().acquire(); // with val.get_lock():
        val.set(val.get() + 1); //                    val.value += 1
    }
}

fn value_lock(quick: bool) -> f64 {
    let n: u32 = if quick { 50_000 } else { 200_000 };
    let val = Value::new(0i32).expect("Value::new");
    let mut ps: Vec<Process> = (0..2)
        .map(|_| Process::new(increment, (val.clone(), n)))
        .collect();
    let t = Instant::now();
    for p in &mut ps {
        p.start().expect("start");
    }
    for p in &ps {
        p.join().expect("join");
    }
    let took = t.elapsed().as_secs_f64();
    assert_eq!(val.get(), 2 * n as i32, "lost increments");
    2.0 * f64::from(n) / took
}

/// `n` times `d[k] = i; d[k]`, as `_dict_ops` in bench_mp.py.
fn dict_ops((d, n, k): (DictProxy<String, u64>, u64, String)) {
    for i in 0..n {
        d.set(&k, &i).expect("set");
        d.get(&k).expect("get");
    }
}

fn manager_dict(quick: bool) -> f64 {
    let n = if quick { 2_000 } else { 10_000 };
    let manager = Manager::new().expect("Manager::new");
    let d = manager.dict().expect("dict");
    let t = Instant::now();
    dict_ops((d, n, "k".into()));
    2.0 * n as f64 / t.elapsed().as_secs_f64()
}

fn manager_dict_4(quick: bool) -> f64 {
    let n = if quick { 1_000 } else { 5_000 };
    let manager = Manager::new().expect("Manager::new");
    let d: DictProxy<String, u64> = manager.dict().expect("dict");
    let mut ps: Vec<Process> = (0..4)
        .map(|i| Process::new(dict_ops, (d.clone(), n, format!("k{i}"))))
        .collect();
    let t = Instant::now();
    for p in &mut ps {
        p.start().expect("start");
    }
    for p in &ps {
        p.join().expect("join");
    }
    4.0 * 2.0 * n as f64 / t.elapsed().as_secs_f64()
}

fn manager_start(quick: bool) -> f64 {
    per_op(if quick { 3 } else { 10 }, || {
        let mut manager = Manager::new().expect("Manager::new");
        manager.shutdown().expect("shutdown");
    })
}

/// Receives `n` messages and sends back its CPU seconds per message, counted from the first.
fn trickle_receiver((conn, n): (Connection, u32)) {
    conn.recv::<u64>().expect("recv");
    let start = cpu_time();
    for _ in 1..n {
        black_box(conn.recv::<u64>().expect("recv"));
    }
    let per_message = (cpu_time() - start) / f64::from(n - 1);
    conn.send(&per_message).expect("send");
}

/// The receiver's CPU seconds per message, for one small message every 40 us.
fn recv_trickle(quick: bool) -> f64 {
    let n = trickle_messages(quick);
    let (a, b) = Pipe(true).expect("Pipe");
    let mut p = Process::new(trickle_receiver, (b, n));
    p.start().expect("start");
    trickle(n, |i| a.send(&u64::from(i)).expect("send"));
    let per_message: f64 = a.recv().expect("recv the receiver's figure");
    p.join().expect("join");
    per_message
}

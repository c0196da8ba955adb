"""CPython's side of `cargo xtask bench`: the same workloads as the Rust bench binary.

Usage: python3 bench_mp.py NAME [--quick]
Prints one JSON object: {"name": ..., "unit": ..., "value": ...} measured once; the xtask runs this
several times, alternating with the Rust side, and takes medians.
"""
import ctypes
import json
import multiprocessing as mp
import os
import resource
import sys
import time

QUICK = "--quick" in sys.argv


def empty():
    pass


def square(x):
    return x * x


def heavy(x):
    # Section 8's task: the loop stays a loop in CPython.
    for _ in range(100_000 if QUICK else 1_000_000):
        i = x * x
    return (x, os.getpid())


# Serial/pooled pairs per tutorial_speedup run, as PAIRS in bench/src/main.rs.
PAIRS = 3


def speedup_pairs(serial, parallel):
    """Serial time over parallel time, summed over PAIRS pairs timed back to back; the order
    within a pair alternates, so that neither side always runs first."""
    serial_s = parallel_s = 0.0
    for pair in range(PAIRS):
        for serial_now in (pair % 2 == 0, pair % 2 != 0):
            t = time.perf_counter()
            if serial_now:
                serial()
                serial_s += time.perf_counter() - t
            else:
                parallel()
                parallel_s += time.perf_counter() - t
    return serial_s / parallel_s


def per_op(fn, n):
    t = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - t) / n


def process_start_join():
    def once():
        p = mp.Process(target=empty)
        p.start()
        p.join()
    once()
    return "ms", per_op(once, 50 if QUICK else 300) * 1e3


def _start_join_with(method):
    # A warm-up start first: under forkserver it starts the server, which later starts reuse.
    ctx = mp.get_context(method)

    def once():
        p = ctx.Process(target=empty)
        p.start()
        p.join()
    once()
    return "ms", per_op(once, 5 if QUICK else 20) * 1e3


def process_start_join_spawn():
    return _start_join_with("spawn")


def process_start_join_forkserver():
    return _start_join_with("forkserver")


def pool_lifecycle():
    def once():
        pool = mp.Pool(4)
        pool.terminate()
        pool.join()
    return "ms", per_op(once, 3 if QUICK else 10) * 1e3


def map_chunk1():
    with mp.Pool(4) as pool:
        pool.map(square, range(100), chunksize=1)
        return "ms", per_op(lambda: pool.map(square, range(100), chunksize=1), 10 if QUICK else 50) * 1e3


def map_100k():
    with mp.Pool(4) as pool:
        pool.map(square, range(1000))
        return "ms", per_op(lambda: pool.map(square, range(100_000)), 2 if QUICK else 5) * 1e3


def tutorial_speedup():
    numbers = list(range(100))
    with mp.Pool(4) as pool:
        pool.map(square, range(8))

        def serial():
            for i in numbers:
                heavy(i)
        return "x", speedup_pairs(serial, lambda: pool.map(heavy, numbers, chunksize=1))


def _consume(q, n):
    for _ in range(n):
        q.get()


def queue_small():
    n = 20_000 if QUICK else 100_000
    q = mp.Queue()
    p = mp.Process(target=_consume, args=(q, n))
    p.start()
    t = time.perf_counter()
    for i in range(n):
        q.put(i)
    p.join()
    return "msgs/s", n / (time.perf_counter() - t)


def queue_1mib():
    n = 50 if QUICK else 200
    blob = b"x" * (1 << 20)
    q = mp.Queue()
    p = mp.Process(target=_consume, args=(q, n))
    p.start()
    t = time.perf_counter()
    for _ in range(n):
        q.put(blob)
    p.join()
    return "MB/s", n * len(blob) / 1e6 / (time.perf_counter() - t)


def _echo(conn):
    # None ends the loop: the child's inherited copy of the other end keeps EOF from coming.
    while (msg := conn.recv()) is not None:
        conn.send(msg)


def pipe_rtt():
    n = 2_000 if QUICK else 10_000
    a, b = mp.Pipe()
    p = mp.Process(target=_echo, args=(b,))
    p.start()
    b.close()
    a.send(0)
    a.recv()
    t = time.perf_counter()
    for i in range(n):
        a.send(i)
        a.recv()
    took = time.perf_counter() - t
    a.send(None)
    p.join()
    return "us", took / n * 1e6


def _drain_bytes(conn, n):
    for _ in range(n):
        conn.recv_bytes()


def pipe_1mib():
    n = 200 if QUICK else 1000
    blob = b"x" * (1 << 20)
    a, b = mp.Pipe()
    p = mp.Process(target=_drain_bytes, args=(b, n))
    p.start()
    t = time.perf_counter()
    for _ in range(n):
        a.send_bytes(blob)
    p.join()
    return "MB/s", n * len(blob) / 1e6 / (time.perf_counter() - t)


def _increment(val, n):
    for _ in range(n):
        with val.get_lock():
            val.value += 1


def value_lock():
    n = 50_000 if QUICK else 200_000
    val = mp.Value("i", 0)
    ps = [mp.Process(target=_increment, args=(val, n)) for _ in range(2)]
    t = time.perf_counter()
    for p in ps:
        p.start()
    for p in ps:
        p.join()
    took = time.perf_counter() - t
    assert val.value == 2 * n
    return "increments/s", 2 * n / took


def _dict_ops(d, n, k):
    for i in range(n):
        d[k] = i
        d[k]


def manager_dict():
    n = 2_000 if QUICK else 10_000
    with mp.Manager() as m:
        d = m.dict()
        t = time.perf_counter()
        _dict_ops(d, n, "k")
        return "ops/s", 2 * n / (time.perf_counter() - t)


def manager_dict_4():
    n = 1_000 if QUICK else 5_000
    with mp.Manager() as m:
        d = m.dict()
        ps = [mp.Process(target=_dict_ops, args=(d, n, f"k{i}")) for i in range(4)]
        t = time.perf_counter()
        for p in ps:
            p.start()
        for p in ps:
            p.join()
        return "ops/s", 4 * 2 * n / (time.perf_counter() - t)


def manager_start():
    def once():
        m = mp.Manager()
        m.shutdown()
    return "ms", per_op(once, 3 if QUICK else 10) * 1e3


# A trickle: one small message every 40 us (TRICKLE_GAP in bench/src/main.rs) to a receiver
# blocked in recv; the figure is the receiver's CPU time (user + system) per message.

def _cpu_time():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _trickle_receiver(conn, n):
    conn.recv()
    start = _cpu_time()
    for _ in range(n - 1):
        conn.recv()
    conn.send((_cpu_time() - start) / (n - 1))


def recv_trickle():
    n = 2_000 if QUICK else 10_000
    gap = 40e-6
    a, b = mp.Pipe()
    p = mp.Process(target=_trickle_receiver, args=(b, n))
    p.start()
    b.close()
    # As trickle() in bench/src/main.rs: the timer slack down to 1 ns (PR_SET_TIMERSLACK = 29),
    # a sleep until 30 us before each send and a spin for the rest, as a 40 us sleep overshoots.
    ctypes.CDLL(None, use_errno=True).prctl(29, 1, 0, 0, 0)
    early = 30e-6
    start = next_send = time.perf_counter()
    for i in range(n):
        next_send += gap
        now = time.perf_counter()
        if now > next_send + gap:
            next_send = now
        elif next_send > now + early:
            time.sleep(next_send - now - early)
        while time.perf_counter() < next_send:
            pass
        a.send(i)
    mean_gap = (time.perf_counter() - start) / n * 1e6
    print(f"trickle: {n} messages, a mean gap of {mean_gap:.1f} us", file=sys.stderr)
    per_message = a.recv()
    p.join()
    return "us", per_message * 1e6


# Footprint: RSS and PSS (kB, /proc/<pid>/smaps_rollup) of a Pool(4) worker (the mean of the four),
# the Manager server and the parent, all in one scene: a Pool(4) that ran a warm-up map and a
# Manager whose dict was written and read. The Rust side (bench/src/memory.rs) sets the same scene.

def _rollup_kb(pid, field):
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            if line.startswith(field + ":"):
                return float(line.split()[1])
    raise RuntimeError(f"no {field} line in /proc/{pid}/smaps_rollup")


def _footprint(who, field):
    with mp.Pool(4) as pool, mp.Manager() as m:
        assert pool.map(square, range(1000))[999] == 999 * 999
        d = m.dict()
        d["k"] = 1
        assert d["k"] == 1
        time.sleep(0.1)
        if who == "workers":
            pids = [p.pid for p in pool._pool]
            assert len(pids) == 4
            return sum(_rollup_kb(pid, field) for pid in pids) / len(pids)
        if who == "manager":
            return _rollup_kb(m._process.pid, field)
        return _rollup_kb(os.getpid(), field)


def mem_pool_worker_rss():
    return "kB", _footprint("workers", "Rss")


def mem_pool_worker_pss():
    return "kB", _footprint("workers", "Pss")


def mem_manager_rss():
    return "kB", _footprint("manager", "Rss")


def mem_manager_pss():
    return "kB", _footprint("manager", "Pss")


def mem_parent_rss():
    return "kB", _footprint("parent", "Rss")


def mem_parent_pss():
    return "kB", _footprint("parent", "Pss")


WORKLOADS = {f.__name__: f for f in [
    process_start_join, process_start_join_spawn, process_start_join_forkserver, pool_lifecycle,
    map_chunk1, map_100k, tutorial_speedup, queue_small, queue_1mib, pipe_rtt, pipe_1mib, value_lock,
    manager_dict, manager_dict_4, manager_start, recv_trickle,
    mem_pool_worker_rss, mem_pool_worker_pss, mem_manager_rss, mem_manager_pss, mem_parent_rss,
    mem_parent_pss,
]}

if __name__ == "__main__":
    mp.set_start_method("fork")
    name = sys.argv[1]
    unit, value = WORKLOADS[name]()
    print(json.dumps({"name": name, "unit": unit, "value": value}))

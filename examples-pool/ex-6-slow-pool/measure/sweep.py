# Example 6's sweep in CPython: the twin of src/sweep.rs, which runs it
# (`cargo run --release -p ex-6-slow-pool -- --sweep`); alone: `python3 sweep.py [SIZE...]`.
#
# The same 100 tasks on one Pool(4), the same task (x = x * x modulo 2**64, SIZE times: Rust's
# u64 wrapping_mul) and the same chunksizes: 1, the default (None: 7 for 100 tasks) and 25.
# Prints one tab-separated line per SIZE: SIZE, then the best of 3 runs, in seconds, of the loop
# and of pool.map at each chunksize.
import sys
import time
from multiprocessing import Pool

TASKS = 100
RUNS = 3


def spin(args):
    x, iterations = args
    for _ in range(iterations):
        x = x * x % 2**64
    return x


def best_of(f):
    best = float('inf')
    for _ in range(RUNS):
        now = time.perf_counter()
        f()
        best = min(best, time.perf_counter() - now)
    return best


if __name__ == '__main__':
    sizes = [int(s) for s in sys.argv[1:]] or [1, 10, 100, 1_000, 10_000, 100_000]
    with Pool(processes=4) as pool:
        for size in sizes:
            inputs = [(x, size) for x in range(TASKS)]
            single = best_of(lambda: [spin(i) for i in inputs])
            pooled = [best_of(lambda: pool.map(spin, inputs, chunksize)) for chunksize in (1, None, 25)]
            print(size, single, *pooled, sep='\t', flush=True)

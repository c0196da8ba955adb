# Example 7 (ours: the tutorial has a table and a formula but no program). What
# examples-pool/ex-7-chunksize/src/main.rs does, in Python, run by `cargo xtask compare 7`.
#
# CPython's Pool has no counters, so this one counts for itself: a Pool subclass wraps the two
# calls through which the parent puts task messages on the workers' queue and takes result
# messages off theirs (`_quick_put`, `_quick_get`), and each worker counts its tasks in a
# shared array. Bytes are the pickled messages' sizes (without the 4-byte length header); the
# workers' stop sentinels (None) are not counted, as the Rust example counts them apart.
import multiprocessing
import multiprocessing.pool
from multiprocessing import RawArray, current_process
from multiprocessing.reduction import ForkingPickler

counts = None  # one slot per worker identity, set in each worker by init


def init(shared_counts):
    global counts
    counts = shared_counts


def square(x):
    counts[current_process()._identity[0] % len(counts)] += 1
    return x * x


class CountingPool(multiprocessing.pool.Pool):
    def _setup_queues(self):
        super()._setup_queues()
        self.task_messages = self.result_messages = self.task_bytes = self.result_bytes = 0
        put, get = self._quick_put, self._quick_get

        def counting_put(obj):
            if obj is not None:
                self.task_messages += 1
                self.task_bytes += len(ForkingPickler.dumps(obj))
            put(obj)

        def counting_get():
            obj = get()
            if obj is not None:
                self.result_messages += 1
                self.result_bytes += len(ForkingPickler.dumps(obj))
            return obj

        self._quick_put, self._quick_get = counting_put, counting_get


def run(numbers, chunksize=None):
    """Maps square over numbers on a fresh Pool(4); returns its counters and tasks per worker."""
    shared = RawArray('i', 64)
    pool = CountingPool(4, initializer=init, initargs=(shared,),
                        context=multiprocessing.get_context())
    results = pool.map(square, numbers, chunksize)
    assert len(results) == len(numbers)
    pool.close()
    pool.join()
    tasks = sorted((c for c in shared if c), reverse=True)
    return pool, tasks + [0] * (4 - len(tasks))


def default_chunksize(n, processes):
    # What Pool.map computes when chunksize is None.
    chunksize, extra = divmod(n, processes * 4)
    if extra:
        chunksize += 1
    return chunksize


if __name__ == '__main__':
    numbers = list(range(100))

    print("| 模式 | 发送任务IPC次数 | 返回结果IPC次数 | 总IPC次数 | 教程的表 | 发送字节 | 返回字节 | 每个进程的任务数 |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for chunksize, tutorial in [(1, 200), (25, 8)]:
        p, tasks = run(numbers, chunksize)
        print(f"| chunksize={chunksize} | {p.task_messages} | {p.result_messages} | "
              f"{p.task_messages + p.result_messages} | {tutorial} | {p.task_bytes} | "
              f"{p.result_bytes} | {tasks} |")

    # pool.map(square, numbers) without a chunksize: CPython's default.
    p, tasks = run(numbers)
    print(f"| 默认 chunksize={default_chunksize(len(numbers), 4)} | {p.task_messages} | "
          f"{p.result_messages} | {p.task_messages + p.result_messages} | - | {p.task_bytes} | "
          f"{p.result_bytes} | {tasks} |")

    print()
    print("默认 chunksize, Pool(4):")
    print("| len(tasks) | CPython: divmod(len, 4*4), 有余数则 +1 | 教程: max(1, len // (4*4)) |")
    print("| --- | --- | --- |")
    for n in [0, 1, 10, 16, 17, 100, 1000, 100_000]:
        tutorial = max(1, n // (4 * 4))
        print(f"| {n} | {default_chunksize(n, 4)} | {tutorial} |")

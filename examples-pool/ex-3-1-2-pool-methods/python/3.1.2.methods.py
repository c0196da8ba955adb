# Example 3.1.2.methods (ours: the tutorial lists Pool's methods without a program). What
# examples-pool/ex-3-1-2-pool-methods/src/main.rs does, in Python, run by
# `cargo xtask compare 3.1.2.methods`. The labels are the Rust example's, so the lines pair up.
import math
from multiprocessing import Pool, active_children


def square(x):
    return x * x


def add(a, b):
    return a + b


def checked_sqrt(x):
    if x < 0:
        raise ValueError(f"不能对负数 {x} 开平方")
    return int(math.sqrt(x))


if __name__ == '__main__':
    pool = Pool(4)

    # apply: 同步，阻塞直到结果返回
    print(f"apply(square, 3) = {pool.apply(square, (3,))}")

    # apply_async，带 callback 和 error_callback
    ok = pool.apply_async(square, (4,), callback=lambda v: print(f"apply_async 回调: {v}"))
    bad = pool.apply_async(checked_sqrt, (-1,),
                           error_callback=lambda e: print(f"apply_async 错误回调: {e}"))
    ok.wait()
    bad.wait()
    print(f"ready: {ok.ready()}, successful: {ok.successful()}")
    print(f"出错的任务 successful: {bad.successful()}")

    # map，以及带 chunksize 的 map
    print(f"map(square, 0..10) = {pool.map(square, range(10))}")
    print(f"map(square, 0..10, chunksize=5) = {pool.map(square, range(10), chunksize=5)}")

    # map_async，带 callback
    result = pool.map_async(square, [1, 2, 3], callback=lambda v: print(f"map_async 回调: {v}"))
    print(f"map_async get() = {result.get()}")

    # starmap: 每一项是一组参数
    print(f"starmap(add, [(1, 2), (3, 4), (5, 6)]) = {pool.starmap(add, [(1, 2), (3, 4), (5, 6)])}")
    result = pool.starmap_async(add, [(10, 20)], callback=lambda v: print(f"starmap_async 回调: {v}"))
    result.wait()

    # imap: 惰性，按输入顺序
    for x, y in zip(range(5), pool.imap(square, range(5))):
        print(f"imap: {x} -> {y}")

    # imap_unordered: 按结果返回的顺序
    unordered = sorted(pool.imap_unordered(square, range(5)))
    print(f"imap_unordered (排序后): {unordered}")

    # close: 不再接受任务; join: 等待工作进程退出
    pool.close()
    try:
        pool.apply(square, (1,))
        print("close() 之后仍可提交任务?")
    except ValueError as e:
        print(f"close() 之后提交任务: {e}")
    pool.join()
    print(f"join() 之后活动子进程数: {len(active_children())}")

# Example 8's `--repeat N --start-method M` in CPython: how often one worker PID ran all ten of
# the first program's tasks, over N fresh Pool(4)s started by method M. The twin of
# `cargo run -p ex-8-one-pid -- --repeat N --start-method M`, with the same output.
# Run: python3 repeat.py [N [M]]  (N: 20, M: fork)
import os
import sys
import multiprocessing


def square(x):
    # 增加计算复杂度（例如重复计算多次）
    for _ in range(1000):
        i = x * x
    pid = os.getpid()  # 获取当前进程的PID
    return (x, pid)  # 返回任务和进程PID的对应关系


if __name__ == '__main__':
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    context = multiprocessing.get_context(sys.argv[2] if len(sys.argv) > 2 else 'fork')
    numbers = [i for i in range(10)]
    by_count = [0] * 5  # how many runs used 1, 2, 3 and 4 distinct PIDs
    for _ in range(runs):
        with context.Pool(processes=4) as pool:
            results = pool.map(square, numbers)
        by_count[min(len({pid for _, pid in results}), 4)] += 1
    percent = lambda n: 100 * n / max(runs, 1)
    print(f"{runs} 次运行中, 全部 10 个任务由同一个进程执行: {by_count[1]} 次 ({percent(by_count[1]):.0f}%)")
    for count in range(1, 5):
        print(f"  用了 {count} 个进程: {by_count[count]} 次 ({percent(by_count[count]):.0f}%)")

from multiprocessing import Pool
import time
import os

def square(x):
    # 显著增加计算量（模拟耗时任务）
    result = x
    for _ in range(1_000_000):
        result = x * x
    pid = os.getpid()
    return (x, pid)

if __name__ == '__main__':
    numbers = [i for i in range(100)]  # 扩大任务数量
    with Pool(processes=4) as pool:
        now = time.perf_counter()
        # 强制按单个任务分配
        results = pool.map(square, numbers, chunksize=1)
        print(f"多进程耗时: {time.perf_counter() - now}")

    # 打印PID分布
    pids = set()
    for task, pid in results:
        pids.add(pid)
        print(f"Task {task} → PID {pid}")
    print(f"实际使用的进程数: {len(pids)}")

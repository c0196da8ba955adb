# Example 3.3.2 (ours: the tutorial describes it without a program). The Python that
# examples-process/ex-3-3-2-active-children/src/main.rs mirrors, run by `cargo xtask compare 3.3.2`.
import time
from multiprocessing import Process, active_children

def worker(seconds):
    time.sleep(seconds)

if __name__ == '__main__':
    processes = [Process(target=worker, args=(1,)) for _ in range(3)]
    print(f"启动前: {len(active_children())} 个活动子进程")
    for p in processes:
        p.start()
    names = sorted(c.name for c in active_children())
    print(f"运行中: {len(names)} 个活动子进程 {names}")
    for p in processes:
        p.join()
    print(f"join 之后: {len(active_children())} 个活动子进程")

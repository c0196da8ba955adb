# Example 3.2.2 (ours: the tutorial describes it without a program). The Python that
# examples-sync/ex-3-2-2-semaphore/src/main.rs mirrors, run by `cargo xtask compare 3.2.2`.
import time
from multiprocessing import BoundedSemaphore, Process, Semaphore, Value

def worker(sem, inside, most, num):
    with sem:
        with inside.get_lock():
            inside.value += 1
            most.value = max(most.value, inside.value)
        print(f"进程 {num} 获得信号量，正在访问资源")
        time.sleep(0.3)
        with inside.get_lock():
            inside.value -= 1
        print(f"进程 {num} 访问结束，释放信号量")

if __name__ == '__main__':
    sem = Semaphore(2)
    inside, most = Value('i', 0), Value('i', 0)
    processes = [Process(target=worker, args=(sem, inside, most, i)) for i in range(4)]
    for p in processes:
        p.start()
    for p in processes:
        p.join()
    print(f"同时访问资源的进程最多 {most.value} 个，信号量的值回到 {sem.get_value()}")

    bounded = BoundedSemaphore(1)
    bounded.acquire()
    bounded.release()
    try:
        bounded.release()
    except ValueError:
        print("BoundedSemaphore：释放次数超过初始值，被拒绝")

# Example 3.2.3 (ours: the tutorial describes it without a program). The Python that
# examples-sync/ex-3-2-3-event/src/main.rs mirrors, run by `cargo xtask compare 3.2.3`.
# flush=True: a child's stdout to a pipe is block-buffered, and the order of the lines is the point here.
import time
from multiprocessing import Event, Process

def waiter(event, num):
    print(f"进程 {num} 等待事件", flush=True)
    event.wait()
    print(f"进程 {num} 收到事件，继续执行", flush=True)

if __name__ == '__main__':
    event = Event()
    processes = [Process(target=waiter, args=(event, i)) for i in range(3)]
    for p in processes:
        p.start()
    time.sleep(0.5)
    print("主进程：wait(0.1) 返回", event.wait(0.1), flush=True)
    print("主进程：设置事件", flush=True)
    event.set()
    for p in processes:
        p.join()
    event.clear()
    print("主进程：清除事件后 is_set() =", event.is_set(), flush=True)

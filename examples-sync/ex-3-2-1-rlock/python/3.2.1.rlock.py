# Example 3.2.1.rlock (ours: the tutorial describes it without a program). The Python that
# examples-sync/ex-3-2-1-rlock/src/main.rs mirrors, run by `cargo xtask compare 3.2.1.rlock`.
from multiprocessing import Process, RLock

def try_lock(lock):
    try:
        lock.release()
    except AssertionError:
        print("子进程：不能释放别人持有的 RLock")
    if lock.acquire(timeout=0.1):
        print("子进程：获取 RLock 成功")
        lock.release()
    else:
        print("子进程：RLock 被主进程持有，0.1 秒内获取失败")

if __name__ == '__main__':
    lock = RLock()
    with lock:
        print("主进程：第一次获取 RLock")
        with lock:
            print("主进程：再次获取同一把 RLock，没有死锁")
            p = Process(target=try_lock, args=(lock,)); p.start(); p.join()
        print("主进程：释放一层，仍持有 RLock")
        p = Process(target=try_lock, args=(lock,)); p.start(); p.join()
    print("主进程：完全释放 RLock")
    p = Process(target=try_lock, args=(lock,)); p.start(); p.join()

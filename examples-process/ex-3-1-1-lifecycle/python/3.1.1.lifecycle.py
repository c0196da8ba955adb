# Example 3.1.1.lifecycle (ours: the tutorial describes it without a program). The Python that
# examples-process/ex-3-1-1-lifecycle/src/main.rs mirrors, run by `cargo xtask compare 3.1.1.lifecycle`.
import time
from multiprocessing import Process

def worker(seconds):
    time.sleep(seconds)

def fail():
    raise RuntimeError("任务出错了")

if __name__ == '__main__':
    p = Process(target=worker, args=(10,))
    print(f"启动前: is_alive={p.is_alive()}, exitcode={p.exitcode}")
    p.start()
    print(f"启动后: is_alive={p.is_alive()}, exitcode={p.exitcode}")
    p.join(timeout=0.5)  # 最多等 0.5 秒，进程仍在运行
    print(f"join(timeout=0.5) 之后: is_alive={p.is_alive()}, exitcode={p.exitcode}")
    p.terminate()  # 发送 SIGTERM
    p.join()
    print(f"terminate() 之后: is_alive={p.is_alive()}, exitcode={p.exitcode}")

    q = Process(target=worker, args=(10,))
    q.start()
    q.kill()  # 发送 SIGKILL，进程无法捕获
    q.join()
    print(f"kill() 之后: exitcode={q.exitcode}")

    r = Process(target=worker, args=(0.1,))
    r.start()
    r.join()
    print(f"正常结束: exitcode={r.exitcode}")

    e = Process(target=fail)
    e.start()
    e.join()  # 子进程把异常打印到 stderr
    print(f"抛出异常: exitcode={e.exitcode}")

    d = Process(target=worker, args=(60,), daemon=True)
    d.start()
    print(f"守护进程: daemon={d.daemon}, is_alive={d.is_alive()}")
    print("主进程结束，守护进程随之终止。")

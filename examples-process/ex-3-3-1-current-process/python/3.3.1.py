# Example 3.3.1 (ours: the tutorial describes it without a program). The Python that
# examples-process/ex-3-3-1-current-process/src/main.rs mirrors, run by `cargo xtask compare 3.3.1`.
from multiprocessing import Process, current_process, parent_process

def worker():
    p = current_process()
    print(f"子进程: name={p.name}, pid={p.pid}, 父进程={parent_process().name}")

if __name__ == '__main__':
    me = current_process()
    print(f"主进程: name={me.name}, pid={me.pid}")
    for p in [Process(target=worker), Process(target=worker, name="工作进程")]:
        p.start()
        p.join()
        print(f"主进程看到: name={p.name}, pid={p.pid}")

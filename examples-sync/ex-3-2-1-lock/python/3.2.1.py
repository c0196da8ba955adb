from multiprocessing import Process, Lock

def worker(lock, num):
    with lock:
        print(f"进程 {num} 正在安全地访问共享资源")

if __name__ == '__main__':
    lock = Lock()
    processes = [Process(target=worker, args=(lock, i)) for i in range(3)]
    for p in processes:
        p.start()
    for p in processes:
        p.join()

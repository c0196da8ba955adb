# 示例 7：Lock
from multiprocessing import Process, Lock

def safe_print(lock, num):
    with lock:
        # 同一时间只允许一个进程进入此区域
        print(f"Lock 示例：进程 {num} 正在安全地打印信息")

if __name__ == '__main__':
    lock = Lock()
    processes = [Process(target=safe_print, args=(lock, i)) for i in range(3)]
    for p in processes:
        p.start()
    for p in processes:
        p.join()
    print("Lock 示例结束。\n")

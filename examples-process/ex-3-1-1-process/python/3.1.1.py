from multiprocessing import Process

def worker(name):
    print(f"进程 {name} 正在运行")

if __name__ == '__main__':
    p = Process(target=worker, args=("A",))
    p.start()
    p.join()  # 等待进程执行完毕

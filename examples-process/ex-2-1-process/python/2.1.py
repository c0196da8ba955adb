from multiprocessing import Process

def worker(num):
    print(f"进程 {num} 正在运行")

if __name__ == '__main__':
    processes = []
    for i in range(5):
        p = Process(target=worker, args=(i,))
        processes.append(p)
        p.start()

    for p in processes:
        p.join()

    print("所有进程已结束。")

from multiprocessing import freeze_support, Process

def worker():
    print("子进程运行")

if __name__ == '__main__':
    freeze_support()  # 仅在 Windows 下需要
    p = Process(target=worker)
    p.start()
    p.join()

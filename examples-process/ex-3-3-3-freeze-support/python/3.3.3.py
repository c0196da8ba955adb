from multiprocessing import freeze_support, Process, set_start_method

def worker():
    print("子进程运行")

if __name__ == '__main__':
    freeze_support()  # 仅在 Windows 下需要
    # The tutorial ran on Windows, where every child is spawned; Linux would fork. Spawn here
    # too, as the Rust example does by default, so that both sides do the same work.
    set_start_method('spawn')
    p = Process(target=worker)
    p.start()
    p.join()

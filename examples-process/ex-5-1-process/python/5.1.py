# 示例 1：Process 类
from multiprocessing import Process, current_process

def worker(name):
    print(f"子进程 {name} 开始运行，当前进程名称：{current_process().name}")

if __name__ == '__main__':
    p = Process(target=worker, args=("Process-1",))
    p.start()
    p.join()
    print("Process 示例结束。\n")

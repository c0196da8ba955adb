from multiprocessing import Pool
import time
import os

def square(x):

    # 增加计算复杂度（例如重复计算多次）
    for _ in range(1000000):
        i = x * x
    pid = os.getpid()  # 获取当前进程的PID
    return (x, pid)  # 返回任务和进程PID的对应关系

if __name__ == '__main__':
    numbers = [i for i in range(100)]
    with Pool(processes=4) as pool:

        now = time.perf_counter()
        results = pool.map(square,numbers,chunksize=1)
        print(f"多进程耗时:{time.perf_counter()-now}")

    now = time.perf_counter()
    for i in numbers:
        square(i)
    print(f"单进程耗时:{time.perf_counter()-now}")

    # 打印任务与进程的映射关系
    for task, pid in results:
        print(f"Task {task} 由进程ID {pid} 执行")

    # print("Pool 示例结果: ",results)
    # print("Pool 示例结束.")

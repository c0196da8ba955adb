from multiprocessing import Pool
import time

def square(x):
    # 方案 1: 增加单个任务的计算量. The tutorial's `x = x * x` never finishes: a Python int
    # doubles its digits every round. `% 2**64` keeps x below 2**64, as Rust's u64 does.
    for _ in range(1_000_000):
        x = x * x % 2**64
    return x

if __name__ == '__main__':
    numbers = [i for i in range(100)]
    with Pool(processes=4) as pool:

        now = time.perf_counter()
        results = pool.map(square,numbers)
        print(f"多进程耗时:{time.perf_counter()-now}")

    now = time.perf_counter()
    for i in numbers:
        square(i)
    print(f"单进程耗时:{time.perf_counter()-now}")

    print("Pool 示例结果: ",results)
    print("Pool 示例结束.")

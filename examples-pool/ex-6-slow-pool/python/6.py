from multiprocessing import Pool
import time

def square(x):
    return x * x

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

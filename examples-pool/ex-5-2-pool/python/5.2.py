# 示例 2：Pool 类
from multiprocessing import Pool

def square(x):
    return x * x

if __name__ == '__main__':
    with Pool(processes=4) as pool:
        numbers = [1, 2, 3, 4, 5]
        results = pool.map(square, numbers)
    print("Pool 示例结果:", results)
    print("Pool 示例结束。\n")

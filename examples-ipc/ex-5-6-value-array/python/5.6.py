# 示例 6：共享内存 Value 和 Array
from multiprocessing import Process, Value, Array

def increment(val, arr):
    with val.get_lock():  # 对 Value 进行加锁操作
        val.value += 1
    for i in range(len(arr)):
        arr[i] += 1

if __name__ == '__main__':
    counter = Value('i', 0)
    numbers = Array('i', [0, 1, 2])
    p = Process(target=increment, args=(counter, numbers))
    p.start()
    p.join()
    print("共享 Value 示例:", counter.value)
    print("共享 Array 示例:", list(numbers))
    print("共享内存示例结束。\n")

from multiprocessing import Process, Value, Array

def worker(val, arr):
    with val.get_lock():
        val.value += 1
    for i in range(len(arr)):
        arr[i] += 1

if __name__ == '__main__':
    val = Value('i', 0)
    arr = Array('i', [0, 1, 2, 3])
    p = Process(target=worker, args=(val, arr))
    p.start()
    p.join()
    print("共享变量:", val.value)
    print("共享数组:", list(arr))

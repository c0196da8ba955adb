# 示例 3：Queue
from multiprocessing import Process, Queue

def writer(q):
    q.put("这是通过 Queue 传递的消息")

def reader(q):
    msg = q.get()
    print("Queue 示例接收到:", msg)

if __name__ == '__main__':
    q = Queue()
    p1 = Process(target=writer, args=(q,))
    p2 = Process(target=reader, args=(q,))
    p1.start()
    p2.start()
    p1.join()
    p2.join()
    print("Queue 示例结束。\n")

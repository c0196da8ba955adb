from multiprocessing import Process, Queue

def writer(q):
    q.put("消息")

def reader(q):
    print("收到:", q.get())

if __name__ == '__main__':
    q = Queue()
    p1 = Process(target=writer, args=(q,))
    p2 = Process(target=reader, args=(q,))
    p1.start()
    p2.start()
    p1.join()
    p2.join()

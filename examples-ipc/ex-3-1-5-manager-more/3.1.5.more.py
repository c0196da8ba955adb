# 3.1.5.more (ours): Manager list, Namespace, Queue, and a remote manager with an authkey.
from multiprocessing import Process, Manager
from multiprocessing.managers import BaseManager


def list_worker(shared_list, i):
    shared_list.append(i * i)


def namespace_worker(ns):
    ns.x = ns.x * 2


def producer(q):
    for i in range(3):
        q.put(f"消息 {i}")
    q.put(None)


shared = {}


def get_shared():
    return shared


class RemoteManager(BaseManager):
    pass


RemoteManager.register('get_shared', callable=get_shared)


def remote_client(address, authkey):
    client = RemoteManager(address=address, authkey=authkey)
    client.connect()
    client.get_shared().update({'来自客户端': '你好'})


if __name__ == '__main__':
    with Manager() as manager:
        shared_list = manager.list()
        processes = []
        for i in range(4):
            p = Process(target=list_worker, args=(shared_list, i))
            processes.append(p)
            p.start()
        for p in processes:
            p.join()
        print("共享列表:", sorted(shared_list))

        ns = manager.Namespace()
        ns.x = 10
        ns.name = "命名空间"
        p = Process(target=namespace_worker, args=(ns,))
        p.start()
        p.join()
        print(f"Namespace: x = {ns.x}, name = {ns.name}")

        q = manager.Queue()
        p = Process(target=producer, args=(q,))
        p.start()
        while (item := q.get()) is not None:
            print("队列收到:", item)
        p.join()

    authkey = b"secret"
    server = RemoteManager(address=("127.0.0.1", 0), authkey=authkey)
    server.start()
    print(f"远程管理器在 {server.address[0]}:{server.address[1]} 上监听")
    p = Process(target=remote_client, args=(server.address, authkey))
    p.start()
    p.join()
    print("远程客户端写入后:", server.get_shared().copy())
    try:
        RemoteManager(address=server.address, authkey=b"wrong key").connect()
        print("错误的 authkey 竟然被接受了")
    except Exception as e:
        print(f"错误的 authkey 被拒绝: {type(e).__name__}: {e}")
    server.shutdown()
    print("Manager 更多示例结束。")

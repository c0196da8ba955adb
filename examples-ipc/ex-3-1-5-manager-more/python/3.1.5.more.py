# Example 3.1.5.more (ours: the tutorial names lists, namespaces and queues without a program).
# What examples-ipc/ex-3-1-5-manager-more/src/main.rs does, in Python, run by
# `cargo xtask compare 3.1.5.more`.
from multiprocessing import Manager, Process
from multiprocessing.managers import BaseManager, DictProxy


def list_worker(shared_list, i):
    shared_list.append(i * i)


def namespace_worker(ns):
    ns.x = ns.x * 2


def producer(q):
    for i in range(3):
        q.put(f"消息 {i}")
    q.put(None)


shared = {}  # lives in the remote manager's server process


def get_shared():
    return shared


class RemoteManager(BaseManager):
    pass


RemoteManager.register("shared", callable=get_shared, proxytype=DictProxy)


def remote_client(address, authkey):
    client = RemoteManager(address=address, authkey=authkey)
    client.connect()
    client.shared()["来自客户端"] = "你好"


if __name__ == '__main__':
    with Manager() as manager:
        # 列表: 每个进程追加; 到达顺序不定, 所以排序后打印
        shared_list = manager.list()
        processes = []
        for i in range(4):
            p = Process(target=list_worker, args=(shared_list, i))
            p.start()
            processes.append(p)
        for p in processes:
            p.join()
        squares = sorted(shared_list)
        print(f"共享列表: {squares}")

        # Namespace: 按名字访问属性
        ns = manager.Namespace()
        ns.x = 10
        ns.name = "命名空间"
        p = Process(target=namespace_worker, args=(ns,))
        p.start()
        p.join()
        print(f"Namespace: x = {ns.x}, name = {ns.name}")

        # Queue: 生产者以 None 结束
        q = manager.Queue()
        p = Process(target=producer, args=(q,))
        p.start()
        while (item := q.get()) is not None:
            print(f"队列收到: {item}")
        p.join()

    # 监听 TCP 地址、带 authkey 的管理器, 由知道两者的进程连接
    authkey = b"secret"
    server = RemoteManager(address=("127.0.0.1", 0), authkey=authkey)
    server.start()
    host, port = server.address
    print(f"远程管理器在 {host}:{port} 上监听")

    p = Process(target=remote_client, args=(server.address, authkey))
    p.start()
    p.join()
    print(f"远程客户端写入后: {server.shared().copy()}")

    try:
        RemoteManager(address=server.address, authkey=b"wrong key").connect()
        print("错误的 authkey 竟然被接受了")
    except Exception as e:
        print(f"错误的 authkey 被拒绝: {e}")
    server.shutdown()
    print("Manager 更多示例结束。")

# 示例 4：Pipe
from multiprocessing import Process, Pipe

def sender(conn):
    conn.send("通过 Pipe 发送的数据")
    conn.close()

def receiver(conn):
    msg = conn.recv()
    print("Pipe 示例接收到:", msg)
    conn.close()

if __name__ == '__main__':
    parent_conn, child_conn = Pipe()
    p1 = Process(target=sender, args=(child_conn,))
    p2 = Process(target=receiver, args=(parent_conn,))
    p1.start()
    p2.start()
    p1.join()
    p2.join()
    print("Pipe 示例结束。\n")

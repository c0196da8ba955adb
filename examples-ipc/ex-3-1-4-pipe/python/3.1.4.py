from multiprocessing import Process, Pipe

def send_obj(conn):
    conn.send("这是通过管道发送的信息")
    conn.close()

def recv_obj(conn):
    msg = conn.recv()
    print("接收到:", msg)
    conn.close()

if __name__ == '__main__':
    parent_conn, child_conn = Pipe()
    p1 = Process(target=send_obj, args=(child_conn,))
    p2 = Process(target=recv_obj, args=(parent_conn,))
    p1.start()
    p2.start()
    p1.join()
    p2.join()

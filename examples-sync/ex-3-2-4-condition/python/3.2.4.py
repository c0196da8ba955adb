# Example 3.2.4 (ours: the tutorial describes it without a program). The Python that
# examples-sync/ex-3-2-4-condition/src/main.rs mirrors, run by `cargo xtask compare 3.2.4`.
from multiprocessing import Condition, Process, Value

def consumer(cond, items, num):
    with cond:
        cond.wait_for(lambda: items.value > 0)   # 释放锁并等待，被唤醒后重新获得锁
        items.value -= 1
        print(f"消费者 {num} 取走一件商品")

if __name__ == '__main__':
    cond = Condition()
    items = Value('i', 0)
    consumers = [Process(target=consumer, args=(cond, items, i)) for i in range(3)]
    for p in consumers:
        p.start()
    with cond:
        items.value += 3
        print("生产者：放入 3 件商品，通知所有消费者")
        cond.notify_all()
    for p in consumers:
        p.join()
    print("剩余商品:", items.value)

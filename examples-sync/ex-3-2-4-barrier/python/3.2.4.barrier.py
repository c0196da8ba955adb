# Example 3.2.4.barrier (ours: the tutorial describes it without a program). The Python that
# examples-sync/ex-3-2-4-barrier/src/main.rs mirrors, run by `cargo xtask compare 3.2.4.barrier`.
# flush=True: a child's stdout to a pipe is block-buffered, and the order of the lines is the point here.
from multiprocessing import Barrier, Process
from threading import BrokenBarrierError

def start_race():
    print("所有选手已就位，比赛开始！", flush=True)

def runner(barrier, num):
    print(f"选手 {num} 就位", flush=True)
    barrier.wait()
    print(f"选手 {num} 出发", flush=True)

if __name__ == '__main__':
    barrier = Barrier(3, action=start_race)
    runners = [Process(target=runner, args=(barrier, i)) for i in range(3)]
    for p in runners:
        p.start()
    for p in runners:
        p.join()

    lonely = Barrier(2, timeout=0.2)
    try:
        lonely.wait()
    except BrokenBarrierError:
        print("只有 1 名选手到场，等待超时，栅栏已破损:", lonely.broken, flush=True)

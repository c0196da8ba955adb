# 示例 5：Manager
from multiprocessing import Process, Manager

def update_dict(shared_dict, key, value):
    shared_dict[key] = value

if __name__ == '__main__':
    with Manager() as manager:
        shared_dict = manager.dict()
        processes = []
        for i in range(3):
            p = Process(target=update_dict, args=(shared_dict, f"key{i}", i))
            processes.append(p)
            p.start()
        for p in processes:
            p.join()
        print("Manager 示例共享字典:", dict(shared_dict))
    print("Manager 示例结束。\n")

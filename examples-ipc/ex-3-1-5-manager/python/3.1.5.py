from multiprocessing import Process, Manager

def worker(shared_dict, key, value):
    shared_dict[key] = value

if __name__ == '__main__':
    with Manager() as manager:
        shared_dict = manager.dict()
        processes = []
        for i in range(5):
            p = Process(target=worker, args=(shared_dict, f"key{i}", i))
            processes.append(p)
            p.start()
        for p in processes:
            p.join()
        print(shared_dict)

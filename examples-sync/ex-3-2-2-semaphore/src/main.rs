//! A `Semaphore(2)` lets at most two of four processes use a resource at once; a
//! `BoundedSemaphore` refuses a release past its initial value.
//!
//! Tutorial: 3 / 2.2 "Semaphore 和 BoundedSemaphore" (described without a program; this one
//! is ours). Run: `cargo run -p ex-3-2-2-semaphore`.
//!
//! The Python it mirrors:
//!
//! ```python
//! import time
//! from multiprocessing import BoundedSemaphore, Process, Semaphore, Value
//!
//! def worker(sem, inside, most, num):
//!     with sem:
//!         with inside.get_lock():
//!             inside.value += 1
//!             most.value = max(most.value, inside.value)
//!         print(f"进程 {num} 获得信号量，正在访问资源")
//!         time.sleep(0.3)
//!         with inside.get_lock():
//!             inside.value -= 1
//!         print(f"进程 {num} 访问结束，释放信号量")
//!
//! if __name__ == '__main__':
//!     sem = Semaphore(2)
//!     inside, most = Value('i', 0), Value('i', 0)
//!     processes = [Process(target=worker, args=(sem, inside, most, i)) for i in range(4)]
//!     for p in processes:
//!         p.start()
//!     for p in processes:
//!         p.join()
//!     print(f"同时访问资源的进程最多 {most.value} 个，信号量的值回到 {sem.get_value()}")
//!
//!     bounded = BoundedSemaphore(1)
//!     bounded.acquire()
//!     bounded.release()
//!     try:
//!         bounded.release()
//!     except ValueError:
//!         print("BoundedSemaphore：释放次数超过初始值，被拒绝")
//! ```
//!
//! The lines of the four workers come in the order they get the semaphore.
//!
//! Differences from the Python:
//! - `with sem:` is a block holding the guard `sem.acquire()`.
//!   中文：`with sem:` 对应一个持有守卫 `sem.acquire()` 的代码块。
//! - The refused release is an `Err` rather than a `ValueError`.
//!   中文：被拒绝的释放是一个 `Err`，而不是 `ValueError`。

use std::time::Duration;

use multiprocessing::{BoundedSemaphore, Process, Semaphore, Value};

fn worker((sem, inside, most, num): (Semaphore, Value<i32>, Value<i32>, u32)) {
    let _unit = sem.acquire(); // with sem:
    {
        let _guard = inside.get_lock().acquire();
        inside.set(inside.get() + 1);
        most.set(most.get().max(inside.get()));
    }
    println!("进程 {num} 获得信号量，正在访问资源");
    std::thread::sleep(Duration::from_millis(300));
    {
        let _guard = inside.get_lock().acquire();
        inside.set(inside.get() - 1);
    }
    println!("进程 {num} 访问结束，释放信号量");
}

fn main() -> anyhow::Result<()> {
    let sem = Semaphore::new(2)?;
    let (inside, most) = (Value::new(0)?, Value::new(0)?);
    let mut processes: Vec<Process> = (0..4)
        .map(|i| Process::new(worker, (sem.clone(), inside.clone(), most.clone(), i)))
        .collect();
    for p in &mut processes {
        p.start()?;
    }
    for p in &processes {
        p.join()?;
    }
    println!(
        "同时访问资源的进程最多 {} 个，信号量的值回到 {}",
        most.get(),
        sem.get_value()
    );

    let bounded = BoundedSemaphore::new(1)?;
    bounded.acquire().keep();
    bounded.release()?;
    if bounded.release().is_err() {
        println!("BoundedSemaphore：释放次数超过初始值，被拒绝");
    }
    Ok(())
}

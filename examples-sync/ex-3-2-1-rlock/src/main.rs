//! An `RLock` can be taken again by the process that holds it, without deadlock; another
//! process can neither take it nor release it until the holder has released every level.
//!
//! Tutorial: 3 / 2.1 "Lock 和 RLock" (the tutorial describes RLock without a program; this one
//! is ours). Run: `cargo run -p ex-3-2-1-rlock`.
//!
//! The Python it mirrors:
//!
//! ```python
//! from multiprocessing import Process, RLock
//!
//! def try_lock(lock):
//!     try:
//!         lock.release()
//!     except AssertionError:
//!         print("子进程：不能释放别人持有的 RLock")
//!     if lock.acquire(timeout=0.1):
//!         print("子进程：获取 RLock 成功")
//!         lock.release()
//!     else:
//!         print("子进程：RLock 被主进程持有，0.1 秒内获取失败")
//!
//! if __name__ == '__main__':
//!     lock = RLock()
//!     with lock:
//!         print("主进程：第一次获取 RLock")
//!         with lock:
//!             print("主进程：再次获取同一把 RLock，没有死锁")
//!             p = Process(target=try_lock, args=(lock,)); p.start(); p.join()
//!         print("主进程：释放一层，仍持有 RLock")
//!         p = Process(target=try_lock, args=(lock,)); p.start(); p.join()
//!     print("主进程：完全释放 RLock")
//!     p = Process(target=try_lock, args=(lock,)); p.start(); p.join()
//! ```
//!
//! Differences from the Python:
//! - `with lock:` is a block holding the guard `lock.acquire()`.
//!   中文：`with lock:` 对应一个持有守卫 `lock.acquire()` 的代码块。
//! - `acquire(timeout=0.1)` is `acquire_timeout(..)`, which returns `None` where Python returns
//!   `False`; a failed `release()` is an `Err` rather than an `AssertionError`.
//!   中文：`acquire(timeout=0.1)` 对应 `acquire_timeout(..)`，Python 返回 `False` 的地方它返
//!   回 `None`；释放失败是一个 `Err`，而不是 `AssertionError`。
//! - The three `p = Process(...); p.start(); p.join()` lines are one helper, `run_child`.
//!   中文：三处 `p = Process(...); p.start(); p.join()` 写成一个辅助函数 `run_child`。

use std::time::Duration;

use multiprocessing::{Process, RLock};

fn try_lock(lock: RLock) {
    if lock.release().is_err() {
        println!("子进程：不能释放别人持有的 RLock");
    }
    match lock.acquire_timeout(Duration::from_millis(100)) {
        Some(_guard) => println!("子进程：获取 RLock 成功"),
        None => println!("子进程：RLock 被主进程持有，0.1 秒内获取失败"),
    }
}

fn run_child(lock: &RLock) -> multiprocessing::Result<()> {
    let mut p = Process::new(try_lock, lock.clone());
    p.start()?;
    p.join()
}

fn main() -> anyhow::Result<()> {
    let lock = RLock::new()?;
    {
        let _outer = lock.acquire();
        println!("主进程：第一次获取 RLock");
        {
            let _inner = lock.acquire();
            println!("主进程：再次获取同一把 RLock，没有死锁");
            run_child(&lock)?;
        }
        println!("主进程：释放一层，仍持有 RLock");
        run_child(&lock)?;
    }
    println!("主进程：完全释放 RLock");
    run_child(&lock)?;
    Ok(())
}

//! Three consumers wait on a `Condition` until there are goods; a producer adds them and
//! notifies everyone.
//!
//! Tutorial: 3 / 2.4 "Condition" (described without a program; this one is ours).
//! Run: `cargo run -p ex-3-2-4-condition`.
//!
//! The Python it mirrors:
//!
//! ```python
//! from multiprocessing import Condition, Process, Value
//!
//! def consumer(cond, items, num):
//!     with cond:
//!         cond.wait_for(lambda: items.value > 0)   # 释放锁并等待，被唤醒后重新获得锁
//!         items.value -= 1
//!         print(f"消费者 {num} 取走一件商品")
//!
//! if __name__ == '__main__':
//!     cond = Condition()
//!     items = Value('i', 0)
//!     consumers = [Process(target=consumer, args=(cond, items, i)) for i in range(3)]
//!     for p in consumers:
//!         p.start()
//!     with cond:
//!         items.value += 3
//!         print("生产者：放入 3 件商品，通知所有消费者")
//!         cond.notify_all()
//!     for p in consumers:
//!         p.join()
//!     print("剩余商品:", items.value)
//! ```
//!
//! The consumers' lines come in whatever order they wake up.
//!
//! Differences from the Python:
//! - `with cond:` is a block holding the guard `cond.acquire()`.
//!   中文：`with cond:` 对应一个持有守卫 `cond.acquire()` 的代码块。
//! - `wait_for` takes the timeout as an `Option` (`None`: wait as long as it takes) and returns a
//!   `Result`: waiting without holding the lock is an error, not an exception.
//!   中文：`wait_for` 的超时是一个 `Option`（`None`：一直等下去），并返回 `Result`：不持有锁就等待
//!   是一个错误，而不是异常。

use multiprocessing::{Condition, Process, Value};

fn consumer((cond, items, num): (Condition, Value<i32>, u32)) {
    let _guard = cond.acquire(); // with cond:
    cond.wait_for(|| items.get() > 0, None).unwrap(); // 释放锁并等待，被唤醒后重新获得锁
    items.set(items.get() - 1);
    println!("消费者 {num} 取走一件商品");
}

fn main() -> anyhow::Result<()> {
    let cond = Condition::new()?;
    let items = Value::new(0)?;
    let mut consumers: Vec<Process> = (0..3)
        .map(|i| Process::new(consumer, (cond.clone(), items.clone(), i)))
        .collect();
    for p in &mut consumers {
        p.start()?;
    }
    {
        let _guard = cond.acquire();
        items.set(items.get() + 3);
        println!("生产者：放入 3 件商品，通知所有消费者");
        cond.notify_all()?;
    }
    for p in &consumers {
        p.join()?;
    }
    println!("剩余商品: {}", items.get());
    Ok(())
}

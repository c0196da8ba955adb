//! Several processes could update one counter and one array through shared memory; here one
//! child increments both.
//!
//! Tutorial: 5 / 示例 6 "共享内存 Value 和 Array". Run: `cargo run -p ex-5-6-value-array`.
//!
//! Differences from the Python:
//! - `Value('i', 0)` is `Value::new(0i32)`; `Array('i', [0, 1, 2])` is `Array::new(&[0i32, 1, 2])`.
//!   中文：`Value('i', 0)` 对应 `Value::new(0i32)`；`Array('i', [0, 1, 2])` 对
//!   应 `Array::new(&[0i32, 1, 2])`。
//! - `counter.value` is `counter.get()` / `counter.set(..)`, `numbers[i]` is `numbers.get(i)` /
//!   `numbers.set(i, ..)`, `list(numbers)` is `numbers.to_vec()`.
//!   中文：`counter.value` 对应 `counter.get()` / `counter.set(..)`，`numbers[i]` 对
//!   应 `numbers.get(i)` / `numbers.set(i, ..)`，`list(numbers)` 对应 `numbers.to_vec()`。
//! - `with val.get_lock():` is a block holding the guard `val.get_lock().acquire()`.
//!   中文：`with val.get_lock():` 对应一个持有守卫 `val.get_lock().acquire()` 的代码块。
//! - The arguments travel as one tuple, which the target takes apart in its parameter (a Rust
//!   target takes one value).
//!   中文：多个参数作为一个元组传递，目标函数在参数里把它拆开（Rust 的目标函数只接收一个值）。
//! - `print("...\n")` is `println!("...\n")`: both end in an empty line.
//!   中文：`print("...\n")` 对应 `println!("...\n")`：两者最后都多一个空行。

use multiprocessing::{Array, Process, Value};

fn increment((val, arr): (Value<i32>, Array<i32>)) {
    {
        let _guard = val.get_lock().acquire(); // 对 Value 进行加锁操作
        val.set(val.get() + 1);
    }
    for i in 0..arr.len() {
        arr.set(i, arr.get(i) + 1);
    }
}

fn main() -> anyhow::Result<()> {
    let counter = Value::new(0i32)?;
    let numbers = Array::new(&[0i32, 1, 2])?;
    let mut p = Process::new(increment, (counter.clone(), numbers.clone()));
    p.start()?;
    p.join()?;
    println!("共享 Value 示例: {}", counter.get());
    println!("共享 Array 示例: {:?}", numbers.to_vec());
    println!("共享内存示例结束。\n");
    Ok(())
}

//! A child increments a shared `Value` (under its lock) and every element of a shared `Array`;
//! the parent sees the changes.
//!
//! Tutorial: 3 / 1.6 "共享内存：Value 和 Array", 示例. Run: `cargo run -p ex-3-1-6-value-array`.
//!
//! Differences from the Python:
//! - The typecode is the Rust type: `Value('i', 0)` is `Value::new(0i32)`, `Array('i', [...])` is
//!   `Array::new(&[...])` of `i32`.
//!   中文：类型码就是 Rust 类型：`Value('i', 0)` 对应 `Value::new(0i32)`，`Array('i', [...])` 对
//!   应 `i32` 的 `Array::new(&[...])`。
//! - `val.value` is `val.get()` / `val.set(..)`, `arr[i]` is `arr.get(i)` / `arr.set(i, ..)`,
//!   `list(arr)` is `arr.to_vec()`.
//!   中文：`val.value` 对应 `val.get()` / `val.set(..)`，`arr[i]` 对
//!   应 `arr.get(i)` / `arr.set(i, ..)`，`list(arr)` 对应 `arr.to_vec()`。
//! - `with val.get_lock():` is a block holding the guard `val.get_lock().acquire()`.
//!   中文：`with val.get_lock():` 对应一个持有守卫 `val.get_lock().acquire()` 的代码块。
//! - The arguments travel as one tuple, which the target takes apart in its parameter (a Rust
//!   target takes one value).
//!   中文：多个参数作为一个元组传递，目标函数在参数里把它拆开（Rust 的目标函数只接收一个值）。

use multiprocessing::{Array, Process, Value};

fn worker((val, arr): (Value<i32>, Array<i32>)) {
    {
        let _guard = val.get_lock().acquire(); // with val.get_lock():
        val.set(val.get() + 1); //                    val.value += 1
    }
    for i in 0..arr.len() {
        arr.set(i, arr.get(i) + 1); // arr[i] += 1
    }
}

fn main() -> anyhow::Result<()> {
    let val = Value::new(0i32)?;
    let arr = Array::new(&[0i32, 1, 2, 3])?;
    let mut p = Process::new(worker, (val.clone(), arr.clone()));
    p.start()?;
    p.join()?;
    println!("共享变量: {}", val.get());
    println!("共享数组: {:?}", arr.to_vec());
    Ok(())
}

//! A child increments a shared `Value` (under its lock) and every element of a shared `Array`;
//! the parent sees the changes.
//!
//! Tutorial: 3 / 1.6 "共享内存：Value 和 Array", 示例. Run: `cargo run -p ex-3-1-6-value-array`.
//!
//! Differences from the Python:
//! - The typecode is the Rust type: `Value('i', 0)` is `Value::new(0i32)`, `Array('i', [...])`
//!   is `Array::new(&[...])` of `i32`.
//! - `val.value` is `val.get()` / `val.set(..)`, `arr[i]` is `arr.get(i)` / `arr.set(i, ..)`,
//!   `list(arr)` is `arr.to_vec()`.
//! - `with val.get_lock():` is a block holding the guard `val.get_lock().acquire()`.

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

fn main() -> multiprocessing::Result<()> {
    let val = Value::new(0i32)?;
    let arr = Array::new(&[0i32, 1, 2, 3])?;
    let mut p = Process::new(worker, (val.clone(), arr.clone()));
    p.start()?;
    p.join()?;
    println!("共享变量: {}", val.get());
    println!("共享数组: {:?}", arr.to_vec());
    Ok(())
}

//! A pool squares a list of numbers with `map`; the results are printed after the pool is gone.
//!
//! Tutorial: 5 / 示例 2 "使用 Pool 类". Run: `cargo run -p ex-5-2-pool`.
//!
//! Differences from the Python:
//! - `with Pool(processes=4) as pool:` is a block; `results` is declared before it so that it
//!   outlives the pool, as a Python variable outlives its `with`.
//! - `print("Pool 示例结果:", results)` puts one space between its arguments; `{results:?}`
//!   prints a `Vec` the way Python prints a list of numbers.

use multiprocessing::Pool;

fn square(x: i32) -> i32 {
    x * x
}

fn main() -> multiprocessing::Result<()> {
    let results;
    {
        let pool = Pool::new(4)?;
        let numbers = vec![1, 2, 3, 4, 5];
        results = pool.map(square, numbers)?;
    }
    println!("Pool 示例结果: {results:?}");
    println!("Pool 示例结束。\n");
    Ok(())
}

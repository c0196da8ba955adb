//! A pool squares a list of numbers with `map`; the results are printed after the pool is gone.
//!
//! Tutorial: 5 / 示例 2 "使用 Pool 类". Run: `cargo run -p ex-5-2-pool`.
//!
//! Differences from the Python:
//! - `with Pool(processes=4) as pool:` is a block; `results` is declared before it so that it
//!   outlives the pool, as a Python variable outlives its `with`.
//!   中文：`with Pool(processes=4) as pool:` 对应一个代码块；`results` 在块前声明，所以比进程池活得
//!   久，就像 Python 的变量在 `with` 结束后仍然可用。
//! - `print("Pool 示例结果:", results)` puts one space between its arguments; `{results:?}` prints a
//!   `Vec` the way Python prints a list of numbers.
//!   中文：`print("Pool 示例结果:", results)` 在参数之间加一个空格；`{results:?}` 打印 `Vec` 的样子
//!   和 Python 打印数字列表一样。

use multiprocessing::Pool;

fn square(x: i32) -> i32 {
    x * x
}

fn main() -> anyhow::Result<()> {
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

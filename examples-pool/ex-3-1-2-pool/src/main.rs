//! A pool of four workers squares five numbers with `map`.
//!
//! Tutorial: 3 / 1.2 "Pool 类", 示例. Run: `cargo run -p ex-3-1-2-pool`.
//!
//! Differences from the Python:
//! - `with Pool(processes=4) as pool:` is a block that owns the pool; leaving it drops the pool,
//!   which terminates the workers, as leaving the `with` does.
//!   中文：`with Pool(processes=4) as pool:` 对应一个拥有进程池的代码块；离开代码块时进程池
//!   被 drop，工作进程被终止，和离开 `with` 一样。
//! - `square` is a plain `fn`, and `map` returns a `Result`; `?` stands where Python would raise.
//!   中文：`square` 是普通的 `fn`，`map` 返回 `Result`；Python 会抛出异常的地方，Rust 写 `?`。
//! - There is no `if __name__ == '__main__':` guard: a forked worker never returns into `main`.
//!   中文：没有 `if __name__ == '__main__':` 保护：fork 出来的工作进程永远不会回到 `main`。

use multiprocessing::Pool;

fn square(x: i32) -> i32 {
    x * x
}

fn main() -> anyhow::Result<()> {
    {
        let pool = Pool::new(4)?;
        let results = pool.map(square, [1, 2, 3, 4, 5])?;
        println!("{results:?}");
    }
    Ok(())
}

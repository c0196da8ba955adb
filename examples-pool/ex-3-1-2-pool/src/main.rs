//! A pool of four workers squares five numbers with `map`.
//!
//! Tutorial: 3 / 1.2 "Pool 类", 示例. Run: `cargo run -p ex-3-1-2-pool`.
//!
//! Differences from the Python:
//! - `with Pool(processes=4) as pool:` is a block that owns the pool; leaving it drops the
//!   pool, which terminates the workers, as leaving the `with` does.
//! - `square` is a plain `fn`, and `map` returns a `Result`; `?` stands where Python would raise.
//! - There is no `if __name__ == '__main__':` guard: a forked worker never returns into `main`.

use multiprocessing::Pool;

fn square(x: i32) -> i32 {
    x * x
}

fn main() -> multiprocessing::Result<()> {
    {
        let pool = Pool::new(4)?;
        let results = pool.map(square, [1, 2, 3, 4, 5])?;
        println!("{results:?}");
    }
    Ok(())
}

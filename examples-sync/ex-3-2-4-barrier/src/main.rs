//! Three runners wait at a `Barrier`; when the last arrives, the barrier's action announces
//! the start and all three go. A barrier nobody else reaches times out and breaks.
//!
//! Tutorial: 3 / 2.4 (beyond the tutorial: `Barrier` is the synchronization primitive it does
//! not mention). Run: `cargo run -p ex-3-2-4-barrier`.
//!
//! The Python it mirrors:
//!
//! ```python
//! from multiprocessing import Barrier, Process
//! from threading import BrokenBarrierError
//!
//! def start_race():
//!     print("所有选手已就位，比赛开始！")
//!
//! def runner(barrier, num):
//!     print(f"选手 {num} 就位")
//!     barrier.wait()
//!     print(f"选手 {num} 出发")
//!
//! if __name__ == '__main__':
//!     barrier = Barrier(3, action=start_race)
//!     runners = [Process(target=runner, args=(barrier, i)) for i in range(3)]
//!     for p in runners:
//!         p.start()
//!     for p in runners:
//!         p.join()
//!
//!     lonely = Barrier(2, timeout=0.2)
//!     try:
//!         lonely.wait()
//!     except BrokenBarrierError:
//!         print("只有 1 名选手到场，等待超时，栅栏已破损:", lonely.broken)
//! ```
//!
//! The runners' lines come in whatever order they run; the action's line always comes after
//! every "就位" and before every "出发".
//!
//! Differences from the Python:
//! - `Barrier(3, action=start_race)` is `Barrier::new(3)?.with_action(start_race)`, and
//!   `timeout=0.2` is `.with_timeout(..)`.
//!   中文：`Barrier(3, action=start_race)` 对应 `Barrier::new(3)?.with_action(start_race)`，
//!   `timeout=0.2` 对应 `.with_timeout(..)`。
//! - `BrokenBarrierError` is `Err(Error::BrokenBarrier)`; `py_repr` prints `True` as Python does.
//!   中文：`BrokenBarrierError` 对应 `Err(Error::BrokenBarrier)`；`py_repr` 像 Python 一样打
//!   印 `True`。

use std::time::Duration;

use multiprocessing::{Barrier, Error, Process, py_repr};

fn start_race() {
    println!("所有选手已就位，比赛开始！");
}

fn runner((barrier, num): (Barrier, u32)) {
    println!("选手 {num} 就位");
    barrier.wait().unwrap();
    println!("选手 {num} 出发");
}

fn main() -> anyhow::Result<()> {
    let barrier = Barrier::new(3)?.with_action(start_race);
    let mut runners: Vec<Process> = (0..3)
        .map(|i| Process::new(runner, (barrier.clone(), i)))
        .collect();
    for p in &mut runners {
        p.start()?;
    }
    for p in &runners {
        p.join()?;
    }

    let lonely = Barrier::new(2)?.with_timeout(Duration::from_millis(200));
    if let Err(Error::BrokenBarrier) = lonely.wait() {
        println!(
            "只有 1 名选手到场，等待超时，栅栏已破损: {}",
            py_repr(&lonely.broken())
        );
    }
    Ok(())
}

//! A pool that is slower than a plain loop, because each task is tiny; with options for the
//! tutorial's two fixes, and a sweep that finds where the pool starts to win.
//!
//! Tutorial: 6 "pool多进程耗时更高情况" (and its 方案 1, 方案 2, 5 对比实验).
//! Run: `cargo run -p ex-6-slow-pool [-- --heavier] [--chunked] [--tasks N] [--sweep]`.
//! - `--heavier`: 方案 1, a `square` that loops 1,000,000 times (5 对比实验 uses 1,000; the
//!   sweep covers both).
//! - `--chunked`: 方案 2, `pool.map(square, numbers, chunksize=25)`.
//! - `--tasks N`: N numbers instead of 100.
//! - `--sweep`: measures the loop against the pool (chunksize 1, CPython's default, and 25)
//!   over task sizes from 1 to 1,000,000 iterations, prints the table and writes an SVG plot.
//!   Use a release build for meaningful numbers: `cargo run --release -p ex-6-slow-pool -- --sweep`.
//!
//! Differences from the Python:
//! - Python's integers grow without bound, so the tutorial's heavier `x = x * x` loop never
//!   finishes for any `x >= 2` (the number doubles its digits each round). We multiply modulo
//!   2^64 (`wrapping_mul`), which keeps every round equally costly; the heavier results are
//!   therefore not Python's.
//! - Rust would compute a loop of unused `x * x` at compile time, or drop it; `black_box`
//!   keeps the work real, in the pool and in the loop alike.
//! - `time.perf_counter()` is `Instant::now()`; times print as seconds, as Python's floats do.

use std::hint::black_box;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use multiprocessing::{default_chunksize, Pool};

fn square(x: u64) -> u64 {
    black_box(x * x)
}

/// 方案 1: "增加单个任务的计算量".
fn square_heavier(x: u64) -> u64 {
    let mut x = x;
    for _ in 0..1_000_000 {
        x = black_box(x.wrapping_mul(x));
    }
    x
}

struct Options {
    heavier: bool,
    chunked: bool,
    tasks: u64,
    sweep: bool,
}

fn parse_options() -> Result<Options, String> {
    let mut options = Options {
        heavier: false,
        chunked: false,
        tasks: 100,
        sweep: false,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--heavier" => options.heavier = true,
            "--chunked" => options.chunked = true,
            "--sweep" => options.sweep = true,
            "--tasks" => {
                let n = args.next().ok_or("--tasks needs a number")?;
                options.tasks = n.parse().map_err(|e| format!("--tasks {n}: {e}"))?;
            }
            other => {
                return Err(format!(
                    "unknown option {other}; use --heavier, --chunked, --tasks N or --sweep"
                ))
            }
        }
    }
    Ok(options)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let options = parse_options()?;
    if options.sweep {
        return sweep();
    }
    let square: fn(u64) -> u64 = if options.heavier { square_heavier } else { square };

    let numbers: Vec<u64> = (0..options.tasks).collect();
    let results;
    {
        let pool = Pool::new(4)?;

        let now = Instant::now();
        results = if options.chunked {
            pool.map_chunked(square, numbers.iter().copied(), 25)?
        } else {
            pool.map(square, numbers.iter().copied())?
        };
        println!("多进程耗时:{}", now.elapsed().as_secs_f64());
    }

    let now = Instant::now();
    for &i in &numbers {
        black_box(square(black_box(i)));
    }
    println!("单进程耗时:{}", now.elapsed().as_secs_f64());

    println!("Pool 示例结果:  {results:?}");
    println!("Pool 示例结束.");
    Ok(())
}

// --------------------------------------------------------------------------------------------
// The sweep: where does the pool start to win?

/// A task of `iterations` rounds of the heavier square's loop.
fn spin((x, iterations): (u64, u64)) -> u64 {
    let mut x = x;
    for _ in 0..iterations {
        x = black_box(x.wrapping_mul(x));
    }
    x
}

/// The best of `runs` timings of `f` (the minimum is the least disturbed by other processes).
fn best_of(runs: usize, mut f: impl FnMut()) -> Duration {
    (0..runs)
        .map(|_| {
            let now = Instant::now();
            f();
            now.elapsed()
        })
        .min()
        .unwrap_or_default()
}

fn sweep() -> Result<(), Box<dyn std::error::Error>> {
    const TASKS: u64 = 100;
    const RUNS: usize = 3;
    let sizes: [u64; 7] = [1, 10, 100, 1_000, 10_000, 100_000, 1_000_000];
    let chunksizes = [1, default_chunksize(TASKS as usize, 4), 25];

    println!("{TASKS} 个任务, Pool(4), 每格取 {RUNS} 次中最快的一次 (秒)");
    println!(
        "{:>10} | {:>10} | {:>12} | {:>12} | {:>12} | 最快",
        "迭代次数",
        "单进程",
        "chunksize=1",
        format!("chunksize={}", chunksizes[1]),
        "chunksize=25"
    );
    let pool = Pool::new(4)?;
    let mut rows = Vec::new();
    for &size in &sizes {
        let inputs: Vec<(u64, u64)> = (0..TASKS).map(|x| (x, size)).collect();
        let single = best_of(RUNS, || {
            for &input in &inputs {
                black_box(spin(black_box(input)));
            }
        });
        let mut pooled = Vec::new();
        for &chunksize in &chunksizes {
            let mut failure = None;
            let t = best_of(RUNS, || {
                if let Err(e) = pool.map_chunked(spin, inputs.iter().copied(), chunksize) {
                    failure = Some(e);
                }
            });
            if let Some(e) = failure {
                return Err(e.into());
            }
            pooled.push(t);
        }
        let all = [single, pooled[0], pooled[1], pooled[2]];
        let names = [
            "单进程".to_string(),
            "chunksize=1".to_string(),
            format!("chunksize={}", chunksizes[1]),
            "chunksize=25".to_string(),
        ];
        let fastest = (0..4).min_by_key(|&i| all[i]).unwrap_or(0);
        println!(
            "{:>10} | {:>10.6} | {:>12.6} | {:>12.6} | {:>12.6} | {}",
            size,
            single.as_secs_f64(),
            pooled[0].as_secs_f64(),
            pooled[1].as_secs_f64(),
            pooled[2].as_secs_f64(),
            names[fastest]
        );
        rows.push((size, all));
    }
    drop(pool);

    let path = plot_path();
    plot(&path, &rows, &chunksizes)?;
    println!("图: {}", path.display());
    Ok(())
}

/// `0.0001` as `100µs`: tick labels a reader can take in at a glance.
fn human_seconds(secs: f64) -> String {
    match secs {
        s if s >= 1.0 => format!("{s:.0}s"),
        s if s >= 1e-3 => format!("{:.0}ms", s * 1e3),
        s if s >= 1e-6 => format!("{:.0}µs", s * 1e6),
        s => format!("{:.0}ns", s * 1e9),
    }
}

/// `target/ex-6-sweep.svg` of this workspace (or of `CARGO_TARGET_DIR`).
fn plot_path() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target"));
    let _ = std::fs::create_dir_all(&target);
    // `.../examples-pool/ex-6-slow-pool/../../target` reads better as `.../target`.
    std::fs::canonicalize(&target)
        .unwrap_or(target)
        .join("ex-6-sweep.svg")
}

fn plot(
    path: &PathBuf,
    rows: &[(u64, [Duration; 4])],
    chunksizes: &[usize; 3],
) -> Result<(), Box<dyn std::error::Error>> {
    use plotters::prelude::*;

    let secs: Vec<f64> = rows
        .iter()
        .flat_map(|(_, all)| all.iter().map(|d| d.as_secs_f64().max(1e-7)))
        .collect();
    let low = secs.iter().copied().fold(f64::INFINITY, f64::min) / 2.0;
    let high = secs.iter().copied().fold(0.0, f64::max) * 2.0;
    let max_size = rows.last().map_or(1_000_000, |(s, _)| *s) as f64;

    let root = SVGBackend::new(path, (900, 560)).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .caption("Pool(4) 与单进程: 100 个任务 (教程第 6 节)", ("sans-serif", 22))
        .margin(15)
        .margin_right(50)
        .x_label_area_size(45)
        .y_label_area_size(70)
        .build_cartesian_2d((1f64..max_size).log_scale(), (low..high).log_scale())?;
    chart
        .configure_mesh()
        .x_desc("每个任务的迭代次数")
        .y_desc("耗时")
        .x_label_formatter(&|v| format!("{v:.0}"))
        .y_label_formatter(&|v| human_seconds(*v))
        .draw()?;

    let names = [
        "单进程".to_string(),
        "Pool chunksize=1".to_string(),
        format!("Pool chunksize={} (默认)", chunksizes[1]),
        "Pool chunksize=25".to_string(),
    ];
    let colors = [BLACK, RED, BLUE, GREEN];
    for (i, (name, color)) in names.iter().zip(colors).enumerate() {
        let points: Vec<(f64, f64)> = rows
            .iter()
            .map(|(s, all)| (*s as f64, all[i].as_secs_f64().max(1e-7)))
            .collect();
        chart
            .draw_series(LineSeries::new(points.clone(), color.stroke_width(2)))?
            .label(name.as_str())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2)));
        chart.draw_series(points.into_iter().map(|p| Circle::new(p, 3, color.filled())))?;
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK)
        .draw()?;
    root.present()?;
    Ok(())
}

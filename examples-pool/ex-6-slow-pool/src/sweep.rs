//! `--sweep`: where does the pool start to win, in Rust and in CPython?
//!
//! The tutorial's 5 对比实验 says that at 1,000 iterations per task the pool wins (单进程 about
//! 1 s, 多进程 about 0.3 s). This measures it: 100 tasks on one `Pool(4)`, each `x = x * x`
//! modulo 2^64 repeated 1 to 1,000,000 times, the loop against `map` with chunksize 1, CPython's
//! default (7) and 25, each cell the best of three runs. The same sweep runs in CPython
//! (`measure/sweep.py`, the same tasks, pool and chunksizes) when `python3` is on the PATH, up
//! to 100,000 iterations: at 1,000,000 one Python run of the loop takes seconds.
//!
//! It prints a Markdown table (`| 语言 | 迭代次数 | ... |`, times with units), one line per
//! language on the 1,000-iteration claim, and writes the plot as SVG.

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use multiprocessing::{Pool, default_chunksize};

const TASKS: u64 = 100;
const RUNS: usize = 3;
const SIZES: [u64; 7] = [1, 10, 100, 1_000, 10_000, 100_000, 1_000_000];
/// CPython's sweep stops here: its loop of 100 tasks of 1,000,000 rounds takes seconds a run.
const PYTHON_MAX_SIZE: u64 = 100_000;
/// The tutorial's 5 对比实验.
const CLAIM_SIZE: u64 = 1_000;

/// One row: a task size and the best time of the loop, then of the pool at each chunksize.
struct Row {
    size: u64,
    times: [Duration; 4],
}

/// A task of `iterations` rounds of the heavier square's loop.
fn spin((x, iterations): (u64, u64)) -> u64 {
    let mut x = x;
    for _ in 0..iterations {
        x = black_box(x.wrapping_mul(x));
    }
    x
}

/// `target/ex-6-sweep.svg` of this workspace (or of `CARGO_TARGET_DIR`).
pub fn default_svg_path() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target"));
    // `.../examples-pool/ex-6-slow-pool/../../target` reads better as `.../target`.
    let _ = std::fs::create_dir_all(&target);
    std::fs::canonicalize(&target)
        .unwrap_or(target)
        .join("ex-6-sweep.svg")
}

/// The best of `runs` timings of `f` (the minimum is the least disturbed by other processes).
fn best_of(runs: usize, mut f: impl FnMut() -> anyhow::Result<()>) -> anyhow::Result<Duration> {
    let mut best = Duration::MAX;
    for _ in 0..runs {
        let now = Instant::now();
        f()?;
        best = best.min(now.elapsed());
    }
    Ok(best)
}

pub fn main(svg: &Path) -> anyhow::Result<()> {
    let chunksizes = [1, default_chunksize(TASKS as usize, 4), 25];
    let rust = rust_sweep(&chunksizes)?;
    let python = python_sweep()?;

    println!(
        "{TASKS} 个任务, Pool(4), 每个任务: x = x * x mod 2^64 重复「迭代次数」次; 每格取 {RUNS} 次中最快的一次"
    );
    println!(
        "| 语言 | 迭代次数 | 单进程 | chunksize={} | chunksize={} (默认) | chunksize={} | 最快 |",
        chunksizes[0], chunksizes[1], chunksizes[2]
    );
    println!("| --- | ---: | ---: | ---: | ---: | ---: | --- |");
    let names: Vec<String> = std::iter::once("单进程".to_string())
        .chain(chunksizes.iter().map(|c| format!("chunksize={c}")))
        .collect();
    for (language, rows) in [("Rust", &rust), ("Python", &python)] {
        for row in rows {
            let fastest = (0..4).min_by_key(|&i| row.times[i]).unwrap_or(0);
            let cells: Vec<String> = row.times.iter().map(|&t| human(t)).collect();
            println!(
                "| {language} | {} | {} | {} |",
                row.size,
                cells.join(" | "),
                names[fastest]
            );
        }
    }
    for (language, rows) in [("Rust", &rust), ("Python", &python)] {
        if let Some(row) = rows.iter().find(|r| r.size == CLAIM_SIZE) {
            println!("{}", claim(language, row, &names));
        }
    }
    if python.is_empty() {
        println!("python3 不在 PATH 上: 只测了 Rust");
    }
    plot(svg, &rust, &python, &chunksizes).with_context(|| format!("drawing {}", svg.display()))?;
    println!("图: {}", svg.display());
    Ok(())
}

fn rust_sweep(chunksizes: &[usize; 3]) -> anyhow::Result<Vec<Row>> {
    let pool = Pool::new(4)?;
    let mut rows = Vec::new();
    for size in SIZES {
        let inputs: Vec<(u64, u64)> = (0..TASKS).map(|x| (x, size)).collect();
        let single = best_of(RUNS, || {
            for &input in &inputs {
                black_box(spin(black_box(input)));
            }
            Ok(())
        })?;
        let mut times = [single; 4];
        for (i, &chunksize) in chunksizes.iter().enumerate() {
            times[i + 1] = best_of(RUNS, || {
                pool.map_chunked(spin, inputs.iter().copied(), chunksize)?;
                Ok(())
            })?;
        }
        rows.push(Row { size, times });
    }
    Ok(rows)
}

/// Runs `measure/sweep.py` (the same sweep in CPython); no rows when `python3` is missing.
fn python_sweep() -> anyhow::Result<Vec<Row>> {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/measure/sweep.py");
    let sizes = SIZES
        .iter()
        .filter(|&&s| s <= PYTHON_MAX_SIZE)
        .map(u64::to_string);
    let output = match Command::new("python3").arg(script).args(sizes).output() {
        Ok(output) => output,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e).context("starting python3"),
    };
    if !output.status.success() {
        bail!(
            "python3 {script} failed ({}):\n{}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
    }
    // Each line: the size, then the loop's and the three pools' best times in seconds.
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|line| {
            let fields: Vec<&str> = line.split('\t').collect();
            let [size, times @ ..] = fields.as_slice() else {
                bail!("an empty line")
            };
            let times: Vec<Duration> = times
                .iter()
                .map(|t| t.parse::<f64>().map(Duration::from_secs_f64))
                .collect::<Result<_, _>>()
                .with_context(|| format!("reading `{line}` from {script}"))?;
            let times: [Duration; 4] = times
                .try_into()
                .map_err(|_| anyhow::anyhow!("`{line}` from {script} has not 5 fields"))?;
            Ok(Row {
                size: size.parse()?,
                times,
            })
        })
        .collect()
}

/// The verdict on the tutorial's claim, for one language's row at 1,000 iterations.
fn claim(language: &str, row: &Row, names: &[String]) -> String {
    let single = row.times[0];
    let (best, name) = (1..4)
        .map(|i| (row.times[i], &names[i]))
        .min()
        .unwrap_or((single, &names[0]));
    let ratio = single.as_secs_f64() / best.as_secs_f64();
    // Within 15% the order is noise on a busy machine: say so instead of naming a winner.
    let verdict = if (1.0 / 1.15..1.15).contains(&ratio) {
        format!("两者相当 (相差 {:.0}%)", (ratio - 1.0).abs() * 100.0)
    } else if ratio > 1.0 {
        format!("Pool 更快, 是单进程的 {ratio:.1} 倍")
    } else {
        format!("单进程更快, 是 Pool 的 {:.1} 倍", 1.0 / ratio)
    };
    format!(
        "{CLAIM_SIZE} 次迭代 (教程 5 对比实验): {language} 单进程 {}, 最快的 Pool {} ({name}): {verdict}",
        human(single),
        human(best)
    )
}

/// `0.000123` s as `123 µs`: three significant digits and a unit a reader takes in at a glance.
fn human(d: Duration) -> String {
    let s = d.as_secs_f64();
    let (value, unit) = match s {
        s if s >= 1.0 => (s, "s"),
        s if s >= 1e-3 => (s * 1e3, "ms"),
        s if s >= 1e-6 => (s * 1e6, "µs"),
        s => (s * 1e9, "ns"),
    };
    let decimals = if value >= 100.0 {
        0
    } else if value >= 10.0 {
        1
    } else {
        2
    };
    format!("{value:.decimals$} {unit}")
}

/// Two panels side by side, Rust and CPython, on the same logarithmic axes.
fn plot(path: &Path, rust: &[Row], python: &[Row], chunksizes: &[usize; 3]) -> anyhow::Result<()> {
    use plotters::prelude::*;

    let secs = |rows: &[Row]| -> Vec<f64> {
        rows.iter()
            .flat_map(|r| r.times.iter().map(|d| d.as_secs_f64().max(1e-7)))
            .collect::<Vec<_>>()
    };
    let all: Vec<f64> = secs(rust).into_iter().chain(secs(python)).collect();
    let low = all.iter().copied().fold(f64::INFINITY, f64::min) / 2.0;
    let high = all.iter().copied().fold(0.0, f64::max) * 2.0;
    let max_size = SIZES[SIZES.len() - 1] as f64;

    let root = SVGBackend::new(path, (1100, 520)).into_drawing_area();
    root.fill(&WHITE)?;
    let root = root.titled(
        &format!("{TASKS} 个任务, Pool(4) 与单进程 (教程第 6 节): 每个任务 x = x * x mod 2^64"),
        ("sans-serif", 20),
    )?;
    let panels = root.split_evenly((1, 2));
    let names = [
        "单进程".to_string(),
        format!("Pool chunksize={}", chunksizes[0]),
        format!("Pool chunksize={} (默认)", chunksizes[1]),
        format!("Pool chunksize={}", chunksizes[2]),
    ];
    let colors = [BLACK, RED, BLUE, GREEN];
    for (panel, (title, rows)) in panels.iter().zip([("Rust", rust), ("CPython 3", python)]) {
        let mut chart = ChartBuilder::on(panel)
            .caption(title, ("sans-serif", 18))
            .margin(12)
            .margin_right(30)
            .x_label_area_size(45)
            .y_label_area_size(70)
            .build_cartesian_2d((1f64..max_size).log_scale(), (low..high).log_scale())?;
        chart
            .configure_mesh()
            .x_desc("每个任务的迭代次数")
            .y_desc("耗时")
            .x_label_formatter(&|v| format!("{v:.0}"))
            .y_label_formatter(&|v| human(Duration::from_secs_f64(*v)))
            .draw()?;
        if rows.is_empty() {
            continue;
        }
        for (i, (name, color)) in names.iter().zip(colors).enumerate() {
            let points: Vec<(f64, f64)> = rows
                .iter()
                .map(|r| (r.size as f64, r.times[i].as_secs_f64().max(1e-7)))
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
    }
    root.present()?;
    Ok(())
}

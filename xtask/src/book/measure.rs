//! The measurements of sections 6-8, read from what the examples print, as HTML.
//!
//! - 6: `ex-6-slow-pool --sweep` (its `sweep.rs`, which runs `measure/sweep.py` for CPython)
//!   prints a Markdown table with a row per language and task size, and draws the SVG plot.
//! - 7: example 7 and its Python print the message counts as Markdown tables.
//! - 8: `ex-8-one-pid --repeat N --start-method M` and `measure/repeat.py N M` print how many of
//!   N runs used 1, 2, 3 and 4 worker PIDs.

use super::html::{bi, escape, heading, tables};
use anyhow::{Context, bail};
use std::fmt::Write as _;

/// The tutorial's 5 对比实验 size.
pub const CLAIM_SIZE: u64 = 1_000;

/// One row of the sweep: a language, a task size, and the best times of the loop and the pools.
#[derive(Debug, Clone, PartialEq)]
pub struct SweepRow {
    pub lang: String,
    pub size: u64,
    /// Seconds: the loop, then chunksize 1, the default and 25.
    pub seconds: [f64; 4],
    /// The same as printed (`76.8 µs`).
    pub cells: [String; 4],
}

/// The sweep's rows from its output.
pub fn parse_sweep(stdout: &str) -> anyhow::Result<Vec<SweepRow>> {
    let mut rows = Vec::new();
    for line in stdout.lines() {
        let cells: Vec<&str> = line.trim().trim_matches('|').split('|').map(str::trim).collect();
        if !matches!(cells.first(), Some(&("Rust" | "Python"))) {
            continue;
        }
        let [lang, size, a, b, c, d, ..] = cells.as_slice() else {
            bail!("a sweep row with too few cells: `{line}`");
        };
        let cells = [*a, *b, *c, *d].map(str::to_string);
        let mut seconds = [0.0; 4];
        for (s, cell) in seconds.iter_mut().zip(&cells) {
            *s = parse_time(cell).with_context(|| format!("reading the sweep row `{line}`"))?;
        }
        rows.push(SweepRow {
            lang: lang.to_string(),
            size: size.parse()?,
            seconds,
            cells,
        });
    }
    if rows.is_empty() {
        bail!("the sweep printed no rows:\n{stdout}");
    }
    Ok(rows)
}

/// `76.8 µs` as seconds.
fn parse_time(cell: &str) -> anyhow::Result<f64> {
    let (value, unit) = cell
        .split_once(' ')
        .with_context(|| format!("`{cell}` is not a time"))?;
    let scale = match unit {
        "s" => 1.0,
        "ms" => 1e-3,
        "µs" => 1e-6,
        "ns" => 1e-9,
        _ => bail!("`{cell}` has an unknown unit"),
    };
    Ok(value.parse::<f64>()? * scale)
}

/// Section 6's measurements: the plot, the table, and what happens at 1,000 iterations.
pub fn sweep_html(rows: &[SweepRow], svg: &str, chunk_names: [&str; 3]) -> String {
    let mut out = String::from("<section class=\"measure\" id=\"measure-6\">");
    out.push_str(&heading(
        "h2",
        "测量：进程池从哪里开始赢",
        "Measured: where the pool starts to win",
    ));
    out.push_str(&bi(
        "p",
        "100 个任务，一个 `Pool(4)`；每个任务把 `x = x * x`（模 2^64）重复「迭代次数」次，和第 6 节方案 1 的两边程序一样。每一格是 3 次运行中最快的一次：单进程循环，以及 chunksize 为 1、默认值和 25 的 `pool.map`。计时从进程池建好之后开始，和教程的程序一样。CPython 只测到 100,000 次迭代：再往上，它的一次单进程循环就要好几秒。",
        "100 tasks on one `Pool(4)`; each task repeats `x = x * x` (modulo 2^64) for the given number of iterations, as both programs of section 6's 方案 1 do. Each cell is the best of 3 runs: the plain loop, and `pool.map` with chunksize 1, the default and 25. The clock starts once the pool is up, as in the tutorial's program. CPython stops at 100,000 iterations: beyond, one run of its loop takes seconds.",
    ));
    let _ = write!(
        out,
        "<figure><img src=\"{svg}\" alt=\"sweep plot\"><figcaption>{}</figcaption></figure>",
        bi(
            "span",
            "左：Rust；右：CPython。两个坐标轴都是对数刻度；线越低越快。",
            "Left: Rust; right: CPython. Both axes are logarithmic; lower is faster."
        )
    );
    for lang in ["Rust", "Python"] {
        if let Some(row) = rows.iter().find(|r| r.lang == lang && r.size == CLAIM_SIZE) {
            out.push_str(&claim(row, chunk_names));
        }
    }
    out.push_str("<table><tr><th>");
    out.push_str(&bi("span", "语言", "language"));
    out.push_str("</th><th>");
    out.push_str(&bi("span", "迭代次数", "iterations"));
    out.push_str("</th><th>");
    out.push_str(&bi("span", "单进程", "loop"));
    for name in chunk_names {
        let _ = write!(out, "</th><th>Pool {}", escape(name));
    }
    out.push_str("</th></tr>");
    for row in rows {
        let fastest = (0..4)
            .min_by(|&a, &b| row.seconds[a].total_cmp(&row.seconds[b]))
            .unwrap_or(0);
        let _ = write!(
            out,
            "<tr><td>{}</td><td class=\"num\">{}</td>",
            escape(&row.lang),
            row.size
        );
        for (i, cell) in row.cells.iter().enumerate() {
            let class = if i == fastest { "num best" } else { "num" };
            let _ = write!(out, "<td class=\"{class}\">{}</td>", escape(cell));
        }
        out.push_str("</tr>");
    }
    out.push_str("</table>");
    out.push_str(&bi(
        "p class=\"aside\"",
        "粗体是每一行最快的一格。",
        "Bold: the fastest cell of each row.",
    ));
    out.push_str("</section>");
    out
}

/// What happened at 1,000 iterations, in both languages' words.
fn claim(row: &SweepRow, chunk_names: [&str; 3]) -> String {
    let single = row.seconds[0];
    let (best_at, best) = (1..4)
        .map(|i| (i, row.seconds[i]))
        .min_by(|a, b| a.1.total_cmp(&b.1))
        .unwrap_or((1, single));
    let ratio = single / best;
    let lang = if row.lang == "Python" { "CPython" } else { "Rust" };
    let pool = format!("Pool {}", chunk_names[best_at - 1]);
    let (zh, en) = if (1.0 / 1.15..1.15).contains(&ratio) {
        (
            "两者相当（相差不到 15%，在繁忙的机器上分不出胜负）".to_string(),
            "about the same (within 15%: no winner on a busy machine)".to_string(),
        )
    } else if ratio > 1.0 {
        (
            format!("进程池更快，是单进程的 {ratio:.1} 倍"),
            format!("the pool wins, {ratio:.1} times as fast"),
        )
    } else {
        (
            format!("单进程更快，是进程池的 {:.1} 倍", 1.0 / ratio),
            format!("the loop wins, {:.1} times as fast", 1.0 / ratio),
        )
    };
    bi(
        "p class=\"claim\"",
        &format!(
            "{lang}，1,000 次迭代（教程「5 对比实验」说这时进程池会赢）：单进程 {}，最快的进程池 {} {}：{zh}。",
            row.cells[0], pool, row.cells[best_at]
        ),
        &format!(
            "{lang}, 1,000 iterations (where the tutorial's 5 对比实验 says the pool wins): the loop {}, the fastest pool ({pool}) {}: {en}.",
            row.cells[0], row.cells[best_at]
        ),
    )
}

/// Section 7's measurements: both sides' tables of message counts.
pub fn counts_html(rust: &str, python: &str) -> String {
    let mut out = String::from("<section class=\"measure\" id=\"measure-7\">");
    out.push_str(&heading(
        "h2",
        "测量：真实的消息数",
        "Measured: the real message counts",
    ));
    out.push_str(&bi(
        "p",
        "这是示例 7 两边程序在构建本书时打印的表。Rust 的数字来自进程池自己的计数器（`Pool::stats`）；CPython 的进程池没有计数器，Python 程序用一个 `Pool` 子类在父进程收发消息的地方计数。字节数不同：CPython 用 pickle 编码，Rust 用 postcard 加一个小头部。「教程的表」一列是教程给出的总数。",
        "These are the tables both programs of example 7 printed when this book was built. Rust's numbers come from the pool's own counters (`Pool::stats`); CPython's pool has none, so the Python program counts with a `Pool` subclass where the parent sends and receives messages. The bytes differ: CPython pickles, Rust encodes with postcard and a small header. The column 教程的表 is the tutorial's total.",
    ));
    out.push_str("<div class=\"pair tables\"><div class=\"side py\"><div class=\"title\"><span class=\"lang\">CPython</span></div>");
    out.push_str(&tables(python));
    out.push_str("</div><div class=\"side rs\"><div class=\"title\"><span class=\"lang\">Rust</span></div>");
    out.push_str(&tables(rust));
    out.push_str("</div></div></section>");
    out
}

/// How many of the runs used 1, 2, 3 and 4 PIDs (index 1 to 4), and how many runs.
pub fn parse_rates(stdout: &str) -> anyhow::Result<(u32, [u32; 5])> {
    let mut counts = [0; 5];
    let mut runs = 0;
    for line in stdout.lines() {
        if let Some((n, _)) = line.split_once(" 次运行中") {
            runs = n.trim().parse()?;
        }
        // "  用了 2 个进程: 3 次 (15%)"
        if let Some(rest) = line.trim().strip_prefix("用了 ") {
            let (k, rest) = rest
                .split_once(" 个进程: ")
                .context("a line `用了 K 个进程: N 次`")?;
            let (n, _) = rest.split_once(' ').context("a line `用了 K 个进程: N 次`")?;
            let k: usize = k.parse()?;
            *counts.get_mut(k).context("at most 4 processes")? = n.parse()?;
        }
    }
    if runs == 0 {
        bail!("no `N 次运行中` line in:\n{stdout}");
    }
    Ok((runs, counts))
}

/// One start method's rates, Rust's and CPython's.
pub struct Rates {
    pub method: &'static str,
    pub rust: (u32, [u32; 5]),
    pub python: (u32, [u32; 5]),
}

/// Section 8's measurements: how often one PID ran all ten tasks, per start method.
pub fn rates_html(rates: &[Rates]) -> String {
    let mut out = String::from("<section class=\"measure\" id=\"measure-8\">");
    out.push_str(&heading(
        "h2",
        "测量：一个进程包揽全部任务的比例",
        "Measured: how often one process runs every task",
    ));
    let runs = rates.first().map_or(0, |r| r.rust.0);
    out.push_str(&bi(
        "p",
        &format!("第 8 节第一个程序（10 个轻任务，`Pool(4)`，默认 chunksize）各运行 {runs} 次，每次一个新的进程池，按启动方式分别统计：10 个任务用了几个不同的工作进程 PID。Rust 由 `cargo run -p ex-8-one-pid -- --repeat {runs} --start-method M` 测得，CPython 由 `examples-pool/ex-8-one-pid/measure/repeat.py` 测得。"),
        &format!("Section 8's first program (10 light tasks, `Pool(4)`, the default chunksize), run {runs} times on a fresh pool each, per start method: how many distinct worker PIDs ran the 10 tasks. Rust is measured by `cargo run -p ex-8-one-pid -- --repeat {runs} --start-method M`, CPython by `examples-pool/ex-8-one-pid/measure/repeat.py`."),
    ));
    out.push_str("<table><tr><th>");
    out.push_str(&bi("span", "启动方式", "start method"));
    out.push_str("</th><th>");
    out.push_str(&bi("span", "Rust：一个 PID", "Rust: one PID"));
    out.push_str("</th><th>");
    out.push_str(&bi("span", "CPython：一个 PID", "CPython: one PID"));
    out.push_str("</th><th>");
    out.push_str(&bi(
        "span",
        "Rust：用了 1/2/3/4 个 PID 的次数",
        "Rust: runs with 1/2/3/4 PIDs",
    ));
    out.push_str("</th><th>");
    out.push_str(&bi(
        "span",
        "CPython：用了 1/2/3/4 个 PID 的次数",
        "CPython: runs with 1/2/3/4 PIDs",
    ));
    out.push_str("</th></tr>");
    let percent = |(runs, counts): (u32, [u32; 5])| {
        format!(
            "{} / {runs} ({:.0}%)",
            counts[1],
            100.0 * f64::from(counts[1]) / f64::from(runs.max(1))
        )
    };
    let spread = |(_, c): (u32, [u32; 5])| format!("{} / {} / {} / {}", c[1], c[2], c[3], c[4]);
    for r in rates {
        let _ = write!(
            out,
            "<tr><td><code>{}</code></td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
            r.method,
            percent(r.rust),
            percent(r.python),
            spread(r.rust),
            spread(r.python)
        );
    }
    out.push_str("</table>");
    out.push_str(&bi(
        "p",
        "进程池是「拉」任务的：空闲的工作进程自己去取下一块任务。10 个微秒级的任务，会被第一个准备好的工作进程在其他进程开口要任务之前做完。spawn 启动的 CPython 工作进程要先启动新的解释器、导入模块，准备得晚，所以这种情况更常见；spawn 启动的 Rust 工作进程是本程序再运行一次，大约一毫秒就能要任务。",
        "The pool pulls: an idle worker takes the next chunk itself. Ten tasks of microseconds are done by the first worker that is ready, before its siblings have asked. A CPython worker started by spawn must start a new interpreter and import modules first, so it is ready late and this happens more often; a Rust worker started by spawn is this program run again and asks for work within about a millisecond.",
    ));
    out.push_str("</section>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sweep_rows_read_back() {
        let out = "header\n| 语言 | 迭代次数 | 单进程 | a | b | c | 最快 |\n| --- | ---: |\n\
                   | Rust | 1000 | 76.8 µs | 486 µs | 238 µs | 145 µs | 单进程 |\n\
                   | Python | 1000 | 2.52 ms | 8.40 ms | 7.93 ms | 2.62 ms | 单进程 |\n";
        let rows = parse_sweep(out).unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].size, 1000);
        assert!((rows[0].seconds[0] - 76.8e-6).abs() < 1e-12);
        assert!((rows[1].seconds[3] - 2.62e-3).abs() < 1e-12);
        let html = claim(&rows[0], ["chunksize=1", "chunksize=7", "chunksize=25"]);
        assert!(
            html.contains("单进程更快，是进程池的 1.9 倍") && html.contains("the loop wins, 1.9 times"),
            "{html}"
        );
        let html = claim(&rows[1], ["chunksize=1", "chunksize=7", "chunksize=25"]);
        assert!(html.contains("about the same"), "{html}");
    }

    #[test]
    fn rates_read_back() {
        let out = "20 次运行中, 全部 10 个任务由同一个进程执行: 4 次 (20%)\n  用了 1 个进程: 4 次 (20%)\n  用了 2 个进程: 3 次 (15%)\n  用了 3 个进程: 3 次 (15%)\n  用了 4 个进程: 10 次 (50%)\n";
        assert_eq!(parse_rates(out).unwrap(), (20, [0, 4, 3, 3, 10]));
        assert!(parse_rates("nothing").is_err());
    }

    #[test]
    fn markdown_tables_become_html() {
        let html = tables("| a | b |\n| --- | --- |\n| 1 | 2 |\n\ntext\n");
        assert_eq!(
            html,
            "<table><tr><th>a</th><th>b</th></tr><tr><td>1</td><td>2</td></tr></table>"
        );
    }
}

//! `cargo xtask bench [--quick] [--runs N] [--json PATH] [NAME...]`: the runtime against
//! CPython's `multiprocessing`, workload by workload, on this machine.
//!
//! Each workload has two programs doing the same work: `mp-bench NAME` (the `bench/` crate, built
//! once in release) and `python3 bench/python/bench_mp.py NAME`. Each prints one JSON line,
//! `{"name", "unit", "value"}`, for one measurement. For every workload this task runs one
//! warm-up of each side, then `N` measured rounds (5 by default) alternating Rust and CPython,
//! so that a change in the machine's load hits both sides alike, and reports the median with the
//! minimum and maximum. A workload bounded by an OS ceiling (`raw_*` workloads of `mp-bench`:
//! fork+exit+wait, a socket round trip, socketpair bandwidth) runs its ceiling in every round
//! too, before and after Rust and CPython, so the three figures see the same load.
//!
//! It prints a table and writes, under `target/bench/`:
//! - `report.json`: a list with one object per workload:
//!   - `name`, `unit`, `higher_is_better`;
//!   - `rust`, `python`: `{"median", "min", "max", "runs": [...]}` in the workload's unit, or
//!     `null` when that side did not run (`python3` missing) or failed (then `rust_error` /
//!     `python_error` says why);
//!   - `raw`: the OS ceiling's median (over this workload's rounds) in the workload's unit, or
//!     `null` where none applies,
//!     and `raw_from`, how it is derived (`"4 x raw_fork_wait"`);
//!   - `better`: how many times better Rust's median is than CPython's (Rust/CPython for
//!     higher-is-better units, CPython/Rust for times), `null` without both;
//!   - `goal`: `{"target", "met", "stands"}`: the issue's goal in words, whether the medians
//!     meet it (`null` when it cannot be told), and where the figure stands;
//! - `report.md`: the machine, the date, CPython's version, the load average, the table;
//! - `better.svg` (times better than CPython per workload, with the goals) and `<name>.svg` per
//!   workload (Rust, CPython and the ceiling, median bars with min-max whiskers).
//!
//! The goals are data ([`WORKLOADS`]); they are what the benchmark issue asks of the runtime.

use crate::json::Json;
use crate::registry;
use crate::verify;
use anyhow::{bail, Context};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// How long one measurement may take before it is killed and counted as failed.
const RUN_TIMEOUT: Duration = Duration::from_secs(300);
/// Measured runs per side unless `--runs` says otherwise.
const DEFAULT_RUNS: usize = 5;
/// CPython's side, relative to the workspace root.
const PYTHON_SCRIPT: &str = "bench/python/bench_mp.py";

/// An OS ceiling that bounds a workload: a `raw_*` workload of `mp-bench`, in the workload's unit.
#[derive(Debug, Clone, Copy)]
pub struct Ceiling {
    /// The `mp-bench` workload that measures it.
    pub raw: &'static str,
    /// How the workload's figure comes from it, in words.
    pub from: &'static str,
    /// From the raw workload's value to the workload's unit.
    pub convert: fn(f64) -> f64,
}

/// What the runtime should reach on a workload (the benchmark issue's table).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Goal {
    /// Rust's median at most this many times the ceiling (a time).
    WithinRaw(f64),
    /// Rust's median at least this fraction of the ceiling (a rate).
    FractionOfRaw(f64),
    /// Rust at least this many times better than CPython.
    TimesBetter(f64),
    /// Rust's speedup at least this fraction of the ideal one, `min(4, CPUs)` for `Pool(4)`.
    Speedup(f64),
}

/// One workload: the same name in `mp-bench` and `bench_mp.py`.
#[derive(Debug, Clone, Copy)]
pub struct Workload {
    /// The name both programs know it by.
    pub name: &'static str,
    /// The unit both print.
    pub unit: &'static str,
    /// What is measured, for the report.
    pub what: &'static str,
    /// The OS ceiling, where one applies.
    pub ceiling: Option<Ceiling>,
    /// What the runtime should reach.
    pub goal: Goal,
}

impl Workload {
    /// Whether a higher figure is better: rates and ratios yes, times and memory no.
    pub fn higher_is_better(&self) -> bool {
        !matches!(self.unit, "ms" | "us" | "kB")
    }
}

const FORK: Ceiling = Ceiling {
    raw: "raw_fork_wait",
    from: "raw_fork_wait",
    convert: |ms| ms,
};
const SOCKET_RTT: Ceiling = Ceiling {
    raw: "raw_socket_rtt",
    from: "raw_socket_rtt",
    convert: |us| us,
};
const SOCKETPAIR_1MIB: Ceiling = Ceiling {
    raw: "raw_socketpair_1mib",
    from: "raw_socketpair_1mib",
    convert: |mb_s| mb_s,
};

/// The workloads and their goals, in the issue's order.
#[rustfmt::skip]
pub const WORKLOADS: &[Workload] = &[
    Workload { name: "process_start_join", unit: "ms",
        what: "start and join one process running an empty target",
        ceiling: Some(FORK), goal: Goal::WithinRaw(1.3) },
    Workload { name: "pool_lifecycle", unit: "ms",
        what: "Pool(4) created, terminated and joined",
        ceiling: Some(Ceiling { raw: "raw_fork_wait", from: "4 x raw_fork_wait", convert: |ms| 4.0 * ms }),
        goal: Goal::TimesBetter(8.0) },
    Workload { name: "map_chunk1", unit: "ms",
        what: "map(square, 0..100, chunksize=1) on a warm Pool(4)",
        ceiling: None, goal: Goal::TimesBetter(5.0) },
    Workload { name: "map_100k", unit: "ms",
        what: "map(square, 0..100_000), default chunksize, warm Pool(4)",
        ceiling: None, goal: Goal::TimesBetter(10.0) },
    Workload { name: "tutorial_speedup", unit: "x",
        what: "section 8's 100 heavy tasks: loop time / Pool(4) time",
        ceiling: None, goal: Goal::Speedup(0.95) },
    Workload { name: "queue_small", unit: "msgs/s",
        what: "Queue: one producer, one consumer, 100,000 small ints",
        ceiling: None, goal: Goal::TimesBetter(10.0) },
    Workload { name: "queue_1mib", unit: "MB/s",
        what: "Queue: 200 messages of 1 MiB",
        ceiling: Some(SOCKETPAIR_1MIB), goal: Goal::FractionOfRaw(0.6) },
    Workload { name: "pipe_rtt", unit: "us",
        what: "Pipe round trip of a small value",
        ceiling: Some(SOCKET_RTT), goal: Goal::TimesBetter(5.0) },
    Workload { name: "pipe_1mib", unit: "MB/s",
        what: "Pipe: one-way send_bytes of 1 MiB, 1,000 times",
        ceiling: Some(SOCKETPAIR_1MIB), goal: Goal::FractionOfRaw(0.8) },
    Workload { name: "value_lock", unit: "increments/s",
        what: "2 processes x 200,000 `+= 1` under get_lock()",
        ceiling: None, goal: Goal::TimesBetter(20.0) },
    Workload { name: "manager_dict", unit: "ops/s",
        what: "Manager dict set+get from one client",
        ceiling: Some(Ceiling { raw: "raw_socket_rtt", from: "1e6 / raw_socket_rtt", convert: |us| 1e6 / us }),
        goal: Goal::FractionOfRaw(0.9) },
    Workload { name: "manager_dict_4", unit: "ops/s",
        what: "Manager dict set+get from 4 client processes",
        ceiling: None, goal: Goal::TimesBetter(4.0) },
    Workload { name: "manager_start", unit: "ms",
        what: "Manager() start and shutdown",
        ceiling: None, goal: Goal::TimesBetter(5.0) },
    // Footprint (the memory issue): one scene, a Pool(4) after a map and a Manager after a dict
    // set+get; `better` is CPython's kB over Rust's, and the goal is a fifth of CPython's or less.
    Workload { name: "mem_pool_worker_rss", unit: "kB",
        what: "RSS of a Pool(4) worker (mean of 4), smaps_rollup",
        ceiling: None, goal: Goal::TimesBetter(5.0) },
    Workload { name: "mem_pool_worker_pss", unit: "kB",
        what: "PSS of a Pool(4) worker (mean of 4), smaps_rollup",
        ceiling: None, goal: Goal::TimesBetter(5.0) },
    Workload { name: "mem_manager_rss", unit: "kB",
        what: "RSS of the Manager server process",
        ceiling: None, goal: Goal::TimesBetter(5.0) },
    Workload { name: "mem_manager_pss", unit: "kB",
        what: "PSS of the Manager server process",
        ceiling: None, goal: Goal::TimesBetter(5.0) },
    Workload { name: "mem_parent_rss", unit: "kB",
        what: "RSS of the parent holding the Pool(4) and the Manager",
        ceiling: None, goal: Goal::TimesBetter(5.0) },
    Workload { name: "mem_parent_pss", unit: "kB",
        what: "PSS of the parent holding the Pool(4) and the Manager",
        ceiling: None, goal: Goal::TimesBetter(5.0) },
];

/// The command line.
#[derive(Debug, PartialEq)]
struct Options {
    quick: bool,
    runs: usize,
    json: Option<PathBuf>,
    names: Vec<String>,
}

fn parse_args(args: &[String]) -> anyhow::Result<Options> {
    let mut options = Options {
        quick: false,
        runs: DEFAULT_RUNS,
        json: None,
        names: Vec::new(),
    };
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--quick" => options.quick = true,
            "--runs" => {
                let n = args.next().map(String::as_str).unwrap_or("");
                options.runs = n
                    .parse()
                    .ok()
                    .filter(|&n| n > 0)
                    .with_context(|| format!("--runs takes a positive number, not {n:?}"))?;
            }
            "--json" => {
                let path = args.next().context("--json takes a path")?;
                options.json = Some(PathBuf::from(path));
            }
            flag if flag.starts_with('-') => {
                bail!("unknown option {flag}\nusage: cargo xtask bench [--quick] [--runs N] [--json PATH] [NAME...]")
            }
            name => {
                if !WORKLOADS.iter().any(|w| w.name == name) {
                    let known: Vec<&str> = WORKLOADS.iter().map(|w| w.name).collect();
                    bail!("no workload `{name}`; the workloads are: {}", known.join(" "));
                }
                options.names.push(name.to_owned());
            }
        }
    }
    Ok(options)
}

/// Median, min and max.
type Stats = (f64, f64, f64);

/// The measurements of one side: values in the workload's unit, or why they stopped.
#[derive(Debug, Clone, Default)]
struct Samples {
    values: Vec<f64>,
    error: Option<String>,
}

impl Samples {
    fn median(&self) -> Option<f64> {
        median(&self.values)
    }

    fn min(&self) -> Option<f64> {
        self.values.iter().copied().reduce(f64::min)
    }

    fn max(&self) -> Option<f64> {
        self.values.iter().copied().reduce(f64::max)
    }

    /// Median, min and max; `None` if no run succeeded.
    fn stats(&self) -> Option<Stats> {
        Some((self.median()?, self.min()?, self.max()?))
    }

    fn json(&self) -> Json {
        match self.stats() {
            Some((median, min, max)) => Json::object([
                ("median", Json::Number(median)),
                ("min", Json::Number(min)),
                ("max", Json::Number(max)),
                (
                    "runs",
                    Json::Array(self.values.iter().map(|&v| Json::Number(v)).collect()),
                ),
            ]),
            None => Json::Null,
        }
    }
}

fn median(values: &[f64]) -> Option<f64> {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(v[n / 2]),
        _ => Some((v[n / 2 - 1] + v[n / 2]) / 2.0),
    }
}

/// One row of the report.
#[derive(Debug)]
struct Row {
    workload: Workload,
    rust: Samples,
    /// `None` when python3 is missing.
    python: Option<Samples>,
    /// The ceiling's median in the workload's unit.
    raw: Option<f64>,
}

/// A goal judged against the medians.
#[derive(Debug, PartialEq)]
struct Verdict {
    target: String,
    met: Option<bool>,
    stands: String,
}

impl Row {
    fn better(&self) -> Option<f64> {
        let rust = self.rust.median()?;
        let python = self.python.as_ref()?.median()?;
        let better = if self.workload.higher_is_better() {
            rust / python
        } else {
            python / rust
        };
        better.is_finite().then_some(better)
    }

    fn verdict(&self, cpus: usize) -> Verdict {
        let rust = self.rust.median();
        match self.workload.goal {
            Goal::TimesBetter(x) => {
                let better = self.better();
                Verdict {
                    target: format!("{x}x CPython"),
                    met: better.map(|b| b >= x),
                    stands: better.map_or_else(|| "-".into(), |b| format!("{b:.1}x")),
                }
            }
            Goal::WithinRaw(x) => {
                let ratio = rust.zip(self.raw).map(|(r, raw)| r / raw);
                Verdict {
                    target: format!("within {x}x of raw"),
                    met: ratio.map(|q| q <= x),
                    stands: ratio.map_or_else(|| "-".into(), |q| format!("{q:.2}x raw")),
                }
            }
            Goal::FractionOfRaw(f) => {
                let ratio = rust.zip(self.raw).map(|(r, raw)| r / raw);
                Verdict {
                    target: format!("{:.0}% of raw", f * 100.0),
                    met: ratio.map(|q| q >= f),
                    stands: ratio.map_or_else(|| "-".into(), |q| format!("{:.0}% of raw", q * 100.0)),
                }
            }
            Goal::Speedup(f) => {
                let ideal = cpus.clamp(1, 4) as f64;
                let want = f * ideal;
                Verdict {
                    target: format!(">= {want:.2} ({}% of {ideal} CPUs)", (f * 100.0).round()),
                    met: rust.map(|r| r >= want),
                    stands: rust.map_or_else(|| "-".into(), |r| format!("{r:.2}")),
                }
            }
        }
    }

    fn json(&self, cpus: usize) -> Json {
        let w = &self.workload;
        let verdict = self.verdict(cpus);
        let mut pairs = vec![
            ("name", Json::String(w.name.into())),
            ("unit", Json::String(w.unit.into())),
            ("higher_is_better", Json::Bool(w.higher_is_better())),
            ("what", Json::String(w.what.into())),
            ("rust", self.rust.json()),
            ("python", self.python.as_ref().map_or(Json::Null, Samples::json)),
            ("raw", Json::number(self.raw)),
            (
                "raw_from",
                w.ceiling.map_or(Json::Null, |c| Json::String(c.from.into())),
            ),
            ("better", Json::number(self.better())),
            (
                "goal",
                Json::object([
                    ("target", Json::String(verdict.target)),
                    ("met", verdict.met.map_or(Json::Null, Json::Bool)),
                    ("stands", Json::String(verdict.stands)),
                ]),
            ),
        ];
        if let Some(e) = &self.rust.error {
            pairs.push(("rust_error", Json::String(e.clone())));
        }
        if let Some(e) = self.python.as_ref().and_then(|p| p.error.clone()) {
            pairs.push(("python_error", Json::String(e)));
        }
        Json::object(pairs)
    }
}

/// Where and how the runs happen.
struct Bench {
    root: PathBuf,
    mp_bench: PathBuf,
    /// CPython's version, `None` when `python3` cannot be run.
    python: Option<String>,
    quick: bool,
}

/// One side of a workload.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Side {
    /// An OS ceiling: a `raw_*` workload of `mp-bench`.
    Raw,
    Rust,
    Python,
}

impl Bench {
    /// One measurement of `name` on `side`.
    fn measure(&self, side: Side, name: &str, unit: Option<&str>) -> Result<f64, String> {
        let script = self.root.join(PYTHON_SCRIPT);
        let (program, mut args): (&Path, Vec<&str>) = match side {
            Side::Rust | Side::Raw => (&self.mp_bench, vec![name]),
            Side::Python => (
                Path::new("python3"),
                vec![script.to_str().ok_or("a non-UTF-8 workspace path")?, name],
            ),
        };
        if self.quick {
            args.push("--quick");
        }
        let run = verify::run_example(program, &args, &self.root, RUN_TIMEOUT)
            .map_err(|e| format!("cannot run {}: {e:#}", program.display()))?;
        let stderr = String::from_utf8_lossy(&run.stderr);
        let tail = stderr
            .lines()
            .rev()
            .take(5)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect::<Vec<_>>()
            .join("\n");
        let mut problems = run.problems;
        if let Some(status) = run.status.filter(|s| !s.success()) {
            problems.insert(0, format!("exited with {status}"));
        }
        if !problems.is_empty() {
            return Err(format!("{}\n{tail}", problems.join("; ")).trim_end().to_owned());
        }
        let stdout = String::from_utf8_lossy(&run.stdout);
        let line = stdout.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("");
        parse_result(line, name, unit).map_err(|e| format!("{e}\n{tail}").trim_end().to_owned())
    }

    /// Warm-ups, then `runs` rounds, each running the workload's ceiling (if it has one), Rust,
    /// CPython and the ceiling again: the ceiling is measured under the same load as the figures
    /// it bounds, twice a round because a short run is easily caught by a burst of load.
    /// Returns Rust's, CPython's (`None` without python3) and the ceiling's samples.
    fn measure_workload(&self, w: &Workload, runs: usize) -> (Samples, Option<Samples>, Option<Samples>) {
        let mut rust = Samples::default();
        let mut python = self.python.as_ref().map(|_| Samples::default());
        let mut raw = w.ceiling.map(|_| Samples::default());
        eprint!("{:<22}", w.name);
        for i in 0..=runs {
            for side in [Side::Raw, Side::Rust, Side::Python, Side::Raw] {
                let (samples, name, unit) = match side {
                    Side::Raw => match (raw.as_mut(), w.ceiling) {
                        (Some(r), Some(c)) => (r, c.raw, None),
                        _ => continue,
                    },
                    Side::Rust => (&mut rust, w.name, Some(w.unit)),
                    Side::Python => match python.as_mut() {
                        Some(p) => (p, w.name, Some(w.unit)),
                        None => continue,
                    },
                };
                if samples.error.is_some() {
                    continue;
                }
                match self.measure(side, name, unit) {
                    Ok(v) if i > 0 => samples.values.push(v),
                    Ok(_) => {}
                    Err(e) => samples.error = Some(e),
                }
                let mark = match (side, samples.error.is_some()) {
                    (_, true) => "!",
                    (_, _) if i == 0 => "w",
                    (Side::Raw, _) => "c",
                    (Side::Rust, _) => "R",
                    (Side::Python, _) => "P",
                };
                eprint!("{mark}");
            }
        }
        finish_progress(&rust, python.as_ref());
        (rust, python, raw)
    }
}

fn finish_progress(rust: &Samples, python: Option<&Samples>) {
    let show = |s: &Samples| match (&s.error, s.median()) {
        (Some(e), _) => format!("FAILED ({})", e.lines().next().unwrap_or("")),
        (None, Some(m)) => fmt_num(m),
        (None, None) => "-".into(),
    };
    match python {
        Some(p) => eprintln!("  rust {}, python {}", show(rust), show(p)),
        None => eprintln!("  rust {}", show(rust)),
    }
}

/// The value of one result line, checked against the workload's name and unit.
fn parse_result(line: &str, name: &str, unit: Option<&str>) -> Result<f64, String> {
    let json =
        Json::parse(line).map_err(|e| format!("its last line is not a JSON result ({e}): {line:?}"))?;
    if json.get("name").and_then(Json::as_str) != Some(name) {
        return Err(format!("its result is not for {name}: {line:?}"));
    }
    if let Some(unit) = unit {
        let got = json.get("unit").and_then(Json::as_str);
        if got != Some(unit) {
            return Err(format!(
                "its unit is {got:?}, not {unit:?} (keep the two sides in step)"
            ));
        }
    }
    match json.get("value").and_then(Json::as_f64) {
        Some(v) if v > 0.0 => Ok(v),
        _ => Err(format!("its value is not a positive number: {line:?}")),
    }
}

/// CPython's version, or `None` if `python3` cannot be run.
fn python_version(root: &Path) -> Option<String> {
    let out = std::process::Command::new("python3")
        .args(["-c", "import platform; print(platform.python_version())"])
        .current_dir(root)
        .output()
        .ok()?;
    let version = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    (out.status.success() && !version.is_empty()).then_some(version)
}

/// Runs the task; returns whether every run succeeded and the report is well formed.
pub fn main(args: &[String]) -> anyhow::Result<bool> {
    let options = parse_args(args)?;
    verify::watch_interrupts()?;
    let root = registry::workspace_root();
    let target = registry::debug_dir(&root)
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| root.join("target"));

    eprintln!("bench: building mp-bench (cargo build --release -p mp-bench)");
    let status = std::process::Command::new(crate::cargo())
        .current_dir(&root)
        .args(["build", "--release", "-p", "mp-bench"])
        .status()
        .context("starting `cargo build --release -p mp-bench`")?;
    if !status.success() {
        bail!("`cargo build --release -p mp-bench` failed ({status})");
    }

    let python = python_version(&root);
    match &python {
        Some(v) => eprintln!("bench: CPython {v} (python3 on PATH)"),
        None => eprintln!(
            "bench: python3 NOT FOUND on PATH (or it does not run): measuring the Rust side only; \
             the CPython columns and the goals against CPython stay empty"
        ),
    }
    let bench = Bench {
        mp_bench: target.join("release").join("mp-bench"),
        root: root.clone(),
        python,
        quick: options.quick,
    };
    let selected: Vec<Workload> = WORKLOADS
        .iter()
        .filter(|w| options.names.is_empty() || options.names.iter().any(|n| n == w.name))
        .copied()
        .collect();
    let machine = Machine::now(bench.python.clone());
    let runs = options.runs;
    eprintln!(
        "bench: {} workloads{}, a warm-up then {runs} measured runs of each side, alternating \
         (w = warm-up, c = the OS ceiling, R = Rust, P = CPython, ! = failed)",
        selected.len(),
        if options.quick {
            " (--quick: smaller counts)"
        } else {
            ""
        }
    );

    let mut rows = Vec::new();
    // Each ceiling's samples from every workload it bounds, for the report's "OS ceilings" line.
    let mut ceilings: Vec<(String, Samples)> = Vec::new();
    let total = selected.len();
    for (i, w) in selected.into_iter().enumerate() {
        eprint!("[{:>2}/{total}] ", i + 1);
        let (rust, python, raw) = bench.measure_workload(&w, runs);
        let raw_median = w
            .ceiling
            .zip(raw.as_ref())
            .and_then(|(c, s)| s.median().map(c.convert));
        if let (Some(c), Some(samples)) = (w.ceiling, raw) {
            match ceilings.iter_mut().find(|(name, _)| name == c.raw) {
                Some((_, all)) => {
                    all.values.extend(samples.values);
                    all.error = all.error.take().or(samples.error);
                }
                None => ceilings.push((c.raw.to_owned(), samples)),
            }
        }
        rows.push(Row {
            workload: w,
            rust,
            python,
            raw: raw_median,
        });
    }
    let machine = Machine {
        load_after: loadavg(),
        ..machine
    };

    let report = Report {
        machine,
        rows,
        ceilings,
        runs,
        quick: options.quick,
    };
    println!();
    print!("{}", report.table());

    let dir = target.join("bench");
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let json = report.json().pretty();
    let json_path = dir.join("report.json");
    std::fs::write(&json_path, &json).with_context(|| format!("writing {}", json_path.display()))?;
    if let Some(path) = &options.json {
        std::fs::write(path, &json).with_context(|| format!("writing {}", path.display()))?;
    }
    std::fs::write(dir.join("report.md"), report.markdown()).context("writing report.md")?;
    std::fs::write(dir.join("better.svg"), report.better_svg()).context("writing better.svg")?;
    for row in &report.rows {
        std::fs::write(dir.join(format!("{}.svg", row.workload.name)), row.svg())
            .with_context(|| format!("writing {}.svg", row.workload.name))?;
    }

    // The smoke test in CI relies on this: the file just written must read back as a report.
    let names: Vec<&str> = report.rows.iter().map(|r| r.workload.name).collect();
    let written = std::fs::read_to_string(&json_path).context("reading report.json back")?;
    check_report(&written, &names, report.machine.python.is_some())
        .with_context(|| format!("{} is not well formed", json_path.display()))?;
    println!(
        "\nwrote {} (well formed), report.md and {} SVG plots in {}{}",
        json_path.display(),
        report.rows.len() + 1,
        dir.display(),
        options.json.as_ref().map_or_else(String::new, |p| format!(
            "; a copy of the JSON at {}",
            p.display()
        ))
    );
    let failed: Vec<&str> = report
        .rows
        .iter()
        .filter(|r| r.rust.error.is_some() || r.python.as_ref().is_some_and(|p| p.error.is_some()))
        .map(|r| r.workload.name)
        .chain(
            report
                .ceilings
                .iter()
                .filter(|(_, s)| s.error.is_some())
                .map(|(n, _)| n.as_str()),
        )
        .collect();
    if !failed.is_empty() {
        println!(
            "failed runs: {} (see the errors above and in report.json)",
            failed.join(" ")
        );
        for row in &report.rows {
            for (side, err) in [
                ("rust", &row.rust.error),
                ("python", &row.python.as_ref().and_then(|p| p.error.clone())),
            ] {
                if let Some(err) = err {
                    println!(
                        "  {} ({side}): {}",
                        row.workload.name,
                        err.replace('\n', "\n    ")
                    );
                }
            }
        }
    }
    Ok(failed.is_empty())
}

/// Checks that `text` is a report of `names`, in that order, with every key and figure in place.
fn check_report(text: &str, names: &[&str], with_python: bool) -> anyhow::Result<()> {
    let json = Json::parse(text).map_err(|e| anyhow::anyhow!("not JSON: {e}"))?;
    let Json::Array(rows) = json else {
        bail!("not a list");
    };
    if rows.len() != names.len() {
        bail!("{} rows for {} workloads", rows.len(), names.len());
    }
    for (row, name) in rows.iter().zip(names) {
        if row.get("name").and_then(Json::as_str) != Some(name) {
            bail!("a row is not {name}");
        }
        for key in ["name", "unit", "rust", "python", "raw", "better", "goal"] {
            if row.get(key).is_none() {
                bail!("{name} has no `{key}`");
            }
        }
        let side_ok = |side: &str| {
            let s = row.get(side)?;
            let (median, min, max) = (
                s.get("median")?.as_f64()?,
                s.get("min")?.as_f64()?,
                s.get("max")?.as_f64()?,
            );
            (min <= median && median <= max && min > 0.0).then_some(())
        };
        if side_ok("rust").is_none() && row.get("rust_error").is_none() {
            bail!("{name}: `rust` has no consistent median/min/max and no `rust_error`");
        }
        if with_python && side_ok("python").is_none() && row.get("python_error").is_none() {
            bail!("{name}: `python` has no consistent median/min/max and no `python_error`");
        }
        let goal = row.get("goal").context("goal")?;
        if goal.get("target").and_then(Json::as_str).is_none() || goal.get("met").is_none() {
            bail!("{name}: `goal` lacks `target` or `met`");
        }
    }
    Ok(())
}

/// Where the figures come from.
#[derive(Debug, Clone)]
struct Machine {
    cpus: usize,
    cpu_model: String,
    date: String,
    python: Option<String>,
    load_before: String,
    load_after: String,
}

impl Machine {
    fn now(python: Option<String>) -> Machine {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let cpu_model = cpuinfo
            .lines()
            .find_map(|l| {
                l.strip_prefix("model name")?
                    .split_once(':')
                    .map(|(_, m)| m.trim().to_owned())
            })
            .unwrap_or_else(|| "unknown CPU".into());
        // Round trips depend on it: waking a process on another, idle virtual CPU is slow.
        let virtual_machine = cpuinfo
            .lines()
            .any(|l| l.starts_with("flags") && l.split_whitespace().any(|f| f == "hypervisor"));
        let cpu_model = if virtual_machine {
            let idle = std::fs::read_to_string("/sys/devices/system/cpu/cpuidle/current_driver")
                .map(|d| format!(", cpuidle {}", d.trim()))
                .unwrap_or_default();
            format!("{cpu_model}; a virtual machine{idle}")
        } else {
            cpu_model
        };
        Machine {
            cpus: std::thread::available_parallelism().map_or(1, usize::from),
            cpu_model,
            date: utc_now(),
            python,
            load_before: loadavg(),
            load_after: String::new(),
        }
    }

    fn describe(&self) -> String {
        format!(
            "{} CPUs ({}), {}, CPython {}, load average {} before and {} after",
            self.cpus,
            self.cpu_model,
            self.date,
            self.python.as_deref().unwrap_or("not found"),
            self.load_before,
            self.load_after
        )
    }
}

/// The 1-minute load average, from `/proc/loadavg`.
fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().map(str::to_owned))
        .unwrap_or_else(|| "?".into())
}

/// The time now as `YYYY-MM-DD HH:MM UTC`.
fn utc_now() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let (y, m, d) = civil_from_days((secs / 86_400) as i64);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02} UTC",
        secs % 86_400 / 3600,
        secs % 3600 / 60
    )
}

/// The proleptic Gregorian date of a day count since 1970-01-01 (Howard Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// A figure with three significant digits, thousands grouped, millions as `M`.
fn fmt_num(v: f64) -> String {
    let a = v.abs();
    if a >= 1e6 {
        format!("{:.2}M", v / 1e6)
    } else if a >= 1e3 {
        let s = format!("{v:.0}");
        let (head, tail) = s.split_at(s.len() - 3);
        format!("{head},{tail}")
    } else if a >= 100.0 {
        format!("{v:.0}")
    } else if a >= 10.0 {
        format!("{v:.1}")
    } else if a >= 1.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.3}")
    }
}

fn fmt_samples(s: Option<&Samples>) -> String {
    match s {
        None => "(no python3)".into(),
        Some(s) => match s.stats() {
            Some((median, min, max)) if s.error.is_none() => {
                format!("{} [{}-{}]", fmt_num(median), fmt_num(min), fmt_num(max))
            }
            _ => "FAILED".into(),
        },
    }
}

fn fmt_goal(v: &Verdict) -> String {
    let met = match v.met {
        Some(true) => "met",
        Some(false) => "MISSED",
        None => "?",
    };
    format!("{}: {met} ({})", v.target, v.stands)
}

/// Everything one `bench` run measured.
struct Report {
    machine: Machine,
    rows: Vec<Row>,
    ceilings: Vec<(String, Samples)>,
    runs: usize,
    quick: bool,
}

impl Report {
    fn cells(&self) -> (Vec<&'static str>, Vec<Vec<String>>) {
        let header = vec![
            "workload",
            "unit",
            "Rust median [min-max]",
            "CPython median [min-max]",
            "raw",
            "better",
            "goal",
        ];
        let rows = self
            .rows
            .iter()
            .map(|r| {
                vec![
                    r.workload.name.to_owned(),
                    r.workload.unit.to_owned(),
                    fmt_samples(Some(&r.rust)),
                    fmt_samples(r.python.as_ref()),
                    r.raw.map_or_else(|| "-".into(), fmt_num),
                    r.better().map_or_else(|| "-".into(), |b| format!("{b:.1}x")),
                    fmt_goal(&r.verdict(self.machine.cpus)),
                ]
            })
            .collect();
        (header, rows)
    }

    fn settings(&self) -> String {
        format!(
            "{} measured runs per side after a warm-up, alternating{}; medians, [min-max]; `better` = how many \
             times better Rust is than CPython (above 1: Rust wins; for times it is CPython/Rust)",
            self.runs,
            if self.quick { ", --quick (smaller counts)" } else { "" }
        )
    }

    fn ceilings_line(&self) -> String {
        let parts: Vec<String> = self
            .ceilings
            .iter()
            .map(|(name, s)| {
                let unit = match name.as_str() {
                    "raw_fork_wait" => "ms",
                    "raw_socketpair_1mib" => "MB/s",
                    _ => "us",
                };
                format!("{name} {} {unit}", fmt_samples(Some(s)))
            })
            .collect();
        parts.join(", ")
    }

    /// The terminal table.
    fn table(&self) -> String {
        let (header, rows) = self.cells();
        let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
        for row in &rows {
            for (w, cell) in widths.iter_mut().zip(row) {
                *w = (*w).max(cell.chars().count());
            }
        }
        let mut out = String::new();
        let line = |cells: Vec<String>, out: &mut String| {
            let mut s = String::new();
            for (cell, w) in cells.iter().zip(&widths) {
                let _ = write!(s, "{cell}{}  ", " ".repeat(w - cell.chars().count()));
            }
            out.push_str(s.trim_end());
            out.push('\n');
        };
        line(header.iter().map(|h| (*h).to_owned()).collect(), &mut out);
        for row in rows {
            line(row, &mut out);
        }
        let _ = writeln!(out, "\n{}", self.machine.describe());
        let _ = writeln!(out, "{}", self.settings());
        if !self.ceilings.is_empty() {
            let _ = writeln!(out, "OS ceilings: {}", self.ceilings_line());
        }
        if self.machine.python.is_none() {
            let _ = writeln!(
                out,
                "python3 was not found on PATH: only the Rust side was measured."
            );
        }
        out
    }

    fn markdown(&self) -> String {
        let (header, rows) = self.cells();
        let mut out = String::from("# `cargo xtask bench`\n\n");
        let _ = writeln!(out, "Machine: {}.\n", self.machine.describe());
        let _ = writeln!(out, "{}.\n", self.settings());
        let _ = writeln!(out, "| {} |", header.join(" | "));
        let _ = writeln!(out, "|{}", "---|".repeat(header.len()));
        for row in rows {
            let _ = writeln!(out, "| `{}` | {} |", row[0], row[1..].join(" | "));
        }
        if !self.ceilings.is_empty() {
            let _ = writeln!(out, "\nOS ceilings (`mp-bench raw_*`): {}.", self.ceilings_line());
        }
        if self.machine.python.is_none() {
            let _ = writeln!(
                out,
                "\n`python3` was not found on PATH: only the Rust side was measured."
            );
        }
        out.push_str("\n![How many times better than CPython](better.svg)\n");
        out
    }

    fn json(&self) -> Json {
        Json::Array(self.rows.iter().map(|r| r.json(self.machine.cpus)).collect())
    }

    /// Horizontal bars, log scale: how many times better Rust is, per workload, with the goals.
    fn better_svg(&self) -> String {
        let (left, width, row_h, top) = (150.0, 460.0, 26.0, 50.0);
        let rows: Vec<(&Row, Option<f64>, Verdict)> = self
            .rows
            .iter()
            .map(|r| (r, r.better(), r.verdict(self.machine.cpus)))
            .collect();
        let goal_of = |r: &Row| match r.workload.goal {
            Goal::TimesBetter(x) => Some(x),
            _ => None,
        };
        // Room on the right for the largest bar's label.
        let largest = rows
            .iter()
            .flat_map(|(r, b, _)| [*b, goal_of(r)])
            .flatten()
            .fold(10.0f64, f64::max);
        let hi = (largest * 1.5).log10().ceil();
        let lo = rows
            .iter()
            .filter_map(|(_, b, _)| *b)
            .fold(1.0f64, f64::min)
            .log10()
            .floor()
            .min(0.0);
        let x = |v: f64| left + (v.log10() - lo) / (hi - lo) * width;
        let height = top + row_h * rows.len() as f64 + 40.0;
        let mut svg = svg_open(left + width + 120.0, height);
        svg.push_str(
            "<text x=\"10\" y=\"20\" font-size=\"14\" font-weight=\"bold\">How many times better Rust is \
             than CPython (log scale)</text>\n<text x=\"10\" y=\"38\" fill=\"#555\">| = the goal when it is \
             against CPython; green: goal met, red: goal missed (some goals are against the OS ceiling)</text>\n",
        );
        let mut decade = lo;
        while decade <= hi {
            let v = 10f64.powf(decade);
            let _ = writeln!(
                svg,
                r##"<line x1="{0:.1}" y1="{top}" x2="{0:.1}" y2="{1:.1}" stroke="{2}"/><text x="{0:.1}" y="{3:.1}" text-anchor="middle" fill="#555">{4}x</text>"##,
                x(v),
                height - 35.0,
                if decade == 0.0 { "#000" } else { "#ddd" },
                height - 20.0,
                if v < 1.0 {
                    format!("{v}")
                } else {
                    format!("{v:.0}")
                }
            );
            decade += 1.0;
        }
        for (i, (r, better, verdict)) in rows.iter().enumerate() {
            let y = top + row_h * i as f64;
            let _ = writeln!(
                svg,
                r#"<text x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"#,
                left - 6.0,
                y + 16.0,
                escape(r.workload.name)
            );
            if let Some(b) = better {
                let (x0, x1) = (x(1.0).min(x(*b)), x(1.0).max(x(*b)));
                let _ = writeln!(
                    svg,
                    r#"<rect x="{x0:.1}" y="{:.1}" width="{:.1}" height="{:.1}" fill="{}"/><text x="{:.1}" y="{:.1}">{:.1}x {}</text>"#,
                    y + 4.0,
                    (x1 - x0).max(1.0),
                    row_h - 8.0,
                    colour(verdict.met),
                    x1.max(goal_of(r).map_or(0.0, x)) + 5.0,
                    y + 16.0,
                    b,
                    match verdict.met {
                        None => String::new(),
                        Some(met) => format!(
                            "goal{} {}",
                            match r.workload.goal {
                                Goal::TimesBetter(_) => "",
                                Goal::WithinRaw(_) | Goal::FractionOfRaw(_) => " (vs the OS ceiling)",
                                Goal::Speedup(_) => " (speedup)",
                            },
                            if met { "met" } else { "missed" }
                        ),
                    }
                );
            }
            if let Some(g) = goal_of(r) {
                let _ = writeln!(
                    svg,
                    r#"<line x1="{0:.1}" y1="{1:.1}" x2="{0:.1}" y2="{2:.1}" stroke="black" stroke-width="2"/>"#,
                    x(g),
                    y + 1.0,
                    y + row_h - 1.0
                );
            }
        }
        svg.push_str("</svg>\n");
        svg
    }
}

impl Row {
    /// Rust, CPython and the ceiling as bars (medians) with min-max whiskers.
    fn svg(&self) -> String {
        let w = &self.workload;
        let mut bars: Vec<(&str, Option<Stats>, &str)> = vec![("Rust", self.rust.stats(), "#b7410e")];
        if let Some(p) = &self.python {
            bars.push(("CPython", p.stats(), "#3776ab"));
        }
        if let (Some(raw), Some(c)) = (self.raw, w.ceiling) {
            bars.push((c.from, Some((raw, raw, raw)), "#888"));
        }
        let max = bars
            .iter()
            .filter_map(|(_, s, _)| s.map(|s| s.2))
            .fold(0.0f64, f64::max)
            .max(f64::MIN_POSITIVE);
        let (left, width, row_h, top) = (150.0, 400.0, 30.0, 50.0);
        let height = top + row_h * bars.len() as f64 + 15.0;
        let mut svg = svg_open(left + width + 120.0, height);
        let direction = if w.higher_is_better() {
            "higher is better"
        } else {
            "lower is better"
        };
        let verdict = self.verdict(std::thread::available_parallelism().map_or(1, usize::from));
        let _ = writeln!(
            svg,
            r#"<text x="10" y="20" font-size="14" font-weight="bold">{} ({}, {direction})</text>"#,
            escape(w.name),
            escape(w.unit)
        );
        let _ = writeln!(
            svg,
            r##"<text x="10" y="38" fill="#555">{}; goal {}</text>"##,
            escape(w.what),
            escape(&fmt_goal(&verdict))
        );
        let x = |v: f64| left + v / max * width;
        for (i, (label, stats, fill)) in bars.iter().enumerate() {
            let y = top + row_h * i as f64;
            let _ = writeln!(
                svg,
                r#"<text x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"#,
                left - 6.0,
                y + 19.0,
                escape(label)
            );
            let Some((median, min, max)) = stats else {
                let _ = writeln!(svg, r#"<text x="{left}" y="{:.1}">failed</text>"#, y + 19.0);
                continue;
            };
            let _ = writeln!(
                svg,
                r#"<rect x="{left}" y="{:.1}" width="{:.1}" height="{:.1}" fill="{fill}"/>"#,
                y + 5.0,
                (x(*median) - left).max(1.0),
                row_h - 10.0
            );
            if max > min {
                let _ = writeln!(
                    svg,
                    r#"<line x1="{:.1}" y1="{2:.1}" x2="{:.1}" y2="{2:.1}" stroke="black"/>"#,
                    x(*min),
                    x(*max),
                    y + row_h / 2.0
                );
            }
            let _ = writeln!(
                svg,
                r#"<text x="{:.1}" y="{:.1}">{}</text>"#,
                x(*max) + 6.0,
                y + 19.0,
                fmt_num(*median)
            );
        }
        svg.push_str("</svg>\n");
        svg
    }
}

fn svg_open(width: f64, height: f64) -> String {
    format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width:.0}\" height=\"{height:.0}\" \
         viewBox=\"0 0 {width:.0} {height:.0}\" font-family=\"sans-serif\" font-size=\"12\">\n\
         <rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
    )
}

fn colour(met: Option<bool>) -> &'static str {
    match met {
        Some(true) => "#2a9d8f",
        Some(false) => "#e76f51",
        None => "#999",
    }
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(args: &[&str]) -> Vec<String> {
        args.iter().map(|s| (*s).to_owned()).collect()
    }

    fn samples(values: &[f64]) -> Samples {
        Samples {
            values: values.to_vec(),
            error: None,
        }
    }

    fn workload(name: &str) -> Workload {
        *WORKLOADS.iter().find(|w| w.name == name).unwrap()
    }

    #[test]
    fn arguments() {
        let o = parse_args(&strings(&[
            "--quick", "pipe_rtt", "--json", "x.json", "--runs", "2",
        ]))
        .unwrap();
        assert_eq!(
            o,
            Options {
                quick: true,
                runs: 2,
                json: Some("x.json".into()),
                names: strings(&["pipe_rtt"])
            }
        );
        assert_eq!(parse_args(&[]).unwrap().runs, DEFAULT_RUNS);
        assert!(parse_args(&strings(&["nope"]))
            .unwrap_err()
            .to_string()
            .contains("map_100k"));
        assert!(parse_args(&strings(&["--runs", "0"])).is_err());
        assert!(parse_args(&strings(&["--json"])).is_err());
        assert!(parse_args(&strings(&["--fast"])).is_err());
    }

    /// The names are the contract with `bench_mp.py` and `mp-bench`: all 19, in both files.
    #[test]
    fn every_workload_exists_on_both_sides() {
        assert_eq!(WORKLOADS.len(), 19);
        let root = registry::workspace_root();
        let python = std::fs::read_to_string(root.join(PYTHON_SCRIPT)).unwrap();
        let rust = std::fs::read_to_string(root.join("bench/src/workloads.rs")).unwrap()
            + &std::fs::read_to_string(root.join("bench/src/memory.rs")).unwrap();
        let raw = std::fs::read_to_string(root.join("bench/src/raw.rs")).unwrap();
        for w in WORKLOADS {
            assert!(
                python.contains(&format!("def {}(", w.name)),
                "{} in bench_mp.py",
                w.name
            );
            assert!(
                rust.contains(&format!("\"{}\" => (\"{}\"", w.name, w.unit)),
                "{} ({}) in workloads.rs",
                w.name,
                w.unit
            );
            assert!(
                python.contains(&format!("return \"{}\"", w.unit)),
                "unit {} in bench_mp.py",
                w.unit
            );
            if let Some(c) = w.ceiling {
                assert!(raw.contains(&format!("\"{}\"", c.raw)), "{}", c.raw);
            }
        }
    }

    #[test]
    fn medians_and_better() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), Some(2.5));
        assert_eq!(median(&[]), None);
        // A time: lower is better, so better = CPython / Rust.
        let row = Row {
            workload: workload("map_100k"),
            rust: samples(&[2.0, 3.0, 2.5]),
            python: Some(samples(&[30.0, 20.0, 25.0])),
            raw: None,
        };
        assert_eq!(row.better(), Some(10.0));
        assert_eq!(row.verdict(2).met, Some(true));
        // A rate: higher is better, so better = Rust / CPython.
        let row = Row {
            workload: workload("queue_small"),
            rust: samples(&[1e6]),
            python: Some(samples(&[2e5])),
            raw: None,
        };
        assert_eq!(row.better(), Some(5.0));
        assert_eq!(row.verdict(2).met, Some(false));
        // Memory: lower is better, and the goal is a fifth of CPython's or less.
        let row = Row {
            workload: workload("mem_pool_worker_pss"),
            rust: samples(&[700.0]),
            python: Some(samples(&[3900.0])),
            raw: None,
        };
        assert!(!row.workload.higher_is_better());
        assert_eq!(row.better(), Some(3900.0 / 700.0));
        assert_eq!(row.verdict(2).met, Some(true));
        // Without CPython there is no `better` and no verdict on it.
        let row = Row {
            workload: workload("queue_small"),
            rust: samples(&[1e6]),
            python: None,
            raw: None,
        };
        assert_eq!((row.better(), row.verdict(2).met), (None, None));
    }

    #[test]
    fn goals_against_the_ceilings() {
        let row = |name: &str, rust: f64, raw: f64| Row {
            workload: workload(name),
            rust: samples(&[rust]),
            python: None,
            raw: Some(raw),
        };
        assert_eq!(row("process_start_join", 0.25, 0.2).verdict(2).met, Some(true));
        assert_eq!(row("process_start_join", 0.3, 0.2).verdict(2).met, Some(false));
        assert_eq!(row("pipe_1mib", 6000.0, 7000.0).verdict(2).met, Some(true));
        assert_eq!(row("queue_1mib", 300.0, 7000.0).verdict(2).met, Some(false));
        let speedup = |rust: f64, cpus: usize| row("tutorial_speedup", rust, 1.0).verdict(cpus);
        assert_eq!(speedup(1.92, 2).met, Some(true));
        assert_eq!(speedup(1.92, 8).met, Some(false));
        assert!(speedup(1.92, 2).target.contains("1.90"));
        let manager = workload("manager_dict").ceiling.unwrap();
        assert_eq!((manager.convert)(4.0), 250_000.0);
        let pool = workload("pool_lifecycle").ceiling.unwrap();
        assert_eq!((pool.convert)(0.2), 0.8);
    }

    #[test]
    fn the_report_is_well_formed_and_checked() {
        let machine = Machine::now(Some("3.x".into()));
        let report = Report {
            machine,
            rows: vec![
                Row {
                    workload: workload("pipe_rtt"),
                    rust: samples(&[4.0, 5.0]),
                    python: Some(samples(&[20.0, 21.0])),
                    raw: Some(3.5),
                },
                Row {
                    workload: workload("map_100k"),
                    rust: samples(&[3.0]),
                    python: Some(Samples {
                        values: vec![],
                        error: Some("exited with status 1".into()),
                    }),
                    raw: None,
                },
            ],
            ceilings: vec![("raw_socket_rtt".into(), samples(&[3.5]))],
            runs: 2,
            quick: true,
        };
        let text = report.json().pretty();
        check_report(&text, &["pipe_rtt", "map_100k"], true).unwrap();
        let json = Json::parse(&text).unwrap();
        let Json::Array(rows) = &json else { panic!() };
        assert_eq!(rows[0].get("better").and_then(Json::as_f64), Some(20.5 / 4.5));
        assert_eq!(rows[0].get("raw").and_then(Json::as_f64), Some(3.5));
        assert_eq!(rows[1].get("python"), Some(&Json::Null));
        assert!(rows[1].get("python_error").is_some());
        assert!(check_report(&text, &["pipe_rtt"], true).is_err());
        assert!(check_report(
            &text.replace("\"goal\"", "\"gaol\""),
            &["pipe_rtt", "map_100k"],
            true
        )
        .is_err());
        let table = report.table();
        assert!(
            table.contains("4.50 [4.00-5.00]") && table.contains("FAILED"),
            "{table}"
        );
        assert!(report.markdown().contains("| `pipe_rtt` | us |"));
        for svg in [report.better_svg(), report.rows[0].svg(), report.rows[1].svg()] {
            assert!(svg.starts_with("<svg") && svg.ends_with("</svg>\n"));
        }
    }

    #[test]
    fn result_lines() {
        let ok = r#"{"name": "pipe_rtt", "unit": "us", "value": 4.5}"#;
        assert_eq!(parse_result(ok, "pipe_rtt", Some("us")), Ok(4.5));
        assert!(parse_result(ok, "pipe_1mib", None).is_err());
        assert!(parse_result(ok, "pipe_rtt", Some("ms"))
            .unwrap_err()
            .contains("in step"));
        assert!(parse_result("Traceback", "pipe_rtt", None).is_err());
        assert!(parse_result(
            r#"{"name": "pipe_rtt", "unit": "us", "value": 0}"#,
            "pipe_rtt",
            None
        )
        .is_err());
    }

    #[test]
    fn dates_and_numbers() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(20_419), (2025, 11, 27));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
        assert_eq!(fmt_num(1_234_567.0), "1.23M");
        assert_eq!(fmt_num(23_456.4), "23,456");
        assert_eq!(fmt_num(123.4), "123");
        assert_eq!(fmt_num(4.4096), "4.41");
        assert_eq!(fmt_num(0.0877), "0.088");
    }
}

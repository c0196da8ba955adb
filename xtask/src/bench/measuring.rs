//! Measuring: one run of one side of a workload, and the rounds that alternate the sides.
//!
//! Every measurement is a fresh process (`mp-bench NAME` or `python3 bench_mp.py NAME`) that
//! prints one JSON line, `{"name", "unit", "value"}`. It runs through [`crate::runner`], in a
//! process group of its own, so that a timeout or a Ctrl-C kills it with everything it started,
//! and a measurement that leaves a process behind fails instead of loading the rounds after it.

use super::workloads::Workload;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// How long one measurement may take before it is killed and counted as failed.
const RUN_TIMEOUT: Duration = Duration::from_secs(300);
/// CPython's side, relative to the workspace root.
pub const PYTHON_SCRIPT: &str = "bench/python/bench_mp.py";

/// The measurements of one side: values in the side's unit, or why they stopped.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Samples {
    pub values: Vec<f64>,
    pub error: Option<String>,
}

/// A side's figure: median, min and max of its runs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Stats {
    pub median: f64,
    pub min: f64,
    pub max: f64,
}

impl Stats {
    /// How far apart the runs are, relative to the median: `(max - min) / median`.
    pub fn spread(&self) -> f64 {
        (self.max - self.min) / self.median
    }
}

impl Samples {
    pub fn median(&self) -> Option<f64> {
        median(&self.values)
    }

    /// Median, min and max; `None` if no run succeeded.
    pub fn stats(&self) -> Option<Stats> {
        Some(Stats {
            median: self.median()?,
            min: self.values.iter().copied().reduce(f64::min)?,
            max: self.values.iter().copied().reduce(f64::max)?,
        })
    }

    /// The same runs in another unit (a ceiling's runs in the unit of the workload it bounds).
    pub fn map(&self, f: fn(f64) -> f64) -> Samples {
        Samples {
            values: self.values.iter().map(|&v| f(v)).collect(),
            error: self.error.clone(),
        }
    }
}

pub fn median(values: &[f64]) -> Option<f64> {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(v[n / 2]),
        _ => Some((v[n / 2 - 1] + v[n / 2]) / 2.0),
    }
}

/// One side of a workload.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Side {
    /// An OS ceiling: a `raw_*` workload of `mp-bench`.
    Raw,
    Rust,
    Python,
}

/// The samples of one workload: Rust's, CPython's (`None` without python3) and its ceiling's
/// (`None` without one, in the ceiling's own unit).
#[derive(Debug)]
pub struct Measured {
    pub rust: Samples,
    pub python: Option<Samples>,
    pub raw: Option<Samples>,
}

/// Where and how the runs happen.
pub struct Bench {
    pub root: PathBuf,
    pub mp_bench: PathBuf,
    /// CPython's version, `None` when `python3` cannot be run.
    pub python: Option<String>,
    pub quick: bool,
}

impl Bench {
    /// One measurement of `name` on `side`, checked to be in `unit`.
    fn measure(&self, side: Side, name: &str, unit: &str) -> Result<f64, String> {
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
        let run = crate::runner::run(program, &args, &self.root, RUN_TIMEOUT)
            .map_err(|e| format!("cannot run {}: {e:#}", program.display()))?;
        let stderr = String::from_utf8_lossy(&run.stderr);
        let lines: Vec<&str> = stderr.lines().collect();
        let tail = lines[lines.len().saturating_sub(5)..].join("\n");
        let problems = run.failures();
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
    pub fn measure_workload(&self, w: &Workload, runs: usize) -> Measured {
        let mut rust = Samples::default();
        let mut python = self.python.as_ref().map(|_| Samples::default());
        let mut raw = w.ceiling.map(|_| Samples::default());
        eprint!("{:<30}", w.name);
        for i in 0..=runs {
            for side in [Side::Raw, Side::Rust, Side::Python, Side::Raw] {
                let (samples, name, unit) = match side {
                    Side::Raw => match (raw.as_mut(), w.ceiling) {
                        (Some(r), Some(c)) => (r, c.raw, c.raw_unit),
                        _ => continue,
                    },
                    Side::Rust => (&mut rust, w.name, w.unit),
                    Side::Python => match python.as_mut() {
                        Some(p) => (p, w.name, w.unit),
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
        let show = |s: &Samples| match (&s.error, s.median()) {
            (Some(e), _) => format!("FAILED ({})", e.lines().next().unwrap_or("")),
            (None, Some(m)) => super::report::fmt_num(m),
            (None, None) => "-".into(),
        };
        match &python {
            Some(p) => eprintln!("  rust {}, python {}", show(&rust), show(p)),
            None => eprintln!("  rust {}", show(&rust)),
        }
        Measured { rust, python, raw }
    }
}

/// The value of one result line, checked against the workload's name and unit.
pub fn parse_result(line: &str, name: &str, unit: &str) -> Result<f64, String> {
    let json: serde_json::Value = serde_json::from_str(line)
        .map_err(|e| format!("its last line is not a JSON result ({e}): {line:?}"))?;
    if json["name"].as_str() != Some(name) {
        return Err(format!("its result is not for {name}: {line:?}"));
    }
    let got = json["unit"].as_str();
    if got != Some(unit) {
        return Err(format!(
            "its unit is {got:?}, not {unit:?} (keep the two sides in step)"
        ));
    }
    match json["value"].as_f64() {
        Some(v) if v > 0.0 && v.is_finite() => Ok(v),
        _ => Err(format!("its value is not a positive number: {line:?}")),
    }
}

/// CPython's version, or `None` if `python3` cannot be run.
pub fn python_version(root: &Path) -> Option<String> {
    let out = Command::new("python3")
        .args(["-c", "import platform; print(platform.python_version())"])
        .current_dir(root)
        .output()
        .ok()?;
    let version = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    (out.status.success() && !version.is_empty()).then_some(version)
}

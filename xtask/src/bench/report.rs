//! The report: the figures of one run judged against the goals, as a terminal table,
//! `report.md` and `report.json`.

use super::measuring::{Samples, Stats};
use super::workloads::{Goal, Workload};
use anyhow::{Context, bail};
use serde::Serialize;
use std::fmt::Write as _;

/// Measured runs per side that make a full run, whose medians count for the goals.
pub const FULL_RUNS: usize = 5;

/// One row of the report: a workload's figures, each in the workload's unit.
#[derive(Debug)]
pub struct Row {
    pub workload: Workload,
    pub rust: Samples,
    /// `None` when python3 is missing.
    pub python: Option<Samples>,
    /// The ceiling's runs, converted to the workload's unit; `None` without a ceiling.
    pub raw: Option<Samples>,
}

/// The goals of a workload judged against the medians.
#[derive(Debug, PartialEq)]
pub struct Verdict {
    /// The goals in words, joined by "and".
    pub target: String,
    /// Whether every goal is met; `None` when one cannot be told (a side is missing).
    pub met: Option<bool>,
    /// Where the figures stand against each goal.
    pub stands: String,
}

impl Row {
    /// How many times better Rust's median is than CPython's.
    pub fn better(&self) -> Option<f64> {
        let rust = self.rust.median()?;
        let python = self.python.as_ref()?.median()?;
        let better = if self.workload.higher_is_better() {
            rust / python
        } else {
            python / rust
        };
        better.is_finite().then_some(better)
    }

    /// The ceiling's median in the workload's unit.
    pub fn raw_median(&self) -> Option<f64> {
        self.raw.as_ref()?.median()
    }

    /// Each goal, judged on the medians: (target, met, where the figure stands).
    fn judge(&self, goal: Goal) -> (String, Option<bool>, String) {
        let from = self.workload.ceiling.map_or("the ceiling", |c| c.from);
        let ratio = self.rust.median().zip(self.raw_median()).map(|(r, raw)| r / raw);
        match goal {
            Goal::TimesBetter(x) => {
                let better = self.better();
                (
                    format!("{x}x CPython"),
                    better.map(|b| b >= x),
                    better.map_or_else(|| "-".into(), |b| format!("{b:.1}x")),
                )
            }
            Goal::WithinRaw(x) => (
                format!("within {x}x of {from}"),
                ratio.map(|q| q <= x),
                ratio.map_or_else(|| "-".into(), |q| format!("{q:.2}x raw")),
            ),
            Goal::FractionOfRaw(f) => (
                format!("{:.0}% of {from}", f * 100.0),
                ratio.map(|q| q >= f),
                ratio.map_or_else(|| "-".into(), |q| format!("{:.0}% of raw", q * 100.0)),
            ),
        }
    }

    pub fn verdict(&self) -> Verdict {
        let judged: Vec<_> = self.workload.goals.iter().map(|&g| self.judge(g)).collect();
        let met = judged
            .iter()
            .try_fold(true, |all, (_, met, _)| Some(all && (*met)?));
        let met = if judged.iter().any(|(_, met, _)| *met == Some(false)) {
            Some(false)
        } else {
            met
        };
        Verdict {
            target: judged
                .iter()
                .map(|(t, ..)| t.as_str())
                .collect::<Vec<_>>()
                .join(" and "),
            met,
            stands: judged
                .iter()
                .map(|(.., s)| s.as_str())
                .collect::<Vec<_>>()
                .join(", "),
        }
    }
}

/// Where the figures come from.
#[derive(Debug, Clone)]
pub struct Machine {
    pub cpus: usize,
    pub cpu_model: String,
    pub date: String,
    pub python: Option<String>,
    pub load_before: String,
    pub load_after: String,
}

impl Machine {
    pub fn now(python: Option<String>) -> Machine {
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
            date: jiff::Timestamp::now().strftime("%Y-%m-%d %H:%M UTC").to_string(),
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
pub fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().map(str::to_owned))
        .unwrap_or_else(|| "?".into())
}

/// One ceiling's runs over every workload it bounds, in its own unit.
#[derive(Debug)]
pub struct CeilingRuns {
    pub name: &'static str,
    pub unit: &'static str,
    pub samples: Samples,
}

/// Everything one `bench` run measured.
pub struct Report {
    pub machine: Machine,
    pub rows: Vec<Row>,
    pub ceilings: Vec<CeilingRuns>,
    pub runs: usize,
    pub quick: bool,
}

/// A side's figure in `report.json`.
#[derive(Serialize)]
struct SideJson<'a> {
    median: f64,
    min: f64,
    max: f64,
    /// `(max - min) / median`.
    spread: f64,
    runs: &'a [f64],
}

impl<'a> SideJson<'a> {
    fn of(s: &'a Samples) -> Option<SideJson<'a>> {
        let stats = s.stats()?;
        Some(SideJson {
            median: stats.median,
            min: stats.min,
            max: stats.max,
            spread: stats.spread(),
            runs: &s.values,
        })
    }
}

/// A goal in `report.json`.
#[derive(Serialize)]
struct GoalJson {
    target: String,
    met: Option<bool>,
    stands: String,
    /// Whether the run was a full one (not `--quick`, at least [`FULL_RUNS`] runs per side):
    /// only then does `met` count.
    full_run: bool,
}

/// A row of `report.json`.
#[derive(Serialize)]
struct RowJson<'a> {
    name: &'a str,
    unit: &'a str,
    higher_is_better: bool,
    what: &'a str,
    rust: Option<SideJson<'a>>,
    python: Option<SideJson<'a>>,
    /// The ceiling's median, in the workload's unit.
    raw: Option<f64>,
    /// Which ceiling, and how the figure comes from it.
    raw_from: Option<&'a str>,
    /// The ceiling's runs, in the workload's unit.
    raw_runs: Option<SideJson<'a>>,
    better: Option<f64>,
    goal: GoalJson,
    #[serde(skip_serializing_if = "Option::is_none")]
    rust_error: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    python_error: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    raw_error: Option<&'a str>,
}

impl Report {
    /// Whether this run's medians count for the goals.
    pub fn full_run(&self) -> bool {
        !self.quick && self.runs >= FULL_RUNS
    }

    fn cells(&self) -> (Vec<&'static str>, Vec<Vec<String>>) {
        let header = vec![
            "workload",
            "unit",
            "Rust median [min-max]",
            "CPython median [min-max]",
            "ceiling median [min-max]",
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
                    r.raw
                        .as_ref()
                        .map_or_else(|| "-".into(), |s| fmt_samples(Some(s))),
                    r.better().map_or_else(|| "-".into(), |b| format!("{b:.1}x")),
                    fmt_goal(&r.verdict()),
                ]
            })
            .collect();
        (header, rows)
    }

    fn settings(&self) -> String {
        format!(
            "{} measured runs per side after a warm-up, alternating{}; medians, [min-max]; `better` = how many \
             times better Rust is than CPython (above 1: Rust wins; for times it is CPython/Rust); the \
             ceiling is the `mp-bench raw_*` workload named in the goal, run in the same rounds; {}",
            self.runs,
            if self.quick {
                ", --quick (smaller counts)"
            } else {
                ""
            },
            if self.full_run() {
                "a goal is met when the medians of this full run meet it"
            } else {
                "NOT a full run: the goals are shown, but only a full run's medians count"
            }
        )
    }

    fn ceilings_line(&self) -> String {
        let parts: Vec<String> = self
            .ceilings
            .iter()
            .map(|c| format!("{} {} {}", c.name, fmt_samples(Some(&c.samples)), c.unit))
            .collect();
        parts.join(", ")
    }

    /// The terminal table.
    pub fn table(&self) -> String {
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

    pub fn markdown(&self) -> String {
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

    /// `report.json`: a list with one object per workload.
    pub fn json(&self) -> String {
        let rows: Vec<RowJson> = self
            .rows
            .iter()
            .map(|r| {
                let w = &r.workload;
                let verdict = r.verdict();
                RowJson {
                    name: w.name,
                    unit: w.unit,
                    higher_is_better: w.higher_is_better(),
                    what: w.what,
                    rust: SideJson::of(&r.rust),
                    python: r.python.as_ref().and_then(SideJson::of),
                    raw: r.raw_median(),
                    raw_from: w.ceiling.map(|c| c.from),
                    raw_runs: r.raw.as_ref().and_then(SideJson::of),
                    better: r.better(),
                    goal: GoalJson {
                        target: verdict.target,
                        met: verdict.met,
                        stands: verdict.stands,
                        full_run: self.full_run(),
                    },
                    rust_error: r.rust.error.as_deref(),
                    python_error: r.python.as_ref().and_then(|p| p.error.as_deref()),
                    raw_error: r.raw.as_ref().and_then(|p| p.error.as_deref()),
                }
            })
            .collect();
        let mut text = serde_json::to_string_pretty(&rows).expect("a report of plain numbers and strings");
        text.push('\n');
        text
    }
}

/// Checks that `text` is a report of `names`, in that order, with every key and figure in place:
/// each side's median, min, max and spread, the ceiling (`raw`, `raw_from`), `better` and the goal.
pub fn check_report(text: &str, names: &[&str], with_python: bool) -> anyhow::Result<()> {
    let json: serde_json::Value = serde_json::from_str(text).context("not JSON")?;
    let rows = json.as_array().context("not a list")?;
    if rows.len() != names.len() {
        bail!("{} rows for {} workloads", rows.len(), names.len());
    }
    for (row, name) in rows.iter().zip(names) {
        if row["name"].as_str() != Some(name) {
            bail!("a row is not {name}");
        }
        for key in [
            "name", "unit", "rust", "python", "raw", "raw_from", "raw_runs", "better", "goal",
        ] {
            if row.get(key).is_none() {
                bail!("{name} has no `{key}`");
            }
        }
        let side_ok = |side: &str| {
            let s = &row[side];
            let (median, min, max, spread) = (
                s["median"].as_f64()?,
                s["min"].as_f64()?,
                s["max"].as_f64()?,
                s["spread"].as_f64()?,
            );
            (min <= median && median <= max && min > 0.0 && spread >= 0.0).then_some(())
        };
        if side_ok("rust").is_none() && row.get("rust_error").is_none() {
            bail!("{name}: `rust` has no consistent median/min/max/spread and no `rust_error`");
        }
        if with_python && side_ok("python").is_none() && row.get("python_error").is_none() {
            bail!("{name}: `python` has no consistent median/min/max/spread and no `python_error`");
        }
        if !row["raw_from"].is_null() && side_ok("raw_runs").is_none() && row.get("raw_error").is_none() {
            bail!(
                "{name}: a ceiling ({}) without its runs and no `raw_error`",
                row["raw_from"]
            );
        }
        let goal = &row["goal"];
        if goal["target"].as_str().is_none()
            || goal.get("met").is_none()
            || goal["full_run"].as_bool().is_none()
        {
            bail!("{name}: `goal` lacks `target`, `met` or `full_run`");
        }
    }
    Ok(())
}

/// A figure with three significant digits, thousands grouped, millions as `M`.
pub fn fmt_num(v: f64) -> String {
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
            Some(Stats { median, min, max }) if s.error.is_none() => {
                format!("{} [{}-{}]", fmt_num(median), fmt_num(min), fmt_num(max))
            }
            _ => "FAILED".into(),
        },
    }
}

pub fn fmt_goal(v: &Verdict) -> String {
    let met = match v.met {
        Some(true) => "met",
        Some(false) => "MISSED",
        None => "?",
    };
    format!("{}: {met} ({})", v.target, v.stands)
}

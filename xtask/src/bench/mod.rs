//! `cargo xtask bench [--quick] [--runs N] [--json PATH] [NAME...]`: the runtime against
//! CPython's `multiprocessing`, workload by workload, on this machine.
//!
//! Each workload has two programs doing the same work: `mp-bench NAME` (the `bench/` crate, built
//! once in release) and `python3 bench/python/bench_mp.py NAME`. Each prints one JSON line,
//! `{"name", "unit", "value"}`, for one measurement. For every workload this task runs one
//! warm-up of each side, then `N` measured rounds (5 by default) alternating Rust and CPython,
//! so that a change in the machine's load hits both sides alike, and reports the median with the
//! minimum and maximum. A workload bounded by an OS ceiling (a `raw_*` workload of `mp-bench`:
//! the thinnest Rust code doing the same through the same mechanism) runs its ceiling in every
//! round too, before and after Rust and CPython, so the three figures see the same load.
//!
//! It prints a table and writes, under `target/bench/`:
//! - `report.json`: a list with one object per workload:
//!   - `name`, `unit`, `higher_is_better`, `what`;
//!   - `rust`, `python`: `{"median", "min", "max", "spread", "runs": [...]}` in the workload's
//!     unit (`spread` is `(max - min) / median`), or `null` when that side did not run
//!     (`python3` missing) or failed (then `rust_error` / `python_error` says why);
//!   - `raw`: the OS ceiling's median in the workload's unit, or `null` where none applies;
//!     `raw_from`, the ceiling and how the figure comes from it (`"4 x raw_fork_wait"`), and
//!     `raw_runs`, the ceiling's runs as `rust`'s (`raw_error` when it failed);
//!   - `better`: how many times better Rust's median is than CPython's (Rust/CPython for
//!     higher-is-better units, CPython/Rust for times), `null` without both;
//!   - `goal`: `{"target", "met", "stands", "full_run"}`: the issue's goals in words, whether
//!     the medians meet all of them (`null` when it cannot be told), where the figures stand,
//!     and whether this was a full run (only a full run's medians count);
//! - `report.md`: the machine, the date, CPython's version, the load average, the table;
//! - `better.svg` (times better than CPython per workload, with the goals) and `<name>.svg` per
//!   workload (Rust, CPython and the ceiling, median bars with min-max whiskers).
//!
//! The modules: [`workloads`] (the goals, as data), [`measuring`] (the runs), [`report`] (the
//! table and the files) and [`plots`] (the charts).

mod measuring;
mod plots;
mod report;
mod workloads;

use crate::registry;
use anyhow::{Context, bail};
use measuring::{Bench, Samples};
use report::{CeilingRuns, Machine, Report, Row};
use std::path::{Path, PathBuf};
use workloads::{WORKLOADS, Workload};

/// Measured runs per side unless `--runs` says otherwise: a full run.
const DEFAULT_RUNS: usize = report::FULL_RUNS;

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
                bail!(
                    "unknown option {flag}\nusage: cargo xtask bench [--quick] [--runs N] [--json PATH] [NAME...]"
                )
            }
            name => {
                if workloads::find(name).is_none() {
                    let known: Vec<&str> = WORKLOADS.iter().map(|w| w.name).collect();
                    bail!("no workload `{name}`; the workloads are: {}", known.join(" "));
                }
                options.names.push(name.to_owned());
            }
        }
    }
    Ok(options)
}

/// Runs the task; returns whether every run succeeded and the report is well formed.
pub fn main(args: &[String]) -> anyhow::Result<bool> {
    let options = parse_args(args)?;
    crate::runner::watch_interrupts()?;
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

    let python = measuring::python_version(&root);
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
    // Each ceiling's runs from every workload it bounds, for the report's "OS ceilings" line.
    let mut ceilings: Vec<CeilingRuns> = Vec::new();
    let total = selected.len();
    for (i, w) in selected.into_iter().enumerate() {
        eprint!("[{:>2}/{total}] ", i + 1);
        let measured = bench.measure_workload(&w, runs);
        let raw = w
            .ceiling
            .zip(measured.raw.as_ref())
            .map(|(c, s)| s.map(c.convert));
        if let (Some(c), Some(samples)) = (w.ceiling, measured.raw) {
            match ceilings.iter_mut().find(|r| r.name == c.raw) {
                Some(all) => {
                    all.samples.values.extend(samples.values);
                    all.samples.error = all.samples.error.take().or(samples.error);
                }
                None => ceilings.push(CeilingRuns {
                    name: c.raw,
                    unit: c.raw_unit,
                    samples,
                }),
            }
        }
        rows.push(Row {
            workload: w,
            rust: measured.rust,
            python: measured.python,
            raw,
        });
    }
    let machine = Machine {
        load_after: report::loadavg(),
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
    let json = report.json();
    let json_path = dir.join("report.json");
    std::fs::write(&json_path, &json).with_context(|| format!("writing {}", json_path.display()))?;
    if let Some(path) = &options.json {
        std::fs::write(path, &json).with_context(|| format!("writing {}", path.display()))?;
    }
    std::fs::write(dir.join("report.md"), report.markdown()).context("writing report.md")?;
    std::fs::write(dir.join("better.svg"), plots::better_svg(&report)?).context("writing better.svg")?;
    for row in &report.rows {
        let name = row.workload.name;
        std::fs::write(dir.join(format!("{name}.svg")), plots::row_svg(row)?)
            .with_context(|| format!("writing {name}.svg"))?;
    }

    // The smoke test in CI relies on this: the file just written must read back as a report.
    let names: Vec<&str> = report.rows.iter().map(|r| r.workload.name).collect();
    let written = std::fs::read_to_string(&json_path).context("reading report.json back")?;
    report::check_report(&written, &names, report.machine.python.is_some())
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
    let failed: Vec<String> = report
        .rows
        .iter()
        .flat_map(|r| {
            let sides = [
                ("rust", Some(&r.rust)),
                ("python", r.python.as_ref()),
                ("ceiling", r.raw.as_ref()),
            ];
            sides.into_iter().filter_map(move |(side, s)| {
                let err = s.and_then(|s: &Samples| s.error.as_ref())?;
                Some(format!(
                    "{} ({side}): {}",
                    r.workload.name,
                    err.replace('\n', "\n    ")
                ))
            })
        })
        .collect();
    if !failed.is_empty() {
        println!("failed runs (see also report.json):");
        for f in &failed {
            println!("  {f}");
        }
    }
    Ok(failed.is_empty())
}

#[cfg(test)]
mod tests {
    use super::measuring::{PYTHON_SCRIPT, median, parse_result};
    use super::report::{check_report, fmt_num};
    use super::workloads::find;
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
        *find(name).unwrap()
    }

    fn row(name: &str, rust: &[f64], python: Option<&[f64]>, raw: Option<&[f64]>) -> Row {
        Row {
            workload: workload(name),
            rust: samples(rust),
            python: python.map(samples),
            raw: raw.map(samples),
        }
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
        assert!(
            parse_args(&strings(&["nope"]))
                .unwrap_err()
                .to_string()
                .contains("map_100k")
        );
        assert!(parse_args(&strings(&["--runs", "0"])).is_err());
        assert!(parse_args(&strings(&["--json"])).is_err());
        assert!(parse_args(&strings(&["--fast"])).is_err());
    }

    /// The names are the contract with `bench_mp.py` and `mp-bench`: every workload in both
    /// files, with its unit, and every ceiling in `raw.rs` with its unit.
    #[test]
    fn every_workload_exists_on_both_sides() {
        assert_eq!(WORKLOADS.len(), 22);
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
                assert!(
                    raw.contains(&format!("\"{}\" => (\"{}\"", c.raw, c.raw_unit)),
                    "{}",
                    c.raw
                );
                assert!(c.from.contains(c.raw), "{}'s raw_from names its ceiling", w.name);
            }
        }
    }

    #[test]
    fn medians_and_better() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), Some(2.5));
        assert_eq!(median(&[]), None);
        // A time: lower is better, so better = CPython / Rust.
        let r = row("map_100k", &[2.0, 3.0, 2.5], Some(&[40.0, 30.0, 37.5]), None);
        assert_eq!(r.better(), Some(15.0));
        assert_eq!(r.verdict().met, Some(true));
        // A rate: higher is better, so better = Rust / CPython.
        let r = row("queue_small", &[1e6], Some(&[2e5]), None);
        assert_eq!(r.better(), Some(5.0));
        assert_eq!(r.verdict().met, Some(false));
        // Memory: lower is better; RSS 5x and PSS 15x smaller than CPython's.
        let r = row("mem_pool_worker_pss", &[300.0], Some(&[3900.0]), None);
        assert!(!r.workload.higher_is_better());
        assert_eq!(r.better(), Some(13.0));
        assert_eq!(r.verdict().met, Some(false));
        assert_eq!(
            row("mem_pool_worker_rss", &[2000.0], Some(&[13000.0]), None)
                .verdict()
                .met,
            Some(true)
        );
        // Without CPython there is no `better` and no verdict on it.
        let r = row("queue_small", &[1e6], None, None);
        assert_eq!((r.better(), r.verdict().met), (None, None));
    }

    #[test]
    fn goals_against_the_ceilings() {
        let met = |name: &str, rust: f64, python: Option<f64>, raw: f64| {
            let python = python.map(|p| vec![p]);
            row(name, &[rust], python.as_deref(), Some(&[raw])).verdict().met
        };
        assert_eq!(met("process_start_join", 0.22, None, 0.2), Some(true));
        assert_eq!(met("process_start_join", 0.24, None, 0.2), Some(false));
        assert_eq!(met("pipe_1mib", 6700.0, None, 7000.0), Some(true));
        assert_eq!(met("queue_1mib", 6000.0, None, 7500.0), Some(false));
        assert_eq!(met("tutorial_speedup", 1.9, None, 1.98), Some(true));
        assert_eq!(met("tutorial_speedup", 1.8, None, 1.98), Some(false));
        assert_eq!(met("recv_trickle", 7.0, None, 5.0), Some(true));
        assert_eq!(met("recv_trickle", 20.0, None, 5.0), Some(false));
        // pipe_rtt has two goals: 10x CPython and within 1.15x of the spinning ceiling.
        assert_eq!(met("pipe_rtt", 4.5, Some(50.0), 4.2), Some(true));
        assert_eq!(met("pipe_rtt", 6.0, Some(100.0), 4.2), Some(false));
        assert_eq!(met("pipe_rtt", 4.5, Some(30.0), 4.2), Some(false));
        assert_eq!(met("pipe_rtt", 4.5, None, 4.2), None);
        let v = row("pipe_rtt", &[4.5], Some(&[50.0]), Some(&[4.2])).verdict();
        assert_eq!(v.target, "10x CPython and within 1.15x of raw_socket_rtt_spin");
        assert_eq!(v.stands, "11.1x, 1.07x raw");
        let manager = workload("manager_dict").ceiling.unwrap();
        assert_eq!((manager.convert)(4.0), 250_000.0);
        let pool = workload("pool_lifecycle").ceiling.unwrap();
        assert_eq!((pool.convert)(0.2), 0.8);
    }

    fn sample_report(runs: usize, quick: bool) -> Report {
        let mut failed = samples(&[]);
        failed.error = Some("exited with status 1".into());
        Report {
            machine: Machine::now(Some("3.x".into())),
            rows: vec![
                row(
                    "pipe_rtt",
                    &[4.0, 5.0],
                    Some(&[20.0, 21.0]),
                    Some(&[3.5, 3.9, 3.6]),
                ),
                Row {
                    python: Some(failed),
                    ..row("map_100k", &[3.0], None, None)
                },
            ],
            ceilings: vec![CeilingRuns {
                name: "raw_socket_rtt_spin",
                unit: "us",
                samples: samples(&[3.5, 3.9, 3.6]),
            }],
            runs,
            quick,
        }
    }

    /// The report reads back with the keys the benchmark issue names: each side's figure with
    /// its spread, the ceiling (`raw`, `raw_from`, its runs), `better` and the goal.
    #[test]
    fn the_report_reads_back_with_its_keys() {
        let report = sample_report(2, true);
        let text = report.json();
        check_report(&text, &["pipe_rtt", "map_100k"], true).unwrap();
        let rows: serde_json::Value = serde_json::from_str(&text).unwrap();
        let pipe = &rows[0];
        assert_eq!(pipe["better"].as_f64(), Some(20.5 / 4.5));
        assert_eq!(pipe["raw"].as_f64(), Some(3.6));
        assert_eq!(pipe["raw_from"], "raw_socket_rtt_spin");
        assert_eq!(pipe["raw_runs"]["max"].as_f64(), Some(3.9));
        assert_eq!(pipe["rust"]["spread"].as_f64(), Some(1.0 / 4.5));
        assert_eq!(pipe["rust"]["runs"], serde_json::json!([4.0, 5.0]));
        assert_eq!(pipe["goal"]["full_run"], false);
        assert!(pipe.get("rust_error").is_none());
        assert!(rows[1]["python"].is_null());
        assert_eq!(rows[1]["python_error"], "exited with status 1");
        assert!(rows[1]["raw_from"].is_null());
        assert!(check_report(&text, &["pipe_rtt"], true).is_err());
        let renamed = text.replace("\"goal\"", "\"gaol\"");
        assert!(check_report(&renamed, &["pipe_rtt", "map_100k"], true).is_err());
        let no_spread = text.replace("\"spread\"", "\"sprd\"");
        assert!(check_report(&no_spread, &["pipe_rtt", "map_100k"], true).is_err());
        assert_eq!(report::FULL_RUNS, 5);
        let full: serde_json::Value = serde_json::from_str(&sample_report(5, false).json()).unwrap();
        assert_eq!(full[0]["goal"]["full_run"], true);
    }

    #[test]
    fn the_table_markdown_and_plots() {
        let report = sample_report(2, true);
        let table = report.table();
        assert!(
            table.contains("4.50 [4.00-5.00]") && table.contains("FAILED"),
            "{table}"
        );
        assert!(
            table.contains("3.60 [3.50-3.90]"),
            "the ceiling's spread: {table}"
        );
        assert!(table.contains("NOT a full run"), "{table}");
        assert!(report.markdown().contains("| `pipe_rtt` | us |"));
        let better = plots::better_svg(&report).unwrap();
        assert!(better.starts_with("<svg") && better.trim_end().ends_with("</svg>"));
        assert!(better.contains("pipe_rtt") && better.contains("4.6x"), "{better}");
        for row in &report.rows {
            let svg = plots::row_svg(row).unwrap();
            assert!(svg.starts_with("<svg") && svg.contains(row.workload.name));
        }
        assert!(
            plots::row_svg(&report.rows[0])
                .unwrap()
                .contains("ceiling: raw_socket_rtt_spin")
        );
    }

    #[test]
    fn result_lines() {
        let ok = r#"{"name": "pipe_rtt", "unit": "us", "value": 4.5}"#;
        assert_eq!(parse_result(ok, "pipe_rtt", "us"), Ok(4.5));
        assert!(parse_result(ok, "pipe_1mib", "us").is_err());
        assert!(
            parse_result(ok, "pipe_rtt", "ms")
                .unwrap_err()
                .contains("in step")
        );
        assert!(parse_result("Traceback", "pipe_rtt", "us").is_err());
        let zero = r#"{"name": "pipe_rtt", "unit": "us", "value": 0}"#;
        assert!(parse_result(zero, "pipe_rtt", "us").is_err());
    }

    #[test]
    fn numbers() {
        assert_eq!(fmt_num(1_234_567.0), "1.23M");
        assert_eq!(fmt_num(23_456.4), "23,456");
        assert_eq!(fmt_num(123.4), "123");
        assert_eq!(fmt_num(4.4096), "4.41");
        assert_eq!(fmt_num(0.0877), "0.088");
    }
}

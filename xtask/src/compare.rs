//! `cargo xtask compare [ID...]`: each example beside the Python program it ports, both run,
//! their outputs side by side with their wall times.
//!
//! The Python programs ship in the repository, one per ID, as `<crate>/python/<ID>.py`: the
//! tutorial's own code where it has a program, and for our extra IDs a program that does what
//! the Rust example does. The Rust examples are built in release (one `cargo build`), so that the
//! wall times compare optimised Rust with CPython. Each side runs with the example's `verify`
//! time limit, in a process group of its own, from the workspace root.
//!
//! The outputs go side by side when both fit in half the terminal (`COLUMNS`, else the
//! terminal's width from `stty size`, else 160 columns), one after the other otherwise. The summary says, per ID, both wall times and whether
//! each side's stdout matches `expected/<ID>.stdout` (the expected files are written to what the
//! Python prints, so this checks that claim too). Without `python3` the Rust side still runs.

use crate::cli;
use crate::list::display_width;
use crate::pattern::Pattern;
use crate::registry::{self, EXAMPLES, Example};
use crate::runner::{self, Run};
use anyhow::{Context, bail};
use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

/// The terminal width when `COLUMNS` does not say.
const DEFAULT_COLUMNS: usize = 160;

/// What one side of one example did.
struct Side {
    /// `None` when the side could not run at all (python3 missing).
    run: Option<Run>,
    /// Why it could not run, or what went wrong.
    problem: Option<String>,
    /// Whether its stdout matches the expected file (`None` when there is none or no run).
    matches: Option<bool>,
}

impl Side {
    fn took(&self) -> Option<Duration> {
        self.run.as_ref().map(|r| r.took)
    }

    fn ok(&self) -> bool {
        self.problem.is_none()
    }

    /// Its stdout lines, then its stderr lines marked, then its problem.
    fn lines(&self) -> Vec<String> {
        let mut lines = Vec::new();
        if let Some(run) = &self.run {
            lines.extend(
                String::from_utf8_lossy(&run.stdout)
                    .lines()
                    .map(|l| l.replace('\t', "    ")),
            );
            lines.extend(
                String::from_utf8_lossy(&run.stderr)
                    .lines()
                    .map(|l| format!("stderr: {}", l.replace('\t', "    "))),
            );
        }
        if let Some(problem) = &self.problem {
            lines.push(format!("!! {problem}"));
        }
        lines
    }
}

/// Runs the task; returns whether every side that could run ran cleanly.
pub fn main(args: &[String]) -> anyhow::Result<bool> {
    if let Some(flag) = args.iter().find(|a| a.starts_with('-')) {
        return Err(cli::unknown_option("compare", flag, &[]));
    }
    runner::watch_interrupts()?;
    let root = registry::workspace_root();
    let selected: Vec<&Example> = if args.is_empty() {
        EXAMPLES.iter().collect()
    } else {
        registry::find_all(args)?
    };

    let mut packages: Vec<&str> = selected.iter().map(|e| e.package).collect();
    packages.sort_unstable();
    packages.dedup();
    let mut build = Command::new(crate::cargo());
    build.current_dir(&root).args(["build", "--release"]);
    for p in &packages {
        build.args(["-p", p]);
    }
    eprintln!(
        "compare: building the examples in release, so that the wall times compare optimised Rust with CPython"
    );
    let status = build
        .status()
        .context("starting `cargo build --release` for the examples")?;
    if !status.success() {
        bail!("`cargo build --release` of the examples failed ({status})");
    }
    let release = registry::debug_dir(&root)
        .parent()
        .map_or_else(|| root.join("target"), Path::to_path_buf)
        .join("release");

    let python = Command::new("python3")
        .arg("--version")
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned());
    match &python {
        Some(v) => eprintln!("compare: {v} (python3 on PATH)"),
        None => println!("compare: python3 NOT FOUND on PATH: showing the Rust side only"),
    }
    let columns = terminal_columns();

    let mut summary = Vec::new();
    for e in &selected {
        let expected = std::fs::read_to_string(root.join(e.expected_file()))
            .ok()
            .and_then(|text| Pattern::parse(&text).ok());
        let check = |run: &Run| {
            expected
                .as_ref()
                .map(|p| p.matches(&String::from_utf8_lossy(&run.stdout)).is_ok())
        };

        let bin = release.join(e.package);
        let rust = side(runner::run(&bin, &e.args(), &root, e.timeout), &check);
        let script = root.join(e.python_file());
        let py = if python.is_none() {
            Side {
                run: None,
                problem: Some("python3 not found on PATH".into()),
                matches: None,
            }
        } else if !script.is_file() {
            Side {
                run: None,
                problem: Some(format!("{} does not exist", e.python_file())),
                matches: None,
            }
        } else {
            let script = script.to_string_lossy().into_owned();
            side(
                runner::run(Path::new("python3"), &[&script], &root, e.timeout),
                &check,
            )
        };
        print!("{}", show(e, &rust, &py, columns));
        // Where the two programs cannot do the same work, the example's header says so (the
        // `Work:` notes the book shows too): say it under the outputs, so the times are read
        // for what they are.
        let main_rs = std::fs::read_to_string(root.join(e.dir()).join("src/main.rs"))
            .with_context(|| format!("reading {}/src/main.rs", e.dir()))?;
        for note in crate::book::notes::parse(&main_rs)?
            .iter()
            .filter(|n| n.work && n.applies_to(e.id))
        {
            println!("note ({}): not the tutorial's own work: {}", e.id, note.en);
        }
        summary.push((e.id, rust, py));
    }

    println!("\n{}", summary_table(&summary));
    if python.is_none() {
        println!("python3 was not found on PATH: only the Rust side ran.");
    }
    let failed: Vec<&str> = summary
        .iter()
        .filter(|(_, r, p)| !r.ok() || (python.is_some() && !p.ok()))
        .map(|(id, _, _)| *id)
        .collect();
    if !failed.is_empty() {
        println!("did not run cleanly: {}", failed.join(" "));
    }
    Ok(failed.is_empty())
}

/// The terminal's width: `COLUMNS` if exported, else what `stty size` says of the controlling
/// terminal, else [`DEFAULT_COLUMNS`] (output to a file or a pipe without a terminal).
fn terminal_columns() -> usize {
    let from_env = std::env::var("COLUMNS").ok().and_then(|c| c.parse().ok());
    let from_tty = || {
        let tty = std::fs::File::open("/dev/tty").ok()?;
        let out = Command::new("stty").arg("size").stdin(tty).output().ok()?;
        // `stty size` prints "ROWS COLUMNS".
        String::from_utf8_lossy(&out.stdout)
            .split_whitespace()
            .nth(1)?
            .parse()
            .ok()
    };
    from_env
        .or_else(from_tty)
        .filter(|&c: &usize| c >= 40)
        .unwrap_or(DEFAULT_COLUMNS)
}

/// A side from its run: problems are a non-zero exit, a timeout, processes left behind.
fn side(run: anyhow::Result<Run>, check: &dyn Fn(&Run) -> Option<bool>) -> Side {
    match run {
        Err(e) => Side {
            run: None,
            problem: Some(format!("cannot run it: {e:#}")),
            matches: None,
        },
        Ok(run) => {
            let problems = run.failures();
            Side {
                matches: check(&run),
                problem: (!problems.is_empty()).then(|| problems.join("; ")),
                run: Some(run),
            }
        }
    }
}

fn seconds(d: Option<Duration>) -> String {
    d.map_or_else(|| "-".into(), |d| format!("{:.3} s", d.as_secs_f64()))
}

/// Pads `s` with spaces to `width` terminal columns, or cuts it to fit with `…`.
fn fit(s: &str, width: usize) -> String {
    let w = display_width(s);
    if w <= width {
        return format!("{s}{}", " ".repeat(width - w));
    }
    let mut out = String::new();
    let mut used = 0;
    for c in s.chars() {
        let cw = display_width(c.encode_utf8(&mut [0; 4]));
        if used + cw > width.saturating_sub(1) {
            break;
        }
        out.push(c);
        used += cw;
    }
    out.push('…');
    used += 1;
    out.push_str(&" ".repeat(width.saturating_sub(used)));
    out
}

/// One example: a header, then both outputs side by side or one after the other.
fn show(e: &Example, rust: &Side, py: &Side, columns: usize) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "\n== {}  {}  ({})", e.id, e.about, e.place);
    let rust_title = format!("Rust: {}  [{}]", e.command(), seconds(rust.took()));
    let py_title = format!("Python: python3 {}  [{}]", e.python_file(), seconds(py.took()));
    let (left, right) = (rust.lines(), py.lines());
    let half = (columns.saturating_sub(3)) / 2;
    let widest = left
        .iter()
        .chain(&right)
        .map(|l| display_width(l))
        .max()
        .unwrap_or(0);
    if widest <= half {
        // The titles may be longer than the lines: then they go on lines of their own.
        let titles_fit = display_width(&rust_title).max(display_width(&py_title)) <= half;
        let width = left
            .iter()
            .chain(titles_fit.then_some(&rust_title))
            .map(|l| display_width(l))
            .max()
            .unwrap_or(0)
            .max(4);
        let right_width = right
            .iter()
            .chain(titles_fit.then_some(&py_title))
            .map(|l| display_width(l))
            .max()
            .unwrap_or(0)
            .max(6);
        if titles_fit {
            let _ = writeln!(out, "{} | {py_title}", fit(&rust_title, width));
        } else {
            let _ = writeln!(out, "left:  {rust_title}\nright: {py_title}");
            let _ = writeln!(out, "{} | Python", fit("Rust", width));
        }
        let _ = writeln!(out, "{}-+-{}", "-".repeat(width), "-".repeat(right_width));
        for i in 0..left.len().max(right.len()) {
            let l = left.get(i).map_or("", String::as_str);
            let r = right.get(i).map_or("", String::as_str);
            let line = format!("{} | {r}", fit(l, width));
            let _ = writeln!(out, "{}", line.trim_end());
        }
    } else {
        for (title, lines) in [(&rust_title, &left), (&py_title, &right)] {
            let _ = writeln!(out, "{title}\n{}", "-".repeat(display_width(title).min(columns)));
            for l in lines {
                let _ = writeln!(out, "{l}");
            }
        }
    }
    out
}

fn summary_table(rows: &[(&str, Side, Side)]) -> String {
    let yes_no = |m: Option<bool>| match m {
        Some(true) => "yes",
        Some(false) => "no",
        None => "-",
    };
    let mut out = format!(
        "{:<16} {:>10} {:>10} {:>11}  {:<14} {}\n",
        "ID", "Rust", "Python", "Python/Rust", "Rust=expected", "Python=expected"
    );
    for (id, rust, py) in rows {
        let ratio = rust.took().zip(py.took()).map_or_else(
            || "-".into(),
            |(r, p)| format!("{:.1}x", p.as_secs_f64() / r.as_secs_f64()),
        );
        let _ = writeln!(
            out,
            "{id:<16} {:>10} {:>10} {ratio:>11}  {:<14} {}",
            seconds(rust.took()),
            seconds(py.took()),
            yes_no(rust.matches),
            yes_no(py.matches)
        );
    }
    out.push_str(
        "(wall times of one run each, process start included; `=expected`: the stdout matches \
         expected/<ID>.stdout, the pattern of what the Python prints)\n",
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ran(stdout: &str, stderr: &str, ms: u64) -> Side {
        Side {
            run: Some(Run {
                status: None,
                stdout: stdout.as_bytes().to_vec(),
                stderr: stderr.as_bytes().to_vec(),
                problems: Vec::new(),
                took: Duration::from_millis(ms),
            }),
            problem: None,
            matches: Some(true),
        }
    }

    #[test]
    fn short_outputs_go_side_by_side() {
        let e = registry::find("3.1.2").unwrap();
        let text = show(e, &ran("[1, 4]\n", "", 5), &ran("[1, 4]\n", "", 50), 160);
        assert!(
            text.contains("[1, 4]")
                && text
                    .lines()
                    .any(|l| l.starts_with("[1, 4]") && l.ends_with("| [1, 4]")),
            "{text}"
        );
        assert!(text.contains("[0.005 s]") && text.contains("[0.050 s]"), "{text}");
    }

    #[test]
    fn long_outputs_go_one_after_the_other() {
        let e = registry::find("3.1.2").unwrap();
        let long = "x".repeat(100);
        let text = show(e, &ran(&long, "oops", 5), &ran("short", "", 50), 80);
        let rust_at = text.find("Rust:").unwrap();
        let py_at = text.find("Python:").unwrap();
        assert!(
            rust_at < text.find(&long).unwrap() && text.find(&long).unwrap() < py_at,
            "{text}"
        );
        assert!(text.contains("stderr: oops"), "{text}");
    }

    #[test]
    fn long_titles_over_short_lines_go_on_lines_of_their_own() {
        let e = registry::find("3.3.3").unwrap();
        let text = show(e, &ran("子进程运行\n", "", 5), &ran("子进程运行\n", "", 50), 100);
        assert!(
            text.contains("\nleft:  Rust: ") && text.contains("\nright: Python: "),
            "{text}"
        );
        assert!(text.lines().any(|l| l == "子进程运行 | 子进程运行"), "{text}");
    }

    #[test]
    fn wide_characters_are_padded_by_columns() {
        assert_eq!(fit("进程", 6), "进程  ");
        assert_eq!(display_width(&fit("进程进程进程", 7)), 7);
        assert_eq!(fit("abc", 3), "abc");
    }

    #[test]
    fn the_summary_names_times_and_matches() {
        let rows = vec![("2.1", ran("a", "", 10), ran("a", "", 40))];
        let table = summary_table(&rows);
        assert!(table.contains("4.0x") && table.contains("yes"), "{table}");
    }
}

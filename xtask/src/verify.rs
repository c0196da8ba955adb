//! `cargo xtask verify [ID...] [--repeat N]`: builds once, runs each example and checks its output.
//!
//! Each example binary runs straight from `target/debug/` (not through `cargo run`, so that a
//! timeout kills the example and not cargo) through [`runner::run`]: in a process group of its
//! own, with its output captured. The run fails when it exits with a status other than 0, when it
//! outlives its timeout (the whole group is then killed), when its stdout does not match
//! `expected/<ID>.stdout` (the pattern format is in `pattern.rs`), or when a process of its group
//! is still alive after it exited: an example must join its children. Around the whole run,
//! processes from the workspace's binaries, `/dev/shm` entries, the system's shared memory and
//! verify's own descriptors are counted before and after (see `leaks.rs`); a process or
//! `/dev/shm` entry left over, or a descriptor leaked, fails the run.

use crate::pattern::Pattern;
use crate::registry::{self, EXAMPLES, Example};
use crate::runner::{self, EXIT_GRACE, seconds};
use crate::{cli, leaks};
use anyhow::{Context, bail};
use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

// `bench.rs` reaches the runner through `verify::` until it calls `crate::runner` itself.

/// The options of `cargo xtask verify`, for the message about an unknown one.
const OPTIONS: &[&str] = &["--repeat N"];

/// Runs the task; returns whether every example passed.
pub fn main(args: &[String]) -> anyhow::Result<bool> {
    let (ids, repeat) = parse_args(args)?;
    runner::watch_interrupts()?;
    let selected = if ids.is_empty() {
        EXAMPLES.iter().collect()
    } else {
        registry::find_all(&ids)?
    };
    let root = registry::workspace_root();

    build(&root)?;
    let bin_dir = registry::debug_dir(&root);
    let before = leaks::snapshot(&bin_dir);
    let mut passed = 0;
    let mut failed = Vec::new();
    for example in selected {
        match verify(example, &root, &bin_dir, repeat) {
            Ok(took) if repeat > 1 => {
                println!(
                    "verify {:<16} ok ({repeat} runs, slowest {})",
                    example.id,
                    seconds(took)
                );
                passed += 1;
            }
            Ok(took) => {
                println!("verify {:<16} ok ({})", example.id, seconds(took));
                passed += 1;
            }
            Err(report) => {
                println!("verify {:<16} FAILED\n{report}", example.id);
                failed.push(example.id);
            }
        }
    }
    // Processes of the last run may still be on their way out.
    std::thread::sleep(EXIT_GRACE);
    let (report, found) = leaks::compare(&before, &leaks::snapshot(&bin_dir));
    print!("\n{report}");
    for leak in &found {
        println!("LEAK: {leak}");
    }
    println!("\n{passed} passed, {} failed", failed.len());
    if !failed.is_empty() {
        println!("failed: {}", failed.join(" "));
        println!(
            "run `cargo xtask verify ID` to see the diff (e.g. `cargo xtask verify {}`)",
            failed[0]
        );
    }
    Ok(failed.is_empty() && found.is_empty())
}

fn parse_args(args: &[String]) -> anyhow::Result<(Vec<String>, u32)> {
    let mut ids = Vec::new();
    let mut repeat = 1;
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        if let Some(value) = cli::value("--repeat", arg, &mut args) {
            repeat = cli::whole_number("--repeat", value)?;
        } else if arg.starts_with('-') {
            return Err(cli::unknown_option("verify", arg, OPTIONS));
        } else {
            ids.push(arg.clone());
        }
    }
    Ok((ids, repeat))
}

/// One `cargo build` for every example, so that no example's run includes a build.
fn build(root: &Path) -> anyhow::Result<()> {
    println!("building: cargo build --workspace --bins");
    let status = Command::new(crate::cargo())
        .current_dir(root)
        .args(["build", "--workspace", "--bins"])
        .status()
        .context("starting `cargo build --workspace --bins`")?;
    if !status.success() {
        bail!("`cargo build --workspace --bins` failed ({status}); fix the build, then run verify again");
    }
    Ok(())
}

/// Runs `example` `repeat` times; returns the slowest run's time, or a report of the first failure.
fn verify(example: &Example, root: &Path, bin_dir: &Path, repeat: u32) -> Result<Duration, String> {
    let expected_path = root.join(example.expected_file());
    let expected = std::fs::read_to_string(&expected_path).map_err(|e| {
        format!(
            "  cannot read {}: {e}\n  (write the expected stdout there; the pattern format is in \
             xtask/src/pattern.rs)",
            example.expected_file()
        )
    })?;
    let pattern = Pattern::parse(&expected)
        .map_err(|e| format!("  {} is not a valid pattern: {e}", example.expected_file()))?;
    let bin = bin_dir.join(example.package);
    let mut slowest = Duration::ZERO;
    for attempt in 1..=repeat {
        let run = runner::run(&bin, &example.args(), root, example.timeout)
            .map_err(|e| format!("  cannot run {}: {e:#}", example.id))?;
        slowest = slowest.max(run.took);
        let stdout = String::from_utf8_lossy(&run.stdout);
        let mismatch = pattern.matches(&stdout).err();
        let mut problems = run.failures();
        if mismatch.is_some() {
            problems.push(format!("its stdout does not match {}", example.expected_file()));
        }
        if problems.is_empty() {
            continue;
        }
        let mut report = String::new();
        if repeat > 1 {
            let _ = writeln!(report, "  run {attempt} of {repeat}:");
        }
        for problem in &problems {
            let _ = writeln!(report, "  - {problem}");
        }
        if let Some(mismatch) = mismatch {
            let _ = writeln!(report, "{mismatch}");
        }
        let _ = write!(report, "{}", block("expected", &expected));
        let _ = write!(report, "{}", block("got", &stdout));
        let stderr = String::from_utf8_lossy(&run.stderr);
        if !stderr.is_empty() {
            let _ = write!(report, "{}", block("stderr", &stderr));
        }
        return Err(report);
    }
    Ok(slowest)
}

/// A titled block in the style of ripgrep's `eqnice!`: the title, a rule, the text as is.
fn block(title: &str, text: &str) -> String {
    let mut out = format!("{title}:\n{}\n{text}", "-".repeat(title.len() + 1));
    if !text.is_empty() && !text.ends_with('\n') {
        out.push_str("\n(no newline at the end)\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(args: &[&str]) -> Vec<String> {
        args.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn arguments() {
        assert_eq!(parse_args(&[]).unwrap(), (vec![], 1));
        assert_eq!(
            parse_args(&strings(&["2.1", "--repeat", "3", "5.1"])).unwrap(),
            (strings(&["2.1", "5.1"]), 3)
        );
        assert_eq!(parse_args(&strings(&["--repeat=2"])).unwrap(), (vec![], 2));
        let error = |args: &[&str]| parse_args(&strings(args)).unwrap_err().to_string();
        assert_eq!(
            error(&["--repeat", "x"]),
            "--repeat takes a whole number, got 'x'"
        );
        assert_eq!(
            error(&["--repeat=0"]),
            "--repeat takes a whole number of 1 or more, got '0'"
        );
        assert_eq!(error(&["--repeat"]), "--repeat takes a whole number, got nothing");
        assert_eq!(
            error(&["2.1", "--fast"]),
            "`cargo xtask verify` has no option `--fast`; its options are: --repeat N"
        );
    }
}

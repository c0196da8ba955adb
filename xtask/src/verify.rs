//! `cargo xtask verify [ID...] [--repeat N]`: builds once, runs each example and checks its output.
//!
//! Each example binary runs straight from `target/debug/` (not through `cargo run`, so that a
//! timeout kills the example and not cargo) with stdout and stderr piped, in a process group of
//! its own. The run fails when it exits with a status other than 0, when it outlives its timeout
//! (the whole group is then killed), when its stdout does not match `expected/<ID>.stdout`, or
//! when a process of its group is still alive after it exited: an example must join its children.
//! Around the whole run, processes from the workspace's binaries, `/dev/shm` entries, the
//! system's shared memory and verify's own descriptors are counted before and after (see
//! `leaks.rs`); a process or `/dev/shm` entry left over, or a descriptor leaked, fails the run.

use crate::leaks;
use crate::pattern::Pattern;
use crate::registry::{self, Example, EXAMPLES};
use anyhow::{bail, Context};
use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;
use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
use std::fmt::Write as _;
use std::io::Read;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::Path;
use std::process::{Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// How long processes left in an example's group get to finish exiting before they count as leaked.
const EXIT_GRACE: Duration = Duration::from_millis(500);
/// How long to wait for the output pipes to close once every process of the group is gone.
const PIPE_GRACE: Duration = Duration::from_secs(5);

/// The process group of the example running now, or 0, for the interrupt watcher.
static RUNNING_GROUP: AtomicI32 = AtomicI32::new(0);

/// Runs the task; returns whether every example passed.
pub fn main(args: &[String]) -> anyhow::Result<bool> {
    let (ids, repeat) = parse_args(args)?;
    watch_interrupts()?;
    let selected = if ids.is_empty() {
        EXAMPLES.iter().collect()
    } else {
        registry::find_all(&ids)?
    };
    let root = registry::workspace_root();

    build(&root)?;
    let bin_dir = registry::debug_dir(&root);
    let before = leaks::snapshot(&bin_dir);
    let (mut passed, mut skipped) = (0, 0);
    let mut failed = Vec::new();
    for example in selected {
        if !example.exists(&root) {
            println!(
                "verify {:<16} skipped (pending: {} does not exist yet)",
                example.id,
                example.dir()
            );
            skipped += 1;
            continue;
        }
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
    println!("\n{passed} passed, {} failed, {skipped} skipped", failed.len());
    if !failed.is_empty() {
        println!("failed: {}", failed.join(" "));
        println!(
            "run `cargo xtask verify ID` to see the diff (e.g. `cargo xtask verify {}`)",
            failed[0]
        );
    }
    Ok(failed.is_empty() && found.is_empty())
}

/// Kills the running example's process group when verify is interrupted, then exits.
///
/// An example runs in a process group of its own, so a Ctrl-C at the terminal reaches verify but
/// not the example, which would live on. The signals are caught with handlers rather than blocked:
/// a blocked signal stays blocked in every process we spawn (std does not reset the mask), and an
/// example whose SIGTERM is blocked cannot be terminated. Handlers, unlike a mask, are reset by
/// `exec`.
pub(crate) fn watch_interrupts() -> anyhow::Result<()> {
    let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP])
        .context("installing handlers for SIGINT, SIGTERM and SIGHUP")?;
    std::thread::spawn(move || {
        let Some(signal) = signals.forever().next() else {
            return;
        };
        let pgid = RUNNING_GROUP.load(Ordering::SeqCst);
        let name = Signal::try_from(signal).map_or_else(|_| signal.to_string(), |s| s.to_string());
        if pgid > 0 {
            let _ = killpg(Pid::from_raw(pgid), Signal::SIGKILL);
            eprintln!("\nverify: interrupted by {name}; killed the running example's process group {pgid}");
        } else {
            eprintln!("\nverify: interrupted by {name}");
        }
        std::process::exit(128 + signal);
    });
    Ok(())
}

fn parse_args(args: &[String]) -> anyhow::Result<(Vec<String>, u32)> {
    let mut ids = Vec::new();
    let mut repeat = 1;
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        let value = if arg == "--repeat" {
            Some(args.next().map(String::as_str).unwrap_or(""))
        } else {
            arg.strip_prefix("--repeat=")
        };
        match value {
            Some(n) => {
                repeat = n
                    .parse()
                    .ok()
                    .filter(|&n| n > 0)
                    .with_context(|| format!("--repeat needs a positive number of runs, not `{n}`"))?;
            }
            None if arg.starts_with('-') => {
                bail!("unknown option `{arg}`; usage: cargo xtask verify [ID...] [--repeat N]")
            }
            None => ids.push(arg.clone()),
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
            "  cannot read {}: {e}\n  (write the expected stdout there, see COMMON.md)",
            example.expected_file()
        )
    })?;
    let pattern = Pattern::parse(&expected)
        .map_err(|e| format!("  {} is not a valid pattern: {e}", example.expected_file()))?;
    let bin = bin_dir.join(example.package);
    let mut slowest = Duration::ZERO;
    for attempt in 1..=repeat {
        let run = run_example(&bin, &example.args(), root, example.timeout)
            .map_err(|e| format!("  cannot run {}: {e:#}", bin.display()))?;
        slowest = slowest.max(run.took);
        let stdout = String::from_utf8_lossy(&run.stdout);
        let mismatch = pattern.matches(&stdout).err();
        let mut problems = run.problems.clone();
        if let Some(status) = run.status.filter(|s| !s.success()) {
            problems.insert(0, describe(status));
        }
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

fn describe(status: ExitStatus) -> String {
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("it exited with status {code}"),
        (None, Some(signal)) => match Signal::try_from(signal) {
            Ok(name) => format!("it was killed by signal {signal} ({name})"),
            Err(_) => format!("it was killed by signal {signal}"),
        },
        _ => format!("it ended with {status}"),
    }
}

fn seconds(d: Duration) -> String {
    format!("{:.2} s", d.as_secs_f64())
}

/// What one run of an example did.
#[derive(Debug)]
pub(crate) struct Run {
    /// The exit status, or `None` when the run timed out.
    pub status: Option<ExitStatus>,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    /// Timeouts, leaked processes and output that never ended, in words.
    pub problems: Vec<String>,
    pub took: Duration,
}

/// Runs `bin` in its own process group, kills the group after `timeout`, and checks that no
/// process of the group outlives it.
pub(crate) fn run_example(bin: &Path, args: &[&str], dir: &Path, timeout: Duration) -> anyhow::Result<Run> {
    let started = Instant::now();
    let mut child = Command::new(bin)
        .args(args)
        .current_dir(dir)
        // With PYTHONUNBUFFERED set, CPython writes a print's text and its newline separately, so
        // lines from several processes run together; `compare` runs Python as a user's shell would.
        .env_remove("PYTHONUNBUFFERED")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
        .context("spawning it")?;
    let pgid = Pid::from_raw(i32::try_from(child.id()).context("a PID that fits in pid_t")?);
    RUNNING_GROUP.store(pgid.as_raw(), Ordering::SeqCst);

    // Read both pipes on threads, so that a chatty example cannot fill one and stall.
    let (tx, rx) = mpsc::channel();
    for (is_stdout, pipe) in [
        (
            true,
            child.stdout.take().map(|p| Box::new(p) as Box<dyn Read + Send>),
        ),
        (
            false,
            child.stderr.take().map(|p| Box::new(p) as Box<dyn Read + Send>),
        ),
    ] {
        let tx = tx.clone();
        let mut pipe = pipe.context("a piped output")?;
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = pipe.read_to_end(&mut buf);
            let _ = tx.send((is_stdout, buf));
        });
    }
    drop(tx);

    let deadline = started + timeout;
    let status = loop {
        if let Some(status) = child.try_wait().context("waiting for it")? {
            break Some(status);
        }
        if Instant::now() >= deadline {
            break None;
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let took = started.elapsed();

    let mut problems = Vec::new();
    match status {
        None => {
            let _ = killpg(pgid, Signal::SIGKILL);
            child.wait().context("reaping it after the timeout")?;
            problems.push(format!(
                "it timed out after {}; its process group was killed",
                seconds(timeout)
            ));
        }
        Some(_) => {
            let left = leftovers(pgid)?;
            if !left.is_empty() {
                let _ = killpg(pgid, Signal::SIGKILL);
                let names: Vec<String> = left.iter().map(|(pid, name)| format!("{pid} ({name})")).collect();
                problems.push(format!(
                    "it left {} process(es) running in its process group after it exited: {}; killed them \
                     (an example must join or terminate its children)",
                    left.len(),
                    names.join(", ")
                ));
            }
        }
    }

    RUNNING_GROUP.store(0, Ordering::SeqCst);

    // Every process of the group is gone, so the pipes close, unless a process escaped the group
    // (setsid) holding them: then give up on the rest of the output instead of hanging.
    let (mut stdout, mut stderr) = (Vec::new(), Vec::new());
    let pipes_deadline = Instant::now() + PIPE_GRACE;
    for _ in 0..2 {
        match rx.recv_timeout(pipes_deadline.saturating_duration_since(Instant::now())) {
            Ok((true, buf)) => stdout = buf,
            Ok((false, buf)) => stderr = buf,
            Err(_) => {
                problems.push(format!(
                    "its output pipes stayed open {} after its process group was gone (a process escaped \
                     the group?)",
                    seconds(PIPE_GRACE)
                ));
                break;
            }
        }
    }
    Ok(Run {
        status,
        stdout,
        stderr,
        problems,
        took,
    })
}

/// The live processes of group `pgid` (PID and command name), after giving them a moment to exit.
///
/// Zombies are not counted: once the example is gone its exited children belong to init, which
/// reaps them.
fn leftovers(pgid: Pid) -> anyhow::Result<Vec<(i32, String)>> {
    let deadline = Instant::now() + EXIT_GRACE;
    loop {
        let members = group_members(pgid)?;
        if members.is_empty() || Instant::now() >= deadline {
            return Ok(members);
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// The live (not zombie) processes whose process group is `pgid`, read from `/proc`.
fn group_members(pgid: Pid) -> anyhow::Result<Vec<(i32, String)>> {
    let mut members = Vec::new();
    for entry in std::fs::read_dir("/proc").context("reading /proc to find leftover processes")? {
        let Ok(entry) = entry else { continue };
        let Some(pid) = entry.file_name().to_str().and_then(|n| n.parse::<i32>().ok()) else {
            continue;
        };
        // The process may exit while we look; then it is not a leftover.
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        if let Some((name, state, group)) = parse_stat(&stat) {
            if group == pgid.as_raw() && state != 'Z' && state != 'X' {
                members.push((pid, name));
            }
        }
    }
    Ok(members)
}

/// Parses `/proc/PID/stat` into (command name, state, process group).
///
/// The name is in parentheses and may itself contain spaces and parentheses, so the fields after
/// it are found from the last `)`.
fn parse_stat(stat: &str) -> Option<(String, char, i32)> {
    let open = stat.find('(')?;
    let close = stat.rfind(')')?;
    let name = stat.get(open + 1..close)?.to_owned();
    let mut fields = stat.get(close + 1..)?.split_whitespace();
    let state = fields.next()?.chars().next()?;
    let _ppid = fields.next()?;
    let group = fields.next()?.parse().ok()?;
    Some((name, state, group))
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
        assert!(parse_args(&strings(&["--repeat", "0"])).is_err());
        assert!(parse_args(&strings(&["--repeat"])).is_err());
        assert!(parse_args(&strings(&["--fast"])).is_err());
    }

    #[test]
    fn stat_lines_with_odd_names() {
        let stat = "4242 (ex (1) x) S 1 4200 4200 0 -1 4194560 100 0 0 0";
        assert_eq!(parse_stat(stat), Some(("ex (1) x".to_owned(), 'S', 4200)));
        assert_eq!(parse_stat("garbage"), None);
    }

    // The runner itself is exercised on real processes (sh), which libtest's threads do not
    // disturb: nothing here forks the test binary.

    #[test]
    fn a_clean_run_passes_with_its_output() {
        let run = run_example(
            Path::new("/bin/sh"),
            &["-c", "echo out; echo err >&2"],
            Path::new("/"),
            Duration::from_secs(30),
        )
        .unwrap();
        assert!(run.status.unwrap().success());
        assert_eq!(
            (run.stdout.as_slice(), run.stderr.as_slice()),
            (&b"out\n"[..], &b"err\n"[..])
        );
        assert!(run.problems.is_empty(), "{:?}", run.problems);
    }

    #[test]
    fn a_run_past_its_timeout_is_killed_with_its_group() {
        let started = Instant::now();
        let run = run_example(
            Path::new("/bin/sh"),
            &["-c", "sleep 100 & echo started; wait"],
            Path::new("/"),
            Duration::from_millis(500),
        )
        .unwrap();
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "took {:?}",
            started.elapsed()
        );
        assert!(run.status.is_none());
        assert_eq!(run.stdout, b"started\n");
        assert!(run.problems[0].contains("timed out"), "{:?}", run.problems);
    }

    #[test]
    fn a_process_left_behind_is_killed_and_reported() {
        // The background sleep keeps the group alive after sh exits (its stdout redirected, so
        // that only the group check, not the pipe, notices it).
        let run = run_example(
            Path::new("/bin/sh"),
            &["-c", "sleep 100 >/dev/null 2>&1 & echo $!"],
            Path::new("/"),
            Duration::from_secs(30),
        )
        .unwrap();
        assert!(run.status.unwrap().success());
        let pid: i32 = String::from_utf8_lossy(&run.stdout).trim().parse().unwrap();
        assert!(
            run.problems
                .iter()
                .any(|p| p.contains("left 1 process") && p.contains(&pid.to_string())),
            "{:?}",
            run.problems
        );
        // The leftover was killed: it is gone or a zombie waiting for init.
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            if parse_stat(&stat).is_none_or(|(_, state, _)| state == 'Z') {
                break;
            }
            assert!(Instant::now() < deadline, "pid {pid} still alive: {stat}");
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    #[test]
    fn exit_statuses_are_described() {
        let failed = run_example(
            Path::new("/bin/sh"),
            &["-c", "exit 3"],
            Path::new("/"),
            Duration::from_secs(30),
        )
        .unwrap();
        assert_eq!(describe(failed.status.unwrap()), "it exited with status 3");
        let killed = run_example(
            Path::new("/bin/sh"),
            &["-c", "kill -9 $$"],
            Path::new("/"),
            Duration::from_secs(30),
        )
        .unwrap();
        assert_eq!(
            describe(killed.status.unwrap()),
            "it was killed by signal 9 (SIGKILL)"
        );
    }
}

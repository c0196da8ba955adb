//! Running one program the way `verify`, `compare` and `bench` need it, and taking it down with
//! xtask when xtask is interrupted.
//!
//! [`run`] starts a program in a process group of its own with stdin closed and stdout and stderr
//! captured, kills the whole group when the program outlives its time limit, and after the program
//! exits checks that no other process of its group is still alive (a leftover is killed and
//! reported): an example must join its children. [`watch_interrupts`], called once at the start of
//! a task, makes a Ctrl-C (or SIGTERM, SIGHUP) kill the group running at that moment before xtask
//! exits, since the group does not get the terminal's signals itself.
//!
//! ```text
//! runner::watch_interrupts()?;
//! let run = runner::run(Path::new("python3"), &["x.py"], &root, Duration::from_secs(60))?;
//! if run.failures().is_empty() { /* exit 0, in time, nothing left behind: use run.stdout */ }
//! ```

use anyhow::Context;
use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
use std::io::Read;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::Path;
use std::process::{Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// How long processes left in a program's group get to finish exiting before they count as leaked.
pub const EXIT_GRACE: Duration = Duration::from_millis(500);
/// How long to wait for the output pipes to close once every process of the group is gone.
const PIPE_GRACE: Duration = Duration::from_secs(5);
/// How often the runner looks whether the program has exited.
const POLL: Duration = Duration::from_millis(5);

/// The process group of the program running now, or 0, for the interrupt watcher.
static RUNNING_GROUP: AtomicI32 = AtomicI32::new(0);

/// What one run of a program did.
#[derive(Debug)]
pub struct Run {
    /// The exit status, or `None` when the run timed out.
    pub status: Option<ExitStatus>,
    /// Everything the program's group wrote to stdout.
    pub stdout: Vec<u8>,
    /// Everything the program's group wrote to stderr.
    pub stderr: Vec<u8>,
    /// Timeouts, leftover processes and output that never ended, in words.
    pub problems: Vec<String>,
    /// The wall time from the start to the program's exit (or to the timeout).
    pub took: Duration,
}

impl Run {
    /// Everything that went wrong, in words: an exit status other than 0 first, then the
    /// [`problems`](Run::problems). Empty for a clean run.
    pub fn failures(&self) -> Vec<String> {
        let status = self.status.filter(|s| !s.success()).map(describe);
        status.into_iter().chain(self.problems.iter().cloned()).collect()
    }
}

/// Kills the running program's process group when xtask is interrupted, then exits with 128 + the
/// signal's number, as a shell reports it.
///
/// A program runs in a process group of its own, so a Ctrl-C at the terminal reaches xtask but not
/// the program, which would live on. The signals are caught with handlers rather than blocked: a
/// blocked signal stays blocked in every process we spawn (std does not reset the mask), and a
/// program whose SIGTERM is blocked cannot be terminated. Handlers, unlike a mask, are reset by
/// `exec`.
pub fn watch_interrupts() -> anyhow::Result<()> {
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
            eprintln!("\nxtask: interrupted by {name}; killed the running program's process group {pgid}");
        } else {
            eprintln!("\nxtask: interrupted by {name}");
        }
        std::process::exit(128 + signal);
    });
    Ok(())
}

/// Runs `program` with `args` in `dir`, in a process group of its own; kills the group after
/// `timeout`, and checks that no process of the group outlives the program.
///
/// The error is for a program that could not be started at all; everything that went wrong once
/// it ran is in the [`Run`].
pub fn run(program: &Path, args: &[&str], dir: &Path, timeout: Duration) -> anyhow::Result<Run> {
    let started = Instant::now();
    let mut child = Command::new(program)
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
        .with_context(|| format!("starting {} in {}", program.display(), dir.display()))?;
    let pgid = Pid::from_raw(i32::try_from(child.id()).context("a PID that fits in pid_t")?);
    RUNNING_GROUP.store(pgid.as_raw(), Ordering::SeqCst);

    // Read both pipes on threads, so that a chatty program cannot fill one and stall.
    let (tx, rx) = mpsc::channel();
    let pipes: [(bool, Option<Box<dyn Read + Send>>); 2] = [
        (true, child.stdout.take().map(|p| Box::new(p) as _)),
        (false, child.stderr.take().map(|p| Box::new(p) as _)),
    ];
    for (is_stdout, pipe) in pipes {
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
        std::thread::sleep(POLL);
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

/// An exit status in words: "it exited with status 3", "it was killed by signal 9 (SIGKILL)".
pub fn describe(status: ExitStatus) -> String {
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("it exited with status {code}"),
        (None, Some(signal)) => match Signal::try_from(signal) {
            Ok(name) => format!("it was killed by signal {signal} ({name})"),
            Err(_) => format!("it was killed by signal {signal}"),
        },
        _ => format!("it ended with {status}"),
    }
}

/// A duration as seconds with two decimals, e.g. `1.25 s`.
pub fn seconds(d: Duration) -> String {
    format!("{:.2} s", d.as_secs_f64())
}

/// The live processes of group `pgid` (PID and command name), after giving them a moment to exit.
///
/// Zombies are not counted: once the program is gone its exited children belong to init, which
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
        if let Some((name, state, group)) = parse_stat(&stat)
            && group == pgid.as_raw()
            && state != 'Z'
            && state != 'X'
        {
            members.push((pid, name));
        }
    }
    Ok(members)
}

/// Parses `/proc/PID/stat` into (command name, state, process group).
///
/// The name is in parentheses and may itself contain spaces and parentheses, so the fields after
/// it are found from the last `)`.
pub fn parse_stat(stat: &str) -> Option<(String, char, i32)> {
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

    fn sh(script: &str, timeout: Duration) -> Run {
        run(Path::new("/bin/sh"), &["-c", script], Path::new("/"), timeout).unwrap()
    }

    #[test]
    fn stat_lines_with_odd_names() {
        let stat = "4242 (ex (1) x) S 1 4200 4200 0 -1 4194560 100 0 0 0";
        assert_eq!(parse_stat(stat), Some(("ex (1) x".to_owned(), 'S', 4200)));
        assert_eq!(parse_stat("garbage"), None);
    }

    // The runner is exercised on real processes (sh), which libtest's threads do not disturb:
    // nothing here forks the test binary.

    #[test]
    fn a_clean_run_passes_with_its_output() {
        let run = sh("echo out; echo err >&2", Duration::from_secs(30));
        assert!(run.status.unwrap().success());
        assert_eq!(
            (run.stdout.as_slice(), run.stderr.as_slice()),
            (&b"out\n"[..], &b"err\n"[..])
        );
        assert!(run.failures().is_empty(), "{:?}", run.failures());
    }

    #[test]
    fn a_program_that_cannot_start_names_itself() {
        let err = run(
            Path::new("/nonexistent/program"),
            &[],
            Path::new("/"),
            Duration::from_secs(30),
        )
        .unwrap_err();
        assert!(
            format!("{err:#}").contains("starting /nonexistent/program in /"),
            "{err:#}"
        );
    }

    #[test]
    fn a_run_past_its_timeout_is_killed_with_its_group() {
        let started = Instant::now();
        let run = sh("sleep 100 & echo started; wait", Duration::from_millis(500));
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "took {:?}",
            started.elapsed()
        );
        assert!(run.status.is_none());
        assert_eq!(run.stdout, b"started\n");
        assert!(run.failures()[0].contains("timed out"), "{:?}", run.failures());
    }

    #[test]
    fn a_process_left_behind_is_killed_and_reported() {
        // The background sleep keeps the group alive after sh exits (its stdout redirected, so
        // that only the group check, not the pipe, notices it).
        let run = sh("sleep 100 >/dev/null 2>&1 & echo $!", Duration::from_secs(30));
        assert!(run.status.unwrap().success());
        let pid: i32 = String::from_utf8_lossy(&run.stdout).trim().parse().unwrap();
        assert!(
            run.failures()
                .iter()
                .any(|p| p.contains("left 1 process") && p.contains(&pid.to_string())),
            "{:?}",
            run.failures()
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
    fn exit_statuses_are_described_first_among_the_failures() {
        let failed = sh("exit 3", Duration::from_secs(30));
        assert_eq!(failed.failures(), ["it exited with status 3"]);
        let killed = sh("kill -9 $$", Duration::from_secs(30));
        assert_eq!(
            describe(killed.status.unwrap()),
            "it was killed by signal 9 (SIGKILL)"
        );
    }
}

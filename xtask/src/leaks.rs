//! What `verify` counts before and after a whole run, to show that the examples leave nothing
//! behind: processes still running from the workspace's binaries, entries in `/dev/shm`, the
//! system's shared memory in use (`Shmem` in `/proc/meminfo`: tmpfs, `/dev/shm` and memfds,
//! which is where the runtime's shared memory lives), and verify's own open descriptors.
//!
//! Each run is already checked for processes left in its group; this catches what escapes a
//! group, and shared memory, which no process count shows.

use crate::runner::parse_stat;
use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::Path;

/// One count of everything.
pub struct Snapshot {
    /// Live processes whose executable is in the binaries directory: (pid, path).
    processes: Vec<(i32, String)>,
    dev_shm: BTreeSet<String>,
    shmem_kib: Option<u64>,
    fds: usize,
}

/// Counts now; `bin_dir` is where the example binaries are.
pub fn snapshot(bin_dir: &Path) -> Snapshot {
    Snapshot {
        processes: processes_from(bin_dir),
        dev_shm: std::fs::read_dir("/dev/shm")
            .map(|d| {
                d.filter_map(|e| e.ok())
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default(),
        shmem_kib: std::fs::read_to_string("/proc/meminfo").ok().and_then(|m| {
            m.lines()
                .find_map(|l| l.strip_prefix("Shmem:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        }),
        fds: std::fs::read_dir("/proc/self/fd").map(|d| d.count()).unwrap_or(0),
    }
}

/// Live (not zombie) processes running an executable from `bin_dir`.
fn processes_from(bin_dir: &Path) -> Vec<(i32, String)> {
    let mut found = Vec::new();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return found;
    };
    let me = std::process::id() as i32;
    for entry in entries.filter_map(|e| e.ok()) {
        let Some(pid) = entry.file_name().to_str().and_then(|n| n.parse::<i32>().ok()) else {
            continue;
        };
        if pid == me {
            continue;
        }
        let Ok(exe) = std::fs::read_link(entry.path().join("exe")) else {
            continue;
        };
        if !exe.starts_with(bin_dir) {
            continue;
        }
        // A process that exits while we look, or a zombie, is not running.
        let running = std::fs::read_to_string(entry.path().join("stat"))
            .ok()
            .and_then(|stat| parse_stat(&stat))
            .is_some_and(|(_, state, _)| !matches!(state, 'Z' | 'X'));
        if running {
            found.push((pid, exe.display().to_string()));
        }
    }
    found
}

/// Compares `before` with `after`: a report to print, and the leaks found (empty if none).
/// The system's shared memory is reported, not judged: other programs on the machine move it.
pub fn compare(before: &Snapshot, after: &Snapshot) -> (String, Vec<String>) {
    let mut report = String::new();
    let mut leaks = Vec::new();
    let _ = writeln!(
        report,
        "resources before/after the run: example processes {}/{}, /dev/shm entries {}/{}, \
         verify's descriptors {}/{}, system shared memory (Shmem) {}/{}",
        before.processes.len(),
        after.processes.len(),
        before.dev_shm.len(),
        after.dev_shm.len(),
        before.fds,
        after.fds,
        kib(before.shmem_kib),
        kib(after.shmem_kib),
    );
    let old: BTreeSet<i32> = before.processes.iter().map(|(pid, _)| *pid).collect();
    let left: Vec<String> = after
        .processes
        .iter()
        .filter(|(pid, _)| !old.contains(pid))
        .map(|(pid, exe)| format!("{pid} ({exe})"))
        .collect();
    if !left.is_empty() {
        leaks.push(format!("processes left running: {}", left.join(", ")));
    }
    let new_shm: Vec<&String> = after.dev_shm.difference(&before.dev_shm).collect();
    if !new_shm.is_empty() {
        leaks.push(format!("new entries in /dev/shm: {new_shm:?}"));
    }
    if after.fds > before.fds {
        leaks.push(format!(
            "verify holds {} more descriptors than before",
            after.fds - before.fds
        ));
    }
    (report, leaks)
}

fn kib(v: Option<u64>) -> String {
    v.map_or_else(|| "?".to_string(), |v| format!("{v} kB"))
}

//! Every example of the tutorial: its ID, where it is in the tutorial, and which crate runs it.
//!
//! This table is the workspace's example index; `list`, `run`, `verify` and `compare` read it.
//! Every ID's crate exists (a test checks it), and every example crate has an ID here.

use std::path::{Path, PathBuf};
use std::time::Duration;

/// How long `verify` lets an example run before it kills the example's process group.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(120);

/// One example of the index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Example {
    /// The ID, e.g. `3.1.2` or `6.chunked`.
    pub id: &'static str,
    /// Where the tutorial shows it, e.g. `5 / 示例 3`; "(ours)" marks a concept the tutorial
    /// names without a program.
    pub place: &'static str,
    /// The topic directory, e.g. `examples-pool`.
    pub topic: &'static str,
    /// The Cargo package (and binary) name.
    pub package: &'static str,
    /// The command-line flag that selects this example when a crate serves several IDs.
    pub flag: Option<&'static str>,
    /// One line on what it shows.
    pub about: &'static str,
    /// How long `verify` waits for it.
    pub timeout: Duration,
}

impl Example {
    const fn new(
        id: &'static str,
        place: &'static str,
        topic: &'static str,
        package: &'static str,
        flag: Option<&'static str>,
        about: &'static str,
    ) -> Example {
        Example {
            id,
            place,
            topic,
            package,
            flag,
            about,
            timeout: DEFAULT_TIMEOUT,
        }
    }

    /// The same example with a longer `verify` timeout (for the deliberately heavy case studies).
    const fn timeout_secs(mut self, secs: u64) -> Example {
        self.timeout = Duration::from_secs(secs);
        self
    }

    /// The crate's directory relative to the workspace root, e.g. `examples-process/ex-2-1-process`.
    pub fn dir(&self) -> String {
        format!("{}/{}", self.topic, self.package)
    }

    /// The expected stdout's path relative to the workspace root.
    pub fn expected_file(&self) -> String {
        format!("{}/expected/{}.stdout", self.dir(), self.id)
    }

    /// The Python program this example ports, relative to the workspace root
    /// (`<crate>/python/<ID>.py`), for `cargo xtask compare`.
    pub fn python_file(&self) -> String {
        format!("{}/python/{}.py", self.dir(), self.id)
    }

    /// The arguments the example's binary gets (its flag, if any).
    pub fn args(&self) -> Vec<&'static str> {
        self.flag.into_iter().collect()
    }

    /// The command a learner types: `cargo run -p <package> [-- <flag>]`.
    pub fn command(&self) -> String {
        match self.flag {
            Some(flag) => format!("cargo run -p {} -- {flag}", self.package),
            None => format!("cargo run -p {}", self.package),
        }
    }
}

const PROCESS: &str = "examples-process";
const POOL: &str = "examples-pool";
const IPC: &str = "examples-ipc";
const SYNC: &str = "examples-sync";

/// The index, grouped by topic, in the tutorial's order within each topic.
#[rustfmt::skip]
pub const EXAMPLES: &[Example] = &[
    Example::new("2.1", "2.1 multiprocessing 模块", PROCESS, "ex-2-1-process", None,
        "five processes, each printing its number; the parent joins them"),
    Example::new("2.2", "2.2 subprocess 模块", PROCESS, "ex-2-2-subprocess", None,
        "subprocess.run(['echo', ...]) with captured output"),
    Example::new("3.1.1", "3 / 1.1 Process 类", PROCESS, "ex-3-1-1-process", None,
        "one Process with a target and args"),
    Example::new("3.1.1.lifecycle", "3 / 1.1 Process 类 (ours)", PROCESS, "ex-3-1-1-lifecycle", None,
        "join with a timeout, terminate, kill, is_alive, daemon, exitcode"),
    Example::new("3.3.1", "3 / 3.1 current_process() (ours)", PROCESS, "ex-3-3-1-current-process", None,
        "current_process() names MainProcess and Process-N"),
    Example::new("3.3.2", "3 / 3.2 active_children() (ours)", PROCESS, "ex-3-3-2-active-children", None,
        "active_children() before, during and after the children run"),
    Example::new("3.3.3", "3 / 3.3 freeze_support()", PROCESS, "ex-3-3-3-freeze-support", None,
        "freeze_support() turning a spawned run of the program into the child (`-- --start-method fork` to compare)"),
    Example::new("5.1", "5 / 示例 1", PROCESS, "ex-5-1-process", None,
        "a Process printing its own name"),
    Example::new("3.1.2", "3 / 1.2 Pool 类", POOL, "ex-3-1-2-pool", None,
        "Pool.map squaring five numbers"),
    Example::new("3.1.2.methods", "3 / 1.2 Pool 类 (ours)", POOL, "ex-3-1-2-pool-methods", None,
        "apply, apply_async, map_async, starmap, imap, imap_unordered, close/join"),
    Example::new("5.2", "5 / 示例 2", POOL, "ex-5-2-pool", None,
        "Pool.map inside a with block"),
    Example::new("6", "6 pool 多进程耗时更高", POOL, "ex-6-slow-pool", None,
        "a pool slower than a loop: tiny tasks, large overhead"),
    Example::new("6.heavier", "6 / 方案 1, 5 对比实验", POOL, "ex-6-slow-pool", Some("--heavier"),
        "the slow pool with a heavier square: the pool wins").timeout_secs(300),
    Example::new("6.chunked", "6 / 方案 2", POOL, "ex-6-slow-pool", Some("--chunked"),
        "the slow pool with chunksize=25: fewer messages"),
    Example::new("7", "7 进程间通信IPC (ours)", POOL, "ex-7-chunksize", None,
        "the real count of task and result messages for chunksize 1 and 25"),
    Example::new("8", "8 进程池仅一个进程运行", POOL, "ex-8-one-pid", None,
        "ten light tasks and the PID that ran each: when one worker takes them all (--repeat N counts how often)"),
    Example::new("8.suggested", "8 / 四 修改后的代码示例", POOL, "ex-8-one-pid", Some("--suggested"),
        "100 heavy tasks with chunksize=1 spread over 4 PIDs").timeout_secs(300),
    Example::new("8.fixed", "8 / 修改后成功", POOL, "ex-8-one-pid", Some("--fixed"),
        "the tutorial's fixed program: every worker PID takes tasks").timeout_secs(300),
    Example::new("3.1.3", "3 / 1.3 Queue 类", IPC, "ex-3-1-3-queue", None,
        "a writer process puts a message on a Queue, a reader process gets it"),
    Example::new("5.3", "5 / 示例 3", IPC, "ex-5-3-queue", None,
        "the same, with the tutorial's 示例 wording"),
    Example::new("3.1.4", "3 / 1.4 Pipe", IPC, "ex-3-1-4-pipe", None,
        "one process sends through a Pipe, another receives from the other end"),
    Example::new("5.4", "5 / 示例 4", IPC, "ex-5-4-pipe", None,
        "a sender and a receiver on the two ends of a Pipe"),
    Example::new("3.1.5", "3 / 1.5 Manager", IPC, "ex-3-1-5-manager", None,
        "a Manager dict filled by several processes"),
    Example::new("5.5", "5 / 示例 5", IPC, "ex-5-5-manager", None,
        "a Manager dict shared with children"),
    Example::new("3.1.5.more", "3 / 1.5 Manager (ours)", IPC, "ex-3-1-5-manager-more", None,
        "Manager list, Namespace and Queue"),
    Example::new("3.1.6", "3 / 1.6 共享内存：Value 和 Array", IPC, "ex-3-1-6-value-array", None,
        "a child increments a shared Value under its lock and every Array element"),
    Example::new("5.6", "5 / 示例 6", IPC, "ex-5-6-value-array", None,
        "shared memory with Value and Array"),
    Example::new("3.2.1", "3 / 2.1 Lock 和 RLock", SYNC, "ex-3-2-1-lock", None,
        "three processes take turns with a Lock"),
    Example::new("5.7", "5 / 示例 7", SYNC, "ex-5-7-lock", None,
        "a Lock serialising prints"),
    Example::new("3.2.1.rlock", "3 / 2.1 Lock 和 RLock (ours)", SYNC, "ex-3-2-1-rlock", None,
        "an RLock taken twice by its owner"),
    Example::new("3.2.2", "3 / 2.2 Semaphore 和 BoundedSemaphore (ours)", SYNC, "ex-3-2-2-semaphore", None,
        "a Semaphore limiting concurrency; BoundedSemaphore refusing an extra release"),
    Example::new("3.2.3", "3 / 2.3 Event (ours)", SYNC, "ex-3-2-3-event", None,
        "processes waiting for an Event"),
    Example::new("3.2.4", "3 / 2.4 Condition (ours)", SYNC, "ex-3-2-4-condition", None,
        "a Condition with wait and notify"),
    Example::new("3.2.4.barrier", "3 / 2.4 Condition: Barrier (ours)", SYNC, "ex-3-2-4-barrier", None,
        "a Barrier releasing processes together (beyond the tutorial)"),
];

/// The example with this ID.
pub fn find(id: &str) -> Option<&'static Example> {
    EXAMPLES.iter().find(|e| e.id == id)
}

/// Looks up IDs given on the command line, with an error that lists the known ones.
pub fn find_all(ids: &[String]) -> anyhow::Result<Vec<&'static Example>> {
    let mut found: Vec<&'static Example> = Vec::new();
    for id in ids {
        let Some(example) = find(id) else {
            let known: Vec<&str> = EXAMPLES.iter().map(|e| e.id).collect();
            anyhow::bail!(
                "no example with ID `{id}`; the IDs are: {}\n(`cargo xtask list` shows them all)",
                known.join(" ")
            );
        };
        if !found.contains(&example) {
            found.push(example);
        }
    }
    Ok(found)
}

/// The workspace root (the xtask crate sits right under it).
pub fn workspace_root() -> PathBuf {
    let manifest_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest_dir.parent().unwrap_or(manifest_dir).to_path_buf()
}

/// The directory where `cargo build` puts debug binaries.
pub fn debug_dir(root: &Path) -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        // Cargo resolves a relative CARGO_TARGET_DIR against the directory it runs in.
        Some(dir) => std::env::current_dir()
            .unwrap_or_default()
            .join(dir)
            .join("debug"),
        None => root.join("target").join("debug"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn the_index_has_all_34_ids_once() {
        assert_eq!(EXAMPLES.len(), 34);
        let ids: HashSet<&str> = EXAMPLES.iter().map(|e| e.id).collect();
        assert_eq!(ids.len(), EXAMPLES.len(), "duplicate IDs");
        for id in ["2.1", "3.1.1.lifecycle", "6.chunked", "8.fixed", "3.2.4.barrier"] {
            assert!(find(id).is_some(), "{id}");
        }
    }

    #[test]
    fn packages_follow_the_naming_convention() {
        for e in EXAMPLES {
            assert!([PROCESS, POOL, IPC, SYNC].contains(&e.topic), "{}", e.id);
            assert!(e.package.starts_with("ex-"), "{}", e.package);
            assert!(!e.place.is_empty() && !e.about.is_empty(), "{}", e.id);
            // The package name starts with the ID's section, e.g. 3.1.2 -> ex-3-1-2-...
            let section =
                e.id.split('.')
                    .take_while(|p| p.chars().all(|c| c.is_ascii_digit()));
            let prefix = format!("ex-{}-", section.collect::<Vec<_>>().join("-"));
            assert!(
                e.package.starts_with(&prefix),
                "{} should start with {prefix}",
                e.package
            );
        }
    }

    #[test]
    fn a_package_shared_by_several_ids_tells_them_apart_by_flag() {
        for e in EXAMPLES {
            let same: Vec<&Example> = EXAMPLES.iter().filter(|o| o.package == e.package).collect();
            let flags: HashSet<Option<&str>> = same.iter().map(|o| o.flag).collect();
            assert_eq!(
                flags.len(),
                same.len(),
                "{} serves several IDs with the same flag",
                e.package
            );
            assert!(
                same.iter().all(|o| o.topic == e.topic),
                "{} in two topics",
                e.package
            );
        }
    }

    #[test]
    fn commands_and_paths() {
        let e = find("6.chunked").unwrap();
        assert_eq!(e.command(), "cargo run -p ex-6-slow-pool -- --chunked");
        assert_eq!(e.dir(), "examples-pool/ex-6-slow-pool");
        assert_eq!(
            e.expected_file(),
            "examples-pool/ex-6-slow-pool/expected/6.chunked.stdout"
        );
        assert_eq!(find("2.1").unwrap().command(), "cargo run -p ex-2-1-process");
    }

    /// Every ID's crate is in the workspace: `verify` and `compare` run them all.
    #[test]
    fn every_id_has_its_crate() {
        let root = workspace_root();
        let missing: Vec<String> = EXAMPLES
            .iter()
            .map(Example::dir)
            .filter(|dir| !root.join(dir).join("Cargo.toml").is_file())
            .collect();
        assert!(missing.is_empty(), "crates missing for IDs: {missing:?}");
    }

    /// A crate or an expected file that no ID points to would never be run by `verify`.
    #[test]
    fn every_example_crate_and_expected_file_belongs_to_an_id() {
        let root = workspace_root();
        for topic in [PROCESS, POOL, IPC, SYNC] {
            let Ok(crates) = std::fs::read_dir(root.join(topic)) else {
                continue;
            };
            for krate in crates
                .map(|c| c.unwrap().path())
                .filter(|p| p.join("Cargo.toml").is_file())
            {
                let dir = format!("{topic}/{}", krate.file_name().unwrap().to_string_lossy());
                assert!(
                    EXAMPLES.iter().any(|e| e.dir() == dir),
                    "{dir} is not in xtask/src/registry.rs"
                );
                if let Ok(files) = std::fs::read_dir(krate.join("python")) {
                    for file in files.map(|f| f.unwrap().file_name().to_string_lossy().into_owned()) {
                        let path = format!("{dir}/python/{file}");
                        assert!(
                            EXAMPLES.iter().any(|e| e.python_file() == path),
                            "{path} belongs to no ID of this crate (Python programs are named <ID>.py)"
                        );
                    }
                }
                let Ok(files) = std::fs::read_dir(krate.join("expected")) else {
                    continue;
                };
                for file in files.map(|f| f.unwrap().file_name().to_string_lossy().into_owned()) {
                    let path = format!("{dir}/expected/{file}");
                    assert!(
                        EXAMPLES.iter().any(|e| e.expected_file() == path),
                        "{path} belongs to no ID of this crate (expected files are named <ID>.stdout)"
                    );
                }
            }
        }
    }

    /// `cargo xtask compare` runs each example beside the Python it ports: every ID ships that
    /// Python program.
    #[test]
    fn every_example_has_its_python_program() {
        let root = workspace_root();
        let missing: Vec<String> = EXAMPLES
            .iter()
            .filter(|e| !root.join(e.python_file()).is_file())
            .map(Example::python_file)
            .collect();
        assert!(missing.is_empty(), "missing Python programs: {missing:?}");
        assert_eq!(
            find("6.chunked").unwrap().python_file(),
            "examples-pool/ex-6-slow-pool/python/6.chunked.py"
        );
    }

    #[test]
    fn unknown_ids_are_an_error_and_duplicates_collapse() {
        let err = find_all(&["2.1".into(), "9.9".into()]).unwrap_err().to_string();
        assert!(err.contains("`9.9`") && err.contains("cargo xtask list"), "{err}");
        assert_eq!(find_all(&["2.1".into(), "2.1".into()]).unwrap().len(), 1);
    }
}

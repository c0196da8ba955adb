//! The workspace's tasks, run as `cargo xtask <task>` (the alias is in `.cargo/config.toml`).
//!
//! One module per task, each listed once in [`TASKS`] (which `--help` prints). The modules they
//! share: `registry`, the example index; `runner`, which runs a program in a process group of its
//! own with a time limit and stops it on Ctrl-C; `pattern`, the expected-output matcher; `cli`,
//! the option parsing; `leaks`, what `verify` counts before and after.

mod bench;
mod book;
mod cli;
mod compare;
mod leaks;
mod list;
mod pattern;
mod registry;
mod run;
mod runner;
mod verify;

use std::process::ExitCode;

/// One task: its name, its usage and what it does (for `--help`), and its entry point.
struct Task {
    name: &'static str,
    usage: &'static str,
    about: &'static str,
    main: fn(&[String]) -> anyhow::Result<ExitCode>,
}

/// Exit code 0 when a task passed, 1 when it did not.
fn passed(ok: bool) -> ExitCode {
    if ok { ExitCode::SUCCESS } else { ExitCode::FAILURE }
}

/// Every task, in the order `--help` lists them.
const TASKS: &[Task] = &[
    Task {
        name: "list",
        usage: "list [--markdown]",
        about: "every example ID, its tutorial place and its `cargo run -p` command \
                (--markdown prints the README's table)",
        main: |args| list::main(args).map(|()| ExitCode::SUCCESS),
    },
    Task {
        name: "run",
        usage: "run ID [ARGS...]",
        about: "run one example, its output on the terminal (ARGS go to the example)",
        main: |args| run::main(args).map(|code| ExitCode::from(u8::try_from(code).unwrap_or(1))),
    },
    Task {
        name: "verify",
        usage: "verify [ID...] [--repeat N]",
        about: "build once, run the examples (all by default), check each one's stdout against \
                <crate>/expected/<ID>.stdout, its exit status, its time limit, and that it leaves \
                no process behind; N runs each",
        main: |args| verify::main(args).map(passed),
    },
    Task {
        name: "compare",
        usage: "compare [ID...]",
        about: "run examples (all by default, built in release) and the Python programs they port \
                (<crate>/python/<ID>.py); both outputs side by side with their wall times, and \
                whether each matches the expected output",
        main: |args| compare::main(args).map(passed),
    },
    Task {
        name: "bench",
        usage: "bench [--quick] [--runs N] [--json PATH] [NAME...]",
        about: "the runtime against CPython's multiprocessing, workload by workload (all by \
                default): a warm-up, then N (5) runs of each side alternating; a table with \
                medians, [min-max], the OS ceiling, how many times better Rust is and the goals; \
                writes target/bench/report.{json,md} and SVG plots (--json: a copy of the JSON \
                there too); --quick: smaller counts, for a smoke test",
        main: |args| bench::main(args).map(passed),
    },
    Task {
        name: "book",
        usage: "book [--open]",
        about: "the tutorial's companion site in target/book: each Python program beside its Rust, \
                with the output of both from this machine (--open opens it)",
        main: |args| book::main(args).map(passed),
    },
];

/// The help text: usage, then each task with its usage and what it does, wrapped to 100 columns.
fn help() -> String {
    let mut out =
        String::from("Usage: cargo xtask <TASK> [ARGS]\n       cargo xtask <TASK> --help\n\nTasks:\n");
    for task in TASKS {
        out.push_str(&task_help(task));
    }
    out.push_str("  help                         this message\n");
    out
}

/// The column where `--help` starts what a task does.
const INDENT: usize = 31;
/// The width `--help` wraps to.
const WIDTH: usize = 100;

/// One task's entry in the help: its usage, then what it does from column [`INDENT`], on the same
/// line when the usage leaves room.
fn task_help(task: &Task) -> String {
    let usage = format!("  {}", task.usage);
    if usage.len() < INDENT {
        format!("{usage:INDENT$}{}", wrap(task.about, INDENT))
    } else {
        format!("{usage}\n{:INDENT$}{}", "", wrap(task.about, INDENT))
    }
}

/// `text` wrapped to [`WIDTH`] columns, its lines after the first indented by `indent`.
fn wrap(text: &str, indent: usize) -> String {
    let mut out = String::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        if !line.is_empty() && indent + line.len() + 1 + word.len() > WIDTH {
            out.push_str(&format!("{line}\n{:indent$}", ""));
            line.clear();
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    out + &line + "\n"
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((name, rest)) = args.split_first() else {
        print!("{}", help());
        return ExitCode::SUCCESS;
    };
    if matches!(name.as_str(), "help" | "-h" | "--help") {
        print!("{}", help());
        return ExitCode::SUCCESS;
    }
    let Some(task) = TASKS.iter().find(|t| t.name == name) else {
        let names: Vec<&str> = TASKS.iter().map(|t| t.name).collect();
        eprintln!(
            "error: no task `{name}`; the tasks are: {}\n\n{}",
            names.join(", "),
            help()
        );
        return ExitCode::FAILURE;
    };
    if rest.first().is_some_and(|a| a == "-h" || a == "--help") {
        print!("Usage: cargo xtask {}\n\n{}", task.usage, wrap(task.about, 0));
        return ExitCode::SUCCESS;
    }
    (task.main)(rest).unwrap_or_else(|e| {
        eprintln!("error: {e:#}");
        ExitCode::FAILURE
    })
}

/// The cargo that runs us (cargo sets `CARGO` for `cargo run`), or the one on `PATH`.
fn cargo() -> std::ffi::OsString {
    std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_help_lists_every_task_once_within_100_columns() {
        let help = help();
        for task in TASKS {
            let entries = help
                .lines()
                .filter(|l| l.strip_prefix("  ").and_then(|l| l.split_whitespace().next()) == Some(task.name))
                .count();
            assert_eq!(entries, 1, "{}\n{help}", task.name);
        }
        assert!(help.lines().all(|l| l.len() <= 100), "{help}");
        let names: std::collections::HashSet<&str> = TASKS.iter().map(|t| t.name).collect();
        assert_eq!(names.len(), TASKS.len(), "a task is listed twice");
    }

    /// Cargo.toml says `MIT OR Apache-2.0`: both texts are at the root, where users look for them.
    #[test]
    fn the_license_files_match_the_workspace_license() {
        let root = registry::workspace_root();
        let read =
            |name: &str| std::fs::read_to_string(root.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(
            read("Cargo.toml").contains("license = \"MIT OR Apache-2.0\""),
            "the workspace's license changed: change LICENSE-* with it"
        );
        let mit = read("LICENSE-MIT");
        assert!(mit.starts_with("MIT License\n"), "{mit}");
        assert!(mit.contains("the multiprocessing-tutorial authors"), "{mit}");
        let apache = read("LICENSE-APACHE");
        assert!(
            apache.contains("Apache License\n                           Version 2.0, January 2004"),
            "{apache}"
        );
        assert!(apache.contains("END OF TERMS AND CONDITIONS"));
    }
}

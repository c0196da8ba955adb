//! The workspace's tasks, run as `cargo xtask <task>` (the alias is in `.cargo/config.toml`).
//!
//! One module per task; `registry` is the example index they share, `pattern` the
//! expected-output matcher of `verify` and `json` the little JSON of `bench`.

mod bench;
mod compare;
mod json;
mod leaks;
mod list;
mod pattern;
mod registry;
mod run;
mod verify;

use std::process::ExitCode;

const HELP: &str = "\
Usage: cargo xtask <TASK> [ARGS]

Tasks:
  list [--markdown]            every example ID, its tutorial place, its `cargo run -p` command;
                               `pending` marks examples whose crate does not exist yet
                               (--markdown prints the README's table)
  run ID [ARGS...]             run one example, its output on the terminal
  verify [ID...] [--repeat N]  build once, run the examples (all by default), check each one's
                               stdout against <crate>/expected/<ID>.stdout, its exit status, its
                               time limit, and that it leaves no process behind; N runs each
  compare [ID...]              run examples (all by default, built in release) and the Python
                               programs they port (<crate>/python/<ID>.py); both outputs side by
                               side with their wall times, and whether each matches the expected
                               output
  bench [--quick] [--runs N] [--json PATH] [NAME...]
                               the runtime against CPython's multiprocessing, workload by
                               workload (all by default): a warm-up, then N (5) runs of each
                               side alternating; a table with medians, [min-max], the OS ceiling,
                               how many times better Rust is and the goals; writes
                               target/bench/report.{json,md} and SVG plots (--json: a copy of the
                               JSON there too); --quick: smaller counts, for a smoke test
  help                         this message
";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((task, rest)) = args.split_first() else {
        print!("{HELP}");
        return ExitCode::SUCCESS;
    };
    let result = match task.as_str() {
        "list" => list::main(rest).map(|()| ExitCode::SUCCESS),
        "run" => run::main(rest).map(|code| ExitCode::from(u8::try_from(code).unwrap_or(1))),
        "verify" => verify::main(rest).map(|ok| if ok { ExitCode::SUCCESS } else { ExitCode::FAILURE }),
        "bench" => bench::main(rest).map(|ok| if ok { ExitCode::SUCCESS } else { ExitCode::FAILURE }),
        "compare" => compare::main(rest).map(|ok| if ok { ExitCode::SUCCESS } else { ExitCode::FAILURE }),
        "help" | "-h" | "--help" => {
            print!("{HELP}");
            Ok(ExitCode::SUCCESS)
        }
        other => Err(anyhow::anyhow!("no task `{other}`\n\n{HELP}")),
    };
    result.unwrap_or_else(|e| {
        eprintln!("error: {e:#}");
        ExitCode::FAILURE
    })
}

/// The cargo that runs us (cargo sets `CARGO` for `cargo run`), or the one on `PATH`.
fn cargo() -> std::ffi::OsString {
    std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into())
}

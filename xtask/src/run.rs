//! `cargo xtask run ID [ARGS...]`: runs one example with `cargo run -p`, its output on the terminal.

use crate::{cli, registry};
use anyhow::{Context, bail};
use std::process::Command;

/// Runs the task; returns the example's exit code.
pub fn main(args: &[String]) -> anyhow::Result<i32> {
    let Some((id, extra)) = args.split_first() else {
        bail!("usage: cargo xtask run ID [ARGS...]   (`cargo xtask list` shows the IDs)");
    };
    if id.starts_with('-') {
        // Options after the ID go to the example; before it there are none.
        return Err(cli::unknown_option("run", id, &[]));
    }
    let example = registry::find_all(std::slice::from_ref(id))?[0];
    let root = registry::workspace_root();
    let mut command = Command::new(crate::cargo());
    command
        .current_dir(&root)
        .args(["run", "--quiet", "-p", example.package]);
    let args: Vec<&str> = example
        .args()
        .into_iter()
        .chain(extra.iter().map(String::as_str))
        .collect();
    if !args.is_empty() {
        command.arg("--").args(&args);
    }
    let status = command
        .status()
        .with_context(|| format!("starting `{}`", example.command()))?;
    // A signal has no exit code; report it the way a shell does (128 + N).
    Ok(status.code().unwrap_or_else(|| {
        use std::os::unix::process::ExitStatusExt;
        128 + status.signal().unwrap_or(0)
    }))
}

//! `cargo xtask list [--markdown]`: every example ID, its tutorial place and its run command.

use crate::registry::{self, EXAMPLES};
use anyhow::bail;
use std::path::Path;

/// Runs the task.
pub fn main(args: &[String]) -> anyhow::Result<()> {
    match args {
        [] => print!("{}", table(&registry::workspace_root())),
        [flag] if flag == "--markdown" => print!("{}", markdown()),
        _ => bail!("usage: cargo xtask list [--markdown]"),
    }
    Ok(())
}

/// The terminal table: ID, tutorial place, command, and `pending` where the crate is missing.
fn table(root: &Path) -> String {
    let rows: Vec<[String; 4]> = EXAMPLES
        .iter()
        .map(|e| {
            let status = if e.exists(root) { "" } else { "pending" };
            [
                e.id.to_owned(),
                e.place.to_owned(),
                e.command(),
                status.to_owned(),
            ]
        })
        .collect();
    let header = ["ID", "tutorial", "command", ""].map(str::to_owned);
    let mut widths = [0; 4];
    for row in std::iter::once(&header).chain(&rows) {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(display_width(cell));
        }
    }
    let pending = rows.iter().filter(|r| !r[3].is_empty()).count();
    let mut out = String::new();
    for row in std::iter::once(&header).chain(&rows) {
        let mut line = String::new();
        for (cell, width) in row.iter().zip(widths) {
            line.push_str(cell);
            line.push_str(&" ".repeat(width - display_width(cell) + 2));
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out.push_str(&format!(
        "\n{} examples, {} pending (their crates do not exist yet)\n",
        EXAMPLES.len(),
        pending
    ));
    out
}

/// The README's table (kept in sync by a test): tutorial place, ID, command, what it shows.
pub fn markdown() -> String {
    let mut out = String::from("| Tutorial section | ID | Command | What it shows |\n|---|---|---|---|\n");
    for e in EXAMPLES {
        out.push_str(&format!(
            "| {} | `{}` | `{}` | {} |\n",
            e.place,
            e.id,
            e.command(),
            e.about
        ));
    }
    out
}

/// The number of terminal columns `s` takes: East Asian wide characters take two.
pub(crate) fn display_width(s: &str) -> usize {
    s.chars().map(|c| if is_wide(c) { 2 } else { 1 }).sum()
}

/// Whether `c` is a wide character (the CJK and full-width ranges of Unicode's East Asian Width).
fn is_wide(c: char) -> bool {
    matches!(c as u32,
        0x1100..=0x115F | 0x2E80..=0x303E | 0x3041..=0x33FF | 0x3400..=0x4DBF | 0x4E00..=0x9FFF
        | 0xA000..=0xA4CF | 0xAC00..=0xD7A3 | 0xF900..=0xFAFF | 0xFE30..=0xFE4F | 0xFF00..=0xFF60
        | 0xFFE0..=0xFFE6 | 0x20000..=0x3FFFD)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wide_characters_take_two_columns() {
        assert_eq!(display_width("5 / 示例 3"), 10);
        assert_eq!(display_width("共享内存：Value"), 15);
        assert_eq!(display_width("abc"), 3);
    }

    #[test]
    fn the_table_lists_every_id_and_marks_pending_ones() {
        let root = registry::workspace_root();
        let table = table(&root);
        for e in EXAMPLES {
            let line = table
                .lines()
                .find(|l| l.split_whitespace().next() == Some(e.id))
                .unwrap_or_else(|| panic!("{} missing from\n{table}", e.id));
            assert!(line.contains(&e.command()), "{line}");
            assert_eq!(line.ends_with("pending"), !e.exists(&root), "{line}");
        }
        assert!(!table
            .lines()
            .any(|l| l.starts_with("2.1 ") && l.ends_with("pending")));
    }

    #[test]
    fn the_readme_has_the_current_table() {
        let readme =
            std::fs::read_to_string(registry::workspace_root().join("README.md")).expect("README.md");
        assert!(
            readme.contains(&markdown()),
            "README.md's example table is out of date: paste the output of `cargo xtask list --markdown`"
        );
    }
}

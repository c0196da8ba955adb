//! `cargo xtask list [--markdown]`: every example ID, its tutorial place and its run command.

use crate::cli;
use crate::registry::EXAMPLES;
use unicode_width::UnicodeWidthStr;

/// Runs the task.
pub fn main(args: &[String]) -> anyhow::Result<()> {
    match args {
        [] => print!("{}", table()),
        [flag] if flag == "--markdown" => print!("{}", markdown()),
        [flag] if flag.starts_with('-') => return Err(cli::unknown_option("list", flag, &["--markdown"])),
        _ => anyhow::bail!(
            "`cargo xtask list` takes no IDs: it lists them all (usage: cargo xtask list [--markdown])"
        ),
    }
    Ok(())
}

/// The terminal table: ID, tutorial place, command.
fn table() -> String {
    let rows: Vec<[String; 3]> = EXAMPLES
        .iter()
        .map(|e| [e.id.to_owned(), e.place.to_owned(), e.command()])
        .collect();
    let header = ["ID", "tutorial", "command"].map(str::to_owned);
    let mut widths = [0; 3];
    for row in std::iter::once(&header).chain(&rows) {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(display_width(cell));
        }
    }
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
    out.push_str(&format!("\n{} examples\n", EXAMPLES.len()));
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
    UnicodeWidthStr::width(s)
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
    fn the_table_lists_every_id_with_its_command() {
        let table = table();
        for e in EXAMPLES {
            let line = table
                .lines()
                .find(|l| l.split_whitespace().next() == Some(e.id))
                .unwrap_or_else(|| panic!("{} missing from\n{table}", e.id));
            assert!(line.ends_with(&e.command()), "{line}");
        }
    }

    #[test]
    fn wrong_arguments_say_what_list_takes() {
        let error = |arg: &str| main(&[arg.to_owned()]).unwrap_err().to_string();
        assert_eq!(
            error("--md"),
            "`cargo xtask list` has no option `--md`; its options are: --markdown"
        );
        assert!(error("2.1").contains("takes no IDs"), "{}", error("2.1"));
    }

    #[test]
    fn the_readme_has_the_current_table() {
        let readme =
            std::fs::read_to_string(crate::registry::workspace_root().join("README.md")).expect("README.md");
        assert!(
            readme.contains(&markdown()),
            "README.md's example table is out of date: paste the output of `cargo xtask list --markdown`"
        );
    }
}

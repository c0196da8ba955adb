//! The "Differences from the Python" notes of an example's `//!` header: the one source of the
//! book's differences, in both of its languages, and of the notes `compare` prints.
//!
//! The header's list reads, in the source:
//!
//! ```text
//! //! Differences from the Python:
//! //! - `start()` and `join()` return a `Result`; `?` stands where Python would raise.
//! //!   中文：`start()` 和 `join()` 返回 `Result`；Python 会抛异常的地方，Rust 用 `?`。
//! //! - (6.heavier) Work: Python's integers grow without bound ...
//! //!   中文：……
//! ```
//!
//! Each note is a bullet; its English comes first and its Chinese starts on a line of its own
//! with `中文：`. A note that begins with IDs in parentheses belongs to those IDs of the crate
//! only (a crate may serve several IDs); `Work:` next marks a note that says where the two
//! programs cannot do the same work and what each computes, which `compare` prints beside the
//! pair. The list ends at the first line of the header that is neither a bullet nor indented
//! under one.

use anyhow::{Context, bail};

/// What starts the list in the header.
pub const HEADING: &str = "Differences from the Python:";
/// What starts a note's Chinese (a full-width colon, as Chinese text writes it).
pub const ZH: &str = "中文：";
/// What marks a note about the work each side does.
pub const WORK: &str = "Work:";

/// One note, in both languages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    /// The IDs it belongs to; empty: every ID of the crate.
    pub ids: Vec<String>,
    /// Whether it says where the two sides' work differs (`Work:`).
    pub work: bool,
    pub en: String,
    pub zh: String,
}

impl Note {
    /// Whether the note belongs to example `id`.
    pub fn applies_to(&self, id: &str) -> bool {
        self.ids.is_empty() || self.ids.iter().any(|i| i == id)
    }
}

/// The `//!` lines at the top of `source`, without their `//!` and one space.
pub fn header_lines(source: &str) -> Vec<&str> {
    source
        .lines()
        .map_while(|l| l.strip_prefix("//!"))
        .map(|l| l.strip_prefix(' ').unwrap_or(l))
        .collect()
}

/// How many lines the `//!` header and the blank lines after it take at the top of `source`.
#[cfg(feature = "book")]
pub fn header_len(source: &str) -> usize {
    let header = source.lines().take_while(|l| l.starts_with("//!")).count();
    header
        + source
            .lines()
            .skip(header)
            .take_while(|l| l.trim().is_empty())
            .count()
}

/// The notes of a `main.rs`; an error names the note that lacks a language.
pub fn parse(source: &str) -> anyhow::Result<Vec<Note>> {
    let lines = header_lines(source);
    let Some(start) = lines.iter().position(|l| l.trim() == HEADING) else {
        return Ok(Vec::new());
    };
    // Each bullet with its continuation lines, joined by spaces.
    let mut bullets: Vec<Vec<&str>> = Vec::new();
    for line in &lines[start + 1..] {
        if let Some(text) = line.strip_prefix("- ") {
            bullets.push(vec![text]);
        } else if let (Some(text), Some(bullet)) = (line.strip_prefix("  "), bullets.last_mut()) {
            bullet.push(text.trim());
        } else {
            break;
        }
    }
    bullets
        .iter()
        .map(|bullet| {
            let at = bullet
                .iter()
                .position(|l| l.starts_with(ZH))
                .with_context(|| format!("the note `{}` has no line starting with {ZH}", bullet[0]))?;
            let en = bullet[..at].join(" ");
            let zh = join_chinese(&bullet[at..]);
            let zh = zh.strip_prefix(ZH).unwrap_or(&zh).trim().to_string();
            let (ids, en) = match en.strip_prefix('(').and_then(|r| r.split_once(") ")) {
                Some((ids, rest))
                    if ids
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || ".,  ".contains(c)) =>
                {
                    (
                        ids.split(',').map(|i| i.trim().to_string()).collect(),
                        rest.to_string(),
                    )
                }
                _ => (Vec::new(), en),
            };
            let (work, en) = match en.strip_prefix(WORK) {
                Some(rest) => (true, rest.trim().to_string()),
                None => (false, en),
            };
            if en.is_empty() || zh.is_empty() {
                bail!("the note `{}` needs both its English and its Chinese", bullet[0]);
            }
            Ok(Note { ids, work, en, zh })
        })
        .collect()
}

/// Joins the lines of a Chinese paragraph: no space between two Chinese characters, one space
/// where Latin text meets Latin text, as a Chinese typesetter would.
fn join_chinese(lines: &[&str]) -> String {
    let mut out = String::new();
    for line in lines {
        let wide = |c: Option<char>| c.is_some_and(|c| !c.is_ascii());
        if !out.is_empty() && !wide(out.chars().last()) && !wide(line.chars().next()) {
            out.push(' ');
        }
        out.push_str(line);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const SOURCE: &str = "//! What it shows.\n//!\n//! Differences from the Python:\n\
        //! - `start()` returns a `Result`; `?` stands where\n//!   Python would raise.\n\
        //!   中文：`start()` 返回 `Result`；\n//!   Python 会抛异常的地方用 `?`。\n\
        //! - (6.heavier, 6.chunked) Work: both compute\n//!   x * x mod 2^64.\n//!   中文：两边都计算 x * x mod 2^64。\n\
        //!\n//! Why: after the list.\n\nuse x;\n";

    #[test]
    fn notes_carry_both_languages_their_ids_and_whether_they_are_about_work() {
        let notes = parse(SOURCE).unwrap();
        assert_eq!(notes.len(), 2);
        assert_eq!(
            notes[0].en,
            "`start()` returns a `Result`; `?` stands where Python would raise."
        );
        assert_eq!(
            notes[0].zh,
            "`start()` 返回 `Result`；Python 会抛异常的地方用 `?`。"
        );
        assert!(notes[0].ids.is_empty() && !notes[0].work && notes[0].applies_to("6"));
        assert_eq!(notes[1].ids, ["6.heavier", "6.chunked"]);
        assert!(notes[1].work && notes[1].applies_to("6.chunked") && !notes[1].applies_to("6"));
        assert_eq!(notes[1].en, "both compute x * x mod 2^64.");
        #[cfg(feature = "book")]
        assert_eq!(header_len(SOURCE), 13);
    }

    #[test]
    fn a_note_without_its_chinese_is_an_error() {
        let err = parse("//! Differences from the Python:\n//! - Only English.\n").unwrap_err();
        assert!(err.to_string().contains("Only English"), "{err}");
    }

    /// Every example's notes carry both languages (the book shows both, so neither can drift).
    #[test]
    fn every_example_header_parses_with_both_languages() {
        let root = crate::registry::workspace_root();
        for e in crate::registry::EXAMPLES {
            let path = root.join(e.dir()).join("src/main.rs");
            let source = std::fs::read_to_string(&path).unwrap();
            let notes = parse(&source).unwrap_or_else(|err| panic!("{}: {err:#}", path.display()));
            assert!(
                notes.iter().any(|n| n.applies_to(e.id)),
                "{}: no `{HEADING}` note for {}",
                path.display(),
                e.id
            );
        }
    }
}

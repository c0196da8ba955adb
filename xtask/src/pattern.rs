//! The expected-output pattern format of `<crate>/expected/<ID>.stdout` and its matcher.
//!
//! A pattern is matched against an example's stdout line by line:
//! - a line matches literally, except that `[..]` inside a line matches any text (never a newline);
//! - a line that is exactly `...` matches any number of lines, including none;
//! - the lines between a line `{any order}` and a line `{end}` match the same number of output lines
//!   in any order (each pattern line may use `[..]`).
//!
//! Example 2.1's file, five racy lines and then a fixed last one:
//!
//! ```text
//! {any order}
//! 进程 0 正在运行
//! 进程 1 正在运行
//! 进程 2 正在运行
//! 进程 3 正在运行
//! 进程 4 正在运行
//! {end}
//! 所有进程已结束。
//! ```
//!
//! A PID or a time is `[..]` (`子进程 [..] 正在运行`); output whose length varies is `...`. Write
//! the file to what the Python program prints, so that `cargo xtask compare` checks that claim.
//!
//! snapbox knows `[..]` and `...`, but its unordered mode applies to a whole output, not to a block
//! inside one, and examples such as 2.1 need exactly that ("five racy lines, then a fixed last line").
//! So the format is matched here, in one small module with its own tests.

use std::collections::HashSet;
use std::fmt;

/// The wildcard inside a line.
const ANY_TEXT: &str = "[..]";
/// A line that matches any number of lines.
const ANY_LINES: &str = "...";
/// The line that opens a block of lines matched in any order.
const ANY_ORDER: &str = "{any order}";
/// The line that closes an `{any order}` block.
const END: &str = "{end}";

/// One pattern line, with its 1-based line number in the expected file (for messages).
#[derive(Debug, Clone, PartialEq, Eq)]
struct LinePattern {
    text: String,
    lineno: usize,
}

impl LinePattern {
    /// Whether `line` matches this pattern line, `[..]` matching any text.
    fn matches(&self, line: &str) -> bool {
        let mut parts = self.text.split(ANY_TEXT);
        let first = parts.next().unwrap_or("");
        let rest: Vec<&str> = parts.collect();
        let Some((last, middle)) = rest.split_last() else {
            return line == self.text;
        };
        if line.len() < first.len() + last.len() || !line.starts_with(first) || !line.ends_with(last) {
            return false;
        }
        // With only "match anything" wildcards, taking the leftmost occurrence of each middle part
        // is never worse than a later one, so no backtracking is needed.
        let mut inner = &line[first.len()..line.len() - last.len()];
        for part in middle {
            match inner.find(part) {
                Some(at) => inner = &inner[at + part.len()..],
                None => return false,
            }
        }
        true
    }
}

impl fmt::Display for LinePattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "`{}` (pattern line {})", self.text, self.lineno)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Item {
    Line(LinePattern),
    AnyLines,
    AnyOrder {
        lines: Vec<LinePattern>,
        opened_at: usize,
    },
}

/// A parsed expected-output file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pattern {
    items: Vec<Item>,
}

/// Where and why an output did not match its pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mismatch {
    /// The 1-based number of the first output line that could not be matched (one past the last
    /// line when the output ended too early).
    pub line: usize,
    /// That output line, or `None` when the output ended there.
    pub got: Option<String>,
    /// What the pattern wanted there.
    pub expected: String,
}

impl fmt::Display for Mismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "  first mismatch at output line {}:", self.line)?;
        writeln!(f, "    expected: {}", self.expected)?;
        match &self.got {
            Some(got) => write!(f, "    got:      `{got}`"),
            None => write!(f, "    got:      the end of the output"),
        }
    }
}

/// Splits a text into lines; a final newline ends the last line rather than starting an empty one.
fn lines(text: &str) -> Vec<&str> {
    if text.is_empty() {
        return Vec::new();
    }
    text.strip_suffix('\n').unwrap_or(text).split('\n').collect()
}

impl Pattern {
    /// Parses an expected-output file; the error names the line that is wrong.
    pub fn parse(text: &str) -> Result<Pattern, String> {
        let mut items = Vec::new();
        let mut block: Option<(usize, Vec<LinePattern>)> = None;
        for (index, line) in lines(text).into_iter().enumerate() {
            let lineno = index + 1;
            match (line, &mut block) {
                (ANY_ORDER, Some((opened_at, _))) => {
                    return Err(format!(
                        "line {lineno}: `{ANY_ORDER}` inside the block opened at line {opened_at}"
                    ));
                }
                (ANY_ORDER, None) => block = Some((lineno, Vec::new())),
                (END, Some(_)) => {
                    let (opened_at, lines) = block.take().unwrap_or_default();
                    items.push(Item::AnyOrder { lines, opened_at });
                }
                (END, None) => return Err(format!("line {lineno}: `{END}` without an `{ANY_ORDER}` line")),
                (ANY_LINES, Some((opened_at, _))) => {
                    return Err(format!(
                        "line {lineno}: `{ANY_LINES}` inside the `{ANY_ORDER}` block opened at line \
                         {opened_at} (a block matches a fixed number of lines)"
                    ));
                }
                (ANY_LINES, None) => items.push(Item::AnyLines),
                (_, Some((_, lines))) => lines.push(LinePattern {
                    text: line.to_owned(),
                    lineno,
                }),
                (_, None) => items.push(Item::Line(LinePattern {
                    text: line.to_owned(),
                    lineno,
                })),
            }
        }
        if let Some((opened_at, _)) = block {
            return Err(format!(
                "line {opened_at}: `{ANY_ORDER}` is never closed by `{END}`"
            ));
        }
        Ok(Pattern { items })
    }

    /// Matches `output` against the pattern; the error describes the first line that does not fit.
    pub fn matches(&self, output: &str) -> Result<(), Mismatch> {
        let mut matcher = Matcher {
            items: &self.items,
            lines: lines(output),
            failed: HashSet::new(),
            best: None,
        };
        if matcher.run(0, 0) {
            return Ok(());
        }
        let (line, expected) = matcher.best.unwrap_or((0, "the output to match".to_owned()));
        Err(Mismatch {
            line: line + 1,
            got: matcher.lines.get(line).map(|l| (*l).to_owned()),
            expected,
        })
    }
}

/// A backtracking matcher over (pattern item, output line) states.
struct Matcher<'a> {
    items: &'a [Item],
    lines: Vec<&'a str>,
    /// States already known to fail, so that several `...` lines cannot make the search exponential.
    failed: HashSet<(usize, usize)>,
    /// The failure that got furthest into the output: (0-based output line, what was expected).
    best: Option<(usize, String)>,
}

impl Matcher<'_> {
    /// Whether items `item..` match output lines `line..` exactly.
    fn run(&mut self, item: usize, line: usize) -> bool {
        if self.failed.contains(&(item, line)) {
            return false;
        }
        let matched = self.step(item, line);
        if !matched {
            self.failed.insert((item, line));
        }
        matched
    }

    fn step(&mut self, item: usize, line: usize) -> bool {
        let Some(current) = self.items.get(item) else {
            if line == self.lines.len() {
                return true;
            }
            self.fail(line, "the end of the output".to_owned());
            return false;
        };
        match current {
            Item::Line(pattern) => match self.lines.get(line) {
                Some(got) if pattern.matches(got) => self.run(item + 1, line + 1),
                _ => {
                    self.fail(line, pattern.to_string());
                    false
                }
            },
            Item::AnyLines => (line..=self.lines.len()).any(|next| self.run(item + 1, next)),
            Item::AnyOrder {
                lines: patterns,
                opened_at,
            } => {
                let end = (line + patterns.len()).min(self.lines.len());
                match first_unmatched(patterns, &self.lines[line..end]) {
                    None if end - line == patterns.len() => self.run(item + 1, end),
                    unmatched => {
                        let at = unmatched.map_or(end, |offset| line + offset);
                        let wanted: Vec<String> = patterns.iter().map(|p| format!("`{}`", p.text)).collect();
                        self.fail(
                            at,
                            format!(
                                "a line of the `{ANY_ORDER}` block at pattern line {opened_at}, one of: {}",
                                wanted.join(", ")
                            ),
                        );
                        false
                    }
                }
            }
        }
    }

    /// Records a failure at `line` if it is the furthest one so far (the first one on a tie).
    fn fail(&mut self, line: usize, expected: String) {
        if self.best.as_ref().is_none_or(|(best, _)| line > *best) {
            self.best = Some((line, expected));
        }
    }
}

/// Pairs output lines with distinct pattern lines (a bipartite matching, Kuhn's algorithm) and
/// returns the offset of the first output line that cannot be paired, or `None` if all can.
///
/// Lines are taken in order and a paired line stays paired when later lines are added, so the
/// offset returned is the earliest line at which the block stops fitting.
fn first_unmatched(patterns: &[LinePattern], lines: &[&str]) -> Option<usize> {
    // owner[p] = the output line currently paired with pattern p.
    let mut owner: Vec<Option<usize>> = vec![None; patterns.len()];
    for line in 0..lines.len() {
        let mut seen = vec![false; patterns.len()];
        if !augment(patterns, lines, line, &mut owner, &mut seen) {
            return Some(line);
        }
    }
    None
}

fn augment(
    patterns: &[LinePattern],
    lines: &[&str],
    line: usize,
    owner: &mut [Option<usize>],
    seen: &mut [bool],
) -> bool {
    for p in 0..patterns.len() {
        if seen[p] || !patterns[p].matches(lines[line]) {
            continue;
        }
        seen[p] = true;
        let free = match owner[p] {
            None => true,
            Some(other) => augment(patterns, lines, other, owner, seen),
        };
        if free {
            owner[p] = Some(line);
            return true;
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(pattern: &str, output: &str) -> Result<(), Mismatch> {
        Pattern::parse(pattern).expect("a valid pattern").matches(output)
    }

    fn mismatch_line(pattern: &str, output: &str) -> usize {
        check(pattern, output).expect_err("should not match").line
    }

    #[test]
    fn literal_lines_match_exactly() {
        assert_eq!(check("a\nb\n", "a\nb\n"), Ok(()));
        assert_eq!(check("", ""), Ok(()));
        assert_eq!(check("a\n\n", "a\n\n"), Ok(()), "an empty last line is a line");
        assert!(
            check("a\n\n", "a\n").is_err(),
            "a missing empty line is a mismatch"
        );
        assert!(check("a\n", "a \n").is_err(), "trailing spaces count");
        assert!(check("进程 1 正在运行\n", "进程 2 正在运行\n").is_err());
    }

    #[test]
    fn literal_mismatch_names_the_line_and_both_sides() {
        let err = check("one\ntwo\nthree\n", "one\nTWO\nthree\n").unwrap_err();
        assert_eq!(err.line, 2);
        assert_eq!(err.got.as_deref(), Some("TWO"));
        assert_eq!(err.expected, "`two` (pattern line 2)");
        let text = err.to_string();
        assert!(text.contains("output line 2") && text.contains("`TWO`"), "{text}");
    }

    #[test]
    fn output_too_short_or_too_long() {
        let short = check("a\nb\n", "a\n").unwrap_err();
        assert_eq!((short.line, short.got), (2, None));
        let long = check("a\n", "a\nb\n").unwrap_err();
        assert_eq!((long.line, long.got.as_deref()), (2, Some("b")));
        assert_eq!(long.expected, "the end of the output");
        assert_eq!(mismatch_line("a\n", ""), 1);
    }

    #[test]
    fn wildcard_matches_any_text_within_a_line() {
        for (pattern, line, expected) in [
            ("[..]", "", true),
            ("[..]", "anything", true),
            ("pid [..]", "pid 1234", true),
            ("pid [..]", "pid ", true),
            ("pid [..]", "pi", false),
            ("[..] done", "task done", true),
            ("[..] done", "task done!", false),
            ("多进程耗时:[..]", "多进程耗时:0.37", true),
            ("Task [..] 由进程ID [..] 执行", "Task 3 由进程ID 42 执行", true),
            ("Task [..] 由进程ID [..] 执行", "Task 3 由进程 42 执行", false),
            ("a[..]b[..]c", "aXbYc", true),
            ("a[..]b[..]c", "abc", true),
            ("a[..]b[..]c", "acb", false),
            ("ab[..]ba", "aba", false),
            ("x[..]x", "x", false),
        ] {
            let p = LinePattern {
                text: pattern.to_owned(),
                lineno: 1,
            };
            assert_eq!(p.matches(line), expected, "{pattern:?} against {line:?}");
        }
    }

    #[test]
    fn wildcard_does_not_cross_lines() {
        assert!(check("a[..]c\n", "ab\nc\n").is_err());
    }

    #[test]
    fn ellipsis_matches_any_number_of_lines() {
        assert_eq!(check("...\n", ""), Ok(()));
        assert_eq!(check("...\n", "x\ny\n"), Ok(()));
        assert_eq!(check("start\n...\nend\n", "start\nend\n"), Ok(()));
        assert_eq!(check("start\n...\nend\n", "start\n1\n2\nend\n"), Ok(()));
        assert_eq!(
            check("...\nend\n", "end\nend\nend\n"),
            Ok(()),
            "needs backtracking"
        );
        assert_eq!(check("a\n...\n", "a\nb\n"), Ok(()));
        assert_eq!(check("...\nx\n...\ny\n...\n", "1\nx\n2\ny\n3\n"), Ok(()));
    }

    #[test]
    fn ellipsis_mismatch_reports_the_furthest_failure() {
        let err = check("start\n...\nend\n", "start\n1\n2\n").unwrap_err();
        assert_eq!((err.line, err.got), (4, None));
        assert_eq!(err.expected, "`end` (pattern line 3)");
        assert_eq!(mismatch_line("...\nend\n", "x\n"), 2);
    }

    #[test]
    fn many_ellipses_stay_fast() {
        let pattern = "...\n".repeat(30) + "never\n";
        let output = "line\n".repeat(200);
        assert!(check(&pattern, &output).is_err());
    }

    #[test]
    fn any_order_block_matches_a_permutation() {
        let pattern =
            "{any order}\n进程 0 正在运行\n进程 1 正在运行\n进程 2 正在运行\n{end}\n所有进程已结束。\n";
        assert_eq!(
            check(
                pattern,
                "进程 2 正在运行\n进程 0 正在运行\n进程 1 正在运行\n所有进程已结束。\n"
            ),
            Ok(())
        );
        assert_eq!(
            check(
                pattern,
                "进程 0 正在运行\n进程 1 正在运行\n进程 2 正在运行\n所有进程已结束。\n"
            ),
            Ok(())
        );
    }

    #[test]
    fn any_order_block_uses_each_pattern_line_once() {
        let pattern = "{any order}\na\nb\n{end}\n";
        let err = check(pattern, "a\na\n").unwrap_err();
        assert_eq!((err.line, err.got.as_deref()), (2, Some("a")));
        assert!(
            err.expected.contains("`{any order}` block at pattern line 1"),
            "{}",
            err.expected
        );
    }

    #[test]
    fn any_order_block_with_overlapping_wildcards_finds_a_pairing() {
        // Pairing `ab` with `a[..]` first would leave `ac` without a partner; the matcher must re-pair.
        assert_eq!(check("{any order}\na[..]\nab\n{end}\n", "ab\nac\n"), Ok(()));
        assert_eq!(
            check(
                "{any order}\n[..] done\nworker [..]\n{end}\n",
                "worker 1 done\nworker 2\n"
            ),
            Ok(())
        );
    }

    #[test]
    fn any_order_block_needs_exactly_its_number_of_lines() {
        let pattern = "{any order}\nx [..]\nx [..]\n{end}\nend\n";
        assert_eq!(check(pattern, "x 1\nx 2\nend\n"), Ok(()));
        let short = check(pattern, "x 1\nend\n").unwrap_err();
        assert_eq!((short.line, short.got.as_deref()), (2, Some("end")));
        let long = check(pattern, "x 1\nx 2\nx 3\nend\n").unwrap_err();
        assert_eq!((long.line, long.got.as_deref()), (3, Some("x 3")));
        let cut = check(pattern, "x 1\n").unwrap_err();
        assert_eq!((cut.line, cut.got), (2, None));
    }

    #[test]
    fn any_order_block_mismatch_names_the_stray_line() {
        let pattern = "{any order}\n进程 [..] 正在运行\n进程 [..] 正在运行\n{end}\n所有进程已结束。\n";
        let err = check(pattern, "进程 0 正在运行\n出错了\n所有进程已结束。\n").unwrap_err();
        assert_eq!((err.line, err.got.as_deref()), (2, Some("出错了")));
    }

    #[test]
    fn empty_any_order_block_matches_nothing() {
        assert_eq!(check("a\n{any order}\n{end}\nb\n", "a\nb\n"), Ok(()));
    }

    #[test]
    fn ellipsis_and_blocks_combine() {
        let pattern = "...\n{any order}\n1\n2\n{end}\n...\n";
        assert_eq!(check(pattern, "noise\n2\n1\nmore\n"), Ok(()));
        assert!(check(pattern, "1\nnoise\n2\n").is_err());
    }

    #[test]
    fn parse_errors_name_the_line() {
        assert_eq!(
            Pattern::parse("{any order}\na\n").unwrap_err(),
            "line 1: `{any order}` is never closed by `{end}`"
        );
        assert_eq!(
            Pattern::parse("a\n{end}\n").unwrap_err(),
            "line 2: `{end}` without an `{any order}` line"
        );
        assert!(
            Pattern::parse("{any order}\n...\n{end}\n")
                .unwrap_err()
                .starts_with("line 2: `...` inside")
        );
        assert!(
            Pattern::parse("{any order}\n{any order}\n{end}\n")
                .unwrap_err()
                .starts_with("line 2:")
        );
    }

    #[test]
    fn a_missing_final_newline_is_tolerated() {
        assert_eq!(check("a\nb", "a\nb\n"), Ok(()));
        assert_eq!(check("a\nb\n", "a\nb"), Ok(()));
    }

    #[test]
    fn the_2_1_expected_file_matches_real_orders() {
        let pattern = include_str!("../../examples-process/ex-2-1-process/expected/2.1.stdout");
        let mut order = [3, 0, 4, 1, 2];
        for _ in 0..5 {
            order.rotate_left(1);
            let mut output: String = order.iter().map(|n| format!("进程 {n} 正在运行\n")).collect();
            output.push_str("所有进程已结束。\n");
            assert_eq!(check(pattern, &output), Ok(()), "{output}");
        }
        assert!(check(pattern, "进程 0 正在运行\n所有进程已结束。\n").is_err());
        assert!(check(pattern, "所有进程已结束。\n").is_err());
    }
}

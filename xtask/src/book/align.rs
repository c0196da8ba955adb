//! Which line of the Python corresponds to which line of the Rust.
//!
//! The examples keep the Python's names, strings and statement order (STYLE.md), so the lines
//! that correspond share words: `worker`, `p.start()`, `"进程 {num} 正在运行"`, a comment. Each
//! line becomes a set of tokens (identifiers, numbers, and the two-character pieces of Chinese
//! text); a token counts for more the rarer it is in the two programs; and a dynamic programme,
//! as in a diff, picks the order-keeping matching of lines with the largest total of shared
//! weight. Lines left unmatched (Rust's closing braces, Python's `if __name__` guard) sit beside
//! each other in the gaps between matched pairs.

use std::collections::{HashMap, HashSet};

/// One row of the side-by-side layout: a line index of each side, or none (a gap).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Row {
    pub left: Option<usize>,
    pub right: Option<usize>,
    /// Whether the two lines correspond (and are linked), rather than only sharing the row.
    pub linked: bool,
}

/// Words that every program is full of, which say nothing about which lines correspond.
const STOP: &[&str] = &[
    "def",
    "fn",
    "let",
    "mut",
    "if",
    "else",
    "for",
    "in",
    "while",
    "return",
    "from",
    "as",
    "pub",
    "self",
    "ok",
    "unwrap",
    "expect",
    "to_string",
    "clone",
    "new",
    "std",
    "the",
    "is",
    "a",
    "with",
    "multiprocessing",
    "result",
    "anyhow",
    "u64",
    "u32",
    "i32",
    "i64",
    "usize",
    "string",
    "str",
    "vec",
];

/// The tokens of one line, normalised so that the two languages' spellings meet.
pub fn tokens(line: &str) -> HashSet<String> {
    let mut out = HashSet::new();
    let mut word = String::new();
    let mut cjk: Vec<char> = Vec::new();
    let flush_word = |word: &mut String, out: &mut HashSet<String>| {
        if !word.is_empty() {
            let w = word.to_lowercase();
            let w = match w.as_str() {
                "println" | "print" => "print".to_string(),
                "__main__" | "__name__" => "main".to_string(),
                // `import` and `from` are Python's `use`; `append` is `push`.
                "import" | "use" => "use".to_string(),
                "append" => "push".to_string(),
                _ => w,
            };
            if !STOP.contains(&w.as_str()) && w != "_" {
                out.insert(w);
            }
            word.clear();
        }
    };
    let flush_cjk = |cjk: &mut Vec<char>, out: &mut HashSet<String>| {
        if cjk.len() == 1 {
            out.insert(cjk[0].to_string());
        }
        for pair in cjk.windows(2) {
            out.insert(pair.iter().collect());
        }
        cjk.clear();
    };
    for c in line.chars() {
        if c.is_ascii_alphanumeric() || c == '_' {
            flush_cjk(&mut cjk, &mut out);
            word.push(c);
        } else if !c.is_ascii() && c.is_alphanumeric() {
            flush_word(&mut word, &mut out);
            cjk.push(c);
        } else {
            flush_word(&mut word, &mut out);
            flush_cjk(&mut cjk, &mut out);
        }
    }
    flush_word(&mut word, &mut out);
    flush_cjk(&mut cjk, &mut out);
    // Numbers are written 1_000_000 in Rust and 1000000 or 1_000_000 in Python.
    out.into_iter()
        .map(|t| {
            if t.chars().all(|c| c.is_ascii_digit() || c == '_') {
                t.replace('_', "")
            } else {
                t
            }
        })
        .collect()
}

/// The rows that lay `left` and `right` side by side, corresponding lines on the same row.
pub fn align(left: &[&str], right: &[&str]) -> Vec<Row> {
    let left_tokens: Vec<HashSet<String>> = left.iter().map(|l| tokens(l)).collect();
    let right_tokens: Vec<HashSet<String>> = right.iter().map(|l| tokens(l)).collect();
    // A token's weight: one over the number of lines (of both programs) it appears in.
    let mut lines_with: HashMap<&str, usize> = HashMap::new();
    for set in left_tokens.iter().chain(&right_tokens) {
        for t in set {
            *lines_with.entry(t).or_default() += 1;
        }
    }
    let score = |i: usize, j: usize| -> f64 {
        let shared: f64 = left_tokens[i]
            .intersection(&right_tokens[j])
            .map(|t| 1.0 / lines_with[t.as_str()] as f64)
            .sum();
        // A single common word shared by many lines is not enough to call two lines one.
        if shared >= 0.34 { shared } else { 0.0 }
    };
    let (n, m) = (left.len(), right.len());
    // best[i][j]: the best total for left[i..] and right[j..].
    let mut best = vec![vec![0.0f64; m + 1]; n + 1];
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            let s = score(i, j);
            let pair = if s > 0.0 { s + best[i + 1][j + 1] } else { 0.0 };
            best[i][j] = pair.max(best[i + 1][j]).max(best[i][j + 1]);
        }
    }
    let mut pairs = Vec::new();
    let (mut i, mut j) = (0, 0);
    while i < n && j < m {
        let s = score(i, j);
        if s > 0.0 && (s + best[i + 1][j + 1] - best[i][j]).abs() < 1e-9 {
            pairs.push((i, j));
            i += 1;
            j += 1;
        } else if (best[i + 1][j] - best[i][j]).abs() < 1e-9 {
            i += 1;
        } else {
            j += 1;
        }
    }
    rows(n, m, &pairs)
}

/// Rows from matched pairs: between two pairs, the unmatched lines of both sides share rows,
/// top-aligned, then the pair has a row of its own.
fn rows(n: usize, m: usize, pairs: &[(usize, usize)]) -> Vec<Row> {
    let mut out = Vec::new();
    let (mut i, mut j) = (0, 0);
    for &(pi, pj) in pairs.iter().chain(std::iter::once(&(n, m))) {
        for k in 0..(pi - i).max(pj - j) {
            out.push(Row {
                left: (i + k < pi).then_some(i + k),
                right: (j + k < pj).then_some(j + k),
                linked: false,
            });
        }
        (i, j) = (pi, pj);
        if i < n && j < m {
            out.push(Row {
                left: Some(i),
                right: Some(j),
                linked: true,
            });
            (i, j) = (i + 1, j + 1);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const PYTHON: &str = "from multiprocessing import Process

def worker(num):
    print(f\"进程 {num} 正在运行\")

if __name__ == '__main__':
    processes = []
    for i in range(5):
        p = Process(target=worker, args=(i,))
        processes.append(p)
        p.start()

    for p in processes:
        p.join()

    print(\"所有进程已结束。\")";

    const RUST: &str = "use multiprocessing::Process;

fn worker(num: u32) {
    println!(\"进程 {num} 正在运行\");
}

fn main() -> anyhow::Result<()> {
    let mut processes = Vec::new();
    for i in 0..5 {
        let mut p = Process::new(worker, i);
        p.start()?;
        processes.push(p);
    }

    for p in &processes {
        p.join()?;
    }

    println!(\"所有进程已结束。\");
    Ok(())
}";

    fn linked(python: &str, rust: &str) -> Vec<(String, String)> {
        let (l, r): (Vec<&str>, Vec<&str>) = (python.lines().collect(), rust.lines().collect());
        align(&l, &r)
            .into_iter()
            .filter(|row| row.linked)
            .map(|row| {
                (
                    l[row.left.unwrap()].trim().to_string(),
                    r[row.right.unwrap()].trim().to_string(),
                )
            })
            .collect()
    }

    #[test]
    fn the_lines_of_example_2_1_pair_up() {
        let pairs = linked(PYTHON, RUST);
        for (py, rs) in [
            (
                "from multiprocessing import Process",
                "use multiprocessing::Process;",
            ),
            ("def worker(num):", "fn worker(num: u32) {"),
            (
                "print(f\"进程 {num} 正在运行\")",
                "println!(\"进程 {num} 正在运行\");",
            ),
            ("if __name__ == '__main__':", "fn main() -> anyhow::Result<()> {"),
            (
                "p = Process(target=worker, args=(i,))",
                "let mut p = Process::new(worker, i);",
            ),
            // The Rust starts `p` before it pushes it (the vector then owns it): of two lines
            // that swapped places, one pair can sit on a row, the other cannot.
            ("processes.append(p)", "processes.push(p);"),
            ("p.join()", "p.join()?;"),
            ("print(\"所有进程已结束。\")", "println!(\"所有进程已结束。\");"),
        ] {
            assert!(
                pairs.contains(&(py.to_string(), rs.to_string())),
                "{py} <-> {rs} not in {pairs:#?}"
            );
        }
    }

    #[test]
    fn every_line_of_both_sides_appears_once_in_order() {
        let (l, r): (Vec<&str>, Vec<&str>) = (PYTHON.lines().collect(), RUST.lines().collect());
        let rows = align(&l, &r);
        let left: Vec<usize> = rows.iter().filter_map(|r| r.left).collect();
        let right: Vec<usize> = rows.iter().filter_map(|r| r.right).collect();
        assert_eq!(left, (0..l.len()).collect::<Vec<_>>());
        assert_eq!(right, (0..r.len()).collect::<Vec<_>>());
        assert!(rows.iter().all(|r| r.left.is_some() || r.right.is_some()));
    }

    #[test]
    fn numbers_and_print_meet_across_the_languages() {
        assert!(tokens("for _ in range(1_000_000):").contains("1000000"));
        assert!(tokens("println!(\"x\")").contains("print"));
        assert!(tokens("# 获取当前进程的PID").contains("进程"));
    }
}

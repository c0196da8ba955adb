//! The book's HTML: pages, the side-by-side programs, outputs, notes and measurements.
//!
//! Every text of the book's own is written twice, `<… lang="zh-CN">` then `<… lang="en">`; the
//! reader's choice (both, 中文, English) hides one with CSS. Programs are `<pre>` blocks of one
//! `<span class="l">` per line, each ending in its newline, so the text of the page is the
//! programs' text; a row where one side has no line holds a `<span class="l gap">`, which a
//! narrow screen hides (there the two programs stand one above the other and need no padding).

use super::align::{self, Row};
use super::highlight::{self, Lang};
use super::notes::Note;
use super::sections::{SECTIONS, Section};
use std::fmt::Write as _;

/// `&`, `<`, `>` and `"` as entities.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            c => out.push(c),
        }
    }
    out
}

/// A note's text as HTML: escaped, with `code` spans for backticks.
pub fn inline(s: &str) -> String {
    let mut out = String::new();
    for (i, part) in s.split('`').enumerate() {
        if i % 2 == 1 {
            let _ = write!(out, "<code>{}</code>", escape(part));
        } else {
            out.push_str(&escape(part));
        }
    }
    out
}

/// The same words in both languages, as two elements of `tag`.
pub fn bi(tag: &str, zh: &str, en: &str) -> String {
    // `tag` may carry attributes (`p class="aside"`); the closing tags name the element only.
    let name = tag.split_whitespace().next().unwrap_or(tag);
    format!(
        "<{tag} lang=\"zh-CN\">{}</{name}><{tag} lang=\"en\">{}</{name}>",
        inline(zh),
        inline(en)
    )
}

/// A heading in both languages: one element, the English on a line of its own below.
pub fn heading(tag: &str, zh: &str, en: &str) -> String {
    format!(
        "<{tag}><span lang=\"zh-CN\">{}</span><span lang=\"en\">{}</span></{tag}>",
        inline(zh),
        inline(en)
    )
}

/// A whole page.
pub fn page(title: &str, current: Option<u32>, body: &str) -> String {
    let mut nav = String::new();
    for s in SECTIONS {
        let class = if Some(s.number) == current {
            " class=\"current\""
        } else {
            ""
        };
        let _ = write!(
            nav,
            "<li><a href=\"{}\"{class}>{}</a><span lang=\"en\">{}</span></li>",
            s.file(),
            escape(s.title),
            escape(s.en)
        );
    }
    let (prev, next) = match current {
        Some(n) => (
            SECTIONS.iter().find(|s| s.number + 1 == n),
            SECTIONS.iter().find(|s| s.number == n + 1),
        ),
        None => (None, SECTIONS.first()),
    };
    let link = |s: Option<&Section>, rel: &str| {
        s.map_or_else(String::new, |s| {
            format!("<a rel=\"{rel}\" href=\"{}\">{}</a>", s.file(), escape(s.title))
        })
    };
    format!(
        r#"<!DOCTYPE html>
<html lang="zh-CN" data-lang="both">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} · multiprocessing: Python 与 Rust 对照</title>
<link rel="stylesheet" href="style.css">
</head>
<body>
<nav class="sidebar">
<a class="home" href="index.html"><span lang="zh-CN">Python 与 Rust 对照</span><span lang="en">Python beside Rust</span></a>
<div class="langs" role="group" aria-label="language"><button data-set-lang="both">中文 + English</button><button data-set-lang="zh">中文</button><button data-set-lang="en">English</button></div>
<ol>{nav}</ol>
</nav>
<main>
{body}
<nav class="prevnext">{prev}{next}</nav>
</main>
<script src="book.js"></script>
</body>
</html>
"#,
        title = escape(title),
        prev = link(prev, "prev"),
        next = link(next, "next"),
    )
}

/// What one side printed when the book was built.
pub struct Output<'a> {
    pub stdout: &'a str,
    pub stderr: &'a str,
    pub seconds: f64,
    /// A non-zero exit, a timeout, a process left behind, in words.
    pub problem: Option<String>,
}

/// One example: both programs, both outputs, how to run them, and the differences.
pub struct Example<'a> {
    pub id: &'a str,
    pub place: &'a str,
    pub python_path: &'a str,
    pub python: &'a str,
    pub rust_path: &'a str,
    pub rust: &'a str,
    /// How many lines of `rust` its `//!` header takes (not shown: its notes are).
    pub rust_header: usize,
    pub commands: [String; 3],
    pub notes: Vec<&'a Note>,
    pub rust_out: Output<'a>,
    pub python_out: Output<'a>,
}

/// The `<section>` of one example.
pub fn example(e: &Example) -> String {
    let mut out = String::new();
    let ours = e.place.contains("(ours)");
    let place = e.place.replace(" (ours)", "");
    let place = place.split_once(" / ").map_or(place.as_str(), |(_, p)| p);
    let _ = write!(
        out,
        "<section class=\"example\" id=\"ex-{id}\">\n<h2><a href=\"#ex-{id}\">{id}</a> <span class=\"place\">{}</span>{}</h2>\n",
        escape(place),
        if ours {
            "<span class=\"ours\"><span lang=\"zh-CN\">我们补充</span> <span lang=\"en\">ours</span></span>"
        } else {
            ""
        },
        id = escape(e.id)
    );
    if ours {
        out.push_str(&bi(
            "p",
            "教程只描述了这部分内容，没有给出程序：左边的 Python 是我们照着 Rust 示例写的，让两边可以对照。",
            "The tutorial describes this without a program: the Python on the left is ours, written to match the Rust example so that the two can be read side by side.",
        ));
    }

    // The two programs, corresponding lines on one row.
    let python: Vec<&str> = e.python.lines().collect();
    let rust: Vec<&str> = e.rust.lines().skip(e.rust_header).collect();
    let rows = align::align(&python, &rust);
    let linked = rows.iter().filter(|r| r.linked).count();
    let _ = write!(
        out,
        "<div class=\"pair code\" data-linked=\"{linked}\">\n{}\n{}\n</div>\n",
        program(Lang::Python, e.python_path, &python, 0, &rows, |r| r.left),
        program(Lang::Rust, e.rust_path, &rust, e.rust_header, &rows, |r| r.right),
    );
    if e.rust_header > 0 {
        out.push_str(&bi(
            "p class=\"aside\"",
            &format!("`{}` 的第 1–{} 行是 `//!` 文档头，没有显示：其中「与 Python 的不同」就是下面的说明。", e.rust_path, e.rust_header),
            &format!("Lines 1–{} of `{}`, its `//!` header, are not shown: its \"Differences from the Python\" are the notes below.", e.rust_header, e.rust_path),
        ));
    }

    // The outputs of this build's runs.
    let _ = write!(
        out,
        "<div class=\"pair outputs\">\n{}\n{}\n</div>\n",
        output("Python", &e.python_out),
        output("Rust", &e.rust_out)
    );

    out.push_str("<div class=\"run\">");
    out.push_str(&heading("h3", "运行", "Run it"));
    let _ = write!(
        out,
        "<pre class=\"commands\">{}\n{}\n{}</pre>",
        escape(&e.commands[0]),
        escape(&e.commands[1]),
        escape(&e.commands[2])
    );
    out.push_str(&bi(
        "p",
        "依次是：Rust 示例、它移植的 Python 程序、两者并排运行并比较输出和耗时。在仓库根目录运行。",
        "In order: the Rust example, the Python program it ports, and both run side by side with their outputs and times compared. Run them from the repository's root.",
    ));
    out.push_str("</div>\n");

    if !e.notes.is_empty() {
        out.push_str("<div class=\"notes\">");
        out.push_str(&heading("h3", "与 Python 的不同", "Differences from the Python"));
        out.push_str("<ul>");
        for note in &e.notes {
            let class = if note.work { " class=\"work\"" } else { "" };
            let (zh_mark, en_mark) = if note.work {
                ("<strong>工作量：</strong>", "<strong>Work:</strong> ")
            } else {
                ("", "")
            };
            let _ = write!(
                out,
                "<li{class}><p lang=\"zh-CN\">{zh_mark}{}</p><p lang=\"en\">{en_mark}{}</p></li>",
                inline(&note.zh),
                inline(&note.en)
            );
        }
        out.push_str("</ul></div>\n");
    }
    out.push_str("</section>\n");
    out
}

/// One side's program: a title, then one line per row (a gap where this side has none).
fn program(
    lang: Lang,
    path: &str,
    lines: &[&str],
    first_line: usize,
    rows: &[Row],
    side: impl Fn(&Row) -> Option<usize>,
) -> String {
    let (class, name) = match lang {
        Lang::Python => ("py", "Python"),
        Lang::Rust => ("rs", "Rust"),
    };
    let mut out = format!(
        "<div class=\"side {class}\"><div class=\"title\"><span class=\"lang\">{name}</span> <code>{}</code></div>\n<pre class=\"src\">",
        escape(path)
    );
    let mut link = 0;
    for row in rows {
        if row.linked {
            link += 1;
        }
        match side(row) {
            Some(i) => {
                let data = if row.linked {
                    format!(" data-k=\"{link}\"")
                } else {
                    String::new()
                };
                let _ = write!(
                    out,
                    "<span class=\"l\" data-n=\"{}\"{data}>{}\n</span>",
                    first_line + i + 1,
                    highlight::line(lines[i], lang)
                );
            }
            None => out.push_str("<span class=\"l gap\">\n</span>"),
        }
    }
    out.push_str("</pre></div>");
    out
}

/// One side's output, with its wall time.
fn output(name: &str, o: &Output) -> String {
    let class = if name == "Rust" { "rs" } else { "py" };
    let mut out = format!(
        "<div class=\"side {class}\"><div class=\"title\"><span class=\"lang\">{name}</span> <span lang=\"zh-CN\">输出，耗时 {secs:.2} 秒</span><span lang=\"en\">output, {secs:.2} s</span></div><pre class=\"out\">{}</pre>",
        escape(o.stdout),
        secs = o.seconds
    );
    if !o.stderr.is_empty() {
        let _ = write!(
            out,
            "<div class=\"title\">stderr</div><pre class=\"out err\">{}</pre>",
            escape(o.stderr)
        );
    }
    if let Some(problem) = &o.problem {
        let _ = write!(out, "<p class=\"problem\">{}</p>", escape(problem));
    }
    out.push_str("</div>");
    out
}

/// The Markdown tables in `text` (lines starting with `|`) as HTML tables.
pub fn tables(text: &str) -> String {
    let mut out = String::new();
    let mut rows: Vec<Vec<&str>> = Vec::new();
    let flush = |rows: &mut Vec<Vec<&str>>, out: &mut String| {
        if rows.is_empty() {
            return;
        }
        out.push_str("<table>");
        for (i, row) in rows.iter().enumerate() {
            let cell = if i == 0 { "th" } else { "td" };
            out.push_str("<tr>");
            for c in row {
                let _ = write!(out, "<{cell}>{}</{cell}>", escape(c));
            }
            out.push_str("</tr>");
        }
        out.push_str("</table>");
        rows.clear();
    };
    for line in text.lines() {
        match line.trim().strip_prefix('|').and_then(|l| l.strip_suffix('|')) {
            Some(cells) if !cells.trim_start().starts_with("---") && !cells.contains("| --") => {
                rows.push(cells.split('|').map(str::trim).collect())
            }
            Some(_) => {}
            None => flush(&mut rows, &mut out),
        }
    }
    flush(&mut rows, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_languages_close_their_own_tags() {
        assert_eq!(
            bi("p class=\"aside\"", "`a` 和 <b>", "`a` and"),
            "<p class=\"aside\" lang=\"zh-CN\"><code>a</code> 和 &lt;b&gt;</p><p class=\"aside\" lang=\"en\"><code>a</code> and</p>"
        );
        assert_eq!(
            heading("h2", "测量", "Measured"),
            "<h2><span lang=\"zh-CN\">测量</span><span lang=\"en\">Measured</span></h2>"
        );
    }
}

//! The build of the book: run the programs and measurements, write the pages, check them.

use super::sections::SECTIONS;
use super::{check, html, measure, notes, sections};
use crate::registry::{self, EXAMPLES, Example};
use crate::runner::{self, Run};
use anyhow::{Context, bail};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

const USAGE: &str = "usage: cargo xtask book [--open] | cargo xtask book --check-dom PAGE DOM-FILE";
/// Runs of section 8's first program per start method and language.
const RATE_RUNS: u32 = 20;
const METHODS: [&str; 3] = ["fork", "spawn", "forkserver"];
/// The book's stylesheet and script, beside its other sources in `book/`.
const STYLE: &str = include_str!("../../../book/style.css");
const SCRIPT: &str = include_str!("../../../book/book.js");

/// Runs the task; returns whether the book was built and checked.
pub fn main(args: &[String]) -> anyhow::Result<bool> {
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    match args.as_slice() {
        [] => build(false),
        ["--open"] => build(true),
        ["--check-dom", page, dom] => check_dom(page, Path::new(dom)),
        _ => bail!("{USAGE}"),
    }
}

/// Where the book goes: `target/book` (or under `CARGO_TARGET_DIR`).
fn out_dir(root: &Path) -> PathBuf {
    target_dir(root).join("book")
}

fn target_dir(root: &Path) -> PathBuf {
    registry::debug_dir(root)
        .parent()
        .map_or_else(|| root.join("target"), Path::to_path_buf)
}

/// One example with its two programs and what each printed.
struct Pair {
    example: &'static Example,
    python: String,
    rust: String,
    notes: Vec<notes::Note>,
    python_run: Run,
    rust_run: Run,
}

impl Pair {
    fn rust_path(&self) -> String {
        format!("{}/src/main.rs", self.example.dir())
    }

    fn commands(&self) -> [String; 3] {
        [
            self.example.command(),
            format!("python3 {}", self.example.python_file()),
            format!("cargo xtask compare {}", self.example.id),
        ]
    }

    /// What the page must show of it.
    fn expected(&self) -> check::Expected<'_> {
        check::Expected {
            id: self.example.id,
            python: self.python.lines().collect(),
            rust: self.rust.lines().skip(notes::header_len(&self.rust)).collect(),
            outputs: [stdout(&self.python_run), stdout(&self.rust_run)],
            notes: self
                .notes
                .iter()
                .filter(|n| n.applies_to(self.example.id))
                .flat_map(|n| [n.zh.replace('`', ""), n.en.replace('`', "")])
                .collect(),
        }
    }
}

fn stdout(run: &Run) -> &str {
    std::str::from_utf8(&run.stdout).unwrap_or("(not UTF-8)")
}

/// The facts of this build, for the front page.
struct BuildInfo {
    rustc: String,
    python: String,
    cores: usize,
    load: [String; 2],
    programs: Duration,
    total: Duration,
}

fn build(open: bool) -> anyhow::Result<bool> {
    let started = Instant::now();
    let root = registry::workspace_root();
    let load_before = load_average();
    let python = version("python3", "--version").context(
        "the book runs each Python program beside its Rust, and python3 is not on the PATH: install it (e.g. `apt-get install python3`)",
    )?;
    let rustc = version("rustc", "--version").unwrap_or_else(|_| "rustc".into());

    let mut packages: Vec<&str> = EXAMPLES.iter().map(|e| e.package).collect();
    packages.sort_unstable();
    packages.dedup();
    eprintln!("book: building the examples in release (the times compare optimised Rust with CPython)");
    let mut cargo = Command::new(crate::cargo());
    cargo.current_dir(&root).args(["build", "--release", "--quiet"]);
    for p in &packages {
        cargo.args(["-p", p]);
    }
    let status = cargo.status().context("starting cargo build")?;
    if !status.success() {
        bail!("`cargo build --release` of the examples failed ({status})");
    }
    let release = target_dir(&root).join("release");
    runner::watch_interrupts()?;

    // The examples in the tutorial's order: by the numbers of their IDs, the index's order
    // among equals (6, 6.heavier, 6.chunked: 方案 1 before 方案 2).
    let mut examples: Vec<&'static Example> = EXAMPLES.iter().collect();
    examples.sort_by_key(|e| {
        e.id.split('.')
            .map_while(|p| p.parse::<u32>().ok())
            .collect::<Vec<_>>()
    });

    let programs_started = Instant::now();
    let mut pairs = Vec::new();
    for e in examples {
        eprintln!("book: running {} (Rust, then Python)", e.id);
        let rust = std::fs::read_to_string(root.join(e.dir()).join("src/main.rs"))
            .with_context(|| format!("reading {}/src/main.rs", e.dir()))?;
        let python = std::fs::read_to_string(root.join(e.python_file()))
            .with_context(|| format!("reading {}", e.python_file()))?;
        let notes = notes::parse(&rust).with_context(|| format!("the header of {}/src/main.rs", e.dir()))?;
        let rust_run = runner::run(&release.join(e.package), &e.args(), &root, e.timeout)?;
        let script = root.join(e.python_file()).to_string_lossy().into_owned();
        let python_run = runner::run(Path::new("python3"), &[&script], &root, e.timeout)?;
        pairs.push(Pair {
            example: e,
            python,
            rust,
            notes,
            python_run,
            rust_run,
        });
    }

    let out = out_dir(&root);
    std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
    eprintln!("book: measuring section 6 (the sweep, Rust and CPython)");
    let svg = "ex-6-sweep.svg";
    let sweep = run_checked(
        &release.join("ex-6-slow-pool"),
        &["--sweep", "--svg", &out.join(svg).to_string_lossy()],
        &root,
    )?;
    let sweep_rows = measure::parse_sweep(&sweep)?;
    eprintln!("book: measuring section 8 ({RATE_RUNS} runs per start method and language)");
    let repeat_py = root
        .join("examples-pool/ex-8-one-pid/measure/repeat.py")
        .to_string_lossy()
        .into_owned();
    let mut rates = Vec::new();
    for method in METHODS {
        let runs = RATE_RUNS.to_string();
        let rust = run_checked(
            &release.join("ex-8-one-pid"),
            &["--repeat", &runs, "--start-method", method],
            &root,
        )?;
        let python = run_checked(Path::new("python3"), &[&repeat_py, &runs, method], &root)?;
        rates.push(measure::Rates {
            method,
            rust: measure::parse_rates(&rust)?,
            python: measure::parse_rates(&python)?,
        });
    }
    let programs = programs_started.elapsed();

    // The pages.
    let find = |id: &str| {
        pairs
            .iter()
            .find(|p| p.example.id == id)
            .map(|p| (stdout(&p.rust_run), stdout(&p.python_run)))
    };
    let chunk_names = ["chunksize=1", "chunksize=7 (默认 default)", "chunksize=25"];
    for section in SECTIONS {
        let mut body = section_intro(section, &pairs);
        for pair in pairs
            .iter()
            .filter(|p| sections::number_of(p.example.id) == section.number)
        {
            body.push_str(&example_html(pair));
        }
        match section.number {
            6 => body.push_str(&measure::sweep_html(&sweep_rows, svg, chunk_names)),
            7 => {
                let (rust, python) = find("7").context("example 7 ran")?;
                body.push_str(&measure::counts_html(rust, python));
            }
            8 => body.push_str(&measure::rates_html(&rates)),
            _ => {}
        }
        write(
            &out.join(section.file()),
            &html::page(section.title, Some(section.number), &body),
        )?;
    }
    write(&out.join("style.css"), STYLE)?;
    write(&out.join("book.js"), SCRIPT)?;

    // Every page shows every example of its section whole.
    let mut problems = Vec::new();
    for section in SECTIONS {
        let page = std::fs::read_to_string(out.join(section.file()))?;
        let expected: Vec<check::Expected> = pairs
            .iter()
            .filter(|p| sections::number_of(p.example.id) == section.number)
            .map(Pair::expected)
            .collect();
        problems.extend(
            check::check_page(&page, &expected)
                .into_iter()
                .map(|p| format!("{}: {p}", section.file())),
        );
    }
    for pair in &pairs {
        for (name, run) in [("Rust", &pair.rust_run), ("Python", &pair.python_run)] {
            if let Some(problem) = run_problem(run) {
                problems.push(format!("{} ({name}): {problem}", pair.example.id));
            }
        }
    }

    let info = BuildInfo {
        rustc,
        python,
        cores: std::thread::available_parallelism().map_or(1, usize::from),
        load: [load_before, load_average()],
        programs,
        total: started.elapsed(),
    };
    write(
        &out.join("index.html"),
        &html::page("目录 Contents", None, &index_html(&pairs, &info)),
    )?;
    let index = out.join("index.html");
    println!(
        "book: {} pages, {} examples, built in {:.0} s ({:.0} s running the programs and measurements): {}",
        SECTIONS.len() + 1,
        pairs.len(),
        info.total.as_secs_f64(),
        info.programs.as_secs_f64(),
        index.display()
    );
    if !problems.is_empty() {
        println!("the book is incomplete:");
        for p in &problems {
            println!("  - {p}");
        }
        return Ok(false);
    }
    if open {
        let opened = Command::new("xdg-open")
            .arg(&index)
            .status()
            .is_ok_and(|s| s.success());
        if !opened {
            println!(
                "could not open a browser (xdg-open); open {} yourself",
                index.display()
            );
        }
    }
    Ok(true)
}

/// A run's failure in words: a non-zero exit, a timeout, a process left behind.
fn run_problem(run: &Run) -> Option<String> {
    let mut problems = run.problems.clone();
    if let Some(status) = run.status.filter(|s| !s.success()) {
        problems.insert(0, format!("it exited with {status}"));
    }
    (!problems.is_empty()).then(|| problems.join("; "))
}

/// Runs a measurement; its stdout, or an error with its stderr.
fn run_checked(bin: &Path, args: &[&str], root: &Path) -> anyhow::Result<String> {
    let run = runner::run(bin, args, root, Duration::from_secs(600))?;
    if let Some(problem) = run_problem(&run) {
        bail!(
            "`{} {}`: {problem}\n{}",
            bin.display(),
            args.join(" "),
            String::from_utf8_lossy(&run.stderr)
        );
    }
    Ok(String::from_utf8_lossy(&run.stdout).into_owned())
}

fn write(path: &Path, text: &str) -> anyhow::Result<()> {
    std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))
}

/// `python3 --version` and the like, trimmed.
fn version(program: &str, flag: &str) -> anyhow::Result<String> {
    let out = Command::new(program).arg(flag).output()?;
    if !out.status.success() {
        bail!("`{program} {flag}` failed");
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// The one-minute load average, as `/proc/loadavg` says.
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| l.split_whitespace().next().map(str::to_string))
        .unwrap_or_else(|| "?".into())
}

fn example_html(pair: &Pair) -> String {
    let e = pair.example;
    fn output(run: &Run) -> html::Output<'_> {
        html::Output {
            stdout: stdout(run),
            stderr: std::str::from_utf8(&run.stderr).unwrap_or(""),
            seconds: run.took.as_secs_f64(),
            problem: run_problem(run),
        }
    }
    let python_path = e.python_file();
    let rust_path = pair.rust_path();
    html::example(&html::Example {
        id: e.id,
        place: e.place,
        python_path: &python_path,
        python: &pair.python,
        rust_path: &rust_path,
        rust: &pair.rust,
        rust_header: notes::header_len(&pair.rust),
        commands: pair.commands(),
        notes: pair.notes.iter().filter(|n| n.applies_to(e.id)).collect(),
        rust_out: output(&pair.rust_run),
        python_out: output(&pair.python_run),
    })
}

/// A section page's heading, the book's words on it, and links to its examples.
fn section_intro(section: &sections::Section, pairs: &[Pair]) -> String {
    let mut out = format!(
        "<header class=\"section\"><p class=\"kicker\"><span lang=\"zh-CN\">教程第 {n} 节</span><span lang=\"en\">Tutorial section {n}: {en}</span></p><h1>{}</h1>",
        html::escape(section.title),
        n = section.number,
        en = html::escape(section.en)
    );
    out.push_str(&html::bi("p", section.zh_about, section.en_about));
    let ids: Vec<&str> = pairs
        .iter()
        .filter(|p| sections::number_of(p.example.id) == section.number)
        .map(|p| p.example.id)
        .collect();
    if !ids.is_empty() {
        out.push_str("<p class=\"toc\">");
        for id in ids {
            let _ = write!(out, "<a href=\"#ex-{id}\">{id}</a> ");
        }
        if matches!(section.number, 6..=8) {
            let _ = write!(
                out,
                "<a href=\"#measure-{}\"><span lang=\"zh-CN\">测量</span> <span lang=\"en\">measured</span></a>",
                section.number
            );
        }
        out.push_str("</p>");
    }
    out.push_str("</header>\n");
    out
}

/// The front page: what the book is, how to read it, how it was built, and the contents.
fn index_html(pairs: &[Pair], info: &BuildInfo) -> String {
    let mut out = String::from("<header class=\"section\">");
    out.push_str(&html::heading(
        "h1",
        "Python multiprocessing 教程：Python 与 Rust 对照",
        "The Python multiprocessing tutorial: Python beside Rust",
    ));
    out.push_str("</header>");
    out.push_str(&html::bi(
        "p",
        "这本书陪你读中文的 Python `multiprocessing` 教程：教程的每个示例，左边是 Python 程序，右边是用本项目的 Rust 运行时写的同一个程序。两边的输出都是构建本书时在这台机器上真实运行得到的，附有耗时；每个示例下面列出 Rust 与 Python 的不同。书里不转载教程的正文，只用它的章节标题：请把教程放在旁边对照阅读。",
        "This book goes beside the Chinese tutorial on Python's `multiprocessing`: for each of the tutorial's examples, the Python program on the left and the same program written with this project's Rust runtime on the right. Both outputs were really printed on this machine when the book was built, with their times; under each example, the differences of the Rust from the Python. The book quotes none of the tutorial's text beyond its section titles: read it with the tutorial open beside it.",
    ));
    out.push_str(&html::heading("h2", "怎么读", "How to read it"));
    out.push_str(&html::bi(
        "p",
        "对应的行排在同一行上：把鼠标放在一行上（或点它），另一边对应的行会一起高亮。一边没有对应内容的地方留空。窄屏上两个程序上下排列，不留空。行号是源文件里的行号。右上角可以只看中文或只看英文。",
        "Lines that correspond sit on the same row: point at a line (or tap it) and its partner on the other side lights up too. Where one side has nothing to match, it leaves a gap. On a narrow screen the two programs stand one above the other, without gaps. Line numbers are the source files' own. The buttons at the top choose Chinese, English or both.",
    ));
    out.push_str(&html::heading("h2", "这次构建", "This build"));
    out.push_str(&html::bi(
        "p",
        &format!(
            "`cargo xtask book` 用 {} 秒构建本书，其中 {} 秒在运行 {} 对程序和测量。机器：{} 个 CPU 核，构建开始和结束时的一分钟平均负载为 {} 和 {}（负载高时耗时会变长）。{}，{}，Rust 示例以 release 模式编译。",
            info.total.as_secs(),
            info.programs.as_secs(),
            pairs.len(),
            info.cores,
            info.load[0],
            info.load[1],
            info.rustc,
            info.python
        ),
        &format!(
            "`cargo xtask book` built this book in {} s, {} s of which ran the {} pairs of programs and the measurements. The machine: {} cores, a one-minute load average of {} when the build started and {} when it ended (times grow with the load). {}, {}, the Rust examples compiled in release.",
            info.total.as_secs(),
            info.programs.as_secs(),
            pairs.len(),
            info.cores,
            info.load[0],
            info.load[1],
            info.rustc,
            info.python
        ),
    ));
    out.push_str(&html::heading("h2", "目录", "Contents"));
    out.push_str("<ol class=\"contents\">");
    for s in SECTIONS {
        let _ = write!(
            out,
            "<li><a href=\"{}\">{}</a> <span lang=\"en\">{}</span><br>",
            s.file(),
            html::escape(s.title),
            html::escape(s.en)
        );
        for p in pairs
            .iter()
            .filter(|p| sections::number_of(p.example.id) == s.number)
        {
            let _ = write!(
                out,
                "<a class=\"id\" href=\"{}#ex-{id}\">{id}</a> ",
                s.file(),
                id = p.example.id
            );
        }
        out.push_str("</li>");
    }
    out.push_str("</ol>");
    out
}

/// Checks a browser's rendering of one of the book's pages: the page's script ran, and every
/// example on it shows both programs' lines and both outputs as the built page does.
fn check_dom(page: &str, dom_file: &Path) -> anyhow::Result<bool> {
    let root = registry::workspace_root();
    let built = std::fs::read_to_string(out_dir(&root).join(page))
        .with_context(|| format!("reading {page} of the built book (run `cargo xtask book` first)"))?;
    let dom = std::fs::read_to_string(dom_file).with_context(|| format!("reading {}", dom_file.display()))?;
    let mut problems = Vec::new();
    if !dom.contains("data-ready=\"1\"") {
        problems.push("the page's script did not run (no data-ready=\"1\" on <html>)".to_string());
    }
    let ids: Vec<&str> = EXAMPLES
        .iter()
        .map(|e| e.id)
        .filter(|id| check::example_section(&built, id).is_some())
        .collect();
    if ids.is_empty() {
        problems.push(format!("{page} shows no example"));
    }
    let mut sources = Vec::new();
    for id in &ids {
        let e = registry::find(id).context("an ID of the index")?;
        let rust = std::fs::read_to_string(root.join(e.dir()).join("src/main.rs"))?;
        let python = std::fs::read_to_string(root.join(e.python_file()))?;
        let outputs = check::outputs_in(&built, id);
        sources.push((*id, python, rust, outputs));
    }
    let expected: Vec<check::Expected> = sources
        .iter()
        .map(|(id, python, rust, outputs)| check::Expected {
            id,
            python: python.lines().collect(),
            rust: rust.lines().skip(notes::header_len(rust)).collect(),
            outputs: [
                outputs.first().map_or("", String::as_str),
                outputs.get(1).map_or("", String::as_str),
            ],
            notes: Vec::new(),
        })
        .collect();
    problems.extend(check::check_page(&dom, &expected));
    if problems.is_empty() {
        println!(
            "book: the browser's {page} shows all {} examples whole: {}",
            ids.len(),
            ids.join(" ")
        );
        return Ok(true);
    }
    println!("book: the browser's {page} is not right:");
    for p in &problems {
        println!("  - {p}");
    }
    Ok(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The pages from this workspace's real programs and notes, with each example's expected
    /// output standing where a build puts the output of its run (a build runs 68 programs; this
    /// test checks the pages, not the programs, which `verify` and the book build run): every ID
    /// is on its section's page with both programs, both outputs and its notes.
    #[test]
    fn every_example_has_its_page_with_both_programs_and_both_outputs() {
        let root = registry::workspace_root();
        let pairs: Vec<Pair> = EXAMPLES
            .iter()
            .map(|e| {
                let rust = std::fs::read_to_string(root.join(e.dir()).join("src/main.rs")).unwrap();
                let python = std::fs::read_to_string(root.join(e.python_file())).unwrap();
                let expected = std::fs::read_to_string(root.join(e.expected_file())).unwrap();
                let run = |text: &str| Run {
                    status: None,
                    stdout: text.as_bytes().to_vec(),
                    stderr: Vec::new(),
                    problems: Vec::new(),
                    took: Duration::from_millis(10),
                };
                Pair {
                    example: e,
                    notes: notes::parse(&rust).unwrap(),
                    python,
                    rust,
                    python_run: run(&expected),
                    rust_run: run(&expected),
                }
            })
            .collect();
        let mut seen = 0;
        for section in SECTIONS {
            let mine: Vec<&Pair> = pairs
                .iter()
                .filter(|p| sections::number_of(p.example.id) == section.number)
                .collect();
            let mut body = section_intro(section, &pairs);
            for p in &mine {
                body.push_str(&example_html(p));
            }
            let page = html::page(section.title, Some(section.number), &body);
            assert!(page.contains(&format!("<h1>{}</h1>", html::escape(section.title))));
            let expected: Vec<check::Expected> = mine.iter().map(|p| p.expected()).collect();
            let problems = check::check_page(&page, &expected);
            assert!(problems.is_empty(), "{}: {problems:#?}", section.file());
            seen += mine.len();
        }
        assert_eq!(seen, EXAMPLES.len());
    }

    /// README.zh-CN.md lists every example with its command, and shows the screenshots that
    /// `.ci/book-check` takes.
    #[test]
    fn the_chinese_readme_lists_every_example_and_its_screenshots_exist() {
        let root = registry::workspace_root();
        let text = std::fs::read_to_string(root.join("README.zh-CN.md")).unwrap();
        for e in EXAMPLES {
            let row = format!("| `{}` | `{}` |", e.id, e.command());
            assert!(text.contains(&row), "README.zh-CN.md has no row {row}");
        }
        for shot in ["book-wide", "book-narrow", "book-sweep-wide", "book-sweep-narrow"] {
            let path = format!("docs/screenshots/{shot}.png");
            assert!(text.contains(&path) && root.join(&path).is_file(), "{path}");
        }
    }
}

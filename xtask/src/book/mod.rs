//! `cargo xtask book [--open]`: the tutorial's companion, a static site in `target/book`: one
//! page per tutorial section, each example's Python and Rust side by side with the output each
//! printed when the book was built, and the measurements of sections 6-8.
//!
//! Why HTML written here and not mdBook: every page is generated (programs, outputs, numbers),
//! and its heart, two programs with their corresponding lines on one row, is HTML that Markdown
//! cannot express and that mdBook's highlighter (highlight.js, which re-renders whole blocks)
//! would undo. Written here, the book needs nothing beyond cargo and python3: no tool to install
//! on a fresh clone or in CI, and no dependency added to xtask (so `cargo xtask verify` compiles
//! no more than before). The look follows mdBook's (a sidebar of chapters, previous and next).
//!
//! Steps: build the examples in release (one `cargo build`), run each example and its Python
//! (the `verify` runner: a process group each, the example's time limit), run the measurements,
//! write the pages, then check every page (each example's programs, outputs and notes in both
//! languages). `--check-dom PAGE FILE` checks a browser's rendering of a page (`chromium
//! --dump-dom`) the same way; `.ci/book-check` does that in headless Chromium.
//!
//! The book's code is behind xtask's `book` feature, so that the tasks of the README,
//! `cargo xtask verify` and `cargo test --workspace`, compile no more of xtask than before:
//! without the feature, `cargo xtask book` runs `cargo run -p xtask --features book -- book`.
//! Its tests run with the feature (`cargo test -p xtask --features book`, in `.ci/book-check`).

#[cfg(feature = "book")]
mod align;
#[cfg(feature = "book")]
mod check;
#[cfg(feature = "book")]
mod highlight;
#[cfg(feature = "book")]
mod html;
#[cfg(feature = "book")]
mod measure;
pub mod notes;
#[cfg(feature = "book")]
mod sections;
#[cfg(feature = "book")]
mod site;

#[cfg(feature = "book")]
pub use site::main;

/// Without the `book` feature: builds xtask with it and runs the task there.
#[cfg(not(feature = "book"))]
pub fn main(args: &[String]) -> anyhow::Result<bool> {
    use anyhow::Context;
    let status = std::process::Command::new(crate::cargo())
        .args([
            "run",
            "--quiet",
            "--package",
            "xtask",
            "--features",
            "book",
            "--",
            "book",
        ])
        .args(args)
        .status()
        .context("starting `cargo run --package xtask --features book -- book`")?;
    Ok(status.success())
}

//! Checks that a page shows what it must: for every example, each line of both programs, both
//! outputs and the notes in both languages. The same checks read the files the book wrote and
//! the DOM that a browser rendered from them (`cargo xtask book --check-dom`).

/// The visible text of some HTML: tags dropped, the entities the book writes decoded.
pub fn text(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut rest = html;
    while let Some(at) = rest.find('<') {
        out.push_str(&rest[..at]);
        rest = rest[at..].find('>').map_or("", |end| &rest[at + end + 1..]);
    }
    out.push_str(rest);
    out.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&nbsp;", "\u{a0}")
        .replace("&amp;", "&")
}

/// The HTML of example `id`'s `<section>` in a page.
pub fn example_section<'a>(html: &'a str, id: &str) -> Option<&'a str> {
    let at = html.find(&format!("id=\"ex-{id}\""))?;
    let start = html[..at].rfind('<').unwrap_or(at);
    let end = html[start..].find("</section>").map_or(html.len(), |e| start + e);
    Some(&html[start..end])
}

/// What a page must show of one example.
pub struct Expected<'a> {
    pub id: &'a str,
    pub python: Vec<&'a str>,
    pub rust: Vec<&'a str>,
    pub outputs: [&'a str; 2],
    /// Each note's text in each language, as the page shows it (backticks gone).
    pub notes: Vec<String>,
}

/// The problems of one page, in words; none when it shows every example whole.
pub fn check_page(html: &str, expected: &[Expected]) -> Vec<String> {
    let mut problems = Vec::new();
    for e in expected {
        let Some(section) = example_section(html, e.id) else {
            problems.push(format!("{}: no section id=\"ex-{}\"", e.id, e.id));
            continue;
        };
        let shown = text(section);
        let lines: std::collections::HashSet<&str> = shown.lines().map(str::trim_end).collect();
        for (name, program) in [("Python", &e.python), ("Rust", &e.rust)] {
            if program.iter().all(|l| l.trim().is_empty()) {
                problems.push(format!("{}: the {name} program is empty", e.id));
            }
            if let Some(missing) = program
                .iter()
                .find(|l| !l.trim().is_empty() && !lines.contains(l.trim_end()))
            {
                problems.push(format!("{}: the {name} line `{missing}` is not shown", e.id));
            }
        }
        for (name, output) in ["Python", "Rust"].iter().zip(e.outputs) {
            if output.trim().is_empty() {
                problems.push(format!("{}: the {name} output is empty", e.id));
            } else if !shown.contains(output) {
                problems.push(format!("{}: the {name} output is not shown whole", e.id));
            }
        }
        if let Some(note) = e.notes.iter().find(|n| !shown.contains(n.as_str())) {
            problems.push(format!("{}: the note `{note}` is not shown", e.id));
        }
    }
    problems
}

/// The outputs a built page shows for example `id` (the `<pre class="out">` blocks).
pub fn outputs_in(html: &str, id: &str) -> Vec<String> {
    let Some(section) = example_section(html, id) else {
        return Vec::new();
    };
    section
        .split("<pre class=\"out\">")
        .skip(1)
        .filter_map(|s| s.split_once("</pre>").map(|(o, _)| text(o)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_drops_tags_and_decodes() {
        assert_eq!(
            text("<p lang=\"en\">a &lt;b&gt; &amp; <code>c</code></p>"),
            "a <b> & c"
        );
    }

    #[test]
    fn a_missing_line_or_output_is_named() {
        let html = "<section class=\"example\" id=\"ex-2.1\"><pre><span>print(1)\n</span></pre><pre class=\"out\">1\n</pre></section>";
        let ok = Expected {
            id: "2.1",
            python: vec!["print(1)"],
            rust: vec!["print(1)"],
            outputs: ["1\n", "1\n"],
            notes: vec![],
        };
        assert!(check_page(html, &[ok]).is_empty());
        let bad = Expected {
            id: "2.1",
            python: vec!["print(2)"],
            rust: vec!["print(1)"],
            outputs: ["1\n", "2\n"],
            notes: vec![],
        };
        let problems = check_page(html, &[bad]);
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(problems[0].contains("print(2)") && problems[1].contains("Rust output"));
        assert_eq!(outputs_in(html, "2.1"), ["1\n"]);
    }
}

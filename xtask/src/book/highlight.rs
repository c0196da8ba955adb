//! Syntax colouring for the two languages of the book, one line at a time, as HTML.
//!
//! The book lays programs out line by line (so that corresponding lines can sit side by side),
//! which a highlighter working on whole blocks, such as the highlight.js of mdBook, would undo.
//! The programs are short and use a small part of each language: keywords, strings, comments,
//! numbers, Rust macros and type names are enough to read them.

use super::html::escape;

/// The languages of the book's programs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    Python,
    Rust,
}

const PYTHON_KEYWORDS: &[&str] = &[
    "False", "None", "True", "and", "as", "assert", "break", "class", "continue", "def", "del", "elif",
    "else", "except", "finally", "for", "from", "global", "if", "import", "in", "is", "lambda", "nonlocal",
    "not", "or", "pass", "raise", "return", "try", "while", "with", "yield",
];

const RUST_KEYWORDS: &[&str] = &[
    "as", "break", "const", "continue", "crate", "else", "enum", "false", "fn", "for", "if", "impl", "in",
    "let", "loop", "match", "mod", "move", "mut", "pub", "ref", "return", "self", "Self", "static", "struct",
    "super", "trait", "true", "type", "unsafe", "use", "where", "while",
];

/// One line of `lang` as HTML: escaped text with `<span class="k|s|c|n|m|t">` around tokens.
pub fn line(text: &str, lang: Lang) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    let span = |out: &mut String, class: &str, s: &[char]| {
        let s: String = s.iter().collect();
        out.push_str(&format!("<span class=\"{class}\">{}</span>", escape(&s)));
    };
    while i < chars.len() {
        let c = chars[i];
        let rest = &chars[i..];
        // Comments run to the end of the line.
        if (lang == Lang::Python && c == '#') || (lang == Lang::Rust && rest.starts_with(&['/', '/'])) {
            span(&mut out, "c", rest);
            break;
        }
        if let Some(len) = string_len(rest, lang) {
            span(&mut out, "s", &rest[..len]);
            i += len;
            continue;
        }
        if c.is_ascii_digit() {
            let len = rest
                .iter()
                .position(|&d| !(d.is_ascii_alphanumeric() || d == '_' || d == '.'))
                .unwrap_or(rest.len());
            // `0..10` is two numbers and a range, not one number.
            let len = (1..len)
                .find(|&k| rest[k] == '.' && rest.get(k + 1) == Some(&'.'))
                .unwrap_or(len);
            span(&mut out, "n", &rest[..len]);
            i += len;
            continue;
        }
        if c.is_alphabetic() || c == '_' {
            let len = rest
                .iter()
                .position(|&d| !(d.is_alphanumeric() || d == '_'))
                .unwrap_or(rest.len());
            let word: String = rest[..len].iter().collect();
            let keywords = if lang == Lang::Python {
                PYTHON_KEYWORDS
            } else {
                RUST_KEYWORDS
            };
            if keywords.contains(&word.as_str()) {
                span(&mut out, "k", &rest[..len]);
            } else if lang == Lang::Rust && rest.get(len) == Some(&'!') && rest.get(len + 1) != Some(&'=') {
                span(&mut out, "m", &rest[..=len]);
                i += 1;
            } else if lang == Lang::Rust && c.is_uppercase() && c.is_ascii() {
                span(&mut out, "t", &rest[..len]);
            } else {
                out.push_str(&escape(&word));
            }
            i += len;
            continue;
        }
        out.push_str(&escape(c.encode_utf8(&mut [0; 4])));
        i += 1;
    }
    out
}

/// The length of the string literal at the start of `s`, if one starts there.
fn string_len(s: &[char], lang: Lang) -> Option<usize> {
    // Python's prefixes (f"", rb"") and Rust's (b"", r"", r#""#).
    let prefix = s.iter().take_while(|c| "fFrRbBuU".contains(**c)).count();
    let quote_at = if lang == Lang::Rust && s.get(prefix) == Some(&'#') {
        prefix + s[prefix..].iter().take_while(|&&c| c == '#').count()
    } else {
        prefix
    };
    let quote = *s.get(quote_at)?;
    if prefix > 2 || !(quote == '"' || quote == '\'') {
        return None;
    }
    if lang == Lang::Rust && quote == '\'' {
        // A char literal ('a', '\n'), not a lifetime ('a).
        return match s.get(1..4) {
            Some(['\\', _, _]) => s.iter().skip(3).position(|&c| c == '\'').map(|p| p + 4),
            Some([_, '\'', _]) => Some(3),
            _ if s.len() == 3 && s[2] == '\'' => Some(3),
            _ => None,
        };
    }
    let hashes = quote_at - prefix;
    let raw = s[..prefix].iter().any(|c| "rR".contains(*c));
    let mut i = quote_at + 1;
    while i < s.len() {
        if s[i] == '\\' && !raw {
            i += 2;
            continue;
        }
        if s[i] == quote && s[i + 1..].iter().take(hashes).filter(|&&c| c == '#').count() == hashes {
            return Some(i + 1 + hashes);
        }
        i += 1;
    }
    // Unterminated on this line: colour the rest as string.
    Some(s.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_tokens() {
        assert_eq!(
            line("def f(x):  # 注释", Lang::Python),
            "<span class=\"k\">def</span> f(x):  <span class=\"c\"># 注释</span>"
        );
        assert_eq!(
            line("print(f\"{x} <b>\", 10)", Lang::Python),
            "print(<span class=\"s\">f&quot;{x} &lt;b&gt;&quot;</span>, <span class=\"n\">10</span>)"
        );
    }

    #[test]
    fn rust_tokens() {
        assert_eq!(
            line("let v: Vec<u8> = vec![b'a']; // c", Lang::Rust),
            "<span class=\"k\">let</span> v: <span class=\"t\">Vec</span>&lt;u8&gt; = <span class=\"m\">vec!</span>[b<span class=\"s\">'a'</span>]; <span class=\"c\">// c</span>"
        );
        assert_eq!(
            line("for i in 0..1_000 {", Lang::Rust),
            "<span class=\"k\">for</span> i <span class=\"k\">in</span> <span class=\"n\">0</span>..<span class=\"n\">1_000</span> {"
        );
        assert_eq!(
            line("fn f<'a>(s: &'a str)", Lang::Rust),
            "<span class=\"k\">fn</span> f&lt;'a&gt;(s: &amp;'a str)"
        );
        assert_eq!(
            line(r#"println!("a\"b")"#, Lang::Rust),
            "<span class=\"m\">println!</span>(<span class=\"s\">&quot;a\\&quot;b&quot;</span>)"
        );
    }
}

//! Just enough JSON for the benchmark: the one-line results of `mp-bench` and `bench_mp.py`,
//! and `report.json`, written and read back to check that it is well formed.
//!
//! A few dozen lines instead of a dependency: the xtask builds before anything else in CI, and
//! the inputs are our own small objects.

use std::fmt::Write as _;

/// A JSON value. Objects keep their keys in order, so the report reads in a fixed order.
#[derive(Debug, Clone, PartialEq)]
pub enum Json {
    Null,
    Bool(bool),
    Number(f64),
    String(String),
    Array(Vec<Json>),
    Object(Vec<(String, Json)>),
}

impl Json {
    /// An object from `(key, value)` pairs.
    pub fn object<'a>(pairs: impl IntoIterator<Item = (&'a str, Json)>) -> Json {
        Json::Object(pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
    }

    /// A number, or `null` for `None` and for what JSON cannot hold (NaN, infinities).
    pub fn number(value: Option<f64>) -> Json {
        value.filter(|v| v.is_finite()).map_or(Json::Null, Json::Number)
    }

    /// The value under `key`, if this is an object that has it.
    pub fn get(&self, key: &str) -> Option<&Json> {
        match self {
            Json::Object(pairs) => pairs.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// The number, if this is one.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Json::Number(n) => Some(*n),
            _ => None,
        }
    }

    /// The string, if this is one.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Json::String(s) => Some(s),
            _ => None,
        }
    }

    /// Pretty-printed with two-space indents; one line for objects of scalars.
    pub fn pretty(&self) -> String {
        let mut out = String::new();
        self.write(&mut out, 0);
        out.push('\n');
        out
    }

    fn is_scalar(&self) -> bool {
        !matches!(self, Json::Array(_) | Json::Object(_))
    }

    fn write(&self, out: &mut String, indent: usize) {
        match self {
            Json::Null => out.push_str("null"),
            Json::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            // `{}` on f64 prints the shortest form that reads back exactly; never NaN here.
            Json::Number(n) if n.is_finite() => {
                let _ = write!(out, "{n}");
            }
            Json::Number(_) => out.push_str("null"),
            Json::String(s) => write_string(out, s),
            Json::Array(items) => write_container(out, indent, ['[', ']'], items.iter().map(|v| (None, v))),
            Json::Object(pairs) => write_container(
                out,
                indent,
                ['{', '}'],
                pairs.iter().map(|(k, v)| (Some(k.as_str()), v)),
            ),
        }
    }

    /// Parses one JSON text (surrounding whitespace allowed).
    pub fn parse(text: &str) -> Result<Json, String> {
        let mut p = Parser {
            s: text.as_bytes(),
            i: 0,
        };
        let value = p.value()?;
        p.ws();
        if p.i != p.s.len() {
            return Err(p.error("text after the value"));
        }
        Ok(value)
    }
}

/// Writes an array (`None` keys) or an object: on one line when every member is a scalar, else
/// one member per line, indented.
fn write_container<'a>(
    out: &mut String,
    indent: usize,
    [open, close]: [char; 2],
    members: impl Iterator<Item = (Option<&'a str>, &'a Json)> + Clone,
) {
    let flat = members.clone().all(|(_, v)| v.is_scalar());
    out.push(open);
    let mut any = false;
    for (i, (key, value)) in members.enumerate() {
        any = true;
        if i > 0 {
            out.push_str(if flat { ", " } else { "," });
        }
        if !flat {
            newline(out, indent + 1);
        }
        if let Some(key) = key {
            write_string(out, key);
            out.push_str(": ");
        }
        value.write(out, indent + 1);
    }
    if !flat && any {
        newline(out, indent);
    }
    out.push(close);
}

fn newline(out: &mut String, indent: usize) {
    out.push('\n');
    out.push_str(&"  ".repeat(indent));
}

fn write_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c if u32::from(c) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
}

impl Parser<'_> {
    fn error(&self, what: &str) -> String {
        format!("{what} at byte {}", self.i)
    }

    fn ws(&mut self) {
        while self.s.get(self.i).is_some_and(u8::is_ascii_whitespace) {
            self.i += 1;
        }
    }

    fn eat(&mut self, word: &str) -> bool {
        if self.s[self.i..].starts_with(word.as_bytes()) {
            self.i += word.len();
            true
        } else {
            false
        }
    }

    fn value(&mut self) -> Result<Json, String> {
        self.ws();
        match self.s.get(self.i) {
            None => Err(self.error("end of text where a value should be")),
            Some(b'{') => {
                self.i += 1;
                let mut pairs = Vec::new();
                self.ws();
                if self.eat("}") {
                    return Ok(Json::Object(pairs));
                }
                loop {
                    self.ws();
                    let Json::String(key) = self.value()? else {
                        return Err(self.error("an object key that is not a string"));
                    };
                    self.ws();
                    if !self.eat(":") {
                        return Err(self.error("no ':' after an object key"));
                    }
                    pairs.push((key, self.value()?));
                    self.ws();
                    if self.eat("}") {
                        return Ok(Json::Object(pairs));
                    }
                    if !self.eat(",") {
                        return Err(self.error("no ',' or '}' in an object"));
                    }
                }
            }
            Some(b'[') => {
                self.i += 1;
                let mut items = Vec::new();
                self.ws();
                if self.eat("]") {
                    return Ok(Json::Array(items));
                }
                loop {
                    items.push(self.value()?);
                    self.ws();
                    if self.eat("]") {
                        return Ok(Json::Array(items));
                    }
                    if !self.eat(",") {
                        return Err(self.error("no ',' or ']' in an array"));
                    }
                }
            }
            Some(b'"') => self.string().map(Json::String),
            Some(_) if self.eat("null") => Ok(Json::Null),
            Some(_) if self.eat("true") => Ok(Json::Bool(true)),
            Some(_) if self.eat("false") => Ok(Json::Bool(false)),
            Some(_) => {
                let start = self.i;
                while self
                    .s
                    .get(self.i)
                    .is_some_and(|c| c.is_ascii_digit() || b"+-.eE".contains(c))
                {
                    self.i += 1;
                }
                std::str::from_utf8(&self.s[start..self.i])
                    .ok()
                    .and_then(|t| t.parse::<f64>().ok())
                    .filter(|n| n.is_finite())
                    .map(Json::Number)
                    .ok_or_else(|| {
                        self.i = start;
                        self.error("not a JSON value (NaN and Infinity are not JSON)")
                    })
            }
        }
    }

    fn string(&mut self) -> Result<String, String> {
        self.i += 1; // the opening quote
        let mut out = Vec::new();
        loop {
            let Some(&c) = self.s.get(self.i) else {
                return Err(self.error("a string that does not end"));
            };
            self.i += 1;
            match c {
                b'"' => return String::from_utf8(out).map_err(|_| self.error("a string that is not UTF-8")),
                b'\\' => {
                    let Some(&e) = self.s.get(self.i) else {
                        return Err(self.error("a string that does not end"));
                    };
                    self.i += 1;
                    let ch = match e {
                        b'"' => '"',
                        b'\\' => '\\',
                        b'/' => '/',
                        b'n' => '\n',
                        b't' => '\t',
                        b'r' => '\r',
                        b'b' => '\u{8}',
                        b'f' => '\u{c}',
                        b'u' => {
                            let hex = self
                                .s
                                .get(self.i..self.i + 4)
                                .and_then(|h| std::str::from_utf8(h).ok())
                                .and_then(|h| u32::from_str_radix(h, 16).ok())
                                .ok_or_else(|| self.error("a bad \\u escape"))?;
                            self.i += 4;
                            // Surrogate pairs never occur in our files; replace rather than fail.
                            char::from_u32(hex).unwrap_or('\u{fffd}')
                        }
                        _ => return Err(self.error("a bad escape")),
                    };
                    let mut buf = [0; 4];
                    out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
                }
                c => out.push(c),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_what_python_and_mp_bench_print() {
        let line = r#"{"name": "pipe_rtt", "unit": "us", "value": 4.4096575}"#;
        let v = Json::parse(line).unwrap();
        assert_eq!(v.get("unit").and_then(Json::as_str), Some("us"));
        assert_eq!(v.get("value").and_then(Json::as_f64), Some(4.4096575));
        let v = Json::parse(r#"{"value": 1e-05, "x": [1, -2.5E3, null, true]}"#).unwrap();
        assert_eq!(v.get("value").and_then(Json::as_f64), Some(1e-5));
    }

    #[test]
    fn round_trips_what_it_writes() {
        let v = Json::Array(vec![Json::object([
            ("name", Json::String("a \"q\" \\ 进程\n".into())),
            (
                "rust",
                Json::object([("median", Json::Number(0.5)), ("runs", Json::Array(vec![]))]),
            ),
            ("python", Json::Null),
            ("ok", Json::Bool(false)),
            ("big", Json::Number(1.5e300)),
        ])]);
        assert_eq!(Json::parse(&v.pretty()).unwrap(), v);
    }

    #[test]
    fn writes_the_committed_report_byte_for_byte() {
        // docs/bench/report.json was written by this writer; parsing and writing it again must
        // give the same bytes (one line per object of scalars, two-space indents).
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/bench/report.json");
        let text = std::fs::read_to_string(path).unwrap();
        assert_eq!(Json::parse(&text).unwrap().pretty(), text);
    }

    #[test]
    fn refuses_what_is_not_json() {
        for bad in [
            "",
            "{",
            r#"{"a" 1}"#,
            "[1,]",
            "NaN",
            r#"{"value": Infinity}"#,
            "1 2",
            r#""abc"#,
        ] {
            assert!(Json::parse(bad).is_err(), "{bad:?}");
        }
        assert_eq!(Json::number(Some(f64::NAN)), Json::Null);
    }
}

//! Python-style printing (the part of Python's `repr` a reader of the tutorial sees): a
//! snapshot of a shared dict prints `{'key0': 0, 'key1': 1}` as the tutorial's
//! `print(shared_dict)` does, a boolean prints `True`, an exit code `None` or `-15`.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::fmt::{self, Write};

/// A value that can print itself as Python's `repr()` would print the equivalent Python value:
/// strings in single quotes (`'key0'`), numbers plain (`1`, `2.5`), `True`/`False`, `None`,
/// lists `[1, 2]`, tuples `(1, 'a')`, dicts `{'a': 1}`.
///
/// Implemented for the standard scalar types, strings, `Option`, tuples up to four, slices,
/// `Vec`, `VecDeque`, `HashMap` and `BTreeMap`, and the manager's snapshots [`PyDict`](crate::PyDict) and
/// [`PyList`](crate::PyList). Implement it for your own types to print them inside a snapshot.
///
/// # Examples
///
/// ```
/// use multiprocessing::{py_repr, PyRepr};
///
/// assert_eq!(py_repr(&"it's"), r#""it's""#);
/// assert_eq!(py_repr(&vec![Some(1.0), None]), "[1.0, None]");
/// assert_eq!(py_repr(&(1, "a", true)), "(1, 'a', True)");
/// assert_eq!(py_repr(&1e22), "1e+22");
///
/// struct Point(i32, i32);
/// impl PyRepr for Point {
///     fn fmt_py(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
///         write!(f, "Point({}, {})", self.0, self.1)
///     }
/// }
/// assert_eq!(py_repr(&[Point(1, 2)][..]), "[Point(1, 2)]");
/// ```
pub trait PyRepr {
    /// Writes the Python `repr` of `self`.
    fn fmt_py(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result;
}

/// The Python `repr` of `value`, as a `String`.
///
/// # Examples
///
/// ```
/// assert_eq!(multiprocessing::py_repr(&vec!["a", "b"]), "['a', 'b']");
/// ```
pub fn py_repr<T: PyRepr + ?Sized>(value: &T) -> String {
    Repr(value).to_string()
}

/// Adapts a [`PyRepr`] to `Display`.
struct Repr<'a, T: ?Sized>(&'a T);

impl<T: PyRepr + ?Sized> fmt::Display for Repr<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt_py(f)
    }
}

impl<T: PyRepr + ?Sized> PyRepr for &T {
    fn fmt_py(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        (**self).fmt_py(f)
    }
}

impl<T: PyRepr + ?Sized> PyRepr for Box<T> {
    fn fmt_py(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        (**self).fmt_py(f)
    }
}

macro_rules! plain_repr {
    ($($t:ty)*) => ($(impl PyRepr for $t {
        fn fmt_py(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            write!(f, "{self}")
        }
    })*)
}
plain_repr! { i8 i16 i32 i64 i128 isize u8 u16 u32 u64 u128 usize }

impl PyRepr for bool {
    fn fmt_py(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if *self { "True" } else { "False" })
    }
}

impl PyRepr for () {
    fn fmt_py(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("()")
    }
}

impl PyRepr for f64 {
    fn fmt_py(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt_float(*self, format!("{self:e}"), f)
    }
}

impl PyRepr for f32 {
    fn fmt_py(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Python has no f32: print the shortest digits that round-trip the f32 itself.
        fmt_float(f64::from(*self), format!("{self:e}"), f)
    }
}

/// Python's `float.__repr__`: the shortest round-trip digits, in positional notation when the
/// decimal exponent is in `-4..16`, otherwise `1e+22` style.
fn fmt_float(value: f64, shortest_exp: String, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    if value.is_nan() {
        return f.write_str("nan");
    }
    if value.is_infinite() {
        return f.write_str(if value > 0.0 { "inf" } else { "-inf" });
    }
    // `{:e}` gives the shortest round-trip digits as `-1.2345e-7`.
    let (mantissa, exp) = shortest_exp
        .split_once('e')
        .expect("LowerExp always writes an exponent");
    let exp: i32 = exp.parse().expect("LowerExp writes an integer exponent");
    let (sign, mantissa) = match mantissa.strip_prefix('-') {
        Some(m) => ("-", m),
        None => ("", mantissa),
    };
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    f.write_str(sign)?;
    if (-4..16).contains(&exp) {
        if exp < 0 {
            // 0.000123
            f.write_str("0.")?;
            for _ in 0..(-exp - 1) {
                f.write_char('0')?;
            }
            f.write_str(&digits)
        } else {
            let int_len = usize::try_from(exp).expect("exp is not negative here") + 1;
            if digits.len() <= int_len {
                // 120.0: pad the integer part and add Python's `.0`.
                write!(f, "{digits}{}.0", "0".repeat(int_len - digits.len()))
            } else {
                write!(f, "{}.{}", &digits[..int_len], &digits[int_len..])
            }
        }
    } else {
        let (first, rest) = digits.split_at(1);
        f.write_str(first)?;
        if !rest.is_empty() {
            write!(f, ".{rest}")?;
        }
        write!(f, "e{}{:02}", if exp < 0 { '-' } else { '+' }, exp.abs())
    }
}

impl PyRepr for str {
    /// Python's `str.__repr__`: single quotes unless the text holds a `'` and no `"`; escapes
    /// for the backslash, the quote in use and control characters; other characters as they are.
    fn fmt_py(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let quote = if self.contains('\'') && !self.contains('"') {
            '"'
        } else {
            '\''
        };
        f.write_char(quote)?;
        for c in self.chars() {
            match c {
                '\\' => f.write_str("\\\\")?,
                '\n' => f.write_str("\\n")?,
                '\r' => f.write_str("\\r")?,
                '\t' => f.write_str("\\t")?,
                c if c == quote => write!(f, "\\{c}")?,
                c if (c as u32) < 0x20 || c as u32 == 0x7f => write!(f, "\\x{:02x}", c as u32)?,
                c => f.write_char(c)?,
            }
        }
        f.write_char(quote)
    }
}

impl PyRepr for String {
    fn fmt_py(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.as_str().fmt_py(f)
    }
}

impl PyRepr for char {
    fn fmt_py(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.encode_utf8(&mut [0; 4]).fmt_py(f)
    }
}

impl<T: PyRepr> PyRepr for Option<T> {
    fn fmt_py(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Some(v) => v.fmt_py(f),
            None => f.write_str("None"),
        }
    }
}

/// Writes `open item, item close`.
pub(crate) fn fmt_seq<'a, T: PyRepr + 'a>(
    f: &mut fmt::Formatter<'_>,
    open: &str,
    items: impl IntoIterator<Item = &'a T>,
    close: &str,
) -> fmt::Result {
    f.write_str(open)?;
    for (i, item) in items.into_iter().enumerate() {
        if i > 0 {
            f.write_str(", ")?;
        }
        item.fmt_py(f)?;
    }
    f.write_str(close)
}

/// Writes `{key: value, ...}`.
pub(crate) fn fmt_map<'a, K: PyRepr + 'a, V: PyRepr + 'a>(
    f: &mut fmt::Formatter<'_>,
    items: impl IntoIterator<Item = (&'a K, &'a V)>,
) -> fmt::Result {
    f.write_char('{')?;
    for (i, (k, v)) in items.into_iter().enumerate() {
        if i > 0 {
            f.write_str(", ")?;
        }
        k.fmt_py(f)?;
        f.write_str(": ")?;
        v.fmt_py(f)?;
    }
    f.write_char('}')
}

impl<T: PyRepr> PyRepr for [T] {
    fn fmt_py(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt_seq(f, "[", self, "]")
    }
}

impl<T: PyRepr, const N: usize> PyRepr for [T; N] {
    fn fmt_py(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt_seq(f, "[", self, "]")
    }
}

impl<T: PyRepr> PyRepr for Vec<T> {
    fn fmt_py(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt_seq(f, "[", self, "]")
    }
}

impl<T: PyRepr> PyRepr for VecDeque<T> {
    fn fmt_py(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt_seq(f, "[", self, "]")
    }
}

impl<K: PyRepr, V: PyRepr, S> PyRepr for HashMap<K, V, S> {
    fn fmt_py(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt_map(f, self)
    }
}

impl<K: PyRepr, V: PyRepr> PyRepr for BTreeMap<K, V> {
    fn fmt_py(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt_map(f, self)
    }
}

impl<A: PyRepr> PyRepr for (A,) {
    fn fmt_py(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Python's one-element tuple keeps its comma: `(1,)`.
        f.write_char('(')?;
        self.0.fmt_py(f)?;
        f.write_str(",)")
    }
}

macro_rules! tuple_repr {
    ($($name:ident . $idx:tt),+) => {
        impl<$($name: PyRepr),+> PyRepr for ($($name,)+) {
            fn fmt_py(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_char('(')?;
                $(
                    if $idx > 0 {
                        f.write_str(", ")?;
                    }
                    self.$idx.fmt_py(f)?;
                )+
                f.write_char(')')
            }
        }
    };
}
tuple_repr!(A.0, B.1);
tuple_repr!(A.0, B.1, C.2);
tuple_repr!(A.0, B.1, C.2, D.3);

#[cfg(test)]
mod tests {
    use super::py_repr;

    #[test]
    fn floats_print_as_python() {
        let cases: [(f64, &str); 12] = [
            (1.0, "1.0"),
            (0.1, "0.1"),
            (-2.5, "-2.5"),
            (120.0, "120.0"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (1e15, "1000000000000000.0"),
            (1e16, "1e+16"),
            (1.5e16, "1.5e+16"),
            (123.456, "123.456"),
            (f64::INFINITY, "inf"),
            (0.0, "0.0"),
        ];
        for (value, want) in cases {
            assert_eq!(py_repr(&value), want, "{value:?}");
        }
    }

    #[test]
    fn strings_print_as_python() {
        assert_eq!(py_repr("key0"), "'key0'");
        assert_eq!(py_repr("it's"), "\"it's\"");
        assert_eq!(py_repr("a'b\"c"), "'a\\'b\"c'");
        assert_eq!(py_repr("中文\n"), "'中文\\n'");
    }
}

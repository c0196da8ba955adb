//! The shared list: [`ListProxy`] and its snapshot [`PyList`].

use std::fmt;
use std::ops::{Bound, RangeBounds};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::client::{dec, enc};
use super::protocol::{Op, Reply, Slice};
use crate::error::Result;
use crate::py::{PyRepr, fmt_seq};

proxy! {
    /// A list that lives in the manager's server process, like the proxy CPython's
    /// `manager.list()` returns. Made by [`Manager::list`](crate::Manager::list).
    ///
    /// Indexes follow Python: `-1` is the last item, and an index out of range is an error
    /// ([`Error::Remote`](crate::Error::Remote), Python's `IndexError`). As with
    /// [`DictProxy`](crate::DictProxy), an item you get is a copy, and a `get` then `set` from
    /// several processes needs a lock.
    ///
    /// # Examples
    ///
    /// ```
    /// use multiprocessing::{ListProxy, Manager, Process};
    ///
    /// fn worker(shared_list: ListProxy<i32>) {
    ///     shared_list.append(&4).unwrap();
    /// }
    ///
    /// let manager = Manager::new()?;
    /// let shared_list = manager.list::<i32>()?;
    /// shared_list.extend(&[1, 2, 3])?;
    /// let mut p = Process::new(worker, shared_list.clone());
    /// p.start()?;
    /// p.join()?;
    /// assert_eq!(shared_list.get(-1)?, 4);
    /// assert_eq!(shared_list.to_string(), "[1, 2, 3, 4]");
    /// # Ok::<(), multiprocessing::Error>(())
    /// ```
    pub struct ListProxy<T>;
    kind: List, typeid: "list", types: T
}

impl<T: Serialize + DeserializeOwned> ListProxy<T> {
    /// The item at `index` (Python's `l[index]`).
    ///
    /// # Errors
    /// [`Error::Remote`](crate::Error::Remote) when the index is out of range; the errors of
    /// [`DictProxy::get`](crate::DictProxy::get) when the server is gone or the item is not a `T`.
    pub fn get(&self, index: i64) -> Result<T> {
        self.item(Op::ListGet(index))
    }

    /// Replaces the item at `index` (Python's `l[index] = value`).
    ///
    /// # Errors
    /// As [`get`](ListProxy::get).
    pub fn set(&self, index: i64, value: &T) -> Result<()> {
        self.done(Op::ListSet(index, enc(value)?))
    }

    /// Adds `value` at the end (Python's `l.append(value)`).
    ///
    /// # Errors
    /// As [`get`](ListProxy::get).
    pub fn append(&self, value: &T) -> Result<()> {
        self.done(Op::ListAppend(enc(value)?))
    }

    /// Adds every value at the end, in one round trip (Python's `l.extend(values)`).
    ///
    /// # Errors
    /// As [`get`](ListProxy::get); nothing is added if a value fails to encode.
    pub fn extend<'a>(&self, values: impl IntoIterator<Item = &'a T>) -> Result<()>
    where
        T: 'a,
    {
        let items = values.into_iter().map(|v| enc(v)).collect::<Result<Vec<_>>>()?;
        self.done(Op::ListExtend(items))
    }

    /// Inserts `value` before `index`; an index past either end inserts at that end (Python's
    /// `l.insert(index, value)`).
    ///
    /// # Errors
    /// As [`get`](ListProxy::get).
    pub fn insert(&self, index: i64, value: &T) -> Result<()> {
        self.done(Op::ListInsert(index, enc(value)?))
    }

    /// Removes and returns the last item (Python's `l.pop()`).
    ///
    /// # Errors
    /// [`Error::Remote`](crate::Error::Remote) when the list is empty; as [`get`](ListProxy::get).
    pub fn pop(&self) -> Result<T> {
        self.item(Op::ListPop(None))
    }

    /// Removes and returns the item at `index` (Python's `l.pop(index)`).
    ///
    /// # Errors
    /// As [`get`](ListProxy::get).
    pub fn pop_at(&self, index: i64) -> Result<T> {
        self.item(Op::ListPop(Some(index)))
    }

    /// Removes the first item equal to `value` (Python's `l.remove(value)`).
    ///
    /// # Errors
    /// [`Error::Remote`](crate::Error::Remote) when no item equals `value`; as [`get`](ListProxy::get).
    pub fn remove(&self, value: &T) -> Result<()> {
        self.done(Op::ListRemove(enc(value)?))
    }

    /// Whether an item equals `value` (Python's `value in l`).
    ///
    /// # Errors
    /// As [`get`](ListProxy::get).
    pub fn contains(&self, value: &T) -> Result<bool> {
        self.object
            .expect_bool(self.object.call(Op::ListContains(enc(value)?))?)
    }

    /// The index of the first item equal to `value` (Python's `l.index(value)`).
    ///
    /// # Errors
    /// [`Error::Remote`](crate::Error::Remote) when no item equals `value`; as [`get`](ListProxy::get).
    pub fn index(&self, value: &T) -> Result<usize> {
        self.object
            .expect_len(self.object.call(Op::ListIndex(enc(value)?))?)
    }

    /// The number of items (Python's `len(l)`).
    ///
    /// # Errors
    /// As [`get`](ListProxy::get).
    pub fn len(&self) -> Result<usize> {
        self.object.expect_len(self.object.call(Op::Len)?)
    }

    /// Whether the list is empty.
    ///
    /// # Errors
    /// As [`get`](ListProxy::get).
    pub fn is_empty(&self) -> Result<bool> {
        Ok(self.len()? == 0)
    }

    /// Removes every item (Python's `l.clear()`).
    ///
    /// # Errors
    /// As [`get`](ListProxy::get).
    pub fn clear(&self) -> Result<()> {
        self.done(Op::Clear)
    }

    /// The items of a slice, Python's `l[start:stop]`: `l.get_slice(1..3)` is `l[1:3]`,
    /// `..-1` is `[:-1]`, `-2..` is `[-2:]`. Bounds past either end are clamped, as in Python.
    ///
    /// # Errors
    /// As [`get`](ListProxy::get).
    ///
    /// # Examples
    ///
    /// ```
    /// let manager = multiprocessing::Manager::new()?;
    /// let l = manager.list::<i32>()?;
    /// l.extend(&[0, 1, 2, 3, 4])?;
    /// assert_eq!(l.get_slice(1..3)?.into_vec(), [1, 2]);
    /// assert_eq!(l.get_slice(-2..)?.into_vec(), [3, 4]);
    /// assert_eq!(l.get_slice_step(.., -2)?.into_vec(), [4, 2, 0]); // l[::-2]
    /// l.set_slice(1..4, &[10])?; // l[1:4] = [10]
    /// assert_eq!(l.to_string(), "[0, 10, 4]");
    /// l.del_slice(..1)?; // del l[:1]
    /// assert_eq!(l.to_string(), "[10, 4]");
    /// # Ok::<(), multiprocessing::Error>(())
    /// ```
    pub fn get_slice(&self, range: impl RangeBounds<i64>) -> Result<PyList<T>> {
        self.items(Op::ListGetSlice(slice_of(range, None)))
    }

    /// The items of an extended slice, Python's `l[start:stop:step]`; a negative step walks
    /// backwards.
    ///
    /// # Errors
    /// [`Error::Remote`](crate::Error::Remote) when `step` is 0; as [`get`](ListProxy::get).
    pub fn get_slice_step(&self, range: impl RangeBounds<i64>, step: i64) -> Result<PyList<T>> {
        self.items(Op::ListGetSlice(slice_of(range, Some(step))))
    }

    /// Replaces the items of a slice with `values`, which may be more or fewer (Python's
    /// `l[start:stop] = values`).
    ///
    /// # Errors
    /// As [`get`](ListProxy::get); nothing changes if a value fails to encode.
    pub fn set_slice<'a>(
        &self,
        range: impl RangeBounds<i64>,
        values: impl IntoIterator<Item = &'a T>,
    ) -> Result<()>
    where
        T: 'a,
    {
        let items = values.into_iter().map(|v| enc(v)).collect::<Result<Vec<_>>>()?;
        self.done(Op::ListSetSlice(slice_of(range, None), items))
    }

    /// Removes the items of a slice (Python's `del l[start:stop]`).
    ///
    /// # Errors
    /// As [`get`](ListProxy::get).
    pub fn del_slice(&self, range: impl RangeBounds<i64>) -> Result<()> {
        self.done(Op::ListDelSlice(slice_of(range, None)))
    }

    /// Python's `l += values`: adds every value at the end, in one round trip (the same as
    /// [`extend`](ListProxy::extend); Rust's `+=` cannot return the error a server call may
    /// meet).
    ///
    /// # Errors
    /// As [`extend`](ListProxy::extend).
    pub fn iadd<'a>(&self, values: impl IntoIterator<Item = &'a T>) -> Result<()>
    where
        T: 'a,
    {
        self.extend(values)
    }

    /// A snapshot of the whole list (Python's `list(l)` or `l[:]`). It prints as Python prints a
    /// list.
    ///
    /// # Errors
    /// As [`get`](ListProxy::get).
    pub fn copy(&self) -> Result<PyList<T>> {
        self.items(Op::Copy)
    }

    fn items(&self, op: Op) -> Result<PyList<T>> {
        match self.object.call(op)? {
            Reply::Items(items) => Ok(PyList {
                items: items.iter().map(|b| dec(b)).collect::<Result<_>>()?,
            }),
            other => Err(self.object.unexpected(&other)),
        }
    }

    fn item(&self, op: Op) -> Result<T> {
        self.object.expect_item(self.object.call(op)?)
    }

    fn done(&self, op: Op) -> Result<()> {
        self.object.expect_done(self.object.call(op)?)
    }
}

impl<T: Serialize + DeserializeOwned + PyRepr> fmt::Display for ListProxy<T> {
    /// Prints the server's list as Python prints a list proxy: `[1, 2, 3]`, or what failed.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.copy() {
            Ok(snapshot) => fmt::Display::fmt(&snapshot, f),
            Err(e) => write!(f, "<ListProxy object; '__str__()' failed: {e}>"),
        }
    }
}

/// A copy of a shared list's items, taken by [`ListProxy::copy`]. It dereferences to a slice
/// and prints as Python prints a list: `['a', 'b']`.
///
/// # Examples
///
/// ```
/// let manager = multiprocessing::Manager::new()?;
/// let l = manager.list::<String>()?;
/// l.append(&"a".to_string())?;
/// let snapshot = l.copy()?;
/// assert_eq!(snapshot.to_string(), "['a']");
/// assert_eq!(snapshot[0], "a");
/// # Ok::<(), multiprocessing::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PyList<T> {
    items: Vec<T>,
}

impl<T> PyList<T> {
    pub(super) fn from_vec(items: Vec<T>) -> PyList<T> {
        PyList { items }
    }

    /// The items.
    pub fn into_vec(self) -> Vec<T> {
        self.items
    }
}

impl<T> std::ops::Deref for PyList<T> {
    type Target = [T];
    fn deref(&self) -> &[T] {
        &self.items
    }
}

impl<T: PyRepr> PyRepr for PyList<T> {
    fn fmt_py(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt_seq(f, "[", &self.items, "]")
    }
}

impl<T: PyRepr> fmt::Display for PyList<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.fmt_py(f)
    }
}

impl<T> IntoIterator for PyList<T> {
    type Item = T;
    type IntoIter = std::vec::IntoIter<T>;
    fn into_iter(self) -> Self::IntoIter {
        self.items.into_iter()
    }
}

/// A Rust range over Python indexes as Python's `slice(start, stop, step)`: `a..b` is `[a:b]`,
/// `a..=b` is `[a:b+1]` (`..=-1` reaches the end), `..` is `[:]`.
pub(super) fn slice_of(range: impl RangeBounds<i64>, step: Option<i64>) -> Slice {
    let start = match range.start_bound() {
        Bound::Included(&s) => Some(s),
        Bound::Excluded(&s) => Some(s.saturating_add(1)),
        Bound::Unbounded => None,
    };
    let stop = match range.end_bound() {
        Bound::Excluded(&e) => Some(e),
        // `-1` is the last item: through it means to the end.
        Bound::Included(&-1) => None,
        Bound::Included(&e) => Some(e.saturating_add(1)),
        Bound::Unbounded => None,
    };
    Slice { start, stop, step }
}

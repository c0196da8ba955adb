//! The shared list: [`ListProxy`] and its snapshot [`PyList`].

use std::fmt;
use std::marker::PhantomData;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::client::{dec, enc, ObjectRef};
use super::protocol::{Kind, Op, Reply};
use super::repr::{fmt_seq, PyRepr};
use crate::error::Result;

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
#[derive(Serialize, Deserialize)]
#[serde(bound = "")]
pub struct ListProxy<T> {
    object: ObjectRef,
    #[serde(skip)]
    types: PhantomData<fn() -> T>,
}

impl<T> Clone for ListProxy<T> {
    fn clone(&self) -> Self {
        ListProxy {
            object: self.object.clone(),
            types: PhantomData,
        }
    }
}

impl<T> fmt::Debug for ListProxy<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "<ListProxy object, typeid 'list' at {} of {}>",
            self.object.id,
            self.object.endpoint.name()
        )
    }
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

    /// A snapshot of the whole list (Python's `list(l)` or `l[:]`). It prints as Python prints a
    /// list.
    ///
    /// # Errors
    /// As [`get`](ListProxy::get).
    pub fn copy(&self) -> Result<PyList<T>> {
        match self.object.call(Op::Copy)? {
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

impl<T: Serialize + DeserializeOwned> super::Proxy for ListProxy<T> {}

impl<T: Serialize + DeserializeOwned> super::sealed::ProxyImpl for ListProxy<T> {
    const KIND: Kind = Kind::List;
    fn types() -> String {
        std::any::type_name::<T>().to_string()
    }
    fn from_object(object: ObjectRef) -> Self {
        ListProxy {
            object,
            types: PhantomData,
        }
    }
    fn object(&self) -> &ObjectRef {
        &self.object
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

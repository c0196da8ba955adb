//! The shared array: [`ArrayProxy`].

use std::fmt;
use std::ops::RangeBounds;

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::client::{dec, enc};
use super::list::{PyList, slice_of};
use super::protocol::{Op, Reply};
use crate::error::Result;
use crate::py::PyRepr;

proxy! {
    /// A fixed-length array that lives in the manager's server process, like the proxy CPython's
    /// `manager.Array(typecode, sequence)` returns (the item type stands for the typecode). Made by
    /// [`Manager::array`](crate::Manager::array).
    ///
    /// Items are read and replaced, by index or by slice, never added or removed: a slice
    /// assignment must keep the length. For an array in shared memory between related processes,
    /// [`Array`](crate::Array) is much faster.
    ///
    /// # Examples
    ///
    /// ```
    /// use multiprocessing::{ArrayProxy, Manager, Process};
    ///
    /// fn worker(a: ArrayProxy<i32>) {
    ///     a.set(0, &10).unwrap();
    /// }
    ///
    /// let manager = Manager::new()?;
    /// let a = manager.array(&[1, 2, 3, 4])?;
    /// let mut p = Process::new(worker, a.clone());
    /// p.start()?;
    /// p.join()?;
    /// assert_eq!(a.len()?, 4);
    /// assert_eq!(a.get(-1)?, 4);
    /// a.set_slice(1..3, &[20, 30])?;
    /// assert_eq!(a.get_slice(..2)?.into_vec(), [10, 20]);
    /// assert_eq!(a.to_string(), "[10, 20, 30, 4]");
    /// assert!(a.set_slice(.., &[0]).is_err()); // the length is fixed
    /// # Ok::<(), multiprocessing::Error>(())
    /// ```
    pub struct ArrayProxy<T>;
    kind: Array, typeid: "Array", types: T
}

impl<T: Serialize + DeserializeOwned> ArrayProxy<T> {
    /// The item at `index`, `-1` being the last (Python's `a[index]`).
    ///
    /// # Errors
    /// [`Error::Remote`](crate::Error::Remote) when the index is out of range;
    /// [`Error::Eof`](crate::Error::Eof) or [`Error::Os`](crate::Error::Os) when the server is
    /// gone; [`Error::Codec`](crate::Error::Codec) when the item is not a `T`.
    pub fn get(&self, index: i64) -> Result<T> {
        self.object.expect_item(self.object.call(Op::ListGet(index))?)
    }

    /// Replaces the item at `index` (Python's `a[index] = value`).
    ///
    /// # Errors
    /// As [`get`](ArrayProxy::get).
    pub fn set(&self, index: i64, value: &T) -> Result<()> {
        self.object
            .expect_done(self.object.call(Op::ListSet(index, enc(value)?))?)
    }

    /// The items of a slice, Python's `a[start:stop]`: `1..3`, `..-1`, `-2..`, `..`.
    ///
    /// # Errors
    /// As [`get`](ArrayProxy::get).
    pub fn get_slice(&self, range: impl RangeBounds<i64>) -> Result<PyList<T>> {
        self.items(Op::ListGetSlice(slice_of(range, None)))
    }

    /// Replaces the items of a slice with as many `values` (Python's `a[start:stop] = values`).
    ///
    /// # Errors
    /// [`Error::Remote`](crate::Error::Remote) when the numbers differ (the length is fixed);
    /// as [`get`](ArrayProxy::get).
    pub fn set_slice<'a>(
        &self,
        range: impl RangeBounds<i64>,
        values: impl IntoIterator<Item = &'a T>,
    ) -> Result<()>
    where
        T: 'a,
    {
        let items = values.into_iter().map(|v| enc(v)).collect::<Result<Vec<_>>>()?;
        self.object
            .expect_done(self.object.call(Op::ListSetSlice(slice_of(range, None), items))?)
    }

    /// The number of items (Python's `len(a)`).
    ///
    /// # Errors
    /// As [`get`](ArrayProxy::get).
    pub fn len(&self) -> Result<usize> {
        self.object.expect_len(self.object.call(Op::Len)?)
    }

    /// Whether the array has no items.
    ///
    /// # Errors
    /// As [`get`](ArrayProxy::get).
    pub fn is_empty(&self) -> Result<bool> {
        Ok(self.len()? == 0)
    }

    /// A snapshot of every item (Python's `a[:]`).
    ///
    /// # Errors
    /// As [`get`](ArrayProxy::get).
    pub fn copy(&self) -> Result<PyList<T>> {
        self.items(Op::Copy)
    }

    fn items(&self, op: Op) -> Result<PyList<T>> {
        match self.object.call(op)? {
            Reply::Items(items) => Ok(PyList::from_vec(
                items.iter().map(|b| dec(b)).collect::<Result<_>>()?,
            )),
            other => Err(self.object.unexpected(&other)),
        }
    }
}

impl<T: Serialize + DeserializeOwned + PyRepr> fmt::Display for ArrayProxy<T> {
    /// Prints the items as Python prints a list: `[1, 2, 3]`, or what failed.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.copy() {
            Ok(snapshot) => fmt::Display::fmt(&snapshot, f),
            Err(e) => write!(f, "<ArrayProxy object; '__str__()' failed: {e}>"),
        }
    }
}

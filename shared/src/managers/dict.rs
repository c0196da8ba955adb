//! The shared dict: [`DictProxy`] and its snapshot [`PyDict`].

use std::borrow::Borrow;
use std::fmt;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::client::{dec, enc};
use super::protocol::{Op, Reply};
use crate::error::Result;
use crate::py::{PyRepr, fmt_map};

proxy! {
    /// A dict that lives in the manager's server process, like the proxy CPython's
    /// `manager.dict()` returns. Made by [`Manager::dict`](crate::Manager::dict).
    ///
    /// Every method is one round trip to the server, and keys keep their insertion order as in a
    /// Python dict. A clone refers to the same dict; so does a copy moved into a child process,
    /// which talks to the server over a connection of its own.
    ///
    /// # Examples
    ///
    /// ```
    /// use multiprocessing::{Manager, Process};
    ///
    /// fn worker((shared_dict, key, value): (multiprocessing::DictProxy<String, i32>, String, i32)) {
    ///     shared_dict.set(&key, &value).unwrap();
    /// }
    ///
    /// let manager = Manager::new()?;
    /// let shared_dict = manager.dict::<String, i32>()?;
    /// let mut p = Process::new(worker, (shared_dict.clone(), "key0".to_string(), 0));
    /// p.start()?;
    /// p.join()?;
    /// assert_eq!(shared_dict.get("key0")?, Some(0));
    /// println!("{shared_dict}"); // {'key0': 0}
    /// # Ok::<(), multiprocessing::Error>(())
    /// ```
    ///
    /// # Two traps, as in CPython
    ///
    /// **A value you get is a copy.** Changing it changes nothing on the server until you `set` it
    /// back (CPython: "modifications to mutable values or items in dict and list proxies will not be
    /// propagated through the manager"):
    ///
    /// ```
    /// let manager = multiprocessing::Manager::new()?;
    /// let d = manager.dict::<String, Vec<i32>>()?;
    /// d.set("a", &vec![1])?;
    /// let mut inner = d.get("a")?.unwrap();
    /// inner.push(2); // only the local copy
    /// assert_eq!(d.get("a")?, Some(vec![1]));
    /// d.set("a", &inner)?; // write it back
    /// assert_eq!(d.get("a")?, Some(vec![1, 2]));
    /// # Ok::<(), multiprocessing::Error>(())
    /// ```
    ///
    /// **Read-modify-write is not atomic.** `d[k] += 1` is a `get` and a `set`, two round trips:
    /// two processes may both read 5 and both write 6. Hold a manager [`LockProxy`](crate::LockProxy)
    /// around the pair:
    ///
    /// ```
    /// use multiprocessing::{DictProxy, LockProxy, Manager, Process};
    ///
    /// fn add_ten((d, lock): (DictProxy<String, i32>, LockProxy)) {
    ///     for _ in 0..10 {
    ///         let _guard = lock.guard().unwrap();
    ///         let n = d.get("n").unwrap().unwrap_or(0);
    ///         d.set("n", &(n + 1)).unwrap();
    ///     }
    /// }
    ///
    /// let manager = Manager::new()?;
    /// let (d, lock) = (manager.dict()?, manager.lock()?);
    /// let mut ps: Vec<Process> = (0..3).map(|_| Process::new(add_ten, (d.clone(), lock.clone()))).collect();
    /// for p in &mut ps {
    ///     p.start()?;
    /// }
    /// for p in &ps {
    ///     p.join()?;
    /// }
    /// assert_eq!(d.get("n")?, Some(30));
    /// # Ok::<(), multiprocessing::Error>(())
    /// ```
    ///
    /// # Keys
    /// The server compares keys by their encoding, so keys must encode equal values alike:
    /// integers, strings, tuples and enums do; `f64` keys (`0.0` and `-0.0`) and maps do not.
    pub struct DictProxy<K, V>;
    kind: Dict, typeid: "dict", types: (K, V)
}

impl<K, V> DictProxy<K, V>
where
    K: Serialize + DeserializeOwned,
    V: Serialize + DeserializeOwned,
{
    /// The value for `key`, or `None` (Python's `d.get(key)`; `d[key]` raises `KeyError` where
    /// this returns `None`).
    ///
    /// # Errors
    /// [`Error::Eof`](crate::Error::Eof) or [`Error::Os`](crate::Error::Os) when the server is
    /// gone; [`Error::Codec`](crate::Error::Codec) when the stored value is not a `V`. Every
    /// method of a proxy can fail the same ways.
    pub fn get<Q>(&self, key: &Q) -> Result<Option<V>>
    where
        K: Borrow<Q>,
        Q: Serialize + ?Sized,
    {
        self.maybe(Op::DictGet(enc(key)?))
    }

    /// Sets `key` to `value` (Python's `d[key] = value`). A key already present keeps its place.
    /// A key may be given borrowed (`"key0"` for a `String` key), as in `HashMap::get`.
    ///
    /// # Errors
    /// As [`get`](DictProxy::get).
    pub fn set<Q>(&self, key: &Q, value: &V) -> Result<()>
    where
        K: Borrow<Q>,
        Q: Serialize + ?Sized,
    {
        self.done(Op::DictSet(enc(key)?, enc(value)?))
    }

    /// Removes `key` and returns its value, or `None` if it was absent (Python's
    /// `d.pop(key, None)`).
    ///
    /// # Errors
    /// As [`get`](DictProxy::get).
    pub fn remove<Q>(&self, key: &Q) -> Result<Option<V>>
    where
        K: Borrow<Q>,
        Q: Serialize + ?Sized,
    {
        self.maybe(Op::DictRemove(enc(key)?))
    }

    /// Whether `key` is present (Python's `key in d`).
    ///
    /// # Errors
    /// As [`get`](DictProxy::get).
    pub fn contains<Q>(&self, key: &Q) -> Result<bool>
    where
        K: Borrow<Q>,
        Q: Serialize + ?Sized,
    {
        self.object
            .expect_bool(self.object.call(Op::DictContains(enc(key)?))?)
    }

    /// The value for `key`, first setting it to `default` if absent, in one atomic step
    /// (Python's `d.setdefault(key, default)`).
    ///
    /// # Errors
    /// As [`get`](DictProxy::get).
    pub fn setdefault<Q>(&self, key: &Q, default: &V) -> Result<V>
    where
        K: Borrow<Q>,
        Q: Serialize + ?Sized,
    {
        self.object
            .expect_item(self.object.call(Op::DictSetDefault(enc(key)?, enc(default)?))?)
    }

    /// The number of keys (Python's `len(d)`).
    ///
    /// # Errors
    /// As [`get`](DictProxy::get).
    pub fn len(&self) -> Result<usize> {
        self.object.expect_len(self.object.call(Op::Len)?)
    }

    /// Whether the dict is empty.
    ///
    /// # Errors
    /// As [`get`](DictProxy::get).
    pub fn is_empty(&self) -> Result<bool> {
        Ok(self.len()? == 0)
    }

    /// The keys, in insertion order (a copy, as `list(d.keys())`).
    ///
    /// # Errors
    /// As [`get`](DictProxy::get).
    pub fn keys(&self) -> Result<Vec<K>> {
        self.items_of(Op::DictKeys)
    }

    /// The values, in insertion order (a copy, as `list(d.values())`).
    ///
    /// # Errors
    /// As [`get`](DictProxy::get).
    pub fn values(&self) -> Result<Vec<V>> {
        self.items_of(Op::DictValues)
    }

    /// The `(key, value)` pairs, in insertion order (a copy, as `list(d.items())`).
    ///
    /// # Errors
    /// As [`get`](DictProxy::get).
    pub fn items(&self) -> Result<Vec<(K, V)>> {
        Ok(self.copy()?.into_vec())
    }

    /// Sets every pair, in one round trip and one atomic step on the server (Python's
    /// `d.update(pairs)`). This is the fast way to write many keys.
    ///
    /// # Errors
    /// As [`get`](DictProxy::get); nothing is set if a pair fails to encode.
    pub fn update<'a>(&self, pairs: impl IntoIterator<Item = (&'a K, &'a V)>) -> Result<()>
    where
        K: 'a,
        V: 'a,
    {
        let pairs = pairs
            .into_iter()
            .map(|(k, v)| Ok((enc(k)?, enc(v)?)))
            .collect::<Result<Vec<_>>>()?;
        self.done(Op::DictUpdate(pairs))
    }

    /// Removes every key (Python's `d.clear()`).
    ///
    /// # Errors
    /// As [`get`](DictProxy::get).
    pub fn clear(&self) -> Result<()> {
        self.done(Op::Clear)
    }

    /// A snapshot of the whole dict, taken atomically (Python's `dict(d)` or `d.copy()`).
    /// It prints as Python prints a dict.
    ///
    /// # Errors
    /// As [`get`](DictProxy::get).
    pub fn copy(&self) -> Result<PyDict<K, V>> {
        match self.object.call(Op::Copy)? {
            Reply::Pairs(pairs) => {
                let pairs = pairs
                    .into_iter()
                    .map(|(k, v)| Ok((dec(&k)?, dec(&v)?)))
                    .collect::<Result<_>>()?;
                Ok(PyDict { pairs })
            }
            other => Err(self.object.unexpected(&other)),
        }
    }

    fn items_of<T: DeserializeOwned>(&self, op: Op) -> Result<Vec<T>> {
        match self.object.call(op)? {
            Reply::Items(items) => items.iter().map(|b| dec(b)).collect(),
            other => Err(self.object.unexpected(&other)),
        }
    }

    fn maybe(&self, op: Op) -> Result<Option<V>> {
        match self.object.call(op)? {
            Reply::Maybe(v) => v.map(|v| dec(&v)).transpose(),
            other => Err(self.object.unexpected(&other)),
        }
    }

    fn done(&self, op: Op) -> Result<()> {
        self.object.expect_done(self.object.call(op)?)
    }
}

impl<K, V> fmt::Display for DictProxy<K, V>
where
    K: Serialize + DeserializeOwned + PyRepr,
    V: Serialize + DeserializeOwned + PyRepr,
{
    /// Prints the dict as Python's `print(d)` does for a dict proxy: the server's dict as
    /// `{'key0': 0}`. If the server cannot be asked, prints what failed instead, as CPython's
    /// `BaseProxy.__str__` does.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.copy() {
            Ok(snapshot) => fmt::Display::fmt(&snapshot, f),
            Err(e) => write!(f, "<DictProxy object; '__str__()' failed: {e}>"),
        }
    }
}

/// A copy of a shared dict's contents, in insertion order, taken by [`DictProxy::copy`]. It
/// prints as Python prints a dict: `{'key0': 0, 'key1': 1}`.
///
/// # Examples
///
/// ```
/// let manager = multiprocessing::Manager::new()?;
/// let d = manager.dict::<String, i32>()?;
/// d.set("key0", &0)?;
/// d.set("key1", &1)?;
/// let snapshot = d.copy()?;
/// assert_eq!(snapshot.to_string(), "{'key0': 0, 'key1': 1}");
/// assert_eq!(snapshot.get("key1"), Some(&1));
/// # Ok::<(), multiprocessing::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PyDict<K, V> {
    pairs: Vec<(K, V)>,
}

impl<K, V> PyDict<K, V> {
    /// The value for `key`, if present.
    pub fn get<Q>(&self, key: &Q) -> Option<&V>
    where
        K: Borrow<Q>,
        Q: PartialEq + ?Sized,
    {
        self.pairs.iter().find(|(k, _)| k.borrow() == key).map(|(_, v)| v)
    }
}

impl<K, V> PyDict<K, V> {
    /// The number of keys.
    pub fn len(&self) -> usize {
        self.pairs.len()
    }

    /// Whether there are no keys.
    pub fn is_empty(&self) -> bool {
        self.pairs.is_empty()
    }

    /// The pairs in insertion order.
    pub fn iter(&self) -> impl Iterator<Item = (&K, &V)> {
        self.pairs.iter().map(|(k, v)| (k, v))
    }

    /// The pairs, in insertion order.
    pub fn into_vec(self) -> Vec<(K, V)> {
        self.pairs
    }
}

impl<K: PyRepr, V: PyRepr> PyRepr for PyDict<K, V> {
    fn fmt_py(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt_map(f, self.iter())
    }
}

impl<K: PyRepr, V: PyRepr> fmt::Display for PyDict<K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.fmt_py(f)
    }
}

impl<K, V> IntoIterator for PyDict<K, V> {
    type Item = (K, V);
    type IntoIter = std::vec::IntoIter<(K, V)>;
    fn into_iter(self) -> Self::IntoIter {
        self.pairs.into_iter()
    }
}

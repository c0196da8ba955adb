//! The other shared objects: [`NamespaceProxy`], [`QueueProxy`], [`ValueProxy`], [`LockProxy`].
//! The synchronization objects beside `LockProxy` are in `sync_proxies`.

use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::client::enc;
use super::protocol::{Op, Reply};
// `Error` is named only by the doc comments' links.
#[cfg(doc)]
use crate::error::Error;
use crate::error::Result;

proxy! {
    /// A namespace that lives in the manager's server process: named attributes of any serde type,
    /// like CPython's `manager.Namespace()` (`ns.x = 10` is `ns.set("x", &10)`). Made by
    /// [`Manager::namespace`](crate::Manager::namespace).
    ///
    /// # Examples
    ///
    /// ```
    /// use multiprocessing::{Manager, NamespaceProxy, Process};
    ///
    /// fn worker(ns: NamespaceProxy) {
    ///     let x: i32 = ns.get("x").unwrap();
    ///     ns.set("y", &(x * 2)).unwrap();
    /// }
    ///
    /// let manager = Manager::new()?;
    /// let ns = manager.namespace()?;
    /// ns.set("x", &21)?;
    /// let mut p = Process::new(worker, ns.clone());
    /// p.start()?;
    /// p.join()?;
    /// assert_eq!(ns.get::<i32>("y")?, 42);
    /// # Ok::<(), multiprocessing::Error>(())
    /// ```
    pub struct NamespaceProxy;
    kind: Namespace, typeid: "Namespace", types: ()
}

impl NamespaceProxy {
    /// The attribute `name` (Python's `ns.name`).
    ///
    /// # Errors
    /// [`Error::Remote`] when there is no such attribute (Python's `AttributeError`);
    /// [`Error::Codec`] when it is not a `T`; [`Error::Eof`] or [`Error::Os`] when the server is
    /// gone.
    pub fn get<T: DeserializeOwned>(&self, name: &str) -> Result<T> {
        self.object
            .expect_item(self.object.call(Op::NsGet(name.to_string()))?)
    }

    /// Sets the attribute `name` (Python's `ns.name = value`).
    ///
    /// # Errors
    /// As [`get`](NamespaceProxy::get).
    pub fn set<T: Serialize + ?Sized>(&self, name: &str, value: &T) -> Result<()> {
        self.object
            .expect_done(self.object.call(Op::NsSet(name.to_string(), enc(value)?))?)
    }

    /// Deletes the attribute `name` (Python's `del ns.name`).
    ///
    /// # Errors
    /// As [`get`](NamespaceProxy::get).
    pub fn delete(&self, name: &str) -> Result<()> {
        self.object
            .expect_done(self.object.call(Op::NsDel(name.to_string()))?)
    }

    /// The attribute names, in the order they were first set.
    ///
    /// # Errors
    /// As [`get`](NamespaceProxy::get).
    pub fn names(&self) -> Result<Vec<String>> {
        match self.object.call(Op::Copy)? {
            Reply::Names(pairs) => Ok(pairs.into_iter().map(|(name, _)| name).collect()),
            other => Err(self.object.unexpected(&other)),
        }
    }
}

proxy! {
    /// A FIFO queue that lives in the manager's server process, like CPython's `manager.Queue()`.
    /// Made by [`Manager::queue`](crate::Manager::queue) (unbounded) or
    /// [`Manager::queue_with_maxsize`](crate::Manager::queue_with_maxsize).
    ///
    /// Unlike [`Queue`](crate::Queue), whose items travel through a pipe between related
    /// processes, a manager queue keeps its items in the server: any process that reaches the
    /// server, on this machine or (with [`Manager::serve`](crate::Manager::serve)) another, can use
    /// it, at the cost of one round trip per call. A `get` that blocks waits in the server; if the
    /// waiting process is killed, the item it would have taken stays in the queue for the others.
    ///
    /// # Examples
    ///
    /// ```
    /// use multiprocessing::{Manager, Process, QueueProxy};
    ///
    /// fn producer(q: QueueProxy<String>) {
    ///     q.put(&"消息".to_string()).unwrap();
    /// }
    ///
    /// let manager = Manager::new()?;
    /// let q = manager.queue::<String>()?;
    /// let mut p = Process::new(producer, q.clone());
    /// p.start()?;
    /// assert_eq!(q.get()?, "消息");
    /// p.join()?;
    /// assert!(q.get_nowait().is_err());
    /// # Ok::<(), multiprocessing::Error>(())
    /// ```
    pub struct QueueProxy<T>;
    kind: Queue, typeid: "Queue", types: T
}

impl<T: Serialize + DeserializeOwned> QueueProxy<T> {
    /// Puts `item` at the back, waiting while a bounded queue is full (Python's `q.put(item)`).
    ///
    /// # Errors
    /// [`Error::Eof`] or [`Error::Os`] when the server is gone.
    pub fn put(&self, item: &T) -> Result<()> {
        self.put_op(item, true, None)
    }

    /// Puts `item`, waiting at most `timeout` for room (Python's `q.put(item, timeout=t)`).
    ///
    /// # Errors
    /// [`Error::Full`] when there is still no room after `timeout`; as [`put`](QueueProxy::put).
    pub fn put_timeout(&self, item: &T, timeout: Duration) -> Result<()> {
        self.put_op(item, true, Some(timeout))
    }

    /// Puts `item` only if there is room now (Python's `q.put_nowait(item)`).
    ///
    /// # Errors
    /// [`Error::Full`] when a bounded queue is full; as [`put`](QueueProxy::put).
    pub fn put_nowait(&self, item: &T) -> Result<()> {
        self.put_op(item, false, None)
    }

    fn put_op(&self, item: &T, block: bool, timeout: Option<Duration>) -> Result<()> {
        let reply = self.object.call_timeout(
            Op::QueuePut {
                item: enc(item)?,
                block,
                timeout,
            },
            timeout,
        )?;
        self.object.expect_done(reply)
    }

    /// Takes the item at the front, waiting for one (Python's `q.get()`).
    ///
    /// # Errors
    /// [`Error::Eof`] when the server dies while we wait; [`Error::Codec`] when the item is not
    /// a `T`.
    pub fn get(&self) -> Result<T> {
        self.get_op(true, None)
    }

    /// Takes the item at the front, waiting at most `timeout` (Python's `q.get(timeout=t)`).
    ///
    /// # Errors
    /// [`Error::Empty`] when no item came within `timeout`; as [`get`](QueueProxy::get).
    pub fn get_timeout(&self, timeout: Duration) -> Result<T> {
        self.get_op(true, Some(timeout))
    }

    /// Takes the item at the front if there is one now (Python's `q.get_nowait()`).
    ///
    /// # Errors
    /// [`Error::Empty`] when the queue is empty; as [`get`](QueueProxy::get).
    pub fn get_nowait(&self) -> Result<T> {
        self.get_op(false, None)
    }

    fn get_op(&self, block: bool, timeout: Option<Duration>) -> Result<T> {
        self.object.expect_item(
            self.object
                .call_timeout(Op::QueueGet { block, timeout }, timeout)?,
        )
    }

    /// The number of items now (Python's `q.qsize()`); another process may change it at once.
    ///
    /// # Errors
    /// As [`put`](QueueProxy::put).
    pub fn qsize(&self) -> Result<usize> {
        self.object.expect_len(self.object.call(Op::Len)?)
    }

    /// Whether the queue is empty now (Python's `q.empty()`).
    ///
    /// # Errors
    /// As [`put`](QueueProxy::put).
    pub fn empty(&self) -> Result<bool> {
        Ok(self.qsize()? == 0)
    }

    /// Whether a bounded queue holds `maxsize` items now (Python's `q.full()`); an unbounded
    /// queue is never full.
    ///
    /// # Errors
    /// As [`put`](QueueProxy::put).
    ///
    /// # Examples
    ///
    /// ```
    /// let manager = multiprocessing::Manager::new()?;
    /// let q = manager.queue_with_maxsize::<u8>(1)?;
    /// assert!(!q.full()?);
    /// q.put(&1)?;
    /// assert!(q.full()?);
    /// # Ok::<(), multiprocessing::Error>(())
    /// ```
    pub fn full(&self) -> Result<bool> {
        self.object.expect_bool(self.object.call(Op::QueueFull)?)
    }
}

proxy! {
    /// A single value that lives in the manager's server process, like CPython's
    /// `manager.Value(typecode, value)` (`v.value` is [`get`](ValueProxy::get), `v.value = x` is
    /// [`set`](ValueProxy::set)). Made by [`Manager::value`](crate::Manager::value).
    ///
    /// As in CPython, `v.value += 1` from several processes is a read and a write, not atomic:
    /// hold a manager [`LockProxy`] around them.
    ///
    /// # Examples
    ///
    /// ```
    /// let manager = multiprocessing::Manager::new()?;
    /// let v = manager.value(1.5f64)?;
    /// v.set(&2.5)?;
    /// assert_eq!(v.get()?, 2.5);
    /// # Ok::<(), multiprocessing::Error>(())
    /// ```
    pub struct ValueProxy<T>;
    kind: Value, typeid: "Value", types: T
}

impl<T: Serialize + DeserializeOwned> ValueProxy<T> {
    /// The value (Python's `v.value`).
    ///
    /// # Errors
    /// [`Error::Eof`] or [`Error::Os`] when the server is gone; [`Error::Codec`] when the value
    /// is not a `T`.
    pub fn get(&self) -> Result<T> {
        self.object.expect_item(self.object.call(Op::ValueGet)?)
    }

    /// Replaces the value (Python's `v.value = new`).
    ///
    /// # Errors
    /// As [`get`](ValueProxy::get).
    pub fn set(&self, value: &T) -> Result<()> {
        self.object
            .expect_done(self.object.call(Op::ValueSet(enc(value)?))?)
    }
}

proxy! {
    /// A lock that lives in the manager's server process, like CPython's `manager.Lock()` (a
    /// `threading.Lock` in the server). Made by [`Manager::lock`](crate::Manager::lock).
    ///
    /// As a `threading.Lock`, any process may release it. Unlike CPython's, a lock whose holder's
    /// connection closes (the holder exited or was killed without releasing) is released by the
    /// server, so the other processes are not blocked forever; the data it protected may then be
    /// half-updated, as with a robust mutex.
    ///
    /// # Examples
    ///
    /// ```
    /// let manager = multiprocessing::Manager::new()?;
    /// let lock = manager.lock()?;
    /// {
    ///     let _guard = lock.guard()?; // Python's `with lock:`
    ///     assert!(!lock.acquire_timeout(std::time::Duration::from_millis(10))?);
    /// }
    /// assert!(lock.try_acquire()?);
    /// lock.release()?;
    /// # Ok::<(), multiprocessing::Error>(())
    /// ```
    pub struct LockProxy;
    kind: Lock, typeid: "Lock", types: ()
}

impl LockProxy {
    /// Waits until the lock is free and takes it (Python's `lock.acquire()`).
    ///
    /// # Errors
    /// [`Error::Eof`] or [`Error::Os`] when the server is gone.
    pub fn acquire(&self) -> Result<()> {
        self.object
            .expect_acquired(self.object.acquire(true, None)?, "the lock")
    }

    /// Takes the lock if it is free now; `false` if not (Python's `lock.acquire(False)`).
    ///
    /// # Errors
    /// As [`acquire`](LockProxy::acquire).
    pub fn try_acquire(&self) -> Result<bool> {
        self.object.acquire(false, None)
    }

    /// Waits at most `timeout` for the lock; `false` if it stayed taken (Python's
    /// `lock.acquire(timeout=t)`).
    ///
    /// # Errors
    /// As [`acquire`](LockProxy::acquire).
    pub fn acquire_timeout(&self, timeout: Duration) -> Result<bool> {
        self.object.acquire(true, Some(timeout))
    }

    /// Releases the lock (Python's `lock.release()`).
    ///
    /// # Errors
    /// [`Error::Remote`] when the lock is not held ("release unlocked lock"); as
    /// [`acquire`](LockProxy::acquire).
    pub fn release(&self) -> Result<()> {
        self.object.expect_done(self.object.call(Op::Release)?)
    }

    /// Whether some process holds the lock now.
    ///
    /// # Errors
    /// As [`acquire`](LockProxy::acquire).
    pub fn locked(&self) -> Result<bool> {
        self.object.expect_bool(self.object.call(Op::Locked)?)
    }

    /// Acquires the lock and returns a guard that releases it when dropped: Python's
    /// `with lock:`.
    ///
    /// # Errors
    /// As [`acquire`](LockProxy::acquire).
    pub fn guard(&self) -> Result<LockProxyGuard<'_>> {
        self.acquire()?;
        Ok(LockProxyGuard { lock: self })
    }
}

/// Holds a [`LockProxy`] until dropped; made by [`LockProxy::guard`].
///
/// # Drop
/// Releases the lock. If the server cannot be reached then, the error is ignored: a server that
/// is gone holds no lock.
#[derive(Debug)]
#[must_use = "the lock is released as soon as the guard is dropped"]
pub struct LockProxyGuard<'a> {
    lock: &'a LockProxy,
}

impl Drop for LockProxyGuard<'_> {
    fn drop(&mut self) {
        let _ = self.lock.release();
    }
}

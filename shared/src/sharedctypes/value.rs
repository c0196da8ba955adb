//! [`RawValue`] and [`Value`]: one number in shared memory, without and with a lock
//! (CPython's `sharedctypes.RawValue` and `Value`).

use std::fmt;
use std::marker::PhantomData;

use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::heap::SharedBlock;
use crate::synchronize::{RLock, SyncLock};

use super::element::{Element, load, store};
use super::locked;
#[cfg(doc)]
use crate::error::Error;

crate::heap::inherited_only!(raw_value_by_inheritance, "RawValue");
crate::heap::inherited_only!(value_by_inheritance, "Value");

/// One number in shared memory, without a lock (Python's `RawValue` or `Value(..., lock=False)`).
///
/// # Examples
///
/// ```
/// use multiprocessing::{Process, RawValue};
///
/// fn worker(flag: RawValue<u8>) {
///     flag.set(1);
/// }
///
/// let flag = RawValue::new(0u8)?;
/// let mut p = Process::new(worker, flag.clone());
/// p.start()?;
/// p.join()?;
/// assert_eq!(flag.get(), 1);
/// # Ok::<(), multiprocessing::Error>(())
/// ```
#[derive(Clone, Serialize, Deserialize)]
#[serde(bound = "")]
pub struct RawValue<T: Element> {
    #[serde(serialize_with = "raw_value_by_inheritance")]
    block: SharedBlock,
    _type: PhantomData<T>,
}

impl<T: Element> RawValue<T> {
    /// A new shared number holding `value`.
    ///
    /// # Errors
    /// [`Error::Os`] if shared memory cannot be made.
    ///
    /// # Examples
    ///
    /// ```
    /// let x = multiprocessing::RawValue::new(2.5f64)?;
    /// assert_eq!(x.get(), 2.5);
    /// # Ok::<(), multiprocessing::Error>(())
    /// ```
    pub fn new(value: T) -> Result<RawValue<T>> {
        let raw = RawValue {
            block: SharedBlock::new(T::SIZE)?,
            _type: PhantomData,
        };
        raw.set(value);
        Ok(raw)
    }

    /// The current value (Python's `.value`).
    ///
    /// # Examples
    ///
    /// ```
    /// let x = multiprocessing::RawValue::new(7i64)?;
    /// assert_eq!(x.get(), 7);
    /// # Ok::<(), multiprocessing::Error>(())
    /// ```
    #[inline]
    pub fn get(&self) -> T {
        load(&self.block, 0)
    }

    /// Replaces the value (Python's `.value = v`).
    ///
    /// # Examples
    ///
    /// ```
    /// let x = multiprocessing::RawValue::new(0u16)?;
    /// x.set(9);
    /// assert_eq!(x.get(), 9);
    /// # Ok::<(), multiprocessing::Error>(())
    /// ```
    #[inline]
    pub fn set(&self, value: T) {
        store(&self.block, 0, value);
    }
}

impl<T: Element> fmt::Debug for RawValue<T> {
    /// `RawValue(1)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RawValue({:?})", self.get())
    }
}

/// One number in shared memory with a lock, like Python's `multiprocessing.Value`.
///
/// [`get`](Value::get) and [`set`](Value::set) each take the lock; hold
/// [`get_lock`](Value::get_lock) around a read-modify-write, as below.
/// The lock is an [`RLock`] by default; [`Value::with_lock`] takes one of your choice.
///
/// # Why `value += 1` needs the lock
/// As in Python, each [`Value::get`] and each [`Value::set`] takes the value's lock, but
/// `val.set(val.get() + 1)` is two steps: two processes can both read 5 and both write 6, and
/// one increment is lost. Holding [`Value::get_lock`] across both steps makes the increment
/// whole, exactly like Python's `with val.get_lock(): val.value += 1`:
///
/// ```
/// use multiprocessing::{Process, Value};
///
/// fn add_many(counter: Value<i32>) {
///     for _ in 0..10_000 {
///         let _guard = counter.get_lock().acquire(); // with counter.get_lock():
///         counter.set(counter.get() + 1); //                counter.value += 1
///     }
/// }
///
/// let counter = Value::new(0)?;
/// let mut processes: Vec<Process> = (0..2).map(|_| Process::new(add_many, counter.clone())).collect();
/// for p in &mut processes {
///     p.start()?;
/// }
/// for p in &processes {
///     p.join()?;
/// }
/// assert_eq!(counter.get(), 20_000); // without the guard, usually less
/// # Ok::<(), multiprocessing::Error>(())
/// ```
///
///
/// # Examples
///
/// The tutorial's 3/1.6:
///
/// ```
/// use multiprocessing::{Array, Process, Value};
///
/// fn worker((val, arr): (Value<i32>, Array<i32>)) {
///     {
///         let _guard = val.get_lock().acquire(); // with val.get_lock():
///         val.set(val.get() + 1); //                    val.value += 1
///     }
///     for i in 0..arr.len() {
///         arr.set(i, arr.get(i) + 1); // arr[i] += 1
///     }
/// }
///
/// let val = Value::new(0)?;
/// let arr = Array::new(&[0, 1, 2, 3])?;
/// let mut p = Process::new(worker, (val.clone(), arr.clone()));
/// p.start()?;
/// p.join()?;
/// assert_eq!(val.get(), 1);
/// assert_eq!(arr.to_vec(), [1, 2, 3, 4]);
/// # Ok::<(), multiprocessing::Error>(())
/// ```
#[derive(Clone, Serialize, Deserialize)]
#[serde(bound(serialize = "L: Serialize", deserialize = "L: Deserialize<'de>"))]
pub struct Value<T: Element, L: SyncLock = RLock> {
    #[serde(serialize_with = "value_by_inheritance")]
    obj: RawValue<T>,
    lock: L,
}

impl<T: Element> Value<T> {
    /// A new shared number holding `value`, with a new [`RLock`].
    ///
    /// # Errors
    /// [`Error::Os`] if shared memory cannot be made.
    ///
    /// # Examples
    ///
    /// ```
    /// let val = multiprocessing::Value::new(0i32)?; // Python: Value('i', 0)
    /// assert_eq!(val.get(), 0);
    /// # Ok::<(), multiprocessing::Error>(())
    /// ```
    pub fn new(value: T) -> Result<Value<T>> {
        Value::with_lock(value, RLock::new()?)
    }
}

impl<T: Element, L: SyncLock> Value<T, L> {
    /// A new shared number guarded by `lock` (Python's `Value(typecode, v, lock=lock)`), e.g.
    /// a [`Lock`](crate::Lock) shared with other objects.
    ///
    /// # Errors
    /// [`Error::Os`] if shared memory cannot be made.
    ///
    /// # Examples
    ///
    /// ```
    /// use multiprocessing::{Lock, Value};
    ///
    /// let lock = Lock::new()?;
    /// let val = Value::with_lock(1.5f64, lock.clone())?;
    /// let _guard = val.get_lock().acquire();
    /// val.set(val.get() * 2.0); // no deadlock: this thread holds the lock
    /// assert_eq!(val.get(), 3.0);
    /// # Ok::<(), multiprocessing::Error>(())
    /// ```
    pub fn with_lock(value: T, lock: L) -> Result<Value<T, L>> {
        Ok(Value {
            obj: RawValue::new(value)?,
            lock,
        })
    }

    /// The lock that guards the value (Python's `get_lock()`).
    ///
    /// # Examples
    ///
    /// ```
    /// let val = multiprocessing::Value::new(0u64)?;
    /// let _guard = val.get_lock().acquire();
    /// val.set(val.get() + 1);
    /// # Ok::<(), multiprocessing::Error>(())
    /// ```
    #[inline]
    pub fn get_lock(&self) -> &L {
        &self.lock
    }

    /// The value without its lock (Python's `get_obj()`).
    ///
    /// # Examples
    ///
    /// ```
    /// let val = multiprocessing::Value::new(3i8)?;
    /// assert_eq!(val.get_obj().get(), 3);
    /// # Ok::<(), multiprocessing::Error>(())
    /// ```
    #[inline]
    pub fn get_obj(&self) -> &RawValue<T> {
        &self.obj
    }

    /// The current value, read under the lock (Python's `.value`).
    ///
    /// # Examples
    ///
    /// ```
    /// let val = multiprocessing::Value::new(5u32)?;
    /// assert_eq!(val.get(), 5);
    /// # Ok::<(), multiprocessing::Error>(())
    /// ```
    #[inline]
    pub fn get(&self) -> T {
        locked(&self.lock, || self.obj.get())
    }

    /// Replaces the value under the lock (Python's `.value = v`).
    ///
    /// # Examples
    ///
    /// ```
    /// let val = multiprocessing::Value::new(0.0f32)?;
    /// val.set(0.5);
    /// assert_eq!(val.get(), 0.5);
    /// # Ok::<(), multiprocessing::Error>(())
    /// ```
    #[inline]
    pub fn set(&self, value: T) {
        locked(&self.lock, || self.obj.set(value));
    }
}

impl<T: Element, L: SyncLock> fmt::Debug for Value<T, L> {
    /// `Value(1)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Value({:?})", self.obj.get())
    }
}

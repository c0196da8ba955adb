//! [`RawArray`] and [`Array`]: a fixed-length array of numbers in shared memory, without and
//! with a lock (CPython's `sharedctypes.RawArray` and `Array`).

use std::fmt;
use std::marker::PhantomData;
use std::ops::{Bound, RangeBounds};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::heap::SharedBlock;
use crate::synchronize::{RLock, SyncLock};

use super::element::{Element, load, store};
use super::locked;

crate::heap::inherited_only!(raw_array_by_inheritance, "RawArray");
crate::heap::inherited_only!(array_by_inheritance, "Array");

/// A fixed-length array of numbers in shared memory, without a lock (Python's `RawArray`).
///
/// # Examples
///
/// ```
/// use multiprocessing::{Process, RawArray};
///
/// fn fill(arr: RawArray<f64>) {
///     for i in 0..arr.len() {
///         arr.set(i, i as f64 / 2.0);
///     }
/// }
///
/// let arr = RawArray::zeroed(4)?; // Python: RawArray('d', 4)
/// let mut p = Process::new(fill, arr.clone());
/// p.start()?;
/// p.join()?;
/// assert_eq!(arr.to_vec(), [0.0, 0.5, 1.0, 1.5]);
/// # Ok::<(), multiprocessing::Error>(())
/// ```
#[derive(Clone, Serialize, Deserialize)]
#[serde(bound = "")]
pub struct RawArray<T: Element> {
    #[serde(serialize_with = "raw_array_by_inheritance")]
    block: SharedBlock,
    len: usize,
    _type: PhantomData<T>,
}

impl<T: Element> RawArray<T> {
    /// A new shared array holding a copy of `items`.
    ///
    /// # Errors
    /// [`Error::Os`] if shared memory cannot be made.
    ///
    /// # Examples
    ///
    /// ```
    /// let arr = multiprocessing::RawArray::new(&[1u8, 2, 3])?;
    /// assert_eq!(arr.len(), 3);
    /// # Ok::<(), multiprocessing::Error>(())
    /// ```
    pub fn new(items: &[T]) -> Result<RawArray<T>> {
        let arr = RawArray::zeroed(items.len())?;
        for (i, &item) in items.iter().enumerate() {
            arr.set(i, item);
        }
        Ok(arr)
    }

    /// A new shared array of `len` zeros (Python's `RawArray('i', len)`).
    ///
    /// # Errors
    /// [`Error::Os`] if shared memory cannot be made.
    ///
    /// # Examples
    ///
    /// ```
    /// let arr = multiprocessing::RawArray::<i32>::zeroed(3)?;
    /// assert_eq!(arr.to_vec(), [0, 0, 0]);
    /// # Ok::<(), multiprocessing::Error>(())
    /// ```
    pub fn zeroed(len: usize) -> Result<RawArray<T>> {
        let bytes = len
            .checked_mul(T::SIZE)
            .ok_or_else(|| Error::state(format!("Array of {len} elements is too large")))?;
        // Fresh shared memory is zero-filled, and zero bits are 0 for every element type.
        Ok(RawArray {
            block: SharedBlock::new(bytes)?,
            len,
            _type: PhantomData,
        })
    }

    /// The number of elements (Python's `len(arr)`).
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(multiprocessing::RawArray::<u8>::zeroed(5)?.len(), 5);
    /// # Ok::<(), multiprocessing::Error>(())
    /// ```
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the array has no elements.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(multiprocessing::RawArray::<u8>::new(&[])?.is_empty());
    /// # Ok::<(), multiprocessing::Error>(())
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    fn check(&self, index: usize) {
        assert!(
            index < self.len,
            "array index out of range: the len is {} but the index is {index}",
            self.len
        );
    }

    /// Element `index` (Python's `arr[index]`).
    ///
    /// # Panics
    /// If `index >= len()`, as slice indexing does (Python raises `IndexError`).
    ///
    /// # Examples
    ///
    /// ```
    /// let arr = multiprocessing::RawArray::new(&[10i16, 20])?;
    /// assert_eq!(arr.get(1), 20);
    /// # Ok::<(), multiprocessing::Error>(())
    /// ```
    pub fn get(&self, index: usize) -> T {
        self.check(index);
        load(&self.block, index)
    }

    /// Sets element `index` (Python's `arr[index] = value`).
    ///
    /// # Panics
    /// If `index >= len()`.
    ///
    /// # Examples
    ///
    /// ```
    /// let arr = multiprocessing::RawArray::new(&[10i16, 20])?;
    /// arr.set(0, 11);
    /// assert_eq!(arr.to_vec(), [11, 20]);
    /// # Ok::<(), multiprocessing::Error>(())
    /// ```
    pub fn set(&self, index: usize, value: T) {
        self.check(index);
        store(&self.block, index, value);
    }

    /// A copy of the elements in `range` (Python's `arr[a:b]`).
    ///
    /// # Panics
    /// If the range does not lie within the array.
    ///
    /// # Examples
    ///
    /// ```
    /// let arr = multiprocessing::RawArray::new(&[0u32, 1, 2, 3])?;
    /// assert_eq!(arr.slice(1..3), [1, 2]);
    /// assert_eq!(arr.slice(2..), [2, 3]);
    /// # Ok::<(), multiprocessing::Error>(())
    /// ```
    pub fn slice(&self, range: impl RangeBounds<usize>) -> Vec<T> {
        let (start, end) = self.bounds(range);
        (start..end).map(|i| load(&self.block, i)).collect()
    }

    /// Overwrites the elements from `start` with `items` (Python's `arr[a:b] = items`, where
    /// the lengths must match).
    ///
    /// # Panics
    /// If `start + items.len()` exceeds the array.
    ///
    /// # Examples
    ///
    /// ```
    /// let arr = multiprocessing::RawArray::<i32>::zeroed(4)?;
    /// arr.set_slice(1, &[7, 8]);
    /// assert_eq!(arr.to_vec(), [0, 7, 8, 0]);
    /// # Ok::<(), multiprocessing::Error>(())
    /// ```
    pub fn set_slice(&self, start: usize, items: &[T]) {
        let end = start.checked_add(items.len()).filter(|&e| e <= self.len);
        assert!(
            end.is_some(),
            "slice {start}..{} out of range for an array of len {}",
            start + items.len(),
            self.len
        );
        for (i, &item) in items.iter().enumerate() {
            store(&self.block, start + i, item);
        }
    }

    /// The elements, one by one (each read when the iterator reaches it).
    ///
    /// # Examples
    ///
    /// ```
    /// let arr = multiprocessing::RawArray::new(&[1i64, 2, 3])?;
    /// assert_eq!(arr.iter().sum::<i64>(), 6);
    /// # Ok::<(), multiprocessing::Error>(())
    /// ```
    pub fn iter(&self) -> impl ExactSizeIterator<Item = T> + '_ {
        (0..self.len).map(|i| load(&self.block, i))
    }

    /// A copy of all elements (Python's `list(arr)` or `arr[:]`).
    ///
    /// # Examples
    ///
    /// ```
    /// let arr = multiprocessing::RawArray::new(&[1u8, 2])?;
    /// assert_eq!(arr.to_vec(), vec![1, 2]);
    /// # Ok::<(), multiprocessing::Error>(())
    /// ```
    pub fn to_vec(&self) -> Vec<T> {
        self.iter().collect()
    }

    fn bounds(&self, range: impl RangeBounds<usize>) -> (usize, usize) {
        let start = match range.start_bound() {
            Bound::Included(&s) => s,
            Bound::Excluded(&s) => s + 1,
            Bound::Unbounded => 0,
        };
        let end = match range.end_bound() {
            Bound::Included(&e) => e + 1,
            Bound::Excluded(&e) => e,
            Bound::Unbounded => self.len,
        };
        assert!(
            start <= end && end <= self.len,
            "slice {start}..{end} out of range for an array of len {}",
            self.len
        );
        (start, end)
    }
}

impl<T: Element> fmt::Debug for RawArray<T> {
    /// The elements as a list, `[1, 2, 3]`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

/// A fixed-length array of numbers in shared memory with a lock, like Python's
/// `multiprocessing.Array`.
///
/// Each access takes the lock, as in Python; [`to_vec`](Array::to_vec) and
/// [`slice`](Array::slice) take it once for the whole copy, so the copy is consistent. Hold
/// [`get_lock`](Array::get_lock) around a read-modify-write such as `arr[i] += 1` when other
/// processes write the same element.
///
/// # Examples
///
/// The tutorial's example 5/6:
///
/// ```
/// use multiprocessing::{Array, Process, Value};
///
/// fn increment((val, arr): (Value<i32>, Array<i32>)) {
///     {
///         let _guard = val.get_lock().acquire();
///         val.set(val.get() + 1);
///     }
///     for i in 0..arr.len() {
///         arr.set(i, arr.get(i) + 1);
///     }
/// }
///
/// let counter = Value::new(0)?;
/// let numbers = Array::new(&[0, 1, 2])?;
/// let mut p = Process::new(increment, (counter.clone(), numbers.clone()));
/// p.start()?;
/// p.join()?;
/// println!("共享 Value 示例: {}", counter.get());
/// println!("共享 Array 示例: {:?}", numbers.to_vec()); // [1, 2, 3]
/// # Ok::<(), multiprocessing::Error>(())
/// ```
#[derive(Clone, Serialize, Deserialize)]
#[serde(bound(serialize = "L: Serialize", deserialize = "L: Deserialize<'de>"))]
pub struct Array<T: Element, L: SyncLock = RLock> {
    #[serde(serialize_with = "array_by_inheritance")]
    obj: RawArray<T>,
    lock: L,
}

impl<T: Element> Array<T> {
    /// A new shared array holding a copy of `items`, with a new [`RLock`]
    /// (Python's `Array('i', [0, 1, 2])`).
    ///
    /// # Errors
    /// [`Error::Os`] if shared memory cannot be made.
    ///
    /// # Examples
    ///
    /// ```
    /// let arr = multiprocessing::Array::new(&[0i32, 1, 2])?;
    /// assert_eq!(arr.len(), 3);
    /// # Ok::<(), multiprocessing::Error>(())
    /// ```
    pub fn new(items: &[T]) -> Result<Array<T>> {
        Array::with_lock(items, RLock::new()?)
    }

    /// A new shared array of `len` zeros with a new [`RLock`] (Python's `Array('i', len)`).
    ///
    /// # Errors
    /// [`Error::Os`] if shared memory cannot be made.
    ///
    /// # Examples
    ///
    /// ```
    /// let arr = multiprocessing::Array::<f64>::zeroed(2)?;
    /// assert_eq!(arr.to_vec(), [0.0, 0.0]);
    /// # Ok::<(), multiprocessing::Error>(())
    /// ```
    pub fn zeroed(len: usize) -> Result<Array<T>> {
        Ok(Array {
            obj: RawArray::zeroed(len)?,
            lock: RLock::new()?,
        })
    }
}

impl<T: Element, L: SyncLock> Array<T, L> {
    /// A new shared array holding a copy of `items`, guarded by `lock`.
    ///
    /// # Errors
    /// [`Error::Os`] if shared memory cannot be made.
    ///
    /// # Examples
    ///
    /// ```
    /// use multiprocessing::{Array, Lock};
    ///
    /// let arr = Array::with_lock(&[1u8, 2], Lock::new()?)?;
    /// assert_eq!(arr.to_vec(), [1, 2]);
    /// # Ok::<(), multiprocessing::Error>(())
    /// ```
    pub fn with_lock(items: &[T], lock: L) -> Result<Array<T, L>> {
        Ok(Array {
            obj: RawArray::new(items)?,
            lock,
        })
    }

    /// The lock that guards the array (Python's `get_lock()`).
    ///
    /// # Examples
    ///
    /// ```
    /// let arr = multiprocessing::Array::new(&[1i32])?;
    /// {
    ///     let _guard = arr.get_lock().acquire();
    ///     arr.set(0, arr.get(0) + 1);
    /// }
    /// assert_eq!(arr.get(0), 2);
    /// # Ok::<(), multiprocessing::Error>(())
    /// ```
    pub fn get_lock(&self) -> &L {
        &self.lock
    }

    /// The array without its lock (Python's `get_obj()`).
    ///
    /// # Examples
    ///
    /// ```
    /// let arr = multiprocessing::Array::new(&[4u16])?;
    /// assert_eq!(arr.get_obj().get(0), 4);
    /// # Ok::<(), multiprocessing::Error>(())
    /// ```
    pub fn get_obj(&self) -> &RawArray<T> {
        &self.obj
    }

    /// The number of elements.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(multiprocessing::Array::new(&[1u8, 2])?.len(), 2);
    /// # Ok::<(), multiprocessing::Error>(())
    /// ```
    pub fn len(&self) -> usize {
        self.obj.len()
    }

    /// Whether the array has no elements.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(!multiprocessing::Array::new(&[1u8])?.is_empty());
    /// # Ok::<(), multiprocessing::Error>(())
    /// ```
    pub fn is_empty(&self) -> bool {
        self.obj.is_empty()
    }

    /// Element `index`, read under the lock.
    ///
    /// # Panics
    /// If `index >= len()`.
    ///
    /// # Examples
    ///
    /// ```
    /// let arr = multiprocessing::Array::new(&[5i32, 6])?;
    /// assert_eq!(arr.get(0), 5);
    /// # Ok::<(), multiprocessing::Error>(())
    /// ```
    pub fn get(&self, index: usize) -> T {
        locked(&self.lock, || self.obj.get(index))
    }

    /// Sets element `index` under the lock.
    ///
    /// # Panics
    /// If `index >= len()`.
    ///
    /// # Examples
    ///
    /// ```
    /// let arr = multiprocessing::Array::new(&[5i32, 6])?;
    /// arr.set(1, 7);
    /// assert_eq!(arr.to_vec(), [5, 7]);
    /// # Ok::<(), multiprocessing::Error>(())
    /// ```
    pub fn set(&self, index: usize, value: T) {
        locked(&self.lock, || self.obj.set(index, value));
    }

    /// A copy of the elements in `range`, taken under the lock.
    ///
    /// # Panics
    /// If the range does not lie within the array.
    ///
    /// # Examples
    ///
    /// ```
    /// let arr = multiprocessing::Array::new(&[1u8, 2, 3])?;
    /// assert_eq!(arr.slice(..2), [1, 2]);
    /// # Ok::<(), multiprocessing::Error>(())
    /// ```
    pub fn slice(&self, range: impl RangeBounds<usize>) -> Vec<T> {
        locked(&self.lock, || self.obj.slice(range))
    }

    /// Overwrites the elements from `start` with `items`, under the lock.
    ///
    /// # Panics
    /// If `start + items.len()` exceeds the array.
    ///
    /// # Examples
    ///
    /// ```
    /// let arr = multiprocessing::Array::<u8>::zeroed(3)?;
    /// arr.set_slice(0, &[1, 2]);
    /// assert_eq!(arr.to_vec(), [1, 2, 0]);
    /// # Ok::<(), multiprocessing::Error>(())
    /// ```
    pub fn set_slice(&self, start: usize, items: &[T]) {
        locked(&self.lock, || self.obj.set_slice(start, items));
    }

    /// A copy of all elements, taken under the lock (Python's `list(arr)`).
    ///
    /// # Examples
    ///
    /// ```
    /// let arr = multiprocessing::Array::new(&[1i32, 2, 3, 4])?;
    /// assert_eq!(arr.to_vec(), [1, 2, 3, 4]);
    /// # Ok::<(), multiprocessing::Error>(())
    /// ```
    pub fn to_vec(&self) -> Vec<T> {
        locked(&self.lock, || self.obj.to_vec())
    }

    /// The elements, one by one, each read under the lock as the iterator reaches it (as
    /// Python's `for x in arr`). Use [`to_vec`](Array::to_vec) for a consistent copy.
    ///
    /// # Examples
    ///
    /// ```
    /// let arr = multiprocessing::Array::new(&[1i32, 2, 3])?;
    /// assert_eq!(arr.iter().max(), Some(3));
    /// # Ok::<(), multiprocessing::Error>(())
    /// ```
    pub fn iter(&self) -> impl ExactSizeIterator<Item = T> + '_ {
        (0..self.len()).map(|i| self.get(i))
    }
}

impl<T: Element, L: SyncLock> fmt::Debug for Array<T, L> {
    /// The elements as a list, `[1, 2, 3]`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.obj, f)
    }
}

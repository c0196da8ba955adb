//! Numbers and arrays in shared memory: [`Value`], [`Array`], [`RawValue`], [`RawArray`], after
//! CPython's `multiprocessing/sharedctypes.py`.
//!
//! The memory is `MAP_SHARED` (see [`crate::heap`]): a child that receives a `Value` or an
//! `Array` as its [`Process`](crate::Process) argument writes the very bytes its parent reads.
//!
//! The element types and their Python typecodes are listed on [`Element`]; why a
//! read-modify-write needs the lock is shown on [`Value`].
//!
//! Reading or writing one element is always whole (never torn): elements are accessed with
//! atomic loads and stores, so even the raw types are free of data races in Rust's sense.
//!
//! # Differences from Python
//! - `val.value` is [`Value::get`] / [`Value::set`]; `arr[i]` is [`Array::get`] /
//!   [`Array::set`]; `list(arr)` is [`Array::to_vec`]; `arr[a:b]` is [`Array::slice`].
//! - `Value('i', 0, lock=False)` is [`RawValue::new`]; `lock=some_lock` is
//!   [`Value::with_lock`]. A caller-supplied [`Lock`](crate::Lock) does not deadlock `get`/`set` inside
//!   `get_lock()` as it does in Python: an access by the thread that holds the lock does not
//!   take it again.

use std::fmt;
use std::marker::PhantomData;
use std::ops::{Bound, RangeBounds};
use std::sync::atomic::Ordering;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::heap::SharedBlock;
use crate::synchronize::{RLock, SyncLock};

/// A plain number that can live in shared memory: `i8`, `u8`, `i16`, `u16`, `i32`, `u32`,
/// `i64`, `u64`, `f32` or `f64`. The trait is sealed: these are all.
///
/// # Python's typecodes
/// Python names the element type with a `ctypes`/`array` typecode; here it is the Rust type:
///
/// | Python typecode | C type | Rust type |
/// |---|---|---|
/// | `'b'` | `signed char` | `i8` |
/// | `'B'` | `unsigned char` | `u8` |
/// | `'c'` | `char` | `u8` |
/// | `'h'` | `short` | `i16` |
/// | `'H'` | `unsigned short` | `u16` |
/// | `'i'` | `int` | `i32` |
/// | `'I'` | `unsigned int` | `u32` |
/// | `'l'` | `long` | `i64` |
/// | `'L'` | `unsigned long` | `u64` |
/// | `'q'` | `long long` | `i64` |
/// | `'Q'` | `unsigned long long` | `u64` |
/// | `'f'` | `float` | `f32` |
/// | `'d'` | `double` | `f64` |
///
/// # Examples
///
/// ```
/// use multiprocessing::Value;
///
/// let i = Value::new(0i32)?; // Value('i', 0)
/// let d = Value::new(0.0f64)?; // Value('d', 0.0)
/// let c = Value::new(b'x')?; // Value('c', b'x')
/// assert_eq!((i.get(), d.get(), c.get()), (0, 0.0, b'x'));
/// # Ok::<(), multiprocessing::Error>(())
/// ```
pub trait Element: private::Sealed + Copy + PartialEq + fmt::Debug + 'static {}

mod private {
    /// How an [`super::Element`] is stored: its size, and its bits as a `u64`.
    pub trait Sealed {
        /// Size in bytes: 1, 2, 4 or 8.
        const SIZE: usize;
        /// The element's bits, zero-extended.
        fn to_bits(self) -> u64;
        /// The element from its bits (the low `SIZE` bytes).
        fn from_bits(bits: u64) -> Self;
    }
}

macro_rules! int_element {
    ($($t:ty => $u:ty),*) => ($(
        impl private::Sealed for $t {
            const SIZE: usize = std::mem::size_of::<$t>();
            #[allow(clippy::cast_sign_loss, clippy::cast_lossless, reason = "a bit-for-bit reinterpretation")]
            fn to_bits(self) -> u64 { self as $u as u64 }
            #[allow(clippy::cast_possible_truncation, clippy::cast_possible_wrap, reason = "a bit-for-bit reinterpretation")]
            fn from_bits(bits: u64) -> Self { bits as $u as $t }
        }
        impl Element for $t {}
    )*)
}
int_element!(i8 => u8, u8 => u8, i16 => u16, u16 => u16, i32 => u32, u32 => u32, i64 => u64, u64 => u64);

impl private::Sealed for f32 {
    const SIZE: usize = 4;
    fn to_bits(self) -> u64 {
        u64::from(f32::to_bits(self))
    }
    #[allow(clippy::cast_possible_truncation, reason = "the low 32 bits are the float")]
    fn from_bits(bits: u64) -> Self {
        f32::from_bits(bits as u32)
    }
}
impl Element for f32 {}

impl private::Sealed for f64 {
    const SIZE: usize = 8;
    fn to_bits(self) -> u64 {
        f64::to_bits(self)
    }
    fn from_bits(bits: u64) -> Self {
        f64::from_bits(bits)
    }
}
impl Element for f64 {}

/// Loads element `index` of type `T` from `block`, atomically.
fn load<T: Element>(block: &SharedBlock, index: usize) -> T {
    let offset = index * T::SIZE;
    let bits = match T::SIZE {
        1 => u64::from(block.atomic_u8(offset).load(Ordering::Relaxed)),
        2 => u64::from(block.atomic_u16(offset).load(Ordering::Relaxed)),
        4 => u64::from(block.atomic_u32(offset).load(Ordering::Relaxed)),
        _ => block.atomic_u64(offset).load(Ordering::Relaxed),
    };
    T::from_bits(bits)
}

/// Stores `value` as element `index` of `block`, atomically.
#[allow(clippy::cast_possible_truncation, reason = "the element's bits fit its size")]
fn store<T: Element>(block: &SharedBlock, index: usize, value: T) {
    let offset = index * T::SIZE;
    let bits = value.to_bits();
    match T::SIZE {
        1 => block.atomic_u8(offset).store(bits as u8, Ordering::Relaxed),
        2 => block.atomic_u16(offset).store(bits as u16, Ordering::Relaxed),
        4 => block.atomic_u32(offset).store(bits as u32, Ordering::Relaxed),
        _ => block.atomic_u64(offset).store(bits, Ordering::Relaxed),
    }
}

/// Runs `f` holding `lock`, unless the calling thread holds it already (then it is either
/// re-entered, for an RLock, or would deadlock, for a Lock: in both cases `f` may just run).
fn locked<L: SyncLock, R>(lock: &L, f: impl FnOnce() -> R) -> R {
    if lock.is_owned() {
        return f();
    }
    /// Releases on drop, so that a panic inside `f` (an index out of range) frees the lock.
    struct Release<'a, L: SyncLock>(&'a L);
    impl<L: SyncLock> Drop for Release<'_, L> {
        fn drop(&mut self) {
            let _ = self.0.raw_release();
        }
    }
    let _ = lock.raw_acquire(None);
    let _release = Release(lock);
    f()
}

// ---------------------------------------------------------------------------------------------
// RawValue and Value
// ---------------------------------------------------------------------------------------------

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

// ---------------------------------------------------------------------------------------------
// RawArray and Array
// ---------------------------------------------------------------------------------------------

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

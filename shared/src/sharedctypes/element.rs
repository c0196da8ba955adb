//! [`Element`]: the plain numbers that can live in shared memory, with Python's typecodes, and
//! how one is loaded and stored whole (atomically).

use std::fmt;
use std::sync::atomic::Ordering;

use crate::heap::SharedBlock;

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
#[inline]
pub(super) fn load<T: Element>(block: &SharedBlock, index: usize) -> T {
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
#[inline]
#[allow(clippy::cast_possible_truncation, reason = "the element's bits fit its size")]
pub(super) fn store<T: Element>(block: &SharedBlock, index: usize, value: T) {
    let offset = index * T::SIZE;
    let bits = value.to_bits();
    match T::SIZE {
        1 => block.atomic_u8(offset).store(bits as u8, Ordering::Relaxed),
        2 => block.atomic_u16(offset).store(bits as u16, Ordering::Relaxed),
        4 => block.atomic_u32(offset).store(bits as u32, Ordering::Relaxed),
        _ => block.atomic_u64(offset).store(bits, Ordering::Relaxed),
    }
}

//! [`QueueItem`]: what `put` takes for a `Queue<T>`: a `T`, a borrowed `T`, or a borrowed form
//! that serializes exactly as a `T` does, so `q.put("hi")` works on a `Queue<String>`.

use std::borrow::Cow;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::Arc;

use serde::Serialize;

mod sealed {
    /// Only the forms listed in this module: each must serialize exactly as a `T`.
    pub trait Sealed<T> {}
}

/// A value [`Queue::put`](super::Queue::put) accepts for a `Queue<T>`: a `T` or a reference to
/// one (also in a `Box`, `Rc`, `Arc` or `Cow`), or a borrowed form that the codec encodes byte
/// for byte as it encodes a `T`, so nothing needs to be built just to be sent:
///
/// | queue | also accepts |
/// |---|---|
/// | `Queue<String>` | `&str` |
/// | `Queue<Vec<U>>` | `&[U]`, `[U; N]`, `&[U; N]` |
/// | `Queue<PathBuf>` | `&Path` |
///
/// The trait is sealed: every form in it is checked to encode as its `T` does.
///
/// # Examples
///
/// ```
/// use multiprocessing::Queue;
///
/// let names: Queue<String> = Queue::new(0)?;
/// names.put("hi")?;
/// names.put(String::from("there"))?;
/// assert_eq!(names.get()?, "hi");
/// assert_eq!(names.get()?, "there");
///
/// let rows: Queue<Vec<u32>> = Queue::new(0)?;
/// rows.put([1, 2, 3])?;
/// rows.put(&[4, 5][..])?;
/// assert_eq!(rows.get()?, [1, 2, 3]);
/// assert_eq!(rows.get()?, [4, 5]);
/// # Ok::<(), multiprocessing::Error>(())
/// ```
pub trait QueueItem<T>: sealed::Sealed<T> {
    /// What is encoded in the place of a `T`.
    #[doc(hidden)]
    type Form: Serialize + ?Sized;

    /// The value, as it is encoded.
    #[doc(hidden)]
    fn form(&self) -> &Self::Form;
}

/// `impl QueueItem<$t> for $item` (generic over `$g`), encoded as the `$form` that `$get` gives.
macro_rules! queue_item {
    ($([$($g:tt)*] $item:ty => $t:ty as $form:ty, |$it:ident| $get:expr;)*) => {$(
        impl<$($g)*> sealed::Sealed<$t> for $item {}
        impl<$($g)*> QueueItem<$t> for $item {
            type Form = $form;
            fn form(&self) -> &$form {
                let $it = self;
                $get
            }
        }
    )*};
}

queue_item! {
    [T: Serialize] T => T as T, |it| it;
    ['a, T: Serialize] &'a T => T as T, |it| it;
    ['a, T: Serialize] &'a mut T => T as T, |it| it;
    [T: Serialize] Box<T> => T as T, |it| it;
    [T: Serialize] Rc<T> => T as T, |it| it;
    [T: Serialize] Arc<T> => T as T, |it| it;
    ['a, T: Serialize + Clone] Cow<'a, T> => T as T, |it| it;
    ['a] &'a str => String as str, |it| it;
    ['a, U: Serialize] &'a [U] => Vec<U> as [U], |it| it;
    [U: Serialize, const N: usize] [U; N] => Vec<U> as [U], |it| it.as_slice();
    ['a, U: Serialize, const N: usize] &'a [U; N] => Vec<U> as [U], |it| it.as_slice();
    ['a] &'a Path => PathBuf as Path, |it| it;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::encode;

    fn same<T: Serialize, I: QueueItem<T>>(owned: T, borrowed: I) {
        assert_eq!(encode(&owned).unwrap(), encode(borrowed.form()).unwrap());
    }

    /// Each borrowed form encodes byte for byte as the owned value does: an array, for one,
    /// must go as a slice (serde writes `[U; N]` as a tuple, without its length).
    #[test]
    fn every_form_encodes_as_its_type() {
        same(String::from("hi"), "hi");
        same(vec![1u32, 2, 3], &[1u32, 2, 3][..]);
        let array = [1u32, 2, 3];
        let array_ref: &[u32; 3] = &array;
        same(vec![1u32, 2, 3], array_ref);
        same(vec![1u32, 2, 3], array);
        same(Vec::<u8>::new(), [0u8; 0]);
        same(PathBuf::from("/tmp/x"), Path::new("/tmp/x"));
        same(7u64, Box::new(7u64));
        same(7u64, Cow::Owned::<u64>(7));
    }
}

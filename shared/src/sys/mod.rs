//! Every raw operating-system call of the crate, one file per C header family (as nix does).
//!
//! The rest of the crate calls these safe wrappers and never `libc` directly. Each wrapper
//! passes the C return code through [`cvt`], which turns `-1` into the `errno` as an
//! [`io::Error`].

use std::io;

pub(crate) mod fcntl;
pub(crate) mod futex;
pub(crate) mod mman;
pub(crate) mod poll;
pub(crate) mod scm;
pub(crate) mod signal;
pub(crate) mod socket;
pub(crate) mod stdlib;
pub(crate) mod unistd;
pub(crate) mod wait;

/// Integer return codes of C calls, where `-1` means "look at `errno`".
pub(crate) trait IsMinusOne: Copy {
    /// Whether this return code is the error marker `-1`.
    fn is_minus_one(self) -> bool;
}

macro_rules! impl_is_minus_one {
    ($($t:ty)*) => ($(impl IsMinusOne for $t {
        fn is_minus_one(self) -> bool { self == -1 }
    })*)
}
impl_is_minus_one! { i32 i64 isize }

/// Turns a C return code into a `Result`: `-1` becomes the current `errno`.
pub(crate) fn cvt<T: IsMinusOne>(ret: T) -> io::Result<T> {
    if ret.is_minus_one() {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

/// Runs `f` again while it fails with `EINTR`.
pub(crate) fn retry_eintr<T>(mut f: impl FnMut() -> io::Result<T>) -> io::Result<T> {
    loop {
        match f() {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            other => return other,
        }
    }
}

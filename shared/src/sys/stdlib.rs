//! `<stdlib.h>`: handlers that run at a normal process exit.
#![expect(unsafe_code, reason = "atexit, which nix does not wrap")]

use std::io;

/// Registers `handler` to run when the process calls `exit` (which Rust's `main` does when it
/// returns), after Rust's own `main` has finished.
pub(crate) fn atexit(handler: extern "C" fn()) -> io::Result<()> {
    // SAFETY: `handler` is a plain function that lives for the whole program.
    let rc = unsafe { libc::atexit(handler) };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::other("atexit: no room for another handler"))
    }
}

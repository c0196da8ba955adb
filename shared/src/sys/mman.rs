//! `<sys/mman.h>`: anonymous memory-backed files (`memfd_create`).
//!
//! Shared memory itself is mapped by [`crate::heap`] through memmap2; what is left here is the
//! one memfd call the `spawn` start path makes for a child's payload, through nix's safe
//! wrapper.

use std::ffi::CStr;
use std::io;
use std::os::fd::OwnedFd;

use nix::sys::memfd::{MFdFlags, memfd_create as nix_memfd_create};

/// Creates an anonymous memory-backed file of size zero, named `name` in `/proc/self/maps`
/// (as `/memfd:<name> (deleted)`). The descriptor is close-on-exec: a program started with
/// `std::process::Command` does not inherit it by accident.
pub(crate) fn memfd_create(name: &CStr) -> io::Result<OwnedFd> {
    nix_memfd_create(name, MFdFlags::MFD_CLOEXEC).map_err(io::Error::from)
}

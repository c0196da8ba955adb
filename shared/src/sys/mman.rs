//! `<sys/mman.h>`: anonymous files (`memfd_create`) and shared mappings (`mmap(MAP_SHARED)`).
//!
//! Memory that a forked child and its parent both write must be mapped `MAP_SHARED`; an
//! anonymous private mapping (memmap2's `map_anon`) is copied on write at fork, so a child's
//! writes would be invisible to the parent. We map a memfd rather than `MAP_ANONYMOUS` memory
//! because a descriptor can be handed to a process that did not fork from us (the `spawn`
//! start method), and because the kernel keys process-shared futexes on a file's pages.

use std::ffi::CStr;
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd};
use std::ptr::NonNull;

use super::cvt;

/// Creates an anonymous memory-backed file of size zero, named `name` in `/proc/self/maps`
/// (as `/memfd:<name> (deleted)`). The descriptor is close-on-exec: a program started with
/// `std::process::Command` does not inherit our shared memory by accident.
pub(crate) fn memfd_create(name: &CStr) -> io::Result<OwnedFd> {
    // SAFETY: `name` is a valid NUL-terminated string for the duration of the call.
    let fd = cvt(unsafe { libc::memfd_create(name.as_ptr(), libc::MFD_CLOEXEC) })?;
    // SAFETY: the kernel just returned this descriptor and nothing else owns it.
    Ok(unsafe { super::unistd::owned(fd) })
}

/// Sets the size of the file behind `fd`; new bytes read as zero.
pub(crate) fn ftruncate(fd: BorrowedFd<'_>, len: usize) -> io::Result<()> {
    let len = libc::off_t::try_from(len).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    // SAFETY: ftruncate only takes integers; a bad descriptor is reported as EBADF.
    cvt(unsafe { libc::ftruncate(fd.as_raw_fd(), len) }).map(drop)
}

/// The identity of a file (its device and inode numbers) and its size, from `fstat`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct FileId {
    /// The device the file lives on.
    pub(crate) dev: u64,
    /// The file's inode number on that device.
    pub(crate) ino: u64,
    /// The file's size in bytes.
    pub(crate) size: usize,
}

/// The identity and size of the file behind `fd`.
pub(crate) fn file_id(fd: BorrowedFd<'_>) -> io::Result<FileId> {
    let mut st = std::mem::MaybeUninit::<libc::stat>::uninit();
    // SAFETY: `st` is valid, writable memory for one `struct stat`.
    cvt(unsafe { libc::fstat(fd.as_raw_fd(), st.as_mut_ptr()) })?;
    // SAFETY: fstat succeeded, so it filled in `st`.
    let st = unsafe { st.assume_init() };
    let size = usize::try_from(st.st_size).map_err(|_| io::Error::other("file size out of range"))?;
    Ok(FileId {
        dev: st.st_dev,
        ino: st.st_ino,
        size,
    })
}

/// Maps `len` bytes of `fd`, from offset 0, readable, writable and shared with every other
/// process that maps the same file (including children forked later, which inherit the
/// mapping).
pub(crate) fn mmap_shared(fd: BorrowedFd<'_>, len: usize) -> io::Result<NonNull<u8>> {
    // SAFETY: a fresh mapping at an address the kernel chooses cannot alias memory Rust owns;
    // the arguments are plain integers and the descriptor is open for the call.
    let ptr = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            len,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_SHARED,
            fd.as_raw_fd(),
            0,
        )
    };
    if ptr == libc::MAP_FAILED {
        return Err(io::Error::last_os_error());
    }
    NonNull::new(ptr.cast::<u8>()).ok_or_else(|| io::Error::other("mmap returned a null mapping"))
}

/// Removes a mapping made by [`mmap_shared`].
///
/// # Safety
/// `ptr` and `len` must be exactly a mapping returned by [`mmap_shared`] that is not yet
/// unmapped, and no reference into it may be used afterwards.
pub(crate) unsafe fn munmap(ptr: NonNull<u8>, len: usize) -> io::Result<()> {
    // SAFETY: the caller guarantees that this is a live mapping nobody will touch again.
    cvt(unsafe { libc::munmap(ptr.as_ptr().cast(), len) }).map(drop)
}

/// The system's page size.
pub(crate) fn page_size() -> usize {
    // SAFETY: sysconf takes an integer name and has no other preconditions.
    let n = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    usize::try_from(n).ok().filter(|&n| n > 0).unwrap_or(4096)
}

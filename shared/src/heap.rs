//! Shared memory for the runtime's objects, after CPython's `multiprocessing/heap.py`.
//!
//! Every process-shared object (a [`Lock`](crate::Lock)'s word, a [`Value`](crate::Value)'s
//! bytes, a queue's counters) lives in a [`SharedBlock`]: a few bytes of a *segment*, which is
//! a memfd mapped `MAP_SHARED`. A forked child inherits the mapping, so parent and child read
//! and write the same physical memory.
//!
//! # Design
//! - **Small blocks share a segment.** A segment of [`ARENA_SIZE`] bytes (an "arena", as
//!   CPython calls it) is carved by a bump allocator into blocks aligned to [`ALIGN`] bytes, so
//!   a hundred locks cost one descriptor and four pages, not a hundred of each. A block larger
//!   than [`LARGE`] gets a segment of its own, rounded up to whole pages.
//! - **A segment is released when its last block is dropped.** Blocks hold the segment by
//!   `Arc`; the allocator only holds a `Weak` to the arena it is filling, so it keeps nothing
//!   alive. Space freed inside a live arena is not reused (the price of a bump allocator): an
//!   arena is reclaimed whole. This also means every new block starts zeroed.
//! - **After a fork, the child starts a new arena.** The child inherits the parent's allocator
//!   state, and if both went on carving the same arena they would hand out the same bytes
//!   twice. CPython's `Heap` checks `os.getpid()` for this; so do we.
//! - **Each process unmaps its own mapping.** A forked child has its own copy of each `Arc`
//!   and of each mapping; dropping them in the child does not affect the parent.
//!
//! # Serialization
//! A block serializes as the segment's descriptor number, its file identity (device and inode)
//! and size, and the block's offset and length. This is for the `spawn` start method, where a
//! fresh process inherits the descriptor (issue 7); under `fork` serde is never called. To
//! deserialize, a process that already maps the segment (found by its file identity) reuses
//! its mapping; otherwise it duplicates the inherited descriptor (checking that it is the same
//! file, so a stale or unrelated number is an error, not a silent mix-up) and maps it.
#![allow(
    unsafe_code,
    reason = "shared memory is raw memory: typed atomic views into a mapping"
)]

use std::collections::BTreeMap;
use std::ffi::CStr;
use std::fmt;
use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU16, AtomicU32, AtomicU64, AtomicU8};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::{Error, Result};
use crate::sys::{fcntl, mman, unistd};

/// The alignment of every block: enough for an `AtomicU64` or an `f64`.
pub(crate) const ALIGN: usize = 8;
/// The size of an arena that small blocks share (four pages on most machines).
pub(crate) const ARENA_SIZE: usize = 16 * 1024;
/// Blocks larger than this get a segment of their own.
pub(crate) const LARGE: usize = 2048;
/// The name our segments carry in `/proc/<pid>/maps` (`/memfd:mp-heap (deleted)`).
pub(crate) const SEGMENT_NAME: &CStr = c"mp-heap";

/// One memfd and this process's mapping of all of it.
struct Segment {
    fd: OwnedFd,
    ptr: NonNull<u8>,
    len: usize,
    /// The file's (device, inode): the same in every process that maps it.
    id: (u64, u64),
}

// SAFETY: the mapping is plain memory that every process and thread may access; all access
// through `SharedBlock` is atomic, or raw through `as_ptr` under the caller's own protocol.
unsafe impl Send for Segment {}
// SAFETY: as above; `&Segment` offers no unsynchronized mutation.
unsafe impl Sync for Segment {}

impl Segment {
    /// A new zero-filled segment of `len` bytes.
    fn create(len: usize) -> Result<Arc<Segment>> {
        let fd =
            mman::memfd_create(SEGMENT_NAME).map_err(|e| Error::os("memfd_create for shared memory", e))?;
        mman::ftruncate(fd.as_fd(), len)
            .map_err(|e| Error::os(format!("sizing a shared memory segment to {len} bytes"), e))?;
        Segment::map(fd, len)
    }

    /// Maps all `len` bytes of `fd` and registers the segment under its file identity.
    fn map(fd: OwnedFd, len: usize) -> Result<Arc<Segment>> {
        let id = mman::file_id(fd.as_fd()).map_err(|e| Error::os("fstat of a shared memory segment", e))?;
        let ptr = mman::mmap_shared(fd.as_fd(), len)
            .map_err(|e| Error::os(format!("mmap of a {len}-byte shared memory segment"), e))?;
        let segment = Arc::new(Segment {
            fd,
            ptr,
            len,
            id: (id.dev, id.ino),
        });
        lock(&REGISTRY).insert(segment.id, Arc::downgrade(&segment));
        Ok(segment)
    }
}

impl Drop for Segment {
    fn drop(&mut self) {
        {
            let mut registry = lock(&REGISTRY);
            // Another mapping of the same file may have replaced our entry; keep a live one.
            if registry.get(&self.id).is_some_and(|w| w.strong_count() == 0) {
                registry.remove(&self.id);
            }
        }
        // SAFETY: `ptr`/`len` are the mapping made in `Segment::map`; this is its only unmap,
        // and no block (hence no reference into it) outlives the segment's last `Arc`.
        let _ = unsafe { mman::munmap(self.ptr, self.len) };
        // The descriptor closes when `fd` drops.
    }
}

/// Segments this process maps, by file identity, so that deserializing a block of a segment
/// we already map reuses the mapping.
static REGISTRY: Mutex<BTreeMap<(u64, u64), Weak<Segment>>> = Mutex::new(BTreeMap::new());

/// The allocator's state: the arena it is filling and how much of it is used.
struct Heap {
    /// The process that owns this state; another pid means we are a forked child.
    pid: libc::pid_t,
    arena: Weak<Segment>,
    next: usize,
}

static HEAP: Mutex<Heap> = Mutex::new(Heap {
    pid: 0,
    arena: Weak::new(),
    next: 0,
});

/// Locks a runtime mutex; a panic elsewhere while it was held leaves data we can still use.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A zero-initialised piece of memory shared with every process forked after it was made.
///
/// Clones refer to the same bytes. The memory stays mapped in this process while any clone
/// lives. Accessors take byte offsets relative to the start of the block.
#[derive(Clone)]
pub(crate) struct SharedBlock {
    segment: Arc<Segment>,
    offset: usize,
    len: usize,
}

impl SharedBlock {
    /// A new zeroed block of `len` bytes (at least one), aligned to [`ALIGN`].
    pub(crate) fn new(len: usize) -> Result<SharedBlock> {
        let size = len.max(1).next_multiple_of(ALIGN);
        if size > LARGE {
            let segment = Segment::create(size.next_multiple_of(mman::page_size()))?;
            return Ok(SharedBlock {
                segment,
                offset: 0,
                len,
            });
        }
        let mut heap = lock(&HEAP);
        let pid = unistd::getpid();
        if heap.pid != pid {
            // A forked child: never carve the arena the parent is carving too.
            *heap = Heap {
                pid,
                arena: Weak::new(),
                next: 0,
            };
        }
        if let Some(segment) = heap.arena.upgrade() {
            if heap.next + size <= segment.len {
                let offset = heap.next;
                heap.next += size;
                return Ok(SharedBlock { segment, offset, len });
            }
        }
        let segment = Segment::create(ARENA_SIZE)?;
        heap.arena = Arc::downgrade(&segment);
        heap.next = size;
        Ok(SharedBlock {
            segment,
            offset: 0,
            len,
        })
    }

    /// The block's length in bytes, as asked for.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// A pointer to the block's first byte, for callers that copy bytes in and out under a
    /// protocol of their own (e.g. holding a lock). Valid while `self` lives.
    pub(crate) fn as_ptr(&self) -> *mut u8 {
        // In bounds: `offset + len` lies within the segment by construction.
        self.segment.ptr.as_ptr().wrapping_add(self.offset)
    }

    /// The address of `size` bytes at `offset`, checked for bounds and alignment.
    fn at(&self, offset: usize, size: usize) -> *mut u8 {
        assert!(
            offset.checked_add(size).is_some_and(|end| end <= self.len),
            "shared block access out of range: {size} bytes at offset {offset} of {}",
            self.len
        );
        assert!(
            offset % size == 0,
            "misaligned {size}-byte access at offset {offset}"
        );
        self.segment.ptr.as_ptr().wrapping_add(self.offset + offset)
    }

    /// The byte at `offset`, as an atomic.
    pub(crate) fn atomic_u8(&self, offset: usize) -> &AtomicU8 {
        let ptr = self.at(offset, 1);
        // SAFETY: `at` checked that the byte lies in the block; the mapping lives as long as
        // `self`; all access to shared memory goes through atomics (or the caller's protocol).
        unsafe { AtomicU8::from_ptr(ptr) }
    }

    /// The two bytes at `offset` (a multiple of 2), as an atomic.
    pub(crate) fn atomic_u16(&self, offset: usize) -> &AtomicU16 {
        let ptr = self.at(offset, 2).cast::<u16>();
        // SAFETY: `at` checked bounds and alignment (the block itself is 8-aligned); the
        // mapping lives as long as `self`; access is atomic.
        unsafe { AtomicU16::from_ptr(ptr) }
    }

    /// The four bytes at `offset` (a multiple of 4), as an atomic: e.g. a futex word.
    pub(crate) fn atomic_u32(&self, offset: usize) -> &AtomicU32 {
        let ptr = self.at(offset, 4).cast::<u32>();
        // SAFETY: `at` checked bounds and alignment (the block itself is 8-aligned); the
        // mapping lives as long as `self`; access is atomic.
        unsafe { AtomicU32::from_ptr(ptr) }
    }

    /// The eight bytes at `offset` (a multiple of 8), as an atomic.
    pub(crate) fn atomic_u64(&self, offset: usize) -> &AtomicU64 {
        let ptr = self.at(offset, 8).cast::<u64>();
        // SAFETY: `at` checked bounds and alignment (the block itself is 8-aligned); the
        // mapping lives as long as `self`; access is atomic.
        unsafe { AtomicU64::from_ptr(ptr) }
    }

    /// Copies `buf.len()` bytes at `offset` into `buf`, byte by byte with relaxed atomic loads:
    /// safe under any concurrent writer (which may leave the copy torn; synchronize with a
    /// lock to get a consistent one).
    #[cfg(test)]
    pub(crate) fn load_bytes(&self, offset: usize, buf: &mut [u8]) {
        for (i, b) in buf.iter_mut().enumerate() {
            *b = self
                .atomic_u8(offset + i)
                .load(std::sync::atomic::Ordering::Relaxed);
        }
    }

    /// Copies `buf` to `offset`, byte by byte with relaxed atomic stores (see `load_bytes`).
    #[cfg(test)]
    pub(crate) fn store_bytes(&self, offset: usize, buf: &[u8]) {
        for (i, &b) in buf.iter().enumerate() {
            self.atomic_u8(offset + i)
                .store(b, std::sync::atomic::Ordering::Relaxed);
        }
    }

    /// Whether `self` and `other` are the same bytes of the same segment.
    #[cfg(test)]
    pub(crate) fn same_memory(&self, other: &SharedBlock) -> bool {
        self.segment.id == other.segment.id && self.offset == other.offset
    }

    /// Rebuilds a block from its serialized form (see the module docs).
    fn adopt(wire: Wire) -> std::result::Result<SharedBlock, String> {
        let end = wire
            .offset
            .checked_add(wire.len)
            .filter(|&e| e <= wire.segment_len);
        if end.is_none() {
            return Err(format!(
                "shared block of {} bytes at offset {} does not fit its {}-byte segment",
                wire.len, wire.offset, wire.segment_len
            ));
        }
        let id = (wire.dev, wire.ino);
        let known = lock(&REGISTRY).get(&id).and_then(Weak::upgrade);
        let segment = match known {
            Some(segment) => segment,
            None => {
                let fd = fcntl::dup_cloexec(wire.fd).map_err(|e| {
                    format!(
                        "shared memory descriptor {} is not inherited by this process: {e}",
                        wire.fd
                    )
                })?;
                let found =
                    mman::file_id(fd.as_fd()).map_err(|e| format!("fstat of descriptor {}: {e}", wire.fd))?;
                if (found.dev, found.ino) != id || found.size != wire.segment_len {
                    return Err(format!(
                        "descriptor {} is not the shared memory segment it was sent as (another file, or resized)",
                        wire.fd
                    ));
                }
                Segment::map(fd, wire.segment_len).map_err(|e| e.to_string())?
            }
        };
        if segment.len != wire.segment_len {
            return Err(format!(
                "shared memory segment is {} bytes, expected {}",
                segment.len, wire.segment_len
            ));
        }
        Ok(SharedBlock {
            segment,
            offset: wire.offset,
            len: wire.len,
        })
    }
}

impl fmt::Debug for SharedBlock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "SharedBlock(fd={}, offset={}, len={})",
            self.segment.fd.as_raw_fd(),
            self.offset,
            self.len
        )
    }
}

/// What a [`SharedBlock`] serializes as.
#[derive(Serialize, Deserialize)]
struct Wire {
    fd: RawFd,
    dev: u64,
    ino: u64,
    segment_len: usize,
    offset: usize,
    len: usize,
}

impl Serialize for SharedBlock {
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        // A spawned child must inherit this descriptor at this number.
        crate::spawn::note_fd(self.segment.fd.as_raw_fd());
        Wire {
            fd: self.segment.fd.as_raw_fd(),
            dev: self.segment.id.0,
            ino: self.segment.id.1,
            segment_len: self.segment.len,
            offset: self.offset,
            len: self.len,
        }
        .serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for SharedBlock {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        let wire = Wire::deserialize(deserializer)?;
        SharedBlock::adopt(wire).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::Ordering;

    use super::*;

    /// Whether this process maps a segment at `addr` (other tests run on other threads, so
    /// we look for one mapping rather than count them).
    fn mapped(addr: usize) -> bool {
        let maps = std::fs::read_to_string("/proc/self/maps").unwrap();
        maps.lines()
            .any(|l| l.starts_with(&format!("{addr:x}-")) && l.contains("memfd:mp-heap"))
    }

    #[test]
    fn small_blocks_share_an_arena_and_are_zeroed() {
        let a = SharedBlock::new(4).unwrap();
        let b = SharedBlock::new(12).unwrap();
        assert!(Arc::ptr_eq(&a.segment, &b.segment));
        assert_eq!(b.offset - a.offset, 8);
        assert_eq!(b.atomic_u64(0).load(Ordering::Relaxed), 0);
        a.atomic_u32(0).store(7, Ordering::Relaxed);
        assert_eq!(a.clone().atomic_u32(0).load(Ordering::Relaxed), 7);
        let big = SharedBlock::new(LARGE + 1).unwrap();
        assert!(!Arc::ptr_eq(&a.segment, &big.segment));
        assert_eq!(big.len(), LARGE + 1);
    }

    #[test]
    fn serde_round_trip_reuses_the_mapping() {
        let a = SharedBlock::new(16).unwrap();
        let bytes = crate::codec::encode(&a).unwrap();
        let b: SharedBlock = crate::codec::decode(&bytes).unwrap();
        assert!(a.same_memory(&b));
        b.store_bytes(0, b"hello");
        let mut got = [0; 5];
        a.load_bytes(0, &mut got);
        assert_eq!(&got, b"hello");
    }

    #[test]
    fn dropping_the_last_block_unmaps() {
        let big = SharedBlock::new(LARGE * 4).unwrap();
        let addr = big.as_ptr() as usize;
        assert!(mapped(addr));
        let clone = big.clone();
        drop(big);
        assert!(mapped(addr));
        drop(clone);
        assert!(!mapped(addr));
    }

    #[test]
    #[should_panic(expected = "out of range")]
    fn out_of_range_access_panics() {
        let a = SharedBlock::new(4).unwrap();
        let _ = a.atomic_u32(4);
    }
}

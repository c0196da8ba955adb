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
//! - **The mapping is memmap2's.** A segment is a memfd (made, sized and identified through
//!   nix) mapped by [`MmapRaw`], which maps a file `MAP_SHARED` and unmaps it when dropped.
//!   (memmap2's `map_anon` is `MAP_PRIVATE`: a forked child's writes would not be seen. A
//!   memfd also survives `exec`, for the `spawn` start method, and the kernel keys
//!   process-shared futexes on its pages, whatever address each process maps them at.)
//!
//! # Serialization
//! A block serializes as the segment's descriptor number, its file identity (device and inode)
//! and size, and the block's offset and length. This is for the `spawn` start method, where a
//! fresh process inherits the descriptor (issue 7); under `fork` serde is never called. To
//! deserialize, a process that already maps the segment (found by its file identity) reuses
//! its mapping; otherwise it duplicates the inherited descriptor (checking that it is the same
//! file, so a stale or unrelated number is an error, not a silent mix-up) and maps it.
//!
//! A block serializes *only* into the arguments of a child being started ([`by_inheritance`]),
//! as CPython's `context.assert_spawning`: a descriptor number sent anywhere else (through a
//! `Connection`, a `Queue`, a pool task) means nothing to the receiver, which would use the
//! memory only if it happened to map that segment already. The sender gets an error instead:
//! "Lock objects should only be shared between processes through inheritance".
#![expect(
    unsafe_code,
    reason = "shared memory is raw memory: typed atomic views into a mapping"
)]

use std::collections::BTreeMap;
use std::ffi::CStr;
use std::fmt;
use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicU8, AtomicU16, AtomicU32, AtomicU64};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};

use memmap2::{MmapOptions, MmapRaw};
use nix::sys::memfd::{MFdFlags, memfd_create};
use nix::sys::stat::fstat;
use nix::unistd::{ftruncate, getpid};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::{Error, Result};
use crate::sys::fcntl;

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
    /// The whole file, mapped `MAP_SHARED`; unmapped when the segment drops.
    map: MmapRaw,
    /// The file's (device, inode): the same in every process that maps it.
    id: (u64, u64),
}

/// The identity and size of the file behind `fd`, by `fstat`.
fn file_id(fd: &OwnedFd) -> nix::Result<((u64, u64), usize)> {
    // A file's size is never negative.
    fstat(fd.as_fd()).map(|st| ((st.st_dev, st.st_ino), usize::try_from(st.st_size).unwrap_or(0)))
}

impl Segment {
    /// A new zero-filled segment of `len` bytes. The descriptor is close-on-exec: a program
    /// started with `std::process::Command` does not inherit our shared memory by accident.
    fn create(len: usize) -> Result<Arc<Segment>> {
        let fd = memfd_create(SEGMENT_NAME, MFdFlags::MFD_CLOEXEC)
            .map_err(|e| Error::os("memfd_create: a shared memory segment", e.into()))?;
        let size = libc::off_t::try_from(len)
            .map_err(|_| Error::state(format!("a shared memory segment of {len} bytes is too large")))?;
        ftruncate(&fd, size).map_err(|e| {
            Error::os(
                format!("ftruncate: sizing a shared memory segment to {len} bytes"),
                e.into(),
            )
        })?;
        Segment::map(fd, len)
    }

    /// Maps all `len` bytes of `fd` and registers the segment under its file identity.
    fn map(fd: OwnedFd, len: usize) -> Result<Arc<Segment>> {
        let (id, _) =
            file_id(&fd).map_err(|e| Error::os("fstat: identifying a shared memory segment", e.into()))?;
        let map = MmapOptions::new()
            .len(len)
            .map_raw(&fd)
            .map_err(|e| Error::os(format!("mmap: mapping a {len}-byte shared memory segment"), e))?;
        let segment = Arc::new(Segment { fd, map, id });
        lock(&REGISTRY).insert(segment.id, Arc::downgrade(&segment));
        Ok(segment)
    }

    /// The segment's length in bytes.
    fn len(&self) -> usize {
        self.map.len()
    }
}

impl Drop for Segment {
    fn drop(&mut self) {
        let mut registry = lock(&REGISTRY);
        // Another mapping of the same file may have replaced our entry; keep a live one.
        if registry.get(&self.id).is_some_and(|w| w.strong_count() == 0) {
            registry.remove(&self.id);
        }
        // The mapping is unmapped and the descriptor closed when the fields drop.
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

/// The panic of an out-of-range or misaligned [`SharedBlock`] access (`size` bytes that must
/// be aligned to `align`), out of the inlined path.
#[cold]
#[inline(never)]
#[track_caller]
fn bad_access(offset: usize, size: usize, align: usize, len: usize) -> ! {
    if offset % align == 0 {
        panic!("shared block access out of range: {size} bytes at offset {offset} of {len}");
    }
    panic!("misaligned {align}-byte access at offset {offset}");
}

impl SharedBlock {
    /// A new zeroed block of `len` bytes (at least one), aligned to [`ALIGN`].
    pub(crate) fn new(len: usize) -> Result<SharedBlock> {
        let size = len.max(1).next_multiple_of(ALIGN);
        if size > LARGE {
            // The kernel maps whole pages; the bytes past `size` in the last one are not used.
            let segment = Segment::create(size)?;
            return Ok(SharedBlock {
                segment,
                offset: 0,
                len,
            });
        }
        let mut heap = lock(&HEAP);
        let pid = getpid().as_raw();
        if heap.pid != pid {
            // A forked child: never carve the arena the parent is carving too.
            *heap = Heap {
                pid,
                arena: Weak::new(),
                next: 0,
            };
        }
        if let Some(segment) = heap.arena.upgrade() {
            if heap.next + size <= segment.len() {
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
    #[inline]
    pub(crate) fn as_ptr(&self) -> *mut u8 {
        // In bounds: `offset + len` lies within the segment by construction.
        self.segment.map.as_mut_ptr().wrapping_add(self.offset)
    }

    /// The `A` at `offset` (a multiple of its size), checked for bounds and alignment.
    #[inline]
    fn atomic<A: SharedAtomic>(&self, offset: usize) -> &A {
        if offset.checked_add(A::SIZE).is_none_or(|end| end > self.len) || offset % A::ALIGN != 0 {
            bad_access(offset, A::SIZE, A::ALIGN, self.len);
        }
        // The block starts at a multiple of ALIGN in a page-aligned mapping, so an offset that
        // is a multiple of the alignment is aligned for it.
        let ptr = self.as_ptr().wrapping_add(offset).cast::<A>();
        // SAFETY: the check above puts the `A::SIZE` bytes inside this block, which lies inside the
        // mapping, at an address aligned for `A` (see above). The mapping lives as long as
        // `self.segment`, which the returned reference borrows. `A` is one of the atomic integer
        // types or an array of them (the trait is sealed): valid for any bits, and changed only
        // through atomic operations, so other threads and processes writing the same bytes is no
        // data race.
        unsafe { &*ptr }
    }

    /// The `N` four-byte words from `offset` (a multiple of 4), as atomics, with one check: a
    /// lock's words, all at hand for one operation.
    #[inline]
    pub(crate) fn atomic_u32s<const N: usize>(&self, offset: usize) -> &[AtomicU32; N] {
        self.atomic(offset)
    }

    /// The byte at `offset`, as an atomic.
    #[inline]
    pub(crate) fn atomic_u8(&self, offset: usize) -> &AtomicU8 {
        self.atomic(offset)
    }

    /// The two bytes at `offset` (a multiple of 2), as an atomic.
    #[inline]
    pub(crate) fn atomic_u16(&self, offset: usize) -> &AtomicU16 {
        self.atomic(offset)
    }

    /// The four bytes at `offset` (a multiple of 4), as an atomic: e.g. a futex word.
    #[inline]
    pub(crate) fn atomic_u32(&self, offset: usize) -> &AtomicU32 {
        self.atomic(offset)
    }

    /// The eight bytes at `offset` (a multiple of 8), as an atomic.
    #[inline]
    pub(crate) fn atomic_u64(&self, offset: usize) -> &AtomicU64 {
        self.atomic(offset)
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
                let (found, size) =
                    file_id(&fd).map_err(|e| format!("fstat of descriptor {}: {e}", wire.fd))?;
                if found != id || size != wire.segment_len {
                    return Err(format!(
                        "descriptor {} is not the shared memory segment it was sent as (another file, or resized)",
                        wire.fd
                    ));
                }
                Segment::map(fd, wire.segment_len).map_err(|e| e.to_string())?
            }
        };
        if segment.len() != wire.segment_len {
            return Err(format!(
                "shared memory segment is {} bytes, expected {}",
                segment.len(),
                wire.segment_len
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

/// The atomic integer types a [`SharedBlock`] hands out views of.
trait SharedAtomic: private::Sealed {
    /// The size in bytes.
    const SIZE: usize;
    /// The alignment in bytes.
    const ALIGN: usize;
}

mod private {
    /// Only the atomic integer types are [`super::SharedAtomic`].
    pub trait Sealed {}
}

macro_rules! shared_atomic {
    ($($t:ty),*) => ($(
        impl private::Sealed for $t {}
        impl SharedAtomic for $t {
            const SIZE: usize = {
                assert!(size_of::<$t>() == align_of::<$t>());
                size_of::<$t>()
            };
            const ALIGN: usize = Self::SIZE;
        }
    )*)
}
shared_atomic!(AtomicU8, AtomicU16, AtomicU32, AtomicU64);

// Consecutive 32-bit words: a lock's.
impl<const N: usize> private::Sealed for [AtomicU32; N] {}
impl<const N: usize> SharedAtomic for [AtomicU32; N] {
    const SIZE: usize = size_of::<[AtomicU32; N]>();
    const ALIGN: usize = align_of::<[AtomicU32; N]>();
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

/// Serializes `field` (the first field of an object that lives in shared memory) if the object
/// is being encoded as a child's start arguments, and refuses otherwise with CPython's message:
/// "`kind` objects should only be shared between processes through inheritance". The first
/// field checks for the whole object, so the error names the outermost type (a `Value`, not
/// the `RawValue` inside it). Used through [`inherited_only!`].
pub(crate) fn by_inheritance<T, S>(
    kind: &str,
    field: &T,
    serializer: S,
) -> std::result::Result<S::Ok, S::Error>
where
    T: Serialize + ?Sized,
    S: Serializer,
{
    if !crate::reduction::encoding_for_child() {
        return Err(crate::codec::refuse(format!(
            "{kind} objects should only be shared between processes through inheritance"
        )));
    }
    field.serialize(serializer)
}

/// Defines `fn $name(field, serializer)`, for `#[serde(serialize_with = "$name")]` on the first
/// field of the type `$kind`: see [`by_inheritance`].
macro_rules! inherited_only {
    ($name:ident, $kind:literal) => {
        /// Refuses to serialize this object except into a child's start arguments.
        fn $name<T, S>(field: &T, serializer: S) -> std::result::Result<S::Ok, S::Error>
        where
            T: serde::Serialize + ?Sized,
            S: serde::Serializer,
        {
            $crate::heap::by_inheritance($kind, field, serializer)
        }
    };
}
pub(crate) use inherited_only;

impl Serialize for SharedBlock {
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        // The objects that own blocks name themselves in this error first; this is the guard
        // for any that does not.
        if !crate::reduction::encoding_for_child() {
            return Err(crate::codec::refuse(
                "shared memory objects should only be shared between processes through inheritance".into(),
            ));
        }
        // A spawned child must inherit this descriptor at this number.
        crate::reduction::note_fd(self.segment.fd.as_raw_fd());
        Wire {
            fd: self.segment.fd.as_raw_fd(),
            dev: self.segment.id.0,
            ino: self.segment.id.1,
            segment_len: self.segment.len(),
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
        let (bytes, _) = crate::reduction::collect_fds(|| crate::codec::encode(&a));
        let bytes = bytes.unwrap();
        let b: SharedBlock = crate::codec::decode(&bytes).unwrap();
        assert!(a.same_memory(&b));
        b.store_bytes(0, b"hello");
        let mut got = [0; 5];
        a.load_bytes(0, &mut got);
        assert_eq!(&got, b"hello");
    }

    #[test]
    fn a_block_serializes_only_for_a_child() {
        let a = SharedBlock::new(16).unwrap();
        assert!(!crate::reduction::encoding_for_child());
        assert!(
            crate::codec::encode(&a).is_err(),
            "refused outside a child's arguments"
        );
        let (inside, _) = crate::reduction::collect_fds(crate::reduction::encoding_for_child);
        assert!(inside);
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

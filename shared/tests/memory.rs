//! Memory: long work keeps memory flat, and shared memory is exact.
//!
//! - `imap` and `imap_unordered` read their input only as fast as results are consumed, so an
//!   endless input costs a fixed amount, and a full imap does not hold up the pool's other work;
//!   10,000,000 items through `imap` leave the parent's peak memory under a fixed bound.
//! - `map` over 1,000,000 items peaks at no more than twice its inputs and results.
//! - A `Queue` with `maxsize` refuses more and keeps its fixed shared ring, however fast the
//!   producer; 10,000 `apply_async` calls collected leave no growth behind.
//! - A `Value` or a small `Array` takes a few bytes of a shared 16 KiB arena; a large array a
//!   segment of whole pages; and a segment is unmapped when its last owner drops it.
//!
//! Peak memory is the kernel's `VmHWM` (`/proc/self/status`), reset before each measurement by
//! writing `5` to `/proc/self/clear_refs`. Every test runs in a fresh process (the harness), so
//! the figures are this test's alone.

#[macro_use]
mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use common::assert_no_children;
use multiprocessing::{Array, ByteBuf, Error, Pool, Process, Queue, Value};

const MIB: u64 = 1024 * 1024;

fn square(x: u64) -> u64 {
    x.wrapping_mul(x)
}

/// A field of `/proc/self/status` (`VmRSS`, `VmHWM`), in bytes.
fn status_bytes(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("reading /proc/self/status");
    let kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().strip_suffix("kB"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {field} in /proc/self/status"));
    kb * 1024
}

/// Resets `VmHWM` to the current RSS (Linux 4.0 and later).
fn reset_peak() {
    std::fs::write("/proc/self/clear_refs", "5").expect("resetting VmHWM through /proc/self/clear_refs");
}

/// The sizes of this process's mappings of the runtime's shared memory segments.
fn heap_mappings() -> Vec<u64> {
    let maps = std::fs::read_to_string("/proc/self/maps").expect("reading /proc/self/maps");
    maps.lines()
        .filter(|l| l.contains("/memfd:mp-heap"))
        .map(|l| {
            let range = l.split_whitespace().next().expect("an address range");
            let (start, end) = range.split_once('-').expect("start-end");
            u64::from_str_radix(end, 16).unwrap() - u64::from_str_radix(start, 16).unwrap()
        })
        .collect()
}

/// An endless input that counts what the pool took from it.
fn counted(taken: &Arc<AtomicU64>) -> impl Iterator<Item = u64> + Send + 'static + use<> {
    let taken = Arc::clone(taken);
    (0u64..).inspect(move |_| {
        taken.fetch_add(1, Ordering::Relaxed);
    })
}

fn imap_reads_input_only_as_results_are_consumed() {
    let pool = Pool::new(2).unwrap();
    for ordered in [true, false] {
        let taken = Arc::new(AtomicU64::new(0));
        // 4 chunks of 10: at most 40 items are taken and not yet yielded.
        let mut it = if ordered {
            pool.imap_buffered(square, counted(&taken), 10, 4).unwrap()
        } else {
            pool.imap_unordered_buffered(square, counted(&taken), 10, 4)
                .unwrap()
        };
        // The pool serves other work meanwhile (with an unbounded input in front of it, these
        // calls would wait forever), and the imap takes no more than its buffer.
        for x in 0..50 {
            assert_eq!(pool.apply(square, x).unwrap(), x * x);
        }
        assert!(
            taken.load(Ordering::Relaxed) <= 40,
            "took {} items with nothing consumed",
            taken.load(Ordering::Relaxed)
        );
        let mut got: Vec<u64> = it.by_ref().take(1000).map(Result::unwrap).collect();
        assert!(
            taken.load(Ordering::Relaxed) <= 1000 + 40,
            "took {} items for 1000 consumed",
            taken.load(Ordering::Relaxed)
        );
        if ordered {
            assert_eq!(got, (0..1000).map(square).collect::<Vec<_>>());
        } else {
            // The first 1000 to finish: distinct, and all from what was taken.
            let taken_squares: Vec<u64> = (0..taken.load(Ordering::Relaxed)).map(square).collect();
            got.sort_unstable();
            got.dedup();
            assert_eq!(got.len(), 1000);
            assert!(got.iter().all(|y| taken_squares.binary_search(y).is_ok()));
        }
        drop(it);
    }
    // The defaults: imap and imap_unordered buffer IMAP_BUFFER_PER_WORKER chunks per worker.
    let taken = Arc::new(AtomicU64::new(0));
    let buffer = 2 * multiprocessing::IMAP_BUFFER_PER_WORKER as u64;
    let mut it = pool.imap(square, counted(&taken)).unwrap();
    assert_eq!(pool.map(square, 0..100).unwrap()[99], 99 * 99);
    assert!(
        taken.load(Ordering::Relaxed) <= buffer,
        "imap took {} items",
        taken.load(Ordering::Relaxed)
    );
    assert_eq!(it.nth(500).unwrap().unwrap(), 500 * 500);
    assert!(
        taken.load(Ordering::Relaxed) <= 501 + buffer,
        "imap took {} items",
        taken.load(Ordering::Relaxed)
    );
    drop(it);
    let taken = Arc::new(AtomicU64::new(0));
    let it = pool.imap_unordered_chunked(square, counted(&taken), 7).unwrap();
    assert_eq!(pool.apply(square, 9).unwrap(), 81);
    assert!(
        taken.load(Ordering::Relaxed) <= 7 * buffer,
        "imap_unordered took {} items",
        taken.load(Ordering::Relaxed)
    );
    drop(it);
    drop(pool);
    assert_no_children();
}

fn a_closed_pool_finishes_a_buffered_imap() {
    let pool = Pool::new(2).unwrap();
    let it = pool.imap_buffered(square, 0..1000u64, 10, 2).unwrap();
    // Nobody reads the results, yet close + join return: once closed, the buffer stops
    // holding the input back, and every result waits in the iterator.
    pool.close().unwrap();
    pool.join().unwrap();
    let got: Vec<u64> = it.map(Result::unwrap).collect();
    assert_eq!(got, (0..1000).map(square).collect::<Vec<_>>());
    assert!(pool.imap_buffered(square, 0..1u64, 1, 0).is_err());
    drop(pool);
    assert_no_children();
}

/// Ten million, in debug as in release (about 4 s in debug here).
const IMAP_ITEMS: u64 = 10_000_000;

fn imap_over_millions_of_items_stays_flat() {
    let pool = Pool::new(2).unwrap();
    // Warm up the allocator and the workers, then measure from here.
    assert_eq!(
        pool.imap_chunked(square, 0..10_000u64, 1000).unwrap().count(),
        10_000
    );
    let before = status_bytes("VmRSS");
    reset_peak();
    let mut count = 0u64;
    let mut sum = 0u64;
    for (x, y) in (0..IMAP_ITEMS).zip(pool.imap_chunked(square, 0..IMAP_ITEMS, 1000).unwrap()) {
        let y = y.unwrap();
        assert_eq!(y, square(x));
        sum = sum.wrapping_add(y);
        count += 1;
    }
    assert_eq!(count, IMAP_ITEMS);
    assert_eq!(sum, (0..IMAP_ITEMS).map(square).fold(0, u64::wrapping_add));
    let peak = status_bytes("VmHWM");
    let growth = peak.saturating_sub(before);
    // The input and the results would be 2 x 8 bytes x IMAP_ITEMS if held (160 MB for ten
    // million); streamed, at most 16 chunks of 1000 are anywhere at once.
    println!(
        "imap of {IMAP_ITEMS} items: RSS before {} KiB, peak {} KiB, growth {} KiB",
        before / 1024,
        peak / 1024,
        growth / 1024
    );
    assert!(growth < 8 * MIB, "the peak grew by {} KiB", growth / 1024);
    drop(pool);
    assert_no_children();
}

fn map_of_a_million_peaks_at_twice_its_data() {
    let pool = Pool::new(2).unwrap();
    assert_eq!(pool.map(square, 0..10_000u64).unwrap().len(), 10_000);
    const N: u64 = 1_000_000;
    let before = status_bytes("VmRSS");
    reset_peak();
    let input: Vec<u64> = (0..N).collect();
    let results = pool.map(square, input).unwrap();
    let peak = status_bytes("VmHWM");
    assert_eq!(results.len() as u64, N);
    assert_eq!(results[999_999], square(999_999));
    let data = 2 * 8 * N; // the input and the results
    let growth = peak.saturating_sub(before);
    println!(
        "map of {N} items: data {} KiB, RSS before {} KiB, peak {} KiB, growth {} KiB",
        data / 1024,
        before / 1024,
        peak / 1024,
        growth / 1024
    );
    assert!(
        growth <= 2 * data,
        "map's peak grew by {} KiB for {} KiB of inputs and results",
        growth / 1024,
        data / 1024
    );
    drop(pool);
    assert_no_children();
}

/// Takes `n` items, slowly at first, so the producer runs into `maxsize`.
fn slow_consumer((q, n): (Queue<ByteBuf>, usize)) {
    std::thread::sleep(Duration::from_millis(200));
    for i in 0..n {
        let item = q.get().unwrap();
        assert_eq!(item.len(), 100_000);
        assert_eq!(item[0], (i % 251) as u8);
    }
}

fn queue_with_maxsize_bounds_memory() {
    let q = Queue::<ByteBuf>::new(4).unwrap();
    let ring = heap_mappings();
    let blob = |byte: u8| ByteBuf::from(vec![byte; 100_000]);
    for i in 0..4u8 {
        q.put(blob(i)).unwrap();
    }
    assert!(matches!(q.put_nowait(blob(9)), Err(Error::Full)));
    assert!(matches!(
        q.put_timeout(blob(9), Duration::from_millis(50)),
        Err(Error::Full)
    ));
    for i in 0..4u8 {
        assert_eq!(q.get().unwrap()[0], i);
    }

    // 1,000 items of 100 kB (100 MB) to a slow consumer: the producer waits at maxsize, so
    // neither the shared ring nor the producer's memory grows with what it sends.
    const N: usize = 1000;
    let mut p = Process::new(slow_consumer, (q.clone(), N));
    p.start().unwrap();
    let before = status_bytes("VmRSS");
    reset_peak();
    for i in 0..N {
        q.put(blob((i % 251) as u8)).unwrap();
        assert!(q.qsize() <= 4);
    }
    p.join_timeout(Duration::from_secs(60)).unwrap();
    assert_eq!(p.exitcode(), Some(0));
    let growth = status_bytes("VmHWM").saturating_sub(before);
    println!(
        "queue: {N} x 100 kB through maxsize 4, ring {} KiB, peak growth {} KiB",
        q.capacity() / 1024,
        growth / 1024
    );
    assert_eq!(heap_mappings(), ring, "the queue's shared memory changed");
    assert!(
        growth < q.capacity() as u64 + 8 * MIB,
        "the producer's peak grew by {} KiB",
        growth / 1024
    );
    assert_no_children();
}

fn apply_async_results_collected_leave_no_growth() {
    let pool = Pool::new(2).unwrap();
    let round = || {
        let results: Vec<_> = (0..10_000u64)
            .map(|x| pool.apply_async(square, x).unwrap())
            .collect();
        for (x, r) in results.into_iter().enumerate() {
            assert_eq!(r.get().unwrap(), square(x as u64));
        }
    };
    // The first rounds grow the allocator's pools (how far depends on how far the workers ran
    // ahead of the `get`s); later rounds must reuse them. A leak of 50 bytes a call would show.
    round();
    round();
    let warm = status_bytes("VmRSS");
    for _ in 0..4 {
        round();
    }
    let after = status_bytes("VmRSS");
    let growth = after.saturating_sub(warm);
    println!(
        "apply_async: RSS {} KiB after 20,000 calls, {} KiB after 60,000",
        warm / 1024,
        after / 1024
    );
    assert!(growth < 2 * MIB, "RSS grew by {} KiB", growth / 1024);
    let stats = pool.stats();
    assert_eq!(stats.task_messages, 60_000, "{stats:?}");
    drop(pool);
    assert_no_children();
}

fn values_and_small_arrays_share_arenas() {
    let baseline = heap_mappings();
    let values: Vec<Value<i32>> = (0..500).map(|i| Value::new(i).unwrap()).collect();
    let arrays: Vec<Array<f64>> = (0..100)
        .map(|i| Array::new(&[f64::from(i); 16]).unwrap())
        .collect();
    let now = heap_mappings();
    let new: Vec<u64> = now.iter().skip(baseline.len()).copied().collect();
    let bytes: u64 = now.iter().sum::<u64>() - baseline.iter().sum::<u64>();
    let objects = (values.len() + arrays.len()) as u64;
    println!(
        "500 Values and 100 Arrays of 16 f64: {} segments, {} KiB, {} bytes each",
        now.len() - baseline.len(),
        bytes / 1024,
        bytes / objects
    );
    // Each costs well under a page: they are packed into 16 KiB arenas.
    assert!(
        bytes / objects <= 256,
        "{} bytes of shared memory each",
        bytes / objects
    );
    assert!(
        now.len() - baseline.len() <= 6,
        "{} segments for {objects} objects",
        now.len()
    );
    assert!(new.iter().all(|&len| len == 16 * 1024), "arena sizes {new:?}");
    for (i, v) in values.iter().enumerate() {
        assert_eq!(v.get(), i as i32);
    }
    assert_eq!(arrays[99].get(15), 99.0);

    // A single small Value shares the arena being filled: no new mapping.
    let one = Value::new(7u64).unwrap();
    assert_eq!(heap_mappings().len(), now.len());
    // An array over 2 KiB has a segment of its own, of whole pages and no more.
    let big = Array::new(&[1.5f64; 1000]).unwrap();
    let with_big = heap_mappings();
    assert_eq!(with_big.len(), now.len() + 1);
    let page = 4096;
    let big_len = *with_big
        .iter()
        .find(|l| !now.contains(l) || **l != 16 * 1024)
        .unwrap();
    assert!(
        big_len >= 8000 && big_len <= 8000u64.div_ceil(page) * page,
        "an 8000-byte array maps {big_len} bytes"
    );
    assert_eq!(big.get(999), 1.5);
    assert_eq!(one.get(), 7);
}

fn the_last_owner_releases_shared_memory() {
    let baseline = heap_mappings();
    let values: Vec<Value<i64>> = (0..300).map(|i| Value::new(i).unwrap()).collect();
    let big = Array::new(&[0u8; 100_000]).unwrap();
    let clones: Vec<Value<i64>> = values.iter().map(Value::clone).collect();
    let big_clone = big.clone();
    let during = heap_mappings();
    assert!(during.len() > baseline.len());
    // The originals go; the clones still own every segment.
    drop(values);
    drop(big);
    assert_eq!(heap_mappings(), during);
    assert_eq!(clones[299].get(), 299);
    assert_eq!(big_clone.len(), 100_000);
    // The last owners go: every segment is unmapped.
    drop(clones);
    drop(big_clone);
    assert_eq!(heap_mappings(), baseline);
    // Again, with a queue's ring and a lock.
    let q = Queue::<u8>::new(0).unwrap();
    let lock = multiprocessing::Lock::new().unwrap();
    assert!(heap_mappings().len() > baseline.len());
    drop(q);
    drop(lock);
    assert_eq!(heap_mappings(), baseline);
}

/// Sleeps, then checks it still sees the value the parent set and sets its own.
fn holds_on((v, ms): (Value<i64>, u64)) {
    std::thread::sleep(Duration::from_millis(ms));
    assert_eq!(v.get(), 41);
    v.set(42);
}

fn a_child_keeps_its_own_mapping() {
    let baseline = heap_mappings();
    let v = Value::new(41i64).unwrap();
    let mut p = Process::new(holds_on, (v.clone(), 300));
    p.start().unwrap();
    // The parent lets go of its handles while the child still uses its inherited mapping.
    let watcher = v.clone();
    drop(v);
    assert!(
        heap_mappings().len() > baseline.len(),
        "the watcher still maps it"
    );
    p.join_timeout(Duration::from_secs(30)).unwrap();
    assert_eq!(p.exitcode(), Some(0));
    assert_eq!(watcher.get(), 42, "the child wrote the same memory");
    drop(watcher);
    drop(p);
    assert_eq!(heap_mappings(), baseline);
    assert_no_children();
}

fn main() -> std::process::ExitCode {
    common::run(&[
        case!(imap_reads_input_only_as_results_are_consumed),
        case!(a_closed_pool_finishes_a_buffered_imap),
        case!(imap_over_millions_of_items_stays_flat, 240),
        case!(map_of_a_million_peaks_at_twice_its_data),
        case!(queue_with_maxsize_bounds_memory),
        case!(apply_async_results_collected_leave_no_growth, 120),
        case!(values_and_small_arrays_share_arenas),
        case!(the_last_owner_releases_shared_memory),
        case!(a_child_keeps_its_own_mapping),
    ])
}

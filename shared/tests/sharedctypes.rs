//! Value, Array, RawValue and RawArray in memory that processes really share.

#[macro_use]
mod common;

use std::time::Duration;

use common::{Test, join, shared_mappings, spawn};
use multiprocessing::{Array, Lock, Process, RawArray, RawValue, Value};

fn tutorial_value_and_array() {
    fn worker((val, arr): (Value<i32>, Array<i32>)) {
        {
            let _guard = val.get_lock().acquire();
            val.set(val.get() + 1);
        }
        for i in 0..arr.len() {
            arr.set(i, arr.get(i) + 1);
        }
    }
    let val = Value::new(0).unwrap();
    let arr = Array::new(&[0, 1, 2, 3]).unwrap();
    let p = spawn(worker, (val.clone(), arr.clone()));
    assert_eq!(join(&p), 0);
    assert_eq!(val.get(), 1, "the child's write is seen by the parent");
    assert_eq!(arr.to_vec(), [1, 2, 3, 4]);
    assert_eq!(format!("{arr:?}"), "[1, 2, 3, 4]");
}

const INCREMENTS: i64 = 200_000;

fn add_under_lock(counter: Value<i64>) {
    for _ in 0..INCREMENTS {
        let _guard = counter.get_lock().acquire();
        counter.set(counter.get() + 1);
    }
}

fn exact_total_under_contention() {
    let counter = Value::new(0i64).unwrap();
    let workers: Vec<Process> = (0..2).map(|_| spawn(add_under_lock, counter.clone())).collect();
    for w in &workers {
        assert_eq!(join(w), 0);
    }
    assert_eq!(counter.get(), 2 * INCREMENTS, "no increment lost under the lock");
}

fn exact_total_with_a_supplied_lock() {
    fn add(counter: Value<u32, Lock>) {
        for _ in 0..50_000 {
            let _guard = counter.get_lock().acquire();
            // get/set inside the held Lock do not deadlock (they would in Python).
            counter.set(counter.get() + 1);
        }
    }
    let counter = Value::with_lock(0u32, Lock::new().unwrap()).unwrap();
    let workers: Vec<Process> = (0..2).map(|_| spawn(add, counter.clone())).collect();
    for w in &workers {
        assert_eq!(join(w), 0);
    }
    assert_eq!(counter.get(), 100_000);
    assert!(!counter.get_lock().is_locked());
}

/// One shared number or array of each narrow element type.
type NarrowTypes = (
    RawValue<i8>,
    RawValue<u8>,
    RawValue<i16>,
    RawValue<u16>,
    RawArray<i32>,
    RawArray<u32>,
);

fn every_element_type_round_trips() {
    fn write_all(args: NarrowTypes) {
        let (a, b, c, d, e, f) = args;
        a.set(-128);
        b.set(255);
        c.set(-32768);
        d.set(65535);
        e.set_slice(0, &[i32::MIN, -1, i32::MAX]);
        f.set(1, u32::MAX);
    }
    fn write_wide((g, h, i, j): (Value<i64>, Value<u64>, Array<f32>, Array<f64>)) {
        g.set(i64::MIN);
        h.set(u64::MAX);
        i.set(0, -1.5);
        j.set_slice(0, &[f64::MAX, f64::MIN_POSITIVE, -0.0]);
    }
    let (a, b, c, d) = (
        RawValue::new(0i8).unwrap(),
        RawValue::new(0u8).unwrap(),
        RawValue::new(0i16).unwrap(),
        RawValue::new(0u16).unwrap(),
    );
    let (e, f) = (
        RawArray::<i32>::zeroed(3).unwrap(),
        RawArray::<u32>::zeroed(2).unwrap(),
    );
    let p = spawn(
        write_all,
        (a.clone(), b.clone(), c.clone(), d.clone(), e.clone(), f.clone()),
    );
    assert_eq!(join(&p), 0);
    assert_eq!((a.get(), b.get(), c.get(), d.get()), (-128, 255, -32768, 65535));
    assert_eq!(e.to_vec(), [i32::MIN, -1, i32::MAX]);
    assert_eq!(f.to_vec(), [0, u32::MAX]);

    let (g, h) = (Value::new(0i64).unwrap(), Value::new(0u64).unwrap());
    let (i, j) = (Array::<f32>::zeroed(1).unwrap(), Array::<f64>::zeroed(3).unwrap());
    let p = spawn(write_wide, (g.clone(), h.clone(), i.clone(), j.clone()));
    assert_eq!(join(&p), 0);
    assert_eq!((g.get(), h.get(), i.get(0)), (i64::MIN, u64::MAX, -1.5));
    let got = j.to_vec();
    assert_eq!(got[..2], [f64::MAX, f64::MIN_POSITIVE]);
    assert!(got[2] == 0.0 && got[2].is_sign_negative());
}

fn array_indexing_slices_and_iteration() {
    let arr = Array::<i32>::zeroed(5).unwrap();
    assert_eq!(arr.to_vec(), [0; 5], "an array made by size starts zeroed");
    arr.set_slice(1, &[1, 2, 3]);
    assert_eq!(arr.slice(1..4), [1, 2, 3]);
    assert_eq!(arr.slice(..=1), [0, 1]);
    assert_eq!(arr.slice(3..), [3, 0]);
    assert_eq!(arr.iter().collect::<Vec<_>>(), [0, 1, 2, 3, 0]);
    assert_eq!(arr.iter().len(), 5);
    assert!(
        std::panic::catch_unwind(|| arr.get(5)).is_err(),
        "index 5 of 5 is out of range"
    );
    assert!(std::panic::catch_unwind(|| arr.slice(2..6)).is_err());
    assert!(std::panic::catch_unwind(|| arr.set_slice(4, &[1, 2])).is_err());
    // A failed access leaves the lock free and the data intact.
    assert!(!arr.get_lock().is_owned());
    assert_eq!(arr.to_vec(), [0, 1, 2, 3, 0]);
    let empty = RawArray::<u8>::new(&[]).unwrap();
    assert!(empty.is_empty());
    assert_eq!(empty.to_vec(), Vec::<u8>::new());
}

/// CPython's `sharedctypes` (`reduce_ctype` / `Synchronized.__reduce__` call
/// `context.assert_spawning`): a Value or an Array reaches another process by inheritance only.
/// Sent through a Pipe it is refused at the sender, where before its descriptor number crossed
/// and the receiver used the memory only if it happened to map that segment already.
fn assert_spawning_refuses_values_and_arrays() {
    let (a, b) = multiprocessing::Pipe(true).unwrap();
    for (what, sent) in [
        ("a Value", a.send(&Value::new(1i32).unwrap())),
        ("an Array", a.send(&Array::new(&[1u8, 2]).unwrap())),
        ("a RawValue", a.send(&RawValue::new(1u64).unwrap())),
        ("a RawArray", a.send(&RawArray::<f64>::zeroed(2).unwrap())),
    ] {
        let err = sent.expect_err(what);
        assert!(matches!(err, multiprocessing::Error::Codec(_)), "{what}: {err}");
    }
    let err = multiprocessing::codec::encode(&Value::new(1i32).unwrap()).unwrap_err();
    assert!(err.to_string().contains("Value"), "{err}");
    a.send(&3u8).unwrap();
    assert_eq!(b.recv::<u8>().unwrap(), 3, "nothing was half-sent");
}

fn no_shared_memory_left_behind() {
    fn touch((v, a): (Value<f64>, Array<u8>)) {
        v.set(1.0);
        a.set(0, 1);
    }
    let before = shared_mappings();
    {
        let v = Value::new(0.0).unwrap();
        let a = Array::<u8>::zeroed(100_000).unwrap();
        let raws: Vec<RawValue<i32>> = (0..3000).map(|i| RawValue::new(i).unwrap()).collect();
        assert!(shared_mappings() > before);
        let p = spawn(touch, (v.clone(), a.clone()));
        assert_eq!(join(&p), 0);
        assert_eq!((v.get(), a.get(0)), (1.0, 1));
        drop((v, a, raws));
    }
    assert_eq!(
        shared_mappings(),
        before,
        "every segment is unmapped once its objects are dropped"
    );
}

fn child_allocations_do_not_overlap_the_parents() {
    // After a fork, parent and child each allocate from shared memory. Were they to carve
    // the same arena, the child's new value and the parent's would be the same bytes.
    fn allocate_and_write((go, done): (RawValue<u8>, RawValue<u8>)) {
        let mine = RawValue::new(0u64).unwrap();
        mine.set(u64::MAX);
        let more: Vec<RawValue<u64>> = (0..100).map(|_| RawValue::new(u64::MAX).unwrap()).collect();
        done.set(1);
        while go.get() == 0 {
            std::thread::sleep(Duration::from_millis(1));
        }
        drop((mine, more));
    }
    let go = RawValue::new(0u8).unwrap();
    let done = RawValue::new(0u8).unwrap();
    let p = spawn(allocate_and_write, (go.clone(), done.clone()));
    let ours: Vec<RawValue<u64>> = (0..100).map(|_| RawValue::new(0).unwrap()).collect();
    common::eventually(Duration::from_secs(10), "the child allocated and wrote", || {
        done.get() == 1
    });
    assert!(
        ours.iter().all(|v| v.get() == 0),
        "the child's allocations landed on the parent's"
    );
    go.set(1);
    assert_eq!(join(&p), 0);
}

/// A fresh executable (the `spawn` start method) adopts the inherited descriptors of its
/// arguments and sees the parent's memory.
fn deserialize_adopts_inherited_descriptors() {
    fn spawned_child((lock, val): (Lock, Value<i32>)) {
        assert!(lock.is_locked(), "the parent holds the lock");
        assert_eq!(val.get(), 7, "the parent's value");
        val.set(8);
        lock.release().expect("any process may release a Lock");
    }
    let ctx = multiprocessing::get_context("spawn").unwrap();
    let lock = Lock::new().unwrap();
    let val = Value::new(7).unwrap();
    lock.acquire().keep();
    let p = common::start(ctx.process(spawned_child, (lock.clone(), val.clone())));
    assert_eq!(join(&p), 0, "the spawned process failed");
    assert!(!lock.is_locked(), "released by the spawned process");
    assert_eq!(val.get(), 8, "written by the spawned process");

    // A descriptor that is not the segment it claims to be (here standard input) is refused
    // with an error rather than mapped. (postcard keeps only the kind of a custom error, so
    // the message names the type that failed, not why.)
    let bogus = multiprocessing::codec::encode(&(0i32, 1u64, 2u64, 4096usize, 0usize, 4usize)).unwrap();
    let err = multiprocessing::codec::decode::<Lock>(&bogus)
        .map(drop)
        .unwrap_err();
    assert!(err.to_string().contains("Lock"), "{err}");
}

fn main() -> std::process::ExitCode {
    const TESTS: &[Test] = &[
        case!(tutorial_value_and_array),
        case!(exact_total_under_contention),
        case!(exact_total_with_a_supplied_lock),
        case!(every_element_type_round_trips),
        case!(array_indexing_slices_and_iteration),
        case!(assert_spawning_refuses_values_and_arrays),
        case!(child_allocations_do_not_overlap_the_parents),
        case!(deserialize_adopts_inherited_descriptors),
        case!(no_shared_memory_left_behind),
    ];
    common::run(TESTS)
}

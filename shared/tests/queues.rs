//! `Queue`, `SimpleQueue`, `JoinableQueue`: many processes, big messages, timeouts, dead peers.

#[macro_use]
mod common;

use std::time::{Duration, Instant};

use common::{Test, pattern};
use multiprocessing::{Error, JoinableQueue, Process, Queue, SimpleQueue, codec};
use serde::{Serialize, Serializer};

fn start(p: &mut Process) {
    p.start().unwrap();
}

fn join_ok(p: &Process) {
    assert!(
        p.join_timeout(Duration::from_secs(120)).unwrap(),
        "{} did not end",
        p.name()
    );
    assert_eq!(p.exitcode(), Some(0), "{} failed", p.name());
}

/// Producers and consumers per side, and messages per producer.
const SIDES: u8 = 4;
const PER_PRODUCER: u32 = 100_000;

fn four_producers_four_consumers_nothing_lost_or_duplicated() {
    type Item = Option<(u8, u32)>;
    fn producer((q, id): (Queue<Item>, u8)) {
        for seq in 0..PER_PRODUCER {
            q.put(Some((id, seq))).unwrap();
        }
    }
    fn consumer((q, results): (Queue<Item>, Queue<Vec<Vec<u32>>>)) {
        let mut got = vec![Vec::new(); SIDES as usize];
        while let Some((id, seq)) = q.get().unwrap() {
            let seen = &mut got[id as usize];
            // FIFO per producer: this consumer's share of each producer's items is ascending.
            assert!(
                seen.last().is_none_or(|&last| last < seq),
                "producer {id}: {seq} after {:?}",
                seen.last()
            );
            seen.push(seq);
        }
        results.put(got).unwrap();
    }
    let q: Queue<Item> = Queue::new(0).unwrap();
    let results = Queue::new(0).unwrap();
    let mut consumers: Vec<Process> = (0..SIDES)
        .map(|_| Process::new(consumer, (q.clone(), results.clone())))
        .collect();
    let mut producers: Vec<Process> = (0..SIDES)
        .map(|id| Process::new(producer, (q.clone(), id)))
        .collect();
    consumers.iter_mut().chain(producers.iter_mut()).for_each(start);
    producers.iter().for_each(join_ok);
    for _ in 0..SIDES {
        q.put(None).unwrap();
    }
    let mut all = vec![Vec::new(); SIDES as usize];
    for _ in 0..SIDES {
        let got = results.get_timeout(Duration::from_secs(120)).unwrap();
        for (id, seqs) in got.into_iter().enumerate() {
            all[id].extend(seqs);
        }
    }
    consumers.iter().for_each(join_ok);
    for (id, mut seqs) in all.into_iter().enumerate() {
        seqs.sort_unstable();
        let n = seqs.len();
        seqs.dedup();
        assert_eq!(
            seqs.len(),
            n,
            "producer {id}: {} items delivered twice",
            n - seqs.len()
        );
        assert_eq!(
            seqs,
            (0..PER_PRODUCER).collect::<Vec<_>>(),
            "producer {id}: items lost"
        );
    }
    assert!(q.empty() && q.qsize() == 0);
}

fn big_messages_intact_among_small_ones() {
    // (producer, sequence number, payload)
    type Item = Option<(u8, u32, Vec<u8>)>;
    const BIG: usize = 8 << 20;
    fn big_producer(q: Queue<Item>) {
        for seq in 0..4 {
            q.put(Some((0, seq, pattern(BIG, seq)))).unwrap();
        }
    }
    fn small_producer(q: Queue<Item>) {
        for seq in 0..20_000u32 {
            q.put(Some((1, seq, seq.to_le_bytes().to_vec()))).unwrap();
        }
    }
    fn consumer((q, results): (Queue<Item>, Queue<Vec<(u8, u32)>>)) {
        let mut got = Vec::new();
        while let Some((id, seq, payload)) = q.get().unwrap() {
            if id == 0 {
                assert!(payload == pattern(BIG, seq), "big message {seq} was corrupted");
            } else {
                assert_eq!(payload, seq.to_le_bytes());
            }
            got.push((id, seq));
        }
        results.put(got).unwrap();
    }
    let q: Queue<Item> = Queue::new(0).unwrap();
    let results = Queue::new(0).unwrap();
    let mut procs = [
        Process::new(consumer, (q.clone(), results.clone())),
        Process::new(consumer, (q.clone(), results.clone())),
    ];
    let mut producers = [
        Process::new(big_producer, q.clone()),
        Process::new(small_producer, q.clone()),
    ];
    procs.iter_mut().chain(producers.iter_mut()).for_each(start);
    producers.iter().for_each(join_ok);
    q.put(None).unwrap();
    q.put(None).unwrap();
    let mut all: Vec<(u8, u32)> = Vec::new();
    for _ in 0..2 {
        all.extend(results.get_timeout(Duration::from_secs(120)).unwrap());
    }
    procs.iter().for_each(join_ok);
    all.sort_unstable();
    let expected: Vec<(u8, u32)> = (0..4)
        .map(|s| (0, s))
        .chain((0..20_000).map(|s| (1, s)))
        .collect();
    assert_eq!(all, expected);
}

/// Values encoded in place (over 64 KiB, up to the 1 MiB ring), padded to the ring's start or
/// written around its end, from three producers among small ones, to two consumers: every one
/// arrives once and intact, each producer's in order.
fn in_place_values_from_many_producers() {
    type Item = Option<(u8, u32, serde_bytes::ByteBuf)>;
    const EACH: u32 = 60;
    fn size(id: u8, seq: u32) -> usize {
        if seq % 5 == 4 {
            return 10 + seq as usize;
        }
        // 65 KiB to about 1 MiB, varied so that messages end all over the ring.
        (65 << 10) + (seq as usize * 7919 + id as usize * 104_729) % (950 << 10)
    }
    fn producer((q, id): (Queue<Item>, u8)) {
        for seq in 0..EACH {
            q.put(Some((
                id,
                seq,
                serde_bytes::ByteBuf::from(pattern(size(id, seq), seq)),
            )))
            .unwrap();
        }
    }
    fn consumer((q, results): (Queue<Item>, Queue<Vec<(u8, u32)>>)) {
        let mut got = Vec::new();
        while let Some((id, seq, bytes)) = q.get().unwrap() {
            assert!(
                bytes[..] == pattern(size(id, seq), seq)[..],
                "{id}/{seq} corrupted"
            );
            got.push((id, seq));
        }
        results.put(got).unwrap();
    }
    let q: Queue<Item> = Queue::with_capacity(0, 1 << 20).unwrap();
    let results = Queue::new(0).unwrap();
    let mut consumers: Vec<Process> = (0..2)
        .map(|_| Process::new(consumer, (q.clone(), results.clone())))
        .collect();
    let mut producers: Vec<Process> = (0..3).map(|id| Process::new(producer, (q.clone(), id))).collect();
    consumers.iter_mut().chain(producers.iter_mut()).for_each(start);
    producers.iter().for_each(join_ok);
    q.put(None).unwrap();
    q.put(None).unwrap();
    let mut all = Vec::new();
    for _ in 0..2 {
        let got = results.get_timeout(Duration::from_secs(120)).unwrap();
        for id in 0..3 {
            let mine: Vec<u32> = got.iter().filter(|g| g.0 == id).map(|g| g.1).collect();
            assert!(mine.is_sorted(), "producer {id}'s order: {mine:?}");
        }
        all.extend(got);
    }
    consumers.iter().for_each(join_ok);
    all.sort_unstable();
    let want: Vec<(u8, u32)> = (0..3).flat_map(|id| (0..EACH).map(move |s| (id, s))).collect();
    assert_eq!(all, want);
    assert!(q.empty());
}

fn messages_of_every_size_through_a_small_ring() {
    // Sizes around the ring (4 KiB) and the stack-copy threshold (512 bytes), so that
    // messages wrap around the ring's end, stream through it, or sit in it whole.
    fn sizes() -> impl Iterator<Item = (u32, usize)> {
        (0..600u32).map(|i| {
            (
                i,
                [0, 1, 511, 512, 513, 1000, 3000, 4080, 4096, 9000][i as usize % 10] + i as usize % 7,
            )
        })
    }
    fn producer(q: Queue<(u32, Vec<u8>)>) {
        for (i, size) in sizes() {
            q.put((i, pattern(size, i))).unwrap();
        }
    }
    let q = Queue::with_capacity(0, 4096).unwrap();
    let mut p = Process::new(producer, q.clone());
    p.start().unwrap();
    for (i, size) in sizes() {
        let (j, payload) = q.get_timeout(Duration::from_secs(30)).unwrap();
        assert_eq!(j, i);
        assert!(
            payload == pattern(size, i),
            "message {i} of {size} bytes was corrupted"
        );
    }
    join_ok(&p);
    assert!(q.empty());
}

fn timeouts_are_kept() {
    let q: Queue<u32> = Queue::new(1).unwrap();
    let started = Instant::now();
    assert!(matches!(
        q.get_timeout(Duration::from_millis(200)),
        Err(Error::Empty)
    ));
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(200) && took < Duration::from_secs(5),
        "get_timeout took {took:?}"
    );
    assert!(matches!(q.get_nowait(), Err(Error::Empty)));

    q.put(1).unwrap();
    assert!(q.full());
    let started = Instant::now();
    assert!(matches!(
        q.put_timeout(2, Duration::from_millis(200)),
        Err(Error::Full)
    ));
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(200) && took < Duration::from_secs(5),
        "put_timeout took {took:?}"
    );
    assert!(matches!(q.put_nowait(2), Err(Error::Full)));
    assert_eq!(q.get_nowait().unwrap(), 1);
    assert!(!q.full());

    // A timed get is woken by a put from another process well before its timeout.
    fn put_later(q: Queue<u32>) {
        std::thread::sleep(Duration::from_millis(100));
        q.put(7).unwrap();
    }
    let mut p = Process::new(put_later, q.clone());
    p.start().unwrap();
    let started = Instant::now();
    assert_eq!(q.get_timeout(Duration::from_secs(30)).unwrap(), 7);
    assert!(started.elapsed() < Duration::from_secs(10));
    join_ok(&p);

    // A ring with no room: a put of a message that fits times out too.
    let small: Queue<Vec<u8>> = Queue::with_capacity(0, 4096).unwrap();
    small.put(vec![0; 3000]).unwrap();
    assert!(matches!(
        small.put_timeout(vec![0; 3000], Duration::from_millis(50)),
        Err(Error::Full)
    ));
    assert_eq!(small.qsize(), 1);
}

fn child_can_be_joined_before_the_queue_is_drained() {
    fn producer(q: Queue<(u32, String)>) {
        for i in 0..10_000 {
            q.put((i, format!("消息 {i}"))).unwrap();
        }
    }
    fn big_producer(q: Queue<Vec<u8>>) {
        q.put(pattern(512 << 10, 5)).unwrap();
    }
    let q = Queue::new(0).unwrap();
    let mut p = Process::new(producer, q.clone());
    p.start().unwrap();
    // CPython deadlocks here: its feeder thread cannot exit before the pipe is drained.
    assert!(
        p.join_timeout(Duration::from_secs(60)).unwrap(),
        "the producer could not exit"
    );
    assert_eq!(p.exitcode(), Some(0));
    assert_eq!(q.qsize(), 10_000);
    for i in 0..10_000 {
        assert_eq!(q.get_nowait().unwrap(), (i, format!("消息 {i}")));
    }
    assert!(q.empty());

    let big = Queue::new(0).unwrap();
    let mut p = Process::new(big_producer, big.clone());
    p.start().unwrap();
    assert!(
        p.join_timeout(Duration::from_secs(60)).unwrap(),
        "the producer could not exit"
    );
    assert!(big.get().unwrap() == pattern(512 << 10, 5));
}

fn joinable_queue_join_waits_for_every_task() {
    fn worker((q, done): (JoinableQueue<Option<u32>>, Queue<u32>)) {
        while let Some(item) = q.get().unwrap() {
            std::thread::sleep(Duration::from_micros(200));
            // Record the result *before* marking the task done: join must not return before.
            done.put(item).unwrap();
            q.task_done().unwrap();
        }
        q.task_done().unwrap();
    }
    let q = JoinableQueue::new(0).unwrap();
    let done = Queue::new(0).unwrap();
    let mut workers: Vec<Process> = (0..3)
        .map(|_| Process::new(worker, (q.clone(), done.clone())))
        .collect();
    workers.iter_mut().for_each(start);
    for i in 0..1000 {
        q.put(Some(i)).unwrap();
    }
    assert!(q.join_timeout(Duration::from_secs(60)), "join did not return");
    assert_eq!(done.qsize(), 1000, "join returned before every task was done");
    for _ in 0..3 {
        q.put(None).unwrap();
    }
    assert!(q.join_timeout(Duration::from_secs(60)));
    workers.iter().for_each(join_ok);
    let err = q.task_done().unwrap_err();
    assert!(err.to_string().contains("too many times"), "{err}");
    let mut results: Vec<u32> = (0..1000).map(|_| done.get_nowait().unwrap()).collect();
    results.sort_unstable();
    assert_eq!(results, (0..1000).collect::<Vec<_>>());
}

fn unserializable_value_is_an_error_from_put() {
    struct Refuses;
    impl Serialize for Refuses {
        fn serialize<S: Serializer>(&self, _: S) -> Result<S::Ok, S::Error> {
            Err(serde::ser::Error::custom("this value refuses to be serialized"))
        }
    }
    impl<'de> serde::Deserialize<'de> for Refuses {
        fn deserialize<D: serde::Deserializer<'de>>(_: D) -> Result<Self, D::Error> {
            Ok(Refuses)
        }
    }
    let q: Queue<Refuses> = Queue::new(1).unwrap();
    let err = q.put(Refuses).unwrap_err();
    assert!(matches!(err, Error::Codec(_)), "{err:?}");
    assert!(err.to_string().contains("Refuses"), "{err}");
    assert!(
        q.empty() && q.qsize() == 0 && !q.full(),
        "a failed put left something behind"
    );
}

/// A value of `len` bytes (a `ByteBuf`, over the 64 KiB from which a queue encodes values in
/// place, in its ring) whose `Serialize` counts its calls and, at call `at`, does `what`: a
/// queue's `put` serializes a large value three times (a try into its buffer that stops at 64
/// KiB, a count of the bytes, the write into the ring).
#[derive(Default)]
struct Moody {
    len: usize,
    at: u32,
    what: Mood,
    calls: std::cell::Cell<u32>,
}

#[derive(Default, Clone, Copy)]
enum Mood {
    #[default]
    Fail,
    Longer,
    Shorter,
    /// Writes half, then lets the test know (through `STALLED`) and sleeps.
    Stall,
}

thread_local! {
    static STALLED: std::cell::RefCell<Option<multiprocessing::Semaphore>> = const { std::cell::RefCell::new(None) };
}

impl Serialize for Moody {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeTuple;
        let call = self.calls.get() + 1;
        self.calls.set(call);
        let mut len = self.len;
        if call == self.at {
            match self.what {
                Mood::Fail => return Err(serde::ser::Error::custom("moody refuses")),
                Mood::Longer => len += 100,
                Mood::Shorter => len -= 100,
                Mood::Stall => {
                    let mut t = s.serialize_tuple(2)?;
                    t.serialize_element(serde_bytes::Bytes::new(&pattern(len / 2, 9)))?;
                    STALLED.with(|sem| sem.borrow().as_ref().unwrap().release().unwrap());
                    std::thread::sleep(Duration::from_secs(600));
                    unreachable!("killed while stalled");
                }
            }
        }
        let mut t = s.serialize_tuple(2)?;
        t.serialize_element(serde_bytes::Bytes::new(&pattern(len, call)))?;
        t.serialize_element(&call)?;
        t.end()
    }
}

impl<'de> serde::Deserialize<'de> for Moody {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let (bytes, call): (serde_bytes::ByteBuf, u32) = serde::Deserialize::deserialize(d)?;
        assert!(bytes[..] == pattern(bytes.len(), call)[..], "corrupted");
        Ok(Moody {
            len: bytes.len(),
            at: call,
            ..Moody::default()
        })
    }
}

/// A value too large for the thread's buffer is encoded straight into the ring. If it fails
/// there (or in either pass before), `put` gives `Error::Codec` and the ring is as it was: empty,
/// every byte of room and every `maxsize` slot there. One that encodes to another length the
/// third time is put as it encodes the fourth. A producer killed in the middle of writing one
/// into the ring leaves nothing behind either.
fn big_value_encoded_in_place_fails_or_dies_cleanly() {
    // Two 100,000-byte values fit a 256 KiB ring, a third does not.
    const LEN: usize = 100_000;
    let q: Queue<Moody> = Queue::with_capacity(3, 256 << 10).unwrap();
    let room_is_whole = |q: &Queue<Moody>| {
        assert!(q.empty() && q.qsize() == 0, "a failed put left something behind");
        let put = |len| {
            q.put_nowait(Moody {
                len,
                ..Moody::default()
            })
        };
        put(LEN).unwrap();
        put(LEN).unwrap();
        assert!(
            matches!(put(LEN), Err(Error::Full)),
            "no room for a third big one"
        );
        put(10).unwrap();
        assert!(matches!(put(10), Err(Error::Full)), "maxsize 3");
        for (len, call) in [(LEN, 3), (LEN, 3), (10, 1)] {
            let got = q.get_nowait().unwrap();
            assert_eq!(
                (got.len, got.at),
                (len, call),
                "a big one is encoded in place, on the third call"
            );
        }
        assert!(q.empty());
    };
    for at in 1..=3 {
        let err = q
            .put(Moody {
                len: LEN,
                at,
                ..Moody::default()
            })
            .unwrap_err();
        assert!(matches!(err, Error::Codec(_)), "call {at}: {err:?}");
        assert!(err.to_string().contains("Moody"), "{err}");
        room_is_whole(&q);
    }
    for what in [Mood::Longer, Mood::Shorter] {
        q.put(Moody {
            len: LEN,
            at: 3,
            what,
            ..Moody::default()
        })
        .unwrap();
        let got = q.get_nowait().unwrap();
        assert_eq!((got.len, got.at), (LEN, 4), "the fourth call's encoding");
        room_is_whole(&q);
    }

    fn stall((q, stalled): (Queue<Moody>, multiprocessing::Semaphore)) {
        STALLED.with(|sem| *sem.borrow_mut() = Some(stalled));
        q.put(Moody {
            len: LEN,
            at: 3,
            what: Mood::Stall,
            ..Moody::default()
        })
        .unwrap();
    }
    let stalled = multiprocessing::Semaphore::new(0).unwrap();
    q.put(Moody {
        len: LEN,
        ..Moody::default()
    })
    .unwrap();
    let mut p = Process::new(stall, (q.clone(), stalled.clone()));
    start(&mut p);
    stalled
        .acquire_timeout(Duration::from_secs(20))
        .expect("the producer stalls")
        .keep();
    p.kill().unwrap();
    join_ok_killed(&p);
    assert_eq!(q.qsize(), 1, "only the message put before");
    assert_eq!(q.get_nowait().unwrap().len, LEN);
    room_is_whole(&q);
}

/// CPython's `Queue.__getstate__` calls `context.assert_spawning`: a queue crosses to another
/// process only as a child's argument (inheritance). Any other route is refused at the sender,
/// so no process can see the ring as a queue of another type.
fn queue_crosses_only_by_inheritance() {
    let q: Queue<u32> = Queue::new(0).unwrap();
    let err = codec::encode(&q).unwrap_err();
    assert!(
        err.to_string()
            .contains("should only be shared between processes through inheritance"),
        "{err}"
    );
    // The queue is untouched and goes on.
    q.put(300).unwrap();
    assert_eq!(q.get().unwrap(), 300);
}

fn killed_producer_mid_message_does_not_wedge_the_queue() {
    fn stream_forever(q: Queue<Vec<u8>>) {
        // Eight times the ring, and nobody reads: blocks mid-message until killed.
        q.put(pattern(32 << 10, 1)).unwrap();
        unreachable!("nobody read the message");
    }
    let q: Queue<Vec<u8>> = Queue::with_capacity(0, 4096).unwrap();
    // A producer that dies halfway through a message the ring cannot hold.
    let kill_a_producer_mid_message = || {
        let mut p = Process::new(stream_forever, q.clone());
        p.start().unwrap();
        common::eventually(Duration::from_secs(20), "the producer fills the ring", || {
            !q.empty()
        });
        std::thread::sleep(Duration::from_millis(100));
        p.kill().unwrap();
        join_ok_killed(&p);
    };
    kill_a_producer_mid_message();
    let err = q.get_timeout(Duration::from_secs(20)).unwrap_err();
    assert!(matches!(err, Error::Remote(_)), "{err:?}");
    assert!(err.to_string().contains("died"), "{err}");
    q.put(vec![1, 2, 3]).unwrap();
    assert_eq!(q.get_timeout(Duration::from_secs(20)).unwrap(), [1, 2, 3]);
    assert_eq!(q.qsize(), 0);

    // The same, but the next producer comes first: it ends the dead one's message.
    kill_a_producer_mid_message();
    fn put_small(q: Queue<Vec<u8>>) {
        q.put(vec![4, 5, 6]).unwrap();
    }
    let mut next = Process::new(put_small, q.clone());
    next.start().unwrap();
    let err = q.get_timeout(Duration::from_secs(20)).unwrap_err();
    assert!(matches!(err, Error::Remote(_)), "{err:?}");
    assert_eq!(q.get_timeout(Duration::from_secs(20)).unwrap(), [4, 5, 6]);
    join_ok(&next);
    assert_eq!(q.qsize(), 0);
}

/// Issue 14 item 5: a producer killed while it waits for room in a bounded queue (for an item
/// slot, for bytes in the ring, or for the write lock behind another producer that waits) takes
/// no capacity with it: once drained, a `Queue(maxsize=2)` takes two items again, and a third
/// is refused. (CPython's `Queue` counts slots in a `BoundedSemaphore` taken before the put;
/// here the count lives in the ring itself, published in the same store as the message.)
fn killed_producer_waiting_for_room_keeps_no_capacity() {
    fn put_after_saying_so((q, ready): (Queue<Vec<u8>>, Queue<u8>)) {
        ready.put(1).unwrap();
        q.put(vec![7; 3000]).unwrap();
        unreachable!("the queue stays full until this producer is killed");
    }
    // Full by count (two small items), full by bytes (one item of 3000 bytes in a 4 KiB ring),
    // and full by bytes with a second producer queued behind the first.
    for (case, fill, producers) in [
        ("count", vec![vec![1u8], vec![2]], 1),
        ("bytes", vec![vec![0; 3000]], 1),
        ("lock", vec![vec![0; 3000]], 2),
    ] {
        let q: Queue<Vec<u8>> = Queue::with_capacity(2, 4096).unwrap();
        let ready: Queue<u8> = Queue::new(0).unwrap();
        for item in &fill {
            q.put(item).unwrap();
        }
        let mut blocked = Vec::new();
        for _ in 0..producers {
            let mut p = Process::new(put_after_saying_so, (q.clone(), ready.clone()));
            p.start().unwrap();
            ready.get_timeout(Duration::from_secs(20)).unwrap();
            blocked.push(p);
        }
        // Long enough for each to be asleep in its put.
        std::thread::sleep(Duration::from_millis(300));
        assert_eq!(q.qsize(), fill.len(), "{case}: the blocked producers put nothing");
        for p in &blocked {
            p.kill().unwrap();
            join_ok_killed(p);
        }
        for item in &fill {
            assert_eq!(&q.get_timeout(Duration::from_secs(20)).unwrap(), item, "{case}");
        }
        assert!(q.empty(), "{case}");
        assert!(!q.full(), "{case}: an empty queue is not full");
        q.put_timeout(vec![1], Duration::from_secs(5))
            .unwrap_or_else(|e| panic!("{case}: first item: {e}"));
        q.put_timeout(vec![2], Duration::from_secs(5))
            .unwrap_or_else(|e| panic!("{case}: second item: {e}"));
        assert!(q.full(), "{case}");
        assert!(
            matches!(q.put_nowait(vec![3]), Err(Error::Full)),
            "{case}: maxsize is still 2"
        );
        assert_eq!(q.qsize(), 2, "{case}");
    }
}

/// Issue 15, CPython's `_TestQueue.test_closed_queue_put_get_exceptions`: a closed queue refuses
/// `put` and `get` with an error that says it is closed; other handles to it go on.
fn closed_queue_put_get_exceptions() {
    let q: Queue<String> = Queue::new(0).unwrap();
    let j: JoinableQueue<String> = JoinableQueue::new(0).unwrap();
    let s: SimpleQueue<String> = SimpleQueue::new().unwrap();
    let other = q.clone();
    q.close();
    j.close();
    s.close();
    for (what, result) in [
        ("Queue.put", q.put("foo".to_string())),
        ("Queue.get", q.get().map(drop)),
        ("Queue.get_nowait", q.get_nowait().map(drop)),
        ("JoinableQueue.put", j.put("foo".to_string())),
        ("JoinableQueue.get", j.get().map(drop)),
        ("SimpleQueue.put", s.put("foo".to_string())),
        ("SimpleQueue.get", s.get().map(drop)),
    ] {
        let err = result.unwrap_err();
        assert!(matches!(err, Error::State(_)), "{what}: {err:?}");
        assert!(err.to_string().contains("is closed"), "{what}: {err}");
    }
    assert!(q.closed() && !other.closed());
    other.put("bar".to_string()).unwrap();
    assert_eq!(other.get().unwrap(), "bar");
}

/// Issue 17 item 5: `put` takes what encodes as a `T` does, so `q.put("hi")` compiles on a
/// `Queue<String>` (and a slice or an array on a `Queue<Vec<U>>`), and the consumer gets the
/// same values as from owned ones; the owned and borrowed calls of before still compile.
fn put_takes_borrowed_forms() {
    fn consumer((names, rows, paths): (Queue<String>, Queue<Vec<u32>>, SimpleQueue<std::path::PathBuf>)) {
        assert_eq!(names.get().unwrap(), "hi");
        assert_eq!(names.get().unwrap(), "there");
        assert_eq!(names.get().unwrap(), "you");
        assert_eq!(rows.get().unwrap(), [1, 2, 3]);
        assert_eq!(rows.get().unwrap(), [4, 5]);
        assert_eq!(rows.get().unwrap(), Vec::<u32>::new());
        assert_eq!(paths.get().unwrap(), std::path::Path::new("/tmp/x"));
    }
    let names: Queue<String> = Queue::new(0).unwrap();
    let rows: Queue<Vec<u32>> = Queue::new(0).unwrap();
    let paths: SimpleQueue<std::path::PathBuf> = SimpleQueue::new().unwrap();
    names.put("hi").unwrap();
    let there = String::from("there");
    names.put(&there).unwrap();
    names.put_nowait(String::from("you")).unwrap();
    rows.put([1, 2, 3]).unwrap();
    rows.put_timeout(&[4, 5][..], Duration::from_secs(5)).unwrap();
    rows.put(Vec::new()).unwrap();
    paths.put(std::path::Path::new("/tmp/x")).unwrap();
    let mut p = Process::new(consumer, (names, rows, paths));
    start(&mut p);
    join_ok(&p);
}

fn join_ok_killed(p: &Process) {
    assert!(p.join_timeout(Duration::from_secs(20)).unwrap());
    assert_eq!(p.exitcode(), Some(-9));
}

fn killed_consumer_does_not_wedge_the_queue() {
    fn wait_forever(q: Queue<u32>) {
        let _ = q.get(); // holds the read lock while it waits
        unreachable!("nothing was put");
    }
    let q: Queue<u32> = Queue::new(0).unwrap();
    let mut p = Process::new(wait_forever, q.clone());
    p.start().unwrap();
    std::thread::sleep(Duration::from_millis(200));
    p.kill().unwrap();
    join_ok_killed(&p);
    q.put(5).unwrap();
    assert_eq!(q.get_timeout(Duration::from_secs(20)).unwrap(), 5);

    // A consumer killed while reading a streamed message: that message is lost, the next is not.
    fn put_big(q: Queue<Vec<u8>>) {
        q.put(pattern(64 << 10, 2)).unwrap();
    }
    let big: Queue<Vec<u8>> = Queue::with_capacity(0, 4096).unwrap();
    let mut producer = Process::new(put_big, big.clone());
    producer.start().unwrap();
    common::eventually(Duration::from_secs(20), "the producer fills the ring", || {
        !big.empty()
    });
    // Freeze the producer mid-message, so that the consumer stops mid-message too, waiting.
    let producer_pid = nix::unistd::Pid::from_raw(producer.pid().unwrap());
    nix::sys::signal::kill(producer_pid, nix::sys::signal::Signal::SIGSTOP).unwrap();
    let mut c = Process::new(read_and_check, big.clone());
    c.start().unwrap();
    common::eventually(
        Duration::from_secs(20),
        "the consumer reads the first part",
        || big.empty(),
    );
    std::thread::sleep(Duration::from_millis(200));
    c.kill().unwrap();
    join_ok_killed(&c);
    nix::sys::signal::kill(producer_pid, nix::sys::signal::Signal::SIGCONT).unwrap();
    // The next consumer skips the rest of the dead consumer's message, which lets the producer
    // finish, and finds nothing else.
    assert!(matches!(
        big.get_timeout(Duration::from_secs(3)),
        Err(Error::Empty)
    ));
    join_ok(&producer);
    assert_eq!(big.qsize(), 0);
    big.put(vec![9; 1000]).unwrap();
    let mut p = Process::new(read_and_check, big.clone());
    p.start().unwrap();
    join_ok(&p);
}

fn read_and_check(q: Queue<Vec<u8>>) {
    assert_eq!(q.get_timeout(Duration::from_secs(20)).unwrap(), vec![9; 1000]);
}

fn simple_queue_and_snapshots() {
    fn square(q: SimpleQueue<u64>) {
        let x = q.get().unwrap();
        q.put(x * x).unwrap();
    }
    let q = SimpleQueue::new().unwrap();
    q.put(12).unwrap();
    let mut p = Process::new(square, q.clone());
    p.start().unwrap();
    join_ok(&p);
    assert_eq!(q.get().unwrap(), 144);
    assert!(q.empty());

    let bounded: Queue<u8> = Queue::new(3).unwrap();
    assert_eq!(
        (
            bounded.qsize(),
            bounded.empty(),
            bounded.full(),
            bounded.maxsize()
        ),
        (0, true, false, 3)
    );
    for i in 0..3 {
        bounded.put(i).unwrap();
    }
    assert_eq!(
        (bounded.qsize(), bounded.empty(), bounded.full()),
        (3, false, true)
    );
}

fn main() -> std::process::ExitCode {
    common::run(&[
        case!(four_producers_four_consumers_nothing_lost_or_duplicated, 240),
        case!(big_messages_intact_among_small_ones, 240),
        case!(messages_of_every_size_through_a_small_ring),
        case!(in_place_values_from_many_producers, 120),
        case!(timeouts_are_kept),
        case!(child_can_be_joined_before_the_queue_is_drained),
        case!(joinable_queue_join_waits_for_every_task),
        case!(unserializable_value_is_an_error_from_put),
        case!(big_value_encoded_in_place_fails_or_dies_cleanly),
        case!(queue_crosses_only_by_inheritance),
        case!(killed_producer_mid_message_does_not_wedge_the_queue),
        case!(killed_consumer_does_not_wedge_the_queue),
        case!(killed_producer_waiting_for_room_keeps_no_capacity),
        case!(closed_queue_put_get_exceptions),
        case!(put_takes_borrowed_forms),
        case!(simple_queue_and_snapshots),
    ] as &[Test])
}

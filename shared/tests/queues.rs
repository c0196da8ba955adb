//! `Queue`, `SimpleQueue`, `JoinableQueue`: many processes, big messages, timeouts, dead peers.

mod common;

use std::time::{Duration, Instant};

use common::{test, Test};
use multiprocessing::{codec, Error, JoinableQueue, Process, Queue, SimpleQueue};
use serde::{Serialize, Serializer};

/// A byte pattern that a shifted or truncated copy cannot match.
fn pattern(len: usize, seed: u32) -> Vec<u8> {
    (0..len as u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) ^ seed).to_le_bytes()[3])
        .collect()
}

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

fn wrong_type_names_the_type_and_the_queue_goes_on() {
    // The same queue seen as another type (what a mismatched spawn child would do).
    let q: Queue<u32> = Queue::new(0).unwrap();
    let as_strings: Queue<String> = codec::decode(&codec::encode(&q).unwrap()).unwrap();
    q.put(300).unwrap(); // varint 0xac 0x02: a length of 44 with 1 byte: not a String
    as_strings.put("ok".to_string()).unwrap();
    let err = as_strings.get().unwrap_err();
    assert!(err.to_string().contains("String"), "{err}");
    assert_eq!(as_strings.get().unwrap(), "ok");
    assert!(q.empty());
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
        Test {
            name: "four_producers_four_consumers_nothing_lost_or_duplicated",
            body: four_producers_four_consumers_nothing_lost_or_duplicated,
            limit: Duration::from_secs(240),
        },
        Test {
            name: "big_messages_intact_among_small_ones",
            body: big_messages_intact_among_small_ones,
            limit: Duration::from_secs(240),
        },
        test(
            "messages_of_every_size_through_a_small_ring",
            messages_of_every_size_through_a_small_ring,
        ),
        test("timeouts_are_kept", timeouts_are_kept),
        test(
            "child_can_be_joined_before_the_queue_is_drained",
            child_can_be_joined_before_the_queue_is_drained,
        ),
        test(
            "joinable_queue_join_waits_for_every_task",
            joinable_queue_join_waits_for_every_task,
        ),
        test(
            "unserializable_value_is_an_error_from_put",
            unserializable_value_is_an_error_from_put,
        ),
        test(
            "wrong_type_names_the_type_and_the_queue_goes_on",
            wrong_type_names_the_type_and_the_queue_goes_on,
        ),
        test(
            "killed_producer_mid_message_does_not_wedge_the_queue",
            killed_producer_mid_message_does_not_wedge_the_queue,
        ),
        test(
            "killed_consumer_does_not_wedge_the_queue",
            killed_consumer_does_not_wedge_the_queue,
        ),
        test("simple_queue_and_snapshots", simple_queue_and_snapshots),
    ] as &[Test])
}

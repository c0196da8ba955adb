//! `Pipe` and `Connection`: framing, sizes, end of file, bad frames, timeouts.

mod common;

use std::io::{Read, Write};
use std::os::fd::{IntoRawFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

use common::{test, Test};
use multiprocessing::{codec, Connection, Error, Pipe, Process};
use serde::{Deserialize, Serialize};

#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct Task {
    id: u64,
    name: String,
    data: Vec<u32>,
}

fn sample(id: u64) -> Task {
    Task {
        id,
        name: format!("任务-{id}"),
        data: (0..id as u32).collect(),
    }
}

/// A byte pattern that a shifted or truncated copy cannot match.
fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u32).wrapping_mul(2_654_435_761).to_le_bytes()[3] ^ seed)
        .collect()
}

fn objects_cross_processes_both_pipe_kinds() {
    fn sender(conn: Connection) {
        for id in 0..50 {
            conn.send(&sample(id)).unwrap();
        }
        conn.send("done").unwrap();
    }
    for duplex in [true, false] {
        let (reader, writer) = Pipe(duplex).unwrap();
        let mut p = Process::new(sender, writer);
        p.start().unwrap();
        for id in 0..50 {
            assert_eq!(reader.recv::<Task>().unwrap(), sample(id));
        }
        assert_eq!(reader.recv::<String>().unwrap(), "done");
        p.join().unwrap();
        assert_eq!(p.exitcode(), Some(0));
        // The child has exited and the parent dropped its copy of the writer with `p`'s target.
        assert!(matches!(reader.recv::<Task>(), Err(Error::Eof(_))));
    }
}

fn duplex_goes_both_ways() {
    fn echo(conn: Connection) {
        // The child inherited the parent's end too (fork copies every descriptor), so it would
        // never see an end of file: a sentinel ends the loop, as it must in Python.
        loop {
            let n = conn.recv::<u64>().unwrap();
            if n == u64::MAX {
                break;
            }
            conn.send(&(n * 2)).unwrap();
        }
    }
    let (a, b) = Pipe(true).unwrap();
    let mut p = Process::new(echo, b);
    p.start().unwrap();
    for n in 0..1000u64 {
        a.send(&n).unwrap();
        assert_eq!(a.recv::<u64>().unwrap(), n * 2);
    }
    a.send(&u64::MAX).unwrap();
    p.join().unwrap();
    assert_eq!(p.exitcode(), Some(0));
}

fn one_way_pipe_refuses_the_wrong_direction() {
    let (reader, writer) = Pipe(false).unwrap();
    assert!(reader.readable() && !reader.writable());
    assert!(!writer.readable() && writer.writable());
    let err = reader.send(&1u8).unwrap_err();
    assert!(err.to_string().contains("read-only"), "{err}");
    let err = writer.recv::<u8>().unwrap_err();
    assert!(err.to_string().contains("write-only"), "{err}");
}

fn messages_up_to_64_mib_arrive_intact() {
    const SIZES: [usize; 8] = [0, 1, 255, 256, 257, 65_536, 1 << 20, 64 << 20];
    fn sender(conn: Connection) {
        for (i, size) in SIZES.into_iter().enumerate() {
            conn.send_bytes(&pattern(size, i as u8)).unwrap();
        }
        conn.send(&pattern(8 << 20, 99)).unwrap();
    }
    for duplex in [true, false] {
        let (reader, writer) = Pipe(duplex).unwrap();
        let mut p = Process::new(sender, writer);
        p.start().unwrap();
        for (i, size) in SIZES.into_iter().enumerate() {
            let got = reader.recv_bytes().unwrap();
            assert_eq!(got.len(), size);
            assert!(
                got == pattern(size, i as u8),
                "message {i} of {size} bytes was corrupted"
            );
        }
        assert!(reader.recv::<Vec<u8>>().unwrap() == pattern(8 << 20, 99));
        p.join().unwrap();
        assert_eq!(p.exitcode(), Some(0));
    }
}

fn closed_peer_gives_eof() {
    fn exit_at_once(_conn: Connection) {}
    for duplex in [true, false] {
        let (reader, writer) = Pipe(duplex).unwrap();
        let mut p = Process::new(exit_at_once, writer);
        p.start().unwrap();
        let started = Instant::now();
        match reader.recv::<u32>() {
            Err(Error::Eof(msg)) => assert!(msg.contains("closed"), "{msg}"),
            other => panic!("expected Eof, got {other:?}"),
        }
        assert!(started.elapsed() < Duration::from_secs(10));
        // poll reports a closed peer as readable, so a poll loop ends too.
        assert!(reader.poll(Some(Duration::from_secs(5))).unwrap());
        p.join().unwrap();
    }
    // A send to a closed peer is an error, not a SIGPIPE.
    let (a, b) = Pipe(true).unwrap();
    b.close();
    let err = a.send(&1u8).unwrap_err();
    assert!(err.to_string().contains("closed"), "{err}");
    let (r, w) = Pipe(false).unwrap();
    r.close();
    assert!(w.send(&1u8).is_err());
}

fn wrong_type_names_the_type_and_the_next_message_is_fine() {
    let (a, b) = Pipe(true).unwrap();
    a.send("not a number").unwrap();
    a.send(&7u64).unwrap();
    let err = b.recv::<Task>().unwrap_err();
    assert!(matches!(err, Error::Codec(_)), "{err:?}");
    assert!(err.to_string().contains("Task"), "{err}");
    assert_eq!(b.recv::<u64>().unwrap(), 7);
}

fn garbage_and_truncated_frames() {
    // Raw bytes in, through a plain socket: a frame whose payload is garbage, then a good one.
    let (raw, other) = UnixStream::pair().unwrap();
    let conn = Connection::from_owned_fd(OwnedFd::from(other));
    let mut raw = raw;
    raw.write_all(&3u32.to_le_bytes()).unwrap();
    raw.write_all(&[0xff, 0xff, 0xff]).unwrap();
    let good = codec::encode(&sample(3)).unwrap();
    raw.write_all(&(good.len() as u32).to_le_bytes()).unwrap();
    raw.write_all(&good).unwrap();
    let err = conn.recv::<Task>().unwrap_err();
    assert!(err.to_string().contains("Task"), "{err}");
    assert_eq!(conn.recv::<Task>().unwrap(), sample(3));

    // A frame cut short by a peer that dies mid-write.
    raw.write_all(&1000u32.to_le_bytes()).unwrap();
    raw.write_all(&[0u8; 100]).unwrap();
    drop(raw);
    match conn.recv_bytes() {
        Err(Error::Eof(msg)) => assert!(msg.contains("truncated") && msg.contains("100 of 1000"), "{msg}"),
        other => panic!("expected a truncated-frame Eof, got {other:?}"),
    }

    // A header cut short.
    let (mut raw, other) = UnixStream::pair().unwrap();
    let conn = Connection::from_owned_fd(OwnedFd::from(other));
    raw.write_all(&[1, 0]).unwrap();
    drop(raw);
    match conn.recv::<u8>() {
        Err(Error::Eof(msg)) => assert!(msg.contains("truncated"), "{msg}"),
        other => panic!("expected a truncated-frame Eof, got {other:?}"),
    }
}

fn oversized_frames_are_refused_before_allocation_and_skipped() {
    fn sender(conn: Connection) {
        conn.send_bytes(&pattern(4 << 20, 1)).unwrap();
        conn.send(&sample(9)).unwrap();
    }
    let (reader, writer) = Pipe(true).unwrap();
    reader.set_max_message_size(1 << 20);
    let mut p = Process::new(sender, writer);
    p.start().unwrap();
    let err = reader.recv_bytes().unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("refused a message of 4194304 bytes") && msg.contains("skipped"),
        "{msg}"
    );
    assert_eq!(reader.recv::<Task>().unwrap(), sample(9));
    p.join().unwrap();

    // A header announcing 2^62 bytes: refused at once, no 4 EiB allocation attempted.
    let (mut raw, other) = UnixStream::pair().unwrap();
    let conn = Connection::from_owned_fd(OwnedFd::from(other));
    raw.write_all(&u32::MAX.to_le_bytes()).unwrap();
    raw.write_all(&(1u64 << 62).to_le_bytes()).unwrap();
    raw.write_all(b"and then the peer died").unwrap();
    drop(raw);
    let msg = conn.recv_bytes().unwrap_err().to_string();
    assert!(
        msg.contains("refused a message of 4611686018427387904 bytes"),
        "{msg}"
    );
    assert!(msg.contains("truncated"), "{msg}");
}

fn poll_times_out_within_bounds() {
    fn send_later(conn: Connection) {
        std::thread::sleep(Duration::from_millis(300));
        conn.send(&1u8).unwrap();
    }
    let (a, b) = Pipe(true).unwrap();
    assert!(!a.poll(Some(Duration::ZERO)).unwrap());
    let started = Instant::now();
    assert!(!a.poll(Some(Duration::from_millis(200))).unwrap());
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(200) && took < Duration::from_secs(5),
        "{took:?}"
    );

    let mut p = Process::new(send_later, b);
    p.start().unwrap();
    assert!(a.poll(Some(Duration::from_secs(20))).unwrap());
    assert_eq!(a.recv::<u8>().unwrap(), 1);
    p.join().unwrap();
}

fn unserializable_value_is_an_error_and_sends_nothing() {
    struct Refuses;
    impl Serialize for Refuses {
        fn serialize<S: serde::Serializer>(&self, _: S) -> Result<S::Ok, S::Error> {
            Err(serde::ser::Error::custom("this value refuses to be serialized"))
        }
    }
    let (a, b) = Pipe(true).unwrap();
    let err = a.send(&Refuses).unwrap_err();
    assert!(matches!(err, Error::Codec(_)), "{err:?}");
    assert!(err.to_string().contains("Refuses"), "{err}");
    assert!(
        !b.poll(Some(Duration::from_millis(50))).unwrap(),
        "a failed send wrote something"
    );
}

fn serde_path_adopts_the_descriptor() {
    let (a, b) = Pipe(true).unwrap();
    let clone = a.try_clone().unwrap();
    let bytes = codec::encode(&clone).unwrap();
    // Hand ownership over to the serialized form, as a spawn parent's child would inherit it.
    let _ = OwnedFd::from(clone).into_raw_fd();
    let adopted: Connection = codec::decode(&bytes).unwrap();
    adopted.send(&11u8).unwrap();
    assert_eq!(b.recv::<u8>().unwrap(), 11);
    drop(a);
    drop(adopted);
    assert!(matches!(b.recv::<u8>(), Err(Error::Eof(_))));
    // A descriptor number that is not open is refused.
    let bogus = codec::encode(&(100_000i32, true, true, 10u64, false, Vec::<u8>::new())).unwrap();
    let err = codec::decode::<Connection>(&bogus).unwrap_err();
    assert!(!err.to_string().contains("missing"), "{err}");

    // Messages already read ahead travel with the serialized connection.
    let (c, d) = Pipe(true).unwrap();
    for i in 0..3u8 {
        c.send(&i).unwrap();
    }
    assert_eq!(d.recv::<u8>().unwrap(), 0); // reads all three frames in one go
    assert!(!c.poll(Some(Duration::ZERO)).unwrap());
    let bytes = codec::encode(&d).unwrap();
    let _ = OwnedFd::from(d).into_raw_fd();
    let adopted: Connection = codec::decode(&bytes).unwrap();
    assert!(adopted.poll(Some(Duration::ZERO)).unwrap());
    assert_eq!(adopted.recv::<u8>().unwrap(), 1);
    assert_eq!(adopted.recv::<u8>().unwrap(), 2);
    drop(c);
    assert!(matches!(adopted.recv::<u8>(), Err(Error::Eof(_))));
}

/// Messages sent back to back are read ahead: all arrive in order, intact, whatever their
/// sizes (headers and payloads cut by the 4 KiB read-ahead buffer at every offset), and `poll`
/// reports what was read ahead even though the socket itself is empty.
fn read_ahead_keeps_messages_whole_and_poll_sees_them() {
    fn sender((conn, sizes): (Connection, Vec<usize>)) {
        for (i, &len) in sizes.iter().enumerate() {
            conn.send_bytes(&pattern(len, i as u8)).unwrap();
        }
        conn.send(&sample(5)).unwrap();
    }
    let mut sizes: Vec<usize> = (0..400).map(|i| (i * 37) % 300).collect();
    sizes.extend([
        4092,
        4093,
        4096,
        5000,
        0,
        1,
        100_000,
        3,
        17 << 20,
        2,
        4091,
        64 << 10,
    ]);
    sizes.extend((0..300).map(|i| (i * 53) % 1100));
    let (a, b) = Pipe(true).unwrap();
    let mut p = Process::new(sender, (b, sizes.clone()));
    p.start().unwrap();
    for (i, &len) in sizes.iter().enumerate() {
        let got = a.recv_bytes().unwrap();
        assert!(got == pattern(len, i as u8), "message {i} of {len} bytes differs");
    }
    assert_eq!(a.recv::<Task>().unwrap(), sample(5));
    assert!(matches!(a.recv_bytes(), Err(Error::Eof(_))));
    p.join().unwrap();

    let (a, b) = Pipe(true).unwrap();
    for i in 0..3u64 {
        a.send(&i).unwrap();
    }
    assert_eq!(b.recv::<u64>().unwrap(), 0);
    // The other two were read ahead with the first: the socket has nothing left...
    let mut probe = [0u8; 1];
    let raw = UnixStream::from(OwnedFd::from(b.try_clone().unwrap()));
    raw.set_nonblocking(true).unwrap();
    assert!((&raw).read(&mut probe).is_err(), "the socket still held data");
    // ...yet poll says a message is there, and it is.
    assert!(b.poll(Some(Duration::ZERO)).unwrap());
    assert_eq!(b.recv::<u64>().unwrap(), 1);
    assert!(b.poll(None).unwrap());
    assert_eq!(b.recv::<u64>().unwrap(), 2);
    assert!(!b.poll(Some(Duration::ZERO)).unwrap());
}

/// `send` reuses one encoding buffer per connection; a value whose `Serialize` itself sends on
/// the same connection gets a buffer of its own (no deadlock, both messages whole), and a big
/// message after small ones (and small ones after it) arrive intact.
fn send_reuses_its_buffer_safely() {
    struct SendsFirst<'a>(&'a Connection);
    impl Serialize for SendsFirst<'_> {
        fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            self.0.send("inner").unwrap();
            "outer".serialize(s)
        }
    }
    let (a, b) = Pipe(true).unwrap();
    a.send(&SendsFirst(&a)).unwrap();
    assert_eq!(b.recv::<String>().unwrap(), "inner");
    assert_eq!(b.recv::<String>().unwrap(), "outer");

    fn sender(conn: Connection) {
        conn.send(&sample(3)).unwrap();
        conn.send(&vec![7u32; 100_000]).unwrap();
        conn.send(&sample(4)).unwrap();
    }
    let (a, b) = Pipe(true).unwrap();
    let mut p = Process::new(sender, b);
    p.start().unwrap();
    assert_eq!(a.recv::<Task>().unwrap(), sample(3));
    assert_eq!(a.recv::<Vec<u32>>().unwrap(), vec![7u32; 100_000]);
    assert_eq!(a.recv::<Task>().unwrap(), sample(4));
    p.join().unwrap();
}

/// Two readers of one channel (a connection and its clone) take turns: neither takes in a
/// message meant for the other, in one process or across processes.
fn clones_take_turns_without_reading_ahead() {
    let (a, b) = Pipe(true).unwrap();
    let b2 = b.try_clone().unwrap();
    for i in 0..4u32 {
        a.send(&i).unwrap();
    }
    assert_eq!(b2.recv::<u32>().unwrap(), 0);
    assert_eq!(b.recv::<u32>().unwrap(), 1);
    assert_eq!(b2.recv::<u32>().unwrap(), 2);
    assert_eq!(b.recv::<u32>().unwrap(), 3);

    // A child takes exactly one message of the 50 waiting and leaves; the parent gets the rest.
    fn take_one((conn, report): (Connection, Connection)) {
        let got: u32 = conn.recv().unwrap();
        report.send(&got).unwrap();
    }
    let (a, b) = Pipe(true).unwrap();
    let (report_rx, report_tx) = Pipe(false).unwrap();
    for i in 0..50u32 {
        a.send(&i).unwrap();
    }
    let mut p = Process::new(take_one, (b.try_clone().unwrap(), report_tx));
    p.start().unwrap();
    assert!(report_rx.poll(Some(Duration::from_secs(10))).unwrap());
    assert_eq!(report_rx.recv::<u32>().unwrap(), 0);
    p.join().unwrap();
    for i in 1..50u32 {
        assert_eq!(b.recv::<u32>().unwrap(), i);
    }
}

/// A receive spins briefly before it sleeps: a long wait costs no more CPU than that spin, and
/// the spin stops after spins that ran out (both kinds of pipe).
fn waiting_receive_spins_only_briefly() {
    fn thread_cpu() -> Duration {
        let t = nix::time::clock_gettime(nix::time::ClockId::CLOCK_THREAD_CPUTIME_ID).unwrap();
        Duration::new(t.tv_sec() as u64, t.tv_nsec() as u32)
    }
    for duplex in [true, false] {
        let (reader, writer) = Pipe(duplex).unwrap();
        let sender = std::thread::spawn(move || {
            for i in 0..5u32 {
                common::sleep_ms(60);
                writer.send(&i).unwrap();
            }
        });
        let cpu = thread_cpu();
        let started = Instant::now();
        for i in 0..5u32 {
            assert_eq!(reader.recv::<u32>().unwrap(), i);
        }
        let (waited, used) = (started.elapsed(), thread_cpu() - cpu);
        sender.join().unwrap();
        // Five waits of ~60 ms: at most a few 50 us spins, plus the receives themselves. A
        // receive that spun the whole wait would use ~300 ms.
        assert!(waited >= Duration::from_millis(250), "{waited:?}");
        assert!(
            used < Duration::from_millis(50),
            "waiting {waited:?} used {used:?} of CPU"
        );
    }
}

fn main() -> std::process::ExitCode {
    common::run(&[
        test(
            "objects_cross_processes_both_pipe_kinds",
            objects_cross_processes_both_pipe_kinds,
        ),
        test("duplex_goes_both_ways", duplex_goes_both_ways),
        test(
            "one_way_pipe_refuses_the_wrong_direction",
            one_way_pipe_refuses_the_wrong_direction,
        ),
        test(
            "messages_up_to_64_mib_arrive_intact",
            messages_up_to_64_mib_arrive_intact,
        ),
        test("closed_peer_gives_eof", closed_peer_gives_eof),
        test(
            "wrong_type_names_the_type_and_the_next_message_is_fine",
            wrong_type_names_the_type_and_the_next_message_is_fine,
        ),
        test("garbage_and_truncated_frames", garbage_and_truncated_frames),
        test(
            "oversized_frames_are_refused_before_allocation_and_skipped",
            oversized_frames_are_refused_before_allocation_and_skipped,
        ),
        test("poll_times_out_within_bounds", poll_times_out_within_bounds),
        test(
            "waiting_receive_spins_only_briefly",
            waiting_receive_spins_only_briefly,
        ),
        test(
            "unserializable_value_is_an_error_and_sends_nothing",
            unserializable_value_is_an_error_and_sends_nothing,
        ),
        test(
            "serde_path_adopts_the_descriptor",
            serde_path_adopts_the_descriptor,
        ),
        test(
            "read_ahead_keeps_messages_whole_and_poll_sees_them",
            read_ahead_keeps_messages_whole_and_poll_sees_them,
        ),
        test("send_reuses_its_buffer_safely", send_reuses_its_buffer_safely),
        test(
            "clones_take_turns_without_reading_ahead",
            clones_take_turns_without_reading_ahead,
        ),
    ] as &[Test])
}

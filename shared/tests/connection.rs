//! `Pipe` and `Connection`: framing, sizes, end of file, bad frames, timeouts.

#[macro_use]
mod common;

use std::io::{Read, Write};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

use common::{Test, pattern};
use multiprocessing::{Connection, Error, Pipe, Process, Waitable, codec, wait};
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
            conn.send_bytes(&pattern(size, i as u32)).unwrap();
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
                got == pattern(size, i as u32),
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

/// Issue 14 item 6: with `SIGPIPE` at its default (a program may restore it; Rust ignores it
/// at start-up), a send to a channel whose reader is gone is an error that says so and never a
/// signal that kills the sender: on both kinds of `Pipe`, small and big messages, and on a
/// plain pipe handed to `Connection::from_owned_fd`. (CPython's `Connection` raises
/// `BrokenPipeError` because CPython ignores `SIGPIPE` too.)
fn send_to_a_gone_reader_is_an_error_not_sigpipe() {
    #[allow(unsafe_code, reason = "setting a signal's disposition is unsafe in nix")]
    fn sender(_: ()) {
        use nix::sys::signal::{SigHandler, Signal, signal};
        // SAFETY: the default disposition installs no handler; the child is single-threaded.
        unsafe { signal(Signal::SIGPIPE, SigHandler::SigDfl) }.unwrap();
        let plain = || {
            let (r, w) = nix::unistd::pipe().unwrap();
            (Connection::from_owned_fd(r), Connection::from_owned_fd(w))
        };
        let pairs = [
            ("Pipe(true)", Pipe(true).unwrap()),
            ("Pipe(false)", Pipe(false).unwrap()),
            ("a plain pipe", plain()),
        ];
        for (what, (reader, writer)) in pairs {
            drop(reader);
            for len in [10, 100_000] {
                let err = writer.send_bytes(&vec![7; len]).unwrap_err();
                assert!(
                    err.to_string().contains("closed its end"),
                    "{what}, {len} bytes: {err}"
                );
            }
            assert!(writer.send(&"still an error").is_err(), "{what}");
        }
    }
    let mut p = Process::new(sender, ());
    p.start().unwrap();
    assert!(p.join_timeout(Duration::from_secs(30)).unwrap());
    assert_eq!(p.exitcode(), Some(0), "-13 is death by SIGPIPE");
}

/// Issue 15, CPython's `_TestWait.test_wait` and `test_wait_integer`: one `wait` on several
/// connections and process sentinels at once returns those that are ready, as they become so;
/// a connection that read messages ahead is ready though its socket is empty.
fn wait_on_connections_and_sentinels() {
    fn answer((conn, delay_ms): (Connection, u64)) {
        std::thread::sleep(Duration::from_millis(delay_ms));
        conn.send(&delay_ms).unwrap();
        std::thread::sleep(Duration::from_millis(delay_ms));
    }
    let delays = [300u64, 100, 200];
    let mut readers = Vec::new();
    let mut processes = Vec::new();
    for &delay in &delays {
        let (reader, writer) = Pipe(false).unwrap();
        let mut p = Process::new(answer, (writer, delay));
        p.start().unwrap();
        readers.push(reader);
        processes.push(p);
    }
    // Wait on every reader and every sentinel; drop each from the list once done with it
    // (a reader at its end of file, a sentinel once its process ended), as CPython's test does.
    let sentinels: Vec<_> = processes
        .iter()
        .map(|p| p.sentinel().expect("a sentinel"))
        .collect();
    let mut open_readers: Vec<usize> = (0..3).collect();
    let mut running: Vec<usize> = (0..3).collect();
    let mut answers = Vec::new();
    let mut ended = Vec::new();
    while !open_readers.is_empty() || !running.is_empty() {
        let mut objects: Vec<&dyn Waitable> = open_readers
            .iter()
            .map(|&i| &readers[i] as &dyn Waitable)
            .collect();
        objects.extend(running.iter().map(|&i| &sentinels[i] as &dyn Waitable));
        let ready = wait(&objects, Some(Duration::from_secs(30))).unwrap();
        assert!(!ready.is_empty(), "nothing was ready within 30 s");
        let (mut gone_readers, mut gone_processes) = (Vec::new(), Vec::new());
        for place in ready {
            if place < open_readers.len() {
                let i = open_readers[place];
                match readers[i].recv::<u64>() {
                    Ok(delay) => answers.push(delay),
                    Err(Error::Eof(_)) => gone_readers.push(i),
                    Err(e) => panic!("{e}"),
                }
            } else {
                let i = running[place - open_readers.len()];
                ended.push(i);
                gone_processes.push(i);
            }
        }
        open_readers.retain(|i| !gone_readers.contains(i));
        running.retain(|i| !gone_processes.contains(i));
    }
    assert_eq!(answers, [100, 200, 300], "answers arrive as they come");
    assert_eq!(ended, [1, 2, 0], "sentinels are ready as the children end");
    for p in &processes {
        p.join().unwrap();
        assert_eq!(p.exitcode(), Some(0));
    }

    // Read ahead: two messages came in one read; the socket is empty but the second is there.
    let (a, b) = Pipe(true).unwrap();
    a.send(&1u8).unwrap();
    a.send(&2u8).unwrap();
    assert_eq!(b.recv::<u8>().unwrap(), 1);
    let (idle, _keep) = Pipe(true).unwrap();
    let objects: [&dyn Waitable; 2] = [&idle, &b];
    assert_eq!(wait(&objects, Some(Duration::ZERO)).unwrap(), [1]);
    // A closed connection cannot be waited on.
    b.close();
    assert!(wait(&[&b as &dyn Waitable], Some(Duration::ZERO)).is_err());
}

/// CPython's `_TestWait.test_wait_timeout`: with nothing ready, `wait` returns nothing after
/// about its timeout (never before it), and a zero timeout only looks.
fn wait_timeout() {
    let (a, _b) = Pipe(true).unwrap();
    let (c, _d) = Pipe(false).unwrap();
    let objects: [&dyn Waitable; 2] = [&a, &c];
    for timeout in [Duration::ZERO, Duration::from_millis(200)] {
        let started = Instant::now();
        assert!(wait(&objects, Some(timeout)).unwrap().is_empty());
        let took = started.elapsed();
        assert!(took >= timeout, "returned after {took:?}, before {timeout:?}");
        assert!(
            took < timeout + Duration::from_secs(2),
            "took {took:?} for {timeout:?}"
        );
    }
}

/// Issue 15, CPython's `_TestConnection.test_connection` (`recv_bytes_into`, `BufferTooShort`)
/// and `test_sendbytes` (offsets and sizes): a message is received into the caller's buffer,
/// small or big; one that does not fit is an error that carries it whole, and the next message
/// is intact; `send_bytes_range` sends part of a buffer and refuses a range outside it.
fn recv_bytes_into_and_send_bytes_range() {
    let (a, b) = Pipe(true).unwrap();
    let mut buf = vec![0u8; 1 << 20];
    // Big messages need a reader while they are written: a thread writes, this one reads.
    let sizes = [0, 5, 4000, 5000, 1 << 20];
    std::thread::scope(|scope| {
        scope.spawn(|| {
            for len in sizes {
                a.send_bytes(&pattern(len, len as u32)).unwrap();
            }
        });
        for len in sizes {
            let n = b.recv_bytes_into(&mut buf).unwrap();
            assert_eq!(&buf[..n], &pattern(len, len as u32)[..], "{len} bytes");
        }
    });
    // Python's offset is a slice of the buffer.
    a.send_bytes(b"tail").unwrap();
    let n = b.recv_bytes_into(&mut buf[10..]).unwrap();
    assert_eq!(&buf[10..10 + n], b"tail");
    for len in [100, 100_000] {
        let message = pattern(len, 9);
        std::thread::scope(|scope| {
            scope.spawn(|| {
                a.send_bytes(&message).unwrap();
                a.send_bytes(b"next").unwrap();
            });
            match b.recv_bytes_into(&mut buf[..50]) {
                Err(Error::BufferTooShort {
                    message: got,
                    capacity,
                }) => {
                    assert_eq!((got, capacity), (message.clone(), 50));
                }
                other => panic!("{other:?}"),
            }
            assert_eq!(b.recv_bytes().unwrap(), b"next");
        });
    }

    let data = b"0123456789";
    a.send_bytes_range(data, 0, None).unwrap();
    a.send_bytes_range(data, 3, Some(4)).unwrap();
    a.send_bytes_range(data, 10, None).unwrap();
    a.send_bytes_range(data, 10, Some(0)).unwrap();
    assert_eq!(b.recv_bytes().unwrap(), data);
    assert_eq!(b.recv_bytes().unwrap(), b"3456");
    assert_eq!(b.recv_bytes().unwrap(), b"");
    assert_eq!(b.recv_bytes().unwrap(), b"");
    for (offset, size, says) in [
        (11, None, "< offset"),
        (5, Some(6), "< offset 5 + size 6"),
        (usize::MAX, Some(1), "< offset"),
    ] {
        let err = a.send_bytes_range(data, offset, size).unwrap_err().to_string();
        assert!(err.contains(says), "{err}");
    }
    assert!(
        !b.poll(Some(Duration::ZERO)).unwrap(),
        "a refused range sends nothing"
    );
}

/// Issue 15: `close()` on a shared reference lets the channel go at once (the peer sees the end
/// of file though this connection lives on), `closed()` says so, and every later use is an
/// error that says the connection is closed (CPython: `OSError: handle is closed`).
fn closed_connection_refuses_use() {
    let (a, b) = Pipe(true).unwrap();
    assert!(!a.closed());
    a.close();
    a.close();
    assert!(a.closed());
    assert!(
        matches!(b.recv::<u8>(), Err(Error::Eof(_))),
        "the peer sees the end at once"
    );
    let uses: [(&str, multiprocessing::Result<()>); 6] = [
        ("send", a.send(&1u8)),
        ("send_bytes", a.send_bytes(b"x")),
        ("recv", a.recv::<u8>().map(drop)),
        ("recv_bytes", a.recv_bytes().map(drop)),
        ("poll", a.poll(Some(Duration::ZERO)).map(drop)),
        ("try_clone", a.try_clone().map(drop)),
    ];
    for (what, result) in uses {
        let err = result.unwrap_err();
        assert!(matches!(err, Error::State(_)), "{what}: {err:?}");
        assert!(err.to_string().contains("closed"), "{what}: {err}");
    }
    // Nor can a closed connection be sent.
    let (c, _d) = Pipe(true).unwrap();
    let err = c.send(&a).unwrap_err().to_string();
    assert!(err.contains("closed"), "{err}");
    // Its number stays reserved until it is dropped, pointing nowhere harmful.
    assert!(a.as_raw_fd() >= 0);
    drop(a);
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

/// Issue 15 item 1, CPython's `_TestPicklingConnections.test_pickling`: connections sent through
/// a connection arrive as working ends of the same channels, in a child started by any method,
/// through both kinds of `Pipe`: their descriptors travel with the message (`SCM_RIGHTS`), with
/// what the sent connection had read ahead. The channels here are made after the child started,
/// so it cannot have inherited them.
fn pickling_connections() {
    fn child(inbox: Connection) {
        let (echo, writer): (Connection, Connection) = inbox.recv().unwrap();
        let x: u32 = echo.recv().unwrap();
        echo.send(&(x * 2)).unwrap();
        writer.send("through the one-way pipe").unwrap();
        let ahead: Connection = inbox.recv().unwrap();
        assert_eq!(ahead.recv::<u8>().unwrap(), 1);
        assert_eq!(ahead.recv::<u8>().unwrap(), 2);
        echo.send("done").unwrap();
    }
    for duplex in [true, false] {
        let (inbox, outbox) = Pipe(duplex).unwrap();
        let mut p = Process::new(child, inbox);
        p.start().unwrap();
        let (echo_here, echo_there) = Pipe(true).unwrap();
        let (from_child, to_parent) = Pipe(false).unwrap();
        outbox.send(&(&echo_there, &to_parent)).unwrap();
        // Our copies go; the child holds its own.
        drop((echo_there, to_parent));
        echo_here.send(&21u32).unwrap();
        assert_eq!(echo_here.recv::<u32>().unwrap(), 42);
        assert_eq!(from_child.recv::<String>().unwrap(), "through the one-way pipe");
        // A connection that read three messages ahead, and returned one.
        let (a, b) = Pipe(true).unwrap();
        for i in 0..3u8 {
            a.send(&i).unwrap();
        }
        assert_eq!(b.recv::<u8>().unwrap(), 0);
        assert!(b.poll(Some(Duration::ZERO)).unwrap());
        outbox.send(&b).unwrap();
        drop(b);
        assert_eq!(echo_here.recv::<String>().unwrap(), "done");
        assert!(p.join_timeout(Duration::from_secs(30)).unwrap());
        assert_eq!(p.exitcode(), Some(0), "duplex {duplex}");
        // The child exited and our copies are gone: the passed ends are closed everywhere.
        assert!(matches!(from_child.recv::<String>(), Err(Error::Eof(_))));
        assert!(matches!(echo_here.recv::<u32>(), Err(Error::Eof(_))));
    }
}

/// Issue 15 item 1, CPython's `_TestConnection.test_missing_fd_transfer`: a message that names
/// a descriptor which did not come with it is refused, and the receiver's own descriptor of
/// that number is left alone (the receiver used to adopt, then close, whatever it had open
/// under the number it was sent).
fn missing_fd_transfer() {
    #[derive(Serialize)]
    enum FdRef {
        Inherited(i32),
        Passed(u32),
    }
    let (victim_a, victim_b) = Pipe(true).unwrap();
    let number = victim_b.as_raw_fd();
    let forged = |fd: FdRef| {
        codec::encode(&(
            fd,
            true,
            true,
            1u64 << 30,
            false,
            Vec::<u8>::new(),
            Vec::<Vec<u32>>::new(),
        ))
        .unwrap()
    };
    let (a, b) = Pipe(true).unwrap();
    let messages = [
        // The old form: the bare number.
        codec::encode(&(number, true, true, 1u64 << 30, false, Vec::<u8>::new())).unwrap(),
        forged(FdRef::Inherited(number)),
        forged(FdRef::Passed(0)),
    ];
    for message in &messages {
        a.send_bytes(message).unwrap();
        assert!(b.recv::<Connection>().is_err());
    }
    // A descriptor-number message is refused with a reason, not a decoding accident.
    a.send_bytes(&messages[1]).unwrap();
    let err = b.recv::<Connection>().unwrap_err().to_string();
    assert!(
        err.contains("adopts only descriptors passed with the message"),
        "{err}"
    );
    // A frame that announces a descriptor which never came (a raw socket sends none).
    let (mut raw, theirs) = UnixStream::pair().unwrap();
    let receiver = Connection::from_owned_fd(theirs.into());
    let payload = forged(FdRef::Passed(0));
    let mut frame = 0xFFFF_FFFEu32.to_le_bytes().to_vec();
    frame.extend(1u32.to_le_bytes());
    frame.extend((payload.len() as u64).to_le_bytes());
    frame.extend(&payload);
    raw.write_all(&frame).unwrap();
    raw.write_all(&frame).unwrap();
    let err = receiver.recv::<Connection>().unwrap_err().to_string();
    assert!(err.contains("did not come with this message"), "{err}");
    // As raw bytes, the same message is just its payload.
    assert_eq!(receiver.recv_bytes().unwrap(), payload);
    // Bytes encoded by hand carry only the number: decoding them adopts nothing either.
    let bytes = codec::encode(&victim_b).unwrap();
    assert!(codec::decode::<Connection>(&bytes).is_err());
    // The receiver's own connection under that number still works.
    victim_a.send(&5u8).unwrap();
    assert_eq!(victim_b.recv::<u8>().unwrap(), 5);
}

/// CPython's `_TestConnection.test_large_fd_transfer`: a descriptor with a number above 256
/// crosses, and so do many in one message (each arrives once, working, in order).
fn large_fd_transfer() {
    let (a, b) = Pipe(true).unwrap();
    let (near, far) = Pipe(true).unwrap();
    let high: OwnedFd = nix::fcntl::fcntl(&far, nix::fcntl::FcntlArg::F_DUPFD_CLOEXEC(300))
        .map(|fd| {
            // SAFETY: F_DUPFD_CLOEXEC just returned this new descriptor, owned by nobody else.
            #[allow(unsafe_code, reason = "nix returns the duplicate as a number")]
            unsafe {
                std::os::fd::FromRawFd::from_raw_fd(fd)
            }
        })
        .unwrap();
    drop(far);
    let high = Connection::from_owned_fd(high);
    assert!(high.as_raw_fd() >= 300);
    a.send(&high).unwrap();
    drop(high);
    let arrived: Connection = b.recv().unwrap();
    arrived.send(&"far").unwrap();
    assert_eq!(near.recv::<String>().unwrap(), "far");

    let pairs: Vec<(Connection, Connection)> = (0..50).map(|_| Pipe(true).unwrap()).collect();
    let theirs: Vec<&Connection> = pairs.iter().map(|(_, t)| t).collect();
    a.send(&theirs).unwrap();
    let arrived: Vec<Connection> = b.recv().unwrap();
    assert_eq!(arrived.len(), 50);
    for (i, conn) in arrived.iter().enumerate() {
        conn.send(&(i as u32)).unwrap();
    }
    for (i, (ours, _)) in pairs.iter().enumerate() {
        assert_eq!(ours.recv::<u32>().unwrap(), i as u32);
    }
}

/// Issue 15 item 1: where a channel cannot carry a descriptor, a value that owns one is refused
/// at the sender, with an error that names the channel, and nothing is sent: a `Queue` (its
/// shared-memory ring), a plain pipe, a TCP connection.
fn descriptors_refused_where_they_cannot_go() {
    let (a, _b) = Pipe(true).unwrap();
    let q: multiprocessing::Queue<Connection> = multiprocessing::Queue::new(0).unwrap();
    let err = q.put(&a).unwrap_err().to_string();
    assert!(err.contains("Queue"), "{err}");
    assert!(q.empty());

    let (r, w) = nix::unistd::pipe().unwrap();
    let (r, w) = (Connection::from_owned_fd(r), Connection::from_owned_fd(w));
    let err = w.send(&a).unwrap_err().to_string();
    assert!(err.contains("through a pipe"), "{err}");
    assert!(!r.poll(Some(Duration::ZERO)).unwrap(), "nothing was sent");

    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let tcp = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (server, _) = listener.accept().unwrap();
    let (tcp, server) = (
        Connection::from_owned_fd(tcp.into()),
        Connection::from_owned_fd(server.into()),
    );
    let err = tcp.send(&(1u8, &a)).unwrap_err().to_string();
    assert!(err.contains("TCP"), "{err}");
    tcp.send(&2u8).unwrap();
    assert_eq!(
        server.recv::<u8>().unwrap(),
        2,
        "the refused message left nothing behind"
    );
}

/// Messages sent back to back are read ahead: all arrive in order, intact, whatever their
/// sizes (headers and payloads cut by the 4 KiB read-ahead buffer at every offset), and `poll`
/// reports what was read ahead even though the socket itself is empty.
fn read_ahead_keeps_messages_whole_and_poll_sees_them() {
    fn sender((conn, sizes): (Connection, Vec<usize>)) {
        for (i, &len) in sizes.iter().enumerate() {
            conn.send_bytes(&pattern(len, i as u32)).unwrap();
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
        assert!(
            got == pattern(len, i as u32),
            "message {i} of {len} bytes differs"
        );
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
        case!(objects_cross_processes_both_pipe_kinds),
        case!(duplex_goes_both_ways),
        case!(one_way_pipe_refuses_the_wrong_direction),
        case!(messages_up_to_64_mib_arrive_intact),
        case!(closed_peer_gives_eof),
        case!(send_to_a_gone_reader_is_an_error_not_sigpipe),
        case!(wrong_type_names_the_type_and_the_next_message_is_fine),
        case!(garbage_and_truncated_frames),
        case!(oversized_frames_are_refused_before_allocation_and_skipped),
        case!(poll_times_out_within_bounds),
        case!(waiting_receive_spins_only_briefly),
        case!(unserializable_value_is_an_error_and_sends_nothing),
        case!(pickling_connections),
        case!(missing_fd_transfer),
        case!(large_fd_transfer),
        case!(descriptors_refused_where_they_cannot_go),
        case!(wait_on_connections_and_sentinels),
        case!(wait_timeout),
        case!(recv_bytes_into_and_send_bytes_range),
        case!(closed_connection_refuses_use),
        case!(read_ahead_keeps_messages_whole_and_poll_sees_them),
        case!(send_reuses_its_buffer_safely),
        case!(clones_take_turns_without_reading_ahead),
    ] as &[Test])
}

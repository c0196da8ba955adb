//! Bad input: garbage, truncated and oversized frames into a `Connection`, a `Queue` and a
//! manager's protocol; values of the wrong type; a wrong authkey. Each gets an error that says
//! what happened, the next good message still arrives, and a length prefix that lies costs no
//! memory beyond the bytes really sent.
//!
//! The two `prop_*` tests are property tests (proptest; cargo-fuzz needs a nightly toolchain):
//! one checks the frame decoder against a model decoder on random streams, one throws random
//! requests at a manager's server and runs random dict operations against a `HashMap`. They run
//! 256 cases in the normal suite; for a longer run:
//!
//! ```text
//! PROPTEST_CASES=100000 cargo test --release -p multiprocessing --test bad_input -- prop_
//! ```

#[macro_use]
mod common;

use std::collections::HashMap;
use std::io::{Read, Write};
use std::os::fd::OwnedFd;
use std::os::unix::fs::FileExt;
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

use common::Test;
use multiprocessing::{
    Address, Client, Connection, DictProxy, Error, Manager, Process, Queue, codec, current_process,
};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

/// The process's peak virtual size (`VmPeak`), in KiB.
fn vm_peak_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmPeak:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmPeak in /proc/self/status")
}

/// A raw stream end to write frames by hand, and a `Connection` reading the other end.
fn raw_pair() -> (UnixStream, Connection) {
    let (raw, theirs) = UnixStream::pair().unwrap();
    (raw, Connection::from_owned_fd(OwnedFd::from(theirs)))
}

fn frame(payload: &[u8]) -> Vec<u8> {
    let mut out = (payload.len() as u32).to_le_bytes().to_vec();
    out.extend_from_slice(payload);
    out
}

fn connection_frames() {
    // Garbage that is a well-formed frame but not the type asked for: a codec error naming the
    // type; the frame is consumed and the next message arrives.
    let (mut raw, conn) = raw_pair();
    raw.write_all(&frame(&[0xff; 7])).unwrap();
    raw.write_all(&frame(&codec::encode(&(1u32, "ok".to_string())).unwrap()))
        .unwrap();
    let err = conn.recv::<(u32, String)>().unwrap_err();
    assert!(matches!(err, Error::Codec(_)), "{err:?}");
    assert!(err.to_string().contains("(u32, alloc::string::String)"), "{err}");
    assert_eq!(conn.recv::<(u32, String)>().unwrap(), (1, "ok".to_string()));

    // A value of the wrong type that does decode partially: the leftover bytes are refused.
    raw.write_all(&frame(&codec::encode(&(5u8, 6u8)).unwrap()))
        .unwrap();
    let err = conn.recv::<u8>().unwrap_err();
    assert!(err.to_string().contains("left over"), "{err}");

    // Oversized for this end: refused before allocating, skipped, and the next one arrives.
    conn.set_max_message_size(1024);
    raw.write_all(&frame(&vec![1u8; 100_000])).unwrap();
    raw.write_all(&frame(b"next")).unwrap();
    let err = conn.recv_bytes().unwrap_err();
    assert!(
        err.to_string().contains("refused a message of 100000 bytes"),
        "{err}"
    );
    assert_eq!(conn.recv_bytes().unwrap(), b"next");
    conn.set_max_message_size(multiprocessing::DEFAULT_MAX_MESSAGE_SIZE);

    // A lying length prefix: a header announcing just under 1 GiB (under the default limit),
    // a few bytes, then the peer dies. The reader says the frame was truncated, and its peak
    // memory grew by far less than what the header announced.
    let before = vm_peak_kib();
    let mut lie = ((1u32 << 30) - 1).to_le_bytes().to_vec();
    lie.extend_from_slice(&[9; 100]);
    raw.write_all(&lie).unwrap();
    drop(raw);
    let err = conn.recv_bytes().unwrap_err();
    assert!(matches!(err, Error::Eof(_)), "{err:?}");
    assert!(err.to_string().contains("truncated frame"), "{err}");
    let grew = vm_peak_kib().saturating_sub(before);
    assert!(
        grew < 64 * 1024,
        "a lying header cost {grew} KiB of address space"
    );
    println!("a header announcing 1 GiB cost {grew} KiB of peak address space");

    // The long-header escape with an absurd length: refused at once, then the skip runs into
    // the end of the stream and says so.
    let (mut raw, conn) = raw_pair();
    let mut huge = u32::MAX.to_le_bytes().to_vec();
    huge.extend_from_slice(&(1u64 << 62).to_le_bytes());
    raw.write_all(&huge).unwrap();
    drop(raw);
    let err = conn.recv_bytes().unwrap_err();
    assert!(err.to_string().contains("longer than the maximum"), "{err}");

    // Truncated inside the header, and inside the payload.
    for bytes in [&[1u8, 0][..], &[10, 0, 0, 0, 1, 2, 3][..]] {
        let (mut raw, conn) = raw_pair();
        raw.write_all(bytes).unwrap();
        drop(raw);
        let err = conn.recv_bytes().unwrap_err();
        assert!(err.to_string().contains("truncated frame"), "{err}");
    }
}

/// The descriptor of the queue's own shared-memory segment: the smallest `mp-heap` memfd of
/// this test that holds the ring (a 4 KiB ring is over the arena's 2 KiB limit, so it has a segment of its own,
/// beside the 16 KiB arena of small objects, and its block starts at the segment's offset 0).
fn queue_segment_fd() -> i32 {
    let mut segments: Vec<(u64, i32)> = std::fs::read_dir("/proc/self/fd")
        .unwrap()
        .filter_map(|e| {
            let e = e.ok()?;
            let target = std::fs::read_link(e.path()).ok()?;
            if !target.to_string_lossy().starts_with("/memfd:mp-heap") {
                return None;
            }
            let len = std::fs::metadata(e.path()).ok()?.len();
            Some((len, e.file_name().to_string_lossy().parse().ok()?))
        })
        .collect();
    // The smallest segment that holds the header and the ring: the arena is 16 KiB.
    segments.retain(|&(len, _)| len >= 4096 + RING_AT);
    segments.sort_unstable();
    segments.first().expect("the queue's segment").1
}

/// Where a queue's ring starts in its block (`HEADER` in `queues.rs`).
const RING_AT: u64 = 448;

fn queue_bad_input() {
    fn put_big(q: Queue<Vec<u8>>) {
        q.put(vec![3u8; 64 * 1024]).unwrap();
        q.put(vec![4u8; 10]).unwrap();
    }
    let q: Queue<Vec<u8>> = Queue::with_capacity(0, 4096).unwrap();

    // A queue of the wrong type cannot be made: a Queue crosses to another process only by
    // inheritance (as CPython's), so every view of the ring has the type it was made with. The
    // sender refuses any other route, with CPython's words.
    let err = codec::encode(&q).unwrap_err();
    assert!(err.to_string().contains("inheritance"), "{err}");

    // Oversized: a message sixteen times the ring streams through it.
    let mut p = Process::new(put_big, q.clone());
    p.start().unwrap();
    assert_eq!(
        q.get_timeout(Duration::from_secs(20)).unwrap(),
        vec![3u8; 64 * 1024]
    );
    assert_eq!(q.get_timeout(Duration::from_secs(20)).unwrap(), vec![4u8; 10]);
    p.join_timeout(Duration::from_secs(20)).unwrap();
    assert_eq!(p.exitcode(), Some(0));

    // Garbage in the ring: another process that maps the queue's memory overwrites a
    // message's header with a length far past the published bytes. The consumer gets an error
    // instead of copying from outside the ring, and the queue goes on.
    let memory = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(format!("/proc/self/fd/{}", queue_segment_fd()))
        .unwrap();
    q.put(vec![5u8; 16]).unwrap();
    // The ring is empty at a known position: find the header we just wrote to check the layout.
    let tail = (0..4096 / 8)
        .map(|i| RING_AT + i * 8)
        .find(|&at| {
            let mut h = [0u8; 8];
            memory.read_at(&mut h, at).unwrap();
            h == [17, 0, 0, 0, 3, 0, 0, 0]
        })
        .expect("a header [17 bytes, FIRST|LAST] for the message just put");
    memory.write_at(&0x7fff_0000u32.to_le_bytes(), tail).unwrap();
    let err = q.get_timeout(Duration::from_secs(5)).unwrap_err();
    assert!(matches!(err, Error::Remote(_)), "{err:?}");
    assert!(err.to_string().contains("corrupt message header"), "{err}");
    q.put(vec![6u8; 8]).unwrap();
    assert_eq!(q.get_timeout(Duration::from_secs(5)).unwrap(), vec![6u8; 8]);
    assert!(q.empty());
}

fn manager_bad_input() {
    let manager = Manager::new().unwrap();
    let d = manager.dict::<String, i32>().unwrap();
    d.set("a", &1).unwrap();
    let Address::Unix(path) = manager.address().clone() else {
        panic!("a local manager listens on a Unix socket")
    };

    // Garbage requests on one connection: each gets a "malformed request" reply, and a good
    // request on the same connection after them is served.
    let conn = Client(manager.address(), Some(&current_process().authkey())).unwrap();
    for garbage in [&[0xffu8, 0xff, 0xff][..], b"\x01\x01", &[9; 300], &[]] {
        conn.send_bytes(garbage).unwrap();
        assert!(conn.poll(Some(Duration::from_secs(20))).unwrap());
        let reply = conn.recv_bytes().unwrap();
        assert!(String::from_utf8_lossy(&reply).contains("malformed request"));
    }

    // A frame longer than the server accepts (the long-header escape, 2^40 bytes) from a
    // client that then dies, and frames cut short: the server drops those connections only.
    let mut raw = UnixStream::connect(&path).unwrap();
    let mut huge = u32::MAX.to_le_bytes().to_vec();
    huge.extend_from_slice(&(1u64 << 40).to_le_bytes());
    raw.write_all(&huge).unwrap();
    drop(raw);
    for cut in [&[5u8, 0][..], &[100, 0, 0, 0, 1, 2][..]] {
        let mut raw = UnixStream::connect(&path).unwrap();
        raw.write_all(cut).unwrap();
        drop(raw);
    }
    // A lying length prefix under the limit: the server holds 16 MiB at most for it while
    // the client stalls, and serves the others meanwhile.
    let mut liar = UnixStream::connect(&path).unwrap();
    liar.write_all(&((1u32 << 30) - 1).to_le_bytes()).unwrap();
    liar.write_all(&[0; 1000]).unwrap();
    d.set("b", &2).unwrap();
    assert_eq!(d.len().unwrap(), 2);
    drop(liar);

    // A value of the wrong type: the same dict seen through a proxy of other types.
    let as_strings: DictProxy<String, String> = codec::decode(&codec::encode(&d).unwrap()).unwrap();
    let err = as_strings.get("a").unwrap_err();
    assert!(matches!(err, Error::Codec(_)), "{err:?}");
    assert!(err.to_string().contains("alloc::string::String"), "{err}");
    assert_eq!(d.get("a").unwrap(), Some(1));

    // A wrong authkey on a served manager: refused with an authentication error, and a client
    // with the right key is served after it.
    let served = Manager::serve(&"127.0.0.1:0".parse().unwrap(), b"right").unwrap();
    let shared = served.dict::<String, i32>().unwrap();
    served.register("shared", &shared).unwrap();
    for key in [&b"wrong"[..], b"", &[0; 1000]] {
        let err = Manager::connect(served.address(), key).unwrap_err();
        assert!(matches!(err, Error::Authentication(_)), "{err}");
    }
    // Garbage instead of an answer to the challenge: the server hangs up on that client.
    let mut raw = std::net::TcpStream::connect(served.address().to_string()).unwrap();
    raw.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let mut challenge = [0u8; 256];
    let _ = raw.read(&mut challenge).unwrap();
    raw.write_all(&frame(b"not an answer")).unwrap();
    let mut rest = Vec::new();
    let _ = raw.read_to_end(&mut rest);
    let client = Manager::connect(served.address(), b"right").unwrap();
    let proxy: DictProxy<String, i32> = client.get("shared").unwrap();
    proxy.set("k", &5).unwrap();
    assert_eq!(shared.get("k").unwrap(), Some(5));
}

/// Cases per property: `PROPTEST_CASES`, or 256.
fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(256)
}

/// One piece of a random byte stream.
#[derive(Clone, Debug)]
enum Piece {
    /// A well-formed frame.
    Frame(Vec<u8>),
    /// A frame whose payload is longer than the reader accepts.
    TooLong(usize),
    /// A frame with the long-header escape.
    Long(Vec<u8>),
    /// A frame that announces descriptors, which never come (a raw socket sends none).
    WithFds(u32, Vec<u8>),
    /// Any bytes at all.
    Garbage(Vec<u8>),
}

fn piece() -> impl Strategy<Value = Piece> {
    prop_oneof![
        4 => proptest::collection::vec(any::<u8>(), 0..300).prop_map(Piece::Frame),
        1 => (65usize..5000).prop_map(Piece::TooLong),
        1 => proptest::collection::vec(any::<u8>(), 0..100).prop_map(Piece::Long),
        1 => (0u32..300, proptest::collection::vec(any::<u8>(), 0..100)).prop_map(|(n, p)| Piece::WithFds(n, p)),
        1 => proptest::collection::vec(any::<u8>(), 0..20).prop_map(Piece::Garbage),
    ]
}

/// What a reader with a `max`-byte limit must make of `stream`, as a simple decoder sees it:
/// `Ok(payload)`, `Err("too long")`, or a final `Err("truncated")`/`Err("eof")`.
fn model(stream: &[u8], max: u64) -> Vec<Result<Vec<u8>, &'static str>> {
    let mut out = Vec::new();
    let mut at = 0;
    loop {
        let rest = &stream[at..];
        if rest.is_empty() {
            out.push(Err("eof"));
            return out;
        }
        if rest.len() < 4 {
            out.push(Err("truncated"));
            return out;
        }
        let short = u32::from_le_bytes(rest[..4].try_into().unwrap());
        // The long form, and the form that announces descriptors (a count, then the length).
        let head = match short {
            u32::MAX => 12,
            0xFFFF_FFFE => 16,
            _ => 4,
        };
        if rest.len() < head {
            out.push(Err("truncated"));
            return out;
        }
        let len = match head {
            4 => u64::from(short),
            _ => u64::from_le_bytes(rest[head - 8..head].try_into().unwrap()),
        };
        let available = (rest.len() - head) as u64;
        if len > max {
            // Refused, then skipped if the bytes are there; otherwise the skip hits the end.
            out.push(Err("too long"));
            if available < len {
                return out;
            }
        } else if available < len {
            out.push(Err("truncated"));
            return out;
        } else {
            out.push(Ok(rest[head..head + len as usize].to_vec()));
        }
        at += head + len as usize;
    }
}

/// The frame decoder against the model, on random streams of good, oversized, long-header
/// and garbage frames, written from another thread (so big streams do not block) and read to
/// their end.
fn prop_frame_decoder() {
    const MAX: u64 = 64;
    let mut runner = TestRunner::new(Config::with_cases(cases()));
    let started = Instant::now();
    runner
        .run(&proptest::collection::vec(piece(), 0..12), |pieces| {
            let mut stream = Vec::new();
            for p in &pieces {
                match p {
                    Piece::Frame(payload) => stream.extend(frame(payload)),
                    Piece::TooLong(n) => stream.extend(frame(&vec![7; *n])),
                    Piece::Long(payload) => {
                        stream.extend(u32::MAX.to_le_bytes());
                        stream.extend((payload.len() as u64).to_le_bytes());
                        stream.extend(payload);
                    }
                    Piece::WithFds(n, payload) => {
                        stream.extend(0xFFFF_FFFEu32.to_le_bytes());
                        stream.extend(n.to_le_bytes());
                        stream.extend((payload.len() as u64).to_le_bytes());
                        stream.extend(payload);
                    }
                    Piece::Garbage(bytes) => stream.extend(bytes),
                }
            }
            let expected = model(&stream, MAX);
            let (mut raw, conn) = raw_pair();
            conn.set_max_message_size(MAX);
            let writer = std::thread::spawn(move || {
                let _ = raw.write_all(&stream);
            });
            let mut got = Vec::new();
            loop {
                match conn.recv_bytes() {
                    Ok(payload) => got.push(Ok(payload)),
                    Err(e) => {
                        let text = e.to_string();
                        let kind = if text.contains("longer than the maximum") {
                            "too long"
                        } else if text.contains("truncated frame") {
                            "truncated"
                        } else if matches!(e, Error::Eof(_)) {
                            "eof"
                        } else {
                            panic!("unexpected error: {text}")
                        };
                        got.push(Err(kind));
                        // A refused frame whose bytes did not all come ends the stream too.
                        let ended = kind != "too long" || text.contains("skipping it failed");
                        if ended {
                            break;
                        }
                    }
                }
            }
            writer.join().unwrap();
            prop_assert_eq!(got, expected);
            Ok(())
        })
        .unwrap();
    println!(
        "frame decoder: {} cases agree with the model in {:.1?}",
        cases(),
        started.elapsed()
    );
}

/// A dict operation, applied to a manager's dict and to a `HashMap`.
#[derive(Clone, Debug)]
enum DictOp {
    Set(u8, i64),
    Get(u8),
    Remove(u8),
    Contains(u8),
    SetDefault(u8, i64),
    Update(Vec<(u8, i64)>),
    Len,
    Clear,
}

fn dict_op() -> impl Strategy<Value = DictOp> {
    let key = 0u8..16;
    prop_oneof![
        4 => (key.clone(), any::<i64>()).prop_map(|(k, v)| DictOp::Set(k, v)),
        3 => key.clone().prop_map(DictOp::Get),
        2 => key.clone().prop_map(DictOp::Remove),
        1 => key.clone().prop_map(DictOp::Contains),
        1 => (key.clone(), any::<i64>()).prop_map(|(k, v)| DictOp::SetDefault(k, v)),
        1 => proptest::collection::vec((key, any::<i64>()), 0..5).prop_map(DictOp::Update),
        1 => Just(DictOp::Len),
        1 => Just(DictOp::Clear),
    ]
}

/// The manager protocol: random requests (any bytes but the one-byte `Shutdown`) each get a
/// reply and leave the server serving; random dict operations through a proxy agree with a
/// `HashMap`. One server for all cases, as a long-running server would see them.
fn prop_manager_protocol() {
    let manager = Manager::new().unwrap();
    let probe = manager.dict::<u8, i64>().unwrap();
    let conn = Client(manager.address(), Some(&current_process().authkey())).unwrap();
    let started = Instant::now();
    let garbage = (
        any::<u8>().prop_filter("not Shutdown", |b| *b != 4),
        proptest::collection::vec(any::<u8>(), 0..64),
    );
    let mut runner = TestRunner::new(Config::with_cases(cases()));
    runner
        .run(&proptest::collection::vec(garbage, 1..4), |requests| {
            for (first, rest) in &requests {
                let mut request = vec![*first];
                request.extend(rest);
                conn.send_bytes(&request).unwrap();
                prop_assert!(
                    conn.poll(Some(Duration::from_secs(20))).unwrap(),
                    "no reply to {:?}",
                    request
                );
                conn.recv_bytes().unwrap();
            }
            // The server goes on, and this connection's framing is intact.
            probe.set(&0, &1).unwrap();
            prop_assert_eq!(probe.get(&0).unwrap(), Some(1));
            Ok(())
        })
        .unwrap();
    let random_requests = started.elapsed();

    let started = Instant::now();
    let mut runner = TestRunner::new(Config::with_cases(cases()));
    runner
        .run(&proptest::collection::vec(dict_op(), 0..30), |ops| {
            let d = manager.dict::<u8, i64>().unwrap();
            let mut model: HashMap<u8, i64> = HashMap::new();
            for op in ops {
                match op {
                    DictOp::Set(k, v) => {
                        d.set(&k, &v).unwrap();
                        model.insert(k, v);
                    }
                    DictOp::Get(k) => prop_assert_eq!(d.get(&k).unwrap(), model.get(&k).copied()),
                    DictOp::Remove(k) => {
                        prop_assert_eq!(d.remove(&k).unwrap(), model.remove(&k));
                    }
                    DictOp::Contains(k) => {
                        prop_assert_eq!(d.contains(&k).unwrap(), model.contains_key(&k))
                    }
                    DictOp::SetDefault(k, v) => {
                        let want = *model.entry(k).or_insert(v);
                        prop_assert_eq!(d.setdefault(&k, &v).unwrap(), want);
                    }
                    DictOp::Update(pairs) => {
                        d.update(pairs.iter().map(|(k, v)| (k, v))).unwrap();
                        model.extend(pairs);
                    }
                    DictOp::Len => prop_assert_eq!(d.len().unwrap(), model.len()),
                    DictOp::Clear => {
                        d.clear().unwrap();
                        model.clear();
                    }
                }
            }
            let mut keys = d.keys().unwrap();
            keys.sort_unstable();
            let mut want: Vec<u8> = model.keys().copied().collect();
            want.sort_unstable();
            prop_assert_eq!(keys, want);
            Ok(())
        })
        .unwrap();
    println!(
        "manager protocol: {} cases of 1-3 random requests in {random_requests:.1?}, {} cases of \
         up to 30 dict operations in {:.1?}, all agreeing",
        cases(),
        cases(),
        started.elapsed()
    );
}

fn main() -> std::process::ExitCode {
    common::run(&[
        case!(connection_frames),
        case!(queue_bad_input),
        case!(manager_bad_input),
        case!(prop_frame_decoder, 600),
        case!(prop_manager_protocol, 600),
    ] as &[Test])
}

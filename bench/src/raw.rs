//! The machine's ceilings: fork+exit+wait, pipe and socket round trips (blocking, and with the
//! runtime's receive spin), socketpair bandwidth, a shared-memory ring, CPU work split over two
//! forked processes, and the CPU cost of receiving a trickle of messages.
//!
//! Each is the thinnest code (std, libc and nix; no runtime) that does what the workload it
//! bounds does, through the same mechanism.

use std::hint::black_box;
use std::io::{Read, Write};
use std::num::NonZeroUsize;
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::sys::socket::{MsgFlags, recv};
use nix::sys::wait::waitpid;
use nix::unistd::{ForkResult, fork};

use crate::{cpu_time, heavy, per_op, speedup_pairs, speedup_tasks, trickle, trickle_messages};

/// The workloads of this module.
pub(crate) const NAMES: &[&str] = &[
    "raw_fork_wait",
    "raw_pipe_rtt",
    "raw_socket_rtt",
    "raw_socket_rtt_spin",
    "raw_socketpair_1mib",
    "raw_shm_ring",
    "raw_fork_split",
    "raw_trickle",
];

/// Runs `name` if it is one of ours.
pub(crate) fn run(name: &str, quick: bool) -> Option<(&'static str, f64)> {
    Some(match name {
        "raw_fork_wait" => ("ms", per_op(if quick { 50 } else { 300 }, fork_exit_wait) * 1e3),
        "raw_pipe_rtt" => ("us", rtt(quick, pipe_pair) * 1e6),
        "raw_socket_rtt" => ("us", rtt(quick, socket_pair) * 1e6),
        "raw_socket_rtt_spin" => ("us", rtt(quick, spinning_socket_pair) * 1e6),
        "raw_socketpair_1mib" => ("MB/s", socketpair_bandwidth(quick)),
        "raw_shm_ring" => ("MB/s", shm_ring(quick)),
        "raw_fork_split" => ("x", fork_split(quick)),
        "raw_trickle" => ("us", trickle_cpu(quick) * 1e6),
        _ => return None,
    })
}

/// Leaves a forked child at once: no flush, no destructors, nothing of the parent's `main`.
fn child_exit(code: i32) -> ! {
    // SAFETY: `_exit` is async-signal-safe and the right way out of a forked child.
    unsafe { libc::_exit(code) }
}

fn fork_child(body: impl FnOnce()) -> nix::unistd::Pid {
    // SAFETY: the bench is single-threaded; the child runs `body` (plain reads, writes, copies
    // and futex calls on what it owns or shares) and leaves with `_exit`.
    match unsafe { fork() }.expect("fork") {
        ForkResult::Child => {
            body();
            child_exit(0)
        }
        ForkResult::Parent { child } => child,
    }
}

fn fork_exit_wait() {
    let pid = fork_child(|| {});
    waitpid(pid, None).expect("waitpid");
}

type Pair = (Box<dyn ReadWrite>, Box<dyn ReadWrite>);
trait ReadWrite: Read + Write {}
impl<T: Read + Write> ReadWrite for T {}

fn socket_pair() -> Pair {
    let (a, b) = UnixStream::pair().expect("socketpair");
    (Box::new(a), Box::new(b))
}

/// How long a receive spins before it sleeps: the runtime's `Connection` spins this long.
const SPIN_TIME: Duration = Duration::from_micros(50);
/// The runtime's back-off: after this many spins in a row that ran out, at most `1 << 8`
/// receives in a row sleep without spinning.
const MAX_MISSES: u32 = 8;

/// A socket whose reads spin as the runtime's `Connection` does: non-blocking reads with a
/// `sched_yield` between them, for up to [`SPIN_TIME`], then one blocking read. A spin that runs
/// out makes the next `2^misses - 1` reads sleep at once, and a spin that catches a message
/// resets the count, so that on a loaded machine the spinning does not take the CPU the peer
/// needs to answer (without that rule a round trip here takes 100 us and more under load).
struct Spinning {
    socket: UnixStream,
    misses: u32,
    skip: u32,
}

impl Spinning {
    fn try_read(&self, buf: &mut [u8]) -> std::io::Result<Option<usize>> {
        match recv(self.socket.as_raw_fd(), buf, MsgFlags::MSG_DONTWAIT) {
            Ok(n) => Ok(Some(n)),
            Err(Errno::EAGAIN) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }
}

impl Read for Spinning {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.skip > 0 {
            self.skip -= 1;
            return self.socket.read(buf);
        }
        if let Some(n) = self.try_read(buf)? {
            return Ok(n);
        }
        let until = Instant::now() + SPIN_TIME;
        loop {
            std::thread::yield_now();
            if let Some(n) = self.try_read(buf)? {
                self.misses = 0;
                return Ok(n);
            }
            if Instant::now() >= until {
                self.misses = (self.misses + 1).min(MAX_MISSES);
                self.skip = (1 << self.misses) - 1;
                return self.socket.read(buf);
            }
        }
    }
}

impl Write for Spinning {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.socket.write(buf)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn spinning_socket_pair() -> Pair {
    let (a, b) = UnixStream::pair().expect("socketpair");
    let spinning = |socket| Spinning {
        socket,
        misses: 0,
        skip: 0,
    };
    (Box::new(spinning(a)), Box::new(spinning(b)))
}

/// Two pipes make one duplex channel: (parent end, child end).
fn pipe_pair() -> Pair {
    struct Duplex(std::fs::File, std::fs::File);
    impl Read for Duplex {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            self.0.read(buf)
        }
    }
    impl Write for Duplex {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.1.write(buf)
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let (r1, w1) = nix::unistd::pipe().expect("pipe");
    let (r2, w2) = nix::unistd::pipe().expect("pipe");
    (
        Box::new(Duplex(r1.into(), w2.into())),
        Box::new(Duplex(r2.into(), w1.into())),
    )
}

/// Seconds per round trip of an 8-byte message between two processes.
fn rtt(quick: bool, make: fn() -> Pair) -> f64 {
    let n: u32 = if quick { 2_000 } else { 20_000 };
    let (mut parent, mut child) = make();
    // The closure owns the child's end, so the parent closes its copy when `fork_child` returns.
    let pid = fork_child(move || {
        let mut buf = [0u8; 8];
        for _ in 0..=n {
            child.read_exact(&mut buf).expect("child read");
            child.write_all(&buf).expect("child write");
        }
    });
    let mut buf = [0u8; 8];
    parent.write_all(&buf).expect("warm-up write");
    parent.read_exact(&mut buf).expect("warm-up read");
    let took = per_op(n, || {
        parent.write_all(&buf).expect("write");
        parent.read_exact(&mut buf).expect("read");
    });
    waitpid(pid, None).expect("waitpid");
    took
}

/// One MiB, the message size of the bandwidth workloads.
const MIB: usize = 1 << 20;

/// MB/s of 1 MiB writes through a Unix socketpair, one way.
fn socketpair_bandwidth(quick: bool) -> f64 {
    let n: usize = if quick { 200 } else { 2_000 };
    let (mut tx, mut rx) = UnixStream::pair().expect("socketpair");
    let blob = vec![7u8; MIB];
    let pid = fork_child(move || {
        let mut buf = vec![0u8; MIB];
        for _ in 0..n {
            rx.read_exact(&mut buf).expect("read");
        }
    });
    let t = Instant::now();
    for _ in 0..n {
        tx.write_all(&blob).expect("write");
    }
    waitpid(pid, None).expect("waitpid");
    (n * MIB) as f64 / 1e6 / t.elapsed().as_secs_f64()
}

/// Sleeps until `word` no longer holds `seen`, or a wake-up (which may be spurious).
fn futex_wait(word: &AtomicU32, seen: u32) {
    // SAFETY: `word` is a live, aligned u32 in a shared mapping (hence no FUTEX_PRIVATE_FLAG);
    // a null timeout means no timeout. EAGAIN (the value changed) and EINTR only send the caller
    // back to look at the word again.
    unsafe {
        libc::syscall(
            libc::SYS_futex,
            word.as_ptr(),
            libc::FUTEX_WAIT,
            seen,
            std::ptr::null::<libc::timespec>(),
        );
    }
}

/// Wakes every process sleeping on `word`.
fn futex_wake(word: &AtomicU32) {
    // SAFETY: `word` is a live, aligned u32; FUTEX_WAKE only reads its address.
    unsafe {
        libc::syscall(libc::SYS_futex, word.as_ptr(), libc::FUTEX_WAKE, i32::MAX);
    }
}

/// MB/s of 1 MiB items through a ring in shared memory between two processes: four 1 MiB slots
/// (4 MiB, the runtime's default queue capacity) in a `MAP_SHARED` memfd mapping, with a
/// published count and a consumed count as futex words. The producer copies each item in, the
/// consumer copies it out into its own buffer, as a queue's `put` and `get` do; a side that finds
/// the ring full (empty) sleeps on the other side's count, and each side wakes the other after
/// every item. The item count is `queue_1mib`'s.
fn shm_ring(quick: bool) -> f64 {
    use nix::sys::memfd::{MFdFlags, memfd_create};
    use nix::sys::mman::{MapFlags, ProtFlags, mmap, munmap};

    const SLOTS: u32 = 4;
    /// The counts' page: published at 0, consumed at 64 (separate cache lines).
    const HEADER: usize = 4096;
    let n: u32 = if quick { 50 } else { 200 };
    let len = HEADER + SLOTS as usize * MIB;
    let fd = memfd_create(c"raw_shm_ring", MFdFlags::MFD_CLOEXEC).expect("memfd_create");
    nix::unistd::ftruncate(&fd, len as libc::off_t).expect("ftruncate");
    // SAFETY: a fresh shared mapping of a file we own and sized above; nothing else maps it.
    let base = unsafe {
        mmap(
            None,
            NonZeroUsize::new(len).expect("a non-empty ring"),
            ProtFlags::PROT_READ | ProtFlags::PROT_WRITE,
            MapFlags::MAP_SHARED,
            &fd,
            0,
        )
    }
    .expect("mmap")
    .cast::<u8>();
    // SAFETY: offsets 0 and 64 are inside the mapping, aligned for u32, and only ever accessed
    // atomically, by both processes; the mapping outlives every use (it is unmapped last).
    let (published, consumed) = unsafe {
        (
            AtomicU32::from_ptr(base.as_ptr().cast()),
            AtomicU32::from_ptr(base.as_ptr().add(64).cast()),
        )
    };
    let slot = |i: u32| {
        // SAFETY: slot `i % SLOTS` lies inside the mapping, after the header.
        unsafe { base.as_ptr().add(HEADER + (i % SLOTS) as usize * MIB) }
    };

    let pid = fork_child(move || {
        let mut item = vec![0u8; MIB];
        for i in 0..n {
            loop {
                let p = published.load(Ordering::Acquire);
                if p > i {
                    break;
                }
                futex_wait(published, p);
            }
            // SAFETY: the producer published slot `i` (Acquire above) and does not touch it
            // again until `consumed` passes `i`; `item` is our own 1 MiB.
            unsafe { std::ptr::copy_nonoverlapping(slot(i), item.as_mut_ptr(), MIB) };
            black_box(&mut item);
            consumed.store(i + 1, Ordering::Release);
            futex_wake(consumed);
        }
    });
    let blob = vec![b'x'; MIB];
    let t = Instant::now();
    for i in 0..n {
        loop {
            let c = consumed.load(Ordering::Acquire);
            if i - c < SLOTS {
                break;
            }
            futex_wait(consumed, c);
        }
        // SAFETY: the consumer is done with slot `i` (`consumed` passed `i - SLOTS`, Acquire
        // above) and reads it only after `published` passes `i`; `blob` is our own 1 MiB.
        unsafe { std::ptr::copy_nonoverlapping(blob.as_ptr(), slot(i), MIB) };
        published.store(i + 1, Ordering::Release);
        futex_wake(published);
    }
    waitpid(pid, None).expect("waitpid");
    let took = t.elapsed().as_secs_f64();
    // SAFETY: the child has exited and nothing refers to the mapping any more.
    unsafe { munmap(base.cast(), len) }.expect("munmap");
    f64::from(n) * MIB as f64 / 1e6 / took
}

/// `tutorial_speedup`'s tasks run in a loop, against the same tasks split in two halves over two
/// forked processes: the speedup that two CPUs allow, in the same pairs as the workload's.
fn fork_split(quick: bool) -> f64 {
    let tasks = speedup_tasks(quick);
    let half = tasks.len().div_ceil(2);
    speedup_pairs(
        || {
            for &task in &tasks {
                black_box(heavy(task));
            }
        },
        || {
            let pids: Vec<_> = tasks
                .chunks(half)
                .map(|part| {
                    fork_child(|| {
                        for &task in part {
                            black_box(heavy(task));
                        }
                    })
                })
                .collect();
            for pid in pids {
                waitpid(pid, None).expect("waitpid");
            }
        },
    )
}

/// The receiver's CPU seconds (user + system) per message, for 8-byte messages sent one every
/// 40 us to a process blocked in a plain `read` on a socket. The receiver measures itself from
/// the first message to the last and sends the figure back.
fn trickle_cpu(quick: bool) -> f64 {
    let n = trickle_messages(quick);
    let (mut tx, mut rx) = UnixStream::pair().expect("socketpair");
    let pid = fork_child(move || {
        let mut buf = [0u8; 8];
        rx.read_exact(&mut buf).expect("read");
        let start = cpu_time();
        for _ in 1..n {
            rx.read_exact(&mut buf).expect("read");
        }
        let per_message = (cpu_time() - start) / f64::from(n - 1);
        rx.write_all(&per_message.to_le_bytes()).expect("write");
    });
    trickle(n, |i| tx.write_all(&u64::from(i).to_le_bytes()).expect("write"));
    let mut figure = [0u8; 8];
    tx.read_exact(&mut figure).expect("read the receiver's figure");
    waitpid(pid, None).expect("waitpid");
    f64::from_le_bytes(figure)
}

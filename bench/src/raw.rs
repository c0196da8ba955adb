//! The machine's ceilings: fork+exit+wait, pipe and socket round trips, socketpair bandwidth.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::time::Instant;

use nix::sys::wait::waitpid;
use nix::unistd::{fork, ForkResult};

use crate::per_op;

/// The workloads of this module.
pub(crate) const NAMES: &[&str] = &[
    "raw_fork_wait",
    "raw_pipe_rtt",
    "raw_socket_rtt",
    "raw_socketpair_1mib",
];

/// Runs `name` if it is one of ours.
pub(crate) fn run(name: &str, quick: bool) -> Option<(&'static str, f64)> {
    Some(match name {
        "raw_fork_wait" => ("ms", per_op(if quick { 50 } else { 300 }, fork_exit_wait) * 1e3),
        "raw_pipe_rtt" => ("us", rtt(quick, pipe_pair) * 1e6),
        "raw_socket_rtt" => ("us", rtt(quick, socket_pair) * 1e6),
        "raw_socketpair_1mib" => ("MB/s", socketpair_bandwidth(quick)),
        _ => return None,
    })
}

/// Leaves a forked child at once: no flush, no destructors, nothing of the parent's `main`.
fn child_exit(code: i32) -> ! {
    // SAFETY: `_exit` is async-signal-safe and the right way out of a forked child.
    unsafe { libc::_exit(code) }
}

fn fork_child(body: impl FnOnce()) -> nix::unistd::Pid {
    // SAFETY: the bench is single-threaded; the child runs `body` (plain reads and writes on
    // descriptors it owns) and leaves with `_exit`.
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

/// MB/s of 1 MiB writes through a Unix socketpair, one way.
fn socketpair_bandwidth(quick: bool) -> f64 {
    let n: usize = if quick { 200 } else { 2_000 };
    let (mut tx, mut rx) = UnixStream::pair().expect("socketpair");
    let blob = vec![7u8; 1 << 20];
    let pid = fork_child(move || {
        let mut buf = vec![0u8; 1 << 20];
        for _ in 0..n {
            rx.read_exact(&mut buf).expect("read");
        }
    });
    let t = Instant::now();
    for _ in 0..n {
        tx.write_all(&blob).expect("write");
    }
    waitpid(pid, None).expect("waitpid");
    (n * blob.len()) as f64 / 1e6 / t.elapsed().as_secs_f64()
}

//! A worker process's side of the pool (CPython's `pool.worker`): run the initializer, say
//! "ready", then run one chunk after another until the parent says stop, goes away, or
//! `maxtasksperchild` chunks are done.

use std::panic::{self, AssertUnwindSafe};
use std::sync::{Arc, Mutex, PoisonError};

use serde::{Deserialize, Serialize};

use crate::connection::Connection;
use crate::error::Result;
use crate::process::spawn::Call;

use super::task::{Chunk, Code};
use super::wire::{self, Failure, Order};

/// The body of a worker process: initializer, "ready", then one chunk after another until the
/// parent says stop, goes away, or `maxtasks` chunks are done.
pub(super) fn worker_main(
    conn: Connection,
    parent: libc::pid_t,
    initializer: Option<Initializer>,
    maxtasks: Option<usize>,
) {
    // A worker does not outlive its pool's process: the start path ties it to the parent
    // (SIGKILL on the parent's death), the check below catches a parent that died before
    // that, and the worker sees end of file on its socket once the parent is gone. A panic in
    // a task prints nothing: the runtime's one panic hook records its message for the
    // parent's report (no hook is set here, so a worker forked while another thread panics
    // takes no lock that thread holds).
    if crate::sys::unistd::getppid() != parent {
        return;
    }
    crate::process::record_panics();
    if let Some(init) = initializer {
        if panic::catch_unwind(AssertUnwindSafe(|| init())).is_err() {
            let mut msg = vec![wire::INIT_FAILED];
            msg.extend_from_slice(crate::process::take_panic_message().as_bytes());
            let _ = conn.send_bytes(&msg);
            return;
        }
    }
    if conn.send_bytes(&[wire::READY]).is_err() {
        return;
    }
    let mut completed = 0;
    let mut chunk = Chunk::new();
    // The parent set the same limit on both ends of the socket.
    let limit = conn.max_message_size();
    loop {
        // End of file or an error: the parent is gone, and there is no one to work for.
        let Ok(msg) = conn.recv_bytes() else { return };
        let (job, index, code) = match wire::parse_order(&msg) {
            Some(Order::Task { job, chunk, code }) => (job, chunk, code),
            Some(Order::Context { job }) => {
                chunk.set_context(job, msg);
                continue;
            }
            // A stop, or a message that is not ours: either way, leave.
            Some(Order::Stop) | None => return,
        };
        // The two numbers were read from this worker's own socket to its pool, the one source
        // `from_parent` may take them from.
        let Some(task) = Code::from_parent(code) else {
            return;
        };
        chunk.set_message(job, msg);
        wire::result_header(wire::OK, job, index, &mut chunk.out);
        let failure = match panic::catch_unwind(AssertUnwindSafe(|| task.run(&mut chunk))) {
            // The parent's end refuses a message over its limit (and would read and throw away
            // all of it first): say so instead, and the parent fails just this chunk.
            Ok(Ok(())) if chunk.out.len() as u64 > limit => Some(Failure::TooLarge {
                size: chunk.out.len() as u64,
                limit,
            }),
            Ok(Ok(())) => None,
            Ok(Err(message)) => Some(Failure::Codec(message)),
            Err(_) => Some(Failure::Panicked {
                index: chunk.running,
                message: crate::process::take_panic_message(),
            }),
        };
        if let Some(failure) = failure {
            failure.write(job, index, limit, &mut chunk.out);
        }
        if conn.send_bytes(&chunk.out).is_err() {
            return;
        }
        completed += 1;
        if maxtasks.is_some_and(|m| completed >= m) {
            return;
        }
    }
}

/// A pool initializer, as a forked worker calls it.
pub(super) type Initializer = Arc<dyn Fn() + Send + Sync>;

/// A pool initializer as a call a spawned worker can make (encoded afresh for each worker).
pub(super) type InitializerCall = Arc<dyn Fn() -> Result<Call> + Send + Sync>;

/// What a spawned (or forkserver) worker receives: what a forked worker's closure captures.
#[derive(Serialize, Deserialize)]
pub(super) struct SpawnedWorker {
    pub(super) conn: Connection,
    pub(super) parent: libc::pid_t,
    pub(super) initializer: Option<Call>,
    pub(super) maxtasks: Option<usize>,
}

/// The target of a spawned worker.
pub(super) fn spawned_worker_main(args: SpawnedWorker) {
    let initializer = args.initializer.map(|call| {
        // `worker_main` calls its initializer once; a `Call` is consumed by that one call.
        let call = Mutex::new(Some(call));
        Arc::new(move || {
            let call = call.lock().unwrap_or_else(PoisonError::into_inner).take();
            if let Some(call) = call {
                call.invoke();
            }
        }) as Initializer
    });
    worker_main(args.conn, args.parent, initializer, args.maxtasks)
}

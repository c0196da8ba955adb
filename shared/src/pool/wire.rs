//! The messages between a pool and its workers: a kind byte, then fixed little-endian fields,
//! then an encoded payload. The header is laid out by hand so that a chunk's arguments and
//! results are encoded once, straight into the message.

use serde::{Deserialize, Serialize};

/// Parent to worker: `[TASK][job u64][chunk u32][entry u64][function u64]` + encoded `Vec<T>`
/// (the two code offsets of a [`TaskCode`](crate::reduction::TaskCode)).
pub(super) const TASK: u8 = 0;
/// Parent to worker: leave the loop and exit.
pub(super) const STOP: u8 = 1;
/// Parent to worker: `[CONTEXT][job u64]` + the encoded context of a call with context
/// (`map_with`), sent before the first chunk of that call a worker gets. The worker keeps the
/// last one it was sent.
pub(super) const CONTEXT: u8 = 2;

/// The length of a context message's header, before the encoded context.
pub(super) const CONTEXT_HEADER: usize = 1 + 8;
/// Worker to parent: ready for work (sent once, after the initializer).
pub(super) const READY: u8 = 10;
/// Worker to parent: `[OK][job u64][chunk u32]` + encoded `Vec<R>`.
pub(super) const OK: u8 = 11;
/// Worker to parent: `[FAILED][job u64][chunk u32]` + an encoded [`Failure`].
pub(super) const FAILED: u8 = 12;
/// Worker to parent: `[INIT_FAILED]` + the initializer's panic message; the worker exits.
pub(super) const INIT_FAILED: u8 = 13;

/// The length of a task's header, before its encoded arguments.
pub(super) const TASK_HEADER: usize = 1 + 8 + 4 + 8 + 8;
/// The length of a result's header, before its encoded results or its message.
pub(super) const RESULT_HEADER: usize = 1 + 8 + 4;

/// The little-endian `u64` at `at`, if the message is long enough.
pub(super) fn u64_at(buf: &[u8], at: usize) -> Option<u64> {
    buf.get(at..at + 8)
        .map(|b| u64::from_le_bytes(b.try_into().expect("8 bytes")))
}

/// The little-endian `u32` at `at`, if the message is long enough.
pub(super) fn u32_at(buf: &[u8], at: usize) -> Option<u32> {
    buf.get(at..at + 4)
        .map(|b| u32::from_le_bytes(b.try_into().expect("4 bytes")))
}

/// Starts a task message in `out`: its header, to which the chunk's arguments are appended.
pub(super) fn task_header(job: u64, chunk: u32, code: [u64; 2], out: &mut Vec<u8>) {
    out.push(TASK);
    out.extend_from_slice(&job.to_le_bytes());
    out.extend_from_slice(&chunk.to_le_bytes());
    out.extend_from_slice(&code[0].to_le_bytes());
    out.extend_from_slice(&code[1].to_le_bytes());
}

/// Makes `out` a result message's header, to which the results (or a message) are appended.
pub(super) fn result_header(kind: u8, job: u64, chunk: u32, out: &mut Vec<u8>) {
    out.clear();
    out.push(kind);
    out.extend_from_slice(&job.to_le_bytes());
    out.extend_from_slice(&chunk.to_le_bytes());
}

/// A message from the parent, as the worker reads it.
pub(super) enum Order {
    /// Run a chunk: its arguments are the message from [`TASK_HEADER`] on.
    Task {
        job: u64,
        chunk: u32,
        /// The two numbers of the task's [`TaskCode`](crate::reduction::TaskCode).
        code: [u64; 2],
    },
    /// Keep this context for the chunks of `job` (it follows [`CONTEXT_HEADER`]).
    Context { job: u64 },
    /// Leave.
    Stop,
}

/// Makes a context message for `job`, its encoded context appended to the header.
pub(super) fn context_message(job: u64, context: &[u8]) -> Vec<u8> {
    let mut message = Vec::with_capacity(CONTEXT_HEADER + context.len());
    message.push(CONTEXT);
    message.extend_from_slice(&job.to_le_bytes());
    message.extend_from_slice(context);
    message
}

/// Reads the parent's message; `None` for one that is not our protocol.
pub(super) fn parse_order(msg: &[u8]) -> Option<Order> {
    match *msg.first()? {
        STOP => Some(Order::Stop),
        CONTEXT => Some(Order::Context { job: u64_at(msg, 1)? }),
        TASK => Some(Order::Task {
            job: u64_at(msg, 1)?,
            chunk: u32_at(msg, 9)?,
            code: [u64_at(msg, 13)?, u64_at(msg, 21)?],
        }),
        _ => None,
    }
}

/// Why a worker could not return a chunk's results.
#[derive(Debug, Serialize, Deserialize)]
pub(super) enum Failure {
    /// The function panicked on the item at `index` of the chunk; the message as the panic
    /// hook recorded it.
    Panicked { index: u32, message: String },
    /// The arguments did not decode, or the results did not encode.
    Codec(String),
    /// The encoded results (`size` bytes, the whole message) are more than the connection to
    /// the parent takes (`limit` bytes): the parent would refuse them.
    TooLarge { size: u64, limit: u64 },
}

impl Failure {
    /// Makes `out` the message that reports this failure, keeping it within `limit` bytes: a
    /// panic message too long to fit is cut (the parent would refuse the whole message).
    pub(super) fn write(mut self, job: u64, chunk: u32, limit: u64, out: &mut Vec<u8>) {
        loop {
            result_header(FAILED, job, chunk, out);
            if crate::codec::encode_into(&self, out).is_err() {
                // Strings and numbers always encode; keep the header alone rather than panic.
                out.truncate(RESULT_HEADER);
            }
            let over = (out.len() as u64).saturating_sub(limit);
            let text = match &mut self {
                Failure::Panicked { message, .. } | Failure::Codec(message) => message,
                Failure::TooLarge { .. } => return,
            };
            if over == 0 || text.is_empty() {
                return;
            }
            // Cut at a character boundary, leaving room for the varint of the length.
            let mut keep = text
                .len()
                .saturating_sub(usize::try_from(over).unwrap_or(usize::MAX) + 8);
            while !text.is_char_boundary(keep) {
                keep -= 1;
            }
            text.truncate(keep);
        }
    }
}

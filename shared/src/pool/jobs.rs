//! Jobs: where a call's chunks come from ([`Source`]) and where their results go ([`Sink`]).
//!
//! Every call on the pool (`map`, `apply_async`, `imap`, ...) becomes one [`Job`]: a source
//! that encodes the next chunk of arguments when a worker asks for work, and a sink that takes
//! each chunk's results (or its failure) as they come back, in whatever order.

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::codec::{self, CodecError};
use crate::error::{Error, Result};

use super::task::Code;

/// Yields the encoded chunks of a job, lazily.
pub(super) trait Source: Send {
    /// Appends the next chunk's encoding to `out`; returns how many items it holds and whether
    /// they encoded, or `None` when there are no more.
    fn next_chunk(&mut self, out: &mut Vec<u8>) -> Option<(usize, std::result::Result<(), CodecError>)>;

    /// Drops what is left of the input (a call that stopped early); returns how many items.
    fn skip_rest(&mut self) -> usize;

    /// How many chunks are left, at most; `None` when the input does not say (an endless
    /// iterator given to `imap`).
    fn chunks_left(&self) -> Option<usize>;

    /// Whether no chunk may be taken now (an `imap` whose buffer is full); the pool then serves
    /// the jobs queued behind this one.
    fn blocked(&self) -> bool {
        false
    }

    /// Whether the source knows it has no chunk left (an input of known length, all read).
    fn exhausted(&self) -> bool {
        false
    }
}

/// The chunks of an iterator, `chunksize` items each (the last may be shorter).
pub(super) struct ChunkSource<I> {
    pub(super) iter: I,
    pub(super) chunksize: usize,
}

impl<I> Source for ChunkSource<I>
where
    I: Iterator + Send,
    I::Item: Serialize + 'static,
{
    fn next_chunk(&mut self, out: &mut Vec<u8>) -> Option<(usize, std::result::Result<(), CodecError>)> {
        // An input that knows its length (a range, a vector) is encoded as it is read; one
        // that does not is collected a chunk at a time, to learn the chunk's length first.
        let (lower, upper) = self.iter.size_hint();
        if upper == Some(lower) {
            let len = lower.min(self.chunksize);
            if len == 0 {
                return None;
            }
            out.reserve(len * size_of::<I::Item>() + 16);
            return Some((len, codec::encode_seq_into(self.iter.by_ref(), len, out)));
        }
        let chunk: Vec<I::Item> = self.iter.by_ref().take(self.chunksize).collect();
        if chunk.is_empty() {
            return None;
        }
        Some((chunk.len(), codec::encode_into(&chunk, out)))
    }

    fn skip_rest(&mut self) -> usize {
        self.iter.by_ref().count()
    }

    fn exhausted(&self) -> bool {
        self.iter.size_hint() == (0, Some(0))
    }

    fn chunks_left(&self) -> Option<usize> {
        self.iter.size_hint().1.map(|n| n.div_ceil(self.chunksize))
    }
}

/// What runs in the caller's thread once the pool is no longer borrowed: callbacks.
pub(super) type Completion = Box<dyn FnOnce() + Send>;

/// Receives a job's results.
pub(super) trait Sink: Send {
    /// Chunk `chunk` came back with its encoded results, or failed.
    fn deliver(&mut self, chunk: u32, items: usize, result: Result<&[u8]>) -> Option<Completion>;
    /// The job has `chunks` chunks in all, holding `tasks` tasks.
    fn set_total(&mut self, chunks: u32, tasks: usize) -> Option<Completion>;
    /// The whole job failed (terminated pool, broken pool, unencodable arguments).
    fn fail(&mut self, error: Error) -> Option<Completion>;
    /// Whether nothing more is expected.
    fn done(&self) -> bool;
    /// Whether the call wants no more of its chunks run (a fail-fast `map` that saw a failure).
    fn stopped(&self) -> bool {
        false
    }
    /// `tasks` of the call's tasks will never run, because it [`stopped`](Sink::stopped).
    fn skip(&mut self, tasks: usize) -> Option<Completion> {
        let _ = tasks;
        None
    }
}

/// What the workers run for each chunk of a call: the task's code, and the call's context
/// (encoded once), if it has one.
pub(super) struct Work {
    pub(super) code: Code,
    pub(super) context: Option<Vec<u8>>,
}

impl Work {
    /// A call without context.
    pub(super) fn plain(code: Code) -> Work {
        Work { code, context: None }
    }

    /// A call whose every task borrows `context` (`map_with`).
    pub(super) fn with_context<C: Serialize>(code: Code, context: &C) -> Result<Work> {
        Ok(Work {
            code,
            context: Some(codec::encode(context)?),
        })
    }
}

/// One call on the pool, from its submission until its sink expects nothing more.
pub(super) struct Job {
    /// What the workers run for each chunk.
    pub(super) code: Code,
    /// The message that gives a worker the call's context, sent before the first chunk of
    /// the call it gets (`None` for a call without context).
    pub(super) context: Option<Vec<u8>>,
    pub(super) chunksize: usize,
    pub(super) source: Box<dyn Source>,
    /// How many chunks the source has made so far (the next chunk's number).
    pub(super) chunks_made: u32,
    /// How many tasks those chunks hold.
    pub(super) tasks_made: usize,
    pub(super) sink: Box<dyn Sink>,
}

/// Decodes a chunk's results, which must be one per task.
pub(super) fn decode_chunk<R: DeserializeOwned + 'static>(bytes: &[u8], items: usize) -> Result<Vec<R>> {
    let mut values = Vec::with_capacity(items);
    codec::decode_extend(bytes, &mut values)?;
    if values.len() != items {
        return Err(Error::state(format!(
            "a worker returned {} results for a chunk of {items} tasks",
            values.len()
        )));
    }
    Ok(values)
}

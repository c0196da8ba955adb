//! The shapes of task a worker runs (`map`, `starmap`): each decodes a chunk of arguments,
//! calls the task's function on every item, and encodes the results.
//!
//! A task crosses to a worker as a [`TaskCode`]: the code offsets of the shape's entry point
//! (monomorphized for the argument and result types) and of the user's function. The pool never
//! turns a number back into a function itself: `reduction` does, for both offsets.

use std::any::Any;
use std::marker::PhantomData;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::codec;
use crate::reduction::{TaskCode, TaskKind};

use super::wire;

/// What a worker hands a task for one chunk: the parent's message (the chunk's arguments follow
/// its header), the buffer the results are encoded into (after their header), and which item
/// of the chunk runs now, so that a panic names its task.
pub(super) struct Chunk {
    /// The job of the chunk.
    job: u64,
    message: Vec<u8>,
    pub(super) out: Vec<u8>,
    /// The index in the chunk of the item whose function runs (or ran last).
    pub(super) running: u32,
    /// The context of the last call with context the parent sent this worker.
    context: Option<Context>,
}

/// A call's context in a worker: the message the parent sent, decoded at its first use.
struct Context {
    job: u64,
    message: Vec<u8>,
    /// The decoded value (a `C` of the call's `map_with`); `None` until a chunk needs it, and
    /// while a chunk uses it.
    value: Option<Box<dyn Any>>,
}

impl Chunk {
    /// An empty chunk, whose buffers are reused for every message.
    pub(super) fn new() -> Chunk {
        Chunk {
            job: 0,
            message: Vec::new(),
            out: Vec::new(),
            running: 0,
            context: None,
        }
    }

    /// Takes the next task message, of chunk of `job` (its header already read by
    /// [`wire::parse_order`]).
    pub(super) fn set_message(&mut self, job: u64, message: Vec<u8>) {
        self.job = job;
        self.message = message;
        self.running = 0;
    }

    /// Keeps the context of `job`, from its message (in place of any earlier one).
    pub(super) fn set_context(&mut self, job: u64, message: Vec<u8>) {
        self.context = Some(Context {
            job,
            message,
            value: None,
        });
    }

    /// Runs `body` with the context of this chunk's job, decoded as a `C` (once per call).
    fn with_context<C, X>(&mut self, body: impl FnOnce(&mut Self, &C) -> X) -> Result<X, String>
    where
        C: DeserializeOwned + 'static,
    {
        let job = self.job;
        let Some(context) = self.context.as_mut().filter(|c| c.job == job) else {
            return Err(format!("no context was sent for the chunks of call {job}"));
        };
        // Taken out while the chunk runs, so `body` may use the chunk; a panic loses it, and
        // the next chunk decodes it again.
        let value = match context.value.take() {
            Some(value) => value,
            None => {
                let decoded: C =
                    codec::decode(&context.message[wire::CONTEXT_HEADER..]).map_err(|e| e.to_string())?;
                Box::new(decoded)
            }
        };
        let Ok(value) = value.downcast::<C>() else {
            return Err(format!(
                "the context of call {job} is not a {}",
                std::any::type_name::<C>()
            ));
        };
        let out = body(self, &value);
        if let Some(context) = self.context.as_mut().filter(|c| c.job == job) {
            context.value = Some(value);
        }
        Ok(out)
    }

    /// Decodes the chunk's arguments.
    fn arguments<T: DeserializeOwned + 'static>(&self) -> Result<Vec<T>, String> {
        let mut items = Vec::new();
        codec::decode_extend(&self.message[wire::TASK_HEADER..], &mut items).map_err(|e| e.to_string())?;
        Ok(items)
    }

    /// Calls `function` on each item in turn, noting which one runs, and encodes each result
    /// onto the result message as it comes (no vector of results in between).
    fn run_each<T, R: Serialize + 'static>(
        &mut self,
        items: Vec<T>,
        mut function: impl FnMut(T) -> R,
    ) -> Result<(), String> {
        let len = items.len();
        let running = &mut self.running;
        let results = items.into_iter().enumerate().map(|(i, item)| {
            *running = u32::try_from(i).unwrap_or(u32::MAX);
            function(item)
        });
        codec::encode_seq_into(results, len, &mut self.out).map_err(|e| e.to_string())
    }
}

/// A task's code, for a worker whose chunk state is [`Chunk`].
pub(super) type Code = TaskCode<Chunk>;

/// `map`, `imap` and `apply`: `Vec<T>` in, `fn(T) -> R` on each, `Vec<R>` out.
pub(super) struct MapTask<T, R>(PhantomData<fn(T) -> R>);

impl<T, R> TaskKind<Chunk> for MapTask<T, R>
where
    T: DeserializeOwned + 'static,
    R: Serialize + 'static,
{
    type Func = fn(T) -> R;

    fn run(function: fn(T) -> R, chunk: &mut Chunk) -> Result<(), String> {
        let items: Vec<T> = chunk.arguments()?;
        chunk.run_each(items, function)
    }
}

/// `starmap`: `Vec<(A, B)>` in, `fn(A, B) -> R` on each pair, `Vec<R>` out.
pub(super) struct StarTask<A, B, R>(PhantomData<fn(A, B) -> R>);

impl<A, B, R> TaskKind<Chunk> for StarTask<A, B, R>
where
    A: DeserializeOwned + 'static,
    B: DeserializeOwned + 'static,
    R: Serialize + 'static,
{
    type Func = fn(A, B) -> R;

    fn run(function: fn(A, B) -> R, chunk: &mut Chunk) -> Result<(), String> {
        let items: Vec<(A, B)> = chunk.arguments()?;
        chunk.run_each(items, |(a, b)| function(a, b))
    }
}

/// `map_with` and `imap_with`: the call's context `C` (sent once per worker), `Vec<T>` in,
/// `fn(&C, T) -> R` on each, `Vec<R>` out.
pub(super) struct ContextTask<C, T, R>(PhantomData<fn(&C, T) -> R>);

impl<C, T, R> TaskKind<Chunk> for ContextTask<C, T, R>
where
    C: DeserializeOwned + 'static,
    T: DeserializeOwned + 'static,
    R: Serialize + 'static,
{
    type Func = fn(&C, T) -> R;

    fn run(function: fn(&C, T) -> R, chunk: &mut Chunk) -> Result<(), String> {
        let items: Vec<T> = chunk.arguments()?;
        chunk.with_context(|chunk, context: &C| chunk.run_each(items, |item| function(context, item)))?
    }
}

//! The messages between a manager's clients and its server.
//!
//! The server is one program serving every type: it keeps keys, values and items as the codec's
//! bytes and never decodes them, so a `dict::<String, i32>()` made after the server started
//! works without the server knowing either type. Keys compare by their encoding, which is
//! equality for every type whose equal values encode alike (integers, strings, tuples, enums;
//! not `f64` keys such as `0.0` and `-0.0`, nor `HashMap` keys whose iteration order differs).

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::Error;

/// A value, key or item as the codec encoded it. A field of this type is (de)serialized with
/// `serde_bytes`: the same bytes on the wire as a `Vec<u8>` in postcard (a length, then the
/// bytes), copied in one piece instead of one `u8` at a time.
pub(crate) type Bytes = Vec<u8>;

/// One request. Every request gets exactly one [`Response`].
#[derive(Debug, Serialize, Deserialize)]
pub(crate) enum Request {
    /// Makes a new shared object; replies [`Reply::Id`].
    Create { spec: Spec, types: String },
    /// Calls a method of the object `id`.
    Call { id: u64, op: Op },
    /// Gives the object `id` a name other clients can [`Request::Lookup`] (CPython's `register`).
    Register { name: String, id: u64 },
    /// Finds a named object, checking that its kind and types match; replies [`Reply::Id`].
    Lookup { name: String, kind: Kind, types: String },
}

/// What kind of object to create, with what it starts from.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) enum Spec {
    Dict,
    List,
    Namespace,
    Queue {
        maxsize: u64,
    },
    Value(#[serde(with = "serde_bytes")] Bytes),
    Lock,
    Event,
    /// A `threading.Semaphore(value)`, or a `BoundedSemaphore` that refuses to rise past it.
    Semaphore {
        value: u64,
        bounded: bool,
    },
    /// A `threading.Condition()` (over an `RLock`, as CPython's default).
    Condition,
    /// A `threading.Barrier(parties, timeout=timeout)`.
    Barrier {
        parties: u64,
        timeout: Option<Duration>,
    },
    /// A fixed-length array of items.
    Array(Vec<Bytes>),
    /// An object of a type registered with `ManagerBuilder::register`, made from these
    /// arguments (the type is the request's `types`).
    Served(#[serde(with = "serde_bytes")] Bytes),
}

impl Spec {
    pub(crate) fn kind(&self) -> Kind {
        match self {
            Spec::Dict => Kind::Dict,
            Spec::List => Kind::List,
            Spec::Namespace => Kind::Namespace,
            Spec::Queue { .. } => Kind::Queue,
            Spec::Value(_) => Kind::Value,
            Spec::Lock => Kind::Lock,
            Spec::Event => Kind::Event,
            Spec::Semaphore { .. } => Kind::Semaphore,
            Spec::Condition => Kind::Condition,
            Spec::Barrier { .. } => Kind::Barrier,
            Spec::Array(_) => Kind::Array,
            Spec::Served(_) => Kind::Served,
        }
    }
}

/// The kinds of shared object, named as CPython's manager type ids.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Kind {
    Dict,
    List,
    Namespace,
    Queue,
    Value,
    Lock,
    Event,
    Semaphore,
    Condition,
    Barrier,
    Array,
    /// An object of a user's own registered type.
    Served,
}

/// The client thread that asks, for objects owned by a thread (a `Condition`'s `RLock`): the
/// process id and the thread id. A process's threads share its connections, so the connection
/// alone does not say which thread holds the lock.
pub(crate) type Owner = (i32, i32);

/// Python's `slice(start, stop, step)`; `None` is Python's omitted bound.
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize)]
pub(crate) struct Slice {
    pub(crate) start: Option<i64>,
    pub(crate) stop: Option<i64>,
    pub(crate) step: Option<i64>,
}

/// A method call on one object.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) enum Op {
    Len,
    Clear,
    /// A snapshot: [`Reply::Pairs`] for a dict or namespace, [`Reply::Items`] for a list.
    Copy,
    DictGet(#[serde(with = "serde_bytes")] Bytes),
    DictSet(
        #[serde(with = "serde_bytes")] Bytes,
        #[serde(with = "serde_bytes")] Bytes,
    ),
    DictRemove(#[serde(with = "serde_bytes")] Bytes),
    DictContains(#[serde(with = "serde_bytes")] Bytes),
    DictKeys,
    DictValues,
    DictUpdate(Vec<(Bytes, Bytes)>),
    DictSetDefault(
        #[serde(with = "serde_bytes")] Bytes,
        #[serde(with = "serde_bytes")] Bytes,
    ),
    ListGet(i64),
    ListSet(i64, #[serde(with = "serde_bytes")] Bytes),
    ListAppend(#[serde(with = "serde_bytes")] Bytes),
    ListExtend(Vec<Bytes>),
    ListInsert(i64, #[serde(with = "serde_bytes")] Bytes),
    ListPop(Option<i64>),
    ListRemove(#[serde(with = "serde_bytes")] Bytes),
    ListContains(#[serde(with = "serde_bytes")] Bytes),
    ListIndex(#[serde(with = "serde_bytes")] Bytes),
    NsGet(String),
    NsSet(String, #[serde(with = "serde_bytes")] Bytes),
    NsDel(String),
    QueuePut {
        #[serde(with = "serde_bytes")]
        item: Bytes,
        block: bool,
        timeout: Option<Duration>,
    },
    QueueGet {
        block: bool,
        timeout: Option<Duration>,
    },
    ValueGet,
    ValueSet(#[serde(with = "serde_bytes")] Bytes),
    Acquire {
        block: bool,
        timeout: Option<Duration>,
    },
    Release,
    Locked,
    /// `q.full()`.
    QueueFull,
    /// `l[slice]`; replies [`Reply::Items`].
    ListGetSlice(Slice),
    /// `l[slice] = items`.
    ListSetSlice(Slice, Vec<Bytes>),
    /// `del l[slice]`.
    ListDelSlice(Slice),
    EventSet,
    EventClear,
    EventIsSet,
    EventWait {
        timeout: Option<Duration>,
    },
    /// A `Condition`'s `acquire`, for `owner`.
    CondAcquire {
        owner: Owner,
        block: bool,
        timeout: Option<Duration>,
    },
    CondRelease {
        owner: Owner,
    },
    /// Releases the lock, waits to be notified (or for `timeout`), takes the lock back;
    /// replies whether it was notified.
    CondWait {
        owner: Owner,
        timeout: Option<Duration>,
    },
    /// Wakes up to `n` waiters; `None` wakes all of them.
    CondNotify {
        owner: Owner,
        n: Option<u64>,
    },
    /// Replies the arrival index, [`FaultKind::BrokenBarrier`] if the barrier breaks.
    BarrierWait {
        timeout: Option<Duration>,
    },
    BarrierAbort,
    BarrierReset,
    /// Replies [`Reply::Barrier`].
    BarrierState,
    /// A call of a registered type's method, encoded by its own types.
    ServedCall(#[serde(with = "serde_bytes")] Bytes),
}

/// A successful answer.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) enum Reply {
    Done,
    Id(u64),
    Bool(bool),
    Len(u64),
    Item(#[serde(with = "serde_bytes")] Bytes),
    Maybe(#[serde(with = "serde_bytes")] Option<Bytes>),
    Items(Vec<Bytes>),
    Pairs(Vec<(Bytes, Bytes)>),
    Names(Vec<(String, Bytes)>),
    /// A barrier's `parties`, `n_waiting` and `broken`.
    Barrier {
        parties: u64,
        n_waiting: u64,
        broken: bool,
    },
}

/// A failed request: what Python's server would send back as an exception.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct Fault {
    pub(crate) kind: FaultKind,
    pub(crate) message: String,
}

/// The exception a [`Fault`] stands for.
#[derive(Debug, Serialize, Deserialize, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FaultKind {
    /// `queue.Empty`.
    Empty,
    /// `queue.Full`.
    Full,
    /// A timed wait ran out (the duration is in the request).
    Timeout,
    /// Any other error the server reports: `IndexError`, `ValueError`, a malformed request, an
    /// unknown object, a method the object does not have.
    Other,
    /// `threading.BrokenBarrierError`.
    BrokenBarrier,
}

impl Fault {
    pub(crate) fn other(message: impl Into<String>) -> Fault {
        Fault {
            kind: FaultKind::Other,
            message: message.into(),
        }
    }

    /// The crate error for this fault, `server` naming who sent it.
    pub(crate) fn into_error(self, server: &str, timeout: Option<Duration>) -> Error {
        match self.kind {
            FaultKind::Empty => Error::Empty,
            FaultKind::Full => Error::Full,
            FaultKind::Timeout => Error::Timeout(timeout.unwrap_or_default()),
            FaultKind::Other => Error::Remote(format!("{server}: {}", self.message)),
            FaultKind::BrokenBarrier => Error::BrokenBarrier,
        }
    }
}

/// The answer to a [`Request`].
pub(crate) type Response = Result<Reply, Fault>;

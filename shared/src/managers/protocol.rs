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

/// A value, key or item as the codec encoded it.
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
    /// Stops the server after replying.
    Shutdown,
}

/// What kind of object to create, with what it starts from.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) enum Spec {
    Dict,
    List,
    Namespace,
    Queue { maxsize: u64 },
    Value(Bytes),
    Lock,
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
}

/// A method call on one object.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) enum Op {
    Len,
    Clear,
    /// A snapshot: [`Reply::Pairs`] for a dict or namespace, [`Reply::Items`] for a list.
    Copy,
    DictGet(Bytes),
    DictSet(Bytes, Bytes),
    DictRemove(Bytes),
    DictContains(Bytes),
    DictKeys,
    DictValues,
    DictUpdate(Vec<(Bytes, Bytes)>),
    DictSetDefault(Bytes, Bytes),
    ListGet(i64),
    ListSet(i64, Bytes),
    ListAppend(Bytes),
    ListExtend(Vec<Bytes>),
    ListInsert(i64, Bytes),
    ListPop(Option<i64>),
    ListRemove(Bytes),
    ListContains(Bytes),
    ListIndex(Bytes),
    NsGet(String),
    NsSet(String, Bytes),
    NsDel(String),
    QueuePut {
        item: Bytes,
        block: bool,
        timeout: Option<Duration>,
    },
    QueueGet {
        block: bool,
        timeout: Option<Duration>,
    },
    ValueGet,
    ValueSet(Bytes),
    Acquire {
        block: bool,
        timeout: Option<Duration>,
    },
    Release,
    Locked,
}

/// A successful answer.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) enum Reply {
    Done,
    Id(u64),
    Bool(bool),
    Len(u64),
    Item(Bytes),
    Maybe(Option<Bytes>),
    Items(Vec<Bytes>),
    Pairs(Vec<(Bytes, Bytes)>),
    Names(Vec<(String, Bytes)>),
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
        }
    }
}

/// The answer to a [`Request`].
pub(crate) type Response = Result<Reply, Fault>;

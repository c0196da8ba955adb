//! The crate's one error type.
//!
//! Python's `multiprocessing` raises exceptions; this crate returns [`Result`]s. Each variant
//! below names the Python exception it stands for, so a reader of the tutorial knows what to
//! expect where the Python would raise.

use std::io;
use std::time::Duration;

/// A `Result` whose error is this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in this crate.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An operating-system call failed. `context` says what we were doing.
    #[error("{context}: {source}")]
    Os {
        /// What the runtime was doing, e.g. "fork for Process-1".
        context: String,
        /// The error the OS returned.
        #[source]
        source: io::Error,
    },
    /// A method was called in a state that does not allow it (Python's `AssertionError` or
    /// `ValueError`), e.g. starting a process twice.
    #[error("{0}")]
    State(String),
    /// The peer closed its end (Python's `EOFError`).
    #[error("end of file: {0}")]
    Eof(String),
    /// A value could not be encoded or decoded by the codec.
    #[error("{0}")]
    Codec(#[from] crate::codec::CodecError),
    /// A blocking call gave up after its timeout (Python's `TimeoutError`).
    #[error("timed out after {0:?}")]
    Timeout(Duration),
    /// A bounded queue is full (Python's `queue.Full`).
    #[error("queue is full")]
    Full,
    /// A queue is empty (Python's `queue.Empty`).
    #[error("queue is empty")]
    Empty,
    /// A task or a child failed, e.g. a pool task panicked or its worker was killed.
    #[error("{0}")]
    Remote(String),
    /// The peer does not hold the same authkey (Python's `AuthenticationError`).
    #[error("authentication error: {0}")]
    Authentication(String),
    /// A barrier was broken: aborted, reset while processes waited, timed out, or its action
    /// panicked (Python's `threading.BrokenBarrierError`).
    #[error("the barrier is broken (aborted, reset, timed out, or its action failed)")]
    BrokenBarrier,
}

impl Error {
    /// An [`Error::Os`] from an `io::Error`, with a description of what failed.
    pub(crate) fn os(context: impl Into<String>, source: io::Error) -> Self {
        Error::Os {
            context: context.into(),
            source,
        }
    }

    /// An [`Error::State`]: a call the object's state does not allow.
    pub(crate) fn state(message: impl Into<String>) -> Self {
        Error::State(message.into())
    }
}

impl From<nix::Error> for Error {
    fn from(e: nix::Error) -> Self {
        Error::Os {
            context: "system call".into(),
            source: e.into(),
        }
    }
}

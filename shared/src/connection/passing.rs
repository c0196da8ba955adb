//! Values that own a descriptor (a [`Connection`](super::Connection), a
//! [`Listener`](super::listener::Listener)) crossing to another process: CPython's
//! `reduction.DupFd` and `resource_sharer`, done the way its Unix `send_handle` does them.
//!
//! A descriptor number means nothing in another process. So such a value writes an [`FdRef`]
//! where its descriptor would be, and the descriptor itself travels by one of two roads:
//! - **with a message** through a Unix socket: [`Connection::send`](super::Connection::send)
//!   collects the descriptors the value owns ([`encode_for`]) and attaches them to the message
//!   (`SCM_RIGHTS`), each written as [`FdRef::Passed`] with its place in the list; the receiver
//!   decodes with the descriptors that came with that message ([`decode_with`]) and with no
//!   others;
//! - **inherited** by a child started by `spawn` or `forkserver`, as an argument of
//!   `Process::new`: written as [`FdRef::Inherited`] with its number, which the start path keeps
//!   open in the child (see `reduction`); adopted only while the child decodes the arguments its
//!   parent started it with.
//!
//! Anything else is refused with an error that says why: a channel that cannot carry
//! descriptors (a pipe, a TCP connection, a queue's shared-memory ring) at the sender, and at the
//! receiver a number it did not inherit or a descriptor that did not come with the message. A
//! receiver never adopts whatever it happens to have open under a number. (Bytes encoded by
//! hand, outside any channel, hold the number; no receiver but a child decoding its arguments
//! adopts it.)

use std::cell::RefCell;
use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd, RawFd};

use serde::{Deserialize, Serialize};

use crate::codec::CodecError;
use crate::error::{Error, Result};
use crate::sys::{scm, socket};

/// What a value that owns a descriptor writes where the descriptor would be.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) enum FdRef {
    /// A descriptor a child inherits at this number (a child's arguments).
    Inherited(RawFd),
    /// The descriptor at this place in the list that came with the message.
    Passed(u32),
}

/// Where a message being encoded goes, as far as descriptors are concerned.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Route {
    /// Through a Unix socket: descriptors go with the message.
    Unix,
    /// Through a channel that cannot carry descriptors, named for the error (e.g. "a pipe").
    Refused(&'static str),
}

/// The message being encoded on this thread, while [`encode_for`] runs.
struct Outgoing {
    route: Route,
    fds: Vec<RawFd>,
    /// Why a value could not go, if one could not: the sender gets it as an `Error::State`
    /// naming the channel (not as a codec error, as `codec::refuse` gives).
    refused: Option<String>,
}

/// The message being decoded on this thread, while [`decode_with`] runs.
struct Incoming {
    from: &'static str,
    fds: Vec<Option<OwnedFd>>,
    /// Why a value was refused, if one was.
    refused: Option<String>,
}

thread_local! {
    static OUTGOING: RefCell<Option<Outgoing>> = const { RefCell::new(None) };
    static INCOMING: RefCell<Option<Incoming>> = const { RefCell::new(None) };
}

/// Puts back what a thread-local held before a nested `encode_for`/`decode_with`, even if the
/// encoding or decoding panicked.
struct Restore<T: 'static> {
    key: &'static std::thread::LocalKey<RefCell<Option<T>>>,
    outer: Option<Option<T>>,
}

impl<T: 'static> Restore<T> {
    fn set(key: &'static std::thread::LocalKey<RefCell<Option<T>>>, value: T) -> Restore<T> {
        let outer = key.with(|cell| cell.replace(Some(value)));
        Restore {
            key,
            outer: Some(outer),
        }
    }

    /// Ends the scope and returns what it held.
    fn take(mut self) -> Option<T> {
        let outer = self.outer.take().expect("taken once");
        self.key.with(|cell| cell.replace(outer))
    }
}

impl<T: 'static> Drop for Restore<T> {
    fn drop(&mut self) {
        if let Some(outer) = self.outer.take() {
            self.key.with(|cell| cell.replace(outer));
        }
    }
}

/// Runs `encode` for a message going by `route`; returns the descriptors the message must
/// carry, in the order of their [`FdRef::Passed`] places (none unless the message holds values
/// that own descriptors).
///
/// # Errors
/// [`Error::State`] saying why when the message holds a value whose descriptor cannot go by
/// `route`; the codec's error when `encode` fails otherwise.
pub(crate) fn encode_for(
    route: Route,
    encode: impl FnOnce() -> Result<(), CodecError>,
) -> Result<Vec<RawFd>> {
    let scope = Restore::set(
        &OUTGOING,
        Outgoing {
            route,
            fds: Vec::new(),
            refused: None,
        },
    );
    let encoded = encode();
    let out = scope.take().expect("set by this scope");
    match (encoded, out.refused) {
        (_, Some(why)) => Err(Error::State(why)),
        (Err(e), None) => Err(e.into()),
        (Ok(()), None) => Ok(out.fds),
    }
}

/// Runs `decode` for a message that came `from` a channel (named for errors) with `fds`
/// attached. Descriptors the message did not claim are closed when it returns.
///
/// # Errors
/// [`Error::State`] saying why when the message names a descriptor that did not come with it;
/// the codec's error when `decode` fails otherwise.
pub(crate) fn decode_with<T>(
    from: &'static str,
    fds: Vec<OwnedFd>,
    decode: impl FnOnce() -> Result<T, CodecError>,
) -> Result<T> {
    let fds = fds.into_iter().map(Some).collect();
    let scope = Restore::set(
        &INCOMING,
        Incoming {
            from,
            fds,
            refused: None,
        },
    );
    let decoded = decode();
    let incoming = scope.take().expect("set by this scope");
    match (decoded, incoming.refused) {
        (Ok(value), _) => Ok(value),
        (Err(_), Some(why)) => Err(Error::State(why)),
        (Err(e), None) => Err(e.into()),
    }
}

/// For a `Serialize` impl that refuses its value for a reason of its own (a closed
/// connection): keeps the reason for the sender's error (the codec keeps no message of ours),
/// and returns it.
pub(crate) fn refuse(why: String) -> String {
    OUTGOING.with(|cell| {
        if let Some(out) = cell.borrow_mut().as_mut() {
            out.refused.get_or_insert_with(|| why.clone());
        }
    });
    why
}

/// For the `Serialize` impl of a value (`what`, e.g. "a Connection") that owns `fd`: where the
/// descriptor goes, or why it cannot.
pub(crate) fn fd_out(fd: BorrowedFd<'_>, what: &str) -> Result<FdRef, String> {
    let raw = fd.as_raw_fd();
    let routed = OUTGOING.with(|cell| {
        let mut cell = cell.borrow_mut();
        let out = cell.as_mut()?;
        let routed = match out.route {
            Route::Unix if out.fds.len() >= scm::MAX_FDS => Err(format!(
                "{what} cannot be sent: one message carries at most {} descriptors",
                scm::MAX_FDS
            )),
            Route::Unix => {
                out.fds.push(raw);
                Ok(FdRef::Passed((out.fds.len() - 1) as u32))
            }
            Route::Refused(channel) => Err(format!(
                "{what} cannot be sent through {channel}: its descriptor can cross only with a \
                 message on a Unix socket (a Connection from Pipe, or from a Listener on a path)"
            )),
        };
        if let Err(why) = &routed {
            out.refused.get_or_insert_with(|| why.clone());
        }
        Some(routed)
    });
    if let Some(routed) = routed {
        return routed;
    }
    // Not a message through a channel of ours: the arguments of a spawned or forkserver child
    // (the start path keeps this number open in the child), or bytes encoded by hand, whose
    // number no receiver adopts (see `fd_in`).
    crate::reduction::note_fd(raw);
    Ok(FdRef::Inherited(raw))
}

/// For the `Deserialize` impl of a value (`what`) that owns a descriptor: the descriptor that
/// `fd` names, taken from the message being decoded or, in a child decoding its arguments,
/// adopted from what it inherited. Anything else is refused.
pub(crate) fn fd_in(fd: FdRef, what: &str) -> Result<OwnedFd, String> {
    let received = INCOMING.with(|cell| {
        let mut cell = cell.borrow_mut();
        let incoming = cell.as_mut()?;
        let from = incoming.from;
        let received = match fd {
            FdRef::Passed(i) => incoming
                .fds
                .get_mut(i as usize)
                .and_then(Option::take)
                .ok_or_else(|| format!("{what}: descriptor #{i} did not come with this message from {from}")),
            FdRef::Inherited(n) => Err(format!(
                "{what}: a message from {from} names descriptor number {n}; a receiver adopts \
                 only descriptors passed with the message"
            )),
        };
        if let Err(why) = &received {
            incoming.refused.get_or_insert_with(|| why.clone());
        }
        Some(received)
    });
    if let Some(received) = received {
        return received;
    }
    match fd {
        FdRef::Inherited(n) if crate::reduction::decoding_from_parent() => {
            socket::adopt_inherited(n).map_err(|e| format!("{what}: inherited descriptor {n}: {e}"))
        }
        FdRef::Inherited(n) => Err(format!(
            "{what}: descriptor number {n} can be adopted only by the child started with it, \
             while it decodes its arguments"
        )),
        FdRef::Passed(i) => Err(format!(
            "{what}: descriptor #{i} was passed with a message, but this is not that message"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsFd;

    use crate::sys::socket::socketpair;

    #[test]
    fn descriptors_go_only_where_they_can() {
        let (a, _b) = socketpair().unwrap();
        let fds = encode_for(Route::Unix, || {
            assert!(matches!(fd_out(a.as_fd(), "x"), Ok(FdRef::Passed(0))));
            assert!(matches!(fd_out(a.as_fd(), "x"), Ok(FdRef::Passed(1))));
            Ok(())
        });
        assert_eq!(fds.unwrap(), [a.as_raw_fd(), a.as_raw_fd()]);
        let refused = encode_for(Route::Refused("a pipe"), || {
            let err = fd_out(a.as_fd(), "a Connection").unwrap_err();
            assert!(err.contains("through a pipe"), "{err}");
            Ok(())
        });
        let err = refused.unwrap_err().to_string();
        assert!(
            err.contains("a Connection cannot be sent through a pipe"),
            "{err}"
        );
        // Outside any message: the number, which only a child decoding its arguments adopts.
        assert!(matches!(fd_out(a.as_fd(), "x"), Ok(FdRef::Inherited(n)) if n == a.as_raw_fd()));
    }

    #[test]
    fn a_receiver_takes_only_what_came_with_the_message() {
        let (a, b) = socketpair().unwrap();
        let b_raw = b.as_raw_fd();
        let decoded = decode_with("a test", vec![a], || {
            assert!(fd_in(FdRef::Passed(0), "x").is_ok());
            // Each descriptor once, and none that did not come.
            assert!(fd_in(FdRef::Passed(0), "x").is_err());
            assert!(fd_in(FdRef::Passed(1), "x").is_err());
            let err = fd_in(FdRef::Inherited(b_raw), "x").unwrap_err();
            assert!(err.contains("adopts only"), "{err}");
            crate::codec::decode::<u8>(&[])
        });
        // The refusal is the error the caller sees, not the codec's.
        let err = decoded.unwrap_err().to_string();
        assert!(err.contains("x: descriptor #0 did not come"), "{err}");
        // Not a child decoding its arguments: a number is not adopted.
        assert!(fd_in(FdRef::Inherited(b_raw), "x").is_err());
        assert!(crate::sys::fcntl::is_open(b_raw), "b is still ours");
        drop(b);
    }
}

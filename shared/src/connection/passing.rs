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

use std::cell::{Cell, RefCell};
use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::thread::LocalKey;

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

/// The message being encoded or decoded on this thread, in two parts: `Scope`, a `Copy` cell
/// set and put back around every message (a thread-local with nothing to drop costs a load and a
/// store), and `Owned`, the descriptors and the refusal, touched only by a message that holds a
/// value owning a descriptor (or refused). Nearly every message owns none, and pays for no more.
#[derive(Clone, Copy)]
struct Scope<S: Copy> {
    /// Where the message goes (a [`Route`]) or comes from (a channel's name); `None` outside
    /// any message.
    message: Option<S>,
    /// Whether this message has put anything in its `Owned` part.
    owned: bool,
}

impl<S: Copy> Scope<S> {
    const NONE: Scope<S> = Scope {
        message: None,
        owned: false,
    };
}

/// What a message's values own: the descriptors that go (or came) with it, and why a value
/// could not go (or be taken), if one could not: the caller gets it as an `Error::State` naming
/// the channel (not as a codec error, as `codec::refuse` gives).
struct Owned<F> {
    fds: Vec<F>,
    refused: Option<String>,
}

impl<F> Owned<F> {
    const EMPTY: Owned<F> = Owned {
        fds: Vec::new(),
        refused: None,
    };

    fn refuse(&mut self, why: &str) {
        self.refused.get_or_insert_with(|| why.to_owned());
    }
}

type ScopeKey<S> = &'static LocalKey<Cell<Scope<S>>>;
type OwnedKey<F> = &'static LocalKey<RefCell<Owned<F>>>;

thread_local! {
    static OUT_SCOPE: Cell<Scope<Route>> = const { Cell::new(Scope::NONE) };
    static OUT_OWNED: RefCell<Owned<RawFd>> = const { RefCell::new(Owned::EMPTY) };
    static IN_SCOPE: Cell<Scope<&'static str>> = const { Cell::new(Scope::NONE) };
    static IN_OWNED: RefCell<Owned<Option<OwnedFd>>> = const { RefCell::new(Owned::EMPTY) };
}

/// One message's scope on this thread: entered with [`Entered::enter`], left by
/// [`Entered::leave`] or, if the encoding or decoding panicked, when dropped. Puts back what an
/// outer message (a nested `encode_for` or `decode_with`) held. A message that owns nothing
/// touches the thread-locals twice: one `replace` in, one out.
struct Entered<S: Copy + 'static, F: 'static> {
    scope: ScopeKey<S>,
    owned: OwnedKey<F>,
    outer: Scope<S>,
    /// The outer message's `Owned` part, set aside while this one runs (only when it had one).
    outer_owned: Option<Owned<F>>,
    left: bool,
}

impl<S: Copy + 'static, F: 'static> Entered<S, F> {
    fn enter(scope: ScopeKey<S>, owned: OwnedKey<F>, message: S) -> Entered<S, F> {
        let outer = scope.replace(Scope {
            message: Some(message),
            owned: false,
        });
        let outer_owned = outer.owned.then(|| owned.replace(Owned::EMPTY));
        Entered {
            scope,
            owned,
            outer,
            outer_owned,
            left: false,
        }
    }

    /// Leaves the scope, puts the outer message back, and returns what this message's values
    /// own (empty if they own nothing).
    fn leave(mut self) -> Owned<F> {
        self.left = true;
        let now = self.scope.replace(self.outer);
        match (now.owned, self.outer_owned.take()) {
            (false, None) => Owned::EMPTY,
            (true, outer) => self.owned.replace(outer.unwrap_or(Owned::EMPTY)),
            (false, Some(outer)) => {
                self.owned.replace(outer);
                Owned::EMPTY
            }
        }
    }
}

impl<S: Copy + 'static, F: 'static> Drop for Entered<S, F> {
    /// After a panic: leaves the scope, dropping this message's part (closing the descriptors
    /// it received and did not claim).
    fn drop(&mut self) {
        if !self.left {
            let entered = Entered {
                outer_owned: self.outer_owned.take(),
                ..*self
            };
            drop(entered.leave());
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
    let entered = Entered::enter(&OUT_SCOPE, &OUT_OWNED, route);
    let encoded = encode();
    let out = entered.leave();
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
    let entered = Entered::enter(&IN_SCOPE, &IN_OWNED, from);
    if !fds.is_empty() {
        with_owned(&IN_SCOPE, &IN_OWNED, |_, incoming| {
            incoming.fds = fds.into_iter().map(Some).collect();
        });
    }
    let decoded = decode();
    let incoming = entered.leave();
    match (decoded, incoming.refused) {
        (Ok(value), _) => Ok(value),
        (Err(_), Some(why)) => Err(Error::State(why)),
        (Err(e), None) => Err(e.into()),
    }
}

/// Runs `f` on the `Owned` part of the message in scope on this thread (marking the message as
/// owning something); `None` outside any message.
fn with_owned<S: Copy, F, R>(
    scope: ScopeKey<S>,
    owned: OwnedKey<F>,
    f: impl FnOnce(S, &mut Owned<F>) -> R,
) -> Option<R> {
    let now = scope.get();
    let message = now.message?;
    scope.set(Scope { owned: true, ..now });
    Some(owned.with_borrow_mut(|owned| f(message, owned)))
}

/// For a `Serialize` impl that refuses its value for a reason of its own (a closed
/// connection): keeps the reason for the sender's error (the codec keeps no message of ours),
/// and returns it.
pub(crate) fn refuse(why: String) -> String {
    with_owned(&OUT_SCOPE, &OUT_OWNED, |_, out| out.refuse(&why));
    why
}

/// For the `Serialize` impl of a value (`what`, e.g. "a Connection") that owns `fd`: where the
/// descriptor goes, or why it cannot.
pub(crate) fn fd_out(fd: BorrowedFd<'_>, what: &str) -> Result<FdRef, String> {
    let raw = fd.as_raw_fd();
    let routed = with_owned(&OUT_SCOPE, &OUT_OWNED, |route, out| {
        let routed = match route {
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
            out.refuse(why);
        }
        routed
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
    let received = with_owned(&IN_SCOPE, &IN_OWNED, |from, incoming| {
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
            incoming.refuse(why);
        }
        received
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
    fn a_nested_message_keeps_its_descriptors_apart() {
        let (a, b) = socketpair().unwrap();
        let outer = encode_for(Route::Unix, || {
            assert!(matches!(fd_out(a.as_fd(), "x"), Ok(FdRef::Passed(0))));
            let inner = encode_for(Route::Unix, || {
                assert!(matches!(fd_out(b.as_fd(), "y"), Ok(FdRef::Passed(0))));
                Ok(())
            });
            assert_eq!(inner.unwrap(), [b.as_raw_fd()]);
            let refused = encode_for(Route::Refused("a pipe"), || {
                fd_out(b.as_fd(), "y").unwrap_err();
                Ok(())
            });
            assert!(refused.is_err());
            assert!(matches!(fd_out(b.as_fd(), "x"), Ok(FdRef::Passed(1))));
            Ok(())
        });
        // The outer message has its own two, and no refusal of the inner one.
        assert_eq!(outer.unwrap(), [a.as_raw_fd(), b.as_raw_fd()]);
    }

    #[test]
    fn a_panicking_decode_closes_what_came_and_leaves_no_scope() {
        use std::io::Read;

        let (a, b) = socketpair().unwrap();
        let panicked = std::panic::catch_unwind(|| {
            let _ = decode_with("a test", vec![a], || -> Result<(), CodecError> { panic!("boom") });
        });
        assert!(panicked.is_err());
        // The unclaimed end is closed: its peer reads end of file (not a timeout).
        let mut peer = std::os::unix::net::UnixStream::from(b);
        peer.set_read_timeout(Some(std::time::Duration::from_secs(5)))
            .unwrap();
        assert_eq!(peer.read(&mut [0u8; 1]).unwrap(), 0);
        // Outside any message again: a passed place names nothing.
        let err = fd_in(FdRef::Passed(0), "x").unwrap_err();
        assert!(err.contains("this is not that message"), "{err}");
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

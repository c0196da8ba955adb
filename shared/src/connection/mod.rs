//! Connections: [`Pipe`] and [`Connection`], after CPython's `Lib/multiprocessing/connection.py`.
//!
//! A [`Connection`] carries whole messages over a byte stream (a Unix socket or a pipe): each
//! message is a frame, a length header then the payload ([`frame`]). Objects are turned into
//! payloads by the crate's [`codec`](crate::codec); [`Connection::send_bytes`] and
//! [`Connection::recv_bytes`] move raw payloads. A receive that must wait spins briefly first
//! ([`spin`]); a connection passed to a spawned child travels as in [`wire`]. Beside them,
//! [`listener`] (with the HMAC handshake of [`auth`]) makes connections from addresses.

use std::fmt;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, TryLockError};
use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::codec;
use crate::error::{Error, Result};
use crate::sys::{fcntl, poll, scm, socket};

pub(crate) mod auth;
mod frame;
pub(crate) mod listener;
pub(crate) mod passing;
mod spin;
pub(crate) mod wait;
mod wire;

use frame::{HEADER_ROOM, KEEP_OUTPUT, ReadBuf, SMALL, put_header};
use passing::Route;
use spin::Spin;

/// The default [`Connection::max_message_size`]: 1 GiB.
pub const DEFAULT_MAX_MESSAGE_SIZE: u64 = 1 << 30;

/// Returns a pair of connected [`Connection`]s, like Python's `multiprocessing.Pipe(duplex)`.
///
/// With `duplex` true both ends send and receive (a Unix socket pair). With `duplex` false the
/// first end only receives and the second only sends, as CPython's `Pipe(False)` returns
/// `(reader, writer)`.
///
/// CPython's one-way pipe is an OS pipe; ours is a Unix socket pair shut down in one direction,
/// for two reasons: a send whose reader is gone is then an error ([`Error::Os`] with `EPIPE`,
/// CPython's `BrokenPipeError`) and never a `SIGPIPE` that kills the sender (a pipe cannot be
/// written without that risk unless every write blocks the signal around it), and a
/// [`Connection`] sent through it can carry its descriptor with it, as through a duplex one.
///
/// # Errors
/// [`Error::Os`] when the process is out of descriptors.
///
/// # Examples
///
/// ```
/// use multiprocessing::{Pipe, Process};
/// use multiprocessing::Connection;
///
/// fn send_obj(conn: Connection) {
///     conn.send("这是通过管道发送的信息").unwrap();
///     conn.close();
/// }
///
/// let (parent_conn, child_conn) = Pipe(true)?;
/// let mut p = Process::new(send_obj, child_conn);
/// p.start()?;
/// let msg: String = parent_conn.recv()?;
/// assert_eq!(msg, "这是通过管道发送的信息");
/// p.join()?;
/// # Ok::<(), multiprocessing::Error>(())
/// ```
#[allow(non_snake_case, reason = "the name of Python's multiprocessing.Pipe")]
pub fn Pipe(duplex: bool) -> Result<(Connection, Connection)> {
    if duplex {
        let (a, b) = socket::socketpair().map_err(|e| Error::os("Pipe(duplex=true): socketpair", e))?;
        Ok((
            Connection::new(a, true, true, Kind::Unix),
            Connection::new(b, true, true, Kind::Unix),
        ))
    } else {
        let (r, w) = socket::one_way_socketpair()
            .map_err(|e| Error::os("Pipe(duplex=false): socketpair, shut down one way", e))?;
        Ok((
            Connection::new(r, true, false, Kind::Unix),
            Connection::new(w, false, true, Kind::Unix),
        ))
    }
}

/// One end of a message channel, like Python's `multiprocessing.connection.Connection`.
///
/// Made by [`Pipe`], or from any stream socket or pipe end by [`Connection::from_owned_fd`].
/// [`send`](Connection::send) a serde value and [`recv`](Connection::recv) it in the other
/// process; messages of any size keep their boundaries.
///
/// # Framing
/// Every message is a frame: a 4-byte little-endian length, then the payload; a payload of
/// `0xFFFF_FFFF` bytes or more has the escape `0xFFFF_FFFF` followed by an 8-byte length (CPython
/// does the same with a big-endian length and `-1`).
///
/// # Reading ahead
/// A `recv` reads whatever is waiting, up to 4 KiB, with one system call: a small message costs
/// one `read`, and when the peer sent several messages back to back, the ones after it wait in
/// this `Connection`, so the next `recv` makes no system call at all;
/// [`poll`](Connection::poll) counts them. A payload that does not fit is read straight into its
/// own buffer, up to its last byte and no further. Two consequences:
/// - To share one channel between readers (processes taking turns under a lock), give each its
///   own [`try_clone`](Connection::try_clone): a clone, and the connection it was cloned from,
///   read exactly (one header and one payload, never a byte more), so no reader holds messages
///   that another is waiting for. A `Connection` moved into a child by
///   [`Process::new`](crate::Process::new) takes what it read ahead with it (the parent's copy is
///   closed when the child starts), so nothing is lost or read twice.
/// - Waiting on the descriptor yourself ([`AsFd`] with `poll` or `epoll`) does not see messages
///   already read ahead: ask [`poll`](Connection::poll), or keep receiving while it says true.
///
/// # Waiting: a short spin, then sleep
/// A receive that finds no complete message waiting does not go to sleep at once: for up to
/// 50 us it keeps trying to read without blocking (`recvmsg(MSG_DONTWAIT)` on a socket, a
/// zero-timeout `poll` on a pipe), yielding the CPU between tries to any process ready to run
/// (often the peer, on a machine with more busy processes than CPUs), and only then blocks in
/// the kernel. Waking a process that
/// sleeps on an idle CPU costs ~40 us on a VM with cpuidle, so a peer that answers within the
/// spin is seen in a few microseconds instead (`mp-bench pipe_rtt` on a quiet 2-CPU VM: a median
/// of 7.0 us, spread 3.5-61 us, became 4.0 us, spread 3.2-6.6 us).
///
/// The cost is CPU time, so the spin adapts to the gaps between messages: a spin that runs out,
/// or that catches its message only after 25 us (longer than a sleep would have cost), is a
/// miss, and misses in a row make the connection sleep at once for the next 1, 3, 7, ... 255
/// receives; a spin that catches a message early puts it back to spinning every time. A tight
/// round trip, or a manager's reply, keeps the spin; a message every 40 us, an idle pool worker
/// or a manager without clients costs well under a microsecond of spinning per receive, about
/// what a plain blocking read costs. [`poll`](Connection::poll) never spins, and neither does a
/// timeout.
///
/// # Errors a receiver sees
/// - The peer closed its end (or exited) between messages: [`Error::Eof`], Python's `EOFError`.
/// - The peer died in the middle of a message: [`Error::Eof`] that says how many bytes of the
///   frame arrived ("truncated frame"). Nothing more can be read after that.
/// - The payload does not decode as the requested type: [`Error::Codec`] naming the type. The
///   frame was consumed, so the next `recv` reads the next message.
/// - The header announces more than [`max_message_size`](Connection::max_message_size) bytes:
///   an [`Error::Os`] of kind `InvalidData`, returned before anything is allocated for it. The
///   payload is read and thrown away in small pieces, so the next `recv` reads the next message.
///
/// # Concurrency
/// A `Connection` is `Send` and `Sync`, but, as in CPython, two threads or processes that
/// send on the same connection at the same time may interleave their frames (a big message is
/// written in several steps), and two that receive at the same time may each get part of one
/// frame. Guard a connection shared by several senders or receivers with a lock, as CPython's
/// `Pool` does, or use a `Queue`, which does that for you.
///
/// # End of file and `fork`
/// A forked child inherits *every* descriptor of its parent, so both ends of a pipe made
/// before the fork are open in both processes. The reader sees end of file only once every copy
/// of the other end is closed: the parent's copy of a `Connection` moved into
/// [`Process::new`](crate::Process::new) is closed when the process starts, but a child that
/// still holds its own copy of the peer waits forever, exactly as in Python. End such loops with
/// a sentinel message.
///
/// # Passing to another process
/// A `Connection` crosses to another process with its descriptor, and with the bytes it had
/// read ahead (which the receiver gets first), by two roads:
/// - as an argument of [`Process::new`](crate::Process::new): under `fork` it is simply
///   inherited; under `spawn` and `forkserver` the child inherits the descriptor, and adopts it
///   while it decodes its arguments;
/// - sent with [`send`](Connection::send) through a Unix socket (any [`Pipe`]): the descriptor
///   goes with the message (`SCM_RIGHTS`, as CPython's `reduction` sends handles), and the
///   receiver's [`recv`](Connection::recv) makes a connection of it.
///
/// Anything else is refused with an error that says why: at the sender, a message through a
/// plain pipe, a TCP connection or a [`Queue`](crate::Queue) (whose shared-memory ring cannot
/// carry a descriptor); at the receiver, bytes encoded by hand with [`codec`](crate::codec),
/// which hold only the descriptor's number. A receiver adopts only descriptors that came with
/// the message it decodes, never whatever it happens to have open under a number it was sent.
///
/// # Examples
///
/// ```
/// use multiprocessing::{Error, Pipe};
///
/// let (a, b) = Pipe(true)?;
/// a.send(&vec![1u32, 2, 3])?;
/// assert_eq!(b.recv::<Vec<u32>>()?, [1, 2, 3]);
/// b.send_bytes(b"raw")?;
/// assert_eq!(a.recv_bytes()?, b"raw");
/// a.close();
/// assert!(matches!(b.recv::<u32>(), Err(Error::Eof(_))));
/// # Ok::<(), multiprocessing::Error>(())
/// ```
pub struct Connection {
    fd: OwnedFd,
    readable: bool,
    writable: bool,
    /// What the descriptor is, which decides how it is read and written.
    kind: Kind,
    max_message_size: AtomicU64,
    /// Whether we already tried to enlarge this pipe for big messages.
    enlarged: AtomicBool,
    /// Read exactly, without reading ahead: set once the descriptor has a second reader.
    exact: AtomicBool,
    /// Bytes read from the descriptor and not yet returned. Held for the whole of a `recv`.
    input: Mutex<ReadBuf>,
    /// When a receive that must wait spins first.
    spin: Spin,
    /// Where `send` encodes a message, reused (up to `KEEP_OUTPUT` bytes of capacity).
    output: Mutex<Vec<u8>>,
    /// Set by [`close`](Connection::close): every use is refused from then on.
    closed: AtomicBool,
}

/// What a connection's descriptor is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    /// A Unix-domain socket: written with `send(MSG_NOSIGNAL)`, read with `recvmsg`, so it
    /// carries descriptors.
    Unix,
    /// Another socket (TCP): written with `send(MSG_NOSIGNAL)`; carries no descriptors.
    Socket,
    /// A Unix-domain socket that carries no descriptors (a manager's connection, see
    /// [`Connection::without_descriptors`]): written and read as a TCP socket, with `recv`
    /// and no control buffer; descriptors a peer attaches anyway are closed by the kernel.
    UnixPlain,
    /// A pipe (or another file): written with `write` with `SIGPIPE` blocked around it.
    Pipe,
}

impl Kind {
    fn of(fd: BorrowedFd<'_>) -> Kind {
        if !socket::is_socket(fd) {
            Kind::Pipe
        } else if scm::is_unix_socket(fd) {
            Kind::Unix
        } else {
            Kind::Socket
        }
    }

    fn is_socket(self) -> bool {
        self != Kind::Pipe
    }

    /// Where a message's descriptors can go.
    fn route(self) -> Route {
        match self {
            Kind::Unix => Route::Unix,
            Kind::Socket => Route::Refused("a TCP connection"),
            Kind::UnixPlain => Route::Refused("a connection that carries no descriptors"),
            Kind::Pipe => Route::Refused("a pipe"),
        }
    }
}

impl Connection {
    fn new(fd: OwnedFd, readable: bool, writable: bool, kind: Kind) -> Connection {
        Connection {
            fd,
            readable,
            writable,
            kind,
            max_message_size: AtomicU64::new(DEFAULT_MAX_MESSAGE_SIZE),
            enlarged: AtomicBool::new(false),
            exact: AtomicBool::new(false),
            input: Mutex::new(ReadBuf::default()),
            spin: Spin::new(),
            output: Mutex::new(Vec::new()),
            closed: AtomicBool::new(false),
        }
    }

    /// A connection over `fd`, any connected stream socket or either end of a pipe. Both
    /// directions are allowed; the OS refuses the one the descriptor cannot do.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::os::unix::net::UnixStream;
    /// use multiprocessing::Connection;
    ///
    /// let (a, b) = UnixStream::pair().unwrap();
    /// let (a, b) = (Connection::from_owned_fd(a.into()), Connection::from_owned_fd(b.into()));
    /// a.send(&42u8)?;
    /// assert_eq!(b.recv::<u8>()?, 42);
    /// # Ok::<(), multiprocessing::Error>(())
    /// ```
    pub fn from_owned_fd(fd: OwnedFd) -> Connection {
        let kind = Kind::of(fd.as_fd());
        Connection::new(fd, true, true, kind)
    }

    /// Sends `obj`, encoded by the crate's [`codec`](crate::codec), as one message.
    ///
    /// A [`Connection`] (or a [`Listener`](crate::Listener)) inside `obj` takes its descriptor
    /// with it: the message carries a copy (`SCM_RIGHTS`, as CPython's `reduction` does), so the
    /// receiver gets a working connection to the same channel, in any process. This end keeps
    /// its own copy open until it is dropped. Only a Unix socket (every [`Pipe`], a [`Listener`]
    /// on a path) carries descriptors; through a plain pipe or a TCP connection such a message is
    /// refused before anything is sent.
    ///
    /// [`Listener`]: crate::Listener
    ///
    /// # Errors
    /// [`Error::Codec`] naming the type when `obj` cannot be encoded (nothing is sent);
    /// [`Error::State`] saying why when `obj` holds a connection this channel cannot carry
    /// (nothing is sent), and on the read-only end of a one-way pipe; [`Error::Os`] when writing
    /// fails, e.g. `EPIPE` because the peer has closed its end.
    ///
    /// # Examples
    ///
    /// ```
    /// use multiprocessing::{Connection, Pipe};
    ///
    /// let (a, b) = Pipe(true)?;
    /// a.send(&("任务", 7u64))?;
    /// assert_eq!(b.recv::<(String, u64)>()?, ("任务".to_string(), 7));
    ///
    /// // A connection sent through a connection: its descriptor goes with it.
    /// let (here, there) = Pipe(true)?;
    /// a.send(&there)?;
    /// let arrived: Connection = b.recv()?;
    /// arrived.send(&"through the passed end")?;
    /// assert_eq!(here.recv::<String>()?, "through the passed end");
    /// # Ok::<(), multiprocessing::Error>(())
    /// ```
    pub fn send<T: Serialize + ?Sized>(&self, obj: &T) -> Result<()> {
        self.send_encoded(|buf| passing::encode_for(self.kind.route(), || codec::encode_into(obj, buf)))
    }

    /// Sends `obj` as [`send`](Connection::send) does, for a type that holds no connection (the
    /// manager's requests and replies: ids, strings and encoded bytes): outside the descriptor
    /// scope, which costs a `send` about a tenth of its instructions. A connection inside `obj`
    /// is refused as outside any `send` (nothing is sent).
    pub(crate) fn send_plain<T: Serialize + ?Sized>(&self, obj: &T) -> Result<()> {
        self.send_encoded(|buf| {
            codec::encode_into(obj, buf)?;
            Ok(Vec::new())
        })
    }

    /// This connection, made to carry no descriptors: a Unix socket is then read with a plain
    /// `recv`, which costs less than a `recvmsg` with room for descriptors (the manager's
    /// connections, whose messages never hold one). [`send`](Connection::send) refuses a
    /// message holding a connection, as on TCP.
    pub(crate) fn without_descriptors(mut self) -> Connection {
        if self.kind == Kind::Unix {
            self.kind = Kind::UnixPlain;
        }
        self
    }

    /// Encodes a message with `encode` (which appends to the buffer it is given and returns the
    /// descriptors to attach) and sends it as one frame.
    fn send_encoded(&self, encode: impl FnOnce(&mut Vec<u8>) -> Result<Vec<RawFd>>) -> Result<()> {
        self.check_writable()?;
        // Encode into the connection's own buffer, kept from one message to the next: a fresh
        // vector cost a calloc, a realloc and a free per message, about half the instructions
        // of a small `send`. (A `send` from inside another one's `Serialize`, or racing
        // another thread's, encodes into a vector of its own.)
        let mut spare = Vec::new();
        let mut kept = match self.output.try_lock() {
            Ok(buf) => Some(buf),
            Err(TryLockError::Poisoned(buf)) => Some(buf.into_inner()),
            Err(TryLockError::WouldBlock) => None,
        };
        let buf: &mut Vec<u8> = kept.as_deref_mut().unwrap_or(&mut spare);
        // Leave room for the longest header in front, then encode once and fill the header in
        // just before the payload, so the frame goes out in one piece without a second copy.
        buf.clear();
        buf.reserve(HEADER_ROOM + SMALL);
        buf.extend_from_slice(&[0; HEADER_ROOM]);
        let encoded = encode(buf);
        let sent = match encoded {
            Ok(fds) => {
                let len = (buf.len() - HEADER_ROOM) as u64;
                let room = buf.first_chunk_mut::<HEADER_ROOM>().expect("room for the header");
                let start = put_header(room, len, fds.len());
                if fds.is_empty() {
                    self.write_frame_data(&buf[start..], len)
                } else {
                    self.write_frame_with_fds(&buf[start..], &fds)
                }
            }
            Err(e) => Err(e),
        };
        if buf.capacity() > KEEP_OUTPUT {
            // One big message must not pin its buffer for the connection's life.
            *buf = Vec::new();
        }
        sent
    }

    /// Receives one message and decodes it as a `T`. Blocks until a whole message is there.
    ///
    /// # Errors
    /// [`Error::Eof`] when the peer closed its end (see the type's docs for a truncated frame),
    /// [`Error::Codec`] naming `T` when the payload is not a `T`, [`Error::State`] when it names
    /// a descriptor that did not come with it, and the errors of
    /// [`recv_bytes`](Connection::recv_bytes).
    ///
    /// # Examples
    ///
    /// ```
    /// let (a, b) = multiprocessing::Pipe(false)?;
    /// b.send("hello")?;
    /// let err = a.recv::<u64>().unwrap_err(); // a string is not a u64
    /// assert!(err.to_string().contains("u64"), "{err}");
    /// # Ok::<(), multiprocessing::Error>(())
    /// ```
    pub fn recv<T: DeserializeOwned>(&self) -> Result<T> {
        let from = "a Connection";
        self.recv_frame(
            |payload, fds| passing::decode_with(from, fds, || codec::decode::<T>(payload)),
            |have, len, fds| {
                let payload = self.read_big_payload(have, len)?;
                Ok(passing::decode_with(from, fds, || codec::decode::<T>(&payload)))
            },
        )?
    }

    /// Receives one message as [`recv`](Connection::recv) does, for a type that holds no
    /// connection (see [`send_plain`](Connection::send_plain)): outside the descriptor scope.
    /// Descriptors that came with the message are closed.
    pub(crate) fn recv_plain<T: DeserializeOwned>(&self) -> Result<T> {
        self.recv_frame(
            |payload, _fds| Ok(codec::decode::<T>(payload)?),
            |have, len, _fds| {
                let payload = self.read_big_payload(have, len)?;
                Ok(Ok(codec::decode::<T>(&payload)?))
            },
        )?
    }

    /// Sends `buf` as one message, as is.
    ///
    /// # Errors
    /// As [`send`](Connection::send), less the codec.
    ///
    /// # Examples
    ///
    /// ```
    /// let (a, b) = multiprocessing::Pipe(true)?;
    /// a.send_bytes(&[1, 2, 3])?;
    /// assert_eq!(b.recv_bytes()?, [1, 2, 3]);
    /// # Ok::<(), multiprocessing::Error>(())
    /// ```
    pub fn send_bytes(&self, buf: &[u8]) -> Result<()> {
        self.check_writable()?;
        let len = buf.len() as u64;
        let mut header = [0u8; HEADER_ROOM];
        let start = put_header(&mut header, len, 0);
        if buf.len() <= SMALL {
            let mut frame = [0u8; HEADER_ROOM + SMALL];
            let head = HEADER_ROOM - start;
            frame[..head].copy_from_slice(&header[start..]);
            frame[head..head + buf.len()].copy_from_slice(buf);
            return self.write_frame_data(&frame[..head + buf.len()], len);
        }
        // A big payload is not worth copying: the header and the payload leave in one
        // `sendmsg`/`writev` from where they are.
        self.write_frame_parts(&header[start..], buf, len)
    }

    /// Receives one message as raw bytes. Blocks until a whole message is there.
    ///
    /// # Errors
    /// [`Error::Eof`] when the peer closed its end; [`Error::Os`] of kind `InvalidData` when
    /// the message is longer than [`max_message_size`](Connection::max_message_size) (it is
    /// skipped, so the next message can still be read); [`Error::State`] on the write-only end
    /// of a one-way pipe; [`Error::Os`] when reading fails.
    ///
    /// # Examples
    ///
    /// ```
    /// let (a, b) = multiprocessing::Pipe(true)?;
    /// b.set_max_message_size(4);
    /// a.send_bytes(b"too long")?;
    /// a.send_bytes(b"ok")?;
    /// assert!(b.recv_bytes().unwrap_err().to_string().contains("longer than"));
    /// assert_eq!(b.recv_bytes()?, b"ok");
    /// # Ok::<(), multiprocessing::Error>(())
    /// ```
    pub fn recv_bytes(&self) -> Result<Vec<u8>> {
        // Descriptors that came with the message have no value to go into: they are closed.
        self.recv_frame(
            |payload, _| payload.to_vec(),
            |have, len, _| self.read_big_payload(have, len),
        )
    }

    /// Receives one message into `buf`, as Python's `recv_bytes_into`, and returns its length:
    /// the message is `buf[..n]`. Python's `offset` is a slice: `recv_bytes_into(&mut
    /// buf[offset..])`. A big message is read straight into `buf`, with no copy in between.
    ///
    /// # Errors
    /// [`Error::BufferTooShort`] when the message is longer than `buf`: it was received (the
    /// next `recv` reads the next message), and the error carries it whole, as CPython's
    /// `BufferTooShort` does; otherwise as [`recv_bytes`](Connection::recv_bytes).
    ///
    /// # Examples
    ///
    /// ```
    /// use multiprocessing::{Error, Pipe};
    ///
    /// let (a, b) = Pipe(true)?;
    /// a.send_bytes(b"hello")?;
    /// let mut buf = [0u8; 16];
    /// let n = b.recv_bytes_into(&mut buf)?;
    /// assert_eq!(&buf[..n], b"hello");
    ///
    /// a.send_bytes(b"far too long for it")?;
    /// match b.recv_bytes_into(&mut buf[..4]) {
    ///     Err(Error::BufferTooShort { message, capacity }) => {
    ///         assert_eq!((message.as_slice(), capacity), (&b"far too long for it"[..], 4));
    ///     }
    ///     other => panic!("{other:?}"),
    /// }
    /// # Ok::<(), multiprocessing::Error>(())
    /// ```
    pub fn recv_bytes_into(&self, buf: &mut [u8]) -> Result<usize> {
        let capacity = buf.len();
        // One of the two closures runs; each takes the buffer when it does.
        let buf = std::cell::RefCell::new(buf);
        let too_short = |message: Vec<u8>| Error::BufferTooShort { message, capacity };
        self.recv_frame(
            |payload, _| {
                let n = payload.len();
                if n > capacity {
                    return Err(too_short(payload.to_vec()));
                }
                buf.borrow_mut()[..n].copy_from_slice(payload);
                Ok(n)
            },
            |have, len, _| match usize::try_from(len) {
                Ok(n) if n <= capacity => {
                    self.read_rest_into(have, &mut buf.borrow_mut()[..n])?;
                    Ok(Ok(n))
                }
                _ => Ok(Err(too_short(self.read_big_payload(have, len)?))),
            },
        )?
    }

    /// Sends `size` bytes of `buf` from `offset` (all the rest when `size` is `None`) as one
    /// message: Python's `send_bytes(buf, offset, size)`, with its checks. (In Rust, slicing
    /// does the same: `send_bytes(&buf[offset..offset + size])`.)
    ///
    /// # Errors
    /// [`Error::State`] when the range is not inside `buf` (CPython's `ValueError`: "buffer
    /// length < offset", "buffer length < offset + size"); otherwise as
    /// [`send_bytes`](Connection::send_bytes).
    ///
    /// # Examples
    ///
    /// ```
    /// let (a, b) = multiprocessing::Pipe(true)?;
    /// let buf = b"0123456789";
    /// a.send_bytes_range(buf, 2, Some(3))?;
    /// a.send_bytes_range(buf, 7, None)?;
    /// assert_eq!(b.recv_bytes()?, b"234");
    /// assert_eq!(b.recv_bytes()?, b"789");
    /// assert!(a.send_bytes_range(buf, 8, Some(3)).is_err());
    /// # Ok::<(), multiprocessing::Error>(())
    /// ```
    pub fn send_bytes_range(&self, buf: &[u8], offset: usize, size: Option<usize>) -> Result<()> {
        let Some(rest) = buf.len().checked_sub(offset) else {
            return Err(Error::state(format!(
                "send_bytes: buffer length {} < offset {offset}",
                buf.len()
            )));
        };
        let size = size.unwrap_or(rest);
        if size > rest {
            return Err(Error::state(format!(
                "send_bytes: buffer length {} < offset {offset} + size {size}",
                buf.len()
            )));
        }
        self.send_bytes(&buf[offset..offset + size])
    }

    /// Waits until there is something to read, or at most `timeout` (`None` waits forever).
    /// Returns whether a [`recv`](Connection::recv) would not block at its start. A closed
    /// peer counts as readable: the `recv` then returns [`Error::Eof`] at once, as in CPython.
    ///
    /// # Errors
    /// [`Error::State`] on the write-only end of a one-way pipe; [`Error::Os`] if `poll` fails.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    ///
    /// let (a, b) = multiprocessing::Pipe(true)?;
    /// assert!(!b.poll(Some(Duration::ZERO))?);
    /// a.send(&1u8)?;
    /// assert!(b.poll(Some(Duration::from_secs(5)))?);
    /// # Ok::<(), multiprocessing::Error>(())
    /// ```
    pub fn poll(&self, timeout: Option<Duration>) -> Result<bool> {
        self.check_readable()?;
        // What was read ahead is there to receive, whatever the descriptor says.
        if self.has_buffered() {
            return Ok(true);
        }
        poll::poll_readable(self.fd.as_fd(), timeout).map_err(|e| self.os("poll", e))
    }

    /// Whether bytes read ahead are waiting in this connection, so the next `recv` starts
    /// without a system call (no system call is made to find out). False while another thread
    /// is in the middle of a `recv`.
    pub(crate) fn has_buffered(&self) -> bool {
        match self.input.try_lock() {
            Ok(input) => input.buffered() > 0,
            Err(std::sync::TryLockError::Poisoned(input)) => input.into_inner().buffered() > 0,
            Err(std::sync::TryLockError::WouldBlock) => false,
        }
    }

    /// Closes the connection, like Python's `close()`: the channel is let go at once, so the
    /// peer's next `recv` returns [`Error::Eof`] once no other process holds this end open, and
    /// every later use of this connection is an [`Error::State`] that says it is closed
    /// (CPython raises `OSError: handle is closed`). Closing twice does nothing. Dropping the
    /// connection closes it too.
    ///
    /// The descriptor's number stays reserved (it is pointed at `/dev/null`) until the
    /// connection is dropped, so a number handed out by [`AsFd`] never comes to mean another
    /// file. A `recv` blocked in another thread of this process is not woken by it.
    ///
    /// # Examples
    ///
    /// ```
    /// use multiprocessing::{Error, Pipe};
    ///
    /// let (a, b) = Pipe(true)?;
    /// a.close();
    /// assert!(a.closed());
    /// assert!(matches!(b.recv_bytes(), Err(Error::Eof(_))));
    /// let err = a.send(&1u8).unwrap_err();
    /// assert!(err.to_string().contains("closed"), "{err}");
    /// # Ok::<(), multiprocessing::Error>(())
    /// ```
    pub fn close(&self) {
        if self.closed.swap(true, Ordering::SeqCst) {
            return;
        }
        // Best effort: out of descriptors for `/dev/null`, the channel stays open until the
        // connection is dropped (it is refused all the same).
        let _ = socket::let_go(self.fd.as_fd());
    }

    /// Whether [`close`](Connection::close) was called (Python's `closed`).
    ///
    /// # Examples
    ///
    /// ```
    /// let (a, _b) = multiprocessing::Pipe(true)?;
    /// assert!(!a.closed());
    /// a.close();
    /// assert!(a.closed());
    /// # Ok::<(), multiprocessing::Error>(())
    /// ```
    pub fn closed(&self) -> bool {
        self.closed.load(Ordering::Relaxed)
    }

    /// A second connection over the same channel (a duplicated descriptor). From then on
    /// both read exactly, without reading ahead (see the type's docs), so they can take turns
    /// receiving.
    ///
    /// # Errors
    /// [`Error::Os`] when the process is out of descriptors.
    ///
    /// # Examples
    ///
    /// ```
    /// let (a, b) = multiprocessing::Pipe(true)?;
    /// let a2 = a.try_clone()?;
    /// a2.send(&5u8)?;
    /// assert_eq!(b.recv::<u8>()?, 5);
    /// # Ok::<(), multiprocessing::Error>(())
    /// ```
    pub fn try_clone(&self) -> Result<Connection> {
        self.check_open()?;
        let fd = fcntl::dup_cloexec(self.fd.as_raw_fd()).map_err(|e| self.os("dup", e))?;
        let clone = Connection::new(fd, self.readable, self.writable, self.kind);
        // Two readers of one channel: neither may take in bytes of a message meant for the
        // other. (What this one already read ahead stays with it.)
        self.exact.store(true, Ordering::Relaxed);
        clone.exact.store(true, Ordering::Relaxed);
        clone.set_max_message_size(self.max_message_size());
        clone
            .enlarged
            .store(self.enlarged.load(Ordering::Relaxed), Ordering::Relaxed);
        Ok(clone)
    }

    /// The longest message [`recv`](Connection::recv) accepts, in bytes
    /// ([`DEFAULT_MAX_MESSAGE_SIZE`], 1 GiB, unless set).
    ///
    /// # Examples
    ///
    /// ```
    /// let (a, _b) = multiprocessing::Pipe(true)?;
    /// assert_eq!(a.max_message_size(), multiprocessing::DEFAULT_MAX_MESSAGE_SIZE);
    /// # Ok::<(), multiprocessing::Error>(())
    /// ```
    pub fn max_message_size(&self) -> u64 {
        self.max_message_size.load(Ordering::Relaxed)
    }

    /// Sets the longest message this end accepts. A longer one is refused by `recv` before
    /// anything is allocated for it, which protects a process from a peer that announces
    /// gigabytes (by bug or malice).
    ///
    /// # Examples
    ///
    /// ```
    /// let (a, b) = multiprocessing::Pipe(true)?;
    /// b.set_max_message_size(3);
    /// a.send_bytes(b"four")?;
    /// let err = b.recv_bytes().unwrap_err();
    /// assert!(err.to_string().contains("refused a message of 4 bytes"), "{err}");
    /// # Ok::<(), multiprocessing::Error>(())
    /// ```
    pub fn set_max_message_size(&self, bytes: u64) {
        self.max_message_size.store(bytes, Ordering::Relaxed);
    }

    /// Whether this end can receive (false for the write end of `Pipe(false)`).
    pub fn readable(&self) -> bool {
        self.readable
    }

    /// Whether this end can send (false for the read end of `Pipe(false)`).
    pub fn writable(&self) -> bool {
        self.writable
    }

    /// Refuses any use of a closed connection. (Inlined, its errors made out of line: every
    /// message checks.)
    #[inline]
    fn check_open(&self) -> Result<()> {
        if self.closed() {
            Err(self.refused(": the connection is closed"))
        } else {
            Ok(())
        }
    }

    #[inline]
    fn check_readable(&self) -> Result<()> {
        self.check_open()?;
        if self.readable {
            Ok(())
        } else {
            Err(self.refused(" is write-only"))
        }
    }

    #[inline]
    fn check_writable(&self) -> Result<()> {
        self.check_open()?;
        if self.writable {
            Ok(())
        } else {
            Err(self.refused(" is read-only"))
        }
    }

    #[cold]
    fn refused(&self, why: &str) -> Error {
        Error::state(format!("{self:?}{why}"))
    }

    fn os(&self, what: &str, e: std::io::Error) -> Error {
        Error::os(format!("{what} on {self:?}"), e)
    }
}

impl fmt::Debug for Connection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mode = match (self.readable, self.writable) {
            (true, true) => "read-write",
            (true, false) => "read-only",
            _ => "write-only",
        };
        let closed = if self.closed() { ", closed" } else { "" };
        write!(f, "Connection(fd {}, {mode}{closed})", self.fd.as_raw_fd())
    }
}

impl AsRawFd for Connection {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

impl AsFd for Connection {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

impl From<Connection> for OwnedFd {
    fn from(conn: Connection) -> OwnedFd {
        conn.fd
    }
}

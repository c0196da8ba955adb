//! Frames: how a [`Connection`] turns a byte stream into whole messages.
//!
//! ```text
//! length < 0xFFFF_FFFE:   [length: u32 LE][payload]
//! otherwise:              [0xFFFF_FFFF][length: u64 LE][payload]
//! with descriptors:       [0xFFFF_FFFE][count: u32 LE][length: u64 LE][payload]
//! ```
//!
//! (CPython does the same with a big-endian `i32` and `-1` as the escape.) A frame whose
//! message carries descriptors says how many: they came attached to its first byte
//! (`SCM_RIGHTS`, see [`passing`](super::passing)), and the reader, which takes every read's
//! descriptors in arrival order, hands that batch to the frame that announced it.
//!
//! Reading is buffered for small messages and exact for big ones: a `recv` reads whatever is
//! waiting, up to 4 KiB, with one system call, so a small message (header and payload) usually
//! costs one `read`; bytes of the messages after it stay in the `Connection` for the next
//! `recv`. A payload that does not fit is read straight into its own buffer, up to its last
//! byte and no further. A connection with a second reader (made by
//! [`Connection::try_clone`]) reads exactly: one header and one payload, never a byte more.

use std::collections::VecDeque;
use std::io;
use std::os::fd::{AsFd, OwnedFd, RawFd};
use std::sync::atomic::Ordering;
use std::sync::{MutexGuard, PoisonError};

use super::{Connection, Kind};
use crate::error::{Error, Result};
use crate::sys::{scm, socket};

/// The escape value of the 4-byte header: an 8-byte length follows.
const LONG_HEADER: u32 = u32::MAX;

/// The escape value of the 4-byte header of a frame whose message carries descriptors: their
/// count (4 bytes) and an 8-byte length follow.
const FDS_HEADER: u32 = u32::MAX - 1;

/// Room for the longest header, in front of a payload being encoded.
pub(super) const HEADER_ROOM: usize = 16;

/// Batches of descriptors that came with bytes not yet parsed: one for each frame that
/// announces descriptors, read ahead. More than this means the peer sends descriptors its
/// frames do not announce; the oldest are closed.
const MAX_PENDING_BATCHES: usize = 16;

/// Payloads up to this size are copied behind their header and sent with one `send`; longer
/// ones go out with one `sendmsg` of the header and the payload where they are.
pub(super) const SMALL: usize = 256;

/// How much one `read` may take in: a frame that fits (header and payload) is decoded where it
/// landed, and whatever came after it waits in the connection for the next `recv`. Allocated
/// on a connection's first `recv`.
pub(super) const READ_AHEAD: usize = 4096;

/// `send` keeps its encoding buffer between messages up to this capacity.
pub(super) const KEEP_OUTPUT: usize = 64 << 10;

/// A payload longer than this is read into a buffer that grows as its bytes arrive (doubling),
/// so a header that lies about the length costs no more memory than the bytes really sent,
/// plus this much. Shorter payloads get their whole buffer at once.
const GROW_FROM: usize = 16 << 20;

/// Pipes are enlarged (best effort) to this size before the first message that does not fit
/// in a default 64 KiB pipe, which lets the writer hand over big messages in fewer, larger
/// steps (measured: 0.8 GB/s through a 64 KiB pipe, 2.6 GB/s through 1 MiB).
const BIG_PIPE: usize = 1 << 20;

/// Writes the header for a `len`-byte payload carrying `fds` descriptors at the end of `room`
/// ([`HEADER_ROOM`] bytes) and returns where it starts.
pub(super) fn put_header(room: &mut [u8; HEADER_ROOM], len: u64, fds: usize) -> usize {
    if fds > 0 {
        room[0..4].copy_from_slice(&FDS_HEADER.to_le_bytes());
        room[4..8].copy_from_slice(&(fds as u32).to_le_bytes());
        room[8..16].copy_from_slice(&len.to_le_bytes());
        return 0;
    }
    match u32::try_from(len) {
        Ok(short) if short < FDS_HEADER => {
            room[12..16].copy_from_slice(&short.to_le_bytes());
            12
        }
        _ => {
            room[4..8].copy_from_slice(&LONG_HEADER.to_le_bytes());
            room[8..16].copy_from_slice(&len.to_le_bytes());
            4
        }
    }
}

/// A frame header as read: its size, the payload's length, and how many descriptors the
/// message carries.
struct Header {
    size: usize,
    len: u64,
    fds: u32,
}

/// The read-ahead buffer: `data[start..end]` is what came in and was not returned yet, always
/// the beginning of a frame (between `recv`s).
#[derive(Default)]
pub(super) struct ReadBuf {
    data: Vec<u8>,
    start: usize,
    end: usize,
    /// Descriptors that came with the bytes read, one batch per read that brought some, in
    /// the order they came; each frame that announces descriptors takes the first batch.
    fds: VecDeque<Vec<OwnedFd>>,
    /// Where a Unix socket's reads take their descriptors, made on the first.
    control: Option<Box<scm::ControlBuffer>>,
}

impl ReadBuf {
    pub(super) fn buffered(&self) -> usize {
        self.end - self.start
    }

    pub(super) fn consume(&mut self, n: usize) {
        self.start += n;
        if self.start == self.end {
            // Empty: the next read may use the whole buffer.
            self.start = 0;
            self.end = 0;
        }
    }

    fn clear(&mut self) {
        self.consume(self.buffered());
    }

    /// What was read and not yet returned (the beginning of a frame), and the descriptors that
    /// came with it.
    pub(super) fn pending(&self) -> (&[u8], &VecDeque<Vec<OwnedFd>>) {
        (&self.data[self.start..self.end], &self.fds)
    }

    /// A buffer holding `pending` (at most `READ_AHEAD` bytes) and the descriptors that came
    /// with it, read ahead by another process.
    pub(super) fn with_pending(mut pending: Vec<u8>, fds: VecDeque<Vec<OwnedFd>>) -> ReadBuf {
        let end = pending.len();
        if end > 0 {
            pending.resize(READ_AHEAD, 0);
        }
        ReadBuf {
            data: pending,
            start: 0,
            end,
            fds,
            control: None,
        }
    }
}

impl Connection {
    /// Writes part of a frame whose payload is `len` bytes long.
    pub(super) fn write_frame_data(&self, data: &[u8], len: u64) -> Result<()> {
        self.enlarge_pipe(len);
        socket::write_all(self.fd.as_fd(), data, self.kind.is_socket()).map_err(|e| self.send_failed(e))
    }

    /// Writes a whole frame with `fds` attached to its first byte (a Unix socket's).
    pub(super) fn write_frame_with_fds(&self, frame: &[u8], fds: &[RawFd]) -> Result<()> {
        scm::send_stream_with_fds(self.fd.as_fd(), frame, fds).map_err(|e| self.send_failed(e))
    }

    /// Before the first message too big for a default pipe: ask for a bigger one.
    fn enlarge_pipe(&self, len: u64) {
        if self.kind == Kind::Pipe && len > 65536 && !self.enlarged.swap(true, Ordering::Relaxed) {
            // Best effort: a user at their pipe-buffer quota keeps the default size.
            let _ = socket::set_pipe_size(self.fd.as_fd(), BIG_PIPE);
        }
    }

    fn send_failed(&self, e: io::Error) -> Error {
        if e.kind() == io::ErrorKind::BrokenPipe {
            self.os("send (the peer has closed its end)", e)
        } else {
            self.os("send", e)
        }
    }

    /// Writes a frame in two parts (header and payload) with one system call where it can.
    pub(super) fn write_frame_parts(&self, header: &[u8], payload: &[u8], len: u64) -> Result<()> {
        self.enlarge_pipe(len);
        socket::write_two_all(self.fd.as_fd(), header, payload, self.kind.is_socket())
            .map_err(|e| self.send_failed(e))
    }

    pub(super) fn input(&self) -> MutexGuard<'_, ReadBuf> {
        // The buffer is consistent between system calls, so a panic elsewhere leaves it usable.
        self.input.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Receives one frame, with the descriptors that came with it. A payload that fits the
    /// read-ahead buffer goes to `small`, as a slice of it; a longer one to `big`, as the part
    /// read ahead and the whole length, for it to read the rest where it wants
    /// ([`read_big_payload`](Connection::read_big_payload),
    /// [`read_rest_into`](Connection::read_rest_into)) before the next frame can be read.
    pub(super) fn recv_frame<R>(
        &self,
        small: impl FnOnce(&[u8], Vec<OwnedFd>) -> R,
        big: impl FnOnce(&[u8], u64, Vec<OwnedFd>) -> Result<R>,
    ) -> Result<R> {
        self.check_readable()?;
        let mut input = self.input();
        let Header { size: head, len, fds } = self.read_header(&mut input)?;
        // The frame's descriptors came with its first byte, which is read: they are the first
        // batch waiting (none if the peer announced some and sent none).
        let fds = if fds > 0 {
            input.fds.pop_front().unwrap_or_default()
        } else {
            Vec::new()
        };
        let max = self.max_message_size();
        if len > max {
            input.consume(head);
            let skipped = match self.skip(&mut input, len) {
                Ok(()) => "it was skipped".to_string(),
                Err(e) => format!("skipping it failed: {e}"),
            };
            return Err(Error::os(
                format!("recv on {self:?}"),
                std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    format!(
                        "refused a message of {len} bytes, longer than the maximum of {max} bytes \
                         (Connection::set_max_message_size); {skipped}"
                    ),
                ),
            ));
        }
        if len <= (READ_AHEAD - head) as u64 {
            // `len` fits in the buffer, hence in a usize.
            let frame = head + len as usize;
            let got = self.fill(&mut input, frame)?;
            if got < frame {
                input.clear();
                return Err(self.truncated((got - head) as u64, len));
            }
            let payload = input.start + head..input.start + frame;
            let out = small(&input.data[payload], fds);
            input.consume(frame);
            return Ok(out);
        }
        input.consume(head);
        // Everything buffered belongs to this payload, which is longer than the buffer.
        let have = input.start..input.end;
        let out = big(&input.data[have], len, fds);
        input.clear();
        out
    }

    /// Makes `need` bytes (at most `READ_AHEAD`) buffered, reading as much as is waiting
    /// (exactly what is missing once the connection is shared). Returns how many bytes are
    /// buffered: fewer than `need` only at end of file.
    fn fill(&self, input: &mut ReadBuf, need: usize) -> Result<usize> {
        if input.data.is_empty() {
            input.data = vec![0; READ_AHEAD];
        }
        if input.start + need > input.data.len() {
            let ReadBuf { data, start, end, .. } = input;
            data.copy_within(*start..*end, 0);
            *end -= *start;
            *start = 0;
        }
        let exact = self.exact.load(Ordering::Relaxed);
        while input.buffered() < need {
            let limit = if exact {
                input.start + need
            } else {
                input.data.len()
            };
            let ReadBuf {
                data,
                end,
                fds,
                control,
                ..
            } = input;
            let buf = &mut data[*end..limit];
            let n = self
                .spin
                .read(|nowait| self.read_once(buf, nowait, fds, control))
                .map_err(|e| self.os("recv", e))?;
            if n == 0 {
                break;
            }
            *end += n;
        }
        Ok(input.buffered())
    }

    /// One read into `buf`, without waiting if `nowait` (`Ok(None)`: nothing there yet). On a
    /// Unix socket the descriptors that came with the bytes join `fds`.
    fn read_once(
        &self,
        buf: &mut [u8],
        nowait: bool,
        fds: &mut VecDeque<Vec<OwnedFd>>,
        control: &mut Option<Box<scm::ControlBuffer>>,
    ) -> io::Result<Option<usize>> {
        let fd = self.fd.as_fd();
        match self.kind {
            Kind::Unix => {
                let control = control.get_or_insert_with(scm::ControlBuffer::new);
                Ok(scm::recv_stream(fd, buf, nowait, control)?.map(|(n, got)| {
                    if !got.is_empty() {
                        if fds.len() == MAX_PENDING_BATCHES {
                            fds.pop_front();
                        }
                        fds.push_back(got);
                    }
                    n
                }))
            }
            kind if nowait => socket::read_nowait(fd, buf, kind.is_socket()),
            _ => socket::read_some(fd, buf).map(Some),
        }
    }

    /// Reads a frame header into the buffer. The header stays buffered.
    fn read_header(&self, input: &mut ReadBuf) -> Result<Header> {
        let got = self.fill(input, 4)?;
        if got == 0 {
            return Err(Error::Eof(format!("{self:?}: the peer has closed its end")));
        }
        if got < 4 {
            input.clear();
            return Err(self.truncated(got as u64, 4));
        }
        let at = input.start;
        let short = u32::from_le_bytes(input.data[at..at + 4].try_into().expect("4 bytes"));
        let size = match short {
            LONG_HEADER => 12,
            FDS_HEADER => 16,
            len => {
                return Ok(Header {
                    size: 4,
                    len: u64::from(len),
                    fds: 0,
                });
            }
        };
        let got = self.fill(input, size)?;
        if got < size {
            input.clear();
            return Err(self.truncated(got as u64, size as u64));
        }
        let at = input.start + size - 12;
        let fds = u32::from_le_bytes(input.data[at..at + 4].try_into().expect("4 bytes"));
        let len = u64::from_le_bytes(input.data[at + 4..at + 12].try_into().expect("8 bytes"));
        Ok(Header {
            size,
            len,
            fds: if short == FDS_HEADER { fds } else { 0 },
        })
    }

    fn truncated(&self, got: u64, of: u64) -> Error {
        Error::Eof(format!(
            "{self:?}: truncated frame: the peer closed its end after {got} of {of} bytes of a message"
        ))
    }

    /// Reads the rest of a `len`-byte payload (`len` within the maximum) whose first bytes,
    /// `have`, were read ahead, into a new vector. Reads exactly to the payload's end.
    pub(super) fn read_big_payload(&self, have: &[u8], len: u64) -> Result<Vec<u8>> {
        let len =
            usize::try_from(len).map_err(|_| self.os("recv", std::io::ErrorKind::OutOfMemory.into()))?;
        // Trust the header only as far as the bytes that really came: a peer that announces a
        // gigabyte and sends nothing costs 16 MiB, not a gigabyte (nor an abort if the
        // allocation fails). The buffer is filled by the reads themselves, never zeroed first.
        let mut payload = Vec::with_capacity(len.min(GROW_FROM));
        payload.extend_from_slice(have);
        while payload.len() < len {
            if payload.len() == payload.capacity() {
                payload.reserve_exact(len.min(2 * payload.len()) - payload.len());
            }
            // Never past the payload's end, whatever capacity the allocator gave.
            let max = len - payload.len();
            let got = socket::read_appending(self.fd.as_fd(), &mut payload, max, self.kind.is_socket())
                .map_err(|e| self.os("recv", e))?;
            if got == 0 {
                return Err(self.truncated(payload.len() as u64, len as u64));
            }
        }
        Ok(payload)
    }

    /// Reads the rest of a payload whose first bytes, `have`, were read ahead, into `out`, which
    /// is exactly as long as the payload. Reads exactly to the payload's end.
    pub(super) fn read_rest_into(&self, have: &[u8], out: &mut [u8]) -> Result<()> {
        out[..have.len()].copy_from_slice(have);
        let got = socket::read_full_waitall(self.fd.as_fd(), &mut out[have.len()..], self.kind.is_socket())
            .map_err(|e| self.os("recv", e))?;
        if have.len() + got < out.len() {
            return Err(self.truncated((have.len() + got) as u64, out.len() as u64));
        }
        Ok(())
    }

    /// Discards a `len`-byte payload, the buffered part first, so the stream is at the next
    /// frame again. Reads exactly to the payload's end.
    fn skip(&self, input: &mut ReadBuf, len: u64) -> Result<()> {
        let buffered = input.buffered().min(usize::try_from(len).unwrap_or(usize::MAX));
        input.consume(buffered);
        let total = len;
        let mut len = len - buffered as u64;
        let mut sink = [0u8; 16384];
        while len > 0 {
            let want = usize::try_from(len).unwrap_or(usize::MAX).min(sink.len());
            let n = socket::read_some(self.fd.as_fd(), &mut sink[..want]).map_err(|e| self.os("recv", e))?;
            if n == 0 {
                return Err(self.truncated(total - len, total));
            }
            len -= n as u64;
        }
        Ok(())
    }
}

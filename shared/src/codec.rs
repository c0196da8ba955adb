//! The codec: how values become bytes and back, for every message that crosses processes.
//!
//! CPython pickles; we use [serde] with [postcard], a compact, maintained format. (The design
//! card suggested `bincode`, but bincode 3 is a tombstone crate and bincode is marked
//! unmaintained, RUSTSEC-2025-0141; servo's `ipc-channel` moved to postcard for the same reason.)
//! Everything that serializes goes through [`encode`] and [`decode`], so the format can change in
//! one place.
//!
//! # Bytes
//! Python's `bytes` is [`ByteBuf`] here (re-exported from `serde_bytes`), not `Vec<u8>`: serde
//! sees a `Vec<u8>` as a sequence and encodes it one element at a time (about 0.5-1 GB/s on the
//! machine of the README), while a `ByteBuf` is copied as one block, at memory speed. Send large
//! binary payloads as `ByteBuf`, or use [`Connection::send_bytes`](crate::Connection::send_bytes).
//!
//! # Examples
//!
//! ```
//! use multiprocessing::codec;
//!
//! let bytes = codec::encode(&(1u32, "two".to_string()))?;
//! let (one, two): (u32, String) = codec::decode(&bytes)?;
//! assert_eq!((one, two.as_str()), (1, "two"));
//!
//! // Bytes that are not a `u64` give an error that names the type, never a panic.
//! let err = codec::decode::<u64>(&[0xff]).unwrap_err();
//! assert!(err.to_string().contains("u64"));
//! # Ok::<(), multiprocessing::Error>(())
//! ```

use std::any::{Any, TypeId};

use serde::Serialize;
use serde::de::DeserializeOwned;

pub use serde_bytes::ByteBuf;

/// A value that could not be encoded, or bytes that do not decode as the expected type.
#[derive(Clone, Debug, thiserror::Error)]
#[error("cannot {action} {type_name}: {reason}")]
pub struct CodecError {
    action: &'static str,
    type_name: &'static str,
    reason: String,
}

impl CodecError {
    /// The Rust type that failed to encode or decode.
    pub fn type_name(&self) -> &'static str {
        self.type_name
    }
}

thread_local! {
    /// The message of the last refusal made through [`refuse`] on this thread: postcard keeps
    /// only "Serde Serialization Error" of a custom error, so the message travels beside it.
    static REFUSAL: std::cell::RefCell<Option<String>> = const { std::cell::RefCell::new(None) };
}

/// A serde error for a value that refuses to be encoded, whose `message` reaches the caller in
/// the [`CodecError`] (postcard itself drops custom messages). For `Serialize` impls of this
/// crate, e.g. a `Lock` that crosses only by inheritance.
pub(crate) fn refuse<E: serde::ser::Error>(message: String) -> E {
    let error = E::custom(&message);
    REFUSAL.with(|r| *r.borrow_mut() = Some(message));
    error
}

/// Encodes `value` into a new byte vector.
///
/// # Errors
/// A [`CodecError`] naming the type when serde refuses the value (for example a map with
/// non-string keys in a format that needs them, or a `Serialize` impl that fails).
pub fn encode<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>, CodecError> {
    let mut out = Vec::new();
    encode_into(value, &mut out)?;
    Ok(out)
}

/// Appends the encoding of `value` to `out`, so a caller can put a header in front of it
/// without a second copy.
///
/// # Errors
/// As [`encode`]; `out` is left as it was.
pub fn encode_into<T: Serialize + ?Sized>(value: &T, out: &mut Vec<u8>) -> Result<(), CodecError> {
    let start = out.len();
    let mut append = AppendTo {
        out: &mut *out,
        limit: usize::MAX,
        over: false,
    };
    encode_with(value, &mut append).inspect_err(|_| out.truncate(start))
}

/// Appends the encoding of `value` to `out` if it takes at most `limit` bytes: `Ok(true)`;
/// `Ok(false)`, with `out` as it was, if it would take more. A queue encodes a value this way
/// first, and encodes one found longer straight into its ring.
///
/// # Errors
/// As [`encode`]; `out` is left as it was.
#[inline]
pub(crate) fn encode_into_at_most<T: Serialize + ?Sized>(
    value: &T,
    out: &mut Vec<u8>,
    limit: usize,
) -> Result<bool, CodecError> {
    let start = out.len();
    let mut append = AppendTo {
        out: &mut *out,
        limit: start.saturating_add(limit),
        over: false,
    };
    let encoded = encode_with(value, &mut append);
    let over = append.over;
    match encoded {
        Ok(()) => Ok(true),
        Err(e) => {
            out.truncate(start);
            // Serde passes the refusal on under another name (postcard's "buffer full").
            if over { Ok(false) } else { Err(e) }
        }
    }
}

/// The number of bytes [`encode`] would write for `value`, counted without writing them.
///
/// # Errors
/// As [`encode`].
pub(crate) fn encoded_size<T: Serialize + ?Sized>(value: &T) -> Result<usize, CodecError> {
    let mut size = 0;
    encode_with(value, Count(&mut size))?;
    Ok(size)
}

/// Encodes `value` into `first`, then `second` (the two parts of a ring's free space that wraps
/// around its end), which a value measured by [`encoded_size`] fills exactly: `Ok(true)`.
/// `Ok(false)` if the encoding did not fill them exactly (a value that encodes to another
/// length than it did a moment before); what was written is then garbage. A queue writes a
/// large value this way, straight into its shared memory.
///
/// # Errors
/// As [`encode`].
pub(crate) fn encode_to_parts<T: Serialize + ?Sized>(
    value: &T,
    first: &mut [u8],
    second: &mut [u8],
) -> Result<bool, CodecError> {
    let mut parts = Parts {
        current: first,
        next: second,
        over: false,
    };
    let encoded = encode_with(value, &mut parts);
    match encoded {
        Ok(()) => Ok(parts.current.is_empty() && parts.next.is_empty()),
        Err(_) if parts.over => Ok(false),
        Err(e) => Err(e),
    }
}

/// Runs postcard over `value` into `flavor`, naming `T` in the error.
#[inline]
fn encode_with<T: Serialize + ?Sized, F: postcard::ser_flavors::Flavor>(
    value: &T,
    flavor: F,
) -> Result<(), CodecError> {
    REFUSAL.with(|r| r.borrow_mut().take());
    match postcard::serialize_with_flavor(value, flavor) {
        Ok(_) => Ok(()),
        Err(e) => Err(encode_error(e, std::any::type_name::<T>())),
    }
}

/// The error for a value of type `type_name` that postcard failed to encode with `e`.
#[cold]
fn encode_error(e: postcard::Error, type_name: &'static str) -> CodecError {
    let refused = match e {
        postcard::Error::SerdeSerCustom => REFUSAL.with(|r| r.borrow_mut().take()),
        _ => None,
    };
    CodecError {
        action: "encode",
        type_name,
        reason: refused.unwrap_or_else(|| e.to_string()),
    }
}

/// A postcard output that appends to a vector, refusing to grow it past `limit` bytes.
/// Postcard hands over every integer as a slice of one to ten bytes; pushing those bytes one by
/// one is 2-3 times faster than a `memcpy` call per integer, which is what `postcard::to_io`
/// (and `to_stdvec`) on a vector cost: encoding 100,000 `u64`s took 5.1 ns each (0..100,000)
/// and 5.4 ns (their squares), now 1.9 and 3.1 ns, best of 200 runs; `Pool::map` over 100,000
/// numbers spent a fifth of its time in `memmove`.
struct AppendTo<'a> {
    out: &'a mut Vec<u8>,
    limit: usize,
    /// Whether it refused bytes past `limit`.
    over: bool,
}

impl postcard::ser_flavors::Flavor for &mut AppendTo<'_> {
    type Output = ();

    #[inline]
    fn try_extend(&mut self, data: &[u8]) -> postcard::Result<()> {
        if data.len() > self.limit - self.out.len() {
            self.over = true;
            return Err(postcard::Error::SerializeBufferFull);
        }
        if data.len() <= 16 {
            self.out.reserve(data.len());
            for &byte in data {
                self.out.push(byte);
            }
        } else {
            self.out.extend_from_slice(data);
        }
        Ok(())
    }

    #[inline]
    fn try_push(&mut self, data: u8) -> postcard::Result<()> {
        if self.out.len() >= self.limit {
            self.over = true;
            return Err(postcard::Error::SerializeBufferFull);
        }
        self.out.push(data);
        Ok(())
    }

    fn finalize(self) -> postcard::Result<()> {
        Ok(())
    }
}

/// A postcard output that only counts.
struct Count<'a>(&'a mut usize);

impl postcard::ser_flavors::Flavor for Count<'_> {
    type Output = ();

    #[inline]
    fn try_extend(&mut self, data: &[u8]) -> postcard::Result<()> {
        *self.0 += data.len();
        Ok(())
    }

    #[inline]
    fn try_push(&mut self, _: u8) -> postcard::Result<()> {
        *self.0 += 1;
        Ok(())
    }

    fn finalize(self) -> postcard::Result<()> {
        Ok(())
    }
}

/// A postcard output that fills one slice, then another.
struct Parts<'a> {
    current: &'a mut [u8],
    next: &'a mut [u8],
    /// Whether it refused bytes past the end of both.
    over: bool,
}

impl postcard::ser_flavors::Flavor for &mut Parts<'_> {
    type Output = ();

    #[inline]
    fn try_extend(&mut self, mut data: &[u8]) -> postcard::Result<()> {
        while !data.is_empty() {
            if self.current.is_empty() {
                if self.next.is_empty() {
                    self.over = true;
                    return Err(postcard::Error::SerializeBufferFull);
                }
                std::mem::swap(&mut self.current, &mut self.next);
            }
            let n = data.len().min(self.current.len());
            let (to, rest) = std::mem::take(&mut self.current).split_at_mut(n);
            to.copy_from_slice(&data[..n]);
            self.current = rest;
            data = &data[n..];
        }
        Ok(())
    }

    #[inline]
    fn try_push(&mut self, data: u8) -> postcard::Result<()> {
        if self.current.is_empty() {
            return self.try_extend(&[data]);
        }
        let (byte, rest) = std::mem::take(&mut self.current).split_at_mut(1);
        byte[0] = data;
        self.current = rest;
        Ok(())
    }

    fn finalize(self) -> postcard::Result<()> {
        Ok(())
    }
}

/// Decodes a `T` from `bytes`; every byte must be used.
///
/// # Errors
/// A [`CodecError`] naming `T` when the bytes are not a valid `T` or have bytes left over.
pub fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, CodecError> {
    let fail = |reason: String| CodecError {
        action: "decode",
        type_name: std::any::type_name::<T>(),
        reason,
    };
    match postcard::take_from_bytes::<T>(bytes) {
        Ok((value, [])) => Ok(value),
        Ok((_, rest)) => Err(fail(format!("{} bytes left over", rest.len()))),
        Err(e) => Err(fail(e.to_string())),
    }
}

/// Encodes `len` items of `items` as a sequence, exactly as a `Vec` of them encodes, and
/// appends it to `out`, without collecting them first: a pool encodes each chunk of its input
/// straight from the caller's iterator, and a worker its results as it computes them. Exactly
/// `len` items are taken from `items` (fewer only if it ends), even when one fails to encode.
///
/// # Errors
/// As [`encode`], naming `I::Item`; also when `items` ends before `len` items. `out` is left
/// as it was.
pub(crate) fn encode_seq_into<I>(items: I, len: usize, out: &mut Vec<u8>) -> Result<(), CodecError>
where
    I: Iterator,
    I::Item: Serialize + 'static,
{
    if is_plain_int::<I::Item>() {
        return put_ints(items, len, out);
    }
    let seq = Seq(std::cell::Cell::new(Some(items)), len);
    let start = out.len();
    let mut append = AppendTo {
        out: &mut *out,
        limit: usize::MAX,
        over: false,
    };
    postcard::serialize_with_flavor(&seq, &mut append).map_err(|e| {
        out.truncate(start);
        CodecError {
            action: "encode",
            type_name: std::any::type_name::<I::Item>(),
            reason: e.to_string(),
        }
    })
}

/// `len` items of an iterator, serialized once as a sequence.
struct Seq<I>(std::cell::Cell<Option<I>>, usize);

impl<I> Serialize for Seq<I>
where
    I: Iterator,
    I::Item: Serialize,
{
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::{Error, SerializeSeq};
        let items = self
            .0
            .take()
            .ok_or_else(|| S::Error::custom("a sequence of an iterator is encoded once"))?;
        let mut seq = serializer.serialize_seq(Some(self.1))?;
        let mut items = items.take(self.1);
        let mut written = 0;
        for item in &mut items {
            if let Err(e) = seq.serialize_element(&item) {
                // The caller's iterator gives up exactly `len` items, whatever happens.
                items.for_each(drop);
                return Err(e);
            }
            written += 1;
        }
        if written != self.1 {
            return Err(S::Error::custom("the items ended early"));
        }
        seq.end()
    }
}

/// Decodes a sequence of `T` (as a `Vec<T>` encodes) from `bytes` and appends its items to
/// `out`, instead of into a vector of their own; returns how many. Every byte must be used.
/// A pool collects a `map`'s results this way, chunk after chunk, into the one vector it
/// returns.
///
/// # Errors
/// As [`decode`], naming `T`; `out` is left as it was.
pub(crate) fn decode_extend<T: DeserializeOwned + 'static>(
    bytes: &[u8],
    out: &mut Vec<T>,
) -> Result<usize, CodecError> {
    if let Some(read) = take_ints(bytes, out) {
        return Ok(read);
    }
    let before = out.len();
    let fail = |out: &mut Vec<T>, reason: String| {
        out.truncate(before);
        CodecError {
            action: "decode",
            type_name: std::any::type_name::<T>(),
            reason,
        }
    };
    let mut deserializer = postcard::Deserializer::from_bytes(bytes);
    if let Err(e) = serde::de::DeserializeSeed::deserialize(Extend(&mut *out), &mut deserializer) {
        return Err(fail(out, e.to_string()));
    }
    match deserializer.finalize() {
        Ok([]) => Ok(out.len() - before),
        Ok(rest) => Err(fail(out, format!("{} bytes left over", rest.len()))),
        Err(e) => Err(fail(out, e.to_string())),
    }
}

/// Deserializes a sequence into the end of a vector.
struct Extend<'a, T>(&'a mut Vec<T>);

impl<'de, T: serde::Deserialize<'de>> serde::de::DeserializeSeed<'de> for Extend<'_, T> {
    type Value = ();

    fn deserialize<D: serde::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de, T: serde::Deserialize<'de>> serde::de::Visitor<'de> for Extend<'_, T> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a sequence")
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        // As serde's own `Vec` does: trust the announced length only so far (1 MiB).
        let room = seq
            .size_hint()
            .unwrap_or(0)
            .min((1 << 20) / size_of::<T>().max(1));
        self.0.reserve(room);
        while let Some(item) = seq.next_element()? {
            self.0.push(item);
        }
        Ok(())
    }
}

// Sequences of plain integers (`u32`, `u64`, `usize`, `i32`, `i64`), written and read without
// serde. Through serde, postcard writes each element's varint into a buffer of its own and
// hands it over as a slice, and reads it back through a generic visitor: for `Pool::map` over
// numbers, that was most of the parent's and the workers' time (`perf` on `map_100k`: a third
// of all samples in `serialize_element`, a fifth in the varint reader and `visit_seq`). These
// loops write and read exactly postcard's bytes (LEB128 varints, zigzag for signed numbers, the
// length first), as the tests check against postcard itself; bytes they do not accept go
// through serde, which gives the error.

/// Whether `T` is one of the integers whose sequences take the loops below.
fn is_plain_int<T: 'static>() -> bool {
    let t = TypeId::of::<T>();
    [
        TypeId::of::<u64>(),
        TypeId::of::<u32>(),
        TypeId::of::<usize>(),
        TypeId::of::<i64>(),
        TypeId::of::<i32>(),
    ]
    .contains(&t)
}

/// The number postcard writes as the varint of `value` (zigzag for a signed one); `None` for
/// a type that is not a plain integer.
fn varint_of<T: 'static>(value: &T) -> Option<u64> {
    let any: &dyn Any = value;
    if let Some(&v) = any.downcast_ref::<u64>() {
        return Some(v);
    }
    if let Some(&v) = any.downcast_ref::<u32>() {
        return Some(u64::from(v));
    }
    if let Some(&v) = any.downcast_ref::<usize>() {
        return Some(v as u64);
    }
    if let Some(&v) = any.downcast_ref::<i64>() {
        return Some(((v << 1) ^ (v >> 63)) as u64);
    }
    if let Some(&v) = any.downcast_ref::<i32>() {
        return Some(u64::from(((v << 1) ^ (v >> 31)) as u32));
    }
    None
}

/// Appends `value` as a LEB128 varint.
#[inline]
fn push_varint(mut value: u64, out: &mut Vec<u8>) {
    while value >= 0x80 {
        out.push(value as u8 | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

/// [`encode_seq_into`] for plain integers.
fn put_ints<I>(items: I, len: usize, out: &mut Vec<u8>) -> Result<(), CodecError>
where
    I: Iterator,
    I::Item: 'static,
{
    let start = out.len();
    // Room for small numbers; larger ones grow the vector as usual.
    out.reserve(len.saturating_mul(2).saturating_add(10));
    push_varint(len as u64, out);
    let mut written = 0;
    for item in items.take(len) {
        let Some(value) = varint_of(&item) else {
            unreachable!("put_ints is only called for plain integers")
        };
        push_varint(value, out);
        written += 1;
    }
    if written != len {
        out.truncate(start);
        return Err(CodecError {
            action: "encode",
            type_name: std::any::type_name::<I::Item>(),
            reason: "the items ended early".to_string(),
        });
    }
    Ok(())
}

/// Reads a varint of at most `max_bytes` bytes whose last byte is at most `last_max` from the
/// start of `rest`, as postcard does: the value and how many bytes it took; `None` where
/// postcard would fail.
#[inline(always)]
fn take_varint(rest: &[u8], max_bytes: usize, last_max: u8) -> Option<(u64, usize)> {
    let &first = rest.first()?;
    if first < 0x80 {
        return Some((u64::from(first), 1));
    }
    let mut value = u64::from(first & 0x7f);
    for i in 1..max_bytes {
        let &byte = rest.get(i)?;
        value |= u64::from(byte & 0x7f) << (7 * i);
        if byte < 0x80 {
            return (i < max_bytes - 1 || byte <= last_max).then_some((value, i + 1));
        }
    }
    None
}

/// [`decode_extend`] for plain integers: `None` for another type, or for bytes to leave to
/// serde (which then says what is wrong with them).
#[expect(
    clippy::ptr_arg,
    reason = "the vector grows: it is downcast to a `Vec` of the integer type and pushed onto"
)]
fn take_ints<T: 'static>(bytes: &[u8], out: &mut Vec<T>) -> Option<usize> {
    let any: &mut dyn Any = out;
    if let Some(out) = any.downcast_mut::<Vec<u64>>() {
        return take_seq(bytes, out, 10, 0x01, Some);
    }
    if let Some(out) = any.downcast_mut::<Vec<u32>>() {
        return take_seq(bytes, out, 5, 0x0f, |v| u32::try_from(v).ok());
    }
    if let Some(out) = any.downcast_mut::<Vec<usize>>() {
        return take_seq(bytes, out, 10, 0x01, |v| usize::try_from(v).ok());
    }
    if let Some(out) = any.downcast_mut::<Vec<i64>>() {
        return take_seq(bytes, out, 10, 0x01, |v| {
            Some((v >> 1) as i64 ^ -((v & 1) as i64))
        });
    }
    if let Some(out) = any.downcast_mut::<Vec<i32>>() {
        return take_seq(bytes, out, 5, 0x0f, |v| {
            let v = u32::try_from(v).ok()?;
            Some((v >> 1) as i32 ^ -((v & 1) as i32))
        });
    }
    None
}

/// Reads a length, then that many varints converted by `convert`, onto `out`; every byte must
/// be used. On `None`, `out` is as it was.
fn take_seq<V>(
    bytes: &[u8],
    out: &mut Vec<V>,
    max_bytes: usize,
    last_max: u8,
    convert: impl Fn(u64) -> Option<V>,
) -> Option<usize> {
    let (len, used) = take_varint(bytes, 10, 0x01)?;
    let mut rest = &bytes[used..];
    // Every item takes a byte at least: a longer length is not to be believed.
    let len = usize::try_from(len).ok().filter(|&len| len <= rest.len())?;
    let before = out.len();
    out.reserve(len);
    for _ in 0..len {
        let Some((value, used)) = take_varint(rest, max_bytes, last_max) else {
            out.truncate(before);
            return None;
        };
        let Some(value) = convert(value) else {
            out.truncate(before);
            return None;
        };
        out.push(value);
        rest = &rest[used..];
    }
    if !rest.is_empty() {
        out.truncate(before);
        return None;
    }
    Some(len)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    /// Our output writes exactly postcard's bytes, whatever the value's shape.
    #[test]
    fn encode_into_writes_postcards_bytes() {
        fn same<T: Serialize + DeserializeOwned + PartialEq + std::fmt::Debug>(value: T) {
            let theirs = postcard::to_stdvec(&value).unwrap();
            let mut ours = vec![9, 9];
            encode_into(&value, &mut ours).unwrap();
            assert_eq!(ours[..2], [9, 9], "what was in front is kept");
            assert_eq!(ours[2..], theirs[..]);
            assert_eq!(encode(&value).unwrap(), theirs);
            assert_eq!(decode::<T>(&theirs).unwrap(), value);
        }
        same((0u64..100_000).map(|x| x * x).collect::<Vec<_>>());
        same(vec![u64::MAX, 0, 127, 128, 16_383, 16_384, 1 << 35, 1 << 63]);
        same(vec![i64::MIN, -1, 0, 1, i64::MAX]);
        same((u128::MAX, -7i128, 1.5f64, -0.25f32, true, 'é'));
        same("任务 and a string longer than sixteen bytes".to_string());
        same(ByteBuf::from(vec![7u8; 100_000]));
        same(BTreeMap::from([("k".to_string(), vec![Some(1u32), None])]));
    }

    /// A value is measured, encoded within a limit, and encoded into two parts, as it is
    /// encoded whole.
    #[test]
    fn measured_limited_and_in_parts() {
        let value = (
            ByteBuf::from(vec![7u8; 100_000]),
            vec![1u64, 300, 1 << 40],
            "s".to_string(),
        );
        let whole = encode(&value).unwrap();
        assert_eq!(encoded_size(&value).unwrap(), whole.len());
        let mut out = vec![9];
        assert!(!encode_into_at_most(&value, &mut out, whole.len() - 1).unwrap());
        assert_eq!(out, [9], "left as it was");
        assert!(encode_into_at_most(&value, &mut out, whole.len()).unwrap());
        assert_eq!(out[1..], whole[..]);
        for split in [0, 1, 2, 3, 50_000, whole.len() - 1, whole.len()] {
            let mut buf = vec![0u8; whole.len()];
            let (a, b) = buf.split_at_mut(split);
            assert!(encode_to_parts(&value, a, b).unwrap(), "split at {split}");
            assert_eq!(buf, whole);
        }
        let mut buf = vec![0u8; whole.len() + 1];
        let (a, b) = buf.split_at_mut(10);
        assert!(!encode_to_parts(&value, a, b).unwrap(), "a byte left over");
        let mut buf = vec![0u8; whole.len() - 1];
        let (a, b) = buf.split_at_mut(10);
        assert!(!encode_to_parts(&value, a, b).unwrap(), "a byte short");
    }

    /// A sequence encoded from an iterator is a `Vec`'s encoding, and decodes onto the end of
    /// a vector.
    #[test]
    fn sequences_from_iterators_and_onto_vectors() {
        let items: Vec<u64> = (0..1000).map(|x| x * x).collect();
        let mut out = vec![7];
        encode_seq_into(items.iter().copied(), items.len(), &mut out).unwrap();
        assert_eq!(out[1..], encode(&items).unwrap()[..]);
        // Only `len` items are taken; an iterator that ends early is an error, leaving `out`.
        let mut short = Vec::new();
        encode_seq_into(0u64..10, 3, &mut short).unwrap();
        assert_eq!(decode::<Vec<u64>>(&short).unwrap(), [0, 1, 2]);
        assert!(encode_seq_into(0u64..2, 3, &mut short).is_err());
        assert_eq!(decode::<Vec<u64>>(&short).unwrap(), [0, 1, 2]);

        let mut all = vec![1u64, 2];
        assert_eq!(decode_extend(&out[1..], &mut all).unwrap(), 1000);
        assert_eq!(all[..2], [1, 2]);
        assert_eq!(all[2..], items[..]);
        // Bad bytes leave the vector as it was.
        assert!(decode_extend::<u64>(&[5, 1], &mut all).is_err());
        assert!(
            decode_extend::<u64>(&[1, 1, 9], &mut all).is_err(),
            "a byte left over"
        );
        assert_eq!(all.len(), 1002);
    }

    /// The integer loops write exactly postcard's bytes and read them back, at the edges of
    /// every varint length; what they do not accept, serde reads (or refuses) as before.
    #[test]
    fn integer_sequences_match_postcard() {
        fn same<T>(values: Vec<T>)
        where
            T: Serialize + DeserializeOwned + PartialEq + std::fmt::Debug + Copy + 'static,
        {
            assert!(is_plain_int::<T>());
            let theirs = postcard::to_stdvec(&values).unwrap();
            let mut ours = Vec::new();
            encode_seq_into(values.iter().copied(), values.len(), &mut ours).unwrap();
            assert_eq!(ours, theirs, "{}", std::any::type_name::<T>());
            let mut back: Vec<T> = Vec::new();
            assert_eq!(take_ints(&theirs, &mut back), Some(values.len()));
            assert_eq!(back, values);
        }
        let mut edges: Vec<u64> = vec![0, 1, u64::MAX];
        for bits in [7, 14, 21, 28, 32, 35, 42, 49, 56, 63] {
            edges.extend([(1u64 << bits) - 1, 1u64 << bits, (1u64 << bits) + 1]);
        }
        same(edges.clone());
        same(edges.iter().map(|&v| v as u32).collect::<Vec<_>>());
        same(edges.iter().map(|&v| v as usize).collect::<Vec<_>>());
        same(
            edges
                .iter()
                .flat_map(|&v| [v as i64, (v as i64).wrapping_neg()])
                .collect::<Vec<_>>(),
        );
        same(
            edges
                .iter()
                .flat_map(|&v| [v as i32, (v as i32).wrapping_neg()])
                .collect::<Vec<_>>(),
        );
        same(vec![i64::MIN, i64::MAX, i32::MIN as i64]);
        same(vec![i32::MIN, i32::MAX]);
        same(Vec::<u64>::new());
        assert!(!is_plain_int::<u8>() && !is_plain_int::<String>());

        // Bytes the loops leave to serde: the same outcome either way.
        let non_canonical = [1u8, 0x80, 0x00]; // one item, zero written in two bytes
        assert_eq!(take_ints::<u64>(&non_canonical, &mut Vec::new()), Some(1));
        assert_eq!(decode::<Vec<u64>>(&non_canonical).unwrap(), [0]);
        for bad in [
            &[2u8, 1][..],
            &[1, 0xff, 0xff, 0xff, 0xff, 0x7f][..],
            &[0x80][..],
            &[1, 1, 1][..],
        ] {
            let mut out = vec![9u32];
            assert!(take_ints(bad, &mut out).is_none(), "{bad:?}");
            assert_eq!(out, [9]);
            assert!(decode_extend(bad, &mut out).is_err(), "{bad:?}");
            assert!(decode::<Vec<u32>>(bad).is_err(), "{bad:?}");
        }
    }
}

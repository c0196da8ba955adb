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

use serde::de::DeserializeOwned;
use serde::Serialize;

pub use serde_bytes::ByteBuf;

/// A value that could not be encoded, or bytes that do not decode as the expected type.
#[derive(Debug, thiserror::Error)]
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

/// Encodes `value` into a new byte vector.
///
/// # Errors
/// A [`CodecError`] naming the type when serde refuses the value (for example a map with
/// non-string keys in a format that needs them, or a `Serialize` impl that fails).
pub fn encode<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>, CodecError> {
    postcard::to_stdvec(value).map_err(|e| CodecError {
        action: "encode",
        type_name: std::any::type_name::<T>(),
        reason: e.to_string(),
    })
}

/// Appends the encoding of `value` to `out`, so a caller can put a header in front of it
/// without a second copy.
///
/// # Errors
/// As [`encode`]; `out` is left as it was.
pub fn encode_into<T: Serialize + ?Sized>(value: &T, out: &mut Vec<u8>) -> Result<(), CodecError> {
    let start = out.len();
    postcard::to_io(value, &mut *out).map(drop).map_err(|e| {
        out.truncate(start);
        CodecError {
            action: "encode",
            type_name: std::any::type_name::<T>(),
            reason: e.to_string(),
        }
    })
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

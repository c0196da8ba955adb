//! A target as a call that another run of this executable can make (the `spawn` and
//! `forkserver` start methods, and a pool's spawned workers): the code offsets of the target
//! and of a trampoline that decodes its arguments, the encoded arguments, and the descriptors
//! they name. See "How a spawned child finds its target" in `spawn.rs`.
#![expect(
    unsafe_code,
    reason = "a child turns the code offsets it received back into function pointers"
)]

use std::os::fd::RawFd;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize, Serializer};

use crate::codec;
use crate::error::Result;
use crate::reduction::{code_offset, collect_fds, decode_from_parent, function_at, note_fd};

/// What a child calls: decodes the arguments and calls the target (both given as offsets).
type Trampoline = fn(usize, &[u8]) -> std::result::Result<(), codec::CodecError>;

/// The trampoline for targets of type `fn(A)`.
fn trampoline<A: DeserializeOwned>(target: usize, args: &[u8]) -> std::result::Result<(), codec::CodecError> {
    let args = decode_from_parent::<A>(args)?;
    // SAFETY: `Call::new::<A>` put the offset of a `fn(A)` beside this instantiation's offset,
    // and the child runs the same executable (checked by the payload's `build_check`).
    let target = unsafe { function_at::<fn(A)>(target) };
    target(args);
    Ok(())
}

/// A call `target(args)` that another run of this executable can make: the offsets of the
/// target and of its trampoline, the encoded arguments, and the descriptors they name.
pub(crate) struct Call {
    trampoline: usize,
    target: usize,
    type_name: String,
    args: Vec<u8>,
    fds: Vec<RawFd>,
}

/// How a [`Call`] crosses; separate so that serializing a `Call` can note its descriptors.
#[derive(Serialize, Deserialize)]
struct CallWire {
    trampoline: u64,
    target: u64,
    type_name: String,
    args: Vec<u8>,
    fds: Vec<RawFd>,
}

impl Call {
    /// Encodes `target(args)`, noting the descriptors the arguments name.
    ///
    /// # Errors
    /// [`Error::Codec`] when the arguments do not encode.
    pub(crate) fn new<A>(target: fn(A), args: &A) -> Result<Call>
    where
        A: Serialize + DeserializeOwned + 'static,
    {
        let (encoded, fds) = collect_fds(|| codec::encode(args));
        Ok(Call {
            trampoline: code_offset(trampoline::<A> as Trampoline as *const ()),
            target: code_offset(target as *const ()),
            type_name: std::any::type_name::<A>().to_string(),
            args: encoded?,
            fds,
        })
    }

    /// The descriptors the arguments name, which must reach the child.
    pub(crate) fn fds(&self) -> &[RawFd] {
        &self.fds
    }

    /// Makes the call in a child that inherited the descriptors. Arguments that do not decode
    /// (an inherited descriptor that is missing, say) are a panic naming their type, which the
    /// child's bootstrap reports like any panic of the target.
    pub(crate) fn invoke(self) {
        // SAFETY: the offset was measured from a `Trampoline` instantiation by `Call::new`, in
        // a run of this same executable (see the payload's `build_check`).
        let trampoline = unsafe { function_at::<Trampoline>(self.trampoline) };
        if let Err(e) = trampoline(self.target, &self.args) {
            panic!(
                "cannot receive the arguments ({}) in the child: {e}",
                self.type_name
            );
        }
    }
}

impl Serialize for Call {
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        // A call inside the arguments of another (a pool's initializer inside its worker's
        // arguments) needs its descriptors to reach the child as well.
        for &fd in &self.fds {
            note_fd(fd);
        }
        CallWire {
            trampoline: self.trampoline as u64,
            target: self.target as u64,
            type_name: self.type_name.clone(),
            args: self.args.clone(),
            fds: self.fds.clone(),
        }
        .serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Call {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        let wire = CallWire::deserialize(deserializer)?;
        let offset = |v: u64| usize::try_from(v).map_err(serde::de::Error::custom);
        Ok(Call {
            trampoline: offset(wire.trampoline)?,
            target: offset(wire.target)?,
            type_name: wire.type_name,
            args: wire.args,
            fds: wire.fds,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connection::Pipe;

    fn target((_conn, _n): (crate::Connection, u32)) {}

    #[test]
    fn a_call_notes_the_descriptors_of_its_arguments() {
        let (a, b) = Pipe(true).unwrap();
        let call = Call::new(target, &(a, 7)).unwrap();
        assert_eq!(call.fds().len(), 1);
        // A call inside the arguments of another passes its descriptors on.
        let (outer, fds) = collect_fds(|| codec::encode(&(call, 1u8)));
        outer.unwrap();
        assert_eq!(fds.len(), 1);
        drop(b);
    }
}

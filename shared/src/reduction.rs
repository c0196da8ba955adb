//! What crosses a process boundary (CPython's `reduction.py`): the descriptors a child must
//! inherit, and the code offsets that name a function in another run of this executable.
//!
//! # Descriptors
//! An object that stands for an OS resource (a [`Connection`](crate::Connection), a block of
//! shared memory, a manager's socket) serializes its descriptor number and reports it through
//! [`note_fd`]. While the arguments of a spawned or forkserver child are encoded
//! ([`collect_fds`]), the noted numbers are gathered so the start path can hand exactly those
//! descriptors to the child; [`InheritedFd`] is the same for the runtime's own descriptors
//! that have no type of their own.
//!
//! # Code offsets
//! A Rust `fn` has no name at run time, but it has an address, and the same executable keeps
//! the same distances between its functions wherever ASLR loads it. [`code_offset`] measures
//! a function from a reference function of this crate; [`function_at`] turns an offset back
//! into a function pointer, and is the crate's one place that does.
//!
//! # Pool tasks
//! A pool sends its workers typed functions (`fn(T) -> R`, `fn(A, B) -> R`) together with the
//! monomorphized code that decodes a chunk and calls them. [`TaskFn`] is a function's offset
//! that is known to name a function of its type (it is only made from one); [`TaskCode`] pairs
//! it with the entry point of a [`TaskKind`], crosses as two numbers, and is rebuilt in the
//! worker by [`TaskCode::from_parent`]. The pool itself needs no `unsafe`: the two places that
//! turn numbers back into functions are here, each argued once.
#![expect(
    unsafe_code,
    reason = "function_at turns a code offset back into a function pointer"
)]

use std::cell::{Cell, RefCell};
use std::marker::PhantomData;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize, Serializer};

use crate::codec;
use crate::sys::socket;

/// The reference point of [`code_offset`]: any function of this crate would do, as long as it
/// is a real function with an address (hence `inline(never)`).
#[inline(never)]
fn anchor() {}

fn anchor_address() -> usize {
    (anchor as fn() as *const ()).expose_provenance()
}

/// The distance of a function of this executable from the crate's reference function: the same
/// number in every run of the same executable, whatever address ASLR gives it.
pub(crate) fn code_offset(function: *const ()) -> usize {
    function.expose_provenance().wrapping_sub(anchor_address())
}

/// The address in this run of the function that [`code_offset`] measured (in this or another
/// run of the same executable).
fn code_pointer(offset: usize) -> *const () {
    std::ptr::with_exposed_provenance(offset.wrapping_add(anchor_address()))
}

/// The function of type `F` at `offset` (from [`code_offset`]) in this run.
///
/// # Safety
/// `offset` must have been measured by [`code_offset`] from a function of exactly the type `F`
/// (a `fn` pointer type), in a run of this same executable: this process, or a parent whose
/// executable the caller checked is ours.
pub(crate) unsafe fn function_at<F: Copy>(offset: usize) -> F {
    const {
        assert!(
            size_of::<F>() == size_of::<*const ()>(),
            "function_at is for fn pointer types"
        )
    };
    let ptr = code_pointer(offset);
    // SAFETY: `F` is a fn pointer type of the size of a data pointer (checked above), and the
    // caller guarantees that `ptr` is the address of a function of type `F` in this run.
    unsafe { std::mem::transmute_copy::<*const (), F>(&ptr) }
}

thread_local! {
    /// The descriptors named by the values being encoded for a spawned child, while
    /// [`collect_fds`] runs; `None` otherwise.
    static NOTED_FDS: RefCell<Option<Vec<RawFd>>> = const { RefCell::new(None) };
}

/// Called by every `Serialize` impl that writes a descriptor number (a `Connection`, a block
/// of shared memory): when the value is being encoded for a spawned or forkserver child, the
/// descriptor must reach that child at the same number. Outside such an encoding it does
/// nothing (the value is going somewhere else, e.g. through a `Connection`).
pub(crate) fn note_fd(fd: RawFd) {
    NOTED_FDS.with(|noted| {
        if let Some(fds) = noted.borrow_mut().as_mut() {
            fds.push(fd);
        }
    });
}

thread_local! {
    /// Whether the arguments being decoded come from this process's parent, in the payload that
    /// started it: the only bytes trusted to carry code offsets.
    static DECODING_FROM_PARENT: Cell<bool> = const { Cell::new(false) };
}

/// Whether the value being encoded is a child's start arguments ([`collect_fds`] is running):
/// the only encoding through which descriptors, shared memory and code offsets may cross.
pub(crate) fn encoding_for_child() -> bool {
    NOTED_FDS.with(|noted| noted.borrow().is_some())
}

/// A plain `fn()` (a barrier's action) as it crosses to a child: its code offset, which holds
/// in any run of this executable. `None` unless the value is being encoded as the arguments of
/// a child (it is going somewhere else then, where the number could not be trusted).
pub(crate) fn fn_to_child(function: fn()) -> Option<u64> {
    encoding_for_child().then(|| code_offset(function as *const ()) as u64)
}

/// The function [`fn_to_child`] sent. `None` unless the bytes being decoded are the arguments
/// this process was started with: a code offset from any other source could point anywhere,
/// and calling it would be undefined behaviour.
pub(crate) fn fn_from_parent(offset: u64) -> Option<fn()> {
    if !decoding_from_parent() {
        return None;
    }
    let offset = usize::try_from(offset).ok()?;
    // SAFETY: the offset comes from our parent's `fn_to_child`, measured from a `fn()` in the
    // same executable (the payload's `build_check` passed), so it is that function here.
    Some(unsafe { function_at::<fn()>(offset) })
}

/// Runs `encode` and returns its result with the descriptors noted meanwhile, sorted, each once.
pub(crate) fn collect_fds<R>(encode: impl FnOnce() -> R) -> (R, Vec<RawFd>) {
    let outer = NOTED_FDS.with(|noted| noted.replace(Some(Vec::new())));
    let result = encode();
    let mut fds = NOTED_FDS.with(|noted| noted.replace(outer)).unwrap_or_default();
    fds.sort_unstable();
    fds.dedup();
    (result, fds)
}

/// A descriptor that travels to a spawned or forkserver child as its number: serializing notes
/// it (so it survives `exec`), deserializing adopts the inherited number. For the runtime's own
/// descriptors that have no type of their own (a manager's listening socket and watch socket).
pub(crate) struct InheritedFd(pub(crate) OwnedFd);

impl Serialize for InheritedFd {
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        note_fd(self.0.as_raw_fd());
        self.0.as_raw_fd().serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for InheritedFd {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        let fd = RawFd::deserialize(deserializer)?;
        // A number is a descriptor of ours only in the arguments this process was started
        // with; from any other bytes it names whatever file happens to be open under it.
        if !decoding_from_parent() {
            return Err(serde::de::Error::custom(format!(
                "descriptor {fd}: a descriptor number is adopted only from a child's start arguments"
            )));
        }
        socket::adopt_inherited(fd)
            .map(InheritedFd)
            .map_err(|e| serde::de::Error::custom(format!("inherited descriptor {fd}: {e}")))
    }
}

/// Whether the bytes being decoded are the arguments this process was started with (inside
/// [`decode_from_parent`]): the only bytes trusted to name inherited descriptors and code
/// offsets.
pub(crate) fn decoding_from_parent() -> bool {
    DECODING_FROM_PARENT.with(Cell::get)
}

/// Decodes the arguments this process was started with: the only bytes trusted to carry code
/// offsets ([`fn_from_parent`] accepts one only while this runs).
pub(crate) fn decode_from_parent<A: DeserializeOwned>(bytes: &[u8]) -> Result<A, codec::CodecError> {
    DECODING_FROM_PARENT.with(|d| d.set(true));
    let args = codec::decode::<A>(bytes);
    DECODING_FROM_PARENT.with(|d| d.set(false));
    args
}

/// A function of the fn pointer type `F` (`fn(T) -> R`, `fn(A, B) -> R`), held as the code offset
/// that names it in any run of this executable.
///
/// It is made only from a real function of type `F` (by [`TaskFn::unary`],
/// [`TaskFn::binary`] or [`TaskFn::with_context`]), never from a number: so whoever holds a `TaskFn<F>` holds an offset
/// measured from an `F`, which is what lets [`TaskCode`] turn it back into an `F` in a worker.
pub(crate) struct TaskFn<F> {
    offset: usize,
    function: PhantomData<F>,
}

impl<F> Clone for TaskFn<F> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<F> Copy for TaskFn<F> {}

impl<A, R> TaskFn<fn(A) -> R> {
    /// The offset of a function of one argument.
    pub(crate) fn unary(function: fn(A) -> R) -> Self {
        TaskFn {
            offset: code_offset(function as *const ()),
            function: PhantomData,
        }
    }
}

impl<A, B, R> TaskFn<fn(A, B) -> R> {
    /// The offset of a function of two arguments.
    pub(crate) fn binary(function: fn(A, B) -> R) -> Self {
        TaskFn {
            offset: code_offset(function as *const ()),
            function: PhantomData,
        }
    }
}

impl<C, A, R> TaskFn<fn(&C, A) -> R> {
    /// The offset of a function of a borrowed context and one argument.
    pub(crate) fn with_context(function: fn(&C, A) -> R) -> Self {
        TaskFn {
            offset: code_offset(function as *const ()),
            function: PhantomData,
        }
    }
}

/// One shape of pool task (`map`, `starmap`, ...): how a worker runs one chunk with a function
/// of type `Func`, given the worker's state `S` for that chunk (its arguments, the buffer for
/// its results). The pool implements it once per shape; [`TaskCode`] calls it.
pub(crate) trait TaskKind<S: ?Sized>: 'static {
    /// The type of the task's function: a fn pointer type, as [`TaskFn`] holds.
    type Func: Copy + 'static;

    /// Runs one chunk: a message for the parent on failure.
    fn run(function: Self::Func, state: &mut S) -> Result<(), String>;
}

/// The entry point of a [`TaskKind`] as a worker calls it: the offset of the task's function,
/// and the chunk's state.
type Entry<S> = fn(usize, &mut S) -> Result<(), String>;

/// The entry point of `K`: rebuilds the task's function from its offset and runs the chunk.
fn entry<S: ?Sized, K: TaskKind<S>>(function: usize, state: &mut S) -> Result<(), String> {
    // SAFETY: this instantiation is only named by `TaskCode::<S>::new::<K>`, which sends beside
    // it the offset of a `TaskFn<K::Func>`: measured from a real `K::Func` of this executable
    // (a `TaskFn` is made from nothing else). The worker calling us runs the same executable
    // (see `TaskCode::from_parent`), so the offset names that function here.
    let function = unsafe { function_at::<K::Func>(function) };
    K::run(function, state)
}

/// A pool task's code as it crosses to a worker: the entry point of its [`TaskKind`] and the
/// function that entry point calls, as two code offsets.
pub(crate) struct TaskCode<S: ?Sized> {
    entry: usize,
    function: usize,
    state: PhantomData<fn(&mut S)>,
}

impl<S: ?Sized> Clone for TaskCode<S> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<S: ?Sized> Copy for TaskCode<S> {}

impl<S: ?Sized + 'static> TaskCode<S> {
    /// The code of a task of kind `K` running `function` (on the parent's side).
    pub(crate) fn new<K: TaskKind<S>>(function: TaskFn<K::Func>) -> Self {
        TaskCode {
            entry: code_offset(entry::<S, K> as Entry<S> as *const ()),
            function: function.offset,
            state: PhantomData,
        }
    }

    /// The two numbers to send.
    pub(crate) fn to_wire(self) -> [u64; 2] {
        [self.entry as u64, self.function as u64]
    }

    /// The task a worker's parent sent, rebuilt from the two numbers of [`to_wire`](Self::to_wire).
    ///
    /// Call it only with numbers a pool worker read from its own socket to its pool. That
    /// socket is one end of an unnamed socket pair the pool made: no other process can connect
    /// to it, and the other end is held by the pool's process (and by no process that does not
    /// run this executable), which writes there only what `to_wire` gave for a `TaskCode<S>`
    /// of the same `S`. A worker runs the pool's very executable: forked from it, or started
    /// from `/proc/self/exe` with the spawn path's build check. So the numbers are offsets the
    /// same code measured, and name the same functions here.
    pub(crate) fn from_parent(wire: [u64; 2]) -> Option<ReceivedTask<S>> {
        let entry = usize::try_from(wire[0]).ok()?;
        let function = usize::try_from(wire[1]).ok()?;
        // SAFETY: by the argument above, `entry` was measured by `TaskCode::<S>::new` from an
        // `entry::<S, K>`, which has type `Entry<S>`, in this same executable.
        let entry = unsafe { function_at::<Entry<S>>(entry) };
        Some(ReceivedTask { entry, function })
    }
}

/// A task as a worker received it: ready to run a chunk.
pub(crate) struct ReceivedTask<S: ?Sized> {
    entry: Entry<S>,
    function: usize,
}

impl<S: ?Sized> ReceivedTask<S> {
    /// Runs one chunk; a message for the parent on failure.
    pub(crate) fn run(&self, state: &mut S) -> Result<(), String> {
        (self.entry)(self.function, state)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connection::Pipe;

    #[test]
    fn descriptors_are_noted_only_while_encoding_for_a_child() {
        let (a, _b) = Pipe(true).unwrap();
        // An ordinary encoding (a message through a Connection, say) notes nothing.
        codec::encode(&a).unwrap();
        let ((), fds) = collect_fds(|| note_fd(3));
        assert_eq!(fds, [3]);
        let ((), after) = collect_fds(|| ());
        assert!(after.is_empty());
    }

    #[test]
    fn code_offsets_round_trip_in_one_run() {
        fn target(x: u32) -> u32 {
            x + 1
        }
        let offset = code_offset(target as fn(u32) -> u32 as *const ());
        assert_eq!(code_pointer(offset), target as fn(u32) -> u32 as *const ());
        // SAFETY: the offset was measured from a `fn(u32) -> u32` in this very run.
        let back = unsafe { function_at::<fn(u32) -> u32>(offset) };
        assert_eq!(back(1), 2);
    }

    #[test]
    fn task_code_round_trips_in_one_run() {
        struct Double;
        impl TaskKind<Vec<u32>> for Double {
            type Func = fn(u32) -> u32;
            fn run(function: fn(u32) -> u32, state: &mut Vec<u32>) -> Result<(), String> {
                state.iter_mut().for_each(|x| *x = function(*x));
                Ok(())
            }
        }
        fn double(x: u32) -> u32 {
            2 * x
        }
        let code = TaskCode::<Vec<u32>>::new::<Double>(TaskFn::unary(double));
        let task = TaskCode::<Vec<u32>>::from_parent(code.to_wire()).unwrap();
        let mut state = vec![1, 2, 3];
        task.run(&mut state).unwrap();
        assert_eq!(state, [2, 4, 6]);
    }

    #[test]
    fn a_function_is_accepted_only_from_the_parent() {
        fn action() {}
        assert_eq!(fn_to_child(action), None, "not encoding for a child");
        let (offset, _) = collect_fds(|| fn_to_child(action));
        let offset = offset.expect("encoding for a child");
        assert!(fn_from_parent(offset).is_none(), "not decoding our own arguments");
    }
}

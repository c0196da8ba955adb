//! The `spawn` start method (CPython's `spawn.py` and `popen_spawn_posix.py`): a child that is
//! a fresh run of the same executable.
//!
//! # How a spawned child finds its target
//! CPython pickles the process object, whose target is found by its module and name. A Rust
//! `fn` has no name at run time, but it has an address, and the same executable keeps the same
//! distances between its functions wherever ASLR loads it. So the parent sends two numbers: the
//! offset of the target `fn(A)` from a reference function of this crate ([`code_offset`]), and
//! the offset of a monomorphized *trampoline* that decodes an `A` and calls a `fn(A)`. The
//! child adds its own address of the reference function back. To be sure the child runs the
//! same code, it is started from `/proc/self/exe` (the parent's very executable, even if the
//! file on disk was replaced since), and it checks one known offset before trusting the others.
//!
//! # How the payload and the shared objects cross
//! The parent writes the payload (name, identity, daemon flag, the parent's own record, the
//! target and its encoded arguments) to a memfd and names its number in the environment
//! variable [`PAYLOAD_VAR`]. An argument that stands for an OS resource (a [`Connection`], a
//! [`Lock`], a [`Value`], ...) serializes its descriptor number and reports it through
//! [`note_fd`] while the arguments are encoded; between `fork` and `exec` the child clears
//! `FD_CLOEXEC` on exactly those numbers (and the memfd), so they survive the `exec` at the same
//! numbers, and each object's `Deserialize` adopts its inherited descriptor. Every other
//! descriptor of ours is close-on-exec and stays behind.
//!
//! # The child's side
//! [`freeze_support`](crate::freeze_support), called first in `main`, sees [`PAYLOAD_VAR`],
//! reads the payload, becomes the child and runs its target through the same path as a forked
//! child (a panic prints `Process <name>:` and gives exit code 1), and leaves with `_exit`. A
//! program that forgets `freeze_support` reaches `Process::start` or `Pool::new` with the
//! variable still set; that is refused with an error that says what to add, so a forgotten
//! call can never re-spawn children without end.
//!
//! [`Connection`]: crate::Connection
//! [`Lock`]: crate::Lock
//! [`Value`]: crate::Value
#![allow(
    unsafe_code,
    reason = "a spawned child turns code offsets back into function pointers, and clears close-on-exec between fork and exec"
)]

use std::cell::{Cell, RefCell};
use std::ffi::OsString;
use std::fs::File;
use std::io::Write;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::os::unix::fs::FileExt;
use std::os::unix::process::CommandExt;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize, Serializer};

use crate::codec;
use crate::context::{self, StartMethod};
use crate::error::{Error, Result};
use crate::process::{self, ChildInfo, Parent};
use crate::sys::{fcntl, mman, signal, socket, unistd};

/// The environment variable that tells a re-executed program it is a spawned child, and which
/// descriptor holds its payload.
pub(crate) const PAYLOAD_VAR: &str = "MULTIPROCESSING_SPAWN_FD";

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
pub(crate) fn code_pointer(offset: usize) -> *const () {
    std::ptr::with_exposed_provenance(offset.wrapping_add(anchor_address()))
}

/// What the child checks before it trusts the payload's offsets: the executable file it runs
/// (device and inode of `/proc/self/exe`) and one known offset. The first catches a payload
/// that reached another program (its variable inherited through a forgetful child); the second
/// a different build behind the same file.
fn build_check() -> (u64, u64, u64) {
    use std::os::unix::fs::MetadataExt;
    let (dev, ino) = std::fs::metadata("/proc/self/exe").map_or((0, 0), |m| (m.dev(), m.ino()));
    let offset = code_offset(crate::process::freeze_support as fn() as *const ()) as u64;
    (dev, ino, offset)
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

/// A plain `fn()` (a barrier's action) as it crosses to a child: its code offset, which holds
/// in any run of this executable. `None` unless the value is being encoded as the arguments of
/// a child (it is going somewhere else then, where the number could not be trusted).
pub(crate) fn fn_to_child(function: fn()) -> Option<u64> {
    let encoding_for_child = NOTED_FDS.with(|noted| noted.borrow().is_some());
    encoding_for_child.then(|| code_offset(function as *const ()) as u64)
}

/// The function [`fn_to_child`] sent. `None` unless the bytes being decoded are the arguments
/// this process was started with: a code offset from any other source could point anywhere,
/// and calling it would be undefined behaviour.
pub(crate) fn fn_from_parent(offset: u64) -> Option<fn()> {
    if !DECODING_FROM_PARENT.with(Cell::get) {
        return None;
    }
    let ptr = code_pointer(usize::try_from(offset).ok()?);
    // SAFETY: the offset comes from our parent's `fn_to_child`, measured from a `fn()` in the
    // same executable (the payload's `build_check` passed), so it is that function here.
    Some(unsafe { std::mem::transmute::<*const (), fn()>(ptr) })
}

/// Runs `encode` and returns its result with the descriptors noted meanwhile, sorted, each once.
fn collect_fds<R>(encode: impl FnOnce() -> R) -> (R, Vec<RawFd>) {
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
        socket::adopt_inherited(fd)
            .map(InheritedFd)
            .map_err(|e| serde::de::Error::custom(format!("inherited descriptor {fd}: {e}")))
    }
}

/// What a child calls: decodes the arguments and calls the target (both given as offsets).
type Trampoline = fn(usize, &[u8]) -> std::result::Result<(), codec::CodecError>;

/// The trampoline for targets of type `fn(A)`.
fn trampoline<A: DeserializeOwned>(target: usize, args: &[u8]) -> std::result::Result<(), codec::CodecError> {
    DECODING_FROM_PARENT.with(|d| d.set(true));
    let args = codec::decode::<A>(args);
    DECODING_FROM_PARENT.with(|d| d.set(false));
    let args = args?;
    let ptr = code_pointer(target);
    // SAFETY: `Call::new::<A>` put the offset of a `fn(A)` beside this instantiation's offset;
    // the child runs the same executable (checked by `build_check`), so the rebuilt address is
    // that function, and a fn pointer has the size and layout of a data pointer on our targets.
    let target = unsafe { std::mem::transmute::<*const (), fn(A)>(ptr) };
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
        let ptr = code_pointer(self.trampoline);
        // SAFETY: the offset was measured from a `Trampoline` instantiation by `Call::new`, in
        // a run of this same executable (see `build_check`).
        let trampoline = unsafe { std::mem::transmute::<*const (), Trampoline>(ptr) };
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

/// Everything a spawned (or forkserver) child needs to become the child.
#[derive(Serialize, Deserialize)]
pub(crate) struct Bootstrap {
    check: (u64, u64, u64),
    pub(crate) name: String,
    pub(crate) identity: Vec<u32>,
    pub(crate) daemon: bool,
    /// Whether the child dies with its parent (a daemon, unless it opted out, as the manager's
    /// server does: it watches its owner and cleans up itself).
    pub(crate) tied: bool,
    pub(crate) parent: Parent,
    /// The parent's default start method, if it chose one: the child's processes use it too.
    start_method: Option<StartMethod>,
    pub(crate) call: Call,
}

impl Bootstrap {
    /// The descriptors the child must inherit, in the order the payload names them.
    pub(crate) fn call_fds(&self) -> &[RawFd] {
        self.call.fds()
    }

    pub(crate) fn new(info: &ChildInfo, call: Call, tied: bool) -> Bootstrap {
        Bootstrap {
            check: build_check(),
            name: info.name.clone(),
            identity: info.identity.clone(),
            daemon: info.daemon,
            tied,
            parent: process::parent_record(),
            start_method: context::chosen_start_method(),
            call,
        }
    }

    /// Turns the calling process into the child and runs the target; never returns.
    pub(crate) fn run(self) -> ! {
        if self.check != build_check() {
            eprintln!(
                "multiprocessing: {} was started from a different executable than its parent's; \
                 it cannot find its target",
                self.name
            );
            crate::sys::unistd::exit_now(1);
        }
        // The inherited descriptors are owned by the arguments from now on; a child of this
        // child (spawned in turn) must not inherit them unless it is given them explicitly.
        for &fd in self.call.fds() {
            let _ = fcntl::set_cloexec(fd, true);
        }
        if let Some(method) = self.start_method {
            context::inherit_start_method(method);
        }
        process::become_child(
            ChildInfo {
                name: self.name.clone(),
                identity: self.identity,
                daemon: self.daemon,
            },
            self.parent,
        );
        let call = self.call;
        process::bootstrap(self.name, Box::new(move || call.invoke()))
    }
}

/// Starts a spawned child that will run `bootstrap`: the program again, from
/// `/proc/self/exe`, with the same arguments, the payload in a memfd named by [`PAYLOAD_VAR`],
/// and the argument's descriptors kept open across `exec`. Returns its pid.
pub(crate) fn spawn(bootstrap: &Bootstrap) -> Result<libc::pid_t> {
    let who = &bootstrap.name;
    // Every way to spawn passes here: a run of the program that forgot `freeze_support` stops.
    check_bootstrapped(who)?;
    let payload = codec::encode(bootstrap)?;
    let memfd = mman::memfd_create(c"mp-spawn")
        .map_err(|e| Error::os(format!("memfd_create for the payload of {who}"), e))?;
    let mut file = File::from(memfd);
    file.write_all(&payload)
        .map_err(|e| Error::os(format!("writing the payload of {who}"), e))?;
    let mut keep: Vec<RawFd> = bootstrap.call.fds().to_vec();
    keep.push(file.as_raw_fd());
    for &fd in &keep {
        if !fcntl::is_open(fd) {
            return Err(Error::state(format!(
                "{who}: descriptor {fd} named by its arguments is not open in the parent"
            )));
        }
    }
    let mut command = rerun_command("multiprocessing-child");
    command.env(PAYLOAD_VAR, file.as_raw_fd().to_string());
    // A daemon dies with its parent, as under fork (see `process::tie_to_parent`); the signal
    // set before `exec` survives it.
    let parent = unistd::getpid();
    let tie = bootstrap.tied && unistd::gettid() == parent;
    // SAFETY: the closure runs in the forked child before `exec`; it only calls `fcntl` (through
    // `set_cloexec`), `prctl` and `getppid`, which are async-signal-safe, and reads `keep`, which
    // was allocated before the fork and is not freed or resized in the child.
    unsafe {
        command.pre_exec(move || {
            for &fd in &keep {
                fcntl::set_cloexec(fd, false)?;
            }
            if tie {
                signal::set_parent_death_signal(libc::SIGKILL)?;
                if unistd::getppid() != parent {
                    return Err(std::io::Error::from_raw_os_error(libc::ESRCH));
                }
            }
            Ok(())
        });
    }
    let child = command
        .spawn()
        .map_err(|e| Error::os(format!("spawning {who} (exec of /proc/self/exe)"), e))?;
    // The runtime reaps the child itself (`Process::join`); dropping std's handle neither
    // waits for nor kills it.
    let pid = child.id() as libc::pid_t;
    drop(child);
    Ok(pid)
}

/// A command that runs this program again: `/proc/self/exe` with this process's arguments,
/// `argv[0]` included (`fallback_argv0` when there is none). What a spawned child and the fork
/// server are started with.
pub(crate) fn rerun_command(fallback_argv0: &str) -> Command {
    let mut args = std::env::args_os();
    let argv0 = args.next().unwrap_or_else(|| OsString::from(fallback_argv0));
    let mut command = Command::new("/proc/self/exe");
    command.arg0(argv0).args(args);
    command
}

/// Whether this process consumed a spawn payload (it is, or was, a spawned child).
static CONSUMED: AtomicBool = AtomicBool::new(false);

/// Records that this run of the program became what it was started to be (a spawned child,
/// or the fork server), so that [`check_bootstrapped`] lets it start processes.
pub(crate) fn mark_bootstrapped() {
    CONSUMED.store(true, Ordering::Relaxed);
}

/// The child's side of `freeze_support()`: if this run of the program was started to be a
/// spawned child, become it, run the target, and exit. Otherwise return at once.
pub(crate) fn run_if_spawned() {
    let Some(value) = std::env::var_os(PAYLOAD_VAR) else {
        return;
    };
    CONSUMED.store(true, Ordering::Relaxed);
    std::env::remove_var(PAYLOAD_VAR);
    let bootstrap = read_payload(&value).unwrap_or_else(|why| {
        eprintln!("multiprocessing: cannot start the spawned child: {why}");
        crate::sys::unistd::exit_now(1)
    });
    bootstrap.run()
}

fn read_payload(value: &std::ffi::OsStr) -> std::result::Result<Bootstrap, String> {
    let fd: RawFd = value
        .to_str()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("{PAYLOAD_VAR}={value:?} is not a descriptor number"))?;
    let memfd = socket::adopt_inherited(fd).map_err(|e| format!("payload descriptor {fd}: {e}"))?;
    let file = File::from(memfd);
    let len = file
        .metadata()
        .map_err(|e| format!("payload descriptor {fd}: {e}"))?
        .len();
    let mut payload = vec![0; usize::try_from(len).map_err(|e| e.to_string())?];
    file.read_exact_at(&mut payload, 0)
        .map_err(|e| format!("reading the payload from descriptor {fd}: {e}"))?;
    codec::decode(&payload).map_err(|e| e.to_string())
}

/// Refuses to start a process from a spawned child whose `main` went on without calling
/// `freeze_support()`: that child would spawn again, and again (CPython's "An attempt has been
/// made to start a new process before the current process has finished its bootstrapping
/// phase").
pub(crate) fn check_bootstrapped(who: &str) -> Result<()> {
    let started_as = if std::env::var_os(PAYLOAD_VAR).is_some() {
        "by the spawn start method to run a child"
    } else if std::env::var_os(crate::forkserver::SERVER_VAR).is_some() {
        "to be the fork server of the forkserver start method"
    } else {
        return Ok(());
    };
    if !CONSUMED.load(Ordering::Relaxed) {
        return Err(Error::state(format!(
            "{who}: this process was started {started_as}, but main() went on without becoming \
             it: call multiprocessing::freeze_support() first in main, before starting any \
             process or pool"
        )));
    }
    Ok(())
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
        let f = target as fn((crate::Connection, u32)) as *const ();
        assert_eq!(code_pointer(code_offset(f)), f);
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

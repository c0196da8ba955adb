//! The manager's server: the loop that runs in the `SyncManager-N` process (CPython's
//! `managers.Server`).
//!
//! One thread accepts connections (through the [`gate`], which bounds what a client that has not
//! proved the key can hold); every connection gets its own thread, so a client blocked in
//! a queue `get` or a lock `acquire` never delays another client, and several clients' requests
//! are served in parallel (each object has its own mutex, held only for the operation itself).
//! The server never forks, so its threads are safe.

use std::collections::HashMap;
use std::io::Read;
use std::os::fd::AsFd;
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError, RwLock};
use std::time::Duration;

use indexmap::IndexMap;

use super::condition::{SharedBarrier, SharedCondition};
use super::data::{array_op, dict_op, list_op, namespace_op, value_op};
use super::gate::{self, Limits};
use super::protocol::{Bytes, Fault, FaultKind, Kind, Op, Owner, Reply, Request, Response, Spec};
use super::served::{self, ServedObject};
use super::waiting::{SharedEvent, SharedLock, SharedQueue, SharedSemaphore};
use crate::connection::Connection;
use crate::connection::listener::Listener;
use crate::deadline::Deadline;
use crate::error::Error;
use crate::sys::poll::poll_readable_many;
use crate::sys::signal;

/// How often a blocked `get` or `acquire` checks whether its client is still there.
const LIVENESS_TICK: Duration = Duration::from_millis(50);

/// Runs the server until its owner asks it to stop (a byte on `watch`, sent by
/// `Manager::shutdown`) or is gone (its end of `watch` closes, however it died): only the
/// owner stops a manager, as in CPython, and no client request can. Removes the files in
/// `remove` on the way out (a Unix socket, then its private directory), so nothing is left
/// behind even when the owner was killed.
pub(crate) fn serve(listener: Listener, limits: Limits, watch: UnixStream, remove: Vec<PathBuf>) {
    // Ctrl-C in a terminal goes to the whole process group, the server included. CPython's
    // server ignores SIGINT, and so do we: the owner decides whether the program ends, and
    // when it does, its end of `watch` closes and we leave through the cleanup below instead
    // of dying before it with the socket and its directory left behind.
    let _ = signal::set_ignored(libc::SIGINT, true);
    let state = Arc::new(State {
        objects: RwLock::new(HashMap::new()),
        names: Mutex::new(HashMap::new()),
        next_id: AtomicU64::new(1),
        next_session: AtomicU64::new(1),
    });
    let session_state = Arc::clone(&state);
    let serve_client = Arc::new(move |conn| Session::new(conn, Arc::clone(&session_state)).run());
    // The accept loop gets its thread when the first client knocks: a manager started and shut
    // down before anyone connects (the owner's own proxies connect as any client does) costs
    // no thread.
    if owner_first(&watch, &listener) {
        super::remove_paths(&remove);
        return;
    }
    std::thread::spawn(move || gate::accept_loop(&listener, limits, serve_client));
    // This thread watches the owner: a read returns when the owner sends its stop byte or when
    // its end closes. An error is the same: without the owner there is nobody to stop us.
    let mut watch = watch;
    let mut byte = [0u8; 1];
    while let Err(e) = watch.read(&mut byte) {
        if e.kind() != std::io::ErrorKind::Interrupted {
            break;
        }
    }
    // A directory is removed only once empty: never anything we did not create.
    super::remove_paths(&remove);
    // Returning ends the process (the runtime leaves through `_exit`), and with it every thread.
}

/// Waits until the owner speaks on `watch` (its stop byte, or its end closing: `true`) or a
/// client knocks on `listener` (`false`). An error polling is taken as the owner's: without a
/// way to watch it, the server stops.
fn owner_first(watch: &UnixStream, listener: &Listener) -> bool {
    loop {
        match poll_readable_many(&[watch.as_fd(), listener.as_fd()], None) {
            Ok(ready) if ready[0] => return true,
            Ok(ready) if ready[1] => return false,
            // Interrupted by a signal: look again.
            Ok(_) => {}
            Err(_) => return true,
        }
    }
}

/// Everything the server shares between its threads.
struct State {
    objects: RwLock<HashMap<u64, Arc<Object>>>,
    names: Mutex<HashMap<String, u64>>,
    next_id: AtomicU64,
    next_session: AtomicU64,
}

struct Object {
    kind: Kind,
    /// The Rust types the creator used, e.g. `(alloc::string::String, i32)`; checked when another
    /// client looks the object up by name.
    types: String,
    body: Body,
}

enum Body {
    Dict(Mutex<IndexMap<Bytes, Bytes>>),
    List(Mutex<Vec<Bytes>>),
    Namespace(Mutex<IndexMap<String, Bytes>>),
    Queue(SharedQueue),
    Value(Mutex<Bytes>),
    Lock(SharedLock),
    Event(SharedEvent),
    Semaphore(SharedSemaphore),
    Condition(SharedCondition),
    Barrier(SharedBarrier),
    Array(Mutex<Vec<Bytes>>),
    Served(Mutex<Box<dyn ServedObject>>),
}

/// The client a request comes from, for the objects that make it wait.
pub(super) struct Caller<'a> {
    conn: &'a Connection,
    /// The session (connection) asking: a manager `Lock`'s holder.
    pub(super) session: u64,
}

impl Caller<'_> {
    /// Waits on `cv` until notified, `deadline` passes (`Err(Timeout)`), or the client goes away
    /// (`Err(Other)`): a client that was killed while blocked must not take an item or a lock.
    /// Like any condition variable wait it may return early; callers check their condition in
    /// a loop.
    pub(super) fn wait<'a, T>(
        &self,
        cv: &Condvar,
        guard: MutexGuard<'a, T>,
        deadline: Deadline,
    ) -> Result<MutexGuard<'a, T>, FaultKind> {
        if deadline.passed() {
            return Err(FaultKind::Timeout);
        }
        let tick = deadline.left_at_most(LIVENESS_TICK);
        let (guard, _) = cv
            .wait_timeout(guard, tick)
            .unwrap_or_else(PoisonError::into_inner);
        // A client waiting for our answer sends nothing; a readable connection means it closed.
        if self.conn.poll(Some(Duration::ZERO)).unwrap_or(true) {
            // We may have been woken for an item or a release we will not take: pass the
            // wake-up on to a waiter whose client is still there.
            cv.notify_one();
            return Err(FaultKind::Other);
        }
        Ok(guard)
    }
}

/// One client connection and its thread.
struct Session {
    conn: Connection,
    id: u64,
    state: Arc<State>,
    /// Locks taken through this session and not released, with the thread that took a
    /// condition's lock: released for it if the connection closes (the client exited or was
    /// killed), so the others are not blocked for ever.
    held: Vec<(Arc<Object>, Option<Owner>)>,
    /// The object of this session's last call and its id: a client calling one object again
    /// and again finds it here, without the objects map and its lock (objects are never
    /// removed, so a cached one stays the object of its id).
    last: Option<(u64, Arc<Object>)>,
}

impl Session {
    fn new(conn: Connection, state: Arc<State>) -> Session {
        let id = state.next_session.fetch_add(1, Ordering::Relaxed);
        Session {
            // Requests and replies hold no descriptors: read with a plain `recv`.
            conn: conn.without_descriptors(),
            id,
            state,
            held: Vec::new(),
            last: None,
        }
    }

    fn run(mut self) {
        // A closed connection, or one whose framing broke (a client killed mid-request), ends
        // the session; nothing else in the server is touched.
        loop {
            // Decoded straight from the connection's buffer: no copy of the frame first.
            let (response, undo) = match self.conn.recv_plain::<Request>() {
                Ok(request) => self.handle(request),
                // The frame was consumed whole: the next request starts cleanly.
                Err(Error::Codec(e)) => (Err(Fault::other(format!("malformed request: {e}"))), None),
                // A message over the size limit was skipped whole: the framing is intact.
                Err(Error::Os { source, .. }) if source.kind() == std::io::ErrorKind::InvalidData => {
                    (Err(Fault::other(format!("malformed request: {source}"))), None)
                }
                Err(_) => break,
            };
            if self.conn.send_plain(&response).is_err() {
                // The client left before the answer: an item taken for it goes back to the front.
                if let (Some(Undo::Requeue(object)), Ok(Reply::Item(item))) = (undo, response) {
                    if let Body::Queue(q) = &object.body {
                        q.requeue(item);
                    }
                }
                break;
            }
        }
        self.release_held();
    }

    /// Releases the locks a departed client still held, so the others are not blocked forever
    /// (CPython's manager leaves them locked).
    fn release_held(&mut self) {
        for (object, owner) in self.held.drain(..) {
            match (&object.body, owner) {
                (Body::Lock(l), _) => l.release_for(self.id),
                (Body::Condition(c), Some(owner)) => c.release_for(owner),
                _ => {}
            }
        }
    }

    fn handle(&mut self, request: Request) -> (Response, Option<Undo>) {
        match request {
            Request::Create { spec, types } => (self.create(spec, types).map(Reply::Id), None),
            Request::Call { id, op } => {
                let object = match self.last.take() {
                    Some((last, object)) if last == id => object,
                    _ => match self.object(id) {
                        Ok(object) => object,
                        Err(fault) => return (Err(fault), None),
                    },
                };
                let answer = self.call(&object, op);
                self.last = Some((id, object));
                answer
            }
            Request::Register { name, id } => {
                let result = self.object(id).map(|_| {
                    lock(&self.state.names).insert(name, id);
                    Reply::Done
                });
                (result, None)
            }
            Request::Lookup { name, kind, types } => (self.lookup(&name, kind, &types), None),
        }
    }

    fn create(&self, spec: Spec, types: String) -> Result<u64, Fault> {
        let kind = spec.kind();
        let body = match spec {
            Spec::Dict => Body::Dict(Mutex::default()),
            Spec::List => Body::List(Mutex::default()),
            Spec::Namespace => Body::Namespace(Mutex::default()),
            Spec::Queue { maxsize } => Body::Queue(SharedQueue::new(maxsize)),
            Spec::Value(initial) => Body::Value(Mutex::new(initial)),
            Spec::Lock => Body::Lock(SharedLock::new()),
            Spec::Event => Body::Event(SharedEvent::new()),
            Spec::Semaphore { value, bounded } => Body::Semaphore(SharedSemaphore::new(value, bounded)),
            Spec::Condition => Body::Condition(SharedCondition::new()),
            Spec::Barrier { parties, timeout } => Body::Barrier(SharedBarrier::new(parties, timeout)),
            Spec::Array(items) => Body::Array(Mutex::new(items)),
            Spec::Served(args) => Body::Served(Mutex::new(served::create(&types, &args)?)),
        };
        let id = self.state.next_id.fetch_add(1, Ordering::Relaxed);
        let object = Arc::new(Object { kind, types, body });
        self.state
            .objects
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(id, object);
        Ok(id)
    }

    fn object(&self, id: u64) -> Result<Arc<Object>, Fault> {
        let objects = self.state.objects.read().unwrap_or_else(PoisonError::into_inner);
        objects
            .get(&id)
            .cloned()
            .ok_or_else(|| Fault::other(format!("no shared object with id {id}")))
    }

    fn lookup(&self, name: &str, kind: Kind, types: &str) -> Response {
        let id = lock(&self.state.names)
            .get(name)
            .copied()
            .ok_or_else(|| Fault::other(format!("no shared object is registered as {name:?}")))?;
        let object = self.object(id)?;
        if object.kind != kind || object.types != types {
            return Err(Fault::other(format!(
                "{name:?} is a {:?} of {}, not a {kind:?} of {types}",
                object.kind, object.types
            )));
        }
        Ok(Reply::Id(id))
    }

    fn call(&mut self, object: &Arc<Object>, op: Op) -> (Response, Option<Undo>) {
        let caller = Caller {
            conn: &self.conn,
            session: self.id,
        };
        // The thread that takes a condition's lock, noted below if it does.
        let owner = match &op {
            Op::CondAcquire { owner, .. } | Op::CondWait { owner, .. } => Some(*owner),
            _ => None,
        };
        let result = match &object.body {
            Body::Dict(d) => dict_op(&mut lock(d), op),
            Body::List(l) => list_op(&mut lock(l), op),
            Body::Array(a) => array_op(&mut lock(a), op),
            Body::Namespace(ns) => namespace_op(&mut lock(ns), op),
            Body::Value(v) => value_op(&mut lock(v), op),
            Body::Queue(q) => {
                return match op {
                    Op::QueueGet { block, timeout } => match q.get(&caller, block, timeout) {
                        Ok(item) => (Ok(Reply::Item(item)), Some(Undo::Requeue(Arc::clone(object)))),
                        Err(fault) => (Err(fault), None),
                    },
                    op => (q.op(&caller, op), None),
                };
            }
            Body::Lock(l) => l.op(&caller, op),
            Body::Event(e) => e.op(&caller, op),
            Body::Semaphore(s) => s.op(&caller, op),
            Body::Condition(c) => c.op(&caller, op),
            Body::Barrier(b) => b.op(&caller, op),
            Body::Served(o) => served::call(&mut **lock(o), op),
        };
        let took_a_lock = match &object.body {
            Body::Lock(_) => matches!(result, Ok(Reply::Bool(true))),
            // A condition's `wait` takes the lock back too.
            Body::Condition(_) => owner.is_some() && matches!(result, Ok(Reply::Bool(_))),
            _ => false,
        };
        if took_a_lock
            && !self
                .held
                .iter()
                .any(|(o, who)| Arc::ptr_eq(o, object) && *who == owner)
        {
            self.held.push((Arc::clone(object), owner));
        }
        (result, None)
    }
}

/// What to do after the reply is sent, or when it cannot be.
enum Undo {
    /// Put the item of the reply back at the front of this queue if the client did not get it.
    Requeue(Arc<Object>),
}

/// The fault for a method `kind` objects do not have (a client of another version, or a proxy
/// of one kind used on an object of another).
pub(super) fn wrong_method(kind: &str, op: &Op) -> Fault {
    let name = format!("{op:?}");
    let name = name.split(['(', ' ', '{']).next().unwrap_or("?");
    Fault::other(format!("a {kind} has no method {name}"))
}

/// Locks a server mutex; a panic on another session's thread leaves data we can still serve.
pub(super) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

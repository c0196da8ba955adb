//! The manager's server: the loop that runs in the `SyncManager-N` process (CPython's
//! `managers.Server`).
//!
//! One thread accepts connections; every connection gets its own thread, so a client blocked in
//! a queue `get` or a lock `acquire` never delays another client, and several clients' requests
//! are served in parallel (each object has its own mutex, held only for the operation itself).
//! The server never forks, so its threads are safe.

use std::collections::{HashMap, VecDeque};
use std::io::Read;
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Condvar, Mutex, MutexGuard, PoisonError, RwLock};
use std::time::{Duration, Instant};

use indexmap::IndexMap;

use super::protocol::{Bytes, Fault, FaultKind, Kind, Op, Reply, Request, Response, Spec};
use crate::connection::Connection;
use crate::error::Error;
use crate::listener::{authenticate_server, Listener};

/// How often a blocked `get` or `acquire` checks whether its client is still there.
const LIVENESS_TICK: Duration = Duration::from_millis(50);

/// Runs the server until a client asks it to shut down or, when `watch` is given, until the
/// process that started it is gone (its end of `watch` closes). Removes the files in `remove`
/// on the way out (a Unix socket, then its private directory), so nothing is left behind even
/// when the owner was killed.
/// out.
pub(crate) fn serve(listener: Listener, watch: Option<UnixStream>, remove: Vec<PathBuf>) {
    let (stop_tx, stop_rx) = mpsc::channel::<()>();
    let state = Arc::new(State {
        objects: RwLock::new(HashMap::new()),
        names: Mutex::new(HashMap::new()),
        next_id: AtomicU64::new(1),
        next_session: AtomicU64::new(1),
        stop: Mutex::new(stop_tx.clone()),
    });
    if let Some(mut watch) = watch {
        let stop = stop_tx.clone();
        std::thread::spawn(move || {
            // The owner never writes; a read returns only when its end closes (or on an error,
            // which we treat the same: without the owner there is nobody to shut us down).
            let mut byte = [0u8; 1];
            while let Ok(1..) = watch.read(&mut byte) {}
            let _ = stop.send(());
        });
    }
    let acceptor_state = Arc::clone(&state);
    std::thread::spawn(move || accept_loop(&listener, &acceptor_state));
    // Either a Shutdown request or the owner's departure; a closed channel means the same.
    let _ = stop_rx.recv();
    for path in remove {
        // A directory is removed only once empty: never anything we did not create.
        let _ = std::fs::remove_file(&path).or_else(|_| std::fs::remove_dir(&path));
    }
    // Returning ends the process (the runtime leaves through `_exit`), and with it every thread.
}

fn accept_loop(listener: &Listener, state: &Arc<State>) {
    loop {
        match listener.accept_unauthenticated() {
            Ok(conn) => {
                let state = Arc::clone(state);
                let authkey = listener.authkey().map(<[u8]>::to_vec);
                let spawned = std::thread::Builder::new()
                    .name("manager-session".into())
                    .spawn(move || {
                        // A client with the wrong key is refused here, on its own thread: the accept
                        // loop and every other client go on.
                        if let Some(key) = authkey {
                            // Until the client proves it holds the key, it may not make us allocate
                            // more than a handshake message.
                            let limit = conn.max_message_size();
                            conn.set_max_message_size(256);
                            if authenticate_server(&conn, &key).is_err() {
                                return;
                            }
                            conn.set_max_message_size(limit);
                        }
                        Session::new(conn, state).run();
                    });
                // Out of threads: the connection is dropped (the client sees it closed), and we
                // go on serving the clients we have.
                drop(spawned);
            }
            // Out of descriptors, or a connection reset before we took it: wait a little and
            // keep serving.
            Err(_) => std::thread::sleep(Duration::from_millis(10)),
        }
    }
}

/// Everything the server shares between its threads.
struct State {
    objects: RwLock<HashMap<u64, Arc<Object>>>,
    names: Mutex<HashMap<String, u64>>,
    next_id: AtomicU64,
    next_session: AtomicU64,
    stop: Mutex<mpsc::Sender<()>>,
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
}

struct SharedQueue {
    items: Mutex<VecDeque<Bytes>>,
    maxsize: usize,
    not_empty: Condvar,
    not_full: Condvar,
}

struct SharedLock {
    /// The session holding the lock, if any.
    holder: Mutex<Option<u64>>,
    released: Condvar,
}

/// One client connection and its thread.
struct Session {
    conn: Connection,
    id: u64,
    state: Arc<State>,
    /// Locks this session acquired and has not released: released for it if it disconnects.
    held: Vec<Arc<Object>>,
}

impl Session {
    fn new(conn: Connection, state: Arc<State>) -> Session {
        let id = state.next_session.fetch_add(1, Ordering::Relaxed);
        Session {
            conn,
            id,
            state,
            held: Vec::new(),
        }
    }

    fn run(mut self) {
        // A closed connection, or one whose framing broke (a client killed mid-request), ends
        // the session; nothing else in the server is touched.
        loop {
            let (response, undo) = match self.conn.recv_bytes() {
                Ok(bytes) => match crate::codec::decode::<Request>(&bytes) {
                    Ok(request) => self.handle(request),
                    Err(e) => (Err(Fault::other(format!("malformed request: {e}"))), None),
                },
                // A message over the size limit was skipped whole: the framing is intact.
                Err(Error::Os { source, .. }) if source.kind() == std::io::ErrorKind::InvalidData => {
                    (Err(Fault::other(format!("malformed request: {source}"))), None)
                }
                Err(_) => break,
            };
            let stop = matches!(response, Ok(Reply::Done)) && matches!(undo, Some(Undo::Stop));
            if self.conn.send(&response).is_err() {
                // The client left before the answer: an item taken for it goes back to the front.
                if let (Some(Undo::Requeue(object)), Ok(Reply::Item(item))) = (undo, response) {
                    if let Body::Queue(q) = &object.body {
                        lock(&q.items).push_front(item);
                        q.not_empty.notify_one();
                    }
                }
                break;
            }
            if stop {
                let _ = lock(&self.state.stop).send(());
            }
        }
        self.release_held();
    }

    /// Releases the locks a departed client still held, so the others are not blocked forever
    /// (CPython's manager leaves them locked).
    fn release_held(&mut self) {
        for object in self.held.drain(..) {
            if let Body::Lock(l) = &object.body {
                let mut holder = lock(&l.holder);
                if *holder == Some(self.id) {
                    *holder = None;
                    l.released.notify_one();
                }
            }
        }
    }

    fn handle(&mut self, request: Request) -> (Response, Option<Undo>) {
        match request {
            Request::Create { spec, types } => (Ok(Reply::Id(self.create(spec, types))), None),
            Request::Call { id, op } => match self.object(id) {
                Ok(object) => self.call(&object, op),
                Err(fault) => (Err(fault), None),
            },
            Request::Register { name, id } => {
                let result = self.object(id).map(|_| {
                    lock(&self.state.names).insert(name, id);
                    Reply::Done
                });
                (result, None)
            }
            Request::Lookup { name, kind, types } => (self.lookup(&name, kind, &types), None),
            Request::Shutdown => (Ok(Reply::Done), Some(Undo::Stop)),
        }
    }

    fn create(&self, spec: Spec, types: String) -> u64 {
        let kind = spec.kind();
        let body = match spec {
            Spec::Dict => Body::Dict(Mutex::default()),
            Spec::List => Body::List(Mutex::default()),
            Spec::Namespace => Body::Namespace(Mutex::default()),
            Spec::Queue { maxsize } => Body::Queue(SharedQueue {
                items: Mutex::default(),
                maxsize: usize::try_from(maxsize).unwrap_or(usize::MAX),
                not_empty: Condvar::new(),
                not_full: Condvar::new(),
            }),
            Spec::Value(initial) => Body::Value(Mutex::new(initial)),
            Spec::Lock => Body::Lock(SharedLock {
                holder: Mutex::new(None),
                released: Condvar::new(),
            }),
        };
        let id = self.state.next_id.fetch_add(1, Ordering::Relaxed);
        let object = Arc::new(Object { kind, types, body });
        self.state
            .objects
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(id, object);
        id
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
        let result = match &object.body {
            Body::Dict(d) => dict_op(&mut lock(d), op),
            Body::List(l) => list_op(&mut lock(l), op),
            Body::Namespace(ns) => namespace_op(&mut lock(ns), op),
            Body::Value(v) => value_op(&mut lock(v), op),
            Body::Queue(q) => {
                return match op {
                    Op::QueueGet { block, timeout } => match self.queue_get(q, block, timeout) {
                        Ok(item) => (Ok(Reply::Item(item)), Some(Undo::Requeue(Arc::clone(object)))),
                        Err(fault) => (Err(fault), None),
                    },
                    op => (self.queue_op(q, op), None),
                }
            }
            Body::Lock(l) => {
                let result = self.lock_op(l, op);
                if matches!(result, Ok(Reply::Bool(true)))
                    && !self.held.iter().any(|o| Arc::ptr_eq(o, object))
                {
                    self.held.push(Arc::clone(object));
                }
                result
            }
        };
        (result, None)
    }

    fn queue_op(&self, q: &SharedQueue, op: Op) -> Response {
        match op {
            Op::Len => Ok(Reply::Len(lock(&q.items).len() as u64)),
            Op::QueuePut { item, block, timeout } => {
                let mut items = lock(&q.items);
                if q.maxsize > 0 {
                    let deadline = timeout.map(|t| Instant::now() + t);
                    while items.len() >= q.maxsize {
                        if !block {
                            return Err(Fault {
                                kind: FaultKind::Full,
                                message: "queue is full".into(),
                            });
                        }
                        items = self.wait(&q.not_full, items, deadline).map_err(|kind| Fault {
                            kind: if kind == FaultKind::Timeout {
                                FaultKind::Full
                            } else {
                                kind
                            },
                            message: "queue is full".into(),
                        })?;
                    }
                }
                items.push_back(item);
                q.not_empty.notify_one();
                Ok(Reply::Done)
            }
            Op::Clear => {
                lock(&q.items).clear();
                q.not_full.notify_all();
                Ok(Reply::Done)
            }
            op => Err(wrong_method("Queue", &op)),
        }
    }

    fn queue_get(&self, q: &SharedQueue, block: bool, timeout: Option<Duration>) -> Result<Bytes, Fault> {
        let deadline = timeout.map(|t| Instant::now() + t);
        let mut items = lock(&q.items);
        loop {
            if let Some(item) = items.pop_front() {
                q.not_full.notify_one();
                return Ok(item);
            }
            if !block {
                return Err(Fault {
                    kind: FaultKind::Empty,
                    message: "queue is empty".into(),
                });
            }
            items = self.wait(&q.not_empty, items, deadline).map_err(|kind| Fault {
                // Python's `get(timeout=...)` raises `queue.Empty` when the time runs out.
                kind: if kind == FaultKind::Timeout {
                    FaultKind::Empty
                } else {
                    kind
                },
                message: "queue is empty".into(),
            })?;
        }
    }

    fn lock_op(&self, l: &SharedLock, op: Op) -> Response {
        match op {
            Op::Acquire { block, timeout } => {
                let deadline = timeout.map(|t| Instant::now() + t);
                let mut holder = lock(&l.holder);
                while holder.is_some() {
                    if !block {
                        return Ok(Reply::Bool(false));
                    }
                    holder = match self.wait(&l.released, holder, deadline) {
                        Ok(h) => h,
                        Err(FaultKind::Timeout) => return Ok(Reply::Bool(false)),
                        Err(kind) => {
                            return Err(Fault {
                                kind,
                                message: "acquire abandoned".into(),
                            })
                        }
                    };
                }
                *holder = Some(self.id);
                Ok(Reply::Bool(true))
            }
            Op::Release => {
                let mut holder = lock(&l.holder);
                if holder.take().is_none() {
                    return Err(Fault::other("release unlocked lock"));
                }
                l.released.notify_one();
                Ok(Reply::Done)
            }
            Op::Locked => Ok(Reply::Bool(lock(&l.holder).is_some())),
            op => Err(wrong_method("Lock", &op)),
        }
    }

    /// Waits on `cv` until notified, `deadline` passes (`Err(Timeout)`), or the client goes away
    /// (`Err(Other)`): a client that was killed while blocked must not take an item or a lock.
    fn wait<'a, T>(
        &self,
        cv: &Condvar,
        guard: MutexGuard<'a, T>,
        deadline: Option<Instant>,
    ) -> Result<MutexGuard<'a, T>, FaultKind> {
        let tick = match deadline {
            Some(d) => {
                let left = d.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return Err(FaultKind::Timeout);
                }
                left.min(LIVENESS_TICK)
            }
            None => LIVENESS_TICK,
        };
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

/// What to do after the reply is sent, or when it cannot be.
enum Undo {
    /// Put the item of the reply back at the front of this queue if the client did not get it.
    Requeue(Arc<Object>),
    /// Stop the server once the reply is out.
    Stop,
}

fn dict_op(d: &mut IndexMap<Bytes, Bytes>, op: Op) -> Response {
    Ok(match op {
        Op::Len => Reply::Len(d.len() as u64),
        Op::Clear => {
            d.clear();
            Reply::Done
        }
        Op::Copy => Reply::Pairs(d.iter().map(|(k, v)| (k.clone(), v.clone())).collect()),
        Op::DictGet(k) => Reply::Maybe(d.get(&k).cloned()),
        Op::DictSet(k, v) => {
            // Python keeps a replaced key in its first place; IndexMap's insert does the same.
            d.insert(k, v);
            Reply::Done
        }
        // Python's `del`/`pop` keep the order of the remaining keys: shift, do not swap.
        Op::DictRemove(k) => Reply::Maybe(d.shift_remove(&k)),
        Op::DictContains(k) => Reply::Bool(d.contains_key(&k)),
        Op::DictKeys => Reply::Items(d.keys().cloned().collect()),
        Op::DictValues => Reply::Items(d.values().cloned().collect()),
        Op::DictUpdate(pairs) => {
            d.extend(pairs);
            Reply::Done
        }
        Op::DictSetDefault(k, v) => Reply::Item(d.entry(k).or_insert(v).clone()),
        op => return Err(wrong_method("dict", &op)),
    })
}

fn list_op(l: &mut Vec<Bytes>, op: Op) -> Response {
    Ok(match op {
        Op::Len => Reply::Len(l.len() as u64),
        Op::Clear => {
            l.clear();
            Reply::Done
        }
        Op::Copy => Reply::Items(l.clone()),
        Op::ListGet(i) => Reply::Item(l[index(l.len(), i)?].clone()),
        Op::ListSet(i, v) => {
            let i = index(l.len(), i)?;
            l[i] = v;
            Reply::Done
        }
        Op::ListAppend(v) => {
            l.push(v);
            Reply::Done
        }
        Op::ListExtend(vs) => {
            l.extend(vs);
            Reply::Done
        }
        Op::ListInsert(i, v) => {
            // Python's insert clamps the index instead of failing.
            let len = i64::try_from(l.len()).unwrap_or(i64::MAX);
            let at = if i < 0 { (i + len).max(0) } else { i.min(len) };
            l.insert(usize::try_from(at).unwrap_or(0), v);
            Reply::Done
        }
        Op::ListPop(i) => {
            if l.is_empty() {
                return Err(Fault::other("pop from empty list"));
            }
            let i = index(l.len(), i.unwrap_or(-1))?;
            Reply::Item(l.remove(i))
        }
        Op::ListRemove(v) => match l.iter().position(|x| *x == v) {
            Some(i) => {
                l.remove(i);
                Reply::Done
            }
            None => return Err(Fault::other("list.remove(x): x not in list")),
        },
        Op::ListContains(v) => Reply::Bool(l.contains(&v)),
        Op::ListIndex(v) => match l.iter().position(|x| *x == v) {
            Some(i) => Reply::Len(i as u64),
            None => return Err(Fault::other("list.index(x): x is not in list")),
        },
        op => return Err(wrong_method("list", &op)),
    })
}

/// Python's index rules: negative counts from the end; out of range is an `IndexError`.
fn index(len: usize, i: i64) -> Result<usize, Fault> {
    let len_i = i64::try_from(len).unwrap_or(i64::MAX);
    let at = if i < 0 { i + len_i } else { i };
    if (0..len_i).contains(&at) {
        Ok(usize::try_from(at).unwrap_or(0))
    } else {
        Err(Fault::other(format!(
            "list index {i} out of range (length {len})"
        )))
    }
}

fn namespace_op(ns: &mut IndexMap<String, Bytes>, op: Op) -> Response {
    Ok(match op {
        Op::Copy => Reply::Names(ns.iter().map(|(k, v)| (k.clone(), v.clone())).collect()),
        Op::NsGet(name) => match ns.get(&name) {
            Some(v) => Reply::Item(v.clone()),
            None => {
                return Err(Fault::other(format!(
                    "'Namespace' object has no attribute {name:?}"
                )))
            }
        },
        Op::NsSet(name, v) => {
            ns.insert(name, v);
            Reply::Done
        }
        Op::NsDel(name) => match ns.shift_remove(&name) {
            Some(_) => Reply::Done,
            None => {
                return Err(Fault::other(format!(
                    "'Namespace' object has no attribute {name:?}"
                )))
            }
        },
        op => return Err(wrong_method("Namespace", &op)),
    })
}

fn value_op(v: &mut Bytes, op: Op) -> Response {
    Ok(match op {
        Op::ValueGet => Reply::Item(v.clone()),
        Op::ValueSet(new) => {
            *v = new;
            Reply::Done
        }
        op => return Err(wrong_method("Value", &op)),
    })
}

fn wrong_method(kind: &str, op: &Op) -> Fault {
    let name = format!("{op:?}");
    let name = name.split(['(', ' ', '{']).next().unwrap_or("?");
    Fault::other(format!("a {kind} has no method {name}"))
}

/// Locks a server mutex; a panic on another session's thread leaves data we can still serve.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

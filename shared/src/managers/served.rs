//! Objects of a user's own type, served by a manager: CPython's `BaseManager.register(typeid,
//! callable)`.
//!
//! The server is this same program (forked, or run again by `spawn` / `forkserver`), so it can
//! hold a value of any type the program defines. What it needs is the code: the function that
//! makes a `T` from its arguments, and the one that answers a call. [`ManagerBuilder::register`]
//! records a `fn()` per type that installs both in the server's table; under `fork` the server
//! inherits the record, under `spawn` and `forkserver` each `fn()` crosses as a code offset in
//! the server's start arguments (the one channel trusted with code, see `reduction`).
//!
//! [`ManagerBuilder::register`]: super::ManagerBuilder::register

use std::fmt;
use std::marker::PhantomData;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Mutex;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::client::{ObjectRef, enc};
use super::protocol::{Bytes, Fault, Kind, Op, Reply, Response};
use super::server::{lock, wrong_method};
use crate::error::Result;

/// A type whose objects a [`Manager`](crate::Manager) can serve, so that every process calls
/// one object in the server (CPython's `BaseManager.register(typeid, callable)`). The server
/// makes it from [`Args`](Managed::Args) and answers each [`Call`](Managed::Call) with a
/// [`Reply`](Managed::Reply); its methods, which CPython's proxy exposes by name, are here the
/// variants of `Call`.
///
/// Register the type with [`ManagerBuilder::register`](crate::ManagerBuilder::register), make
/// objects with [`Manager::create`](crate::Manager::create), call them through the
/// [`ServedProxy`] it returns.
///
/// # Examples
///
/// ```
/// use multiprocessing::{Managed, Manager, Process, ServedProxy};
/// use serde::{Deserialize, Serialize};
///
/// /// A counter that every process shares.
/// struct Counter {
///     count: i64,
/// }
///
/// #[derive(Serialize, Deserialize)]
/// enum CounterCall {
///     Add(i64),
///     Get,
/// }
///
/// impl Managed for Counter {
///     type Args = i64;
///     type Call = CounterCall;
///     type Reply = i64;
///
///     fn new(start: i64) -> Counter {
///         Counter { count: start }
///     }
///
///     fn call(&mut self, call: CounterCall) -> i64 {
///         match call {
///             CounterCall::Add(n) => self.count += n,
///             CounterCall::Get => {}
///         }
///         self.count
///     }
/// }
///
/// fn worker(counter: ServedProxy<Counter>) {
///     counter.call(CounterCall::Add(5)).unwrap();
/// }
///
/// let manager = Manager::builder().register::<Counter>().start()?;
/// let counter = manager.create::<Counter>(10)?;
/// let mut p = Process::new(worker, counter.clone());
/// p.start()?;
/// p.join()?;
/// assert_eq!(counter.call(CounterCall::Get)?, 15);
/// # Ok::<(), multiprocessing::Error>(())
/// ```
///
/// # Panics
/// A panic in [`new`](Managed::new) or [`call`](Managed::call) is caught in the server and
/// returned to the caller as [`Error::Remote`](crate::Error::Remote); the object stays usable.
pub trait Managed: Send + 'static {
    /// What the object is made from (CPython's arguments to `manager.Foo(...)`).
    type Args: Serialize + DeserializeOwned;
    /// A method call: typically an enum with a variant per method.
    type Call: Serialize + DeserializeOwned;
    /// A method's answer.
    type Reply: Serialize + DeserializeOwned;

    /// Makes the object, in the server.
    fn new(args: Self::Args) -> Self;

    /// Answers one call, in the server. Calls on one object run one at a time.
    fn call(&mut self, call: Self::Call) -> Self::Reply;
}

/// A served object, its type erased: what the server holds.
pub(super) trait ServedObject: Send {
    fn call(&mut self, call: &[u8]) -> Result<Bytes, Fault>;
}

impl<T: Managed> ServedObject for T {
    fn call(&mut self, call: &[u8]) -> Result<Bytes, Fault> {
        let call: T::Call = crate::codec::decode(call)
            .map_err(|e| Fault::other(format!("malformed call for {}: {e}", type_name::<T>())))?;
        let reply = catch_unwind(AssertUnwindSafe(|| Managed::call(self, call))).map_err(|panic| {
            Fault::other(format!(
                "{}::call panicked: {}",
                type_name::<T>(),
                panic_message(&*panic)
            ))
        })?;
        crate::codec::encode(&reply)
            .map_err(|e| Fault::other(format!("the reply of {} does not encode: {e}", type_name::<T>())))
    }
}

fn type_name<T>() -> &'static str {
    std::any::type_name::<T>()
}

fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "(a panic without a message)".into())
}

/// Makes a `T` from its encoded arguments.
type Constructor = fn(&[u8]) -> Result<Box<dyn ServedObject>, Fault>;

/// The types this process (a manager's server) can make, by type name.
static TYPES: Mutex<Vec<(&'static str, Constructor)>> = Mutex::new(Vec::new());

fn construct<T: Managed>(args: &[u8]) -> Result<Box<dyn ServedObject>, Fault> {
    let args: T::Args = crate::codec::decode(args)
        .map_err(|e| Fault::other(format!("malformed arguments for {}: {e}", type_name::<T>())))?;
    let object = catch_unwind(AssertUnwindSafe(|| T::new(args))).map_err(|panic| {
        Fault::other(format!(
            "{}::new panicked: {}",
            type_name::<T>(),
            panic_message(&*panic)
        ))
    })?;
    Ok(Box::new(object))
}

/// Adds `T` to this process's table; what a [`Registration`] runs in the server.
fn install<T: Managed>() {
    lock(&TYPES).push((type_name::<T>(), construct::<T>));
}

/// Makes an object of the type named `types` from `args`.
pub(super) fn create(types: &str, args: &[u8]) -> Result<Box<dyn ServedObject>, Fault> {
    let constructor = lock(&TYPES)
        .iter()
        .find(|(name, _)| *name == types)
        .map(|(_, c)| *c)
        .ok_or_else(|| {
            Fault::other(format!(
                "{types} is not registered with this manager: register it with \
                 Manager::builder().register::<{types}>() before the manager starts"
            ))
        })?;
    constructor(args)
}

/// Answers a call on a served object.
pub(super) fn call(object: &mut dyn ServedObject, op: Op) -> Response {
    match op {
        Op::ServedCall(call) => object.call(&call).map(Reply::Item),
        op => Err(wrong_method("served object", &op)),
    }
}

/// A type registered with a manager: the `fn()` that installs it in the server's table.
#[derive(Clone, Copy)]
pub(crate) struct Registration {
    install: fn(),
    name: &'static str,
}

impl Registration {
    pub(crate) fn of<T: Managed>() -> Registration {
        Registration {
            install: install::<T>,
            name: type_name::<T>(),
        }
    }

    /// Installs the type in this process (the server).
    pub(crate) fn install(&self) {
        (self.install)();
    }
}

impl fmt::Debug for Registration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name)
    }
}

impl Serialize for Registration {
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        // Only as the start arguments of the server (a spawned or forkserver child) does the
        // code offset mean anything; anywhere else, the type cannot cross.
        match crate::reduction::fn_to_child(self.install) {
            Some(offset) => offset.serialize(serializer),
            None => Err(crate::codec::refuse(format!(
                "the registration of {} can only cross to the manager's server as it starts",
                self.name
            ))),
        }
    }
}

impl<'de> Deserialize<'de> for Registration {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        let offset = u64::deserialize(deserializer)?;
        let install = crate::reduction::fn_from_parent(offset).ok_or_else(|| {
            serde::de::Error::custom("a registered type's code is accepted only from the parent")
        })?;
        Ok(Registration {
            install,
            name: "(a type registered by the parent)",
        })
    }
}

/// A proxy to an object of a [`Managed`] type in a manager's server, made by
/// [`Manager::create`](crate::Manager::create). It can be given to child processes and
/// [`register`](crate::Manager::register)ed by name, as every proxy.
///
/// # Examples
/// See [`Managed`].
#[derive(Serialize, Deserialize)]
#[serde(bound = "")]
pub struct ServedProxy<T> {
    object: ObjectRef,
    #[serde(skip)]
    types: PhantomData<fn() -> T>,
}

impl<T> Clone for ServedProxy<T> {
    fn clone(&self) -> Self {
        ServedProxy {
            object: self.object.clone(),
            types: PhantomData,
        }
    }
}

impl<T> fmt::Debug for ServedProxy<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "<ServedProxy object, typeid '{}' at {} of {}>",
            type_name::<T>(),
            self.object.id,
            self.object.endpoint.name()
        )
    }
}

impl<T: Managed> ServedProxy<T> {
    /// Calls the object in the server and returns its reply (CPython's `proxy.method(...)`).
    ///
    /// # Errors
    /// [`Error::Remote`](crate::Error::Remote) when the call panicked in the server;
    /// [`Error::Codec`](crate::Error::Codec) when the call or the reply does not encode;
    /// [`Error::Eof`](crate::Error::Eof) or [`Error::Os`](crate::Error::Os) when the server is
    /// gone.
    pub fn call(&self, call: T::Call) -> Result<T::Reply> {
        let reply = self.object.call(Op::ServedCall(enc(&call)?))?;
        self.object.expect_item(reply)
    }
}

impl<T: Managed> super::Proxy for ServedProxy<T> {}

impl<T: Managed> super::sealed::ProxyImpl for ServedProxy<T> {
    const KIND: Kind = Kind::Served;
    fn types() -> String {
        type_name::<T>().to_string()
    }
    fn from_object(object: ObjectRef) -> Self {
        ServedProxy {
            object,
            types: PhantomData,
        }
    }
    fn object(&self) -> &ObjectRef {
        &self.object
    }
}

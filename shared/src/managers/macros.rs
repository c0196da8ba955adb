//! The macro that declares a proxy type and gives it its `Clone`, `Debug` and sealed proxy
//! impls.

/// Declares a proxy type: a reference to its object in the server (`object`), and a phantom of
/// the Rust types it carries (`types`), so that the same object cannot be read as another type
/// by mistake. Implements `Clone`, `Debug` (Python's `<ListProxy object, typeid 'list' at ...>`)
/// and the sealed proxy trait: `kind` is its [`Kind`](super::protocol::Kind) on the wire,
/// `typeid` the name it shows, `types` the types it is checked against when looked up by name.
///
/// ```text
/// proxy! {
///     /// A `threading.Event` in the manager's server.
///     pub struct EventProxy;
///     kind: Event, typeid: "Event", types: ()
/// }
/// ```
macro_rules! proxy {
    (
        $(#[$meta:meta])*
        pub struct $name:ident $(<$($t:ident),+>)?;
        kind: $kind:ident, typeid: $typeid:literal, types: $types:ty
    ) => {
        $(#[$meta])*
        #[derive(serde::Serialize, serde::Deserialize)]
        #[serde(bound = "")]
        pub struct $name$(<$($t),+>)? {
            object: super::client::ObjectRef,
            #[serde(skip)]
            types: std::marker::PhantomData<fn() -> $types>,
        }
        impl$(<$($t),+>)? Clone for $name$(<$($t),+>)? {
            fn clone(&self) -> Self {
                $name { object: self.object.clone(), types: std::marker::PhantomData }
            }
        }
        impl$(<$($t),+>)? std::fmt::Debug for $name$(<$($t),+>)? {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(
                    f,
                    concat!("<", stringify!($name), " object, typeid '", $typeid, "' at {} of {}>"),
                    self.object.id,
                    self.object.endpoint.name()
                )
            }
        }
        impl$(<$($t: serde::Serialize + serde::de::DeserializeOwned),+>)? super::Proxy
            for $name$(<$($t),+>)?
        {
        }
        impl$(<$($t: serde::Serialize + serde::de::DeserializeOwned),+>)? super::sealed::ProxyImpl
            for $name$(<$($t),+>)?
        {
            const KIND: super::protocol::Kind = super::protocol::Kind::$kind;
            fn types() -> String {
                std::any::type_name::<$types>().to_string()
            }
            fn from_object(object: super::client::ObjectRef) -> Self {
                $name { object, types: std::marker::PhantomData }
            }
            fn object(&self) -> &super::client::ObjectRef {
                &self.object
            }
        }
    };
}

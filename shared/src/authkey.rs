//! The process's authentication key (CPython's `current_process().authkey`): 32 random bytes,
//! made once in the main process and inherited by every child, whatever its start method. A
//! manager started without a key of its own uses it, so only this program's processes can talk
//! to it.

use std::sync::OnceLock;

/// The key, once made or inherited.
static KEY: OnceLock<[u8; 32]> = OnceLock::new();

/// This process's key: inherited from the parent, or made from the OS's random source on first
/// use. A forked child shares its parent's memory, so the start path asks for the key before
/// it forks: parent and child then hold the same key.
pub(crate) fn get() -> [u8; 32] {
    *KEY.get_or_init(|| {
        let mut key = [0u8; 32];
        getrandom::fill(&mut key).expect("the OS's random source (getrandom) for the authkey");
        key
    })
}

/// Takes the parent's key, in a spawned or forkserver child before anything asks for one.
/// Returns false if this process already had a key (it then keeps it).
pub(crate) fn inherit(key: [u8; 32]) -> bool {
    KEY.set(key).is_ok()
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_key_is_made_once() {
        let a = super::get();
        assert_eq!(a, super::get());
        assert!(!super::inherit([0; 32]), "an existing key is kept");
        assert_eq!(super::get(), a);
        assert_ne!(a, [0; 32]);
    }
}

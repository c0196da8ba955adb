//! [`Event`]: a flag shared between processes that they can wait for (CPython's
//! `synchronize.Event`).

use std::fmt;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::deadline::Deadline;
#[cfg(doc)]
use crate::error::Error;
use crate::error::Result;
use crate::heap::SharedBlock;

use super::sleepers;

crate::heap::inherited_only!(event_by_inheritance, "Event");

/// A flag shared between processes that they can wait for, like Python's
/// `multiprocessing.Event`.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use multiprocessing::{Event, Process};
///
/// fn waiter(event: Event) {
///     event.wait(); // sleeps until the parent sets the flag
///     assert!(event.is_set());
/// }
///
/// let event = Event::new()?;
/// let mut p = Process::new(waiter, event.clone());
/// p.start()?;
/// std::thread::sleep(Duration::from_millis(50));
/// event.set();
/// p.join()?;
/// assert_eq!(p.exitcode(), Some(0));
/// # Ok::<(), multiprocessing::Error>(())
/// ```
#[derive(Clone, Serialize, Deserialize)]
pub struct Event {
    /// Word 0: the flag (the futex word). Word 1: how many may be asleep on it.
    #[serde(serialize_with = "event_by_inheritance")]
    block: SharedBlock,
}

impl Event {
    /// A new event, not set.
    ///
    /// # Errors
    /// [`Error::Os`] if shared memory cannot be made.
    ///
    /// # Examples
    ///
    /// ```
    /// let event = multiprocessing::Event::new()?;
    /// assert!(!event.is_set());
    /// # Ok::<(), multiprocessing::Error>(())
    /// ```
    pub fn new() -> Result<Event> {
        Ok(Event {
            block: SharedBlock::new(8)?,
        })
    }

    fn flag(&self) -> &AtomicU32 {
        self.block.atomic_u32(0)
    }

    fn sleepers(&self) -> &AtomicU32 {
        self.block.atomic_u32(4)
    }

    /// Whether the flag is set.
    ///
    /// # Examples
    ///
    /// ```
    /// let event = multiprocessing::Event::new()?;
    /// event.set();
    /// assert!(event.is_set());
    /// # Ok::<(), multiprocessing::Error>(())
    /// ```
    pub fn is_set(&self) -> bool {
        self.flag().load(Ordering::Acquire) != 0
    }

    /// Sets the flag and wakes every process waiting for it.
    ///
    /// # Examples
    ///
    /// ```
    /// let event = multiprocessing::Event::new()?;
    /// event.set();
    /// assert!(event.wait_timeout(std::time::Duration::ZERO));
    /// # Ok::<(), multiprocessing::Error>(())
    /// ```
    pub fn set(&self) {
        self.flag().store(1, Ordering::SeqCst);
        sleepers::wake(self.flag(), self.sleepers(), u32::MAX);
    }

    /// Clears the flag: later waits block until the next [`set`](Event::set).
    ///
    /// # Examples
    ///
    /// ```
    /// let event = multiprocessing::Event::new()?;
    /// event.set();
    /// event.clear();
    /// assert!(!event.is_set());
    /// # Ok::<(), multiprocessing::Error>(())
    /// ```
    pub fn clear(&self) {
        self.flag().store(0, Ordering::SeqCst);
    }

    /// Blocks until the flag is set.
    ///
    /// # Examples
    ///
    /// ```
    /// let event = multiprocessing::Event::new()?;
    /// event.set();
    /// event.wait(); // returns at once
    /// # Ok::<(), multiprocessing::Error>(())
    /// ```
    pub fn wait(&self) {
        self.wait_until(Deadline::NEVER);
    }

    /// Blocks until the flag is set or `timeout` passes; returns the flag (Python's
    /// `wait(timeout)`).
    ///
    /// # Examples
    ///
    /// ```
    /// let event = multiprocessing::Event::new()?;
    /// assert!(!event.wait_timeout(std::time::Duration::from_millis(10)));
    /// # Ok::<(), multiprocessing::Error>(())
    /// ```
    pub fn wait_timeout(&self, timeout: Duration) -> bool {
        self.wait_until(Deadline::after(Some(timeout)))
    }

    fn wait_until(&self, deadline: Deadline) -> bool {
        loop {
            if self.is_set() {
                return true;
            }
            let left = deadline.left();
            if left == Some(Duration::ZERO) {
                return false;
            }
            // Sleep only while the flag still reads 0 (cleared).
            sleepers::sleep(self.flag(), self.sleepers(), left, |flag| flag == 0);
        }
    }
}

impl fmt::Debug for Event {
    /// `Event(set)` or `Event(unset)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Event({})", if self.is_set() { "set" } else { "unset" })
    }
}

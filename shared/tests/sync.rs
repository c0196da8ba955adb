//! Process-shared synchronization, checked with real processes: Lock, RLock, Semaphore,
//! BoundedSemaphore, Event, Condition and Barrier, against CPython's semantics
//! (`Lib/test/_test_multiprocessing.py`, `Lib/test/lock_tests.py`).

#[macro_use]
mod common;

use std::time::{Duration, Instant};

use common::{Test, join, shared_mappings, spawn};
use std::sync::OnceLock;

use multiprocessing::{
    Array, Barrier, BoundedSemaphore, Condition, Error, Event, Lock, Process, RLock, RawValue, Semaphore,
    Value,
};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// The number of descriptors of our shared memory segments this process has open. (Only
/// those: the process registry keeps a joined child's pidfd until the next start.)
fn shared_fds() -> usize {
    std::fs::read_dir("/proc/self/fd")
        .unwrap()
        .filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
        .filter(|target| target.to_string_lossy().contains("memfd:mp-heap"))
        .count()
}

// ---- Lock -----------------------------------------------------------------------------------

fn lock_release_from_another_process() {
    fn release_it(lock: Lock) {
        lock.release().expect("any process may release a Lock");
    }
    let lock = Lock::new().unwrap();
    lock.acquire().keep();
    let p = spawn(release_it, lock.clone());
    assert_eq!(join(&p), 0);
    assert!(!lock.is_locked(), "the child's release is seen by the parent");
    assert!(lock.try_acquire().is_some());
}

fn lock_release_unlocked_is_error() {
    let lock = Lock::new().unwrap();
    let err = lock.release().unwrap_err();
    assert!(err.to_string().contains("not locked"), "{err}");
    let guard = lock.acquire();
    drop(guard);
    assert!(lock.release().is_err(), "the guard released it already");
}

fn lock_acquire_timeout_within_bound() {
    fn hold((lock, ready): (Lock, Semaphore)) {
        let _held = lock.acquire();
        ready.release().unwrap();
        std::thread::sleep(Duration::from_secs(3));
    }
    let lock = Lock::new().unwrap();
    let ready = Semaphore::new(0).unwrap();
    let p = spawn(hold, (lock.clone(), ready.clone()));
    ready.acquire().keep();
    for timeout in [ms(0), ms(50), ms(300)] {
        let started = Instant::now();
        assert!(lock.acquire_timeout(timeout).is_none());
        let took = started.elapsed();
        assert!(
            took >= timeout,
            "returned before the timeout: {took:?} < {timeout:?}"
        );
        assert!(
            took < timeout + ms(1500),
            "returned long after the timeout: {took:?}"
        );
    }
    assert!(lock.try_acquire().is_none());
    p.kill().unwrap();
    join(&p);
}

fn lock_waiter_sleeps_until_release() {
    fn hold_then_release((lock, ready): (Lock, Semaphore)) {
        let _held = lock.acquire();
        ready.release().unwrap();
        std::thread::sleep(ms(300));
    }
    let lock = Lock::new().unwrap();
    let ready = Semaphore::new(0).unwrap();
    let p = spawn(hold_then_release, (lock.clone(), ready.clone()));
    ready.acquire().keep();
    let started = Instant::now();
    let guard = lock
        .acquire_timeout(Duration::from_secs(10))
        .expect("released by the child");
    let took = started.elapsed();
    assert!(
        took >= ms(200),
        "acquired while the child still held it: {took:?}"
    );
    assert!(!guard.owner_died(), "the child released it properly");
    drop(guard);
    assert_eq!(join(&p), 0);
}

fn lock_owner_killed_is_recovered() {
    fn hold_forever((lock, ready): (Lock, Semaphore)) {
        lock.acquire().keep();
        ready.release().unwrap();
        std::thread::sleep(Duration::from_secs(60));
    }
    let lock = Lock::new().unwrap();
    let ready = Semaphore::new(0).unwrap();
    let p = spawn(hold_forever, (lock.clone(), ready.clone()));
    ready.acquire().keep();
    assert!(lock.try_acquire().is_none(), "the child holds it");
    // Kill it but do not reap it yet: a zombie must count as dead.
    p.kill().unwrap();
    let started = Instant::now();
    let guard = lock
        .acquire_timeout(Duration::from_secs(10))
        .expect("recovered from the dead holder");
    assert!(guard.owner_died(), "the new holder is told the old one died");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "recovery took {:?}",
        started.elapsed()
    );
    drop(guard);
    // The lock works normally afterwards, and the signal was given once.
    let again = lock.acquire();
    assert!(!again.owner_died());
    drop(again);
    assert_eq!(join(&p), -9);
}

fn lock_owner_died_while_waiters_sleep() {
    fn hold_forever((lock, ready): (Lock, Semaphore)) {
        lock.acquire().keep();
        ready.release().unwrap();
        std::thread::sleep(Duration::from_secs(60));
    }
    fn wait_for_it(lock: Lock) {
        let guard = lock.acquire_timeout(Duration::from_secs(10)).expect("recovered");
        std::thread::sleep(ms(20));
        drop(guard);
    }
    let lock = Lock::new().unwrap();
    let ready = Semaphore::new(0).unwrap();
    let holder = spawn(hold_forever, (lock.clone(), ready.clone()));
    ready.acquire().keep();
    let waiters: Vec<Process> = (0..3).map(|_| spawn(wait_for_it, lock.clone())).collect();
    std::thread::sleep(ms(100));
    holder.kill().unwrap();
    for w in &waiters {
        assert_eq!(join(w), 0, "every waiter gets the lock in turn");
    }
    assert_eq!(join(&holder), -9);
    assert!(!lock.is_locked());
}

/// CPython's `test_repr_lock`: a lock prints its owner as `None`, the calling process (with
/// `|thread` off the main thread), `SomeOtherThread` or `SomeOtherProcess`.
fn test_repr_lock() {
    fn hold((lock, held): (Lock, Semaphore)) {
        lock.acquire().keep();
        held.release().unwrap();
        std::thread::sleep(Duration::from_secs(30));
    }
    let lock = Lock::new().unwrap();
    assert_eq!(format!("{lock:?}"), "<Lock(owner=None)>");
    assert_eq!(multiprocessing::py_repr(&lock), "<Lock(owner=None)>");
    {
        let _held = lock.acquire();
        assert_eq!(format!("{lock:?}"), "<Lock(owner=MainProcess)>");
    }
    let seen = std::thread::Builder::new()
        .name("T1".into())
        .spawn({
            let lock = lock.clone();
            move || {
                lock.acquire().keep();
                format!("{lock:?}")
            }
        })
        .unwrap()
        .join()
        .unwrap();
    assert_eq!(seen, "<Lock(owner=MainProcess|T1)>");
    assert_eq!(format!("{lock:?}"), "<Lock(owner=SomeOtherThread)>");
    lock.release().unwrap();

    let held = Semaphore::new(0).unwrap();
    let p = spawn(hold, (lock.clone(), held.clone()));
    assert!(held.acquire_timeout(Duration::from_secs(10)).is_some());
    assert_eq!(format!("{lock:?}"), "<Lock(owner=SomeOtherProcess)>");
    p.kill().unwrap();
    join(&p);
}

/// CPython's `test_repr_rlock`: as for a Lock, with the recursion level (`nonzero` when the
/// holder is another thread or process).
fn test_repr_rlock() {
    fn take_and_leave(lock: RLock) {
        lock.acquire().keep();
    }
    let lock = RLock::new().unwrap();
    assert_eq!(format!("{lock:?}"), "<RLock(None, 0)>");
    for _ in 0..3 {
        lock.acquire().keep();
    }
    assert_eq!(format!("{lock:?}"), "<RLock(MainProcess, 3)>");
    assert_eq!(multiprocessing::py_repr(&lock), "<RLock(MainProcess, 3)>");
    for _ in 0..3 {
        lock.release().unwrap();
    }
    for i in 1..=3 {
        let seen = std::thread::Builder::new()
            .name(format!("T{i}"))
            .spawn({
                let lock = lock.clone();
                move || {
                    let guards: Vec<_> = (0..i).map(|_| lock.acquire()).collect();
                    let seen = format!("{lock:?}");
                    drop(guards);
                    seen
                }
            })
            .unwrap()
            .join()
            .unwrap();
        assert_eq!(seen, format!("<RLock(MainProcess|T{i}, {i})>"));
    }
    // A thread that ends holding it, then a process that does.
    let rlock = RLock::new().unwrap();
    std::thread::spawn({
        let rlock = rlock.clone();
        move || rlock.acquire().keep()
    })
    .join()
    .unwrap();
    assert_eq!(format!("{rlock:?}"), "<RLock(SomeOtherThread, nonzero)>");
    let rlock = RLock::new().unwrap();
    let p = spawn(take_and_leave, rlock.clone());
    assert_eq!(join(&p), 0);
    assert_eq!(format!("{rlock:?}"), "<RLock(SomeOtherProcess, nonzero)>");
}

// ---- RLock ----------------------------------------------------------------------------------

fn rlock_recursion_and_ownership() {
    fn foreign((lock,): (RLock,)) {
        assert!(!lock.is_owned(), "a child does not own its parent's RLock");
        assert!(lock.release().is_err(), "only the owner releases an RLock");
        assert!(lock.try_acquire().is_none());
        assert!(lock.acquire_timeout(ms(100)).is_none());
    }
    let lock = RLock::new().unwrap();
    let a = lock.acquire();
    let b = lock.acquire();
    let c = lock.try_acquire().expect("the owner re-enters");
    assert_eq!(lock.recursion(), 3);
    let p = spawn(foreign, (lock.clone(),));
    assert_eq!(join(&p), 0);
    drop(c);
    drop(b);
    assert!(lock.is_owned());
    drop(a);
    assert!(!lock.is_owned());
    assert!(lock.release().is_err(), "released too many times");
}

fn rlock_waiter_gets_it_after_full_release() {
    fn take((lock, ready): (RLock, Semaphore)) {
        ready.release().unwrap();
        let g = lock
            .acquire_timeout(Duration::from_secs(10))
            .expect("freed by the parent");
        assert_eq!(lock.recursion(), 1);
        drop(g);
    }
    let lock = RLock::new().unwrap();
    let ready = Semaphore::new(0).unwrap();
    let a = lock.acquire();
    let b = lock.acquire();
    let p = spawn(take, (lock.clone(), ready.clone()));
    ready.acquire().keep();
    std::thread::sleep(ms(50));
    drop(b);
    std::thread::sleep(ms(100));
    assert!(p.exitcode().is_none(), "one level is still held");
    drop(a);
    assert_eq!(join(&p), 0);
}

fn rlock_owner_killed_is_recovered() {
    fn hold_forever((lock, ready): (RLock, Semaphore)) {
        lock.acquire().keep();
        lock.acquire().keep();
        ready.release().unwrap();
        std::thread::sleep(Duration::from_secs(60));
    }
    let lock = RLock::new().unwrap();
    let ready = Semaphore::new(0).unwrap();
    let p = spawn(hold_forever, (lock.clone(), ready.clone()));
    ready.acquire().keep();
    p.kill().unwrap();
    let guard = lock.acquire_timeout(Duration::from_secs(10)).expect("recovered");
    assert!(guard.owner_died());
    assert_eq!(
        lock.recursion(),
        1,
        "the dead holder's recursion does not carry over"
    );
    drop(guard);
    assert!(!lock.is_owned());
    assert_eq!(join(&p), -9);
}

/// A guard outliving a hand release ([`RLock::release`]) finds the lock no longer ours when it
/// drops: it must leave the next holder's hold alone (the guard's drop checks the holder).
fn rlock_guard_dropped_after_a_hand_release_frees_nothing() {
    fn take_and_hold((lock, held, done): (RLock, Semaphore, Semaphore)) {
        let g = lock
            .acquire_timeout(Duration::from_secs(10))
            .expect("released by hand in the parent");
        held.release().unwrap();
        assert!(done.acquire_timeout(Duration::from_secs(10)).is_some());
        assert!(lock.is_owned(), "the parent's stale guard took nothing from us");
        assert_eq!(lock.recursion(), 1);
        drop(g);
    }
    let lock = RLock::new().unwrap();
    let held = Semaphore::new(0).unwrap();
    let done = Semaphore::new(0).unwrap();
    let guard = lock.acquire();
    lock.release().unwrap();
    assert!(!lock.is_owned());
    let p = spawn(take_and_hold, (lock.clone(), held.clone(), done.clone()));
    assert!(held.acquire_timeout(Duration::from_secs(10)).is_some());
    drop(guard);
    assert!(lock.acquire_timeout(ms(50)).is_none(), "the child still holds it");
    done.release().unwrap();
    assert_eq!(join(&p), 0);
    assert!(lock.try_acquire().is_some());
}

// ---- Semaphore and BoundedSemaphore ---------------------------------------------------------

fn semaphore_waiter_woken_by_release() {
    fn take(sem: Semaphore) {
        sem.acquire_timeout(Duration::from_secs(10))
            .expect("released by the parent")
            .keep();
    }
    let sem = Semaphore::new(0).unwrap();
    let p = spawn(take, sem.clone());
    std::thread::sleep(ms(100));
    assert!(p.exitcode().is_none(), "no unit yet");
    sem.release().unwrap();
    assert_eq!(join(&p), 0);
    assert_eq!(sem.get_value(), 0);
}

fn semaphore_timeout_within_bound() {
    let sem = Semaphore::new(0).unwrap();
    for timeout in [ms(0), ms(50), ms(300)] {
        let started = Instant::now();
        assert!(sem.acquire_timeout(timeout).is_none());
        let took = started.elapsed();
        assert!(
            took >= timeout && took < timeout + ms(1500),
            "{took:?} for {timeout:?}"
        );
    }
}

fn semaphore_counts_across_processes() {
    fn take_two(sem: Semaphore) {
        sem.acquire().keep();
        sem.acquire().keep();
    }
    let sem = Semaphore::new(5).unwrap();
    let p = spawn(take_two, sem.clone());
    assert_eq!(join(&p), 0);
    assert_eq!(sem.get_value(), 3);
    let sem = Semaphore::new(multiprocessing::SEM_VALUE_MAX).unwrap();
    assert!(sem.release().is_err(), "past SEM_VALUE_MAX");
}

fn bounded_semaphore_refuses_reliably() {
    fn release_once((sem, go): (BoundedSemaphore, Semaphore)) {
        go.acquire().keep();
        sem.release().expect("refused");
    }
    let sem = BoundedSemaphore::new(2).unwrap();
    assert!(sem.release().is_err(), "already at its initial value");
    // Two units out; six processes race to give back one each: exactly two may succeed.
    sem.acquire().keep();
    sem.acquire().keep();
    let go = Semaphore::new(0).unwrap();
    let racers: Vec<Process> = (0..6)
        .map(|_| spawn(release_once, (sem.clone(), go.clone())))
        .collect();
    for _ in 0..6 {
        go.release().unwrap();
    }
    let succeeded = racers.iter().filter(|p| join(p) == 0).count();
    assert_eq!(succeeded, 2, "only as many releases as units taken");
    assert_eq!(sem.get_value(), 2);
}

// ---- Event ----------------------------------------------------------------------------------

fn event_set_wakes_every_waiter() {
    fn waiter(event: Event) {
        assert!(event.wait_timeout(Duration::from_secs(10)), "woken by set");
    }
    let event = Event::new().unwrap();
    let waiters: Vec<Process> = (0..3).map(|_| spawn(waiter, event.clone())).collect();
    std::thread::sleep(ms(100));
    assert!(
        waiters.iter().all(|w| w.exitcode().is_none()),
        "nobody passes before set"
    );
    event.set();
    for w in &waiters {
        assert_eq!(join(w), 0);
    }
    assert!(event.is_set());
    assert!(event.wait_timeout(ms(0)), "a set event does not block");
    event.clear();
    assert!(!event.is_set());
}

fn event_wait_timeout_within_bound() {
    let event = Event::new().unwrap();
    for timeout in [ms(0), ms(50), ms(300)] {
        let started = Instant::now();
        assert!(!event.wait_timeout(timeout));
        let took = started.elapsed();
        assert!(
            took >= timeout && took < timeout + ms(1500),
            "{took:?} for {timeout:?}"
        );
    }
}

// ---- Condition ------------------------------------------------------------------------------

fn condition_notify_wakes_exactly_n() {
    fn waiter((cond, ready, woken): (Condition, Semaphore, Value<i32>)) {
        let _guard = cond.acquire();
        ready.release().unwrap();
        assert!(
            cond.wait_timeout(Duration::from_secs(15)).unwrap(),
            "notified in time"
        );
        assert!(cond.get_lock().is_owned(), "wait returns with the lock held");
        woken.set(woken.get() + 1);
    }
    let cond = Condition::new().unwrap();
    let ready = Semaphore::new(0).unwrap();
    let woken = Value::new(0).unwrap();
    let waiters: Vec<Process> = (0..5)
        .map(|_| spawn(waiter, (cond.clone(), ready.clone(), woken.clone())))
        .collect();
    for _ in 0..5 {
        ready.acquire().keep();
    }
    // Each waiter signalled while holding the lock, so once we hold it they all wait.
    {
        let _guard = cond.acquire();
        cond.notify(2).unwrap();
    }
    common::eventually(Duration::from_secs(10), "two waiters woken", || woken.get() == 2);
    std::thread::sleep(ms(200));
    assert_eq!(woken.get(), 2, "notify(2) wakes exactly two");
    {
        let _guard = cond.acquire();
        cond.notify(1).unwrap();
    }
    common::eventually(Duration::from_secs(10), "a third waiter woken", || {
        woken.get() == 3
    });
    std::thread::sleep(ms(200));
    assert_eq!(woken.get(), 3);
    {
        let _guard = cond.acquire();
        cond.notify_all().unwrap();
    }
    for w in &waiters {
        assert_eq!(join(w), 0);
    }
    assert_eq!(woken.get(), 5);
}

fn condition_wait_releases_a_recursive_hold() {
    fn change_it((cond, state): (Condition, Value<i32>)) {
        let _guard = cond
            .acquire_timeout(Duration::from_secs(10))
            .expect("the waiter released every level");
        state.set(1);
        cond.notify(1).unwrap();
    }
    let cond = Condition::new().unwrap();
    let state = Value::new(0).unwrap();
    let outer = cond.acquire();
    let inner = cond.acquire();
    assert_eq!(cond.get_lock().recursion(), 2);
    let p = spawn(change_it, (cond.clone(), state.clone()));
    assert!(
        cond.wait_for(|| state.get() == 1, Some(Duration::from_secs(10)))
            .unwrap()
    );
    assert_eq!(
        cond.get_lock().recursion(),
        2,
        "wait restores the recursion level"
    );
    drop(inner);
    drop(outer);
    assert!(!cond.get_lock().is_owned());
    assert_eq!(join(&p), 0);
}

fn condition_needs_the_lock_and_times_out() {
    let cond = Condition::with_lock(Lock::new().unwrap()).unwrap();
    assert!(matches!(cond.wait(), Err(Error::State(_))));
    assert!(matches!(cond.notify(1), Err(Error::State(_))));
    let _guard = cond.acquire();
    for timeout in [ms(0), ms(50), ms(300)] {
        let started = Instant::now();
        assert!(!cond.wait_timeout(timeout).unwrap());
        let took = started.elapsed();
        assert!(
            took >= timeout && took < timeout + ms(1500),
            "{took:?} for {timeout:?}"
        );
        assert!(cond.get_lock().is_locked(), "held again after a timeout");
    }
    let started = Instant::now();
    assert!(!cond.wait_for(|| false, Some(ms(100))).unwrap());
    assert!(started.elapsed() >= ms(100));
}

fn condition_survives_a_dead_waiter() {
    fn wait_forever((cond, ready): (Condition, Semaphore)) {
        let _guard = cond.acquire();
        ready.release().unwrap();
        let _ = cond.wait();
    }
    fn wait_for_flag((cond, flag): (Condition, Value<i32>)) {
        let _guard = cond.acquire();
        assert!(
            cond.wait_for(|| flag.get() == 1, Some(Duration::from_secs(15)))
                .unwrap()
        );
    }
    let cond = Condition::new().unwrap();
    let ready = Semaphore::new(0).unwrap();
    let doomed = spawn(wait_forever, (cond.clone(), ready.clone()));
    ready.acquire().keep();
    let _ = cond.acquire(); // the waiter is asleep once we get the lock
    doomed.kill().unwrap();
    assert_eq!(join(&doomed), -9);
    let started = Instant::now();
    {
        let _guard = cond.acquire();
        cond.notify_all().unwrap();
    }
    // The dead waiter is noticed within an owner check or so, not after the 2 s fallback.
    let took = started.elapsed();
    assert!(took < ms(1500), "notify waited {took:?} for a dead waiter");
    // The condition still works for the living.
    let flag = Value::new(0).unwrap();
    let p = spawn(wait_for_flag, (cond.clone(), flag.clone()));
    std::thread::sleep(ms(100));
    let started = Instant::now();
    {
        let _guard = cond.acquire();
        flag.set(1);
        cond.notify_all().unwrap();
    }
    let took = started.elapsed();
    assert!(
        took < ms(1500),
        "the dead waiter is still counted: notify took {took:?}"
    );
    assert_eq!(join(&p), 0);
}

// ---- Barrier --------------------------------------------------------------------------------

/// Counts how often the barrier's action ran, in shared memory made before any fork.
static ACTIONS: OnceLock<RawValue<u32>> = OnceLock::new();

fn count_action() {
    let actions = ACTIONS.get().expect("made before the fork");
    actions.set(actions.get() + 1);
}

fn barrier_releases_all_parties_with_distinct_indices() {
    fn party((barrier, slot, indices): (Barrier, usize, Array<i32>)) {
        for round in 0..2 {
            let index = barrier
                .wait_timeout(Duration::from_secs(10))
                .expect("all parties arrive");
            indices.set(round * 4 + slot, index as i32);
        }
    }
    if multiprocessing::get_start_method() != "fork" {
        // The action counts in a static made before the fork: a spawned party has its own,
        // empty one. (`tests/start_methods.rs` checks a barrier's action under every method.)
        return;
    }
    ACTIONS.get_or_init(|| RawValue::new(0).unwrap());
    let barrier = Barrier::new(4).unwrap().with_action(count_action);
    let indices = Array::new(&[-1; 8]).unwrap();
    let parties: Vec<Process> = (0..3)
        .map(|slot| spawn(party, (barrier.clone(), slot, indices.clone())))
        .collect();
    for round in 0..2 {
        let index = barrier.wait_timeout(Duration::from_secs(10)).unwrap();
        indices.set(round * 4 + 3, index as i32);
    }
    for p in &parties {
        assert_eq!(join(p), 0);
    }
    for round in indices.to_vec().chunks(4) {
        let mut round = round.to_vec();
        round.sort_unstable();
        assert_eq!(round, [0, 1, 2, 3], "each party gets its own index");
    }
    assert_eq!(ACTIONS.get().unwrap().get(), 2, "the action ran once per round");
    assert!(!barrier.broken());
    assert_eq!(barrier.n_waiting(), 0);
}

fn barrier_timeout_breaks_it_for_everyone() {
    fn party(barrier: Barrier) {
        assert!(
            matches!(barrier.wait(), Err(Error::BrokenBarrier)),
            "broken by the other's timeout"
        );
    }
    let barrier = Barrier::new(3).unwrap();
    let p = spawn(party, barrier.clone());
    common::eventually(Duration::from_secs(10), "the child waits", || {
        barrier.n_waiting() == 1
    });
    let started = Instant::now();
    assert!(matches!(barrier.wait_timeout(ms(200)), Err(Error::BrokenBarrier)));
    let took = started.elapsed();
    assert!(took >= ms(200) && took < ms(1700), "{took:?}");
    assert_eq!(join(&p), 0);
    assert!(barrier.broken());
    assert!(
        matches!(barrier.wait(), Err(Error::BrokenBarrier)),
        "stays broken"
    );
}

fn barrier_abort_and_reset() {
    fn party(barrier: Barrier) {
        assert!(matches!(barrier.wait(), Err(Error::BrokenBarrier)));
    }
    fn party_ok(barrier: Barrier) {
        barrier
            .wait_timeout(Duration::from_secs(10))
            .expect("the reset barrier works");
    }
    let barrier = Barrier::new(2).unwrap();
    let p = spawn(party, barrier.clone());
    common::eventually(Duration::from_secs(10), "the child waits", || {
        barrier.n_waiting() == 1
    });
    barrier.abort();
    assert_eq!(join(&p), 0);
    assert!(barrier.broken());
    barrier.reset();
    assert!(!barrier.broken());
    // A reset while a party waits wakes it with an error.
    let p = spawn(party, barrier.clone());
    common::eventually(Duration::from_secs(10), "the child waits", || {
        barrier.n_waiting() == 1
    });
    barrier.reset();
    assert_eq!(join(&p), 0);
    // And then it works again.
    let p = spawn(party_ok, barrier.clone());
    barrier.wait_timeout(Duration::from_secs(10)).unwrap();
    assert_eq!(join(&p), 0);
}

fn barrier_many_rounds() {
    // CPython's test_thousand, smaller: the same barrier passed many times in a row, with the
    // indices of each round checked, catches lost or stolen wake-ups.
    const ROUNDS: usize = 300;
    fn party((barrier, slot, seen): (Barrier, usize, Array<u8>)) {
        for round in 0..ROUNDS {
            let index = barrier
                .wait_timeout(Duration::from_secs(10))
                .expect("every round completes");
            seen.set(round * 3 + index as usize, 1 + slot as u8);
        }
    }
    let barrier = Barrier::new(3).unwrap();
    let seen = Array::<u8>::zeroed(ROUNDS * 3).unwrap();
    let parties: Vec<Process> = (0..2)
        .map(|slot| spawn(party, (barrier.clone(), slot, seen.clone())))
        .collect();
    for round in 0..ROUNDS {
        let index = barrier.wait_timeout(Duration::from_secs(10)).unwrap();
        seen.set(round * 3 + index as usize, 3);
    }
    for p in &parties {
        assert_eq!(join(p), 0);
    }
    for (round, slots) in seen.to_vec().chunks(3).enumerate() {
        let mut slots = slots.to_vec();
        slots.sort_unstable();
        assert_eq!(
            slots,
            [1, 2, 3],
            "round {round}: each party once, each index once"
        );
    }
}

/// Issue 14, item 4: a party killed inside `wait` is not counted (CPython's barrier would count
/// it for ever: its `finally: self._count -= 1` never runs), so a live party alone does not
/// pass, a timed wait returns by its deadline, and `reset` makes the barrier usable again.
fn barrier_party_killed_in_wait_is_not_counted() {
    fn party(barrier: Barrier) {
        let _ = barrier.wait();
    }
    fn party_ok(barrier: Barrier) {
        barrier
            .wait_timeout(Duration::from_secs(10))
            .expect("the reset barrier works");
    }
    let barrier = Barrier::new(2).unwrap();
    let p = spawn(party, barrier.clone());
    common::eventually(Duration::from_secs(10), "the child waits", || {
        barrier.n_waiting() == 1
    });
    p.kill().unwrap();
    assert_eq!(join(&p), -9);
    common::eventually(Duration::from_secs(5), "the dead party is not counted", || {
        barrier.n_waiting() == 0
    });
    let started = Instant::now();
    let alone = barrier.wait_timeout(ms(300));
    let took = started.elapsed();
    assert!(
        matches!(alone, Err(Error::BrokenBarrier)),
        "a dead party completed the round: {alone:?}"
    );
    assert!(took >= ms(300) && took < ms(1800), "returned after {took:?}");
    assert!(barrier.broken());
    barrier.reset();
    assert!(!barrier.broken());
    let p = spawn(party_ok, barrier.clone());
    let index = barrier.wait_timeout(Duration::from_secs(10)).unwrap();
    assert!(index < 2);
    assert_eq!(join(&p), 0);
    assert_eq!(barrier.n_waiting(), 0);
}

/// Issue 14, item 4: a party released by the last arrival that dies before it leaves `wait`
/// (the barrier is draining) does not hold the next round up. The party is stopped while it
/// sleeps in `wait`, the round passes without it, and it is killed before it can run again.
fn barrier_party_killed_while_draining_does_not_block() {
    use nix::sys::signal::{Signal, kill};
    use nix::unistd::Pid;

    fn party(barrier: Barrier) {
        let _ = barrier.wait_timeout(Duration::from_secs(10));
    }
    let barrier = Barrier::new(2).unwrap();
    let a = spawn(party, barrier.clone());
    common::eventually(Duration::from_secs(10), "the child waits", || {
        barrier.n_waiting() == 1
    });
    let pid = a.pid().unwrap();
    kill(Pid::from_raw(pid), Signal::SIGSTOP).unwrap();
    common::eventually(Duration::from_secs(10), "the child is stopped", || {
        std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
            stat.rsplit_once(") ")
                .is_some_and(|(_, rest)| rest.starts_with('T'))
        })
    });
    assert_eq!(barrier.wait_timeout(Duration::from_secs(10)).unwrap(), 1);
    a.kill().unwrap();
    assert_eq!(join(&a), -9);
    // The next round: a lone timed wait returns by its deadline...
    let started = Instant::now();
    let alone = barrier.wait_timeout(ms(300));
    let took = started.elapsed();
    assert!(matches!(alone, Err(Error::BrokenBarrier)), "{alone:?}");
    assert!(took >= ms(300) && took < ms(1800), "returned after {took:?}");
    // ...and after a reset a full round passes.
    barrier.reset();
    let b = spawn(party, barrier.clone());
    barrier.wait_timeout(Duration::from_secs(10)).unwrap();
    assert_eq!(join(&b), 0);
    assert!(!barrier.broken());
}

// ---- Threads --------------------------------------------------------------------------------

fn locks_work_between_threads_too() {
    let lock = RLock::new().unwrap();
    let sem = Semaphore::new(0).unwrap();
    let guard = lock.acquire();
    std::thread::scope(|s| {
        s.spawn(|| {
            assert!(!lock.is_owned(), "another thread is not the owner");
            assert!(lock.try_acquire().is_none());
            assert!(lock.release().is_err());
            sem.release().unwrap();
            let g = lock
                .acquire_timeout(Duration::from_secs(10))
                .expect("released by the main thread");
            assert!(!g.owner_died());
        });
        sem.acquire().keep();
        std::thread::sleep(ms(50));
        drop(guard);
    });
    assert!(lock.try_acquire().is_some());
}

fn semaphore_limits_concurrency() {
    fn worker((sem, inside, most): (Semaphore, Value<i32>, Value<i32>)) {
        for _ in 0..50 {
            let _unit = sem.acquire();
            {
                let _g = inside.get_lock().acquire();
                inside.set(inside.get() + 1);
                most.set(most.get().max(inside.get()));
            }
            std::thread::sleep(Duration::from_micros(200));
            let _g = inside.get_lock().acquire();
            inside.set(inside.get() - 1);
        }
    }
    let sem = Semaphore::new(2).unwrap();
    let (inside, most) = (Value::new(0).unwrap(), Value::new(0).unwrap());
    let workers: Vec<Process> = (0..4)
        .map(|_| spawn(worker, (sem.clone(), inside.clone(), most.clone())))
        .collect();
    for w in &workers {
        assert_eq!(join(w), 0);
    }
    assert!(most.get() <= 2, "at most two inside at once, saw {}", most.get());
    assert_eq!(sem.get_value(), 2);
}

// ---- Spawn ----------------------------------------------------------------------------------

/// Everything a spawned child gets: the objects travel by serialization, and the child adopts
/// the inherited shared memory.
type SpawnArgs = (Lock, RLock, Semaphore, Event, Condition, Barrier, Value<i32>);

fn spawned_child((lock, rlock, sem, event, cond, barrier, flag): SpawnArgs) {
    assert!(lock.is_locked(), "the parent's Lock is held");
    lock.release().unwrap();
    assert!(rlock.try_acquire().is_none(), "the parent holds the RLock");
    sem.acquire_timeout(Duration::from_secs(10))
        .expect("a unit")
        .keep();
    assert!(event.wait_timeout(Duration::from_secs(10)));
    {
        let _guard = cond.acquire();
        flag.set(1);
        cond.notify_all().unwrap();
    }
    barrier.wait_timeout(Duration::from_secs(10)).unwrap();
}

fn sync_objects_under_spawn() {
    let ctx = multiprocessing::get_context("spawn").unwrap();
    let lock = Lock::new().unwrap();
    let rlock = RLock::new().unwrap();
    let sem = Semaphore::new(1).unwrap();
    let event = Event::new().unwrap();
    let cond = Condition::new().unwrap();
    let barrier = Barrier::new(2).unwrap();
    let flag = Value::new(0).unwrap();
    lock.acquire().keep();
    let _held = rlock.acquire();
    event.set();
    let mut p = ctx.process(
        spawned_child,
        (
            lock.clone(),
            rlock.clone(),
            sem.clone(),
            event.clone(),
            cond.clone(),
            barrier.clone(),
            flag.clone(),
        ),
    );
    p.start().unwrap();
    {
        let _guard = cond.acquire();
        assert!(
            cond.wait_for(|| flag.get() == 1, Some(Duration::from_secs(10)))
                .unwrap()
        );
    }
    barrier.wait_timeout(Duration::from_secs(10)).unwrap();
    assert_eq!(join(&p), 0);
    assert!(!lock.is_locked(), "released by the spawned child");
    assert_eq!(sem.get_value(), 0, "taken by the spawned child");
}

// ---- Resources ------------------------------------------------------------------------------

fn no_shared_memory_left_behind() {
    fn use_them((lock, rlock, sem): (Lock, RLock, Semaphore)) {
        drop(lock.acquire());
        drop(rlock.acquire());
        drop(sem.acquire());
    }
    let (maps, fds) = (shared_mappings(), shared_fds());
    {
        let lock = Lock::new().unwrap();
        let rlock = RLock::new().unwrap();
        let sem = Semaphore::new(1).unwrap();
        let bounded = BoundedSemaphore::new(1).unwrap();
        let others = (
            Event::new().unwrap(),
            Condition::new().unwrap(),
            Barrier::new(2).unwrap(),
        );
        let many: Vec<Lock> = (0..5000).map(|_| Lock::new().unwrap()).collect();
        assert!(shared_mappings() > maps);
        assert!(shared_fds() > fds);
        let p = spawn(use_them, (lock.clone(), rlock.clone(), sem.clone()));
        assert_eq!(join(&p), 0);
        drop((lock, rlock, sem, bounded, others, many));
    }
    assert_eq!(
        shared_mappings(),
        maps,
        "every segment is unmapped once its objects are dropped"
    );
    assert_eq!(shared_fds(), fds, "every segment's descriptor is closed");
}

// ---- Sharing by inheritance only -------------------------------------------------------------

/// What an object of ours refused through a channel says: CPython's `context.assert_spawning`
/// raises `RuntimeError: Lock objects should only be shared between processes through
/// inheritance`; here the sender gets a codec error with the same words.
fn refused(result: multiprocessing::Result<()>, what: &str) {
    let err = result.expect_err(what);
    assert!(matches!(err, Error::Codec(_)), "{what}: {err}");
    assert!(
        err.to_string()
            .contains("should only be shared between processes through inheritance"),
        "{what}: {err}"
    );
}

/// CPython's `SemLock.__getstate__` (`context.assert_spawning`): a lock, semaphore, event,
/// condition or barrier reaches another process by inheritance only. Sent through a Pipe it is
/// refused at the sender, where before its descriptor number crossed and the receiver used the
/// memory only if it happened to map that segment already. Nothing is half-sent: the connection
/// goes on working.
fn assert_spawning_refuses_sync_objects_through_a_pipe() {
    let (a, b) = multiprocessing::Pipe(true).unwrap();
    refused(a.send(&Lock::new().unwrap()), "a Lock");
    refused(a.send(&RLock::new().unwrap()), "an RLock");
    refused(a.send(&Semaphore::new(1).unwrap()), "a Semaphore");
    refused(a.send(&BoundedSemaphore::new(1).unwrap()), "a BoundedSemaphore");
    refused(a.send(&Event::new().unwrap()), "an Event");
    refused(a.send(&Condition::new().unwrap()), "a Condition");
    refused(a.send(&Barrier::new(2).unwrap()), "a Barrier");
    refused(a.send(&(1u32, Lock::new().unwrap())), "a Lock inside a tuple");
    let err = multiprocessing::codec::encode(&Lock::new().unwrap()).unwrap_err();
    assert!(err.to_string().contains("Lock"), "{err}");
    a.send(&7u32).unwrap();
    assert_eq!(b.recv::<u32>().unwrap(), 7);
}

/// As above, through a Queue: `put` fails and the queue takes the next item.
fn assert_spawning_refuses_a_lock_through_a_queue() {
    let q: multiprocessing::Queue<(u32, Option<Lock>)> = multiprocessing::Queue::new(0).unwrap();
    refused(q.put((1, Some(Lock::new().unwrap()))), "a Lock through a Queue");
    q.put((2, None)).unwrap();
    let (n, lock) = q.get().unwrap();
    assert_eq!((n, lock.is_none()), (2, true));
}

/// As above, as a pool task's argument: `apply` fails, and the pool runs the next task.
fn assert_spawning_refuses_a_lock_as_a_pool_task() {
    fn locked(lock: Lock) -> bool {
        lock.is_locked()
    }
    fn double(n: u32) -> u32 {
        n * 2
    }
    let pool = multiprocessing::Pool::new(1).unwrap();
    let err = pool.apply(locked, Lock::new().unwrap()).unwrap_err();
    assert!(matches!(err, Error::Codec(_)), "{err}");
    assert_eq!(pool.apply(double, 21).unwrap(), 42);
}

/// A barrier with an action can go to a child (as a code offset), nowhere else.
fn a_barrier_with_an_action_is_refused_too() {
    let barrier = Barrier::new(2).unwrap().with_action(count_action);
    let err = multiprocessing::codec::encode(&barrier).unwrap_err();
    assert!(err.to_string().contains("Barrier"), "{err}");
}

fn main() -> std::process::ExitCode {
    // A spawned child re-runs this binary: let it become the child here.
    multiprocessing::freeze_support();
    const TESTS: &[Test] = &[
        case!(lock_release_from_another_process),
        case!(lock_release_unlocked_is_error),
        case!(lock_acquire_timeout_within_bound),
        case!(lock_waiter_sleeps_until_release),
        case!(lock_owner_killed_is_recovered),
        case!(lock_owner_died_while_waiters_sleep),
        case!(test_repr_lock),
        case!(test_repr_rlock),
        case!(rlock_recursion_and_ownership),
        case!(rlock_waiter_gets_it_after_full_release),
        case!(rlock_owner_killed_is_recovered),
        case!(rlock_guard_dropped_after_a_hand_release_frees_nothing),
        case!(semaphore_waiter_woken_by_release),
        case!(semaphore_timeout_within_bound),
        case!(semaphore_counts_across_processes),
        case!(bounded_semaphore_refuses_reliably),
        case!(event_set_wakes_every_waiter),
        case!(event_wait_timeout_within_bound),
        case!(condition_notify_wakes_exactly_n),
        case!(condition_wait_releases_a_recursive_hold),
        case!(condition_needs_the_lock_and_times_out),
        case!(condition_survives_a_dead_waiter),
        case!(barrier_releases_all_parties_with_distinct_indices),
        case!(barrier_timeout_breaks_it_for_everyone),
        case!(barrier_abort_and_reset),
        case!(barrier_many_rounds),
        case!(barrier_party_killed_in_wait_is_not_counted, 30),
        case!(barrier_party_killed_while_draining_does_not_block, 30),
        case!(locks_work_between_threads_too),
        case!(semaphore_limits_concurrency),
        case!(sync_objects_under_spawn),
        case!(no_shared_memory_left_behind),
        case!(assert_spawning_refuses_sync_objects_through_a_pipe),
        case!(assert_spawning_refuses_a_lock_through_a_queue),
        case!(assert_spawning_refuses_a_lock_as_a_pool_task),
        case!(a_barrier_with_an_action_is_refused_too),
    ];
    common::run(TESTS)
}

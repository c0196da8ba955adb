//! Faults, tried again and again: workers, lock holders, manager clients, manager servers and
//! parents killed by `SIGKILL` at awkward moments. Each test says what must survive and bounds
//! every wait; the harness fails a test that leaves any process behind in its group.
//!
//! The README's "Reliability" section quotes these tests' numbers.

#[macro_use]
mod common;

use std::time::{Duration, Instant};

use common::{assert_no_children, eventually, join_with, nap_ms, pid_exists, start};
use multiprocessing::{
    Connection, Error, Lock, LockProxy, Manager, Pipe, Pool, Process, QueueProxy, RLock, Semaphore,
    active_children, freeze_support, get_context,
};
use nix::sys::signal::{Signal, kill};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::Pid;

fn kill9(pid: i32) {
    let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
}

fn square(x: u64) -> u64 {
    x * x
}

/// Takes the child's "I hold it" signal, within a bound.
fn wait_ready(ready: &Semaphore) {
    ready
        .acquire_timeout(Duration::from_secs(20))
        .expect("the child took the lock")
        .keep();
}

/// A worker is killed while `map` runs, 100 times over, at a different moment each time: every
/// call returns (the results, or an error naming the task the dead worker ran), and the pool
/// goes on with four live workers and nothing else.
fn pool_worker_killed_mid_map_100_times() {
    const ROUNDS: usize = 100;
    let pool = Pool::new(4).unwrap();
    let started = Instant::now();
    let (mut failed, mut succeeded) = (0, 0);
    let mut slowest = Duration::ZERO;
    for round in 0..ROUNDS {
        // Eight 30 ms tasks on four workers: about 60 ms of work, the kill lands at 0-25 ms.
        let result = pool.map_async_chunked(nap_ms, vec![30; 8], 1).unwrap();
        let delay = Duration::from_millis((round % 6 * 5) as u64);
        let _ = result.wait_timeout(delay).unwrap();
        let pids = pool.pids();
        let victim = pids[round % pids.len()];
        kill9(victim);
        let asked = Instant::now();
        match result.get_timeout(Duration::from_secs(20)) {
            Ok(values) => {
                assert_eq!(values, vec![30; 8], "round {round}");
                succeeded += 1;
            }
            Err(e) => {
                let text = e.to_string();
                assert!(matches!(e, Error::WorkerLost(_)), "round {round}: {e:?}");
                assert!(
                    // ForkPoolWorker-N, SpawnPoolWorker-N or ForkServerPoolWorker-N, after the
                    // start method the suite runs under (MP_TEST_START_METHOD).
                    text.contains("Pool(4): worker ")
                        && text.contains("PoolWorker-")
                        && text.contains("was killed by SIGKILL while running task "),
                    "round {round}: {text}"
                );
                failed += 1;
            }
        }
        slowest = slowest.max(asked.elapsed());
        assert!(
            !pool.pids().contains(&victim),
            "round {round}: the victim is gone"
        );
    }
    // Many kills land mid-task (here about two in three; the ones that land between tasks cost
    // nothing at all). A loaded machine shifts the share, so the bound is loose.
    assert!(failed >= ROUNDS / 5, "only {failed} of {ROUNDS} kills hit a task");
    // The pool still works, at its size, and holds no process but its workers.
    let expected: Vec<u64> = (0..1000).map(|x| x * x).collect();
    assert_eq!(pool.map(square, 0..1000).unwrap(), expected);
    assert_eq!(pool.pids().len(), 4);
    assert_eq!(active_children().len(), 4);
    println!(
        "{ROUNDS} kills in {:.1?}: {failed} calls failed naming the task, {succeeded} returned \
         every result; slowest return after a kill {slowest:.1?}",
        started.elapsed()
    );
    drop(pool);
    assert_no_children();
}

/// A `Lock`, an `RLock` (held twice over) and a manager lock, each held by a process killed by
/// `SIGKILL`, ten times each: the next acquirer gets the lock within a bound every time.
fn killed_lock_holders_are_recovered() {
    fn hold_lock((lock, ready): (Lock, Semaphore)) {
        lock.acquire().keep();
        ready.release().unwrap();
        std::thread::sleep(Duration::from_secs(60));
    }
    fn hold_rlock((lock, ready): (RLock, Semaphore)) {
        lock.acquire().keep();
        lock.acquire().keep();
        ready.release().unwrap();
        std::thread::sleep(Duration::from_secs(60));
    }
    fn hold_proxy((lock, ready): (LockProxy, Semaphore)) {
        lock.acquire().unwrap();
        ready.release().unwrap();
        std::thread::sleep(Duration::from_secs(60));
    }
    const ROUNDS: usize = 10;
    let bound = Duration::from_secs(10);
    let ready = Semaphore::new(0).unwrap();
    let mut slowest = Duration::ZERO;

    let lock = Lock::new().unwrap();
    let rlock = RLock::new().unwrap();
    let manager = Manager::new().unwrap();
    let proxy = manager.lock().unwrap();
    for round in 0..ROUNDS {
        let p = start(Process::new(hold_lock, (lock.clone(), ready.clone())));
        wait_ready(&ready);
        assert!(lock.try_acquire().is_none(), "round {round}: the child holds it");
        kill9(p.pid().unwrap());
        let t = Instant::now();
        let guard = lock
            .acquire_timeout(bound)
            .unwrap_or_else(|| panic!("round {round}: Lock not recovered"));
        slowest = slowest.max(t.elapsed());
        assert!(guard.owner_died(), "round {round}");
        drop(guard);
        join_with(&p, -9);

        let p = start(Process::new(hold_rlock, (rlock.clone(), ready.clone())));
        wait_ready(&ready);
        assert!(rlock.try_acquire().is_none(), "round {round}: the child holds it");
        kill9(p.pid().unwrap());
        let t = Instant::now();
        let guard = rlock
            .acquire_timeout(bound)
            .unwrap_or_else(|| panic!("round {round}: RLock not recovered"));
        slowest = slowest.max(t.elapsed());
        assert!(guard.owner_died(), "round {round}");
        // The dead owner's recursion is not inherited: one release frees it.
        assert_eq!(rlock.recursion(), 1, "round {round}");
        drop(guard);
        assert!(!rlock.is_owned());
        join_with(&p, -9);

        let p = start(Process::new(hold_proxy, (proxy.clone(), ready.clone())));
        wait_ready(&ready);
        assert!(proxy.locked().unwrap(), "round {round}: the child holds it");
        kill9(p.pid().unwrap());
        let t = Instant::now();
        assert!(
            proxy.acquire_timeout(bound).unwrap(),
            "round {round}: manager lock not recovered"
        );
        slowest = slowest.max(t.elapsed());
        proxy.release().unwrap();
        join_with(&p, -9);
    }
    println!("{ROUNDS} rounds of 3 killed holders; slowest recovery {slowest:.1?}");
    drop(manager);
    assert_no_children();
}

/// Clients of one manager killed at random moments of a busy request loop, twenty times: the
/// server goes on serving the others, whose counts stay exact. Then the server is killed under
/// four busy clients and a blocked one: each gets an error naming the manager, at once.
fn manager_clients_and_server_killed() {
    fn busy((d, me): (multiprocessing::DictProxy<String, u64>, u64)) {
        for i in 0.. {
            d.set(&format!("busy-{me}"), &i).unwrap();
            let _ = d.get(&format!("busy-{me}")).unwrap();
        }
    }
    fn counted((d, lock, n): (multiprocessing::DictProxy<String, u64>, LockProxy, u64)) {
        for _ in 0..n {
            lock.acquire().unwrap();
            let v = d.get("count").unwrap().unwrap_or(0);
            d.set("count", &(v + 1)).unwrap();
            lock.release().unwrap();
        }
    }
    /// Works until the server dies, then checks the error: exit code 0 means a clear one.
    fn until_the_server_dies(d: multiprocessing::DictProxy<String, u64>) {
        let t = loop {
            if let Err(e) = d.set("k", &1) {
                break (e, Instant::now());
            }
        };
        let (e, _) = t;
        let text = e.to_string();
        assert!(
            text.contains("SyncManager-1") && text.contains("shut down or died"),
            "{text}"
        );
        // Later calls fail as clearly, and quickly.
        let e = d.get("k").unwrap_err();
        assert!(e.to_string().contains("SyncManager-1"), "{e}");
    }
    fn blocked_get(q: QueueProxy<u64>) {
        let e = q.get().unwrap_err();
        assert!(e.to_string().contains("SyncManager-1"), "{e}");
    }
    const KILLS: usize = 20;
    let mut manager = Manager::new().unwrap();
    let d = manager.dict::<String, u64>().unwrap();
    let lock = manager.lock().unwrap();
    let q = manager.queue::<u64>().unwrap();
    // Two honest clients count to 200 each under the lock while others are killed around them.
    let honest: Vec<Process> = (0..2)
        .map(|_| start(Process::new(counted, (d.clone(), lock.clone(), 200))))
        .collect();
    for k in 0..KILLS {
        let p = start(Process::new(busy, (d.clone(), k as u64)));
        std::thread::sleep(Duration::from_millis(10 + (k as u64 * 7) % 40));
        kill9(p.pid().unwrap());
        join_with(&p, -9);
        // The server answers at once after each kill.
        let t = Instant::now();
        d.set("alive", &(k as u64)).unwrap();
        assert!(
            t.elapsed() < Duration::from_secs(5),
            "kill {k}: {:?}",
            t.elapsed()
        );
    }
    honest.iter().for_each(|p| join_with(p, 0));
    assert_eq!(d.get("count").unwrap(), Some(400), "no increment lost or doubled");
    assert!(!lock.locked().unwrap());

    let clients: Vec<Process> = (0..4)
        .map(|_| start(Process::new(until_the_server_dies, d.clone())))
        .collect();
    let getter = start(Process::new(blocked_get, q.clone()));
    std::thread::sleep(Duration::from_millis(300));
    let server = manager.pid().unwrap();
    kill9(server);
    let t = Instant::now();
    for p in clients.iter().chain([&getter]) {
        join_with(p, 0);
    }
    let all_told = t.elapsed();
    assert!(all_told < Duration::from_secs(10), "{all_told:?}");
    let e = d.get("count").unwrap_err();
    assert!(e.to_string().contains("shut down or died"), "{e}");
    println!(
        "{KILLS} clients killed mid-request, 400 locked increments exact; server killed under 5 \
         clients, all told within {all_told:.1?}"
    );
    manager.shutdown().unwrap();
    assert!(!pid_exists(server));
    assert_no_children();
}

fn sleeper(seconds: u64) {
    std::thread::sleep(Duration::from_secs(seconds));
}

/// Does nothing: a handler for `SIGTERM` such as a program installs to shut down cleanly
/// (signal-hook's `flag::register` installs one like it), which catches the signal instead of
/// dying of it.
extern "C" fn note_sigterm(_: std::ffi::c_int) {}

/// Installs [`note_sigterm`] for `SIGTERM` in the calling process; its forked children inherit it.
#[expect(
    unsafe_code,
    reason = "installing a signal handler, as a program using signal-hook does"
)]
fn install_sigterm_handler() {
    use nix::sys::signal::{SaFlags, SigAction, SigHandler, SigSet, sigaction};
    let action = SigAction::new(
        SigHandler::Handler(note_sigterm),
        SaFlags::SA_RESTART,
        SigSet::empty(),
    );
    // SAFETY: the handler does nothing, so it is async-signal-safe, and it is a plain function
    // that lives as long as the program.
    unsafe { sigaction(Signal::SIGTERM, &action) }.expect("sigaction(SIGTERM)");
}

/// The middle process with a `SIGTERM` handler of its own, installed before it starts anything.
fn middle_with_handler(report: Connection) {
    install_sigterm_handler();
    middle(report);
}

/// The middle process: starts a daemon child (forked), a daemon child (spawned), a non-daemon
/// child and a pool of forked workers, reports their pids, and waits to be killed.
///
/// The start methods are explicit, whatever `MP_TEST_START_METHOD` says: under `forkserver` a
/// daemon is the fork server's child and dies with the server (see `Process`'s docs), and the
/// killed middle's server would be an orphan this test cannot reap.
fn middle(report: Connection) {
    let fork = get_context("fork").unwrap();
    let mut daemon = fork.process(sleeper, 60).with_daemon(true);
    daemon.start().unwrap();
    let mut spawned = get_context("spawn")
        .unwrap()
        .process(sleeper, 60)
        .with_daemon(true);
    spawned.start().unwrap();
    let mut plain = fork.process(sleeper, 60);
    plain.start().unwrap();
    let pool = fork.pool(2).unwrap();
    // The workers are up and have asked for work.
    assert_eq!(pool.map(square, 0..4).unwrap(), [0, 1, 4, 9]);
    let mut pids = vec![
        plain.pid().unwrap(),
        daemon.pid().unwrap(),
        spawned.pid().unwrap(),
    ];
    pids.extend(pool.pids());
    report.send(&pids).unwrap();
    std::thread::sleep(Duration::from_secs(60));
}

/// Reaps `pid` (adopted by us, the subreaper) once it has ended; `false` while it runs.
fn reaped(pid: i32) -> bool {
    match waitpid(Pid::from_raw(pid), Some(WaitPidFlag::WNOHANG)) {
        Ok(WaitStatus::StillAlive) => false,
        Ok(_) => true,
        // Not our child (any more): it was reaped, or it is not ours to reap.
        Err(_) => !pid_exists(pid),
    }
}

/// A process that started daemon children and a pool is killed by `SIGKILL`: the daemons and
/// the pool workers die with it (`PR_SET_PDEATHSIG`), within a bound, ten times over. Its
/// non-daemonic child lives on, as in CPython.
fn killed_parent_takes_its_daemons_and_workers() {
    killed_parent_takes_its_tied_children(middle, 10);
}

/// Issue 14, item 2: the same with a parent that handles `SIGTERM` (as a program using
/// signal-hook does), which its forked children inherit. A parent-death signal the handler can
/// catch would leave them running for ever.
fn killed_parent_with_a_sigterm_handler_takes_its_daemons_and_workers() {
    killed_parent_takes_its_tied_children(middle_with_handler, 3);
}

fn killed_parent_takes_its_tied_children(middle: fn(Connection), rounds: usize) {
    // Orphans are adopted by this process rather than by PID 1, so we can see them end and
    // reap them ourselves.
    nix::sys::prctl::set_child_subreaper(true).unwrap();
    let bound = Duration::from_secs(5);
    let mut slowest = Duration::ZERO;
    for round in 0..rounds {
        let (ours, theirs) = Pipe(false).unwrap();
        let p = start(get_context("fork").unwrap().process(middle, theirs));
        assert!(
            ours.poll(Some(Duration::from_secs(30))).unwrap(),
            "round {round}: no report from the middle process"
        );
        let pids: Vec<i32> = ours.recv().unwrap();
        assert_eq!(pids.len(), 5);
        assert!(pids.iter().all(|&pid| pid_exists(pid)));
        kill9(p.pid().unwrap());
        join_with(&p, -9);
        let t = Instant::now();
        let (plain, tied) = (pids[0], &pids[1..]);
        eventually(
            bound,
            "the daemons and pool workers die with their parent",
            || tied.iter().all(|&pid| reaped(pid)),
        );
        slowest = slowest.max(t.elapsed());
        // The non-daemonic child is not tied: it runs on until we end it.
        assert!(pid_exists(plain) && !reaped(plain), "round {round}");
        kill9(plain);
        eventually(bound, "the plain child is reaped", || reaped(plain));
    }
    println!(
        "{rounds} parents killed; their 2 daemons and 2 pool workers were gone within \
         {slowest:.1?} each time"
    );
}

/// The race `PR_SET_PDEATHSIG` leaves open: a parent killed right after the fork, before the
/// child asked for the signal. The child's check of `getppid()` closes it; fifty parents
/// killed at once after starting a daemon leave no daemon behind.
fn parent_killed_right_after_the_fork() {
    fn starter(report: Connection) {
        let mut daemon = get_context("fork")
            .unwrap()
            .process(sleeper, 60)
            .with_daemon(true);
        daemon.start().unwrap();
        report.send(&daemon.pid().unwrap()).unwrap();
        std::thread::sleep(Duration::from_secs(60));
    }
    nix::sys::prctl::set_child_subreaper(true).unwrap();
    const ROUNDS: usize = 50;
    for round in 0..ROUNDS {
        let (ours, theirs) = Pipe(false).unwrap();
        let p = start(get_context("fork").unwrap().process(starter, theirs));
        // Kill as soon as the daemon exists, which may be before it called prctl.
        assert!(ours.poll(Some(Duration::from_secs(30))).unwrap(), "round {round}");
        let daemon: i32 = ours.recv().unwrap();
        kill9(p.pid().unwrap());
        join_with(&p, -9);
        eventually(Duration::from_secs(5), "the daemon died with its parent", || {
            reaped(daemon)
        });
    }
}

/// The kernel sends the parent-death signal when the *thread* that forked ends, so only
/// children forked by the main thread are tied: a daemon started from a thread that then ends
/// lives on, and is still ended at the parent's exit.
fn daemon_started_by_a_thread_outlives_the_thread() {
    let pid = std::thread::spawn(|| {
        let mut p = get_context("fork")
            .unwrap()
            .process(sleeper, 60)
            .with_daemon(true);
        p.start().unwrap();
        // Long enough for the child to have asked for a parent-death signal, were it tied.
        std::thread::sleep(Duration::from_millis(300));
        p.pid().unwrap()
    })
    .join()
    .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    // Running, not a zombie (which `kill(pid, 0)` would also find).
    let state = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            s.rsplit_once(')')
                .and_then(|(_, rest)| rest.trim_start().chars().next())
        });
    assert!(
        matches!(state, Some('S' | 'R')),
        "the daemon was killed when its starting thread ended (state {state:?})"
    );
    let children = active_children();
    assert_eq!(children.len(), 1);
    assert!(children[0].daemon());
    kill9(pid);
    eventually(Duration::from_secs(10), "the daemon is reaped", || {
        active_children().is_empty()
    });
}

fn main() -> std::process::ExitCode {
    // The middle process starts a child with the spawn method: a new run of this binary.
    freeze_support();
    common::run(&[
        case!(pool_worker_killed_mid_map_100_times, 240),
        case!(killed_lock_holders_are_recovered, 120),
        case!(manager_clients_and_server_killed, 120),
        case!(killed_parent_takes_its_daemons_and_workers, 180),
        case!(
            killed_parent_with_a_sigterm_handler_takes_its_daemons_and_workers,
            120
        ),
        case!(parent_killed_right_after_the_fork),
        case!(daemon_started_by_a_thread_outlives_the_thread),
    ])
}

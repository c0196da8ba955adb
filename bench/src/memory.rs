//! Footprint workloads: the resident (RSS) and proportional (PSS) memory of a `Pool(4)` worker,
//! the `Manager` server and the parent, read from `/proc/<pid>/smaps_rollup`.
//!
//! Every `mem_*` workload sets up the same scene, as `bench_mp.py` does: a `Pool(4)` that has
//! run a warm-up `map`, and a `Manager` whose dict has been written and read. Then it reads one
//! figure of one kind of process. For the workers it is the mean of the four.
//!
//! RSS counts every page a process has mapped in, including the ones it shares with its parent
//! after `fork` (the code, the libraries, the copy-on-write heap): summed over processes it
//! overcounts. PSS divides each shared page among the processes that map it, so the PSS of all
//! processes adds up to the memory they use together.

use multiprocessing::{DictProxy, Manager, Pool};

/// The workloads of this module.
pub(crate) const NAMES: &[&str] = &[
    "mem_pool_worker_rss",
    "mem_pool_worker_pss",
    "mem_manager_rss",
    "mem_manager_pss",
    "mem_parent_rss",
    "mem_parent_pss",
];

/// Runs `name` if it is one of ours.
pub(crate) fn run(name: &str, _quick: bool) -> Option<(&'static str, f64)> {
    Some(match name {
        "mem_pool_worker_rss" => ("kB", footprint(Who::Workers, "Rss")),
        "mem_pool_worker_pss" => ("kB", footprint(Who::Workers, "Pss")),
        "mem_manager_rss" => ("kB", footprint(Who::Manager, "Rss")),
        "mem_manager_pss" => ("kB", footprint(Who::Manager, "Pss")),
        "mem_parent_rss" => ("kB", footprint(Who::Parent, "Rss")),
        "mem_parent_pss" => ("kB", footprint(Who::Parent, "Pss")),
        _ => return None,
    })
}

#[derive(Clone, Copy)]
enum Who {
    Workers,
    Manager,
    Parent,
}

fn square(x: u64) -> u64 {
    x * x
}

/// One field (`Rss`, `Pss`) of `/proc/<pid>/smaps_rollup`, in kB.
fn rollup_kb(pid: i32, field: &str) -> f64 {
    let path = format!("/proc/{pid}/smaps_rollup");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {path}: {e}"));
    text.lines()
        .find_map(|line| {
            let rest = line.strip_prefix(field)?.strip_prefix(':')?;
            rest.trim().strip_suffix("kB")?.trim().parse::<f64>().ok()
        })
        .unwrap_or_else(|| panic!("no {field} line in {path}"))
}

/// The scene, then the figure.
fn footprint(who: Who, field: &str) -> f64 {
    let pool = Pool::new(4).expect("Pool::new");
    let squares = pool.map(square, 0..1000).expect("warm-up map");
    assert_eq!(squares[999], 999 * 999);
    let manager = Manager::new().expect("Manager::new");
    let d: DictProxy<String, u64> = manager.dict().expect("dict");
    d.set(&"k".to_string(), &1).expect("set");
    assert_eq!(d.get(&"k".to_string()).expect("get"), Some(1));
    // Let every worker finish its reply and settle before its memory is read.
    std::thread::sleep(std::time::Duration::from_millis(100));
    match who {
        Who::Workers => {
            let pids = pool.pids();
            assert_eq!(pids.len(), 4, "Pool(4) has four workers");
            pids.iter().map(|&pid| rollup_kb(pid, field)).sum::<f64>() / pids.len() as f64
        }
        Who::Manager => rollup_kb(manager.pid().expect("a started manager has a pid"), field),
        Who::Parent => rollup_kb(std::process::id() as i32, field),
    }
}

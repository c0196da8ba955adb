//! The tutorial's sections, in its order, with their own Chinese titles, and the book's own
//! words about each, in Chinese and in English.
//!
//! The titles are quoted exactly as the tutorial writes them (`3.multiproessing模块介绍`
//! included); the book quotes nothing else of the tutorial. An example belongs to the section
//! its ID starts with (`3.1.2` to section 3).

/// One section of the tutorial.
pub struct Section {
    pub number: u32,
    /// The tutorial's own title.
    pub title: &'static str,
    /// The book's English name for it.
    pub en: &'static str,
    /// What the book's page holds, in Chinese, then in English.
    pub zh_about: &'static str,
    pub en_about: &'static str,
}

impl Section {
    /// The page's file name.
    pub fn file(&self) -> String {
        format!("sec-{}.html", self.number)
    }
}

/// The section an example ID belongs to.
pub fn number_of(id: &str) -> u32 {
    id.split('.').next().and_then(|n| n.parse().ok()).unwrap_or(0)
}

#[rustfmt::skip]
pub const SECTIONS: &[Section] = &[
    Section {
        number: 1,
        title: "1. 进程的基本概念",
        en: "What a process is",
        zh_about: "这一节讲概念，没有程序。后面每个示例里的进程都是真实的操作系统进程：Rust 一侧由 fork、spawn 或 forkserver 启动，和 CPython 一样。",
        en_about: "This section teaches ideas and has no program. Every process in the examples that follow is a real operating-system process: the Rust side starts them by fork, spawn or forkserver, as CPython does.",
    },
    Section {
        number: 2,
        title: "2. Python 中与进程相关的模块",
        en: "Python's modules for processes",
        zh_about: "`multiprocessing` 启动五个进程；`subprocess` 运行外部命令。Rust 一侧分别是本项目的运行时和标准库的 `std::process::Command`。",
        en_about: "`multiprocessing` starts five processes; `subprocess` runs an external command. On the Rust side these are this project's runtime and the standard library's `std::process::Command`.",
    },
    Section {
        number: 3,
        title: "3.multiproessing模块介绍",
        en: "The multiprocessing module",
        zh_about: "核心对象（Process、Pool、Queue、Pipe、Manager、Value/Array）、同步原语和其他函数，每个一例。标着「我们补充」的程序是教程只描述、没有给出代码的内容。",
        en_about: "The core objects (Process, Pool, Queue, Pipe, Manager, Value/Array), the synchronization primitives and the other functions, one example each. Programs marked \"ours\" show what the tutorial describes without code.",
    },
    Section {
        number: 4,
        title: "4.总结",
        en: "Summary",
        zh_about: "这一节是总结，没有程序。",
        en_about: "This section sums up and has no program.",
    },
    Section {
        number: 5,
        title: "5.multiprocessing任务",
        en: "multiprocessing tasks",
        zh_about: "示例 1 到示例 7：与第 3 节相同的对象，换成教程「示例」的写法和输出。",
        en_about: "示例 1 to 示例 7: the objects of section 3 again, in the wording and output of the tutorial's examples.",
    },
    Section {
        number: 6,
        title: "6.pool多进程耗时更高情况",
        en: "When the pool takes longer",
        zh_about: "进程池比单进程循环慢的程序，和教程的两个改法。下面的测量在两种语言里扫过每个任务的计算量，看进程池从哪里开始赢。",
        en_about: "A pool slower than a plain loop, and the tutorial's two fixes. The measurements below sweep the work per task, in both languages, to find where the pool starts to win.",
    },
    Section {
        number: 7,
        title: "7.进程间通信IPC",
        en: "Inter-process communication",
        zh_about: "教程给出了 chunksize=1 和 chunksize=25 时的消息数表格，没有程序。这里两种语言都真的数了：任务消息、结果消息和字节数。",
        en_about: "The tutorial gives a table of message counts for chunksize=1 and chunksize=25, without a program. Here both languages really count them: task messages, result messages and bytes.",
    },
    Section {
        number: 8,
        title: "8.进程池pool仅一个进程运行",
        en: "A pool where one process runs everything",
        zh_about: "十个轻任务常常全由一个工作进程完成。下面的测量按启动方式统计这种情况出现的比例，Rust 与 CPython 并列。",
        en_about: "Ten light tasks are often all run by one worker. The measurements below count how often that happens, per start method, Rust beside CPython.",
    },
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_example_belongs_to_a_section_in_order() {
        for e in crate::registry::EXAMPLES {
            assert!(SECTIONS.iter().any(|s| s.number == number_of(e.id)), "{}", e.id);
        }
        let numbers: Vec<u32> = SECTIONS.iter().map(|s| s.number).collect();
        assert_eq!(numbers, (1..=8).collect::<Vec<_>>());
    }

    /// The titles are the tutorial's own: checked against it where it is at hand (beside the
    /// clone, as the project's shared folder lays it out).
    #[test]
    fn titles_are_the_tutorials_headings() {
        let root = crate::registry::workspace_root();
        let candidates = [
            root.join("../shared/tutorial/multiprocessing.zh.md"),
            root.join("../../shared/tutorial/multiprocessing.zh.md"),
        ];
        let Some(text) = candidates.iter().find_map(|p| std::fs::read_to_string(p).ok()) else {
            eprintln!("the tutorial is not beside this clone; titles not compared");
            return;
        };
        let headings: Vec<&str> = text
            .lines()
            .filter_map(|l| l.strip_prefix("# ").or_else(|| l.strip_prefix("## ")))
            .map(str::trim)
            .collect();
        for s in SECTIONS {
            assert!(
                headings.contains(&s.title),
                "`{}` is not a heading of the tutorial",
                s.title
            );
        }
    }
}

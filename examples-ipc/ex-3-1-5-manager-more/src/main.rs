//! What else a Manager shares: a list, a Namespace and a Queue, and a manager on a TCP address
//! that another process reaches with an authkey (CPython's `BaseManager(address, authkey)`).
//!
//! Tutorial: 3 / 1.5 "Manager" names lists, dicts, queues and namespaces; this is ours.
//! Run: `cargo run -p ex-3-1-5-manager-more`.
//!
//! Differences from the Python:
//! - Proxies are typed: `manager.list::<i32>()`, `manager.queue::<Option<String>>()`; a Namespace
//!   attribute is read as a given type, `ns.get::<i32>("x")` for `ns.x`.
//!   中文：代理有类型：`manager.list::<i32>()`、`manager.queue::<Option<String>>()`；Namespace 的属
//!   性按指定类型读取，`ns.x` 写成 `ns.get::<i32>("x")`。
//! - CPython's `RemoteManager.register("shared", callable=...)` becomes `server.register("shared",
//!   &proxy)`, and the client's `client.shared()` becomes `client.get::<DictProxy<..>>("shared")`.
//!   中文：CPython 的 `RemoteManager.register("shared", callable=...)` 对
//!   应 `server.register("shared", &proxy)`，客户端的 `client.shared()` 对
//!   应 `client.get::<DictProxy<..>>("shared")`。
//! - The remote manager listens on 127.0.0.1 with port 0: the system picks a free port.
//!   中文：远程管理器监听 127.0.0.1 的 0 号端口：由系统挑一个空闲端口。

use multiprocessing::{Address, DictProxy, ListProxy, Manager, NamespaceProxy, Process, QueueProxy};

fn list_worker((shared_list, i): (ListProxy<i32>, i32)) {
    shared_list.append(&(i * i)).expect("the manager is running");
}

fn namespace_worker(ns: NamespaceProxy) {
    let x: i32 = ns.get("x").expect("x was set");
    ns.set("x", &(x * 2)).expect("the manager is running");
}

fn producer(q: QueueProxy<Option<String>>) {
    for i in 0..3 {
        q.put(&Some(format!("消息 {i}"))).expect("the manager is running");
    }
    q.put(&None).expect("the manager is running");
}

fn remote_client((address, authkey): (Address, Vec<u8>)) {
    let client = Manager::connect(&address, &authkey).expect("the key is right");
    let shared = client
        .get::<DictProxy<String, String>>("shared")
        .expect("the server registered it");
    shared
        .set("来自客户端", &"你好".to_string())
        .expect("the manager is running");
}

fn main() -> anyhow::Result<()> {
    {
        let manager = Manager::new()?;

        // A list: every process appends; the order of arrival varies, so print it sorted.
        let shared_list = manager.list::<i32>()?;
        let mut processes = Vec::new();
        for i in 0..4 {
            let mut p = Process::new(list_worker, (shared_list.clone(), i));
            p.start()?;
            processes.push(p);
        }
        for p in &processes {
            p.join()?;
        }
        let mut squares = shared_list.copy()?.into_vec();
        squares.sort();
        println!("共享列表: {squares:?}");

        // A Namespace: attributes by name.
        let ns = manager.namespace()?;
        ns.set("x", &10)?;
        ns.set("name", "命名空间")?;
        let mut p = Process::new(namespace_worker, ns.clone());
        p.start()?;
        p.join()?;
        println!(
            "Namespace: x = {}, name = {}",
            ns.get::<i32>("x")?,
            ns.get::<String>("name")?
        );

        // A Queue: the producer ends with None, as a sentinel.
        let q = manager.queue::<Option<String>>()?;
        let mut p = Process::new(producer, q.clone());
        p.start()?;
        while let Some(item) = q.get()? {
            println!("队列收到: {item}");
        }
        p.join()?;
    }

    // A manager on a TCP address with an authkey, reached by a process that knows both.
    {
        let authkey = b"secret".to_vec();
        let server = Manager::serve(&"127.0.0.1:0".parse()?, &authkey)?;
        let shared = server.dict::<String, String>()?;
        server.register("shared", &shared)?;
        println!("远程管理器在 {} 上监听", server.address());

        let mut p = Process::new(remote_client, (server.address().clone(), authkey));
        p.start()?;
        p.join()?;
        println!("远程客户端写入后: {}", shared.copy()?);

        match Manager::connect(server.address(), b"wrong key") {
            Ok(_) => println!("错误的 authkey 竟然被接受了"),
            Err(e) => println!("错误的 authkey 被拒绝: {e}"),
        }
    }
    println!("Manager 更多示例结束。");
    Ok(())
}

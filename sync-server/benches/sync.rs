//! Sync benchmarks on loopback (a bench binary: `cargo bench -p sync-server --bench sync`):
//! a push of 5,000 organizations created offline, a first pull of a 50,000-organization
//! subtree into an empty replica, and an empty sync (latency, round trips, bytes on the
//! wire, counted by a byte-counting TCP relay in front of the server). The server runs in
//! this process on a tokio runtime; the client is the real `client-core` replica.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use client_core::protocol::{LoginRequest, RegisterRequest};
use client_core::sync::Remote;
use client_core::{NewChild, Replica};
use sync_server::Config;
use sync_server::identity::IdentityConfig;
use time::OffsetDateTime;

fn id_number(n: u32) -> String {
    let first17 = format!("51010419900101{:03}", n % 1000);
    format!(
        "{first17}{}",
        schemas::IdNumber::check_char(&first17).unwrap()
    )
}

fn rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .map(|kb| kb / 1024.0)
        .unwrap_or(f64::NAN)
}

/// A relay on a loopback port that forwards to `target` and counts the bytes each way.
fn counting_relay(target: std::net::SocketAddr) -> (String, Arc<AtomicU64>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let count = Arc::new(AtomicU64::new(0));
    let c = count.clone();
    std::thread::spawn(move || {
        for client in listener.incoming().flatten() {
            let server = TcpStream::connect(target).unwrap();
            client.set_nodelay(true).ok();
            server.set_nodelay(true).ok();
            for (mut from, mut to) in [
                (client.try_clone().unwrap(), server.try_clone().unwrap()),
                (server, client),
            ] {
                let c = c.clone();
                std::thread::spawn(move || {
                    let mut buf = [0u8; 16 * 1024];
                    while let Ok(n) = from.read(&mut buf) {
                        if n == 0 || to.write_all(&buf[..n]).is_err() {
                            break;
                        }
                        c.fetch_add(n as u64, Ordering::Relaxed);
                    }
                    let _ = to.shutdown(std::net::Shutdown::Write);
                });
            }
        }
    });
    (format!("http://{addr}"), count)
}

fn register_and_login(
    remote: &Remote,
    code: &str,
    org: &str,
    n: u32,
) -> client_core::protocol::LoginResponse {
    remote
        .register(&RegisterRequest {
            code: code.into(),
            org_id: org.into(),
            role: "书记".into(),
            name: "张三".into(),
            id_number: id_number(n),
            mobile: format!("138{n:08}"),
            join_year_month: "2005-05".into(),
            password: "secret123".into(),
        })
        .unwrap();
    remote
        .login(&LoginRequest {
            mobile: format!("138{n:08}"),
            password: "secret123".into(),
            org_id: None,
        })
        .unwrap()
}

fn branches(prefix: &str, n: usize) -> Vec<NewChild> {
    (0..n)
        .map(|i| NewChild {
            category: "团支部".into(),
            short_name: format!("{prefix}第{i}团支部"),
            industry: "农村".into(),
            ..NewChild::default()
        })
        .collect()
}

fn committees(prefix: &str, n: usize) -> Vec<NewChild> {
    (0..n)
        .map(|i| NewChild {
            category: "团委".into(),
            short_name: format!("{prefix}第{i}公司团委"),
            ..NewChild::default()
        })
        .collect()
}

fn main() {
    let dir = tempfile::TempDir::new().unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let running = rt
        .block_on(sync_server::start(Config {
            data_dir: dir.path().join("server"),
            listen: "127.0.0.1:0".parse().unwrap(),
            identity: IdentityConfig::default(),
            schedule: Default::default(),
            tls: None,
            net: Default::default(),
            trusted_proxies: Default::default(),
        }))
        .unwrap();
    let (url, wire) = counting_relay(running.addr);
    let remote = Remote::new(&url).unwrap();
    println!("sync benchmarks on loopback (release; client and server in one process, 2 cores)");

    // The city admin issues the codes of two districts.
    let city_login = register_and_login(
        &remote,
        running.first_code.as_ref().unwrap().code.as_str(),
        "org-5101",
        1,
    );
    let mut city =
        Replica::create_for_login(&dir.path().join("city.sqlite3"), &url, &city_login).unwrap();
    city.sync(&remote, &mut |_, _, _| {}).unwrap();
    let now = OffsetDateTime::now_utc();
    let jj_code = city.issue_code("org-510104", now).unwrap().code;
    let qy_code = city.issue_code("org-510105", now).unwrap().code;
    city.sync(&remote, &mut |_, _, _| {}).unwrap();

    // 1. Push of 5,000 organizations created offline.
    let jj_login = register_and_login(&remote, &jj_code, "org-510104", 2);
    let mut jj =
        Replica::create_for_login(&dir.path().join("jj.sqlite3"), &url, &jj_login).unwrap();
    jj.sync(&remote, &mut |_, _, _| {}).unwrap();
    let cs = jj
        .create_children("org-510104", &committees("锦江", 50), &mut |_, _| {})
        .unwrap();
    for (i, c) in cs.iter().enumerate() {
        jj.create_children(c, &branches(&format!("锦江{i}"), 99), &mut |_, _| {})
            .unwrap();
    }
    assert_eq!(jj.counts().unwrap().1, 5_000);
    let before = wire.load(Ordering::Relaxed);
    let t = Instant::now();
    let report = jj.sync(&remote, &mut |_, _, _| {}).unwrap();
    let push = t.elapsed();
    assert_eq!(report.pushed, 5_000);
    assert!(report.rejected.is_empty());
    println!(
        "push of 5,000 organizations created offline: {:.0} ms, {} round trips, {:.2} MB on the wire",
        push.as_secs_f64() * 1e3,
        report.round_trips,
        (wire.load(Ordering::Relaxed) - before) as f64 / 1e6
    );

    // 2. A 50,000-organization subtree (团青羊区委), then a first pull into an empty replica.
    let qy_login = register_and_login(&remote, &qy_code, "org-510105", 3);
    let mut qy =
        Replica::create_for_login(&dir.path().join("qy.sqlite3"), &url, &qy_login).unwrap();
    qy.sync(&remote, &mut |_, _, _| {}).unwrap();
    let t = Instant::now();
    let cs = qy
        .create_children("org-510105", &committees("青羊", 100), &mut |_, _| {})
        .unwrap();
    for (i, c) in cs.iter().enumerate() {
        qy.create_children(c, &branches(&format!("青羊{i}"), 499), &mut |_, _| {})
            .unwrap();
        if i % 25 == 24 {
            qy.sync(&remote, &mut |_, _, _| {}).unwrap();
        }
    }
    qy.sync(&remote, &mut |_, _, _| {}).unwrap();
    let build = t.elapsed();
    let total = qy.counts().unwrap().0;
    assert!(total >= 50_000, "{total}");
    drop(qy);
    let login = remote
        .login(&LoginRequest {
            mobile: format!("138{:08}", 3),
            password: "secret123".into(),
            org_id: None,
        })
        .unwrap();
    let mut fresh =
        Replica::create_for_login(&dir.path().join("qy-fresh.sqlite3"), &url, &login).unwrap();
    let rss_before = rss_mb();
    let before = wire.load(Ordering::Relaxed);
    let t = Instant::now();
    let report = fresh.sync(&remote, &mut |_, _, _| {}).unwrap();
    let pull = t.elapsed();
    assert_eq!(report.pulled as u64, total);
    println!(
        "pull of a {}-organization subtree into an empty replica: {:.0} ms, {} round trips, {:.2} MB on the wire (building it: {:.1} s); process RSS {:.0} MB after (before {:.0} MB)",
        total,
        pull.as_secs_f64() * 1e3,
        report.round_trips,
        (wire.load(Ordering::Relaxed) - before) as f64 / 1e6,
        build.as_secs_f64(),
        rss_mb(),
        rss_before
    );

    // 3. An empty sync.
    fresh.sync(&remote, &mut |_, _, _| {}).unwrap();
    let n = 200;
    let before = wire.load(Ordering::Relaxed);
    let mut times = Vec::with_capacity(n);
    for _ in 0..n {
        let t = Instant::now();
        let r = fresh.sync(&remote, &mut |_, _, _| {}).unwrap();
        times.push(t.elapsed().as_secs_f64() * 1e3);
        assert_eq!((r.pulled, r.pushed, r.round_trips), (0, 0, 1));
    }
    times.sort_by(f64::total_cmp);
    println!(
        "empty sync of the 50,000-organization replica: median {:.2} ms, p99 {:.2} ms, 1 round trip, {} bytes on the wire (request + response, HTTP headers included)",
        times[n / 2],
        times[n * 99 / 100],
        (wire.load(Ordering::Relaxed) - before) / n as u64
    );
    let db = dir.path().join("server").join("zhtj-server.sqlite3");
    println!(
        "server database: {:.1} MB for {} organizations",
        std::fs::metadata(&db)
            .map(|m| m.len() as f64 / 1e6)
            .unwrap_or(f64::NAN),
        total + 5_000 + 23
    );
    rt.shutdown_background();
}

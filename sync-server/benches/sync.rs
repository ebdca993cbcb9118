//! Sync benchmarks on loopback (a bench binary: `cargo bench -p sync-server --bench sync`):
//! a push of 5,000 organizations created offline, a first pull of a 50,000-organization
//! subtree into an empty replica, and an empty sync (latency, round trips, bytes on the
//! wire, counted by a TCP relay in front of the server: `support/link.rs` with no delay and
//! no bandwidth cap; `benches/rural.rs` runs the same through a slow link). The server runs in
//! this process on a tokio runtime; the client is the real `client-core` replica.

#[path = "support/fixtures.rs"]
mod fixtures;
#[path = "support/link.rs"]
mod link;

use std::time::Instant;

use client_core::Replica;
use client_core::sync::Remote;
use fixtures::{build_subtree, create_offline, login, register_and_login, start_server};
use link::{Relay, Shape};
use time::OffsetDateTime;

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

fn main() {
    let dir = tempfile::TempDir::new().unwrap();
    let (rt, running) = start_server(dir.path().join("server"));
    // A plain counting relay: loopback, no delay, no cap.
    let relay = Relay::symmetric(running.addr, Shape::NONE);
    let url = relay.url();
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
    create_offline(&mut jj, "org-510104", "锦江", 5_000);
    assert_eq!(jj.counts().unwrap().1, 5_000);
    let before = relay.traffic().total();
    let t = Instant::now();
    let report = jj.sync(&remote, &mut |_, _, _| {}).unwrap();
    let push = t.elapsed();
    assert_eq!(report.pushed, 5_000);
    assert!(report.rejected.is_empty());
    println!(
        "push of 5,000 organizations created offline: {:.0} ms, {} round trips, {:.2} MB on the wire",
        push.as_secs_f64() * 1e3,
        report.round_trips,
        (relay.traffic().total() - before) as f64 / 1e6
    );

    // 2. A 50,000-organization subtree (团青羊区委), then a first pull into an empty replica.
    let qy_login = register_and_login(&remote, &qy_code, "org-510105", 3);
    let mut qy =
        Replica::create_for_login(&dir.path().join("qy.sqlite3"), &url, &qy_login).unwrap();
    qy.sync(&remote, &mut |_, _, _| {}).unwrap();
    let t = Instant::now();
    build_subtree(&mut qy, &remote, "org-510105", "青羊", 50_000);
    let build = t.elapsed();
    let total = qy.counts().unwrap().0;
    assert!(total >= 50_000, "{total}");
    drop(qy);
    let login = login(&remote, 3);
    let mut fresh =
        Replica::create_for_login(&dir.path().join("qy-fresh.sqlite3"), &url, &login).unwrap();
    let rss_before = rss_mb();
    let before = relay.traffic().total();
    let t = Instant::now();
    let report = fresh.sync(&remote, &mut |_, _, _| {}).unwrap();
    let pull = t.elapsed();
    assert_eq!(report.pulled as u64, total);
    println!(
        "pull of a {}-organization subtree into an empty replica: {:.0} ms, {} round trips, {:.2} MB on the wire (building it: {:.1} s); process RSS {:.0} MB after (before {:.0} MB)",
        total,
        pull.as_secs_f64() * 1e3,
        report.round_trips,
        (relay.traffic().total() - before) as f64 / 1e6,
        build.as_secs_f64(),
        rss_mb(),
        rss_before
    );

    // 3. An empty sync.
    fresh.sync(&remote, &mut |_, _, _| {}).unwrap();
    let n = 200;
    let before = relay.traffic().total();
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
        (relay.traffic().total() - before) / n as u64
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

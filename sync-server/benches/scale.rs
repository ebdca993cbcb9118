//! A server holding a province's worth of organizations (issue 16; a bench binary:
//! `cargo bench -p sync-server --bench scale`): `zhtj-server demo --size N` writes the
//! generator's synthetic tree (N = `ZHTJ_SCALE_ORGS`, default 1,000,000; real documents,
//! admins and codes, the Chengdu tree grown below 团成都市委), then the real `zhtj-server`
//! serves it and is measured over HTTP as a client sees it:
//!
//! - progress of 团成都市委 (every organization below it; bar 50 ms) and of a district
//!   (bar 10 ms), median and slowest of 20 after one warm-up;
//! - an empty sync of a town admin's replica (bar 20 ms), median and p99 of 50;
//! - the server process's memory (bar 300 MB), resident now and at its peak;
//! - `zhtj-server check-rollups` over the whole tree (the roll-ups against a full pass).
//!
//! On SQLite in a temporary folder, or on PostgreSQL when `ZHTJ_BENCH_POSTGRES` names a
//! server (a new database is made there; `. scripts/pg.sh` and
//! `ZHTJ_BENCH_POSTGRES=$ZHTJ_TEST_POSTGRES`).

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use client_core::protocol::LoginRequest;
use client_core::sync::Remote;
use client_core::{Replica, supervise};

#[path = "../tests/common/mod.rs"]
#[allow(unused_imports)] // the test persons: not needed here
mod common;
use common::{memory_mib, wait_for_start};

const PASSWORD: &str = "zhtj2017demo";
/// The demo's logins: 团成都市委, 团锦江区委, a town of 锦江.
const CITY_ADMIN: &str = "13800028001";
const DISTRICT_ADMIN: &str = "13800028002";
const TOWN_ADMIN: &str = "13800028003";

fn server(data: &Path, database: &[String], args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_zhtj-server"));
    c.arg("--data")
        .arg(data)
        .args(database)
        .args(args)
        .env_remove("ZHTJ_DATABASE")
        .env_remove("ZHTJ_SERVER_DATA")
        .env("ZHTJ_LOG", "warn");
    c
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Median and largest of `n` runs of `f`, after one run not counted.
fn timed(n: usize, mut f: impl FnMut()) -> (f64, f64, f64) {
    f();
    let mut t: Vec<f64> = (0..n)
        .map(|_| {
            let s = Instant::now();
            f();
            ms(s.elapsed())
        })
        .collect();
    t.sort_by(f64::total_cmp);
    let p99 = t[((n * 99) / 100).min(n - 1)];
    (t[n / 2], p99, t[n - 1])
}

fn login(remote: &Remote, mobile: &str) -> client_core::protocol::LoginResponse {
    remote
        .login(&LoginRequest {
            mobile: mobile.into(),
            password: PASSWORD.into(),
            org_id: None,
        })
        .unwrap_or_else(|e| panic!("login {mobile}: {e}"))
}

fn main() {
    let orgs: usize = std::env::var("ZHTJ_SCALE_ORGS")
        .ok()
        .and_then(|s| s.replace('_', "").parse().ok())
        .unwrap_or(1_000_000);
    let dir = tempfile::TempDir::new().unwrap();
    let data = dir.path().join("server");
    let (engine, database) = match std::env::var("ZHTJ_BENCH_POSTGRES") {
        Ok(admin) if !admin.is_empty() => {
            let url = sync_server::storage::scratch_database(&admin).expect("a database");
            ("PostgreSQL", vec!["--database".to_owned(), url])
        }
        _ => ("SQLite", Vec::new()),
    };
    println!("scale bench: {orgs} organizations on {engine}");

    let t = Instant::now();
    let out = server(&data, &database, &["demo", "--size", &orgs.to_string()])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let load = t.elapsed();
    println!("demo written in {:.1} s", load.as_secs_f64());

    let t = Instant::now();
    let out = server(&data, &database, &["check-rollups"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let check = t.elapsed();

    let mut child = server(&data, &database, &["serve", "--listen", "127.0.0.1:0"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let (url, _) = wait_for_start(&mut child);
    let started = memory_mib(child.id());
    let remote = Remote::new(&url).unwrap();
    let city = login(&remote, CITY_ADMIN);
    let district = login(&remote, DISTRICT_ADMIN);

    let mut root_total = 0;
    let root = timed(20, || {
        let p = supervise::fetch_progress(&remote, &city.token, None, None, 0, 50).unwrap();
        root_total = p.tabs.iter().map(|t| t.counts.total).sum::<u64>();
    });
    let mut district_total = 0;
    let dist = timed(20, || {
        let p = supervise::fetch_progress(&remote, &district.token, None, None, 0, 50).unwrap();
        district_total = p.tabs.iter().map(|t| t.counts.total).sum::<u64>();
    });

    let town = login(&remote, TOWN_ADMIN);
    let rdir = tempfile::TempDir::new().unwrap();
    let mut replica =
        Replica::create_for_login(&rdir.path().join("replica.sqlite3"), &url, &town).unwrap();
    let t = Instant::now();
    let first = replica.sync(&remote, &mut |_, _, _| {}).unwrap();
    let first_pull = t.elapsed();
    let empty = timed(50, || {
        let r = replica.sync(&remote, &mut |_, _, _| {}).unwrap();
        assert_eq!((r.pulled, r.pushed), (0, 0), "an empty sync");
    });
    let (rss, peak) = memory_mib(child.id());
    let _ = child.kill();
    let _ = child.wait();

    println!();
    println!("| what ({orgs} organizations, {engine}) | bar | measured |");
    println!("|---|---|---|");
    println!(
        "| progress of 团成都市委 ({root_total} below) | < 50 ms | median {:.1} ms, slowest {:.1} ms |",
        root.0, root.2
    );
    println!(
        "| progress of 团锦江区委 ({district_total} below) | < 10 ms | median {:.1} ms, slowest {:.1} ms |",
        dist.0, dist.2
    );
    println!(
        "| empty sync (a town's replica, {} documents; its first pull {:.0} ms) | < 20 ms | median {:.2} ms, p99 {:.2} ms |",
        first.received,
        ms(first_pull),
        empty.0,
        empty.1
    );
    println!(
        "| server memory | < 300 MB | {:.0} MiB after start, {rss:.0} MiB after, peak {peak:.0} MiB |",
        started.0
    );
    println!(
        "| writing the demo / check-rollups | — | {:.0} s / {:.1} s |",
        load.as_secs_f64(),
        check.as_secs_f64()
    );
    if let (Some(url), Ok(admin)) = (database.get(1), std::env::var("ZHTJ_BENCH_POSTGRES")) {
        let _ = sync_server::storage::drop_database(&admin, url);
    }
}

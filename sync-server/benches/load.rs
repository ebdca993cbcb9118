//! Load test (issue "Proof", item 5; a bench binary: `cargo bench -p sync-server --bench
//! load`): 200 simulated units, each an administrator with its own replica, syncing
//! concurrently with one server on loopback.
//!
//! Setup (not measured): the real `zhtj-server` binary (built by Cargo with the bench, in
//! the bench profile) starts on 127.0.0.1:0 with a temporary data directory; the city admin
//! registers, creates 200 committees (团委) under 团锦江区委 offline and pushes them; the
//! operator function `sync_server::identity::operator_issue_code` issues a code for each
//! (on the same SQLite file, from this process); the 200 admins register (Argon2), log in
//! and pull their subtree into a fresh replica each.
//!
//! Measured: one thread per unit, all released together; each does `ROUNDS` rounds of
//! offline work (creates `CHILDREN_PER_ROUND` branches under its committee and edits its
//! committee's contact information), a short random pause, and a sync (push and pull). The
//! run is bounded: a unit starts no round after `DEADLINE`. Reported: the latency of each
//! sync (p50, p90, p99, max), errors (a failed sync or a refused document; must be 0),
//! syncs and documents per second, the server's memory (VmRSS and its peak VmHWM from
//! `/proc/<pid>/status` of the server process), and a final check that every branch the
//! units created is on the server and every replica has nothing pending. For comparison,
//! one unit then does `SOLO_ROUNDS` of the same rounds alone: with 200 units syncing at
//! once, a sync's latency is mostly waiting its turn (about units ÷ throughput).
//!
//! The server's memory is read after each phase: its growth during the registrations is
//! glibc keeping Argon2's 19 MiB blocks (see docs/reliability.md); the same run with
//! `MALLOC_MMAP_THRESHOLD_=131072` in the environment shows the difference.
//!
//! `ZHTJ_LOAD_UNITS`, `ZHTJ_LOAD_ROUNDS`, `ZHTJ_LOAD_SETUP_THREADS` (default 4) override the
//! counts; `ZHTJ_LOAD_INPROCESS=1` runs the server in this process instead (then the memory
//! is this process's: clients included). Traffic goes to 127.0.0.1 only.
//!
//! On PostgreSQL (`ZHTJ_BENCH_POSTGRES`: a server where a new database is made, e.g.
//! `. scripts/pg.sh` and `ZHTJ_BENCH_POSTGRES=$ZHTJ_TEST_POSTGRES`), `ZHTJ_LOAD_PROCESSES`
//! (default 1) `zhtj-server` processes share the database, unit `i` syncing with process
//! `i mod N` (a load balancer's round robin); the memory is the largest process's.

use std::path::Path;
use std::process::{Child, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier, Mutex};
use std::time::{Duration, Instant};

use client_core::protocol::{LoginRequest, RegisterRequest};
use client_core::sync::Remote;
use client_core::{NewChild, Replica};
use rand::{RngExt, SeedableRng};
use schemas::Field;
use sync_server::storage::Store;
use time::OffsetDateTime;

#[path = "../tests/common/mod.rs"]
mod common;
use common::{id_number, mobile, server_command};

const DEFAULT_UNITS: usize = 200;
const DEFAULT_ROUNDS: usize = 10;
const CHILDREN_PER_ROUND: usize = 2;
/// Rounds of the one-unit-alone comparison after the concurrent phase.
const SOLO_ROUNDS: usize = 20;
/// No unit starts a round after this (from the start of the measured phase).
const DEADLINE: Duration = Duration::from_secs(120);
/// Registration and login threads (each costs an Argon2 hash on the server).
const DEFAULT_SETUP_THREADS: usize = 4;
const JINJIANG: &str = "org-510104";
const CITY: &str = "org-5101";
const PASSWORD: &str = "secret123";

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// (VmRSS, VmHWM) in MiB of a process.
fn memory_mib(pid: &str) -> (f64, f64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
            .map(|kb| kb / 1024.0)
            .unwrap_or(f64::NAN)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

// ------------------------------------------------------------------------ the server

enum Server {
    /// `zhtj-server` processes (several only on PostgreSQL); killed when dropped.
    Process { children: Vec<Child>, store: Store },
    /// In this process, on its own runtime.
    InProcess {
        _rt: tokio::runtime::Runtime,
        state: Arc<sync_server::http::AppState>,
    },
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Server::Process { children, .. } = self {
            for child in children {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
    }
}

impl Server {
    /// Start the server on `data`; returns it, its URLs (one per process) and the first
    /// admin's code.
    fn start(data: &Path) -> (Server, Vec<String>, String) {
        if let Ok(admin) = std::env::var("ZHTJ_BENCH_POSTGRES") {
            let n = env_usize("ZHTJ_LOAD_PROCESSES", 1).max(1);
            return Server::spawn_postgres(data, &admin, n);
        }
        if std::env::var_os("ZHTJ_LOAD_INPROCESS").is_none() {
            match Server::spawn(data) {
                Ok((s, url, code)) => return (s, vec![url], code),
                Err(e) => eprintln!("zhtj-server could not be started ({e}): in process instead"),
            }
        }
        let rt = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .unwrap();
        let running = rt
            .block_on(sync_server::start(sync_server::Config {
                data_dir: data.to_owned(),
                postgres: None,
                listen: "127.0.0.1:0".parse().unwrap(),
                identity: Default::default(),
                schedule: Default::default(),
                tls: None,
                net: Default::default(),
                trusted_proxies: Default::default(),
            }))
            .unwrap();
        let url = format!("http://{}", running.addr);
        let code = running.first_code.unwrap().code.as_str().to_owned();
        (
            Server::InProcess {
                _rt: rt,
                state: running.state,
            },
            vec![url],
            code,
        )
    }

    /// `n` processes on a new database of the PostgreSQL server at `admin`.
    fn spawn_postgres(data: &Path, admin: &str, n: usize) -> (Server, Vec<String>, String) {
        let url = sync_server::storage::scratch_database(admin).expect("a database");
        let mut children = Vec::new();
        let (mut urls, mut code) = (Vec::new(), String::new());
        for i in 0..n {
            let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_zhtj-server"))
                .arg("--data")
                .arg(data.join(format!("p{i}")))
                .args(["--database", &url, "serve", "--listen", "127.0.0.1:0"])
                .env_remove("ZHTJ_DATABASE")
                .env("ZHTJ_LOG", "warn")
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::inherit())
                .spawn()
                .expect("zhtj-server");
            // One at a time: the first initializes the database and prints the code.
            let (u, c) = common::wait_for_start(&mut child);
            if i == 0 {
                code = c;
            }
            urls.push(u);
            children.push(child);
        }
        let store = Store::connect(&sync_server::storage::Location::Postgres {
            url,
            replica: None,
            pool: 4,
        })
        .expect("the database");
        (Server::Process { children, store }, urls, code)
    }

    fn spawn(data: &Path) -> Result<(Server, String, String), String> {
        let mut child = server_command(data, "warn")
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| format!("zhtj-server: {e}"))?;
        let (url, code) = common::wait_for_start(&mut child);
        let store = Store::open(&data.join("zhtj-server.sqlite3")).map_err(|e| e.to_string())?;
        Ok((
            Server::Process {
                children: vec![child],
                store,
            },
            url,
            code,
        ))
    }

    fn store(&self) -> &Store {
        match self {
            Server::Process { store, .. } => store,
            Server::InProcess { state, .. } => &state.store,
        }
    }

    /// (VmRSS, VmHWM) in MiB (the largest process's), and what they measure.
    fn memory(&self) -> (f64, f64) {
        match self {
            Server::Process { children, .. } => children
                .iter()
                .map(|c| memory_mib(&c.id().to_string()))
                .fold((0.0, 0.0), |(r, h), (r2, h2)| {
                    (f64::max(r, r2), f64::max(h, h2))
                }),
            Server::InProcess { .. } => memory_mib("self"),
        }
    }

    fn what(&self) -> String {
        match self {
            Server::Process { children, store } => format!(
                "{} zhtj-server process{} on {:?}",
                children.len(),
                if children.len() > 1 {
                    "es, the largest"
                } else {
                    ""
                },
                store.dialect()
            ),
            Server::InProcess { .. } => {
                "whole bench process: the server and every client".to_owned()
            }
        }
    }
}

// ------------------------------------------------------------------------ units

struct Unit {
    index: usize,
    org: String,
    replica: Replica,
    remote: Remote,
}

fn register_and_login(
    url: &str,
    code: &str,
    org: &str,
    n: u32,
) -> (Remote, client_core::protocol::LoginResponse) {
    let remote = Remote::new(url).unwrap();
    remote
        .register(&RegisterRequest {
            code: code.into(),
            org_id: org.into(),
            role: "书记".into(),
            name: "张三".into(),
            id_number: id_number(n),
            mobile: mobile(n),
            join_year_month: "2003-05".into(),
            password: PASSWORD.into(),
        })
        .unwrap_or_else(|e| panic!("register {n}: {e}"));
    let login = remote
        .login(&LoginRequest {
            mobile: mobile(n),
            password: PASSWORD.into(),
            org_id: None,
        })
        .unwrap_or_else(|e| panic!("login {n}: {e}"));
    (remote, login)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

/// One unit's measured rounds; returns the unit.
#[allow(clippy::too_many_arguments)]
fn run_unit(
    mut u: Unit,
    rounds: usize,
    barrier: &Barrier,
    start: &Mutex<Option<Instant>>,
    latencies: &Mutex<Vec<Duration>>,
    errors: &Mutex<Vec<String>>,
    pushed: &AtomicUsize,
    created: &AtomicUsize,
    round_trips: &AtomicUsize,
) -> Unit {
    let mut rng = rand::rngs::StdRng::seed_from_u64(0x10ad + u.index as u64);
    barrier.wait();
    let t0 = start.lock().unwrap().expect("start set");
    let mut mine = Vec::with_capacity(rounds);
    for r in 0..rounds {
        if t0.elapsed() > DEADLINE {
            break;
        }
        // Offline work.
        let kids: Vec<NewChild> = (0..CHILDREN_PER_ROUND)
            .map(|k| NewChild {
                category: "团支部".into(),
                short_name: format!("第{r}轮第{k}团支部"),
                ..NewChild::default()
            })
            .collect();
        match u.replica.create_children(&u.org, &kids, &mut |_, _| {}) {
            Ok(ids) => {
                created.fetch_add(ids.len(), Ordering::Relaxed);
            }
            Err(e) => errors
                .lock()
                .unwrap()
                .push(format!("unit {} create: {e}", u.index)),
        }
        let phone = format!(
            "028-6{:03}{:04}",
            u.index % 1000,
            r * 100 + rng.random_range(0..100usize)
        );
        if let Err(e) = u.replica.update_info(
            &u.org,
            &[
                (Field::Phone, phone),
                (Field::YouthCount, format!("{}", 10 + r)),
            ],
        ) {
            errors
                .lock()
                .unwrap()
                .push(format!("unit {} edit: {e}", u.index));
        }
        std::thread::sleep(Duration::from_millis(rng.random_range(0..50)));
        let t = Instant::now();
        let result = u.replica.sync(&u.remote, &mut |_, _, _| {});
        mine.push(t.elapsed());
        match result {
            Ok(rep) => {
                pushed.fetch_add(rep.pushed, Ordering::Relaxed);
                round_trips.fetch_add(rep.round_trips, Ordering::Relaxed);
                if !rep.rejected.is_empty() {
                    errors.lock().unwrap().push(format!(
                        "unit {} round {r}: refused {:?}",
                        u.index, rep.rejected
                    ));
                }
            }
            Err(e) => errors
                .lock()
                .unwrap()
                .push(format!("unit {} round {r}: {e}", u.index)),
        }
    }
    latencies.lock().unwrap().extend(mine);
    u
}

fn main() {
    // `cargo bench` passes `--bench`; a filter argument is ignored.
    let units_n = env_usize("ZHTJ_LOAD_UNITS", DEFAULT_UNITS);
    let rounds = env_usize("ZHTJ_LOAD_ROUNDS", DEFAULT_ROUNDS);
    let setup_threads = env_usize("ZHTJ_LOAD_SETUP_THREADS", DEFAULT_SETUP_THREADS);
    let dir = tempfile::TempDir::new().unwrap();
    let setup_start = Instant::now();
    let (server, urls, first_code) = Server::start(&dir.path().join("server"));
    let url = urls[0].clone();
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");
    let (rss0, _) = server.memory();
    println!(
        "load test: {units_n} units × {rounds} rounds ({CHILDREN_PER_ROUND} new branches and an \
         information edit, then a sync), concurrent, loopback, {} cores; server: {}",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        server.what()
    );

    // The city creates the 200 committees and pushes them.
    let (city_remote, city_login) = register_and_login(&url, &first_code, CITY, 0);
    let city_path = dir.path().join("city.sqlite3");
    let mut city = Replica::create_for_login(&city_path, &url, &city_login).unwrap();
    city.sync(&city_remote, &mut |_, _, _| {}).unwrap();
    let committees: Vec<NewChild> = (0..units_n)
        .map(|i| NewChild {
            category: "团委".into(),
            short_name: format!("负载第{i}公司团委"),
            industry: "国有企业".into(),
            ..NewChild::default()
        })
        .collect();
    let orgs = city
        .create_children(JINJIANG, &committees, &mut |_, _| {})
        .unwrap();
    let report = city.sync(&city_remote, &mut |_, _, _| {}).unwrap();
    assert!(report.rejected.is_empty(), "{:?}", report.rejected);
    assert_eq!(report.pushed, units_n);

    let (rss_city, _) = server.memory();

    // Codes from the operator function; registration, login and first pull of each unit.
    let now = OffsetDateTime::now_utc();
    let codes: Vec<String> = orgs
        .iter()
        .map(|org| {
            sync_server::identity::operator_issue_code(server.store(), org, now)
                .unwrap()
                .code
                .as_str()
                .to_owned()
        })
        .collect();
    let next = AtomicUsize::new(0);
    let ready: Mutex<Vec<Unit>> = Mutex::new(Vec::with_capacity(units_n));
    std::thread::scope(|s| {
        for _ in 0..setup_threads {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= units_n {
                        break;
                    }
                    // Round robin over the processes, as a load balancer would.
                    let url = &urls[i % urls.len()];
                    let (remote, login) =
                        register_and_login(url, &codes[i], &orgs[i], i as u32 + 1);
                    let path = dir.path().join(format!("unit-{i}.sqlite3"));
                    let mut replica = Replica::create_for_login(&path, url, &login).unwrap();
                    replica.sync(&remote, &mut |_, _, _| {}).unwrap();
                    ready.lock().unwrap().push(Unit {
                        index: i,
                        org: orgs[i].clone(),
                        replica,
                        remote,
                    });
                }
            });
        }
    });
    let mut units = ready.into_inner().unwrap();
    units.sort_by_key(|u| u.index);
    assert_eq!(units.len(), units_n);
    let (rss1, _) = server.memory();
    println!(
        "setup: {units_n} committees pushed, {units_n} codes issued, {units_n} admins registered, \
         logged in and pulled in {:.1} s",
        setup_start.elapsed().as_secs_f64()
    );

    // The measured phase.
    let barrier = Barrier::new(units_n + 1);
    let latencies: Mutex<Vec<Duration>> = Mutex::new(Vec::new());
    let errors: Mutex<Vec<String>> = Mutex::new(Vec::new());
    let pushed = AtomicUsize::new(0);
    let created = AtomicUsize::new(0);
    let round_trips = AtomicUsize::new(0);
    let start = Mutex::new(None::<Instant>);
    let mut units: Vec<Unit> = std::thread::scope(|s| {
        let handles: Vec<_> = units
            .drain(..)
            .map(|u| {
                let (barrier, latencies, errors) = (&barrier, &latencies, &errors);
                let (pushed, created, round_trips, start) =
                    (&pushed, &created, &round_trips, &start);
                s.spawn(move || {
                    run_unit(
                        u,
                        rounds,
                        barrier,
                        start,
                        latencies,
                        errors,
                        pushed,
                        created,
                        round_trips,
                    )
                })
            })
            .collect();
        *start.lock().unwrap() = Some(Instant::now());
        barrier.wait();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let wall = start.lock().unwrap().expect("set").elapsed();
    let (rss2, hwm) = server.memory();
    units.sort_by_key(|u| u.index);
    let pending: u64 = units.iter().map(|u| u.replica.counts().unwrap().1).sum();

    // For comparison: one unit alone, the same rounds one after another, no pause.
    let mut alone = Vec::with_capacity(SOLO_ROUNDS);
    let solo = &mut units[0];
    for r in 0..SOLO_ROUNDS {
        let kids: Vec<NewChild> = (0..CHILDREN_PER_ROUND)
            .map(|k| NewChild {
                category: "团支部".into(),
                short_name: format!("单独第{r}轮第{k}团支部"),
                ..NewChild::default()
            })
            .collect();
        solo.replica
            .create_children(&solo.org, &kids, &mut |_, _| {})
            .unwrap();
        solo.replica
            .update_info(&solo.org, &[(Field::YouthCount, format!("{}", 100 + r))])
            .unwrap();
        let t = Instant::now();
        let rep = solo.replica.sync(&solo.remote, &mut |_, _, _| {}).unwrap();
        alone.push(t.elapsed());
        assert!(rep.rejected.is_empty(), "{:?}", rep.rejected);
    }
    alone.sort_unstable();

    // Every created branch is on the server; every replica is clean after a final sync.
    let created = created.load(Ordering::Relaxed) + SOLO_ROUNDS * CHILDREN_PER_ROUND;
    let on_server: i64 = server
        .store()
        .read(|c| {
            c.inspect(
                "SELECT COUNT(*) FROM orgs WHERE category = '团支部' AND parent IN \
                 (SELECT id FROM orgs WHERE parent = ?1)",
                &[JINJIANG],
            )
        })
        .unwrap()[0][0]
        .as_deref()
        .unwrap()
        .parse()
        .unwrap();
    let mut lat = latencies.into_inner().unwrap();
    lat.sort_unstable();
    let errors = errors.into_inner().unwrap();
    let syncs = lat.len();
    println!(
        "measured: {syncs} syncs ({} of {} planned) in {:.1} s wall",
        syncs,
        units_n * rounds,
        wall.as_secs_f64()
    );
    println!(
        "sync latency: p50 {}  p90 {}  p99 {}  max {}  (mean {})",
        ms(percentile(&lat, 50.0)),
        ms(percentile(&lat, 90.0)),
        ms(percentile(&lat, 99.0)),
        ms(lat.last().copied().unwrap_or_default()),
        ms(lat.iter().sum::<Duration>() / syncs.max(1) as u32),
    );
    println!(
        "one unit alone afterwards ({SOLO_ROUNDS} syncs of the same work): p50 {}  max {}",
        ms(percentile(&alone, 50.0)),
        ms(alone.last().copied().unwrap_or_default()),
    );
    println!(
        "throughput: {:.1} syncs/s, {:.1} documents pushed/s ({} documents, {} HTTP requests)",
        syncs as f64 / wall.as_secs_f64(),
        pushed.load(Ordering::Relaxed) as f64 / wall.as_secs_f64(),
        pushed.load(Ordering::Relaxed),
        round_trips.load(Ordering::Relaxed),
    );
    println!(
        "branches created offline: {created}; on the server: {on_server}; pending in replicas \
         after the run: {pending}; errors: {}",
        errors.len()
    );
    println!(
        "server memory ({}): VmRSS {rss0:.1} MiB at start, {rss_city:.1} MiB after the \
         city's push, {rss1:.1} MiB after the {units_n} registrations and logins (Argon2), \
         {rss2:.1} MiB after the load; peak VmHWM {hwm:.1} MiB",
        server.what()
    );
    for e in errors.iter().take(10) {
        println!("  error: {e}");
    }
    assert!(errors.is_empty(), "{} errors", errors.len());
    assert_eq!(
        on_server as usize, created,
        "every created branch is on the server"
    );
    assert_eq!(pending, 0, "nothing left pending");
    assert_eq!(
        syncs,
        units_n * rounds,
        "every round ran before the deadline"
    );
    drop(city);
    drop(server);
}

//! Several `zhtj-server` processes on one PostgreSQL database (issue 16, point 3): what
//! SQLite's one writer gave for free must hold when transactions of different processes
//! interleave for real.
//!
//! - a pull never misses a document whose transaction committed after a later-numbered one;
//! - sibling names stay unique, a code is used once, and two pushes merging into one
//!   document both count (the second judged on the first's result, not lost);
//! - a process killed with SIGKILL mid-push loses no acknowledged push, leaves nothing half
//!   applied, and the other processes keep serving.
//!
//! These tests need PostgreSQL: `scripts/test.sh` runs them in its PostgreSQL pass (feature
//! `postgres-tests`, `ZHTJ_TEST_POSTGRES` from `scripts/pg.sh`). Threads meet at barriers
//! so that requests land together; nothing waits on a sleep.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

use automerge::AutoCommit;
use client_core::protocol::{LoginRequest, LoginResponse, PullRequest, RegisterRequest};
use client_core::sync::{Remote, SyncReport};
use client_core::{NewChild, Replica};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use schemas::Field;
use schemas::org::OrgRecord;
use sync_server::storage::{Location, Store};
use tempfile::TempDir;
use wire::{doc, heads};

use common::{id_number, mobile, server_command, sync_ok, unhex, wait_for_start};

const CITY: &str = "org-5101";
const JINJIANG: &str = "org-510104";
const PASSWORD: &str = "secret123";

/// Server processes on one database, each with a data directory of its own.
struct Cluster {
    dir: TempDir,
    database: String,
    processes: Vec<Process>,
    /// The first administrator's registration code (printed by the one that initialized).
    first_code: String,
}

struct Process {
    child: Child,
    url: String,
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Cluster {
    /// `n` processes started at once on a new database: exactly one initializes it.
    fn start(n: usize) -> Cluster {
        let admin = std::env::var("ZHTJ_TEST_POSTGRES").expect(
            "these tests run on PostgreSQL: ZHTJ_TEST_POSTGRES (scripts/pg.sh; scripts/test.sh sets it)",
        );
        let database = sync_server::storage::scratch_database(&admin).expect("a database");
        let dir = TempDir::new().unwrap();
        let mut cluster = Cluster {
            dir,
            database,
            processes: Vec::new(),
            first_code: String::new(),
        };
        let starting: Vec<Child> = (0..n).map(|i| cluster.spawn(i)).collect();
        let mut codes = Vec::new();
        for mut child in starting {
            let (url, code) = wait_for_start(&mut child);
            if !code.is_empty() {
                codes.push(code);
            }
            cluster.processes.push(Process { child, url });
        }
        assert_eq!(codes.len(), 1, "exactly one process initializes: {codes:?}");
        cluster.first_code = codes.remove(0);
        cluster
    }

    fn data(&self, i: usize) -> PathBuf {
        self.dir.path().join(format!("server-{i}"))
    }

    fn spawn(&self, i: usize) -> Child {
        let data = self.data(i);
        std::fs::create_dir_all(&data).unwrap();
        std::fs::write(data.join("database-url"), &self.database).unwrap();
        server_command(&data, "warn")
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn zhtj-server")
    }

    fn url(&self, i: usize) -> &str {
        &self.processes[i % self.processes.len()].url
    }

    fn remote(&self, i: usize) -> Remote {
        Remote::new(self.url(i)).unwrap()
    }

    /// The database, read directly.
    fn store(&self) -> Store {
        Store::connect(&Location::Postgres {
            url: self.database.clone(),
            replica: None,
            pool: 2,
        })
        .unwrap()
    }

    fn rows(&self, sql: &str, params: &[&str]) -> Vec<Vec<Option<String>>> {
        self.store()
            .read(|c| c.inspect(sql, params))
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
    }

    /// Register test person 1 as the city's admin (on process 0) and log in.
    fn city_admin(&self) -> LoginResponse {
        self.remote(0)
            .register(&registration(&self.first_code, CITY, 1))
            .unwrap();
        login(&self.remote(0), 1)
    }

    /// A replica of the city admin's subtree, logged in anew, synced through process `i`.
    fn replica(&self, path: &Path, i: usize) -> Replica {
        let remote = self.remote(i);
        let login = login(&remote, 1);
        let mut r = Replica::create_for_login(path, self.url(i), &login).unwrap();
        sync_ok(&mut r, &remote, "first sync");
        r
    }

    /// A registration code for `org`, issued by the operator command on process 0's
    /// configuration.
    fn issue_code(&self, org: &str) -> String {
        let data = self.data(0);
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_zhtj-server"))
            .arg("--data")
            .arg(&data)
            .args(["--database", &self.database, "issue-code", "--org", org])
            .env_remove("ZHTJ_DATABASE")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8(out.stdout).unwrap();
        let line = text.lines().next().unwrap();
        line.rsplit([':', ':']).next().unwrap().trim().to_owned()
    }
}

fn registration(code: &str, org: &str, n: u32) -> RegisterRequest {
    RegisterRequest {
        code: code.into(),
        org_id: org.into(),
        role: "书记".into(),
        name: "张三".into(),
        id_number: id_number(n),
        mobile: mobile(n),
        join_year_month: "2005-05".into(),
        password: PASSWORD.into(),
    }
}

fn login(remote: &Remote, n: u32) -> LoginResponse {
    remote
        .login(&LoginRequest {
            mobile: mobile(n),
            password: PASSWORD.into(),
            org_id: None,
        })
        .unwrap()
}

/// Every live organization of a replica, by id, with its record.
fn replica_tree(replica: &Replica) -> BTreeMap<String, OrgRecord> {
    let mut out = BTreeMap::new();
    let mut todo = vec![CITY.to_owned()];
    while let Some(id) = todo.pop() {
        out.insert(id.clone(), replica.org(&id).unwrap().record);
        todo.extend(replica.children(&id).unwrap().into_iter().map(|c| c.id));
    }
    out
}

/// Every live organization of the city's subtree on the server, with its record.
fn server_tree(cluster: &Cluster) -> BTreeMap<String, OrgRecord> {
    cluster
        .rows(
            "SELECT id, record FROM orgs WHERE deleted = 0 AND path LIKE ?1",
            &[&format!("%/{CITY}/%")],
        )
        .into_iter()
        .map(|r| {
            let rec: OrgRecord = serde_json::from_str(r[1].as_deref().unwrap()).unwrap();
            (r[0].clone().unwrap(), rec)
        })
        .collect()
}

fn new_children(prefix: &str, n: usize) -> Vec<NewChild> {
    (0..n)
        .map(|j| NewChild {
            category: "团支部".into(),
            short_name: format!("{prefix}{j}号团支部"),
            ..NewChild::default()
        })
        .collect()
}

#[test]
fn a_session_issued_by_one_process_is_honoured_by_another() {
    let cluster = Cluster::start(2);
    let login = cluster.city_admin();
    let pull = PullRequest {
        version: wire::protocol::PROTOCOL_VERSION,
        cursor: 0,
        limit: 10,
        lean: false,
    };
    assert!(cluster.remote(1).pull(&login.token, &pull).is_ok());
    cluster.remote(1).logout(&login.token).unwrap();
    let e = cluster.remote(0).pull(&login.token, &pull).unwrap_err();
    assert_eq!(
        e.code(),
        "sync.login_required",
        "logged out on the other process"
    );
}

/// Writers on both processes create documents while a reader pulls from both, following
/// only its cursor. Were feed positions taken in one order and committed in another (a
/// plain sequence under concurrent transactions), the reader's cursor would pass a position
/// whose document was not yet visible, and never see it.
#[test]
fn a_pull_never_misses_a_document_committed_out_of_order() {
    const WRITERS: usize = 4;
    const ROUNDS: usize = 12;
    let cluster = Arc::new(Cluster::start(2));
    cluster.city_admin();
    let dir = TempDir::new().unwrap();
    let mut reader = cluster.replica(&dir.path().join("reader.sqlite3"), 1);
    let districts: Vec<String> = reader
        .children(CITY)
        .unwrap()
        .into_iter()
        .map(|d| d.id)
        .collect();
    let start = Arc::new(Barrier::new(WRITERS + 1));
    let writers: Vec<_> = (0..WRITERS)
        .map(|w| {
            let (cluster, start) = (cluster.clone(), start.clone());
            let parent = districts[w].clone();
            let path = dir.path().join(format!("writer-{w}.sqlite3"));
            thread::spawn(move || {
                let mut replica = cluster.replica(&path, w);
                start.wait();
                for round in 0..ROUNDS {
                    replica
                        .create_children(
                            &parent,
                            &new_children(&format!("写{w}轮{round}"), 3),
                            &mut |_, _| {},
                        )
                        .unwrap();
                    // Alternate processes, so that transactions of both interleave.
                    let remote = cluster.remote(w + round);
                    sync_ok(&mut replica, &remote, &format!("writer {w} round {round}"));
                }
            })
        })
        .collect();
    start.wait();
    let mut pulls = 0;
    while writers.iter().any(|w| !w.is_finished()) {
        let remote = cluster.remote(pulls);
        sync_ok(&mut reader, &remote, "reader");
        pulls += 1;
    }
    for w in writers {
        w.join().expect("a writer");
    }
    // One more sync, from the cursor: what it passed while writers ran is never sent again.
    sync_ok(&mut reader, &cluster.remote(0), "reader, last");
    let server = server_tree(&cluster);
    assert_eq!(
        server.len(),
        1 + 20 + WRITERS * ROUNDS * 3,
        "the city, its districts and every document the writers made"
    );
    let seen = replica_tree(&reader);
    let missed: Vec<&String> = server.keys().filter(|id| !seen.contains_key(*id)).collect();
    assert!(
        missed.is_empty(),
        "the reader ({pulls} pulls) never received {missed:?}"
    );
    assert_eq!(seen, server, "the reader holds what the server holds");
}

/// Two replicas each create a unit of one name under one parent and push at once, to
/// different processes: one is accepted, the other refused for the name, never both.
#[test]
fn sibling_names_stay_unique_when_two_processes_take_one_name_at_once() {
    let cluster = Arc::new(Cluster::start(2));
    cluster.city_admin();
    let dir = TempDir::new().unwrap();
    for round in 0..6 {
        let start = Arc::new(Barrier::new(2));
        let sides: Vec<_> = (0..2)
            .map(|side| {
                let (cluster, start) = (cluster.clone(), start.clone());
                let path = dir.path().join(format!("r{round}-{side}.sqlite3"));
                thread::spawn(move || {
                    let mut replica = cluster.replica(&path, side);
                    replica
                        .create_child(
                            JINJIANG,
                            &NewChild {
                                category: "团支部".into(),
                                short_name: format!("同名{round}号团支部"),
                                ..NewChild::default()
                            },
                        )
                        .unwrap();
                    start.wait();
                    replica
                        .sync(&cluster.remote(side), &mut |_, _, _| {})
                        .unwrap_or_else(|e| panic!("round {round} side {side}: {e}"))
                })
            })
            .collect();
        let reports: Vec<SyncReport> = sides.into_iter().map(|s| s.join().unwrap()).collect();
        let accepted = reports.iter().filter(|r| r.rejected.is_empty()).count();
        assert_eq!(accepted, 1, "round {round}: exactly one is accepted");
        let refused: Vec<&str> = reports
            .iter()
            .flat_map(|r| &r.rejected)
            .flat_map(|r| &r.violations)
            .map(|v| v.code.as_str())
            .collect();
        assert_eq!(refused, ["short_name.duplicate"], "round {round}");
    }
    let named = cluster.rows(
        "SELECT short_name, COUNT(*) FROM orgs WHERE parent = ?1 AND deleted = 0
         GROUP BY short_name HAVING COUNT(*) > 1",
        &[JINJIANG],
    );
    assert!(named.is_empty(), "duplicates stored: {named:?}");
}

/// Five registrations with one code, on both processes, at once: one account. (Few: the
/// others are failed attempts from one address, which the guessing limit counts.)
#[test]
fn a_code_is_used_once_whichever_process_is_asked() {
    let cluster = Arc::new(Cluster::start(2));
    for round in 0..2u32 {
        let code = cluster.issue_code(JINJIANG);
        let start = Arc::new(Barrier::new(5));
        let tries: Vec<_> = (0..5u32)
            .map(|i| {
                let (cluster, start, code) = (cluster.clone(), start.clone(), code.clone());
                thread::spawn(move || {
                    let remote = cluster.remote(i as usize);
                    start.wait();
                    remote.register(&registration(&code, JINJIANG, 100 + round * 10 + i))
                })
            })
            .collect();
        let answers: Vec<_> = tries.into_iter().map(|t| t.join().unwrap()).collect();
        let ok = answers.iter().filter(|a| a.is_ok()).count();
        assert_eq!(ok, 1, "round {round}: one registration with the code");
        for a in answers.iter().filter_map(|a| a.as_ref().err()) {
            assert_eq!(a.code(), "code.used", "round {round}: {a:?}");
        }
    }
    let accounts = cluster.rows(
        "SELECT COUNT(*) FROM accounts WHERE org_id = ?1",
        &[JINJIANG],
    );
    assert_eq!(accounts[0][0].as_deref(), Some("2"));
}

/// Two replicas change different fields of one document and push at once to different
/// processes, round after round: the document's heads move by one push and then the other,
/// and both changes are on the server and on both replicas.
#[test]
fn two_processes_merging_into_one_document_keep_both_changes() {
    let cluster = Arc::new(Cluster::start(2));
    cluster.city_admin();
    let dir = TempDir::new().unwrap();
    let mut replicas: Vec<Replica> = (0..2)
        .map(|i| cluster.replica(&dir.path().join(format!("r{i}.sqlite3")), i))
        .collect();
    for round in 0..8 {
        let phone = format!("028-8{round}123456");
        let email = format!("tw{round}@example.cn");
        replicas[0]
            .update_info(JINJIANG, &[(Field::Phone, phone.clone())])
            .unwrap();
        replicas[1]
            .update_info(JINJIANG, &[(Field::Email, email.clone())])
            .unwrap();
        let start = Arc::new(Barrier::new(2));
        let handles: Vec<_> = replicas
            .drain(..)
            .enumerate()
            .map(|(i, mut r)| {
                let (cluster, start) = (cluster.clone(), start.clone());
                thread::spawn(move || {
                    start.wait();
                    sync_ok(
                        &mut r,
                        &cluster.remote(i),
                        &format!("round {round} side {i}"),
                    );
                    r
                })
            })
            .collect();
        replicas = handles.into_iter().map(|h| h.join().unwrap()).collect();
        for (i, r) in replicas.iter_mut().enumerate() {
            sync_ok(r, &cluster.remote(i), "catch up");
        }
        let server = server_tree(&cluster);
        let rec = &server[JINJIANG];
        assert_eq!(
            (rec.phone.as_str(), rec.email.as_str()),
            (phone.as_str(), email.as_str()),
            "round {round}: both changes on the server"
        );
        for r in &replicas {
            assert_eq!(
                &r.org(JINJIANG).unwrap().record,
                rec,
                "round {round}: the replicas agree"
            );
        }
    }
}

/// Writers push to two processes; one of them is killed with SIGKILL mid-push, again and
/// again (and restarted), while the other keeps serving its writer without a failure.
/// Afterwards every replica's sync converges with no refusal, every stored document loads
/// and reads as its record, and the projection agrees with itself.
#[test]
fn a_process_killed_mid_push_loses_nothing_and_the_others_keep_serving() {
    let mut cluster = Cluster::start(2);
    cluster.city_admin();
    let dir = TempDir::new().unwrap();
    let mut victim_side = cluster.replica(&dir.path().join("victim.sqlite3"), 0);
    let steady_path = dir.path().join("steady.sqlite3");
    let mut rng = StdRng::seed_from_u64(0x5101_1606);
    let districts: Vec<String> = victim_side
        .children(CITY)
        .unwrap()
        .into_iter()
        .map(|d| d.id)
        .collect();
    // The steady writer syncs through process 1 the whole time.
    let steady_url = cluster.url(1).to_owned();
    let steady_parent = districts[1].clone();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let steady = {
        let stop = stop.clone();
        let mut replica = cluster.replica(&steady_path, 1);
        thread::spawn(move || {
            let remote = Remote::new(&steady_url).unwrap();
            let mut rounds = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) || rounds < 3 {
                replica
                    .create_children(
                        &steady_parent,
                        &new_children(&format!("稳{rounds}批"), 5),
                        &mut |_, _| {},
                    )
                    .unwrap();
                sync_ok(&mut replica, &remote, &format!("steady round {rounds}"));
                rounds += 1;
            }
            (replica, rounds)
        })
    };
    for cycle in 0..5 {
        victim_side
            .create_children(
                &districts[0],
                &new_children(&format!("杀{cycle}批"), 150),
                &mut |_, _| {},
            )
            .unwrap();
        let remote = cluster.remote(0);
        let syncing = thread::scope(|s| {
            let h = s.spawn(|| victim_side.sync(&remote, &mut |_, _, _| {}));
            // Kill after a random moment of the sync (a push of 150 documents takes longer
            // than the longest delay here on this machine's debug build).
            let delay = Duration::from_millis(rng.random_range(5..120));
            let t = Instant::now();
            while t.elapsed() < delay && !h.is_finished() {
                thread::yield_now();
            }
            cluster.processes[0].child.kill().unwrap();
            cluster.processes[0].child.wait().unwrap();
            h.join().unwrap()
        });
        // Restart process 0 on the same database.
        let mut child = cluster.spawn(0);
        let (url, code) = wait_for_start(&mut child);
        assert!(code.is_empty(), "cycle {cycle}: a restart issues no code");
        cluster.processes[0] = Process { child, url };
        // Whatever the killed sync did, the next one converges.
        let report = sync_ok(
            &mut victim_side,
            &cluster.remote(0),
            &format!(
                "cycle {cycle}, after the kill ({:?})",
                syncing.as_ref().map(|r| r.pushed)
            ),
        );
        assert_eq!(
            victim_side.counts().unwrap().1,
            0,
            "cycle {cycle}: nothing pending ({report:?})"
        );
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let (mut steady_replica, rounds) = steady.join().expect("the steady writer never failed");
    assert!(rounds >= 3);
    sync_ok(&mut steady_replica, &cluster.remote(1), "steady, last");
    sync_ok(&mut victim_side, &cluster.remote(1), "victim side, last");
    let server = server_tree(&cluster);
    assert_eq!(replica_tree(&victim_side), server);
    assert_eq!(replica_tree(&steady_replica), server);
    assert_eq!(server.len(), 1 + 20 + 5 * 150 + rounds * 5);
    check_projection(&cluster);
}

/// The stored documents and the projection agree: each document loads with its whole
/// history and reads as its record, its heads column is its heads, each live-children
/// count is the rows', each feed position is a feed entry of its organization.
fn check_projection(cluster: &Cluster) {
    let count = |sql: &str| -> i64 {
        cluster.rows(sql, &[])[0][0]
            .as_deref()
            .unwrap()
            .parse()
            .unwrap()
    };
    assert_eq!(
        count(
            "SELECT COUNT(*) FROM orgs o WHERE o.live_children <>
               (SELECT COUNT(*) FROM orgs k WHERE k.parent = o.id AND k.deleted = 0)"
        ),
        0,
        "live-children counts agree with the rows"
    );
    assert_eq!(
        count(
            "SELECT COUNT(*) FROM orgs o WHERE NOT EXISTS
               (SELECT 1 FROM feed f WHERE f.seq = o.seq AND f.org_id = o.id)"
        ),
        0,
        "every org's feed position is a feed entry of that org"
    );
    let positions: BTreeSet<String> = cluster
        .rows("SELECT seq FROM feed", &[])
        .into_iter()
        .map(|r| r[0].clone().unwrap())
        .collect();
    let counter = cluster.rows("SELECT seq FROM feed_counter", &[]);
    assert_eq!(
        counter[0][0].as_deref().unwrap().parse::<usize>().unwrap(),
        positions.len(),
        "feed positions are 1..=counter, none lost to a rolled-back transaction"
    );
    for r in cluster.rows("SELECT id, record, bytes, heads FROM orgs", &[]) {
        let id = r[0].clone().unwrap();
        let record: OrgRecord = serde_json::from_str(r[1].as_deref().unwrap()).unwrap();
        let mut d = AutoCommit::load(&unhex(r[2].as_deref().unwrap()))
            .unwrap_or_else(|e| panic!("{id}: stored document does not load: {e}"));
        assert!(d.get_missing_deps(&[]).is_empty(), "{id}: lacks history");
        assert_eq!(doc::read(&d), record, "{id}: half applied");
        let mut a = d.get_heads();
        let mut b = heads::decode(&unhex(r[3].as_deref().unwrap()));
        a.sort();
        b.sort();
        assert_eq!(a, b, "{id}: heads column");
    }
}

/// Wrong passwords from one address, spread over both processes: refused after the limit
/// as on one process (the counts live in the database, not in each process).
#[test]
fn a_guessing_storm_spread_over_processes_is_limited_as_on_one() {
    let cluster = Cluster::start(2);
    cluster.city_admin();
    let max = sync_server::limits::MAX_FAILURES as usize;
    for i in 0..max {
        let e = cluster
            .remote(i)
            .login(&LoginRequest {
                mobile: mobile(1),
                password: "wrong-password".into(),
                org_id: None,
            })
            .unwrap_err();
        assert_eq!(e.code(), "login.failed", "attempt {i}");
    }
    for i in 0..2 {
        let e = cluster
            .remote(i)
            .login(&LoginRequest {
                mobile: mobile(1),
                password: PASSWORD.into(),
                org_id: None,
            })
            .unwrap_err();
        assert_eq!(
            e.code(),
            "rate_limited",
            "process {i}, even the right password"
        );
    }
    let counted = cluster.rows("SELECT key, count FROM limit_entries ORDER BY key", &[]);
    assert!(
        counted
            .iter()
            .any(|r| r[0].as_deref() == Some("login@127.0.0.1")
                && r[1].as_deref().unwrap().parse::<usize>().unwrap() >= max),
        "{counted:?}"
    );
}

/// The end of the primary's log now, and whether the replica has replayed up to `lsn`
/// (`pg_lsn` compared by PostgreSQL). The insert position, not `pg_current_wal_lsn()`: that
/// is the position written out, and with `synchronous_commit=off` (scripts/pg.sh) a commit
/// may still sit in the log's buffers behind it (CI once saw the replica "caught up" and
/// the unit not there yet).
fn primary_lsn(primary: &str) -> String {
    let mut c = postgres::Client::connect(primary, postgres::NoTls).unwrap();
    c.query_one("SELECT pg_current_wal_insert_lsn()::text", &[])
        .unwrap()
        .get(0)
}

fn replayed(replica: &str, lsn: &str) -> bool {
    let mut c = postgres::Client::connect(replica, postgres::NoTls).unwrap();
    c.query_one(
        "SELECT pg_last_wal_replay_lsn() >= $1::text::pg_lsn",
        &[&lsn],
    )
    .unwrap()
    .get(0)
}

/// Wait until the replica has replayed what the primary has now (a real condition, polled).
fn wait_replayed(primary: &str, replica: &str) {
    let lsn = primary_lsn(primary);
    let started = Instant::now();
    while !replayed(replica, &lsn) {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the replica never caught up"
        );
        thread::yield_now();
    }
}

/// With `--database-replica`, pulls and progress read the streaming replica: while its
/// replay is paused, a unit pushed through the same process is neither pulled nor counted;
/// once the replica has replayed, the same reader's next sync brings it (nothing skipped)
/// and progress counts it.
#[test]
fn pulls_and_progress_read_the_replica_and_only_lag() {
    let admin = std::env::var("ZHTJ_TEST_POSTGRES").expect("ZHTJ_TEST_POSTGRES (scripts/pg.sh)");
    let replica_admin = std::env::var("ZHTJ_TEST_POSTGRES_REPLICA")
        .expect("ZHTJ_TEST_POSTGRES_REPLICA (scripts/pg.sh)");
    let primary = sync_server::storage::scratch_database(&admin).unwrap();
    let name = primary.rsplit('/').next().unwrap().to_owned();
    let replica = format!("{}/{name}", replica_admin.rsplit_once('/').unwrap().0);
    wait_replayed(&admin, &replica_admin);

    let dir = TempDir::new().unwrap();
    let data = dir.path().join("server");
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_zhtj-server"))
        .arg("--data")
        .arg(&data)
        .args(["--database", &primary, "--database-replica", &replica])
        .args(["serve", "--listen", "127.0.0.1:0"])
        .env_remove("ZHTJ_DATABASE")
        .env_remove("ZHTJ_DATABASE_REPLICA")
        .env("ZHTJ_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let (url, code) = wait_for_start(&mut child);
    let process = Process { child, url };
    let remote = Remote::new(&process.url).unwrap();
    remote.register(&registration(&code, CITY, 1)).unwrap();
    let login = login(&remote, 1);
    wait_replayed(&primary, &replica);
    let mut reader =
        Replica::create_for_login(&dir.path().join("r.sqlite3"), &process.url, &login).unwrap();
    sync_ok(&mut reader, &remote, "reader");
    let mut writer =
        Replica::create_for_login(&dir.path().join("w.sqlite3"), &process.url, &login).unwrap();
    sync_ok(&mut writer, &remote, "writer");
    let counted = |level: u8| -> u64 {
        let p =
            client_core::supervise::fetch_progress(&remote, &login.token, None, Some(level), 0, 1)
                .unwrap();
        p.tabs
            .iter()
            .find(|t| t.level == level)
            .map_or(0, |t| t.counts.total)
    };
    let before = counted(5);

    let mut r = postgres::Client::connect(&replica, postgres::NoTls).unwrap();
    r.batch_execute("SELECT pg_wal_replay_pause()").unwrap();
    let id = writer
        .create_child(
            JINJIANG,
            &NewChild {
                category: "团委".into(),
                short_name: "副本测试公司团委".into(),
                ..NewChild::default()
            },
        )
        .unwrap();
    sync_ok(&mut writer, &remote, "the push");
    sync_ok(&mut reader, &remote, "reader, replay paused");
    assert!(
        reader
            .children(JINJIANG)
            .unwrap()
            .iter()
            .all(|c| c.id != id),
        "the paused replica does not have it yet"
    );
    assert_eq!(counted(5), before, "progress reads the paused replica");

    r.batch_execute("SELECT pg_wal_replay_resume()").unwrap();
    wait_replayed(&primary, &replica);
    sync_ok(&mut reader, &remote, "reader, replayed");
    assert!(
        reader
            .children(JINJIANG)
            .unwrap()
            .iter()
            .any(|c| c.id == id),
        "once replayed, the next sync brings it"
    );
    assert_eq!(counted(5), before + 1);
}

/// Every column that holds an organization's id or path compares in byte order (the "C"
/// collation) on PostgreSQL, as SQLite's do: a subtree is a range of paths, and a join of
/// two ids in different collations cannot use an index (`subtree_levels.org_id`, made in
/// the default collation, had every progress response scan that table). The audit's
/// `org_id` is a note, never joined.
#[test]
fn ids_and_paths_compare_in_byte_order() {
    let cluster = Cluster::start(1);
    let other = cluster
        .store()
        .read(|c| {
            c.inspect(
                "SELECT table_name || '.' || column_name FROM information_schema.columns
                 WHERE table_schema = 'public'
                   AND column_name IN ('id', 'org_id', 'parent', 'path', 'code')
                   AND data_type = 'text' AND table_name <> 'audit'
                   AND COALESCE(collation_name, '') <> 'C'
                 ORDER BY 1",
                &[],
            )
        })
        .unwrap();
    assert!(other.is_empty(), "{other:?}");
}

/// A transaction that loses its race every time (here a unique key that is always taken)
/// runs again `RETRIES` times, then its error is the answer: no conflict holds a request
/// for ever.
#[test]
fn a_transaction_that_always_loses_runs_again_a_bounded_number_of_times() {
    let cluster = Cluster::start(1);
    let store = cluster.store();
    let mut runs = 0;
    let e = store
        .transaction(|tx| {
            runs += 1;
            tx.execute_sql(
                "INSERT INTO meta(key, value) VALUES ('initialized', 'again')",
                &[],
            )
        })
        .unwrap_err();
    assert!(e.lost_race(), "{e:?}");
    assert_eq!(runs, sync_server::storage::RETRIES + 1);
}

/// `backup` is SQLite's: on PostgreSQL it refuses and says what to use instead.
#[test]
fn a_backup_of_a_postgresql_store_points_to_pg_dump() {
    let cluster = Cluster::start(1);
    let out_file = cluster.dir.path().join("copy.sqlite3");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_zhtj-server"))
        .arg("--data")
        .arg(cluster.data(0))
        .args(["--database", &cluster.database, "backup", "--out"])
        .arg(&out_file)
        .env_remove("ZHTJ_DATABASE")
        .env("ZHTJ_LOG", "warn")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("store.backup_postgres") && err.contains("pg_dump"),
        "{err}"
    );
    assert!(!out_file.exists());
}

/// Work that finds every connection of the pool taken waits `POOL_WAIT` at most, then is
/// answered "busy, retry" (503 `store.busy`) rather than left waiting.
#[test]
fn a_full_pool_answers_busy_after_its_wait() {
    let cluster = Cluster::start(1);
    let store = Store::connect(&Location::Postgres {
        url: cluster.database.clone(),
        replica: None,
        pool: 1,
    })
    .unwrap();
    let (held_tx, held) = std::sync::mpsc::channel();
    let (release_tx, release) = std::sync::mpsc::channel::<()>();
    thread::scope(|s| {
        let store = &store;
        s.spawn(move || {
            store
                .read(|_| {
                    held_tx.send(()).unwrap();
                    let _ = release.recv();
                    Ok(())
                })
                .unwrap()
        });
        held.recv().unwrap();
        let started = Instant::now();
        let e = store.read(|_| Ok(())).unwrap_err();
        let waited = started.elapsed();
        drop(release_tx);
        assert_eq!((e.status(), e.code()), (503, "store.busy"), "{e:?}");
        let wait = sync_server::storage::POOL_WAIT;
        assert!(
            waited >= wait && waited < wait + Duration::from_secs(5),
            "waited {waited:?}"
        );
    });
}

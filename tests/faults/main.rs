//! Network faults and a killed client (issue "Proof", item 2). A real server on a loopback
//! port, the city admin's replica, and the fault-injecting proxy of `e2e::proxy` between
//! them (delays, dropped connections, truncated and reset ones, per direction, from a given
//! request on). What must hold (design.md "Sync protocol": retries are idempotent, an
//! interrupted sync resumes, the server never stores half a push; "Client replica": the
//! replica survives a crash at any point):
//!
//! - a sync under any fault ends with success or a clean `sync.network` error, never
//!   anything else; once the fault is gone, one more sync leaves nothing pending, nothing
//!   refused, every local document equal to the server's (record and acknowledged heads,
//!   same set of documents) and every offline edit on the server;
//! - a push whose answer is lost was committed by the server; the next sync acknowledges it
//!   (its pull brings the committed documents back) without writing anything new, and a
//!   push of the same changes again is answered `Accepted` with the same heads, writing
//!   nothing (the change feed does not move); a push whose request is cut stores nothing;
//! - a pull cut in the middle of its second page keeps the first page and its cursor, and
//!   the next sync downloads only the rest;
//! - a client process killed (SIGKILL) while a large push or pull is under way, or at a
//!   random moment of a sync, leaves a replica file that passes `PRAGMA integrity_check`,
//!   opens, and converges with the next sync, with no edit lost.
//!
//! The killed client is this test binary run again as a child process (the test
//! `child_sync_process`, which does nothing unless `ZHTJ_FAULTS_CHILD_REPLICA` is set): it
//! opens the replica, prints a line, syncs. Kill moments come from the proxy (it holds the
//! connection still at a known point, and the test waits for that), or, for the random
//! kills, from a random delay after the child's line (a sleep that only chooses the moment).
//!
//! Sizes: `ZHTJ_FAULTS_BIG` organizations for the paged pull (default 5,100: two pages of
//! `PULL_LIMIT`), `ZHTJ_FAULTS_KILLS` random kills (default 6), seed `ZHTJ_FAULTS_SEED`.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use automerge::ChangeHash;
use client_core::sync::{PULL_LIMIT, Remote, SyncReport};
use client_core::{Error, NewChild, Replica, store};
use e2e::proxy::{Dir, Proxy, Rule};
use e2e::{CITY, JINJIANG, TestServer, login_request, registration, replica_dir, spawn_server};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use schemas::Field;
use schemas::org::OrgRecord;
use tempfile::TempDir;
use time::OffsetDateTime;
use wire::heads;

const QINGYANG: &str = "org-510105";
const CHILD_REPLICA: &str = "ZHTJ_FAULTS_CHILD_REPLICA";
const CHILD_URL: &str = "ZHTJ_FAULTS_CHILD_URL";
const CHILD_LINE: &str = "ZHTJ-CHILD";
/// Upper bound for a child process to print its line or end (a busy debug build).
const CHILD_LIMIT: Duration = Duration::from_secs(180);

fn env_num<T: std::str::FromStr>(key: &str, default: T) -> T {
    std::env::var(key)
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(default)
}

// ------------------------------------------------------------------------ set-up

/// A server, a proxy in front of it, and the city admin logged in (not yet with a replica).
struct Bench {
    server: TestServer,
    proxy: Proxy,
    login: client_core::protocol::LoginResponse,
    _dirs: Vec<TempDir>,
}

impl Bench {
    fn new() -> Bench {
        let server = spawn_server();
        let proxy = Proxy::in_front_of(&server.url);
        let remote = Remote::new(&server.url).unwrap();
        remote
            .register(&registration(&server.first_code, CITY, 1, "张三"))
            .unwrap();
        let login = remote.login(&login_request(1)).unwrap();
        Bench {
            server,
            proxy,
            login,
            _dirs: Vec::new(),
        }
    }

    /// A new replica of the city admin's login (no documents until its first sync).
    fn replica(&mut self) -> Replica {
        let (dir, path) = replica_dir();
        self._dirs.push(dir);
        Replica::create_for_login(&path, &self.server.url, &self.login).unwrap()
    }

    /// A client through the proxy (a fresh one: no connection kept from an earlier fault).
    fn via_proxy(&self) -> Remote {
        Remote::new(&self.proxy.url()).unwrap()
    }

    fn direct(&self) -> Remote {
        Remote::new(&self.server.url).unwrap()
    }

    fn feed_len(&self) -> i64 {
        self.server.state.store.read(|c| c.max_seq()).unwrap()
    }
}

fn sync_ok(r: &mut Replica, remote: &Remote, ctx: &str) -> SyncReport {
    let report = r
        .sync(remote, &mut |_, _, _| {})
        .unwrap_or_else(|e| panic!("{ctx}: sync: {e:?}"));
    assert!(
        report.rejected.is_empty(),
        "{ctx}: refused: {:?}",
        report.rejected
    );
    report
}

/// Offline edits whose presence on the server is checked after recovery.
#[derive(Default)]
struct Expected {
    names: BTreeMap<String, String>,
    phones: BTreeMap<String, String>,
    codes: BTreeMap<String, String>,
}

/// Offline work: `n` new branches (split between the two districts), a phone for the
/// district and for the first new branch, a code for the last one.
fn offline_work(r: &mut Replica, tag: &str, n: usize, exp: &mut Expected) -> Vec<String> {
    let mut ids = Vec::with_capacity(n);
    for (d, district) in [JINJIANG, QINGYANG].into_iter().enumerate() {
        let kids: Vec<NewChild> = (0..n)
            .filter(|i| i % 2 == d)
            .map(|i| NewChild {
                category: "团支部".into(),
                short_name: format!("{tag}{i}号团支部"),
                ..NewChild::default()
            })
            .collect();
        if kids.is_empty() {
            continue;
        }
        let made = r.create_children(district, &kids, &mut |_, _| {}).unwrap();
        for (id, k) in made.iter().zip(&kids) {
            exp.names.insert(id.clone(), k.short_name.clone());
        }
        ids.extend(made);
    }
    let phone = format!("028-6{:07}", exp.phones.len() + 1_000_000);
    for id in [Some(JINJIANG.to_owned()), ids.first().cloned()]
        .into_iter()
        .flatten()
    {
        r.update_info(&id, &[(Field::Phone, phone.clone())])
            .unwrap();
        exp.phones.insert(id, phone.clone());
    }
    if let Some(last) = ids.last() {
        let c = r.issue_code(last, OffsetDateTime::now_utc()).unwrap();
        exp.codes.insert(c.code, last.clone());
    }
    ids
}

// ------------------------------------------------------------------------ checks

/// The server's documents of a subtree: record and heads.
fn server_subtree(
    server: &TestServer,
    root: &str,
) -> HashMap<String, (OrgRecord, Vec<ChangeHash>)> {
    let like = format!("%/{root}/%");
    server
        .state
        .store
        .read(|c| {
            c.inspect(
                "SELECT id, record, heads FROM orgs WHERE path LIKE ?1",
                &[&like],
            )
        })
        .unwrap()
        .into_iter()
        .map(|r| {
            let text = |i: usize| r[i].clone().expect("not null");
            (text(0), text(1), e2e::unhex(&text(2)))
        })
        .map(|(id, rec, heads)| {
            let rec: OrgRecord = serde_json::from_str(&rec).unwrap();
            (id, (rec, sorted(heads::decode(&heads))))
        })
        .collect()
}

fn sorted(mut h: Vec<ChangeHash>) -> Vec<ChangeHash> {
    h.sort_unstable();
    h
}

/// The replica equals the server on its subtree: same documents, equal records, the
/// server's heads acknowledged, nothing pending or refused; and every expected edit is there.
fn assert_converged(replica: &Replica, server: &TestServer, exp: &Expected, ctx: &str) {
    assert_eq!(replica.counts().unwrap().1, 0, "{ctx}: nothing pending");
    assert!(
        replica.rejections().unwrap().is_empty(),
        "{ctx}: nothing refused"
    );
    let on_server = server_subtree(server, replica.own_id());
    let conn = store::open(replica.path()).unwrap();
    let local = store::all(&conn).unwrap();
    let local_ids: HashSet<&str> = local.iter().map(|p| p.record.id.as_str()).collect();
    let server_ids: HashSet<&str> = on_server.keys().map(String::as_str).collect();
    assert_eq!(
        local_ids, server_ids,
        "{ctx}: the replica and the server hold other documents"
    );
    for p in &local {
        let (rec, heads) = &on_server[&p.record.id];
        assert_eq!(&p.record, rec, "{ctx}: {} differs", p.record.id);
        let row = store::load_doc(&conn, &p.record.id).unwrap().unwrap();
        assert!(!row.dirty, "{ctx}: {} pending", p.record.id);
        assert_eq!(
            row.acked_heads.as_deref().map(heads::decode).map(sorted),
            Some(heads.clone()),
            "{ctx}: {}: acknowledged heads are not the server's",
            p.record.id
        );
    }
    for (id, name) in &exp.names {
        let (rec, _) = on_server
            .get(id)
            .unwrap_or_else(|| panic!("{ctx}: {name} lost: not on the server"));
        assert_eq!(&rec.short_name, name, "{ctx}: {id}");
    }
    for (id, phone) in &exp.phones {
        assert_eq!(&on_server[id].0.phone, phone, "{ctx}: {id}: phone lost");
    }
    for (code, id) in &exp.codes {
        assert!(
            on_server[id].0.codes.contains_key(code),
            "{ctx}: code {code} of {id} lost"
        );
    }
}

fn integrity_ok(path: &Path, ctx: &str) {
    let c = rusqlite::Connection::open(path).unwrap();
    let verdict: String = c
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(verdict, "ok", "{ctx}: integrity_check");
}

// ------------------------------------------------------------------------ faults

#[test]
fn every_fault_ends_in_success_or_a_clean_network_error_and_one_more_sync_converges() {
    let mut bench = Bench::new();
    let mut replica = bench.replica();
    sync_ok(&mut replica, &bench.direct(), "first sync");
    let mut exp = Expected::default();
    let push = "POST /api/v1/push ";
    let pull = "POST /api/v1/pull ";
    let faults: Vec<(&str, Rule, bool)> = vec![
        // (label, rule, must the sync still succeed)
        (
            "slow responses",
            Rule::delay(Dir::Down, Duration::from_millis(5)),
            true,
        ),
        (
            "slow requests",
            Rule::delay(Dir::Up, Duration::from_millis(5)),
            true,
        ),
        ("every connection dropped", Rule::drop_all(), false),
        ("request cut at once", Rule::truncate(Dir::Up, 0), false),
        (
            "request cut in its headers",
            Rule::truncate(Dir::Up, 60),
            false,
        ),
        (
            "requests cut after 400 bytes",
            Rule::truncate(Dir::Up, 400),
            false,
        ),
        ("response cut at once", Rule::truncate(Dir::Down, 0), false),
        (
            "response cut in its headers",
            Rule::truncate(Dir::Down, 40),
            false,
        ),
        (
            "responses cut after 500 bytes",
            Rule::truncate(Dir::Down, 500),
            false,
        ),
        (
            "traffic cut after 3000 bytes",
            Rule::truncate(Dir::Both, 3000),
            false,
        ),
        ("reset while sending", Rule::reset(Dir::Up, 100), false),
        ("reset while receiving", Rule::reset(Dir::Down, 100), false),
        (
            "reset after 2000 bytes",
            Rule::reset(Dir::Both, 2000),
            false,
        ),
        (
            "push request cut",
            Rule::truncate(Dir::Up, 300).on_request(push, 0),
            false,
        ),
        (
            "push request reset",
            Rule::reset(Dir::Up, 300).on_request(push, 0),
            false,
        ),
        (
            "push answer cut",
            Rule::truncate(Dir::Down, 20).on_request(push, 0),
            false,
        ),
        (
            "push answer reset",
            Rule::reset(Dir::Down, 150).on_request(push, 0),
            false,
        ),
        (
            "pull answer cut",
            Rule::truncate(Dir::Down, 120).on_request(pull, 0),
            false,
        ),
        (
            "pull answer reset",
            Rule::reset(Dir::Down, 30).on_request(pull, 0),
            false,
        ),
        (
            "every response cut",
            Rule::truncate(Dir::Down, 200).per_connection(),
            false,
        ),
    ];
    let mut outcomes = Vec::new();
    for (round, (label, rule, must_succeed)) in faults.into_iter().enumerate() {
        let ctx = format!("fault {round} ({label})");
        let created = offline_work(&mut replica, &format!("第{round}轮"), 6, &mut exp);
        let pending = replica.counts().unwrap().1;
        let feed_before = bench.feed_len();
        bench.proxy.set(rule);
        let result = replica.sync(&bench.via_proxy(), &mut |_, _, _| {});
        let seen = bench.proxy.stats();
        bench.proxy.clear();
        let outcome = match &result {
            Ok(report) => {
                assert!(report.rejected.is_empty(), "{ctx}: {:?}", report.rejected);
                assert_eq!(replica.counts().unwrap().1, 0, "{ctx}: synced");
                "succeeded".to_owned()
            }
            Err(e) => {
                assert_eq!(e.code(), "sync.network", "{ctx}: {e:?}");
                assert!(!must_succeed, "{ctx}: a slow link must not fail: {e}");
                assert!(
                    seen.fired > 0,
                    "{ctx}: failed without the fault firing: {e}"
                );
                // Nothing half done: what is still pending is at most what was.
                assert!(replica.counts().unwrap().1 <= pending, "{ctx}");
                format!("{e}")
            }
        };
        // A cut request stores nothing on the server.
        if label.contains("request") && result.is_err() {
            assert_eq!(
                bench.feed_len(),
                feed_before,
                "{ctx}: a cut request stored something"
            );
            for id in &created {
                assert!(
                    server_subtree(&bench.server, id).is_empty(),
                    "{ctx}: {id} stored from a cut request"
                );
            }
        }
        outcomes.push(format!(
            "{label}: {outcome} (requests {:?}, {} B up, {} B down)",
            seen.requests, seen.bytes_up, seen.bytes_down
        ));
        // The fault is gone: one more sync converges.
        let report = sync_ok(&mut replica, &bench.via_proxy(), &ctx);
        assert_converged(&replica, &bench.server, &exp, &ctx);
        if result.is_ok() {
            assert_eq!(report.pushed, 0, "{ctx}: nothing left to push");
        }
    }
    println!("faults:\n  {}", outcomes.join("\n  "));
}

#[test]
fn a_push_whose_answer_is_lost_is_retried_idempotently() {
    let mut bench = Bench::new();
    let mut replica = bench.replica();
    sync_ok(&mut replica, &bench.direct(), "first sync");
    let mut exp = Expected::default();
    // Known to the server, then edited offline: the retry sends changes since acknowledged heads.
    let old = offline_work(&mut replica, "旧", 4, &mut exp);
    sync_ok(&mut replica, &bench.direct(), "second sync");
    replica
        .update_info(&old[1], &[(Field::Phone, "13912345678".into())])
        .unwrap();
    exp.phones.insert(old[1].clone(), "13912345678".into());
    let new = offline_work(&mut replica, "新", 6, &mut exp);
    let pending = replica.counts().unwrap().1;

    bench
        .proxy
        .set(Rule::truncate(Dir::Down, 20).on_request("POST /api/v1/push ", 0));
    let err = replica
        .sync(&bench.via_proxy(), &mut |_, _, _| {})
        .unwrap_err();
    assert!(matches!(err, Error::Network(_)), "{err:?}");
    assert!(bench.proxy.stats().fired >= 1, "the push answer was cut");
    bench.proxy.clear();

    // The server committed the push; the replica never heard of it.
    assert_eq!(replica.counts().unwrap().1, pending, "all still pending");
    let committed = server_subtree(&bench.server, CITY);
    for id in new.iter().chain([&old[1]]) {
        assert!(committed.contains_key(id), "{id} committed by the server");
    }
    let feed = bench.feed_len();

    // The next sync: its pull brings the committed documents back, the replica sees its
    // own changes in them and acknowledges them; nothing is pushed twice, nothing new is
    // written on the server.
    let report = sync_ok(&mut replica, &bench.via_proxy(), "retry");
    assert!(
        report.received as u64 >= pending,
        "the committed documents come back"
    );
    assert_eq!(
        report.pushed, 0,
        "acknowledged by the pull, not pushed again"
    );
    assert_eq!(bench.feed_len(), feed, "the retry wrote nothing new");
    let after = server_subtree(&bench.server, CITY);
    for (id, (rec, heads)) in &committed {
        assert_eq!(
            &after[id],
            &(rec.clone(), heads.clone()),
            "{id} unchanged by the retry"
        );
    }
    assert_converged(&replica, &bench.server, &exp, "after the retry");

    // A client that pushes again anyway (the same bytes, by hand): `Accepted` with the
    // server's heads, nothing written.
    let conn = store::open(replica.path()).unwrap();
    let row = store::load_doc(&conn, &new[0]).unwrap().unwrap();
    let token = {
        let login = bench.direct().login(&login_request(1)).unwrap();
        login.token
    };
    let resp = bench
        .direct()
        .push(
            &token,
            &client_core::protocol::PushRequest {
                version: 2,
                docs: vec![client_core::protocol::PushDoc {
                    id: new[0].clone(),
                    changes: row.bytes,
                }],
                cursor: 0,
            },
        )
        .unwrap();
    match &resp.results[0].outcome {
        client_core::protocol::DocOutcome::Accepted { heads } => {
            let heads = sorted(heads.iter().copied().map(ChangeHash).collect());
            assert_eq!(heads, after[&new[0]].1, "the same heads");
        }
        o => panic!("a repeated push: {o:?}"),
    }
    assert_eq!(bench.feed_len(), feed, "a repeated push writes nothing");
}

#[test]
fn a_pull_cut_mid_page_resumes_from_the_stored_cursor() {
    let big: usize = env_num("ZHTJ_FAULTS_BIG", PULL_LIMIT as usize + 100);
    let mut bench = Bench::new();
    let mut writer = bench.replica();
    sync_ok(&mut writer, &bench.direct(), "writer's first sync");
    let t0 = Instant::now();
    let mut exp = Expected::default();
    offline_work(&mut writer, "批", big, &mut exp);
    let t_create = t0.elapsed();
    let t1 = Instant::now();
    sync_ok(&mut writer, &bench.direct(), "writer's push");
    let t_push = t1.elapsed();
    let total = server_subtree(&bench.server, CITY).len();
    assert!(
        total > PULL_LIMIT as usize,
        "{total} documents: more than one page"
    );

    // A new replica of the same admin downloads the subtree through the proxy.
    let mut reader = bench.replica();
    let pull = "POST /api/v1/pull ";
    // 1. The first page is cut in the middle: nothing stored, the cursor stays at 0.
    bench
        .proxy
        .set(Rule::truncate(Dir::Down, 50_000).on_request(pull, 0));
    let err = reader
        .sync(&bench.via_proxy(), &mut |_, _, _| {})
        .unwrap_err();
    assert_eq!(err.code(), "sync.network", "{err:?}");
    assert!(bench.proxy.stats().fired >= 1, "cut in the first page");
    assert_eq!(reader.counts().unwrap().0, 0, "a cut page stores nothing");
    assert_eq!(reader.sync_status().unwrap().cursor, 0);

    // 2. The second page is cut in the middle: the first page and its cursor stay.
    bench
        .proxy
        .set(Rule::truncate(Dir::Down, 2_000).on_request(pull, 1));
    let t2 = Instant::now();
    let err = reader
        .sync(&bench.via_proxy(), &mut |_, _, _| {})
        .unwrap_err();
    let t_page = t2.elapsed();
    assert_eq!(err.code(), "sync.network", "{err:?}");
    let seen = bench.proxy.stats();
    assert_eq!(seen.count("pull"), 2, "cut in the second page: {seen:?}");
    let stored = reader.counts().unwrap().0;
    assert_eq!(stored, u64::from(PULL_LIMIT), "the first page is kept");
    let cursor = reader.sync_status().unwrap().cursor;
    assert!(cursor > 0, "the first page's cursor is kept");
    bench.proxy.clear();

    // 3. The next sync continues from the cursor: only the rest comes.
    let report = sync_ok(&mut reader, &bench.via_proxy(), "resumed pull");
    assert_eq!(
        report.received,
        total - PULL_LIMIT as usize,
        "only the documents after the stored cursor are downloaded"
    );
    assert_eq!(report.pushed, 0);
    assert_converged(&reader, &bench.server, &exp, "reader");
    sync_ok(&mut writer, &bench.direct(), "writer's last sync");
    assert_converged(&writer, &bench.server, &exp, "writer");
    println!(
        "paged pull: {total} documents; created offline in {:.1} s, pushed in {:.1} s, first page pulled in {:.1} s; resumed with {} documents",
        t_create.as_secs_f64(),
        t_push.as_secs_f64(),
        t_page.as_secs_f64(),
        report.received
    );
}

// ------------------------------------------------------------------------ a killed client

/// The child process: open the replica, say so, sync. Does nothing in an ordinary test run.
#[test]
fn child_sync_process() {
    let (Ok(path), Ok(url)) = (std::env::var(CHILD_REPLICA), std::env::var(CHILD_URL)) else {
        return;
    };
    let mut replica = Replica::open(Path::new(&path)).unwrap();
    let remote = Remote::new(&url).unwrap();
    println!("{CHILD_LINE} syncing");
    let result = replica.sync(&remote, &mut |_, _, _| {});
    match result {
        Ok(r) => println!(
            "{CHILD_LINE} done: pulled {}, pushed {}",
            r.pulled, r.pushed
        ),
        Err(e) => println!("{CHILD_LINE} failed: {e}"),
    }
}

/// A child process syncing `path` with the server at `url`; killed (SIGKILL) when dropped.
struct SyncProcess {
    child: Option<Child>,
    lines: mpsc::Receiver<String>,
}

impl SyncProcess {
    fn start(path: &Path, url: &str) -> SyncProcess {
        let exe = std::env::current_exe().expect("the test binary");
        let mut child = Command::new(exe)
            .args([
                "child_sync_process",
                "--exact",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD_REPLICA, path)
            .env(CHILD_URL, url)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn the child sync process");
        let out = child.stdout.take().expect("piped");
        let (tx, lines) = mpsc::channel();
        thread::spawn(move || {
            for line in BufReader::new(out).lines() {
                let Ok(line) = line else { break };
                // libtest may have written "test child_sync_process ... " on the same line.
                if let Some(at) = line.find(CHILD_LINE)
                    && tx.send(line[at..].to_owned()).is_err()
                {
                    break;
                }
            }
        });
        SyncProcess {
            child: Some(child),
            lines,
        }
    }

    /// Wait for the child's next line (at most [`CHILD_LIMIT`]).
    fn line(&self) -> String {
        self.lines
            .recv_timeout(CHILD_LIMIT)
            .unwrap_or_else(|e| panic!("the child printed nothing within {CHILD_LIMIT:?}: {e}"))
    }

    fn exited(&mut self) -> bool {
        self.child
            .as_mut()
            .is_none_or(|c| c.try_wait().ok().flatten().is_some())
    }

    /// SIGKILL and reap.
    fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Wait for the end (at most [`CHILD_LIMIT`]) and return its last line.
    fn finish(&mut self) -> String {
        let line = self.line();
        if let Some(mut c) = self.child.take() {
            let status = c.wait().unwrap();
            assert!(status.success(), "the child failed: {status}");
        }
        line
    }
}

impl Drop for SyncProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

/// After a kill: the file is sound, opens, and the next sync converges with nothing lost.
fn recover(bench: &Bench, path: &Path, exp: &Expected, ctx: &str) -> (Replica, SyncReport) {
    integrity_ok(path, ctx);
    let mut replica = Replica::open(path).unwrap_or_else(|e| panic!("{ctx}: reopen: {e:?}"));
    let report = sync_ok(&mut replica, &bench.direct(), ctx);
    assert_converged(&replica, &bench.server, exp, ctx);
    integrity_ok(path, ctx);
    (replica, report)
}

#[test]
fn a_client_killed_mid_sync_recovers_with_nothing_lost() {
    let seed: u64 = env_num("ZHTJ_FAULTS_SEED", 0x5101_0417_0002);
    let kills: usize = env_num("ZHTJ_FAULTS_KILLS", 6);
    let mut rng = StdRng::seed_from_u64(seed);
    let mut bench = Bench::new();
    let mut replica = bench.replica();
    let path = replica.path().to_owned();
    sync_ok(&mut replica, &bench.direct(), "first sync");
    let mut exp = Expected::default();
    let push = "POST /api/v1/push ";
    let mut report = Vec::new();

    // 1. Killed while uploading a large push: the server stores nothing of it.
    offline_work(&mut replica, "上传中", 1_500, &mut exp);
    let pending = replica.counts().unwrap().1;
    drop(replica);
    let feed = bench.feed_len();
    bench
        .proxy
        .set(Rule::hold(Dir::Up, 32 * 1024).on_request(push, 0));
    let mut child = SyncProcess::start(&path, &bench.proxy.url());
    assert_eq!(child.line(), format!("{CHILD_LINE} syncing"));
    assert!(
        bench.proxy.wait_fired(|| child.exited()),
        "the push upload reached 32 KiB"
    );
    child.kill();
    bench.proxy.clear();
    assert_eq!(bench.feed_len(), feed, "half a push stored nothing");
    integrity_ok(&path, "killed mid-upload");
    let reopened = Replica::open(&path).unwrap();
    assert_eq!(reopened.counts().unwrap().1, pending, "still all pending");
    drop(reopened);
    let (replica, r) = recover(&bench, &path, &exp, "killed mid-upload");
    assert_eq!(r.pushed as u64, pending);
    report.push(format!(
        "mid-upload: {pending} pending, recovery pushed {}",
        r.pushed
    ));
    let mut replica = replica;

    // 2. Killed while the push's answer is held back: committed, never acknowledged.
    offline_work(&mut replica, "已提交", 500, &mut exp);
    let pending = replica.counts().unwrap().1;
    drop(replica);
    bench
        .proxy
        .set(Rule::hold(Dir::Down, 0).on_request(push, 0));
    let mut child = SyncProcess::start(&path, &bench.proxy.url());
    assert!(
        bench.proxy.wait_fired(|| child.exited()),
        "the push was answered"
    );
    child.kill();
    bench.proxy.clear();
    let feed = bench.feed_len();
    integrity_ok(&path, "killed before the answer");
    let reopened = Replica::open(&path).unwrap();
    assert_eq!(
        reopened.counts().unwrap().1,
        pending,
        "committed, not acknowledged"
    );
    drop(reopened);
    let (replica, r) = recover(&bench, &path, &exp, "killed before the answer");
    assert!(
        r.received as u64 >= pending,
        "the committed documents come back"
    );
    assert_eq!(r.pushed, 0, "acknowledged by the pull, not pushed again");
    assert_eq!(
        bench.feed_len(),
        feed,
        "the recovery of a committed push writes nothing"
    );
    report.push(format!(
        "answer lost: {pending} pending, acknowledged by the recovery's pull ({} received, {} pushed, feed unchanged)",
        r.received, r.pushed
    ));
    drop(replica);

    // 3. A new replica killed while downloading the subtree.
    let reader = bench.replica();
    let reader_path = reader.path().to_owned();
    drop(reader);
    bench
        .proxy
        .set(Rule::hold(Dir::Down, 16 * 1024).on_request("POST /api/v1/pull ", 0));
    let mut child = SyncProcess::start(&reader_path, &bench.proxy.url());
    assert!(
        bench.proxy.wait_fired(|| child.exited()),
        "the pull reached 16 KiB"
    );
    child.kill();
    bench.proxy.clear();
    let (_reader, r) = recover(&bench, &reader_path, &exp, "killed mid-download");
    report.push(format!("mid-download: recovery received {}", r.received));

    // 4. Killed at random moments of a sync (pull, merge, push, recording the outcome).
    let mut replica = Replica::open(&path).unwrap();
    let mut duration = None;
    for k in 0..=kills {
        let ctx = format!("random kill {k}");
        offline_work(&mut replica, &format!("随机{k}批"), 400, &mut exp);
        drop(replica);
        let mut child = SyncProcess::start(&path, &bench.server.url);
        assert_eq!(child.line(), format!("{CHILD_LINE} syncing"));
        let t0 = Instant::now();
        let landed = match duration {
            // The first round measures a whole sync.
            None => {
                let last = child.finish();
                assert!(last.contains("done"), "{ctx}: {last}");
                duration = Some(t0.elapsed());
                "not killed (measuring)".to_owned()
            }
            Some(d) => {
                // Skewed towards the start: the pull and the push are over in the first
                // tenth; recording the push's outcome takes the rest.
                let u: f64 = rng.random_range(0.0..1.1);
                let delay = d.mul_f64(u * u * u);
                thread::sleep(delay); // chooses the kill moment only
                let finished = child.exited();
                child.kill();
                format!(
                    "after {} ms of ~{} ms{}",
                    delay.as_millis(),
                    d.as_millis(),
                    if finished { " (already done)" } else { "" }
                )
            }
        };
        // Where it landed: what the replica still had pending, and how much of it the server
        // had committed.
        integrity_ok(&path, &ctx);
        let (left, committed) = {
            let r = Replica::open(&path).unwrap();
            let conn = store::open(&path).unwrap();
            let dirty: Vec<String> = store::all(&conn)
                .unwrap()
                .into_iter()
                .filter(|p| p.dirty)
                .map(|p| p.record.id)
                .collect();
            assert_eq!(r.counts().unwrap().1, dirty.len() as u64);
            // Committed: the server's copy holds every local change.
            let committed = dirty
                .iter()
                .filter(|id| {
                    let local = store::load_doc(&conn, id).unwrap().unwrap();
                    let mut local = automerge::AutoCommit::load(&local.bytes).unwrap();
                    let Some((bytes, _)) = bench
                        .server
                        .state
                        .store
                        .read(|c| Ok(c.org_doc(id)?.map(|d| (d.bytes, d.record))))
                        .unwrap()
                    else {
                        return false;
                    };
                    let mut on_server = automerge::AutoCommit::load(&bytes).unwrap();
                    local
                        .get_heads()
                        .iter()
                        .all(|h| on_server.get_change_by_hash(h).is_some())
                })
                .count();
            (dirty.len(), committed)
        };
        let (r, rep) = recover(&bench, &path, &exp, &ctx);
        report.push(format!(
            "{ctx}: {landed}; {left} left pending ({committed} of them committed); recovery received {}, pushed {}",
            rep.received, rep.pushed
        ));
        replica = r;
    }
    println!("killed client:\n  {}", report.join("\n  "));
}

// ------------------------------------------------------------------------ the proxy itself

/// An upstream that answers every connection with `n` bytes (then the end of its stream)
/// after reading one byte.
fn upstream(n: usize) -> std::net::SocketAddr {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    thread::spawn(move || {
        for c in l.incoming() {
            let Ok(mut c) = c else { continue };
            thread::spawn(move || {
                use std::io::{Read, Write};
                let mut b = [0u8; 1];
                if c.read_exact(&mut b).is_ok() {
                    let _ = c.write_all(&vec![7u8; n]);
                    let _ = c.shutdown(std::net::Shutdown::Write);
                }
                let mut rest = Vec::new();
                let _ = c.read_to_end(&mut rest);
            });
        }
    });
    addr
}

/// Connect through `proxy`, send one byte, read until the end: (bytes read, how it ended).
fn fetch(proxy: &Proxy) -> (usize, std::io::Result<()>) {
    use std::io::{Read, Write};
    let mut c = std::net::TcpStream::connect(proxy.addr).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    if let Err(e) = c.write_all(b"x") {
        return (0, Err(e));
    }
    let mut got = 0;
    let mut buf = [0u8; 4096];
    loop {
        match c.read(&mut buf) {
            Ok(0) => return (got, Ok(())),
            Ok(n) => got += n,
            Err(e) => return (got, Err(e)),
        }
    }
}

#[test]
fn the_proxy_does_what_its_faults_say() {
    use std::io::ErrorKind;
    let proxy = Proxy::start(upstream(100_000));
    // Truncation is exact, then a clean end of stream.
    proxy.set(Rule::truncate(Dir::Down, 12_345));
    let (n, end) = fetch(&proxy);
    assert_eq!(n, 12_345);
    assert!(end.is_ok(), "{end:?}");
    // Once fired (shared scope), every later connection is closed at once.
    let (n, _) = fetch(&proxy);
    assert_eq!(n, 0);
    // Per connection: each one is cut on its own.
    proxy.set(Rule::truncate(Dir::Down, 1_000).per_connection());
    assert_eq!(fetch(&proxy).0, 1_000);
    assert_eq!(fetch(&proxy).0, 1_000);
    // A reset is a reset.
    proxy.set(Rule::reset(Dir::Down, 5_000));
    let (n, end) = fetch(&proxy);
    assert!(n <= 5_000);
    assert_eq!(
        end.map_err(|e| e.kind()),
        Err(ErrorKind::ConnectionReset),
        "after {n} bytes"
    );
    // Dropped: nothing forwarded.
    proxy.set(Rule::drop_all());
    assert_eq!(fetch(&proxy).0, 0);
    assert!(proxy.stats().fired >= 1);
    // A hold stops the flow until released.
    proxy.set(Rule::hold(Dir::Down, 100));
    let (tx, rx) = mpsc::channel();
    let p = &proxy;
    thread::scope(|s| {
        s.spawn(move || tx.send(fetch(p)).unwrap());
        assert!(proxy.wait_fired(|| false));
        assert!(rx.try_recv().is_err(), "held: the client is still reading");
        proxy.release();
        let (n, _) = rx.recv_timeout(Duration::from_secs(30)).unwrap();
        assert_eq!(n, 100);
    });
    // Cleared: everything passes.
    proxy.clear();
    let (n, end) = fetch(&proxy);
    assert_eq!(n, 100_000);
    assert!(end.is_ok());
    assert_eq!(proxy.stats().connections, 1);
}

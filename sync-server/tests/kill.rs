//! Crash safety of the sync server: a server killed with SIGKILL between and during pushes
//! restarts with every acknowledged push present and no half-applied document.
//!
//! The real `zhtj-server` binary runs on a loopback port 0 with a temporary data directory;
//! the city admin registers, logs in and keeps a replica. Each cycle creates a batch of new
//! 团委/团支部 offline (under districts or committees of earlier cycles) and edits some
//! phones, then syncs in a thread while the main thread kills the server with SIGKILL:
//! before the sync starts, after a random delay (landing during the pull, mid-push, or after
//! the sync finished), or exactly when the push's answer leaves the server (committed, never
//! acknowledged). The replica reaches the server through a small TCP relay in this file that
//! only watches the requests (to tell where a kill landed) and, for that last case, holds the
//! push answer back. The server restarts on the same data directory (a new port; the session
//! is in the database) and the test checks:
//!
//! 1. `PRAGMA integrity_check` is "ok" on the server's database (SQLite; on PostgreSQL,
//!    when the tests run there, the database is its own), and its projection agrees
//!    with itself (live-children counts, feed positions, paths, projected columns);
//! 2. every stored document loads, reads as its `record` column, and has the `heads`
//!    column as its heads: no half-applied document;
//! 3. every document the replica holds as acknowledged has its acknowledged heads on the
//!    server, and every acknowledged and clean one all its local heads;
//! 4. a full sync then succeeds with no refusal, leaves nothing pending, and every local
//!    document equals the server's (record and heads), with the same set of documents.
//!
//! Cycles: `ZHTJ_KILL_CYCLES` (default 10); seed: `ZHTJ_KILL_SEED` (printed on failure).
//! Sleeps here only choose kill moments: startup waits for the server's own lines, and the
//! killed process is reaped with `wait`.

use std::collections::{HashMap, HashSet};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::{Arc, Condvar, Mutex, mpsc};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use automerge::{AutoCommit, ChangeHash};
use client_core::protocol::{LoginRequest, RegisterRequest};
use client_core::sync::Remote;
use client_core::{Error, NewChild, Replica};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use rusqlite::{Connection, OpenFlags};
use schemas::Field;
use schemas::org::OrgRecord;
use tempfile::TempDir;
use wire::{doc, heads};

mod common;
use common::{database_url, id_number, mobile, server_command, sync_ok, unhex};
use sync_server::storage::{Location, Store};

const CITY: &str = "org-5101";
const DEFAULT_CYCLES: usize = 10;
const DEFAULT_SEED: u64 = 0x5101_0417_0009;
/// How long a (debug, busy) server may take to print its start-up lines.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(120);
/// Committees deeper than this level get no children (keeps full names short).
const MAX_PARENT_LEVEL: u8 = 6;

// ------------------------------------------------------------------------ helpers

fn sorted(mut heads: Vec<ChangeHash>) -> Vec<ChangeHash> {
    heads.sort_unstable();
    heads
}

fn hex(heads: &[ChangeHash]) -> Vec<String> {
    heads.iter().map(|h| h.to_string()).collect()
}

/// Prints the seed if the test fails (dropped while panicking).
struct SeedReport(u64, usize);

impl Drop for SeedReport {
    fn drop(&mut self) {
        if thread::panicking() {
            eprintln!(
                "kill test failed: rerun with ZHTJ_KILL_SEED={} ZHTJ_KILL_CYCLES={}",
                self.0, self.1
            );
        }
    }
}

// ------------------------------------------------------------------------ the server

/// The `zhtj-server` process behind a [`Proxy`]; killed (SIGKILL) and reaped when dropped,
/// panics included.
struct Server {
    child: Option<Child>,
    reader: Option<JoinHandle<()>>,
    proxy: Option<Proxy>,
    /// The proxy's address: what the replica talks to.
    url: String,
    /// The server's own address, as it printed it.
    direct_url: String,
    /// What the proxy had seen when the server was killed.
    last_figures: Option<ProxyState>,
}

impl Server {
    /// Start `zhtj-server serve` on 127.0.0.1:0 over `data`; wait for its start-up lines.
    /// Returns the server and the first admin's registration code (first start only).
    fn start(data: &Path) -> (Server, Option<String>) {
        let mut child = server_command(data, "warn")
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn zhtj-server");
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, rx) = mpsc::channel();
        // Reads every line until the process ends (the pipe is drained after start-up too).
        let reader = thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                let _ = tx.send(line);
            }
        });
        let mut server = Server {
            child: Some(child),
            reader: Some(reader),
            proxy: None,
            url: String::new(),
            direct_url: String::new(),
            last_figures: None,
        };
        let mut code = None;
        let mut seen = Vec::new();
        loop {
            let line = match rx.recv_timeout(STARTUP_TIMEOUT) {
                Ok(line) => line,
                Err(e) => panic!("zhtj-server did not finish starting ({e}); printed: {seen:?}"),
            };
            if let Some(i) = line.find("http://") {
                if server.direct_url.is_empty() {
                    server.direct_url = line[i..].trim().to_owned();
                }
            } else if let Some(i) = line.find("注册码") {
                let rest = &line[i + "注册码".len()..];
                code = Some(rest.trim_start_matches([':', ':']).trim().to_owned());
            } else if line.contains("Ctrl+C") {
                break;
            }
            seen.push(line);
        }
        let upstream: SocketAddr = server
            .direct_url
            .strip_prefix("http://")
            .and_then(|a| a.parse().ok())
            .unwrap_or_else(|| panic!("no address printed: {seen:?}"));
        let proxy = Proxy::start(upstream);
        server.url = format!("http://{}", proxy.addr);
        server.proxy = Some(proxy);
        (server, code)
    }

    fn proxy(&self) -> &Proxy {
        self.proxy.as_ref().expect("server running")
    }

    /// SIGKILL (std's `Child::kill` on Unix), reap, join the stdout reader, and stop the
    /// proxy (its address then refuses connections, as the dead server's would).
    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        if let Some(reader) = self.reader.take() {
            let _ = reader.join();
        }
        if let Some(mut proxy) = self.proxy.take() {
            proxy.stop();
        }
    }

    /// [`Server::kill`], keeping what the proxy saw in `last_figures`.
    fn kill_keeping_figures(&mut self) {
        let seen = self.proxy.as_ref().map(|p| {
            p.state(|st| ProxyState {
                pull_requests: st.pull_requests,
                push_requests: st.push_requests,
                push_answers: st.push_answers,
                ..ProxyState::default()
            })
        });
        self.kill();
        self.last_figures = seen;
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

/// What the proxy saw, and its one-shot hold of a push answer.
#[derive(Debug, Default)]
struct ProxyState {
    pull_requests: usize,
    push_requests: usize,
    /// Push answers whose first bytes arrived from the server (it had committed).
    push_answers: usize,
    /// Armed: the next push answer is held back (not forwarded) until released, then
    /// dropped with its connection.
    hold_push_answer: bool,
    /// A push answer is being held.
    held: bool,
    released: bool,
    stopping: bool,
}

type Shared = Arc<(Mutex<ProxyState>, Condvar)>;

/// A loopback TCP relay in front of the server. It only watches (which endpoint each
/// request calls, when a push's answer starts: the server answers after its commit) and,
/// when armed, withholds one push answer so the server can be killed between its commit
/// and the client's acknowledgement.
struct Proxy {
    addr: SocketAddr,
    shared: Shared,
    accept: Option<JoinHandle<()>>,
}

const PULL: u8 = 1;
const PUSH: u8 = 2;

impl Proxy {
    fn start(upstream: SocketAddr) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("proxy listens");
        let addr = listener.local_addr().unwrap();
        let shared: Shared = Arc::default();
        let sh = shared.clone();
        let accept = thread::spawn(move || {
            for conn in listener.incoming() {
                if sh.0.lock().unwrap().stopping {
                    break;
                }
                let Ok(client) = conn else { continue };
                let sh = sh.clone();
                thread::spawn(move || relay(client, upstream, sh));
            }
        });
        Proxy {
            addr,
            shared,
            accept: Some(accept),
        }
    }

    fn state<T>(&self, f: impl FnOnce(&mut ProxyState) -> T) -> T {
        let (m, cv) = &*self.shared;
        let out = f(&mut m.lock().unwrap());
        cv.notify_all();
        out
    }

    /// Wait until a push answer is held, or `done()` (the sync ended without one).
    fn wait_held(&self, done: impl Fn() -> bool) -> bool {
        let (m, cv) = &*self.shared;
        let deadline = Instant::now() + Duration::from_secs(120);
        let mut st = m.lock().unwrap();
        while !st.held {
            if done() {
                return false;
            }
            assert!(Instant::now() < deadline, "no push answer within 120 s");
            st = cv.wait_timeout(st, Duration::from_millis(20)).unwrap().0;
        }
        true
    }

    /// Release any held answer (dropping it), stop accepting, join the accept loop.
    fn stop(&mut self) {
        self.state(|st| {
            st.stopping = true;
            st.released = true;
        });
        if let Some(accept) = self.accept.take() {
            let _ = TcpStream::connect(self.addr);
            let _ = accept.join();
        }
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.stop();
    }
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// Relay one client connection to the server until either side closes.
fn relay(client: TcpStream, upstream: SocketAddr, sh: Shared) {
    let Ok(server) = TcpStream::connect(upstream) else {
        let _ = client.shutdown(Shutdown::Both);
        return;
    };
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    let endpoint = Arc::new(AtomicU8::new(0));
    let answered = Arc::new(AtomicBool::new(false));
    let (Ok(mut from_client), Ok(mut to_server)) = (client.try_clone(), server.try_clone()) else {
        return;
    };
    let up = {
        let (endpoint, answered, sh) = (endpoint.clone(), answered.clone(), sh.clone());
        thread::spawn(move || {
            let mut buf = vec![0u8; 64 * 1024];
            loop {
                let n = match from_client.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => n,
                };
                let chunk = &buf[..n];
                let called = if contains(chunk, b"POST /api/v1/push ") {
                    PUSH
                } else if contains(chunk, b"POST /api/v1/pull ") {
                    PULL
                } else if contains(chunk, b"POST /api/v1/") {
                    u8::MAX
                } else {
                    0
                };
                if called != 0 {
                    endpoint.store(called, Ordering::SeqCst);
                    answered.store(false, Ordering::SeqCst);
                    let mut st = sh.0.lock().unwrap();
                    match called {
                        PUSH => st.push_requests += 1,
                        PULL => st.pull_requests += 1,
                        _ => {}
                    }
                }
                if to_server.write_all(chunk).is_err() {
                    break;
                }
            }
            let _ = to_server.shutdown(Shutdown::Write);
        })
    };
    let (mut from_server, mut to_client) = (server, client);
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match from_server.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        if endpoint.load(Ordering::SeqCst) == PUSH && !answered.swap(true, Ordering::SeqCst) {
            let (m, cv) = &*sh;
            let mut st = m.lock().unwrap();
            st.push_answers += 1;
            if st.hold_push_answer {
                st.hold_push_answer = false;
                st.held = true;
                cv.notify_all();
                while !st.released {
                    st = cv.wait(st).unwrap();
                }
                break;
            }
        }
        if to_client.write_all(&buf[..n]).is_err() {
            break;
        }
    }
    let _ = to_client.shutdown(Shutdown::Both);
    let _ = from_server.shutdown(Shutdown::Both);
    let _ = up.join();
}

// ------------------------------------------------------------------------ checks

/// A server document, as checked.
struct ServerDoc {
    heads: Vec<ChangeHash>,
    /// Every change hash of the document's history.
    history: HashSet<ChangeHash>,
}

fn open_ro(path: &Path) -> Connection {
    Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .unwrap_or_else(|e| panic!("open {}: {e}", path.display()))
}

fn integrity(c: &Connection) -> Vec<String> {
    c.prepare("PRAGMA integrity_check")
        .unwrap()
        .query_map([], |r| r.get::<_, String>(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

/// The rows of a query of the server's database on `data` (written for both engines),
/// each column as text (integers in decimal, bytes in hex): the SQLite file beside the
/// running server (WAL: its reads wait for nothing), or its PostgreSQL database.
fn server_rows(data: &Path, sql: &str, params: &[&str]) -> Vec<Vec<Option<String>>> {
    let location = match database_url(data) {
        Some(url) => Location::Postgres {
            url,
            replica: None,
            pool: 1,
        },
        None => Location::Sqlite(data.join("zhtj-server.sqlite3")),
    };
    Store::connect(&location)
        .expect("the server's database")
        .read(|c| c.inspect(sql, params))
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

fn count(data: &Path, sql: &str) -> i64 {
    server_rows(data, sql, &[])[0][0]
        .as_deref()
        .expect("a count")
        .parse()
        .expect("an integer")
}

/// Checks 1 and 2 on the server's database; returns every document, loaded and checked.
fn check_server(data: &Path, ctx: &str) -> HashMap<String, ServerDoc> {
    if database_url(data).is_none() {
        let c = open_ro(&data.join("zhtj-server.sqlite3"));
        assert_eq!(integrity(&c), ["ok"], "{ctx}: server integrity_check");
    }
    assert_eq!(
        count(
            data,
            "SELECT COUNT(*) FROM orgs o WHERE o.live_children <>
               (SELECT COUNT(*) FROM orgs k WHERE k.parent = o.id AND k.deleted = 0)"
        ),
        0,
        "{ctx}: live-children counts agree with the rows"
    );
    assert_eq!(
        count(
            data,
            "SELECT COUNT(*) FROM orgs o WHERE NOT EXISTS
               (SELECT 1 FROM feed f WHERE f.seq = o.seq AND f.org_id = o.id)"
        ),
        0,
        "{ctx}: every org's feed position is a feed entry of that org"
    );
    assert_eq!(
        count(
            data,
            "SELECT COUNT(*) FROM orgs o JOIN orgs p ON p.id = o.parent
             WHERE o.path <> p.path || o.id || '/'"
        ),
        0,
        "{ctx}: paths extend the parent's path"
    );
    let rows = server_rows(
        data,
        "SELECT id, parent, path, level, sort_key, deleted, category, short_name,
                full_name, phone, record, bytes, heads FROM orgs",
        &[],
    );
    type Row = (
        String,
        String,
        String,
        u8,
        i64,
        bool,
        String,
        String,
        String,
        String,
        String,
        Vec<u8>,
        Vec<u8>,
    );
    let rows: Vec<Row> = rows
        .into_iter()
        .map(|r| {
            let text = |i: usize| r[i].clone().expect("not null");
            let int = |i: usize| text(i).parse::<i64>().expect("an integer");
            (
                text(0),
                text(1),
                text(2),
                int(3) as u8,
                int(4),
                int(5) != 0,
                text(6),
                text(7),
                text(8),
                text(9),
                text(10),
                unhex(&text(11)),
                unhex(&text(12)),
            )
        })
        .collect();
    let mut out = HashMap::with_capacity(rows.len());
    for (
        id,
        parent,
        path,
        level,
        sort_key,
        deleted,
        category,
        short_name,
        full_name,
        phone,
        record,
        bytes,
        heads,
    ) in rows
    {
        let record: OrgRecord = serde_json::from_str(&record)
            .unwrap_or_else(|e| panic!("{ctx}: {id}: record column is not an OrgRecord: {e}"));
        let mut d = AutoCommit::load(&bytes)
            .unwrap_or_else(|e| panic!("{ctx}: {id}: stored document does not load: {e}"));
        assert!(
            d.get_missing_deps(&[]).is_empty(),
            "{ctx}: {id}: stored document lacks history"
        );
        let read = doc::read(&d);
        assert_eq!(
            read, record,
            "{ctx}: {id}: the document and its record column differ (half-applied)"
        );
        let doc_heads = sorted(d.get_heads());
        let col_heads = sorted(heads::decode(&heads));
        assert_eq!(
            heads.len(),
            32 * col_heads.len(),
            "{ctx}: {id}: heads column is not whole hashes"
        );
        assert_eq!(
            hex(&doc_heads),
            hex(&col_heads),
            "{ctx}: {id}: heads column differs from the document's heads"
        );
        assert_eq!(
            (
                record.id.as_str(),
                record.parent.as_str(),
                record.level,
                record.sort_key,
                record.deleted,
                record.category.as_str(),
                record.short_name.as_str(),
                record.full_name.as_str(),
                record.phone.as_str(),
            ),
            (
                id.as_str(),
                parent.as_str(),
                level,
                sort_key,
                deleted,
                category.as_str(),
                short_name.as_str(),
                full_name.as_str(),
                phone.as_str(),
            ),
            "{ctx}: {id}: projected columns differ from the record"
        );
        assert!(
            path.ends_with(&format!("/{id}/")),
            "{ctx}: {id}: path {path}"
        );
        let history = d.get_changes_meta(&[]).iter().map(|m| m.hash).collect();
        out.insert(
            id,
            ServerDoc {
                heads: doc_heads,
                history,
            },
        );
    }
    out
}

/// One row of the replica's `docs` table.
struct LocalDoc {
    id: String,
    bytes: Vec<u8>,
    acked: Option<Vec<ChangeHash>>,
    dirty: bool,
}

fn local_docs(replica_path: &Path) -> Vec<LocalDoc> {
    let c = open_ro(replica_path);
    let mut stmt = c
        .prepare("SELECT id, bytes, acked_heads, dirty FROM docs ORDER BY id")
        .unwrap();
    stmt.query_map([], |r| {
        Ok(LocalDoc {
            id: r.get(0)?,
            bytes: r.get(1)?,
            acked: r
                .get::<_, Option<Vec<u8>>>(2)?
                .map(|h| sorted(heads::decode(&h))),
            dirty: r.get(3)?,
        })
    })
    .unwrap()
    .collect::<Result<_, _>>()
    .unwrap()
}

/// What check 3 found.
#[derive(Default)]
struct AckCheck {
    clean: usize,
    pending: usize,
    /// Pending documents whose every local head the server already holds: pushed and
    /// committed, but the answer was lost with the kill.
    committed_unacked: usize,
}

/// Check 3: what the replica holds as acknowledged is on the server.
fn check_acknowledged(
    replica: &Replica,
    server: &HashMap<String, ServerDoc>,
    ctx: &str,
) -> AckCheck {
    let mut out = AckCheck::default();
    for l in local_docs(replica.path()) {
        let view = replica.org(&l.id).unwrap();
        assert_eq!(view.pending, l.dirty, "{ctx}: {}: pending", l.id);
        assert_eq!(view.synced, l.acked.is_some(), "{ctx}: {}: synced", l.id);
        let mut d = AutoCommit::load(&l.bytes)
            .unwrap_or_else(|e| panic!("{ctx}: {}: local document does not load: {e}", l.id));
        assert_eq!(
            doc::read(&d),
            view.record,
            "{ctx}: {}: local document and projection differ",
            l.id
        );
        let local_heads = sorted(d.get_heads());
        let on_server = |heads: &[ChangeHash]| {
            server
                .get(&l.id)
                .is_some_and(|s| heads.iter().all(|h| s.history.contains(h)))
        };
        if let Some(acked) = &l.acked {
            assert!(
                on_server(acked),
                "{ctx}: {} ({}): acknowledged heads {:?} missing on the server (server has {:?})",
                l.id,
                view.record.short_name,
                hex(acked),
                server.get(&l.id).map(|s| hex(&s.heads))
            );
        }
        if view.synced && !view.pending {
            out.clean += 1;
            assert!(
                on_server(&local_heads),
                "{ctx}: {} ({}): acknowledged and clean, but local heads {:?} are not all on the server (server has {:?})",
                l.id,
                view.record.short_name,
                hex(&local_heads),
                server.get(&l.id).map(|s| hex(&s.heads))
            );
        }
        if view.pending {
            out.pending += 1;
            if on_server(&local_heads) {
                out.committed_unacked += 1;
            }
        }
    }
    out
}

/// Check 4 after a full sync: same documents, same records, heads acknowledged.
fn check_converged(replica: &Replica, data: &Path, ctx: &str) -> usize {
    assert_eq!(
        replica.counts().unwrap().1,
        0,
        "{ctx}: nothing pending after the sync"
    );
    let server: HashMap<String, (OrgRecord, Vec<ChangeHash>)> = server_rows(
        data,
        "SELECT id, record, heads FROM orgs WHERE path LIKE ?1",
        &[&format!("%/{CITY}/%")],
    )
    .into_iter()
    .map(|r| {
        let text = |i: usize| r[i].clone().expect("not null");
        let rec: OrgRecord = serde_json::from_str(&text(1)).unwrap();
        (text(0), (rec, sorted(heads::decode(&unhex(&text(2))))))
    })
    .collect();
    let local = local_docs(replica.path());
    let local_ids: HashSet<&str> = local.iter().map(|l| l.id.as_str()).collect();
    let server_ids: HashSet<&str> = server.keys().map(String::as_str).collect();
    assert_eq!(
        local_ids.len(),
        local.len(),
        "{ctx}: local ids are distinct"
    );
    let mut only_local: Vec<_> = local_ids.difference(&server_ids).collect();
    let mut only_server: Vec<_> = server_ids.difference(&local_ids).collect();
    only_local.sort();
    only_server.sort();
    assert!(
        only_local.is_empty() && only_server.is_empty(),
        "{ctx}: documents only on the replica {only_local:?}, only on the server {only_server:?}"
    );
    for l in &local {
        let (rec, heads) = &server[&l.id];
        let view = replica.org(&l.id).unwrap();
        assert_eq!(&view.record, rec, "{ctx}: {}: record differs", l.id);
        assert!(!l.dirty, "{ctx}: {}: still dirty", l.id);
        assert_eq!(
            l.acked.as_deref().map(hex),
            Some(hex(heads)),
            "{ctx}: {}: acknowledged heads differ from the server's",
            l.id
        );
    }
    local.len()
}

// ------------------------------------------------------------------------ the test

/// Where the kills landed, and what was checked, for the report.
#[derive(Debug, Default)]
struct Figures {
    /// Killed before the sync started (it met a refused connection).
    before_sync: usize,
    /// Killed before the push request went out (connecting or pulling).
    before_push: usize,
    /// Killed with the push request sent and no answer yet: mid-push (the server reading
    /// it, or merging in its transaction).
    mid_push: usize,
    /// ...of which the server had committed the push (every pending document found on it).
    mid_push_committed: usize,
    /// Killed with the push answer on its way (withheld by the proxy, or cut by the kill):
    /// committed on the server, never acknowledged on the replica.
    answer_lost: usize,
    /// The sync had finished (Ok): killed between pushes.
    between_pushes: usize,
    server_docs_checked: usize,
    local_docs_checked: usize,
    /// Pending documents found already committed on the server after a restart.
    committed_unacked_docs: usize,
    /// Documents the recovery syncs pushed again.
    recovery_pushed: usize,
    max_docs: usize,
}

fn env_num<T: std::str::FromStr>(key: &str) -> Option<T> {
    std::env::var(key).ok().and_then(|s| s.trim().parse().ok())
}

/// How a cycle kills the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kill {
    /// Before the sync starts.
    Early,
    /// After a random delay from the start of the sync.
    After(Duration),
    /// When the push's answer arrives at the proxy (the server has committed), before the
    /// replica receives it.
    AtAnswer,
}

#[test]
fn a_killed_server_keeps_every_acknowledged_push_and_no_half_applied_document() {
    let cycles = env_num("ZHTJ_KILL_CYCLES").unwrap_or(DEFAULT_CYCLES);
    let seed = env_num("ZHTJ_KILL_SEED").unwrap_or(DEFAULT_SEED);
    let _seed_report = SeedReport(seed, cycles);
    println!("kill test: {cycles} cycles, ZHTJ_KILL_SEED={seed}");
    let mut rng = StdRng::seed_from_u64(seed);
    let started = Instant::now();

    let dir = TempDir::new().unwrap();
    let data = dir.path().join("server");
    let replica_path = dir.path().join("replica.sqlite3");

    let (mut server, code) = Server::start(&data);
    let code = code.expect("first start prints the city's registration code");
    let mut remote = Remote::new(&server.url).unwrap();
    remote
        .register(&RegisterRequest {
            code,
            org_id: CITY.into(),
            role: "书记".into(),
            name: "张三".into(),
            id_number: id_number(1),
            mobile: mobile(1),
            join_year_month: "2005-05".into(),
            password: "secret123".into(),
        })
        .unwrap();
    let login = remote
        .login(&LoginRequest {
            mobile: mobile(1),
            password: "secret123".into(),
            org_id: None,
        })
        .unwrap();
    let mut replica = Replica::create_for_login(&replica_path, &server.url, &login).unwrap();
    sync_ok(&mut replica, &remote, "first sync");

    // Where new children go: districts and committees (with their levels).
    let districts = replica.children(CITY).unwrap();
    assert_eq!(districts.len(), 20);
    let mut parents: Vec<(String, u8)> =
        districts.iter().map(|d| (d.id.clone(), d.level)).collect();
    let mut editable: Vec<String> = std::iter::once(CITY.to_owned())
        .chain(districts.iter().map(|d| d.id.clone()))
        .collect();

    // Sync time estimate (seconds per pending document, plus a base), from finished syncs,
    // so that random delays land before, during and after the push.
    let mut per_doc = 0.001_f64;
    let base = 0.005_f64;
    let mut figures = Figures::default();

    for cycle in 1..=cycles {
        // Offline work: a batch of new children under a few parents, and some edits.
        let n_new = rng.random_range(20..=200usize);
        let mut made = 0;
        while made < n_new {
            let k = rng.random_range(1..=(n_new - made).min(80));
            let (parent, level) = parents[rng.random_range(0..parents.len())].clone();
            let kids: Vec<NewChild> = (0..k)
                .map(|j| {
                    let committee = rng.random_ratio(1, 4);
                    let suffix = if committee { "团委" } else { "团支部" };
                    NewChild {
                        category: suffix.into(),
                        short_name: format!("试点{cycle}批{}号{suffix}", made + j),
                        ..NewChild::default()
                    }
                })
                .collect();
            let ids = replica
                .create_children(&parent, &kids, &mut |_, _| {})
                .unwrap_or_else(|e| panic!("cycle {cycle}: create under {parent}: {e}"));
            for (id, kid) in ids.into_iter().zip(&kids) {
                if kid.category == "团委" && level < MAX_PARENT_LEVEL {
                    parents.push((id.clone(), level + 1));
                }
                editable.push(id);
            }
            made += k;
        }
        let n_edit = rng.random_range(0..=20usize);
        for _ in 0..n_edit {
            let id = editable[rng.random_range(0..editable.len())].clone();
            let phone = format!("028-{}", rng.random_range(60_000_000..=89_999_999u32));
            replica
                .update_info(&id, &[(Field::Phone, phone)])
                .unwrap_or_else(|e| panic!("cycle {cycle}: edit {id}: {e}"));
        }
        let pending = replica.counts().unwrap().1;

        // Sync while the server is killed.
        // The first two cycles land where a short run might miss: before the sync, and
        // between the commit and the answer; the rest at random.
        let kill = match (cycle, rng.random_range(0..10u32)) {
            (1, _) => Kill::Early,
            (2, _) => Kill::AtAnswer,
            (_, 0) => Kill::Early,
            (_, 1 | 2) => Kill::AtAnswer,
            _ => {
                let estimate = base + per_doc * pending as f64;
                Kill::After(Duration::from_secs_f64(
                    estimate * rng.random_range(0.0..1.3),
                ))
            }
        };
        // The proxy counts this sync's requests only (the last recovery sync went through it).
        if kill != Kill::Early {
            server.proxy().state(|st| {
                st.pull_requests = 0;
                st.push_requests = 0;
                st.push_answers = 0;
            });
        }
        let t0 = Instant::now();
        let result = match kill {
            Kill::Early => {
                server.kill();
                replica.sync(&remote, &mut |_, _, _| {}).map_err(Box::new)
            }
            Kill::After(delay) => thread::scope(|s| {
                let syncing =
                    s.spawn(|| replica.sync(&remote, &mut |_, _, _| {}).map_err(Box::new));
                thread::sleep(delay);
                server.kill_keeping_figures();
                syncing.join().expect("sync thread")
            }),
            Kill::AtAnswer => thread::scope(|s| {
                server.proxy().state(|st| st.hold_push_answer = true);
                let syncing =
                    s.spawn(|| replica.sync(&remote, &mut |_, _, _| {}).map_err(Box::new));
                let held = server.proxy().wait_held(|| syncing.is_finished());
                assert!(held, "cycle {cycle}: the sync pushed nothing");
                server.kill_keeping_figures();
                syncing.join().expect("sync thread")
            }),
        };
        let took = t0.elapsed();
        let seen = server.last_figures.take().unwrap_or_default();
        let ok = match &result {
            Ok(report) => {
                assert!(
                    report.rejected.is_empty(),
                    "cycle {cycle}: refused: {:?}",
                    report.rejected
                );
                per_doc = 0.7 * per_doc + 0.3 * took.as_secs_f64() / (pending.max(1) as f64);
                true
            }
            Err(e) if matches!(**e, Error::Network(_)) => false,
            Err(e) => {
                panic!("cycle {cycle}: a killed server must look like a network error: {e:?}")
            }
        };
        assert!(
            !(ok && kill == Kill::AtAnswer),
            "cycle {cycle}: the withheld answer cannot have been received"
        );

        // Restart on the same data; the session is still valid.
        let (s, code) = Server::start(&data);
        assert!(
            code.is_none(),
            "cycle {cycle}: a restart issues no new first code"
        );
        server = s;
        remote = Remote::new(&server.url).unwrap();
        let ctx = format!("cycle {cycle} (seed {seed}, kill {kill:?}, sync ok {ok})");

        let server_docs = check_server(&data, &ctx);
        figures.server_docs_checked += server_docs.len();
        let acks = check_acknowledged(&replica, &server_docs, &ctx);
        drop(server_docs);
        figures.local_docs_checked += acks.clean + acks.pending;
        figures.committed_unacked_docs += acks.committed_unacked;
        let kind = if kill == Kill::Early {
            figures.before_sync += 1;
            "before the sync"
        } else if ok {
            figures.between_pushes += 1;
            "after the sync (between pushes)"
        } else if seen.push_requests == 0 {
            figures.before_push += 1;
            "before the push"
        } else if seen.push_answers == 0 {
            figures.mid_push += 1;
            if acks.committed_unacked > 0 {
                figures.mid_push_committed += 1;
                "mid-push, committed"
            } else {
                "mid-push"
            }
        } else {
            figures.answer_lost += 1;
            "with the push answer in flight"
        };
        if kill == Kill::AtAnswer {
            assert_eq!(
                (acks.pending, acks.committed_unacked),
                (pending as usize, pending as usize),
                "{ctx}: the push was committed before its answer: every pending document is on the server"
            );
        }

        // A full sync after the restart converges.
        let t1 = Instant::now();
        let report = sync_ok(&mut replica, &remote, &ctx);
        let recovery = t1.elapsed();
        figures.recovery_pushed += report.pushed;
        let held = check_converged(&replica, &data, &ctx);
        figures.max_docs = figures.max_docs.max(held);
        println!(
            "cycle {cycle:>3}: {n_new:>3} new, {n_edit:>2} edits, {pending:>3} pending; killed {kind} \
             ({kill:?}, sync {} ms); after restart {} pending ({} already on the server), \
             recovery pushed {} in {} ms; {held} docs",
            took.as_millis(),
            acks.pending,
            acks.committed_unacked,
            report.pushed,
            recovery.as_millis(),
        );
    }

    server.kill();
    println!(
        "kill test done in {:.1} s: {cycles} cycles, {figures:#?}",
        started.elapsed().as_secs_f64()
    );
    // Where the kills landed: every cycle classified, and the cases that matter reached.
    let f = &figures;
    assert_eq!(
        f.before_sync + f.before_push + f.mid_push + f.answer_lost + f.between_pushes,
        cycles,
        "{f:#?}"
    );
    assert!(f.before_sync >= 1, "no kill before a sync: {f:#?}");
    assert!(
        f.answer_lost + f.mid_push_committed >= 1,
        "no kill between a commit and its acknowledgement: {f:#?}"
    );
    assert!(f.committed_unacked_docs >= 1, "{f:#?}");
    if cycles >= 50 {
        assert!(
            f.mid_push >= 1 && f.before_push + f.between_pushes >= 1,
            "{f:#?}"
        );
    }
}

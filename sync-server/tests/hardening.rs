//! Hardening against what needs the real `zhtj-server` process to measure
//! (docs/reliability.md "Attacks"): its memory while oversized and compressed-bomb requests
//! arrive, a pull while the largest allowed push runs, clients that send slowly or not at
//! all, idle sockets against a low open-file limit, and a full disk.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use client_core::protocol::{
    self, DocOutcome, PROTOCOL_VERSION, PullRequest, PushDoc, PushRequest, PushResponse,
    SYNC_CONTENT_TYPE,
};
use schemas::org::{OrgRecord, SCHEMA_VERSION};

mod common;
use common::raw::{self, Answer};
use common::{
    id_number, memory_mib, mobile, server_command, sqlite_server_command, wait_for_start,
};

const CITY: &str = "org-5101";
const PASSWORD: &str = "Chengdu2017pass";

/// The tests that load both cores (bombs, the largest push) run one at a time, so that
/// what one measures is not the other's load.
static HEAVY: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn heavy() -> std::sync::MutexGuard<'static, ()> {
    HEAVY.lock().unwrap_or_else(|p| p.into_inner())
}

/// The server process; killed and reaped when dropped.
struct Server {
    child: Child,
    url: String,
    first_code: String,
}

impl Server {
    fn start(data: &Path, args: &[&str]) -> Server {
        Server::start_with(data, args, |_| {})
    }

    fn start_with(
        data: &Path,
        args: &[&str],
        adjust: impl FnOnce(&mut std::process::Command),
    ) -> Server {
        Server::spawn(server_command(data, "warn"), args, adjust)
    }

    /// On the SQLite file in `data`, whatever the tests run on (the file on a full disk).
    fn start_sqlite(data: &Path) -> Server {
        Server::spawn(sqlite_server_command(data, "warn"), &[], |_| {})
    }

    fn spawn(
        mut command: std::process::Command,
        args: &[&str],
        adjust: impl FnOnce(&mut std::process::Command),
    ) -> Server {
        command.args(args).stderr(Stdio::null());
        adjust(&mut command);
        let mut child = command.spawn().expect("spawn zhtj-server");
        let (url, first_code) = wait_for_start(&mut child);
        Server {
            child,
            url,
            first_code,
        }
    }

    fn memory(&self) -> (f64, f64) {
        memory_mib(self.child.id())
    }

    fn json(&self, path: &str, body: &serde_json::Value) -> Answer {
        let body = serde_json::to_vec(body).unwrap();
        raw::request(
            &self.url,
            "POST",
            path,
            &[("Content-Type", "application/json")],
            &body,
        )
    }

    /// Register the city's first admin (test person 1) and log in: a token.
    fn city_admin(&self) -> String {
        let a = self.json(
            "/api/v1/register",
            &serde_json::json!({
                "code": self.first_code, "org_id": CITY, "role": "书记", "name": "张三",
                "id_number": id_number(1), "mobile": mobile(1),
                "join_year_month": "2005-05", "password": PASSWORD,
            }),
        );
        assert_eq!(a.status, 200, "{}", a.text());
        self.login()
    }

    fn login(&self) -> String {
        let a = self.json(
            "/api/v1/login",
            &serde_json::json!({"mobile": mobile(1), "password": PASSWORD}),
        );
        assert_eq!(a.status, 200, "{}", a.text());
        serde_json::from_slice::<serde_json::Value>(&a.body).unwrap()["token"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    fn sync(&self, path: &str, token: &str, body: &[u8]) -> Answer {
        let auth = format!("Bearer {token}");
        raw::request(
            &self.url,
            "POST",
            path,
            &[
                ("Content-Type", SYNC_CONTENT_TYPE),
                ("Authorization", &auth),
            ],
            body,
        )
    }

    fn get(&self, path: &str, token: &str) -> Answer {
        let auth = format!("Bearer {token}");
        raw::request(&self.url, "GET", path, &[("Authorization", &auth)], b"")
    }

    fn addr(&self) -> String {
        self.url.trim_start_matches("http://").to_owned()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn push_body(docs: Vec<PushDoc>) -> Vec<u8> {
    protocol::encode(&PushRequest {
        version: 2,
        docs,
        cursor: 0,
    })
    .unwrap()
}

/// A pull of one small page (what a pull waits for, not what a large page costs).
fn pull_body() -> Vec<u8> {
    protocol::encode(&PullRequest {
        version: PROTOCOL_VERSION,
        cursor: 0,
        limit: 100,
        lean: false,
    })
    .unwrap()
}

/// `n` new committees under the city, as whole documents (what a replica pushes).
fn committees(prefix: &str, n: usize) -> Vec<PushDoc> {
    (0..n)
        .map(|i| {
            let rec = OrgRecord {
                schema: SCHEMA_VERSION,
                id: format!("org-{prefix}-{i}"),
                parent: CITY.into(),
                level: 4,
                sort_key: i as i64,
                category: "团委".into(),
                short_name: format!("{prefix}第{i}公司团委"),
                ..OrgRecord::default()
            };
            let mut d = client_core::doc::genesis(&rec, automerge::ActorId::random(), 0).unwrap();
            PushDoc {
                id: rec.id,
                changes: d.save_nocompress(),
            }
        })
        .collect()
}

// ------------------------------------------------------------------ memory

/// Before: 120 registrations with a 4 MB organization id each took the server from 132 to
/// 613 MiB, and it stayed there (the bodies were read, the ids kept as limiter keys).
#[test]
fn oversized_registrations_leave_no_memory_behind() {
    let dir = tempfile::TempDir::new().unwrap();
    let server = Server::start(&dir.path().join("data"), &[]);
    let (before, _) = server.memory();
    let big = "A".repeat(4 * 1024 * 1024);
    for i in 0..120 {
        let body = serde_json::json!({
            "code": "AbCdEfGh", "org_id": format!("{big}{i}"), "role": "书记", "name": "张三",
            "id_number": id_number(1), "mobile": mobile(1),
            "join_year_month": "2005-05", "password": "secret123",
        });
        let a = server.json("/api/v1/register", &body);
        assert_eq!(
            (a.status, a.code().as_str()),
            (413, "request.too_large"),
            "{i}"
        );
    }
    let (after, peak) = server.memory();
    println!("registrations of 4 MB: RSS {before:.1} → {after:.1} MiB, peak {peak:.1} MiB");
    assert!(
        after - before < 32.0,
        "RSS grew from {before:.1} to {after:.1} MiB"
    );
    assert!(peak < 150.0, "peak {peak:.1} MiB");
}

/// Before: an 8 KB push carrying one 255 MiB document peaked at 833 MiB; four 64 KB zstd
/// bombs at once at 2.2 GiB.
#[test]
fn compressed_bombs_at_once_stay_within_memory() {
    const BOUND_MIB: f64 = 300.0;
    let _one_at_a_time = heavy();
    let dir = tempfile::TempDir::new().unwrap();
    let server = Server::start(&dir.path().join("data"), &[]);
    let token = server.city_admin();
    // One document of 255 MiB of zeros (8 KB compressed): past the push's cap.
    let giant = push_body(vec![PushDoc {
        id: "org-giant".into(),
        changes: vec![0; 255 * 1024 * 1024],
    }]);
    // One document of 60 MiB: under the push's cap, over a document's; skipped unread.
    let big = push_body(vec![PushDoc {
        id: "org-big".into(),
        changes: vec![0; 60 * 1024 * 1024],
    }]);
    // 1,200 documents of 200 KB each (under the per-document cap): 240 MB decompressed.
    let many = push_body(
        (0..1_200)
            .map(|i| PushDoc {
                id: format!("org-bomb-{i}"),
                changes: vec![0; 200 * 1024],
            })
            .collect(),
    );
    println!(
        "bodies: {} KB, {} KB and {} KB compressed",
        giant.len() / 1024,
        big.len() / 1024,
        many.len() / 1024
    );
    // Eight at once: without the limit of two decodes at a time, six of 64 MiB each would
    // already pass the bound.
    let answers: Vec<Answer> = std::thread::scope(|s| {
        let handles: Vec<_> = [&giant, &many, &big, &many, &many, &many, &many, &many]
            .into_iter()
            .map(|body| s.spawn(|| server.sync("/api/v1/push", &token, body)))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for (i, a) in answers.iter().enumerate().filter(|(i, _)| *i != 2) {
        assert_eq!(
            (a.status, a.code().as_str()),
            (413, "push.too_large"),
            "{i}: {}",
            a.text()
        );
    }
    let a = &answers[2];
    assert_eq!(a.status, 200, "{}", a.text());
    let resp: PushResponse = protocol::decode(&a.body).unwrap();
    assert!(
        matches!(&resp.results[0].outcome, DocOutcome::Rejected { violations } if violations[0].code == "size.doc_too_large"),
        "{:?}",
        resp.results[0].outcome
    );
    let (_, peak) = server.memory();
    println!("eight bombs at once: server peak {peak:.1} MiB");
    assert!(
        peak < BOUND_MIB,
        "peak {peak:.1} MiB (bound {BOUND_MIB} MiB)"
    );
}

// ------------------------------------------------------------------ the write lock

/// Before: a push held the one connection for its whole length; a pull sent meanwhile
/// waited 26.8 s.
#[test]
fn a_pull_is_answered_within_a_second_while_the_largest_push_runs() {
    let _one_at_a_time = heavy();
    let dir = tempfile::TempDir::new().unwrap();
    let server = Server::start(&dir.path().join("data"), &[]);
    let token = server.city_admin();
    let body = push_body(committees("并发", sync_server::intake::MAX_PUSH_DOCS));
    let pull = pull_body();
    let done = std::sync::atomic::AtomicBool::new(false);
    let pushing = || !done.load(std::sync::atomic::Ordering::SeqCst);
    let (pushed, pulls, slowest, logins, slowest_login) = std::thread::scope(|s| {
        let pusher = s.spawn(|| {
            let started = Instant::now();
            let a = server.sync("/api/v1/push", &token, &body);
            done.store(true, std::sync::atomic::Ordering::SeqCst);
            (a, started.elapsed())
        });
        // A writer too: logins (each writes a session) while the push commits in parts.
        let login = s.spawn(|| {
            let (mut n, mut slowest) = (0, Duration::ZERO);
            while pushing() {
                let started = Instant::now();
                server.login();
                slowest = slowest.max(started.elapsed());
                n += 1;
            }
            (n, slowest)
        });
        let mut pulls = 0;
        let mut slowest = Duration::ZERO;
        while pushing() {
            let started = Instant::now();
            let a = server.sync("/api/v1/pull", &token, &pull);
            assert_eq!(a.status, 200, "{}", a.text());
            slowest = slowest.max(started.elapsed());
            pulls += 1;
        }
        let (logins, slowest_login) = login.join().unwrap();
        (
            pusher.join().unwrap(),
            pulls,
            slowest,
            logins,
            slowest_login,
        )
    });
    let (a, took) = pushed;
    assert_eq!(a.status, 200, "{}", a.text());
    let resp: PushResponse = protocol::decode(&a.body).unwrap();
    let accepted = resp
        .results
        .iter()
        .filter(|r| matches!(r.outcome, DocOutcome::Accepted { .. }))
        .count();
    println!(
        "push of 5,000 in {took:?}; {pulls} pulls meanwhile, slowest {slowest:?}; \
         {logins} logins, slowest {slowest_login:?}"
    );
    assert_eq!(accepted, sync_server::intake::MAX_PUSH_DOCS);
    assert!(
        pulls >= 3,
        "only {pulls} pulls overlapped the push ({took:?})"
    );
    assert!(
        slowest < Duration::from_secs(1),
        "a pull waited {slowest:?}"
    );
    // A login hashes a password and writes a session: it waits for one part of the push
    // at most, not for the whole push.
    assert!(
        logins >= 2,
        "only {logins} logins overlapped the push ({took:?})"
    );
    assert!(
        slowest_login < took / 2,
        "a login waited {slowest_login:?} during a push of {took:?}"
    );
}

// ------------------------------------------------------------------ slow clients

/// Read until the server closes the connection (or `limit` passes): how long it took.
fn closed_within(s: &mut TcpStream, limit: Duration) -> Option<(Duration, Vec<u8>)> {
    let started = Instant::now();
    s.set_read_timeout(Some(limit)).unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return Some((started.elapsed(), got)),
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {
                return Some((started.elapsed(), got));
            }
            Err(_) => return None,
        }
        if started.elapsed() > limit {
            return None;
        }
    }
}

/// Before: partial headers, a partial body, an idle keep-alive connection and a silent
/// socket all stayed open for ever.
#[test]
fn slow_and_silent_clients_are_cut_off() {
    let dir = tempfile::TempDir::new().unwrap();
    let server = Server::start(
        &dir.path().join("data"),
        &["--header-timeout", "1", "--body-timeout", "1"],
    );
    let limit = Duration::from_secs(8);
    let connect = || TcpStream::connect(server.addr()).unwrap();

    let mut silent = connect();
    let (t, _) = closed_within(&mut silent, limit).expect("a silent socket is closed");
    println!("silent socket closed after {t:?}");

    let mut partial_head = connect();
    partial_head
        .write_all(b"POST /api/v1/login HTTP/1.1\r\nHost: x\r\nContent-Ty")
        .unwrap();
    let (t, _) = closed_within(&mut partial_head, limit).expect("partial headers are cut off");
    println!("partial headers closed after {t:?}");

    let mut partial_body = connect();
    partial_body
        .write_all(
            b"POST /api/v1/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
              Content-Length: 1000\r\n\r\n{\"mobile\":",
        )
        .unwrap();
    let (t, answer) = closed_within(&mut partial_body, limit).expect("a partial body is cut off");
    let a = raw::parse(&answer);
    assert_eq!(
        (a.status, a.code().as_str()),
        (408, "request.timeout"),
        "{}",
        a.text()
    );
    println!("partial body answered 408 after {t:?}");

    let mut idle = connect();
    idle.write_all(b"GET /api/v1/health HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let (t, answer) = closed_within(&mut idle, limit).expect("an idle keep-alive is closed");
    assert!(
        answer.starts_with(b"HTTP/1.1 200"),
        "{:?}",
        String::from_utf8_lossy(&answer)
    );
    println!("idle keep-alive closed after {t:?}");
}

// ------------------------------------------------------------------ malformed requests

/// Library words that must not reach a user's message.
const INTERNALS: &[&str] = &[
    "Failed",
    "deserialize",
    "serde",
    "expected",
    "line 1",
    "column",
    "duplicate field",
];

/// An answer with the project's JSON error body: `status`, `code`, and a Chinese message
/// that names no library internals.
fn assert_json_error(a: &Answer, status: u16, code: &str, what: &str) {
    assert_eq!(
        (a.status, a.code().as_str()),
        (status, code),
        "{what}: {}",
        a.text()
    );
    assert!(
        a.content_type().starts_with("application/json"),
        "{what}: {}",
        a.content_type()
    );
    let body: serde_json::Value = serde_json::from_slice(&a.body).unwrap();
    let message = body["message"].as_str().unwrap_or_default();
    assert!(
        message
            .chars()
            .any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c)),
        "{what}: {message:?} is not a Chinese message"
    );
    for word in INTERNALS {
        assert!(
            !message.contains(word),
            "{what}: {message:?} names library internals"
        );
    }
}

/// Malformed requests get the project's JSON error body: a login whose JSON does not
/// parse, and queries that do not read. Before, a change-history query with a parameter
/// given twice was answered with axum's own words ("Failed to deserialize query string:
/// duplicate field `org`").
#[test]
fn malformed_requests_get_the_projects_json_error_body() {
    let dir = tempfile::TempDir::new().unwrap();
    let server = Server::start(&dir.path().join("data"), &[]);
    let bad_json = raw::request(
        &server.url,
        "POST",
        "/api/v1/login",
        &[("Content-Type", "application/json")],
        b"{bad",
    );
    assert_json_error(&bad_json, 400, "bad_request", "malformed JSON");
    let token = server.city_admin();
    for (what, path) in [
        (
            "a history parameter given twice",
            "/api/v1/history?org=org-5101&org=org-5101",
        ),
        (
            "a progress parameter given twice",
            "/api/v1/progress?org=org-5101&org=org-5101",
        ),
        ("a level that is no number", "/api/v1/progress?level=abc"),
        (
            "a report parameter given twice",
            "/api/v1/report?as_of=2017-12-20&as_of=2017-12-21",
        ),
    ] {
        assert_json_error(&server.get(path, &token), 400, "bad_request", what);
    }
}

/// Before: with a 256 open-file limit, 300 idle sockets made `/api/v1/health` time out
/// (accept failed for want of descriptors, and nothing closed the idle ones).
#[test]
fn idle_sockets_cannot_starve_the_server_of_descriptors() {
    let set_limit = |soft: u64, hard: u64| {
        move |c: &mut std::process::Command| {
            // SAFETY: only an async-signal-safe system call between fork and exec.
            unsafe {
                c.pre_exec(move || rlimit::setrlimit(rlimit::Resource::NOFILE, soft, hard));
            }
        }
    };
    let health = |server: &Server| {
        let started = Instant::now();
        let mut s = TcpStream::connect(server.addr()).unwrap();
        s.write_all(b"GET /api/v1/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .unwrap();
        let (_, answer) = closed_within(&mut s, Duration::from_secs(20)).expect("health answered");
        assert!(
            answer.starts_with(b"HTTP/1.1 200"),
            "{:?}",
            String::from_utf8_lossy(&answer)
        );
        started.elapsed()
    };
    // A hard limit of 256: the server keeps its connections under it, and idle ones are
    // closed by the header timeout, so health gets its turn.
    let dir = tempfile::TempDir::new().unwrap();
    let server = Server::start_with(
        &dir.path().join("data"),
        &["--header-timeout", "2"],
        set_limit(256, 256),
    );
    let idle: Vec<TcpStream> = (0..300)
        .map(|_| TcpStream::connect(server.addr()).unwrap())
        .collect();
    let t = health(&server);
    println!("hard limit 256, 300 idle sockets: health answered after {t:?}");
    drop(idle);
    drop(server);
    // A soft limit of 256 under a higher hard one: raised at start, so 300 idle sockets do
    // not even delay health (the header timeout here is a minute).
    let dir = tempfile::TempDir::new().unwrap();
    let server = Server::start_with(
        &dir.path().join("data"),
        &["--header-timeout", "60"],
        set_limit(256, 4096),
    );
    let idle: Vec<TcpStream> = (0..300)
        .map(|_| TcpStream::connect(server.addr()).unwrap())
        .collect();
    let t = health(&server);
    println!("soft limit 256 raised: health answered after {t:?}");
    assert!(t < Duration::from_secs(5), "health waited {t:?}");
    drop(idle);
}

// ------------------------------------------------------------------ a full disk

/// A small tmpfs, unmounted when dropped (the test runs as root, as the test command does).
struct SmallDisk {
    dir: tempfile::TempDir,
}

impl SmallDisk {
    fn mount(megabytes: u32) -> SmallDisk {
        let dir = tempfile::TempDir::new().unwrap();
        let status = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={megabytes}m"), "tmpfs"])
            .arg(dir.path())
            .status()
            .expect("run mount");
        assert!(
            status.success(),
            "mounting a tmpfs needs root (the test command runs as root)"
        );
        SmallDisk { dir }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Write zeros until the disk is full.
    fn fill(&self) {
        let mut f = std::fs::File::create(self.path().join("filler")).unwrap();
        let block = vec![0u8; 64 * 1024];
        while f.write_all(&block).is_ok() {}
        let _ = f.sync_all();
    }

    fn free(&self) {
        std::fs::remove_file(self.path().join("filler")).unwrap();
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg(self.dir.path())
            .status();
    }
}

/// Before: reading progress wrote the day's snapshot, so on a full disk it failed, and a
/// logout could not revoke its session either.
#[test]
fn on_a_full_disk_progress_is_read_logout_revokes_and_writes_come_back() {
    let disk = SmallDisk::mount(16);
    // The SQLite file on a full disk (PostgreSQL's disk is its server's, not this one).
    let server = Server::start_sqlite(&disk.path().join("data"));
    let token = server.city_admin();
    let other = server.login();
    disk.fill();

    let a = server.get(&format!("/api/v1/progress?org={CITY}"), &token);
    assert_eq!(a.status, 200, "progress on a full disk: {}", a.text());

    let a = server.sync("/api/v1/push", &other, &push_body(committees("满盘", 5)));
    assert_eq!(
        (a.status, a.code().as_str()),
        (503, "store.full"),
        "{}",
        a.text()
    );
    assert!(a.header("retry-after").is_some());

    let auth = format!("Bearer {token}");
    let a = raw::request(
        &server.url,
        "POST",
        "/api/v1/logout",
        &[("Authorization", &auth)],
        b"",
    );
    assert_eq!(a.status, 204, "logout on a full disk: {}", a.text());
    let a = server.get(&format!("/api/v1/progress?org={CITY}"), &token);
    assert_eq!(
        (a.status, a.code().as_str()),
        (401, "auth.required"),
        "the logged-out token"
    );
    let a = server.get(&format!("/api/v1/progress?org={CITY}"), &other);
    assert_eq!(a.status, 200, "another session goes on");

    // Room again: the refused push goes through, nothing was lost.
    disk.free();
    let a = server.sync("/api/v1/push", &other, &push_body(committees("满盘", 5)));
    assert_eq!(a.status, 200, "{}", a.text());
    let resp: PushResponse = protocol::decode(&a.body).unwrap();
    assert!(
        resp.results
            .iter()
            .all(|r| matches!(r.outcome, DocOutcome::Accepted { .. }))
    );
}

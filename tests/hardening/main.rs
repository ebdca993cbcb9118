//! Hardening (docs/reliability.md "Attacks"): what a client, logged in or not, can make the
//! server do with small requests — lock someone else out, slip past a limit, probe what
//! exists outside its subtree, read timings, get answers that are not the project's JSON
//! error body, or make every request wait on a stuck writer. A real server on port 0.
//! (Memory, descriptors, slow clients and the full disk need the server in a process of
//! its own: `sync-server/tests/hardening.rs`.)

use std::time::{Duration, Instant};

use client_core::protocol::{
    self, DocOutcome, PROTOCOL_VERSION, PullRequest, PushDoc, PushRequest, PushResponse,
    SYNC_CONTENT_TYPE,
};
use e2e::{
    CITY, JINJIANG, TestServer, login_request, mobile, registration, spawn_server,
    spawn_server_with,
};
use schemas::org::{OrgRecord, SCHEMA_VERSION};
use sync_server::limits::{MAX_FAILURES, PENALTY};
use sync_server::net::TrustedProxies;

#[path = "../../sync-server/tests/common/raw.rs"]
mod raw;
use raw::Answer;

const QINGYANG: &str = "org-510105";

fn behind_proxy() -> TestServer {
    spawn_server_with(|c| c.trusted_proxies = TrustedProxies::parse("127.0.0.1").unwrap())
}

fn audit_count(server: &TestServer, action: &str, detail_like: &str) -> i64 {
    server
        .state
        .store
        .read(|c| {
            c.inspect(
                "SELECT COUNT(*) FROM audit WHERE action = ?1 AND detail LIKE ?2",
                &[action, detail_like],
            )
        })
        .unwrap()[0][0]
        .as_deref()
        .unwrap()
        .parse()
        .unwrap()
}

fn wrong_code() -> String {
    schemas::RegistrationCode::generate(&mut rand::rng())
        .as_str()
        .to_owned()
}

/// Register the city's first admin (test person 1).
fn register_city(server: &TestServer) {
    let first = server.first_code.clone();
    let a = raw::post_json(
        &server.url,
        "/api/v1/register",
        None,
        &registration(&first, CITY, 1, "张三"),
    );
    assert_eq!(a.status, 200, "{}", a.text());
}

// ------------------------------------------------------------------ lock-out and bypass

#[test]
fn another_address_cannot_lock_a_registrant_out() {
    let server = behind_proxy();
    let right = server.issue_code(JINJIANG);
    let mut codes = Vec::new();
    for i in 0..12 {
        let a = raw::post_json(
            &server.url,
            "/api/v1/register",
            Some("198.51.100.1"),
            &registration(&wrong_code(), JINJIANG, 10 + i, "张三"),
        );
        codes.push(a.code());
    }
    let limit = MAX_FAILURES as usize;
    assert!(
        codes[..limit].iter().all(|c| c == "code.unknown"),
        "{codes:?}"
    );
    assert!(
        codes[limit..].iter().all(|c| c == "rate_limited"),
        "{codes:?}"
    );
    // The guesser's address is blocked; the registrant, elsewhere, is slowed, not refused.
    let started = Instant::now();
    let a = raw::post_json(
        &server.url,
        "/api/v1/register",
        Some("203.0.113.7"),
        &registration(&right, JINJIANG, 1, "李四"),
    );
    assert_eq!(a.status, 200, "{}", a.text());
    assert!(
        started.elapsed() >= PENALTY,
        "attempts on a guessed-at target are spaced"
    );
    assert_eq!(
        audit_count(&server, "ratelimit.trip", "code@198.51.100.1"),
        1
    );
    assert_eq!(
        audit_count(&server, "ratelimit.trip", "code-org:org-510104"),
        1
    );
}

#[test]
fn another_address_cannot_lock_an_admin_out() {
    let server = behind_proxy();
    register_city(&server);
    for i in 0..11 {
        let mut req = login_request(1);
        req.password = format!("guess{i:04}");
        let a = raw::post_json(&server.url, "/api/v1/login", Some("198.51.100.1"), &req);
        let expected = if i < 10 {
            "login.failed"
        } else {
            "rate_limited"
        };
        assert_eq!(a.code(), expected, "attempt {i}");
    }
    let a = raw::post_json(
        &server.url,
        "/api/v1/login",
        Some("203.0.113.7"),
        &login_request(1),
    );
    assert_eq!(
        a.status,
        200,
        "the right password from elsewhere: {}",
        a.text()
    );
    // Each failure left an audit record with the mobile masked.
    let masked = schemas::Mobile::parse(&mobile(1)).unwrap().masked();
    assert_eq!(
        audit_count(&server, "login.failed", &format!("%{masked}%")),
        10
    );
    assert_eq!(
        audit_count(&server, "login.failed", &format!("%{}%", mobile(1))),
        0
    );
}

/// The same mobile in 2^11 spellings (any digit full-width) was 2^11 limiter keys.
#[test]
fn full_width_spellings_of_a_mobile_share_its_limit() {
    let server = behind_proxy();
    register_city(&server);
    let plain = mobile(1);
    for i in 0..(MAX_FAILURES as usize + 1) {
        // Digit i (mod 11) full-width, from an address of its own.
        let spelled: String = plain
            .chars()
            .enumerate()
            .map(|(j, c)| {
                if j == i % 11 {
                    char::from_u32(c as u32 - '0' as u32 + '０' as u32).unwrap()
                } else {
                    c
                }
            })
            .collect();
        assert_ne!(spelled, plain);
        let mut req = login_request(1);
        req.mobile = spelled;
        req.password = format!("guess{i:04}");
        let ip = format!("198.51.100.{}", 10 + i);
        let started = Instant::now();
        let a = raw::post_json(&server.url, "/api/v1/login", Some(&ip), &req);
        assert_eq!(a.code(), "login.failed");
        if i >= MAX_FAILURES as usize {
            assert!(started.elapsed() >= PENALTY, "attempt {i} was not slowed");
        }
    }
    let masked = schemas::Mobile::parse(&plain).unwrap().masked();
    assert_eq!(
        audit_count(&server, "ratelimit.trip", &format!("login-mobile:{masked}")),
        1,
        "every spelling counted against one key"
    );
}

#[test]
fn forwarded_addresses_are_believed_from_trusted_proxies_only() {
    // Not trusted: every guess comes from the peer (127.0.0.1), whatever it claims.
    let server = spawn_server();
    for i in 0..MAX_FAILURES {
        let mut req = login_request(100 + i);
        req.password = "guess1234".into();
        let ip = format!("198.51.100.{i}");
        assert_eq!(
            raw::post_json(&server.url, "/api/v1/login", Some(&ip), &req).code(),
            "login.failed"
        );
    }
    let a = raw::post_json(
        &server.url,
        "/api/v1/login",
        Some("203.0.113.7"),
        &login_request(200),
    );
    assert_eq!(a.code(), "rate_limited");
    // Trusted: each forwarded client has its own count.
    let server = behind_proxy();
    for i in 0..MAX_FAILURES {
        let mut req = login_request(100 + i);
        req.password = "guess1234".into();
        assert_eq!(
            raw::post_json(&server.url, "/api/v1/login", Some("198.51.100.1"), &req).code(),
            "login.failed"
        );
    }
    let mut req = login_request(200);
    req.password = "guess1234".into();
    assert_eq!(
        raw::post_json(&server.url, "/api/v1/login", Some("198.51.100.1"), &req).code(),
        "rate_limited"
    );
    assert_eq!(
        raw::post_json(&server.url, "/api/v1/login", Some("198.51.100.2"), &req).code(),
        "login.failed"
    );
}

// ------------------------------------------------------------------ what answers tell

#[test]
fn an_unknown_mobile_is_refused_as_slowly_as_a_wrong_password() {
    let server = behind_proxy();
    register_city(&server);
    // Interleaved, each from an address of its own, so that load from elsewhere weighs on
    // both alike and no address reaches its limit.
    let (mut known, mut unknown) = (Vec::new(), Vec::new());
    for i in 0..8u32 {
        for (n, times) in [(1, &mut known), (999, &mut unknown)] {
            let mut req = login_request(n);
            req.password = "guess1234".into();
            let ip = format!("198.51.100.{}", 2 * i + u32::from(n == 999));
            let started = Instant::now();
            assert_eq!(
                raw::post_json(&server.url, "/api/v1/login", Some(&ip), &req).code(),
                "login.failed"
            );
            times.push(started.elapsed());
        }
    }
    known.sort();
    unknown.sort();
    let (known, unknown) = (known[4], unknown[4]);
    // Without the dummy verification an unknown mobile answered in about a tenth.
    assert!(
        unknown * 2 >= known,
        "an unknown mobile answers in {unknown:?}, a known one in {known:?} (medians)"
    );
}

fn push(server: &TestServer, token: &str, docs: Vec<PushDoc>) -> Answer {
    let body = protocol::encode(&PushRequest {
        version: 2,
        docs,
        cursor: 0,
    })
    .unwrap();
    let auth = format!("Bearer {token}");
    raw::request(
        &server.url,
        "POST",
        "/api/v1/push",
        &[
            ("Content-Type", SYNC_CONTENT_TYPE),
            ("Authorization", &auth),
        ],
        &body,
    )
}

fn outcome(a: &Answer) -> DocOutcome {
    assert_eq!(a.status, 200, "{}", a.text());
    let resp: PushResponse = protocol::decode(&a.body).unwrap();
    resp.results.into_iter().next().unwrap().outcome
}

/// A new organization's whole document: `id` under `parent` (a branch of level 5).
fn new_doc(id: &str, parent: &str) -> Vec<u8> {
    let rec = OrgRecord {
        schema: SCHEMA_VERSION,
        id: id.into(),
        parent: parent.into(),
        level: 5,
        category: "团委".into(),
        short_name: "探测团委".into(),
        ..OrgRecord::default()
    };
    let actor = automerge::ActorId::random();
    client_core::doc::genesis(&rec, actor, 0)
        .unwrap()
        .save_nocompress()
}

/// The changes pushed for an id.
type Changes = fn(&str) -> Vec<u8>;

#[test]
fn a_push_outside_the_subtree_answers_alike_for_existing_and_unknown_ids() {
    let server = spawn_server();
    let token = server.admin_token(JINJIANG, 1);
    let feed_before = server.state.store.read(|c| c.max_seq()).unwrap();
    let cases: [(&str, Changes); 3] = [
        ("no changes", |_| Vec::new()),
        ("a new document under another district", |id| {
            new_doc(id, QINGYANG)
        }),
        ("a new document under an unknown parent", |id| {
            new_doc(id, "org-nowhere")
        }),
    ];
    for (what, changes) in cases {
        let existing = outcome(&push(
            &server,
            &token,
            vec![PushDoc {
                id: QINGYANG.into(),
                changes: changes(QINGYANG),
            }],
        ));
        let unknown = outcome(&push(
            &server,
            &token,
            vec![PushDoc {
                id: "org-510199".into(),
                changes: changes("org-510199"),
            }],
        ));
        assert_eq!(existing, unknown, "{what}");
        assert!(
            matches!(&existing, DocOutcome::Rejected { violations } if violations[0].code == "auth.outside_subtree"),
            "{what}: {existing:?}"
        );
    }
    let feed_after = server.state.store.read(|c| c.max_seq()).unwrap();
    assert_eq!(feed_before, feed_after, "nothing stored");
}

// ------------------------------------------------------------------ error bodies

/// What a library's own error text looks like (none may reach a client).
const INTERNALS: &[&str] = &[
    "serde",
    "postcard",
    "zstd",
    "line 1",
    "column",
    "expected",
    "Failed",
    "failed to",
    "invalid type",
    "missing field",
    "Unknown frame",
    "EOF",
    "Json",
    "deserialize",
];

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
    assert!(!message.is_empty(), "{what}: no message");
    for word in INTERNALS {
        assert!(
            !message.contains(word),
            "{what}: {message:?} names library internals"
        );
    }
}

#[test]
fn every_refusal_is_the_projects_json_error_body() {
    let server = spawn_server();
    let token = server.admin_token(JINJIANG, 1);
    let auth = format!("Bearer {token}");
    let url = &server.url;
    let ct_json = ("Content-Type", "application/json");
    let ct_sync = ("Content-Type", SYNC_CONTENT_TYPE);
    let cases: Vec<(&str, Answer, u16, &str)> = vec![
        (
            "malformed JSON",
            raw::request(url, "POST", "/api/v1/register", &[ct_json], b"{\"code\": "),
            400,
            "bad_request",
        ),
        (
            "a missing field",
            raw::request(
                url,
                "POST",
                "/api/v1/login",
                &[ct_json],
                b"{\"mobile\": \"13800000000\"}",
            ),
            400,
            "bad_request",
        ),
        (
            "no JSON content type",
            raw::request(
                url,
                "POST",
                "/api/v1/login",
                &[("Content-Type", "text/plain")],
                b"{}",
            ),
            400,
            "bad_request",
        ),
        (
            "an oversized JSON body",
            raw::request(
                url,
                "POST",
                "/api/v1/register",
                &[ct_json],
                format!("{{\"code\":\"{}\"}}", "x".repeat(64 * 1024)).as_bytes(),
            ),
            413,
            "request.too_large",
        ),
        (
            "an unknown route",
            raw::request(url, "GET", "/api/v1/nothing", &[], b""),
            404,
            "not_found",
        ),
        (
            "a wrong method",
            raw::request(url, "GET", "/api/v1/push", &[("Authorization", &auth)], b""),
            405,
            "request.method",
        ),
        (
            "undecodable push bytes",
            raw::request(
                url,
                "POST",
                "/api/v1/push",
                &[ct_sync, ("Authorization", &auth)],
                b"\x28\xb5\x2f\xfd garbage",
            ),
            400,
            "bad_request",
        ),
        (
            "undecodable pull bytes",
            raw::request(
                url,
                "POST",
                "/api/v1/pull",
                &[ct_sync, ("Authorization", &auth)],
                b"not zstd at all",
            ),
            400,
            "bad_request",
        ),
        (
            "a pull of the wrong content type",
            raw::request(
                url,
                "POST",
                "/api/v1/pull",
                &[ct_json, ("Authorization", &auth)],
                b"{}",
            ),
            400,
            "bad_request",
        ),
        (
            "a pull body over 1 KiB",
            raw::request(
                url,
                "POST",
                "/api/v1/pull",
                &[ct_sync, ("Authorization", &auth)],
                &[0u8; 2048],
            ),
            413,
            "request.too_large",
        ),
        (
            "a bad progress query",
            raw::request(
                url,
                "GET",
                "/api/v1/progress?level=abc",
                &[("Authorization", &auth)],
                b"",
            ),
            400,
            "bad_request",
        ),
        (
            "a push of duplicate ids",
            push(
                &server,
                &token,
                vec![
                    PushDoc {
                        id: "org-x".into(),
                        changes: vec![],
                    },
                    PushDoc {
                        id: "org-x".into(),
                        changes: vec![],
                    },
                ],
            ),
            422,
            "push.duplicate_id",
        ),
    ];
    for (what, a, status, code) in &cases {
        assert_json_error(a, *status, code, what);
    }
}

#[test]
fn a_push_of_a_million_documents_is_refused_before_any_is_judged() {
    let server = spawn_server();
    let token = server.admin_token(JINJIANG, 1);
    let docs = vec![
        PushDoc {
            id: JINJIANG.into(),
            changes: Vec::new()
        };
        1_000_000
    ];
    let a = push(&server, &token, docs);
    assert_json_error(&a, 413, "push.too_many_docs", "1,000,000 documents");
}

// ------------------------------------------------------------------ a stuck writer

/// A second connection to the server's database holding what every write needs.
enum Blocker {
    Sqlite(rusqlite::Connection),
    Postgres(postgres::Client),
}

impl Blocker {
    fn hold(server: &TestServer) -> Blocker {
        match &server.state.config.postgres {
            None => {
                let c = rusqlite::Connection::open(server.state.config.db_path()).unwrap();
                c.execute_batch("BEGIN IMMEDIATE").unwrap();
                Blocker::Sqlite(c)
            }
            Some(pg) => {
                let mut c = postgres::Client::connect(&pg.url, postgres::NoTls).unwrap();
                c.batch_execute("BEGIN; SELECT seq FROM feed_counter WHERE id = 1 FOR UPDATE")
                    .unwrap();
                Blocker::Postgres(c)
            }
        }
    }

    fn release(&mut self) {
        match self {
            Blocker::Sqlite(c) => c.execute_batch("ROLLBACK").unwrap(),
            Blocker::Postgres(c) => c.batch_execute("ROLLBACK").unwrap(),
        }
    }
}

#[test]
fn a_stuck_writer_neither_blocks_reads_nor_makes_writes_fail_for_good() {
    let server = spawn_server();
    let token = server.admin_token(JINJIANG, 1);
    let auth = format!("Bearer {token}");
    let pull_body = protocol::encode(&PullRequest {
        version: PROTOCOL_VERSION,
        cursor: 0,
        limit: 100,
        lean: false,
    })
    .unwrap();
    // Another process (an operator command, say) takes the write lock and keeps it: on
    // SQLite the database's, on PostgreSQL the feed counter's row every write takes.
    let mut blocker = Blocker::hold(&server);
    let url = server.url.clone();
    let pusher_token = token.clone();
    let pusher = std::thread::spawn(move || {
        let started = Instant::now();
        let doc = new_doc("org-hardening-1", JINJIANG);
        let body = protocol::encode(&PushRequest {
            version: 2,
            docs: vec![PushDoc {
                id: "org-hardening-1".into(),
                changes: doc,
            }],
            cursor: 0,
        })
        .unwrap();
        let auth = format!("Bearer {pusher_token}");
        let a = raw::request(
            &url,
            "POST",
            "/api/v1/push",
            &[
                ("Content-Type", SYNC_CONTENT_TYPE),
                ("Authorization", &auth),
            ],
            &body,
        );
        (a, started.elapsed())
    });
    // Pulls while the push waits for the lock: each answered at once.
    let mut pulls = 0;
    let mut slowest = Duration::ZERO;
    while !pusher.is_finished() {
        let started = Instant::now();
        let a = raw::request(
            &server.url,
            "POST",
            "/api/v1/pull",
            &[
                ("Content-Type", SYNC_CONTENT_TYPE),
                ("Authorization", &auth),
            ],
            &pull_body,
        );
        assert_eq!(a.status, 200, "{}", a.text());
        slowest = slowest.max(started.elapsed());
        pulls += 1;
    }
    let (a, waited) = pusher.join().unwrap();
    assert!(pulls >= 2, "{pulls} pulls overlapped the waiting push");
    assert!(
        slowest < Duration::from_secs(1),
        "a pull waited {slowest:?} for another writer"
    );
    // The push is told to retry soon, not failed: 503 store.busy with Retry-After.
    assert_json_error(&a, 503, "store.busy", "a push while another process writes");
    assert!(a.header("retry-after").is_some());
    assert!(
        waited < Duration::from_secs(5),
        "the push waited {waited:?}"
    );
    blocker.release();
    let doc = new_doc("org-hardening-1", JINJIANG);
    let again = push(
        &server,
        &token,
        vec![PushDoc {
            id: "org-hardening-1".into(),
            changes: doc,
        }],
    );
    assert_eq!(
        again.status,
        200,
        "once the lock is released: {}",
        again.text()
    );
}

//! Operations (docs/protocol.md "Probes and metrics"): liveness and readiness probes, and
//! the Prometheus metrics — that they parse, that they move with what the server does,
//! that they name nothing personal, and who may read them. A real server on port 0.

use std::time::Instant;

use client_core::protocol::{
    self, DocOutcome, PROTOCOL_VERSION, PullRequest, PushDoc, PushRequest, PushResponse,
    SYNC_CONTENT_TYPE,
};
use e2e::{
    JINJIANG, TestServer, login_request, mobile, registration, spawn_server, spawn_server_with,
};
use schemas::org::{OrgRecord, SCHEMA_VERSION};
use sync_server::limits::{MAX_FAILURES, PENALTY};
use sync_server::net::TrustedProxies;

#[path = "../../sync-server/tests/common/raw.rs"]
mod raw;
use raw::Answer;

const QINGYANG: &str = "org-510105";

fn get(server: &TestServer, path: &str, forwarded_for: Option<&str>) -> Answer {
    let mut headers = Vec::new();
    if let Some(ip) = forwarded_for {
        headers.push(("X-Forwarded-For", ip));
    }
    raw::request(&server.url, "GET", path, &headers, b"")
}

fn sync(server: &TestServer, path: &str, token: &str, body: &[u8]) -> Answer {
    let auth = format!("Bearer {token}");
    raw::request(
        &server.url,
        "POST",
        path,
        &[
            ("Content-Type", SYNC_CONTENT_TYPE),
            ("Authorization", &auth),
        ],
        body,
    )
}

/// A new branch committee's whole document: `id` under `parent`.
fn new_doc(id: &str, parent: &str) -> PushDoc {
    let rec = OrgRecord {
        schema: SCHEMA_VERSION,
        id: id.into(),
        parent: parent.into(),
        level: 5,
        category: "团委".into(),
        short_name: "运维测试团委".into(),
        ..OrgRecord::default()
    };
    let actor = automerge::ActorId::random();
    PushDoc {
        id: id.into(),
        changes: client_core::doc::genesis(&rec, actor, 0)
            .unwrap()
            .save_nocompress(),
    }
}

// ------------------------------------------------------------------ the exposition

/// One sample of an exposition.
#[derive(Debug)]
struct Sample {
    name: String,
    labels: Vec<(String, String)>,
    value: f64,
}

/// An exposition read by the rules of the Prometheus / OpenMetrics text format: every line
/// a `# HELP`, `# TYPE` or `# UNIT` comment or a sample `name{label="value",…} value`,
/// every sample of a family whose type was declared before it, and `# EOF` last.
struct Scrape {
    samples: Vec<Sample>,
    types: Vec<(String, String)>,
}

fn is_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

/// `k="v",k2="v2"` (escapes `\\`, `\"`, `\n`).
fn parse_labels(s: &str) -> Vec<(String, String)> {
    let mut labels = Vec::new();
    let mut rest = s;
    while !rest.is_empty() {
        let (key, after) = rest
            .split_once("=\"")
            .unwrap_or_else(|| panic!("label in {s}"));
        assert!(is_name(key), "label name {key:?} in {s}");
        let mut value = String::new();
        let mut chars = after.char_indices();
        let end = loop {
            match chars.next() {
                Some((_, '\\')) => match chars.next() {
                    Some((_, 'n')) => value.push('\n'),
                    Some((_, c @ ('\\' | '"'))) => value.push(c),
                    other => panic!("escape {other:?} in {s}"),
                },
                Some((i, '"')) => break i,
                Some((_, c)) => value.push(c),
                None => panic!("unterminated label value in {s}"),
            }
        };
        labels.push((key.to_owned(), value));
        rest = &after[end + 1..];
        rest = rest.strip_prefix(',').unwrap_or(rest);
    }
    labels
}

fn parse(text: &str) -> Scrape {
    let body = text
        .strip_suffix("# EOF\n")
        .unwrap_or_else(|| panic!("no # EOF at the end: {text}"));
    let mut scrape = Scrape {
        samples: Vec::new(),
        types: Vec::new(),
    };
    for line in body.lines() {
        if let Some(comment) = line.strip_prefix("# ") {
            let mut parts = comment.splitn(3, ' ');
            let (kind, name, rest) = (
                parts.next().unwrap(),
                parts.next().unwrap_or(""),
                parts.next().unwrap_or(""),
            );
            assert!(is_name(name), "{line}");
            match kind {
                "TYPE" => {
                    assert!(
                        [
                            "counter",
                            "gauge",
                            "histogram",
                            "summary",
                            "info",
                            "unknown"
                        ]
                        .contains(&rest),
                        "{line}"
                    );
                    scrape.types.push((name.to_owned(), rest.to_owned()));
                }
                "HELP" | "UNIT" => {}
                _ => panic!("unknown comment {line}"),
            }
            continue;
        }
        let (series, value) = line
            .rsplit_once(' ')
            .unwrap_or_else(|| panic!("no value: {line}"));
        let value: f64 = match value {
            "+Inf" => f64::INFINITY,
            "-Inf" => f64::NEG_INFINITY,
            v => v.parse().unwrap_or_else(|_| panic!("value {v:?}: {line}")),
        };
        let (name, labels) = match series.split_once('{') {
            Some((name, labels)) => (
                name,
                parse_labels(labels.strip_suffix('}').unwrap_or_else(|| panic!("{line}"))),
            ),
            None => (series, Vec::new()),
        };
        assert!(is_name(name), "{line}");
        let family = scrape
            .types
            .iter()
            .filter(|(f, _)| name.starts_with(f.as_str()))
            .max_by_key(|(f, _)| f.len())
            .unwrap_or_else(|| panic!("a sample of no declared family: {line}"));
        let suffix = &name[family.0.len()..];
        let allowed: &[&str] = match family.1.as_str() {
            "counter" => &["_total", "_created"],
            "histogram" => &["_bucket", "_sum", "_count", "_created"],
            _ => &[""],
        };
        assert!(allowed.contains(&suffix), "{line} in a {}", family.1);
        scrape.samples.push(Sample {
            name: name.to_owned(),
            labels,
            value,
        });
    }
    scrape
}

impl Scrape {
    /// The sum of the samples `name` with at least `labels` (0 if none).
    fn value(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.samples
            .iter()
            .filter(|s| s.name == name)
            .filter(|s| {
                labels
                    .iter()
                    .all(|(k, v)| s.labels.iter().any(|(sk, sv)| sk == k && sv == v))
            })
            .map(|s| s.value)
            .sum()
    }

    fn type_of(&self, family: &str) -> Option<&str> {
        self.types
            .iter()
            .find(|(f, _)| f == family)
            .map(|(_, t)| t.as_str())
    }
}

/// The metrics, read from loopback (no forwarding header).
fn scrape(server: &TestServer) -> (Scrape, String) {
    let a = get(server, "/metrics", None);
    assert_eq!(a.status, 200, "{}", a.text());
    assert!(
        a.content_type().starts_with("application/openmetrics-text"),
        "{}",
        a.content_type()
    );
    let text = a.text();
    (parse(&text), text)
}

// ------------------------------------------------------------------ probes

#[test]
fn the_probes_answer_on_a_working_server() {
    let server = spawn_server();
    for path in ["/healthz", "/readyz", "/api/v1/health"] {
        let a = get(&server, path, None);
        assert_eq!((a.status, a.text().as_str()), (200, "ok"), "{path}");
    }
    // Both probes are open to anyone (a load balancer's address is not known in advance).
    let server =
        spawn_server_with(|c| c.trusted_proxies = TrustedProxies::parse("127.0.0.1").unwrap());
    for path in ["/healthz", "/readyz"] {
        let a = get(&server, path, Some("203.0.113.9"));
        assert_eq!((a.status, a.text().as_str()), (200, "ok"), "{path}");
    }
}

/// `/readyz` until it answers 200, as a load balancer probes (each probe waits up to
/// `READY_WITHIN` for the database); panics after `probes` probes.
fn until_ready(server: &TestServer, probes: u32) {
    for _ in 0..probes {
        let a = get(server, "/readyz", None);
        if a.status == 200 {
            assert_eq!(a.text(), "ok");
            return;
        }
        assert_eq!(a.code(), "store.busy", "{}", a.text());
    }
    panic!("not ready after {probes} probes");
}

/// A 503 of `/readyz`: the busy store's JSON body, told to retry, and only once the
/// deadline has passed.
fn assert_not_ready(server: &TestServer) {
    let started = Instant::now();
    let a = get(server, "/readyz", None);
    let waited = started.elapsed();
    assert_eq!(
        (a.status, a.code().as_str()),
        (503, "store.busy"),
        "{}",
        a.text()
    );
    assert!(a.content_type().starts_with("application/json"));
    assert!(a.header("retry-after").is_some());
    assert!(
        waited >= sync_server::http::READY_WITHIN,
        "refused after {waited:?}, before the deadline"
    );
    // Liveness does not touch the database.
    assert_eq!(get(server, "/healthz", None).status, 200);
}

/// The database does not answer: every connection the store may open is held (long reads,
/// a hung disk) and, on PostgreSQL, the database then refuses connections. `/readyz`
/// answers 503 with the busy store's JSON body once its deadline passes, the connection
/// gauges show the pool full, and readiness returns when the database does. (SQLite's
/// `SELECT 1` reads no table, so nothing short of its connections being taken makes it
/// fail or hang.)
#[test]
fn readiness_fails_while_the_database_does_not_answer() {
    let server = spawn_server();
    // The most connections the store opens: SQLite's read connections, or the pool's size.
    let most = match &server.state.config.postgres {
        Some(p) => p.pool,
        None => server.state.store.pool_use().1,
    };
    assert!(most >= 1);
    let (entered_tx, entered) = std::sync::mpsc::channel();
    let (release_tx, release) = std::sync::mpsc::channel::<()>();
    let release = std::sync::Arc::new(std::sync::Mutex::new(release));
    let holders: Vec<_> = (0..most)
        .map(|_| {
            let state = server.state.clone();
            let entered_tx = entered_tx.clone();
            let release = release.clone();
            std::thread::spawn(move || {
                state
                    .store
                    .read(|_| {
                        entered_tx.send(()).unwrap();
                        let _ = release.lock().unwrap().recv();
                        Ok(())
                    })
                    .unwrap();
            })
        })
        .collect();
    for _ in 0..most {
        entered.recv().unwrap();
    }

    assert_not_ready(&server);
    let (metrics, _) = scrape(&server);
    assert_eq!(
        metrics.value("zhtj_db_connections_in_use", &[]),
        f64::from(most)
    );
    assert_eq!(metrics.value("zhtj_db_connections", &[]), f64::from(most));
    assert_eq!(
        metrics.value(
            "zhtj_http_requests_total",
            &[("route", "/readyz"), ("status", "503")]
        ),
        1.0
    );

    drop(release_tx);
    for h in holders {
        h.join().unwrap();
    }
    until_ready(&server, 1);
    let (metrics, _) = scrape(&server);
    assert_eq!(metrics.value("zhtj_db_connections_in_use", &[]), 0.0);

    if let (Some(admin), Some(db)) = (e2e::test_postgres(), &server.state.config.postgres) {
        // The database refuses connections and its sessions are ended (as when it is
        // stopped for maintenance): the pool cannot reach it.
        let name = postgres_name(&db.url);
        let mut admin = postgres::Client::connect(&admin, postgres::NoTls).unwrap();
        admin
            .batch_execute(&format!(
                "ALTER DATABASE {name} ALLOW_CONNECTIONS false; \
                 SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'"
            ))
            .unwrap();
        assert_not_ready(&server);
        admin
            .batch_execute(&format!("ALTER DATABASE {name} ALLOW_CONNECTIONS true"))
            .unwrap();
        // The pool reconnects on its own (a probe waiting on a connection may still give
        // up while it does).
        until_ready(&server, 10);
    }
}

/// The database name of a PostgreSQL connection string.
fn postgres_name(url: &str) -> String {
    use std::str::FromStr;
    let name = postgres::Config::from_str(url)
        .unwrap()
        .get_dbname()
        .unwrap()
        .to_owned();
    assert!(name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'));
    name
}

// ------------------------------------------------------------------ metrics

#[test]
fn the_metrics_count_requests_documents_latency_and_guesses() {
    // The monitoring host's network is trusted (10.0.0.0/8), as is the proxy (loopback).
    let server = spawn_server_with(|c| {
        c.trusted_proxies = TrustedProxies::parse("127.0.0.1,10.0.0.0/8").unwrap()
    });
    let token = server.admin_token(JINJIANG, 1);
    let (before, _) = scrape(&server);

    // A push of the current version with one document accepted (version 3 leaves it out
    // of the answer: counted all the same) and one refused.
    let body = protocol::encode(&PushRequest {
        version: PROTOCOL_VERSION,
        docs: vec![
            new_doc("org-ops-accepted", JINJIANG),
            new_doc("org-ops-refused", QINGYANG),
        ],
        cursor: 0,
    })
    .unwrap();
    let a = sync(&server, "/api/v1/push", &token, &body);
    assert_eq!(a.status, 200, "{}", a.text());
    let resp: PushResponse = protocol::decode(&a.body).unwrap();
    let refused: Vec<_> = resp.results.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(refused, ["org-ops-refused"], "{resp:?}");
    assert!(
        matches!(&resp.results[0].outcome, DocOutcome::Rejected { violations } if violations[0].code == "auth.outside_subtree"),
        "{resp:?}"
    );
    let pull = protocol::encode(&PullRequest {
        version: PROTOCOL_VERSION,
        cursor: 0,
        limit: 100,
        lean: false,
    })
    .unwrap();
    assert_eq!(sync(&server, "/api/v1/pull", &token, &pull).status, 200);

    // Wrong passwords from one address until the limiter refuses it.
    let mut req = login_request(1);
    req.password = "wrong-password".into();
    for i in 0..MAX_FAILURES {
        let a = raw::post_json(&server.url, "/api/v1/login", Some("198.51.100.1"), &req);
        assert_eq!(a.code(), "login.failed", "attempt {i}");
    }
    let a = raw::post_json(&server.url, "/api/v1/login", Some("198.51.100.1"), &req);
    assert_eq!(a.code(), "rate_limited");
    // Wrong registration codes for one organization from one address until the address
    // is refused; then the organization's next attempt, from elsewhere, is slowed.
    let wrong_code = |n: u32| {
        let code = schemas::RegistrationCode::generate(&mut rand::rng());
        registration(code.as_str(), QINGYANG, n, "李四")
    };
    for i in 0..MAX_FAILURES {
        let a = raw::post_json(
            &server.url,
            "/api/v1/register",
            Some("198.51.100.2"),
            &wrong_code(i + 10),
        );
        assert_eq!(a.code(), "code.unknown", "attempt {i}");
    }
    let a = raw::post_json(
        &server.url,
        "/api/v1/register",
        Some("198.51.100.2"),
        &wrong_code(30),
    );
    assert_eq!(a.code(), "rate_limited");
    let started = Instant::now();
    let a = raw::post_json(
        &server.url,
        "/api/v1/register",
        Some("203.0.113.7"),
        &wrong_code(31),
    );
    assert_eq!(a.code(), "code.unknown");
    assert!(started.elapsed() >= PENALTY, "slowed");

    // A path no route takes, asked for with a made-up method.
    let a = raw::request(&server.url, "BREW", "/no/such/path-4f2a", &[], b"");
    assert_eq!(a.status, 404);

    let (after, text) = scrape(&server);
    for (family, kind) in [
        ("zhtj_http_requests", "counter"),
        ("zhtj_push_seconds", "histogram"),
        ("zhtj_pull_seconds", "histogram"),
        ("zhtj_documents", "counter"),
        ("zhtj_rate_limit_hits", "counter"),
        ("zhtj_db_connections_in_use", "gauge"),
        ("zhtj_db_connections", "gauge"),
    ] {
        assert_eq!(after.type_of(family), Some(kind), "{family}");
    }
    let delta = |name: &str, labels: &[(&str, &str)]| {
        after.value(name, labels) - before.value(name, labels)
    };
    assert_eq!(
        delta("zhtj_documents_total", &[("outcome", "accepted")]),
        1.0
    );
    assert_eq!(
        delta(
            "zhtj_documents_total",
            &[("outcome", "refused"), ("code", "auth.outside_subtree")]
        ),
        1.0
    );
    assert_eq!(
        delta("zhtj_documents_total", &[("outcome", "refused")]),
        1.0
    );
    assert_eq!(delta("zhtj_push_seconds_count", &[]), 1.0);
    assert!(delta("zhtj_push_seconds_sum", &[]) > 0.0);
    assert_eq!(
        delta("zhtj_push_seconds_bucket", &[("le", "+Inf")]),
        1.0,
        "{text}"
    );
    assert_eq!(delta("zhtj_pull_seconds_count", &[]), 1.0);
    assert_eq!(
        delta("zhtj_rate_limit_hits_total", &[("guess", "password")]),
        1.0
    );
    assert_eq!(
        delta("zhtj_rate_limit_hits_total", &[("guess", "code")]),
        2.0,
        "one refused, one slowed"
    );
    let requests = |route: &str, method: &str, status: &str| {
        delta(
            "zhtj_http_requests_total",
            &[("route", route), ("method", method), ("status", status)],
        )
    };
    assert_eq!(requests("/api/v1/push", "POST", "200"), 1.0);
    assert_eq!(requests("/api/v1/pull", "POST", "200"), 1.0);
    assert_eq!(
        requests("/api/v1/login", "POST", "422"),
        f64::from(MAX_FAILURES),
        "{text}"
    );
    assert_eq!(requests("/api/v1/login", "POST", "429"), 1.0, "{text}");
    assert_eq!(requests("/api/v1/register", "POST", "429"), 1.0, "{text}");
    assert_eq!(requests("unmatched", "other", "404"), 1.0, "{text}");
    // Labels are route patterns and a bounded set of methods: nothing a client chose.
    for chosen in ["/no/such", "4f2a", "BREW"] {
        assert!(!text.contains(chosen), "{chosen} in the metrics");
    }
    // Nothing personal.
    for personal in [
        mobile(1).as_str(),
        token.as_str(),
        JINJIANG,
        QINGYANG,
        "org-ops",
        "198.51.100.1",
        "198.51.100.2",
        "203.0.113.7",
    ] {
        assert!(!text.contains(personal), "{personal} in the metrics");
    }
}

#[test]
fn only_loopback_and_trusted_networks_read_the_metrics() {
    let behind_proxy = spawn_server_with(|c| {
        c.trusted_proxies = TrustedProxies::parse("127.0.0.1,10.0.0.0/8").unwrap()
    });
    // The monitoring host, directly on loopback or through the proxy from a trusted network.
    assert_eq!(get(&behind_proxy, "/metrics", None).status, 200);
    assert_eq!(get(&behind_proxy, "/metrics", Some("10.1.2.3")).status, 200);
    // The internet through the proxy, also when it names a trusted address first.
    for from in ["203.0.113.9", "10.1.2.3, 203.0.113.9"] {
        let a = get(&behind_proxy, "/metrics", Some(from));
        assert_eq!((a.status, a.code().as_str()), (404, "not_found"), "{from}");
        assert!(!a.text().contains("zhtj_"), "{from}: {}", a.text());
    }
    // No trusted proxy: a forwarded request came through a proxy the server does not know
    // (one on the same host reaches it from loopback) and is refused.
    let direct = spawn_server();
    assert_eq!(get(&direct, "/metrics", None).status, 200);
    let a = get(&direct, "/metrics", Some("203.0.113.9"));
    assert_eq!((a.status, a.code().as_str()), (404, "not_found"));
    // A refusal is counted like any answer, under the route's pattern.
    let (metrics, _) = scrape(&direct);
    assert_eq!(
        metrics.value(
            "zhtj_http_requests_total",
            &[("route", "/metrics"), ("status", "404")]
        ),
        1.0
    );
}

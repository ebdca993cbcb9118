//! No personal data or secret in the server's log (issue "Proof", item 4c). The real
//! `zhtj-server` binary runs with `ZHTJ_LOG=debug` (every log line of the server and its
//! libraries at debug level, on stderr, captured here); the test goes through what a
//! campaign sends it — registrations (full ID number, mobile, password, code), logins, a
//! sync whose pushes carry secretaries' ID numbers and mobiles and a registration code, a
//! pull, progress and the report, a push refused for a duplicate name, undecodable bytes,
//! failed registrations and logins up to the rate limit, a logout and a revoked token —
//! then reads the whole log: no full ID number, no full mobile number, no password, no
//! registration code in clear, no bearer token, no password hash.
//!
//! (The first administrator's code is printed on stdout at first start, for the operator:
//! that is the console, not the log, and is not checked here.)

use std::io::Read;
use std::path::Path;
use std::process::{Child, Stdio};
use std::thread::{self, JoinHandle};

use client_core::protocol::{
    LoginRequest, PROTOCOL_VERSION, PullRequest, PushDoc, PushRequest, RegisterRequest,
};
use client_core::sync::Remote;
use client_core::{NewChild, Replica, supervise};
use schemas::{Field, Mobile};
use time::OffsetDateTime;

mod common;
use common::{id_number, mobile, server_command};

const CITY: &str = "org-5101";
const JINJIANG: &str = "org-510104";
const CITY_PASSWORD: &str = "Chengdu2017pass";
const DISTRICT_PASSWORD: &str = "Jinjiang9secret";

/// The server process, its stderr captured whole; killed and reaped when dropped.
struct Server {
    child: Child,
    url: String,
    first_code: String,
    stderr: Option<JoinHandle<String>>,
}

impl Server {
    fn start(data: &Path) -> Server {
        let mut child = server_command(data, "debug")
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn zhtj-server");
        let mut err = child.stderr.take().expect("piped stderr");
        let stderr = thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = err.read_to_end(&mut buf);
            String::from_utf8_lossy(&buf).into_owned()
        });
        let (url, code) = common::wait_for_start(&mut child);
        assert!(!code.is_empty(), "a first start prints the first code");
        Server {
            child,
            url,
            first_code: code,
            stderr: Some(stderr),
        }
    }

    /// Stop the server and return everything it wrote to stderr.
    fn stop(mut self) -> String {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.stderr
            .take()
            .expect("once")
            .join()
            .expect("stderr reader")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn register(
    remote: &Remote,
    code: &str,
    org: &str,
    n: u32,
    password: &str,
) -> client_core::Result<client_core::protocol::RegisterResponse> {
    remote.register(&RegisterRequest {
        code: code.into(),
        org_id: org.into(),
        role: "书记".into(),
        name: "欧阳明华".into(),
        id_number: id_number(n),
        mobile: mobile(n),
        join_year_month: "2005-05".into(),
        password: password.into(),
    })
}

fn login(
    remote: &Remote,
    n: u32,
    password: &str,
) -> client_core::Result<client_core::protocol::LoginResponse> {
    remote.login(&LoginRequest {
        mobile: mobile(n),
        password: password.into(),
        org_id: None,
    })
}

fn sync(r: &mut Replica, remote: &Remote) -> client_core::sync::SyncReport {
    r.sync(remote, &mut |_, _, _| {}).expect("sync")
}

/// Runs of digits shaped like a mobile number (11 digits) or an ID number (17 or more).
fn personal_runs(s: &str) -> Vec<String> {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if !b[i].is_ascii_digit() {
            i += 1;
            continue;
        }
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        let run = &s[start..i];
        if (run.len() == 11 && Mobile::parse(run).is_ok()) || run.len() >= 17 {
            out.push(run.to_owned());
        }
    }
    out
}

#[test]
fn the_log_holds_no_personal_data_or_secret() {
    let dir = tempfile::TempDir::new().unwrap();
    let server = Server::start(&dir.path().join("server"));
    let remote = Remote::new(&server.url).unwrap();
    // Everything that must stay out of the log.
    let mut secrets: Vec<(String, String)> = vec![
        ("first code".into(), server.first_code.clone()),
        ("city password".into(), CITY_PASSWORD.into()),
        ("district password".into(), DISTRICT_PASSWORD.into()),
    ];
    for n in [1, 2, 3, 40, 41, 42, 43, 44, 45] {
        secrets.push((format!("ID number {n}"), id_number(n)));
        secrets.push((format!("mobile {n}"), mobile(n)));
    }

    // Failed registrations: a guessed code, a form with a bad ID number and a weak password.
    let guessed = schemas::RegistrationCode::generate(&mut rand::rng())
        .as_str()
        .to_owned();
    secrets.push(("guessed code".into(), guessed.clone()));
    let e = register(&remote, &guessed, CITY, 1, CITY_PASSWORD).unwrap_err();
    assert_eq!(e.code(), "code.unknown");
    let mut bad = id_number(3);
    bad.replace_range(17.., if bad.ends_with('1') { "2" } else { "1" });
    secrets.push(("bad ID number".into(), bad.clone()));
    let e = remote
        .register(&RegisterRequest {
            code: server.first_code.clone(),
            org_id: CITY.into(),
            role: "书记".into(),
            name: "欧阳明华".into(),
            id_number: bad,
            mobile: mobile(3),
            join_year_month: "2005-05".into(),
            password: "weak".into(),
        })
        .unwrap_err();
    assert_eq!(e.code(), "register.invalid");

    // The city admin registers and logs in; a wrong password; an unknown mobile.
    register(&remote, &server.first_code, CITY, 1, CITY_PASSWORD).unwrap();
    let e = login(&remote, 1, "Wrong-guess-77").unwrap_err();
    assert_eq!(e.code(), "login.failed");
    secrets.push(("wrong password".into(), "Wrong-guess-77".into()));
    assert!(login(&remote, 3, CITY_PASSWORD).is_err());
    let city_login = login(&remote, 1, CITY_PASSWORD).unwrap();
    secrets.push(("city token".into(), city_login.token.clone()));
    let rd = tempfile::TempDir::new().unwrap();
    let city_path = rd.path().join("city.sqlite3");
    let mut city = Replica::create_for_login(&city_path, &server.url, &city_login).unwrap();
    sync(&mut city, &remote);

    // Offline at the city: 团锦江区委's contact and secretary, a committee under it with its
    // secretary, a code for 团锦江区委; then a sync pushes them.
    city.update_info(
        JINJIANG,
        &[
            (Field::Phone, mobile(40)),
            (Field::SecretaryName, "李四".into()),
            (Field::SecretaryIdNumber, id_number(41)),
            (Field::SecretaryMobile, mobile(41)),
        ],
    )
    .unwrap();
    let k = city
        .create_child(
            JINJIANG,
            &NewChild {
                category: "团委".into(),
                short_name: "甲公司团委".into(),
                phone: mobile(42),
                ..NewChild::default()
            },
        )
        .unwrap();
    city.update_info(
        &k,
        &[
            (Field::SecretaryName, "王五".into()),
            (Field::SecretaryIdNumber, id_number(43)),
            (Field::SecretaryMobile, mobile(43)),
        ],
    )
    .unwrap();
    let code = city
        .issue_code(JINJIANG, OffsetDateTime::now_utc())
        .unwrap()
        .code;
    secrets.push(("issued code".into(), code.clone()));
    let report = sync(&mut city, &remote);
    assert!(report.rejected.is_empty(), "{:?}", report.rejected);
    assert_eq!(report.pushed, 2);

    // The district admin registers with that code, logs in, pulls, edits, and pushes a
    // committee whose name the city took meanwhile (refused: short_name.duplicate).
    register(&remote, &code, JINJIANG, 2, DISTRICT_PASSWORD).unwrap();
    let district_login = login(&remote, 2, DISTRICT_PASSWORD).unwrap();
    secrets.push(("district token".into(), district_login.token.clone()));
    let district_path = rd.path().join("district.sqlite3");
    let mut district =
        Replica::create_for_login(&district_path, &server.url, &district_login).unwrap();
    sync(&mut district, &remote);
    assert_eq!(
        district.org(&k).unwrap().record.secretary_id_number,
        id_number(43)
    );
    district
        .update_info(
            JINJIANG,
            &[
                (Field::SecretaryIdNumber, id_number(44)),
                (Field::SecretaryMobile, mobile(44)),
            ],
        )
        .unwrap();
    let dup = |name: &str| NewChild {
        category: "团委".into(),
        short_name: name.into(),
        phone: mobile(45),
        ..NewChild::default()
    };
    city.create_child(JINJIANG, &dup("乙公司团委")).unwrap();
    district.create_child(JINJIANG, &dup("乙公司团委")).unwrap();
    assert!(sync(&mut city, &remote).rejected.is_empty());
    let report = sync(&mut district, &remote);
    assert_eq!(report.rejected.len(), 1, "{:?}", report.rejected);

    // Undecodable bytes, a pull from 0, progress and the report.
    remote
        .push(
            &district_login.token,
            &PushRequest {
                version: 2,
                docs: vec![PushDoc {
                    id: "org-x".into(),
                    changes: format!("garbage {} {}", id_number(41), mobile(41)).into_bytes(),
                }],
                cursor: 0,
            },
        )
        .unwrap();
    remote
        .pull(
            &city_login.token,
            &PullRequest {
                version: PROTOCOL_VERSION,
                cursor: 0,
                limit: 100,
                lean: false,
            },
        )
        .unwrap();
    supervise::fetch_progress(&remote, &city_login.token, Some(JINJIANG), None, 0, 50).unwrap();
    supervise::download_report(
        &remote,
        &city_login.token,
        Some(CITY),
        &rd.path().join("report.xlsx"),
    )
    .unwrap();

    // Password guessing up to the rate limit; a logout; the revoked token refused.
    let mut last = String::new();
    for i in 0..11 {
        let guess = format!("Guess{i:03}pass");
        last = login(&remote, 2, &guess).unwrap_err().code().to_owned();
        secrets.push((format!("guess {i}"), guess));
    }
    assert_eq!(last, "rate_limited");
    remote.logout(&district_login.token).unwrap();
    assert!(matches!(
        remote.pull(
            &district_login.token,
            &PullRequest {
                version: PROTOCOL_VERSION,
                cursor: 0,
                limit: 100,
                lean: false,
            },
        ),
        Err(client_core::Error::LoginRequired)
    ));

    let log = server.stop();
    if std::env::var_os("ZHTJ_SHOW_LOG").is_some() {
        println!("{log}");
    }
    // The log is on, at debug level, and saw the requests.
    assert!(log.contains("DEBUG"), "no debug line in the log:\n{log}");
    for path in [
        "/api/v1/register",
        "/api/v1/login",
        "/api/v1/push",
        "/api/v1/pull",
    ] {
        assert!(log.contains(path), "{path} not in the log:\n{log}");
    }
    let mut found: Vec<String> = secrets
        .iter()
        .filter(|(_, s)| log.contains(s.as_str()))
        .map(|(what, s)| format!("{what} ({s})"))
        .collect();
    found.extend(
        personal_runs(&log)
            .into_iter()
            .map(|r| format!("a number shaped like a mobile or ID number: {r}")),
    );
    if log.contains("$argon2") {
        found.push("a password hash".into());
    }
    for line in log
        .lines()
        .filter(|l| l.to_ascii_lowercase().contains("bearer"))
    {
        found.push(format!("an Authorization header: {line}"));
    }
    assert!(
        found.is_empty(),
        "the log ({} lines) holds:\n{}\n--- log ---\n{log}",
        log.lines().count(),
        found.join("\n")
    );
}

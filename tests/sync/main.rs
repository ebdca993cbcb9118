//! End-to-end: a real server on a loopback port and several replicas, through the whole
//! campaign of the notice: the city admin registers and issues district codes; a district
//! admin works offline (Excel import, information, codes) and syncs; a town admin registers
//! with a code issued offline; concurrent edits converge; a refused push is kept, corrected
//! and accepted; and every attack is refused with nothing stored. Registration by code
//! alone: a town admin registers with nothing but the code read from the exported sheet
//! (through the `zhtj` command line), and the code look-up answers a wrong code exactly as
//! registration does.

use std::io::Write as _;
use std::path::Path;

use client_core::protocol::{
    DocOutcome, LoginRequest, PROTOCOL_VERSION, PushDoc, PushRequest, RegisterRequest,
};
use client_core::sync::Remote;
use client_core::{NewChild, Replica};
use e2e::{
    CITY, JINJIANG, TestServer, code_on_sheet, id_number, login_request, mobile, registration,
    replica_dir, spawn_server,
};
use schemas::Field;
use time::OffsetDateTime;

fn register(
    remote: &Remote,
    code: &str,
    org: &str,
    n: u32,
) -> client_core::Result<client_core::protocol::RegisterResponse> {
    remote.register(&registration(code, org, n, "张三"))
}

fn login_replica(server: &TestServer, n: u32, path: &Path) -> (Remote, Replica) {
    let remote = Remote::new(&server.url).unwrap();
    let login = remote.login(&login_request(n)).unwrap();
    let mut r = Replica::create_for_login(path, &server.url, &login).unwrap();
    r.sync(&remote, &mut |_, _, _| {}).unwrap();
    (remote, r)
}

fn child(category: &str, name: &str) -> NewChild {
    NewChild {
        category: category.into(),
        short_name: name.into(),
        ..NewChild::default()
    }
}

fn sync(r: &mut Replica, remote: &Remote) -> client_core::sync::SyncReport {
    r.sync(remote, &mut |_, _, _| {}).unwrap()
}

/// City admin registered and logged in, with a code issued and synced for 团锦江区委.
fn city_with_district_code(server: &TestServer) -> (tempfile::TempDir, Remote, Replica, String) {
    let remote = Remote::new(&server.url).unwrap();
    register(&remote, &server.first_code, CITY, 1).unwrap();
    let (dir, path) = replica_dir();
    let (remote, mut city) = login_replica(server, 1, &path);
    assert_eq!(city.own().unwrap().record.short_name, "团成都市委");
    assert_eq!(
        city.children(CITY).unwrap().len(),
        20,
        "the 20 pre-initialized districts arrive"
    );
    let code = city
        .issue_code(JINJIANG, OffsetDateTime::now_utc())
        .unwrap()
        .code;
    let report = sync(&mut city, &remote);
    assert_eq!(report.pushed, 1);
    assert!(report.rejected.is_empty(), "{:?}", report.rejected);
    (dir, remote, city, code)
}

#[test]
fn the_campaign_from_city_to_town() {
    let server = spawn_server();
    let (_cd, _cr, mut city, district_code) = city_with_district_code(&server);

    // The district admin registers with the code the city issued, then works offline.
    let remote = Remote::new(&server.url).unwrap();
    register(&remote, &district_code, JINJIANG, 2).unwrap();
    let (_dd, path) = replica_dir();
    let (remote, mut district) = login_replica(&server, 2, &path);
    assert_eq!(district.own().unwrap().record.short_name, "团锦江区委");

    // Offline: towns from an Excel sheet, branches one by one, information, a code.
    let sheet = _dd.path().join("towns.xlsx");
    let mut wb = rust_xlsxwriter::Workbook::new();
    let ws = wb.add_worksheet();
    for (c, h) in ["组织简称*", "组织类别*", "单位所属行业类别"]
        .iter()
        .enumerate()
    {
        ws.write_string(0, c as u16, *h).unwrap();
    }
    for (i, name) in ["春熙路街道团工委", "书院街街道团工委", "合江亭街道团工委"]
        .iter()
        .enumerate()
    {
        ws.write_string(i as u32 + 1, 0, *name).unwrap();
        ws.write_string(i as u32 + 1, 1, "团工委").unwrap();
        ws.write_string(i as u32 + 1, 2, "党政机关").unwrap();
    }
    wb.save(&sheet).unwrap();
    let created = district
        .import_excel(JINJIANG, &sheet, None, &mut |_, _| {})
        .unwrap()
        .created;
    assert_eq!(created.len(), 3);
    let town = created[0].clone();
    district
        .create_child(&town, &child("团支部", "红星路社区团支部"))
        .unwrap();
    district
        .create_child(&town, &child("团支部", "东大街社区团支部"))
        .unwrap();
    district
        .update_info(
            JINJIANG,
            &[
                (Field::Phone, "028-61310936".into()),
                (Field::SecretaryName, "李四".into()),
                (Field::SecretaryIdNumber, id_number(2)),
                (Field::SecretaryMobile, mobile(2)),
            ],
        )
        .unwrap();
    let town_code = district
        .issue_code(&town, OffsetDateTime::now_utc())
        .unwrap()
        .code;
    assert_eq!(
        district.counts().unwrap().1,
        6,
        "own unit, 3 towns and 2 branches pending"
    );

    // Back online: everything is accepted.
    let report = sync(&mut district, &remote);
    assert!(report.rejected.is_empty(), "{:?}", report.rejected);
    assert_eq!(report.pushed, 6);
    assert_eq!(
        district.counts().unwrap().1,
        0,
        "nothing pending after the sync"
    );

    // The town admin registers with the code issued offline and receives its subtree.
    let remote = Remote::new(&server.url).unwrap();
    register(&remote, &town_code, &town, 3).unwrap();
    let (_td, path) = replica_dir();
    let (_remote, town_replica) = login_replica(&server, 3, &path);
    let names: Vec<String> = town_replica
        .tree()
        .unwrap()
        .into_iter()
        .map(|e| e.record.short_name)
        .collect();
    assert_eq!(
        names,
        ["春熙路街道团工委", "红星路社区团支部", "东大街社区团支部"]
    );
    let ancestors: Vec<String> = town_replica
        .ancestors()
        .unwrap()
        .into_iter()
        .map(|a| a.short_name)
        .collect();
    assert_eq!(
        ancestors,
        ["团中央", "团四川省委", "团成都市委", "团锦江区委"]
    );
    assert!(
        town_replica.org(JINJIANG).is_err(),
        "a town never receives its parent's document"
    );

    // The city sees the district's work after its next sync.
    let city_remote = Remote::new(&server.url).unwrap();
    sync(&mut city, &city_remote);
    assert_eq!(city.children(JINJIANG).unwrap().len(), 3);
    assert_eq!(city.org(JINJIANG).unwrap().record.secretary_name, "李四");
}

#[test]
fn ancestor_and_unit_edit_concurrently_and_converge() {
    let server = spawn_server();
    let (_cd, city_remote, mut city, district_code) = city_with_district_code(&server);
    let remote = Remote::new(&server.url).unwrap();
    register(&remote, &district_code, JINJIANG, 2).unwrap();
    let (_dd, path) = replica_dir();
    let (district_remote, mut district) = login_replica(&server, 2, &path);

    // Both offline: the city fills the district's phone on its behalf, the district its secretary.
    city.update_info(JINJIANG, &[(Field::Phone, "028-61310936".into())])
        .unwrap();
    district
        .update_info(JINJIANG, &[(Field::SecretaryName, "王五".into())])
        .unwrap();
    district
        .update_info(JINJIANG, &[(Field::Email, "jj@example.cn".into())])
        .unwrap();
    city.update_info(JINJIANG, &[(Field::Email, "city-set@example.cn".into())])
        .unwrap();

    sync(&mut district, &district_remote);
    sync(&mut city, &city_remote);
    sync(&mut district, &district_remote);
    let a = city.org(JINJIANG).unwrap();
    let b = district.org(JINJIANG).unwrap();
    assert_eq!(a.record, b.record, "both replicas converge");
    assert!(!a.pending && !b.pending);
    assert_eq!(a.record.phone, "028-61310936");
    assert_eq!(a.record.secretary_name, "王五");
    assert!(a.record.email == "jj@example.cn" || a.record.email == "city-set@example.cn");
}

#[test]
fn a_refused_push_is_kept_corrected_and_accepted() {
    let server = spawn_server();
    let (_cd, city_remote, mut city, district_code) = city_with_district_code(&server);
    let remote = Remote::new(&server.url).unwrap();
    register(&remote, &district_code, JINJIANG, 2).unwrap();
    let (_dd, path) = replica_dir();
    let (district_remote, mut district) = login_replica(&server, 2, &path);

    // Offline, the city and the district each create a branch of the same name under the
    // district: each is valid locally; the second to arrive breaks sibling uniqueness.
    city.create_child(JINJIANG, &child("团支部", "机关团支部"))
        .unwrap();
    let mine = district
        .create_child(JINJIANG, &child("团支部", "机关团支部"))
        .unwrap();
    assert!(sync(&mut city, &city_remote).rejected.is_empty());
    let report = sync(&mut district, &district_remote);
    assert_eq!(report.rejected.len(), 1);
    assert_eq!(
        report.rejected[0].violations[0].code,
        "short_name.duplicate"
    );

    // Nothing lost: the refused organization stays, with its reasons, still pending.
    let view = district.org(&mine).unwrap();
    assert!(view.pending);
    assert_eq!(
        view.rejection.as_ref().unwrap()[0].code,
        "short_name.duplicate"
    );
    assert_eq!(district.rejections().unwrap().len(), 1);

    // The user corrects the name (not yet accepted, so still correctable) and syncs again.
    district
        .update_info(&mine, &[(Field::ShortName, "区委机关团支部".into())])
        .unwrap();
    let report = sync(&mut district, &district_remote);
    assert!(report.rejected.is_empty(), "{:?}", report.rejected);
    assert!(!district.org(&mine).unwrap().pending);
    assert!(district.rejections().unwrap().is_empty());
    sync(&mut city, &city_remote);
    let names: Vec<String> = city
        .children(JINJIANG)
        .unwrap()
        .into_iter()
        .map(|r| r.short_name)
        .collect();
    assert_eq!(names.len(), 2);
    assert!(names.contains(&"区委机关团支部".to_owned()));
}

#[test]
fn an_empty_sync_is_one_small_round_trip() {
    let server = spawn_server();
    let (_cd, remote, mut city, _code) = city_with_district_code(&server);
    // The next sync brings back the feed entry of the last push once; then all is quiet.
    sync(&mut city, &remote);
    let report = sync(&mut city, &remote);
    assert_eq!(report.round_trips, 1);
    assert_eq!(report.pulled, 0);
    assert_eq!(report.pushed, 0);
}

/// Issue 14: a sync right after a push downloads nothing that push sent. The push answer
/// moves the replica's feed cursor past its own documents when nothing else entered its
/// subtree's feed; when something did, the next pull brings it (and the pushed documents
/// with it), so nothing is missed.
#[test]
fn the_sync_after_a_push_downloads_nothing_it_sent() {
    let server = spawn_server();
    let (_cd, remote, mut city, _code) = city_with_district_code(&server);
    sync(&mut city, &remote);
    // Units created and edited offline, and a pre-initialized one edited.
    let created: Vec<String> = (0..30)
        .map(|i| {
            city.create_child(JINJIANG, &child("团支部", &format!("回声{i}团支部")))
                .unwrap()
        })
        .collect();
    city.update_info(&created[0], &[(Field::Phone, "028-61310936".into())])
        .unwrap();
    city.update_info(JINJIANG, &[(Field::Phone, "028-61310937".into())])
        .unwrap();
    let pushed = sync(&mut city, &remote);
    assert_eq!(pushed.pushed, 31, "{pushed:?}");
    assert!(pushed.rejected.is_empty(), "{:?}", pushed.rejected);

    let after = sync(&mut city, &remote);
    assert_eq!(
        after.received, 0,
        "nothing of its own push comes back: {after:?}"
    );
    assert_eq!(after.pulled, 0);
    assert_eq!(after.round_trips, 1, "one round trip");
    assert!(
        after.bytes_received < 200,
        "an empty answer: {} bytes",
        after.bytes_received
    );

    // Something else enters the subtree's feed between the replica's last pull and its
    // push: the cursor stays, and the next sync brings it.
    let (_dd, path) = replica_dir();
    let (remote2, mut second) = login_replica(&server, 1, &path);
    second
        .update_info(&created[1], &[(Field::Phone, "028-61310938".into())])
        .unwrap();
    city.update_info(&created[2], &[(Field::Phone, "028-61310939".into())])
        .unwrap();
    assert_eq!(sync(&mut second, &remote2).pushed, 1);
    let pushed = sync(&mut city, &remote);
    assert_eq!(pushed.pushed, 1);
    assert_eq!(
        city.org(&created[1]).unwrap().record.phone,
        "028-61310938",
        "the other replica's write arrived"
    );
    let after = sync(&mut city, &remote);
    assert_eq!(after.round_trips, 1);
    assert_eq!(after.pulled, 0, "{after:?}");
}

#[test]
fn concurrent_immutable_change_resolves_to_the_first_accepted() {
    let server = spawn_server();
    let (_cd, city_remote, mut city, district_code) = city_with_district_code(&server);
    let remote = Remote::new(&server.url).unwrap();
    register(&remote, &district_code, JINJIANG, 2).unwrap();
    let (_dd, path) = replica_dir();
    let (district_remote, mut district) = login_replica(&server, 2, &path);
    let k = district
        .create_child(JINJIANG, &child("团委", "甲公司团委"))
        .unwrap();
    sync(&mut district, &district_remote);
    sync(&mut city, &city_remote);
    // Both fill the still-empty 行业类别 offline with different values.
    district
        .update_info(&k, &[(Field::Industry, "国有企业".into())])
        .unwrap();
    city.update_info(&k, &[(Field::Industry, "集体企业".into())])
        .unwrap();
    sync(&mut district, &district_remote); // accepted first: this value stands
    let report = sync(&mut city, &city_remote);
    assert!(report.rejected.is_empty(), "{:?}", report.rejected);
    sync(&mut district, &district_remote);
    assert_eq!(city.org(&k).unwrap().record.industry, "国有企业");
    assert_eq!(district.org(&k).unwrap().record.industry, "国有企业");
    assert_eq!(
        city.org(&k).unwrap().record,
        district.org(&k).unwrap().record
    );
}

// ------------------------------------------------------------------ attacks

fn city_token(server: &TestServer) -> (Remote, String) {
    let remote = Remote::new(&server.url).unwrap();
    register(&remote, &server.first_code, CITY, 1).unwrap();
    let login = remote.login(&login_request(1)).unwrap();
    (remote, login.token)
}

fn feed_len(server: &TestServer) -> i64 {
    server.state.store.read(|c| c.max_seq()).unwrap()
}

#[test]
fn malformed_and_truncated_bytes_are_refused() {
    let server = spawn_server();
    let (remote, token) = city_token(&server);
    let before = feed_len(&server);
    let (_d, path) = replica_dir();
    let r = Replica::create_from_initial(&path, "团锦江区委").unwrap();
    let bytes = r.doc_bytes(JINJIANG).unwrap();
    for (changes, code) in [
        (b"garbage".to_vec(), "doc.malformed"),
        (bytes[..bytes.len() / 2].to_vec(), "doc.malformed"),
        // Nothing to create under an unknown id: answered as any push outside the subtree.
        (Vec::new(), "auth.outside_subtree"),
    ] {
        let resp = remote
            .push(
                &token,
                &PushRequest {
                    version: 2,
                    docs: vec![PushDoc {
                        id: "org-x".into(),
                        changes,
                    }],
                    cursor: 0,
                },
            )
            .unwrap();
        assert!(
            matches!(
                &resp.results[0].outcome,
                DocOutcome::Rejected { violations } if violations.iter().any(|v| v.code == code)
            ),
            "expected {code}: {:?}",
            resp.results[0]
        );
    }
    assert_eq!(feed_len(&server), before, "nothing stored");
    let err = remote
        .push(
            &token,
            &PushRequest {
                version: 99,
                docs: vec![],
                cursor: 0,
            },
        )
        .unwrap_err();
    assert_eq!(err.code(), "protocol.version");
}

#[test]
fn a_push_outside_the_subtree_or_to_an_immutable_field_is_refused() {
    let server = spawn_server();
    let (_cd, _cr, _city, district_code) = city_with_district_code(&server);
    let remote = Remote::new(&server.url).unwrap();
    register(&remote, &district_code, JINJIANG, 2).unwrap();
    let login = remote.login(&login_request(2)).unwrap();
    let before = feed_len(&server);

    // The district admin edits a sibling district's document (团青羊区委).
    let qingyang = "org-510105";
    let (stored, _) = server
        .state
        .store
        .read(|c| Ok(c.org_doc(qingyang)?.map(|d| (d.bytes, d.record))))
        .unwrap()
        .unwrap();
    let mut d = automerge::AutoCommit::load(&stored).unwrap();
    let rec = client_core::doc::read(&d);
    let mut after = rec.clone();
    after.phone = "028-61310936".into();
    client_core::doc::write(&mut d, &rec, &after, 1).unwrap();
    let resp = remote
        .push(
            &login.token,
            &PushRequest {
                version: 2,
                docs: vec![PushDoc {
                    id: qingyang.into(),
                    changes: d.save_nocompress(),
                }],
                cursor: 0,
            },
        )
        .unwrap();
    match &resp.results[0].outcome {
        DocOutcome::Rejected { violations } => {
            assert_eq!(violations[0].code, "auth.outside_subtree")
        }
        o => panic!("{o:?}"),
    }

    // The district renames itself (an immutable field, and the parent's to set).
    let (stored, _) = server
        .state
        .store
        .read(|c| Ok(c.org_doc(JINJIANG)?.map(|d| (d.bytes, d.record))))
        .unwrap()
        .unwrap();
    let mut d = automerge::AutoCommit::load(&stored).unwrap();
    let rec = client_core::doc::read(&d);
    let mut after = rec.clone();
    after.short_name = "团青羊区委".into();
    client_core::doc::write(&mut d, &rec, &after, 1).unwrap();
    let resp = remote
        .push(
            &login.token,
            &PushRequest {
                version: 2,
                docs: vec![PushDoc {
                    id: JINJIANG.into(),
                    changes: d.save_nocompress(),
                }],
                cursor: 0,
            },
        )
        .unwrap();
    match &resp.results[0].outcome {
        DocOutcome::Rejected { violations } => {
            let codes: Vec<&str> = violations.iter().map(|v| v.code.as_str()).collect();
            assert!(codes.contains(&"immutable.changed"), "{codes:?}");
            assert!(codes.contains(&"permission.field"), "{codes:?}");
        }
        o => panic!("{o:?}"),
    }
    assert_eq!(feed_len(&server), before, "nothing stored");
}

#[test]
fn bad_codes_are_refused() {
    let server = spawn_server();
    let remote = Remote::new(&server.url).unwrap();
    let wrong_case: String = server
        .first_code
        .chars()
        .map(|c| {
            if c.is_ascii_lowercase() {
                c.to_ascii_uppercase()
            } else {
                c.to_ascii_lowercase()
            }
        })
        .collect();
    for (code, org, expected) in [
        ("AbCdEfGh", CITY, "code.unknown"),
        // Another organization's code is answered as an unknown one: the answer must not
        // tell a guesser that the code exists.
        (server.first_code.as_str(), JINJIANG, "code.unknown"),
    ] {
        let err = register(&remote, code, org, 1).unwrap_err();
        assert_eq!(err.code(), expected, "{code}");
    }
    // Codes are case-sensitive: the same letters in the other case are refused (as an
    // unknown code, or as a character never used in codes, such as l for L).
    let err = register(&remote, &wrong_case, CITY, 1).unwrap_err();
    assert!(
        err.code() == "code.unknown" || err.violations().iter().any(|v| v.code == "code.chars"),
        "{wrong_case}: {err}"
    );
    register(&remote, &server.first_code, CITY, 1).unwrap();
    assert_eq!(
        register(&remote, &server.first_code, CITY, 2)
            .unwrap_err()
            .code(),
        "code.used"
    );
    // An expired code.
    let issued = server.issue_code_at(
        JINJIANG,
        OffsetDateTime::now_utc() - time::Duration::days(21),
    );
    assert_eq!(
        register(&remote, &issued, JINJIANG, 3).unwrap_err().code(),
        "code.expired"
    );
    // A joining date that breaks the age rule (born 1990: 13 in 2003).
    let code = server.issue_code(JINJIANG);
    let err = remote
        .register(&RegisterRequest {
            code: code.clone(),
            org_id: JINJIANG.into(),
            role: "书记".into(),
            name: "赵六".into(),
            id_number: id_number(0),
            mobile: mobile(9),
            join_year_month: "2001-01".into(),
            password: "secret123".into(),
        })
        .unwrap_err();
    assert!(
        err.violations().iter().any(|v| v.code == "join.too_young"),
        "{err}"
    );
}

#[test]
fn two_concurrent_registrations_with_one_code_exactly_one_succeeds() {
    let server = spawn_server();
    let url = server.url.clone();
    let code = server.first_code.clone();
    let handles: Vec<_> = (0..4)
        .map(|i| {
            let (url, code) = (url.clone(), code.clone());
            std::thread::spawn(move || {
                register(&Remote::new(&url).unwrap(), &code, CITY, 10 + i).is_ok()
            })
        })
        .collect();
    let ok = handles
        .into_iter()
        .map(|h| h.join().unwrap())
        .filter(|&b| b)
        .count();
    assert_eq!(ok, 1);
    let accounts = server.count("SELECT COUNT(*) FROM accounts", &[]);
    assert_eq!(accounts, 1);
}

#[test]
fn expired_unknown_and_revoked_tokens_are_refused() {
    let server = spawn_server();
    let (remote, token) = city_token(&server);
    let pull = client_core::protocol::PullRequest {
        version: PROTOCOL_VERSION,
        cursor: 0,
        limit: 10,
        lean: false,
    };
    assert!(remote.pull(&token, &pull).is_ok());
    assert_eq!(
        remote.pull("not-a-token", &pull).unwrap_err().code(),
        "sync.login_required"
    );
    // A stolen token that has expired.
    server.execute("UPDATE sessions SET expires_at = 0", &[]);
    assert_eq!(
        remote.pull(&token, &pull).unwrap_err().code(),
        "sync.login_required"
    );
    // A revoked one.
    let login = remote.login(&login_request(1)).unwrap();
    remote.logout(&login.token).unwrap();
    assert_eq!(
        remote.pull(&login.token, &pull).unwrap_err().code(),
        "sync.login_required"
    );
}

#[test]
fn password_guessing_hits_the_rate_limit() {
    let server = spawn_server();
    let (remote, _token) = city_token(&server);
    let mut codes = Vec::new();
    for _ in 0..12 {
        let e = remote
            .login(&LoginRequest {
                mobile: mobile(1),
                password: "wrong-guess1".into(),
                org_id: None,
            })
            .unwrap_err();
        codes.push(e.code().to_owned());
    }
    assert_eq!(codes[0], "login.failed");
    assert_eq!(codes.last().unwrap(), "rate_limited");
    // Even the right password is refused while the limit holds.
    let e = remote.login(&login_request(1)).unwrap_err();
    assert_eq!(e.code(), "rate_limited");
}

#[test]
fn an_oversized_body_is_refused_and_the_server_keeps_serving() {
    let server = spawn_server();
    let (remote, token) = city_token(&server);
    // 70 MB of incompressible bytes: over the 32 MiB limit of a push body.
    let mut big = vec![0u8; 70 * 1024 * 1024];
    rand::fill(&mut big[..]);
    let req = PushRequest {
        version: 2,
        docs: vec![PushDoc {
            id: "x".into(),
            changes: big,
        }],
        cursor: 0,
    };
    let before = feed_len(&server);
    // Through the client: the server answers 413 as soon as it has read past the limit, and
    // closes; the client, still writing, may see the answer or the closed connection.
    let err = remote.push(&token, &req).unwrap_err();
    assert!(
        matches!(err.code(), "request.too_large" | "sync.network"),
        "{}",
        err.code()
    );
    assert_eq!(feed_len(&server), before, "nothing stored");
    // Announced with `Expect: 100-continue`, the size alone is refused, before any byte of
    // the body is sent: the answer is certain.
    let addr = server.url.trim_start_matches("http://");
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    write!(
        s,
        "POST /api/v1/push HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: {}\r\nContent-Length: {}\r\nExpect: 100-continue\r\n\r\n",
        client_core::protocol::SYNC_CONTENT_TYPE,
        70 * 1024 * 1024
    )
    .unwrap();
    let mut answer = String::new();
    let mut buf = [0u8; 4096];
    while !answer.contains("}") {
        let n = std::io::Read::read(&mut s, &mut buf).unwrap();
        assert!(n > 0, "closed without an answer: {answer}");
        answer.push_str(&String::from_utf8_lossy(&buf[..n]));
    }
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(
        answer.contains("\"code\":\"request.too_large\""),
        "{answer}"
    );
    assert_eq!(feed_len(&server), before, "nothing stored");
    let pull = client_core::protocol::PullRequest {
        version: PROTOCOL_VERSION,
        cursor: 0,
        limit: 10,
        lean: false,
    };
    assert!(remote.pull(&token, &pull).is_ok(), "still serving");
}

// ------------------------------------------------------------------ registration by code

#[test]
fn a_town_admin_registers_with_only_the_code_from_the_exported_sheet() {
    let server = spawn_server();
    // The city admin confirms the printed first code's unit, then registers by code alone.
    let remote = Remote::new(&server.url).unwrap();
    let unit = remote.lookup_code(&server.first_code).unwrap();
    assert_eq!(
        (
            unit.org_id.as_str(),
            unit.short_name.as_str(),
            unit.category.as_str(),
            unit.parent_short_name.as_str(),
            unit.level
        ),
        (CITY, "团成都市委", "团的领导机关", "团四川省委", 3)
    );
    assert_eq!(unit.full_name, "中国共产主义青年团成都市委员会");
    register(&remote, &server.first_code, "", 1).unwrap();
    let (_cd, path) = replica_dir();
    let (city_remote, mut city) = login_replica(&server, 1, &path);
    let district_code = city
        .issue_code(JINJIANG, OffsetDateTime::now_utc())
        .unwrap()
        .code;
    sync(&mut city, &city_remote);

    // The district admin registers through the CLI with the code alone, creates a town
    // offline and exports the code sheet.
    let dir = tempfile::TempDir::new().unwrap();
    let district = e2e::zhtj!(dir.path().join("jj"), server.url);
    let out = district.register(&district_code, 2, "李四");
    assert!(
        out.contains("注册码所属的组织:团锦江区委(组织编号 org-510104)"),
        "{out}"
    );
    assert!(out.contains("上级组织:团成都市委"), "{out}");
    assert!(out.contains("注册成功:李四已成为团锦江区委的书记"), "{out}");
    district.login(2);
    district.ok(&[
        "create",
        "--category",
        "团工委",
        "--name",
        "春熙路街道团工委",
    ]);
    let sheet = dir.path().join("注册码.xlsx");
    let out = district.ok(&["codes", "--export", sheet.to_str().unwrap()]);
    assert!(
        out.contains("注册方法:zhtj register --code <注册码>"),
        "{out}"
    );
    district.ok(&["sync"]);

    // Read back: the sheet says how to register, and holds the town's code.
    let (code, note) = code_on_sheet(&sheet, "春熙路街道团工委");
    assert!(note.contains("注册方法:zhtj register --code"), "{note}");
    assert!(note.contains("首次使用 → 注册"), "{note}");

    // The town admin, with that code alone. Without a terminal to confirm on, the unit is
    // named and nothing is registered until --yes.
    let town = e2e::zhtj!(dir.path().join("town"), server.url);
    let (id, m) = (id_number(3), mobile(3));
    let form = [
        "register",
        "--code",
        code.as_str(),
        "--role",
        "书记",
        "--name",
        "王五",
        "--id-number",
        &id,
        "--mobile",
        &m,
        "--join",
        "2005-05",
        "--password",
        e2e::PASSWORD,
    ];
    let out = town.run(&form);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("春熙路街道团工委(团锦江区委的下级组织)") && stderr.contains("--yes"),
        "{stderr}"
    );
    // Naming another unit than the code's is refused by the server, as an unknown code
    // (the answer tells a guesser nothing).
    let mut other = form.to_vec();
    other.extend(["--org", "团锦江区委", "--yes"]);
    let out = town.run(&other);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("code.unknown"));
    // Confirmed: registered; the unit may be named by its short name too.
    let mut confirmed = form.to_vec();
    confirmed.extend(["--org", "春熙路街道团工委", "--yes", "--json"]);
    confirmed.rotate_right(1); // --json first
    let v: serde_json::Value = serde_json::from_str(&town.ok(&confirmed)).unwrap();
    assert_eq!(v["org_short_name"], "春熙路街道团工委");
    assert_eq!(v["parent_short_name"], "团锦江区委");
    assert_eq!(v["category"], "团工委");
    town.login(3);
    let status = town.json(&["status"]);
    assert_eq!(status["own_short_name"], "春熙路街道团工委");
    assert_eq!(status["logged_in"], true);
}

/// (status, code, message, violations) of a refusal by the server.
fn refusal(e: client_core::Error) -> (u16, String, String, Vec<schemas::Violation>) {
    match e {
        client_core::Error::Server { status, body } => {
            (status, body.code, body.message, body.violations)
        }
        other => panic!("expected a server refusal, got {other:?}"),
    }
}

#[test]
fn a_wrong_code_is_answered_by_the_look_up_as_registration_answers_it() {
    let server = spawn_server();
    let remote = Remote::new(&server.url).unwrap();
    let used = server.first_code.clone();
    register(&remote, &used, "", 1).unwrap();
    let expired = server.issue_code_at(
        JINJIANG,
        OffsetDateTime::now_utc() - time::Duration::days(21),
    );
    let unknown = "AbCdEfGh".to_owned();
    for (code, expected) in [
        (unknown, "code.unknown"),
        (used, "code.used"),
        (expired, "code.expired"),
    ] {
        let looked_up = refusal(remote.lookup_code(&code).unwrap_err());
        let registered = refusal(register(&remote, &code, "", 5).unwrap_err());
        assert_eq!(looked_up.1, expected);
        assert_eq!(looked_up.0, 422);
        assert_eq!(looked_up, registered, "{expected}: the same answer");
    }
}

/// What only the server knows of a unit reaches the replicas above it with the next pull:
/// its admin's name (masked), the code that admin used, whether an admin has logged in; a
/// unit without an admin has none of these.
#[test]
fn a_pull_brings_the_server_facts_of_each_unit() {
    let server = spawn_server();
    let (dir, remote, mut city, district_code) = city_with_district_code(&server);
    let conn = client_core::store::open(&dir.path().join("replica.sqlite3")).unwrap();
    register(&remote, &district_code, JINJIANG, 2).unwrap();
    sync(&mut city, &remote);
    let registered = client_core::store::server_facts(&conn, JINJIANG).unwrap();
    assert_eq!(registered.admins.len(), 1);
    assert!(!registered.logged_in, "registered, not logged in yet");
    // The first login alone is news for the units above.
    login_replica(&server, 2, &replica_dir().1);
    sync(&mut city, &remote);

    let facts = client_core::store::server_facts(&conn, JINJIANG).unwrap();
    assert_eq!(facts.admins, vec![schemas::person::mask_name("张三")]);
    assert_eq!(facts.used_codes, vec![district_code]);
    assert!(facts.logged_in);
    let qingyang = city
        .children(CITY)
        .unwrap()
        .into_iter()
        .find(|c| c.id != JINJIANG)
        .unwrap();
    let none = client_core::store::server_facts(&conn, &qingyang.id).unwrap();
    assert!(none.admins.is_empty() && none.used_codes.is_empty() && !none.logged_in);
}

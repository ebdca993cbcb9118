//! The sync client against a small in-process stand-in for the server (std TCP, one thread,
//! the wire format of `client_core::protocol`): first push, empty sync, initial download,
//! refusal and correction, concurrent immutable fill, NeedFull, expired session, and an
//! interrupted pull that resumes. The real server is exercised by the workspace's
//! end-to-end tests; this one checks the client's bookkeeping.

use std::collections::{HashMap, HashSet};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::sync::{Arc, Mutex};

use automerge::AutoCommit;
use client_core::protocol::{
    self, AncestorSummary, DocOutcome, DocResult, ErrorBody, LoginRequest, LoginResponse, OrgFacts,
    PROTOCOL_VERSION, PullDoc, PullRequest, PullResponse, PushRequest, PushResponse,
};
use client_core::{Error, NewChild, Remote, Replica, SyncStage, doc};
use schemas::{Field, Violation};
use tempfile::TempDir;

const TOKEN: &str = "mock-token";

#[derive(Default)]
struct State {
    /// id → (bytes, seq of its last accepted change)
    docs: HashMap<String, (Vec<u8>, u64)>,
    seq: u64,
    /// Largest page the server sends, whatever the client asks.
    page_cap: usize,
    /// Answer NeedFull to the next push of these ids.
    need_full_once: HashSet<String>,
    /// Drop the connection of the pull request with this (1-based) number.
    fail_pull_number: Option<usize>,
    token_valid: bool,
    /// Send the projection (record, heads, completeness) with each pulled document.
    projection: bool,
    org_id: String,
    ancestors: Vec<AncestorSummary>,
    // what was asked
    pulls: usize,
    pushes: usize,
    pull_cursors: Vec<u64>,
    pushed_ids: Vec<Vec<String>>,
}

struct Mock {
    url: String,
    state: Arc<Mutex<State>>,
}

impl Mock {
    fn start(org_id: &str, ancestors: Vec<AncestorSummary>, seed: &[(String, Vec<u8>)]) -> Mock {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let mut st = State {
            page_cap: 10_000,
            token_valid: true,
            projection: true,
            org_id: org_id.to_owned(),
            ancestors,
            ..State::default()
        };
        for (id, bytes) in seed {
            st.seq += 1;
            st.docs.insert(id.clone(), (bytes.clone(), st.seq));
        }
        let state = Arc::new(Mutex::new(st));
        let s = state.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(conn) = conn else { continue };
                handle(conn, &s);
            }
        });
        Mock { url, state }
    }

    fn st(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap()
    }

    fn record(&self, id: &str) -> schemas::org::OrgRecord {
        let st = self.st();
        doc::read(&AutoCommit::load(&st.docs[id].0).unwrap())
    }

    fn login(&self) -> LoginResponse {
        let st = self.st();
        LoginResponse {
            token: TOKEN.into(),
            expires_at: time::OffsetDateTime::now_utc().unix_timestamp() + 3600,
            org_id: st.org_id.clone(),
            org_short_name: "团锦江区委".into(),
            ancestors: st.ancestors.clone(),
        }
    }
}

fn respond(conn: &mut TcpStream, status: u16, content_type: &str, body: &[u8]) {
    let head = format!(
        "HTTP/1.1 {status} X\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let _ = conn.write_all(head.as_bytes());
    let _ = conn.write_all(body);
    let _ = conn.flush();
}

fn error(conn: &mut TcpStream, status: u16, code: &str) {
    let body = serde_json::to_vec(&ErrorBody {
        code: code.into(),
        message: format!("mock {code}"),
        violations: Vec::new(),
    })
    .unwrap();
    respond(conn, status, "application/json", &body);
}

fn handle(mut conn: TcpStream, state: &Arc<Mutex<State>>) {
    let mut reader = BufReader::new(conn.try_clone().unwrap());
    let mut line = String::new();
    if reader.read_line(&mut line).is_err() {
        return;
    }
    let path = line.split_whitespace().nth(1).unwrap_or("").to_owned();
    let mut len = 0;
    let mut auth = String::new();
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h).is_err() || h == "\r\n" || h.is_empty() {
            break;
        }
        let (k, v) = h.split_once(':').unwrap_or((&h, ""));
        match k.trim().to_ascii_lowercase().as_str() {
            "content-length" => len = v.trim().parse().unwrap_or(0),
            "authorization" => auth = v.trim().to_owned(),
            _ => {}
        }
    }
    let mut body = vec![0; len];
    if reader.read_exact(&mut body).is_err() {
        return;
    }
    let mut st = state.lock().unwrap();
    let authorized = st.token_valid && auth == format!("Bearer {TOKEN}");
    match path.as_str() {
        "/api/v1/login" => {
            let req: LoginRequest = serde_json::from_slice(&body).unwrap();
            if req.password != "abc12345" {
                return error(&mut conn, 401, "login.failed");
            }
            let resp = LoginResponse {
                token: TOKEN.into(),
                expires_at: time::OffsetDateTime::now_utc().unix_timestamp() + 3600,
                org_id: st.org_id.clone(),
                org_short_name: "团锦江区委".into(),
                ancestors: st.ancestors.clone(),
            };
            respond(
                &mut conn,
                200,
                "application/json",
                &serde_json::to_vec(&resp).unwrap(),
            );
        }
        "/api/v1/logout" => respond(&mut conn, 204, "application/json", b""),
        _ if !authorized => error(&mut conn, 401, "auth.required"),
        "/api/v1/pull" => {
            st.pulls += 1;
            let req: PullRequest = protocol::decode(&body).unwrap();
            st.pull_cursors.push(req.cursor);
            if st.fail_pull_number == Some(st.pulls) {
                // Drop the connection without an answer.
                return;
            }
            let mut changed: Vec<(&String, &(Vec<u8>, u64))> = st
                .docs
                .iter()
                .filter(|(_, (_, s))| *s > req.cursor)
                .collect();
            changed.sort_by_key(|(_, (_, s))| *s);
            let limit = (req.limit as usize).min(st.page_cap);
            let more = changed.len() > limit;
            changed.truncate(limit);
            let cursor = changed.last().map(|(_, (_, s))| *s).unwrap_or(req.cursor);
            let resp = PullResponse {
                version: PROTOCOL_VERSION,
                docs: changed
                    .into_iter()
                    .map(|(id, (bytes, _))| {
                        let mut d = AutoCommit::load(bytes).unwrap();
                        let record = doc::read(&d);
                        let complete = record
                            .completeness(&schemas::org::Context { region: None })
                            .is_complete();
                        let (heads, record) = if st.projection {
                            (
                                d.get_heads().into_iter().map(|h| h.0).collect(),
                                serde_json::to_string(&record).unwrap(),
                            )
                        } else {
                            (Vec::new(), String::new())
                        };
                        PullDoc {
                            id: id.clone(),
                            bytes: bytes.clone(),
                            facts: OrgFacts {
                                logged_in: true,
                                admins: vec!["张*".into()],
                                used_codes: Vec::new(),
                            },
                            heads,
                            record,
                            complete,
                        }
                    })
                    .collect(),
                cursor,
                more,
                authors: Vec::new(),
            };
            respond(
                &mut conn,
                200,
                protocol::SYNC_CONTENT_TYPE,
                &protocol::encode(&resp).unwrap(),
            );
        }
        "/api/v1/push" => {
            st.pushes += 1;
            let req: PushRequest = protocol::decode(&body).unwrap();
            st.pushed_ids
                .push(req.docs.iter().map(|d| d.id.clone()).collect());
            let mut results = Vec::new();
            for d in req.docs {
                let outcome = judge(&mut st, &d.id, &d.changes);
                results.push(DocResult { id: d.id, outcome });
            }
            let resp = PushResponse {
                version: PROTOCOL_VERSION,
                results,
                authors: Vec::new(),
                stamp: None,
                cursor: None,
            };
            respond(
                &mut conn,
                200,
                protocol::SYNC_CONTENT_TYPE,
                &protocol::encode(&resp).unwrap(),
            );
        }
        _ => error(&mut conn, 404, "not_found"),
    }
}

/// The server's judgement, reduced: missing history → NeedFull; a secretary named 退回测试
/// or a changed immutable field → Rejected; otherwise accepted with a new sequence number.
fn judge(st: &mut State, id: &str, changes: &[u8]) -> DocOutcome {
    if st.need_full_once.remove(id) {
        return DocOutcome::NeedFull;
    }
    let stored = st.docs.get(id).map(|(b, _)| b.clone());
    let mut d = match &stored {
        Some(b) => AutoCommit::load(b).unwrap(),
        None => AutoCommit::new(),
    };
    let before_heads = d.get_heads();
    let before = stored.as_ref().map(|_| doc::read(&d));
    d.load_incremental(changes).unwrap();
    if !d.get_missing_deps(&[]).is_empty() {
        return DocOutcome::NeedFull;
    }
    let heads = |d: &mut AutoCommit| d.get_heads().into_iter().map(|h| h.0).collect();
    if stored.is_some() && d.get_heads() == before_heads {
        return DocOutcome::Accepted {
            heads: heads(&mut d),
        };
    }
    let after = doc::read(&d);
    let mut v = Vec::new();
    if after.secretary_name == "退回测试" {
        v.push(Violation::error(
            "mock.refused",
            Some(Field::SecretaryName),
            "书记姓名不符合要求",
        ));
    }
    if let Some(b) = &before {
        v.extend(schemas::org::immutable_violations(b, &after));
    }
    if !v.is_empty() {
        return DocOutcome::Rejected { violations: v };
    }
    st.seq += 1;
    let seq = st.seq;
    st.docs.insert(id.to_owned(), (d.save_nocompress(), seq));
    DocOutcome::Accepted {
        heads: heads(&mut d),
    }
}

fn ancestors_of(r: &Replica) -> Vec<AncestorSummary> {
    r.ancestors()
        .unwrap()
        .into_iter()
        .map(|a| AncestorSummary {
            id: a.id,
            parent: a.parent,
            level: a.level,
            category: a.category,
            short_name: a.short_name,
            full_name: a.full_name,
        })
        .collect()
}

fn branch(name: &str) -> NewChild {
    NewChild {
        category: "团支部".into(),
        short_name: name.into(),
        ..NewChild::default()
    }
}

/// An offline replica of 团锦江区委 and a mock server that, like the real one, holds the
/// pre-initialized document of 团锦江区委.
fn setup(dir: &Path) -> (Replica, Mock) {
    let path = dir.join("a.sqlite3");
    let a = Replica::create_from_initial(&path, "团锦江区委").unwrap();
    let own = a.own_id().to_owned();
    let seed = vec![(own.clone(), a.doc_bytes(&own).unwrap())];
    let mock = Mock::start(&own, ancestors_of(&a), &seed);
    drop(a);
    let a = Replica::create_for_login(&path, &mock.url, &mock.login()).unwrap();
    (a, mock)
}

#[allow(clippy::result_large_err)]
fn sync(r: &mut Replica, mock: &Mock) -> client_core::Result<client_core::SyncReport> {
    let remote = Remote::new(&mock.url).unwrap();
    r.sync(&remote, &mut |_, _, _| {})
}

#[test]
fn first_push_then_empty_sync_then_download_into_a_new_replica() {
    let dir = TempDir::new().unwrap();
    let (mut a, mock) = setup(dir.path());
    let own = a.own_id().to_owned();
    a.update_info(&own, &[(Field::Phone, "028-61310936".into())])
        .unwrap();
    let committee = a
        .create_child(
            &own,
            &NewChild {
                category: "团委".into(),
                short_name: "北控集团团委".into(),
                ..NewChild::default()
            },
        )
        .unwrap();
    let mut kids = Vec::new();
    for i in 0..5 {
        kids.push(
            a.create_child(&committee, &branch(&format!("第{i}车间团支部")))
                .unwrap(),
        );
    }
    assert_eq!(a.counts().unwrap(), (7, 7));

    let remote = Remote::new(&mock.url).unwrap();
    let mut stages = Vec::new();
    let report = a
        .sync(&remote, &mut |s, done, total| stages.push((s, done, total)))
        .unwrap();
    assert_eq!(report.pulled, 1, "the seeded own document");
    assert_eq!(report.pushed, 7);
    assert!(report.rejected.is_empty());
    assert_eq!(report.round_trips, 2);
    assert_eq!(stages, [(SyncStage::Pull, 1, 0), (SyncStage::Push, 7, 7)]);
    // Parents before children.
    let order = mock.st().pushed_ids[0].clone();
    let pos = |id: &str| order.iter().position(|x| x == id).unwrap();
    assert!(pos(&own) < pos(&committee));
    assert!(kids.iter().all(|k| pos(&committee) < pos(k)));
    assert_eq!(a.counts().unwrap(), (7, 0));
    assert!(a.org(&committee).unwrap().synced);
    assert_eq!(mock.record(&own).phone, "028-61310936");

    // The next sync re-reads the feed entries of its own push (nothing to merge; only the
    // server's facts are new), then nothing is new: one round trip, no push.
    let report = sync(&mut a, &mock).unwrap();
    assert_eq!((report.pushed, report.round_trips), (0, 1));
    assert_eq!(report.received, 7);
    assert_eq!(a.counts().unwrap(), (7, 0));
    let report = sync(&mut a, &mock).unwrap();
    assert_eq!(
        (report.pulled, report.pushed, report.round_trips),
        (0, 0, 1)
    );
    assert_eq!(mock.st().pushes, 1);
    let status = a.sync_status().unwrap();
    assert!(status.last_sync_at.is_some());
    assert_eq!((status.pending, status.rejected), (0, 0));

    // A second device logs in with no local data and downloads the subtree.
    let b_path = dir.path().join("b.sqlite3");
    let mut b = Replica::create_for_login(&b_path, &mock.url, &mock.login()).unwrap();
    assert!(b.own().is_err());
    let report = sync(&mut b, &mock).unwrap();
    assert_eq!(report.pulled, 7);
    assert_eq!(report.pushed, 0);
    assert_eq!(b.counts().unwrap(), (7, 0));
    let names = |r: &Replica| {
        r.tree()
            .unwrap()
            .into_iter()
            .map(|e| (e.depth, e.record.short_name, e.complete))
            .collect::<Vec<_>>()
    };
    assert_eq!(names(&b), names(&a));
    assert_eq!(b.own().unwrap().record.phone, "028-61310936");
    assert_eq!(
        b.own().unwrap().record.full_name,
        "中国共产主义青年团成都市锦江区委员会"
    );

    // b edits, a receives.
    b.update_info(&kids[0], &[(Field::SecretaryName, "李四".into())])
        .unwrap();
    assert_eq!(sync(&mut b, &mock).unwrap().pushed, 1);
    let report = sync(&mut a, &mock).unwrap();
    assert_eq!((report.pulled, report.pushed), (1, 0));
    assert_eq!(a.org(&kids[0]).unwrap().record.secretary_name, "李四");
    assert!(!a.org(&kids[0]).unwrap().pending);
}

#[test]
fn a_refused_document_keeps_its_changes_until_corrected() {
    let dir = TempDir::new().unwrap();
    let (mut a, mock) = setup(dir.path());
    let own = a.own_id().to_owned();
    let ok = a.create_child(&own, &branch("一车间团支部")).unwrap();
    let bad = a.create_child(&own, &branch("二车间团支部")).unwrap();
    a.update_info(&bad, &[(Field::SecretaryName, "退回测试".into())])
        .unwrap();
    let report = sync(&mut a, &mock).unwrap();
    assert_eq!(report.pushed, 1);
    assert_eq!(report.rejected.len(), 1);
    let r = &report.rejected[0];
    assert_eq!(
        (r.id.as_str(), r.short_name.as_str()),
        (bad.as_str(), "二车间团支部")
    );
    assert_eq!(r.violations[0].code, "mock.refused");
    assert!(!a.org(&ok).unwrap().pending);
    let view = a.org(&bad).unwrap();
    assert!(view.pending && !view.synced);
    assert_eq!(view.record.secretary_name, "退回测试");
    assert_eq!(view.rejection.unwrap()[0].code, "mock.refused");
    assert_eq!(a.rejections().unwrap().len(), 1);
    assert_eq!(a.sync_status().unwrap().rejected, 1);

    // Syncing again without a correction is refused again; nothing is lost.
    assert_eq!(sync(&mut a, &mock).unwrap().rejected.len(), 1);
    // Corrected: the whole chain is sent again and judged on the corrected state.
    a.update_info(&bad, &[(Field::SecretaryName, "王五".into())])
        .unwrap();
    let report = sync(&mut a, &mock).unwrap();
    assert_eq!((report.pushed, report.rejected.len()), (1, 0));
    assert!(a.rejections().unwrap().is_empty());
    assert!(a.org(&bad).unwrap().rejection.is_none());
    assert_eq!(mock.record(&bad).secretary_name, "王五");
}

#[test]
fn a_concurrent_immutable_fill_resolves_to_the_accepted_value() {
    let dir = TempDir::new().unwrap();
    let (mut a, mock) = setup(dir.path());
    let own = a.own_id().to_owned();
    let child = a.create_child(&own, &branch("包装车间团支部")).unwrap();
    sync(&mut a, &mock).unwrap();
    let mut b =
        Replica::create_for_login(&dir.path().join("b.sqlite3"), &mock.url, &mock.login()).unwrap();
    sync(&mut b, &mock).unwrap();

    // Both fill the (immutable, empty) industry offline; a syncs first. b's write comes
    // after another change of its own, so its operation counter is higher and the merge
    // shows b's value: the client must reset it to the accepted one.
    a.update_info(&child, &[(Field::Industry, "农村".into())])
        .unwrap();
    b.update_info(&child, &[(Field::SecretaryName, "赵六".into())])
        .unwrap();
    b.update_info(&child, &[(Field::Industry, "城市社区".into())])
        .unwrap();
    assert_eq!(sync(&mut a, &mock).unwrap().pushed, 1);
    let report = sync(&mut b, &mock).unwrap();
    assert_eq!(report.resolved, vec![(child.clone(), Field::Industry)]);
    assert!(report.rejected.is_empty(), "{:?}", report.rejected);
    assert_eq!(report.pushed, 1);
    assert_eq!(b.org(&child).unwrap().record.industry, "农村");
    assert_eq!(b.org(&child).unwrap().record.secretary_name, "赵六");
    assert!(!b.org(&child).unwrap().pending);
    sync(&mut a, &mock).unwrap();
    assert_eq!(a.org(&child).unwrap().record, b.org(&child).unwrap().record);
    assert_eq!(mock.record(&child).industry, "农村");
}

#[test]
fn need_full_resends_the_whole_document_once() {
    let dir = TempDir::new().unwrap();
    let (mut a, mock) = setup(dir.path());
    let own = a.own_id().to_owned();
    let child = a.create_child(&own, &branch("包装车间团支部")).unwrap();
    sync(&mut a, &mock).unwrap();
    a.update_info(&child, &[(Field::SecretaryName, "张三".into())])
        .unwrap();
    mock.st().need_full_once.insert(child.clone());
    let report = sync(&mut a, &mock).unwrap();
    assert_eq!((report.pushed, report.round_trips), (1, 3));
    assert!(!a.org(&child).unwrap().pending);
    assert_eq!(mock.record(&child).secretary_name, "张三");
}

#[test]
fn an_expired_session_requires_a_new_login_and_keeps_the_data() {
    let dir = TempDir::new().unwrap();
    let (mut a, mock) = setup(dir.path());
    let own = a.own_id().to_owned();
    a.create_child(&own, &branch("包装车间团支部")).unwrap();
    mock.st().token_valid = false;
    let err = sync(&mut a, &mock).unwrap_err();
    assert!(matches!(err, Error::LoginRequired), "{err:?}");
    let status = a.sync_status().unwrap();
    assert!(!status.has_token);
    assert_eq!(status.pending, 1);
    assert!(matches!(sync(&mut a, &mock), Err(Error::LoginRequired)));

    // A wrong password is the server's refusal, not "login required".
    let remote = Remote::new(&mock.url).unwrap();
    let err = remote
        .login(&LoginRequest {
            mobile: "13812345678".into(),
            password: "wrong".into(),
            org_id: None,
        })
        .unwrap_err();
    assert!(matches!(err, Error::Server { status: 401, .. }), "{err:?}");
    assert_eq!(err.code(), "login.failed");

    mock.st().token_valid = true;
    let login = remote
        .login(&LoginRequest {
            mobile: "13812345678".into(),
            password: "abc12345".into(),
            org_id: Some(own.clone()),
        })
        .unwrap();
    drop(a);
    let mut a =
        Replica::create_for_login(&dir.path().join("a.sqlite3"), &mock.url, &login).unwrap();
    assert_eq!(sync(&mut a, &mock).unwrap().pushed, 1);
    assert!(a.logout(&remote).unwrap());
    assert!(!a.sync_status().unwrap().has_token);
}

#[test]
fn an_interrupted_pull_resumes_from_the_last_stored_page() {
    let dir = TempDir::new().unwrap();
    let (mut a, mock) = setup(dir.path());
    let own = a.own_id().to_owned();
    a.create_children(
        &own,
        &(0..9)
            .map(|i| branch(&format!("第{i}车间团支部")))
            .collect::<Vec<_>>(),
        &mut |_, _| {},
    )
    .unwrap();
    sync(&mut a, &mock).unwrap();

    let path = dir.path().join("b.sqlite3");
    let mut b = Replica::create_for_login(&path, &mock.url, &mock.login()).unwrap();
    {
        let mut st = mock.st();
        st.page_cap = 4;
        // This download goes without the server's projection: the client reads the bytes.
        st.projection = false;
        st.pulls = 0;
        st.pull_cursors.clear();
        st.fail_pull_number = Some(2);
    }
    let err = sync(&mut b, &mock).unwrap_err();
    assert_eq!(err.code(), "sync.network", "{err:?}");
    assert_eq!(b.counts().unwrap().0, 4, "the first page is stored");
    drop(b);
    let mut b = Replica::open(&path).unwrap();
    let report = sync(&mut b, &mock).unwrap();
    assert_eq!(report.pulled, 6);
    assert_eq!(b.counts().unwrap(), (10, 0));
    let cursors = mock.st().pull_cursors.clone();
    assert_eq!(cursors[0], 0);
    assert_eq!(cursors[1], cursors[2], "resumed at the stored cursor");
    assert!(b.tree().unwrap().iter().all(|e| !e.pending));
    assert_eq!(b.tree().unwrap().len(), 10);
}

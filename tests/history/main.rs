//! End-to-end: the change history (issue 13) with a real server on a loopback port and the
//! `zhtj` command line on three replicas (团成都市委, 团锦江区委 and its town
//! 春熙路街道团工委):
//! - three units write the town's phone offline; after syncing, the history on every
//!   replica (and on the server) shows every value, which won, and who wrote each
//!   (organization, role, masked name); each losing side's sync report names the
//!   overwritten field, in the CLI's text and in `--json`;
//! - a change that reaches the server long after it was made is marked offline;
//! - personal values in the history are masked;
//! - a history request for an organization outside the subtree is refused exactly as one
//!   for an unknown organization.

use automerge::AutoCommit;
use client_core::history::{Entry, Writer};
use client_core::protocol::{PushDoc, PushRequest};
use client_core::supervise;
use client_core::sync::Remote;
use client_core::{Error, doc};
use e2e::{CITY, JINJIANG, TestServer, Zhtj, id_number, mobile, registration, spawn_server, zhtj};
use schemas::Field;
use serde_json::Value;
use tempfile::TempDir;
use time::OffsetDateTime;

const TOWN_NAME: &str = "春熙路街道团工委";
const QINGYANG: &str = "org-510105";

/// The campaign down to a town: the city (admin 1, 张三), 团锦江区委 (admin 2, 李四) and
/// its town 春熙路街道团工委 (admin 3, 王五), each registered with a code alone and
/// logged in through the CLI, all synced.
struct World {
    server: TestServer,
    _dir: TempDir,
    city: Zhtj,
    district: Zhtj,
    town: Zhtj,
    town_id: String,
}

/// The code in a `zhtj code` printout.
fn code_in(out: &str) -> String {
    out.lines()
        .find_map(|l| l.strip_prefix("管理员注册码:"))
        .expect("a code line")
        .trim()
        .to_owned()
}

fn world() -> World {
    let server = spawn_server();
    let dir = TempDir::new().unwrap();
    let city = zhtj!(dir.path().join("city"), server.url);
    let district = zhtj!(dir.path().join("district"), server.url);
    let town = zhtj!(dir.path().join("town"), server.url);

    city.register(&server.first_code, 1, "张三");
    city.login(1);
    let out = city.ok(&["code", "团锦江区委"]);
    assert!(out.contains("注册方法:zhtj register --code"), "{out}");
    city.ok(&["sync"]);

    district.register(&code_in(&out), 2, "李四");
    district.login(2);
    let created = district.json(&["create", "--category", "团工委", "--name", TOWN_NAME]);
    let town_id = created["id"].as_str().unwrap().to_owned();
    let out = district.ok(&["code", TOWN_NAME]);
    district.ok(&["sync"]);

    town.register(&code_in(&out), 3, "王五");
    town.login(3);
    city.ok(&["sync"]);
    World {
        server,
        _dir: dir,
        city,
        district,
        town,
        town_id,
    }
}

fn phones(entries: &[Entry]) -> Vec<&Entry> {
    entries
        .iter()
        .filter(|e| e.field == Some(Field::Phone))
        .collect()
}

fn admin(e: &Writer) -> (String, String, String) {
    match e {
        Writer::Admin(a) => (a.org_short_name.clone(), a.role.clone(), a.name.clone()),
        other => panic!("expected an admin, got {other:?}"),
    }
}

/// An entry without what depends on the replica that tells it.
fn shared(e: &Entry) -> Entry {
    Entry {
        mine: false,
        ..e.clone()
    }
}

#[test]
fn concurrent_writes_of_one_phone_keep_every_value_and_tell_each_losing_side() {
    let w = world();
    let set_phone = |z: &Zhtj, phone: &str| {
        z.ok(&[
            "set",
            "--org",
            TOWN_NAME,
            &format!("团组织联系电话={phone}"),
        ]);
    };
    // Offline, all three write the town's phone. The town writes its email first, so its
    // phone write carries the greatest operation counter: Automerge shows it (Automerge's rule for
    // concurrent writes: greatest (counter, actor) wins), whatever the actors.
    w.town.ok(&["set", "团组织电子邮箱=cx@example.cn"]);
    set_phone(&w.town, "028-61310002");
    set_phone(&w.district, "028-61310001");
    set_phone(&w.city, "028-61310003");

    // The town syncs first: nothing of its own lost.
    let report = w.town.json(&["sync"]);
    assert_eq!(report["pushed"], 1);
    assert_eq!(report["overwritten"], Value::Array(vec![]));

    // The district syncs: its value lost, and the report says so in text.
    let text = w.district.ok(&["sync"]);
    assert!(text.contains("被覆盖:1项"), "{text}");
    assert!(
        text.contains(&format!(
            "{TOWN_NAME} 团组织联系电话:您填写的“028-61310001”被{TOWN_NAME} 书记 王*于"
        )),
        "{text}"
    );
    assert!(text.contains("填写的“028-61310002”覆盖"), "{text}");

    // The city syncs: its value lost too, and `--json` says so field by field.
    let report = w.city.json(&["sync"]);
    let over = report["overwritten"].as_array().unwrap();
    assert_eq!(over.len(), 1, "{report}");
    let o = &over[0];
    assert_eq!(o["id"], w.town_id.as_str());
    assert_eq!(o["field"], "phone");
    assert_eq!(o["field_label"], "团组织联系电话");
    assert_eq!(o["mine"], "028-61310003");
    assert_eq!(o["value"], "028-61310002");
    assert_eq!(o["by"]["kind"], "admin");
    assert_eq!(o["by"]["org_short_name"], TOWN_NAME);
    assert_eq!(o["by"]["role"], "书记");
    assert_eq!(o["by"]["name"], "王*");
    assert_eq!(o["by_text"], format!("{TOWN_NAME} 书记 王*"));

    // Everyone syncs once more (the town receives the losing writes and their authors).
    for z in [&w.town, &w.district, &w.city] {
        let r = z.json(&["sync"]);
        assert_eq!(
            r["overwritten"],
            Value::Array(vec![]),
            "told only once: {r}"
        );
    }

    // Every replica tells the same history: three values, one shown, two overwritten by
    // it, each with its writer.
    let mut told = Vec::new();
    for z in [&w.town, &w.district, &w.city] {
        let r = z.replica();
        assert_eq!(r.org(&w.town_id).unwrap().record.phone, "028-61310002");
        let h = r.history(&w.town_id).unwrap();
        let p = phones(&h);
        assert_eq!(p.len(), 3, "{p:#?}");
        let by_value = |v: &str| *p.iter().find(|e| e.new == v).unwrap();
        let won = by_value("028-61310002");
        assert!(won.overwritten.is_none());
        assert_eq!(
            admin(&won.by),
            (TOWN_NAME.into(), "书记".into(), "王*".into())
        );
        for (value, writer) in [
            ("028-61310001", ("团锦江区委", "李*")),
            ("028-61310003", ("团成都市委", "张*")),
        ] {
            let e = by_value(value);
            assert_eq!(
                admin(&e.by),
                (writer.0.into(), "书记".into(), writer.1.into())
            );
            let o = e.overwritten.as_ref().expect("marked overwritten");
            assert_eq!(o.value, "028-61310002");
            assert_eq!(o.change, won.change);
            assert_eq!(
                admin(&o.by),
                (TOWN_NAME.into(), "书记".into(), "王*".into())
            );
        }
        // Made and synced within seconds: not offline; every change known to the server.
        assert!(p.iter().all(|e| !e.offline && e.received_at.is_some()));
        told.push(h.iter().map(shared).collect::<Vec<_>>());
    }
    assert_eq!(told[0], told[1], "the town and the district agree");
    assert_eq!(told[1], told[2], "the district and the city agree");

    // The server tells the same.
    let remote = Remote::new(&w.server.url).unwrap();
    let token = remote.login(&e2e::login_request(2)).unwrap().token;
    let server_told =
        supervise::fetch_change_history(&remote, &token, Some(&w.town_id), None).unwrap();
    assert_eq!(server_told.entries, told[1]);
    let only_phone =
        supervise::fetch_change_history(&remote, &token, Some(&w.town_id), Some("phone")).unwrap();
    assert_eq!(only_phone.entries.len(), 3);

    // `zhtj history` on the district, as text and as JSON.
    let text = w
        .district
        .ok(&["history", TOWN_NAME, "--field", "团组织联系电话"]);
    assert!(text.contains("修改记录,共3条"), "{text}");
    assert!(
        text.contains("团组织联系电话:(未填写) → 028-61310001  —— 团锦江区委 书记 李*"),
        "{text}"
    );
    assert_eq!(text.matches("[已被覆盖]").count(), 2, "{text}");
    assert!(
        text.contains(&format!("与{TOWN_NAME} 书记 王*同时修改,显示的是其于")),
        "{text}"
    );
    let json = w.district.json(&["history", TOWN_NAME, "--field", "phone"]);
    let entries = json["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 3);
    let lost: Vec<&Value> = entries
        .iter()
        .filter(|e| !e["overwritten"].is_null())
        .collect();
    assert_eq!(lost.len(), 2);
    assert!(
        lost.iter()
            .all(|e| e["overwritten"]["value"] == "028-61310002")
    );
    let mine: Vec<&Value> = entries.iter().filter(|e| e["mine"] == true).collect();
    assert_eq!(mine.len(), 1);
    assert_eq!(mine[0]["new"], "028-61310001");
    assert_eq!(mine[0]["by_text"], "团锦江区委 书记 李*");
    // The same through the server.
    let online = w
        .district
        .json(&["history", TOWN_NAME, "--field", "phone", "--online"]);
    assert_eq!(online["source"], "server");
    assert_eq!(online["entries"].as_array().unwrap().len(), 3);
}

#[test]
fn personal_values_are_masked_in_the_history() {
    let w = world();
    let secretary = mobile(9);
    let id = id_number(9);
    w.town.ok(&[
        "set",
        &format!("书记手机号码={secretary}"),
        &format!("书记身份证号码={id}"),
        "书记姓名=王五",
    ]);
    w.town.ok(&["sync"]);
    w.district.ok(&["sync"]);
    let text = w.district.ok(&["history", TOWN_NAME]);
    let json = w.district.ok(&["--json", "history", TOWN_NAME]);
    for out in [&text, &json] {
        assert!(!out.contains(&secretary) && !out.contains(&id), "{out}");
        for n in 1..=3 {
            assert!(!out.contains(&mobile(n)) && !out.contains(&id_number(n)));
        }
    }
    // (The JSON carries change hashes, whose digits may run long: checked above by value.)
    assert!(e2e::personal_runs(&text).is_empty(), "{text}");
    assert!(
        text.contains(&format!("{}****{}", &secretary[..3], &secretary[7..])),
        "{text}"
    );
    assert!(text.contains("书记姓名:(未填写) → 王五"), "{text}");
    // `--full` shows them to the unit's own admin.
    let full = w.district.ok(&["history", TOWN_NAME, "--full"]);
    assert!(full.contains(&secretary), "{full}");
}

#[test]
fn a_change_that_reaches_the_server_long_after_it_was_made_is_marked_offline() {
    let server = spawn_server();
    let remote = Remote::new(&server.url).unwrap();
    remote
        .register(&registration(&server.first_code, "", 1, "张三"))
        .unwrap();
    let dir = TempDir::new().unwrap();
    let city = zhtj!(dir.path().join("city"), server.url);
    city.login(1);
    // A change made three days ago (the laptop was offline) and pushed now.
    let replica = city.replica();
    let token = supervise::token(&replica).unwrap();
    let mut d = AutoCommit::load(&replica.doc_bytes(JINJIANG).unwrap()).unwrap();
    drop(replica);
    let heads = d.get_heads();
    let before = doc::read(&d);
    let mut after = before.clone();
    after.email = "jj@example.cn".into();
    let made = OffsetDateTime::now_utc().unix_timestamp() - 3 * 86_400;
    doc::write(&mut d, &before, &after, made).unwrap();
    let resp = remote
        .push(
            &token,
            &PushRequest {
                version: 2,
                docs: vec![PushDoc {
                    id: JINJIANG.into(),
                    changes: d.save_after(&heads),
                }],
                cursor: 0,
            },
        )
        .unwrap();
    // The pusher gets its author record back at once (protocol version 2).
    assert_eq!(resp.authors.len(), 1);
    assert_eq!(resp.authors[0].org_short_name, "团成都市委");
    assert_eq!(resp.authors[0].name, "张*");

    let h = supervise::fetch_change_history(&remote, &token, Some(JINJIANG), Some("email"))
        .unwrap()
        .entries;
    assert_eq!(h.len(), 1);
    assert!(h[0].offline);
    assert_eq!(h[0].at, made);
    assert!(h[0].received_at.unwrap() - made >= 3 * 86_400 - 60);
    // The replica receives the record with the document and tells the same.
    city.ok(&["sync"]);
    let local = city.replica().history(JINJIANG).unwrap();
    let email = local
        .iter()
        .find(|e| e.field == Some(Field::Email))
        .unwrap();
    assert!(email.offline);
    let text = city.ok(&["history", "团锦江区委", "--field", "团组织电子邮箱"]);
    assert!(text.contains("离线修改,"), "{text}");
    assert!(text.contains("同步到服务器"), "{text}");
}

#[test]
fn a_history_request_outside_the_subtree_is_refused_like_an_unknown_organization() {
    let w = world();
    let remote = Remote::new(&w.server.url).unwrap();
    let token = remote.login(&e2e::login_request(2)).unwrap().token;
    let mut answers = Vec::new();
    for org in [QINGYANG, CITY, "org-51", "org-unknown", "春熙路街道团工委x"] {
        match supervise::fetch_change_history(&remote, &token, Some(org), None) {
            Err(Error::Server { status, body }) => {
                answers.push((status, body.code.clone(), body.message.clone()))
            }
            other => panic!("{org}: expected a refusal, got {other:?}"),
        }
    }
    assert_eq!(answers[0].0, 403);
    assert_eq!(answers[0].1, "auth.outside_subtree");
    assert!(
        answers.iter().all(|a| a == &answers[0]),
        "one answer for all: {answers:?}"
    );
    // Its own subtree is fine.
    assert!(supervise::fetch_change_history(&remote, &token, Some(&w.town_id), None).is_ok());
    assert!(supervise::fetch_change_history(&remote, &token, None, None).is_ok());
    // The CLI: refused by the server (1) online; not in the replica (3) offline.
    let out = w.district.run(&["history", "团青羊区委", "--online"]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("auth.outside_subtree"), "{stderr}");
    let out = w.district.run(&["history", "团青羊区委"]);
    assert_eq!(out.status.code(), Some(3), "{out:?}");
    // An unknown field is a usage error.
    let out = w.district.run(&["history", "--field", "电话号码"]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
}

//! `zhtj-server demo`: the demo tree and campaign written straight into a store. Every org
//! row's document loads and reads back as its record, the projection agrees with the
//! documents and accounts, the demo logins work, and a second run is refused.

use std::collections::{HashMap, HashSet};

use automerge::AutoCommit;
use client_core::protocol::LoginRequest;
use schemas::generate::{self, GenOptions};
use schemas::org::{Context, OrgRecord};
use sync_server::demo::{self, DemoOptions, DemoSize};
use sync_server::storage::{self, Store};
use wire::{doc, heads};

struct Row {
    parent: String,
    path: String,
    level: u8,
    complete: bool,
    live_children: i64,
    admin_count: i64,
    logged_in: bool,
    record: OrgRecord,
}

fn rows(store: &Store) -> HashMap<String, Row> {
    store
        .read(|c| {
            let mut stmt = c.sqlite().prepare(
                "SELECT id, parent, path, level, complete, live_children, admin_count, logged_in,
                        record, bytes, heads, category, short_name, full_name, phone
                 FROM orgs",
            )?;
            let mut out = HashMap::new();
            let mut q = stmt.query([])?;
            while let Some(r) = q.next()? {
                let id: String = r.get(0)?;
                let record: OrgRecord = serde_json::from_str(&r.get::<_, String>(8)?).unwrap();
                let bytes: Vec<u8> = r.get(9)?;
                let heads: Vec<u8> = r.get(10)?;
                // The document loads and reads back as the record, at the stored heads.
                let mut d = AutoCommit::load(&bytes).expect("document loads");
                assert_eq!(doc::read(&d), record, "{id}");
                assert_eq!(heads::encode(&d.get_heads()), heads, "{id}");
                assert_eq!(record.id, id);
                assert_eq!(r.get::<_, String>(11)?, record.category);
                assert_eq!(r.get::<_, String>(12)?, record.short_name);
                assert_eq!(r.get::<_, String>(13)?, record.full_name);
                assert_eq!(r.get::<_, String>(14)?, record.phone);
                out.insert(
                    id,
                    Row {
                        parent: r.get(1)?,
                        path: r.get(2)?,
                        level: r.get(3)?,
                        complete: r.get(4)?,
                        live_children: r.get(5)?,
                        admin_count: r.get(6)?,
                        logged_in: r.get(7)?,
                        record,
                    },
                );
            }
            Ok(out)
        })
        .unwrap()
}

/// Check the database against the generator and itself.
fn check(store: &Store, seed: u64, kept: &[&str]) {
    let rows = rows(store);
    let opts = GenOptions::new(seed);
    let mut expected = generate::chengdu_tree(&opts);
    generate::fill_campaign(&mut expected, &opts);
    assert_eq!(rows.len(), expected.len());
    let regions = generate::child_regions(&expected);
    for e in &expected {
        let row = &rows[&e.id];
        // The generated record, plus the codes the demo issued into it.
        let mut rec = row.record.clone();
        rec.codes.clear();
        if kept.contains(&e.id.as_str()) {
            assert_eq!(rec.short_name, e.short_name);
        } else {
            assert_eq!(&rec, e, "{}", e.short_name);
        }
        let region = regions.get(&e.parent).copied().flatten();
        let completeness = row.record.completeness(&Context { region });
        assert!(completeness.violations.is_empty(), "{}", e.short_name);
        assert_eq!(row.complete, completeness.is_complete(), "{}", e.short_name);
        assert_eq!(row.level, e.level);
        assert_eq!(row.parent, e.parent);
        match rows.get(&row.parent) {
            Some(p) => assert_eq!(row.path, format!("{}{}/", p.path, e.id)),
            None => assert_eq!(row.path, format!("/{}/", e.id)),
        }
    }
    // live_children, admin_count, logged_in agree with the rows and accounts.
    let mut children: HashMap<&str, i64> = HashMap::new();
    for r in rows.values() {
        *children.entry(r.parent.as_str()).or_default() += 1;
    }
    let accounts: Vec<(String, Option<i64>, String, String)> = store
        .read(|c| {
            let mut stmt = c
                .sqlite()
                .prepare("SELECT org_id, last_login, mobile, id_number FROM accounts")?;
            let v = stmt
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(v)
        })
        .unwrap();
    let mut admins: HashMap<&str, (i64, bool)> = HashMap::new();
    let mut mobiles = HashSet::new();
    for (org, last, mobile, id_number) in &accounts {
        let e = admins.entry(org.as_str()).or_default();
        e.0 += 1;
        e.1 |= last.is_some();
        assert!(mobiles.insert(mobile.clone()), "mobile {mobile} twice");
        assert!(schemas::Mobile::parse(mobile).is_ok());
        assert!(schemas::IdNumber::parse(id_number).is_ok());
    }
    for (id, r) in &rows {
        assert_eq!(
            r.live_children,
            children.get(id.as_str()).copied().unwrap_or(0),
            "{id}"
        );
        let (n, logged) = admins.get(id.as_str()).copied().unwrap_or((0, false));
        assert_eq!(r.admin_count, n, "{id}");
        assert_eq!(r.logged_in, logged, "{id}");
        // An admin only where the parent has one (codes flow down), from the districts on.
        if n > 0 && r.level > 4 {
            assert!(rows[&r.parent].admin_count > 0, "{id}");
        }
    }
    // Codes: every code of a document is in the codes table for that org, issued by the
    // parent; every used code belongs to an account of its org.
    let codes: Vec<(String, String, String, i64, i64, Option<i64>)> = store
        .read(|c| {
            let mut stmt = c.sqlite().prepare(
                "SELECT code, org_id, issued_by, issued_at, expires_at, used_by FROM codes",
            )?;
            let v = stmt
                .query_map([], |r| {
                    Ok((
                        r.get(0)?,
                        r.get(1)?,
                        r.get(2)?,
                        r.get(3)?,
                        r.get(4)?,
                        r.get(5)?,
                    ))
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(v)
        })
        .unwrap();
    let by_code: HashMap<&str, _> = codes.iter().map(|c| (c.0.as_str(), c)).collect();
    let mut in_docs = 0;
    for (id, r) in &rows {
        for (code, c) in &r.record.codes {
            let row = by_code[code.as_str()];
            assert_eq!(&row.1, id);
            assert_eq!(row.2, c.issued_by);
            assert_eq!(c.issued_by, r.parent);
            assert_eq!((row.3, row.4), (c.issued_at, c.expires_at));
            assert_eq!(c.expires_at - c.issued_at, 20 * 86_400);
            assert!(schemas::RegistrationCode::parse(code).is_ok());
            in_docs += 1;
        }
    }
    let used = codes.iter().filter(|c| c.5.is_some()).count();
    assert_eq!(used, accounts.len());
    assert!(in_docs > 100);
    assert!(
        codes.iter().any(|c| c.5.is_none() && c.4 < storage::now()),
        "some expired"
    );
    assert!(
        codes.iter().any(|c| c.5.is_none() && c.4 > storage::now()),
        "some valid"
    );
}

fn login(store: &Store, mobile: &str) -> client_core::protocol::LoginResponse {
    sync_server::identity::login(
        store,
        &LoginRequest {
            mobile: mobile.to_owned(),
            password: demo::DEMO_PASSWORD.to_owned(),
            org_id: None,
        },
        storage::now(),
    )
    .expect("demo login")
}

#[test]
fn demo_fills_a_fresh_store() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("zhtj-server.sqlite3")).unwrap();
    let mut lines = Vec::new();
    let t0 = std::time::Instant::now();
    let summary = demo::run(&store, &DemoOptions::new(9, DemoSize::Chengdu), &mut |l| {
        lines.push(l.to_owned())
    })
    .unwrap();
    eprintln!("demo in {:?}\n{}", t0.elapsed(), summary.report());
    assert!(lines.iter().any(|l| l.starts_with("已写入")));
    assert!(store.is_initialized().unwrap());
    assert_eq!(summary.updated + summary.unchanged, 23);
    assert!(summary.updated >= 20, "the chain and most districts");
    assert_eq!(summary.kept, 0);
    let level = |l: u8| {
        summary
            .levels
            .iter()
            .find(|s| s.level == l)
            .unwrap()
            .clone()
    };
    assert_eq!(level(4).orgs, 20);
    assert_eq!(level(3).orgs, 1);
    assert_eq!(level(3).complete, 1);
    assert_eq!(level(3).logged_in, 1);
    assert!(level(5).orgs >= 375);
    assert!(level(6).orgs >= 4342);
    assert!(level(4).complete > level(4).orgs / 2);
    assert!(level(4).with_admin >= level(4).logged_in && level(4).logged_in > 10);
    assert!(level(6).logged_in > 0 && level(6).logged_in < level(6).orgs / 2);
    assert!(level(6).with_children * 10 < level(6).orgs);
    assert!(summary.accounts > 500, "{}", summary.accounts);
    assert!(summary.codes_open > 100);
    check(&store, 9, &[]);

    // The printed logins work.
    assert_eq!(summary.logins.len(), 3);
    assert_eq!(summary.logins[0].short_name, "团成都市委");
    assert_eq!(summary.logins[1].short_name, "团锦江区委");
    let city = login(&store, demo::CITY_MOBILE);
    assert_eq!(city.org_id, "org-5101");
    let district = login(&store, demo::DISTRICT_MOBILE);
    assert_eq!(district.org_id, "org-510104");
    assert_eq!(district.ancestors.len(), 3);
    // The district admin's first pull brings its whole subtree.
    let actor =
        sync_server::identity::authenticate(&store, &district.token, storage::now()).unwrap();
    let all = rows(&store);
    let subtree = all
        .values()
        .filter(|r| r.path.starts_with(&actor.org_path))
        .count();
    let (mut cursor, mut pulled) = (0, 0);
    loop {
        let page = store
            .read(|c| sync_server::feed::pull(c, &actor, cursor, 10_000))
            .unwrap();
        pulled += page.docs.len();
        cursor = page.cursor;
        if !page.more {
            break;
        }
    }
    assert_eq!(pulled, subtree);
    assert!(subtree > 200);

    // A second run would mix two trees: refused, nothing written.
    let before = rows(&store).len();
    let err = demo::run(
        &store,
        &DemoOptions::new(10, DemoSize::Chengdu),
        &mut |_| {},
    )
    .unwrap_err();
    assert_eq!(err.code(), "demo.not_empty");
    assert_eq!(rows(&store).len(), before);
}

#[test]
fn demo_on_an_initialized_store_keeps_edited_orgs() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("zhtj-server.sqlite3")).unwrap();
    sync_server::operator::initialize_tree(&store).unwrap();
    // A real admin already entered 团青羊区委's phone: the demo keeps that document.
    let edited = schemas::initial::org_id("510105");
    store
        .transaction(|tx| {
            let row = tx.org(&edited)?.unwrap();
            let stored = tx.org_doc(&edited)?.unwrap();
            let (bytes, before) = (stored.bytes, stored.record);
            let mut d = AutoCommit::load(&bytes)?;
            let mut after = before.clone();
            after.phone = "028-86661234".into();
            doc::write(&mut d, &before, &after, 1).unwrap();
            let heads = heads::encode(&d.get_heads());
            tx.put_org(
                &storage::Accepted {
                    record: &after,
                    path: &row.path,
                    complete: false,
                    bytes: &d.save_nocompress(),
                    heads: &heads,
                },
                Some(&row),
                None,
            )?;
            Ok(())
        })
        .unwrap();
    let summary = demo::run(&store, &DemoOptions::new(4, DemoSize::Chengdu), &mut |_| {}).unwrap();
    assert_eq!(summary.updated + summary.unchanged, 22);
    assert_eq!(summary.kept, 1);
    check(&store, 4, &[edited.as_str()]);
    let kept = &rows(&store)[&edited];
    assert_eq!(kept.record.phone, "028-86661234");
    assert!(kept.record.secretary_name.is_empty());
}

#[test]
fn sizes_parse() {
    assert_eq!("chengdu".parse::<DemoSize>(), Ok(DemoSize::Chengdu));
    assert_eq!("100000".parse::<DemoSize>(), Ok(DemoSize::Orgs(100_000)));
    assert_eq!("100_000".parse::<DemoSize>(), Ok(DemoSize::Orgs(100_000)));
    assert!("lots".parse::<DemoSize>().is_err());
    assert!("0".parse::<DemoSize>().is_err());
}

//! The replica's operations, each with its success and refusal paths (issue: client-core).

use client_core::{Direction, Error, NewChild, Replica};
use schemas::{Field, IdNumber};
use tempfile::TempDir;
use time::{Duration, OffsetDateTime};

fn jinjiang() -> (TempDir, Replica) {
    let dir = TempDir::new().unwrap();
    let r =
        Replica::create_from_initial(&dir.path().join("replica.sqlite3"), "团锦江区委").unwrap();
    (dir, r)
}

fn id_number() -> String {
    let first = "51010419900501123";
    format!("{first}{}", IdNumber::check_char(first).unwrap())
}

fn child(category: &str, name: &str) -> NewChild {
    NewChild {
        category: category.into(),
        short_name: name.into(),
        ..NewChild::default()
    }
}

fn codes(err: &Error) -> Vec<String> {
    err.violations().into_iter().map(|v| v.code).collect()
}

#[test]
fn starts_from_the_pre_initialized_tree() {
    let (_d, r) = jinjiang();
    let own = r.own().unwrap();
    assert_eq!(own.record.short_name, "团锦江区委");
    assert_eq!(own.record.level, 4);
    assert_eq!(own.record.full_name, "中国共产主义青年团成都市锦江区委员会");
    let names: Vec<_> = r
        .ancestors()
        .unwrap()
        .into_iter()
        .map(|a| a.short_name)
        .collect();
    assert_eq!(names, ["团中央", "团四川省委", "团成都市委"]);
    assert!(!own.completeness.is_complete());
    assert!(own.completeness.missing.contains(&Field::Phone));
}

#[test]
fn fill_own_information_until_complete() {
    let (_d, mut r) = jinjiang();
    let id = r.own_id().to_owned();
    let v = r
        .update_info(
            &id,
            &[
                (Field::Phone, "028-61310936".into()),
                (Field::Email, "jjtw@example.cn".into()),
                (Field::AdminQuota, "５".into()), // full-width digits are normalized
                (Field::AdminStaffed, "4".into()),
                (Field::CareerQuota, "0".into()),
                (Field::CareerStaffed, "0".into()),
                (Field::SecretaryName, "张三".into()),
                (Field::SecretaryIdNumber, id_number().to_lowercase()),
                (Field::SecretaryMobile, "13812345678".into()),
            ],
        )
        .unwrap();
    assert!(v.completeness.is_complete(), "{:?}", v.completeness);
    assert_eq!(v.record.admin_quota, "5");
    assert!(v.pending);
    // Reopening shows the same (durable when returned).
    let path = r.path().to_owned();
    drop(r);
    let r = Replica::open(&path).unwrap();
    assert!(r.own().unwrap().completeness.is_complete());
}

#[test]
fn invalid_values_are_refused_and_nothing_changes() {
    let (_d, mut r) = jinjiang();
    let id = r.own_id().to_owned();
    let err = r
        .update_info(
            &id,
            &[
                (Field::Phone, "028-61310936".into()),
                (Field::SecretaryMobile, "12345".into()),
                (Field::SecretaryIdNumber, "510104199005011231".into()),
            ],
        )
        .unwrap_err();
    let c = codes(&err);
    assert!(c.contains(&"mobile.format".to_owned()), "{c:?}");
    assert!(c.iter().any(|c| c.starts_with("id_number.")), "{c:?}");
    assert_eq!(
        r.own().unwrap().record.phone,
        "",
        "nothing saved on refusal"
    );
}

#[test]
fn own_admin_cannot_change_what_the_parent_sets() {
    let (_d, mut r) = jinjiang();
    let id = r.own_id().to_owned();
    let err = r
        .update_info(&id, &[(Field::ShortName, "团青羊区委".into())])
        .unwrap_err();
    assert!(
        codes(&err).contains(&"permission.field".to_owned()),
        "{err}"
    );
}

#[test]
fn create_children_with_generated_full_names() {
    let (_d, mut r) = jinjiang();
    let own = r.own_id().to_owned();
    let town = r
        .create_child(&own, &child("团工委", "建国门街道团工委"))
        .unwrap();
    let t = r.org(&town).unwrap().record;
    assert_eq!(t.level, 5);
    assert_eq!(
        t.full_name,
        "中国共产主义青年团成都市锦江区建国门街道工作委员会"
    );
    let mut branch = child("团支部", "大雅宝社区团支部");
    branch.industry = "城市社区".into();
    branch.phone = "13812345678".into();
    let b = r.create_child(&town, &branch).unwrap();
    let b = r.org(&b).unwrap().record;
    assert_eq!(
        b.full_name,
        "中国共产主义青年团成都市锦江区建国门街道大雅宝社区支部委员会"
    );
    assert_eq!(b.industry, "城市社区");
    // The user may correct the generated full name.
    let mut corrected = child("团委", "北控集团团委");
    corrected.full_name = "中国共产主义青年团北控集团委员会".into();
    let k = r.create_child(&own, &corrected).unwrap();
    assert_eq!(
        r.org(&k).unwrap().record.full_name,
        "中国共产主义青年团北控集团委员会"
    );
    assert_eq!(
        r.preview_full_name(&own, schemas::Category::Branch, "包装车间团支部")
            .unwrap(),
        "中国共产主义青年团成都市锦江区包装车间支部委员会"
    );
}

#[test]
fn creation_refusals() {
    let (_d, mut r) = jinjiang();
    let own = r.own_id().to_owned();
    let b = r
        .create_child(&own, &child("团支部", "包装车间团支部"))
        .unwrap();
    let cases = [
        (
            own.as_str(),
            child("团支部", "包装车间团支部"),
            "short_name.duplicate",
        ),
        (
            own.as_str(),
            child("团支部", "包装车间团委"),
            "short_name.suffix_mismatch",
        ),
        (
            own.as_str(),
            child("党支部", "包装车间团支部"),
            "category.unknown",
        ),
        (
            own.as_str(),
            child("团支部", "17级1班团支部"),
            "short_name.class_pattern",
        ),
        (
            own.as_str(),
            child("团的领导机关", "团朝阳区委"),
            "short_name.unknown_division",
        ),
        (
            b.as_str(),
            child("团支部", "一车间团支部"),
            "category.not_allowed",
        ),
    ];
    for (parent, c, code) in cases {
        let err = r.create_child(parent, &c).unwrap_err();
        assert!(
            codes(&err).contains(&code.to_owned()),
            "{}: {err}",
            c.short_name
        );
    }
    let mut bad_phone = child("团支部", "二车间团支部");
    bad_phone.phone = "12345".into();
    let err = r.create_child(&own, &bad_phone).unwrap_err();
    assert!(codes(&err).contains(&"phone.format".to_owned()), "{err}");
    assert_eq!(
        r.children(&own).unwrap().len(),
        1,
        "refusals created nothing"
    );
}

#[test]
fn a_batch_with_one_bad_row_creates_nothing() {
    let (_d, mut r) = jinjiang();
    let own = r.own_id().to_owned();
    let batch = vec![
        child("团支部", "一车间团支部"),
        child("团支部", "二车间团委"),
        child("团支部", "一车间团支部"),
    ];
    match r.create_children(&own, &batch, &mut |_, _| {}).unwrap_err() {
        Error::ImportRows(rows) => {
            let idx: Vec<u32> = rows.iter().map(|(i, _)| *i).collect();
            assert_eq!(
                idx,
                vec![1, 2],
                "the bad suffix and the duplicate in the batch"
            );
        }
        e => panic!("unexpected {e}"),
    }
    assert!(r.children(&own).unwrap().is_empty());
    let ok = vec![
        child("团支部", "一车间团支部"),
        child("团总支", "机关团总支"),
    ];
    let mut seen = 0;
    let ids = r
        .create_children(&own, &ok, &mut |done, _| seen = done)
        .unwrap();
    assert_eq!(ids.len(), 2);
    assert_eq!(seen, 2);
}

#[test]
fn tree_order_moves_and_deletes() {
    let (_d, mut r) = jinjiang();
    let own = r.own_id().to_owned();
    let a = r.create_child(&own, &child("团委", "甲公司团委")).unwrap();
    let b = r
        .create_child(&own, &child("团支部", "乙车间团支部"))
        .unwrap();
    let a1 = r
        .create_child(&a, &child("团支部", "甲一车间团支部"))
        .unwrap();
    let names = |r: &Replica| -> Vec<(usize, String)> {
        r.tree()
            .unwrap()
            .into_iter()
            .map(|e| (e.depth, e.record.short_name))
            .collect()
    };
    assert_eq!(
        names(&r),
        vec![
            (0, "团锦江区委".into()),
            (1, "甲公司团委".into()),
            (2, "甲一车间团支部".into()),
            (1, "乙车间团支部".into())
        ]
    );
    r.move_child(&b, Direction::Up).unwrap();
    assert_eq!(names(&r)[1].1, "乙车间团支部");
    let err = r.move_child(&b, Direction::Up).unwrap_err();
    assert_eq!(err.code(), "order.edge");
    r.move_child(&b, Direction::Down).unwrap();
    assert_eq!(names(&r)[1].1, "甲公司团委");

    assert_eq!(
        r.delete_child(&a).unwrap_err().code(),
        "delete.has_children"
    );
    assert_eq!(r.delete_child(&own).unwrap_err().code(), "delete.own");
    r.delete_child(&a1).unwrap();
    r.delete_child(&a).unwrap();
    assert_eq!(names(&r).len(), 2);
    // A deleted sibling's name is free again.
    r.create_child(&own, &child("团委", "甲公司团委")).unwrap();
}

#[test]
fn registration_codes_single_and_batch() {
    let (dir, mut r) = jinjiang();
    let own = r.own_id().to_owned();
    let now = OffsetDateTime::now_utc();
    let a = r.create_child(&own, &child("团委", "甲公司团委")).unwrap();
    r.create_child(&own, &child("团支部", "乙车间团支部"))
        .unwrap();
    let one = r.issue_code(&a, now).unwrap();
    assert!(schemas::RegistrationCode::parse(&one.code).is_ok());
    assert_eq!(one.expires_at - now, Duration::days(20));
    assert_eq!(r.issue_code(&own, now).unwrap_err().code(), "code.own");
    // The batch skips the child that already has a valid code.
    let batch = r.issue_codes_batch(&own, now).unwrap();
    assert_eq!(batch.len(), 1);
    assert_eq!(batch[0].short_name, "乙车间团支部");
    assert!(r.issue_codes_batch(&own, now).unwrap().is_empty());
    // After expiry, a new batch issues again.
    let later = now + Duration::days(21);
    assert!(r.valid_code(&a, later).unwrap().is_none());
    assert_eq!(r.issue_codes_batch(&own, later).unwrap().len(), 2);
    let out = dir.path().join("codes.xlsx");
    assert_eq!(r.export_codes(&own, &out, later).unwrap(), 2);
    assert!(out.metadata().unwrap().len() > 0);
}

#[test]
fn progress_of_the_own_subtree() {
    let (_d, mut r) = jinjiang();
    let own = r.own_id().to_owned();
    let town = r
        .create_child(&own, &child("团工委", "建国门街道团工委"))
        .unwrap();
    r.create_child(&own, &child("团委", "甲公司团委")).unwrap();
    r.create_child(&town, &child("团支部", "大雅宝社区团支部"))
        .unwrap();
    let p = r.progress(OffsetDateTime::now_utc()).unwrap();
    assert_eq!(p.levels.len(), 2);
    assert_eq!(p.levels[0].title, "五级组织录入情况");
    assert_eq!(p.levels[0].counts.total, 2);
    assert_eq!(p.levels[0].counts.created_children, 1);
    assert!(
        p.levels[0].sentence.contains("团锦江区委共有五级组织2个"),
        "{}",
        p.levels[0].sentence
    );
    assert_eq!(p.levels[1].counts.branches, 1);
    assert_eq!(p.without_branch, vec!["甲公司团委".to_owned()]);
}

#[test]
fn immutable_fields_stand_once_a_server_accepted_them() {
    let (_d, mut r) = jinjiang();
    let own = r.own_id().to_owned();
    let k = r.create_child(&own, &child("团委", "甲公司团委")).unwrap();
    // Before any server accepted it, the creator may still correct the name.
    r.update_info(&k, &[(Field::ShortName, "甲集团团委".into())])
        .unwrap();
    r.update_info(&k, &[(Field::Industry, "国有企业".into())])
        .unwrap();
    // A server accepts the current state (modelled by acknowledging its heads).
    let heads = automerge::AutoCommit::load(&r.doc_bytes(&k).unwrap())
        .unwrap()
        .get_heads();
    r.acknowledge(&k, &heads).unwrap();
    assert!(!r.org(&k).unwrap().pending);
    let err = r
        .update_info(&k, &[(Field::ShortName, "乙集团团委".into())])
        .unwrap_err();
    assert!(
        codes(&err).contains(&"immutable.changed".to_owned()),
        "{err}"
    );
    let err = r
        .update_info(&k, &[(Field::Industry, "集体企业".into())])
        .unwrap_err();
    assert!(
        codes(&err).contains(&"immutable.changed".to_owned()),
        "{err}"
    );
    // Other fields remain editable.
    r.update_info(&k, &[(Field::Phone, "028-61310936".into())])
        .unwrap();
}

#[test]
fn two_replicas_exchanging_bytes_converge() {
    // An ancestor (the district) and a unit (a town) edit the town concurrently offline.
    let (_d1, mut district) = jinjiang();
    let own = district.own_id().to_owned();
    let town = district
        .create_child(&own, &child("团工委", "建国门街道团工委"))
        .unwrap();
    let (_d2, mut copy) = jinjiang();
    copy.merge_bytes(&town, &district.doc_bytes(&town).unwrap())
        .unwrap();
    district
        .update_info(&town, &[(Field::Phone, "028-61310936".into())])
        .unwrap();
    copy.update_info(&town, &[(Field::SecretaryName, "李四".into())])
        .unwrap();
    let from_district = district.doc_bytes(&town).unwrap();
    let from_copy = copy.doc_bytes(&town).unwrap();
    district.merge_bytes(&town, &from_copy).unwrap();
    copy.merge_bytes(&town, &from_district).unwrap();
    let a = district.org(&town).unwrap().record;
    let b = copy.org(&town).unwrap().record;
    assert_eq!(a, b);
    assert_eq!(a.phone, "028-61310936");
    assert_eq!(a.secretary_name, "李四");
}

#[test]
fn concurrent_immutable_change_resolves_to_the_server_accepted_value() {
    // `server` stands for the server: the first value it accepts stands.
    let (_d1, mut server) = jinjiang();
    let own = server.own_id().to_owned();
    let k = server
        .create_child(&own, &child("团委", "甲公司团委"))
        .unwrap();
    let (_d2, mut unit) = jinjiang();
    unit.merge_bytes(&k, &server.doc_bytes(&k).unwrap())
        .unwrap();
    let (_d3, mut other) = jinjiang();
    other
        .merge_bytes(&k, &server.doc_bytes(&k).unwrap())
        .unwrap();
    unit.update_info(&k, &[(Field::Industry, "国有企业".into())])
        .unwrap();
    other
        .update_info(&k, &[(Field::Industry, "集体企业".into())])
        .unwrap();
    // The server accepts `unit`'s push first and acknowledges it.
    server
        .merge_bytes(&k, &unit.doc_bytes(&k).unwrap())
        .unwrap();
    let heads = automerge::AutoCommit::load(&server.doc_bytes(&k).unwrap())
        .unwrap()
        .get_heads();
    server.acknowledge(&k, &heads).unwrap();
    unit.acknowledge(&k, &heads).unwrap();
    other
        .acknowledge(
            &k,
            &automerge::AutoCommit::load(&server.doc_bytes(&k).unwrap())
                .unwrap()
                .get_heads(),
        )
        .ok();
    // `other` pulls the server's state: its own concurrent value loses to the accepted one.
    other
        .merge_bytes(&k, &server.doc_bytes(&k).unwrap())
        .unwrap();
    assert_eq!(other.org(&k).unwrap().record.industry, "国有企业");
    // And once everything is exchanged, all agree.
    server
        .merge_bytes(&k, &other.doc_bytes(&k).unwrap())
        .unwrap();
    unit.merge_bytes(&k, &server.doc_bytes(&k).unwrap())
        .unwrap();
    for r in [&server, &unit, &other] {
        assert_eq!(r.org(&k).unwrap().record.industry, "国有企业");
    }
}

#[test]
fn opening_a_missing_replica_is_a_clear_error() {
    let dir = TempDir::new().unwrap();
    let err = Replica::open(&dir.path().join("nope.sqlite3"))
        .err()
        .unwrap();
    assert_eq!(err.code(), "replica.missing");
    let err = Replica::create_from_initial(&dir.path().join("x.sqlite3"), "团火星区委")
        .err()
        .unwrap();
    assert_eq!(err.code(), "init.unknown_unit");
}

/// A replica file written by a newer client (a higher format) is refused with a message that
/// says to upgrade, and left byte for byte as it was; one of the current format opens.
#[test]
fn a_replica_from_a_newer_client_is_refused_untouched() {
    let (dir, replica) = jinjiang();
    let path = dir.path().join("replica.sqlite3");
    drop(replica);
    Replica::open(&path).expect("the current format opens");
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        let format: i64 = conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .unwrap();
        assert_eq!(format, client_core::store::FORMAT);
        conn.pragma_update(None, "journal_mode", "DELETE").unwrap();
        conn.pragma_update(None, "user_version", client_core::store::FORMAT + 1)
            .unwrap();
    }
    let before = std::fs::read(&path).unwrap();
    let err = Replica::open(&path)
        .err()
        .expect("a newer format is refused");
    assert_eq!(err.code(), "replica.too_new");
    assert!(err.to_string().contains("请升级客户端"), "{err}");
    assert_eq!(
        std::fs::read(&path).unwrap(),
        before,
        "the file is left as it was"
    );
    assert!(
        !dir.path().join("replica.sqlite3-wal").exists(),
        "no journal was started"
    );
}

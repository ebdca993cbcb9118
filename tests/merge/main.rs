//! The merge's checks, proved with raw pushes: Automerge changes built by hand, as a
//! hostile or broken client would send them, bypassing every check of client-core. For
//! each rule the server judges on a push (docs/protocol.md "Push"), a push that breaks it
//! is refused with the rule's own code (never a 500), nothing is stored (the feed and the
//! document are unchanged), and the same push made valid is accepted — so each test fails
//! if the server's check is removed, and also if the check refuses too much.

use automerge::{ActorId, AutoCommit};
use client_core::protocol::{
    self, DocOutcome, PushDoc, PushRequest, PushResponse, SYNC_CONTENT_TYPE,
};
use e2e::{
    CITY, JINJIANG, TestServer, id_number, login_request, mobile, registration, spawn_server,
};
use schemas::org::{CodeRecord, OrgRecord, SCHEMA_VERSION};
use time::OffsetDateTime;

#[path = "../../sync-server/tests/common/raw.rs"]
mod raw;

/// A server with two admins: the city's (person 1) and 团锦江区委's (person 2).
struct Fix {
    server: TestServer,
    city: String,
    jj: String,
}

fn token(server: &TestServer, code: &str, org: &str, n: u32) -> String {
    let remote = client_core::sync::Remote::new(&server.url).unwrap();
    remote
        .register(&registration(code, org, n, "张三"))
        .unwrap();
    remote.login(&login_request(n)).unwrap().token
}

fn fix() -> Fix {
    let server = spawn_server();
    let first = server.first_code.clone();
    let city = token(&server, &first, CITY, 1);
    let code = server.issue_code(JINJIANG);
    let jj = token(&server, &code, JINJIANG, 2);
    Fix { server, city, jj }
}

fn now() -> i64 {
    OffsetDateTime::now_utc().unix_timestamp()
}

/// A new organization's record.
fn org(id: &str, parent: &str, level: u8, category: &str, name: &str) -> OrgRecord {
    OrgRecord {
        schema: SCHEMA_VERSION,
        id: id.into(),
        parent: parent.into(),
        level,
        category: category.into(),
        short_name: name.into(),
        ..OrgRecord::default()
    }
}

/// A new organization's whole document, written by a replica of its own.
fn create(rec: &OrgRecord) -> PushDoc {
    let mut d = client_core::doc::genesis(rec, ActorId::random(), now()).unwrap();
    PushDoc {
        id: rec.id.clone(),
        changes: d.save_nocompress(),
    }
}

impl Fix {
    fn stored(&self, id: &str) -> Option<(Vec<u8>, OrgRecord)> {
        self.server
            .state
            .store
            .read(|c| Ok(c.org_doc(id)?.map(|d| (d.bytes, d.record))))
            .unwrap()
    }

    fn feed(&self) -> i64 {
        self.server.state.store.read(|c| c.max_seq()).unwrap()
    }

    /// One change on the stored document of `id`, as a replica would push it.
    fn edit(&self, id: &str, f: impl FnOnce(&mut OrgRecord)) -> PushDoc {
        let (bytes, _) = self.stored(id).expect("stored");
        let mut d = AutoCommit::load(&bytes)
            .unwrap()
            .with_actor(ActorId::random());
        let heads = d.get_heads();
        let before = client_core::doc::read(&d);
        let mut after = before.clone();
        f(&mut after);
        assert!(client_core::doc::write(&mut d, &before, &after, now()).unwrap());
        PushDoc {
            id: id.into(),
            changes: d.save_after(&heads),
        }
    }

    fn push(&self, token: &str, docs: Vec<PushDoc>) -> Vec<DocOutcome> {
        let body = protocol::encode(&PushRequest {
            version: 2,
            docs,
            cursor: 0,
        })
        .unwrap();
        let auth = format!("Bearer {token}");
        let a = raw::request(
            &self.server.url,
            "POST",
            "/api/v1/push",
            &[
                ("Content-Type", SYNC_CONTENT_TYPE),
                ("Authorization", &auth),
            ],
            &body,
        );
        assert_eq!(
            a.status,
            200,
            "a push is judged, never failed: {}",
            a.text()
        );
        let resp: PushResponse = protocol::decode(&a.body).unwrap();
        resp.results.into_iter().map(|r| r.outcome).collect()
    }

    /// `doc` pushed by `token` is refused with `code`, and nothing of it is stored.
    #[track_caller]
    fn refused(&self, token: &str, doc: PushDoc, code: &str) {
        let feed = self.feed();
        let before = self.stored(&doc.id);
        let id = doc.id.clone();
        let out = self.push(token, vec![doc]);
        match &out[0] {
            DocOutcome::Rejected { violations } => assert!(
                violations.iter().any(|v| v.code == code),
                "{id}: expected {code}, got {violations:?}"
            ),
            o => panic!("{id}: expected a refusal with {code}, got {o:?}"),
        }
        assert_eq!(self.feed(), feed, "{id}: the feed moved on a refusal");
        assert_eq!(
            self.stored(&id),
            before,
            "{id}: the document changed on a refusal"
        );
    }

    /// `doc` pushed by `token` is accepted, answered with the heads the server now holds.
    #[track_caller]
    fn accepted(&self, token: &str, doc: PushDoc) {
        let id = doc.id.clone();
        let out = self.push(token, vec![doc]);
        let DocOutcome::Accepted { heads } = &out[0] else {
            panic!("{id}: expected acceptance, got {:?}", out[0]);
        };
        let (bytes, _) = self.stored(&id).expect("stored once accepted");
        let mut held: Vec<[u8; 32]> = AutoCommit::load(&bytes)
            .unwrap()
            .get_heads()
            .into_iter()
            .map(|h| h.0)
            .collect();
        let mut answered = heads.clone();
        held.sort();
        answered.sort();
        assert_eq!(
            answered, held,
            "{id}: the answer's heads are the stored document's"
        );
    }
}

// ------------------------------------------------------------------ values

#[test]
fn every_value_format_is_judged_by_the_server() {
    let f = fix();
    // (field setter, a bad value, its code, a good value), on the unit's own document.
    type Set = fn(&mut OrgRecord, &str);
    let cases: Vec<(&str, Set, &str, &str, String)> = vec![
        (
            "联系电话",
            |r, v| r.phone = v.into(),
            "12345",
            "phone.format",
            "028-61310936".into(),
        ),
        (
            "电子邮箱",
            |r, v| r.email = v.into(),
            "not-an-email",
            "email.format",
            "jj@example.cn".into(),
        ),
        (
            "书记手机号码",
            |r, v| r.secretary_mobile = v.into(),
            "12345678901",
            "mobile.format",
            mobile(5),
        ),
        (
            "书记身份证号码",
            |r, v| r.secretary_id_number = v.into(),
            "510104199001011231",
            "id_number.checksum",
            id_number(5),
        ),
        (
            "书记姓名",
            |r, v| r.secretary_name = v.into(),
            "张3",
            "person_name.chars",
            "李四".into(),
        ),
        (
            "行政编制数",
            |r, v| r.admin_quota = v.into(),
            "五",
            "count.not_integer",
            "5".into(),
        ),
        (
            "行政编制实际配备数",
            |r, v| r.admin_staffed = v.into(),
            "-1",
            "count.negative",
            "4".into(),
        ),
        (
            "本级团组织事业编制数",
            |r, v| r.career_quota = v.into(),
            "100001",
            "count.too_large",
            "2".into(),
        ),
        (
            "14~28周岁青年数",
            |r, v| r.youth_count = v.into(),
            "10001",
            "count.out_of_range",
            "100".into(),
        ),
        (
            "年度经推优入党团员数",
            |r, v| r.recommended_count = v.into(),
            "1001",
            "count.out_of_range",
            "3".into(),
        ),
        (
            "行业类别",
            |r, v| r.industry = v.into(),
            "不存在的行业",
            "industry.unknown",
            "党政机关".into(),
        ),
    ];
    for (what, set, bad, code, good) in cases {
        f.refused(&f.jj, f.edit(JINJIANG, |r| set(r, bad)), code);
        f.accepted(&f.jj, f.edit(JINJIANG, |r| set(r, &good)));
        let (_, now) = f.stored(JINJIANG).unwrap();
        assert!(format!("{now:?}").contains(&good), "{what} stored");
    }
}

// ------------------------------------------------------------------ names and the tree

#[test]
fn names_categories_and_levels_of_new_units_are_judged() {
    let f = fix();
    // Names and suffixes per category.
    f.refused(
        &f.jj,
        create(&org("org-t-c1", JINJIANG, 5, "团委", "锦江测试公司团支部")),
        "short_name.suffix_mismatch",
    );
    f.accepted(
        &f.jj,
        create(&org("org-t-c1", JINJIANG, 5, "团委", "锦江测试公司团委")),
    );
    // Leading organs against the 2017 divisions of their region.
    f.refused(
        &f.jj,
        create(&org(
            "org-t-l1",
            JINJIANG,
            5,
            "团的领导机关",
            "团不存在街道委",
        )),
        "short_name.unknown_division",
    );
    f.accepted(
        &f.jj,
        create(&org(
            "org-t-l1",
            JINJIANG,
            5,
            "团的领导机关",
            "团春熙路街道委",
        )),
    );
    // Category under parent: a 团支部 holds nothing.
    f.accepted(
        &f.jj,
        create(&org(
            "org-t-b1",
            "org-t-c1",
            6,
            "团支部",
            "锦江测试公司第一团支部",
        )),
    );
    f.refused(
        &f.jj,
        create(&org(
            "org-t-b2",
            "org-t-b1",
            7,
            "团支部",
            "锦江测试公司第二团支部",
        )),
        "category.not_allowed",
    );
    f.accepted(
        &f.jj,
        create(&org(
            "org-t-b2",
            "org-t-c1",
            6,
            "团支部",
            "锦江测试公司第二团支部",
        )),
    );
    // Level: one below the parent.
    f.refused(
        &f.jj,
        create(&org("org-t-c2", JINJIANG, 6, "团委", "锦江二号公司团委")),
        "tree.level",
    );
    // A unit needs a category and a name, and is not created deleted.
    f.refused(
        &f.jj,
        create(&org("org-t-c2", JINJIANG, 5, "", "锦江二号公司团委")),
        "category.empty",
    );
    // An unknown category is refused as unknown, not as missing as well.
    let unknown = || create(&org("org-t-c2", JINJIANG, 5, "团小组", "锦江二号公司团委"));
    f.refused(&f.jj, unknown(), "category.unknown");
    let out = f.push(&f.jj, vec![unknown()]);
    let DocOutcome::Rejected { violations } = &out[0] else {
        panic!("expected a refusal, got {out:?}")
    };
    assert!(
        !violations.iter().any(|v| v.code == "category.empty"),
        "{violations:?}"
    );
    f.refused(
        &f.jj,
        create(&org("org-t-c2", JINJIANG, 5, "团委", "")),
        "short_name.empty",
    );
    let mut deleted = org("org-t-c2", JINJIANG, 5, "团委", "锦江二号公司团委");
    deleted.deleted = true;
    f.refused(&f.jj, create(&deleted), "tree.created_deleted");
    f.accepted(
        &f.jj,
        create(&org("org-t-c2", JINJIANG, 5, "团委", "锦江二号公司团委")),
    );
    // Sibling names unique, as a refusal with its code (not the database's unique index).
    f.refused(
        &f.jj,
        create(&org("org-t-c3", JINJIANG, 5, "团委", "锦江测试公司团委")),
        "short_name.duplicate",
    );
    // Two new siblings of one name in one push: the second is refused.
    let out = f.push(
        &f.jj,
        vec![
            create(&org("org-t-c4", JINJIANG, 5, "团委", "锦江四号公司团委")),
            create(&org("org-t-c5", JINJIANG, 5, "团委", "锦江四号公司团委")),
        ],
    );
    assert!(matches!(out[0], DocOutcome::Accepted { .. }), "{out:?}");
    assert!(
        matches!(&out[1], DocOutcome::Rejected { violations } if violations.iter().any(|v| v.code == "short_name.duplicate")),
        "{out:?}"
    );
    // Outside the subtree: the city's parent is not 团锦江区委's to write under.
    f.refused(
        &f.jj,
        create(&org("org-t-x", CITY, 4, "团委", "市属测试公司团委")),
        "auth.outside_subtree",
    );
    f.accepted(
        &f.city,
        create(&org("org-t-x", CITY, 4, "团委", "市属测试公司团委")),
    );
}

#[test]
fn deletion_restoring_and_moving_are_judged() {
    let f = fix();
    f.accepted(
        &f.jj,
        create(&org("org-t-c1", JINJIANG, 5, "团委", "锦江测试公司团委")),
    );
    f.accepted(
        &f.jj,
        create(&org(
            "org-t-b1",
            "org-t-c1",
            6,
            "团支部",
            "锦江测试公司第一团支部",
        )),
    );
    f.accepted(
        &f.jj,
        create(&org("org-t-c2", JINJIANG, 5, "团委", "锦江二号公司团委")),
    );
    // Deleting a unit with a live child; with a registered admin.
    f.refused(
        &f.jj,
        f.edit("org-t-c1", |r| r.deleted = true),
        "delete.has_children",
    );
    f.refused(
        &f.city,
        f.edit(JINJIANG, |r| r.deleted = true),
        "delete.has_admin",
    );
    // Moving a unit: another parent, another level.
    f.refused(
        &f.jj,
        f.edit("org-t-b1", |r| r.parent = "org-t-c2".into()),
        "tree.moved",
    );
    f.refused(&f.jj, f.edit("org-t-b1", |r| r.level = 7), "tree.moved");
    // Deepest first, then its parent: accepted.
    f.accepted(&f.jj, f.edit("org-t-b1", |r| r.deleted = true));
    f.accepted(&f.jj, f.edit("org-t-c1", |r| r.deleted = true));
    // A deleted unit is not restored, and takes no new child.
    f.refused(
        &f.jj,
        f.edit("org-t-c1", |r| r.deleted = false),
        "tree.undelete",
    );
    f.refused(
        &f.jj,
        create(&org(
            "org-t-b3",
            "org-t-c1",
            6,
            "团支部",
            "锦江测试公司第三团支部",
        )),
        "tree.parent_deleted",
    );
    f.accepted(
        &f.jj,
        create(&org(
            "org-t-b3",
            "org-t-c2",
            6,
            "团支部",
            "锦江二号公司第三团支部",
        )),
    );
}

#[test]
fn who_may_write_what_and_immutable_fields_are_judged() {
    let f = fix();
    f.accepted(&f.jj, f.edit(JINJIANG, |r| r.industry = "党政机关".into()));
    // The unit itself: not its name, category, order, deletion or codes.
    f.refused(
        &f.jj,
        f.edit(JINJIANG, |r| r.sort_key += 1),
        "permission.field",
    );
    f.refused(
        &f.jj,
        f.edit(JINJIANG, |r| {
            r.full_name = "共青团成都市锦江区委员会(改)".into()
        }),
        "permission.field",
    );
    // An accepted 行业类别 stays, whoever writes: the unit itself and the unit above.
    f.refused(
        &f.jj,
        f.edit(JINJIANG, |r| r.industry = "其他".into()),
        "immutable.changed",
    );
    f.refused(
        &f.city,
        f.edit(JINJIANG, |r| r.industry = "其他".into()),
        "immutable.changed",
    );
    // An accepted name stays, even from above.
    f.refused(
        &f.city,
        f.edit(JINJIANG, |r| r.short_name = "团锦江区委员会".into()),
        "immutable.changed",
    );
    // From above, what it may write is accepted (an ancestor fills in for its unit).
    f.accepted(
        &f.city,
        f.edit(JINJIANG, |r| r.phone = "028-86666666".into()),
    );
    f.accepted(&f.city, f.edit(JINJIANG, |r| r.sort_key += 1));
}

// ------------------------------------------------------------------ codes

fn code_record(issued_by: &str, days: i64) -> CodeRecord {
    let t = now();
    CodeRecord {
        issued_at: t,
        expires_at: t + days * 86_400,
        issued_by: issued_by.into(),
    }
}

fn new_code() -> String {
    schemas::RegistrationCode::generate(&mut rand::rng())
        .as_str()
        .to_owned()
}

#[test]
fn registration_codes_in_documents_are_judged() {
    let f = fix();
    f.accepted(
        &f.jj,
        create(&org("org-t-c1", JINJIANG, 5, "团委", "锦江测试公司团委")),
    );
    let with = |code: String, rec: CodeRecord| {
        move |r: &mut OrgRecord| {
            r.codes.insert(code, rec);
        }
    };
    // A unit does not issue its own code.
    f.refused(
        &f.jj,
        f.edit(JINJIANG, with(new_code(), code_record(JINJIANG, 20))),
        "code.not_ancestor",
    );
    // The issuer is the pushing admin's organization.
    f.refused(
        &f.jj,
        f.edit("org-t-c1", with(new_code(), code_record(CITY, 20))),
        "code.issuer",
    );
    // Valid for at most 20 days.
    f.refused(
        &f.jj,
        f.edit("org-t-c1", with(new_code(), code_record(JINJIANG, 30))),
        "code.validity",
    );
    // Not issued in the future (over a day ahead of the server's clock).
    let mut ahead = code_record(JINJIANG, 20);
    ahead.issued_at += 2 * 86_400;
    ahead.expires_at += 2 * 86_400;
    f.refused(
        &f.jj,
        f.edit("org-t-c1", with(new_code(), ahead)),
        "code.validity",
    );
    // Not a code that exists already (the operator's code of 团锦江区委).
    let taken: String = f
        .server
        .rows("SELECT code FROM codes WHERE org_id = ?1", &[JINJIANG])[0][0]
        .clone()
        .unwrap();
    f.refused(
        &f.jj,
        f.edit("org-t-c1", with(taken, code_record(JINJIANG, 20))),
        "code.duplicate",
    );
    // Well-formed.
    f.refused(
        &f.jj,
        f.edit(
            "org-t-c1",
            with("l0Ol1I00".into(), code_record(JINJIANG, 20)),
        ),
        "code.chars",
    );
    let good = new_code();
    f.accepted(
        &f.jj,
        f.edit("org-t-c1", with(good.clone(), code_record(JINJIANG, 20))),
    );
    // Recorded for registration, for the organization it was issued to.
    let recorded: Option<String> = f
        .server
        .rows("SELECT org_id FROM codes WHERE code = ?1", &[good.as_str()])
        .first()
        .and_then(|r| r[0].clone());
    assert_eq!(recorded.as_deref(), Some("org-t-c1"));
    // Never removed, never changed.
    let g = good.clone();
    f.refused(
        &f.jj,
        f.edit("org-t-c1", move |r| {
            r.codes.remove(&g);
        }),
        "code.removed",
    );
    f.refused(
        &f.jj,
        f.edit("org-t-c1", move |r| {
            if let Some(c) = r.codes.get_mut(&good) {
                c.expires_at -= 60;
            }
        }),
        "code.changed",
    );
}

// ------------------------------------------------------------------ documents

#[test]
fn documents_that_are_not_what_they_claim_are_refused() {
    let f = fix();
    f.accepted(
        &f.jj,
        create(&org("org-t-c1", JINJIANG, 5, "团委", "锦江测试公司团委")),
    );
    // Another document's history under an accepted id.
    let mut foreign = create(&org("org-t-c1", JINJIANG, 5, "团委", "锦江测试公司团委"));
    foreign.id = "org-t-c1".into();
    f.refused(&f.jj, foreign, "doc.foreign_history");
    // A document whose record names another id.
    let mut other = create(&org("org-t-c9", JINJIANG, 5, "团委", "锦江九号公司团委"));
    other.id = "org-t-c8".into();
    f.refused(&f.jj, other, "doc.id_mismatch");
    // A schema this server does not know.
    let mut future = org("org-t-c8", JINJIANG, 5, "团委", "锦江八号公司团委");
    future.schema = SCHEMA_VERSION + 1;
    f.refused(&f.jj, create(&future), "doc.schema_version");
    // Bytes that are not Automerge.
    f.refused(
        &f.jj,
        PushDoc {
            id: "org-t-c8".into(),
            changes: vec![0x85, 0x6f, 0x4a, 0x83, 1, 2, 3],
        },
        "doc.malformed",
    );
    // Over the size cap.
    let mut big = org("org-t-c8", JINJIANG, 5, "团委", "锦江八号公司团委");
    big.email = "x".repeat(300 * 1024);
    f.refused(&f.jj, create(&big), "size.doc_too_large");
    f.accepted(
        &f.jj,
        create(&org("org-t-c8", JINJIANG, 5, "团委", "锦江八号公司团委")),
    );
    // A document grown past the cap by pushes each under it: 2,000 codes a push (valid,
    // each its own) is about 150 KB of changes; the stored document may not pass 256 KiB.
    let codes = |n: usize| {
        move |r: &mut OrgRecord| {
            for _ in 0..n {
                r.codes.insert(new_code(), code_record(JINJIANG, 20));
            }
        }
    };
    let mut grown = 0;
    loop {
        let doc = f.edit("org-t-c8", codes(2_000));
        assert!(
            doc.changes.len() < 256 * 1024,
            "{} bytes a push",
            doc.changes.len()
        );
        let feed = f.feed();
        match &f.push(&f.jj, vec![doc])[0] {
            DocOutcome::Accepted { .. } => grown += 1,
            DocOutcome::Rejected { violations } => {
                assert_eq!(violations[0].code, "size.doc_too_large", "{violations:?}");
                assert_eq!(f.feed(), feed, "nothing stored");
                break;
            }
            o => panic!("{o:?}"),
        }
        assert!(grown < 20, "the document never reached the cap");
    }
    assert!(grown >= 1, "refused before it grew");
}

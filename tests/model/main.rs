//! Model-based property test of the whole system (issue "Proof", item 1): several replicas
//! against one real server, a generated sequence of valid and invalid operations, random
//! syncs, some of them cut mid-way by a relay, and the invariants of design.md "Sync protocol"
//! checked after every step and at the end.
//!
//! The actors: the city admin (团成都市委), the admins of 团锦江区委 and 团青羊区委 (each
//! district starts with a working committee, its branch, and a branch), and a town admin
//! registered during the run with a code issued by a district. Operations (each picks its
//! replica and target from the replica's current state; the city works in the two
//! districts' subtrees, so that its work meets theirs):
//!
//! - create children: valid names, invalid names (refused locally), names taken among the
//!   replica's own siblings (refused locally), categories the parent may not contain
//!   (refused locally), batches (all or nothing); names come from a small pool, so
//!   replicas create the same name under the same parent concurrently and the second to
//!   sync is refused by the server (`short_name.duplicate`);
//! - fill and edit information: valid values (accepted), invalid ones (refused locally, the
//!   record unchanged), 行业类别 (immutable once accepted), renames (the parent's to do, and
//!   only before the server accepted a name), fields of the parent's (refused locally for
//!   the own unit);
//! - races: two admins of one organization fill its 行业类别 differently, or create a child
//!   of the same name under it, offline (the later sync resolves the fill to the first
//!   accepted value, or is refused);
//! - delete one organization, or a whole branch deepest first, or replace one by a new one
//!   of the same name; move up/down; issue codes; correct a refused organization (rename);
//! - sync a replica directly, or through a relay (`e2e::proxy`) that cuts the connection
//!   after a random part of the bytes the sync is expected to move (the sync then ends
//!   with `sync.network`, or succeeds if the budget outlasts it).
//!
//! When the tests run on PostgreSQL (`ZHTJ_TEST_POSTGRES`), a second `zhtj-server` process
//! serves the same database, and the admins of 锦江 and of the town sync through it: the
//! invariants below then hold across two processes.
//!
//! Invariants, after every step (and (e): the progress roll-ups the server keeps up to date
//! equal a full scan of its projection):
//! (a) the server's state satisfies every rule: each stored document loads and reads back as
//!     its record and heads; no error in its completeness; levels = parent + 1; categories
//!     allowed under the parent; live parents of live children; sibling names unique among
//!     live children; paths and live-children counts agree; codes recorded; immutable
//!     fields, deletions and places never change once accepted;
//! (b) every change a replica saw acknowledged is on the server (its acknowledged heads are
//!     in the server's history); right after a successful sync, every clean document equals
//!     the server's (record and heads), the replica holds every server document of its
//!     subtree, what is still pending is exactly what the server refused, the server refused
//!     only for reasons the local checks cannot see (the state of other replicas), and every
//!     refusal is true of the server's state after the sync;
//! (c) every refused organization stays in its replica with its reasons (`rejections()`
//!     lists it, still pending, the refused values still in the record) until corrected;
//! (d) at the end, after every replica synced once, corrected what it can (renames) and
//!     synced twice more without interruption, every replica equals the server on its
//!     subtree, and every refusal still shown is justified by the server's state.
//!
//! The two bugs this test found (regressions.rs: a unit created and deleted offline refused
//! for ever; refusals caused by the push order) are fixed; the model is strict about them.
//! `ZHTJ_MODEL_LENIENT=1` restores the old tolerances, to compare behaviour.
//!
//! Size: `ZHTJ_MODEL_CASES` cases (default 8) of `ZHTJ_MODEL_STEPS` operations (default
//! 30); `ZHTJ_MODEL_SHRINK` shrink iterations at most (default steps + 10: one pass that
//! leaves out every step not needed for a failure); `ZHTJ_MODEL_LOG=1` prints every case's
//! log; `PROPTEST_RNG_SEED` fixes the generator's seed.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::fmt::Write as _;
use std::path::Path;
use std::time::Instant;

use automerge::{AutoCommit, ChangeHash};
use client_core::sync::{Remote, SyncReport};
use client_core::{Direction, Error, NewChild, Replica, doc, store};
use e2e::proxy::{Dir, Proxy, Rule};
use e2e::{
    CITY, JINJIANG, TestServer, id_number, login_request, mobile, registration, replica_dir,
    spawn_server,
};
use proptest::prelude::*;
use proptest::test_runner::{Config, FileFailurePersistence, RngSeed, TestRunner};
use schemas::name::{ChainLink, name_key};
use schemas::org::{Context, IMMUTABLE_FIELDS, OrgRecord};
use schemas::{Category, Field, Level, Violation};
use tempfile::TempDir;
use time::OffsetDateTime;
use wire::heads;

mod regressions;

const QINGYANG: &str = "org-510105";
/// Parents deeper than this get no children (keeps generated full names short).
const MAX_PARENT_LEVEL: u8 = 7;

// ------------------------------------------------------------------------ operations

/// An operation, with selectors resolved against the chosen replica's state when run.
#[derive(Debug, Clone)]
enum Op {
    Create {
        who: u8,
        parent: u16,
        kids: Vec<Kid>,
    },
    Edit {
        who: u8,
        org: u16,
        edit: Edit,
    },
    Delete {
        who: u8,
        org: u16,
    },
    /// Delete an organization with children: its whole branch, deepest first.
    DeleteBranch {
        who: u8,
        org: u16,
    },
    /// Delete an organization and create another of the same name in its place.
    Recreate {
        who: u8,
        org: u16,
    },
    Move {
        who: u8,
        org: u16,
        up: bool,
    },
    Code {
        who: u8,
        org: u16,
    },
    Correct {
        who: u8,
        pick: u16,
    },
    /// Sync; `cut`: through the relay, which cuts the connection after this fraction (of
    /// 65,536) of the bytes the sync is expected to move (both directions, 20% margin).
    Sync {
        who: u8,
        cut: Option<u16>,
    },
    RegisterTown {
        district: u8,
    },
    /// Two admins of one organization (an ancestor and the unit, or the city and a
    /// district) make conflicting changes offline: both fill 行业类别 with different values
    /// (`fill`), or both create a child of the same name under it. Each is valid locally;
    /// the later sync resolves the fill to the first accepted value, or is refused.
    Race {
        pair: u8,
        org: u16,
        fill: bool,
    },
    /// A hostile replica: the admin's own login pushes changes built by hand on the
    /// server's copy of an organization of its subtree, skipping every check of the client
    /// and breaking one rule (`kind`); the server must refuse it and store nothing.
    Hostile {
        who: u8,
        org: u16,
        kind: u8,
    },
}

/// A child to create.
#[derive(Debug, Clone)]
enum Kid {
    /// A category the parent may contain, a name from the shared pool.
    Valid { cat: u8, stem: u8 },
    /// A name against the rules (index into [`BAD_NAMES`]).
    BadName(u8),
    /// A category the parent may not contain.
    NotAllowed(u8),
    /// The name of an existing live sibling.
    Taken(u8),
}

#[derive(Debug, Clone)]
enum Edit {
    /// A valid value of a mutable information field.
    Valid { field: u8, value: u8 },
    /// An invalid value of an information field.
    Invalid { field: u8, value: u8 },
    /// Fill 行业类别 (immutable once accepted).
    Industry(u8),
    /// Rename (the parent's to do; immutable once accepted).
    Rename(u8),
}

/// Name stems shared by every replica: concurrent creations collide on them.
const STEMS: [&str; 10] = [
    "春熙路街道",
    "书院街",
    "合江亭",
    "机关",
    "红星路社区",
    "东大街社区",
    "一车间",
    "北控集团",
    "包装车间",
    "计算机专业2017级3班",
];

/// Categories children are created with (the leading organ's names need divisions).
const BASIC: [Category; 4] = [
    Category::WorkingCommittee,
    Category::Committee,
    Category::GeneralBranch,
    Category::Branch,
];

/// (category, name, the code the local API must give).
const BAD_NAMES: [(&str, &str, &str); 8] = [
    ("团支部", "春熙路 社区团支部", "short_name.whitespace"),
    ("团委", "团委", "short_name.no_unit"),
    ("团委", "春熙路社区团支部", "short_name.suffix_mismatch"),
    ("团支部", "2017级一班团支部", "short_name.class_pattern"),
    (
        "团支部",
        "一二三四五六七八九十一二三四五六七八九十一二三四五六七八九十一二三四五六七八九十一二三四五六七八团支部",
        "short_name.too_long",
    ),
    ("团支部", "", "short_name.empty"),
    ("党支部", "机关党支部", "category.unknown"),
    ("团的领导机关", "团火星区委", "short_name."),
];

/// Mutable information fields, with valid and invalid values (valid ones in canonical form).
fn field_values(i: u8) -> (Field, Vec<String>, Vec<&'static str>) {
    match i % 11 {
        0 => (
            Field::Phone,
            vec!["028-61310936".into(), "13912345678".into(), String::new()],
            vec!["12345", "028-12"],
        ),
        1 => (
            Field::Email,
            vec!["tw@example.cn".into(), "youth.jj@example.com".into()],
            vec!["not-an-email", "a@@b"],
        ),
        2 => (
            Field::SecretaryName,
            vec!["李四".into(), "王五".into(), "欧阳修".into()],
            vec!["12345", "李"],
        ),
        3 => (
            Field::SecretaryIdNumber,
            vec![id_number(21), id_number(22), id_number(23)],
            vec!["51010419900101123", "abc"],
        ),
        4 => (
            Field::SecretaryMobile,
            vec![mobile(21), mobile(22)],
            vec!["23812345678", "1381234567"],
        ),
        5 => (
            Field::YouthCount,
            vec!["0".into(), "120".into(), "10000".into()],
            vec!["10001", "-1"],
        ),
        6 => (
            Field::RecommendedCount,
            vec!["0".into(), "7".into()],
            vec!["1001", "七"],
        ),
        7 => (
            Field::AdminQuota,
            vec!["0".into(), "3".into()],
            vec!["-1", "三"],
        ),
        8 => (Field::AdminStaffed, vec!["0".into(), "2".into()], vec!["x"]),
        9 => (
            Field::CareerQuota,
            vec!["1".into(), "4".into()],
            vec!["1.5"],
        ),
        _ => (
            Field::CareerStaffed,
            vec!["0".into(), "1".into()],
            vec!["-3"],
        ),
    }
}

const INDUSTRIES: [&str; 5] = ["党政机关", "国有企业", "集体企业", "城市社区", "农村"];

fn kid_strategy() -> impl Strategy<Value = Kid> {
    prop_oneof![
        9 => (any::<u8>(), any::<u8>()).prop_map(|(cat, stem)| Kid::Valid { cat, stem }),
        1 => any::<u8>().prop_map(Kid::BadName),
        1 => any::<u8>().prop_map(Kid::NotAllowed),
        1 => any::<u8>().prop_map(Kid::Taken),
    ]
}

fn edit_strategy() -> impl Strategy<Value = Edit> {
    prop_oneof![
        5 => (any::<u8>(), any::<u8>()).prop_map(|(field, value)| Edit::Valid { field, value }),
        2 => (any::<u8>(), any::<u8>()).prop_map(|(field, value)| Edit::Invalid { field, value }),
        2 => any::<u8>().prop_map(Edit::Industry),
        1 => any::<u8>().prop_map(Edit::Rename),
    ]
}

fn op_strategy() -> impl Strategy<Value = Op> {
    let who = any::<u8>();
    prop_oneof![
        6 => (who, any::<u16>(), prop_oneof![
            3 => prop::collection::vec(kid_strategy(), 1..=1),
            1 => prop::collection::vec(kid_strategy(), 2..=3),
        ])
            .prop_map(|(who, parent, kids)| Op::Create { who, parent, kids }),
        6 => (who, any::<u16>(), edit_strategy())
            .prop_map(|(who, org, edit)| Op::Edit { who, org, edit }),
        2 => (who, any::<u16>()).prop_map(|(who, org)| Op::Delete { who, org }),
        1 => (who, any::<u16>()).prop_map(|(who, org)| Op::DeleteBranch { who, org }),
        1 => (who, any::<u16>()).prop_map(|(who, org)| Op::Recreate { who, org }),
        1 => (who, any::<u16>(), any::<bool>()).prop_map(|(who, org, up)| Op::Move { who, org, up }),
        2 => (who, any::<u16>()).prop_map(|(who, org)| Op::Code { who, org }),
        1 => (who, any::<u16>()).prop_map(|(who, pick)| Op::Correct { who, pick }),
        5 => (who, prop::option::weighted(0.4, any::<u16>()))
            .prop_map(|(who, cut)| Op::Sync { who, cut }),
        1 => any::<u8>().prop_map(|district| Op::RegisterTown { district }),
        2 => (any::<u8>(), any::<u16>(), any::<bool>())
            .prop_map(|(pair, org, fill)| Op::Race { pair, org, fill }),
        2 => (who, any::<u16>(), any::<u8>())
            .prop_map(|(who, org, kind)| Op::Hostile { who, org, kind }),
    ]
}

// ------------------------------------------------------------------------ the world

/// One admin with a replica.
struct Actor {
    name: &'static str,
    org: String,
    replica: Replica,
    remote: Remote,
    _dir: TempDir,
}

/// A refused organization, as its replica must keep showing it.
#[derive(Debug, Clone)]
struct Refused {
    violations: Vec<Violation>,
    /// The refused values (the fields the reasons name) the local record must still hold.
    values: Vec<(Field, String)>,
    deleted: Option<bool>,
}

#[derive(Debug, Default)]
struct Figures {
    steps: usize,
    created: usize,
    refused_locally: usize,
    edits: usize,
    syncs_ok: usize,
    syncs_cut: usize,
    cut_but_finished: usize,
    server_refusals: BTreeMap<String, usize>,
    resolved_immutables: usize,
    /// Refusals the server's state did not justify (known bug), each healed by the next sync.
    spurious_refusals: usize,
    /// Deletions of never-synced organizations left out (known bug).
    avoided_deletions: usize,
    towns_registered: usize,
    corrected: usize,
    skipped: usize,
    /// Hostile pushes, each refused by the server, by the rule it broke.
    hostile_refused: BTreeMap<&'static str, usize>,
}

/// What the server once accepted, and must keep.
#[derive(Default)]
struct ServerMemory {
    /// First non-empty accepted value of each immutable field, by org.
    immutables: HashMap<(String, Field), String>,
    deleted: HashSet<String>,
    place: HashMap<String, (String, u8)>,
    codes: HashMap<String, String>,
}

struct World {
    server: TestServer,
    /// On PostgreSQL, a second server process on the same database: the admins of 锦江 and
    /// of the town sync through it, the others through `server`.
    second: Option<e2e::ServerProcess>,
    proxy: Proxy,
    actors: Vec<Actor>,
    /// Refused organizations per actor (index), by id.
    refused: Vec<BTreeMap<String, Refused>>,
    /// Refused by the last sync of each actor without a reason the server's state shows.
    suspects: Vec<BTreeSet<String>>,
    memory: ServerMemory,
    town_registered: bool,
    fresh: u32,
    log: String,
    figures: Figures,
}

fn register(remote: &Remote, code: &str, org: &str, n: u32) -> client_core::Result<()> {
    remote
        .register(&registration(code, org, n, "张三"))
        .map(drop)
}

fn login(server: &TestServer, name: &'static str, n: u32) -> Actor {
    let remote = Remote::new(&server.url).unwrap();
    let login = remote.login(&login_request(n)).unwrap();
    let (dir, path) = replica_dir();
    let mut replica = Replica::create_for_login(&path, &server.url, &login).unwrap();
    let report = replica.sync(&remote, &mut |_, _, _| {}).unwrap();
    assert!(report.rejected.is_empty());
    Actor {
        name,
        org: login.org_id,
        replica,
        remote,
        _dir: dir,
    }
}

impl World {
    /// A server, the city admin and both district admins, each with a synced replica.
    fn new() -> World {
        let server = spawn_server();
        let proxy = Proxy::in_front_of(&server.url);
        let remote = Remote::new(&server.url).unwrap();
        register(&remote, &server.first_code, CITY, 1).unwrap();
        let mut city = login(&server, "市", 1);
        let now = OffsetDateTime::now_utc();
        let jj = city.replica.issue_code(JINJIANG, now).unwrap().code;
        let qy = city.replica.issue_code(QINGYANG, now).unwrap().code;
        let report = city.replica.sync(&city.remote, &mut |_, _, _| {}).unwrap();
        assert!(report.rejected.is_empty(), "{:?}", report.rejected);
        register(&remote, &jj, JINJIANG, 2).unwrap();
        register(&remote, &qy, QINGYANG, 3).unwrap();
        let mut jinjiang = login(&server, "锦江", 2);
        let mut qingyang = login(&server, "青羊", 3);
        // Each district has a working committee with a branch, and a branch, to start with;
        // the city learns them, and that both districts have admins.
        for d in [&mut jinjiang, &mut qingyang] {
            let kid = |c: &str, n: &str| NewChild {
                category: c.into(),
                short_name: n.into(),
                ..NewChild::default()
            };
            let ids = d
                .replica
                .create_children(
                    &d.org.clone(),
                    &[
                        kid("团工委", "春熙路街道团工委"),
                        kid("团支部", "机关团支部"),
                    ],
                    &mut |_, _| {},
                )
                .unwrap();
            d.replica
                .create_child(&ids[0], &kid("团支部", "红星路社区团支部"))
                .unwrap();
            let report = d.replica.sync(&d.remote, &mut |_, _, _| {}).unwrap();
            assert!(report.rejected.is_empty(), "{:?}", report.rejected);
        }
        let report = city.replica.sync(&city.remote, &mut |_, _, _| {}).unwrap();
        assert!(report.rejected.is_empty(), "{:?}", report.rejected);
        let second = e2e::spawn_server_process!(&server);
        if let Some(p) = &second {
            jinjiang.remote = Remote::new(&p.url).unwrap();
        }
        World {
            server,
            second,
            proxy,
            actors: vec![city, jinjiang, qingyang],
            refused: vec![BTreeMap::new(); 4],
            suspects: vec![BTreeSet::new(); 4],
            memory: ServerMemory::default(),
            town_registered: false,
            fresh: 0,
            log: String::new(),
            figures: Figures::default(),
        }
    }

    fn note(&mut self, line: String) {
        let _ = writeln!(self.log, "{line}");
    }

    fn skip(&mut self, ctx: &str, why: &str) {
        self.figures.skipped += 1;
        self.note(format!("{ctx}: skipped ({why})"));
    }

    fn who(&self, w: u8) -> usize {
        usize::from(w) % self.actors.len()
    }
}

fn pick<T: Clone>(v: &[T], i: u16) -> Option<T> {
    (!v.is_empty()).then(|| v[usize::from(i) % v.len()].clone())
}

/// One live organization below actor `a`'s own, chosen by `sel`; if there is none, the step
/// is noted as skipped (`why`).
fn pick_below(w: &mut World, a: usize, sel: u16, ctx: &str, why: &str) -> Option<OrgRecord> {
    let actor = &w.actors[a];
    let below: Vec<OrgRecord> = live(&actor.replica)
        .into_iter()
        .filter(|r| r.id != actor.org)
        .collect();
    let t = pick(&below, sel);
    if t.is_none() {
        w.skip(ctx, why);
    }
    t
}

fn codes(v: &[Violation]) -> Vec<&str> {
    v.iter().map(|v| v.code.as_str()).collect()
}

/// The refusal of a local operation: its violations (panics on anything but a refusal).
fn refusal(e: &Error, ctx: &str) -> Vec<Violation> {
    match e {
        Error::Invalid(_) | Error::ImportRows(_) | Error::Refused(_) => e.violations(),
        other => panic!("{ctx}: expected a refusal, got {other:?}"),
    }
}

// ------------------------------------------------------------------------ local reads

/// A replica's document rows and projections, read through its own file.
struct LocalDoc {
    record: OrgRecord,
    bytes: Vec<u8>,
    acked: Option<Vec<ChangeHash>>,
    dirty: bool,
    /// The projection's completeness flag.
    complete: bool,
    /// Admins the server reported, as the replica last pulled them.
    admins: usize,
}

/// Every document of a replica except local-only tombstones: units created and deleted
/// before any server saw them, which are never sent (as if never created).
fn local_docs(path: &Path) -> BTreeMap<String, LocalDoc> {
    let conn = store::open(path).unwrap();
    store::all(&conn)
        .unwrap()
        .into_iter()
        .filter(|p| !(p.record.deleted && !p.synced && !p.dirty))
        .map(|p| {
            let row = store::load_doc(&conn, &p.record.id).unwrap().unwrap();
            assert_eq!(row.dirty, p.dirty);
            let admins = store::server_facts(&conn, &p.record.id)
                .unwrap()
                .admins
                .len();
            (
                p.record.id.clone(),
                LocalDoc {
                    record: p.record,
                    bytes: row.bytes,
                    acked: row.acked_heads.as_deref().map(heads::decode),
                    dirty: row.dirty,
                    complete: p.complete,
                    admins,
                },
            )
        })
        .collect()
}

/// The record a server accepted, as the replica knows it (at its acknowledged heads).
fn accepted_record(path: &Path, id: &str) -> Option<OrgRecord> {
    let conn = store::open(path).unwrap();
    let row = store::load_doc(&conn, id).unwrap()?;
    let heads = heads::decode(row.acked_heads.as_deref()?);
    let mut d = AutoCommit::load(&row.bytes).unwrap();
    Some(doc::read_at(&mut d, &heads).unwrap())
}

fn has_admins(path: &Path, id: &str) -> bool {
    let conn = store::open(path).unwrap();
    !store::server_facts(&conn, id).unwrap().admins.is_empty()
}

/// The live organizations of a replica's tree (own unit first) where the model works: for
/// the city, itself and the subtrees of the two districts with admins (so that the city's
/// work meets theirs).
fn live(r: &Replica) -> Vec<OrgRecord> {
    let mut path: Vec<String> = Vec::new();
    let mut out = Vec::new();
    for e in r.tree().unwrap() {
        path.truncate(e.depth);
        path.push(e.record.id.clone());
        let focused = r.own_id() != CITY
            || e.depth == 0
            || path.iter().any(|id| id == JINJIANG || id == QINGYANG);
        if focused {
            out.push(e.record);
        }
    }
    out
}

/// Pick from `v`, one time in three among the organizations the actor's work centres on
/// (the districts for the city, the own unit for the others) when `v` holds any.
fn pick_home(v: &[OrgRecord], own: &str, i: u16) -> Option<OrgRecord> {
    if i.is_multiple_of(3) {
        let home: Vec<OrgRecord> = v
            .iter()
            .filter(|r| {
                if own == CITY {
                    r.id == JINJIANG || r.id == QINGYANG
                } else {
                    r.id == own
                }
            })
            .cloned()
            .collect();
        if let Some(r) = pick(&home, i / 3) {
            return Some(r);
        }
    }
    pick(v, i)
}

// ------------------------------------------------------------------------ server reads

/// One server row, as checked.
#[derive(Debug, Clone)]
struct ServerOrg {
    parent: String,
    path: String,
    level: u8,
    deleted: bool,
    category: String,
    short_name: String,
    name_key: String,
    live_children: i64,
    admin_count: i64,
    complete: bool,
    record: OrgRecord,
    bytes: Vec<u8>,
    heads: Vec<ChangeHash>,
}

fn server_orgs(server: &TestServer) -> BTreeMap<String, ServerOrg> {
    server
        .rows(
            "SELECT id, parent, path, level, deleted, category, short_name, name_key,
                    live_children, admin_count, record, bytes, heads, complete FROM orgs",
            &[],
        )
        .into_iter()
        .map(|r| {
            let text = |i: usize| r[i].clone().expect("not null");
            let int = |i: usize| text(i).parse::<i64>().expect("an integer");
            (
                text(0),
                ServerOrg {
                    parent: text(1),
                    path: text(2),
                    level: int(3) as u8,
                    deleted: int(4) != 0,
                    category: text(5),
                    short_name: text(6),
                    name_key: text(7),
                    live_children: int(8),
                    admin_count: int(9),
                    record: serde_json::from_str::<OrgRecord>(&text(10))
                        .expect("record column is an OrgRecord"),
                    bytes: e2e::unhex(&text(11)),
                    heads: sorted(heads::decode(&e2e::unhex(&text(12)))),
                    complete: int(13) != 0,
                },
            )
        })
        .collect()
}

/// Registered accounts per organization.
fn server_admins(server: &TestServer) -> HashMap<String, i64> {
    server
        .rows("SELECT org_id, COUNT(*) FROM accounts GROUP BY org_id", &[])
        .into_iter()
        .map(|r| {
            (
                r[0].clone().unwrap(),
                r[1].as_deref().unwrap().parse().unwrap(),
            )
        })
        .collect()
}

fn server_codes(server: &TestServer) -> Vec<(String, String, String, bool)> {
    server
        .rows("SELECT code, org_id, issued_by, used_by FROM codes", &[])
        .into_iter()
        .map(|r| {
            (
                r[0].clone().unwrap(),
                r[1].clone().unwrap(),
                r[2].clone().unwrap(),
                r[3].is_some(),
            )
        })
        .collect()
}

fn sorted(mut h: Vec<ChangeHash>) -> Vec<ChangeHash> {
    h.sort_unstable();
    h
}

/// The ids of a subtree (its root included) on the server.
fn subtree(orgs: &BTreeMap<String, ServerOrg>, root: &str) -> HashSet<String> {
    let needle = format!("/{root}/");
    orgs.iter()
        .filter(|(_, o)| o.path.contains(&needle))
        .map(|(id, _)| id.clone())
        .collect()
}

// ------------------------------------------------------------------------ invariants

/// (a): every rule holds on the server; what it accepted once stands.
fn check_server(w: &mut World, ctx: &str) -> BTreeMap<String, ServerOrg> {
    let orgs = server_orgs(&w.server);
    let mut live_children: HashMap<&str, i64> = HashMap::new();
    let mut names: HashMap<(&str, &str), &str> = HashMap::new();
    for (id, o) in &orgs {
        // The bytes load and read back as the record, with the stored heads.
        let mut d = AutoCommit::load(&o.bytes)
            .unwrap_or_else(|e| panic!("{ctx}: server doc {id} does not load: {e}"));
        let rec = doc::read(&d);
        assert_eq!(
            rec, o.record,
            "{ctx}: server doc {id}: bytes and record differ"
        );
        assert_eq!(&rec.id, id, "{ctx}: server doc {id}: id");
        assert_eq!(
            sorted(d.get_heads()),
            o.heads,
            "{ctx}: server doc {id}: heads"
        );
        assert_eq!(
            (&o.parent, o.level, o.deleted, &o.category, &o.short_name),
            (
                &rec.parent,
                rec.level,
                rec.deleted,
                &rec.category,
                &rec.short_name
            ),
            "{ctx}: {id}: projection columns"
        );
        assert_eq!(
            o.name_key,
            name_key(&rec.short_name),
            "{ctx}: {id}: name key"
        );
        // Completeness has no error, with the region of the parent's chain.
        let region = orgs.get(&rec.parent).and_then(|p| {
            let chain: Vec<ChainLink> = p
                .path
                .split('/')
                .filter(|s| !s.is_empty())
                .map_while(|a| {
                    let a = orgs.get(a)?;
                    Some(ChainLink::new(
                        Level::new(a.level).ok()?,
                        Category::parse(&a.category).ok()?,
                        a.short_name.clone(),
                    ))
                })
                .collect();
            schemas::name::region_of_chain(&chain)
        });
        let completeness = rec.completeness(&Context { region });
        assert_eq!(
            o.complete,
            completeness.is_complete(),
            "{ctx}: {id} ({}): projected completeness",
            rec.short_name
        );
        let errors: Vec<_> = completeness.errors().cloned().collect();
        assert!(
            errors.is_empty(),
            "{ctx}: server doc {id} ({}) breaks rules: {errors:?}",
            rec.short_name
        );
        if rec.parent.is_empty() {
            assert_eq!(o.path, format!("/{id}/"), "{ctx}: root path");
        } else {
            let p = orgs
                .get(&rec.parent)
                .unwrap_or_else(|| panic!("{ctx}: {id}: parent {} missing", rec.parent));
            assert_eq!(o.path, format!("{}{id}/", p.path), "{ctx}: {id}: path");
            assert_eq!(rec.level, p.level + 1, "{ctx}: {id}: level");
            let (pc, cc) = (
                Category::parse(&p.category).unwrap(),
                Category::parse(&rec.category).unwrap(),
            );
            assert!(
                pc.may_contain(cc),
                "{ctx}: {id}: {} under {}",
                cc.label(),
                pc.label()
            );
            if !rec.deleted {
                assert!(
                    !p.deleted,
                    "{ctx}: {id} ({}) is live under a deleted parent",
                    rec.short_name
                );
                *live_children.entry(o.parent.as_str()).or_default() += 1;
                if let Some(other) = names.insert((o.parent.as_str(), o.name_key.as_str()), id) {
                    panic!(
                        "{ctx}: live siblings {other} and {id} share the name {}",
                        rec.short_name
                    );
                }
            }
        }
        // Accepted once, never changed.
        for f in IMMUTABLE_FIELDS {
            let v = rec.get(f);
            match w.memory.immutables.get(&(id.clone(), f)) {
                Some(first) => assert_eq!(
                    v, first,
                    "{ctx}: {id}: immutable {f:?} changed on the server"
                ),
                None if !v.is_empty() => {
                    w.memory.immutables.insert((id.clone(), f), v.to_owned());
                }
                None => {}
            }
        }
        if w.memory.deleted.contains(id) {
            assert!(rec.deleted, "{ctx}: {id} was restored");
        } else if rec.deleted {
            w.memory.deleted.insert(id.clone());
        }
        let place = (rec.parent.clone(), rec.level);
        assert_eq!(
            w.memory
                .place
                .entry(id.clone())
                .or_insert_with(|| place.clone()),
            &place,
            "{ctx}: {id} moved"
        );
    }
    let admins = server_admins(&w.server);
    for (id, o) in &orgs {
        assert_eq!(
            o.live_children,
            live_children.get(id.as_str()).copied().unwrap_or(0),
            "{ctx}: {id}: live-children count"
        );
        assert_eq!(
            o.admin_count,
            admins.get(id).copied().unwrap_or(0),
            "{ctx}: {id}: admin count"
        );
    }
    // Codes: recorded once, for the organization holding them, never reassigned.
    let table: HashMap<String, (String, String)> = server_codes(&w.server)
        .into_iter()
        .map(|(c, org, by, _)| (c, (org, by)))
        .collect();
    for (id, o) in &orgs {
        for (code, c) in &o.record.codes {
            let (org, by) = table
                .get(code)
                .unwrap_or_else(|| panic!("{ctx}: {id}: code {code} not in the codes table"));
            assert_eq!((org, by), (id, &c.issued_by), "{ctx}: code {code}");
            let first = w.memory.codes.entry(code.clone()).or_insert(id.clone());
            assert_eq!(first, id, "{ctx}: code {code} moved");
        }
    }
    orgs
}

/// (b) and (c) for one replica; with `synced`, also what must hold right after its
/// successful sync.
fn check_replica(w: &World, a: usize, orgs: &BTreeMap<String, ServerOrg>, synced: bool, ctx: &str) {
    let actor = &w.actors[a];
    let ctx = format!("{ctx} [{}]", actor.name);
    let local = local_docs(actor.replica.path());
    let mut history: HashMap<&str, AutoCommit> = HashMap::new();
    for (id, l) in &local {
        let mut d = AutoCommit::load(&l.bytes)
            .unwrap_or_else(|e| panic!("{ctx}: local doc {id} does not load: {e}"));
        assert_eq!(doc::read(&d), l.record, "{ctx}: {id}: bytes and projection");
        assert_eq!(
            l.complete,
            actor.replica.org(id).unwrap().completeness.is_complete(),
            "{ctx}: {id} ({}): projected completeness",
            l.record.short_name
        );
        // (b) Acknowledged heads are on the server.
        if let Some(acked) = &l.acked {
            let s = orgs
                .get(id)
                .unwrap_or_else(|| panic!("{ctx}: {id} acknowledged but not on the server"));
            let sd = history
                .entry(id.as_str())
                .or_insert_with(|| AutoCommit::load(&s.bytes).unwrap());
            for h in acked {
                assert!(
                    sd.get_change_by_hash(h).is_some(),
                    "{ctx}: {id} ({}): acknowledged change {h} missing on the server",
                    l.record.short_name
                );
            }
        }
        if synced && !l.dirty {
            let s = orgs
                .get(id)
                .unwrap_or_else(|| panic!("{ctx}: {id} clean but not on the server"));
            assert_eq!(
                l.record, s.record,
                "{ctx}: {id}: clean after a sync, but differs from the server"
            );
            assert_eq!(
                l.admins as i64, s.admin_count,
                "{ctx}: {id}: admins as pulled"
            );
            assert_eq!(
                sorted(d.get_heads()),
                s.heads,
                "{ctx}: {id}: clean after a sync, heads differ from the server's"
            );
        }
    }
    // (c) Every refused organization is still shown, with its reasons and its values.
    let shown: BTreeMap<String, Vec<Violation>> = actor
        .replica
        .rejections()
        .unwrap()
        .into_iter()
        .map(|r| (r.id, r.violations))
        .collect();
    let expected = &w.refused[a];
    assert_eq!(
        shown.keys().collect::<Vec<_>>(),
        expected.keys().collect::<Vec<_>>(),
        "{ctx}: rejections() lists other organizations than were refused"
    );
    for (id, r) in expected {
        assert_eq!(shown[id], r.violations, "{ctx}: {id}: reasons");
        let view = actor.replica.org(id).unwrap();
        assert!(view.pending, "{ctx}: refused {id} no longer pending");
        assert_eq!(view.rejection.as_ref(), Some(&r.violations), "{ctx}: {id}");
        for (f, v) in &r.values {
            assert_eq!(
                view.record.get(*f),
                v,
                "{ctx}: refused {id}: the refused value of {f:?} is gone"
            );
        }
        if let Some(d) = r.deleted {
            assert_eq!(view.record.deleted, d, "{ctx}: refused {id}: deletion");
        }
    }
    if synced {
        // Right after a sync: the whole subtree is held, and only refusals are pending.
        let held: HashSet<&str> = local.keys().map(String::as_str).collect();
        for id in subtree(orgs, &actor.org) {
            assert!(
                held.contains(id.as_str()),
                "{ctx}: server doc {id} of the subtree not pulled"
            );
        }
        let pending: Vec<&str> = local
            .iter()
            .filter(|(_, l)| l.dirty)
            .map(|(id, _)| id.as_str())
            .collect();
        let refused: Vec<&str> = expected.keys().map(String::as_str).collect();
        assert_eq!(
            pending, refused,
            "{ctx}: pending after a sync but not refused"
        );
    }
}

fn check_all(w: &mut World, synced: Option<usize>, ctx: &str) {
    let orgs = check_server(w, ctx);
    // The progress roll-ups the pushes keep up to date equal a full scan.
    let wrong = w
        .server
        .state
        .store
        .read(|c| c.rollup_mismatches(10))
        .unwrap();
    assert!(
        wrong.is_empty(),
        "{ctx}: roll-ups differ from a scan: {wrong:#?}"
    );
    for a in 0..w.actors.len() {
        check_replica(w, a, &orgs, synced == Some(a), ctx);
    }
}

// ------------------------------------------------------------------------ running ops

/// Codes the server may refuse a locally valid push with (the state of other replicas).
const SERVER_ONLY: [&str; 5] = [
    "short_name.duplicate",
    "tree.parent_deleted",
    "tree.parent_missing",
    "delete.has_children",
    "delete.has_admin",
];

fn refused_entry(r: &Replica, id: &str, violations: Vec<Violation>) -> Refused {
    let rec = r.org(id).unwrap().record;
    let mut values = Vec::new();
    let mut deleted = None;
    for v in &violations {
        match v.field {
            Some(Field::Deleted) => deleted = Some(rec.deleted),
            Some(Field::Parent) => values.push((Field::Parent, rec.parent.clone())),
            Some(f) if rec.clone().get_mut(f).is_some() => values.push((f, rec.get(f).to_owned())),
            _ => {}
        }
    }
    Refused {
        violations,
        values,
        deleted,
    }
}

/// The outcome of a sync: refusals recorded, invariants of a complete sync checked.
fn after_sync(w: &mut World, a: usize, report: &SyncReport, ctx: &str) {
    for r in &report.rejected {
        for c in codes(&r.violations) {
            *w.figures.server_refusals.entry(c.to_owned()).or_default() += 1;
            assert!(
                SERVER_ONLY.contains(&c),
                "{ctx}: the server refused {} ({}) with {c}, which the local checks let through: {:?}",
                r.id,
                r.short_name,
                r.violations
            );
        }
    }
    w.figures.resolved_immutables += report.resolved.len();
    // A complete sync pushed every pending document: what it refused is what stays refused.
    let replica = &w.actors[a].replica;
    w.refused[a] = report
        .rejected
        .iter()
        .map(|r| {
            (
                r.id.clone(),
                refused_entry(replica, &r.id, r.violations.clone()),
            )
        })
        .collect();
    // Every refusal is true of the server's state the sync leaves behind.
    let orgs = server_orgs(&w.server);
    let mut suspects = BTreeSet::new();
    for r in &report.rejected {
        let rec = replica.org(&r.id).unwrap().record;
        for v in &r.violations {
            if justified(&orgs, &rec, v) {
                continue;
            }
            let what = format!(
                "{ctx}: [{}] {} ({}) refused with {} ({}), which the server's state after the sync does not justify",
                w.actors[a].name, r.id, rec.short_name, v.code, v.message
            );
            // Known bug (see regressions.rs, `push_order_*`): the push judges documents
            // parents first, so a deletion or a freed name later in the same push comes
            // too late; the next sync heals it.
            assert!(!strict(), "{what}");
            assert!(
                !w.suspects[a].contains(&r.id),
                "{what}, and the sync before refused it for no reason too"
            );
            suspects.insert(r.id.clone());
        }
    }
    for id in &suspects {
        w.figures.spurious_refusals += 1;
        let line = format!(
            "{ctx}: [{}] spurious refusal of {id} (known bug: push order)",
            w.actors[a].name
        );
        w.note(line);
    }
    w.suspects[a] = suspects;
}

/// Strict unless `ZHTJ_MODEL_LENIENT=1`: no tolerance for the (fixed) bugs of regressions.rs.
fn strict() -> bool {
    !std::env::var("ZHTJ_MODEL_LENIENT").is_ok_and(|v| v == "1")
}

fn run_op(w: &mut World, op: &Op, step: usize) {
    let ctx = format!("step {step}: {op:?}");
    match op {
        Op::Create { who, parent, kids } => create(w, w.who(*who), *parent, kids, &ctx),
        Op::Edit { who, org, edit } => edit_op(w, w.who(*who), *org, edit, &ctx),
        Op::Delete { who, org } => delete(w, w.who(*who), *org, &ctx),
        Op::DeleteBranch { who, org } => delete_branch(w, w.who(*who), *org, &ctx),
        Op::Recreate { who, org } => recreate(w, w.who(*who), *org, &ctx),
        Op::Move { who, org, up } => move_op(w, w.who(*who), *org, *up, &ctx),
        Op::Code { who, org } => code(w, w.who(*who), *org, &ctx),
        Op::Correct { who, pick } => {
            let a = w.who(*who);
            let ids: Vec<String> = w.refused[a].keys().cloned().collect();
            if let Some(id) = pick_refused(&ids, *pick) {
                correct(w, a, &id, &ctx);
            } else {
                w.skip(&ctx, "nothing refused to correct");
            }
        }
        Op::Sync { who, cut } => {
            let a = w.who(*who);
            // Expected size: ~400 bytes for an empty sync, ~1 KB more per pending document.
            let pending = w.actors[a].replica.counts().unwrap().1;
            let expected = 500 + 1000 * pending;
            let budget = cut.map(|c| u64::from(c) * expected * 6 / 5 / 65_536);
            sync(w, a, budget, &ctx);
            return; // checked inside
        }
        Op::RegisterTown { district } => register_town(w, *district, &ctx),
        Op::Race { pair, org, fill } => race(w, *pair, *org, *fill, &ctx),
        Op::Hostile { who, org, kind } => hostile(w, w.who(*who), *org, *kind, &ctx),
    }
    check_all(w, None, &ctx);
}

fn pick_refused(ids: &[String], i: u16) -> Option<String> {
    pick(ids, i)
}

fn sync(w: &mut World, a: usize, cut: Option<u64>, ctx: &str) {
    let result = match cut {
        None => {
            let actor = &mut w.actors[a];
            Ok(actor
                .replica
                .sync(&actor.remote, &mut |_, _, _| {})
                .unwrap_or_else(|e| panic!("{ctx}: sync without interruption failed: {e:?}")))
        }
        Some(budget) => {
            w.proxy.set(Rule::truncate(Dir::Both, budget));
            let remote = Remote::new(&w.proxy.url()).unwrap();
            let r = w.actors[a].replica.sync(&remote, &mut |_, _, _| {});
            let seen = w.proxy.stats();
            w.proxy.clear();
            match r {
                Ok(report) => {
                    w.figures.cut_but_finished += 1;
                    w.note(format!(
                        "{ctx}: the sync outlasted the cut ({} bytes up, {} down)",
                        seen.bytes_up, seen.bytes_down
                    ));
                    Ok(report)
                }
                Err(Error::Network(m)) => Err((seen, m)),
                Err(e) => panic!("{ctx}: a cut sync must fail with sync.network, got {e:?}"),
            }
        }
    };
    match result {
        Ok(report) => {
            w.figures.syncs_ok += 1;
            w.note(format!(
                "{ctx}: [{}] synced: pulled {}, pushed {}, refused {:?}, resolved {:?}",
                w.actors[a].name,
                report.pulled,
                report.pushed,
                report
                    .rejected
                    .iter()
                    .map(|r| (&r.short_name, codes(&r.violations)))
                    .collect::<Vec<_>>(),
                report.resolved
            ));
            after_sync(w, a, &report, ctx);
            check_all(w, Some(a), ctx);
        }
        Err((seen, m)) => {
            w.figures.syncs_cut += 1;
            w.note(format!(
                "{ctx}: [{}] sync cut after requests {:?}: {m}",
                w.actors[a].name, seen.requests
            ));
            // What an interrupted sync stored stays consistent; refusals are unchanged
            // (a push outcome is stored only with its answer).
            check_all(w, None, ctx);
        }
    }
}

fn create(w: &mut World, a: usize, parent_sel: u16, kids: &[Kid], ctx: &str) {
    let actor = &w.actors[a];
    let tree = live(&actor.replica);
    let parents: Vec<OrgRecord> = tree
        .iter()
        .filter(|r| r.level <= MAX_PARENT_LEVEL)
        .cloned()
        .collect();
    let Some(mut parent) = pick_home(&parents, &actor.org, parent_sel) else {
        w.skip(ctx, "no parent");
        return;
    };
    // A "not allowed" child needs a parent that forbids some category: move to one.
    if kids.iter().any(|k| matches!(k, Kid::NotAllowed(_))) {
        let strict: Vec<OrgRecord> = parents
            .iter()
            .filter(|p| p.category().is_some_and(|c| c != Category::LeadingOrgan))
            .cloned()
            .collect();
        match pick(&strict, parent_sel) {
            Some(p) => parent = p,
            None => {
                w.skip(ctx, "no parent that forbids a category");
                return;
            }
        }
    }
    let pc = parent.category().expect("live orgs have a category");
    let siblings = actor.replica.children(&parent.id).unwrap();
    let mut taken: HashSet<String> = siblings.iter().map(|s| name_key(&s.short_name)).collect();
    let mut batch = Vec::new();
    // Expected: Ok, or the code the local API must give.
    let mut expect: Vec<&str> = Vec::new();
    for k in kids {
        let (category, name, why): (String, String, Option<&str>) = match k {
            Kid::Valid { cat, stem } => {
                let allowed: Vec<Category> =
                    BASIC.into_iter().filter(|c| pc.may_contain(*c)).collect();
                // Half of them branches: same-named branches collide across replicas.
                let chosen = if cat % 2 == 0 && pc.may_contain(Category::Branch) {
                    Some(Category::Branch)
                } else {
                    pick(&allowed, u16::from(*cat / 2))
                };
                match chosen {
                    Some(c) => {
                        // Half the time among the first four: concurrent creations collide.
                        let pool = if stem % 2 == 0 { 4 } else { STEMS.len() };
                        let stem = STEMS[usize::from(*stem / 2) % pool];
                        // A class name only for branches.
                        let stem = if c != Category::Branch && stem.contains('班') {
                            "后勤"
                        } else {
                            stem
                        };
                        let name = format!("{stem}{}", schemas::name::category_suffix(c).unwrap());
                        let dup = !taken.insert(name_key(&name));
                        (
                            c.label().to_owned(),
                            name,
                            dup.then_some("short_name.duplicate"),
                        )
                    }
                    None => (
                        "团支部".to_owned(),
                        "多余团支部".to_owned(),
                        Some("category.not_allowed"),
                    ),
                }
            }
            Kid::BadName(i) => {
                let (c, n, code) = BAD_NAMES[usize::from(*i) % BAD_NAMES.len()];
                // A category the parent may not contain is refused as such first.
                let code = match Category::parse(c) {
                    Ok(cat) if !pc.may_contain(cat) => "category.not_allowed",
                    _ => code,
                };
                (c.to_owned(), n.to_owned(), Some(code))
            }
            Kid::NotAllowed(i) => {
                let banned: Vec<Category> = Category::ALL
                    .into_iter()
                    .filter(|c| !pc.may_contain(*c))
                    .collect();
                let c = pick(&banned, u16::from(*i)).unwrap();
                let name = match c {
                    Category::LeadingOrgan => "团锦江区委".to_owned(),
                    c => format!("禁止{}", schemas::name::category_suffix(c).unwrap()),
                };
                (c.label().to_owned(), name, Some("category.not_allowed"))
            }
            Kid::Taken(i) => match pick(&siblings, u16::from(*i)) {
                Some(s) => (
                    s.category.clone(),
                    // The same name in another width: still the same name.
                    s.short_name.replace('2', "２"),
                    Some("short_name.duplicate"),
                ),
                None => {
                    w.figures.skipped += 1; // no sibling to copy a name from
                    continue;
                }
            },
        };
        if let Some(code) = why {
            expect.push(code);
        }
        batch.push(NewChild {
            category,
            short_name: name,
            ..NewChild::default()
        });
    }
    if batch.is_empty() {
        return;
    }
    let before = actor.replica.counts().unwrap();
    let replica = &mut w.actors[a].replica;
    let result = replica.create_children(&parent.id, &batch, &mut |_, _| {});
    let names: Vec<&str> = batch.iter().map(|k| k.short_name.as_str()).collect();
    match result {
        Ok(ids) => {
            // A too-long generated full name is the one reason the model does not predict.
            assert!(
                expect.is_empty(),
                "{ctx}: created {names:?} under {}, expected refusals {expect:?}",
                parent.short_name
            );
            for (id, k) in ids.iter().zip(&batch) {
                let r = replica.org(id).unwrap().record;
                assert_eq!(r.short_name, k.short_name, "{ctx}");
                assert_eq!(r.parent, parent.id, "{ctx}");
                assert_eq!(r.level, parent.level + 1, "{ctx}");
            }
            w.figures.created += ids.len();
            let line = format!(
                "{ctx}: [{}] created {names:?} under {}",
                w.actors[a].name, parent.short_name
            );
            w.note(line);
        }
        Err(e) => {
            let v = refusal(&e, ctx);
            let got = codes(&v);
            assert_eq!(replica.counts().unwrap(), before, "{ctx}: nothing created");
            if expect.is_empty() {
                assert!(
                    got.iter().all(|c| *c == "full_name.too_long"),
                    "{ctx}: refused {names:?} under {}: {v:?}",
                    parent.short_name
                );
            } else {
                for code in &expect {
                    assert!(
                        got.iter().any(|g| g.starts_with(code)),
                        "{ctx}: {names:?} under {}: expected {code}, got {got:?}",
                        parent.short_name
                    );
                }
            }
            w.figures.refused_locally += 1;
            let line = format!(
                "{ctx}: [{}] refused locally {names:?} under {}: {got:?}",
                w.actors[a].name, parent.short_name
            );
            w.note(line);
        }
    }
}

fn edit_op(w: &mut World, a: usize, org_sel: u16, edit: &Edit, ctx: &str) {
    let actor = &w.actors[a];
    let tree = live(&actor.replica);
    // 行业类别 on the organizations others fill too (concurrent fills), others anywhere.
    let sel = if matches!(edit, Edit::Industry(_)) {
        org_sel - org_sel % 3
    } else {
        org_sel
    };
    let Some(target) = pick_home(&tree, &actor.org, sel) else {
        w.skip(ctx, "no organization");
        return;
    };
    let own = target.id == actor.org;
    let accepted = accepted_record(actor.replica.path(), &target.id);
    let (field, value, expect): (Field, String, Option<&str>) = match edit {
        Edit::Valid { field, value } => {
            let (f, ok, _) = field_values(*field);
            (f, pick(&ok, u16::from(*value)).unwrap(), None)
        }
        Edit::Invalid { field, value } => {
            let (f, _, bad) = field_values(*field);
            (
                f,
                pick(&bad, u16::from(*value)).unwrap().to_owned(),
                Some(""),
            )
        }
        Edit::Industry(i) => {
            let v = INDUSTRIES[usize::from(*i) % INDUSTRIES.len()].to_owned();
            let first = accepted
                .as_ref()
                .map(|r| r.industry.clone())
                .unwrap_or_default();
            let why = (!first.is_empty() && first != v).then_some("immutable.changed");
            (Field::Industry, v, why)
        }
        Edit::Rename(stem) => {
            let c = target.category().unwrap();
            if c == Category::LeadingOrgan {
                w.skip(ctx, "a leading organ is not renamed");
                return;
            }
            w.fresh += 1;
            let s = STEMS[usize::from(*stem / 2) % 4];
            let suffix = schemas::name::category_suffix(c).unwrap();
            // Half the time a pooled name (others may take it concurrently), else a new one.
            let name = if stem % 2 == 0 {
                format!("{s}{suffix}")
            } else {
                format!("{s}{}{suffix}", w.fresh)
            };
            let first = accepted
                .as_ref()
                .map(|r| r.short_name.clone())
                .unwrap_or_default();
            let taken = actor
                .replica
                .children(&target.parent)
                .unwrap()
                .iter()
                .any(|r| r.id != target.id && name_key(&r.short_name) == name_key(&name));
            let why = if name == target.short_name {
                None // no change at all
            } else if own {
                Some("permission.field")
            } else if !first.is_empty() {
                Some("immutable.changed")
            } else if taken {
                Some("short_name.duplicate")
            } else {
                None
            };
            (Field::ShortName, name, why)
        }
    };
    let before = actor.replica.org(&target.id).unwrap().record;
    let replica = &mut w.actors[a].replica;
    let result = replica.update_info(&target.id, &[(field, value.clone())]);
    w.figures.edits += 1;
    match (result, expect) {
        (Ok(view), None) => {
            assert_eq!(view.record.get(field), value, "{ctx}: value stored");
            let line = format!(
                "{ctx}: [{}] {} {field:?} = {value:?}",
                w.actors[a].name, target.short_name
            );
            w.note(line);
            // A correction of a refused organization's field: the new value is expected.
            if let Some(r) = w.refused[a].get_mut(&target.id) {
                for (f, v) in &mut r.values {
                    if *f == field {
                        *v = value.clone();
                    }
                }
            }
        }
        (Ok(_), Some(why)) => panic!(
            "{ctx}: {} {field:?} = {value:?} accepted locally, expected refusal {why:?}",
            target.short_name
        ),
        (Err(e), expect) => {
            let v = refusal(&e, ctx);
            match expect {
                None => panic!(
                    "{ctx}: {} {field:?} = {value:?} refused locally: {v:?}",
                    target.short_name
                ),
                Some(why) => assert!(
                    v.iter()
                        .any(|x| x.code.starts_with(why) && x.field == Some(field)),
                    "{ctx}: expected {why:?} on {field:?}, got {v:?}"
                ),
            }
            assert_eq!(
                replica.org(&target.id).unwrap().record,
                before,
                "{ctx}: a refused edit changed nothing"
            );
            w.figures.refused_locally += 1;
            let line = format!(
                "{ctx}: [{}] refused locally {} {field:?} = {value:?}: {:?}",
                w.actors[a].name,
                target.short_name,
                codes(&v)
            );
            w.note(line);
        }
    }
}

fn delete(w: &mut World, a: usize, org_sel: u16, ctx: &str) {
    let Some(t) = pick_below(w, a, org_sel, ctx, "nothing to delete") else {
        return;
    };
    delete_one(w, a, &t, ctx);
}

/// Delete a whole branch, deepest first (each deletion allowed locally once its children
/// are gone).
fn delete_branch(w: &mut World, a: usize, org_sel: u16, ctx: &str) {
    let actor = &w.actors[a];
    let targets: Vec<OrgRecord> = live(&actor.replica)
        .into_iter()
        .filter(|r| {
            r.id != actor.org && r.level > 4 && !actor.replica.children(&r.id).unwrap().is_empty()
        })
        .collect();
    let Some(t) = pick(&targets, org_sel) else {
        w.skip(ctx, "no branch to delete");
        return;
    };
    let mut order = Vec::new();
    let mut stack = vec![t];
    while let Some(r) = stack.pop() {
        stack.extend(w.actors[a].replica.children(&r.id).unwrap());
        order.push(r);
    }
    for r in order.iter().rev() {
        if !delete_one(w, a, r, ctx) {
            break;
        }
    }
}

/// Delete an organization and create a new one of the same name and category in its place.
fn recreate(w: &mut World, a: usize, org_sel: u16, ctx: &str) {
    let actor = &w.actors[a];
    let targets: Vec<OrgRecord> = live(&actor.replica)
        .into_iter()
        .filter(|r| r.id != actor.org && r.category != "团的领导机关")
        .collect();
    let Some(t) = pick(&targets, org_sel) else {
        w.skip(ctx, "nothing to replace");
        return;
    };
    if !delete_one(w, a, &t, ctx) {
        return;
    }
    let kid = NewChild {
        category: t.category.clone(),
        short_name: t.short_name.clone(),
        ..NewChild::default()
    };
    let replica = &mut w.actors[a].replica;
    // Another live sibling of that name (two copies of a name, one refused) still holds it.
    let taken = replica
        .children(&t.parent)
        .unwrap()
        .iter()
        .any(|s| name_key(&s.short_name) == name_key(&t.short_name));
    match replica.create_child(&t.parent, &kid) {
        Ok(_) => {
            assert!(
                !taken,
                "{ctx}: re-created {} beside a sibling of that name",
                t.short_name
            );
            w.figures.created += 1;
            let line = format!(
                "{ctx}: [{}] created {} again in its place",
                w.actors[a].name, t.short_name
            );
            w.note(line);
        }
        Err(e) => {
            let v = refusal(&e, ctx);
            let allowed: &[&str] = if taken {
                &["short_name.duplicate", "full_name.too_long"]
            } else {
                &["full_name.too_long"]
            };
            assert!(
                codes(&v).iter().all(|c| allowed.contains(c)),
                "{ctx}: re-create {} after deleting it: {v:?}",
                t.short_name
            );
        }
    }
}

/// Delete `t` if the local API allows it (as predicted). Returns whether it was deleted.
fn delete_one(w: &mut World, a: usize, t: &OrgRecord, ctx: &str) -> bool {
    let actor = &w.actors[a];
    if !strict() && accepted_record(actor.replica.path(), &t.id).is_none() {
        // Known bug (regressions.rs, `an_organization_created_and_deleted_offline_*`): the
        // server refuses such a deletion for ever.
        w.figures.avoided_deletions += 1;
        return false;
    }
    let has_children = !actor.replica.children(&t.id).unwrap().is_empty();
    let has_admin = has_admins(actor.replica.path(), &t.id);
    let name = w.actors[a].name;
    let replica = &mut w.actors[a].replica;
    let r = replica.delete_child(&t.id);
    match (r, has_children, has_admin) {
        (Ok(()), false, false) => {
            assert!(replica.org(&t.id).unwrap().record.deleted, "{ctx}");
            w.note(format!("{ctx}: [{name}] deleted {}", t.short_name));
            true
        }
        (Err(e), true, _) => {
            assert_eq!(e.code(), "delete.has_children", "{ctx}");
            w.note(format!(
                "{ctx}: [{name}] delete {} refused locally: has children",
                t.short_name
            ));
            false
        }
        (Err(e), false, true) => {
            assert_eq!(e.code(), "delete.has_admin", "{ctx}");
            w.note(format!(
                "{ctx}: [{name}] delete {} refused locally: has an admin",
                t.short_name
            ));
            false
        }
        (r, c, ad) => panic!(
            "{ctx}: delete {}: {r:?} (children {c}, admin {ad})",
            t.short_name
        ),
    }
}

fn move_op(w: &mut World, a: usize, org_sel: u16, up: bool, ctx: &str) {
    let Some(t) = pick_below(w, a, org_sel, ctx, "nothing to move") else {
        return;
    };
    let actor = &w.actors[a];
    let order: Vec<String> = actor
        .replica
        .children(&t.parent)
        .unwrap()
        .into_iter()
        .map(|r| r.id)
        .collect();
    let pos = order.iter().position(|id| *id == t.id).unwrap();
    let edge = if up { pos == 0 } else { pos + 1 == order.len() };
    let replica = &mut w.actors[a].replica;
    let dir = if up { Direction::Up } else { Direction::Down };
    match replica.move_child(&t.id, dir) {
        Ok(()) => {
            assert!(!edge, "{ctx}: moved past the edge");
            let after: Vec<String> = replica
                .children(&t.parent)
                .unwrap()
                .into_iter()
                .map(|r| r.id)
                .collect();
            let mut expected = order.clone();
            expected.swap(pos, if up { pos - 1 } else { pos + 1 });
            assert_eq!(after, expected, "{ctx}: order after the move");
        }
        Err(e) => {
            assert!(edge, "{ctx}: move refused: {e:?}");
            assert_eq!(e.code(), "order.edge", "{ctx}");
        }
    }
    let line = format!(
        "{ctx}: [{}] move {} {}",
        w.actors[a].name,
        t.short_name,
        if edge { "refused: at the edge" } else { "done" }
    );
    w.note(line);
}

fn code(w: &mut World, a: usize, org_sel: u16, ctx: &str) {
    let Some(t) = pick_below(w, a, org_sel, ctx, "no child to issue a code for") else {
        return;
    };
    let actor = &w.actors[a];
    let org = actor.org.clone();
    let replica = &mut w.actors[a].replica;
    let c = replica
        .issue_code(&t.id, OffsetDateTime::now_utc())
        .unwrap_or_else(|e| panic!("{ctx}: issue a code for {}: {e:?}", t.short_name));
    let rec = replica.org(&t.id).unwrap().record;
    assert_eq!(rec.codes[&c.code].issued_by, org, "{ctx}");
    let line = format!(
        "{ctx}: [{}] code {} for {}",
        w.actors[a].name, c.code, t.short_name
    );
    w.note(line);
}

/// Correct a refused organization where the user can: a duplicate name gets a fresh one.
fn correct(w: &mut World, a: usize, id: &str, ctx: &str) -> bool {
    let Some(r) = w.refused[a].get(id).cloned() else {
        return false;
    };
    if !r
        .violations
        .iter()
        .any(|v| v.code == "short_name.duplicate")
    {
        return false;
    }
    let replica = &mut w.actors[a].replica;
    let rec = replica.org(id).unwrap().record;
    let c = rec.category().unwrap();
    w.fresh += 1;
    let name = format!(
        "更正{}号{}",
        w.fresh,
        schemas::name::category_suffix(c).unwrap()
    );
    replica
        .update_info(id, &[(Field::ShortName, name.clone())])
        .unwrap_or_else(|e| panic!("{ctx}: correct {}: {e:?}", rec.short_name));
    w.figures.corrected += 1;
    if let Some(r) = w.refused[a].get_mut(id) {
        for (f, v) in &mut r.values {
            if *f == Field::ShortName {
                *v = name.clone();
            }
        }
    }
    let line = format!(
        "{ctx}: [{}] corrected {} to {name}",
        w.actors[a].name, rec.short_name
    );
    w.note(line);
    true
}

/// Conflicting offline changes of two admins to one organization (see [`Op::Race`]).
fn race(w: &mut World, pair: u8, org_sel: u16, fill: bool, ctx: &str) {
    let mut pairs = vec![(0, 1), (0, 2)];
    if w.actors.len() > 3 {
        let town_parent = w.actors[3].replica.own().unwrap().record.parent;
        pairs.push((if town_parent == JINJIANG { 1 } else { 2 }, 3));
        pairs.push((0, 3));
    }
    let (a, b) = pairs[usize::from(pair) % pairs.len()];
    // Organizations both hold, live in both.
    let theirs: HashSet<String> = live(&w.actors[b].replica)
        .into_iter()
        .map(|r| r.id)
        .collect();
    let both: Vec<OrgRecord> = live(&w.actors[a].replica)
        .into_iter()
        .filter(|r| theirs.contains(&r.id))
        .collect();
    let candidates: Vec<OrgRecord> = if fill {
        // Not yet filled in either copy, and allowed for both (any relation may fill it).
        both.into_iter()
            .filter(|r| {
                r.industry.is_empty()
                    && w.actors[b]
                        .replica
                        .org(&r.id)
                        .unwrap()
                        .record
                        .industry
                        .is_empty()
            })
            .collect()
    } else {
        both.into_iter()
            .filter(|r| {
                r.category()
                    .is_some_and(|c| c.may_contain(Category::Branch))
            })
            .filter(|r| r.level <= MAX_PARENT_LEVEL)
            .collect()
    };
    let Some(t) = pick(&candidates, org_sel) else {
        w.skip(ctx, "race: no organization both hold");
        return;
    };
    if fill {
        let i = usize::from(org_sel) % INDUSTRIES.len();
        for (x, v) in [
            (a, INDUSTRIES[i]),
            (b, INDUSTRIES[(i + 1) % INDUSTRIES.len()]),
        ] {
            let view = w.actors[x]
                .replica
                .update_info(&t.id, &[(Field::Industry, v.to_owned())])
                .unwrap_or_else(|e| panic!("{ctx}: fill {} 行业类别 = {v}: {e:?}", t.short_name));
            assert_eq!(view.record.industry, v, "{ctx}");
            let line = format!(
                "{ctx}: [{}] {} Industry = {v:?} (race)",
                w.actors[x].name, t.short_name
            );
            w.note(line);
        }
    } else {
        w.fresh += 1;
        let name = format!("竞{}团支部", w.fresh);
        for x in [a, b] {
            w.actors[x]
                .replica
                .create_child(
                    &t.id,
                    &NewChild {
                        category: "团支部".into(),
                        short_name: name.clone(),
                        ..NewChild::default()
                    },
                )
                .unwrap_or_else(|e| panic!("{ctx}: create {name} under {}: {e:?}", t.short_name));
            w.figures.created += 1;
            let line = format!(
                "{ctx}: [{}] created {name:?} under {} (race)",
                w.actors[x].name, t.short_name
            );
            w.note(line);
        }
    }
}

/// Register the town admin with an unused code a district issued for one of its towns.
fn register_town(w: &mut World, district: u8, ctx: &str) {
    if w.town_registered {
        w.skip(ctx, "the town admin is registered already");
        return;
    }
    let issuer = if district.is_multiple_of(2) {
        JINJIANG
    } else {
        QINGYANG
    };
    let orgs = server_orgs(&w.server);
    let now = OffsetDateTime::now_utc().unix_timestamp();
    let candidates = |orgs: &BTreeMap<String, ServerOrg>| -> Vec<(String, String)> {
        orgs.iter()
            .filter(|(_, o)| !o.deleted && o.level == 5 && o.parent == issuer)
            .flat_map(|(id, o)| {
                o.record
                    .codes
                    .iter()
                    .filter(|(_, c)| c.issued_by == issuer && c.expires_at > now)
                    .map(|(code, _)| (code.clone(), id.clone()))
                    .collect::<Vec<_>>()
            })
            .collect()
    };
    let mut found = candidates(&orgs).first().cloned();
    if found.is_none() {
        // The district issues a code for one of its towns the server holds, and syncs.
        let Some(town) = orgs
            .iter()
            .find(|(_, o)| !o.deleted && o.level == 5 && o.parent == issuer)
            .map(|(id, _)| id.clone())
        else {
            w.skip(ctx, "the district has no town on the server");
            return;
        };
        let d = if issuer == JINJIANG { 1 } else { 2 };
        if w.actors[d].replica.org(&town).is_err() {
            sync(w, d, None, &format!("{ctx}: the district pulls its town"));
        }
        let live_town = w.actors[d]
            .replica
            .org(&town)
            .is_ok_and(|v| !v.record.deleted);
        if !live_town {
            w.skip(ctx, "the town is deleted in the district's replica");
            return;
        }
        let c = w.actors[d]
            .replica
            .issue_code(&town, OffsetDateTime::now_utc())
            .unwrap_or_else(|e| panic!("{ctx}: issue the town's code: {e:?}"));
        w.note(format!("{ctx}: the district issues {} for {town}", c.code));
        sync(w, d, None, &format!("{ctx}: the district syncs its code"));
        found = candidates(&server_orgs(&w.server)).first().cloned();
    }
    let Some((code, town)) = found else {
        w.skip(ctx, "no code for a town on the server");
        return;
    };
    let remote = Remote::new(&w.server.url).unwrap();
    register(&remote, &code, &town, 4)
        .unwrap_or_else(|e| panic!("{ctx}: register the town admin of {town}: {e:?}"));
    let mut actor = login(&w.server, "镇", 4);
    assert_eq!(actor.org, town);
    if let Some(p) = &w.second {
        actor.remote = Remote::new(&p.url).unwrap();
    }
    w.note(format!(
        "{ctx}: town admin of {town} registered with {code}"
    ));
    w.actors.push(actor);
    w.town_registered = true;
    w.figures.towns_registered += 1;
}

// ------------------------------------------------------------------------ the end

/// A refusal still shown at the end must be true of the server's state.
/// A hostile push (see [`Op::Hostile`]): refused whatever it is, the feed unmoved.
fn hostile(w: &mut World, a: usize, org_sel: u16, kind: u8, ctx: &str) {
    use client_core::protocol::{DocOutcome, PushDoc, PushRequest};
    let orgs = server_orgs(&w.server);
    let own = w.actors[a].org.clone();
    let mine: Vec<String> = {
        let mut ids: Vec<String> = subtree(&orgs, &own)
            .into_iter()
            .filter(|id| !orgs[id].deleted)
            .collect();
        ids.sort();
        ids
    };
    let Some(id) = pick(&mine, org_sel) else {
        return w.skip(ctx, "nothing in the subtree");
    };
    let target = &orgs[&id];
    let mut d = AutoCommit::load(&target.bytes)
        .unwrap()
        .with_actor(automerge::ActorId::random());
    let heads = d.get_heads();
    let before = doc::read(&d);
    let mut after = before.clone();
    let now = OffsetDateTime::now_utc().unix_timestamp();
    // A new child, written whole, under the target.
    let child = |level: u8, category: &str, name: &str| {
        let rec = OrgRecord {
            schema: schemas::org::SCHEMA_VERSION,
            id: format!("org-hostile-{}", rand::random::<u64>()),
            parent: id.clone(),
            level,
            category: category.into(),
            short_name: name.into(),
            ..OrgRecord::default()
        };
        let mut g = doc::genesis(&rec, automerge::ActorId::random(), now).unwrap();
        PushDoc {
            id: rec.id.clone(),
            changes: g.save_nocompress(),
        }
    };
    let (rule, pushed) = match kind % 8 {
        1 => {
            after.secretary_id_number = "510104199001011231".into();
            ("id_number.checksum", None)
        }
        2 if !before.short_name.is_empty() => {
            after.short_name = format!("{}改", before.short_name);
            ("immutable.changed", None)
        }
        3 => {
            after.level = before.level.saturating_add(1);
            ("tree.moved", None)
        }
        4 if id != own => {
            let issued = fresh_code();
            after.codes.insert(
                issued,
                schemas::org::CodeRecord {
                    issued_at: now,
                    expires_at: now + 30 * 86_400,
                    issued_by: own.clone(),
                },
            );
            ("code.validity", None)
        }
        5 if target.category == "团支部" => (
            "category.not_allowed",
            Some(child(target.level + 1, "团支部", "某某第一团支部")),
        ),
        5 => (
            "short_name.suffix_mismatch",
            Some(child(target.level + 1, "团委", "名称不对团支部")),
        ),
        6 => (
            "tree.level",
            Some(child(target.level + 2, "团支部", "层级不对团支部")),
        ),
        7 => (
            "doc.foreign_history",
            Some({
                let mut g = doc::genesis(&before, automerge::ActorId::random(), now).unwrap();
                PushDoc {
                    id: id.clone(),
                    changes: g.save_nocompress(),
                }
            }),
        ),
        _ => {
            after.phone = "12345".into();
            ("phone.format", None)
        }
    };
    let pushed = pushed.unwrap_or_else(|| {
        assert!(doc::write(&mut d, &before, &after, now).unwrap());
        PushDoc {
            id: id.clone(),
            changes: d.save_after(&heads),
        }
    });
    let feed = w.server.state.store.read(|c| c.max_seq()).unwrap();
    let token = client_core::supervise::token(&w.actors[a].replica).unwrap();
    let resp = w.actors[a]
        .remote
        .push(
            &token,
            &PushRequest {
                version: 2,
                docs: vec![pushed],
                cursor: 0,
            },
        )
        .unwrap_or_else(|e| panic!("{ctx}: a hostile push failed instead of being judged: {e}"));
    match &resp.results[0].outcome {
        DocOutcome::Rejected { violations } => {
            assert!(
                violations.iter().any(|v| v.code == rule) || !strict(),
                "{ctx}: hostile {rule} on {id} refused for {:?}",
                codes(violations)
            );
            // Every refusal comes with its reasons; which one the merge names first can
            // depend on the state (a move is also a permission matter for the unit itself).
            *w.figures.hostile_refused.entry(rule).or_default() += 1;
        }
        o => panic!("{ctx}: hostile {rule} on {id} was not refused: {o:?}"),
    }
    let after_feed = w.server.state.store.read(|c| c.max_seq()).unwrap();
    assert_eq!(
        feed, after_feed,
        "{ctx}: a refused hostile push moved the feed"
    );
    w.note(format!("{ctx}: hostile {rule} on {id} refused"));
}

/// A registration code no one holds.
fn fresh_code() -> String {
    schemas::RegistrationCode::generate(&mut rand::rng())
        .as_str()
        .to_owned()
}

fn justified(orgs: &BTreeMap<String, ServerOrg>, rec: &OrgRecord, v: &Violation) -> bool {
    let server = orgs.get(&rec.id);
    let parent = orgs.get(&rec.parent);
    match v.code.as_str() {
        "short_name.duplicate" => orgs.iter().any(|(id, o)| {
            *id != rec.id
                && o.parent == rec.parent
                && !o.deleted
                && o.name_key == name_key(&rec.short_name)
        }),
        "tree.parent_deleted" => parent.is_some_and(|p| p.deleted),
        "tree.parent_missing" => parent.is_none(),
        "delete.has_children" => server.is_some_and(|s| s.live_children > 0),
        "delete.has_admin" => server.is_some_and(|s| s.admin_count > 0),
        _ => false,
    }
}

fn finish(w: &mut World) {
    let ctx = "end";
    // Everyone learns what the server refuses, and corrects what can be corrected.
    for a in 0..w.actors.len() {
        sync(w, a, None, &format!("{ctx}: sync before corrections"));
    }
    for a in 0..w.actors.len() {
        let ids: Vec<String> = w.refused[a].keys().cloned().collect();
        for id in ids {
            correct(w, a, &id, ctx);
        }
    }
    // Everyone syncs twice, without interruption.
    for round in 1..=2 {
        for a in 0..w.actors.len() {
            sync(w, a, None, &format!("{ctx}: final sync {round}"));
        }
    }
    let orgs = check_server(w, ctx);
    for (a, actor) in w.actors.iter().enumerate() {
        let ctx = format!("{ctx} [{}]", actor.name);
        let local = local_docs(actor.replica.path());
        let mine = subtree(&orgs, &actor.org);
        let refused = &w.refused[a];
        for id in &mine {
            assert!(local.contains_key(id), "{ctx}: {id} on the server only");
        }
        for (id, l) in &local {
            match refused.get(id) {
                None => {
                    let s = orgs
                        .get(id)
                        .unwrap_or_else(|| panic!("{ctx}: {id} on the replica only"));
                    assert!(mine.contains(id), "{ctx}: {id} outside the subtree");
                    assert_eq!(&l.record, &s.record, "{ctx}: {id} differs from the server");
                    assert!(!l.dirty, "{ctx}: {id} still pending");
                }
                Some(r) => {
                    for v in &r.violations {
                        assert!(
                            justified(&orgs, &l.record, v),
                            "{ctx}: {id} ({}) still refused with {} ({}), which the server's state does not justify",
                            l.record.short_name,
                            v.code,
                            v.message
                        );
                    }
                }
            }
        }
    }
}

// ------------------------------------------------------------------------ the test

fn env_num(key: &str, default: u32) -> u32 {
    std::env::var(key)
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(default)
}

/// The figures of every case that passed, added up (asserted at the end of the run).
static TOTALS: std::sync::Mutex<Option<Totals>> = std::sync::Mutex::new(None);

#[derive(Debug, Default, Clone)]
struct Totals {
    syncs_cut: usize,
    server_refusals: usize,
    resolved_immutables: usize,
    hostile_refused: usize,
    hostile_rules: BTreeSet<&'static str>,
}

/// The log of the last failing case: proptest's last failure is its smallest.
static LAST_FAILURE: std::sync::Mutex<String> = std::sync::Mutex::new(String::new());

fn run_case(ops: &[Option<Op>]) {
    let started = Instant::now();
    let mut w = World::new();
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        check_all(&mut w, None, "start");
        for (i, op) in ops.iter().enumerate() {
            if let Some(op) = op {
                w.figures.steps += 1;
                run_op(&mut w, op, i + 1);
            }
        }
        finish(&mut w);
    }));
    if let Err(e) = outcome {
        *LAST_FAILURE.lock().unwrap_or_else(|p| p.into_inner()) = w.log.clone();
        std::panic::resume_unwind(e);
    }
    if std::env::var("ZHTJ_MODEL_LOG").is_ok_and(|v| v == "1") {
        println!("{}", w.log);
    }
    {
        let mut t = TOTALS.lock().unwrap_or_else(|p| p.into_inner());
        let t = t.get_or_insert_with(Totals::default);
        t.syncs_cut += w.figures.syncs_cut;
        t.server_refusals += w.figures.server_refusals.values().sum::<usize>();
        t.resolved_immutables += w.figures.resolved_immutables;
        t.hostile_refused += w.figures.hostile_refused.values().sum::<usize>();
        t.hostile_rules
            .extend(w.figures.hostile_refused.keys().copied());
    }
    println!(
        "case: {} steps in {:.1} s, {} actors: {:?}",
        w.figures.steps,
        started.elapsed().as_secs_f64(),
        w.actors.len(),
        w.figures
    );
}

#[test]
fn the_system_keeps_its_invariants_under_random_operations_and_interruptions() {
    let cases = env_num("ZHTJ_MODEL_CASES", 8);
    let steps = env_num("ZHTJ_MODEL_STEPS", 30) as usize;
    let shrink = env_num("ZHTJ_MODEL_SHRINK", steps as u32 + 10);
    let mut config = Config::with_cases(cases);
    // A fixed seed, so that CI runs the same cases and can assert what they reach; a new
    // one with ZHTJ_MODEL_SEED=random, or any given by PROPTEST_RNG_SEED (printed on
    // failure to replay it).
    let random = std::env::var("ZHTJ_MODEL_SEED").is_ok_and(|v| v == "random");
    let seed = match config.rng_seed {
        RngSeed::Fixed(s) => s,
        RngSeed::Random if random => rand::random(),
        RngSeed::Random => FIXED_SEED,
    };
    config.rng_seed = RngSeed::Fixed(seed);
    config.max_shrink_iters = shrink;
    config.failure_persistence = Some(Box::new(FileFailurePersistence::Off));
    let mut runner = TestRunner::new(config);
    let started = Instant::now();
    // Fixed length; a step shrinks only to `None` (left out): one pass over the steps leaves
    // those that matter, without spending the shrink budget on selector values.
    let strategy = prop::collection::vec(
        prop::option::weighted(0.999, op_strategy().no_shrink()),
        steps..=steps,
    );
    let result = runner.run(&strategy, |ops| {
        run_case(&ops);
        Ok(())
    });
    println!(
        "model: {cases} cases of {steps} steps in {:.1} s (PROPTEST_RNG_SEED={seed})",
        started.elapsed().as_secs_f64()
    );
    if let Err(e) = &result {
        let log = LAST_FAILURE
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        panic!(
            "{e}\n\nreplay: PROPTEST_RNG_SEED={seed} ZHTJ_MODEL_CASES={cases} ZHTJ_MODEL_STEPS={steps}\n\nlog of the smallest failing case:\n{log}"
        );
    }
    let totals = TOTALS
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clone()
        .unwrap_or_default();
    println!("model totals: {totals:?}");
    // What the run must reach to have tested anything: with the fixed seed and the CI
    // size, each of these (measured: see docs/reliability.md) is well above its floor.
    if seed == FIXED_SEED && cases >= 8 && steps >= 30 {
        assert!(totals.syncs_cut >= 3, "too few cut syncs: {totals:?}");
        assert!(
            totals.server_refusals >= 3,
            "too few server refusals: {totals:?}"
        );
        assert!(
            totals.resolved_immutables >= 1,
            "no immutable conflict resolved: {totals:?}"
        );
        assert!(
            totals.hostile_refused >= 5,
            "too few hostile pushes: {totals:?}"
        );
        assert!(
            totals.hostile_rules.len() >= 4,
            "too few hostile rules: {totals:?}"
        );
    }
}

/// The seed CI runs (`ZHTJ_MODEL_SEED=random` for a new one).
const FIXED_SEED: u64 = 20_261_205;

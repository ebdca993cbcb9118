//! The server's push path: decode a body, then the validating merge. Must never panic;
//! errors and rejections are fine.
//!
//! 1. The input is decoded as a push body (`protocol::decode::<PushRequest>`, and as a
//!    pull body); a body that decodes is merged as it is.
//! 2. Otherwise the input is read as a structured push (`arbitrary`): for each document,
//!    either arbitrary bytes as the changes of a known organization, or real Automerge
//!    changes (arbitrary puts and deletes of keys, values of every type, registration
//!    codes) on top of a known organization's stored document, or a new organization
//!    (genesis under a known parent, or under one created earlier in the same push). The
//!    push is judged for the admin of one of the pre-initialized organizations.
//!
//! The merge catches Automerge's panics on malformed changes (a known upstream bug, see
//! README.md), so only a panic that escapes `merge::push` is a crash (`panics.rs`).
//!
//! The store is the server's (`Store::open` on an in-memory database, `initialize_tree`),
//! created once; each run is one transaction that is rolled back, so runs are independent.
#![no_main]

use std::sync::OnceLock;

use arbitrary::{Arbitrary, Unstructured};
use automerge::transaction::{CommitOptions, Transactable};
use automerge::{ActorId, AutoCommit, ObjType, ROOT, ReadDoc, ScalarValue};
use client_core::doc;
use client_core::protocol::{self, PullRequest, PushDoc, PushRequest};
use libfuzzer_sys::fuzz_target;
use schemas::org::{CodeRecord, OrgRecord};
use schemas::{Category, Field, Industry, Level};
use sync_server::identity::Actor;
use sync_server::merge;
use sync_server::storage::Store;

#[path = "panics.rs"]
mod panics;

/// A fixed "now" (2024-01-01T00:00:00Z) so runs are reproducible.
const NOW: i64 = 1_704_067_200;
/// Documents per push, at most (a real push has up to hundreds; a few exercise the order).
const MAX_DOCS: usize = 6;
/// Operations per document, at most.
const MAX_OPS: usize = 64;

struct Fixture {
    store: Store,
    /// The pre-initialized organizations, parents first.
    tree: Vec<Known>,
}

struct Known {
    id: String,
    path: String,
    level: u8,
    /// The stored document.
    bytes: Vec<u8>,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let store = Store::open(std::path::Path::new(":memory:")).expect("open the store");
        sync_server::operator::initialize_tree(&store).expect("initialize the tree");
        let tree = store
            .read(|c| {
                let mut out = Vec::new();
                for r in schemas::initial::initial_tree() {
                    let row = c.org(&r.id)?.expect("initialized");
                    let bytes = c.org_doc(&r.id)?.expect("initialized").bytes;
                    out.push(Known {
                        id: r.id,
                        path: row.path,
                        level: row.level,
                        bytes,
                    });
                }
                Ok(out)
            })
            .expect("read the tree");
        Fixture { store, tree }
    })
}

/// Realistic values, so that generated documents get past the first checks.
const WORDS: &[&str] = &[
    "",
    "团的领导机关",
    "团工委",
    "团委",
    "团总支",
    "团支部",
    "团锦江区委",
    "团成都市委",
    "团中央",
    "建国门街道团工委",
    "成都市第七中学团委",
    "锦江区实验学校团总支",
    "包装车间团支部",
    "计算机专业2017级3班团支部",
    "大雅宝社区团支部",
    "中国共产主义青年团成都市锦江区委员会",
    "中国共产主义青年团成都市第七中学委员会",
    "中国共产主义青年团",
    "028-86661234",
    "02886661234",
    "13800138000",
    "youth@example.cn",
    "11010519491231002X",
    "510104200001011234",
    "张三",
    "阿依古丽·买买提",
    "0",
    "12",
    "100001",
    "-1",
    "Ab3dE7fG",
    "23456789",
    "org-5101",
    "org-510104",
    "org-100000",
    "operator",
    "团ＡＢＣ委",
    "\u{200b}团委",
    " 团委 ",
];

#[derive(Debug, Arbitrary)]
enum Str {
    Word(u8),
    Industry(u8),
    Any(String),
}

impl Str {
    fn get(&self) -> String {
        match self {
            Str::Word(i) => WORDS[usize::from(*i) % WORDS.len()].to_owned(),
            Str::Industry(i) => Industry::ALL[usize::from(*i) % Industry::ALL.len()]
                .label()
                .to_owned(),
            Str::Any(s) => s.clone(),
        }
    }
}

const TREE_KEYS: [&str; 7] = ["schema", "id", "parent", "level", "sort_key", "deleted", "codes"];

#[derive(Debug, Arbitrary)]
enum Key {
    Tree(u8),
    Field(u8),
    Any(String),
}

impl Key {
    fn get(&self) -> String {
        match self {
            Key::Tree(i) => TREE_KEYS[usize::from(*i) % TREE_KEYS.len()].to_owned(),
            Key::Field(i) => Field::ALL[usize::from(*i) % Field::ALL.len()]
                .key()
                .to_owned(),
            Key::Any(s) => s.clone(),
        }
    }
}

#[derive(Debug, Arbitrary)]
enum Value {
    Str(Str),
    Int(i64),
    Uint(u64),
    Bool(bool),
    F64(f64),
    Null,
    Bytes(Vec<u8>),
    Counter(i64),
    Timestamp(i64),
    Map,
    List,
    Text(String),
}

#[derive(Debug, Arbitrary)]
enum Op {
    Put { key: Key, value: Value },
    Delete { key: Key },
    /// A code under `codes` (created if the document has none): as a replica issues one.
    PutCode {
        code: Str,
        issued_at: i32,
        validity: i32,
        issued_by: Str,
    },
    /// A key of an existing code's map.
    PutCodeField { code: Str, key: Str, value: Value },
    DeleteCode { code: Str },
    Commit,
}

#[derive(Debug, Arbitrary)]
enum DocInput {
    /// Arbitrary bytes as the changes of a known organization.
    Raw { target: u8, changes: Vec<u8> },
    /// Real changes on top of a known organization's stored document.
    Edit {
        target: u8,
        actor: u8,
        /// Send the whole document rather than the changes since the stored heads.
        whole: bool,
        ops: Vec<Op>,
    },
    /// A new organization, then edits.
    Create {
        /// A known organization, or (past the tree) one created earlier in this push.
        parent: u8,
        id: Str,
        /// The level, else the parent's plus one.
        level: Option<u8>,
        category: u8,
        short_name: Str,
        fields: Vec<(u8, Str)>,
        codes: Vec<(Str, i32, i32)>,
        deleted: bool,
        /// Keep only the changes after the genesis (the server then lacks history).
        tail_only: bool,
        ops: Vec<Op>,
    },
}

#[derive(Debug, Arbitrary)]
struct Push {
    /// Whose admin pushes: one of the pre-initialized organizations.
    actor: u8,
    now: i32,
    docs: Vec<DocInput>,
}

fn scalar(v: &Value) -> Option<ScalarValue> {
    Some(match v {
        Value::Str(s) => ScalarValue::Str(s.get().into()),
        Value::Int(i) => ScalarValue::Int(*i),
        Value::Uint(u) => ScalarValue::Uint(*u),
        Value::Bool(b) => ScalarValue::Boolean(*b),
        Value::F64(f) => ScalarValue::F64(*f),
        Value::Null => ScalarValue::Null,
        Value::Bytes(b) => ScalarValue::Bytes(b.clone()),
        Value::Counter(c) => ScalarValue::counter(*c),
        Value::Timestamp(t) => ScalarValue::Timestamp(*t),
        Value::Map | Value::List | Value::Text(_) => return None,
    })
}

fn put(d: &mut AutoCommit, obj: &automerge::ObjId, key: &str, v: &Value) {
    let _ = match (scalar(v), v) {
        (Some(s), _) => d.put(obj, key, s).map(drop),
        (None, Value::Map) => d.put_object(obj, key, ObjType::Map).map(drop),
        (None, Value::List) => d.put_object(obj, key, ObjType::List).map(drop),
        (None, Value::Text(t)) => d
            .put_object(obj, key, ObjType::Text)
            .and_then(|o| d.splice_text(&o, 0, 0, t)),
        (None, _) => Ok(()),
    };
}

fn codes_map(d: &mut AutoCommit) -> Option<automerge::ObjId> {
    match d.get(ROOT, "codes").ok()? {
        Some((automerge::Value::Object(ObjType::Map), id)) => Some(id),
        _ => d.put_object(ROOT, "codes", ObjType::Map).ok(),
    }
}

fn apply(d: &mut AutoCommit, ops: &[Op]) {
    for op in ops.iter().take(MAX_OPS) {
        match op {
            Op::Put { key, value } => put(d, &ROOT, &key.get(), value),
            Op::Delete { key } => {
                let _ = d.delete(ROOT, key.get().as_str());
            }
            Op::PutCode {
                code,
                issued_at,
                validity,
                issued_by,
            } => {
                if let Some(codes) = codes_map(d)
                    && let Ok(m) = d.put_object(&codes, code.get().as_str(), ObjType::Map)
                {
                    let at = NOW + i64::from(*issued_at);
                    let _ = d.put(&m, "issued_at", at);
                    let _ = d.put(&m, "expires_at", at + i64::from(*validity));
                    let _ = d.put(&m, "issued_by", issued_by.get());
                }
            }
            Op::PutCodeField { code, key, value } => {
                if let Some(codes) = codes_map(d)
                    && let Ok(Some((automerge::Value::Object(_), m))) =
                        d.get(&codes, code.get().as_str())
                {
                    put(d, &m, &key.get(), value);
                }
            }
            Op::DeleteCode { code } => {
                if let Some(codes) = codes_map(d) {
                    let _ = d.delete(&codes, code.get().as_str());
                }
            }
            Op::Commit => {
                d.commit_with(CommitOptions::default().with_time(0));
            }
        }
    }
    d.commit_with(CommitOptions::default().with_time(0));
}

/// The pushed documents a structured input describes.
fn build(f: &Fixture, push: &Push) -> Vec<PushDoc> {
    // (id, level) of the possible parents: the tree, then the documents created so far.
    let mut parents: Vec<(String, u8)> = f.tree.iter().map(|k| (k.id.clone(), k.level)).collect();
    let mut out = Vec::new();
    for (n, input) in push.docs.iter().take(MAX_DOCS).enumerate() {
        match input {
            DocInput::Raw { target, changes } => {
                let k = &f.tree[usize::from(*target) % f.tree.len()];
                out.push(PushDoc {
                    id: k.id.clone(),
                    changes: changes.clone(),
                });
            }
            DocInput::Edit {
                target,
                actor,
                whole,
                ops,
            } => {
                let k = &f.tree[usize::from(*target) % f.tree.len()];
                let Ok(d) = AutoCommit::load(&k.bytes) else {
                    continue;
                };
                let mut d = d.with_actor(ActorId::from([b'e', *actor]));
                let before = d.get_heads();
                apply(&mut d, ops);
                let changes = if *whole { d.save() } else { d.save_after(&before) };
                out.push(PushDoc {
                    id: k.id.clone(),
                    changes,
                });
            }
            DocInput::Create {
                parent,
                id,
                level,
                category,
                short_name,
                fields,
                codes,
                deleted,
                tail_only,
                ops,
            } => {
                let (parent_id, parent_level) = parents[usize::from(*parent) % parents.len()].clone();
                let id = match id.get() {
                    s if s.is_empty() => format!("org-fuzz-{n}"),
                    s => s,
                };
                let level = level.unwrap_or(parent_level.saturating_add(1));
                let mut r = OrgRecord::new(id.clone(), parent_id.clone(), Level::CENTRAL);
                r.level = level;
                r.deleted = *deleted;
                r.category = Category::ALL
                    .get(usize::from(*category))
                    .map_or_else(|| format!("类别{category}"), |c| c.label().to_owned());
                r.short_name = short_name.get();
                for (field, value) in fields {
                    let field = Field::ALL[usize::from(*field) % Field::ALL.len()];
                    if let Some(slot) = r.get_mut(field) {
                        *slot = value.get();
                    }
                }
                for (code, at, validity) in codes {
                    let at = NOW + i64::from(*at);
                    r.codes.insert(
                        code.get(),
                        CodeRecord {
                            issued_at: at,
                            expires_at: at + i64::from(*validity),
                            issued_by: parent_id.clone(),
                        },
                    );
                }
                let actor = ActorId::from(format!("fuzz-{n}").as_bytes());
                let Ok(mut d) = doc::genesis(&r, actor, 0) else {
                    continue;
                };
                let genesis_heads = d.get_heads();
                apply(&mut d, ops);
                let changes = if *tail_only {
                    d.save_after(&genesis_heads)
                } else {
                    d.save()
                };
                parents.push((id.clone(), level));
                out.push(PushDoc { id, changes });
            }
        }
    }
    out
}

/// `FUZZ_DEBUG=1`: print each push's outcome (to check what the seeds reach).
fn debug() -> bool {
    static DEBUG: OnceLock<bool> = OnceLock::new();
    *DEBUG.get_or_init(|| std::env::var_os("FUZZ_DEBUG").is_some())
}

fn run(f: &Fixture, actor: &Known, docs: &[PushDoc], now: i64) {
    let actor = Actor {
        account_id: 1,
        org_id: actor.id.clone(),
        org_path: actor.path.clone(),
    };
    // Errors (a stored document that no longer loads, SQLite) are answers, not crashes.
    // Rolled back: the next run sees the initial tree again.
    let outcome = f
        .store
        .rolled_back(|tx| merge::push(tx, &actor, docs, now))
        .expect("begin");
    if debug() {
        eprintln!("push by {}: {outcome:?}", actor.org_id);
    }
}

fuzz_target!(|data: &[u8]| panics::run(|| one(data)));

fn one(data: &[u8]) {
    let f = fixture();
    let _ = protocol::decode::<PullRequest>(data);
    if let Ok(req) = protocol::decode::<PushRequest>(data) {
        // A body that decodes is pushed as it is, by 团成都市委's admin.
        let docs: Vec<PushDoc> = req.docs.into_iter().take(MAX_DOCS).collect();
        let city = &f.tree[2];
        run(f, city, &docs, NOW);
        return;
    }
    let Ok(push) = Push::arbitrary_take_rest(Unstructured::new(data)) else {
        return;
    };
    let actor = &f.tree[usize::from(push.actor) % f.tree.len()];
    let docs = build(f, &push);
    run(f, actor, &docs, NOW + i64::from(push.now));
}

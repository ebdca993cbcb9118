//! The change history of one organization (issue 13): from its Automerge document, every
//! change of a field (old value → new value, when), who made it (the author record the
//! server kept when it accepted the change: organization, role, masked name), whether it
//! was made offline and synced later, and, for two units writing one field concurrently,
//! which value lost and to which value and unit.
//!
//! Shared by the replica (`zhtj history`, the sync report's "your value was overwritten")
//! and the server (`GET /api/v1/history`), so both tell the same history.
//!
//! Concurrency is read from the document's own graph of changes and operations: each write
//! of a field names the writes it replaced (its `pred`). Two writes X and Y of one field
//! are concurrent when neither change is an ancestor of the other. Once both are merged,
//! Automerge shows the write with the greater operation id (counter, then actor) and keeps
//! the other as a conflict: X *lost* to Y when they are concurrent, Y is greater, and
//! neither was replaced within its own branch before the two met (a replacement that did
//! not know the other side is concurrent with it too). The value shown is the greatest of
//! the writes X lost to.

use std::collections::{BTreeSet, HashMap};

use automerge::legacy::{Key, ObjectId, OpId, OpType};
use automerge::{ActorId, AutoCommit, ChangeHash, ScalarValue};
use schemas::Field;
use serde::{Deserialize, Serialize};

use crate::heads::hex;

/// A change received by the server more than this long after it was made was made
/// offline (or on a replica that could not sync) and synced later [inferred: a sync takes
/// seconds; ten minutes leaves room for a slow line and a clock a few minutes off].
pub const OFFLINE_SECONDS: i64 = 10 * 60;

/// An administrator as supervisors see them: the organization, the 团内职务 and the name
/// masked (张*). The server's record of who pushed a change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Author {
    pub org_id: String,
    pub org_short_name: String,
    /// 团内职务 (书记, 组织委员…).
    pub role: String,
    /// The name, masked (张*).
    pub name: String,
}

impl Author {
    /// "团锦江区委 书记 李*".
    pub fn describe(&self) -> String {
        format!("{} {} {}", self.org_short_name, self.role, self.name)
    }
}

/// The server's record of one accepted change: who pushed it, and when it arrived.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorRecord {
    pub author: Author,
    /// Unix seconds (server clock).
    pub received_at: i64,
}

/// Who wrote a change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Writer {
    /// An administrator, as the server recorded the push.
    Admin(Author),
    /// This replica; the server has not confirmed it yet.
    Local,
    /// The pre-initialized tree (rules.md §1).
    Preset,
    /// The server's operator (核对 of a pre-initialized name or order).
    Operator,
    /// Not recorded (accepted before the server kept author records).
    Unknown,
}

impl Writer {
    /// In Chinese, for lists.
    pub fn describe(&self) -> String {
        match self {
            Writer::Admin(a) => a.describe(),
            Writer::Local => "本机(尚未同步到服务器)".to_owned(),
            Writer::Preset => "系统预置".to_owned(),
            Writer::Operator => "服务器管理员".to_owned(),
            Writer::Unknown => "(未记录)".to_owned(),
        }
    }
}

/// What a change did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// The organization was created (its first change).
    Created,
    /// A field of its information was set.
    Field,
    /// Its position among its siblings changed (上移 / 下移).
    Reordered,
    /// It was deleted.
    Deleted,
    /// A registration code was issued for it (the code itself is not shown).
    CodeIssued,
}

/// The value a write lost to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Overwrite {
    /// The value shown instead.
    pub value: String,
    pub by: Writer,
    /// Unix seconds the winning change was made.
    pub at: i64,
    /// The winning change (hex).
    pub change: String,
}

/// One line of the history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    pub kind: Kind,
    /// The field set ([`Kind::Field`]).
    pub field: Option<Field>,
    /// The value before (empty: not filled); for concurrent writes seen at once, the one
    /// that was shown.
    pub old: String,
    /// The value written (for [`Kind::Created`]: the short name; [`Kind::CodeIssued`]: the
    /// code masked).
    pub new: String,
    /// Unix seconds the change was made (the writing replica's clock; 0 for the
    /// pre-initialized tree).
    pub at: i64,
    /// Unix seconds the server received it; `None` when the server has not (or did not
    /// record it).
    pub received_at: Option<i64>,
    /// Made offline and synced later ([`OFFLINE_SECONDS`]).
    pub offline: bool,
    pub by: Writer,
    /// Written on this replica.
    pub mine: bool,
    /// This write lost to a concurrent one.
    pub overwritten: Option<Overwrite>,
    /// The change (hex of its hash).
    pub change: String,
}

/// A write of one map key, for the analysis.
struct Write {
    change: usize,
    id: OpId,
    pred: Vec<OpId>,
    value: String,
    entry: usize,
}

fn display(v: &ScalarValue) -> String {
    match v {
        ScalarValue::Str(s) => s.to_string(),
        ScalarValue::Int(i) => i.to_string(),
        ScalarValue::Uint(u) => u.to_string(),
        ScalarValue::Boolean(b) => b.to_string(),
        ScalarValue::Null => String::new(),
        other => format!("{other:?}"),
    }
}

/// The changes of `doc` in an order every replica agrees on: causal (a change after the
/// ones it depends on), ties by time, then hash.
fn ordered(doc: &mut AutoCommit) -> Vec<automerge::Change> {
    let changes = doc.get_changes(&[]);
    let index: HashMap<ChangeHash, usize> = changes
        .iter()
        .enumerate()
        .map(|(i, c)| (c.hash(), i))
        .collect();
    let mut waiting: Vec<usize> = changes
        .iter()
        .map(|c| c.deps().iter().filter(|d| index.contains_key(d)).count())
        .collect();
    let mut children: Vec<Vec<usize>> = vec![Vec::new(); changes.len()];
    for (i, c) in changes.iter().enumerate() {
        for d in c.deps() {
            if let Some(&p) = index.get(d) {
                children[p].push(i);
            }
        }
    }
    let key = |i: usize| (changes[i].timestamp(), changes[i].hash(), i);
    let mut ready: BTreeSet<(i64, ChangeHash, usize)> = (0..changes.len())
        .filter(|&i| waiting[i] == 0)
        .map(key)
        .collect();
    let mut order = Vec::with_capacity(changes.len());
    while let Some(first) = ready.pop_first() {
        let i = first.2;
        order.push(i);
        for &k in &children[i] {
            waiting[k] -= 1;
            if waiting[k] == 0 {
                ready.insert(key(k));
            }
        }
    }
    let mut slots: Vec<Option<automerge::Change>> = changes.into_iter().map(Some).collect();
    order.into_iter().filter_map(|i| slots[i].take()).collect()
}

/// The history of the organization `doc` holds, oldest first. `authors` gives the server's
/// record of a change (by hash), if any; `local` is this replica's actor (its changes the
/// server has not recorded are [`Writer::Local`]).
pub fn history(
    doc: &mut AutoCommit,
    authors: &dyn Fn(&ChangeHash) -> Option<AuthorRecord>,
    local: Option<&ActorId>,
) -> Vec<Entry> {
    let changes = ordered(doc);
    let position: HashMap<ChangeHash, usize> = changes
        .iter()
        .enumerate()
        .map(|(i, c)| (c.hash(), i))
        .collect();
    // Ancestors of each change, as bit sets over positions (deps come first).
    let words = changes.len().div_ceil(64);
    let mut ancestors: Vec<Vec<u64>> = Vec::with_capacity(changes.len());
    for c in &changes {
        let mut set = vec![0u64; words];
        for d in c.deps() {
            if let Some(&p) = position.get(d) {
                set[p / 64] |= 1 << (p % 64);
                for (w, a) in set.iter_mut().zip(&ancestors[p]) {
                    *w |= a;
                }
            }
        }
        ancestors.push(set);
    }
    let before = |a: usize, b: usize| ancestors[b][a / 64] & (1 << (a % 64)) != 0;

    let mut entries: Vec<Entry> = Vec::new();
    // Writes per key: the root's field keys, and the codes map ("codes" itself).
    let mut writes: HashMap<String, Vec<Write>> = HashMap::new();
    let mut codes_maps: Vec<OpId> = Vec::new();
    for (ci, change) in changes.iter().enumerate() {
        let hash = change.hash();
        let record = authors(&hash);
        let actor = change.actor_id();
        let mine = local == Some(actor);
        let by = match &record {
            Some(r) => Writer::Admin(r.author.clone()),
            None if mine => Writer::Local,
            None if actor.to_bytes().starts_with(b"init:") => Writer::Preset,
            None if actor.to_bytes() == b"operator" => Writer::Operator,
            None => Writer::Unknown,
        };
        let at = change.timestamp();
        let received_at = record.as_ref().map(|r| r.received_at);
        let base = Entry {
            kind: Kind::Field,
            field: None,
            old: String::new(),
            new: String::new(),
            at,
            received_at,
            offline: received_at.is_some_and(|r| r - at > OFFLINE_SECONDS),
            by,
            mine,
            overwritten: None,
            change: hex(&hash),
        };
        let genesis = change.deps().is_empty();
        let expanded = change.decode();
        if genesis {
            let name = expanded
                .operations
                .iter()
                .find_map(|op| match (&op.obj, &op.key, &op.action) {
                    (ObjectId::Root, Key::Map(k), OpType::Put(v)) if k == "short_name" => {
                        Some(display(v))
                    }
                    _ => None,
                })
                .unwrap_or_default();
            entries.push(Entry {
                kind: Kind::Created,
                new: name,
                ..base.clone()
            });
        }
        let start = expanded.start_op.get();
        for (i, op) in expanded.operations.iter().enumerate() {
            let id = OpId(start + i as u64, actor.clone());
            match (&op.obj, &op.key, &op.action) {
                (ObjectId::Root, Key::Map(k), OpType::Make(_)) if k == "codes" => {
                    codes_maps.push(id);
                }
                (ObjectId::Id(obj), Key::Map(code), OpType::Make(_))
                    if codes_maps.contains(obj) =>
                {
                    let masked = schemas::RegistrationCode::parse(code)
                        .map(|c| c.masked())
                        .unwrap_or_default();
                    entries.push(Entry {
                        kind: Kind::CodeIssued,
                        field: Some(Field::Codes),
                        new: masked,
                        ..base.clone()
                    });
                }
                (ObjectId::Root, Key::Map(k), OpType::Put(v)) => {
                    let value = display(v);
                    let kind = match k.as_str() {
                        "deleted" if value == "true" && !genesis => Kind::Deleted,
                        "sort_key" if !genesis => Kind::Reordered,
                        key if Field::from_key(key)
                            .is_some_and(|f| schemas::org::INFO_FIELDS.contains(&f)) =>
                        {
                            Kind::Field
                        }
                        _ => continue,
                    };
                    let field = Field::from_key(k);
                    let pred: Vec<OpId> = op.pred.iter().cloned().collect();
                    let list = writes.entry(k.to_string()).or_default();
                    // The value shown before: the greatest of the writes replaced.
                    let old = list
                        .iter()
                        .filter(|w| pred.contains(&w.id))
                        .max_by(|a, b| a.id.cmp(&b.id))
                        .map(|w| w.value.clone())
                        .unwrap_or_default();
                    // The genesis fills every field, mostly with nothing: only values count.
                    let shown = !genesis || (kind == Kind::Field && !value.is_empty());
                    let entry = if shown {
                        entries.push(Entry {
                            kind,
                            field: field.filter(|_| kind == Kind::Field),
                            old,
                            new: value.clone(),
                            ..base.clone()
                        });
                        entries.len() - 1
                    } else {
                        usize::MAX
                    };
                    list.push(Write {
                        change: ci,
                        id,
                        pred,
                        value,
                        entry,
                    });
                }
                _ => {}
            }
        }
    }

    // Concurrent writes of one field: which lost, and to what.
    for list in writes.values() {
        let concurrent = |a: &Write, b: &Write| {
            a.change != b.change && !before(a.change, b.change) && !before(b.change, a.change)
        };
        // Replaced within its own branch, before meeting `other`.
        let replaced_apart = |w: &Write, other: &Write| {
            list.iter()
                .any(|z| z.pred.contains(&w.id) && concurrent(z, other))
        };
        for x in list.iter().filter(|x| x.entry != usize::MAX) {
            let winner = list
                .iter()
                .filter(|y| {
                    y.id > x.id
                        && concurrent(x, y)
                        && !replaced_apart(x, y)
                        && !replaced_apart(y, x)
                })
                .max_by(|a, b| a.id.cmp(&b.id));
            if let Some(y) = winner
                && y.value != x.value
            {
                let c = &changes[y.change];
                let by = match authors(&c.hash()) {
                    Some(r) => Writer::Admin(r.author),
                    None if local == Some(c.actor_id()) => Writer::Local,
                    None => Writer::Unknown,
                };
                entries[x.entry].overwritten = Some(Overwrite {
                    value: y.value.clone(),
                    by,
                    at: c.timestamp(),
                    change: hex(&c.hash()),
                });
            }
        }
    }
    entries
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::doc;
    use schemas::Level;
    use schemas::org::OrgRecord;

    fn record() -> OrgRecord {
        let mut r = OrgRecord::new("org-1", "parent-1", Level::TOWNSHIP);
        r.category = "团工委".into();
        r.short_name = "春熙路街道团工委".into();
        r
    }

    fn actor(n: u8) -> ActorId {
        ActorId::from(vec![n; 16])
    }

    fn set(d: &mut AutoCommit, f: Field, v: &str, time: i64) {
        let before = doc::read(d);
        let mut after = before.clone();
        *after.get_mut(f).unwrap() = v.to_owned();
        doc::write(d, &before, &after, time).unwrap();
    }

    fn none(_: &ChangeHash) -> Option<AuthorRecord> {
        None
    }

    fn phones(entries: &[Entry]) -> Vec<&Entry> {
        entries
            .iter()
            .filter(|e| e.field == Some(Field::Phone))
            .collect()
    }

    #[test]
    fn sequential_edits_show_old_and_new_values() {
        let mut d = doc::genesis(&record(), actor(1), 100).unwrap();
        set(&mut d, Field::Phone, "028-61310936", 200);
        set(&mut d, Field::Phone, "028-86666666", 300);
        let h = history(&mut d, &none, Some(&actor(1)));
        assert_eq!(h[0].kind, Kind::Created);
        assert_eq!(h[0].new, "春熙路街道团工委");
        let p = phones(&h);
        assert_eq!(p.len(), 2);
        assert_eq!((p[0].old.as_str(), p[0].new.as_str()), ("", "028-61310936"));
        assert_eq!(
            (p[1].old.as_str(), p[1].new.as_str()),
            ("028-61310936", "028-86666666")
        );
        assert!(p.iter().all(|e| e.mine && e.by == Writer::Local));
        assert!(p.iter().all(|e| e.overwritten.is_none()));
    }

    #[test]
    fn the_losing_concurrent_write_is_marked_with_the_winner() {
        let mut base = doc::genesis(&record(), actor(1), 100).unwrap();
        let mut a = base.fork().with_actor(actor(2));
        let mut b = base.fork().with_actor(actor(3));
        set(&mut a, Field::Phone, "028-11111111", 200);
        set(&mut b, Field::Phone, "028-22222222", 210);
        a.merge(&mut b).unwrap();
        let shown = doc::read(&a).phone;
        let h = history(&mut a, &none, Some(&actor(2)));
        let p = phones(&h);
        assert_eq!(p.len(), 2, "both values stay in the history");
        let (lost, won): (Vec<&&Entry>, Vec<&&Entry>) =
            p.iter().partition(|e| e.overwritten.is_some());
        assert_eq!((lost.len(), won.len()), (1, 1));
        assert_eq!(won[0].new, shown, "the winner is what the document shows");
        let o = lost[0].overwritten.as_ref().unwrap();
        assert_eq!(o.value, shown);
        assert_eq!(o.change, won[0].change);
        // Every replica tells the same history.
        let mut b2 = b.fork();
        b2.merge(&mut a).unwrap();
        let h2 = history(&mut b2, &none, None);
        let strip = |h: &[Entry]| {
            h.iter()
                .map(|e| (e.change.clone(), e.new.clone(), e.overwritten.clone()))
                .collect::<Vec<_>>()
        };
        assert_eq!(strip(&h), strip(&h2));
    }

    #[test]
    fn a_write_replaced_in_its_own_branch_did_not_lose() {
        let mut base = doc::genesis(&record(), actor(1), 100).unwrap();
        let mut a = base.fork().with_actor(actor(9));
        let mut b = base.fork().with_actor(actor(2));
        // a writes twice before meeting b; b once. Only a's last write competes with b's.
        set(&mut a, Field::Phone, "028-11111111", 200);
        set(&mut a, Field::Phone, "028-33333333", 210);
        set(&mut b, Field::Phone, "028-22222222", 205);
        a.merge(&mut b).unwrap();
        let shown = doc::read(&a).phone;
        let h = history(&mut a, &none, None);
        let p = phones(&h);
        let first = p.iter().find(|e| e.new == "028-11111111").unwrap();
        assert!(first.overwritten.is_none(), "replaced by its own author");
        let lost: Vec<_> = p.iter().filter(|e| e.overwritten.is_some()).collect();
        assert_eq!(lost.len(), 1);
        assert_ne!(lost[0].new, shown);
        assert_eq!(lost[0].overwritten.as_ref().unwrap().value, shown);
        // A later edit that saw both replaces them; the loss stays in the history.
        set(&mut a, Field::Phone, "028-44444444", 300);
        let h = history(&mut a, &none, None);
        let p = phones(&h);
        assert_eq!(p.last().unwrap().new, "028-44444444");
        assert_eq!(p.last().unwrap().old, shown);
        assert_eq!(p.iter().filter(|e| e.overwritten.is_some()).count(), 1);
    }

    #[test]
    fn authors_received_late_are_offline() {
        let mut d = doc::genesis(&record(), actor(1), 100).unwrap();
        set(&mut d, Field::Email, "cx@example.cn", 1_000);
        set(&mut d, Field::Phone, "028-61310936", 5_000);
        let hashes: Vec<ChangeHash> = d.get_changes(&[]).iter().map(|c| c.hash()).collect();
        let author = Author {
            org_id: "org-1".into(),
            org_short_name: "春熙路街道团工委".into(),
            role: "书记".into(),
            name: "王*".into(),
        };
        let lookup = |h: &ChangeHash| {
            let i = hashes.iter().position(|x| x == h)?;
            Some(AuthorRecord {
                author: author.clone(),
                // The email change arrived 2 hours after it was made; the phone at once.
                received_at: if i == 1 { 1_000 + 7_200 } else { 5_010 },
            })
        };
        let h = history(&mut d, &lookup, None);
        let email = h.iter().find(|e| e.field == Some(Field::Email)).unwrap();
        let phone = h.iter().find(|e| e.field == Some(Field::Phone)).unwrap();
        assert!(email.offline && !phone.offline);
        assert_eq!(email.by.describe(), "春熙路街道团工委 书记 王*");
        assert_eq!(email.received_at, Some(8_200));
    }

    #[test]
    fn deletion_reorder_and_codes_are_listed_without_the_code() {
        let r = record();
        let mut d = doc::deterministic_genesis(&r).unwrap();
        let mut after = r.clone();
        after.sort_key = 5;
        doc::write(&mut d, &r, &after, 10).unwrap();
        let mut coded = after.clone();
        coded.codes.insert(
            "Ab3kP9xz".into(),
            schemas::org::CodeRecord {
                issued_at: 20,
                expires_at: 30,
                issued_by: "parent-1".into(),
            },
        );
        doc::write(&mut d, &after, &coded, 20).unwrap();
        let mut gone = coded.clone();
        gone.deleted = true;
        doc::write(&mut d, &coded, &gone, 30).unwrap();
        let h = history(&mut d, &none, None);
        let kinds: Vec<Kind> = h.iter().map(|e| e.kind).collect();
        // The values filled at creation are listed with it (the empty ones are not).
        assert_eq!(
            kinds,
            [
                Kind::Created,
                Kind::Field,
                Kind::Field,
                Kind::Reordered,
                Kind::CodeIssued,
                Kind::Deleted
            ]
        );
        assert_eq!(h[1].field, Some(Field::Category));
        assert_eq!(h[2].field, Some(Field::ShortName));
        assert!(h.iter().all(|e| e.by == Writer::Preset || e.at > 0));
        assert_eq!(h[0].by, Writer::Preset);
        assert_eq!(h[4].new, "Ab****xz");
    }
}

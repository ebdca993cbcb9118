//! The validating merge of pushed documents (design.md "Sync protocol"). Per document: apply
//! the pushed changes on a copy, refuse missing history (ask for the whole document),
//! then judge the resulting state: who may write it (the logged-in admin's org or an
//! ancestor, each changed field allowed for that relation), the `schemas` rules, the
//! cross-document rules (parent live, level, category under parent, sibling names unique,
//! codes unique and issued by ancestors) and size caps. A document is accepted or refused
//! as a whole; accepted ones are written in the caller's transaction.

use std::collections::HashMap;

use automerge::{AutoCommit, ChangeHash};
use schemas::code::{RegistrationCode, VALIDITY_DAYS};
use schemas::name::ChainLink;
use schemas::org::{self, Context, OrgRecord, Relation, SCHEMA_VERSION};
use schemas::tree;
use schemas::{Category, Field, Level, Violation};
use wire::chunk::has_foreign_chunk;
use wire::protocol::{DocOutcome, DocResult, PushDoc, PushResponse};
use wire::{doc, heads};

use crate::error::Result;
use crate::identity::Actor;
use crate::intake::{Incoming, MAX_DOC_BYTES, Push};
use crate::metrics::Metrics;
use crate::storage::{Accepted, Conn, Store, Tx};
use crate::{feed, history};

/// Judge and apply a batch of pushed documents in the transaction `tx`, in order (a parent
/// created in the same push comes before its children). Returns one result per document.
pub fn push(tx: &Tx<'_>, actor: &Actor, docs: &[PushDoc], now: i64) -> Result<Vec<DocResult>> {
    let mut chains = ChainCache::default();
    let mut recorded = Recorded::new();
    docs.iter()
        .map(|d| {
            let genesis = read_genesis(&d.changes);
            let outcome = judge(tx, actor, d, genesis, now, &mut chains, &mut recorded)?;
            Ok(DocResult {
                id: d.id.clone(),
                outcome,
            })
        })
        .collect()
}

/// The changes a push made the server accept, per document, and the feed entry that
/// accepted them: their author records were written with them (`crate::history`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedDoc {
    pub id: String,
    pub changes: Vec<ChangeHash>,
    /// The document's feed position after this push.
    pub seq: i64,
}

impl RecordedDoc {
    /// (document, its new changes).
    pub fn changes(&self) -> (&str, &[ChangeHash]) {
        (&self.id, &self.changes)
    }
}

/// What a push recorded, document by document.
pub type Recorded = Vec<RecordedDoc>;

/// The longest one transaction of a push holds the database's write lock: a push of
/// thousands of documents commits in parts, so other writers (logins, other units' pushes)
/// wait at most about this long. Each document is still accepted or refused as a whole,
/// and the answer is sent only once every part is committed.
pub const COMMIT_EVERY: std::time::Duration = std::time::Duration::from_millis(200);

/// Judge and apply a decoded push (`intake`), committing every [`COMMIT_EVERY`]. Returns
/// one result per document, and the changes accepted (their author records committed
/// with them).
pub fn push_in_parts(
    store: &Store,
    actor: &Actor,
    docs: &[Incoming],
    now: i64,
) -> Result<(Vec<DocResult>, Recorded)> {
    let geneses = read_geneses(docs);
    let mut results = Vec::with_capacity(docs.len());
    let mut recorded = Recorded::new();
    let mut rest = docs;
    while !rest.is_empty() {
        let started = std::time::Instant::now();
        let (part, part_recorded) = store.transaction(|tx| {
            // Read again if this transaction runs again (it lost a race, storage/pg.rs).
            let mut geneses = geneses[docs.len() - rest.len()..].iter().cloned();
            // Regions are cached for one transaction: between parts, another writer may
            // have renamed an ancestor.
            let mut chains = ChainCache::default();
            let mut part = Vec::new();
            let mut part_recorded = Recorded::new();
            for d in rest {
                let genesis = geneses.next().flatten();
                let outcome = match d {
                    Incoming::Doc(d) => {
                        judge(tx, actor, d, genesis, now, &mut chains, &mut part_recorded)?
                    }
                    Incoming::TooLarge { .. } => too_large(),
                };
                part.push(DocResult {
                    id: d.id().to_owned(),
                    outcome,
                });
                if started.elapsed() >= COMMIT_EVERY {
                    break;
                }
            }
            Ok((part, part_recorded))
        })?;
        rest = &rest[part.len()..];
        results.extend(part);
        recorded.extend(part_recorded);
    }
    Ok((results, recorded))
}

/// The answer to a decoded push of `actor` received at `received_at`, in the request's
/// protocol version (docs/protocol.md): every document judged and the accepted ones
/// committed (in parts, [`push_in_parts`]); version 2 and later with the author records of
/// the changes accepted; version 3 the size of the news: only the documents not accepted
/// exactly as sent are named, the author of the others given once as a stamp, and the
/// replica's feed cursor moved past its own documents when nothing else came in between.
/// Every document's outcome is counted in `metrics` (version 3 answers name only some).
pub fn answer(
    store: &Store,
    actor: &Actor,
    push: &Push,
    received_at: i64,
    metrics: &Metrics,
) -> Result<PushResponse> {
    let (results, recorded) = push_in_parts(store, actor, &push.docs, received_at)?;
    metrics.documents(&results);
    tracing::info!(
        account_id = actor.account_id,
        docs = push.docs.len(),
        accepted = results
            .iter()
            .filter(|r| matches!(r.outcome, DocOutcome::Accepted { .. }))
            .count(),
        "push"
    );
    let stamp = if push.version >= 2 {
        history::stamp(store, actor.account_id, received_at)?
    } else {
        None
    };
    if push.version < 3 {
        return Ok(PushResponse {
            version: push.version,
            results,
            authors: history::pushed(stamp.as_ref(), recorded.iter().map(RecordedDoc::changes)),
            stamp: None,
            cursor: None,
        });
    }
    let recorded: HashMap<&str, &RecordedDoc> =
        recorded.iter().map(|d| (d.id.as_str(), d)).collect();
    // Accepted as sent: the server's heads are all changes of this push, so it holds
    // nothing of the document the replica lacks, and the replica knows these heads.
    let as_sent = |r: &DocResult| match (&r.outcome, recorded.get(r.id.as_str())) {
        (DocOutcome::Accepted { heads }, Some(d)) => {
            heads.iter().all(|h| d.changes.iter().any(|c| c.0 == *h))
        }
        _ => false,
    };
    let (own, named): (Vec<DocResult>, Vec<DocResult>) = results.into_iter().partition(as_sent);
    let own: HashMap<String, i64> = own
        .into_iter()
        .filter_map(|r| recorded.get(r.id.as_str()).map(|d| (r.id, d.seq)))
        .collect();
    let authors = history::pushed(
        stamp.as_ref(),
        named
            .iter()
            .filter_map(|r| recorded.get(r.id.as_str()).map(|d| d.changes())),
    );
    let cursor = store.read(|c| feed::cursor_after_push(c, actor, push.cursor, &own))?;
    Ok(PushResponse {
        version: push.version,
        results: named,
        authors,
        stamp: stamp.filter(|_| !own.is_empty()),
        cursor,
    })
}

fn too_large() -> DocOutcome {
    reject(vec![doc_too_large()])
}

/// A pushed change set, or the document it makes, over [`MAX_DOC_BYTES`].
fn doc_too_large() -> Violation {
    Violation::error(
        "size.doc_too_large",
        None,
        format!("组织文档超过{}KB上限", MAX_DOC_BYTES / 1024),
    )
}

fn reject(v: Vec<Violation>) -> DocOutcome {
    DocOutcome::Rejected { violations: v }
}

fn one(code: &str, field: Option<Field>, message: impl Into<String>) -> DocOutcome {
    reject(vec![Violation::error(code, field, message)])
}

/// What [`doc::read_genesis`] reads from pushed changes (a bundle is not looked at).
fn read_genesis(changes: &[u8]) -> Option<(OrgRecord, ChangeHash)> {
    if has_foreign_chunk(changes) {
        return None;
    }
    doc::read_genesis(changes)
}

/// [`read_genesis`] of every pushed document, before the write lock is taken (it needs no
/// database), on two threads for a large push: encoding each genesis again to check it is
/// about a tenth of a push's work.
fn read_geneses(docs: &[Incoming]) -> Vec<Option<(OrgRecord, ChangeHash)>> {
    let read = |part: &[Incoming]| -> Vec<Option<(OrgRecord, ChangeHash)>> {
        part.iter()
            .map(|d| match d {
                Incoming::Doc(d) => read_genesis(&d.changes),
                Incoming::TooLarge { .. } => None,
            })
            .collect()
    };
    if docs.len() < 500 {
        return read(docs);
    }
    let (first, second) = docs.split_at(docs.len() / 2);
    std::thread::scope(|s| {
        let other = s.spawn(|| read(second));
        let mut out = read(first);
        // read_genesis does not panic (it parses by hand and encodes what it parsed).
        out.extend(other.join().unwrap_or_else(|_| vec![None; second.len()]));
        out
    })
}

/// Judge one pushed document; `genesis`: what [`read_genesis`] read from its changes.
fn judge(
    tx: &Tx<'_>,
    actor: &Actor,
    pushed: &PushDoc,
    genesis: Option<(OrgRecord, ChangeHash)>,
    now: i64,
    chains: &mut ChainCache,
    recorded: &mut Recorded,
) -> Result<DocOutcome> {
    if pushed.changes.len() > MAX_DOC_BYTES {
        return Ok(too_large());
    }
    // Authorization before any stored document is loaded: an organization outside the
    // subtree is judged exactly as an unknown one (a new document whose parent must be
    // inside), so the answers and their cost tell nothing of what exists outside.
    let row = tx.lock_org(&pushed.id)?;
    let exists_outside = row
        .as_ref()
        .is_some_and(|r| !r.path.starts_with(&actor.org_path));
    // No row, no document: a new organization costs no second look-up.
    let stored = if exists_outside || row.is_none() {
        None
    } else {
        tx.org_doc(&pushed.id)?.map(|d| (d.bytes, d.record))
    };
    // A new organization pushed as its genesis change alone (as a replica stores what it
    // created) is read without loading it: the same record and heads as loading gives, at a
    // tenth of the cost, and the change is stored as the document.
    let Applied {
        record: after,
        heads,
        bytes,
        new_changes,
    } = match genesis.filter(|_| stored.is_none()) {
        Some((record, hash)) => Applied {
            record,
            heads: vec![hash.0],
            bytes: pushed.changes.clone(),
            new_changes: vec![hash],
        },
        None => match apply(stored.as_ref().map(|(b, _)| b.as_slice()), pushed)? {
            Ok(applied) => applied,
            Err(outcome) => return Ok(outcome),
        },
    };
    if after.id != pushed.id {
        return Ok(reject(vec![org::id_mismatch(&pushed.id, &after.id)]));
    }
    if after.schema != SCHEMA_VERSION {
        return Ok(one(
            "doc.schema_version",
            None,
            format!("组织文档版本{}不受支持,请升级客户端", after.schema),
        ));
    }
    let mut v = Vec::new();
    let (relation, path, was) = match &stored {
        Some((_, before)) => {
            let Some(row) = row else {
                return Ok(one(
                    "doc.missing_projection",
                    None,
                    "服务器数据不一致,请联系管理员",
                ));
            };
            let relation = if row.id == actor.org_id {
                Relation::Own
            } else if row.path.starts_with(&actor.org_path) {
                Relation::Ancestor
            } else {
                return Ok(outside());
            };
            let changed = before.changed_fields(&after);
            if changed.contains(&Field::Parent) || changed.contains(&Field::Level) {
                v.push(Violation::error(
                    "tree.moved",
                    Some(Field::Parent),
                    "不能更改组织的上级组织或层级",
                ));
            }
            v.extend(org::forbidden_changes(relation, &changed));
            v.extend(org::immutable_violations(before, &after));
            judge_codes(before, &after, relation, actor, tx, now, &mut v)?;
            let dependents = tree::Dependents {
                live_children: u64::try_from(row.live_children).unwrap_or(0),
                admins: u64::try_from(row.admin_count).unwrap_or(0),
            };
            v.extend(tree::judge_deletion(before, &after, dependents));
            (relation, row.path.clone(), Some(row))
        }
        None => {
            // The id taken outside the subtree, or a parent unknown or outside: one answer.
            let parent = tx
                .org(&after.parent)?
                .filter(|p| p.path.starts_with(&actor.org_path) && !exists_outside);
            let Some(parent) = parent else {
                return Ok(outside());
            };
            let facts = tree::Parent {
                deleted: parent.deleted,
                level: parent.level,
                category: &parent.category,
            };
            v.extend(tree::judge_new(&facts, &after));
            judge_codes(
                &OrgRecord::default(),
                &after,
                Relation::Ancestor,
                actor,
                tx,
                now,
                &mut v,
            )?;
            (
                Relation::Ancestor,
                format!("{}{}/", parent.path, after.id),
                None,
            )
        }
    };
    let _ = relation;
    // The rules of `schemas` on the resulting state: present values must be valid; missing
    // ones only show in completeness (design.md "Missing is not invalid").
    let region = chains.region(tx, &after.parent)?;
    let completeness = after.completeness(&Context { region });
    v.extend(completeness.errors().cloned());
    let renamed = was.is_none()
        || stored
            .as_ref()
            .is_some_and(|(_, b)| b.short_name != after.short_name || b.deleted != after.deleted);
    if renamed && !after.deleted && !after.short_name.is_empty() {
        let key = schemas::name::name_key(&after.short_name);
        if tx.sibling_name_taken(&after.parent, &key, &after.id)? {
            v.push(tree::duplicate_short_name(&after.short_name));
        }
    }
    if bytes.len() > MAX_DOC_BYTES {
        v.push(doc_too_large());
    }
    if !v.is_empty() {
        return Ok(reject(v));
    }
    let heads_bytes: Vec<u8> = heads.iter().flatten().copied().collect();
    let seq = tx.put_org(
        &Accepted {
            record: &after,
            path: &path,
            complete: completeness.is_complete(),
            bytes: &bytes,
            heads: &heads_bytes,
        },
        was.as_ref(),
        Some(actor.account_id),
    )?;
    // Who pushed the new changes, in the transaction that accepts them.
    tx.record_authors(&after.id, &new_changes, actor.account_id, now)?;
    recorded.push(RecordedDoc {
        id: after.id.clone(),
        changes: new_changes,
        seq,
    });
    let before_codes = stored.as_ref().map(|(_, b)| &b.codes);
    for (code, c) in &after.codes {
        if before_codes.is_none_or(|b| !b.contains_key(code)) {
            tx.put_code(code, &after.id, &c.issued_by, c.issued_at, c.expires_at)?;
        }
    }
    tx.audit(
        Some(actor.account_id),
        if was.is_none() {
            "org.create"
        } else {
            "org.update"
        },
        Some(&after.id),
        &format!("accepted; heads {}", heads.len()),
    )?;
    Ok(DocOutcome::Accepted { heads })
}

/// A document with the pushed changes applied: the record, heads and bytes to store, and
/// the changes the push adds.
struct Applied {
    record: OrgRecord,
    heads: Vec<[u8; 32]>,
    bytes: Vec<u8>,
    new_changes: Vec<automerge::ChangeHash>,
}

/// The pushed changes applied to the stored document (`None`: a new one), or the answer
/// when there is nothing to judge.
fn apply(
    stored: Option<&[u8]>,
    pushed: &PushDoc,
) -> Result<std::result::Result<Applied, DocOutcome>> {
    let mut d = match stored {
        Some(bytes) => AutoCommit::load(bytes)?,
        None => AutoCommit::new(),
    };
    let heads_before = d.get_heads();
    // automerge 0.12 panics on some malformed change sets instead of returning an error
    // (found by fuzzing: tests/fuzz_regressions.rs): that is this document malformed, not
    // the whole push failed.
    let loaded = !has_foreign_chunk(&pushed.changes)
        && std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            d.load_incremental(&pushed.changes)
        }))
        .is_ok_and(|r| r.is_ok());
    if !loaded {
        return Ok(Err(one(
            "doc.malformed",
            None,
            "组织文档数据损坏或不完整,无法读取",
        )));
    }
    if !d.get_missing_deps(&[]).is_empty() {
        return Ok(Err(DocOutcome::NeedFull));
    }
    if stored.is_none() && d.get_heads().is_empty() {
        // Nothing to create: for an id outside the subtree (or unknown) that is a replay or
        // a probe, answered as any other push outside.
        return Ok(Err(outside()));
    }
    if stored.is_some() && d.get_heads() == heads_before {
        // Nothing new: a retry of an accepted push is answered the same way (the document
        // is inside the admin's subtree: outside ones are never loaded).
        return Ok(Err(DocOutcome::Accepted {
            heads: heads::to_wire(&d.get_heads()),
        }));
    }
    // One organization, one history: a document has exactly one root change (its genesis),
    // and pushed changes must descend from it. Another document's history grafted under this
    // id would otherwise be judged as an edit of this one.
    let new_changes = d.get_changes(&heads_before);
    let roots = new_changes.iter().filter(|c| c.deps().is_empty()).count();
    if roots != usize::from(stored.is_none()) {
        return Ok(Err(one(
            "doc.foreign_history",
            None,
            "推送的修改不属于该组织文档的历史(可能是另一个组织的文档)",
        )));
    }
    let new_changes = new_changes.iter().map(|c| c.hash()).collect();
    Ok(Ok(Applied {
        record: doc::read(&d),
        heads: heads::to_wire(&d.get_heads()),
        bytes: d.save_nocompress(),
        new_changes,
    }))
}

fn outside() -> DocOutcome {
    one(
        "auth.outside_subtree",
        None,
        "该组织(或其上级组织)不在您管理的组织范围内,不能修改",
    )
}

/// Codes added in this push: well-formed, globally unique, issued by an ancestor (the
/// pushing admin's organization), valid for at most 20 days. Codes are never removed.
fn judge_codes(
    before: &OrgRecord,
    after: &OrgRecord,
    relation: Relation,
    actor: &Actor,
    tx: &Conn<'_>,
    now: i64,
    v: &mut Vec<Violation>,
) -> Result<()> {
    if before.codes.keys().any(|k| !after.codes.contains_key(k)) {
        v.push(Violation::error(
            "code.removed",
            Some(Field::Codes),
            "已生成的注册码不能删除",
        ));
    }
    for (code, c) in &after.codes {
        if let Some(b) = before.codes.get(code) {
            if b != c {
                v.push(Violation::error(
                    "code.changed",
                    Some(Field::Codes),
                    "已生成的注册码不能修改",
                ));
            }
            continue;
        }
        if relation != Relation::Ancestor {
            v.push(Violation::error(
                "code.not_ancestor",
                Some(Field::Codes),
                "注册码只能由上级组织生成",
            ));
            continue;
        }
        if let Err(e) = RegistrationCode::parse(code) {
            v.push(e.on(Field::Codes));
            continue;
        }
        if c.issued_by != actor.org_id {
            v.push(Violation::error(
                "code.issuer",
                Some(Field::Codes),
                "注册码的生成组织与登录的管理员不符",
            ));
        }
        if c.expires_at - c.issued_at > VALIDITY_DAYS * 86_400
            || c.expires_at <= c.issued_at
            || c.issued_at > now + 86_400
        {
            v.push(Violation::error(
                "code.validity",
                Some(Field::Codes),
                "注册码有效期应为生成后20天",
            ));
        }
        if tx.code_exists(code)? {
            v.push(Violation::error(
                "code.duplicate",
                Some(Field::Codes),
                "注册码与已有注册码重复,请重新生成",
            ));
        }
    }
    Ok(())
}

/// The region (rules.md §5) for children of an organization, by its chain of ancestors;
/// cached per parent for the length of one push.
#[derive(Default)]
struct ChainCache {
    regions: HashMap<String, Option<&'static schemas::Division>>,
}

impl ChainCache {
    fn region(
        &mut self,
        tx: &Conn<'_>,
        parent: &str,
    ) -> Result<Option<&'static schemas::Division>> {
        if let Some(r) = self.regions.get(parent) {
            return Ok(*r);
        }
        let mut chain = Vec::new();
        if let Some(p) = tx.org(parent)? {
            for id in p.path.split('/').filter(|s| !s.is_empty()) {
                let Some(o) = tx.org(id)? else {
                    break;
                };
                let (Ok(level), Ok(category)) = (Level::new(o.level), Category::parse(&o.category))
                else {
                    break;
                };
                chain.push(ChainLink::new(level, category, o.short_name));
            }
        }
        let region = schemas::name::region_of_chain(&chain);
        self.regions.insert(parent.to_owned(), region);
        Ok(region)
    }
}

#[cfg(test)]
mod tests {
    use super::{Incoming, read_geneses};

    /// Every pushed genesis is read, in order, whether on one thread or on two (a push of
    /// 500 documents or more): the merge takes the n-th result for the n-th document.
    #[test]
    fn every_genesis_is_read_in_order_on_one_thread_or_two() {
        for n in [3usize, 501] {
            let docs: Vec<Incoming> = (0..n)
                .map(|i| {
                    let mut r = schemas::org::OrgRecord::new(
                        format!("org-g{i}"),
                        "org-5101",
                        schemas::Level::new(4).unwrap(),
                    );
                    r.category = "团委".into();
                    r.short_name = format!("第{i}公司团委");
                    let actor = automerge::ActorId::random();
                    let change = wire::doc::genesis_change(&r, &actor, 1_700_000_000);
                    Incoming::Doc(wire::protocol::PushDoc {
                        id: r.id.clone(),
                        changes: change.raw_bytes().to_vec(),
                    })
                })
                .collect();
            let read = read_geneses(&docs);
            assert_eq!(read.len(), n);
            for (i, genesis) in read.iter().enumerate() {
                let (record, _) = genesis.as_ref().expect("a genesis read");
                assert_eq!(record.id, format!("org-g{i}"));
            }
        }
    }
}

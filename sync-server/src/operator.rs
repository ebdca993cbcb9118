//! The operator's work on the database: the pre-initialized tree written at first start
//! ([`initialize_tree`]), and the operator commands (run beside a serving server: SQLite
//! serializes the writes): list organizations, rename or reorder a pre-initialized
//! organization (the notice's 核对 of names and order), each with an audit record. (Codes
//! the operator issues are `crate::identity::operator_issue_code`.) Changes to documents
//! are made as the operator's own Automerge actor, so they sync to replicas like any
//! change.

use automerge::{ActorId, AutoCommit};
use schemas::org::Context;
use schemas::{Category, ShortName};
use wire::{doc, heads};

use crate::error::{Error, Result};
use crate::storage::{self, Accepted, OrgRow, Store, Tx};

/// Write the pre-initialized tree (rules.md §1) in one transaction, with the same
/// deterministic genesis every replica uses, unless it is in place: whether this call
/// wrote it (of several processes starting on one new database, exactly one does).
pub fn initialize_tree(store: &Store) -> Result<bool> {
    store.transaction(|tx| {
        if !tx.claim_initialization()? {
            return Ok(false);
        }
        let mut paths = std::collections::HashMap::<String, String>::new();
        for r in schemas::initial::initial_tree() {
            let mut d =
                doc::deterministic_genesis(&r).map_err(|e| Error::Internal(e.to_string()))?;
            let path = match paths.get(&r.parent) {
                Some(p) => format!("{p}{}/", r.id),
                None => format!("/{}/", r.id),
            };
            paths.insert(r.id.clone(), path.clone());
            let heads = heads::encode(&d.get_heads());
            let was = tx.org(&r.id)?;
            tx.put_org(
                &Accepted {
                    record: &r,
                    path: &path,
                    complete: false,
                    bytes: &d.save_nocompress(),
                    heads: &heads,
                },
                was.as_ref(),
                None,
            )?;
        }
        tx.audit(None, "tree.initialize", None, "pre-initialized tree")?;
        Ok(true)
    })
}

/// Differences between the stored progress roll-ups and a full computation (at most 20;
/// none when every change kept them up to date); with `repair`, they are then computed
/// anew and stored (`zhtj-server check-rollups`).
pub fn check_rollups(store: &Store, repair: bool) -> Result<Vec<String>> {
    let wrong = store.read(|c| c.rollup_mismatches(20))?;
    if repair && !wrong.is_empty() {
        store.transaction(|tx| {
            tx.rebuild_rollups()?;
            tx.audit(
                None,
                "operator.rollups_repair",
                None,
                &format!("{} differences", wrong.len()),
            )
        })?;
    }
    Ok(wrong)
}

/// Find an organization by id or by a short name that is unique on the server.
pub fn resolve(store: &Store, id_or_name: &str) -> Result<OrgRow> {
    store.read(|c| {
        if let Some(o) = c.org(id_or_name)? {
            return Ok(o);
        }
        let ids = c.live_named(id_or_name)?;
        match ids.as_slice() {
            [id] => c
                .org(id)?
                .ok_or_else(|| Error::NotFound(id_or_name.to_owned())),
            [] => Err(Error::NotFound(format!("组织“{id_or_name}”"))),
            _ => Err(schemas::tree::ambiguous_name(id_or_name, ids.len()).into()),
        }
    })
}

/// Live children of `parent`, in order.
pub fn children(store: &Store, parent: &str) -> Result<Vec<OrgRow>> {
    store.read(|c| c.live_children(parent))
}

fn operator_actor() -> ActorId {
    ActorId::from(&b"operator"[..])
}

/// Apply `edit` to the record of `id` as the operator and store the result.
fn edit(
    tx: &Tx<'_>,
    id: &str,
    action: &str,
    detail: &str,
    edit: impl FnOnce(&mut schemas::org::OrgRecord),
) -> Result<()> {
    let stored = tx
        .org_doc(id)?
        .ok_or_else(|| Error::NotFound(id.to_owned()))?;
    let (bytes, before) = (stored.bytes, stored.record);
    let row = tx
        .lock_org(id)?
        .ok_or_else(|| Error::NotFound(id.to_owned()))?;
    let mut d = AutoCommit::load(&bytes)?;
    d.set_actor(operator_actor());
    let mut after = before.clone();
    edit(&mut after);
    doc::write(&mut d, &before, &after, storage::now())
        .map_err(|e| Error::Internal(e.to_string()))?;
    let heads = heads::encode(&d.get_heads());
    let complete = after.completeness(&Context::default()).is_complete();
    tx.put_org(
        &Accepted {
            record: &after,
            path: &row.path,
            complete,
            bytes: &d.save_nocompress(),
            heads: &heads,
        },
        Some(&row),
        None,
    )?;
    tx.audit(None, action, Some(id), detail)
}

/// Rename an organization (operator's 核对): a valid short name for its category, unique
/// among its siblings; the full name given or generated.
pub fn rename(
    store: &Store,
    id: &str,
    short: &str,
    full: Option<&str>,
) -> Result<(String, String)> {
    store.transaction(|tx| {
        let row = tx.org(id)?.ok_or_else(|| Error::NotFound(id.to_owned()))?;
        let category = Category::parse(&row.category)?;
        let mut chain = Vec::new();
        for aid in row.path.split('/').filter(|s| !s.is_empty() && *s != id) {
            if let Some(o) = tx.org(aid)? {
                chain.push(schemas::name::ChainLink::new(
                    schemas::Level::new(o.level)?,
                    Category::parse(&o.category)?,
                    o.short_name,
                ));
            }
        }
        let region = schemas::name::region_of_chain(&chain);
        let name = ShortName::parse(short, category, region)?;
        if tx.sibling_name_taken(&row.parent, &name.key(), id)? {
            return Err(schemas::tree::duplicate_short_name(name.as_str()).into());
        }
        let full = match full {
            Some(f) => schemas::FullName::parse(f)?.as_str().to_owned(),
            None => schemas::name::generate_full_name(&chain, category, &name),
        };
        let (s, f) = (name.as_str().to_owned(), full.clone());
        edit(
            tx,
            id,
            "operator.rename",
            &format!("{} → {}", row.short_name, s),
            |r| {
                r.short_name = s;
                r.full_name = f;
            },
        )?;
        Ok((name.as_str().to_owned(), full))
    })
}

/// Move an organization one place up or down among its live siblings.
pub fn reorder(store: &Store, id: &str, up: bool) -> Result<()> {
    store.transaction(|tx| {
        let row = tx.org(id)?.ok_or_else(|| Error::NotFound(id.to_owned()))?;
        let mut sibs = tx.live_children(&row.parent)?;
        let pos = sibs
            .iter()
            .position(|s| s.id == id)
            .ok_or_else(|| Error::NotFound(id.to_owned()))?;
        let other = schemas::tree::neighbour(pos, sibs.len(), up)?;
        sibs.swap(pos, other);
        for (i, s) in sibs.iter().enumerate() {
            let key = i as i64 + 1;
            let rec = tx
                .org_doc(&s.id)?
                .ok_or_else(|| Error::NotFound(s.id.clone()))?
                .record;
            if rec.sort_key != key {
                edit(
                    tx,
                    &s.id,
                    "operator.reorder",
                    &format!("sort_key {key}"),
                    |r| r.sort_key = key,
                )?;
            }
        }
        Ok(())
    })
}

//! The change history on the server (issue 13): the author record of every accepted change
//! (which account pushed it, when it arrived), written by the merge in the push
//! transaction that accepted it (`storage::Tx::record_authors`); the records handed to replicas with the documents they pull and push
//! (protocol version 2); and one organization's history told by `wire::history` (the same
//! telling as on a replica), served by `crate::http::history`.
//!
//! What leaves the server of an author is what supervisors see: the organization, the
//! 团内职务 and the masked name (张*). Records go only with the document they belong to,
//! so only to replicas whose subtree holds it.

use std::collections::HashMap;

use automerge::{AutoCommit, ChangeHash};
use wire::history::{self, Author, AuthorRecord};
use wire::protocol::{AuthorStamp, ChangeAuthor, HistoryResponse};

use crate::error::{Error, Result};
use crate::identity::Actor;
use crate::storage::{Conn, Store};

/// Accounts as supervisors see them, looked up once per request.
#[derive(Default)]
struct Authors(HashMap<i64, Option<Author>>);

impl Authors {
    /// The account as shown with its changes (name masked); `None` for an account that no
    /// longer exists.
    fn get(&mut self, c: &Conn<'_>, account_id: i64) -> Result<Option<Author>> {
        if let Some(a) = self.0.get(&account_id) {
            return Ok(a.clone());
        }
        let a = c.author(account_id)?.map(|a| Author {
            org_id: a.org_id,
            org_short_name: a.org_short_name,
            role: a.role,
            name: schemas::person::mask_name(&a.name),
        });
        self.0.insert(account_id, a.clone());
        Ok(a)
    }
}

/// The author records of the documents `ids` (all of each one's recorded changes), for a
/// pull page.
pub fn of_docs<'a>(
    c: &Conn<'_>,
    ids: impl IntoIterator<Item = &'a str>,
) -> Result<Vec<ChangeAuthor>> {
    let mut authors = Authors::default();
    let mut out = Vec::new();
    for id in ids {
        for r in c.author_records(id)? {
            let Some(a) = authors.get(c, r.account_id)? else {
                continue;
            };
            out.push(ChangeAuthor {
                doc_id: id.to_owned(),
                hash: r.hash.0,
                org_id: a.org_id,
                org_short_name: a.org_short_name,
                role: a.role,
                name: a.name,
                received_at: r.received_at,
            });
        }
    }
    Ok(out)
}

/// The stamp of `account_id`'s push received at `received_at`: the author record of every
/// change it made the server accept (organization, 团内职务, masked name).
pub fn stamp(store: &Store, account_id: i64, received_at: i64) -> Result<Option<AuthorStamp>> {
    Ok(store
        .read(|c| Authors::default().get(c, account_id))?
        .map(|a| AuthorStamp {
            org_id: a.org_id.clone(),
            org_short_name: a.org_short_name.clone(),
            role: a.role.clone(),
            name: a.name.clone(),
            received_at,
        }))
}

/// The author records of the changes a push made the server accept (per document, its
/// new changes), for the push's answer (version 2), so the pushing replica's history is
/// whole at once.
pub fn pushed<'a>(
    stamp: Option<&AuthorStamp>,
    recorded: impl IntoIterator<Item = (&'a str, &'a [ChangeHash])>,
) -> Vec<ChangeAuthor> {
    let Some(stamp) = stamp else {
        return Vec::new();
    };
    recorded
        .into_iter()
        .flat_map(|(id, changes)| changes.iter().map(move |h| stamp.record(id, h.0)))
        .collect()
}

/// The records of `doc_id` by change hash, for `wire::history`.
fn records_of(c: &Conn<'_>, doc_id: &str) -> Result<HashMap<ChangeHash, AuthorRecord>> {
    Ok(of_docs(c, [doc_id])?
        .into_iter()
        .map(|r| {
            (
                ChangeHash(r.hash),
                AuthorRecord {
                    author: Author {
                        org_id: r.org_id,
                        org_short_name: r.org_short_name,
                        role: r.role,
                        name: r.name,
                    },
                    received_at: r.received_at,
                },
            )
        })
        .collect())
}

/// Refusal of an organization outside the admin's subtree; an unknown id is answered the
/// same way, so that ids outside cannot be probed.
fn outside() -> Error {
    Error::Forbidden("该组织不在您管理的组织范围内,不能查看其修改记录".into())
}

/// The field named by `raw`: its key (`phone`) or Chinese label (团组织联系电话).
pub fn parse_field(raw: &str) -> Result<schemas::Field> {
    let raw = raw.trim();
    schemas::Field::ALL
        .iter()
        .copied()
        .find(|f| f.key() == raw || f.label() == raw)
        .ok_or_else(|| {
            Error::BadRequest(format!(
                "没有名为“{}”的字段",
                schemas::text::truncate_for_message(raw)
            ))
        })
}

/// The history of `org_id` (the admin's own organization or one below it; deleted ones
/// too), oldest first, optionally of one field.
pub fn history_of(
    store: &Store,
    actor: &Actor,
    org_id: &str,
    field: Option<schemas::Field>,
) -> Result<HistoryResponse> {
    let (row, bytes, records) = store.read(|c| {
        let row = c
            .org(org_id)?
            .filter(|o| o.path.starts_with(&actor.org_path))
            .ok_or_else(outside)?;
        let bytes = c.org_doc(&row.id)?.ok_or_else(outside)?.bytes;
        let records = records_of(c, &row.id)?;
        Ok((row, bytes, records))
    })?;
    let mut doc = AutoCommit::load(&bytes)?;
    let entries = history::history(&mut doc, &|h| records.get(h).cloned(), None)
        .into_iter()
        .filter(|e| field.is_none_or(|f| e.field == Some(f)))
        .collect();
    Ok(HistoryResponse {
        org_id: row.id,
        short_name: row.short_name,
        entries,
    })
}

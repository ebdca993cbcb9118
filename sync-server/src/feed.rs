//! The change feed (design.md "Pull"): for the logged-in admin's subtree, every document changed
//! after a cursor, as whole snapshots with the facts only the server knows, paginated.
//! "Anything new?" is answered from the feed's maximum first, so an empty sync costs one
//! index seek.

use wire::protocol::{OrgFacts, PROTOCOL_VERSION, PullDoc, PullRequest, PullResponse};

use crate::error::Result;
use crate::history;
use crate::identity::Actor;
use crate::storage::{Conn, Store};

/// The most documents one page holds.
pub const MAX_PAGE: u32 = 5_000;
/// The most document bytes one page holds (before compression): a page of large documents
/// ends early, so one pull never makes the server hold more than this of them.
pub const MAX_PAGE_BYTES: usize = 8 * 1024 * 1024;

/// The answer to a pull of `actor`: one page of the feed after the request's cursor, in
/// the request's protocol version (version 2 and later: with the author records of the
/// page's documents, read from the same snapshot).
pub fn answer(store: &Store, actor: &Actor, req: &PullRequest) -> Result<PullResponse> {
    // On a replica when one is configured (docs/deployment.md: it may lag; feed positions
    // commit in order on the primary, so a lagging replica shows a prefix of the feed).
    store.read_replica(|c| {
        let lean = req.version >= 3 && req.lean;
        let mut resp = page(c, actor, req.cursor, req.limit, lean)?;
        resp.version = req.version;
        if req.version >= 2 {
            resp.authors = history::of_docs(c, resp.docs.iter().map(|d| &*d.id))?;
        }
        Ok(resp)
    })
}

/// Where a replica's feed cursor may move after its push (protocol version 3): past every
/// entry of its subtree's feed after `cursor`, when each is a document of this push held as
/// the replica sent it, at the feed position the push gave it (`own`: id → position). Any
/// other entry (another writer's, a change of server facts, a document the server holds
/// more of) keeps the cursor where it is: the next pull brings it. Reads at most one entry
/// more than the push wrote.
pub fn cursor_after_push(
    c: &Conn<'_>,
    actor: &Actor,
    cursor: u64,
    own: &std::collections::HashMap<String, i64>,
) -> Result<Option<u64>> {
    let max = c.max_seq()? as u64;
    if own.is_empty() || cursor >= max {
        return Ok(None);
    }
    let entries = c.feed_positions(&actor.org_path, cursor, own.len() + 1)?;
    let only_own = entries.len() <= own.len()
        && entries
            .iter()
            .all(|(id, seq)| own.get(id).is_some_and(|s| s == seq));
    Ok(only_own.then_some(max))
}

/// One page of the feed for `actor`'s subtree after `cursor`, every document with its heads (as
/// version 2 sends it).
pub fn pull(c: &Conn<'_>, actor: &Actor, cursor: u64, limit: u32) -> Result<PullResponse> {
    page(c, actor, cursor, limit, false)
}

/// One page of the feed for `actor`'s subtree after `cursor`; `lean`: without what the
/// documents' bytes hold (version 3, asked for on a slow link).
fn page(c: &Conn<'_>, actor: &Actor, cursor: u64, limit: u32, lean: bool) -> Result<PullResponse> {
    let limit = limit.clamp(1, MAX_PAGE);
    let max = c.max_seq()? as u64;
    let empty = |cursor| PullResponse {
        version: PROTOCOL_VERSION,
        docs: Vec::new(),
        cursor,
        more: false,
        authors: Vec::new(),
    };
    if cursor >= max {
        return Ok(empty(cursor.min(max)));
    }
    let page = c.feed_page(&actor.org_path, cursor, limit, MAX_PAGE_BYTES)?;
    let last = page.rows.last().map_or(cursor, |r| r.seq as u64);
    let mut docs = Vec::with_capacity(page.rows.len());
    for r in page.rows {
        // Without an admin there are no admin names and no used codes: skip the lookups.
        let facts = if r.admin_count > 0 {
            facts(c, &r.id, r.logged_in)?
        } else {
            OrgFacts {
                logged_in: r.logged_in,
                ..OrgFacts::default()
            }
        };
        // Version 3: heads the bytes hold are left out (32 bytes a document that do not
        // compress); the replica reads them from the bytes.
        // A lean page leaves out what the bytes hold. Their heads: a stored genesis change's
        // hash, a saved document's header (`wire::chunk::saved_heads`). The record of a unit
        // never edited since its creation, stored as its genesis change alone
        // (`wire::doc::read_genesis` reads it back): a third of such a document's bytes.
        // Told by the chunk's header alone, so a page costs the server no hashing; should
        // the replica not read them from the bytes after all, it loads the document.
        let one_change = lean && wire::chunk::is_one_change(&r.bytes);
        let heads = if one_change || (lean && wire::chunk::is_one_document(&r.bytes)) {
            Vec::new()
        } else {
            r.heads
        };
        let record = if one_change { String::new() } else { r.record };
        docs.push(PullDoc {
            id: r.id,
            bytes: r.bytes,
            facts,
            heads,
            record,
            complete: r.complete,
        });
    }
    // Without more pages, the client is up to date with the whole feed, not just its subtree.
    let cursor = if page.more { last } else { max };
    Ok(PullResponse {
        version: PROTOCOL_VERSION,
        docs,
        cursor,
        more: page.more,
        authors: Vec::new(),
    })
}

/// What the server knows of an organization that its document does not hold.
pub fn facts(c: &Conn<'_>, org_id: &str, logged_in: bool) -> Result<OrgFacts> {
    Ok(OrgFacts {
        logged_in,
        admins: c
            .admin_names(org_id)?
            .iter()
            .map(|n| schemas::person::mask_name(n))
            .collect(),
        used_codes: c.used_codes(org_id)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::{Accepted, Store};

    /// A page of large documents ends at `MAX_PAGE_BYTES`, whatever the limit asked.
    #[test]
    fn a_page_of_large_documents_ends_at_the_byte_cap() {
        let dir = tempfile::TempDir::new().unwrap();
        let store = Store::open(&dir.path().join("db.sqlite3")).unwrap();
        crate::operator::initialize_tree(&store).unwrap();
        let city = store.read(|c| c.org("org-5101")).unwrap().unwrap();
        let big = vec![7u8; 1024 * 1024];
        store
            .transaction(|tx| {
                for i in 0..20 {
                    let mut r = schemas::org::OrgRecord::new(
                        format!("org-big-{i}"),
                        "org-5101",
                        schemas::Level::new(4).unwrap(),
                    );
                    r.category = "团委".into();
                    r.short_name = format!("大文档第{i}公司团委");
                    let path = format!("{}{}/", city.path, r.id);
                    let a = Accepted {
                        record: &r,
                        path: &path,
                        complete: false,
                        bytes: &big,
                        heads: &[],
                    };
                    tx.put_org(&a, None, None)?;
                }
                Ok(())
            })
            .unwrap();
        let actor = Actor {
            account_id: 1,
            org_id: city.id.clone(),
            org_path: city.path.clone(),
        };
        let (mut cursor, mut pages, mut docs) = (0, 0, 0);
        loop {
            let page = store.read(|c| pull(c, &actor, cursor, MAX_PAGE)).unwrap();
            let bytes: usize = page.docs.iter().map(|d| d.bytes.len()).sum();
            assert!(
                bytes <= MAX_PAGE_BYTES + big.len(),
                "a page of {bytes} bytes"
            );
            // Not smaller either: a page ends only once it holds the cap.
            assert!(
                !page.more || bytes >= MAX_PAGE_BYTES,
                "a page of {bytes} bytes"
            );
            docs += page.docs.len();
            pages += 1;
            cursor = page.cursor;
            if !page.more {
                break;
            }
        }
        // 20 MiB of documents (besides the small initial ones): 8 MiB, 8 MiB, the rest.
        assert_eq!(pages, 3);
        assert!(docs >= 20, "every document once at least: {docs}");
    }
}

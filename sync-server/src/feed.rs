//! The change feed (DESIGN "Pull"): for the logged-in admin's subtree, every document changed
//! after a cursor, as whole snapshots with the facts only the server knows, paginated.
//! "Anything new?" is answered from the feed's maximum first, so an empty sync costs one
//! index seek.

use rusqlite::{Connection, params};
use wire::protocol::{OrgFacts, PROTOCOL_VERSION, PullDoc, PullResponse};

use crate::error::Result;
use crate::identity::Actor;
use crate::store;

/// The most documents one page holds.
pub const MAX_PAGE: u32 = 5_000;
/// The most document bytes one page holds (before compression): a page of large documents
/// ends early, so one pull never makes the server hold more than this of them.
pub const MAX_PAGE_BYTES: usize = 8 * 1024 * 1024;

/// The half-open range of paths of the subtree rooted at `path` (which ends with '/').
pub fn subtree_range(path: &str) -> (String, String) {
    let mut hi = path.trim_end_matches('/').to_owned();
    hi.push('0'); // '0' is the character after '/'
    (path.to_owned(), hi)
}

/// One page of the feed for `actor`'s subtree after `cursor`.
pub fn pull(c: &Connection, actor: &Actor, cursor: u64, limit: u32) -> Result<PullResponse> {
    let limit = limit.clamp(1, MAX_PAGE);
    let max = store::max_seq(c)? as u64;
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
    let (lo, hi) = subtree_range(&actor.org_path);
    // In feed order through orgs_feed (store.rs): the cost of a page is the feed entries
    // after the cursor it passes over, not the size of the subtree.
    let mut stmt = c.prepare_cached(
        "SELECT id, bytes, seq, logged_in, admin_count, heads, record, complete
         FROM orgs INDEXED BY orgs_feed
         WHERE seq > ?3 AND path >= ?1 AND path < ?2 ORDER BY seq LIMIT ?4",
    )?;
    let mut rows = stmt.query(params![lo, hi, cursor as i64, limit as i64 + 1])?;
    let mut docs = Vec::new();
    let mut more = false;
    let mut last = cursor;
    let mut bytes = 0usize;
    while let Some(r) = rows.next()? {
        if docs.len() == limit as usize || bytes >= MAX_PAGE_BYTES {
            more = true;
            break;
        }
        let id: String = r.get(0)?;
        last = r.get::<_, i64>(2)? as u64;
        let logged_in: bool = r.get(3)?;
        // Without an admin there are no admin names and no used codes: skip the lookups.
        let facts = if r.get::<_, i64>(4)? > 0 {
            facts(c, &id, logged_in)?
        } else {
            OrgFacts {
                logged_in,
                ..OrgFacts::default()
            }
        };
        let heads_bytes: Vec<u8> = r.get(5)?;
        let heads = heads_bytes
            .chunks_exact(32)
            .map(|h| <[u8; 32]>::try_from(h).unwrap_or([0; 32]))
            .collect();
        let doc: Vec<u8> = r.get(1)?;
        bytes += doc.len();
        docs.push(PullDoc {
            id,
            bytes: doc,
            facts,
            heads,
            record: r.get(6)?,
            complete: r.get(7)?,
        });
    }
    // Without more pages, the client is up to date with the whole feed, not just its subtree.
    let cursor = if more { last } else { max };
    Ok(PullResponse {
        version: PROTOCOL_VERSION,
        docs,
        cursor,
        more,
        authors: Vec::new(),
    })
}

/// What the server knows of an organization that its document does not hold.
pub fn facts(c: &Connection, org_id: &str, logged_in: bool) -> Result<OrgFacts> {
    let admins = c
        .prepare_cached("SELECT name FROM accounts WHERE org_id = ?1 ORDER BY id")?
        .query_map([org_id], |r| r.get::<_, String>(0))?
        .map(|n| n.map(|n| schemas::person::mask_name(&n)))
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let used_codes = c
        .prepare_cached("SELECT code FROM codes WHERE org_id = ?1 AND used_by IS NOT NULL")?
        .query_map([org_id], |r| r.get::<_, String>(0))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(OrgFacts {
        logged_in,
        admins,
        used_codes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{Accepted, Store};

    /// A page of large documents ends at `MAX_PAGE_BYTES`, whatever the limit asked.
    #[test]
    fn a_page_of_large_documents_ends_at_the_byte_cap() {
        let dir = tempfile::TempDir::new().unwrap();
        let store = Store::open(&dir.path().join("db.sqlite3")).unwrap();
        crate::operator::initialize_tree(&store).unwrap();
        let city = store
            .read(|c| store::get_org(c, "org-5101"))
            .unwrap()
            .unwrap();
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
                    store::put_org(tx, &a, None, None)?;
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

    #[test]
    fn subtree_range_covers_exactly_the_subtree() {
        let (lo, hi) = subtree_range("/a/b/");
        for inside in ["/a/b/", "/a/b/c/", "/a/b/zz/y/"] {
            assert!(inside >= lo.as_str() && inside < hi.as_str(), "{inside}");
        }
        for outside in ["/a/", "/a/bc/", "/a/b0/", "/a/c/"] {
            assert!(
                !(outside >= lo.as_str() && outside < hi.as_str()),
                "{outside}"
            );
        }
    }
}

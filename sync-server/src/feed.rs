//! The change feed (DESIGN "Pull"): for the logged-in admin's subtree, every document changed
//! after a cursor, as whole snapshots with the facts only the server knows, paginated.
//! "Anything new?" is answered from the feed's maximum first, so an empty sync costs one
//! index seek.

use client_core::protocol::{OrgFacts, PROTOCOL_VERSION, PullDoc, PullResponse};
use rusqlite::{Connection, params};

use crate::error::Result;
use crate::merge::Actor;
use crate::store;

/// The most documents one page holds.
pub const MAX_PAGE: u32 = 5_000;

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
    };
    if cursor >= max {
        return Ok(empty(cursor.min(max)));
    }
    let (lo, hi) = subtree_range(&actor.org_path);
    let mut stmt = c.prepare_cached(
        "SELECT id, bytes, seq, logged_in FROM orgs
         WHERE path >= ?1 AND path < ?2 AND seq > ?3 ORDER BY seq LIMIT ?4",
    )?;
    let rows: Vec<(String, Vec<u8>, i64, bool)> = stmt
        .query_map(params![lo, hi, cursor as i64, limit as i64 + 1], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
        })?
        .collect::<rusqlite::Result<_>>()?;
    let more = rows.len() > limit as usize;
    let mut docs = Vec::with_capacity(rows.len().min(limit as usize));
    let mut last = cursor;
    for (id, bytes, seq, logged_in) in rows.into_iter().take(limit as usize) {
        last = seq as u64;
        let facts = facts(c, &id, logged_in)?;
        docs.push(PullDoc { id, bytes, facts });
    }
    // Without more pages, the client is up to date with the whole feed, not just its subtree.
    let cursor = if more { last } else { max };
    Ok(PullResponse {
        version: PROTOCOL_VERSION,
        docs,
        cursor,
        more,
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
    #[test]
    fn subtree_range_covers_exactly_the_subtree() {
        let (lo, hi) = super::subtree_range("/a/b/");
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

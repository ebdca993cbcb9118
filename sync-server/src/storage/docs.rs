//! The organizations and the change feed: each organization's Automerge document and its
//! relational projection (`orgs`: parent, path, level, category, names, completeness, live
//! children, admins, first login, feed position), and the feed (`feed`: one sequence
//! number per change of a document or of its server-side facts).

use std::collections::HashMap;

use rusqlite::{OptionalExtension, params};
use schemas::org::OrgRecord;

use super::{Conn, Tx, now, subtree_range};
use crate::error::{Error, Result};

/// One organization as the projection holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrgRow {
    pub id: String,
    pub parent: String,
    pub path: String,
    pub level: u8,
    pub deleted: bool,
    pub category: String,
    pub short_name: String,
    pub live_children: i64,
    pub admin_count: i64,
    pub seq: i64,
}

/// An organization's stored document and the record it holds.
#[derive(Debug, Clone)]
pub struct OrgDoc {
    /// The whole Automerge document.
    pub bytes: Vec<u8>,
    pub record: OrgRecord,
}

/// Everything written for one accepted document.
pub struct Accepted<'a> {
    pub record: &'a OrgRecord,
    pub path: &'a str,
    pub complete: bool,
    pub bytes: &'a [u8],
    pub heads: &'a [u8],
}

/// One document of a feed page.
#[derive(Debug, Clone)]
pub struct FeedRow {
    pub id: String,
    pub bytes: Vec<u8>,
    pub seq: i64,
    pub logged_in: bool,
    pub admin_count: i64,
    pub heads: Vec<[u8; 32]>,
    /// The record as JSON.
    pub record: String,
    pub complete: bool,
}

/// A page of the feed of a subtree.
#[derive(Debug, Clone)]
pub struct FeedPage {
    pub rows: Vec<FeedRow>,
    /// Entries of the subtree follow the page.
    pub more: bool,
}

/// One level's figures over the whole projection (live organizations).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LevelSummary {
    pub level: u8,
    pub orgs: i64,
    pub complete: i64,
    pub logged_in: i64,
    pub with_admin: i64,
    pub with_children: i64,
}

const ORG_COLS: &str =
    "id, parent, path, level, deleted, category, short_name, live_children, admin_count, seq";

fn org_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<OrgRow> {
    Ok(OrgRow {
        id: r.get(0)?,
        parent: r.get(1)?,
        path: r.get(2)?,
        level: r.get(3)?,
        deleted: r.get(4)?,
        category: r.get(5)?,
        short_name: r.get(6)?,
        live_children: r.get(7)?,
        admin_count: r.get(8)?,
        seq: r.get(9)?,
    })
}

impl Conn<'_> {
    /// The organization `id`, deleted or not.
    pub fn org(&self, id: &str) -> Result<Option<OrgRow>> {
        Ok(self
            .db
            .prepare_cached(&format!("SELECT {ORG_COLS} FROM orgs WHERE id = ?1"))?
            .query_row([id], org_row)
            .optional()?)
    }

    /// The stored document of `id` and its record.
    pub fn org_doc(&self, id: &str) -> Result<Option<OrgDoc>> {
        let row: Option<(Vec<u8>, String)> = self
            .db
            .prepare_cached("SELECT bytes, record FROM orgs WHERE id = ?1")?
            .query_row([id], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?;
        row.map(|(bytes, record)| {
            let record: OrgRecord =
                serde_json::from_str(&record).map_err(|e| Error::Internal(e.to_string()))?;
            Ok(OrgDoc { bytes, record })
        })
        .transpose()
    }

    /// The live children of `parent`, in the tree's order.
    pub fn live_children(&self, parent: &str) -> Result<Vec<OrgRow>> {
        Ok(self
            .db
            .prepare_cached(&format!(
                "SELECT {ORG_COLS} FROM orgs WHERE parent = ?1 AND deleted = 0 ORDER BY sort_key, id"
            ))?
            .query_map([parent], org_row)?
            .collect::<rusqlite::Result<_>>()?)
    }

    /// The ids of the live organizations named exactly `short_name`.
    pub fn live_named(&self, short_name: &str) -> Result<Vec<String>> {
        Ok(self
            .db
            .prepare_cached("SELECT id FROM orgs WHERE short_name = ?1 AND deleted = 0")?
            .query_map([short_name], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?)
    }

    /// Whether a live sibling under `parent` (other than `except`) has this name key
    /// (`schemas::name::name_key`).
    pub fn sibling_name_taken(&self, parent: &str, key: &str, except: &str) -> Result<bool> {
        // `name_key <> ''` lets SQLite use the partial index orgs_sibling_name (one seek);
        // without it every sibling is read (a push of 1,000 siblings read 500,000 rows).
        let sql = if key.is_empty() {
            "SELECT 1 FROM orgs WHERE parent = ?1 AND name_key = ?2 AND deleted = 0 AND id <> ?3"
        } else {
            "SELECT 1 FROM orgs WHERE parent = ?1 AND name_key = ?2 AND name_key <> ''
             AND deleted = 0 AND id <> ?3"
        };
        Ok(self
            .db
            .prepare_cached(sql)?
            .exists(params![parent, key, except])?)
    }

    /// Every organization's path, by id.
    pub fn org_paths(&self) -> Result<HashMap<String, String>> {
        Ok(self
            .db
            .prepare("SELECT id, path FROM orgs")?
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<rusqlite::Result<_>>()?)
    }

    /// The figures of each level, over every live organization.
    pub fn level_summary(&self) -> Result<Vec<LevelSummary>> {
        let mut stmt = self.db.prepare(
            "SELECT level, COUNT(*), SUM(complete), SUM(logged_in), SUM(admin_count > 0),
                    SUM(live_children > 0)
             FROM orgs WHERE deleted = 0 GROUP BY level ORDER BY level",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok(LevelSummary {
                level: r.get(0)?,
                orgs: r.get(1)?,
                complete: r.get(2)?,
                logged_in: r.get(3)?,
                with_admin: r.get(4)?,
                with_children: r.get(5)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    }

    /// The highest sequence number given out.
    pub fn max_seq(&self) -> Result<i64> {
        Ok(self
            .db
            .query_row("SELECT COALESCE(MAX(seq), 0) FROM feed", [], |r| r.get(0))?)
    }

    /// The documents of the subtree at `path` changed after feed position `after`, in feed
    /// order: at most `limit`, and no more once `max_bytes` of documents are read (a page
    /// of large documents ends early).
    pub fn feed_page(
        &self,
        path: &str,
        after: u64,
        limit: u32,
        max_bytes: usize,
    ) -> Result<FeedPage> {
        let (lo, hi) = subtree_range(path);
        // In feed order through orgs_feed (schema.rs): the cost of a page is the feed
        // entries after the cursor it passes over, not the size of the subtree.
        let mut stmt = self.db.prepare_cached(
            "SELECT id, bytes, seq, logged_in, admin_count, heads, record, complete
             FROM orgs INDEXED BY orgs_feed
             WHERE seq > ?3 AND path >= ?1 AND path < ?2 ORDER BY seq LIMIT ?4",
        )?;
        let mut rows = stmt.query(params![lo, hi, after as i64, limit as i64 + 1])?;
        let mut page = FeedPage {
            rows: Vec::new(),
            more: false,
        };
        let mut bytes = 0usize;
        while let Some(r) = rows.next()? {
            if page.rows.len() == limit as usize || bytes >= max_bytes {
                page.more = true;
                break;
            }
            let doc: Vec<u8> = r.get(1)?;
            bytes += doc.len();
            let heads: Vec<u8> = r.get(5)?;
            page.rows.push(FeedRow {
                id: r.get(0)?,
                bytes: doc,
                seq: r.get(2)?,
                logged_in: r.get(3)?,
                admin_count: r.get(4)?,
                heads: wire::heads::to_wire(&wire::heads::decode(&heads)),
                record: r.get(6)?,
                complete: r.get(7)?,
            });
        }
        Ok(page)
    }
}

impl Conn<'_> {
    /// The first `limit` feed positions (organization, sequence number) of the subtree at
    /// `path` after `after`, in feed order, without their documents.
    pub fn feed_positions(
        &self,
        path: &str,
        after: u64,
        limit: usize,
    ) -> Result<Vec<(String, i64)>> {
        let (lo, hi) = subtree_range(path);
        let mut stmt = self.db.prepare_cached(
            "SELECT id, seq FROM orgs INDEXED BY orgs_feed
             WHERE seq > ?3 AND path >= ?1 AND path < ?2 ORDER BY seq LIMIT ?4",
        )?;
        let rows = stmt.query_map(params![lo, hi, after as i64, limit as i64], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }
}

impl Tx<'_> {
    /// Append to the feed and return the new sequence number.
    fn next_seq(&self, org_id: &str, account_id: Option<i64>) -> Result<i64> {
        self.db
            .prepare_cached("INSERT INTO feed(org_id, at, account_id) VALUES (?1, ?2, ?3)")?
            .execute(params![org_id, now(), account_id])?;
        Ok(self.db.last_insert_rowid())
    }

    /// Insert or update an organization's document and projection, with a new feed entry.
    /// Keeps the parent's live-children count in step. Returns the new sequence number.
    pub fn put_org(
        &self,
        a: &Accepted<'_>,
        was: Option<&OrgRow>,
        account_id: Option<i64>,
    ) -> Result<i64> {
        let seq = self.next_seq(&a.record.id, account_id)?;
        let r = a.record;
        self.db
            .prepare_cached(
                "INSERT INTO orgs(id, parent, path, level, sort_key, deleted, category, short_name,
                              name_key, full_name, phone, complete, seq, record, bytes, heads)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)
             ON CONFLICT(id) DO UPDATE SET sort_key = excluded.sort_key, deleted = excluded.deleted,
                 category = excluded.category, short_name = excluded.short_name,
                 name_key = excluded.name_key, full_name = excluded.full_name,
                 phone = excluded.phone, complete = excluded.complete, seq = excluded.seq,
                 record = excluded.record, bytes = excluded.bytes, heads = excluded.heads",
            )?
            .execute(params![
                r.id,
                r.parent,
                a.path,
                r.level,
                r.sort_key,
                r.deleted,
                r.category,
                r.short_name,
                schemas::name::name_key(&r.short_name),
                r.full_name,
                r.phone,
                a.complete,
                seq,
                serde_json::to_string(r).map_err(|e| Error::Internal(e.to_string()))?,
                a.bytes,
                a.heads,
            ])?;
        let was_live = was.is_some_and(|w| !w.deleted);
        let delta: i64 = match (was_live, !r.deleted) {
            (false, true) => 1,
            (true, false) => -1,
            _ => 0,
        };
        if delta != 0 && !r.parent.is_empty() {
            self.db
                .prepare_cached("UPDATE orgs SET live_children = live_children + ?1 WHERE id = ?2")?
                .execute(params![delta, r.parent])?;
        }
        Ok(seq)
    }

    /// Bump an organization's feed position without changing its document (its facts
    /// changed: a first login, a new admin, a used code), so subtrees pulling see the new
    /// facts.
    pub fn touch_org(&self, org_id: &str, account_id: Option<i64>) -> Result<()> {
        let seq = self.next_seq(org_id, account_id)?;
        self.db
            .prepare_cached("UPDATE orgs SET seq = ?1 WHERE id = ?2")?
            .execute(params![seq, org_id])?;
        Ok(())
    }

    /// Count `n` more admins of `org_id`, logged in if `logged_in` (the projection's
    /// facts; the feed is the caller's: [`Tx::touch_org`]).
    pub fn add_admins(&self, org_id: &str, n: i64, logged_in: bool) -> Result<()> {
        self.db
            .prepare_cached(
                "UPDATE orgs SET admin_count = admin_count + ?1, logged_in = MAX(logged_in, ?2)
                 WHERE id = ?3",
            )?
            .execute(params![n, logged_in, org_id])?;
        Ok(())
    }

    /// Mark `org_id` as logged in; whether this is its first login.
    pub fn mark_logged_in(&self, org_id: &str) -> Result<bool> {
        let first = self.db.execute(
            "UPDATE orgs SET logged_in = 1 WHERE id = ?1 AND logged_in = 0",
            [org_id],
        )?;
        Ok(first == 1)
    }
}

/// A projection row written as given, for the tests of the progress scan (which need
/// trees no push would make quickly: odd category spellings, any facts).
#[cfg(test)]
pub(crate) struct RawOrg<'a> {
    pub id: &'a str,
    pub parent: &'a str,
    pub path: &'a str,
    pub level: u8,
    pub sort_key: i64,
    pub deleted: bool,
    pub category: &'a str,
    pub complete: bool,
    pub live_children: i64,
    pub logged_in: bool,
}

#[cfg(test)]
impl Tx<'_> {
    pub(crate) fn insert_raw_org(&self, o: &RawOrg<'_>) -> Result<()> {
        self.db.execute(
            "INSERT INTO orgs(id, parent, path, level, sort_key, deleted, category,
                 short_name, name_key, full_name, phone, complete, live_children,
                 admin_count, logged_in, seq, record, bytes, heads)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?1, ?1, '', '', ?8, ?9, 0, ?10, 0,
                     '{}', x'', x'')",
            params![
                o.id,
                o.parent,
                o.path,
                o.level,
                o.sort_key,
                o.deleted,
                o.category,
                o.complete,
                o.live_children,
                o.logged_in
            ],
        )?;
        Ok(())
    }
}

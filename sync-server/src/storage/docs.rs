//! The organizations and the change feed: each organization's Automerge document and its
//! relational projection (`orgs`: parent, path, level, category, names, completeness, live
//! children, admins, first login, feed position), and the feed (`feed`: one sequence
//! number per change of a document or of its server-side facts).

use std::collections::HashMap;

use schemas::org::OrgRecord;

use super::rollups::{STATE_COLS, UnitState, state_row};
use super::sql::{Dialect, RowRef, params};
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
    pub logged_in: bool,
    pub complete: bool,
}

impl OrgRow {
    /// The unit as the progress roll-ups know it (storage/rollups.rs).
    pub fn state(&self) -> UnitState {
        UnitState {
            path: self.path.clone(),
            level: self.level,
            category: self.category.clone(),
            logged_in: self.logged_in,
            complete: self.complete,
            live_children: self.live_children,
            deleted: self.deleted,
        }
    }
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

const ORG_COLS: &str = "id, parent, path, level, deleted, category, short_name, live_children, \
                        admin_count, seq, logged_in, complete";

fn org_row(r: &RowRef<'_>) -> Result<OrgRow> {
    Ok(OrgRow {
        id: r.text(0)?,
        parent: r.text(1)?,
        path: r.text(2)?,
        level: r.level(3)?,
        deleted: r.flag(4)?,
        category: r.text(5)?,
        short_name: r.text(6)?,
        live_children: r.int(7)?,
        admin_count: r.int(8)?,
        seq: r.int(9)?,
        logged_in: r.flag(10)?,
        complete: r.flag(11)?,
    })
}

impl Conn<'_> {
    /// The organization `id`, deleted or not.
    pub fn org(&self, id: &str) -> Result<Option<OrgRow>> {
        self.db.row(
            &format!("SELECT {ORG_COLS} FROM orgs WHERE id = ?1"),
            params![id],
            org_row,
        )
    }

    /// The stored document of `id` and its record.
    pub fn org_doc(&self, id: &str) -> Result<Option<OrgDoc>> {
        let row = self.db.row(
            "SELECT bytes, record FROM orgs WHERE id = ?1",
            params![id],
            |r| Ok((r.bytes(0)?.to_vec(), r.text(1)?)),
        )?;
        row.map(|(bytes, record)| {
            let record: OrgRecord =
                serde_json::from_str(&record).map_err(|e| Error::Internal(e.to_string()))?;
            Ok(OrgDoc { bytes, record })
        })
        .transpose()
    }

    /// The live children of `parent`, in the tree's order.
    pub fn live_children(&self, parent: &str) -> Result<Vec<OrgRow>> {
        self.db.rows(
            &format!(
                "SELECT {ORG_COLS} FROM orgs WHERE parent = ?1 AND deleted = 0 ORDER BY sort_key, id"
            ),
            params![parent],
            org_row,
        )
    }

    /// The first `limit` live children of `parent`, in the tree's order.
    pub fn live_children_first(&self, parent: &str, limit: usize) -> Result<Vec<OrgRow>> {
        self.db.rows(
            &format!(
                "SELECT {ORG_COLS} FROM orgs WHERE parent = ?1 AND deleted = 0
                 ORDER BY sort_key, id LIMIT ?2"
            ),
            params![parent, limit as i64],
            org_row,
        )
    }

    /// The ids of the live organizations named exactly `short_name`.
    pub fn live_named(&self, short_name: &str) -> Result<Vec<String>> {
        self.db.rows(
            "SELECT id FROM orgs WHERE short_name = ?1 AND deleted = 0",
            params![short_name],
            |r| r.text(0),
        )
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
        self.db.exists(sql, params![parent, key, except])
    }

    /// Every organization's path, by id.
    pub fn org_paths(&self) -> Result<HashMap<String, String>> {
        Ok(self
            .db
            .rows("SELECT id, path FROM orgs", &[], |r| {
                Ok((r.text(0)?, r.text(1)?))
            })?
            .into_iter()
            .collect())
    }

    /// The figures of each level, over every live organization.
    pub fn level_summary(&self) -> Result<Vec<LevelSummary>> {
        self.db.rows(
            "SELECT level, COUNT(*), COUNT(*) FILTER (WHERE complete <> 0),
                    COUNT(*) FILTER (WHERE logged_in <> 0), COUNT(*) FILTER (WHERE admin_count > 0),
                    COUNT(*) FILTER (WHERE live_children > 0)
             FROM orgs WHERE deleted = 0 GROUP BY level ORDER BY level",
            &[],
            |r| {
                Ok(LevelSummary {
                    level: r.level(0)?,
                    orgs: r.int(1)?,
                    complete: r.int(2)?,
                    logged_in: r.int(3)?,
                    with_admin: r.int(4)?,
                    with_children: r.int(5)?,
                })
            },
        )
    }

    /// The highest sequence number whose transaction committed.
    pub fn max_seq(&self) -> Result<i64> {
        Ok(self
            .db
            .row(
                "SELECT CAST(COALESCE(MAX(seq), 0) AS BIGINT) FROM feed",
                &[],
                |r| r.int(0),
            )?
            .unwrap_or(0))
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
        let mut page = FeedPage {
            rows: Vec::new(),
            more: false,
        };
        let mut bytes = 0usize;
        self.db.each(
            "SELECT id, bytes, seq, logged_in, admin_count, heads, record, complete
             FROM orgs INDEXED BY orgs_feed
             WHERE seq > ?3 AND path >= ?1 AND path < ?2 ORDER BY seq LIMIT ?4",
            params![&lo, &hi, after as i64, i64::from(limit) + 1],
            |r| {
                if page.rows.len() == limit as usize || bytes >= max_bytes {
                    page.more = true;
                    return Ok(false);
                }
                let doc = r.bytes(1)?.to_vec();
                bytes += doc.len();
                page.rows.push(FeedRow {
                    id: r.text(0)?,
                    bytes: doc,
                    seq: r.int(2)?,
                    logged_in: r.flag(3)?,
                    admin_count: r.int(4)?,
                    heads: wire::heads::to_wire(&wire::heads::decode(r.bytes(5)?)),
                    record: r.text(6)?,
                    complete: r.flag(7)?,
                });
                Ok(true)
            },
        )?;
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
        self.db.rows(
            "SELECT id, seq FROM orgs INDEXED BY orgs_feed
             WHERE seq > ?3 AND path >= ?1 AND path < ?2 ORDER BY seq LIMIT ?4",
            params![&lo, &hi, after as i64, limit as i64],
            |r| Ok((r.text(0)?, r.int(1)?)),
        )
    }
}

impl Tx<'_> {
    /// The organization `id`, read to be changed by this transaction: on PostgreSQL its row
    /// stays locked until the transaction ends, so two processes merging into one
    /// document take turns, the second on the first's result (SQLite has one writer).
    pub fn lock_org(&self, id: &str) -> Result<Option<OrgRow>> {
        let sql = match self.db.dialect() {
            Dialect::Sqlite => format!("SELECT {ORG_COLS} FROM orgs WHERE id = ?1"),
            Dialect::Postgres => format!("SELECT {ORG_COLS} FROM orgs WHERE id = ?1 FOR UPDATE"),
        };
        self.db.row(&sql, params![id], org_row)
    }

    /// Append to the feed and return the new sequence number. The counter's row stays
    /// locked until this transaction ends, so positions commit in the order given: a pull
    /// that read up to a position can never later find a smaller one committed.
    fn next_seq(&self, org_id: &str, account_id: Option<i64>) -> Result<i64> {
        // The first position of a transaction takes the counter's row (locked to the
        // commit); the next ones count on from it here, and the counter is written once
        // before the commit (`Tx::flush_seq`): updating one row thousands of times in one
        // PostgreSQL transaction walks a growing chain of its versions each time.
        let seq = match self.seqs.get() {
            Some((_, last)) => last + 1,
            None => self
                .db
                .row(
                    "UPDATE feed_counter SET seq = seq + 1 WHERE id = 1 RETURNING seq",
                    &[],
                    |r| r.int(0),
                )?
                .ok_or_else(|| Error::Internal("feed counter missing".into()))?,
        };
        let first = self.seqs.get().map_or(seq, |(first, _)| first);
        self.seqs.set(Some((first, seq)));
        self.db.execute(
            "INSERT INTO feed(seq, org_id, at, account_id) VALUES (?1, ?2, ?3, ?4)",
            params![seq, org_id, now(), account_id],
        )?;
        Ok(seq)
    }

    /// Write the last feed position this transaction gave out to the counter (before the
    /// commit; `Store::transaction` calls it).
    pub(super) fn flush_seq(&self) -> Result<()> {
        if let Some((first, last)) = self.seqs.get()
            && last != first
        {
            self.db.execute(
                "UPDATE feed_counter SET seq = ?1 WHERE id = 1",
                params![last],
            )?;
            self.seqs.set(Some((last, last)));
        }
        Ok(())
    }

    /// Insert or update an organization's document and projection, with a new feed entry.
    /// `was` is its row as this transaction read it ([`Tx::lock_org`]): a new one is
    /// inserted (and if another process inserted it meanwhile, the unique key sends this
    /// transaction round again, `storage/pg.rs`). Keeps the parent's live-children count
    /// in step. Returns the new sequence number.
    pub fn put_org(
        &self,
        a: &Accepted<'_>,
        was: Option<&OrgRow>,
        account_id: Option<i64>,
    ) -> Result<i64> {
        let seq = self.next_seq(&a.record.id, account_id)?;
        let r = a.record;
        // The roll-ups follow the unit and its parent (its live children), from their
        // states before the change (storage/rollups.rs): the unit's is the row read.
        let deferred = self.rollups_deferred.get();
        let before = was.map(OrgRow::state);
        let record = serde_json::to_string(r).map_err(|e| Error::Internal(e.to_string()))?;
        let name_key = schemas::name::name_key(&r.short_name);
        if was.is_some() {
            self.db.execute(
                "UPDATE orgs SET sort_key = ?2, deleted = ?3, category = ?4, short_name = ?5,
                     name_key = ?6, full_name = ?7, phone = ?8, complete = ?9, seq = ?10,
                     record = ?11, bytes = ?12, heads = ?13
                 WHERE id = ?1",
                params![
                    &r.id,
                    r.sort_key,
                    r.deleted,
                    &r.category,
                    &r.short_name,
                    &name_key,
                    &r.full_name,
                    &r.phone,
                    a.complete,
                    seq,
                    &record,
                    a.bytes,
                    a.heads,
                ],
            )?;
        } else {
            self.db.execute(
                "INSERT INTO orgs(id, parent, path, level, sort_key, deleted, category, short_name,
                              name_key, full_name, phone, complete, seq, record, bytes, heads)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)",
                params![
                    &r.id,
                    &r.parent,
                    a.path,
                    r.level,
                    r.sort_key,
                    r.deleted,
                    &r.category,
                    &r.short_name,
                    &name_key,
                    &r.full_name,
                    &r.phone,
                    a.complete,
                    seq,
                    &record,
                    a.bytes,
                    a.heads,
                ],
            )?;
        }
        let was_live = was.is_some_and(|w| !w.deleted);
        let delta: i64 = match (was_live, !r.deleted) {
            (false, true) => 1,
            (true, false) => -1,
            _ => 0,
        };
        let parent_after = if delta != 0 && !r.parent.is_empty() {
            self.db.row(
                &format!(
                    "UPDATE orgs SET live_children = live_children + ?1 WHERE id = ?2
                     RETURNING {STATE_COLS}"
                ),
                params![delta, &r.parent],
                state_row,
            )?
        } else {
            None
        };
        if deferred {
            return Ok(seq);
        }
        // The roll-ups (storage/rollups.rs), from the states before and after, without
        // reading them back: put_org changes neither a unit's first login nor its children.
        let after = UnitState {
            path: a.path.to_owned(),
            level: r.level,
            category: r.category.clone(),
            logged_in: before.as_ref().is_some_and(|b| b.logged_in),
            complete: a.complete,
            live_children: before.as_ref().map_or(0, |b| b.live_children),
            deleted: r.deleted,
        };
        self.recount_change(&r.id, before.as_ref(), &after);
        if was.is_none() {
            // No admin and no code yet (the codes of its document follow, `put_code`).
            self.note_child_codes(&r.parent);
        } else if delta != 0 {
            self.recount_codes(&r.id)?;
        }
        // The parent's own facts change only when its first child comes or its last goes.
        if let Some(pa) = parent_after {
            let mut pb = pa.clone();
            pb.live_children -= delta;
            if (pb.live_children > 0) != (pa.live_children > 0) {
                self.recount_change(&r.parent, Some(&pb), &pa);
            }
        }
        Ok(seq)
    }

    /// Bump an organization's feed position without changing its document (its facts
    /// changed: a first login, a new admin, a used code), so subtrees pulling see the new
    /// facts.
    pub fn touch_org(&self, org_id: &str, account_id: Option<i64>) -> Result<()> {
        let seq = self.next_seq(org_id, account_id)?;
        self.db.execute(
            "UPDATE orgs SET seq = ?1 WHERE id = ?2",
            params![seq, org_id],
        )?;
        Ok(())
    }

    /// Count `n` more admins of `org_id`, logged in if `logged_in` (the projection's
    /// facts; the feed is the caller's: [`Tx::touch_org`]).
    pub fn add_admins(&self, org_id: &str, n: i64, logged_in: bool) -> Result<()> {
        let before = self.unit_state(org_id)?;
        self.db.execute(
            "UPDATE orgs SET admin_count = admin_count + ?1,
                 logged_in = CASE WHEN ?2 <> 0 THEN 1 ELSE logged_in END
             WHERE id = ?3",
            params![n, logged_in, org_id],
        )?;
        if let Some(b) = before.filter(|b| logged_in && !b.logged_in) {
            self.recount(org_id, Some(&b))?;
        }
        self.recount_codes(org_id)?;
        Ok(())
    }

    /// Mark `org_id` as logged in; whether this is its first login.
    pub fn mark_logged_in(&self, org_id: &str) -> Result<bool> {
        let after = self.db.row(
            &format!(
                "UPDATE orgs SET logged_in = 1 WHERE id = ?1 AND logged_in = 0
                 RETURNING {STATE_COLS}"
            ),
            params![org_id],
            state_row,
        )?;
        let Some(after) = after else {
            return Ok(false);
        };
        // Before, it was the same unit not logged in.
        let before = UnitState {
            logged_in: false,
            ..after.clone()
        };
        self.recount_change(org_id, Some(&before), &after);
        Ok(true)
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
                     '{}', ?11, ?11)",
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
                o.logged_in,
                &b""[..]
            ],
        )?;
        Ok(())
    }
}

//! The reads of progress supervision and its report (rules.md §11), over the projection with
//! the accounts and codes. A subtree is one range of the covering index `orgs_subtree`,
//! read in path (depth-first) order without touching the table ([`Conn::scan_subtree`]);
//! one level of a subtree is one range of `orgs_level_path` ([`Conn::level_page`]); a
//! unit's valid unused code is one seek of `codes_open` ([`OpenCodes`]).

use std::collections::HashMap;

use rusqlite::{CachedStatement, OptionalExtension, params};
use wire::protocol::UnitRef;

use super::{Conn, subtree_range};
use crate::error::{Error, Result};

/// One live unit as the scan reads it from the covering index (no copy of its text).
#[derive(Debug, Clone, Copy)]
pub struct UnitScan<'r> {
    pub path: &'r str,
    pub level: u8,
    /// As stored (a validated push stores one of the five labels).
    pub category: &'r str,
    pub logged_in: bool,
    pub complete: bool,
    pub live_children: i64,
    pub admin_count: i64,
}

/// One unit as a tab's table needs it.
#[derive(Debug, Clone)]
pub struct UnitRow {
    pub id: String,
    pub parent: String,
    pub short_name: String,
    pub category: String,
    pub level: u8,
    pub logged_in: bool,
    pub complete: bool,
    pub live_children: i64,
    pub admin_count: i64,
    pub phone: String,
}

const UNIT_COLS: &str = "id, parent, short_name, category, level, logged_in, complete, \
                         live_children, admin_count, phone";

fn unit_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<UnitRow> {
    Ok(UnitRow {
        id: r.get(0)?,
        parent: r.get(1)?,
        short_name: r.get(2)?,
        category: r.get(3)?,
        level: r.get(4)?,
        logged_in: r.get(5)?,
        complete: r.get(6)?,
        live_children: r.get(7)?,
        admin_count: r.get(8)?,
        phone: r.get(9)?,
    })
}

/// A text column without copying it.
fn str_at<'r>(r: &'r rusqlite::Row<'_>, i: usize) -> Result<&'r str> {
    r.get_ref(i)?
        .as_str()
        .map_err(|e| Error::Internal(e.to_string()))
}

/// Read the columns `path, level, category, logged_in, complete, live_children,
/// admin_count` of each row into `f`.
fn each_unit(
    mut rows: rusqlite::Rows<'_>,
    mut f: impl FnMut(UnitScan<'_>) -> Result<()>,
) -> Result<()> {
    while let Some(r) = rows.next()? {
        f(UnitScan {
            path: str_at(r, 0)?,
            level: r.get(1)?,
            category: str_at(r, 2)?,
            logged_in: r.get(3)?,
            complete: r.get(4)?,
            live_children: r.get(5)?,
            admin_count: r.get(6)?,
        })?;
    }
    Ok(())
}

/// Whether a unit has a valid unused code: one prepared statement, probed many times.
pub struct OpenCodes<'c>(CachedStatement<'c>);

impl OpenCodes<'_> {
    /// Whether `org_id` has a code unused and valid at `now`.
    pub fn any(&mut self, org_id: &str, now: i64) -> Result<bool> {
        Ok(self.0.exists(params![org_id, now])?)
    }
}

impl<'c> Conn<'c> {
    /// Every live unit of the subtree at `path` (the organization first), in path order:
    /// depth-first, each subtree contiguous and after its root.
    pub fn scan_subtree(
        &self,
        path: &str,
        f: impl FnMut(UnitScan<'_>) -> Result<()>,
    ) -> Result<()> {
        let (lo, hi) = subtree_range(path);
        let mut stmt = self.db.prepare_cached(
            "SELECT path, level, category, logged_in, complete, live_children, admin_count
             FROM orgs INDEXED BY orgs_subtree
             WHERE path >= ?1 AND path < ?2 AND deleted = 0 ORDER BY path",
        )?;
        each_unit(stmt.query(params![lo, hi])?, f)
    }

    /// Every live unit, in no particular order.
    pub fn scan_all(&self, f: impl FnMut(UnitScan<'_>) -> Result<()>) -> Result<()> {
        let mut stmt = self.db.prepare(
            "SELECT path, level, category, logged_in, complete, live_children, admin_count
             FROM orgs INDEXED BY orgs_level_path WHERE deleted = 0",
        )?;
        each_unit(stmt.query([])?, f)
    }

    /// The probe of valid unused codes (`codes_open`: one seek per probe).
    pub fn open_codes(&self) -> Result<OpenCodes<'c>> {
        Ok(OpenCodes(self.db.prepare_cached(
            "SELECT 1 FROM codes INDEXED BY codes_open
             WHERE org_id = ?1 AND used_by IS NULL AND expires_at > ?2 LIMIT 1",
        )?))
    }

    /// The live units of `level` in the subtree at `path`, in tree (path) order, from
    /// `offset`, at most `limit`.
    pub fn level_page(
        &self,
        path: &str,
        level: u8,
        offset: u64,
        limit: u32,
    ) -> Result<Vec<UnitRow>> {
        let (lo, hi) = subtree_range(path);
        Ok(self
            .db
            .prepare_cached(&format!(
                "SELECT {UNIT_COLS} FROM orgs INDEXED BY orgs_level_path
                 WHERE level = ?1 AND path >= ?2 AND path < ?3 AND deleted = 0
                 ORDER BY path LIMIT ?4 OFFSET ?5"
            ))?
            .query_map(
                params![
                    level,
                    lo,
                    hi,
                    i64::from(limit),
                    offset.min(i64::MAX as u64) as i64
                ],
                unit_row,
            )?
            .collect::<rusqlite::Result<_>>()?)
    }

    /// Every live unit of `level` in the subtree at `path`, in tree (path) order.
    pub fn level_units(&self, path: &str, level: u8) -> Result<Vec<UnitRow>> {
        let (lo, hi) = subtree_range(path);
        Ok(self
            .db
            .prepare_cached(&format!(
                "SELECT {UNIT_COLS} FROM orgs INDEXED BY orgs_level_path
                 WHERE level = ?1 AND path >= ?2 AND path < ?3 AND deleted = 0 ORDER BY path"
            ))?
            .query_map(params![level, lo, hi], unit_row)?
            .collect::<rusqlite::Result<_>>()?)
    }

    /// The organizations `ids` as a finding names them (with their parent's short name),
    /// in the order given; unknown ids are left out.
    pub fn unit_refs(&self, ids: &[String]) -> Result<Vec<UnitRef>> {
        let mut stmt = self.db.prepare_cached(
            "SELECT o.id, o.short_name, o.level, o.category, COALESCE(p.short_name, '')
             FROM orgs o LEFT JOIN orgs p ON p.id = o.parent WHERE o.id = ?1",
        )?;
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            if let Some(u) = stmt
                .query_row([id], |r| {
                    Ok(UnitRef {
                        org_id: r.get(0)?,
                        short_name: r.get(1)?,
                        level: r.get(2)?,
                        category: r.get(3)?,
                        parent_short_name: r.get(4)?,
                    })
                })
                .optional()?
            {
                out.push(u);
            }
        }
        Ok(out)
    }

    /// The current valid unused code of an organization (the one valid longest).
    pub fn valid_code(&self, org_id: &str, now: i64) -> Result<Option<String>> {
        Ok(self
            .db
            .prepare_cached(
                "SELECT code FROM codes INDEXED BY codes_open
                 WHERE org_id = ?1 AND used_by IS NULL AND expires_at > ?2
                 ORDER BY expires_at DESC, code DESC LIMIT 1",
            )?
            .query_row(params![org_id, now], |r| r.get(0))
            .optional()?)
    }

    /// Live direct children with neither an admin nor a valid code.
    pub fn children_without_code(&self, org_id: &str, now: i64) -> Result<u32> {
        Ok(self
            .db
            .prepare_cached(
                "SELECT COUNT(*) FROM orgs o WHERE o.parent = ?1 AND o.deleted = 0 AND o.admin_count = 0
                 AND NOT EXISTS (SELECT 1 FROM codes k INDEXED BY codes_open WHERE k.org_id = o.id
                                 AND k.used_by IS NULL AND k.expires_at > ?2)",
            )?
            .query_row(params![org_id, now], |r| r.get(0))?)
    }

    /// The admins' names of every live unit below the organization at `path` (unmasked:
    /// mask before showing), by unit, in the order they registered.
    pub fn subtree_admins(&self, path: &str) -> Result<HashMap<String, Vec<String>>> {
        let (lo, hi) = subtree_range(path);
        let mut stmt = self.db.prepare(
            "SELECT a.org_id, a.name FROM accounts a JOIN orgs o ON o.id = a.org_id
             WHERE o.path > ?1 AND o.path < ?2 AND o.deleted = 0 ORDER BY a.id",
        )?;
        let mut rows = stmt.query(params![lo, hi])?;
        let mut admins: HashMap<String, Vec<String>> = HashMap::new();
        while let Some(r) = rows.next()? {
            admins.entry(r.get(0)?).or_default().push(r.get(1)?);
        }
        Ok(admins)
    }

    /// The valid unused code of every live unit without an admin below the organization at
    /// `path`: the one valid longest (as [`Conn::valid_code`]).
    pub fn subtree_open_codes(&self, path: &str, now: i64) -> Result<HashMap<String, String>> {
        let (lo, hi) = subtree_range(path);
        let mut stmt = self.db.prepare(
            "SELECT k.org_id, k.code FROM codes k JOIN orgs o ON o.id = k.org_id
             WHERE o.path > ?1 AND o.path < ?2 AND o.deleted = 0 AND o.admin_count = 0
               AND k.used_by IS NULL AND k.expires_at > ?3
             ORDER BY k.expires_at, k.code",
        )?;
        let mut rows = stmt.query(params![lo, hi, now])?;
        let mut codes = HashMap::new();
        // The last of this order is the one valid longest.
        while let Some(r) = rows.next()? {
            codes.insert(r.get(0)?, r.get(1)?);
        }
        Ok(codes)
    }

    /// Per parent below the organization at `path`: how many of its live children have
    /// neither an admin nor a valid code (as [`Conn::children_without_code`]).
    pub fn subtree_without_code(&self, path: &str, now: i64) -> Result<HashMap<String, u32>> {
        let (lo, hi) = subtree_range(path);
        let mut stmt = self.db.prepare(
            "SELECT o.parent, COUNT(*) FROM orgs o
             WHERE o.path > ?1 AND o.path < ?2 AND o.deleted = 0 AND o.admin_count = 0
               AND NOT EXISTS (SELECT 1 FROM codes k WHERE k.org_id = o.id
                               AND k.used_by IS NULL AND k.expires_at > ?3)
             GROUP BY o.parent",
        )?;
        let mut rows = stmt.query(params![lo, hi, now])?;
        let mut without = HashMap::new();
        while let Some(r) = rows.next()? {
            without.insert(r.get(0)?, r.get(1)?);
        }
        Ok(without)
    }
}

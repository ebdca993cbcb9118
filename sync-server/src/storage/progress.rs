//! The reads of progress supervision and its report (rules.md §11), over the projection with
//! the accounts and codes. A subtree is one range of the covering index `orgs_subtree`,
//! read in path (depth-first) order without touching the table ([`Conn::scan_subtree`]);
//! one level of a subtree is one range of `orgs_level_path` ([`Conn::level_page`]); a
//! unit's valid unused code is one seek of `codes_open` ([`OpenCodes`]).

use std::collections::HashMap;

use wire::protocol::UnitRef;

use super::sql::{RowRef, params};
use super::{Conn, subtree_range};
use crate::error::Result;

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

/// One row of a progress table's page: the unit, and what the row shows beyond it.
#[derive(Debug, Clone)]
pub struct PageUnit {
    pub unit: UnitRow,
    /// Live direct children with neither an admin nor a valid code (0 without children).
    pub without_code: u32,
    /// The unit's valid unused code, the one valid longest (only for a unit without an
    /// admin).
    pub code: Option<String>,
    /// The admins' names (unmasked: mask before showing), in the order they registered.
    pub admins: Vec<String>,
}

fn unit_row(r: &RowRef<'_>) -> Result<UnitRow> {
    Ok(UnitRow {
        id: r.text(0)?,
        parent: r.text(1)?,
        short_name: r.text(2)?,
        category: r.text(3)?,
        level: r.level(4)?,
        logged_in: r.flag(5)?,
        complete: r.flag(6)?,
        live_children: r.int(7)?,
        admin_count: r.int(8)?,
        phone: r.text(9)?,
    })
}

/// A unit as a finding names it, from the columns `o.id, o.short_name, o.level,
/// o.category, COALESCE(p.short_name, '')` (`p`: its parent).
pub(super) fn unit_ref(r: &RowRef<'_>) -> Result<UnitRef> {
    Ok(UnitRef {
        org_id: r.text(0)?,
        short_name: r.text(1)?,
        level: r.level(2)?,
        category: r.text(3)?,
        parent_short_name: r.text(4)?,
    })
}

/// The columns `path, level, category, logged_in, complete, live_children, admin_count` of
/// a row, as the scan reads them.
fn unit_scan<'r>(r: &RowRef<'r>) -> Result<UnitScan<'r>> {
    Ok(UnitScan {
        path: r.str(0)?,
        level: r.level(1)?,
        category: r.str(2)?,
        logged_in: r.flag(3)?,
        complete: r.flag(4)?,
        live_children: r.int(5)?,
        admin_count: r.int(6)?,
    })
}

/// Whether a unit has a valid unused code: one statement, probed many times.
pub struct OpenCodes<'a, 'c>(&'a Conn<'c>);

impl OpenCodes<'_, '_> {
    /// Whether `org_id` has a code unused and valid at `now`.
    pub fn any(&mut self, org_id: &str, now: i64) -> Result<bool> {
        self.0.db.exists(
            "SELECT 1 FROM codes INDEXED BY codes_open
             WHERE org_id = ?1 AND used_by IS NULL AND expires_at > ?2 LIMIT 1",
            params![org_id, now],
        )
    }
}

impl<'c> Conn<'c> {
    /// Every live unit of the subtree at `path` (the organization first), in path order:
    /// depth-first, each subtree contiguous and after its root.
    pub fn scan_subtree(
        &self,
        path: &str,
        mut f: impl FnMut(UnitScan<'_>) -> Result<()>,
    ) -> Result<()> {
        let (lo, hi) = subtree_range(path);
        self.db.each(
            "SELECT path, level, category, logged_in, complete, live_children, admin_count
             FROM orgs INDEXED BY orgs_subtree
             WHERE path >= ?1 AND path < ?2 AND deleted = 0 ORDER BY path",
            params![&lo, &hi],
            |r| f(unit_scan(r)?).map(|()| true),
        )
    }

    /// Every live unit, in no particular order.
    pub fn scan_all(&self, mut f: impl FnMut(UnitScan<'_>) -> Result<()>) -> Result<()> {
        self.db.each(
            "SELECT path, level, category, logged_in, complete, live_children, admin_count
             FROM orgs INDEXED BY orgs_level_path WHERE deleted = 0",
            &[],
            |r| f(unit_scan(r)?).map(|()| true),
        )
    }

    /// The probe of valid unused codes (`codes_open`: one seek per probe).
    pub fn open_codes(&self) -> Result<OpenCodes<'_, 'c>> {
        Ok(OpenCodes(self))
    }

    /// One page of a progress table: the live units of `level` in the subtree at `path`,
    /// in tree (path) order, from `offset`, at most `limit`, each with what its row shows
    /// beyond the unit (as of `now`). Two statements however long the page: on PostgreSQL
    /// each statement is a round trip, and three lookups per row made a page of 50 cost
    /// about 150 of them.
    pub fn level_page(
        &self,
        path: &str,
        level: u8,
        offset: u64,
        limit: u32,
        now: i64,
    ) -> Result<Vec<PageUnit>> {
        let (lo, hi) = subtree_range(path);
        // Children without a code: the bare ones (a stored roll-up) and those whose codes
        // have expired by `now`; the code: the one valid longest.
        let mut page = self.db.rows(
            &format!(
                "SELECT {UNIT_COLS}, o.path,
                   CAST(CASE WHEN o.live_children > 0 THEN o.bare_children +
                     (SELECT COUNT(*) FROM orgs c INDEXED BY orgs_codes_child
                      WHERE c.parent = o.id AND c.deleted = 0 AND c.admin_count = 0
                        AND c.code_valid_until > 0 AND c.code_valid_until <= ?6)
                   ELSE 0 END AS BIGINT),
                   CASE WHEN o.admin_count = 0 THEN
                     (SELECT k.code FROM codes k INDEXED BY codes_open
                      WHERE k.org_id = o.id AND k.used_by IS NULL AND k.expires_at > ?6
                      ORDER BY k.expires_at DESC, k.code DESC LIMIT 1)
                   END
                 FROM orgs o INDEXED BY orgs_level_path
                 WHERE o.level = ?1 AND o.path >= ?2 AND o.path < ?3 AND o.deleted = 0
                 ORDER BY o.path LIMIT ?4 OFFSET ?5"
            ),
            params![
                level,
                &lo,
                &hi,
                i64::from(limit),
                offset.min(i64::MAX as u64) as i64,
                now
            ],
            |r| {
                Ok((
                    PageUnit {
                        unit: unit_row(r)?,
                        without_code: r.int(11)?.clamp(0, i64::from(u32::MAX)) as u32,
                        code: r.opt_str(12)?.map(str::to_owned),
                        admins: Vec::new(),
                    },
                    r.text(10)?,
                ))
            },
        )?;
        // The page's admins: the units of the level from its first path to its last are
        // exactly the page's.
        if page.iter().any(|(u, _)| u.unit.admin_count > 0) {
            let (first, last) = (&page[0].1, &page[page.len() - 1].1);
            let mut admins: HashMap<String, Vec<String>> = HashMap::new();
            self.db.each(
                "SELECT a.org_id, a.name FROM orgs o INDEXED BY orgs_level_path
                 CROSS JOIN accounts a
                 WHERE o.level = ?1 AND o.path >= ?2 AND o.path <= ?3 AND o.deleted = 0
                   AND o.admin_count > 0 AND a.org_id = o.id
                 ORDER BY a.id",
                params![level, first, last],
                |r| {
                    admins.entry(r.text(0)?).or_default().push(r.text(1)?);
                    Ok(true)
                },
            )?;
            for (u, _) in &mut page {
                u.admins = admins.remove(&u.unit.id).unwrap_or_default();
            }
        }
        Ok(page.into_iter().map(|(u, _)| u).collect())
    }

    /// Every live unit of `level` in the subtree at `path`, in tree (path) order.
    pub fn level_units(&self, path: &str, level: u8) -> Result<Vec<UnitRow>> {
        let (lo, hi) = subtree_range(path);
        self.db.rows(
            &format!(
                "SELECT {UNIT_COLS} FROM orgs INDEXED BY orgs_level_path
                 WHERE level = ?1 AND path >= ?2 AND path < ?3 AND deleted = 0 ORDER BY path"
            ),
            params![level, &lo, &hi],
            unit_row,
        )
    }

    /// The organizations `ids` as a finding names them (with their parent's short name),
    /// in the order given; unknown ids are left out.
    pub fn unit_refs(&self, ids: &[String]) -> Result<Vec<UnitRef>> {
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            if let Some(u) = self.db.row(
                "SELECT o.id, o.short_name, o.level, o.category, COALESCE(p.short_name, '')
                 FROM orgs o LEFT JOIN orgs p ON p.id = o.parent WHERE o.id = ?1",
                params![id],
                unit_ref,
            )? {
                out.push(u);
            }
        }
        Ok(out)
    }

    /// The admins' names of every live unit below the organization at `path` (unmasked:
    /// mask before showing), by unit, in the order they registered.
    pub fn subtree_admins(&self, path: &str) -> Result<HashMap<String, Vec<String>>> {
        let (lo, hi) = subtree_range(path);
        let mut admins: HashMap<String, Vec<String>> = HashMap::new();
        self.db.each(
            "SELECT a.org_id, a.name FROM accounts a JOIN orgs o ON o.id = a.org_id
             WHERE o.path > ?1 AND o.path < ?2 AND o.deleted = 0 ORDER BY a.id",
            params![&lo, &hi],
            |r| {
                admins.entry(r.text(0)?).or_default().push(r.text(1)?);
                Ok(true)
            },
        )?;
        Ok(admins)
    }

    /// The valid unused code of every live unit without an admin below the organization at
    /// `path`: the one valid longest (as a progress page shows it, [`Conn::level_page`]).
    pub fn subtree_open_codes(&self, path: &str, now: i64) -> Result<HashMap<String, String>> {
        let (lo, hi) = subtree_range(path);
        let mut codes = HashMap::new();
        // The last of this order is the one valid longest.
        self.db.each(
            "SELECT k.org_id, k.code FROM codes k JOIN orgs o ON o.id = k.org_id
             WHERE o.path > ?1 AND o.path < ?2 AND o.deleted = 0 AND o.admin_count = 0
               AND k.used_by IS NULL AND k.expires_at > ?3
             ORDER BY k.expires_at, k.code",
            params![&lo, &hi, now],
            |r| {
                codes.insert(r.text(0)?, r.text(1)?);
                Ok(true)
            },
        )?;
        Ok(codes)
    }

    /// Per parent below the organization at `path`: how many of its live children have
    /// neither an admin nor a valid code (as a progress page counts them, [`Conn::level_page`]).
    pub fn subtree_without_code(&self, path: &str, now: i64) -> Result<HashMap<String, u32>> {
        let (lo, hi) = subtree_range(path);
        let mut without = HashMap::new();
        self.db.each(
            "SELECT o.parent, COUNT(*) FROM orgs o
             WHERE o.path > ?1 AND o.path < ?2 AND o.deleted = 0 AND o.admin_count = 0
               AND NOT EXISTS (SELECT 1 FROM codes k WHERE k.org_id = o.id
                               AND k.used_by IS NULL AND k.expires_at > ?3)
             GROUP BY o.parent",
            params![&lo, &hi, now],
            |r| {
                without.insert(r.text(0)?, r.int(1)? as u32);
                Ok(true)
            },
        )?;
        Ok(without)
    }
}

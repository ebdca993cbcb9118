//! Progress snapshots (`progress_snapshots`): an organization's counts per level below it
//! on a day (Beijing), what the "every two days" report compares with.

use schemas::progress::{LevelCounts, format_date};
use time::Date;

use super::sql::{RowRef, params};
use super::{Conn, Tx};
use crate::error::Result;

/// A day's snapshot of an organization.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    /// "2017-12-20".
    pub day: String,
    /// The counts of each level below the organization, top first.
    pub levels: Vec<(u8, LevelCounts)>,
}

/// One level of one day's snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotRow {
    pub day: String,
    pub level: u8,
    pub counts: LevelCounts,
}

fn level_counts(r: &RowRef<'_>) -> Result<(u8, LevelCounts)> {
    Ok((r.level(0)?, super::rollups::level_counts(r, 1)?))
}

impl Conn<'_> {
    /// Whether `org_id` has a snapshot of `day`.
    pub fn has_snapshot(&self, org_id: &str, day: Date) -> Result<bool> {
        self.db.exists(
            "SELECT 1 FROM progress_snapshots WHERE org_id = ?1 AND day = ?2 LIMIT 1",
            params![org_id, &format_date(day)],
        )
    }

    /// The latest snapshot of `org_id` taken before `day`.
    pub fn latest_snapshot_before(&self, org_id: &str, day: Date) -> Result<Option<Snapshot>> {
        let prev = self
            .db
            .row(
                "SELECT MAX(day) FROM progress_snapshots WHERE org_id = ?1 AND day < ?2",
                params![org_id, &format_date(day)],
                |r| Ok(r.opt_str(0)?.map(str::to_owned)),
            )?
            .flatten();
        prev.map(|day| {
            let levels = self.db.rows(
                "SELECT level, total, logged_in, complete, created_children, branches
                 FROM progress_snapshots WHERE org_id = ?1 AND day = ?2 ORDER BY level",
                params![org_id, &day],
                level_counts,
            )?;
            Ok(Snapshot { day, levels })
        })
        .transpose()
    }

    /// The latest `limit` rows of `org_id`'s snapshots: the newest day first, each day's
    /// levels top first.
    pub fn snapshot_rows(&self, org_id: &str, limit: i64) -> Result<Vec<SnapshotRow>> {
        self.db.rows(
            "SELECT level, total, logged_in, complete, created_children, branches, day
             FROM progress_snapshots WHERE org_id = ?1
             ORDER BY day DESC, level LIMIT ?2",
            params![org_id, limit],
            |r| {
                let (level, counts) = level_counts(r)?;
                Ok(SnapshotRow {
                    day: r.text(6)?,
                    level,
                    counts,
                })
            },
        )
    }
}

impl Tx<'_> {
    /// Record an organization's counts of `day`. `replace`: the day's snapshot is
    /// replaced; otherwise a day already recorded is kept.
    pub fn write_snapshot(
        &self,
        org_id: &str,
        day: Date,
        levels: &[(u8, LevelCounts)],
        replace: bool,
    ) -> Result<()> {
        let day = format_date(day);
        if replace {
            self.db.execute(
                "DELETE FROM progress_snapshots WHERE org_id = ?1 AND day = ?2",
                params![org_id, &day],
            )?;
        } else if self.db.exists(
            "SELECT 1 FROM progress_snapshots WHERE org_id = ?1 AND day = ?2 LIMIT 1",
            params![org_id, &day],
        )? {
            return Ok(());
        }
        for (level, k) in levels {
            self.db.execute(
                "INSERT INTO progress_snapshots
                     (org_id, day, level, total, logged_in, complete, created_children, branches)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) ON CONFLICT DO NOTHING",
                params![
                    org_id,
                    &day,
                    *level,
                    k.total as i64,
                    k.logged_in as i64,
                    k.info_complete as i64,
                    k.created_children as i64,
                    k.branches as i64
                ],
            )?;
        }
        Ok(())
    }
}

//! The daily progress snapshots ("every two days" the city compares with the last report):
//! taken by the first progress request or report of a day, or by the operator for one or
//! every organization (`zhtj-server snapshot`), and read back as a history.

use std::collections::HashMap;

use schemas::Category;
use schemas::Level;
use schemas::progress::{LevelCounts, UnitFacts};
use time::Date;
use wire::protocol::{ProgressHistory, SnapshotDay, SnapshotLevel};

use super::{HISTORY_ROWS, authorize, fmt_day, scan};
use crate::error::{Error, Result};
use crate::identity::Actor;
use crate::storage::{Store, Tx};

/// Record an organization's counts of `day`. `replace`: the operator's snapshot replaces
/// the day's (the latest of the day stands); otherwise a day already recorded is kept
/// (the first request of the day takes it).
pub fn write_snapshot(
    tx: &Tx<'_>,
    org_id: &str,
    day: Date,
    levels: &[(u8, LevelCounts)],
    replace: bool,
) -> Result<()> {
    tx.write_snapshot(org_id, day, levels, replace)
}

/// The snapshots of an organization of `actor`'s subtree, oldest first.
pub fn history(store: &Store, actor: &Actor, org_id: Option<&str>) -> Result<ProgressHistory> {
    let org_id = org_id.unwrap_or(&actor.org_id).to_owned();
    store.read(|c| {
        let org = authorize(c, actor, &org_id)?;
        let mut days: Vec<SnapshotDay> = Vec::new();
        for r in c.snapshot_rows(&org.id, HISTORY_ROWS)? {
            if days.last().is_none_or(|d| d.day != r.day) {
                days.push(SnapshotDay {
                    day: r.day,
                    levels: Vec::new(),
                });
            }
            if let Some(d) = days.last_mut() {
                d.levels.push(SnapshotLevel {
                    level: r.level,
                    counts: r.counts,
                });
            }
        }
        days.reverse();
        Ok(ProgressHistory {
            org_id: org.id,
            org_short_name: org.short_name,
            days,
        })
    })
}

/// The operator's snapshot of one organization on `day` (replacing that day's).
pub fn snapshot_org(store: &Store, org_id: &str, day: Date) -> Result<usize> {
    let levels = store.read(|c| {
        let org = c
            .org(org_id)?
            .filter(|o| !o.deleted)
            .ok_or_else(|| Error::NotFound(format!("组织{org_id}")))?;
        Ok(scan(c, &org, None)?.levels)
    })?;
    store.transaction(|tx| tx.write_snapshot(org_id, day, &levels, true))?;
    Ok(levels.len())
}

/// The operator's snapshot of every organization with subordinates on `day` (replacing
/// that day's), in one pass over the projection: each unit is counted at its level for
/// each of its ancestors. Returns how many organizations were recorded.
pub fn snapshot_all(store: &Store, day: Date) -> Result<usize> {
    let per_org: HashMap<String, Vec<LevelCounts>> = store.read(|c| {
        let mut per_org: HashMap<String, Vec<LevelCounts>> = HashMap::new();
        let mut categories: HashMap<String, Option<Category>> = HashMap::new();
        c.scan_all(|u| {
            let Ok(level) = Level::new(u.level) else {
                return Ok(());
            };
            let raw = u.category;
            let category = match categories.get(raw) {
                Some(k) => *k,
                None => {
                    let k = Category::parse(raw).ok();
                    categories.insert(raw.to_owned(), k);
                    k
                }
            };
            let facts = UnitFacts {
                level,
                category,
                logged_in: u.logged_in,
                info_complete: u.complete,
                created_children: u.live_children > 0,
                children_without_code: 0,
            };
            let segments: Vec<&str> = u.path.split('/').filter(|s| !s.is_empty()).collect();
            let Some((_, ancestors)) = segments.split_last() else {
                return Ok(());
            };
            for a in ancestors {
                let v = match per_org.get_mut(*a) {
                    Some(v) => v,
                    None => per_org.entry((*a).to_owned()).or_default(),
                };
                let i = usize::from(level.get());
                if v.len() <= i {
                    v.resize(i + 1, LevelCounts::default());
                }
                v[i].add(&facts);
            }
            Ok(())
        })?;
        Ok(per_org)
    })?;
    store.transaction(|tx| {
        for (org_id, v) in &per_org {
            let levels: Vec<(u8, LevelCounts)> = v
                .iter()
                .enumerate()
                .filter(|(_, k)| k.total > 0)
                .map(|(l, k)| (l as u8, *k))
                .collect();
            tx.write_snapshot(org_id, day, &levels, true)?;
        }
        tx.audit(
            None,
            "progress.snapshot",
            None,
            &format!("{} organizations on {}", per_org.len(), fmt_day(day)),
        )
    })?;
    Ok(per_org.len())
}

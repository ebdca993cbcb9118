//! Progress supervision on the server (录入进度督导, rules.md §11): for any organization of
//! the logged-in admin's subtree, by level below it, the counts and summary sentence of
//! each tab, the table's rows (one page), the completeness finding (rules.md §1), the
//! campaign schedule with each unit's overdue items, and per-child roll-ups for charts;
//! and the daily snapshots the "every two days" report compares with (served by
//! `crate::http::progress`; the Excel report is `crate::report`).
//!
//! Here: the response ([`progress`]), one tab's page ([`page`]) and the rows' masking;
//! `clock`: the moment a request is judged at; `scan`: the one pass over a subtree;
//! `snapshot`: the daily snapshots. Every query is `crate::storage`'s.
//!
//! The definitions are those of `schemas::progress` (shared with the client's offline
//! view). The numbers come from the projection the push transaction maintains (`orgs`),
//! never rebuilt per request. A subtree is one range of the covering index `orgs_subtree
//! (path, deleted, level, category, logged_in, complete, live_children, admin_count)`, read
//! once in path order without touching the table ([`scan`]): each unit's `UnitFacts` is
//! added with `LevelCounts::add` to its level and to its direct child's roll-up, and the
//! completeness finding is computed on the way with a stack (path order is depth-first). A
//! tab's page is one range of `orgs_level_path (level, path, deleted, admin_count)`.
//! (Aggregating in SQL instead, `GROUP BY level` with one conditional SUM per category, then
//! again per child, measured about four times as slow at 100,000 units: 140 ms against
//! 34 ms for the one scan. The e2e property test checks every count against
//! `schemas::progress::tally` and `committees_without_branch` over generated trees.)

mod clock;
mod scan;
mod snapshot;

use schemas::level::MAX_LEVEL;
use schemas::progress::{self, LevelCounts, ProgressRow, Schedule, Task, UnitFacts};
use schemas::{Category, Level, Mobile};
use serde::Deserialize;
use time::Date;
use wire::protocol::{OverdueCount, ProgressEntry, ProgressPage, ProgressResponse, ProgressTab};

pub use clock::{Clock, fmt_day, parse_day};
pub use scan::{Subtree, rollups, rollups_of, scan};
pub use snapshot::{history, snapshot_all, snapshot_org, write_snapshot};

use crate::error::{Error, Result};
use crate::identity::Actor;
use crate::storage::{Conn, OrgRow, PageUnit, Store, UnitRow};

/// Rows per page when the request does not say.
pub const DEFAULT_LIMIT: u32 = 50;
/// The largest page.
pub const MAX_LIMIT: u32 = 500;
/// Units of the completeness finding listed in a progress response (all are counted; the
/// report lists all).
pub const FINDING_LIMIT: usize = 200;
/// Direct children whose roll-ups a progress response carries (all are counted; the report
/// has all): the chart of a district with two thousand direct children shows the first.
pub const ROLLUP_LIMIT: usize = 200;
/// Snapshot rows returned by the history (a campaign lasts weeks, not years).
pub const HISTORY_ROWS: i64 = 10_000;

/// The scope of a sentence: 全团 for 团中央, otherwise the organization's short name.
pub fn scope_of(org: &OrgRow) -> String {
    if org.level == Level::CENTRAL.get() {
        "全团".to_owned()
    } else {
        org.short_name.clone()
    }
}

/// Refusal of an organization outside the logged-in admin's subtree (HTTP 403,
/// `auth.outside_subtree`; an unknown id is refused the same way, so ids outside cannot be
/// probed).
pub fn outside() -> Error {
    Error::Forbidden("该组织不在您管理的组织范围内,不能查看其录入情况".into())
}

/// The organization `org_id`, if it is in `actor`'s subtree and live.
pub fn authorize(c: &Conn<'_>, actor: &Actor, org_id: &str) -> Result<OrgRow> {
    match c.org(org_id)? {
        Some(o) if o.path.starts_with(&actor.org_path) => {
            if o.deleted {
                Err(Error::NotFound("该组织(已删除)".into()))
            } else {
                Ok(o)
            }
        }
        _ => Err(outside()),
    }
}

/// 联系电话 for supervisors: a mobile number is personal and masked (138****5678); a
/// landline is the office's and stays; anything else (never accepted by a validated push)
/// keeps only its first 3 and last 2 characters.
pub fn mask_phone(phone: &str) -> String {
    if let Ok(m) = Mobile::parse(phone) {
        return m.masked();
    }
    if phone.is_empty() || schemas::Phone::parse(phone).is_ok() {
        return phone.to_owned();
    }
    let chars: Vec<char> = phone.chars().collect();
    chars
        .iter()
        .enumerate()
        .map(|(i, c)| {
            if i < 3 || i + 2 >= chars.len() {
                *c
            } else {
                '*'
            }
        })
        .collect()
}

// ------------------------------------------------------------------------------- rows

/// A unit's facts, as `schemas::progress` defines them, from its row.
pub fn unit_facts(u: &UnitRow, children_without_code: u32) -> Result<UnitFacts> {
    Ok(UnitFacts {
        level: Level::new(u.level).map_err(Error::from)?,
        category: Category::parse(&u.category).ok(),
        logged_in: u.logged_in,
        info_complete: u.complete,
        created_children: u.live_children > 0,
        children_without_code,
    })
}

/// The table's row of a unit: names masked, a mobile phone masked, the code only for a
/// unit without an admin.
pub fn unit_row(
    u: &UnitRow,
    facts: &UnitFacts,
    admins: &[String],
    code: Option<String>,
) -> ProgressRow {
    ProgressRow {
        org_id: u.id.clone(),
        short_name: u.short_name.clone(),
        logged_in: u.logged_in,
        info_complete: u.complete,
        created_children: facts.expects_children().then_some(facts.created_children),
        admins: admins
            .iter()
            .map(|n| schemas::person::mask_name(n))
            .collect(),
        phone: mask_phone(&u.phone),
        code: if u.admin_count == 0 { code } else { None },
    }
}

/// One page of the table of `level` below `org`, in tree order (by path).
pub fn page(
    c: &Conn<'_>,
    org: &OrgRow,
    level: u8,
    offset: u64,
    limit: u32,
    clock: &Clock,
    schedule: &Schedule,
) -> Result<Vec<ProgressEntry>> {
    let units = c.level_page(&org.path, level, offset, limit, clock.now)?;
    let mut out = Vec::with_capacity(units.len());
    for PageUnit {
        unit: u,
        without_code,
        code,
        admins,
    } in units
    {
        let mut facts = unit_facts(&u, without_code)?;
        // Children without a code count only where children are expected.
        if !facts.expects_children() {
            facts.children_without_code = 0;
        }
        out.push(ProgressEntry {
            row: unit_row(&u, &facts, &admins, code),
            overdue: schedule.overdue(&facts, clock.today),
            category: u.category,
        });
    }
    Ok(out)
}

/// The passed deadlines of a tab and how many of its units are late with each.
pub fn tab_overdue(
    schedule: &Schedule,
    level: u8,
    counts: &LevelCounts,
    today: Date,
    codes_late: Option<u64>,
) -> Vec<OverdueCount> {
    let Ok(lvl) = Level::new(level) else {
        return Vec::new();
    };
    schedule
        .for_level(lvl)
        .filter(|d| today > d.due)
        .map(|d| OverdueCount {
            task: d.task,
            label: d.task.label().to_owned(),
            due: fmt_day(d.due),
            units: match d.task {
                Task::InfoComplete => Some(counts.info_incomplete()),
                Task::ChildrenCreated => Some(counts.not_created_children()),
                Task::CodesIssued => codes_late,
            },
        })
        .collect()
}

// ---------------------------------------------------------------------------- service

/// The query of `GET /api/v1/progress` (every field optional; `org` defaults to the
/// logged-in admin's organization, `level` to the first level below it).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ProgressParams {
    pub org: Option<String>,
    pub level: Option<u8>,
    pub offset: Option<u64>,
    pub limit: Option<u32>,
    /// "YYYY-MM-DD": judge overdue items as of this day (tests, "what was late then").
    pub as_of: Option<String>,
}

impl ProgressParams {
    fn clock(&self, base: Clock) -> Result<Clock> {
        match self.as_of.as_deref().filter(|s| !s.trim().is_empty()) {
            Some(s) => Ok(base.as_of(parse_day(s)?)),
            None => Ok(base),
        }
    }
}

/// The progress of an organization of `actor`'s subtree (see the module documentation).
/// Takes today's snapshot of the organization if there is none yet.
pub fn progress(
    store: &Store,
    actor: &Actor,
    q: &ProgressParams,
    schedule: &Schedule,
    base: Clock,
) -> Result<ProgressResponse> {
    let clock = q.clock(base)?;
    let org_id = q.org.clone().unwrap_or_else(|| actor.org_id.clone());
    // On a replica when one is configured (docs/deployment.md: it may lag).
    let (resp, levels, need_snapshot) = store.read_replica(|c| {
        let org = authorize(c, actor, &org_id)?;
        let first = org.level.saturating_add(1);
        let level = q.level.unwrap_or(first);
        if level < first || level > MAX_LEVEL {
            return Err(Error::BadRequest(format!(
                "层级应在{first}到{MAX_LEVEL}之间(所查组织为{}级)",
                org.level
            )));
        }
        // The stored roll-ups (storage/rollups.rs): no pass over the subtree.
        let levels = c.subtree_levels(&org.id, org.level)?;
        let limit = q.limit.unwrap_or(DEFAULT_LIMIT).clamp(1, MAX_LIMIT);
        let offset = q.offset.unwrap_or(0);
        let scope = scope_of(&org);
        let mut tabs = Vec::with_capacity(levels.len());
        for (l, counts) in &levels {
            let lvl = Level::new(*l).map_err(Error::from)?;
            let codes_late = if *l == level {
                Some(c.codes_late(&org.path, level, clock.now)?)
            } else {
                None
            };
            tabs.push(ProgressTab {
                level: *l,
                title: progress::tab_title(lvl),
                counts: *counts,
                sentence: progress::summary_sentence(clock.at, &scope, lvl, counts),
                overdue: tab_overdue(schedule, *l, counts, clock.today, codes_late),
            });
        }
        let rows = page(c, &org, level, offset, limit, &clock, schedule)?;
        let rollups = rollups_of(
            c.live_children_first(&org.id, ROLLUP_LIMIT)?,
            &c.child_rollups(&org.id, ROLLUP_LIMIT)?,
        )?;
        let need_snapshot = !levels.is_empty() && !c.has_snapshot(&org.id, clock.day)?;
        let resp = ProgressResponse {
            org_id: org.id.clone(),
            org_short_name: org.short_name.clone(),
            org_level: org.level,
            generated_at: clock::fmt_time(clock.at),
            as_of: fmt_day(clock.today),
            page: ProgressPage {
                level,
                offset,
                limit,
                total: levels
                    .iter()
                    .find(|(l, _)| *l == level)
                    .map_or(0, |(_, c)| c.total),
                rows,
            },
            tabs,
            without_branch_total: c.finding_total(&org.id)?,
            without_branch: c.finding_units(&org.path, FINDING_LIMIT)?,
            schedule: schedule.clone(),
            rollups,
            rollups_total: org.live_children.max(0) as u64,
        };
        Ok((resp, levels, need_snapshot))
    })?;
    if need_snapshot {
        // Best effort: a reader must get progress even when the day's snapshot cannot be
        // written (a full disk, another process holding the write lock).
        if let Err(e) =
            store.transaction(|tx| tx.write_snapshot(&resp.org_id, clock.day, &levels, false))
        {
            tracing::warn!(error = %e, code = e.code(), "progress snapshot not written");
        }
    }
    Ok(resp)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phones_are_masked_when_personal() {
        assert_eq!(mask_phone("13812345678"), "138****5678");
        assert_eq!(mask_phone("028-61310936"), "028-61310936");
        assert_eq!(mask_phone(""), "");
        assert_eq!(mask_phone("12345678901234"), "123*********34");
    }
}

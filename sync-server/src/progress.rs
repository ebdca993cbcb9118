//! Progress supervision on the server (录入进度督导, RULES §11): for any organization of
//! the logged-in admin's subtree, by level below it, the counts and summary sentence of
//! each tab, the table's rows (one page), the completeness finding (RULES §1), the
//! campaign schedule with each unit's overdue items, and per-child roll-ups for charts;
//! and the daily snapshots the "every two days" report compares with (served by
//! `crate::http::progress`).
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

use std::collections::HashMap;

use schemas::level::MAX_LEVEL;
use schemas::progress::{self, LevelCounts, ProgressRow, Schedule, Task, UnitFacts};
use schemas::{Category, Level, Mobile};
use serde::Deserialize;
use time::{Date, OffsetDateTime, PrimitiveDateTime};
use wire::protocol::{
    ChildRollup, OverdueCount, ProgressEntry, ProgressHistory, ProgressPage, ProgressResponse,
    ProgressTab, SnapshotDay, SnapshotLevel,
};

use crate::error::{Error, Result};
use crate::identity::Actor;
use crate::storage::{Conn, OrgRow, Store, Tx, UnitRow};

/// Rows per page when the request does not say.
pub const DEFAULT_LIMIT: u32 = 50;
/// The largest page.
pub const MAX_LIMIT: u32 = 500;
/// Units of the completeness finding listed in a progress response (all are counted; the
/// report lists all).
pub const FINDING_LIMIT: usize = 200;
/// Snapshot rows returned by the history (a campaign lasts weeks, not years).
pub const HISTORY_ROWS: i64 = 10_000;

/// The moment a request is judged at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Clock {
    /// Unix seconds: which registration codes are still valid.
    pub now: i64,
    /// Beijing wall time of the counts (the sentence's 截至…时).
    pub at: PrimitiveDateTime,
    /// The day overdue items are judged on: today, or the request's `as_of`.
    pub today: Date,
    /// The real day (Beijing): snapshots are taken on it, never on `as_of`.
    pub day: Date,
}

impl Clock {
    pub fn at(now: OffsetDateTime) -> Clock {
        let b = schemas::beijing::at(now);
        Clock {
            now: now.unix_timestamp(),
            at: PrimitiveDateTime::new(b.date(), b.time()),
            today: b.date(),
            day: b.date(),
        }
    }

    /// The server clock.
    pub fn system() -> Clock {
        Clock::at(OffsetDateTime::now_utc())
    }

    /// Judge overdue items (and date the sentence) as of `day`, e.g. for tests.
    pub fn as_of(self, day: Date) -> Clock {
        Clock {
            at: PrimitiveDateTime::new(day, self.at.time()),
            today: day,
            ..self
        }
    }
}

/// "2017-12-18".
pub fn fmt_day(d: Date) -> String {
    format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day())
}

/// Parse "2017-12-18".
pub fn parse_day(s: &str) -> Result<Date> {
    Date::parse(
        s.trim(),
        time::macros::format_description!("[year]-[month]-[day]"),
    )
    .map_err(|_| Error::BadRequest("日期格式应为 YYYY-MM-DD".into()))
}

fn fmt_time(at: PrimitiveDateTime) -> String {
    format!("{} {:02}:{:02}", fmt_day(at.date()), at.hour(), at.minute())
}

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

/// Whether a unit of `category` expects children, by the shared definition.
fn expects_children(category: Option<Category>) -> bool {
    UnitFacts {
        level: Level::CENTRAL,
        category,
        logged_in: false,
        info_complete: false,
        created_children: false,
        children_without_code: 0,
    }
    .expects_children()
}

/// Add `b` into `a`.
pub fn merge_counts(a: &mut LevelCounts, b: &LevelCounts) {
    a.total += b.total;
    a.logged_in += b.logged_in;
    a.info_complete += b.info_complete;
    a.created_children += b.created_children;
    a.branches += b.branches;
}

// ----------------------------------------------------------------------------- counting

/// Category labels as stored, resolved once per distinct string: a validated push stores
/// one of the five labels; anything else goes through `Category::parse` (and an unknown
/// category is `None`, as `UnitFacts` defines it).
#[derive(Default)]
struct Categories(Vec<(String, Option<Category>)>);

impl Categories {
    fn get(&mut self, raw: &str) -> Option<Category> {
        if let Some(k) = Category::ALL.into_iter().find(|k| k.label() == raw) {
            return Some(k);
        }
        if let Some((_, k)) = self.0.iter().find(|(s, _)| s == raw) {
            return *k;
        }
        let k = Category::parse(raw).ok();
        if self.0.len() < 64 {
            self.0.push((raw.to_owned(), k));
        }
        k
    }
}

/// What one scan of a subtree yields.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Subtree {
    /// Every non-empty level below the organization, top first.
    pub levels: Vec<(u8, LevelCounts)>,
    /// Per direct child (by id, in path order): its subtree's counts, the child included.
    pub children: Vec<(String, LevelCounts)>,
    /// The completeness finding (RULES §1): ids of the 团委, 团工委 and 团总支 (the
    /// organization included) with no 团支部 below, in tree (path) order.
    pub without_branch: Vec<String>,
    /// For the level asked with [`scan`]'s `codes_at`: how many of its units have a live
    /// child with neither an admin nor a valid code (the task "codes to the children").
    pub codes_late: Option<u64>,
}

impl Subtree {
    pub fn level(&self, level: u8) -> Option<&LevelCounts> {
        self.levels
            .iter()
            .find(|(l, _)| *l == level)
            .map(|(_, c)| c)
    }
}

/// A unit whose subtree the scan is inside of.
struct Open {
    path: String,
    level: u8,
    committee: bool,
    has_branch: bool,
    /// A child without an admin and without a valid code was found.
    late_with_codes: bool,
    expects_children: bool,
    order: usize,
}

/// The last id of a path ('/a/b/c/' → 'c').
fn last_segment(path: &str) -> &str {
    path.trim_end_matches('/').rsplit('/').next().unwrap_or("")
}

/// Close the open units that `path` is not below (every one when `path` is `None`): a
/// committee closed without a branch below is a finding; a unit with a branch below tells
/// its parent.
fn close(
    stack: &mut Vec<Open>,
    pool: &mut Vec<String>,
    path: Option<&str>,
    found: &mut Vec<(usize, String)>,
) {
    while let Some(top) = stack.last() {
        if path.is_some_and(|p| p.starts_with(top.path.as_str())) {
            break;
        }
        let Some(top) = stack.pop() else {
            break;
        };
        if top.has_branch {
            if let Some(parent) = stack.last_mut() {
                parent.has_branch = true;
            }
        } else if top.committee {
            found.push((top.order, last_segment(&top.path).to_owned()));
        }
        pool.push(top.path);
    }
}

/// Scan `org`'s subtree once, in path order, on the covering index `orgs_subtree` (no
/// table row is read): every unit's `UnitFacts` is added with `LevelCounts::add` to its
/// level and to its direct-child roll-up, and the completeness finding is computed on the
/// way (path order is depth-first: a subtree is contiguous and follows its root).
/// `codes_at`: also count the units of that level late with codes to their children, as
/// of `now` (one probe of `codes_open` per admin-less child until its parent is found
/// late).
pub fn scan(c: &Conn<'_>, org: &OrgRow, codes_at: Option<(u8, i64)>) -> Result<Subtree> {
    let mut probe = c.open_codes()?;
    let mut codes_late = codes_at.map(|_| 0u64);
    let mut cats = Categories::default();
    let mut by_level = vec![LevelCounts::default(); usize::from(MAX_LEVEL) + 1];
    let mut children: Vec<(String, LevelCounts)> = Vec::new();
    let mut child_path = String::new();
    let mut stack: Vec<Open> = Vec::new();
    let mut pool: Vec<String> = Vec::new();
    let mut found: Vec<(usize, String)> = Vec::new();
    let mut order = 0usize;
    c.scan_subtree(&org.path, |u| {
        let path = u.path;
        let level = u.level;
        let category = cats.get(u.category);
        close(&mut stack, &mut pool, Some(path), &mut found);
        if let Some(parent) = stack.last_mut() {
            if category == Some(Category::Branch) {
                parent.has_branch = true;
            }
            if let (Some((at, now)), Some(late)) = (codes_at, codes_late.as_mut())
                && parent.level == at
                && level == at.saturating_add(1)
                && !parent.late_with_codes
                && u.admin_count == 0
            {
                let id = last_segment(path);
                if !probe.any(id, now)? {
                    parent.late_with_codes = true;
                    *late += u64::from(parent.expects_children);
                }
            }
        }
        let mut p = pool.pop().unwrap_or_default();
        p.clear();
        p.push_str(path);
        stack.push(Open {
            path: p,
            level,
            committee: category.is_some_and(Category::needs_branch_below),
            has_branch: false,
            late_with_codes: false,
            expects_children: expects_children(category),
            order,
        });
        order += 1;
        if path.len() <= org.path.len() {
            return Ok(()); // the organization itself
        }
        let Ok(lvl) = Level::new(level) else {
            return Ok(());
        };
        let facts = UnitFacts {
            level: lvl,
            category,
            logged_in: u.logged_in,
            info_complete: u.complete,
            created_children: u.live_children > 0,
            children_without_code: 0,
        };
        by_level[usize::from(level)].add(&facts);
        if child_path.is_empty() || !path.starts_with(child_path.as_str()) {
            // The first unit of the next child's subtree: the child itself.
            let id = path[org.path.len()..].split('/').next().unwrap_or("");
            child_path.clear();
            child_path.push_str(&org.path);
            child_path.push_str(id);
            child_path.push('/');
            children.push((id.to_owned(), LevelCounts::default()));
        }
        if let Some((_, k)) = children.last_mut() {
            k.add(&facts);
        }
        Ok(())
    })?;
    close(&mut stack, &mut pool, None, &mut found);
    found.sort_unstable_by_key(|(o, _)| *o);
    Ok(Subtree {
        levels: by_level
            .into_iter()
            .enumerate()
            .filter(|(l, k)| *l > usize::from(org.level) && k.total > 0)
            .map(|(l, k)| (l as u8, k))
            .collect(),
        children,
        without_branch: found.into_iter().map(|(_, id)| id).collect(),
        codes_late,
    })
}

/// Per direct child of `org`, in the tree's order: its subtree's counts (from `scan`, the
/// child included) with the percentages for charts.
pub fn rollups(c: &Conn<'_>, org: &OrgRow, sub: &Subtree) -> Result<Vec<ChildRollup>> {
    let counts: HashMap<&str, &LevelCounts> = sub
        .children
        .iter()
        .map(|(id, k)| (id.as_str(), k))
        .collect();
    Ok(c.live_children(&org.id)?
        .into_iter()
        .map(|child| {
            let counts = counts
                .get(child.id.as_str())
                .copied()
                .copied()
                .unwrap_or_default();
            let pct = |n: u64| {
                if counts.total == 0 {
                    0.0
                } else {
                    (n as f64 * 1000.0 / counts.total as f64).round() / 10.0
                }
            };
            ChildRollup {
                complete_percent: pct(counts.info_complete),
                logged_in_percent: pct(counts.logged_in),
                org_id: child.id,
                short_name: child.short_name,
                category: child.category,
                counts,
            }
        })
        .collect())
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
    let units = c.level_page(&org.path, level, offset, limit)?;
    let mut out = Vec::with_capacity(units.len());
    for u in units {
        let probe = unit_facts(&u, 0)?;
        let without_code = if probe.expects_children() && u.live_children > 0 {
            c.children_without_code(&u.id, clock.now)?
        } else {
            0
        };
        let facts = unit_facts(&u, without_code)?;
        let admins = if u.admin_count > 0 {
            c.admin_names(&u.id)?
        } else {
            Vec::new()
        };
        let code = if u.admin_count == 0 {
            c.valid_code(&u.id, clock.now)?
        } else {
            None
        };
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
    let (resp, levels, need_snapshot) = store.read(|c| {
        let org = authorize(c, actor, &org_id)?;
        let first = org.level.saturating_add(1);
        let level = q.level.unwrap_or(first);
        if level < first || level > MAX_LEVEL {
            return Err(Error::BadRequest(format!(
                "层级应在{first}到{MAX_LEVEL}之间(所查组织为{}级)",
                org.level
            )));
        }
        let sub = scan(c, &org, Some((level, clock.now)))?;
        let limit = q.limit.unwrap_or(DEFAULT_LIMIT).clamp(1, MAX_LIMIT);
        let offset = q.offset.unwrap_or(0);
        let scope = scope_of(&org);
        let mut tabs = Vec::with_capacity(sub.levels.len());
        for (l, counts) in &sub.levels {
            let lvl = Level::new(*l).map_err(Error::from)?;
            let codes_late = if *l == level { sub.codes_late } else { None };
            tabs.push(ProgressTab {
                level: *l,
                title: progress::tab_title(lvl),
                counts: *counts,
                sentence: progress::summary_sentence(clock.at, &scope, lvl, counts),
                overdue: tab_overdue(schedule, *l, counts, clock.today, codes_late),
            });
        }
        let rows = page(c, &org, level, offset, limit, &clock, schedule)?;
        let finding = &sub.without_branch;
        let rollups = rollups(c, &org, &sub)?;
        let need_snapshot = !sub.levels.is_empty() && !c.has_snapshot(&org.id, clock.day)?;
        let resp = ProgressResponse {
            org_id: org.id.clone(),
            org_short_name: org.short_name.clone(),
            org_level: org.level,
            generated_at: fmt_time(clock.at),
            as_of: fmt_day(clock.today),
            page: ProgressPage {
                level,
                offset,
                limit,
                total: sub.level(level).map_or(0, |c| c.total),
                rows,
            },
            tabs,
            without_branch_total: finding.len() as u64,
            without_branch: c.unit_refs(&finding[..finding.len().min(FINDING_LIMIT)])?,
            schedule: schedule.clone(),
            rollups,
        };
        Ok((resp, sub.levels, need_snapshot))
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

// -------------------------------------------------------------------------- snapshots

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::{RawOrg, Snapshot};

    #[test]
    fn phones_are_masked_when_personal() {
        assert_eq!(mask_phone("13812345678"), "138****5678");
        assert_eq!(mask_phone("028-61310936"), "028-61310936");
        assert_eq!(mask_phone(""), "");
        assert_eq!(mask_phone("12345678901234"), "123*********34");
    }

    /// A random tree (with deleted leaves and odd category spellings) written straight into
    /// `orgs`.
    struct Gen {
        id: String,
        parent: String,
        path: String,
        level: u8,
        category: String,
        logged_in: bool,
        complete: bool,
        deleted: bool,
        live_children: i64,
    }

    fn random_tree(seed: u64, n: usize) -> Vec<Gen> {
        let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let mut nodes = vec![Gen {
            id: "r".into(),
            parent: "p".into(),
            path: "/p/r/".into(),
            level: 3,
            category: "团的领导机关".into(),
            logged_in: true,
            complete: false,
            deleted: false,
            live_children: 0,
        }];
        for i in 0..n {
            let candidates: Vec<usize> = (0..nodes.len())
                .filter(|&j| {
                    !nodes[j].deleted
                        && nodes[j].level < 9
                        && Category::parse(&nodes[j].category).is_ok_and(|k| k.has_children())
                })
                .collect();
            let pi = candidates[(next() as usize) % candidates.len()];
            let parent_cat = Category::parse(&nodes[pi].category).unwrap();
            let allowed = parent_cat.allowed_children();
            let mut category = allowed[(next() as usize) % allowed.len()]
                .label()
                .to_owned();
            if next().is_multiple_of(17) {
                category = format!(" {category}"); // parsed, but not as stored by a push
            }
            let id = format!("n{i:03}-{:x}", next() % 4096);
            let deleted = next().is_multiple_of(9);
            nodes.push(Gen {
                path: format!("{}{id}/", nodes[pi].path),
                parent: nodes[pi].id.clone(),
                level: nodes[pi].level + 1,
                id,
                category,
                logged_in: next().is_multiple_of(2),
                complete: next().is_multiple_of(3),
                deleted,
                live_children: 0,
            });
        }
        // Deleted units have no live children (as the merge enforces): revive the parents
        // of live units.
        for i in (0..nodes.len()).rev() {
            if !nodes[i].deleted {
                let parent = nodes[i].parent.clone();
                if let Some(p) = nodes.iter_mut().find(|p| p.id == parent) {
                    p.deleted = false;
                }
            }
        }
        for i in 0..nodes.len() {
            let live = nodes
                .iter()
                .filter(|c| c.parent == nodes[i].id && !c.deleted)
                .count();
            nodes[i].live_children = live as i64;
        }
        nodes
    }

    fn write(store: &Store, nodes: &[Gen]) {
        store
            .transaction(|tx| {
                for (i, n) in nodes.iter().enumerate() {
                    tx.insert_raw_org(&RawOrg {
                        id: &n.id,
                        parent: &n.parent,
                        path: &n.path,
                        level: n.level,
                        sort_key: i as i64,
                        deleted: n.deleted,
                        category: &n.category,
                        complete: n.complete,
                        live_children: n.live_children,
                        logged_in: n.logged_in,
                    })?;
                }
                Ok(())
            })
            .unwrap();
    }

    fn facts(n: &Gen) -> UnitFacts {
        UnitFacts {
            level: Level::new(n.level).unwrap(),
            category: Category::parse(&n.category).ok(),
            logged_in: n.logged_in,
            info_complete: n.complete,
            created_children: n.live_children > 0,
            children_without_code: 0,
        }
    }

    #[test]
    fn one_scan_agrees_with_the_brute_force_definitions() {
        for seed in 1..=25u64 {
            let dir = tempfile::TempDir::new().unwrap();
            let store = Store::open(&dir.path().join("t.sqlite3")).unwrap();
            let nodes = random_tree(seed, 60);
            write(&store, &nodes);
            let live: Vec<&Gen> = nodes.iter().filter(|n| !n.deleted).collect();
            for top in live.iter().filter(|n| n.live_children > 0) {
                let org = store.read(|c| Ok(c.org(&top.id)?.unwrap())).unwrap();
                let sub = store.read(|c| scan(c, &org, None)).unwrap();
                let below: Vec<&&Gen> = live
                    .iter()
                    .filter(|n| n.path.starts_with(&top.path) && n.id != top.id)
                    .collect();
                for level in top.level + 1..=MAX_LEVEL {
                    let fs: Vec<UnitFacts> = below
                        .iter()
                        .filter(|n| n.level == level)
                        .map(|n| facts(n))
                        .collect();
                    let want = progress::tally(&fs);
                    assert_eq!(
                        sub.level(level).copied().unwrap_or_default(),
                        want,
                        "seed {seed}, {} level {level}",
                        top.id
                    );
                }
                for (child, counts) in &sub.children {
                    let child = live.iter().find(|n| &n.id == child).unwrap();
                    let fs: Vec<UnitFacts> = live
                        .iter()
                        .filter(|n| n.path.starts_with(&child.path))
                        .map(|n| facts(n))
                        .collect();
                    assert_eq!(*counts, progress::tally(&fs), "seed {seed}");
                }
                assert_eq!(sub.children.len() as i64, top.live_children);
                let tree: Vec<progress::TreeNode<'_>> = live
                    .iter()
                    .filter(|n| n.path.starts_with(&top.path))
                    .map(|n| progress::TreeNode {
                        id: &n.id,
                        parent: &n.parent,
                        category: Category::parse(&n.category).ok(),
                    })
                    .collect();
                let mut want: Vec<&str> = progress::committees_without_branch(&tree);
                let mut got: Vec<&str> = sub.without_branch.iter().map(String::as_str).collect();
                want.sort_unstable();
                got.sort_unstable();
                assert_eq!(got, want, "seed {seed}, finding under {}", top.id);
            }
            // The operator's snapshot of every organization equals each one's scan.
            let day = time::macros::date!(2017 - 12 - 20);
            snapshot_all(&store, day).unwrap();
            for top in live.iter().filter(|n| n.live_children > 0) {
                let org = store.read(|c| Ok(c.org(&top.id)?.unwrap())).unwrap();
                let sub = store.read(|c| scan(c, &org, None)).unwrap();
                let snap = store
                    .read(|c| c.latest_snapshot_before(&top.id, day.next_day().unwrap()))
                    .unwrap();
                let want = Snapshot {
                    day: "2017-12-20".into(),
                    levels: sub.levels,
                };
                assert_eq!(snap, Some(want), "seed {seed}, snapshot of {}", top.id);
            }
        }
    }

    #[test]
    fn as_of_changes_the_day_not_the_snapshot_day() {
        let base = Clock::at(time::macros::datetime!(2017-12-20 02:30 UTC));
        assert_eq!(base.today, time::macros::date!(2017 - 12 - 20));
        assert_eq!(base.at.hour(), 10);
        let c = base.as_of(time::macros::date!(2017 - 12 - 19));
        assert_eq!(c.today, time::macros::date!(2017 - 12 - 19));
        assert_eq!(c.day, time::macros::date!(2017 - 12 - 20));
        assert!(parse_day("2017-13-01").is_err());
    }
}

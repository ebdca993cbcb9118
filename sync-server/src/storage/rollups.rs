//! Progress roll-ups kept up to date (issue 16): what progress supervision reads instead of
//! scanning a subtree, written in the same transaction as the change they follow.
//!
//! - `subtree_levels (org_id, level, …)`: for every live organization and every level of
//!   its subtree (itself included), the counts of that level (`schemas::progress::
//!   LevelCounts`, each unit added with `LevelCounts::add`, the one definition);
//! - `orgs.branches_below`: live 团支部 strictly below; `orgs.is_finding`: a live 团委, 团工委
//!   or 团总支 with none below (rules.md §1's completeness finding); `orgs.findings`: how
//!   many of those its subtree holds, itself included;
//! - codes to the children (rules.md §11): `orgs.code_valid_until`, the latest expiry of a
//!   unit's unused codes (0: none); of its parent, `code_late_at`, the earliest of that
//!   over its admin-less live children (NULL: none), and `bare_children`, those of them with
//!   no unused code at all. A code expiring needs no write: a unit is late at `now` when
//!   `code_late_at <= now`, and its children without a valid code are its bare ones and
//!   the admin-less ones whose codes expired by `now` (an index range of the few).
//!
//! A change of one unit's facts ([`Tx::recount`], given its state before) moves its level's
//! counts in each of its ancestors' rows and its own, its branch in its ancestors'
//! `branches_below` (a committee crossing zero becomes or stops being a finding, and tells
//! its ancestors), and its own finding. A unit's level and path never change, so the
//! ancestors are its path. At most sixteen levels: a change costs tens of row updates
//! whatever the size of the tree.
//!
//! [`Tx::rebuild_rollups`] computes everything from the projection (migration 2 and bulk
//! loads); [`Conn::rollup_mismatches`] compares what is stored with a full scan (the model
//! test after every step, and `zhtj-server check-rollups`).

use std::collections::{HashMap, HashSet};

use schemas::level::MAX_LEVEL;
use schemas::progress::{LevelCounts, UnitFacts};
use schemas::{Category, Level};
use wire::protocol::UnitRef;

use super::sql::{RowRef, params};
use super::{Conn, Tx, subtree_range};
use crate::error::{Error, Result};

/// What the roll-ups know of a unit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnitState {
    pub path: String,
    pub level: u8,
    pub category: String,
    pub logged_in: bool,
    pub complete: bool,
    pub live_children: i64,
    pub deleted: bool,
}

pub(super) const STATE_COLS: &str =
    "path, level, category, logged_in, complete, live_children, deleted";

pub(super) fn state_row(r: &RowRef<'_>) -> Result<UnitState> {
    Ok(UnitState {
        path: r.text(0)?,
        level: r.level(1)?,
        category: r.text(2)?,
        logged_in: r.flag(3)?,
        complete: r.flag(4)?,
        live_children: r.int(5)?,
        deleted: r.flag(6)?,
    })
}

impl UnitState {
    fn category(&self) -> Option<Category> {
        Category::parse(&self.category).ok()
    }

    /// Its counts at its level: one unit, as `LevelCounts::add` counts it (none if deleted).
    fn counts(&self) -> LevelCounts {
        let mut k = LevelCounts::default();
        if let (false, Ok(level)) = (self.deleted, Level::new(self.level)) {
            k.add(&UnitFacts {
                level,
                category: self.category(),
                logged_in: self.logged_in,
                info_complete: self.complete,
                created_children: self.live_children > 0,
                children_without_code: 0,
            });
        }
        k
    }

    /// A live 团支部.
    fn branch(&self) -> bool {
        !self.deleted && self.category() == Some(Category::Branch)
    }

    /// A live unit that needs a 团支部 below (团委, 团工委, 团总支).
    fn committee(&self) -> bool {
        !self.deleted && self.category().is_some_and(Category::needs_branch_below)
    }

    /// The ids of its ancestors, the root first.
    fn ancestors(&self) -> Vec<&str> {
        let mut ids: Vec<&str> = self.path.split('/').filter(|s| !s.is_empty()).collect();
        ids.pop();
        ids
    }

    fn id(&self) -> &str {
        self.path
            .trim_end_matches('/')
            .rsplit('/')
            .next()
            .unwrap_or("")
    }
}

/// The roll-up changes a transaction gathered, written once before it commits
/// ([`Tx::flush_rollups`]).
#[derive(Debug, Default)]
pub(super) struct Pending {
    /// Level-count deltas by (organization, level).
    levels: HashMap<(String, u8), [i64; 5]>,
    /// `branches_below` deltas.
    branches: HashMap<String, i64>,
    /// Units whose own finding may have changed (their category or deletion).
    touched: HashSet<String>,
    /// Parents whose `code_late_at` and `bare_children` are to be computed again.
    late: HashSet<String>,
}

/// Counts after minus counts before, each field.
fn delta(after: &LevelCounts, before: &LevelCounts) -> [i64; 5] {
    let d = |a: u64, b: u64| a as i64 - b as i64;
    [
        d(after.total, before.total),
        d(after.logged_in, before.logged_in),
        d(after.info_complete, before.info_complete),
        d(after.created_children, before.created_children),
        d(after.branches, before.branches),
    ]
}

/// The five counts of a `LevelCounts`, in its field order, from column `from` on (the
/// roll-ups' and the snapshots' rows).
pub(super) fn level_counts(r: &RowRef<'_>, from: usize) -> Result<LevelCounts> {
    let n = |i: usize| -> Result<u64> { Ok(r.int(from + i)?.max(0) as u64) };
    Ok(LevelCounts {
        total: n(0)?,
        logged_in: n(1)?,
        info_complete: n(2)?,
        created_children: n(3)?,
        branches: n(4)?,
    })
}

impl Conn<'_> {
    /// A unit as the roll-ups know it.
    pub fn unit_state(&self, id: &str) -> Result<Option<UnitState>> {
        self.db.row(
            &format!("SELECT {STATE_COLS} FROM orgs WHERE id = ?1"),
            params![id],
            state_row,
        )
    }

    /// The counts of each level of `org_id`'s subtree below `below` (non-empty levels, top
    /// first).
    pub fn subtree_levels(&self, org_id: &str, below: u8) -> Result<Vec<(u8, LevelCounts)>> {
        self.db.rows(
            "SELECT level, total, logged_in, info_complete, created_children, branches
             FROM subtree_levels WHERE org_id = ?1 AND level > ?2 AND total > 0 ORDER BY level",
            params![org_id, below],
            |r| Ok((r.level(0)?, level_counts(r, 1)?)),
        )
    }

    /// Per live direct child of `org_id`, the first `limit` in the tree's order: its
    /// subtree's counts, all levels summed (the child included).
    pub fn child_rollups(
        &self,
        org_id: &str,
        limit: usize,
    ) -> Result<HashMap<String, LevelCounts>> {
        Ok(self
            .db
            .rows(
                "SELECT s.org_id, CAST(SUM(s.total) AS BIGINT), CAST(SUM(s.logged_in) AS BIGINT),
                        CAST(SUM(s.info_complete) AS BIGINT),
                        CAST(SUM(s.created_children) AS BIGINT), CAST(SUM(s.branches) AS BIGINT)
                 FROM (SELECT id FROM orgs WHERE parent = ?1 AND deleted = 0
                       ORDER BY sort_key, id LIMIT ?2) o
                 JOIN subtree_levels s ON s.org_id = o.id GROUP BY s.org_id",
                params![org_id, limit as i64],
                |r| Ok((r.text(0)?, level_counts(r, 1)?)),
            )?
            .into_iter()
            .collect())
    }

    /// How many units of the completeness finding the subtree of `org_id` holds.
    pub fn finding_total(&self, org_id: &str) -> Result<u64> {
        Ok(self
            .db
            .row(
                "SELECT findings FROM orgs WHERE id = ?1",
                params![org_id],
                |r| r.int(0),
            )?
            .unwrap_or(0)
            .max(0) as u64)
    }

    /// The first `limit` units of the completeness finding in the subtree at `path`, in
    /// tree (path) order, as a finding names them.
    pub fn finding_units(&self, path: &str, limit: usize) -> Result<Vec<UnitRef>> {
        let (lo, hi) = subtree_range(path);
        self.db.rows(
            "SELECT o.id, o.short_name, o.level, o.category, COALESCE(p.short_name, '')
             FROM orgs o LEFT JOIN orgs p ON p.id = o.parent
             WHERE o.is_finding = 1 AND o.path >= ?1 AND o.path < ?2
             ORDER BY o.path LIMIT ?3",
            params![&lo, &hi, limit as i64],
            super::progress::unit_ref,
        )
    }

    /// How many units of `level` in the subtree at `path` have a live child with neither
    /// an admin nor a code valid at `now` (the task "codes to the children"): one range of
    /// `orgs_codes_late`, the level's units with an admin-less child.
    pub fn codes_late(&self, path: &str, level: u8, now: i64) -> Result<u64> {
        let (lo, hi) = subtree_range(path);
        Ok(self
            .db
            .row(
                "SELECT COUNT(*) FROM orgs INDEXED BY orgs_codes_late
                 WHERE level = ?1 AND path >= ?2 AND path < ?3 AND code_late_at IS NOT NULL
                   AND code_late_at <= ?4 AND deleted = 0",
                params![level, &lo, &hi, now],
                |r| r.int(0),
            )?
            .unwrap_or(0)
            .max(0) as u64)
    }

    /// Where the stored roll-ups differ from a full computation over the projection (none,
    /// if every change kept them up to date): a line per difference, at most `limit`.
    pub fn rollup_mismatches(&self, limit: usize) -> Result<Vec<String>> {
        let computed = compute(self)?;
        let mut out = Vec::new();
        let mut stored_levels: HashMap<(String, u8), LevelCounts> = HashMap::new();
        self.db.each(
            "SELECT org_id, level, total, logged_in, info_complete, created_children, branches
             FROM subtree_levels",
            &[],
            |r| {
                let k = level_counts(r, 2)?;
                if k != LevelCounts::default() {
                    stored_levels.insert((r.text(0)?, r.level(1)?), k);
                }
                Ok(true)
            },
        )?;
        for (key, want) in &computed.levels {
            let got = stored_levels.remove(key).unwrap_or_default();
            if &got != want && out.len() < limit {
                out.push(format!(
                    "{} level {}: stored {got:?}, scan {want:?}",
                    key.0, key.1
                ));
            }
        }
        for (key, got) in stored_levels {
            if out.len() < limit {
                out.push(format!(
                    "{} level {}: stored {got:?}, scan nothing",
                    key.0, key.1
                ));
            }
        }
        let valid: HashMap<String, i64> = self
            .db
            .rows(CODE_VALID_UNTIL, &[], |r| Ok((r.text(0)?, r.int(1)?)))?
            .into_iter()
            .collect();
        let mut late: HashMap<String, (i64, Option<i64>)> = HashMap::new();
        self.db.each(
            "SELECT id, parent, admin_count, code_valid_until FROM orgs WHERE deleted = 0",
            &[],
            |r| {
                let id = r.text(0)?;
                let want = valid.get(&id).copied().unwrap_or(0);
                if r.int(3)? != want && out.len() < limit {
                    out.push(format!(
                        "{id}: stored code_valid_until {}, codes {want}",
                        r.int(3)?
                    ));
                }
                if r.int(2)? == 0 {
                    let e = late.entry(r.text(1)?).or_insert((0, None));
                    e.0 += i64::from(want == 0);
                    e.1 = Some(e.1.map_or(want, |m: i64| m.min(want)));
                }
                Ok(true)
            },
        )?;
        self.db.each(
            "SELECT id, bare_children, code_late_at FROM orgs WHERE deleted = 0",
            &[],
            |r| {
                let id = r.text(0)?;
                let got = (r.int(1)?, r.opt_int(2)?);
                let want = late.remove(&id).unwrap_or((0, None));
                if got != want && out.len() < limit {
                    out.push(format!(
                        "{id}: stored (bare children, code_late_at) {got:?}, children {want:?}"
                    ));
                }
                Ok(true)
            },
        )?;
        self.db.each(
            "SELECT id, branches_below, findings, is_finding FROM orgs WHERE deleted = 0",
            &[],
            |r| {
                let id = r.text(0)?;
                let want = computed.units.get(&id).copied().unwrap_or_default();
                let got = (r.int(1)?, r.int(2)?, r.flag(3)?);
                if got != want && out.len() < limit {
                    out.push(format!(
                        "{id}: stored (branches below, findings, finding) {got:?}, scan {want:?}"
                    ));
                }
                Ok(true)
            },
        )?;
        Ok(out)
    }
}

/// Per organization with unused codes: the latest expiry.
const CODE_VALID_UNTIL: &str = "SELECT org_id, CAST(MAX(expires_at) AS BIGINT) FROM codes
    WHERE used_by IS NULL GROUP BY org_id";

/// Per parent: its admin-less live children without an unused code, and the earliest
/// `code_valid_until` among its admin-less live children.
const LATE_BY_PARENT: &str = "SELECT parent, COUNT(*) FILTER (WHERE code_valid_until = 0),
        CAST(MIN(code_valid_until) AS BIGINT)
    FROM orgs WHERE deleted = 0 AND admin_count = 0 AND parent <> '' GROUP BY parent";

/// Everything the roll-ups hold, computed from the projection in one path-order pass.
#[derive(Debug, Default, PartialEq)]
struct Computed {
    levels: HashMap<(String, u8), LevelCounts>,
    /// Per live unit: (branches below, findings, is a finding).
    units: HashMap<String, (i64, i64, bool)>,
}

/// A unit whose subtree the pass is inside of.
struct Open {
    state: UnitState,
    /// By level, every level a unit can have.
    levels: [LevelCounts; LEVELS],
    branches_below: i64,
    findings: i64,
}

const LEVELS: usize = MAX_LEVEL as usize + 1;

/// Rows of a pass over the live units, in path order, this many at a time (PostgreSQL
/// reads a statement's rows whole: a page keeps a pass over a million units in bounded
/// memory).
const PASS_PAGE: i64 = 20_000;

/// Run `f` on every live unit in path (depth-first) order, then on every unit still open
/// at the end: `close` gets each unit once its subtree is passed.
fn pass(c: &Conn<'_>, close: impl FnMut(Open) -> Result<()>) -> Result<()> {
    pass_in_pages(c, PASS_PAGE, close)
}

/// [`pass`], reading `page` rows at a time.
fn pass_in_pages(
    c: &Conn<'_>,
    page_rows: i64,
    mut close: impl FnMut(Open) -> Result<()>,
) -> Result<()> {
    let mut stack: Vec<Open> = Vec::new();
    let mut after = String::new();
    loop {
        let page = c.db.rows(
            &format!(
                "SELECT {STATE_COLS} FROM orgs INDEXED BY orgs_subtree
                 WHERE path > ?1 AND deleted = 0 ORDER BY path LIMIT ?2"
            ),
            params![&after, page_rows],
            state_row,
        )?;
        let last = page.len() < page_rows as usize;
        for u in page {
            while let Some(top) = stack.last() {
                if u.path.starts_with(top.state.path.as_str()) {
                    break;
                }
                let done = stack.pop().expect("an open unit");
                fold(&mut stack, &done);
                close(done)?;
            }
            after.clone_from(&u.path);
            let mut levels = [LevelCounts::default(); LEVELS];
            if let Some(k) = levels.get_mut(usize::from(u.level)) {
                *k = u.counts();
            }
            stack.push(Open {
                state: u,
                levels,
                branches_below: 0,
                findings: 0,
            });
        }
        if last {
            break;
        }
    }
    while let Some(done) = stack.pop() {
        fold(&mut stack, &done);
        close(done)?;
    }
    Ok(())
}

/// Add a closed unit's subtree to its parent (the top of the stack, if it is its parent).
fn fold(stack: &mut [Open], done: &Open) {
    let Some(parent) = stack.last_mut() else {
        return;
    };
    for (p, d) in parent.levels.iter_mut().zip(&done.levels) {
        p.total += d.total;
        p.logged_in += d.logged_in;
        p.info_complete += d.info_complete;
        p.created_children += d.created_children;
        p.branches += d.branches;
    }
    parent.branches_below += done.branches_below + i64::from(done.state.branch());
    parent.findings += done.findings + i64::from(is_finding(done));
}

fn is_finding(o: &Open) -> bool {
    o.state.committee() && o.branches_below == 0
}

fn compute(c: &Conn<'_>) -> Result<Computed> {
    compute_in_pages(c, PASS_PAGE)
}

fn compute_in_pages(c: &Conn<'_>, page_rows: i64) -> Result<Computed> {
    let mut out = Computed::default();
    pass_in_pages(c, page_rows, |o| {
        let id = o.state.id().to_owned();
        for (level, k) in o.levels.iter().enumerate() {
            if k.total > 0 {
                out.levels.insert((id.clone(), level as u8), *k);
            }
        }
        let finding = is_finding(&o);
        out.units.insert(
            id,
            (o.branches_below, o.findings + i64::from(finding), finding),
        );
        Ok(())
    })?;
    Ok(out)
}

impl Tx<'_> {
    /// Compute every roll-up from the projection, replacing what is stored (migration 2,
    /// bulk loads, `zhtj-server check-rollups --repair`).
    pub fn rebuild_rollups(&self) -> Result<()> {
        self.rollups_deferred.set(false);
        *self.pending.borrow_mut() = Pending::default();
        self.db.execute("DELETE FROM subtree_levels", &[])?;
        self.db.execute(
            "UPDATE orgs SET branches_below = 0, findings = 0, is_finding = 0
             WHERE branches_below <> 0 OR findings <> 0 OR is_finding <> 0",
            &[],
        )?;
        pass(self, |o| {
            let id = o.state.id();
            for (level, k) in o.levels.iter().enumerate() {
                if k.total > 0 {
                    self.add_levels(id, level as u8, delta(k, &LevelCounts::default()))?;
                }
            }
            let finding = is_finding(&o);
            self.db.execute(
                "UPDATE orgs SET branches_below = ?2, findings = ?3, is_finding = ?4 WHERE id = ?1",
                params![
                    id,
                    o.branches_below,
                    o.findings + i64::from(finding),
                    finding
                ],
            )?;
            Ok(())
        })?;
        self.db.execute(
            "UPDATE orgs SET code_late_at = NULL, bare_children = 0, code_valid_until = 0
             WHERE code_late_at IS NOT NULL OR bare_children <> 0 OR code_valid_until <> 0",
            &[],
        )?;
        for (id, until) in self
            .db
            .rows(CODE_VALID_UNTIL, &[], |r| Ok((r.text(0)?, r.int(1)?)))?
        {
            self.db.execute(
                "UPDATE orgs SET code_valid_until = ?2 WHERE id = ?1",
                params![&id, until],
            )?;
        }
        for (parent, bare, at) in self.db.rows(LATE_BY_PARENT, &[], |r| {
            Ok((r.text(0)?, r.int(1)?, r.int(2)?))
        })? {
            self.db.execute(
                "UPDATE orgs SET bare_children = ?2, code_late_at = ?3 WHERE id = ?1",
                params![&parent, bare, at],
            )?;
        }
        Ok(())
    }

    /// Follow a change of `id`'s facts (category, deletion, completeness, first login, live
    /// children) in the roll-ups; `before`: its state before the change (`None`: new). The
    /// changes are gathered in the transaction and written once, before it commits
    /// ([`Tx::flush_rollups`]): a push of 5,000 units under one parent moves a few rows,
    /// not 5,000 times a few rows.
    pub fn recount(&self, id: &str, before: Option<&UnitState>) -> Result<()> {
        if self.rollups_deferred.get() {
            return Ok(());
        }
        let after = self
            .unit_state(id)?
            .ok_or_else(|| Error::Internal(format!("recount of a missing unit {id}")))?;
        self.recount_change(id, before, &after);
        Ok(())
    }

    /// [`Tx::recount`] with the state after the change known (no read).
    pub(super) fn recount_change(&self, id: &str, before: Option<&UnitState>, after: &UnitState) {
        if self.rollups_deferred.get() {
            return;
        }
        let mut p = self.pending.borrow_mut();
        // 1. Its level's counts, in its own row and each ancestor's.
        let old = before.map(UnitState::counts).unwrap_or_default();
        let d = delta(&after.counts(), &old);
        let ancestors = after.ancestors();
        if d != [0; 5] {
            for org in ancestors.iter().copied().chain([id]) {
                let e = p
                    .levels
                    .entry((org.to_owned(), after.level))
                    .or_insert([0; 5]);
                for (x, y) in e.iter_mut().zip(d) {
                    *x += y;
                }
            }
        }
        // 2. Its branch, in its ancestors' branches_below.
        let db = i64::from(after.branch()) - i64::from(before.is_some_and(UnitState::branch));
        if db != 0 {
            for a in &ancestors {
                *p.branches.entry((*a).to_owned()).or_insert(0) += db;
            }
        }
        // 3. Its own finding may change with its category or deletion.
        if before.is_none_or(|b| b.committee() != after.committee()) {
            p.touched.insert(id.to_owned());
        }
    }

    /// A child of `parent` came, went, or changed its admins or codes: the parent's
    /// codes-to-children columns are computed again at the flush.
    pub(super) fn note_child_codes(&self, parent: &str) {
        if self.rollups_deferred.get() || parent.is_empty() {
            return;
        }
        self.pending.borrow_mut().late.insert(parent.to_owned());
    }

    /// Follow a change of `id`'s admins, codes or liveness: its `code_valid_until` now, its
    /// parent's `bare_children` and `code_late_at` at the flush.
    pub fn recount_codes(&self, id: &str) -> Result<()> {
        if self.rollups_deferred.get() {
            return Ok(());
        }
        let parent = self.db.row(
            "UPDATE orgs SET code_valid_until = COALESCE(
                 (SELECT MAX(expires_at) FROM codes WHERE org_id = ?1 AND used_by IS NULL), 0)
             WHERE id = ?1
             RETURNING parent",
            params![id],
            |r| r.text(0),
        )?;
        if let Some(parent) = parent {
            self.note_child_codes(&parent);
        }
        Ok(())
    }

    /// Write the roll-up changes gathered in this transaction (`Store::transaction` calls
    /// it before committing): level counts, branches below and what they make of each
    /// committee's finding, and the codes-to-children columns of the parents touched.
    pub fn flush_rollups(&self) -> Result<()> {
        let p = std::mem::take(&mut *self.pending.borrow_mut());
        for ((org, level), d) in &p.levels {
            if *d != [0; 5] {
                self.add_levels(org, *level, *d)?;
            }
        }
        // Each unit whose finding may change: its state, branches below and finding as
        // stored (from the update of its branches below, or read).
        let finding_row = |r: &RowRef<'_>| -> Result<(UnitState, i64, bool)> {
            Ok((state_row(r)?, r.int(7)?, r.flag(8)?))
        };
        let mut units: HashMap<String, (UnitState, i64, bool)> = HashMap::new();
        for (org, d) in &p.branches {
            if *d != 0
                && let Some(u) = self.db.row(
                    &format!(
                        "UPDATE orgs SET branches_below = branches_below + ?2 WHERE id = ?1
                         RETURNING {STATE_COLS}, branches_below, is_finding"
                    ),
                    params![org, *d],
                    finding_row,
                )?
            {
                units.insert(org.clone(), u);
            }
        }
        for org in p.touched {
            if !units.contains_key(&org)
                && let Some(u) = self.db.row(
                    &format!(
                        "SELECT {STATE_COLS}, branches_below, is_finding FROM orgs WHERE id = ?1"
                    ),
                    params![&org],
                    finding_row,
                )?
            {
                units.insert(org, u);
            }
        }
        // A unit is a finding when it is a live committee with no branch below; a change of
        // that moves the finding count of it and each of its ancestors.
        let mut findings: HashMap<String, i64> = HashMap::new();
        for (org, (state, below, was)) in &units {
            let is = state.committee() && *below == 0;
            if is != *was {
                self.db.execute(
                    "UPDATE orgs SET is_finding = ?2 WHERE id = ?1",
                    params![org, is],
                )?;
                let f = if is { 1 } else { -1 };
                for a in state.ancestors().into_iter().chain([org.as_str()]) {
                    *findings.entry(a.to_owned()).or_insert(0) += f;
                }
            }
        }
        for (org, f) in &findings {
            if *f != 0 {
                self.db.execute(
                    "UPDATE orgs SET findings = findings + ?2 WHERE id = ?1",
                    params![org, *f],
                )?;
            }
        }
        // Once per parent and transaction, from orgs_codes_child: the earliest validity
        // among its admin-less children (one seek), and those with no code (a range).
        for parent in &p.late {
            self.db.execute(
                "UPDATE orgs SET
                     code_late_at = (SELECT MIN(c.code_valid_until) FROM orgs c
                         WHERE c.parent = orgs.id AND c.deleted = 0 AND c.admin_count = 0),
                     bare_children = (SELECT COUNT(*) FROM orgs c
                         WHERE c.parent = orgs.id AND c.deleted = 0 AND c.admin_count = 0
                           AND c.code_valid_until = 0)
                 WHERE id = ?1",
                params![parent],
            )?;
        }
        Ok(())
    }

    fn add_levels(&self, org_id: &str, level: u8, d: [i64; 5]) -> Result<()> {
        self.db.execute(
            "INSERT INTO subtree_levels(org_id, level, total, logged_in, info_complete,
                 created_children, branches)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
             ON CONFLICT (org_id, level) DO UPDATE SET
                 total = subtree_levels.total + excluded.total,
                 logged_in = subtree_levels.logged_in + excluded.logged_in,
                 info_complete = subtree_levels.info_complete + excluded.info_complete,
                 created_children = subtree_levels.created_children + excluded.created_children,
                 branches = subtree_levels.branches + excluded.branches",
            params![org_id, level, d[0], d[1], d[2], d[3], d[4]],
        )?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use schemas::Category;
    use schemas::org::OrgRecord;

    use crate::storage::{Accepted, Store};

    /// Random changes through the writes the server makes (`put_org`: new units,
    /// category changes, completeness, deletion of leaves; `mark_logged_in`), in trees down
    /// to level 16, and after each one the stored roll-ups equal a full computation.
    #[test]
    fn roll_ups_follow_every_change_and_equal_a_full_computation() {
        for seed in 1..=12u64 {
            let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
            let mut next = move || {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x
            };
            let store = Store::open(std::path::Path::new(":memory:")).unwrap();
            crate::operator::initialize_tree(&store).unwrap();
            // (record, path) of every unit made here, and of the city.
            let city = store.read(|c| c.org("org-5101")).unwrap().unwrap();
            let mut units: Vec<(OrgRecord, String)> = vec![(
                store
                    .read(|c| c.org_doc("org-5101"))
                    .unwrap()
                    .unwrap()
                    .record,
                city.path,
            )];
            for step in 0..160 {
                let live: Vec<usize> = (0..units.len()).filter(|&i| !units[i].0.deleted).collect();
                let pick = live[(next() as usize) % live.len()];
                let kind = next() % 10;
                let (mut r, path) = units[pick].clone();
                let parent_category = Category::parse(&r.category).ok();
                let write = |r: &OrgRecord, path: &str, complete: bool, new: bool| {
                    store
                        .transaction(|tx| {
                            let was = if new { None } else { tx.lock_org(&r.id)? };
                            tx.put_org(
                                &Accepted {
                                    record: r,
                                    path,
                                    complete,
                                    bytes: &[],
                                    heads: &[],
                                },
                                was.as_ref(),
                                None,
                            )
                            .map(drop)
                        })
                        .unwrap()
                };
                match kind {
                    // A child of a random allowed category.
                    0..=4
                        if r.level < 16 && parent_category.is_some_and(Category::has_children) =>
                    {
                        let allowed = parent_category.unwrap().allowed_children();
                        let mut k = OrgRecord::new(
                            format!("u{seed}-{step}"),
                            r.id.clone(),
                            schemas::Level::new(r.level + 1).unwrap(),
                        );
                        k.category = allowed[(next() as usize) % allowed.len()].label().into();
                        k.short_name = format!("单位{step}");
                        let kpath = format!("{path}{}/", k.id);
                        write(&k, &kpath, next() % 3 == 0, true);
                        units.push((k, kpath));
                    }
                    // Delete a leaf.
                    5 | 6
                        if r.level > 3
                            && !units.iter().any(|(u, _)| u.parent == r.id && !u.deleted) =>
                    {
                        r.deleted = true;
                        write(&r, &path, false, false);
                        units[pick].0 = r;
                    }
                    // Another category the parent allows (a branch with children keeps its).
                    7 if r.level > 3 => {
                        let parent = units.iter().find(|(u, _)| u.id == r.parent).unwrap();
                        let allowed = Category::parse(&parent.0.category)
                            .unwrap()
                            .allowed_children();
                        let k = allowed[(next() as usize) % allowed.len()];
                        let has_kids = units.iter().any(|(u, _)| u.parent == r.id && !u.deleted);
                        if k.has_children() || !has_kids {
                            r.category = k.label().into();
                            write(&r, &path, next() % 2 == 0, false);
                            units[pick].0 = r;
                        }
                    }
                    // Completeness changes, or a first login.
                    8 => write(&r, &path, next() % 2 == 0, false),
                    _ => {
                        store
                            .transaction(|tx| tx.mark_logged_in(&r.id).map(drop))
                            .unwrap();
                    }
                }
                let wrong = store.read(|c| c.rollup_mismatches(5)).unwrap();
                assert!(
                    wrong.is_empty(),
                    "seed {seed} step {step} (kind {kind}): {wrong:#?}"
                );
            }
            // A pass a few rows at a time, as over a million, computes the same.
            let whole = store.read(super::compute).unwrap();
            for rows in [1, 3, 7] {
                let paged = store.read(|c| super::compute_in_pages(c, rows)).unwrap();
                assert!(paged == whole, "seed {seed}: pages of {rows} rows");
            }
            // And a rebuild from scratch changes nothing.
            store.transaction(|tx| tx.rebuild_rollups()).unwrap();
            assert!(store.read(|c| c.rollup_mismatches(5)).unwrap().is_empty());
        }
    }
}

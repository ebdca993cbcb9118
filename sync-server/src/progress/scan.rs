//! One scan of a subtree ([`scan`]): the counts of every level below an organization, the
//! per-child roll-ups, the completeness finding and, for one level, the units late with
//! codes to their children, from one pass over the subtree's projection rows in path
//! (depth-first) order (`storage::Conn::scan_subtree`, a covering index: no table row is
//! read).

use std::collections::HashMap;

use schemas::level::MAX_LEVEL;
use schemas::progress::{LevelCounts, UnitFacts};
use schemas::{Category, Level};
use wire::protocol::ChildRollup;

use crate::error::Result;
use crate::storage::{Conn, OrgRow};

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
    /// The completeness finding (rules.md §1): ids of the 团委, 团工委 and 团总支 (the
    /// organization included) with no 团支部 below, in tree (path) order.
    pub without_branch: Vec<String>,
    /// For the level asked with [`scan`]'s `codes_at`: how many of its units have a live
    /// child with neither an admin nor a valid code (the task "codes to the children").
    pub codes_late: Option<u64>,
}

impl Subtree {
    /// Its per-child counts, by child id (for [`rollups`]).
    pub fn child_counts(&self) -> HashMap<String, LevelCounts> {
        self.children.iter().cloned().collect()
    }

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

/// Per direct child of `org`, in the tree's order: its subtree's counts (`counts`, by
/// child id: from [`scan`] or the stored roll-ups; the child included) with the
/// percentages for charts.
pub fn rollups(
    c: &Conn<'_>,
    org: &OrgRow,
    counts: &HashMap<String, LevelCounts>,
) -> Result<Vec<ChildRollup>> {
    rollups_of(c.live_children(&org.id)?, counts)
}

/// [`rollups`] of the children given, in their order.
pub fn rollups_of(
    children: Vec<OrgRow>,
    counts: &HashMap<String, LevelCounts>,
) -> Result<Vec<ChildRollup>> {
    Ok(children
        .into_iter()
        .map(|child| {
            let counts = counts.get(child.id.as_str()).copied().unwrap_or_default();
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

#[cfg(test)]
mod tests {
    use schemas::progress;

    use super::*;
    use crate::progress::snapshot_all;
    use crate::storage::{RawOrg, Snapshot, Store};

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
}

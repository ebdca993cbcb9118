//! The rules over more than one organization (rules.md §1–§3, §5): a new organization under
//! its parent, names unique among siblings, deletion, the order of siblings, a short name
//! that names one organization. The replica judges with these before it writes, the
//! server's merge on every push, the server's operator commands when they edit: one code
//! and one message per rule, whichever side refuses.
//!
//! What each side knows differs (the replica its subtree, the server every organization),
//! so the facts come in as plain values and the caller looks them up.

use crate::category::{self, Category};
use crate::field::Field;
use crate::level::{Level, MAX_LEVEL};
use crate::name;
use crate::org::OrgRecord;
use crate::text::{normalize, truncate_for_message};
use crate::violation::{Result, Violation};

/// What the rules need to know of the parent of a new organization.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Parent<'a> {
    pub deleted: bool,
    pub level: u8,
    /// As stored (a category label; empty or unknown: none).
    pub category: &'a str,
}

impl<'a> From<&'a OrgRecord> for Parent<'a> {
    fn from(r: &'a OrgRecord) -> Parent<'a> {
        Parent {
            deleted: r.deleted,
            level: r.level,
            category: &r.category,
        }
    }
}

/// A new organization in its place (rules.md §1, §2): under a live parent, one level below
/// it, not created deleted, with a category the parent may contain, and with a category
/// and a short name at all. An invalid value (an unknown category, a malformed name) is
/// left to the value rules (`org::check_value`, the parsers), which say more.
pub fn judge_new(parent: &Parent<'_>, child: &OrgRecord) -> Vec<Violation> {
    let mut v = Vec::new();
    if parent.deleted {
        v.push(Violation::error(
            "tree.parent_deleted",
            Some(Field::Parent),
            "上级组织已删除,不能在其下创建组织",
        ));
    }
    if Some(child.level) != parent.level.checked_add(1) || Level::new(child.level).is_err() {
        let message = if parent.level >= MAX_LEVEL {
            format!("组织层级最多{MAX_LEVEL}级,第{MAX_LEVEL}级组织下不能再创建下级组织")
        } else {
            format!(
                "组织层级应为上级组织层级加一({}级)",
                parent.level.saturating_add(1)
            )
        };
        v.push(Violation::error("tree.level", Some(Field::Level), message));
    }
    if child.deleted {
        v.push(Violation::error(
            "tree.created_deleted",
            Some(Field::Deleted),
            "不能创建已删除的组织",
        ));
    }
    match Category::parse(&child.category) {
        Ok(c) => match Category::parse(parent.category) {
            Ok(p) if !p.may_contain(c) => v.push(not_allowed(p, c)),
            Ok(_) => {}
            Err(_) => v.push(Violation::error(
                "parent.no_category",
                Some(Field::Parent),
                "上级组织尚未确定组织类别",
            )),
        },
        Err(_) if normalize(&child.category).is_empty() => v.push(category::missing()),
        Err(_) => {}
    }
    if normalize(&child.short_name).is_empty() {
        v.push(name::missing_short_name());
    }
    v
}

fn not_allowed(parent: Category, child: Category) -> Violation {
    let allowed = parent.allowed_children();
    let message = if allowed.is_empty() {
        format!("{}下不能创建下级组织", parent.label())
    } else {
        format!(
            "{}下不能创建{},可创建:{}",
            parent.label(),
            child.label(),
            allowed
                .iter()
                .map(|c| c.label())
                .collect::<Vec<_>>()
                .join("、")
        )
    };
    Violation::error("category.not_allowed", Some(Field::Category), message)
}

/// A short name already used by a live sibling (rules.md §5: names are unique under one
/// parent, compared by [`name::name_key`]).
pub fn duplicate_short_name(name: &str) -> Violation {
    Violation::error(
        "short_name.duplicate",
        Some(Field::ShortName),
        format!(
            "同一上级组织下已有名为“{}”的组织,组织简称不能重复",
            truncate_for_message(name)
        ),
    )
}

/// What depends on an organization, for [`judge_deletion`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Dependents {
    /// Its children not deleted.
    pub live_children: u64,
    /// Administrators registered for it.
    pub admins: u64,
}

/// A change of the deleted mark from `before` to `after`: a deletion only of an
/// organization with no live children and no registered administrator; a deleted
/// organization is never restored (it is created anew).
pub fn judge_deletion(
    before: &OrgRecord,
    after: &OrgRecord,
    dependents: Dependents,
) -> Vec<Violation> {
    let mut v = Vec::new();
    if before.deleted && !after.deleted {
        v.push(Violation::error(
            "tree.undelete",
            Some(Field::Deleted),
            "已删除的组织不能恢复,请重新创建",
        ));
    }
    if !before.deleted && after.deleted {
        if dependents.live_children > 0 {
            v.push(Violation::error(
                "delete.has_children",
                Some(Field::Deleted),
                "该组织下还有下级组织,请先删除下级组织",
            ));
        }
        if dependents.admins > 0 {
            v.push(Violation::error(
                "delete.has_admin",
                Some(Field::Deleted),
                "该组织已有注册的管理员,不能删除",
            ));
        }
    }
    v
}

/// The position a sibling at `pos` of `len` moves to, one place up or down (上移 / 下移),
/// or why it cannot.
pub fn neighbour(pos: usize, len: usize, up: bool) -> Result<usize> {
    match (up, pos) {
        (true, p) if p > 0 => Ok(p - 1),
        (false, p) if p + 1 < len => Ok(p + 1),
        _ => Err(Violation::error(
            "order.edge",
            None,
            if up {
                "已经是第一个,不能上移"
            } else {
                "已经是最后一个,不能下移"
            },
        )),
    }
}

/// A short name given to find an organization that `count` organizations bear.
pub fn ambiguous_name(name: &str, count: usize) -> Violation {
    Violation::error(
        "org.ambiguous",
        None,
        format!(
            "有{count}个组织名为“{}”,请改用组织编号",
            truncate_for_message(name)
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(level: u8, category: &str, short_name: &str) -> OrgRecord {
        let mut r = OrgRecord::new("org-c", "org-p", Level::new(level).unwrap());
        r.category = category.into();
        r.short_name = short_name.into();
        r
    }

    fn codes(v: &[Violation]) -> Vec<&str> {
        v.iter().map(|v| v.code.as_str()).collect()
    }

    const PARENT: Parent<'static> = Parent {
        deleted: false,
        level: 4,
        category: "团委",
    };

    #[test]
    fn a_new_child_in_its_place_passes() {
        assert!(judge_new(&PARENT, &record(5, "团支部", "一车间团支部")).is_empty());
    }

    #[test]
    fn each_tree_rule_of_a_new_child_has_its_code() {
        let deleted = Parent {
            deleted: true,
            ..PARENT
        };
        assert_eq!(
            codes(&judge_new(&deleted, &record(5, "团支部", "一车间团支部"))),
            ["tree.parent_deleted"]
        );
        assert_eq!(
            codes(&judge_new(&PARENT, &record(6, "团支部", "一车间团支部"))),
            ["tree.level"]
        );
        let mut gone = record(5, "团支部", "一车间团支部");
        gone.deleted = true;
        assert_eq!(codes(&judge_new(&PARENT, &gone)), ["tree.created_deleted"]);
        assert_eq!(
            codes(&judge_new(
                &PARENT,
                &record(5, "团的领导机关", "团锦江区委")
            )),
            ["category.not_allowed"]
        );
        assert_eq!(
            codes(&judge_new(&PARENT, &record(5, " ", ""))),
            ["category.empty", "short_name.empty"]
        );
        // An unknown category is the value rules' to report.
        assert!(judge_new(&PARENT, &record(5, "党支部", "一车间党支部")).is_empty());
        let no_category = Parent {
            category: "",
            ..PARENT
        };
        assert_eq!(
            codes(&judge_new(
                &no_category,
                &record(5, "团支部", "一车间团支部")
            )),
            ["parent.no_category"]
        );
    }

    #[test]
    fn the_deepest_level_has_no_children() {
        let deepest = Parent {
            level: MAX_LEVEL,
            ..PARENT
        };
        let mut child = record(MAX_LEVEL, "团支部", "一车间团支部");
        child.level = MAX_LEVEL + 1;
        let v = judge_new(&deepest, &child);
        assert_eq!(codes(&v), ["tree.level"]);
        assert!(v[0].message.contains("不能再创建"), "{}", v[0].message);
    }

    #[test]
    fn not_allowed_names_what_may_be_created() {
        let v = judge_new(&PARENT, &record(5, "团的领导机关", "团锦江区委"));
        assert_eq!(
            v[0].message,
            "团委下不能创建团的领导机关,可创建:团委、团总支、团支部"
        );
        let branch = Parent {
            category: "团支部",
            ..PARENT
        };
        let v = judge_new(&branch, &record(5, "团支部", "一车间团支部"));
        assert_eq!(v[0].message, "团支部下不能创建下级组织");
    }

    #[test]
    fn deletion_needs_no_dependents_and_is_final() {
        let live = record(5, "团支部", "一车间团支部");
        let mut gone = live.clone();
        gone.deleted = true;
        let none = Dependents::default();
        assert!(judge_deletion(&live, &gone, none).is_empty());
        assert!(judge_deletion(&gone, &gone, none).is_empty());
        assert_eq!(
            codes(&judge_deletion(&gone, &live, none)),
            ["tree.undelete"]
        );
        let held = Dependents {
            live_children: 2,
            admins: 1,
        };
        assert_eq!(
            codes(&judge_deletion(&live, &gone, held)),
            ["delete.has_children", "delete.has_admin"]
        );
        // Dependents only matter to a deletion.
        assert!(judge_deletion(&live, &live, held).is_empty());
    }

    #[test]
    fn a_sibling_moves_within_the_list() {
        assert_eq!(neighbour(1, 3, true), Ok(0));
        assert_eq!(neighbour(1, 3, false), Ok(2));
        assert_eq!(neighbour(0, 3, true).unwrap_err().code, "order.edge");
        assert_eq!(neighbour(2, 3, false).unwrap_err().code, "order.edge");
        assert_eq!(
            neighbour(0, 1, false).unwrap_err().message,
            "已经是最后一个,不能下移"
        );
    }
}

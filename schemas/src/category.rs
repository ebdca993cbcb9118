//! The five organization categories (组织类别, rules.md §2): who may create which, what each
//! may contain, and which required-field profile (§3) applies.

use serde::{Deserialize, Serialize};

use crate::field::Field;
use crate::text::normalize;
use crate::violation::{Result, Violation};

/// 组织类别.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Category {
    /// 团的领导机关: the league committee of a province, city or county.
    #[serde(rename = "团的领导机关")]
    LeadingOrgan,
    /// 团工委: a working committee, a dispatched organ.
    #[serde(rename = "团工委")]
    WorkingCommittee,
    /// 团委: a basic-level committee.
    #[serde(rename = "团委")]
    Committee,
    /// 团总支: a general branch.
    #[serde(rename = "团总支")]
    GeneralBranch,
    /// 团支部: a branch, always a leaf.
    #[serde(rename = "团支部")]
    Branch,
}

/// The required-field profile of rules.md §3.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Profile {
    /// 团的领导机关 (区(市)县团委机关).
    A,
    /// 基层团委, 团工委 [inferred], 团总支 [inferred].
    B,
    /// 团支部.
    C,
}

/// No category given (a parser's and `tree::judge_new`'s one report of it).
pub(crate) fn missing() -> Violation {
    Violation::error("category.empty", Some(Field::Category), "请选择组织类别")
}

impl Category {
    pub const ALL: [Category; 5] = [
        Category::LeadingOrgan,
        Category::WorkingCommittee,
        Category::Committee,
        Category::GeneralBranch,
        Category::Branch,
    ];

    /// The Chinese name, as the notice and the spreadsheets write it.
    pub fn label(self) -> &'static str {
        match self {
            Category::LeadingOrgan => "团的领导机关",
            Category::WorkingCommittee => "团工委",
            Category::Committee => "团委",
            Category::GeneralBranch => "团总支",
            Category::Branch => "团支部",
        }
    }

    /// Parse a category as a user or a spreadsheet writes it (trimmed, half-width).
    pub fn parse(raw: &str) -> Result<Category> {
        let s = normalize(raw);
        if s.is_empty() {
            return Err(missing());
        }
        Category::ALL
            .into_iter()
            .find(|c| c.label() == s)
            .ok_or_else(|| {
                Violation::error(
                    "category.unknown",
                    Some(Field::Category),
                    format!(
                        "组织类别“{}”不存在,应为:团的领导机关、团工委、团委、团总支、团支部之一",
                        crate::text::truncate_for_message(&s)
                    ),
                )
            })
    }

    /// Whether a unit of category `self` may have a direct child of category `child`
    /// (rules.md §2, "what it may contain" and "who may create it").
    pub fn may_contain(self, child: Category) -> bool {
        use Category::*;
        match self {
            LeadingOrgan => true,
            WorkingCommittee | Committee => matches!(child, Committee | GeneralBranch | Branch),
            GeneralBranch => child == Branch,
            Branch => false,
        }
    }

    /// The categories a unit of this category may create directly under itself.
    pub fn allowed_children(self) -> Vec<Category> {
        Category::ALL
            .into_iter()
            .filter(|&c| self.may_contain(c))
            .collect()
    }

    /// The required-field profile (rules.md §3).
    pub fn profile(self) -> Profile {
        match self {
            Category::LeadingOrgan => Profile::A,
            Category::WorkingCommittee | Category::Committee | Category::GeneralBranch => {
                Profile::B
            }
            Category::Branch => Profile::C,
        }
    }

    /// 团委, 团工委 and 团总支 must have a 团支部 somewhere below them (rules.md §1): a
    /// progress finding, never a reason to refuse a merge.
    pub fn needs_branch_below(self) -> bool {
        matches!(
            self,
            Category::WorkingCommittee | Category::Committee | Category::GeneralBranch
        )
    }

    /// Whether this category has subordinates to create at all (a 团支部 has none), which
    /// decides whether "已创建下级组织" applies (rules.md §11; the notice: 团支部只须完成第1、2项).
    pub fn has_children(self) -> bool {
        self != Category::Branch
    }

    /// The charter's usual member range, for hints only (rules.md §2, not enforced).
    pub fn member_hint(self) -> Option<(u32, Option<u32>)> {
        match self {
            Category::Branch => Some((3, Some(50))),
            Category::GeneralBranch => Some((30, Some(100))),
            Category::Committee => Some((100, None)),
            _ => None,
        }
    }
}

impl std::fmt::Display for Category {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.label())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Category::*;

    #[test]
    fn containment_matrix_follows_rules_section_2() {
        for c in Category::ALL {
            assert!(LeadingOrgan.may_contain(c));
            assert!(!Branch.may_contain(c));
        }
        assert!(!Committee.may_contain(WorkingCommittee));
        assert!(!Committee.may_contain(LeadingOrgan));
        assert!(Committee.may_contain(Committee));
        assert!(WorkingCommittee.may_contain(GeneralBranch));
        assert!(!WorkingCommittee.may_contain(WorkingCommittee));
        assert_eq!(GeneralBranch.allowed_children(), vec![Branch]);
    }

    #[test]
    fn parse_and_profiles() {
        assert_eq!(Category::parse(" 团支部 ").unwrap(), Branch);
        assert_eq!(Category::parse("团的领导机关").unwrap(), LeadingOrgan);
        assert_eq!(Category::parse("").unwrap_err().code, "category.empty");
        assert_eq!(
            Category::parse("党支部").unwrap_err().code,
            "category.unknown"
        );
        assert_eq!(LeadingOrgan.profile(), Profile::A);
        assert_eq!(GeneralBranch.profile(), Profile::B);
        assert_eq!(Branch.profile(), Profile::C);
        assert!(!Branch.has_children());
        assert!(GeneralBranch.needs_branch_below() && !LeadingOrgan.needs_branch_below());
    }
}

//! 团内职务: the league posts an administrator registers with (rules.md §4).

use serde::{Deserialize, Serialize};

use crate::category::Category;
use crate::field::Field;
use crate::text::{normalize, truncate_for_message};
use crate::violation::{Result, Violation};

/// An administrator's post in the organization.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Role {
    Secretary,
    DeputySecretary,
    Organization,
    Publicity,
    CultureSports,
    Production,
    Rights,
    Volunteer,
    Other,
    /// Leading organs only.
    StandingMember,
    /// Leading organs only.
    Member,
    /// Leading organs only.
    Staff,
    /// Leading organs only.
    AlternateMember,
}

impl Role {
    pub const ALL: [Role; 13] = [
        Role::Secretary,
        Role::DeputySecretary,
        Role::Organization,
        Role::Publicity,
        Role::CultureSports,
        Role::Production,
        Role::Rights,
        Role::Volunteer,
        Role::Other,
        Role::StandingMember,
        Role::Member,
        Role::Staff,
        Role::AlternateMember,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Role::Secretary => "书记",
            Role::DeputySecretary => "副书记",
            Role::Organization => "组织委员",
            Role::Publicity => "宣传委员",
            Role::CultureSports => "文体委员",
            Role::Production => "生产委员",
            Role::Rights => "权益委员",
            Role::Volunteer => "志愿委员",
            Role::Other => "其他",
            Role::StandingMember => "常委",
            Role::Member => "委员",
            Role::Staff => "工作人员",
            Role::AlternateMember => "候补委员",
        }
    }

    /// Whether only a leading organ (团的领导机关) offers this post.
    pub fn leading_organ_only(self) -> bool {
        matches!(
            self,
            Role::StandingMember | Role::Member | Role::Staff | Role::AlternateMember
        )
    }

    /// The posts an organization of this category offers.
    pub fn offered_by(category: Category) -> Vec<Role> {
        Role::ALL
            .into_iter()
            .filter(|r| category == Category::LeadingOrgan || !r.leading_organ_only())
            .collect()
    }

    pub fn parse(raw: &str) -> Result<Role> {
        let s = normalize(raw);
        Role::ALL
            .into_iter()
            .find(|r| r.label() == s)
            .ok_or_else(|| {
                Violation::error(
                    "role.unknown",
                    Some(Field::Role),
                    format!(
                        "团内职务“{}”不存在,请从列表中选择",
                        truncate_for_message(&s)
                    ),
                )
            })
    }

    /// Parse and check that the organization's category offers this post.
    pub fn parse_for(raw: &str, category: Category) -> Result<Role> {
        let role = Role::parse(raw)?;
        if role.leading_organ_only() && category != Category::LeadingOrgan {
            return Err(Violation::error(
                "role.not_offered",
                Some(Field::Role),
                format!(
                    "“{}”仅适用于团的领导机关,{}不设此职务",
                    role.label(),
                    category.label()
                ),
            ));
        }
        Ok(role)
    }
}

impl TryFrom<String> for Role {
    type Error = Violation;
    fn try_from(s: String) -> Result<Role> {
        Role::parse(&s)
    }
}

impl From<Role> for String {
    fn from(r: Role) -> String {
        r.label().to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn posts_by_category() {
        assert_eq!(Role::parse("书记").unwrap(), Role::Secretary);
        assert_eq!(Role::parse("主席").unwrap_err().code, "role.unknown");
        assert_eq!(Role::offered_by(Category::Branch).len(), 9);
        assert_eq!(Role::offered_by(Category::LeadingOrgan).len(), 13);
        assert_eq!(
            Role::parse_for("常委", Category::Committee)
                .unwrap_err()
                .code,
            "role.not_offered"
        );
        assert_eq!(
            Role::parse_for("常委", Category::LeadingOrgan).unwrap(),
            Role::StandingMember
        );
    }
}

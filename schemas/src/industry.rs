//! 单位所属行业类别: the 16 industries of rules.md §4.

use serde::{Deserialize, Serialize};

use crate::field::Field;
use crate::text::{half_width, normalize, truncate_for_message};
use crate::violation::{Result, Violation};

/// The industry of the unit an organization belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Industry {
    PartyGovernment,
    PublicInstitution,
    University,
    VocationalSchool,
    HighSchool,
    MiddleSchool,
    PrimarySchool,
    StateEnterprise,
    CollectiveEnterprise,
    PrivateEnterprise,
    SocialOrganization,
    Army,
    ArmedPolice,
    UrbanCommunity,
    Rural,
    Other,
}

impl Industry {
    pub const ALL: [Industry; 16] = [
        Industry::PartyGovernment,
        Industry::PublicInstitution,
        Industry::University,
        Industry::VocationalSchool,
        Industry::HighSchool,
        Industry::MiddleSchool,
        Industry::PrimarySchool,
        Industry::StateEnterprise,
        Industry::CollectiveEnterprise,
        Industry::PrivateEnterprise,
        Industry::SocialOrganization,
        Industry::Army,
        Industry::ArmedPolice,
        Industry::UrbanCommunity,
        Industry::Rural,
        Industry::Other,
    ];

    /// The label as the notice writes it (full-width parentheses).
    pub fn label(self) -> &'static str {
        match self {
            Industry::PartyGovernment => "党政机关",
            Industry::PublicInstitution => "事业单位（不含公立学校）",
            Industry::University => "普通高等院校",
            Industry::VocationalSchool => "职业教育学校",
            Industry::HighSchool => "普通高中",
            Industry::MiddleSchool => "初中",
            Industry::PrimarySchool => "小学",
            Industry::StateEnterprise => "国有企业",
            Industry::CollectiveEnterprise => "集体企业",
            Industry::PrivateEnterprise => "非公企业",
            Industry::SocialOrganization => "新社会组织（不含民办学校）",
            Industry::Army => "军队",
            Industry::ArmedPolice => "武警",
            Industry::UrbanCommunity => "城市社区",
            Industry::Rural => "农村",
            Industry::Other => "其他",
        }
    }

    /// Parse a label; half-width parentheses are accepted as well as the notice's
    /// full-width ones, since spreadsheets and IMEs produce both.
    pub fn parse(raw: &str) -> Result<Industry> {
        let s = normalize(raw);
        if s.is_empty() {
            return Err(Violation::error(
                "industry.empty",
                Some(Field::Industry),
                "请选择单位所属行业类别",
            ));
        }
        // normalize() folds full-width parentheses to half-width; compare likewise (the
        // labels have no surrounding spaces to trim), without allocating per label.
        Industry::ALL
            .into_iter()
            .find(|i| i.label().chars().map(half_width).eq(s.chars()))
            .ok_or_else(|| {
                Violation::error(
                    "industry.unknown",
                    Some(Field::Industry),
                    format!(
                        "单位所属行业类别“{}”不在16个行业类别之中,请从下拉列表中选择",
                        truncate_for_message(&s)
                    ),
                )
            })
    }
}

impl TryFrom<String> for Industry {
    type Error = Violation;
    fn try_from(s: String) -> Result<Industry> {
        Industry::parse(&s)
    }
}

impl From<Industry> for String {
    fn from(i: Industry) -> String {
        i.label().to_owned()
    }
}

impl std::fmt::Display for Industry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.label())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sixteen_labels_round_trip() {
        assert_eq!(Industry::ALL.len(), 16);
        for i in Industry::ALL {
            assert_eq!(Industry::parse(i.label()).unwrap(), i);
        }
        assert_eq!(
            Industry::parse("事业单位(不含公立学校)").unwrap(),
            Industry::PublicInstitution
        );
        assert_eq!(Industry::parse("").unwrap_err().code, "industry.empty");
        assert_eq!(
            Industry::parse("互联网").unwrap_err().code,
            "industry.unknown"
        );
    }
}

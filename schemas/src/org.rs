//! One organization's information as its Automerge document holds it (design.md "one Automerge
//! document per organization"), and the rules over a whole record: required fields by
//! profile and completeness (rules.md §3), immutable fields, and the permission matrix.
//!
//! The record keeps every value as the raw string the user entered (empty = missing):
//! a value the server refused stays visible in the replica with its reasons, and
//! "missing" is never confused with "invalid" (design.md "Missing is not invalid").

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::category::{Category, Profile};
use crate::contact::{Email, Mobile, Phone};
use crate::count::{RecommendedCount, StaffCount, YouthCount};
use crate::divisions::Division;
use crate::field::Field;
use crate::id_number::IdNumber;
use crate::industry::Industry;
use crate::level::Level;
use crate::name::{FullName, ShortName};
use crate::person::PersonName;
use crate::violation::Violation;

/// The version of the document shape; bump it and migrate when the shape changes.
pub const SCHEMA_VERSION: u64 = 1;

/// The information fields of an organization, in the order of the notice's forms.
pub const INFO_FIELDS: [Field; 15] = [
    Field::Category,
    Field::ShortName,
    Field::FullName,
    Field::Industry,
    Field::Phone,
    Field::Email,
    Field::AdminQuota,
    Field::AdminStaffed,
    Field::CareerQuota,
    Field::CareerStaffed,
    Field::YouthCount,
    Field::RecommendedCount,
    Field::SecretaryName,
    Field::SecretaryIdNumber,
    Field::SecretaryMobile,
];

/// "填写后不可修改" (rules.md §3): once the server has accepted a value, it stands.
pub const IMMUTABLE_FIELDS: [Field; 4] = [
    Field::ShortName,
    Field::FullName,
    Field::Category,
    Field::Industry,
];

/// The red-marked fields of a profile (rules.md §3 table).
pub fn required_fields(profile: Profile) -> &'static [Field] {
    use Field::*;
    match profile {
        Profile::A => &[
            Category,
            ShortName,
            FullName,
            Phone,
            Email,
            AdminQuota,
            AdminStaffed,
            CareerQuota,
            CareerStaffed,
            SecretaryName,
            SecretaryIdNumber,
            SecretaryMobile,
        ],
        Profile::B => &[
            Category,
            ShortName,
            FullName,
            Industry,
            AdminQuota,
            AdminStaffed,
            CareerQuota,
            CareerStaffed,
            SecretaryName,
            SecretaryIdNumber,
            SecretaryMobile,
        ],
        Profile::C => &[
            Category,
            ShortName,
            FullName,
            Industry,
            SecretaryName,
            SecretaryIdNumber,
            SecretaryMobile,
        ],
    }
}

/// A registration code issued for this organization by an ancestor (rules.md §7), as held in
/// the organization's document under `codes.<code>`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct CodeRecord {
    /// Unix seconds.
    pub issued_at: i64,
    /// Unix seconds; the code is valid while now < expires_at.
    pub expires_at: i64,
    /// The organization whose admin issued it.
    pub issued_by: String,
}

/// One organization, as its document holds it. Strings are raw user input; empty = missing.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct OrgRecord {
    pub schema: u64,
    /// The organization's id (stable, random, assigned at creation).
    pub id: String,
    /// The parent's id; empty only for the root (团中央).
    pub parent: String,
    pub level: u8,
    /// Position among siblings; the parent's admin reorders (上移/下移).
    pub sort_key: i64,
    pub deleted: bool,
    pub category: String,
    pub short_name: String,
    pub full_name: String,
    pub industry: String,
    pub phone: String,
    pub email: String,
    pub admin_quota: String,
    pub admin_staffed: String,
    pub career_quota: String,
    pub career_staffed: String,
    pub youth_count: String,
    pub recommended_count: String,
    pub secretary_name: String,
    pub secretary_id_number: String,
    pub secretary_mobile: String,
    /// Registration codes issued for this organization, by code.
    #[serde(default)]
    pub codes: BTreeMap<String, CodeRecord>,
}

/// Where a record is judged: what name checks need to know about its place in the tree.
#[derive(Debug, Clone, Copy, Default)]
pub struct Context<'a> {
    /// The administrative region of the nearest leading-organ ancestor, when known: a
    /// leading organ's short name must name one of its divisions (rules.md §5).
    pub region: Option<&'a Division>,
}

/// The result of judging a record: which required fields are missing and which present
/// values break a rule.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Completeness {
    pub missing: Vec<Field>,
    pub violations: Vec<Violation>,
}

impl Completeness {
    /// 组织信息完整: every required field present and valid (rules.md §3).
    pub fn is_complete(&self) -> bool {
        self.missing.is_empty() && !self.violations.iter().any(Violation::is_error)
    }

    /// Present values that are refused: these, not missing ones, block a push.
    pub fn errors(&self) -> impl Iterator<Item = &Violation> {
        self.violations.iter().filter(|v| v.is_error())
    }
}

impl OrgRecord {
    /// A new record at genesis: the fields the parent's admin sets when creating it.
    pub fn new(id: impl Into<String>, parent: impl Into<String>, level: Level) -> OrgRecord {
        OrgRecord {
            schema: SCHEMA_VERSION,
            id: id.into(),
            parent: parent.into(),
            level: level.get(),
            ..OrgRecord::default()
        }
    }

    /// The raw value of an information field ("" for tree fields, which are not strings).
    pub fn get(&self, field: Field) -> &str {
        use Field::*;
        match field {
            Category => &self.category,
            ShortName => &self.short_name,
            FullName => &self.full_name,
            Industry => &self.industry,
            Phone => &self.phone,
            Email => &self.email,
            AdminQuota => &self.admin_quota,
            AdminStaffed => &self.admin_staffed,
            CareerQuota => &self.career_quota,
            CareerStaffed => &self.career_staffed,
            YouthCount => &self.youth_count,
            RecommendedCount => &self.recommended_count,
            SecretaryName => &self.secretary_name,
            SecretaryIdNumber => &self.secretary_id_number,
            SecretaryMobile => &self.secretary_mobile,
            Parent => &self.parent,
            _ => "",
        }
    }

    /// A mutable handle on an information field, `None` for fields that are not strings
    /// of the record.
    pub fn get_mut(&mut self, field: Field) -> Option<&mut String> {
        use Field::*;
        Some(match field {
            Category => &mut self.category,
            ShortName => &mut self.short_name,
            FullName => &mut self.full_name,
            Industry => &mut self.industry,
            Phone => &mut self.phone,
            Email => &mut self.email,
            AdminQuota => &mut self.admin_quota,
            AdminStaffed => &mut self.admin_staffed,
            CareerQuota => &mut self.career_quota,
            CareerStaffed => &mut self.career_staffed,
            YouthCount => &mut self.youth_count,
            RecommendedCount => &mut self.recommended_count,
            SecretaryName => &mut self.secretary_name,
            SecretaryIdNumber => &mut self.secretary_id_number,
            SecretaryMobile => &mut self.secretary_mobile,
            _ => return None,
        })
    }

    /// The category, if present and valid.
    pub fn category(&self) -> Option<Category> {
        Category::parse(&self.category).ok()
    }

    /// Judge every field: required ones missing for the category's profile, and every
    /// present value checked by its type. Without a valid category, the strictest
    /// profile (A) cannot be chosen fairly, so only the category is reported missing or
    /// invalid and the other values are still checked.
    pub fn completeness(&self, ctx: &Context<'_>) -> Completeness {
        let mut out = Completeness::default();
        let category = match Category::parse(&self.category) {
            Ok(c) => Some(c),
            Err(v) if self.category.trim().is_empty() => {
                let _ = v;
                out.missing.push(Field::Category);
                None
            }
            Err(v) => {
                out.violations.push(v);
                None
            }
        };
        for &field in &INFO_FIELDS[1..] {
            let raw = self.get(field);
            if raw.trim().is_empty() {
                if category.is_some_and(|c| required_fields(c.profile()).contains(&field)) {
                    out.missing.push(field);
                }
                continue;
            }
            if let Err(v) = check_value(field, raw, category, ctx) {
                out.violations.push(v.on(field));
            }
        }
        out
    }

    /// Which immutable fields differ between an accepted state (`self`) and `after`. A field
    /// still empty in the accepted state may be filled (rules.md §3: "填写后不可修改").
    pub fn changed_immutables(&self, after: &OrgRecord) -> Vec<Field> {
        IMMUTABLE_FIELDS
            .into_iter()
            .filter(|&f| {
                let before = self.get(f);
                !before.trim().is_empty() && before != after.get(f)
            })
            .collect()
    }

    /// The fields (information and tree) whose values differ between two states.
    pub fn changed_fields(&self, after: &OrgRecord) -> Vec<Field> {
        let mut out: Vec<Field> = INFO_FIELDS
            .into_iter()
            .filter(|&f| self.get(f) != after.get(f))
            .collect();
        if self.parent != after.parent {
            out.push(Field::Parent);
        }
        if self.level != after.level {
            out.push(Field::Level);
        }
        if self.sort_key != after.sort_key {
            out.push(Field::SortKey);
        }
        if self.deleted != after.deleted {
            out.push(Field::Deleted);
        }
        if self.codes != after.codes {
            out.push(Field::Codes);
        }
        out
    }
}

/// Check one present value of an information field by its type. Blank values are the
/// caller's concern (missing, not invalid).
pub fn check_value(
    field: Field,
    raw: &str,
    category: Option<Category>,
    ctx: &Context<'_>,
) -> Result<(), Violation> {
    match field {
        Field::Category => Category::parse(raw).map(drop),
        Field::ShortName => match category {
            Some(c) => ShortName::parse(raw, c, ctx.region).map(drop),
            None => Ok(()), // judged once the category is known
        },
        Field::FullName => FullName::parse(raw).map(drop),
        Field::Industry => Industry::parse(raw).map(drop),
        Field::Phone => Phone::parse(raw).map(drop),
        Field::Email => Email::parse(raw).map(drop),
        Field::AdminQuota | Field::AdminStaffed | Field::CareerQuota | Field::CareerStaffed => {
            StaffCount::parse(raw, field).map(drop)
        }
        Field::YouthCount => YouthCount::parse(raw).map(drop),
        Field::RecommendedCount => RecommendedCount::parse(raw).map(drop),
        Field::SecretaryName => PersonName::parse(raw).map(drop),
        Field::SecretaryIdNumber => IdNumber::parse(raw).map(drop),
        Field::SecretaryMobile => Mobile::parse(raw).map(drop),
        _ => Ok(()),
    }
}

/// The canonical form of a present value, as it is stored: validated, then normalized
/// (half-width, trimmed, ID check character upper-case, counts without leading zeros).
pub fn canonical_value(
    field: Field,
    raw: &str,
    category: Option<Category>,
    ctx: &Context<'_>,
) -> Result<String, Violation> {
    check_value(field, raw, category, ctx)?;
    Ok(match field {
        Field::ShortName => match category {
            Some(c) => ShortName::parse(raw, c, ctx.region)?.as_str().to_owned(),
            None => crate::text::normalize(raw),
        },
        Field::Category => Category::parse(raw)?.label().to_owned(),
        Field::Industry => Industry::parse(raw)?.label().to_owned(),
        Field::SecretaryIdNumber => IdNumber::parse(raw)?.as_str().to_owned(),
        Field::SecretaryMobile => Mobile::parse(raw)?.as_str().to_owned(),
        Field::Phone => Phone::parse(raw)?.as_str().to_owned(),
        Field::Email => Email::parse(raw)?.as_str().to_owned(),
        Field::SecretaryName => PersonName::parse(raw)?.as_str().to_owned(),
        Field::AdminQuota | Field::AdminStaffed | Field::CareerQuota | Field::CareerStaffed => {
            StaffCount::parse(raw, field)?.get().to_string()
        }
        Field::YouthCount => YouthCount::parse(raw)?.get().to_string(),
        Field::RecommendedCount => RecommendedCount::parse(raw)?.get().to_string(),
        _ => crate::text::normalize(raw),
    })
}

/// How the logged-in admin relates to the organization being written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Relation {
    /// An admin of the organization itself.
    Own,
    /// An admin of its parent or of any organization above it.
    Ancestor,
}

/// The permission matrix (rules.md §3 "who fills what"): the parent's admin sets category,
/// names, place and codes; the unit's own admin fills everything else; an ancestor may
/// fill anything on the unit's behalf (rural units often have no admin yet).
pub fn may_write(relation: Relation, field: Field) -> bool {
    match relation {
        Relation::Ancestor => true,
        Relation::Own => !matches!(
            field,
            Field::Category
                | Field::ShortName
                | Field::FullName
                | Field::Parent
                | Field::Level
                | Field::SortKey
                | Field::Deleted
                | Field::Codes
        ),
    }
}

/// The fields among `changed` that `relation` may not write, each as a violation.
pub fn forbidden_changes(relation: Relation, changed: &[Field]) -> Vec<Violation> {
    changed
        .iter()
        .filter(|&&f| !may_write(relation, f))
        .map(|&f| {
            Violation::error(
                "permission.field",
                Some(f),
                format!("“{}”由上级团组织管理员填写,本级管理员不能修改", f.label()),
            )
        })
        .collect()
}

/// A document that says it is another organization than the one it was sent or received
/// as (`expected`: that one's id; `found`: the document's).
pub fn id_mismatch(expected: &str, found: &str) -> Violation {
    Violation::error(
        "doc.id_mismatch",
        None,
        format!(
            "组织文档的编号({})与目标组织的编号({})不符",
            crate::text::truncate_for_message(found),
            crate::text::truncate_for_message(expected)
        ),
    )
}

/// The changes to immutable fields, each as a violation.
pub fn immutable_violations(before: &OrgRecord, after: &OrgRecord) -> Vec<Violation> {
    before
        .changed_immutables(after)
        .into_iter()
        .map(|f| {
            Violation::error(
                "immutable.changed",
                Some(f),
                format!(
                    "“{}”填写后不可修改(已确认的值为“{}”)",
                    f.label(),
                    crate::text::truncate_for_message(before.get(f))
                ),
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn branch() -> OrgRecord {
        let mut r = OrgRecord::new("b1", "p1", Level::VILLAGE);
        r.category = "团支部".into();
        r.short_name = "大雅宝社区团支部".into();
        r.full_name = "中国共产主义青年团成都市锦江区建国门街道大雅宝社区支部委员会".into();
        r
    }

    fn id17() -> String {
        // 510104 (锦江区) + 1990-05-01 + 123, check character computed.
        let first = "51010419900501123";
        let c = IdNumber::check_char(first).unwrap();
        format!("{first}{c}")
    }

    #[test]
    fn missing_is_not_invalid() {
        let c = branch().completeness(&Context::default());
        assert!(c.violations.is_empty(), "{:?}", c.violations);
        assert_eq!(
            c.missing,
            vec![
                Field::Industry,
                Field::SecretaryName,
                Field::SecretaryIdNumber,
                Field::SecretaryMobile
            ]
        );
        assert!(!c.is_complete());
    }

    #[test]
    fn branch_complete_with_profile_c() {
        let mut r = branch();
        r.industry = "城市社区".into();
        r.secretary_name = "张三".into();
        r.secretary_id_number = id17();
        r.secretary_mobile = "13812345678".into();
        let c = r.completeness(&Context::default());
        assert!(c.is_complete(), "{c:?}");
    }

    #[test]
    fn leading_organ_needs_profile_a() {
        let mut r = OrgRecord::new("d1", "c1", Level::COUNTY);
        r.category = "团的领导机关".into();
        r.short_name = "团锦江区委".into();
        r.full_name = "中国共产主义青年团成都市锦江区委员会".into();
        r.secretary_name = "李四".into();
        r.secretary_id_number = id17();
        r.secretary_mobile = "13812345678".into();
        let c = r.completeness(&Context::default());
        assert_eq!(
            c.missing,
            vec![
                Field::Phone,
                Field::Email,
                Field::AdminQuota,
                Field::AdminStaffed,
                Field::CareerQuota,
                Field::CareerStaffed
            ]
        );
        r.phone = "028-61310936".into();
        r.email = "tw@example.cn".into();
        r.admin_quota = "0".into(); // "没有须填0": zero counts as filled
        r.admin_staffed = "0".into();
        r.career_quota = "3".into();
        r.career_staffed = "2".into();
        assert!(r.completeness(&Context::default()).is_complete());
    }

    #[test]
    fn invalid_present_values_are_reported_on_their_field() {
        let mut r = branch();
        r.secretary_id_number = "510104199005011230".into(); // wrong check char, most likely
        if IdNumber::parse(&r.secretary_id_number).is_ok() {
            r.secretary_id_number = "51010419900501123A".into();
        }
        r.secretary_mobile = "12345".into();
        let c = r.completeness(&Context::default());
        let fields: Vec<_> = c.errors().map(|v| v.field.unwrap()).collect();
        assert_eq!(
            fields,
            vec![Field::SecretaryIdNumber, Field::SecretaryMobile]
        );
        assert!(!c.is_complete());
    }

    #[test]
    fn bad_category_is_a_violation_not_missing() {
        let mut r = branch();
        r.category = "党支部".into();
        let c = r.completeness(&Context::default());
        assert_eq!(c.violations[0].code, "category.unknown");
        assert!(!c.missing.contains(&Field::Category));
    }

    #[test]
    fn immutables_may_be_filled_once_then_never_changed() {
        let before = branch();
        let mut after = before.clone();
        after.industry = "农村".into(); // filling an empty immutable field is allowed
        after.secretary_name = "王五".into();
        assert!(before.changed_immutables(&after).is_empty());
        after.short_name = "另一个团支部".into();
        assert_eq!(before.changed_immutables(&after), vec![Field::ShortName]);
        let v = immutable_violations(&before, &after);
        assert_eq!(v[0].code, "immutable.changed");
        let filled = after.clone();
        let mut changed_again = filled.clone();
        changed_again.industry = "城市社区".into();
        assert_eq!(
            filled.changed_immutables(&changed_again),
            vec![Field::Industry]
        );
    }

    #[test]
    fn permission_matrix() {
        assert!(may_write(Relation::Own, Field::SecretaryIdNumber));
        assert!(may_write(Relation::Own, Field::Industry));
        assert!(!may_write(Relation::Own, Field::ShortName));
        assert!(!may_write(Relation::Own, Field::Codes));
        assert!(!may_write(Relation::Own, Field::Deleted));
        for &f in Field::ALL {
            assert!(may_write(Relation::Ancestor, f));
        }
        let before = branch();
        let mut after = before.clone();
        after.sort_key = 5;
        after.phone = "13812345678".into();
        let changed = before.changed_fields(&after);
        assert_eq!(changed, vec![Field::Phone, Field::SortKey]);
        let v = forbidden_changes(Relation::Own, &changed);
        assert_eq!(v.len(), 1);
        assert_eq!(v[0].field, Some(Field::SortKey));
        assert_eq!(v[0].code, "permission.field");
    }

    #[test]
    fn required_field_profiles_match_the_notice() {
        assert_eq!(required_fields(Profile::A).len(), 12);
        assert_eq!(required_fields(Profile::B).len(), 11);
        assert_eq!(required_fields(Profile::C).len(), 7);
        assert!(!required_fields(Profile::A).contains(&Field::Industry));
        assert!(!required_fields(Profile::C).contains(&Field::AdminQuota));
        for p in [Profile::A, Profile::B, Profile::C] {
            for f in [
                Field::SecretaryName,
                Field::SecretaryIdNumber,
                Field::SecretaryMobile,
            ] {
                assert!(required_fields(p).contains(&f));
            }
        }
    }
}

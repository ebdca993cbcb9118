//! The fields of an organization and of an administrator's registration form: a stable
//! key (used in documents, the protocol and spreadsheets) and the Chinese label shown to users.

use serde::{Deserialize, Serialize};

macro_rules! fields {
    ($( $(#[$m:meta])* $variant:ident => $key:literal, $label:literal; )*) => {
        /// A field of an organization's information or of an admin's registration.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum Field { $( $(#[$m])* $variant, )* }

        impl Field {
            /// Every field, in display order.
            pub const ALL: &'static [Field] = &[$(Field::$variant),*];

            /// The stable key: document map keys, protocol field names.
            pub fn key(self) -> &'static str {
                match self { $(Field::$variant => $key,)* }
            }

            /// The Chinese label of the notice's forms.
            pub fn label(self) -> &'static str {
                match self { $(Field::$variant => $label,)* }
            }

            /// The field with this stable key.
            pub fn from_key(key: &str) -> Option<Field> {
                match key { $($key => Some(Field::$variant),)* _ => None }
            }
        }
    };
}

fields! {
    // ---- an organization (rules.md §3) ----
    Category => "category", "组织类别";
    ShortName => "short_name", "组织简称";
    FullName => "full_name", "组织全称";
    Phone => "phone", "团组织联系电话";
    Email => "email", "团组织电子邮箱";
    Industry => "industry", "单位所属行业类别";
    /// 本级团组织行政编制数
    AdminQuota => "admin_quota", "本级团组织行政编制数";
    AdminStaffed => "admin_staffed", "行政编制实际配备数";
    /// 本级团组织事业编制数
    CareerQuota => "career_quota", "本级团组织事业编制数";
    CareerStaffed => "career_staffed", "事业编制实际配备数";
    YouthCount => "youth_count", "14~28周岁青年数";
    RecommendedCount => "recommended_count", "年度经推优入党团员数";
    SecretaryName => "secretary_name", "书记姓名";
    SecretaryIdNumber => "secretary_id_number", "书记身份证号码";
    SecretaryMobile => "secretary_mobile", "书记手机号码";
    // ---- the tree ----
    Parent => "parent", "上级组织";
    Level => "level", "组织层级";
    SortKey => "sort_key", "组织排序";
    Deleted => "deleted", "已删除";
    Codes => "codes", "管理员注册码";
    // ---- an administrator's registration (rules.md §8) ----
    AdminName => "admin_name", "姓名";
    IdNumber => "id_number", "身份证号码";
    Mobile => "mobile", "手机号码";
    JoinYearMonth => "join_year_month", "入团年月";
    Role => "role", "团内职务";
    RegistrationCode => "registration_code", "管理员注册码";
    Password => "password", "密码";
}

impl std::fmt::Display for Field {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.label())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_round_trip_and_are_unique() {
        let mut keys = std::collections::HashSet::new();
        for &f in Field::ALL {
            assert!(keys.insert(f.key()), "duplicate key {}", f.key());
            assert_eq!(Field::from_key(f.key()), Some(f));
        }
        assert_eq!(Field::from_key("nope"), None);
    }
}

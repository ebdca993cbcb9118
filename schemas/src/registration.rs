//! The administrator registration form (rules.md §7–§9): the code, the post, the person, the
//! joining month and the password, every field checked at once. The client checks the form
//! before sending it, the server again before it stores the account; both with [`check`].
//!
//! What only the server knows comes in as [`Judge`]: the organization's category (which
//! posts it offers) and the joining-age cutoff it is configured with. Whether the code
//! exists, is unused and unexpired is the server's business (it holds the codes).

use time::Date;

use crate::category::Category;
use crate::code::RegistrationCode;
use crate::contact::Mobile;
use crate::field::Field;
use crate::id_number::IdNumber;
use crate::join::{JoinRule, YearMonth};
use crate::person::PersonName;
use crate::role::Role;
use crate::violation::Violation;

/// The shortest password \[inferred\].
pub const MIN_PASSWORD_CHARS: usize = 8;

/// The longest password (Argon2 takes more, a person types less).
pub const MAX_PASSWORD_CHARS: usize = 128;

/// A registration form as typed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Form<'a> {
    pub code: &'a str,
    /// 团内职务, as labelled (书记, 组织委员…).
    pub role: &'a str,
    pub name: &'a str,
    pub id_number: &'a str,
    pub mobile: &'a str,
    /// 入团年月, e.g. "2010-05".
    pub join_year_month: &'a str,
    /// `None`: not asked yet (a command line checks the form before it asks for the
    /// password), so not judged.
    pub password: Option<&'a str>,
}

/// What the form is judged with beyond itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Judge<'a> {
    /// The category of the organization registered for, when known: the posts it offers.
    /// `None`: any post of the notice.
    pub category: Option<Category>,
    /// The joining-age rule in force (the server's configured cutoff). `None`: the joining
    /// month is checked for its format only.
    pub join_rule: Option<&'a JoinRule>,
    /// Today (an ID number's birth date and a joining month are not in the future).
    pub today: Date,
}

/// A form whose every field passed, as values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checked {
    pub code: RegistrationCode,
    pub role: Role,
    pub name: PersonName,
    pub id_number: IdNumber,
    pub mobile: Mobile,
    pub joined: YearMonth,
}

/// Check every field of `form`, reporting every violation at once (each on its field).
pub fn check(form: &Form<'_>, judge: &Judge<'_>) -> Result<Checked, Vec<Violation>> {
    let mut v = Vec::new();
    let code = RegistrationCode::parse(form.code)
        .map_err(|e| v.push(e.on(Field::RegistrationCode)))
        .ok();
    let role = match judge.category {
        Some(c) => Role::parse_for(form.role, c),
        None => Role::parse(form.role),
    }
    .map_err(|e| v.push(e))
    .ok();
    let name = PersonName::parse(form.name)
        .map_err(|e| v.push(e.on(Field::AdminName)))
        .ok();
    let id_number = IdNumber::parse_on(form.id_number, judge.today)
        .map_err(|e| v.push(e.on(Field::IdNumber)))
        .ok();
    let mobile = Mobile::parse(form.mobile)
        .map_err(|e| v.push(e.on(Field::Mobile)))
        .ok();
    let joined = YearMonth::parse(form.join_year_month)
        .map_err(|e| v.push(e.on(Field::JoinYearMonth)))
        .ok();
    if let (Some(rule), Some(id), Some(j)) = (judge.join_rule, &id_number, joined)
        && let Err(e) = rule.check(id.birth_date(), j, judge.today)
    {
        v.push(e.on(Field::JoinYearMonth));
    }
    if let Some(p) = form.password {
        v.extend(check_password(p));
    }
    match (code, role, name, id_number, mobile, joined) {
        (Some(code), Some(role), Some(name), Some(id_number), Some(mobile), Some(joined))
            if v.is_empty() =>
        {
            Ok(Checked {
                code,
                role,
                name,
                id_number,
                mobile,
                joined,
            })
        }
        _ => Err(v),
    }
}

/// The password rule \[inferred\]: set, [`MIN_PASSWORD_CHARS`] to [`MAX_PASSWORD_CHARS`]
/// characters, with a letter and a digit.
pub fn check_password(password: &str) -> Vec<Violation> {
    let mut v = Vec::new();
    let len = password.chars().count();
    if password.is_empty() {
        v.push(Violation::error(
            "password.empty",
            Some(Field::Password),
            "请设置密码",
        ));
    } else if len < MIN_PASSWORD_CHARS
        || !password.chars().any(|c| c.is_ascii_digit())
        || !password.chars().any(|c| c.is_alphabetic())
    {
        v.push(Violation::error(
            "password.weak",
            Some(Field::Password),
            format!("密码至少{MIN_PASSWORD_CHARS}位,且须同时包含字母和数字"),
        ));
    }
    if len > MAX_PASSWORD_CHARS {
        v.push(Violation::error(
            "password.too_long",
            Some(Field::Password),
            format!("密码不能超过{MAX_PASSWORD_CHARS}位"),
        ));
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    const TODAY: Date = date!(2017 - 12 - 18);

    fn id_number() -> String {
        let first17 = "51010419900307123";
        format!("{first17}{}", IdNumber::check_char(first17).unwrap())
    }

    fn codes(r: Result<Checked, Vec<Violation>>) -> Vec<String> {
        r.unwrap_err().into_iter().map(|v| v.code).collect()
    }

    fn judge(category: Option<Category>, rule: Option<&JoinRule>) -> Judge<'_> {
        Judge {
            category,
            join_rule: rule,
            today: TODAY,
        }
    }

    #[test]
    fn a_good_form_gives_its_values_normalized() {
        let id = id_number();
        let form = Form {
            code: " Ab3dE7fG ",
            role: "书记",
            name: "张  三",
            id_number: &id,
            mobile: "１３８１２３４５６７８",
            join_year_month: "2005.5",
            password: Some("abcdefg1"),
        };
        let rule = JoinRule::default();
        let c = check(&form, &judge(Some(Category::Committee), Some(&rule))).unwrap();
        assert_eq!(c.code.as_str(), "Ab3dE7fG");
        assert_eq!(c.name.as_str(), "张三");
        assert_eq!(c.mobile.as_str(), "13812345678");
        assert_eq!(c.joined.to_string(), "2005-05");
    }

    #[test]
    fn every_field_is_reported_at_once_on_its_field() {
        let form = Form {
            code: "x",
            role: "队长",
            name: "",
            id_number: "123",
            mobile: "123",
            join_year_month: "soon",
            password: Some(""),
        };
        let v = check(&form, &judge(None, None)).unwrap_err();
        let fields: Vec<Option<Field>> = v.iter().map(|v| v.field).collect();
        assert_eq!(
            fields,
            [
                Some(Field::RegistrationCode),
                Some(Field::Role),
                Some(Field::AdminName),
                Some(Field::IdNumber),
                Some(Field::Mobile),
                Some(Field::JoinYearMonth),
                Some(Field::Password),
            ]
        );
        assert_eq!(v[6].code, "password.empty");
    }

    #[test]
    fn what_the_judge_knows_is_judged() {
        let id = id_number();
        let form = Form {
            code: "Ab3dE7fG",
            role: "常委",
            name: "张三",
            id_number: &id,
            mobile: "13812345678",
            // Born 1990-03: 12 in 2002-03, before the cutoff; 2001 is too young.
            join_year_month: "2001-05",
            password: None,
        };
        // The client knows neither the category nor the cutoff: the form passes.
        assert!(check(&form, &judge(None, None)).is_ok());
        let rule = JoinRule::default();
        assert_eq!(
            codes(check(&form, &judge(Some(Category::Branch), Some(&rule)))),
            ["role.not_offered", "join.too_young"]
        );
    }

    #[test]
    fn the_password_rule() {
        assert_eq!(check_password("")[0].code, "password.empty");
        for weak in ["abc1", "abcdefgh", "12345678"] {
            assert_eq!(check_password(weak)[0].code, "password.weak", "{weak}");
        }
        assert!(check_password("abcdefg1").is_empty());
        assert!(check_password(&"a1".repeat(64)).is_empty());
        assert_eq!(
            check_password(&("a1".repeat(64) + "x"))[0].code,
            "password.too_long"
        );
    }
}

//! Contact values (rules.md §9): 手机号码 ([`Mobile`]), 联系电话 ([`Phone`]) and
//! 电子邮箱 ([`Email`]).
//!
//! Every parser normalizes first (full-width → half-width, trimmed) and stores the
//! normalized value. Mobiles are personal data: [`Mobile`]'s `Debug` prints the masked form
//! (`138****5678`) and no violation message quotes a mobile or a phone number.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::field::Field;
use crate::text::{normalize, truncate_for_message};
use crate::violation::{Result, Violation};

/// Whether `s` is a mobile number: `^1[3-9]\d{9}$`.
fn is_mobile(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 11
        && b[0] == b'1'
        && (b'3'..=b'9').contains(&b[1])
        && b.iter().all(u8::is_ascii_digit)
}

/// Whether `s` is a landline number: `^0\d{2,3}-?\d{7,8}$`.
fn is_landline(s: &str) -> bool {
    let all_digits = |p: &str| p.bytes().all(|b| b.is_ascii_digit());
    match s.split_once('-') {
        // 0 + a 2–3 digit area code, '-', 7–8 digits.
        Some((area, local)) => {
            area.starts_with('0')
                && (3..=4).contains(&area.len())
                && all_digits(area)
                && (7..=8).contains(&local.len())
                && all_digits(local)
        }
        // 0 + 2–3 + 7–8 digits: 10 to 12 digits in all.
        None => s.starts_with('0') && (10..=12).contains(&s.len()) && all_digits(s),
    }
}

// ---------------------------------------------------------------------------------------
// 手机号码

/// A mainland mobile number: 11 digits, `^1[3-9]\d{9}$`.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Mobile(String);

impl Mobile {
    /// Parse and validate. Violations are reported on [`Field::Mobile`]; re-target them
    /// with [`Violation::on`] (e.g. `Field::SecretaryMobile`).
    pub fn parse(raw: &str) -> Result<Mobile> {
        let s = normalize(raw);
        if s.is_empty() {
            return Err(Violation::error(
                "mobile.empty",
                Some(Field::Mobile),
                "请填写手机号码",
            ));
        }
        if !is_mobile(&s) {
            return Err(Violation::error(
                "mobile.format",
                Some(Field::Mobile),
                "手机号码应为11位数字,以1开头、第二位为3至9(如13812345678),不加区号、空格或横线",
            ));
        }
        Ok(Mobile(s))
    }

    /// The 11 digits.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The number for lists, logs and supervisors' exports: `138****5678`.
    pub fn masked(&self) -> String {
        format!("{}****{}", &self.0[..3], &self.0[7..])
    }
}

impl fmt::Debug for Mobile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Mobile").field(&self.masked()).finish()
    }
}

impl fmt::Display for Mobile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for Mobile {
    type Error = Violation;
    fn try_from(s: String) -> Result<Mobile> {
        Mobile::parse(&s)
    }
}

impl From<Mobile> for String {
    fn from(m: Mobile) -> String {
        m.0
    }
}

// ---------------------------------------------------------------------------------------
// 联系电话

/// An organization's 联系电话: a mobile number, or a landline `0` + area code (2–3 digits)
/// + optional `-` + 7–8 digits (`028-61310936`).
///
/// Dashes pasted from word processors (‐ ‑ – — −, full-width －) are folded to `-`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Phone(String);

impl Phone {
    /// Parse and validate. Violations are reported on [`Field::Phone`].
    pub fn parse(raw: &str) -> Result<Phone> {
        let s: String = normalize(raw)
            .chars()
            .map(|c| match c {
                '\u{2010}'..='\u{2015}' | '\u{2212}' => '-',
                _ => c,
            })
            .collect();
        if s.is_empty() {
            return Err(Violation::error(
                "phone.empty",
                Some(Field::Phone),
                "请填写联系电话",
            ));
        }
        if !is_mobile(&s) && !is_landline(&s) {
            return Err(Violation::error(
                "phone.format",
                Some(Field::Phone),
                "联系电话应为手机号码(如13812345678),或固定电话“区号-号码”(如028-61310936:\
                 区号以0开头共3至4位,号码7至8位),不加分机号、空格或括号",
            ));
        }
        Ok(Phone(s))
    }

    /// The number as entered (normalized).
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether this is a mobile number rather than a landline.
    pub fn is_mobile(&self) -> bool {
        is_mobile(&self.0)
    }
}

impl fmt::Display for Phone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for Phone {
    type Error = Violation;
    fn try_from(s: String) -> Result<Phone> {
        Phone::parse(&s)
    }
}

impl From<Phone> for String {
    fn from(p: Phone) -> String {
        p.0
    }
}

// ---------------------------------------------------------------------------------------
// 电子邮箱

/// The longest address accepted, in characters (the limit of a forward path, RFC 5321).
pub const EMAIL_MAX_LEN: usize = 254;

/// An e-mail address matching the WHATWG "valid e-mail address" pattern:
///
/// ```text
/// ^[a-zA-Z0-9.!#$%&'*+/=?^_`{|}~-]+@[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?
///   (?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)*$
/// ```
///
/// at most [`EMAIL_MAX_LEN`] characters. Stored as entered (normalized), case kept.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Email(String);

fn is_local_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b".!#$%&'*+/=?^_`{|}~-".contains(&b)
}

/// One domain label: `[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?`.
fn is_label(l: &str) -> bool {
    let b = l.as_bytes();
    match (b.first(), b.last()) {
        (Some(first), Some(last)) => {
            b.len() <= 63
                && first.is_ascii_alphanumeric()
                && last.is_ascii_alphanumeric()
                && b.iter().all(|&c| c.is_ascii_alphanumeric() || c == b'-')
        }
        _ => false,
    }
}

impl Email {
    /// Parse and validate. Violations are reported on [`Field::Email`].
    pub fn parse(raw: &str) -> Result<Email> {
        let s = normalize(raw);
        let fail = |why: &str| {
            Violation::error(
                "email.format",
                Some(Field::Email),
                format!(
                    "电子邮箱“{}”格式不正确:{why}(如cdgqt@163.com)",
                    truncate_for_message(&s)
                ),
            )
        };
        if s.is_empty() {
            return Err(Violation::error(
                "email.empty",
                Some(Field::Email),
                "请填写电子邮箱",
            ));
        }
        if s.chars().count() > EMAIL_MAX_LEN {
            return Err(fail(&format!("不能超过{EMAIL_MAX_LEN}个字符")));
        }
        if s.contains('。') {
            return Err(fail("含有中文句号“。”,请改为英文句点“.”"));
        }
        let Some((local, domain)) = s.split_once('@') else {
            return Err(fail("缺少“@”"));
        };
        if local.is_empty() {
            return Err(fail("“@”前缺少用户名"));
        }
        if !local.bytes().all(is_local_char) {
            return Err(fail("“@”前的用户名含有不允许的字符(如空格、中文或括号)"));
        }
        if domain.is_empty() {
            return Err(fail("“@”后缺少域名"));
        }
        if domain.contains('@') {
            return Err(fail("只能有一个“@”"));
        }
        if !domain.split('.').all(is_label) {
            return Err(fail(
                "“@”后的域名只能由字母、数字、横线和点组成,点不能连续或位于首尾",
            ));
        }
        Ok(Email(s))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for Email {
    type Error = Violation;
    fn try_from(s: String) -> Result<Email> {
        Email::parse(&s)
    }
}

impl From<Email> for String {
    fn from(e: Email) -> String {
        e.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mobiles() {
        let m = Mobile::parse(" 13812345678 ").unwrap();
        assert_eq!(m.as_str(), "13812345678");
        assert_eq!(m.masked(), "138****5678");
        assert_eq!(format!("{m:?}"), "Mobile(\"138****5678\")");
        assert_eq!(m.to_string(), "13812345678");
        assert_eq!(
            Mobile::parse("１９９１２３４５６７８").unwrap().as_str(),
            "19912345678"
        );
        for ok in ["13000000000", "15912345678", "18612345678", "19912345678"] {
            assert!(Mobile::parse(ok).is_ok(), "{ok}");
        }
        assert_eq!(Mobile::parse("").unwrap_err().code, "mobile.empty");
        assert_eq!(Mobile::parse("\u{3000}").unwrap_err().code, "mobile.empty");
        for bad in [
            "12812345678",
            "1381234567",
            "138123456789",
            "23812345678",
            "138-1234-5678",
            "138 1234 5678",
            "+8613812345678",
            "1381234567a",
            "1381234567五",
            "138123456７８九",
        ] {
            let v = Mobile::parse(bad).unwrap_err();
            assert_eq!(v.code, "mobile.format", "{bad}");
            assert_eq!(v.field, Some(Field::Mobile));
        }
    }

    #[test]
    fn phones() {
        // The notice's own contact number.
        let p = Phone::parse("028-61310936").unwrap();
        assert_eq!(p.as_str(), "028-61310936");
        assert!(!p.is_mobile());
        for ok in [
            "02861310936",
            "0286131093",
            "010-1234567",
            "0831-1234567",
            "0831-12345678",
            "083112345678",
            "０２８－６１３１０９３６",
            "028–61310936",
            "13812345678",
        ] {
            assert!(Phone::parse(ok).is_ok(), "{ok}");
        }
        assert_eq!(
            Phone::parse("028–61310936").unwrap().as_str(),
            "028-61310936"
        );
        assert!(Phone::parse("13812345678").unwrap().is_mobile());
        assert_eq!(Phone::parse(" ").unwrap_err().code, "phone.empty");
        for bad in [
            "61310936",
            "28-61310936",
            "028-613109",
            "028-613109361",
            "02-61310936",
            "02861-61310936",
            "028--61310936",
            "028-6131-0936",
            "(028)61310936",
            "028 61310936",
            "028-61310936-8001",
            "0286131093612",
            "12812345678",
            "电话",
        ] {
            assert_eq!(Phone::parse(bad).unwrap_err().code, "phone.format", "{bad}");
        }
    }

    #[test]
    fn emails() {
        for ok in [
            "cdgqt@163.com",
            "a@b",
            "x.y+tag@mail.example.cn",
            "a.b!#$%&'*+/=?^_`{|}~-@a-b.c",
            "..@a",
            "user@localhost",
            "ａｂｃ＠１６３．ｃｏｍ",
            "A@B-C.D",
        ] {
            assert!(Email::parse(ok).is_ok(), "{ok}");
        }
        assert_eq!(
            Email::parse("ａｂｃ＠１６３．ｃｏｍ").unwrap().as_str(),
            "abc@163.com"
        );
        assert_eq!(Email::parse("").unwrap_err().code, "email.empty");
        let label63 = "a".repeat(63);
        assert!(Email::parse(&format!("x@{label63}.com")).is_ok());
        for bad in [
            "cdgqt163.com",
            "@163.com",
            "cdgqt@",
            "a@b@c",
            "a b@c",
            "团委@163.com",
            "a@163。com",
            "a@-b.com",
            "a@b-.com",
            "a@b..com",
            "a@.b",
            "a@b.",
            "a@b_c.com",
            "a(b)@c",
            "a@中国.cn",
        ] {
            assert_eq!(Email::parse(bad).unwrap_err().code, "email.format", "{bad}");
        }
        assert_eq!(
            Email::parse(&format!("x@{}.com", "a".repeat(64)))
                .unwrap_err()
                .code,
            "email.format"
        );
        let long = format!(
            "{}@{}.{}.{}.{}",
            "u".repeat(61),
            label63,
            label63,
            label63,
            "a"
        );
        assert!(long.len() > EMAIL_MAX_LEN);
        assert_eq!(Email::parse(&long).unwrap_err().code, "email.format");
        let at_limit = format!("{}@{}", "u".repeat(190), label63);
        assert_eq!(at_limit.len(), EMAIL_MAX_LEN);
        assert!(Email::parse(&at_limit).is_ok());
    }

    #[test]
    fn messages_never_quote_mobiles() {
        let v = Mobile::parse("1395550123").unwrap_err();
        assert!(!v.message.contains("1395550123"));
        let v = Phone::parse("0831-55501").unwrap_err();
        assert!(!v.message.contains("55501"));
    }

    #[test]
    fn string_conversions_validate() {
        assert!(Mobile::try_from("12812345678".to_owned()).is_err());
        assert_eq!(
            String::from(Phone::try_from("028-61310936".to_owned()).unwrap()),
            "028-61310936"
        );
        assert!(Email::try_from("nope".to_owned()).is_err());
    }
}

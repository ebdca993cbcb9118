//! 居民身份证号码 (rules.md §9): the 18-character number of GB 11643-1999.
//!
//! Seventeen digits (a province code of GB/T 2260, the rest of the address code, the
//! birth date `YYYYMMDD`, a sequence number) and a check character: the weighted sum of
//! the 17 digits (weights 7 9 10 5 8 4 2 1 6 3 7 9 10 5 8 4 2) modulo 11 indexes
//! `"10X98765432"`. A lower-case `x` is accepted and stored as `X`.
//!
//! ID numbers are personal data: [`IdNumber`]'s `Debug` prints the masked form
//! (`510104********1234`), and no violation message quotes the number, so neither lands
//! in a log by accident. `Display` prints the full number, for the places that need it.

use std::fmt;

use serde::{Deserialize, Serialize};
use time::{Date, Month, OffsetDateTime};

use crate::field::Field;
use crate::text::{char_len, normalize};
use crate::violation::{Result, Violation};

/// The weights of the 17 digits, GB 11643-1999.
const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];

/// The check character indexed by the weighted sum modulo 11.
const CHECK_CHARS: &[u8; 11] = b"10X98765432";

/// The province-level codes of GB/T 2260 (two leading digits).
const PROVINCES: [u8; 34] = [
    11, 12, 13, 14, 15, // 华北
    21, 22, 23, // 东北
    31, 32, 33, 34, 35, 36, 37, // 华东
    41, 42, 43, 44, 45, 46, // 中南
    50, 51, 52, 53, 54, // 西南
    61, 62, 63, 64, 65, // 西北
    71, 81, 82, // 台湾, 香港, 澳门
];

/// \[inferred\] Birth years before this are refused as impossible for a living person
/// (a typo such as `1890` for `1990`).
const EARLIEST_BIRTH_YEAR: i32 = 1900;

/// A valid 18-character 居民身份证号码, upper-case `X`.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct IdNumber {
    /// 18 ASCII characters: 17 digits and a digit or `X`.
    value: String,
    birth: Date,
}

fn invalid(code: &str, message: impl Into<String>) -> Violation {
    Violation::error(code, Some(Field::IdNumber), message)
}

impl IdNumber {
    /// Parse and validate, judging "birth date in the future" against today's UTC date.
    ///
    /// Violations are reported on [`Field::IdNumber`]; re-target them with
    /// [`Violation::on`] (e.g. `Field::SecretaryIdNumber`).
    pub fn parse(raw: &str) -> Result<IdNumber> {
        IdNumber::parse_on(raw, OffsetDateTime::now_utc().date())
    }

    /// Parse and validate, judging "birth date in the future" against `today`.
    pub fn parse_on(raw: &str, today: Date) -> Result<IdNumber> {
        let s = normalize(raw);
        if s.is_empty() {
            return Err(invalid("id_number.empty", "请填写身份证号码"));
        }
        let len = char_len(&s);
        if len == 15 && s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(invalid(
                "id_number.old_15_digit",
                "这是15位的旧身份证号码,请填写18位的居民身份证号码(以身份证上的号码为准)",
            ));
        }
        if len != 18 {
            return Err(invalid(
                "id_number.length",
                format!("身份证号码应为18位,现为{len}位,请核对是否漏填或多填"),
            ));
        }
        // 18 characters: the first 17 digits, the last a digit or X.
        if let Some((i, c)) = s
            .chars()
            .enumerate()
            .find(|&(i, c)| !(c.is_ascii_digit() || (i == 17 && matches!(c, 'x' | 'X'))))
        {
            let shown = if c.is_control() || c.is_whitespace() {
                c.escape_debug().to_string()
            } else {
                c.to_string()
            };
            let hint = if i == 17 {
                "最后一位只能是数字或X"
            } else {
                "前17位只能是数字"
            };
            return Err(invalid(
                "id_number.chars",
                format!("身份证号码第{}位“{shown}”无效:{hint}", i + 1),
            ));
        }
        // All ASCII from here: byte slicing is safe.
        let value = s.to_ascii_uppercase();
        let bytes = value.as_bytes();

        let province = (bytes[0] - b'0') * 10 + (bytes[1] - b'0');
        if !PROVINCES.contains(&province) {
            return Err(invalid(
                "id_number.province",
                format!("身份证号码前两位“{province:02}”不是有效的省级行政区划代码,请核对"),
            ));
        }

        // The birth date is personal data too: messages name its position, not its digits.
        let birth = birth_of(bytes).ok_or_else(|| {
            invalid(
                "id_number.birth_date",
                "身份证号码第7至14位应为出生日期(年月日),现不是有效日期,请对照身份证核对",
            )
        })?;
        if birth > today {
            return Err(invalid(
                "id_number.birth_future",
                "身份证号码第7至14位的出生日期晚于今天,请对照身份证核对",
            ));
        }

        let expected = IdNumber::check_char(&value[..17]);
        if expected != Some(bytes[17] as char) {
            return Err(invalid(
                "id_number.checksum",
                "身份证号码校验位不符:号码中有数字抄错或顺序颠倒,请对照身份证逐位核对",
            ));
        }
        Ok(IdNumber { value, birth })
    }

    /// The check character of 17 digits, or `None` if `first17` is not exactly 17 ASCII
    /// digits.
    pub fn check_char(first17: &str) -> Option<char> {
        let bytes = first17.as_bytes();
        if bytes.len() != 17 || !bytes.iter().all(u8::is_ascii_digit) {
            return None;
        }
        let sum: u32 = bytes
            .iter()
            .zip(WEIGHTS)
            .map(|(&b, w)| u32::from(b - b'0') * w)
            .sum();
        Some(CHECK_CHARS[(sum % 11) as usize] as char)
    }

    /// The full number (18 characters, upper-case `X`).
    pub fn as_str(&self) -> &str {
        &self.value
    }

    /// The birth date encoded in characters 7–14.
    pub fn birth_date(&self) -> Date {
        self.birth
    }

    /// The number for lists, logs and supervisors' exports: the first 6 and the last 4
    /// characters, the birth date and sequence hidden (`510104********1234`).
    pub fn masked(&self) -> String {
        format!("{}********{}", &self.value[..6], &self.value[14..])
    }
}

/// The birth date of 18 validated ASCII characters, if a real date from 1900 on.
fn birth_of(bytes: &[u8]) -> Option<Date> {
    let num = |range: std::ops::Range<usize>| -> u32 {
        bytes[range]
            .iter()
            .fold(0, |n, &b| n * 10 + u32::from(b - b'0'))
    };
    let year = i32::try_from(num(6..10)).ok()?;
    let month = Month::try_from(u8::try_from(num(10..12)).ok()?).ok()?;
    let day = u8::try_from(num(12..14)).ok()?;
    if year < EARLIEST_BIRTH_YEAR {
        return None;
    }
    Date::from_calendar_date(year, month, day).ok()
}

impl fmt::Debug for IdNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("IdNumber").field(&self.masked()).finish()
    }
}

impl fmt::Display for IdNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.value)
    }
}

impl TryFrom<String> for IdNumber {
    type Error = Violation;
    fn try_from(s: String) -> Result<IdNumber> {
        IdNumber::parse(&s)
    }
}

impl From<IdNumber> for String {
    fn from(id: IdNumber) -> String {
        id.value
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    const TODAY: Date = date!(2017 - 06 - 01);

    /// 17 digits and their computed check character.
    fn with_check(first17: &str) -> String {
        format!("{first17}{}", IdNumber::check_char(first17).unwrap())
    }

    fn code(raw: &str) -> String {
        IdNumber::parse_on(raw, TODAY).unwrap_err().code
    }

    #[test]
    fn check_char_of_known_numbers() {
        // The worked example of GB 11643-1999.
        assert_eq!(IdNumber::check_char("11010519491231002"), Some('X'));
        assert_eq!(IdNumber::check_char("44052418800101001"), Some('4'));
        assert_eq!(IdNumber::check_char("5101041990010112"), None);
        assert_eq!(IdNumber::check_char("5101041990010112a"), None);
        assert_eq!(
            IdNumber::check_char("５１０１０４１９９００１０１１２３"),
            None
        );
    }

    #[test]
    fn accepts_a_valid_number() {
        // 成都市锦江区 (510104), born 1990-01-01, sequence 123.
        let raw = with_check("51010419900101123");
        assert_eq!(raw, "510104199001011230");
        let id = IdNumber::parse_on(&raw, TODAY).unwrap();
        assert_eq!(id.as_str(), raw);
        assert_eq!(id.birth_date(), date!(1990 - 01 - 01));
        assert_eq!(id.masked(), "510104********1230");
        assert_eq!(format!("{id:?}"), "IdNumber(\"510104********1230\")");
        assert_eq!(id.to_string(), raw);
        // Full-width digits and surrounding spaces are normalized.
        let wide: String = raw
            .chars()
            .map(|c| char::from_u32(c as u32 + 0xFEE0).unwrap())
            .collect();
        assert_eq!(
            IdNumber::parse_on(&format!(" {wide}\u{3000}"), TODAY).unwrap(),
            id
        );
        assert!(IdNumber::parse(&raw).is_ok());
    }

    #[test]
    fn lower_case_x_is_stored_upper_case() {
        let id = IdNumber::parse_on("11010519491231002x", TODAY).unwrap();
        assert_eq!(id.as_str(), "11010519491231002X");
        assert_eq!(id.masked(), "110105********002X");
    }

    #[test]
    fn refuses_each_rule_with_its_code() {
        assert_eq!(code(""), "id_number.empty");
        assert_eq!(code("  \u{3000} "), "id_number.empty");
        assert_eq!(code("510104900101123"), "id_number.old_15_digit");
        assert_eq!(code("5101041990010112"), "id_number.length");
        assert_eq!(code("5101041990010112366"), "id_number.length");
        assert_eq!(code("51010419900101123X1"), "id_number.length");
        assert_eq!(
            code("身份证号码身份证号码身份证号码身份证号"),
            "id_number.length"
        );
        assert_eq!(code("51010419900101A236"), "id_number.chars");
        assert_eq!(code("5101041990010112Y6"), "id_number.chars");
        assert_eq!(code("51010419900101123Y"), "id_number.chars");
        assert_eq!(code("X10104199001011236"), "id_number.chars");
        assert_eq!(code("51010419900101123\u{0}"), "id_number.chars");
        assert_eq!(code("5101041990010112四"), "id_number.length");
        assert_eq!(code("51010419900101123四"), "id_number.chars");
        assert_eq!(code(&with_check("10010419900101123")), "id_number.province");
        assert_eq!(code(&with_check("66010419900101123")), "id_number.province");
        assert_eq!(code(&with_check("91010419900101123")), "id_number.province");
        assert_eq!(
            code(&with_check("51010419900230123")),
            "id_number.birth_date"
        );
        assert_eq!(
            code(&with_check("51010419901301123")),
            "id_number.birth_date"
        );
        assert_eq!(
            code(&with_check("51010419900100123")),
            "id_number.birth_date"
        );
        assert_eq!(
            code(&with_check("51010418900101123")),
            "id_number.birth_date"
        );
        assert_eq!(
            code(&with_check("51010420170602123")),
            "id_number.birth_future"
        );
        assert!(IdNumber::parse_on(&with_check("51010420170601123"), TODAY).is_ok());
        assert_eq!(code("510104199001011235"), "id_number.checksum");
        assert_eq!(code("510104199001011263"), "id_number.checksum");
    }

    #[test]
    fn every_province_code_of_gb_t_2260() {
        for p in 0..100u8 {
            let raw = with_check(&format!("{p:02}010419900101123"));
            let valid = IdNumber::parse_on(&raw, TODAY).is_ok();
            assert_eq!(valid, PROVINCES.contains(&p), "{p}");
        }
    }

    #[test]
    fn leap_days() {
        assert!(IdNumber::parse_on(&with_check("51010420000229123"), TODAY).is_ok());
        assert_eq!(
            code(&with_check("51010419000229123")),
            "id_number.birth_date"
        );
    }

    #[test]
    fn messages_never_quote_the_number() {
        for raw in [
            "510104199001011235",
            &with_check("51010419900230123"),
            &with_check("51010420300101123"),
        ] {
            let v = IdNumber::parse_on(raw, TODAY).unwrap_err();
            assert!(!v.message.contains(&raw[6..14]), "{}", v.message);
            assert!(!v.message.contains(&raw[14..]), "{}", v.message);
        }
    }

    #[test]
    fn deserialize_validates() {
        use serde::de::{IntoDeserializer, value::Error};
        let de = |s: &str| IdNumber::deserialize(s.to_owned().into_deserializer());
        let id: IdNumber = de("11010519491231002x").map_err(|e: Error| e).unwrap();
        assert_eq!(String::from(id), "11010519491231002X");
        let err: Error = de("510104199001011235").unwrap_err();
        assert!(err.to_string().contains("校验位"));
    }

    #[test]
    fn violations_can_be_retargeted() {
        let v = IdNumber::parse_on("", TODAY).unwrap_err();
        assert_eq!(v.field, Some(Field::IdNumber));
        assert_eq!(
            v.on(Field::SecretaryIdNumber).field,
            Some(Field::SecretaryIdNumber)
        );
    }
}

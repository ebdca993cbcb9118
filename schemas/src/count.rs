//! Counts (rules.md §3): the four staffing counts ([`StaffCount`]: 编制数 and 实际配备数),
//! 14~28周岁青年数 ([`YouthCount`], 0–10000) and 年度经推优入党团员数
//! ([`RecommendedCount`], 0–1000).
//!
//! A count is a non-negative integer; "none" is entered as `0`, and an empty cell is
//! *missing*, not zero (`count.empty`). The text parsers accept surrounding spaces,
//! full-width digits and a zero fraction (`3.0`: spreadsheet numeric cells arrive as
//! floats), and refuse `3.5`, `-1`, `abc`, `无`.
//!
//! Cross-field rules (实际配备数 against 编制数) belong to the organization, not here.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::field::Field;
use crate::text::normalize;
use crate::violation::{Result, Violation};

/// Parse a non-negative integer (saturating at `u64::MAX`; callers bound it).
fn parse_integer(raw: &str, field: Field) -> Result<u64> {
    let s = normalize(raw);
    let label = field.label();
    if s.is_empty() {
        return Err(Violation::error(
            "count.empty",
            Some(field),
            format!("请填写{label}(没有请填0)"),
        ));
    }
    let (negative, body) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s.strip_prefix('+').unwrap_or(&s)),
    };
    let (int, frac) = match body.split_once('.') {
        Some((int, frac)) => (int, Some(frac)),
        None => (body, None),
    };
    let digits = |p: &str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit());
    if !digits(int) || frac.is_some_and(|f| !digits(f)) {
        return Err(Violation::error(
            "count.not_integer",
            Some(field),
            format!("{label}只能填写整数(如3),不带单位或文字;没有请填0"),
        ));
    }
    if frac.is_some_and(|f| f.bytes().any(|b| b != b'0')) {
        return Err(Violation::error(
            "count.not_integer",
            Some(field),
            format!("{label}须为整数,不能有小数"),
        ));
    }
    let value = int.bytes().fold(0u64, |n, b| {
        n.saturating_mul(10).saturating_add(u64::from(b - b'0'))
    });
    if negative && value != 0 {
        return Err(Violation::error(
            "count.negative",
            Some(field),
            format!("{label}不能为负数;没有请填0"),
        ));
    }
    Ok(value)
}

/// A staffing count: 本级团组织行政编制数, 行政编制实际配备数, 本级团组织事业编制数,
/// 事业编制实际配备数. 0 to [`StaffCount::MAX`].
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default, Serialize, Deserialize,
)]
#[serde(try_from = "u32", into = "u32")]
pub struct StaffCount(u32);

impl StaffCount {
    /// \[inferred\] The largest plausible count; larger is a typo.
    pub const MAX: u32 = 100_000;
    pub const ZERO: StaffCount = StaffCount(0);

    /// Parse the text of `field` (one of the four staffing fields); violations are
    /// reported on `field`.
    pub fn parse(raw: &str, field: Field) -> Result<StaffCount> {
        let n = parse_integer(raw, field)?;
        StaffCount::bounded(u32::try_from(n).unwrap_or(u32::MAX), Some(field))
    }

    /// A count from a number; a violation (on no field) if above [`StaffCount::MAX`].
    pub fn new(n: u32) -> Result<StaffCount> {
        StaffCount::bounded(n, None)
    }

    fn bounded(n: u32, field: Option<Field>) -> Result<StaffCount> {
        if n > StaffCount::MAX {
            let label = field.map_or("编制人数", Field::label);
            return Err(Violation::error(
                "count.too_large",
                field,
                format!("{label}不能超过{},请核对是否多填了0", StaffCount::MAX),
            ));
        }
        Ok(StaffCount(n))
    }

    pub fn get(self) -> u32 {
        self.0
    }
}

/// 14~28周岁青年数: 0 to [`YouthCount::MAX`].
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default, Serialize, Deserialize,
)]
#[serde(try_from = "u32", into = "u32")]
pub struct YouthCount(u32);

impl YouthCount {
    pub const MAX: u32 = 10_000;

    /// Parse; violations are reported on [`Field::YouthCount`].
    pub fn parse(raw: &str) -> Result<YouthCount> {
        let n = parse_integer(raw, Field::YouthCount)?;
        YouthCount::new(u32::try_from(n).unwrap_or(u32::MAX))
    }

    pub fn new(n: u32) -> Result<YouthCount> {
        if n > YouthCount::MAX {
            return Err(Violation::error(
                "count.out_of_range",
                Some(Field::YouthCount),
                format!("14~28周岁青年数不能超过{},请核对", YouthCount::MAX),
            ));
        }
        Ok(YouthCount(n))
    }

    pub fn get(self) -> u32 {
        self.0
    }
}

/// 年度经推优入党团员数: 0 to [`RecommendedCount::MAX`].
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default, Serialize, Deserialize,
)]
#[serde(try_from = "u32", into = "u32")]
pub struct RecommendedCount(u32);

impl RecommendedCount {
    pub const MAX: u32 = 1_000;

    /// Parse; violations are reported on [`Field::RecommendedCount`].
    pub fn parse(raw: &str) -> Result<RecommendedCount> {
        let n = parse_integer(raw, Field::RecommendedCount)?;
        RecommendedCount::new(u32::try_from(n).unwrap_or(u32::MAX))
    }

    pub fn new(n: u32) -> Result<RecommendedCount> {
        if n > RecommendedCount::MAX {
            return Err(Violation::error(
                "count.out_of_range",
                Some(Field::RecommendedCount),
                format!(
                    "年度经推优入党团员数不能超过{},请核对",
                    RecommendedCount::MAX
                ),
            ));
        }
        Ok(RecommendedCount(n))
    }

    pub fn get(self) -> u32 {
        self.0
    }
}

macro_rules! conversions {
    ($($t:ident),*) => {$(
        impl TryFrom<u32> for $t {
            type Error = Violation;
            fn try_from(n: u32) -> Result<$t> {
                $t::new(n)
            }
        }

        impl From<$t> for u32 {
            fn from(c: $t) -> u32 {
                c.0
            }
        }

        impl fmt::Display for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}", self.0)
            }
        }
    )*};
}

conversions!(StaffCount, YouthCount, RecommendedCount);

#[cfg(test)]
mod tests {
    use super::*;

    fn staff(raw: &str) -> Result<u32> {
        StaffCount::parse(raw, Field::AdminQuota).map(StaffCount::get)
    }

    fn staff_code(raw: &str) -> String {
        StaffCount::parse(raw, Field::AdminQuota).unwrap_err().code
    }

    #[test]
    fn staff_counts() {
        for (raw, n) in [
            ("3", 3),
            (" 3 ", 3),
            ("３", 3),
            ("3.0", 3),
            ("3.000", 3),
            ("0", 0),
            ("0.0", 0),
            ("-0", 0),
            ("+2", 2),
            ("007", 7),
            ("100000", 100_000),
        ] {
            assert_eq!(staff(raw), Ok(n), "{raw}");
        }
        assert_eq!(staff_code(""), "count.empty");
        assert_eq!(staff_code("  "), "count.empty");
        for bad in [
            "3.5", "3.05", "abc", "无", "3人", "三", "3.", ".5", "1e3", "1,000", "--1", "3 4",
        ] {
            assert_eq!(staff_code(bad), "count.not_integer", "{bad}");
        }
        assert_eq!(staff_code("-1"), "count.negative");
        assert_eq!(staff_code("-1.0"), "count.negative");
        assert_eq!(staff_code("100001"), "count.too_large");
        assert_eq!(staff_code("99999999999999999999999999"), "count.too_large");
    }

    #[test]
    fn staff_violations_name_their_field() {
        let v = StaffCount::parse("", Field::CareerStaffed).unwrap_err();
        assert_eq!(v.field, Some(Field::CareerStaffed));
        assert!(v.message.contains("事业编制实际配备数"));
        let v = StaffCount::parse("200000", Field::CareerQuota).unwrap_err();
        assert_eq!(v.field, Some(Field::CareerQuota));
        assert_eq!(StaffCount::new(100_001).unwrap_err().field, None);
    }

    #[test]
    fn youth_and_recommended_counts() {
        assert_eq!(YouthCount::parse("10000").unwrap().get(), 10_000);
        assert_eq!(YouthCount::parse("０").unwrap().get(), 0);
        let v = YouthCount::parse("10001").unwrap_err();
        assert_eq!(v.code, "count.out_of_range");
        assert!(v.message.contains("不能超过10000"));
        assert_eq!(v.field, Some(Field::YouthCount));
        assert_eq!(YouthCount::parse("").unwrap_err().code, "count.empty");
        assert_eq!(YouthCount::parse("-5").unwrap_err().code, "count.negative");
        assert_eq!(
            YouthCount::parse("12.5").unwrap_err().code,
            "count.not_integer"
        );

        assert_eq!(RecommendedCount::parse("1000").unwrap().get(), 1_000);
        let v = RecommendedCount::parse("1001").unwrap_err();
        assert_eq!(v.code, "count.out_of_range");
        assert!(v.message.contains("不能超过1000"));
        assert_eq!(v.field, Some(Field::RecommendedCount));
        assert_eq!(
            RecommendedCount::new(1001).unwrap_err().code,
            "count.out_of_range"
        );
    }

    #[test]
    fn deserialize_validates() {
        use serde::de::{IntoDeserializer, value::Error};
        let youth =
            |n: u32| YouthCount::deserialize(IntoDeserializer::<Error>::into_deserializer(n));
        assert_eq!(youth(12).unwrap().get(), 12);
        assert!(youth(10_001).is_err());
        let staff =
            |n: u32| StaffCount::deserialize(IntoDeserializer::<Error>::into_deserializer(n));
        assert!(staff(100_001).is_err());
        assert_eq!(u32::from(staff(4).unwrap()), 4);
        assert_eq!(staff(4).unwrap().to_string(), "4");
    }
}

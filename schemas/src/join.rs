//! 入团年月 ([`YearMonth`]) and the joining-age rule ([`JoinRule`], rules.md §8).
//!
//! The rule: at least 13 in the joining month, or at least 12 if the person joined before
//! the cutoff. Ages are compared in year-months: born 2004-05, 13 is reached in 2017-05,
//! so 2017-05 is accepted and 2017-04 refused. A registration that breaks the rule is
//! refused ("若不符合无法进入系统").

use std::fmt;

use serde::{Deserialize, Serialize};
use time::Date;
use time::macros::date;

use crate::field::Field;
use crate::text::{normalize, truncate_for_message};
use crate::violation::{Result, Violation};

/// A year and month (1–12), e.g. 入团年月.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct YearMonth {
    // Field order matters: the derived ordering is by year, then month.
    year: i32,
    month: u8,
}

fn invalid(code: &str, message: impl Into<String>) -> Violation {
    Violation::error(code, Some(Field::JoinYearMonth), message)
}

const FORMAT_HINT: &str = "请按“年-月”填写,如2017-05、2017.5、201705或2017年5月";

impl YearMonth {
    /// A year-month; `join.month` unless `month` is 1–12.
    pub fn new(year: i32, month: u8) -> Result<YearMonth> {
        if !(1..=12).contains(&month) {
            return Err(invalid(
                "join.month",
                format!("月份“{month}”无效,应为1至12"),
            ));
        }
        Ok(YearMonth { year, month })
    }

    /// The year-month of a date.
    pub fn of(date: Date) -> YearMonth {
        YearMonth {
            year: date.year(),
            month: u8::from(date.month()),
        }
    }

    /// Parse `2017-05`, `2017-5`, `2017.05`, `2017/05`, `201705`, `2017年5月` (full-width
    /// digits too): a four-digit year and a one- or two-digit month.
    pub fn parse(raw: &str) -> Result<YearMonth> {
        let s = normalize(raw);
        if s.is_empty() {
            return Err(invalid("join.empty", "请填写入团年月"));
        }
        let format_error = || {
            invalid(
                "join.format",
                format!(
                    "入团年月“{}”格式不正确:{FORMAT_HINT}",
                    truncate_for_message(&s)
                ),
            )
        };
        let (year, month) = if let Some(rest) = s.strip_suffix('月') {
            rest.split_once('年').ok_or_else(format_error)?
        } else if let Some(pair) = s.split_once(['-', '.', '/']) {
            pair
        } else if s.len() == 6 && s.is_ascii() {
            s.split_at(4)
        } else {
            return Err(format_error());
        };
        let digits = |p: &str, lens: std::ops::RangeInclusive<usize>| {
            lens.contains(&p.len()) && p.bytes().all(|b| b.is_ascii_digit())
        };
        if !digits(year, 4..=4) || !digits(month, 1..=2) {
            return Err(format_error());
        }
        let number = |p: &str| p.bytes().fold(0u16, |n, b| n * 10 + u16::from(b - b'0'));
        let (year, month) = (number(year), number(month));
        YearMonth::new(i32::from(year), u8::try_from(month).unwrap_or(u8::MAX))
    }

    pub fn year(self) -> i32 {
        self.year
    }

    /// 1–12.
    pub fn month(self) -> u8 {
        self.month
    }

    /// `2004年05月`, for messages.
    pub fn to_chinese(self) -> String {
        format!("{}年{:02}月", self.year, self.month)
    }

    /// The same month `years` later (saturating at the ends of `i32`).
    pub fn plus_years(self, years: i32) -> YearMonth {
        YearMonth {
            year: self.year.saturating_add(years),
            month: self.month,
        }
    }

    /// The month before.
    pub fn pred(self) -> YearMonth {
        match self.month {
            1 => YearMonth {
                year: self.year.saturating_sub(1),
                month: 12,
            },
            m => YearMonth {
                year: self.year,
                month: m - 1,
            },
        }
    }
}

impl fmt::Display for YearMonth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}", self.year, self.month)
    }
}

impl TryFrom<String> for YearMonth {
    type Error = Violation;
    fn try_from(s: String) -> Result<YearMonth> {
        YearMonth::parse(&s)
    }
}

impl From<YearMonth> for String {
    fn from(ym: YearMonth) -> String {
        ym.to_string()
    }
}

/// The joining-age rule of rules.md §8: at least [`JoinRule::AGE`] in the joining month, or
/// [`JoinRule::AGE_BEFORE_CUTOFF`] if the joining month is before the cutoff's month.
///
/// The cutoff is a setting: the notice (成青办〔2017〕70号) says 2016-09-01
/// ([`JoinRule::NOTICE_CUTOFF`], the default); a national FAQ says 2017-01-01
/// ([`JoinRule::FAQ_CUTOFF`]). Only the cutoff's year and month count: a join month is
/// "before the cutoff" if it is strictly before the cutoff's month.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct JoinRule {
    pub cutoff: Date,
}

impl Default for JoinRule {
    fn default() -> Self {
        JoinRule {
            cutoff: JoinRule::NOTICE_CUTOFF,
        }
    }
}

impl JoinRule {
    /// The age required from the cutoff on.
    pub const AGE: i32 = 13;
    /// The age required before the cutoff.
    pub const AGE_BEFORE_CUTOFF: i32 = 12;
    /// The cutoff of the notice 成青办〔2017〕70号.
    pub const NOTICE_CUTOFF: Date = date!(2016 - 09 - 01);
    /// The cutoff of the national FAQ.
    pub const FAQ_CUTOFF: Date = date!(2017 - 01 - 01);

    fn cutoff_month(&self) -> YearMonth {
        YearMonth::of(self.cutoff)
    }

    /// The age required of someone who joined in `joined`.
    pub fn required_age(&self, joined: YearMonth) -> i32 {
        if joined < self.cutoff_month() {
            JoinRule::AGE_BEFORE_CUTOFF
        } else {
            JoinRule::AGE
        }
    }

    /// Whether someone born on `birth` could join in `joined` (age only).
    fn old_enough(&self, birth: Date, joined: YearMonth) -> bool {
        joined >= YearMonth::of(birth).plus_years(self.required_age(joined))
    }

    /// The earliest month someone born on `birth` may have joined: the month they turned
    /// 12 if that is before the cutoff's month, else the month they turned 13.
    ///
    /// Careful: the months allowed need not be one run. Born 2004-05, the person may have
    /// joined 2016-05 to 2016-08 (12, before the cutoff) or from 2017-05 on (13), not in
    /// between.
    pub fn earliest_join(&self, birth: Date) -> YearMonth {
        let at12 = YearMonth::of(birth).plus_years(JoinRule::AGE_BEFORE_CUTOFF);
        if at12 < self.cutoff_month() {
            at12
        } else {
            YearMonth::of(birth).plus_years(JoinRule::AGE)
        }
    }

    /// Check a 入团年月 against the birth date (from the ID number) and today.
    /// Violations are reported on [`Field::JoinYearMonth`].
    pub fn check(&self, birth: Date, joined: YearMonth, today: Date) -> Result<()> {
        if joined > YearMonth::of(today) {
            return Err(invalid(
                "join.future",
                format!("入团年月{}晚于当前月份,请核对", joined.to_chinese()),
            ));
        }
        let born = YearMonth::of(birth);
        if joined < born {
            return Err(invalid(
                "join.before_birth",
                format!(
                    "入团年月{}早于出生年月{},请核对入团年月和身份证号码",
                    joined.to_chinese(),
                    born.to_chinese()
                ),
            ));
        }
        if self.old_enough(birth, joined) {
            return Ok(());
        }
        let cutoff = self.cutoff;
        let rule = format!(
            "入团时须年满{}周岁({}年{}月{}日前入团须年满{}周岁)",
            JoinRule::AGE,
            cutoff.year(),
            u8::from(cutoff.month()),
            cutoff.day(),
            JoinRule::AGE_BEFORE_CUTOFF
        );
        let at12 = born.plus_years(JoinRule::AGE_BEFORE_CUTOFF);
        let at13 = born.plus_years(JoinRule::AGE);
        let cutoff_month = self.cutoff_month();
        let allowed = if at12 < cutoff_month && cutoff_month < at13 {
            // Two runs: 12 before the cutoff, 13 after.
            format!(
                "应于{}至{}间或{}及以后入团",
                at12.to_chinese(),
                cutoff_month.pred().to_chinese(),
                at13.to_chinese()
            )
        } else {
            format!("最早可于{}入团", self.earliest_join(birth).to_chinese())
        };
        Err(invalid(
            "join.too_young",
            format!("{rule}:出生于{},{allowed}", born.to_chinese()),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ym(year: i32, month: u8) -> YearMonth {
        YearMonth::new(year, month).unwrap()
    }

    const TODAY: Date = date!(2017 - 06 - 15);

    fn check(birth: Date, joined: YearMonth) -> Result<()> {
        JoinRule::default().check(birth, joined, TODAY)
    }

    #[test]
    fn parses_year_months() {
        for raw in [
            "2017-05",
            "2017-5",
            "2017.05",
            "2017.5",
            "2017/05",
            "201705",
            "2017年5月",
            "2017年05月",
            " ２０１７－０５ ",
            "２０１７年５月",
        ] {
            assert_eq!(YearMonth::parse(raw), Ok(ym(2017, 5)), "{raw}");
        }
        assert_eq!(YearMonth::parse("2017-12").unwrap().month(), 12);
        assert_eq!(ym(2017, 5).to_string(), "2017-05");
        assert_eq!(ym(2004, 5).to_chinese(), "2004年05月");
    }

    #[test]
    fn refuses_bad_year_months() {
        let code = |raw: &str| YearMonth::parse(raw).unwrap_err().code;
        assert_eq!(code(""), "join.empty");
        assert_eq!(code("\u{3000}"), "join.empty");
        for bad in [
            "2017",
            "17-05",
            "2017-005",
            "2017-",
            "-05",
            "2017-05-01",
            "20175",
            "2017五月",
            "2017年5",
            "五月2017年",
            "二〇一七年五月",
            "2017—05",
            "abcdef",
            "2017-0x",
            "年月",
        ] {
            assert_eq!(code(bad), "join.format", "{bad}");
        }
        assert_eq!(code("2017-13"), "join.month");
        assert_eq!(code("2017-00"), "join.month");
        assert_eq!(code("201799"), "join.month");
        assert_eq!(code("2017年0月"), "join.month");
        assert_eq!(YearMonth::new(2017, 13).unwrap_err().code, "join.month");
    }

    #[test]
    fn orders_by_year_then_month() {
        assert!(ym(2016, 12) < ym(2017, 1));
        assert!(ym(2017, 2) > ym(2017, 1));
        assert_eq!(ym(2017, 1).pred(), ym(2016, 12));
        assert_eq!(ym(2017, 5).pred(), ym(2017, 4));
    }

    #[test]
    fn thirteen_compared_in_year_months() {
        let birth = date!(2004 - 05 - 31);
        assert_eq!(check(birth, ym(2017, 5)), Ok(()));
        let v = check(birth, ym(2017, 4)).unwrap_err();
        assert_eq!(v.code, "join.too_young");
        assert_eq!(v.field, Some(Field::JoinYearMonth));
        // Born 2004-05: 12 before the cutoff (2016-05 to 2016-08) or 13 from 2017-05.
        assert_eq!(
            v.message,
            "入团时须年满13周岁(2016年9月1日前入团须年满12周岁):出生于2004年05月,\
             应于2016年05月至2016年08月间或2017年05月及以后入团"
        );
        assert_eq!(check(birth, ym(2016, 5)), Ok(()));
        assert_eq!(check(birth, ym(2016, 8)), Ok(()));
        assert_eq!(
            check(birth, ym(2016, 9)).unwrap_err().code,
            "join.too_young"
        );
        assert_eq!(
            check(birth, ym(2016, 4)).unwrap_err().code,
            "join.too_young"
        );
    }

    #[test]
    fn twelve_before_the_cutoff() {
        assert_eq!(check(date!(2003 - 05 - 01), ym(2015, 5)), Ok(()));
        assert_eq!(
            check(date!(2003 - 05 - 01), ym(2015, 4)).unwrap_err().code,
            "join.too_young"
        );
        assert_eq!(JoinRule::default().required_age(ym(2016, 8)), 12);
        assert_eq!(JoinRule::default().required_age(ym(2016, 9)), 13);
    }

    #[test]
    fn born_after_the_cutoff_window_needs_thirteen() {
        // Born 2004-10: 12 in 2016-10, after the cutoff; 13 in 2017-10 (in the future here).
        let birth = date!(2004 - 10 - 03);
        let rule = JoinRule::default();
        assert_eq!(rule.earliest_join(birth), ym(2017, 10));
        let v = rule.check(birth, ym(2017, 5), TODAY).unwrap_err();
        assert_eq!(v.code, "join.too_young");
        assert_eq!(
            v.message,
            "入团时须年满13周岁(2016年9月1日前入团须年满12周岁):出生于2004年10月,最早可于2017年10月入团"
        );
        // Born early enough that 13 falls before the cutoff: one run from 12.
        let birth = date!(2002 - 03 - 01);
        assert_eq!(rule.earliest_join(birth), ym(2014, 3));
        let v = rule.check(birth, ym(2014, 2), TODAY).unwrap_err();
        assert!(
            v.message.ends_with("最早可于2014年03月入团"),
            "{}",
            v.message
        );
    }

    #[test]
    fn earliest_join_is_accepted_and_the_month_before_is_not() {
        let rule = JoinRule::default();
        for birth in [
            date!(2004 - 05 - 31),
            date!(2003 - 05 - 01),
            date!(2004 - 10 - 03),
        ] {
            let earliest = rule.earliest_join(birth);
            let today = date!(2030 - 01 - 01);
            assert_eq!(rule.check(birth, earliest, today), Ok(()));
            assert!(rule.check(birth, earliest.pred(), today).is_err());
        }
        assert_eq!(rule.earliest_join(date!(2004 - 05 - 31)), ym(2016, 5));
    }

    #[test]
    fn the_cutoff_is_a_setting() {
        let faq = JoinRule {
            cutoff: JoinRule::FAQ_CUTOFF,
        };
        let birth = date!(2004 - 05 - 31);
        assert_eq!(faq.check(birth, ym(2016, 12), TODAY), Ok(()));
        assert_eq!(
            check(birth, ym(2016, 12)).unwrap_err().code,
            "join.too_young"
        );
        let v = faq.check(birth, ym(2017, 1), TODAY).unwrap_err();
        assert!(
            v.message.contains("2017年1月1日前入团须年满12周岁"),
            "{}",
            v.message
        );
    }

    #[test]
    fn future_and_before_birth() {
        let birth = date!(1990 - 01 - 01);
        assert_eq!(check(birth, ym(2017, 6)), Ok(()));
        assert_eq!(check(birth, ym(2017, 7)).unwrap_err().code, "join.future");
        assert_eq!(
            check(birth, ym(1989, 12)).unwrap_err().code,
            "join.before_birth"
        );
        assert_eq!(
            check(birth, ym(1990, 1)).unwrap_err().code,
            "join.too_young"
        );
    }

    #[test]
    fn extreme_dates_do_not_panic() {
        let rule = JoinRule::default();
        let _ = rule.check(Date::MIN, ym(2000, 1), Date::MAX);
        let _ = rule.check(Date::MAX, ym(9999, 12), Date::MAX);
        let _ = rule.earliest_join(Date::MAX);
        let _ = YearMonth::of(Date::MIN).pred();
    }

    #[test]
    fn deserialize_validates() {
        use serde::de::{IntoDeserializer, value::Error};
        let de = |s: &str| -> std::result::Result<YearMonth, Error> {
            YearMonth::deserialize(s.to_owned().into_deserializer())
        };
        assert_eq!(de("2017年5月").unwrap(), ym(2017, 5));
        assert!(de("2017-13").is_err());
        assert_eq!(String::from(ym(2017, 5)), "2017-05");
    }
}

//! The moment a supervision request is judged at ([`Clock`]: now, Beijing wall time, the
//! day overdue items are judged on, the real day snapshots are taken on) and the days as
//! requests and answers write them.

use time::{Date, OffsetDateTime, PrimitiveDateTime};

use crate::error::{Error, Result};

/// The moment a request is judged at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Clock {
    /// Unix seconds: which registration codes are still valid.
    pub now: i64,
    /// Beijing wall time of the counts (the sentence's 截至…时).
    pub at: PrimitiveDateTime,
    /// The day overdue items are judged on: today, or the request's `as_of`.
    pub today: Date,
    /// The real day (Beijing): snapshots are taken on it, never on `as_of`.
    pub day: Date,
}

impl Clock {
    pub fn at(now: OffsetDateTime) -> Clock {
        let b = schemas::beijing::at(now);
        Clock {
            now: now.unix_timestamp(),
            at: PrimitiveDateTime::new(b.date(), b.time()),
            today: b.date(),
            day: b.date(),
        }
    }

    /// The server clock.
    pub fn system() -> Clock {
        Clock::at(OffsetDateTime::now_utc())
    }

    /// Judge overdue items (and date the sentence) as of `day`, e.g. for tests.
    pub fn as_of(self, day: Date) -> Clock {
        Clock {
            at: PrimitiveDateTime::new(day, self.at.time()),
            today: day,
            ..self
        }
    }
}

/// "2017-12-18".
pub fn fmt_day(d: Date) -> String {
    schemas::progress::format_date(d)
}

/// Parse "2017-12-18".
pub fn parse_day(s: &str) -> Result<Date> {
    Date::parse(
        s.trim(),
        time::macros::format_description!("[year]-[month]-[day]"),
    )
    .map_err(|_| Error::BadRequest("日期格式应为 YYYY-MM-DD".into()))
}

pub(super) fn fmt_time(at: PrimitiveDateTime) -> String {
    format!("{} {:02}:{:02}", fmt_day(at.date()), at.hour(), at.minute())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn as_of_changes_the_day_not_the_snapshot_day() {
        let base = Clock::at(time::macros::datetime!(2017-12-20 02:30 UTC));
        assert_eq!(base.today, time::macros::date!(2017 - 12 - 20));
        assert_eq!(base.at.hour(), 10);
        let c = base.as_of(time::macros::date!(2017 - 12 - 19));
        assert_eq!(c.today, time::macros::date!(2017 - 12 - 19));
        assert_eq!(c.day, time::macros::date!(2017 - 12 - 20));
        assert!(parse_day("2017-13-01").is_err());
    }
}

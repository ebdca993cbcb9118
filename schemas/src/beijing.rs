//! Beijing time (UTC+8): the notice's clock and the only one a user reads. China has one
//! zone, so every date shown, every "today" of a schedule and every snapshot day is this.

use time::{OffsetDateTime, UtcOffset};

/// UTC+8.
pub const OFFSET: UtcOffset = time::macros::offset!(+8);

/// `t` in Beijing time.
pub fn at(t: OffsetDateTime) -> OffsetDateTime {
    t.to_offset(OFFSET)
}

/// Now, in Beijing time.
pub fn now() -> OffsetDateTime {
    at(OffsetDateTime::now_utc())
}

/// "2017-12-20 09:00": `t` to the minute, in Beijing time, as dates are shown.
pub fn minute(t: OffsetDateTime) -> String {
    let t = at(t);
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn midnight_utc_is_eight_in_beijing() {
        let t = time::macros::datetime!(2017-12-19 16:30 UTC);
        assert_eq!(minute(t), "2017-12-20 00:30");
        assert_eq!(at(t).offset(), OFFSET);
        assert_eq!(OFFSET.whole_hours(), 8);
    }
}

//! The campaign schedule as server data (rules.md §11, issue 13): the city sets when the
//! campaign starts and each level's deadlines, with `zhtj-server schedule` or the `serve`
//! configuration; progress, the report and its 逾期事项 judge by the stored schedule, the
//! notice's 2017 dates until one is set. The rules of a schedule (known items, dates, no
//! deadline before the start) are `schemas::progress::Schedule`'s; this module stores it.

use schemas::progress::Schedule;

use crate::error::{Error, Result};
use crate::storage::{Conn, Store};

/// The schedule in force: the stored one, or the notice's.
pub fn schedule(c: &Conn<'_>) -> Result<Schedule> {
    Ok(c.schedule()?.unwrap_or_default())
}

/// The schedule in force, read from `store`.
pub fn current(store: &Store) -> Result<Schedule> {
    store.read(schedule)
}

/// Refuse a schedule that breaks its rules, with every reason.
fn refuse(violations: Vec<schemas::Violation>) -> Error {
    Error::violations("schedule.invalid", "活动日程有误,未作修改", violations)
}

/// Store `schedule` (checked first), with an audit record naming where it came from.
pub fn store_schedule(store: &Store, schedule: &Schedule, source: &str) -> Result<()> {
    let problems = schedule.check();
    if !problems.is_empty() {
        return Err(refuse(problems));
    }
    let json = serde_json::to_string(schedule).map_err(|e| Error::Internal(e.to_string()))?;
    store.transaction(|tx| {
        tx.set_schedule(schedule)?;
        tx.audit(None, "schedule.set", None, &format!("{source}: {json}"))
    })
}

/// What an operator asks of the schedule.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Changes {
    /// Back to the notice's dates first.
    pub reset: bool,
    /// Start from the notice's schedule moved to begin on this day ("2026-12-01").
    pub start: Option<String>,
    /// `ITEM=YYYY-MM-DD` (`Schedule::items`).
    pub items: Vec<String>,
}

impl Changes {
    pub fn is_empty(&self) -> bool {
        !self.reset && self.start.is_none() && self.items.is_empty()
    }

    /// The schedule these changes make of `current`.
    pub fn apply(&self, current: &Schedule) -> Result<Schedule> {
        let base = match &self.start {
            Some(day) => {
                let start = schemas::progress::parse_item_date("活动开始日期", day)
                    .map_err(|e| refuse(vec![e]))?;
                Schedule::notice_from(start)
            }
            None if self.reset => Schedule::default(),
            None => current.clone(),
        };
        base.with_changes(&self.items).map_err(refuse)
    }
}

/// Apply `changes` to the stored schedule and store the result (the operator command).
pub fn change(store: &Store, changes: &Changes) -> Result<Schedule> {
    let current = store.read(schedule)?;
    let next = changes.apply(&current)?;
    store_schedule(store, &next, "operator")?;
    Ok(next)
}

/// The schedule as lines of text, for the operator.
pub fn describe(s: &Schedule) -> Vec<String> {
    let mut lines = vec![format!(
        "活动开始日期:{}",
        schemas::progress::format_date(s.start)
    )];
    let width = s
        .deadlines
        .iter()
        .map(|d| d.item().len())
        .max()
        .unwrap_or(0);
    for d in &s.deadlines {
        lines.push(format!(
            "  {:<width$}  {}  {}",
            d.item(),
            schemas::progress::format_date(d.due),
            d.label()
        ));
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::TempDir::new().unwrap();
        let store = Store::open(&dir.path().join("s.sqlite3")).unwrap();
        (dir, store)
    }

    #[test]
    fn the_notice_schedule_until_one_is_set_then_the_stored_one() {
        let (_d, store) = store();
        assert_eq!(store.read(schedule).unwrap(), Schedule::default());
        let s = change(
            &store,
            &Changes {
                start: Some("2026-12-01".into()),
                items: vec!["4.info=2026-12-06".into()],
                ..Changes::default()
            },
        )
        .unwrap();
        assert_eq!(store.read(schedule).unwrap(), s);
        assert_eq!(
            schemas::progress::format_date(s.deadlines[0].due),
            "2026-12-06"
        );
        // A refused change leaves the stored schedule as it was.
        let e = change(
            &store,
            &Changes {
                items: vec!["4.info=2026-11-30".into(), "8.codes=2026-12-20".into()],
                ..Changes::default()
            },
        )
        .unwrap_err();
        assert_eq!(e.code(), "schedule.invalid");
        assert_eq!(store.read(schedule).unwrap(), s);
        let reset = change(
            &store,
            &Changes {
                reset: true,
                ..Changes::default()
            },
        )
        .unwrap();
        assert_eq!(reset, Schedule::default());
    }
}

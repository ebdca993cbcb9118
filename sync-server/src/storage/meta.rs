//! The `meta` table (key → text): the mark that the pre-initialized tree is in place, and
//! the campaign schedule (`crate::schedule`), stored as JSON.

use rusqlite::{OptionalExtension, params};
use schemas::progress::Schedule;

use super::{Conn, Tx, now};
use crate::error::{Error, Result};

const INITIALIZED: &str = "initialized";
const SCHEDULE: &str = "schedule";

impl Conn<'_> {
    /// Whether the pre-initialized tree is in place.
    pub fn is_initialized(&self) -> Result<bool> {
        Ok(self.meta(INITIALIZED)?.is_some())
    }

    /// The campaign schedule stored last, if any was.
    pub fn schedule(&self) -> Result<Option<Schedule>> {
        self.meta(SCHEDULE)?
            .map(|json| {
                serde_json::from_str(&json)
                    .map_err(|e| Error::Internal(format!("stored schedule unreadable: {e}")))
            })
            .transpose()
    }

    fn meta(&self, key: &str) -> Result<Option<String>> {
        Ok(self
            .db
            .query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
            .optional()?)
    }
}

impl Tx<'_> {
    /// Mark the pre-initialized tree as in place.
    pub fn mark_initialized(&self) -> Result<()> {
        self.set_meta(INITIALIZED, &now().to_string())
    }

    /// Store the campaign schedule (checked by the caller), replacing the one stored.
    pub fn set_schedule(&self, schedule: &Schedule) -> Result<()> {
        let json = serde_json::to_string(schedule).map_err(|e| Error::Internal(e.to_string()))?;
        self.set_meta(SCHEDULE, &json)
    }

    fn set_meta(&self, key: &str, value: &str) -> Result<()> {
        self.db.execute(
            "INSERT INTO meta(key, value) VALUES (?1, ?2) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            params![key, value],
        )?;
        Ok(())
    }
}

//! The `meta` table (key → text): the mark that the pre-initialized tree is in place, and
//! the campaign schedule (`crate::schedule`), stored as JSON.

use schemas::progress::Schedule;

use super::sql::params;
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
        self.db
            .row("SELECT value FROM meta WHERE key = ?1", params![key], |r| {
                r.text(0)
            })
    }
}

impl Tx<'_> {
    /// Mark the pre-initialized tree as in place, unless it is marked already: whether
    /// this transaction marked it (and is to write the tree). Of two processes claiming
    /// at once, the second waits for the first's commit and then finds the mark.
    pub fn claim_initialization(&self) -> Result<bool> {
        let claimed = self.db.execute(
            "INSERT INTO meta(key, value) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
            params![INITIALIZED, &now().to_string()],
        )?;
        Ok(claimed == 1)
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

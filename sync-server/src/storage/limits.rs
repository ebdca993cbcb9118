//! The guessing limits' counters (`limit_entries`: key → count in its window, next turn),
//! when they live in the database (`crate::limits`: on PostgreSQL, shared by every process).

use super::Tx;
use super::sql::{Dialect, params};
use crate::error::Result;

/// A key's count in its window (`crate::limits`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LimitEntry {
    pub count: u32,
    /// Unix seconds.
    pub window_start: i64,
    /// For a target over its limit: when (Unix ms) the next attempt may run.
    pub next_turn_ms: i64,
}

type Entry = LimitEntry;

impl Tx<'_> {
    /// The entry of `key`, its row locked on PostgreSQL until the transaction ends.
    pub fn limit_entry(&self, key: &str) -> Result<Option<Entry>> {
        let sql = match self.db.dialect() {
            Dialect::Sqlite => {
                "SELECT count, window_start, next_turn_ms FROM limit_entries WHERE key = ?1"
            }
            Dialect::Postgres => {
                "SELECT count, window_start, next_turn_ms FROM limit_entries WHERE key = ?1
                 FOR UPDATE"
            }
        };
        self.db.row(sql, params![key], |r| {
            Ok(Entry {
                count: u32::try_from(r.int(0)?).unwrap_or(u32::MAX),
                window_start: r.int(1)?,
                next_turn_ms: r.int(2)?,
            })
        })
    }

    /// A new key's entry: a plain insert, so that of two processes counting a new key at
    /// once, the second fails on the unique key and counts again on the first's entry
    /// (an upsert would overwrite it: a lost count).
    pub fn insert_limit_entry(&self, key: &str, e: &Entry) -> Result<()> {
        self.db.execute(
            "INSERT INTO limit_entries(key, count, window_start, next_turn_ms)
             VALUES (?1, ?2, ?3, ?4)",
            params![key, e.count, e.window_start, e.next_turn_ms],
        )?;
        Ok(())
    }

    pub fn update_limit_entry(&self, key: &str, e: &Entry) -> Result<()> {
        self.db.execute(
            "UPDATE limit_entries SET count = ?2, window_start = ?3, next_turn_ms = ?4
             WHERE key = ?1",
            params![key, e.count, e.window_start, e.next_turn_ms],
        )?;
        Ok(())
    }

    pub fn remove_limit_entry(&self, key: &str) -> Result<()> {
        self.db
            .execute("DELETE FROM limit_entries WHERE key = ?1", params![key])?;
        Ok(())
    }

    /// How many keys are held.
    pub fn limit_entries(&self) -> Result<usize> {
        let n = self
            .db
            .row("SELECT COUNT(*) FROM limit_entries", &[], |r| r.int(0))?
            .unwrap_or(0);
        Ok(n as usize)
    }

    /// Drop the entries whose window started before `window_from` and whose turn passed.
    pub fn prune_limit_entries(&self, window_from: i64, now_ms: i64) -> Result<()> {
        self.db.execute(
            "DELETE FROM limit_entries WHERE window_start <= ?1 AND next_turn_ms <= ?2",
            params![window_from, now_ms],
        )?;
        Ok(())
    }
}

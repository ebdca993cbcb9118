//! The server's storage: one SQLite file (WAL) holding every organization's document, its
//! relational projection (for authorization, cross-document rules and progress), the
//! change feed, accounts, login sessions, registration codes and the audit log.
//!
//! Everything the rest of the server needs goes through [`Store`] and the [`Tx`] methods
//! below: that is the narrow interface a second backend (PostgreSQL) would implement.

use std::path::Path;
use std::sync::{Condvar, Mutex};

use parking_lot::MutexGuard;

use rusqlite::{Connection, OpenFlags, OptionalExtension, Transaction, params};
use schemas::org::OrgRecord;

use crate::error::{Error, Result};

const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS orgs (
    id            TEXT PRIMARY KEY,
    parent        TEXT NOT NULL,
    path          TEXT NOT NULL,      -- '/root/…/id/': a subtree is a path prefix
    level         INTEGER NOT NULL,
    sort_key      INTEGER NOT NULL,
    deleted       INTEGER NOT NULL,
    category      TEXT NOT NULL,
    short_name    TEXT NOT NULL,
    name_key      TEXT NOT NULL,      -- schemas::name::name_key, for sibling uniqueness
    full_name     TEXT NOT NULL,
    phone         TEXT NOT NULL,
    complete      INTEGER NOT NULL,
    live_children INTEGER NOT NULL DEFAULT 0,
    admin_count   INTEGER NOT NULL DEFAULT 0,
    logged_in     INTEGER NOT NULL DEFAULT 0,
    seq           INTEGER NOT NULL,   -- feed position of its last change (document or facts)
    record        TEXT NOT NULL,      -- the OrgRecord as JSON (derived)
    bytes         BLOB NOT NULL,      -- the whole Automerge document
    heads         BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS orgs_path ON orgs(path);
CREATE INDEX IF NOT EXISTS orgs_parent ON orgs(parent, sort_key);
-- The change feed of a subtree (feed.rs), in feed order: a page reads the entries after
-- its cursor and stops when full, and skips those outside the subtree by their path
-- without reading their rows. (It replaces an index of seq alone, with which SQLite read
-- the whole subtree and sorted it for every page.)
DROP INDEX IF EXISTS orgs_seq;
CREATE INDEX IF NOT EXISTS orgs_feed ON orgs(seq, path);
CREATE UNIQUE INDEX IF NOT EXISTS orgs_sibling_name ON orgs(parent, name_key)
    WHERE deleted = 0 AND name_key <> '';
CREATE TABLE IF NOT EXISTS feed (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    org_id     TEXT NOT NULL,
    at         INTEGER NOT NULL,
    account_id INTEGER
);
CREATE TABLE IF NOT EXISTS accounts (
    id            INTEGER PRIMARY KEY,
    org_id        TEXT NOT NULL,
    role          TEXT NOT NULL,
    name          TEXT NOT NULL,
    id_number     TEXT NOT NULL,
    mobile        TEXT NOT NULL,
    join_ym       TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    created_at    INTEGER NOT NULL,
    last_login    INTEGER,
    UNIQUE (mobile, org_id)
);
CREATE TABLE IF NOT EXISTS sessions (
    token_hash BLOB PRIMARY KEY,
    account_id INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    revoked    INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS codes (
    code       TEXT PRIMARY KEY,      -- case-sensitive (BINARY collation)
    org_id     TEXT NOT NULL,
    issued_by  TEXT NOT NULL,         -- an org id, or 'operator'
    issued_at  INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used_by    INTEGER,
    used_at    INTEGER
);
CREATE INDEX IF NOT EXISTS codes_org ON codes(org_id);
CREATE TABLE IF NOT EXISTS audit (
    id         INTEGER PRIMARY KEY,
    at         INTEGER NOT NULL,
    account_id INTEGER,
    action     TEXT NOT NULL,
    org_id     TEXT,
    detail     TEXT NOT NULL
);
-- Progress supervision (progress.rs, RULES §11). A subtree is one range of orgs_subtree,
-- read in path (depth-first) order without touching the table: counts per level, per-child
-- roll-ups and the completeness finding come from that one scan. One level of a subtree is
-- one range of orgs_level_path (the table's pages, the codes task).
CREATE INDEX IF NOT EXISTS orgs_subtree ON orgs(path, deleted, level, category, logged_in,
    complete, live_children, admin_count);
CREATE INDEX IF NOT EXISTS orgs_level_path ON orgs(level, path, deleted, admin_count);
CREATE INDEX IF NOT EXISTS accounts_org ON accounts(org_id);
-- A unit's valid unused registration code in one seek (progress: 管理员注册码, the codes task).
CREATE INDEX IF NOT EXISTS codes_open ON codes(org_id, expires_at) WHERE used_by IS NULL;
CREATE TABLE IF NOT EXISTS progress_snapshots (
    org_id           TEXT NOT NULL,
    day              TEXT NOT NULL,   -- 'YYYY-MM-DD', Beijing time
    level            INTEGER NOT NULL,
    total            INTEGER NOT NULL,
    logged_in        INTEGER NOT NULL,
    complete         INTEGER NOT NULL,
    created_children INTEGER NOT NULL,
    branches         INTEGER NOT NULL,
    PRIMARY KEY (org_id, day, level)
);
-- Who pushed each accepted change, and when it arrived (history.rs, the change history):
-- written in the push transaction that accepted the change; a document's records are one
-- range of the key.
CREATE TABLE IF NOT EXISTS change_authors (
    doc_id      TEXT NOT NULL,
    hash        BLOB NOT NULL,        -- the Automerge change hash (32 bytes)
    account_id  INTEGER NOT NULL,
    received_at INTEGER NOT NULL,     -- unix seconds
    PRIMARY KEY (doc_id, hash)
) WITHOUT ROWID;
"#;

/// How long a write waits for another process's write lock (an operator command, a
/// backup) before the request is answered "busy, retry" (503 `store.busy`): short, so one
/// stuck writer cannot hold every request for long.
pub const BUSY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(2);

/// Read connections: reads run on these, beside the one writer, and WAL lets them see the
/// last committed state while a write is in progress.
pub const READERS: usize = 4;

/// The server's database: one write connection (SQLite has one writer) and a few
/// read-only connections.
pub struct Store {
    writer: parking_lot::Mutex<Connection>,
    readers: Mutex<Vec<Connection>>,
    reader_free: Condvar,
    /// `:memory:` (fuzzing, tests): every connection would be a database of its own, so
    /// reads use the writer.
    in_memory: bool,
}

/// One organization as the projection holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrgRow {
    pub id: String,
    pub parent: String,
    pub path: String,
    pub level: u8,
    pub deleted: bool,
    pub category: String,
    pub short_name: String,
    pub live_children: i64,
    pub admin_count: i64,
    pub seq: i64,
}

pub fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

impl Store {
    /// Open (creating if needed) the database file with durable settings.
    pub fn open(path: &Path) -> Result<Store> {
        let conn = Connection::open(path)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.busy_timeout(BUSY_TIMEOUT)?;
        conn.execute_batch(SCHEMA)?;
        let in_memory = path == Path::new(":memory:");
        let readers = (0..if in_memory { 0 } else { READERS })
            .map(|_| {
                let r = Connection::open_with_flags(
                    path,
                    OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
                )?;
                r.busy_timeout(BUSY_TIMEOUT)?;
                Ok(r)
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Store {
            writer: parking_lot::Mutex::new(conn),
            readers: Mutex::new(readers),
            reader_free: Condvar::new(),
            in_memory,
        })
    }

    /// Exclusive access to the write connection (writes are serialized; SQLite has one
    /// writer).
    pub fn lock(&self) -> MutexGuard<'_, Connection> {
        // parking_lot's lock is not poisoned by a panic: SQLite rolls back an unfinished
        // transaction, so the connection stays usable.
        self.writer.lock()
    }

    /// Run `f` in one transaction: committed if it returns Ok, rolled back otherwise. The
    /// lock is then handed to the longest waiting writer, if any, so that a writer in a
    /// loop (a long push's parts) cannot keep it from the others.
    pub fn transaction<T>(&self, f: impl FnOnce(&Transaction<'_>) -> Result<T>) -> Result<T> {
        let mut conn = self.lock();
        let out = (|| {
            let tx = conn.transaction()?;
            let out = f(&tx)?;
            tx.commit()?;
            Ok(out)
        })();
        MutexGuard::unlock_fair(conn);
        out
    }

    /// Run `f` on a read-only connection (it never waits for a write in progress).
    pub fn read<T>(&self, f: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
        if self.in_memory {
            return f(&self.lock());
        }
        let conn = {
            let mut idle = self.readers.lock().unwrap_or_else(|p| p.into_inner());
            loop {
                if let Some(c) = idle.pop() {
                    break c;
                }
                idle = self
                    .reader_free
                    .wait(idle)
                    .unwrap_or_else(|p| p.into_inner());
            }
        };
        // Returned even if `f` panics, so the pool never shrinks.
        struct Back<'a>(&'a Store, Option<Connection>);
        impl Drop for Back<'_> {
            fn drop(&mut self) {
                if let Some(c) = self.1.take() {
                    self.0
                        .readers
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .push(c);
                    self.0.reader_free.notify_one();
                }
            }
        }
        let back = Back(self, Some(conn));
        let c = back.1.as_ref().expect("connection held");
        // One snapshot for everything `f` reads (a pull reads the feed's maximum, then the
        // page: both of the same state).
        c.execute_batch("BEGIN")?;
        let out = f(c);
        // Ending a read transaction cannot lose anything; its error is not the answer.
        let _ = c.execute_batch("COMMIT");
        out
    }

    /// Whether the pre-initialized tree is in place.
    pub fn is_initialized(&self) -> Result<bool> {
        self.read(|c| Ok(get_meta(c, "initialized")?.is_some()))
    }

    /// Write a consistent, compacted copy of the database to `out` (`VACUUM INTO`), while
    /// the server keeps serving.
    pub fn backup(&self, out: &Path) -> Result<()> {
        // On the write connection: VACUUM cannot run inside the read transaction of
        // `read`. Writes wait for the copy; reads go on.
        let conn = self.lock();
        conn.execute("VACUUM INTO ?1", [out.to_string_lossy()])?;
        Ok(())
    }
}

pub fn get_meta(c: &Connection, key: &str) -> Result<Option<String>> {
    Ok(
        c.query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
            .optional()?,
    )
}

pub fn set_meta(c: &Connection, key: &str, value: &str) -> Result<()> {
    c.execute(
        "INSERT INTO meta(key, value) VALUES (?1, ?2) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        params![key, value],
    )?;
    Ok(())
}

fn org_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<OrgRow> {
    Ok(OrgRow {
        id: r.get(0)?,
        parent: r.get(1)?,
        path: r.get(2)?,
        level: r.get(3)?,
        deleted: r.get(4)?,
        category: r.get(5)?,
        short_name: r.get(6)?,
        live_children: r.get(7)?,
        admin_count: r.get(8)?,
        seq: r.get(9)?,
    })
}

const ORG_COLS: &str =
    "id, parent, path, level, deleted, category, short_name, live_children, admin_count, seq";

pub fn get_org(c: &Connection, id: &str) -> Result<Option<OrgRow>> {
    Ok(
        c.prepare_cached(&format!("SELECT {ORG_COLS} FROM orgs WHERE id = ?1"))?
            .query_row([id], org_row)
            .optional()?,
    )
}

pub fn get_org_doc(c: &Connection, id: &str) -> Result<Option<(Vec<u8>, OrgRecord)>> {
    let row: Option<(Vec<u8>, String)> = c
        .prepare_cached("SELECT bytes, record FROM orgs WHERE id = ?1")?
        .query_row([id], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    row.map(|(b, rec)| {
        let rec: OrgRecord =
            serde_json::from_str(&rec).map_err(|e| Error::Internal(e.to_string()))?;
        Ok((b, rec))
    })
    .transpose()
}

/// Whether a live sibling under `parent` (other than `except`) has this name key.
pub fn sibling_name_taken(c: &Connection, parent: &str, key: &str, except: &str) -> Result<bool> {
    // `name_key <> ''` lets SQLite use the partial index orgs_sibling_name (one seek);
    // without it every sibling is read (a push of 1,000 siblings read 500,000 rows).
    let sql = if key.is_empty() {
        "SELECT 1 FROM orgs WHERE parent = ?1 AND name_key = ?2 AND deleted = 0 AND id <> ?3"
    } else {
        "SELECT 1 FROM orgs WHERE parent = ?1 AND name_key = ?2 AND name_key <> ''
         AND deleted = 0 AND id <> ?3"
    };
    Ok(c.prepare_cached(sql)?
        .exists(params![parent, key, except])?)
}

pub fn code_exists(c: &Connection, code: &str) -> Result<bool> {
    Ok(c.prepare_cached("SELECT 1 FROM codes WHERE code = ?1")?
        .exists([code])?)
}

/// Append to the feed and return the new sequence number.
pub fn next_seq(c: &Connection, org_id: &str, account_id: Option<i64>) -> Result<i64> {
    c.prepare_cached("INSERT INTO feed(org_id, at, account_id) VALUES (?1, ?2, ?3)")?
        .execute(params![org_id, now(), account_id])?;
    Ok(c.last_insert_rowid())
}

/// Everything written for one accepted document.
pub struct Accepted<'a> {
    pub record: &'a OrgRecord,
    pub path: &'a str,
    pub complete: bool,
    pub bytes: &'a [u8],
    pub heads: &'a [u8],
}

/// Insert or update an organization's document and projection, with a new feed entry.
/// Keeps the parent's live-children count in step. Returns the new sequence number.
pub fn put_org(
    c: &Connection,
    a: &Accepted<'_>,
    was: Option<&OrgRow>,
    account_id: Option<i64>,
) -> Result<i64> {
    let seq = next_seq(c, &a.record.id, account_id)?;
    let r = a.record;
    c.prepare_cached(
        "INSERT INTO orgs(id, parent, path, level, sort_key, deleted, category, short_name,
                          name_key, full_name, phone, complete, seq, record, bytes, heads)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)
         ON CONFLICT(id) DO UPDATE SET sort_key = excluded.sort_key, deleted = excluded.deleted,
             category = excluded.category, short_name = excluded.short_name,
             name_key = excluded.name_key, full_name = excluded.full_name,
             phone = excluded.phone, complete = excluded.complete, seq = excluded.seq,
             record = excluded.record, bytes = excluded.bytes, heads = excluded.heads",
    )?
    .execute(params![
        r.id,
        r.parent,
        a.path,
        r.level,
        r.sort_key,
        r.deleted,
        r.category,
        r.short_name,
        schemas::name::name_key(&r.short_name),
        r.full_name,
        r.phone,
        a.complete,
        seq,
        serde_json::to_string(r).map_err(|e| Error::Internal(e.to_string()))?,
        a.bytes,
        a.heads,
    ])?;
    let was_live = was.is_some_and(|w| !w.deleted);
    let delta: i64 = match (was_live, !r.deleted) {
        (false, true) => 1,
        (true, false) => -1,
        _ => 0,
    };
    if delta != 0 && !r.parent.is_empty() {
        c.prepare_cached("UPDATE orgs SET live_children = live_children + ?1 WHERE id = ?2")?
            .execute(params![delta, r.parent])?;
    }
    Ok(seq)
}

/// Record an issued code (from an accepted document, or issued by the operator).
pub fn put_code(
    c: &Connection,
    code: &str,
    org_id: &str,
    issued_by: &str,
    issued_at: i64,
    expires_at: i64,
) -> Result<()> {
    c.prepare_cached(
        "INSERT INTO codes(code, org_id, issued_by, issued_at, expires_at) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![code, org_id, issued_by, issued_at, expires_at])?;
    Ok(())
}

pub fn audit(
    c: &Connection,
    account_id: Option<i64>,
    action: &str,
    org_id: Option<&str>,
    detail: &str,
) -> Result<()> {
    c.prepare_cached(
        "INSERT INTO audit(at, account_id, action, org_id, detail) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![now(), account_id, action, org_id, detail])?;
    Ok(())
}

/// Bump an organization's feed position without changing its document (its facts changed:
/// a first login, a new admin, a used code), so subtrees pulling see the new facts.
pub fn touch_org(c: &Connection, org_id: &str, account_id: Option<i64>) -> Result<()> {
    let seq = next_seq(c, org_id, account_id)?;
    c.prepare_cached("UPDATE orgs SET seq = ?1 WHERE id = ?2")?
        .execute(params![seq, org_id])?;
    Ok(())
}

/// The highest sequence number given out.
pub fn max_seq(c: &Connection) -> Result<i64> {
    Ok(c.query_row("SELECT COALESCE(MAX(seq), 0) FROM feed", [], |r| r.get(0))?)
}

#[cfg(test)]
mod tests {
    /// An in-memory store (the fuzz target's) reads what it wrote.
    #[test]
    fn an_in_memory_store_reads_what_it_wrote() {
        let store = super::Store::open(std::path::Path::new(":memory:")).unwrap();
        crate::operator::initialize_tree(&store).unwrap();
        let row = store.read(|c| super::get_org(c, "org-5101")).unwrap();
        assert!(row.is_some());
    }
}

//! The replica's local SQLite file: each organization's document bytes, the heads a server
//! last acknowledged, whether it has unacknowledged local changes, the last rejection, and a
//! projection of the record (for lists, trees and progress without loading documents:
//! design.md "never hold a whole subtree loaded").
//!
//! WAL with `synchronous=FULL`: an operation is durable when its transaction commits, and a
//! crash at any moment leaves the file openable with every committed operation present.

use std::path::Path;

use rusqlite::{Connection, OptionalExtension, params};
use schemas::Violation;
use schemas::org::OrgRecord;

use crate::error::{Error, Result};

const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
-- One row per organization of the subtree.
CREATE TABLE IF NOT EXISTS docs (
    id          TEXT PRIMARY KEY,
    bytes       BLOB NOT NULL,           -- the whole document: save_nocompress(), or a
                                         -- unit's genesis change until its first edit
    acked_heads BLOB,                    -- heads a server acknowledged; NULL = never synced
    dirty       INTEGER NOT NULL,        -- local changes not yet acknowledged
    -- projection, derived from bytes:
    parent      TEXT NOT NULL,
    level       INTEGER NOT NULL,
    sort_key    INTEGER NOT NULL,
    deleted     INTEGER NOT NULL,
    short_name  TEXT NOT NULL,
    complete    INTEGER NOT NULL,
    record      TEXT NOT NULL            -- the OrgRecord as JSON
);
CREATE INDEX IF NOT EXISTS docs_parent ON docs(parent, sort_key, id);
-- What a push sends: kept small, so an empty sync does not scan every document.
CREATE INDEX IF NOT EXISTS docs_dirty ON docs(level, parent, sort_key, id) WHERE dirty = 1;
-- A read-only summary of the ancestors of the replica's own organization.
CREATE TABLE IF NOT EXISTS ancestors (
    id         TEXT PRIMARY KEY,
    parent     TEXT NOT NULL,
    level      INTEGER NOT NULL,
    category   TEXT NOT NULL,
    short_name TEXT NOT NULL,
    full_name  TEXT NOT NULL
);
-- The server's last refusal of a document, with its reasons (kept until accepted).
CREATE TABLE IF NOT EXISTS rejections (
    doc_id     TEXT PRIMARY KEY,
    at         INTEGER NOT NULL,
    violations TEXT NOT NULL
);
-- The server's record of who pushed each change and when it arrived (crate::history),
-- as pulled with the documents (protocol version 2).
CREATE TABLE IF NOT EXISTS change_authors (
    doc_id         TEXT NOT NULL,
    hash           BLOB NOT NULL,
    org_id         TEXT NOT NULL,
    org_short_name TEXT NOT NULL,
    role           TEXT NOT NULL,
    name           TEXT NOT NULL,        -- masked by the server (张*)
    received_at    INTEGER NOT NULL,
    PRIMARY KEY (doc_id, hash)
) WITHOUT ROWID;
-- Facts only the server knows (admins, logins, used codes), as last pulled.
CREATE TABLE IF NOT EXISTS server_facts (
    org_id     TEXT PRIMARY KEY,
    logged_in  INTEGER NOT NULL,
    admins     TEXT NOT NULL,            -- JSON array of display names (masked by the server)
    used_codes TEXT NOT NULL             -- JSON array of codes already used
);
"#;

/// One stored document row.
#[derive(Debug, Clone)]
pub struct DocRow {
    pub id: String,
    pub bytes: Vec<u8>,
    pub acked_heads: Option<Vec<u8>>,
    pub dirty: bool,
}

/// The projection of one organization (no document loaded).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Projected {
    pub record: OrgRecord,
    pub complete: bool,
    pub dirty: bool,
    pub synced: bool,
}

/// The replica file's format (SQLite's `user_version`), raised when a later version of the
/// client changes the tables in a way this one would misread. A file of an older format is
/// brought up to this one; a file of a newer format is refused untouched.
pub const FORMAT: i64 = 1;

/// Open (creating if needed) the store at `path`, with the pragmas that make it durable.
pub fn open(path: &Path) -> Result<Connection> {
    let conn = Connection::open(path)?;
    // Before anything writes (the WAL switch does): a newer client's file stays as it is.
    let format: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    if format > FORMAT {
        return Err(Error::Refused(Violation::error(
            "replica.too_new",
            None,
            format!(
                "本机数据文件由较新版本的客户端写入(数据格式{format},本客户端只能读取到格式{FORMAT}):请升级客户端后再打开,文件未作任何改动"
            ),
        )));
    }
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    conn.execute_batch(SCHEMA)?;
    if format < FORMAT {
        conn.pragma_update(None, "user_version", FORMAT)?;
    }
    Ok(conn)
}

/// SQLite's page cache raised to 32 MiB while the guard lives, then set back. For a large
/// pull: its pages insert into every part of the indexes, and with the default 2 MiB cache
/// a page's transaction wrote index pages to the WAL, read them back and wrote them again
/// (a first pull of 50,000 organizations wrote 211 MB to the WAL instead of 124 MB).
pub struct LargeCache<'a> {
    conn: &'a Connection,
    before: i64,
}

impl<'a> LargeCache<'a> {
    pub fn new(conn: &'a Connection) -> Result<LargeCache<'a>> {
        let before = conn.pragma_query_value(None, "cache_size", |r| r.get(0))?;
        conn.pragma_update(None, "cache_size", -32 * 1024)?;
        Ok(LargeCache { conn, before })
    }
}

impl Drop for LargeCache<'_> {
    fn drop(&mut self) {
        // Only memory is at stake: a failure leaves the larger cache.
        let _ = self.conn.pragma_update(None, "cache_size", self.before);
    }
}

pub fn get_meta(conn: &Connection, key: &str) -> Result<Option<String>> {
    Ok(conn
        .query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
        .optional()?)
}

pub fn set_meta(conn: &Connection, key: &str, value: &str) -> Result<()> {
    conn.execute(
        "INSERT INTO meta(key, value) VALUES (?1, ?2)
         ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        params![key, value],
    )?;
    Ok(())
}

/// [`set_meta`] without waiting for the disk: for values whose loss on a power cut is
/// harmless (the last sync time). A crash of the program still loses nothing (WAL).
pub fn set_meta_lazy(conn: &Connection, key: &str, value: &str) -> Result<()> {
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    let r = set_meta(conn, key, value);
    conn.pragma_update(None, "synchronous", "FULL")?;
    r
}

pub fn load_doc(conn: &Connection, id: &str) -> Result<Option<DocRow>> {
    Ok(conn
        .prepare_cached("SELECT id, bytes, acked_heads, dirty FROM docs WHERE id = ?1")?
        .query_row([id], |r| {
            Ok(DocRow {
                id: r.get(0)?,
                bytes: r.get(1)?,
                acked_heads: r.get(2)?,
                dirty: r.get(3)?,
            })
        })
        .optional()?)
}

/// Insert or replace a document and its projection.
pub fn save_doc(
    conn: &Connection,
    record: &OrgRecord,
    complete: bool,
    bytes: &[u8],
    acked_heads: Option<&[u8]>,
    dirty: bool,
) -> Result<()> {
    let json = serde_json::to_string(record)?;
    save_doc_json(conn, record, &json, complete, bytes, acked_heads, dirty)
}

/// The insert of a document row (the start of the statements below).
macro_rules! insert_doc {
    () => {
        "INSERT INTO docs(id, bytes, acked_heads, dirty, parent, level, sort_key, deleted,
                          short_name, complete, record)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)"
    };
}

/// A document row to write.
struct DocWrite<'a> {
    record: &'a OrgRecord,
    json: &'a str,
    complete: bool,
    bytes: &'a [u8],
    acked_heads: Option<&'a [u8]>,
    dirty: bool,
}

impl DocWrite<'_> {
    fn execute(&self, conn: &Connection, sql: &str) -> Result<usize> {
        let r = self.record;
        Ok(conn.prepare_cached(sql)?.execute(params![
            r.id,
            self.bytes,
            self.acked_heads,
            self.dirty,
            r.parent,
            r.level,
            r.sort_key,
            r.deleted,
            r.short_name,
            self.complete,
            self.json,
        ])?)
    }
}

/// [`save_doc`] with the record's JSON already at hand (`json`: the JSON `record` was read
/// from, as a pull page carries it), not made again.
pub fn save_doc_json(
    conn: &Connection,
    record: &OrgRecord,
    json: &str,
    complete: bool,
    bytes: &[u8],
    acked_heads: Option<&[u8]>,
    dirty: bool,
) -> Result<()> {
    let row = DocWrite {
        record,
        json,
        complete,
        bytes,
        acked_heads,
        dirty,
    };
    row.execute(
        conn,
        concat!(
            insert_doc!(),
            " ON CONFLICT(id) DO UPDATE SET bytes = excluded.bytes,
             acked_heads = excluded.acked_heads, dirty = excluded.dirty,
             parent = excluded.parent, level = excluded.level, sort_key = excluded.sort_key,
             deleted = excluded.deleted, short_name = excluded.short_name,
             complete = excluded.complete, record = excluded.record"
        ),
    )?;
    Ok(())
}

/// [`save_doc_json`] for a document not held yet: `false`, and nothing written, when one
/// with its id is held. (One statement where looking first and then inserting took two.)
pub fn insert_new_doc(
    conn: &Connection,
    record: &OrgRecord,
    json: &str,
    complete: bool,
    bytes: &[u8],
    acked_heads: Option<&[u8]>,
) -> Result<bool> {
    let row = DocWrite {
        record,
        json,
        complete,
        bytes,
        acked_heads,
        dirty: false,
    };
    Ok(row.execute(conn, concat!(insert_doc!(), " ON CONFLICT(id) DO NOTHING"))? == 1)
}

fn projected(r: &rusqlite::Row<'_>) -> rusqlite::Result<(String, bool, bool, bool)> {
    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
}

fn decode(row: (String, bool, bool, bool)) -> Result<Projected> {
    let (json, complete, dirty, synced) = row;
    Ok(Projected {
        record: serde_json::from_str(&json)?,
        complete,
        dirty,
        synced,
    })
}

const PROJ_COLS: &str = "record, complete, dirty, acked_heads IS NOT NULL";

pub fn projected_one(conn: &Connection, id: &str) -> Result<Option<Projected>> {
    let row = conn
        .query_row(
            &format!("SELECT {PROJ_COLS} FROM docs WHERE id = ?1"),
            [id],
            projected,
        )
        .optional()?;
    row.map(decode).transpose()
}

/// The direct children of `parent`, in display order (live and deleted).
pub fn children(conn: &Connection, parent: &str) -> Result<Vec<Projected>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {PROJ_COLS} FROM docs WHERE parent = ?1 ORDER BY sort_key, id"
    ))?;
    let rows = stmt.query_map([parent], projected)?;
    rows.map(|r| decode(r?)).collect()
}

/// Every organization of the replica (projection only).
pub fn all(conn: &Connection) -> Result<Vec<Projected>> {
    let mut stmt = conn.prepare(&format!(
        "SELECT {PROJ_COLS} FROM docs ORDER BY level, parent, sort_key, id"
    ))?;
    let rows = stmt.query_map([], projected)?;
    rows.map(|r| decode(r?)).collect()
}

pub fn count_docs(conn: &Connection) -> Result<u64> {
    let n: i64 = conn.query_row("SELECT COUNT(*) FROM docs", [], |r| r.get(0))?;
    Ok(n as u64)
}

pub fn count_dirty(conn: &Connection) -> Result<u64> {
    let n: i64 = conn.query_row("SELECT COUNT(*) FROM docs WHERE dirty = 1", [], |r| {
        r.get(0)
    })?;
    Ok(n as u64)
}

/// An ancestor's summary row: what the login answer says of it (`wire`), stored as is.
pub use wire::protocol::AncestorSummary as Ancestor;

pub fn put_ancestor(conn: &Connection, a: &Ancestor) -> Result<()> {
    conn.execute(
        "INSERT OR REPLACE INTO ancestors(id, parent, level, category, short_name, full_name)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![
            a.id,
            a.parent,
            a.level,
            a.category,
            a.short_name,
            a.full_name
        ],
    )?;
    Ok(())
}

pub fn ancestors(conn: &Connection) -> Result<Vec<Ancestor>> {
    let mut stmt = conn.prepare(
        "SELECT id, parent, level, category, short_name, full_name FROM ancestors ORDER BY level",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok(Ancestor {
            id: r.get(0)?,
            parent: r.get(1)?,
            level: r.get(2)?,
            category: r.get(3)?,
            short_name: r.get(4)?,
            full_name: r.get(5)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// What the server last told about an organization.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ServerFacts {
    pub logged_in: bool,
    pub admins: Vec<String>,
    pub used_codes: Vec<String>,
}

pub fn server_facts(conn: &Connection, org_id: &str) -> Result<ServerFacts> {
    let row: Option<(bool, String, String)> = conn
        .prepare_cached("SELECT logged_in, admins, used_codes FROM server_facts WHERE org_id = ?1")?
        .query_row([org_id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .optional()?;
    Ok(match row {
        None => ServerFacts::default(),
        Some((logged_in, admins, used)) => ServerFacts {
            logged_in,
            admins: serde_json::from_str(&admins)?,
            used_codes: serde_json::from_str(&used)?,
        },
    })
}

pub fn put_server_facts(conn: &Connection, org_id: &str, f: &ServerFacts) -> Result<()> {
    if *f == ServerFacts::default() {
        // No row reads as the default: a first pull writes nothing for most units.
        conn.prepare_cached("DELETE FROM server_facts WHERE org_id = ?1")?
            .execute([org_id])?;
        return Ok(());
    }
    conn.prepare_cached(
        "INSERT OR REPLACE INTO server_facts(org_id, logged_in, admins, used_codes)
         VALUES (?1, ?2, ?3, ?4)",
    )?
    .execute(params![
        org_id,
        f.logged_in,
        serde_json::to_string(&f.admins)?,
        serde_json::to_string(&f.used_codes)?
    ])?;
    Ok(())
}

pub fn rejection(conn: &Connection, doc_id: &str) -> Result<Option<Vec<schemas::Violation>>> {
    let row: Option<String> = conn
        .query_row(
            "SELECT violations FROM rejections WHERE doc_id = ?1",
            [doc_id],
            |r| r.get(0),
        )
        .optional()?;
    row.map(|s| Ok(serde_json::from_str(&s)?)).transpose()
}

/// Keep the server's author records (a record already held is left as it is).
pub fn put_change_authors(
    conn: &Connection,
    records: &[crate::protocol::ChangeAuthor],
) -> Result<()> {
    let mut stmt = conn.prepare_cached(
        "INSERT OR IGNORE INTO change_authors(doc_id, hash, org_id, org_short_name, role, name,
                                              received_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?;
    for r in records {
        stmt.execute(params![
            r.doc_id,
            &r.hash[..],
            r.org_id,
            r.org_short_name,
            r.role,
            r.name,
            r.received_at
        ])?;
    }
    Ok(())
}

/// The author records held for `doc_id`, by change hash.
pub fn change_authors(
    conn: &Connection,
    doc_id: &str,
) -> Result<std::collections::HashMap<automerge::ChangeHash, crate::history::AuthorRecord>> {
    let mut stmt = conn.prepare_cached(
        "SELECT hash, org_id, org_short_name, role, name, received_at FROM change_authors
         WHERE doc_id = ?1",
    )?;
    let rows = stmt.query_map([doc_id], |r| {
        Ok((
            r.get::<_, Vec<u8>>(0)?,
            crate::history::AuthorRecord {
                author: crate::history::Author {
                    org_id: r.get(1)?,
                    org_short_name: r.get(2)?,
                    role: r.get(3)?,
                    name: r.get(4)?,
                },
                received_at: r.get(5)?,
            },
        ))
    })?;
    let mut out = std::collections::HashMap::new();
    for row in rows {
        let (hash, record) = row?;
        if let Ok(h) = automerge::ChangeHash::try_from(hash.as_slice()) {
            out.insert(h, record);
        }
    }
    Ok(out)
}

/// Forget the server's last refusal of a document (it was accepted since).
pub fn clear_rejection(conn: &Connection, doc_id: &str) -> Result<()> {
    conn.prepare_cached("DELETE FROM rejections WHERE doc_id = ?1")?
        .execute([doc_id])?;
    Ok(())
}

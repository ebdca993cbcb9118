//! The database's tables and indexes, for each engine, as numbered migrations applied in
//! order when a store opens (`schema_version` records the ones applied; a database of a
//! later version than this program knows is refused, `store.newer_schema`). Every `CREATE`
//! and `DROP` is here, each index with the query it serves. A new migration is appended to
//! both lists under the same number; a published one is never edited.
//!
//! SQLite's version 1 is written with `IF NOT EXISTS` throughout: a database made before
//! migrations were numbered takes it as is and is then at version 1.

use super::Tx;
use super::sql::{Dialect, params};
use crate::error::{Error, Result};

/// A migration: its number, its statements, and the data work after them (computed
/// columns filled in), in the same transaction.
pub(super) struct Migration {
    pub version: i64,
    pub sql: &'static str,
    pub then: Option<fn(&Tx<'_>) -> Result<()>>,
}

/// The migrations of `dialect`, in order.
pub(super) fn migrations(dialect: Dialect) -> &'static [Migration] {
    match dialect {
        Dialect::Sqlite => SQLITE,
        Dialect::Postgres => POSTGRES,
    }
}

/// The version a database is at once every migration is applied: the last one's.
pub const LATEST: i64 = SQLITE[SQLITE.len() - 1].version;

const SQLITE: &[Migration] = &[
    Migration {
        version: 1,
        sql: SQLITE_V1,
        then: None,
    },
    Migration {
        version: 2,
        sql: ROLLUPS_V2,
        then: Some(rebuild),
    },
    Migration {
        version: 3,
        sql: SQLITE_V3,
        then: None,
    },
];

const POSTGRES: &[Migration] = &[
    Migration {
        version: 1,
        sql: POSTGRES_V1,
        then: None,
    },
    Migration {
        version: 2,
        sql: ROLLUPS_V2,
        then: Some(rebuild),
    },
    Migration {
        version: 3,
        sql: POSTGRES_V3,
        then: None,
    },
];

fn rebuild(tx: &Tx<'_>) -> Result<()> {
    tx.rebuild_rollups()
}

/// Version 2, both engines: the progress roll-ups kept up to date (storage/rollups.rs).
/// Filled in from the projection when applied.
const ROLLUPS_V2: &str = r#"
ALTER TABLE orgs ADD COLUMN branches_below BIGINT NOT NULL DEFAULT 0;
ALTER TABLE orgs ADD COLUMN findings BIGINT NOT NULL DEFAULT 0;
ALTER TABLE orgs ADD COLUMN is_finding BIGINT NOT NULL DEFAULT 0;
-- Until when the unit has a valid unused code: the latest expiry of its unused codes (0:
-- none). Of its parent: from when it is late with codes to its children (the earliest
-- code_valid_until of its live children without an admin; NULL: no such child), and how
-- many such children have no unused code at all.
ALTER TABLE orgs ADD COLUMN code_valid_until BIGINT NOT NULL DEFAULT 0;
ALTER TABLE orgs ADD COLUMN code_late_at BIGINT;
ALTER TABLE orgs ADD COLUMN bare_children BIGINT NOT NULL DEFAULT 0;
-- A unit's live children without an admin, by how long their codes are valid.
CREATE INDEX orgs_codes_child ON orgs(parent, deleted, admin_count, code_valid_until);
-- The units of a level of a subtree late with codes (`Conn::codes_late`).
CREATE INDEX orgs_codes_late ON orgs(level, path, code_late_at) WHERE code_late_at IS NOT NULL;
-- The completeness finding of a subtree in tree order (`Conn::finding_units`).
CREATE INDEX orgs_finding ON orgs(is_finding, path);
CREATE TABLE subtree_levels (
    org_id           TEXT NOT NULL,
    level            BIGINT NOT NULL,
    total            BIGINT NOT NULL,
    logged_in        BIGINT NOT NULL,
    info_complete    BIGINT NOT NULL,
    created_children BIGINT NOT NULL,
    branches         BIGINT NOT NULL,
    PRIMARY KEY (org_id, level)
);
"#;

/// Version 3, both engines: two indexes a progress response reads from alone (measured
/// at a million organizations: a district's response spent 5 ms reading the table for
/// `deleted` of 1,800 units late with codes, and 3.5 ms sorting its 2,000 children).
macro_rules! covering_v3 {
    () => {
        r#"
-- A unit's live children in the tree's order, without a sort (`Conn::live_children_first`,
-- `Conn::child_rollups`: the first 200 of them, ids from the index alone).
DROP INDEX orgs_parent;
CREATE INDEX orgs_parent ON orgs(parent, deleted, sort_key, id);
-- The units of a level of a subtree late with codes, counted from the index alone
-- (`Conn::codes_late`).
DROP INDEX orgs_codes_late;
CREATE INDEX orgs_codes_late ON orgs(level, path, code_late_at, deleted)
    WHERE code_late_at IS NOT NULL;
"#
    };
}
const SQLITE_V3: &str = covering_v3!();
/// On PostgreSQL also the roll-ups' key in the "C" collation, as every id: version 2 made
/// it in the database's default, and a join of `orgs.id` to it could not use its index
/// (a progress response scanned all of `subtree_levels`: 100 ms at a million).
const POSTGRES_V3: &str = concat!(
    covering_v3!(),
    r#"ALTER TABLE subtree_levels ALTER COLUMN org_id TYPE TEXT COLLATE "C";
"#
);

/// The table of applied migrations (both engines).
pub(super) const VERSION_TABLE: &str = "CREATE TABLE IF NOT EXISTS schema_version (
    version    BIGINT PRIMARY KEY,
    applied_at BIGINT NOT NULL
)";

/// Bring the database of `db` up to [`LATEST`], in the caller's transaction (which holds
/// the database's write lock on SQLite, an advisory lock on PostgreSQL: processes starting
/// together migrate one at a time). A database of a later version is refused: this
/// program would misread it.
pub(super) fn migrate(tx: &Tx<'_>, dialect: Dialect) -> Result<()> {
    let db = &tx.db;
    db.batch(VERSION_TABLE)?;
    let current = db
        .row(
            "SELECT CAST(COALESCE(MAX(version), 0) AS BIGINT) FROM schema_version",
            &[],
            |r| r.int(0),
        )?
        .unwrap_or(0);
    if current > LATEST {
        return Err(Error::invalid(
            "store.newer_schema",
            format!(
                "数据库结构版本为 {current},本程序只认识到版本 {LATEST}:请使用更新的 zhtj-server"
            ),
        ));
    }
    for m in migrations(dialect).iter().filter(|m| m.version > current) {
        db.batch(m.sql)?;
        if let Some(then) = m.then {
            then(tx)?;
        }
        db.execute(
            "INSERT INTO schema_version(version, applied_at) VALUES (?1, ?2)",
            params![m.version, super::now()],
        )?;
    }
    Ok(())
}

const SQLITE_V1: &str = r#"
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
-- The change feed of a subtree (`Conn::feed_page`), in feed order: a page reads the entries after
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
-- The last feed position given out (storage/docs.rs `next_seq`): one row, whose lock a
-- writer holds from its first feed entry to its commit, so feed positions commit in order
-- (a pull never passes a position whose transaction is still open). SQLite has one writer
-- anyway; PostgreSQL has many.
CREATE TABLE IF NOT EXISTS feed_counter (
    id  INTEGER PRIMARY KEY CHECK (id = 1),
    seq INTEGER NOT NULL
);
INSERT OR IGNORE INTO feed_counter(id, seq) SELECT 1, COALESCE(MAX(seq), 0) FROM feed;
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
-- Progress supervision (storage/progress.rs, rules.md §11). A subtree is one range of orgs_subtree,
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
-- Who pushed each accepted change, and when it arrived (storage/authors.rs, the change history):
-- written in the push transaction that accepted the change; a document's records are one
-- range of the key.
-- The guessing limits' counters, when they live in the database (storage/limits.rs: on
-- PostgreSQL; SQLite's one process keeps them in memory).
CREATE TABLE IF NOT EXISTS limit_entries (
    key          TEXT PRIMARY KEY,
    count        INTEGER NOT NULL,
    window_start INTEGER NOT NULL,
    next_turn_ms INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS change_authors (
    doc_id      TEXT NOT NULL,
    hash        BLOB NOT NULL,        -- the Automerge change hash (32 bytes)
    account_id  INTEGER NOT NULL,
    received_at INTEGER NOT NULL,     -- unix seconds
    PRIMARY KEY (doc_id, hash)
) WITHOUT ROWID;
"#;

/// Version 1 on PostgreSQL: the tables of SQLite's version 1, with every integer `BIGINT`
/// (flags 0/1, as SQLite stores them), bytes `BYTEA`, and text in the "C" collation (byte
/// order, as SQLite's BINARY: a subtree is a range of paths).
const POSTGRES_V1: &str = r#"
CREATE TABLE meta (
    key   TEXT COLLATE "C" PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE orgs (
    id            TEXT COLLATE "C" PRIMARY KEY,
    parent        TEXT COLLATE "C" NOT NULL,
    path          TEXT COLLATE "C" NOT NULL,
    level         BIGINT NOT NULL,
    sort_key      BIGINT NOT NULL,
    deleted       BIGINT NOT NULL,
    category      TEXT COLLATE "C" NOT NULL,
    short_name    TEXT COLLATE "C" NOT NULL,
    name_key      TEXT COLLATE "C" NOT NULL,
    full_name     TEXT NOT NULL,
    phone         TEXT NOT NULL,
    complete      BIGINT NOT NULL,
    live_children BIGINT NOT NULL DEFAULT 0,
    admin_count   BIGINT NOT NULL DEFAULT 0,
    logged_in     BIGINT NOT NULL DEFAULT 0,
    seq           BIGINT NOT NULL,
    record        TEXT NOT NULL,
    bytes         BYTEA NOT NULL,
    heads         BYTEA NOT NULL
);
CREATE INDEX orgs_path ON orgs(path);
CREATE INDEX orgs_parent ON orgs(parent, sort_key);
CREATE INDEX orgs_feed ON orgs(seq, path);
CREATE UNIQUE INDEX orgs_sibling_name ON orgs(parent, name_key)
    WHERE deleted = 0 AND name_key <> '';
CREATE INDEX orgs_subtree ON orgs(path, deleted, level, category, logged_in,
    complete, live_children, admin_count);
CREATE INDEX orgs_level_path ON orgs(level, path, deleted, admin_count);
CREATE INDEX orgs_short_name ON orgs(short_name) WHERE deleted = 0;
CREATE TABLE feed (
    seq        BIGINT PRIMARY KEY,
    org_id     TEXT COLLATE "C" NOT NULL,
    at         BIGINT NOT NULL,
    account_id BIGINT
);
CREATE TABLE feed_counter (
    id  BIGINT PRIMARY KEY CHECK (id = 1),
    seq BIGINT NOT NULL
);
INSERT INTO feed_counter(id, seq) VALUES (1, 0);
CREATE TABLE accounts (
    id            BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    org_id        TEXT COLLATE "C" NOT NULL,
    role          TEXT NOT NULL,
    name          TEXT NOT NULL,
    id_number     TEXT NOT NULL,
    mobile        TEXT COLLATE "C" NOT NULL,
    join_ym       TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    last_login    BIGINT,
    UNIQUE (mobile, org_id)
);
CREATE INDEX accounts_org ON accounts(org_id);
CREATE TABLE sessions (
    token_hash BYTEA PRIMARY KEY,
    account_id BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    revoked    BIGINT NOT NULL DEFAULT 0
);
CREATE TABLE codes (
    code       TEXT COLLATE "C" PRIMARY KEY,
    org_id     TEXT COLLATE "C" NOT NULL,
    issued_by  TEXT NOT NULL,
    issued_at  BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_by    BIGINT,
    used_at    BIGINT
);
CREATE INDEX codes_org ON codes(org_id);
CREATE INDEX codes_open ON codes(org_id, expires_at) WHERE used_by IS NULL;
CREATE TABLE audit (
    id         BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    at         BIGINT NOT NULL,
    account_id BIGINT,
    action     TEXT NOT NULL,
    org_id     TEXT,
    detail     TEXT NOT NULL
);
CREATE TABLE progress_snapshots (
    org_id           TEXT COLLATE "C" NOT NULL,
    day              TEXT COLLATE "C" NOT NULL,
    level            BIGINT NOT NULL,
    total            BIGINT NOT NULL,
    logged_in        BIGINT NOT NULL,
    complete         BIGINT NOT NULL,
    created_children BIGINT NOT NULL,
    branches         BIGINT NOT NULL,
    PRIMARY KEY (org_id, day, level)
);
CREATE TABLE limit_entries (
    key          TEXT COLLATE "C" PRIMARY KEY,
    count        BIGINT NOT NULL,
    window_start BIGINT NOT NULL,
    next_turn_ms BIGINT NOT NULL
);
CREATE TABLE change_authors (
    doc_id      TEXT COLLATE "C" NOT NULL,
    hash        BYTEA NOT NULL,
    account_id  BIGINT NOT NULL,
    received_at BIGINT NOT NULL,
    PRIMARY KEY (doc_id, hash)
);
"#;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::Store;

    #[test]
    fn both_engines_have_the_same_versions_and_the_latest_is_the_last() {
        let versions = |d| migrations(d).iter().map(|m| m.version).collect::<Vec<_>>();
        assert_eq!(versions(Dialect::Sqlite), versions(Dialect::Postgres));
        assert_eq!(versions(Dialect::Sqlite), (1..=LATEST).collect::<Vec<_>>());
    }

    /// A file made before migrations were numbered (version 1's tables, no
    /// `schema_version`, a committee and its unit) opens at the latest version, with the
    /// roll-ups of migration 2 computed from what it holds.
    #[test]
    fn a_database_from_before_versions_is_brought_up_to_date() {
        let dir = tempfile::TempDir::new().unwrap();
        let path = dir.path().join("old.sqlite3");
        let old = rusqlite::Connection::open(&path).unwrap();
        old.execute_batch(SQLITE_V1).unwrap();
        old.execute_batch("DROP TABLE feed_counter").unwrap();
        for (id, parent, path, level, category, children) in [
            ("r", "", "/r/", 3, "团的领导机关", 1),
            ("c", "r", "/r/c/", 4, "团委", 0),
        ] {
            old.execute(
                "INSERT INTO orgs(id, parent, path, level, sort_key, deleted, category,
                     short_name, name_key, full_name, phone, complete, live_children,
                     admin_count, logged_in, seq, record, bytes, heads)
                 VALUES (?1, ?2, ?3, ?4, 0, 0, ?5, ?1, ?1, '', '', 1, ?6, 0, 0, 1, '{}', x'', x'')",
                rusqlite::params![id, parent, path, level, category, children],
            )
            .unwrap();
        }
        drop(old);
        let store = Store::open(&path).unwrap();
        let applied = store
            .read(|c| c.inspect("SELECT version FROM schema_version ORDER BY version", &[]))
            .unwrap();
        let every: Vec<_> = (1..=LATEST).map(|v| [Some(v.to_string())]).collect();
        assert_eq!(applied, every);
        // Migration 3's indexes replaced version 1's and 2's.
        let columns = |index: &str| {
            store
                .read(|c| {
                    c.inspect(
                        &format!("SELECT name FROM pragma_index_info('{index}') ORDER BY seqno"),
                        &[],
                    )
                })
                .unwrap()
                .into_iter()
                .map(|r| r[0].clone().unwrap())
                .collect::<Vec<_>>()
        };
        assert_eq!(
            columns("orgs_parent"),
            ["parent", "deleted", "sort_key", "id"]
        );
        assert_eq!(
            columns("orgs_codes_late"),
            ["level", "path", "code_late_at", "deleted"]
        );
        store
            .read(|c| {
                assert!(c.rollup_mismatches(5)?.is_empty());
                assert_eq!(
                    c.finding_total("r")?,
                    1,
                    "the committee has no branch below"
                );
                assert_eq!(c.subtree_levels("r", 3)?[0].1.total, 1);
                Ok(())
            })
            .unwrap();
    }

    /// A database a later program migrated is refused: this one would misread it.
    #[test]
    fn a_database_of_a_later_version_is_refused() {
        let dir = tempfile::TempDir::new().unwrap();
        let path = dir.path().join("new.sqlite3");
        drop(Store::open(&path).unwrap());
        rusqlite::Connection::open(&path)
            .unwrap()
            .execute(
                "INSERT INTO schema_version(version, applied_at) VALUES (?1, 0)",
                [LATEST + 1],
            )
            .unwrap();
        let e = Store::open(&path).err().expect("refused");
        assert_eq!(e.code(), "store.newer_schema");
        assert!(e.to_string().contains("请使用更新的 zhtj-server"), "{e}");
    }
}

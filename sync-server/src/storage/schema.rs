//! The database's tables and indexes, created (or brought up to date) when a store opens:
//! every statement of `CREATE` and `DROP` in one place, each index with the query it serves.

pub(super) const SCHEMA: &str = r#"
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
CREATE TABLE IF NOT EXISTS change_authors (
    doc_id      TEXT NOT NULL,
    hash        BLOB NOT NULL,        -- the Automerge change hash (32 bytes)
    account_id  INTEGER NOT NULL,
    received_at INTEGER NOT NULL,     -- unix seconds
    PRIMARY KEY (doc_id, hash)
) WITHOUT ROWID;
"#;

//! The server's storage: the database holding every organization's document, its
//! relational projection (for authorization, cross-document rules and progress), the
//! change feed, accounts, login sessions, registration codes, author records, progress
//! snapshots, the campaign schedule and the audit log. Every SQL statement of the server
//! is here, and nothing else in the server names a database engine (errors aside:
//! `crate::error`).
//!
//! Two engines, one set of behaviours: an embedded SQLite file (WAL; the default, for a
//! city or a test: `lite`) or a PostgreSQL server that several server processes share
//! (`pg`). Each statement is written once (`sql`) and runs on either; the schema is a list
//! of numbered migrations per engine (`schema`), applied when a store opens.
//!
//! [`Store`] owns the connections. The work of a read ([`Store::read`]) or a transaction
//! ([`Store::transaction`]) is the methods of [`Conn`] (reads) and [`Tx`] (writes; a `Tx`
//! reads as a `Conn` too), by table family:
//!
//! - `docs`: the organizations (documents and projection) and the change feed;
//! - `accounts`: accounts, login sessions and registration codes;
//! - `authors`: who pushed each accepted change;
//! - `progress`: the reads of progress supervision and its report (the projection, with
//!   accounts and codes);
//! - `snapshots`: the daily progress snapshots;
//! - `limits`: the counters of the guessing limits (shared by every process);
//! - `meta`: the initialized mark and the campaign schedule; `audit`: the audit log.

mod accounts;
mod audit;
mod authors;
mod docs;
mod limits;
mod lite;
mod meta;
mod pg;
mod progress;
mod rollups;
mod schema;
mod snapshots;
pub(crate) mod sql;

use std::path::{Path, PathBuf};

pub use accounts::{CodeRow, LoginRow, NewAccount, SessionRow};
pub use authors::{AuthorRecordRow, AuthorRow};
#[cfg(test)]
pub(crate) use docs::RawOrg;
pub use docs::{Accepted, FeedPage, FeedRow, LevelSummary, OrgDoc, OrgRow};
pub use limits::LimitEntry;
pub use pg::{POOL_WAIT, RETRIES, drop_database, scratch_database};
pub use progress::{OpenCodes, PageUnit, UnitRow, UnitScan};
pub use rollups::UnitState;
pub use schema::LATEST as SCHEMA_VERSION;
pub use snapshots::{Snapshot, SnapshotRow};
pub use sql::{Dialect, Value};

use sql::Db;

use crate::error::{Error, Result};

/// How long a write waits for another writer's lock (another process's write on SQLite,
/// a row another transaction holds on PostgreSQL) before the request is answered "busy,
/// retry" (503 `store.busy`): short, so one stuck writer cannot hold every request for long.
pub const BUSY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(2);

/// Where the data lives: `--database` (`ZHTJ_DATABASE`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// An SQLite file (the default: `zhtj-server.sqlite3` in the data directory).
    Sqlite(PathBuf),
    /// A PostgreSQL database (`postgres://…`), and optionally a streaming replica that
    /// reads which may lag (progress, reports, pulls) go to.
    Postgres {
        url: String,
        replica: Option<String>,
        /// Connections this process keeps to each (`--database-pool`).
        pool: u32,
    },
}

/// The server's database.
pub struct Store {
    engine: Engine,
}

enum Engine {
    Sqlite(lite::Lite),
    Postgres(pg::Pg),
}

/// A read of the database: one consistent snapshot ([`Store::read`]), or the reads of a
/// transaction (a [`Tx`] derefs to it). Its methods are the server's queries.
pub struct Conn<'c> {
    db: Db<'c>,
}

/// A write transaction ([`Store::transaction`]): committed if the work returns Ok, rolled
/// back otherwise. Its methods are the server's writes; it reads as a [`Conn`].
pub struct Tx<'c> {
    conn: Conn<'c>,
    /// The roll-ups are computed at the end instead of kept per change
    /// ([`Tx::defer_rollups`]).
    rollups_deferred: std::cell::Cell<bool>,
    /// The roll-up changes gathered, written before the commit (`Tx::flush_rollups`).
    pending: std::cell::RefCell<rollups::Pending>,
    /// The first and the last feed position this transaction gave out: the counter holds
    /// the first until `Tx::flush_seq` writes the last.
    seqs: std::cell::Cell<Option<(i64, i64)>>,
}

impl<'c> Tx<'c> {
    fn new(conn: Conn<'c>) -> Tx<'c> {
        Tx {
            conn,
            rollups_deferred: std::cell::Cell::new(false),
            pending: Default::default(),
            seqs: std::cell::Cell::new(None),
        }
    }

    /// Write what this transaction gathered (roll-ups, the feed counter) before it commits.
    fn flush(&self) -> Result<()> {
        self.flush_rollups()?;
        self.flush_seq()
    }

    /// For a bulk load in this transaction (the demo's): the progress roll-ups are not
    /// kept per change, and [`Tx::rebuild_rollups`] must run before it commits.
    pub fn defer_rollups(&self) {
        self.rollups_deferred.set(true);
    }
}

impl<'c> std::ops::Deref for Tx<'c> {
    type Target = Conn<'c>;

    fn deref(&self) -> &Conn<'c> {
        &self.conn
    }
}

impl Conn<'_> {
    /// The SQLite connection itself, for tests and benchmarks that build or inspect an
    /// SQLite file directly (it panics on PostgreSQL). The server's own code never calls
    /// it: its statements are this module's methods.
    pub fn sqlite(&self) -> &rusqlite::Connection {
        match self.db {
            Db::Sqlite(c) => c,
            Db::Postgres(_) => panic!("Conn::sqlite on a PostgreSQL store"),
        }
    }

    /// The engine this read runs on.
    pub fn dialect(&self) -> Dialect {
        self.db.dialect()
    }

    /// Every row of a query of the tests (a `SELECT` written for both engines, `?N`
    /// parameters all text), each column as text (`None`: null; bytes as hex).
    pub fn inspect(&self, sql: &str, params: &[&str]) -> Result<Vec<Vec<Option<String>>>> {
        let values: Vec<sql::Value<'_>> = params.iter().map(|p| sql::Value::Text(p)).collect();
        self.db.rows(sql, &values, |r| r.all_text())
    }
}

impl Tx<'_> {
    /// Run a statement of the tests (written for both engines) that changes rows as no
    /// request would (an expired session, a hand-built tree); the rows it changed.
    pub fn execute_sql(&self, sql: &str, params: &[Value<'_>]) -> Result<u64> {
        self.db.execute(sql, params)
    }
}

/// Unix seconds now (feed entries and audit records are stamped with it).
pub fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

/// The half-open range of paths of the subtree rooted at `path` (which ends with '/').
fn subtree_range(path: &str) -> (String, String) {
    let mut hi = path.trim_end_matches('/').to_owned();
    hi.push('0'); // '0' is the character after '/'
    (path.to_owned(), hi)
}

impl Store {
    /// Open (creating if needed) the SQLite file at `path` with durable settings.
    pub fn open(path: &Path) -> Result<Store> {
        Ok(Store {
            engine: Engine::Sqlite(lite::Lite::open(path)?),
        })
    }

    /// Open the database at `location`, bringing its schema up to date.
    pub fn connect(location: &Location) -> Result<Store> {
        match location {
            Location::Sqlite(path) => Store::open(path),
            Location::Postgres { url, replica, pool } => Ok(Store {
                engine: Engine::Postgres(pg::Pg::connect(url, replica.as_deref(), *pool)?),
            }),
        }
    }

    /// The engine.
    pub fn dialect(&self) -> Dialect {
        match self.engine {
            Engine::Sqlite(_) => Dialect::Sqlite,
            Engine::Postgres(_) => Dialect::Postgres,
        }
    }

    /// Run `f` in one transaction: committed if it returns Ok, rolled back otherwise. On
    /// PostgreSQL, a transaction that lost a race (a deadlock, a unique key another
    /// process took first) is run again from the start, on the new state: `f` may run more
    /// than once, and must keep nothing of a run that did not commit.
    pub fn transaction<T>(&self, f: impl FnMut(&Tx<'_>) -> Result<T>) -> Result<T> {
        match &self.engine {
            Engine::Sqlite(l) => l.transaction(f),
            Engine::Postgres(p) => p.transaction(f),
        }
    }

    /// Run `f` in a transaction that is rolled back whatever it returns (fuzzing: every
    /// run starts from the same state).
    pub fn rolled_back<T>(&self, f: impl FnOnce(&Tx<'_>) -> T) -> Result<T> {
        match &self.engine {
            Engine::Sqlite(l) => l.rolled_back(f),
            Engine::Postgres(p) => p.rolled_back(f),
        }
    }

    /// Run `f` on one consistent snapshot (it never waits for a write in progress).
    pub fn read<T>(&self, f: impl FnOnce(&Conn<'_>) -> Result<T>) -> Result<T> {
        match &self.engine {
            Engine::Sqlite(l) => l.read(f),
            Engine::Postgres(p) => p.read(f, false),
        }
    }

    /// [`Store::read`] for reads that may see a slightly older state (progress, reports,
    /// pulls): on PostgreSQL with a replica configured, they run there.
    pub fn read_replica<T>(&self, f: impl FnOnce(&Conn<'_>) -> Result<T>) -> Result<T> {
        match &self.engine {
            Engine::Sqlite(l) => l.read(f),
            Engine::Postgres(p) => p.read(f, true),
        }
    }

    /// Whether the pre-initialized tree is in place.
    pub fn is_initialized(&self) -> Result<bool> {
        self.read(|c| c.is_initialized())
    }

    /// Refresh the planner's statistics (after a bulk load: until they are, PostgreSQL plans
    /// a query over a table it last saw empty, and a progress request took 60 ms instead
    /// of a few), and on PostgreSQL the visibility map its index-only scans need.
    pub fn analyze(&self) -> Result<()> {
        match &self.engine {
            Engine::Sqlite(l) => l.transaction(|tx| tx.db.batch("ANALYZE")),
            Engine::Postgres(p) => p.analyze(),
        }
    }

    /// Whether the database answers (`/readyz`).
    pub fn ping(&self) -> Result<()> {
        self.read(|c| c.db.batch("SELECT 1"))
    }

    /// Connections in use and open, of the primary's pool (metrics; SQLite: the readers).
    pub fn pool_use(&self) -> (u32, u32) {
        match &self.engine {
            Engine::Sqlite(l) => l.pool_use(),
            Engine::Postgres(p) => p.pool_use(),
        }
    }

    /// Write a consistent, compacted copy of an SQLite database to `out` (`VACUUM INTO`),
    /// while the server keeps serving. PostgreSQL is backed up with its own tools
    /// (`pg_dump`, docs/deployment.md).
    pub fn backup(&self, out: &Path) -> Result<()> {
        match &self.engine {
            Engine::Sqlite(l) => l.backup(out),
            Engine::Postgres(_) => Err(Error::invalid(
                "store.backup_postgres",
                "PostgreSQL 数据库请用 pg_dump 备份(见 docs/deployment.md)",
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An in-memory store (the fuzz target's) reads what it wrote.
    #[test]
    fn an_in_memory_store_reads_what_it_wrote() {
        let store = Store::open(Path::new(":memory:")).unwrap();
        crate::operator::initialize_tree(&store).unwrap();
        let row = store.read(|c| c.org("org-5101")).unwrap();
        assert!(row.is_some());
    }

    #[test]
    fn subtree_range_covers_exactly_the_subtree() {
        let (lo, hi) = subtree_range("/a/b/");
        for inside in ["/a/b/", "/a/b/c/", "/a/b/zz/y/"] {
            assert!(inside >= lo.as_str() && inside < hi.as_str(), "{inside}");
        }
        for outside in ["/a/", "/a/bc/", "/a/b0/", "/a/c/"] {
            assert!(
                !(outside >= lo.as_str() && outside < hi.as_str()),
                "{outside}"
            );
        }
    }
}

//! The server's storage: one SQLite file (WAL) holding every organization's document, its
//! relational projection (for authorization, cross-document rules and progress), the
//! change feed, accounts, login sessions, registration codes, author records, progress
//! snapshots, the campaign schedule and the audit log. Every SQL statement of the server
//! is here, and nothing else in the server names SQLite (errors aside: `crate::error`).
//!
//! [`Store`] owns the connections: one writer (SQLite has one; [`Store::transaction`]) and
//! a few read-only connections ([`Store::read`], which never wait for a write). The work
//! of a read or a transaction is the methods of [`Conn`] (reads) and [`Tx`] (writes; a
//! `Tx` reads as a `Conn` too), by table family:
//!
//! - `docs`: the organizations (documents and projection) and the change feed;
//! - `accounts`: accounts, login sessions and registration codes;
//! - `authors`: who pushed each accepted change;
//! - `progress`: the reads of progress supervision and its report (the projection, with
//!   accounts and codes);
//! - `snapshots`: the daily progress snapshots;
//! - `meta`: the initialized mark and the campaign schedule; `audit`: the audit log;
//! - `schema`: the tables and indexes.
//!
//! This is the boundary a second backend (PostgreSQL) implements.

mod accounts;
mod audit;
mod authors;
mod docs;
mod meta;
mod progress;
mod schema;
mod snapshots;

use std::path::Path;
use std::sync::{Condvar, Mutex};

use parking_lot::MutexGuard;
use rusqlite::{Connection, OpenFlags};

pub use accounts::{CodeRow, LoginRow, NewAccount, SessionRow};
pub use authors::{AuthorRecordRow, AuthorRow};
#[cfg(test)]
pub(crate) use docs::RawOrg;
pub use docs::{Accepted, FeedPage, FeedRow, LevelSummary, OrgDoc, OrgRow};
pub use progress::{OpenCodes, UnitRow, UnitScan};
pub use snapshots::{Snapshot, SnapshotRow};

use crate::error::Result;

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

/// A read of the database: one consistent snapshot ([`Store::read`]), or the reads of a
/// transaction (a [`Tx`] derefs to it). Its methods are the server's queries.
pub struct Conn<'c> {
    db: &'c Connection,
}

/// A write transaction ([`Store::transaction`]): committed if the work returns Ok, rolled
/// back otherwise. Its methods are the server's writes; it reads as a [`Conn`].
pub struct Tx<'c> {
    conn: Conn<'c>,
}

impl<'c> std::ops::Deref for Tx<'c> {
    type Target = Conn<'c>;

    fn deref(&self) -> &Conn<'c> {
        &self.conn
    }
}

impl Conn<'_> {
    /// The SQLite connection itself, for tests and benchmarks that build or inspect the
    /// file directly. The server's own code never calls it: its statements are this
    /// module's methods.
    pub fn sqlite(&self) -> &Connection {
        self.db
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
    /// Open (creating if needed) the database file with durable settings.
    pub fn open(path: &Path) -> Result<Store> {
        let conn = Connection::open(path)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.busy_timeout(BUSY_TIMEOUT)?;
        conn.execute_batch(schema::SCHEMA)?;
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
    fn lock(&self) -> MutexGuard<'_, Connection> {
        // parking_lot's lock is not poisoned by a panic: SQLite rolls back an unfinished
        // transaction, so the connection stays usable.
        self.writer.lock()
    }

    /// Run `f` in one transaction: committed if it returns Ok, rolled back otherwise. The
    /// lock is then handed to the longest waiting writer, if any, so that a writer in a
    /// loop (a long push's parts) cannot keep it from the others.
    pub fn transaction<T>(&self, f: impl FnOnce(&Tx<'_>) -> Result<T>) -> Result<T> {
        let mut conn = self.lock();
        let out = (|| {
            let tx = conn.transaction()?;
            let out = f(&Tx {
                conn: Conn { db: &tx },
            })?;
            tx.commit()?;
            Ok(out)
        })();
        MutexGuard::unlock_fair(conn);
        out
    }

    /// Run `f` in a transaction that is rolled back whatever it returns (fuzzing: every
    /// run starts from the same state).
    pub fn rolled_back<T>(&self, f: impl FnOnce(&Tx<'_>) -> T) -> Result<T> {
        let mut conn = self.lock();
        let tx = conn.transaction()?;
        let out = f(&Tx {
            conn: Conn { db: &tx },
        });
        // Dropping the transaction rolls it back.
        drop(tx);
        Ok(out)
    }

    /// Run `f` on a read-only connection (it never waits for a write in progress).
    pub fn read<T>(&self, f: impl FnOnce(&Conn<'_>) -> Result<T>) -> Result<T> {
        if self.in_memory {
            let writer = self.lock();
            return f(&Conn { db: &writer });
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
        let out = f(&Conn { db: c });
        // Ending a read transaction cannot lose anything; its error is not the answer.
        let _ = c.execute_batch("COMMIT");
        out
    }

    /// Whether the pre-initialized tree is in place.
    pub fn is_initialized(&self) -> Result<bool> {
        self.read(|c| c.is_initialized())
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

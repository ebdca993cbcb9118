//! The SQLite engine: one file in WAL mode, one write connection (SQLite has one writer)
//! and a few read-only connections that never wait for a write.

use std::path::Path;
use std::sync::{Condvar, Mutex};

use parking_lot::MutexGuard;
use rusqlite::{Connection, OpenFlags};

use super::sql::{Db, Dialect};
use super::{BUSY_TIMEOUT, Conn, Tx, schema};
use crate::error::Result;

/// Read connections: reads run on these, beside the one writer, and WAL lets them see the
/// last committed state while a write is in progress.
pub const READERS: usize = 4;

pub(super) struct Lite {
    writer: parking_lot::Mutex<Connection>,
    readers: Mutex<Vec<Connection>>,
    reader_free: Condvar,
    /// `:memory:` (fuzzing, tests): every connection would be a database of its own, so
    /// reads use the writer.
    in_memory: bool,
}

impl Lite {
    /// Open (creating if needed) the database file with durable settings, its schema up
    /// to date.
    pub fn open(path: &Path) -> Result<Lite> {
        let mut conn = Connection::open(path)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.busy_timeout(BUSY_TIMEOUT)?;
        {
            let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            schema::migrate(
                &Tx::new(Conn {
                    db: Db::Sqlite(&tx),
                }),
                Dialect::Sqlite,
            )?;
            tx.commit()?;
        }
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
        Ok(Lite {
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

    /// One transaction (one writer: no race to lose, so `f` runs once). The lock is then
    /// handed to the longest waiting writer, if any, so that a writer in a loop (a long
    /// push's parts) cannot keep it from the others.
    pub fn transaction<T>(&self, mut f: impl FnMut(&Tx<'_>) -> Result<T>) -> Result<T> {
        let mut conn = self.lock();
        let out = (|| {
            // IMMEDIATE: the write lock is taken (waiting up to BUSY_TIMEOUT for another
            // process's) before anything is read. A deferred transaction that read first
            // gets "busy" at once when its first write finds the lock taken: SQLite does not
            // wait for a reader to become a writer.
            let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            let t = Tx::new(Conn {
                db: Db::Sqlite(&tx),
            });
            let out = f(&t)?;
            t.flush()?;
            drop(t);
            tx.commit()?;
            Ok(out)
        })();
        MutexGuard::unlock_fair(conn);
        out
    }

    pub fn rolled_back<T>(&self, f: impl FnOnce(&Tx<'_>) -> T) -> Result<T> {
        let mut conn = self.lock();
        let tx = conn.transaction()?;
        let out = f(&Tx::new(Conn {
            db: Db::Sqlite(&tx),
        }));
        // Dropping the transaction rolls it back.
        drop(tx);
        Ok(out)
    }

    pub fn read<T>(&self, f: impl FnOnce(&Conn<'_>) -> Result<T>) -> Result<T> {
        if self.in_memory {
            let writer = self.lock();
            return f(&Conn {
                db: Db::Sqlite(&writer),
            });
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
        struct Back<'a>(&'a Lite, Option<Connection>);
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
        let out = f(&Conn { db: Db::Sqlite(c) });
        // Ending a read transaction cannot lose anything; its error is not the answer.
        let _ = c.execute_batch("COMMIT");
        out
    }

    /// Read connections in use, of [`READERS`].
    pub fn pool_use(&self) -> (u32, u32) {
        let idle = self.readers.lock().unwrap_or_else(|p| p.into_inner()).len();
        ((READERS - idle.min(READERS)) as u32, READERS as u32)
    }

    pub fn backup(&self, out: &Path) -> Result<()> {
        // On the write connection: VACUUM cannot run inside the read transaction of
        // `read`. Writes wait for the copy; reads go on.
        let conn = self.lock();
        conn.execute("VACUUM INTO ?1", [out.to_string_lossy()])?;
        Ok(())
    }
}

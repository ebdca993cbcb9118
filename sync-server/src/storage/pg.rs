//! The PostgreSQL engine: a pool of connections (r2d2) to one database that every server
//! process shares, and optionally a second pool to a streaming replica for the reads that
//! may lag (`Store::read_replica`).
//!
//! Transactions run at READ COMMITTED and take the locks their correctness needs: the
//! document a push merges into is read `FOR UPDATE` (`Tx::lock_org`), the feed counter's
//! row orders feed positions by commit (`storage/schema.rs`), and the unique indexes hold
//! sibling names and codes. A transaction that loses a race (a deadlock, a unique key
//! another process took first) is rolled back and run again on the new state, where the
//! rules judge it afresh ([`RETRIES`]). Reads run at REPEATABLE READ, READ ONLY: one
//! snapshot for all they read, as on SQLite.

use std::cell::RefCell;
use std::str::FromStr;
use std::time::Duration;

use super::sql::{Db, Dialect, PgSession};
use super::{BUSY_TIMEOUT, Conn, Tx, schema};
use crate::error::{Error, Result};

/// How many times a transaction that lost a race is run again before the request is
/// answered "busy, retry".
pub const RETRIES: u32 = 8;

/// How long a request waits for a free connection of the pool.
pub const POOL_WAIT: Duration = Duration::from_secs(5);

/// The advisory lock processes starting together migrate under, one at a time.
const MIGRATION_LOCK: i64 = 0x7a68_746a; // "zhtj"

struct Manager {
    config: postgres::Config,
}

impl r2d2::ManageConnection for Manager {
    type Connection = RefCell<PgSession>;
    type Error = postgres::Error;

    fn connect(&self) -> std::result::Result<Self::Connection, Self::Error> {
        let mut client = self.config.connect(postgres::NoTls)?;
        // A row lock waited on past BUSY_TIMEOUT is "busy, retry", as SQLite's busy timeout.
        client.batch_execute(&format!(
            "SET lock_timeout = '{}ms'",
            BUSY_TIMEOUT.as_millis()
        ))?;
        Ok(RefCell::new(PgSession::new(client)))
    }

    fn is_valid(&self, conn: &mut Self::Connection) -> std::result::Result<(), Self::Error> {
        conn.get_mut().client.batch_execute("")
    }

    fn has_broken(&self, conn: &mut Self::Connection) -> bool {
        conn.get_mut().client.is_closed()
    }
}

type Pool = r2d2::Pool<Manager>;

pub(super) struct Pg {
    primary: Pool,
    replica: Option<Pool>,
}

/// A connection string, read.
fn parse_url(url: &str) -> Result<postgres::Config> {
    postgres::Config::from_str(url)
        .map_err(|e| Error::invalid("store.url", format!("数据库地址无法识别:{e}")))
}

fn pool(url: &str, size: u32) -> Result<Pool> {
    let config = parse_url(url)?;
    r2d2::Pool::builder()
        .max_size(size.max(1))
        .min_idle(Some(1))
        .connection_timeout(POOL_WAIT)
        // r2d2 logs connection errors through `log`; the server answers them itself.
        .error_handler(Box::new(r2d2::NopErrorHandler))
        .build(Manager { config })
        .map_err(|e| Error::Unavailable(format!("无法连接数据库:{e}")))
}

impl Pg {
    /// Connect to the database at `url` (and the replica at `replica`), `size`
    /// connections each at most, and bring the schema up to date.
    pub fn connect(url: &str, replica: Option<&str>, size: u32) -> Result<Pg> {
        let pg = Pg {
            primary: pool(url, size)?,
            replica: replica.map(|r| pool(r, size)).transpose()?,
        };
        pg.transaction(|tx| {
            tx.db.execute(
                "SELECT pg_advisory_xact_lock(?1)",
                super::sql::params![MIGRATION_LOCK],
            )?;
            schema::migrate(tx, Dialect::Postgres)
        })?;
        Ok(pg)
    }

    pub fn transaction<T>(&self, mut f: impl FnMut(&Tx<'_>) -> Result<T>) -> Result<T> {
        let mut attempt = 0;
        loop {
            let conn = self.primary.get()?;
            let db = Db::Postgres(&conn);
            let out: Result<T> = (|| {
                db.batch("BEGIN")?;
                let t = Tx::new(Conn { db });
                let out = f(&t)?;
                t.flush()?;
                db.batch("COMMIT")?;
                Ok(out)
            })();
            match out {
                Ok(v) => return Ok(v),
                Err(e) => {
                    // After a failed COMMIT the transaction is over already; this is then a
                    // warning, not an error.
                    let _ = db.batch("ROLLBACK");
                    if attempt < RETRIES && e.lost_race() {
                        attempt += 1;
                        tracing::debug!(attempt, error = %e, "transaction lost a race: again");
                        continue;
                    }
                    return Err(e);
                }
            }
        }
    }

    pub fn rolled_back<T>(&self, f: impl FnOnce(&Tx<'_>) -> T) -> Result<T> {
        let conn = self.primary.get()?;
        let db = Db::Postgres(&conn);
        db.batch("BEGIN")?;
        let out = f(&Tx::new(Conn { db }));
        db.batch("ROLLBACK")?;
        Ok(out)
    }

    pub fn read<T>(&self, f: impl FnOnce(&Conn<'_>) -> Result<T>, replica: bool) -> Result<T> {
        let pool = match (&self.replica, replica) {
            (Some(r), true) => r,
            _ => &self.primary,
        };
        let conn = pool.get()?;
        let db = Db::Postgres(&conn);
        db.batch("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")?;
        let out = f(&Conn { db });
        // Ending a read transaction cannot lose anything; its error is not the answer.
        let _ = db.batch("COMMIT");
        out
    }

    /// `VACUUM ANALYZE`, outside a transaction: the statistics, and the visibility map
    /// that lets an index-only scan skip the table (after a bulk load none of it is set).
    pub fn analyze(&self) -> Result<()> {
        let conn = self.primary.get()?;
        Db::Postgres(&conn).batch("VACUUM ANALYZE")
    }

    /// Connections of the primary's pool in use, and open.
    pub fn pool_use(&self) -> (u32, u32) {
        let s = self.primary.state();
        (s.connections - s.idle_connections, s.connections)
    }
}

/// A new, empty database on the PostgreSQL server of `admin_url` (a connection string to
/// any database there, as a user that may create databases), and its connection string:
/// each test or benchmark works on a database of its own. [`drop_database`] removes it.
pub fn scratch_database(admin_url: &str) -> Result<String> {
    let name = format!("zhtj_{:016x}", rand::random::<u64>());
    let mut admin = admin(admin_url)?;
    admin.batch_execute(&format!("CREATE DATABASE {name}"))?;
    Ok(with_dbname(admin_url, &name))
}

/// Remove a database made by [`scratch_database`], closing its connections.
pub fn drop_database(admin_url: &str, url: &str) -> Result<()> {
    let config = parse_url(url)?;
    let name = config.get_dbname().unwrap_or_default();
    if !name.starts_with("zhtj_") || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err(Error::Internal(format!("not a scratch database: {name}")));
    }
    admin(admin_url)?.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))?;
    Ok(())
}

fn admin(admin_url: &str) -> Result<postgres::Client> {
    Ok(parse_url(admin_url)?.connect(postgres::NoTls)?)
}

/// `url` naming the database `name` instead (a `postgres://…/db?…` URL).
fn with_dbname(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, format!("?{q}")),
        None => (url, String::new()),
    };
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let host_end = base[scheme_end..]
        .find('/')
        .map_or(base.len(), |i| scheme_end + i);
    format!("{}/{name}{query}", &base[..host_end])
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_url_names_another_database() {
        assert_eq!(
            super::with_dbname("postgres://u@h:5/postgres", "zhtj_1"),
            "postgres://u@h:5/zhtj_1"
        );
        assert_eq!(
            super::with_dbname("postgresql://u:p@h/x?sslmode=disable", "zhtj_2"),
            "postgresql://u:p@h/zhtj_2?sslmode=disable"
        );
        assert_eq!(
            super::with_dbname("postgres://h:5", "zhtj_3"),
            "postgres://h:5/zhtj_3"
        );
    }
}

//! The server's settings (flags and environment, see `main.rs`): where its data lives,
//! where it listens, the identity rules' settings, the campaign schedule given at start,
//! TLS, connection limits and trusted proxies.

use std::net::SocketAddr;
use std::path::PathBuf;

use crate::identity::IdentityConfig;
use crate::net::{NetLimits, TrustedProxies};
use crate::storage::Location;

/// Server settings.
#[derive(Debug, Clone)]
pub struct Config {
    pub data_dir: PathBuf,
    /// A PostgreSQL database instead of the SQLite file in `data_dir` (`--database`).
    pub postgres: Option<PostgresConfig>,
    pub listen: SocketAddr,
    pub identity: IdentityConfig,
    /// The campaign schedule of the `serve` configuration (rules.md §11): when given, it
    /// replaces the stored one at start. The stored schedule (`crate::schedule`; the
    /// notice's dates until one is set) is what progress supervision judges by.
    pub schedule: Option<schemas::progress::Schedule>,
    /// Serve HTTPS with this certificate and key (`--tls-cert`/`--tls-key`); `None`: plain
    /// HTTP, for loopback or behind a TLS-terminating proxy.
    pub tls: Option<TlsFiles>,
    /// Connection limits and timeouts.
    pub net: NetLimits,
    /// Reverse proxies whose `X-Forwarded-For` names the client (`--trusted-proxy`).
    pub trusted_proxies: TrustedProxies,
}

/// A PEM certificate chain (the server's certificate first, then any intermediates) and
/// its PEM private key (PKCS#8, PKCS#1 or SEC1, unencrypted).
#[derive(Debug, Clone)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// A PostgreSQL database that several server processes share.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostgresConfig {
    /// `postgres://user:password@host:port/dbname` (or `host=… dbname=…`).
    pub url: String,
    /// A streaming replica for reads that may lag (progress, reports, pulls).
    pub replica: Option<String>,
    /// Connections each process keeps to each.
    pub pool: u32,
}

/// Connections a process keeps to PostgreSQL unless told (`--database-pool`): PostgreSQL's
/// default of 100 connections then serves several processes and the operator.
pub const DEFAULT_POOL: u32 = 10;

impl Config {
    /// The SQLite file (when no PostgreSQL database is given).
    pub fn db_path(&self) -> PathBuf {
        self.data_dir.join("zhtj-server.sqlite3")
    }

    /// Where the data lives.
    pub fn location(&self) -> Location {
        match &self.postgres {
            None => Location::Sqlite(self.db_path()),
            Some(p) => Location::Postgres {
                url: p.url.clone(),
                replica: p.replica.clone(),
                pool: p.pool,
            },
        }
    }

    /// Where the data lives, as the start-up lines and logs show it (no password).
    pub fn describe_database(&self) -> String {
        match &self.postgres {
            None => self.db_path().display().to_string(),
            Some(p) => describe_postgres(&p.url),
        }
    }
}

/// `postgresql://host:port/dbname` of a connection string, without user or password.
pub fn describe_postgres(url: &str) -> String {
    use std::str::FromStr;
    let Ok(c) = postgres::Config::from_str(url) else {
        return "PostgreSQL(地址无法识别)".to_owned();
    };
    let host = match c.get_hosts().first() {
        Some(postgres::config::Host::Tcp(h)) => h.clone(),
        Some(postgres::config::Host::Unix(p)) => p.display().to_string(),
        None => "localhost".to_owned(),
    };
    let port = c.get_ports().first().copied().unwrap_or(5432);
    format!(
        "postgresql://{host}:{port}/{}",
        c.get_dbname().unwrap_or("")
    )
}

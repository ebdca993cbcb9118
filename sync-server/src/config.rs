//! The server's settings (flags and environment, see `main.rs`): where its data lives,
//! where it listens, the identity rules' settings, the campaign schedule given at start,
//! TLS, connection limits and trusted proxies.

use std::net::SocketAddr;
use std::path::PathBuf;

use crate::identity::IdentityConfig;
use crate::net::{NetLimits, TrustedProxies};

/// Server settings.
#[derive(Debug, Clone)]
pub struct Config {
    pub data_dir: PathBuf,
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

impl Config {
    pub fn db_path(&self) -> PathBuf {
        self.data_dir.join("zhtj-server.sqlite3")
    }
}

//! Helpers shared by the tests and benches of this crate that drive the real `zhtj-server`
//! binary (`tests/kill.rs`, `tests/logs.rs`, `benches/load.rs` by `#[path]`).
// Each test binary uses a part of this module.
#![allow(dead_code)]

use std::path::Path;
use std::process::{Command, Stdio};

pub use schemas::generate::{numbered_id_number as id_number, numbered_mobile as mobile};

/// `zhtj-server --data <data> serve --listen 127.0.0.1:0` at log level `log`, without the
/// environment variables that would change its settings, stdin closed and stdout piped (the
/// start-up lines give the address and the first code). The caller chooses stderr.
pub fn server_command(data: &Path, log: &str) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_zhtj-server"));
    command
        .arg("--data")
        .arg(data)
        .args(["serve", "--listen", "127.0.0.1:0"])
        .env_remove("ZHTJ_SERVER_DATA")
        .env_remove("ZHTJ_LISTEN")
        .env_remove("ZHTJ_JOIN_CUTOFF")
        .env_remove("RUST_LOG")
        .env("ZHTJ_LOG", log)
        .stdin(Stdio::null())
        .stdout(Stdio::piped());
    command
}

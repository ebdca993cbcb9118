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
///
/// When the tests run on PostgreSQL (`ZHTJ_TEST_POSTGRES`, `scripts/pg.sh`), the server
/// stores in a database of its own there, named in `<data>/database-url` so that a
/// restart on the same data directory finds it again.
pub fn server_command(data: &Path, log: &str) -> Command {
    let mut command = sqlite_server_command(data, log);
    if let Some(url) = database_url(data) {
        command.arg("--database").arg(url);
    }
    command
}

/// [`server_command`] on the SQLite file in `data` whatever the tests run on: for the
/// tests of the file itself (a full disk).
pub fn sqlite_server_command(data: &Path, log: &str) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_zhtj-server"));
    command
        .arg("--data")
        .arg(data)
        .args(["serve", "--listen", "127.0.0.1:0"])
        .env_remove("ZHTJ_DATABASE")
        .env_remove("ZHTJ_DATABASE_REPLICA")
        .env_remove("ZHTJ_SERVER_DATA")
        .env_remove("ZHTJ_LISTEN")
        .env_remove("ZHTJ_JOIN_CUTOFF")
        .env_remove("RUST_LOG")
        .env("ZHTJ_LOG", log)
        .stdin(Stdio::null())
        .stdout(Stdio::piped());
    command
}

pub mod raw;

/// The PostgreSQL database of the server on `data` when the tests run on PostgreSQL (made
/// on first use and remembered in the data directory); `None` on SQLite.
pub fn database_url(data: &Path) -> Option<String> {
    let admin = std::env::var("ZHTJ_TEST_POSTGRES")
        .ok()
        .filter(|u| !u.is_empty())?;
    let file = data.join("database-url");
    if let Ok(url) = std::fs::read_to_string(&file) {
        return Some(url);
    }
    let url = sync_server::storage::scratch_database(&admin).expect("a scratch database");
    std::fs::create_dir_all(data).expect("data directory");
    std::fs::write(&file, &url).expect("database-url");
    Some(url)
}

/// Read a started `zhtj-server`'s stdout (piped) up to its "Ctrl+C" line: its URL and, on
/// first start, the first administrator's code ("" otherwise). The rest of stdout is
/// drained in the background.
pub fn wait_for_start(child: &mut std::process::Child) -> (String, String) {
    use std::io::BufRead;
    let stdout = child.stdout.take().expect("piped stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            let _ = tx.send(line);
        }
    });
    let (mut url, mut code) = (String::new(), String::new());
    let mut seen = Vec::new();
    loop {
        let line = rx
            .recv_timeout(std::time::Duration::from_secs(120))
            .unwrap_or_else(|e| panic!("zhtj-server did not start ({e}): {seen:?}"));
        if let Some(i) = line.find("http://") {
            url = line[i..].trim().to_owned();
        } else if let Some(i) = line.find("注册码") {
            code = line[i + "注册码".len()..]
                .trim_start_matches([':', ':'])
                .trim()
                .to_owned();
        } else if line.contains("Ctrl+C") {
            break;
        }
        seen.push(line);
    }
    assert!(!url.is_empty(), "{seen:?}");
    (url, code)
}

/// A process's resident memory now and at its peak (VmRSS, VmHWM), MiB.
pub fn memory_mib(pid: u32) -> (f64, f64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
    let field = |name: &str| -> f64 {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|kb| kb.parse::<f64>().ok())
            .expect("a memory field")
            / 1024.0
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// Bytes from hex (a column of `Conn::inspect`).
pub fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
        .collect()
}

/// A sync of `replica` through `remote` that must succeed with nothing refused.
pub fn sync_ok(
    replica: &mut client_core::Replica,
    remote: &client_core::sync::Remote,
    ctx: &str,
) -> client_core::sync::SyncReport {
    let report = replica
        .sync(remote, &mut |_, _, _| {})
        .unwrap_or_else(|e| panic!("{ctx}: sync: {e}"));
    assert!(
        report.rejected.is_empty(),
        "{ctx}: refused: {:?}",
        report.rejected
    );
    report
}

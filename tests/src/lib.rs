//! Shared helpers of the end-to-end tests: a real sync server on a loopback port 0 with a
//! temporary data directory, replicas in temporary directories, and valid personal data.
//!
//! The server stores in an SQLite file in its data directory, or, when `ZHTJ_TEST_POSTGRES`
//! names a PostgreSQL server (`scripts/test.sh` starts a private one: `scripts/pg.sh`),
//! in a new database of its own there: the same tests then run on PostgreSQL.

use std::path::PathBuf;
use std::sync::Arc;

use client_core::protocol::{LoginRequest, RegisterRequest};
use sync_server::Config;
use sync_server::http::AppState;
use sync_server::identity::IdentityConfig;
use tempfile::TempDir;

pub mod proxy;

/// A running server, stopped when dropped.
pub struct TestServer {
    pub url: String,
    /// The registration code for 团成都市委's first admin, printed at first start.
    pub first_code: String,
    pub state: Arc<AppState>,
    pub dir: TempDir,
    rt: Option<tokio::runtime::Runtime>,
    /// The PostgreSQL database made for this server, removed when it stops.
    database: Option<String>,
}

/// The PostgreSQL server the tests run on (`ZHTJ_TEST_POSTGRES`), if any.
pub fn test_postgres() -> Option<String> {
    std::env::var("ZHTJ_TEST_POSTGRES")
        .ok()
        .filter(|u| !u.is_empty())
}

/// Settings for a server's store: `None` (SQLite in the data directory) unless the tests
/// run on PostgreSQL, then a new database of its own there.
pub fn test_database() -> Option<sync_server::config::PostgresConfig> {
    test_postgres().map(|admin| sync_server::config::PostgresConfig {
        url: sync_server::storage::scratch_database(&admin).expect("a scratch database"),
        replica: None,
        pool: 4,
    })
}

impl TestServer {
    /// A registration code for `org`, issued now as the operator issues one
    /// (`zhtj-server issue-code`).
    pub fn issue_code(&self, org: &str) -> String {
        self.issue_code_at(org, time::OffsetDateTime::now_utc())
    }

    /// A registration code for `org` issued at `at` (21 days ago: an expired code).
    pub fn issue_code_at(&self, org: &str, at: time::OffsetDateTime) -> String {
        sync_server::identity::operator_issue_code(&self.state.store, org, at)
            .expect("the operator issues a code")
            .code
            .as_str()
            .to_owned()
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(rt) = self.rt.take() {
            rt.shutdown_background();
        }
        if let (Some(admin), Some(url)) = (test_postgres(), self.database.take()) {
            // Best effort: the private cluster goes at the end of the run anyway.
            let _ = sync_server::storage::drop_database(&admin, &url);
        }
    }
}

/// Start a server on 127.0.0.1:0 with a fresh data directory.
pub fn spawn_server() -> TestServer {
    spawn(None, |_| {})
}

/// [`spawn_server`] with settings changed by `configure` (trusted proxies, limits…).
pub fn spawn_server_with(configure: impl FnOnce(&mut Config)) -> TestServer {
    spawn(None, configure)
}

/// Start an HTTPS server on 127.0.0.1:0 with a fresh data directory; `url` is
/// `https://127.0.0.1:PORT` (the certificate must name 127.0.0.1).
pub fn spawn_tls_server(tls: sync_server::TlsFiles) -> TestServer {
    spawn(Some(tls), |_| {})
}

fn spawn(tls: Option<sync_server::TlsFiles>, configure: impl FnOnce(&mut Config)) -> TestServer {
    let scheme = if tls.is_some() { "https" } else { "http" };
    let dir = TempDir::new().expect("temp dir");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let mut config = Config {
        data_dir: dir.path().join("server"),
        postgres: test_database(),
        listen: "127.0.0.1:0".parse().expect("addr"),
        identity: IdentityConfig::default(),
        schedule: Default::default(),
        tls,
        net: Default::default(),
        trusted_proxies: Default::default(),
    };
    configure(&mut config);
    let database = config.postgres.as_ref().map(|p| p.url.clone());
    let running = rt
        .block_on(sync_server::start(config))
        .expect("server starts");
    TestServer {
        url: format!("{scheme}://{}", running.addr),
        first_code: running
            .first_code
            .expect("first start issues a code")
            .code
            .as_str()
            .to_owned(),
        state: running.state,
        dir,
        rt: Some(rt),
        database,
    }
}

impl TestServer {
    /// The rows of a query of the server's database (written for both engines), each column
    /// as text (`None`: null; integers in decimal; bytes in hex).
    pub fn rows(&self, sql: &str, params: &[&str]) -> Vec<Vec<Option<String>>> {
        self.state
            .store
            .read(|c| c.inspect(sql, params))
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
    }

    /// The one integer a query of the server's database answers (a count).
    pub fn count(&self, sql: &str, params: &[&str]) -> i64 {
        let rows = self.rows(sql, params);
        rows[0][0]
            .as_deref()
            .expect("a value")
            .parse()
            .expect("an integer")
    }

    /// Run a statement on the server's database (written for both engines).
    pub fn execute(&self, sql: &str, params: &[sync_server::storage::Value<'_>]) -> u64 {
        self.state
            .store
            .transaction(|tx| tx.execute_sql(sql, params))
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
    }

    /// Register test admin `n` of `org` with a code the operator issues, and log it in:
    /// its token.
    pub fn admin_token(&self, org: &str, n: u32) -> String {
        let remote = client_core::sync::Remote::new(&self.url).expect("remote");
        remote
            .register(&registration(&self.issue_code(org), org, n, "张三"))
            .expect("registered");
        remote.login(&login_request(n)).expect("logged in").token
    }

    /// Whether the server stores in SQLite (some tests look at the file itself).
    pub fn on_sqlite(&self) -> bool {
        self.state.store.dialect() == sync_server::storage::Dialect::Sqlite
    }
}

/// Bytes from the hex of [`TestServer::rows`].
pub fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
        .collect()
}

/// Another `zhtj-server` process on the PostgreSQL database of a test server (the tests of
/// several processes, when the tests run on PostgreSQL); killed when dropped. Start it with
/// [`spawn_server_process!`] inside a test, where Cargo tells where the binary is.
pub struct ServerProcess {
    child: std::process::Child,
    pub url: String,
    _dir: TempDir,
}

impl ServerProcess {
    /// Run `bin serve` on `server`'s PostgreSQL database (`None` on SQLite: one process
    /// owns an SQLite file).
    pub fn start(bin: &str, server: &TestServer) -> Option<ServerProcess> {
        use std::io::BufRead;
        let database = server.state.config.postgres.as_ref()?;
        let dir = TempDir::new().expect("temp dir");
        let mut child = std::process::Command::new(bin)
            .arg("--data")
            .arg(dir.path())
            .args([
                "--database",
                &database.url,
                "serve",
                "--listen",
                "127.0.0.1:0",
            ])
            .env_remove("ZHTJ_DATABASE")
            .env_remove("ZHTJ_LISTEN")
            .env("ZHTJ_LOG", "warn")
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("zhtj-server starts");
        let mut lines = std::io::BufReader::new(child.stdout.take().expect("stdout")).lines();
        let mut url = String::new();
        for line in lines.by_ref() {
            let line = line.expect("a line");
            if let Some(i) = line.find("http://") {
                url = line[i..].trim().to_owned();
            }
            if line.contains("Ctrl+C") {
                break;
            }
        }
        assert!(!url.is_empty(), "the second server printed its address");
        // Keep its stdout drained.
        std::thread::spawn(move || lines.for_each(drop));
        Some(ServerProcess {
            child,
            url,
            _dir: dir,
        })
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A second server process on the PostgreSQL database of `server`, or `None` on SQLite.
#[macro_export]
macro_rules! spawn_server_process {
    ($server:expr) => {
        $crate::ServerProcess::start(env!("CARGO_BIN_EXE_zhtj-server-e2e"), $server)
    };
}

/// The pre-initialized ids.
pub const CITY: &str = "org-5101";
pub const JINJIANG: &str = "org-510104";

/// Test person `n`'s ID number and mobile (valid, distinct per `n`).
pub use schemas::generate::{numbered_id_number as id_number, numbered_mobile as mobile};

/// A fresh directory for a replica.
pub fn replica_dir() -> (TempDir, PathBuf) {
    let d = TempDir::new().expect("temp dir");
    let p = d.path().join("replica.sqlite3");
    (d, p)
}

/// Every run of digits in `s` shaped like personal data: 11 digits that parse as a mobile
/// number, or 17 or more (an ID number's digits before its check character). The decimals
/// of a number (after a '.') are not a run.
pub fn personal_runs(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if !b[i].is_ascii_digit() {
            i += 1;
            continue;
        }
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        let run = &s[start..i];
        if start > 0 && b[start - 1] == b'.' {
            continue;
        }
        if (run.len() == 11 && schemas::Mobile::parse(run).is_ok()) || run.len() >= 17 {
            out.push(run.to_owned());
        }
    }
    out
}

/// The password of every test admin.
pub const PASSWORD: &str = "secret123";

/// The registration of test admin `n` (its ID number and mobile derived from `n`, the test
/// password) as 书记 `name` of `org`, with `code`.
pub fn registration(code: &str, org: &str, n: u32, name: &str) -> RegisterRequest {
    RegisterRequest {
        code: code.into(),
        org_id: org.into(),
        role: "书记".into(),
        name: name.into(),
        id_number: id_number(n),
        mobile: mobile(n),
        join_year_month: "2005-05".into(),
        password: PASSWORD.into(),
    }
}

/// The login of test admin `n`, to its only organization.
pub fn login_request(n: u32) -> LoginRequest {
    LoginRequest {
        mobile: mobile(n),
        password: PASSWORD.into(),
        org_id: None,
    }
}

/// The `zhtj` command line (the `zhtj-e2e` binary of this package, built from the CLI's own
/// source) on one data directory, talking to `server`. Build it with [`zhtj!`] inside a
/// test, where Cargo tells where the binary is.
pub struct Zhtj {
    pub bin: &'static str,
    pub data: PathBuf,
    pub server: String,
}

/// A [`Zhtj`] on the data directory `data` with the server at `url`.
#[macro_export]
macro_rules! zhtj {
    ($data:expr, $url:expr) => {
        $crate::Zhtj {
            bin: env!("CARGO_BIN_EXE_zhtj-e2e"),
            data: ($data).into(),
            server: ($url).to_owned(),
        }
    };
}

impl Zhtj {
    /// Run `zhtj --data <data> <args>` with `ZHTJ_SERVER` set, stdin closed and no other
    /// `ZHTJ_` setting from the environment.
    pub fn run(&self, args: &[&str]) -> std::process::Output {
        std::process::Command::new(self.bin)
            .arg("--data")
            .arg(&self.data)
            .args(args)
            .env("ZHTJ_SERVER", &self.server)
            .env_remove("ZHTJ_DATA")
            .env_remove("ZHTJ_PASSWORD")
            .env_remove("ZHTJ_CA")
            .stdin(std::process::Stdio::null())
            .output()
            .expect("zhtj runs")
    }

    /// Run, expect success, return stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "zhtj {args:?} failed ({:?}):\nstdout:\n{}\nstderr:\n{}",
            out.status.code(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).expect("UTF-8 output")
    }

    /// Run with `--json`, expect success, parse stdout.
    pub fn json(&self, args: &[&str]) -> serde_json::Value {
        let mut all = vec!["--json"];
        all.extend_from_slice(args);
        serde_json::from_str(&self.ok(&all)).expect("JSON output")
    }

    /// Register test admin `n` as 书记 `name` with `code` alone, confirming its
    /// organization (`--yes`); returns stdout.
    pub fn register(&self, code: &str, n: u32, name: &str) -> String {
        let (id, m) = (id_number(n), mobile(n));
        self.ok(&[
            "register",
            "--code",
            code,
            "--role",
            "书记",
            "--name",
            name,
            "--id-number",
            &id,
            "--mobile",
            &m,
            "--join",
            "2005-05",
            "--password",
            PASSWORD,
            "--yes",
        ])
    }

    /// Log test admin `n` in (the first login downloads the subtree).
    pub fn login(&self, n: u32) -> String {
        self.ok(&["login", "--mobile", &mobile(n), "--password", PASSWORD])
    }

    /// The replica the CLI keeps in the data directory (open it only between runs).
    pub fn replica(&self) -> client_core::Replica {
        client_core::Replica::open(&self.data.join("replica.sqlite3")).expect("replica")
    }
}

/// The code of `short_name` on a code sheet written by `zhtj codes --export`, found by
/// its header row (组织简称 … 管理员注册码), and the sheet's note.
pub fn code_on_sheet(path: &std::path::Path, short_name: &str) -> (String, String) {
    use calamine::{Reader, Xlsx};
    let mut wb: Xlsx<_> = calamine::open_workbook(path).unwrap();
    let range = wb.worksheet_range("管理员注册码").unwrap();
    let rows: Vec<Vec<String>> = range
        .rows()
        .map(|r| r.iter().map(|c| c.to_string()).collect())
        .collect();
    let header = rows
        .iter()
        .position(|r| r.first().map(String::as_str) == Some("组织简称"))
        .expect("a header row");
    let col = rows[header]
        .iter()
        .position(|h| h == "管理员注册码")
        .unwrap();
    let code = rows[header + 1..]
        .iter()
        .find(|r| r[0] == short_name)
        .map(|r| r[col].clone())
        .expect("the unit's row");
    let note = rows[..header].concat().join("\n");
    (code, note)
}

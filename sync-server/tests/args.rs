//! `zhtj-server`'s typed arguments: a malformed address, date, proxy list or direction is
//! refused by the argument parser (exit code 2, the flag named on stderr) before anything
//! runs — no data directory is created — and the forms the help documents are taken (a
//! Chinese direction, a date with full-width digits, a list of proxies).

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Output, Stdio};

/// `zhtj-server --data <data> <args>`, none of the server's environment variables
/// inherited, stdin closed.
fn command(data: &Path, args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_zhtj-server"));
    command.arg("--data").arg(data).args(args);
    for var in [
        "ZHTJ_SERVER_DATA",
        "ZHTJ_LISTEN",
        "ZHTJ_JOIN_CUTOFF",
        "ZHTJ_TRUSTED_PROXIES",
        "ZHTJ_SCHEDULE",
        "ZHTJ_SCHEDULE_START",
        "ZHTJ_TLS_CERT",
        "ZHTJ_TLS_KEY",
        "ZHTJ_DATABASE",
        "ZHTJ_DATABASE_REPLICA",
        "ZHTJ_DATABASE_POOL",
    ] {
        command.env_remove(var);
    }
    command.env("ZHTJ_LOG", "warn").stdin(Stdio::null());
    command
}

/// Run `command(data, args)` to its end with `env` set.
fn server(data: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    command(data, args)
        .envs(env.iter().copied())
        .output()
        .expect("runs")
}

/// `args` with `env` exits with code 2, stderr naming `flag` and quoting `bad`, nothing on
/// stdout and no data directory created.
fn refused(args: &[&str], env: &[(&str, &str)], flag: &str, bad: &str) {
    let dir = tempfile::TempDir::new().unwrap();
    let data = dir.path().join("data");
    let out = server(&data, args, env);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{args:?} {env:?}: {err}");
    assert!(err.contains(flag) && err.contains(bad), "{args:?}: {err}");
    assert!(out.stdout.is_empty(), "{args:?}");
    assert!(!data.exists(), "{args:?}: nothing is opened or created");
}

#[test]
fn a_malformed_typed_value_is_refused_before_anything_runs() {
    let serve = |extra: &[&'static str]| -> Vec<&'static str> {
        ["serve", "--listen", "127.0.0.1:0"]
            .iter()
            .chain(extra)
            .copied()
            .collect()
    };
    refused(
        &serve(&["--join-cutoff", "2017-13"]),
        &[],
        "--join-cutoff",
        "2017-13",
    );
    refused(
        &serve(&[]),
        &[("ZHTJ_JOIN_CUTOFF", "2016-02-30")],
        "--join-cutoff",
        "2016-02-30",
    );
    refused(
        &["serve", "--listen", "127.0.0.1:99999"],
        &[],
        "--listen",
        "127.0.0.1:99999",
    );
    refused(
        &serve(&["--trusted-proxy", "10.0.0.0/8,not-an-ip"]),
        &[],
        "--trusted-proxy",
        "not-an-ip",
    );
    refused(
        &serve(&["--schedule-start", "2026-12"]),
        &[],
        "--schedule-start",
        "2026-12",
    );
    refused(
        &["schedule", "--start", "2026-13-01"],
        &[],
        "--start",
        "2026-13-01",
    );
    refused(
        &["snapshot", "--day", "2017-02-30"],
        &[],
        "--day",
        "2017-02-30",
    );
    refused(
        &["reorder", "--org", "团青羊区委", "sideways"],
        &[],
        "<DIRECTION>",
        "sideways",
    );
    refused(
        &serve(&["--database-pool", "0"]),
        &[],
        "--database-pool",
        "0",
    );
    refused(
        &["orgs", "--database-replica", "postgres://r/zhtj"],
        &[],
        "--database",
        "",
    );
}

/// A PostgreSQL address that does not read is refused with what to fix (`store.url`,
/// exit code 1), before any connection is tried or anything created.
#[test]
fn a_database_address_that_does_not_read_is_refused() {
    let dir = tempfile::TempDir::new().unwrap();
    let data = dir.path().join("data");
    let out = server(
        &data,
        &["--database", "postgres://zhtj@db:not-a-port/zhtj", "orgs"],
        &[],
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("store.url") && err.contains("数据库地址无法识别"),
        "{err}"
    );
    assert!(!data.exists(), "nothing created");
}

#[test]
fn the_documented_forms_are_taken() {
    let dir = tempfile::TempDir::new().unwrap();
    let data = dir.path().join("data");

    // A Chinese direction.
    let out = server(&data, &["reorder", "--org", "团青羊区委", "上移"], &[]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("已上移“团青羊区委”"),
        "{out:?}"
    );

    // A snapshot of a given day is recorded under that day.
    let out = server(&data, &["snapshot", "--day", "2017-12-18"], &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("2017-12-18的录入进度快照"), "{stdout}");

    // `serve` with a list of proxies, a joining cutoff and a schedule start typed with
    // full-width digits: it starts, and the schedule starts on that day.
    let mut child = command(
        &data,
        &[
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--trusted-proxy",
            "127.0.0.1, 10.0.0.0/8",
            "--join-cutoff",
            "2016-09-01",
            "--schedule-start",
            "２０２６-12-01",
        ],
    )
    .stdout(Stdio::piped())
    .spawn()
    .expect("spawn zhtj-server");
    let started: Vec<String> = BufReader::new(child.stdout.take().unwrap())
        .lines()
        .map_while(Result::ok)
        .take_while(|l| !l.contains("Ctrl+C"))
        .collect();
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(
        started
            .iter()
            .any(|l| l.starts_with("智慧团建组织树同步服务器已启动:http://127.0.0.1:")),
        "{started:?}"
    );
    let out = server(&data, &["schedule"], &[]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("活动开始日期:2026-12-01"), "{stdout}");
}

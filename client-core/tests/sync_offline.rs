//! Sync without a server: an unreachable server is `sync.network` (exit 5 in the CLI), no
//! session is `sync.login_required` (exit 6), and nothing local is lost either way.

use std::net::TcpListener;
use std::path::Path;
use std::process::Command;

use client_core::protocol::{AncestorSummary, LoginResponse};
use client_core::{Error, NewChild, Remote, Replica};
use schemas::Field;
use tempfile::TempDir;

/// An address where nothing listens: bind port 0, note the port, close it.
fn closed_url() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    format!("http://127.0.0.1:{port}")
}

/// A login answer for the replica's own unit, as the server would give it.
fn login_for(replica: &Replica) -> LoginResponse {
    LoginResponse {
        token: "offline-test-token".into(),
        expires_at: time::OffsetDateTime::now_utc().unix_timestamp() + 3600,
        org_id: replica.own_id().to_owned(),
        org_short_name: replica.own().unwrap().record.short_name,
        ancestors: replica
            .ancestors()
            .unwrap()
            .into_iter()
            .map(|a| AncestorSummary {
                id: a.id,
                parent: a.parent,
                level: a.level,
                category: a.category,
                short_name: a.short_name,
                full_name: a.full_name,
            })
            .collect(),
    }
}

/// An offline replica of 团锦江区委 with local work: own info filled, one branch created.
fn with_local_work(path: &Path) -> (Replica, String) {
    let mut r = Replica::create_from_initial(path, "团锦江区委").unwrap();
    let own = r.own_id().to_owned();
    r.update_info(&own, &[(Field::Phone, "028-61310936".into())])
        .unwrap();
    let child = r
        .create_child(
            &own,
            &NewChild {
                category: "团支部".into(),
                short_name: "包装车间团支部".into(),
                ..NewChild::default()
            },
        )
        .unwrap();
    (r, child)
}

#[test]
fn unreachable_server_is_a_network_error_and_loses_nothing() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("replica.sqlite3");
    let (replica, child) = with_local_work(&path);
    let url = closed_url();
    let login = login_for(&replica);
    let before = (replica.counts().unwrap(), replica.tree().unwrap());
    drop(replica);

    // Storing a session into the existing offline replica keeps everything.
    let mut replica = Replica::create_for_login(&path, &url, &login).unwrap();
    let remote = Remote::new(&url).unwrap();
    let mut calls = 0;
    let err = replica
        .sync(&remote, &mut |_, _, _| calls += 1)
        .unwrap_err();
    assert!(matches!(err, Error::Network(_)), "{err:?}");
    assert_eq!(err.code(), "sync.network");
    assert!(err.to_string().contains("修改已保存在本地"), "{err}");
    assert_eq!(calls, 0);

    // Nothing lost, still pending, and still so after reopening.
    let replica = Replica::open(&path).unwrap();
    assert_eq!((replica.counts().unwrap(), replica.tree().unwrap()), before);
    assert_eq!(replica.own().unwrap().record.phone, "028-61310936");
    assert!(replica.org(&child).unwrap().pending);
    let status = replica.sync_status().unwrap();
    assert_eq!(status.server_url.as_deref(), Some(url.as_str()));
    assert!(
        status.has_token,
        "a network failure does not end the session"
    );
    assert_eq!(status.last_sync_at, None);
    assert_eq!(status.pending, 2);
    assert!(replica.rejections().unwrap().is_empty());

    // The other calls fail the same way.
    let remote = Remote::new(&url).unwrap();
    let login_err = remote
        .login(&client_core::protocol::LoginRequest {
            mobile: "13812345678".into(),
            password: "secret123".into(),
            org_id: None,
        })
        .unwrap_err();
    assert_eq!(login_err.code(), "sync.network");
}

#[test]
fn no_session_is_login_required_and_a_foreign_login_is_refused() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("replica.sqlite3");
    let (mut replica, _) = with_local_work(&path);
    let remote = Remote::new(&closed_url()).unwrap();
    let err = replica.sync(&remote, &mut |_, _, _| {}).unwrap_err();
    assert!(matches!(err, Error::LoginRequired), "{err:?}");
    assert_eq!(err.code(), "sync.login_required");
    assert!(matches!(replica.remote(), Err(Error::LoginRequired)));

    let mut other = login_for(&replica);
    other.org_id = "someone-else".into();
    drop(replica);
    let err = Replica::create_for_login(&path, "http://127.0.0.1:1", &other).err();
    assert_eq!(
        err.map(|e| e.code().to_owned()).as_deref(),
        Some("replica.other_org")
    );
    assert!(Remote::new("ftp://example.cn").is_err());
    assert!(Remote::new("not a url").is_err());
    assert_eq!(
        Remote::new("http://127.0.0.1:8080/").unwrap().base_url(),
        "http://127.0.0.1:8080"
    );
}

#[test]
fn a_login_replica_has_no_documents_until_the_first_pull() {
    let dir = TempDir::new().unwrap();
    let seed_path = dir.path().join("seed.sqlite3");
    let (seed, _) = with_local_work(&seed_path);
    let login = login_for(&seed);
    let path = dir.path().join("replica.sqlite3");
    let replica = Replica::create_for_login(&path, "http://127.0.0.1:9", &login).unwrap();
    assert_eq!(replica.own_id(), seed.own_id());
    assert!(matches!(replica.own(), Err(Error::OrgNotFound(_))));
    assert_eq!(replica.ancestors().unwrap(), seed.ancestors().unwrap());
    assert_eq!(replica.counts().unwrap(), (0, 0));
    let reopened = Replica::open(&path).unwrap();
    let status = reopened.sync_status().unwrap();
    assert!(status.logged_in_at(0));
    assert_eq!(
        status.account.map(|a| a.org_short_name).as_deref(),
        Some("团锦江区委")
    );
}

fn zhtj(data: &Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_zhtj"))
        .arg("--data")
        .arg(data)
        .args(args)
        .env_remove("ZHTJ_DATA")
        .env_remove("ZHTJ_SERVER")
        .env_remove("ZHTJ_PASSWORD")
        .output()
        .unwrap()
}

#[test]
fn cli_exit_codes_without_a_server() {
    let dir = TempDir::new().unwrap();
    let data = dir.path().join("data");
    let url = closed_url();
    assert!(zhtj(&data, &["init", "团锦江区委"]).status.success());
    assert!(
        zhtj(&data, &["set", "团组织联系电话=028-61310936"])
            .status
            .success()
    );

    // Never logged in: sync needs a login (6).
    let out = zhtj(&data, &["sync"]);
    assert_eq!(out.status.code(), Some(6), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("sync.login_required"));

    // Login to an unreachable server (5), stdin not a terminal and no password: usage (2).
    let out = zhtj(
        &data,
        &["login", "--server", &url, "--mobile", "13812345678"],
    );
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let out = zhtj(
        &data,
        &[
            "login",
            "--server",
            &url,
            "--mobile",
            "13812345678",
            "--password",
            "abc12345",
        ],
    );
    assert_eq!(out.status.code(), Some(5), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("sync.network"), "{stderr}");
    assert!(stderr.contains("无法连接服务器"), "{stderr}");
    let out = zhtj(
        &data,
        &[
            "login",
            "--server",
            "ftp://x",
            "--mobile",
            "1",
            "--password",
            "p",
        ],
    );
    assert_eq!(out.status.code(), Some(2), "{out:?}");

    // With a session stored (as a login would), sync to the closed port is 5.
    {
        let replica = Replica::open(&data.join("replica.sqlite3")).unwrap();
        let login = login_for(&replica);
        drop(replica);
        Replica::create_for_login(&data.join("replica.sqlite3"), &url, &login).unwrap();
    }
    let out = zhtj(&data, &["sync"]);
    assert_eq!(out.status.code(), Some(5), "{out:?}");
    let out = zhtj(&data, &["--json", "status"]);
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["pending"], 1);
    assert_eq!(v["server"], url.as_str());
    assert_eq!(v["logged_in"], true);
    assert_eq!(v["last_sync_at"], serde_json::Value::Null);
    let text = String::from_utf8(zhtj(&data, &["status"]).stdout).unwrap();
    assert!(text.contains("登录状态:已登录"), "{text}");
    assert!(text.contains("上次同步:从未同步"), "{text}");
    assert!(text.contains("待同步的修改:1个组织"), "{text}");

    // Logout offline: forgotten locally, data kept.
    let out = zhtj(&data, &["logout"]);
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("未能连接服务器"), "{text}");
    let out = zhtj(&data, &["sync"]);
    assert_eq!(out.status.code(), Some(6), "{out:?}");
    let show = String::from_utf8(zhtj(&data, &["show"]).stdout).unwrap();
    assert!(show.contains("028-61310936"), "{show}");

    // Register: bad form refused locally (1) before any network; good form, no server (5).
    let out = zhtj(
        &data,
        &[
            "register",
            "--server",
            &url,
            "--code",
            "0O0",
            "--org",
            "x",
            "--role",
            "书记",
            "--name",
            "张三",
            "--id-number",
            "123",
            "--mobile",
            "123",
            "--join",
            "2010-05",
            "--password",
            "abc12345",
        ],
    );
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let first17 = "51010419900307123";
    let id = format!(
        "{first17}{}",
        schemas::IdNumber::check_char(first17).unwrap()
    );
    let out = zhtj(
        &data,
        &[
            "register",
            "--server",
            &url,
            "--code",
            "Ab3dE7fG",
            "--org",
            "x",
            "--role",
            "书记",
            "--name",
            "张三",
            "--id-number",
            &id,
            "--mobile",
            "13812345678",
            "--join",
            "2005-05",
            "--password",
            "abc12345",
        ],
    );
    assert_eq!(out.status.code(), Some(5), "{out:?}");
}

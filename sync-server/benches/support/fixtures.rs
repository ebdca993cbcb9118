//! What the sync benches set up alike: the server in this process, accounts, and the
//! organizations they create offline (shared by `#[path = "support/fixtures.rs"] mod
//! fixtures;`).

use client_core::protocol::{LoginRequest, LoginResponse, RegisterRequest};
use client_core::sync::Remote;
use client_core::{NewChild, Replica};
use sync_server::identity::IdentityConfig;
use sync_server::{Config, Running};

/// The city's server on a loopback port, storing under `data_dir` (or, when
/// `ZHTJ_BENCH_POSTGRES` names a PostgreSQL server, in a new database there), on a
/// multi-threaded tokio runtime of its own (the caller keeps the runtime alive while it
/// benches).
pub fn start_server(data_dir: std::path::PathBuf) -> (tokio::runtime::Runtime, Running) {
    let postgres = std::env::var("ZHTJ_BENCH_POSTGRES")
        .ok()
        .filter(|a| !a.is_empty())
        .map(|admin| sync_server::config::PostgresConfig {
            url: sync_server::storage::scratch_database(&admin).expect("a database"),
            replica: None,
            pool: sync_server::config::DEFAULT_POOL,
        });
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let running = rt
        .block_on(sync_server::start(Config {
            data_dir,
            postgres,
            listen: "127.0.0.1:0".parse().unwrap(),
            identity: IdentityConfig::default(),
            schedule: Default::default(),
            tls: None,
            net: Default::default(),
            trusted_proxies: Default::default(),
        }))
        .unwrap();
    (rt, running)
}

/// A valid ID number, distinct for `n` below 1,000.
pub fn id_number(n: u32) -> String {
    let first17 = format!("51010419900101{:03}", n % 1000);
    format!(
        "{first17}{}",
        schemas::IdNumber::check_char(&first17).unwrap()
    )
}

/// The mobile of the `n`th bench account.
pub fn mobile(n: u32) -> String {
    format!("138{n:08}")
}

/// Log in the `n`th bench account again.
pub fn login(remote: &Remote, n: u32) -> LoginResponse {
    remote
        .login(&LoginRequest {
            mobile: mobile(n),
            password: "secret123".into(),
            org_id: None,
        })
        .unwrap()
}

/// Register the `n`th bench account with `code` as the secretary of `org`, and log it in.
pub fn register_and_login(remote: &Remote, code: &str, org: &str, n: u32) -> LoginResponse {
    remote
        .register(&RegisterRequest {
            code: code.into(),
            org_id: org.into(),
            role: "书记".into(),
            name: "张三".into(),
            id_number: id_number(n),
            mobile: mobile(n),
            join_year_month: "2005-05".into(),
            password: "secret123".into(),
        })
        .unwrap();
    login(remote, n)
}

/// `n` village branches (团支部).
pub fn branches(prefix: &str, n: usize) -> Vec<NewChild> {
    (0..n)
        .map(|i| NewChild {
            category: "团支部".into(),
            short_name: format!("{prefix}第{i}团支部"),
            industry: "农村".into(),
            ..NewChild::default()
        })
        .collect()
}

/// `n` company committees (团委).
pub fn committees(prefix: &str, n: usize) -> Vec<NewChild> {
    (0..n)
        .map(|i| NewChild {
            category: "团委".into(),
            short_name: format!("{prefix}第{i}公司团委"),
            ..NewChild::default()
        })
        .collect()
}

/// Create `n` organizations offline under `parent` (a multiple of 100): `n / 100` company
/// committees of 99 village branches each.
pub fn create_offline(replica: &mut Replica, parent: &str, prefix: &str, n: usize) {
    assert!(n.is_multiple_of(100) && n > 0, "{n}");
    let cs = replica
        .create_children(parent, &committees(prefix, n / 100), &mut |_, _| {})
        .unwrap();
    for (i, c) in cs.iter().enumerate() {
        replica
            .create_children(c, &branches(&format!("{prefix}{i}"), 99), &mut |_, _| {})
            .unwrap();
    }
}

/// Create `n` organizations under `parent` (a multiple of 500): `n / 500` company
/// committees of 499 village branches each, pushed through `remote` every 25 committees
/// and at the end.
pub fn build_subtree(replica: &mut Replica, remote: &Remote, parent: &str, prefix: &str, n: usize) {
    assert!(n.is_multiple_of(500) && n > 0, "{n}");
    let cs = replica
        .create_children(parent, &committees(prefix, n / 500), &mut |_, _| {})
        .unwrap();
    for (i, c) in cs.iter().enumerate() {
        replica
            .create_children(c, &branches(&format!("{prefix}{i}"), 499), &mut |_, _| {})
            .unwrap();
        if i % 25 == 24 {
            replica.sync(remote, &mut |_, _, _| {}).unwrap();
        }
    }
    replica.sync(remote, &mut |_, _, _| {}).unwrap();
}

//! End-to-end tests of the desktop app in a real window (Xvfb + tauri-driver +
//! WebKitWebDriver) against a real sync server on a loopback port. Each test saves
//! screenshots of the screens it passes through (`harness::screenshot_dir`).

mod harness;

use client_core::Replica;
use e2e::proxy::{Proxy, Rule};
use e2e::{CITY, PASSWORD, mobile, registration, spawn_server};
use harness::Desktop;
use schemas::Field;

/// 首次使用 → 登录 with a registered admin: the subtree is downloaded (progress shown
/// through the channel), the 组织首页 opens, and the server address is remembered.
#[test]
fn login_downloads_the_subtree_and_remembers_the_server() {
    let server = spawn_server();
    client_core::Remote::new(&server.url)
        .unwrap()
        .register(&registration(&server.first_code, CITY, 1, "张三"))
        .expect("the city admin registers");
    let data = tempfile::tempdir().unwrap();

    let app = Desktop::start(data.path());
    app.wait_text("首次使用");
    assert!(app.text().contains("离线开始"), "both ways in are offered");
    app.screenshot("01-首次使用");

    app.type_into("[data-test=server] input", &server.url);
    app.type_into("[data-test=mobile] input", &mobile(1));
    app.type_into("[data-test=password] input", PASSWORD);
    app.click("[data-test=login]");
    app.wait_text("团成都市委(管理员)");
    app.wait_text("直属组织数");
    app.screenshot("02-登录后组织首页");
    // The 20 pre-initialized district committees came down with the first download.
    let replica = Replica::open(&data.path().join("replica.sqlite3")).unwrap();
    assert_eq!(replica.own_id(), CITY);
    assert_eq!(replica.children(CITY).unwrap().len(), 20);
    assert_eq!(replica.sync_status().unwrap().pending, 0);
    assert!(app.text_of("[data-test=sync-pending]").contains("待同步 0"));
    drop(app);

    // Started again: the address and the mobile number are offered, the unit opens.
    let settings = std::fs::read_to_string(data.path().join("settings.json")).unwrap();
    assert!(settings.contains(&server.url), "server remembered: {settings}");
}

/// 离线开始 of a pre-initialized unit, then the 组织首页 form: required fields marked, the
/// parent's fields locked, what is missing listed; a wrong ID number shows the rule's own
/// message as it is typed and is not saved; valid values are saved to the replica.
#[test]
fn offline_start_and_the_information_form() {
    let data = tempfile::tempdir().unwrap();
    let app = Desktop::start(data.path());
    app.wait_text("首次使用");
    app.click("#tab-offline");
    app.choose("[data-test=offline-unit]", "团锦江区委");
    app.click("[data-test=offline-start]");
    app.wait_text("团锦江区委(管理员)");
    app.wait_text("尚未填写");
    assert!(app.text_of("[data-test=sync-state]").contains("未连接服务器"));
    app.screenshot("03-离线开始后组织首页");

    // Set by the parent: locked, with the reason.
    let locked = app.text_of("[data-test=field-short_name]");
    assert!(locked.contains("由上级组织填写"), "{locked}");
    // Required for a leading organ (profile A): the red * on 团组织联系电话.
    let required = app.js(
        "return document.querySelector('[data-test=field-phone]').classList.contains('is-required')",
        serde_json::json!([]),
    );
    assert_eq!(required, serde_json::json!(true));
    let missing = app.text_of("[data-test=missing]");
    assert!(missing.contains("团组织联系电话") && missing.contains("书记身份证号码"), "{missing}");

    // A wrong check character: the rule's own message, as typed.
    let good = e2e::id_number(7);
    let bad = format!("{}{}", &good[..17], if good.ends_with('1') { '2' } else { '1' });
    let rule = schemas::IdNumber::parse(&bad).unwrap_err().message;
    app.type_into("[data-test=field-secretary_id_number] input", &bad);
    app.type_into("[data-test=field-phone] input", "028-61310936");
    app.wait_until("the ID rule's message under the field", |d| {
        d.text_of("[data-test=field-secretary_id_number]").contains(&rule)
    });
    app.screenshot("04-身份证号码错误");
    app.click("[data-test=save]");
    app.wait_text("未保存");
    let replica = Replica::open(&data.path().join("replica.sqlite3")).unwrap();
    let own = replica.own().unwrap();
    assert_eq!(own.record.get(Field::SecretaryIdNumber), "", "nothing saved");
    assert_eq!(own.record.get(Field::Phone), "", "nothing saved, not even the valid field");
    drop(replica);

    // Corrected: saved, and the form says the change waits for a sync.
    app.clear("[data-test=field-secretary_id_number] input");
    app.type_into("[data-test=field-secretary_id_number] input", &good);
    app.wait_until("the message to go", |d| {
        !d.text_of("[data-test=field-secretary_id_number]").contains(&rule)
    });
    app.click("[data-test=save]");
    app.wait_text("有修改待同步");
    app.screenshot("05-保存后");
    let replica = Replica::open(&data.path().join("replica.sqlite3")).unwrap();
    let own = replica.own().unwrap();
    assert_eq!(own.record.get(Field::SecretaryIdNumber), good);
    assert_eq!(own.record.get(Field::Phone), "028-61310936");
    assert!(own.pending);
}

/// Offline work with a server that goes away and comes back: 创建下级组织 (单个创建, the
/// generated full name shown before saving), the pending count while the server is down,
/// 管理下级组织 with the code window, and the sync that finishes by itself once the server
/// answers again.
#[test]
fn create_manage_and_sync_by_itself_when_the_server_returns() {
    let server = spawn_server();
    client_core::Remote::new(&server.url)
        .unwrap()
        .register(&registration(&server.first_code, CITY, 1, "张三"))
        .expect("the city admin registers");
    let proxy = Proxy::in_front_of(&server.url);
    let url = format!("http://{}", proxy.addr);
    let data = tempfile::tempdir().unwrap();
    let replica_path = data.path().join("replica.sqlite3");

    let app = Desktop::start(data.path());
    app.wait_text("首次使用");
    app.type_into("[data-test=server] input", &url);
    app.type_into("[data-test=mobile] input", &mobile(1));
    app.type_into("[data-test=password] input", PASSWORD);
    app.click("[data-test=login]");
    app.wait_text("团成都市委(管理员)");
    app.wait_until("the sync bar to say 在线", |d| {
        d.text_of("[data-test=sync-state]").contains("在线")
    });

    // The server goes away.
    proxy.set(Rule::drop_all());

    // 单个创建 under the city.
    app.click("[data-test=home-create]");
    app.wait_text("单个创建");
    app.click("#tab-single");
    app.choose("[data-test=new-category]", "团委");
    app.type_into("[data-test=new-short_name] input", "北控集团团委");
    let expected = Replica::open(&replica_path)
        .unwrap()
        .preview_full_name(CITY, schemas::Category::parse("团委").unwrap(), "北控集团团委")
        .unwrap();
    app.wait_until("the generated full name", |d| {
        d.js(
            "return document.querySelector('[data-test=new-full_name] input').value",
            serde_json::json!([]),
        ) == serde_json::json!(expected)
    });
    app.screenshot("06-单个创建");
    app.click("[data-test=create-submit]");
    app.wait_text("已创建北控集团团委");

    // Saved locally, waiting: the bar shows it, and that the server is unreachable.
    app.wait_until("待同步 1 and 离线", |d| {
        d.text_of("[data-test=sync-pending]").contains("待同步 1")
            && d.text_of("[data-test=sync-state]").contains("离线")
    });
    let child = {
        let r = Replica::open(&replica_path).unwrap();
        let kids = r.children(CITY).unwrap();
        let k = kids.iter().find(|k| k.short_name == "北控集团团委").expect("created");
        assert_eq!(k.full_name, expected);
        assert_eq!(r.sync_status().unwrap().pending, 1);
        k.id.clone()
    };
    app.screenshot("07-离线待同步");

    // 管理下级组织: 21 children now; the code window issues a code.
    app.click("[data-test=menu-manage]");
    app.wait_text("共有下级组织:21个");
    app.click("[data-test=code-北控集团团委]");
    app.wait_until("the code window", |d| !d.text_of("[data-test=code-value]").trim().is_empty());
    let shown = app.text_of("[data-test=code-value]").trim().to_owned();
    let stored = Replica::open(&replica_path)
        .unwrap()
        .valid_code(&child, time::OffsetDateTime::now_utc())
        .unwrap()
        .expect("a code stored")
        .code;
    assert_eq!(shown, stored);
    assert!(app.text_of("[data-test=code-window]").contains("有效期至"));
    app.screenshot("08-管理下级组织-注册码");

    // The server is back: the sync finishes by itself.
    proxy.clear();
    app.wait_until("待同步 0 and 在线", |d| {
        d.text_of("[data-test=sync-pending]").contains("待同步 0")
            && d.text_of("[data-test=sync-state]").contains("在线")
    });
    assert_eq!(Replica::open(&replica_path).unwrap().sync_status().unwrap().pending, 0);
    app.screenshot("09-自动同步完成");
}

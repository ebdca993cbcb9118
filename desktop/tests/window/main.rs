//! End-to-end tests of the desktop app in a real window (Xvfb + tauri-driver +
//! WebKitWebDriver) against a real sync server on a loopback port. Each test saves
//! screenshots of the screens it passes through (`harness::screenshot_dir`).

mod harness;

use client_core::Replica;
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

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

    app.type_into("input[data-test=server]", &server.url);
    app.click("#tab-login");
    app.type_into("input[data-test=mobile]", &mobile(1));
    app.type_into("input[data-test=password]", PASSWORD);
    app.screenshot("01-首次使用");
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
    assert!(
        settings.contains(&server.url),
        "server remembered: {settings}"
    );
}

/// 注册 with the code the server printed at its first start: a wrong code is refused as the
/// server refuses it; the right one shows the unit for confirmation; a joining date the
/// rule refuses is explained under its field; then the admin is registered, logged in and
/// the subtree downloaded.
#[test]
fn register_with_the_printed_code() {
    let server = spawn_server();
    let data = tempfile::tempdir().unwrap();
    let person = registration(&server.first_code, CITY, 1, "张三");
    let wrong = format!("{}x", &server.first_code[..server.first_code.len() - 1]);
    let wrong = if wrong == server.first_code {
        format!("{}y", &wrong[..wrong.len() - 1])
    } else {
        wrong
    };

    let app = Desktop::start(data.path());
    app.wait_text("首次使用");
    app.type_into("input[data-test=server]", &server.url);
    // Nothing remembered: 注册 is the tab shown first.
    app.type_into("input[data-test=reg-code]", &wrong);
    app.click("[data-test=reg-lookup]");
    let refusal = client_core::Remote::new(&server.url)
        .unwrap()
        .lookup_code(&wrong)
        .expect_err("the server refuses the wrong code");
    let expected = refusal.violations()[0].message.clone();
    app.wait_until("the code's refusal under its field", |d| {
        d.text_of("[data-test=reg-field-registration_code]")
            .contains(&expected)
    });
    app.screenshot("01a-注册-注册码有误");

    app.clear("input[data-test=reg-code]");
    app.type_into("input[data-test=reg-code]", &server.first_code);
    app.click("[data-test=reg-lookup]");
    app.wait_text("请核对注册码所属的组织");
    let shown = app.text_of("[data-test=reg-unit]");
    assert!(shown.contains("团成都市委"), "{shown}");
    assert!(shown.contains("中国共产主义青年团成都市委员会"), "{shown}");
    app.screenshot("01b-注册-确认组织");
    app.click("[data-test=reg-confirm]");

    app.choose("[data-test=reg-role]", "书记");
    app.type_into("input[data-test=reg-name]", &person.name);
    app.type_into("input[data-test=reg-id_number]", &person.id_number);
    app.type_into("input[data-test=reg-mobile]", &person.mobile);
    // Born in 1990: joining in 1995 breaks the joining-age rule, which says why.
    app.type_into("input[data-test=reg-join]", "1995-01");
    app.type_into("input[data-test=reg-password]", &person.password);
    app.type_into("input[data-test=reg-password2]", &person.password);
    app.click("[data-test=reg-submit]");
    app.wait_until("the joining-age rule under 入团年月", |d| {
        d.text_of("[data-test=reg-field-join_year_month]")
            .contains("入团时须年满")
    });
    app.screenshot("01c-注册-入团年龄");

    app.clear("input[data-test=reg-join]");
    app.type_into("input[data-test=reg-join]", &person.join_year_month);
    app.click("[data-test=reg-submit]");
    app.wait_text("团成都市委(管理员)");
    app.wait_text("直属组织数");
    app.screenshot("01d-注册后组织首页");
    let replica = Replica::open(&data.path().join("replica.sqlite3")).unwrap();
    assert_eq!(replica.own_id(), CITY);
    assert_eq!(replica.children(CITY).unwrap().len(), 20);
    // The code is spent: the same look-up is now refused.
    assert!(
        client_core::Remote::new(&server.url)
            .unwrap()
            .lookup_code(&server.first_code)
            .is_err()
    );
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
    assert!(
        app.text_of("[data-test=sync-state]")
            .contains("未连接服务器")
    );
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
    assert!(
        missing.contains("团组织联系电话") && missing.contains("书记身份证号码"),
        "{missing}"
    );

    // A wrong check character: the rule's own message, as typed.
    let good = e2e::id_number(7);
    let bad = format!(
        "{}{}",
        &good[..17],
        if good.ends_with('1') { '2' } else { '1' }
    );
    let rule = schemas::IdNumber::parse(&bad).unwrap_err().message;
    app.type_into("[data-test=field-secretary_id_number] input", &bad);
    app.type_into("[data-test=field-phone] input", "028-61310936");
    app.wait_until("the ID rule's message under the field", |d| {
        d.text_of("[data-test=field-secretary_id_number]")
            .contains(&rule)
    });
    app.screenshot("04-身份证号码错误");
    app.click("[data-test=save]");
    app.wait_text("未保存");
    let replica = Replica::open(&data.path().join("replica.sqlite3")).unwrap();
    let own = replica.own().unwrap();
    assert_eq!(
        own.record.get(Field::SecretaryIdNumber),
        "",
        "nothing saved"
    );
    assert_eq!(
        own.record.get(Field::Phone),
        "",
        "nothing saved, not even the valid field"
    );
    drop(replica);

    // Corrected: saved, and the form says the change waits for a sync.
    app.clear("[data-test=field-secretary_id_number] input");
    app.type_into("[data-test=field-secretary_id_number] input", &good);
    app.wait_until("the message to go", |d| {
        !d.text_of("[data-test=field-secretary_id_number]")
            .contains(&rule)
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
    app.type_into("input[data-test=server]", &url);
    app.click("#tab-login");
    app.type_into("input[data-test=mobile]", &mobile(1));
    app.type_into("input[data-test=password]", PASSWORD);
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
        .preview_full_name(
            CITY,
            schemas::Category::parse("团委").unwrap(),
            "北控集团团委",
        )
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
        let k = kids
            .iter()
            .find(|k| k.short_name == "北控集团团委")
            .expect("created");
        assert_eq!(k.full_name, expected);
        assert_eq!(r.sync_status().unwrap().pending, 1);
        k.id.clone()
    };
    app.screenshot("07-离线待同步");

    // 管理下级组织: 21 children now; the code window issues a code.
    app.click("[data-test=menu-manage]");
    app.wait_text("共有下级组织:21个");
    app.type_into("input[data-test=search-name]", "北控");
    app.click("[data-test=code-北控集团团委]");
    app.wait_until("the code window", |d| {
        !d.text_of("[data-test=code-value]").trim().is_empty()
    });
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
    assert_eq!(
        Replica::open(&replica_path)
            .unwrap()
            .sync_status()
            .unwrap()
            .pending,
        0
    );
    app.screenshot("09-自动同步完成");
}

/// Write a workbook with the template's 组织简称 and 组织类别 columns and `rows` under them.
fn workbook(path: &std::path::Path, rows: &[(&str, &str)]) {
    let mut book = rust_xlsxwriter::Workbook::new();
    let sheet = book.add_worksheet();
    let header = |f| client_core::excel::column_label(f).expect("a template column");
    sheet.write_string(0, 0, header(Field::ShortName)).unwrap();
    sheet.write_string(0, 1, header(Field::Category)).unwrap();
    for (i, (name, category)) in rows.iter().enumerate() {
        sheet.write_string(i as u32 + 1, 0, *name).unwrap();
        sheet.write_string(i as u32 + 1, 1, *category).unwrap();
    }
    book.save(path).unwrap();
}

/// 批量创建 from the template: a file with one wrong row creates nothing and shows every
/// row's result (an annotated copy saved); the corrected file creates all ten, listed in
/// 管理下级组织.
#[test]
fn batch_create_ten_from_the_template() {
    let data = tempfile::tempdir().unwrap();
    let files = data.path().join("files");
    let replica_path = data.path().join("replica.sqlite3");
    let app = Desktop::start_saving_to(data.path(), &files);
    app.wait_text("首次使用");
    app.click("#tab-offline");
    app.choose("[data-test=offline-unit]", "团锦江区委");
    app.click("[data-test=offline-start]");
    app.wait_text("团锦江区委(管理员)");
    let parent = Replica::open(&replica_path).unwrap().own_id().to_owned();

    app.click("[data-test=home-create]");
    app.wait_text("1 下载并填写模板");
    app.click("[data-test=save-template]");
    app.wait_text("模板已保存到");
    let template = files.join("组织导入模板.xlsx");
    assert!(
        template.exists(),
        "the template is saved where the page says"
    );
    assert!(
        app.text_of("[data-test=template-path]")
            .contains("组织导入模板.xlsx")
    );

    let names = [
        "华润",
        "中铁",
        "国电",
        "川航",
        "天府",
        "蜀道",
        "五粮",
        "长虹",
        "新希望",
        "通威",
    ]
    .map(|n| format!("{n}集团团委"));
    let mut rows: Vec<(&str, &str)> = names.iter().map(|n| (n.as_str(), "团委")).collect();
    rows[3].1 = "团小组";
    let wrong = data.path().join("填好的模板.xlsx");
    workbook(&wrong, &rows);
    app.type_into(
        "[data-test=import-upload] input[type=file]",
        wrong.to_str().unwrap(),
    );
    app.wait_text("未创建任何组织");
    let table = app.text_of("[data-test=import-rows]");
    assert!(table.contains("川航集团团委"), "{table}");
    assert!(
        app.text_of("[data-test=import-failed]")
            .contains("有1行填写有误"),
        "exactly the wrong row is counted"
    );
    app.screenshot("10-批量创建-有错误");
    assert!(
        files.join("填好的模板-错误标注.xlsx").exists(),
        "annotated copy saved"
    );
    assert_eq!(
        Replica::open(&replica_path)
            .unwrap()
            .children(&parent)
            .unwrap()
            .len(),
        0
    );

    rows[3].1 = "团委";
    let right = data.path().join("改好的模板.xlsx");
    workbook(&right, &rows);
    app.type_into(
        "[data-test=import-upload] input[type=file]",
        right.to_str().unwrap(),
    );
    app.wait_text("已创建10个下级组织");
    app.screenshot("11-批量创建-完成");
    let created = Replica::open(&replica_path)
        .unwrap()
        .children(&parent)
        .unwrap();
    assert_eq!(created.len(), 10);

    app.click("[data-test=menu-manage]");
    app.wait_text("共有下级组织:10个,其中团委:10个");
    app.screenshot("12-管理下级组织");

    // 批量生成管理员注册码: a code for each of the ten, saved as .xlsx; the sheet read back
    // holds the replica's codes.
    app.click("[data-test=export-codes]");
    app.wait_text("注册码已保存到");
    let sheet = files.join("管理员注册码.xlsx");
    assert!(
        app.text_of("[data-test=codes-path]")
            .contains("管理员注册码.xlsx")
    );
    let replica = Replica::open(&replica_path).unwrap();
    let now = time::OffsetDateTime::now_utc();
    for child in &created {
        let stored = replica
            .valid_code(&child.id, now)
            .unwrap()
            .expect("a code issued for every child")
            .code;
        let (on_sheet, note) = e2e::code_on_sheet(&sheet, &child.short_name);
        assert_eq!(on_sheet, stored, "{}", child.short_name);
        assert!(
            note.contains("注册"),
            "the sheet says how to register: {note}"
        );
    }
    app.screenshot("12b-批量生成管理员注册码");
}

/// A change the server refuses (the same short name created meanwhile by another replica of
/// the city): the bar counts it, its reason is listed, a click opens the unit at the field,
/// and the correction syncs by itself.
#[test]
fn a_refused_change_shows_its_reason_and_is_fixed_from_there() {
    let server = spawn_server();
    let remote = client_core::Remote::new(&server.url).unwrap();
    remote
        .register(&registration(&server.first_code, CITY, 1, "张三"))
        .expect("the city admin registers");
    let proxy = Proxy::in_front_of(&server.url);
    let data = tempfile::tempdir().unwrap();
    let replica_path = data.path().join("replica.sqlite3");

    let app = Desktop::start(data.path());
    app.wait_text("首次使用");
    app.type_into("input[data-test=server]", &format!("http://{}", proxy.addr));
    app.click("#tab-login");
    app.type_into("input[data-test=mobile]", &mobile(1));
    app.type_into("input[data-test=password]", PASSWORD);
    app.click("[data-test=login]");
    app.wait_text("团成都市委(管理员)");

    // Offline, the desktop creates 北控集团团委 …
    proxy.set(Rule::drop_all());
    let new_child = client_core::NewChild {
        category: "团委".into(),
        short_name: "北控集团团委".into(),
        ..Default::default()
    };
    app.click("[data-test=home-create]");
    app.click("#tab-single");
    app.choose("[data-test=new-category]", "团委");
    app.type_into("[data-test=new-short_name] input", &new_child.short_name);
    app.click("[data-test=create-submit]");
    app.wait_text("已创建北控集团团委");

    // … while another computer of the city creates the same name and syncs first.
    let other_dir = tempfile::tempdir().unwrap();
    let other_path = other_dir.path().join("replica.sqlite3");
    let login = remote.login(&e2e::login_request(1)).unwrap();
    let mut other = Replica::create_for_login(&other_path, &server.url, &login).unwrap();
    other.sync(&remote, &mut |_, _, _| {}).unwrap();
    other.create_child(CITY, &new_child).unwrap();
    let report = other.sync(&remote, &mut |_, _, _| {}).unwrap();
    assert_eq!(report.pushed, 1);

    // Back online: the desktop's copy is refused, with the reason.
    proxy.clear();
    app.wait_until("被退回 1", |d| {
        d.text_of("[data-test=sync-rejected]").contains("被退回 1")
    });
    let refused = Replica::open(&replica_path).unwrap().rejections().unwrap();
    assert_eq!(refused.len(), 1);
    let reason = refused[0].violations[0].message.clone();
    app.click("[data-test=sync-rejected]");
    app.wait_until("the reason in the list", |d| {
        d.text_of("[data-test=refused-list]").contains(&reason)
    });
    app.screenshot("13-被退回的修改");

    // Opened from there: the refused unit, its reason shown; corrected, it syncs by itself.
    app.js(
        "[...document.querySelectorAll('[data-test=refused-list] a')].find(a => a.innerText.includes('北控集团团委')).click()",
        serde_json::json!([]),
    );
    app.wait_until(
        "the refused unit opened, the reason beside its field",
        |d| {
            d.text_of("[data-test=crumb]").contains("北控集团团委")
                && d.text_of("[data-test=rejection]").contains(&reason)
                && d.text_of("[data-test=field-short_name]").contains(&reason)
        },
    );
    app.screenshot("14-打开被退回的组织");
    app.clear("[data-test=field-short_name] input");
    app.type_into("[data-test=field-short_name] input", "北控置业团委");
    app.click("[data-test=save]");
    app.wait_until("被退回 0 and 待同步 0", |d| {
        d.text_of("[data-test=sync-rejected]").contains("被退回 0")
            && d.text_of("[data-test=sync-pending]").contains("待同步 0")
    });
    let replica = Replica::open(&replica_path).unwrap();
    assert!(replica.rejections().unwrap().is_empty());
    let names: Vec<String> = replica
        .children(CITY)
        .unwrap()
        .into_iter()
        .map(|c| c.short_name)
        .collect();
    assert!(
        names.contains(&"北控置业团委".to_owned()) && names.contains(&"北控集团团委".to_owned())
    );
    app.screenshot("15-修正后已同步");
}

/// A loopback server that answers every request with a body that is not the protocol's.
fn garbage_server() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut s) = stream else { continue };
            std::thread::spawn(move || {
                use std::io::{BufRead, Read, Write};
                let mut reader = std::io::BufReader::new(s.try_clone().unwrap());
                let mut length = 0usize;
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                        break;
                    }
                    if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                        length = v.trim().parse().unwrap_or(0);
                    }
                }
                let _ = reader.read_exact(&mut vec![0; length]);
                let _ = s.write_all(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 7\r\nConnection: close\r\n\r\ngarbage",
                );
            });
        }
    });
    format!("http://{addr}")
}

/// Bad input, each explained in Chinese with nothing lost and the app still usable: a
/// server that answers garbage (at login; 离线开始 still works), a file that is not a
/// workbook (nothing created), and a replica file written by a newer client (refused at
/// start, the file untouched).
#[test]
fn bad_input_is_explained_and_the_app_keeps_working() {
    let data = tempfile::tempdir().unwrap();
    let replica_path = data.path().join("replica.sqlite3");
    let app = Desktop::start(data.path());
    app.wait_text("首次使用");
    app.type_into("input[data-test=server]", &garbage_server());
    app.click("#tab-login");
    app.type_into("input[data-test=mobile]", &mobile(1));
    app.type_into("input[data-test=password]", PASSWORD);
    app.click("[data-test=login]");
    app.wait_until("the login's refusal", |d| {
        d.text_of("[data-test=first-use-error]")
            .contains("服务器的回应无法识别")
    });
    app.screenshot("16-服务器回应无法识别");
    assert!(!replica_path.exists(), "nothing half made");

    app.click("#tab-offline");
    app.choose("[data-test=offline-unit]", "团锦江区委");
    app.click("[data-test=offline-start]");
    app.wait_text("团锦江区委(管理员)");
    let own = Replica::open(&replica_path).unwrap().own_id().to_owned();
    app.click("[data-test=home-create]");
    app.wait_text("1 下载并填写模板");
    let not_a_workbook = data.path().join("不是表格.xlsx");
    std::fs::write(&not_a_workbook, "组织简称,组织类别\n华润集团团委,团委\n").unwrap();
    app.type_into(
        "[data-test=import-upload] input[type=file]",
        not_a_workbook.to_str().unwrap(),
    );
    app.wait_until("the file's refusal", |d| {
        !d.text_of("[data-test=import-error]").trim().is_empty()
    });
    let message = app.text_of("[data-test=import-error]");
    assert!(message.contains("文件"), "{message}");
    app.screenshot("17-不是Excel文件");
    assert!(
        Replica::open(&replica_path)
            .unwrap()
            .children(&own)
            .unwrap()
            .is_empty()
    );
    drop(app);

    // The same data folder, written meanwhile by a newer client.
    {
        let conn = rusqlite::Connection::open(&replica_path).unwrap();
        conn.pragma_update(None, "journal_mode", "DELETE").unwrap();
        conn.pragma_update(None, "user_version", client_core::store::FORMAT + 1)
            .unwrap();
    }
    let before = std::fs::read(&replica_path).unwrap();
    let app = Desktop::start(data.path());
    app.wait_until("the newer file's refusal", |d| {
        d.text_of("[data-test=load-error]").contains("请升级客户端")
    });
    app.screenshot("18-较新版本的数据文件");
    drop(app);
    assert_eq!(
        std::fs::read(&replica_path).unwrap(),
        before,
        "the file untouched"
    );
}

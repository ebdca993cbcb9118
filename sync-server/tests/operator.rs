//! The operator commands of `zhtj-server`, run as a person would: issue a code, list,
//! rename and reorder a pre-initialized organization (each audited), back up the database,
//! show and set the campaign schedule (and `serve`'s schedule configuration).

use std::process::Command;

fn server(data: &std::path::Path, args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_zhtj-server"))
        .arg("--data")
        .arg(data)
        .args(args)
        .env("ZHTJ_LOG", "warn")
        .output()
        .expect("runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn audit_actions(data: &std::path::Path) -> Vec<String> {
    let c = rusqlite::Connection::open(data.join("zhtj-server.sqlite3")).unwrap();
    let mut stmt = c.prepare("SELECT action FROM audit ORDER BY id").unwrap();
    stmt.query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

#[test]
fn operator_commands_work_and_are_audited() {
    let dir = tempfile::TempDir::new().unwrap();
    let data = dir.path().join("data");

    let (ok, out, err) = server(&data, &["orgs"]);
    assert!(ok, "{err}");
    assert!(
        out.contains("团成都市委(org-5101,3级)的直属下级组织"),
        "{out}"
    );
    assert!(
        out.contains("团锦江区委") && out.contains("团简阳市委"),
        "{out}"
    );
    let first = out.lines().position(|l| l.contains("团锦江区委")).unwrap();
    let second = out.lines().position(|l| l.contains("团青羊区委")).unwrap();
    assert!(first < second, "code order: 锦江 before 青羊");

    let (ok, out, err) = server(&data, &["issue-code", "--org", "团锦江区委"]);
    assert!(ok, "{err}");
    let code = out
        .lines()
        .next()
        .unwrap()
        .rsplit(':')
        .next()
        .unwrap()
        .trim()
        .to_owned();
    assert!(schemas::RegistrationCode::parse(&code).is_ok(), "{out}");
    assert!(
        out.contains(&format!("注册方法:zhtj register --code {code}")),
        "{out}"
    );

    // 核对: reorder 团青羊区委 above 团锦江区委.
    let (ok, _, err) = server(&data, &["reorder", "--org", "团青羊区委", "up"]);
    assert!(ok, "{err}");
    let (_, out, _) = server(&data, &["orgs"]);
    let first = out.lines().position(|l| l.contains("团锦江区委")).unwrap();
    let second = out.lines().position(|l| l.contains("团青羊区委")).unwrap();
    assert!(second < first, "{out}");
    let (ok, _, err) = server(&data, &["reorder", "--org", "团青羊区委", "up"]);
    assert!(!ok && err.contains("order.edge"), "{err}");

    // 核对: rename; a name that is not a Chengdu division is refused.
    let (ok, _, err) = server(
        &data,
        &[
            "rename",
            "--org",
            "org-510112",
            "--short-name",
            "团火星区委",
        ],
    );
    assert!(!ok && err.contains("short_name.unknown_division"), "{err}");
    let (ok, out, err) = server(
        &data,
        &[
            "rename",
            "--org",
            "org-510112",
            "--short-name",
            "团龙泉驿区委",
        ],
    );
    assert!(ok, "{err}");
    assert!(
        out.contains("中国共产主义青年团成都市龙泉驿区委员会"),
        "{out}"
    );

    let actions = audit_actions(&data);
    for a in [
        "tree.initialize",
        "code.operator_issue",
        "operator.reorder",
        "operator.rename",
    ] {
        assert!(actions.iter().any(|x| x == a), "{a} in {actions:?}");
    }

    // Backup: a consistent copy that opens and holds the same organizations.
    let copy = dir.path().join("backup.sqlite3");
    let (ok, _, err) = server(&data, &["backup", "--out", copy.to_str().unwrap()]);
    assert!(ok, "{err}");
    let count = |p: &std::path::Path| -> i64 {
        rusqlite::Connection::open(p)
            .unwrap()
            .query_row("SELECT COUNT(*) FROM orgs", [], |r| r.get(0))
            .unwrap()
    };
    assert_eq!(count(&copy), count(&data.join("zhtj-server.sqlite3")));
    assert_eq!(count(&copy), 23);
}

#[test]
fn the_schedule_is_shown_set_refused_and_reset() {
    let dir = tempfile::TempDir::new().unwrap();
    let data = dir.path().join("data");
    // The notice's schedule until one is set.
    let (ok, out, err) = server(&data, &["schedule"]);
    assert!(ok, "{err}");
    assert!(out.contains("活动开始日期:2017-12-15"), "{out}");
    assert!(
        out.contains("4.info") && out.contains("2017-12-18"),
        "{out}"
    );
    assert!(out.contains("四级组织录入本级组织信息"), "{out}");

    let (ok, out, err) = server(
        &data,
        &["schedule", "--start", "2026-12-01", "4.info=2026-12-05"],
    );
    assert!(ok, "{err}");
    assert!(out.contains("已保存活动日程"), "{out}");
    assert!(out.contains("活动开始日期:2026-12-01"), "{out}");
    let line = |out: &str, item: &str| {
        out.lines()
            .find(|l| l.trim_start().starts_with(&format!("{item} ")))
            .unwrap_or_else(|| panic!("{item} in {out}"))
            .to_owned()
    };
    assert!(line(&out, "4.info").contains("2026-12-05"), "{out}");
    // The notice's distances kept: level 5 information 11 days after the start.
    assert!(line(&out, "5.info").contains("2026-12-12"), "{out}");

    // Refused with the reason, nothing changed.
    let (ok, _, err) = server(&data, &["schedule", "4.codes=2026-11-30"]);
    assert!(!ok);
    assert!(err.contains("schedule.invalid"), "{err}");
    assert!(
        err.contains("四级组织为直属下级组织分配管理员注册码(4.codes)的截止日期2026-11-30早于活动开始日期2026-12-01"),
        "{err}"
    );
    let (ok, _, err) = server(&data, &["schedule", "4.plan=2026-12-20"]);
    assert!(!ok && err.contains("没有“4.plan”这一事项"), "{err}");
    let (_, out, _) = server(&data, &["schedule"]);
    assert!(line(&out, "4.info").contains("2026-12-05"), "{out}");

    let (ok, out, err) = server(&data, &["schedule", "--reset"]);
    assert!(ok, "{err}");
    assert!(out.contains("活动开始日期:2017-12-15"), "{out}");
    assert!(audit_actions(&data).iter().any(|a| a == "schedule.set"));
}

#[test]
fn serve_takes_the_schedule_from_its_configuration() {
    use std::io::BufRead;
    let dir = tempfile::TempDir::new().unwrap();
    let data = dir.path().join("data");
    let serve = |extra: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_zhtj-server"))
            .arg("--data")
            .arg(&data)
            .args(["serve", "--listen", "127.0.0.1:0"])
            .args(extra)
            .env("ZHTJ_LOG", "warn")
            .env_remove("ZHTJ_SCHEDULE")
            .env_remove("ZHTJ_SCHEDULE_START")
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    // A configured schedule that breaks its rules: the server does not start.
    let out = serve(&["--schedule", "9.info=2026-12-20"])
        .wait_with_output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("没有“9.info”这一事项"), "{err}");

    let mut child = serve(&[
        "--schedule-start",
        "2026-12-01",
        "--schedule",
        "4.info=2026-12-20,5.info=2026-12-22",
    ]);
    let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let mut printed = Vec::new();
    for line in lines.by_ref() {
        let line = line.unwrap();
        let done = line.contains("按 Ctrl+C 停止");
        printed.push(line);
        if done {
            break;
        }
    }
    // The first code's printout says how to register.
    assert!(
        printed
            .iter()
            .any(|l| l.starts_with("注册方法:zhtj register --code ")),
        "{printed:?}"
    );
    let (ok, out, err) = server(&data, &["schedule"]);
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(ok, "{err}");
    assert!(out.contains("活动开始日期:2026-12-01"), "{out}");
    assert!(
        out.contains("2026-12-20") && out.contains("2026-12-22"),
        "{out}"
    );
}

/// `check-rollups`: a fresh tree agrees; a roll-up changed behind the server's back is found
/// (exit code 1, the organization and level named), `--repair` computes it anew (audited),
/// and then it agrees again.
#[test]
fn check_rollups_finds_and_repairs_a_wrong_roll_up() {
    let dir = tempfile::TempDir::new().unwrap();
    let data = dir.path().join("data");
    let (ok, out, err) = server(&data, &["check-rollups"]);
    assert!(ok, "{err}");
    assert!(out.contains("一致"), "{out}");

    let c = rusqlite::Connection::open(data.join("zhtj-server.sqlite3")).unwrap();
    let changed = c
        .execute(
            "UPDATE subtree_levels SET total = total + 5 WHERE org_id = 'org-5101' AND level = 4",
            [],
        )
        .unwrap();
    assert_eq!(changed, 1);
    drop(c);
    let (ok, out, err) = server(&data, &["check-rollups"]);
    assert!(!ok, "a wrong roll-up fails the check: {out}");
    assert!(
        out.contains("不一致") && out.contains("org-5101 level 4"),
        "{out}"
    );
    assert!(err.contains("--repair"), "{err}");

    let (ok, out, err) = server(&data, &["check-rollups", "--repair"]);
    assert!(ok, "{err}");
    assert!(out.contains("已按组织树全量重新计算"), "{out}");
    assert!(audit_actions(&data).contains(&"operator.rollups_repair".to_owned()));
    let (ok, out, err) = server(&data, &["check-rollups"]);
    assert!(
        ok && out.contains("一致") && !out.contains("不一致"),
        "{out}{err}"
    );
}

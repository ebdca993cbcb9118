//! The operator commands of `zhtj-server`, run as a person would: issue a code, list,
//! rename and reorder a pre-initialized organization (each audited), back up the database.

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

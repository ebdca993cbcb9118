//! The `zhtj` command line, run as a real process on a fresh data directory: the whole
//! offline job of a unit (rules.md §3, §6, §7, §10, §11) and the refusals, with the exit codes
//! scripts rely on (0 ok, 1 refused, 2 usage, 3 not found, 4 storage or file).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use calamine::{Data, Range, Reader, Xlsx, open_workbook};
use rust_xlsxwriter::Workbook;
use schemas::IdNumber;
use serde_json::Value;
use tempfile::TempDir;

/// A data directory and the runner of `zhtj` on it.
struct Zhtj {
    dir: TempDir,
}

impl Zhtj {
    fn new() -> Zhtj {
        Zhtj {
            dir: TempDir::new().unwrap(),
        }
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn file(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn run(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_zhtj"))
            .arg("--data")
            .arg(self.data())
            .args(args)
            .env_remove("ZHTJ_DATA")
            .output()
            .unwrap()
    }

    /// Run, expect success, return stdout.
    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "zhtj {args:?} failed ({:?}):\nstdout:\n{}\nstderr:\n{}",
            out.status.code(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// Run with `--json`, expect success, parse stdout.
    fn json(&self, args: &[&str]) -> Value {
        let mut all = vec!["--json"];
        all.extend_from_slice(args);
        let text = self.ok(&all);
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{args:?}: {e}\n{text}"))
    }

    /// Run, expect exit code `code`, return stderr.
    fn fails(&self, code: i32, args: &[&str]) -> String {
        let out = self.run(args);
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert_eq!(
            out.status.code(),
            Some(code),
            "zhtj {args:?}: expected exit {code}\nstdout:\n{}\nstderr:\n{stderr}",
            String::from_utf8_lossy(&out.stdout)
        );
        stderr
    }
}

/// A valid 18-character ID number (锦江区, born 1990-03-07), check character computed.
fn valid_id_number() -> String {
    let first17 = "51010419900307123";
    format!("{first17}{}", IdNumber::check_char(first17).unwrap())
}

fn sheet(path: &Path, name: &str) -> Range<Data> {
    let mut wb: Xlsx<_> = open_workbook(path).unwrap();
    wb.worksheet_range(name).unwrap()
}

fn cell(range: &Range<Data>, row: u32, col: u32) -> String {
    range
        .get_value((row, col))
        .map(|d| d.to_string())
        .unwrap_or_default()
}

/// Fill the template the CLI wrote: read its header row, then write a workbook with the
/// same headers on sheet 下级组织 and `rows` below (a cell per header, "" = blank; a
/// cell that parses as a number is written as a number, as Excel users type them).
fn fill_template(template: &Path, out: &Path, rows: &[&[&str]]) {
    let headers = sheet(template, "下级组织");
    let width = headers.width() as u32;
    let mut wb = Workbook::new();
    let ws = wb.add_worksheet();
    ws.set_name("下级组织").unwrap();
    for col in 0..width {
        ws.write_string(0, col as u16, cell(&headers, 0, col))
            .unwrap();
    }
    assert!(cell(&headers, 0, 0).starts_with("组织简称"));
    assert!(cell(&headers, 0, 1).starts_with("组织类别"));
    for (i, row) in rows.iter().enumerate() {
        for (col, value) in row.iter().enumerate() {
            if value.is_empty() {
                continue;
            }
            let r = 1 + i as u32;
            match value.parse::<f64>() {
                Ok(n) if !value.starts_with('0') => ws.write_number(r, col as u16, n),
                _ => ws.write_string(r, col as u16, *value),
            }
            .unwrap();
        }
    }
    wb.save(out).unwrap();
}

fn children(z: &Zhtj, parent: &str) -> Vec<(String, String)> {
    z.json(&["list", "--parent", parent])["children"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["short_name"].as_str().unwrap().to_owned(),
                c["id"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn is_code(s: &str) -> bool {
    s.chars().count() == schemas::code::LEN
        && s.chars().all(|c| schemas::code::ALPHABET.contains(c))
}

#[test]
fn the_whole_offline_job_of_a_unit() {
    let z = Zhtj::new();

    // --- start the replica offline for a pre-initialized unit
    let out = z.ok(&["init", "团锦江区委"]);
    assert!(out.contains("团锦江区委"), "{out}");
    assert!(z.data().join("replica.sqlite3").is_file());
    let status = z.json(&["status"]);
    assert_eq!(status["own_short_name"], "团锦江区委");
    assert_eq!(status["own_id"], "org-510104");
    assert_eq!(status["orgs"], 1);

    // --- the own unit's information, incomplete, then filled (rules.md §3, profile A)
    let shown = z.json(&["show"]);
    assert_eq!(shown["complete"], false);
    let missing: Vec<&str> = shown["missing"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m.as_str().unwrap())
        .collect();
    assert!(missing.contains(&"secretary_id_number"), "{missing:?}");
    assert!(missing.contains(&"email"), "{missing:?}");

    let id_number = valid_id_number();
    let id_arg = format!("书记身份证号码={id_number}");
    let out = z.ok(&[
        "set",
        "团组织联系电话=028-61310936",
        "团组织电子邮箱=jinjiang@example.com",
        "本级团组织行政编制数=3",
        "行政编制实际配备数=2",
        "本级团组织事业编制数=0",
        "事业编制实际配备数=0",
        "secretary_name=张三",
        &id_arg,
    ]);
    assert!(out.contains("仍缺少必填项:书记手机号码"), "{out}");
    assert!(
        !out.contains(&id_number),
        "ID number printed unmasked: {out}"
    );
    assert!(out.contains("510104********"), "{out}");
    let out = z.ok(&["set", "书记手机号码=13812345678"]);
    assert!(out.contains("本组织信息已完整"), "{out}");
    assert!(out.contains("138****5678"), "{out}");

    let out = z.ok(&["show"]);
    assert!(out.contains("组织信息完整:是"), "{out}");
    assert!(out.contains("书记姓名"), "{out}");
    assert!(out.contains("张三"), "{out}");
    assert!(!out.contains(&id_number), "show masks the ID number: {out}");
    assert!(!out.contains("13812345678"), "show masks the mobile: {out}");
    assert!(out.contains("待同步"), "{out}");
    let out = z.ok(&["show", "--full"]);
    assert!(out.contains(&id_number), "{out}");
    assert!(out.contains("13812345678"), "{out}");
    let shown = z.json(&["show", "团锦江区委"]);
    assert_eq!(shown["complete"], true);
    assert_eq!(shown["pending"], true);
    assert_eq!(shown["fields"].as_array().unwrap().len(), 15);

    // --- create a 团工委, then a 团支部 under it (rules.md §2, §6)
    let committee = z.json(&[
        "create",
        "--category",
        "团工委",
        "--name",
        "锦江工业园区团工委",
    ]);
    let committee_id = committee["id"].as_str().unwrap().to_owned();
    assert_eq!(
        committee["full_name"],
        "中国共产主义青年团成都市锦江区锦江工业园区工作委员会"
    );
    let preview = z.ok(&[
        "preview-name",
        "--category",
        "团支部",
        "--name",
        "包装车间团支部",
        "--parent",
        "锦江工业园区团工委",
    ]);
    let out = z.ok(&[
        "create",
        "--category",
        "团支部",
        "--name",
        "包装车间团支部",
        "--parent",
        "锦江工业园区团工委",
        "--industry",
        "非公企业",
        "--youth",
        "25",
    ]);
    let full_name = "中国共产主义青年团成都市锦江区锦江工业园区包装车间支部委员会";
    assert_eq!(preview.trim(), full_name);
    assert!(out.contains(full_name), "{out}");
    assert!(out.contains("组织编号:"), "{out}");

    // --- batch creation from the template (rules.md §10)
    let template = z.file("导入模板.xlsx");
    z.ok(&["template", template.to_str().unwrap()]);
    assert!(template.is_file());
    let filled = z.file("园区下级组织.xlsx");
    fill_template(
        &template,
        &filled,
        &[
            &[
                "喷涂车间团支部",
                "团支部",
                "",
                "非公企业",
                "028-61310937",
                "",
                "30",
                "",
            ],
            &["质检科团支部", "团支部", "", "", "", "", "", ""],
            &[
                "园区服务中心团总支",
                "团总支",
                "",
                "事业单位（不含公立学校）",
                "",
                "",
                "",
                "",
            ],
        ],
    );
    let out = z.ok(&[
        "import",
        filled.to_str().unwrap(),
        "--parent",
        &committee_id,
    ]);
    assert!(out.contains("3个"), "{out}");
    assert!(!z.file("园区下级组织-错误标注.xlsx").exists());
    let kids: Vec<String> = children(&z, "锦江工业园区团工委")
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    assert_eq!(
        kids,
        [
            "包装车间团支部",
            "喷涂车间团支部",
            "质检科团支部",
            "园区服务中心团总支"
        ]
    );
    let sprayed = z.json(&["show", "喷涂车间团支部"]);
    let industry = sprayed["fields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["key"] == "industry")
        .unwrap();
    assert_eq!(industry["value"], "非公企业");
    // An ancestor fills a branch's information on its behalf.
    z.ok(&["set", "--org", "喷涂车间团支部", "书记姓名=李四"]);
    // Its history, offline: this replica's changes, not yet confirmed by a server.
    let history = z.ok(&["history", "喷涂车间团支部", "--field", "书记姓名"]);
    assert!(history.contains("修改记录,共1条"), "{history}");
    assert!(
        history.contains("书记姓名:(未填写) → 李四  —— 本机(尚未同步到服务器)"),
        "{history}"
    );
    let history = z.json(&["history", "喷涂车间团支部"]);
    assert_eq!(history["source"], "local");
    let entries = history["entries"].as_array().unwrap();
    assert_eq!(entries[0]["kind"], "created");
    assert!(
        entries
            .iter()
            .all(|e| e["by"]["kind"] == "local" && e["mine"] == true)
    );

    // --- the tree shows everything, indented, with its marks
    let tree = z.ok(&["tree"]);
    let lines: Vec<&str> = tree.lines().collect();
    assert!(lines[0].starts_with("团锦江区委(团的领导机关)"), "{tree}");
    assert!(!lines[0].contains("信息不完整"), "{tree}");
    assert!(
        lines[1].contains("└─ 锦江工业园区团工委(团工委) [信息不完整] [待同步]"),
        "{tree}"
    );
    for (i, name) in ["包装车间团支部", "喷涂车间团支部", "质检科团支部"]
        .iter()
        .enumerate()
    {
        let line = lines[2 + i];
        assert!(line.starts_with("   ├─ "), "{tree}");
        assert!(line.contains(&format!("{name}(团支部)")), "{tree}");
    }
    assert!(
        lines[5].starts_with("   └─ 园区服务中心团总支(团总支)"),
        "{tree}"
    );
    let json_tree = z.json(&["tree"]);
    let depths: Vec<u64> = json_tree
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["depth"].as_u64().unwrap())
        .collect();
    assert_eq!(depths, [0, 1, 2, 2, 2, 2]);

    // --- reorder (上移 / 下移), by name and by the list's 序号
    let out = z.ok(&["move", "质检科团支部", "up"]);
    assert!(out.contains("已上移:质检科团支部"), "{out}");
    z.ok(&["move", "1", "下移", "--parent", "锦江工业园区团工委"]);
    let kids: Vec<String> = children(&z, "锦江工业园区团工委")
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    assert_eq!(
        kids,
        [
            "质检科团支部",
            "包装车间团支部",
            "喷涂车间团支部",
            "园区服务中心团总支"
        ]
    );
    let list = z.ok(&["list", "--parent", "锦江工业园区团工委"]);
    assert!(list.contains("序号"), "{list}");
    assert!(
        list.lines()
            .any(|l| l.starts_with("1 ") && l.contains("质检科团支部")),
        "{list}"
    );

    // --- registration codes (rules.md §7): one, then the batch exported to Excel
    let out = z.ok(&["code", "锦江工业园区团工委"]);
    assert!(out.contains("管理员注册码:"), "{out}");
    assert!(out.contains("注册方法:zhtj register --code "), "{out}");
    assert!(out.contains("有效期至:"), "{out}");
    let single = out
        .lines()
        .find_map(|l| l.strip_prefix("管理员注册码:"))
        .unwrap()
        .trim()
        .to_owned();
    assert!(is_code(&single), "{single}");

    let codes_file = z.file("注册码.xlsx");
    let out = z.ok(&[
        "codes",
        "--parent",
        "锦江工业园区团工委",
        "--export",
        codes_file.to_str().unwrap(),
    ]);
    assert!(out.contains("新生成了注册码"), "{out}");
    assert!(out.contains("已导出4个注册码"), "{out}");
    // A second batch issues nothing new and lists the same codes.
    let batch = z.json(&["codes", "--parent", "锦江工业园区团工委"]);
    assert_eq!(batch["issued"], 0);
    let listed: BTreeMap<String, String> = batch["children"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["short_name"].as_str().unwrap().to_owned(),
                c["code"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(listed.len(), 4);
    let range = sheet(&codes_file, "管理员注册码");
    assert_eq!(cell(&range, 3, 2), "管理员注册码");
    let mut exported = BTreeMap::new();
    for row in 4..4 + 4 {
        let code = cell(&range, row, 2);
        assert!(is_code(&code), "row {row}: {code:?}");
        assert!(!cell(&range, row, 3).is_empty(), "row {row} has no expiry");
        exported.insert(cell(&range, row, 0), code);
    }
    assert_eq!(cell(&range, 8, 0), "");
    assert_eq!(exported, listed);
    // The own unit's batch: the 团工委 keeps the code issued singly.
    let own_batch = z.json(&["codes"]);
    assert_eq!(own_batch["issued"], 0);
    assert_eq!(own_batch["children"][0]["code"], single.as_str());

    // --- the subtree table (mobiles masked, rules.md §9)
    let table = z.file("组织列表.xlsx");
    let out = z.ok(&["export", table.to_str().unwrap()]);
    assert!(out.contains("已导出6个组织"), "{out}");
    let range = sheet(&table, "组织列表");
    let mut names = Vec::new();
    for row in 2..2 + 6 {
        names.push(cell(&range, row, 2));
    }
    assert!(names.contains(&"团锦江区委".to_owned()), "{names:?}");
    assert!(
        names.contains(&"园区服务中心团总支".to_owned()),
        "{names:?}"
    );
    assert_eq!(cell(&range, 2, 9), "138****5678");

    // --- progress (rules.md §11): a tab per level below, and the committee without branch
    let out = z.ok(&["progress"]);
    assert!(out.contains("【五级组织录入情况】"), "{out}");
    assert!(out.contains("【六级组织录入情况】"), "{out}");
    assert!(out.contains("共有五级组织1个"), "{out}");
    assert!(out.contains("组织信息是否完整"), "{out}");
    assert!(out.contains("园区服务中心团总支"), "{out}");
    let progress = z.json(&["progress"]);
    let levels = progress["levels"].as_array().unwrap();
    assert_eq!(levels.len(), 2);
    assert_eq!(levels[0]["title"], "五级组织录入情况");
    assert_eq!(levels[0]["counts"]["total"], 1);
    assert_eq!(levels[1]["counts"]["total"], 4);
    assert!(
        levels[1]["sentence"]
            .as_str()
            .unwrap()
            .contains("共有六级组织4个")
    );
    assert_eq!(progress["without_branch"][0], "园区服务中心团总支");

    // --- delete a leaf: gone from the tree, still counted as a tombstone to sync
    let out = z.ok(&["delete", "质检科团支部"]);
    assert!(out.contains("已删除:质检科团支部"), "{out}");
    assert!(!z.ok(&["tree"]).contains("质检科团支部"));
    let status = z.json(&["status"]);
    assert_eq!(status["orgs"], 6);
    assert_eq!(status["pending"], 6);
}

#[test]
fn refusals_and_exit_codes() {
    let z = Zhtj::new();

    // 3: no replica yet, an unknown pre-initialized unit.
    let err = z.fails(3, &["show"]);
    assert!(err.starts_with("错误[replica.missing]:"), "{err}");
    let err = z.fails(3, &["init", "团火星区委"]);
    assert!(err.starts_with("错误[init.unknown_unit]:"), "{err}");
    assert!(!z.data().join("replica.sqlite3").exists());

    // By division code; a second init is refused.
    let out = z.ok(&["init", "510104"]);
    assert!(out.contains("团锦江区委"), "{out}");
    let err = z.fails(1, &["init", "团锦江区委"]);
    assert!(err.starts_with("错误[replica.exists]:"), "{err}");

    // 1: a bad mobile, every violation on its own line, nothing saved.
    let err = z.fails(1, &["set", "书记姓名=张三", "书记手机号码=12345678901"]);
    assert!(err.starts_with("错误[mobile.format]:"), "{err}");
    assert!(
        err.lines()
            .any(|l| l.trim_start().starts_with("书记手机号码:") && l.contains("[mobile.format]")),
        "{err}"
    );
    let err = z.fails(
        1,
        &[
            "set",
            "书记身份证号码=510104199003071230",
            "团组织电子邮箱=不是邮箱",
        ],
    );
    assert_eq!(err.lines().count(), 3, "{err}");
    let shown = z.json(&["show"]);
    let name = shown["fields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["key"] == "secretary_name")
        .unwrap();
    assert_eq!(name["value"], "", "a refused set saves nothing");
    // The parent's fields are not the unit's to change.
    let err = z.fails(1, &["set", "组织简称=团青羊区委"]);
    assert!(err.contains("permission.field"), "{err}");

    // 2: fields the CLI does not know, malformed pairs.
    let err = z.fails(2, &["set", "书记手机=13812345678"]);
    assert!(err.starts_with("错误[cli.unknown_field]:"), "{err}");
    let err = z.fails(2, &["set", "书记姓名"]);
    assert!(err.starts_with("错误[cli.bad_pair]:"), "{err}");

    // 3: unknown organizations.
    let err = z.fails(3, &["show", "不存在团支部"]);
    assert!(err.starts_with("错误[org.not_found]:"), "{err}");
    z.fails(3, &["code", "不存在团支部"]);
    z.fails(
        3,
        &[
            "create",
            "--category",
            "团支部",
            "--name",
            "甲团支部",
            "--parent",
            "乙团委",
        ],
    );

    // 1: names against the rules (rules.md §5), duplicates, the own unit, the edges.
    let err = z.fails(
        1,
        &["create", "--category", "团支部", "--name", "包装车间团委"],
    );
    assert!(err.contains("short_name"), "{err}");
    z.ok(&["create", "--category", "团支部", "--name", "包装车间团支部"]);
    let err = z.fails(
        1,
        &["create", "--category", "团支部", "--name", "包装车间团支部"],
    );
    assert!(err.starts_with("错误[short_name.duplicate]:"), "{err}");
    let err = z.fails(1, &["create", "--category", "团小组", "--name", "甲团小组"]);
    assert!(err.contains("category.unknown"), "{err}");
    let err = z.fails(1, &["delete", "团锦江区委"]);
    assert!(err.starts_with("错误[delete.own]:"), "{err}");
    let err = z.fails(1, &["move", "包装车间团支部", "up"]);
    assert!(err.starts_with("错误[order.edge]:"), "{err}");
    let err = z.fails(1, &["code", "团锦江区委"]);
    assert!(err.starts_with("错误[code.own]:"), "{err}");
    let err = z.fails(
        1,
        &[
            "create",
            "--category",
            "团支部",
            "--name",
            "甲团支部",
            "--parent",
            "包装车间团支部",
        ],
    );
    assert!(err.contains("category.not_allowed"), "{err}");

    // 1: an import with failing rows creates nothing, lists every failing row and writes
    // the annotated copy next to the file.
    let template = z.file("模板.xlsx");
    z.ok(&["template", template.to_str().unwrap()]);
    let bad = z.file("有错误的导入.xlsx");
    fill_template(
        &template,
        &bad,
        &[
            &["喷涂车间团支部", "团支部", "", "", "", "", "", ""],
            &["质检科团支部", "团小组", "", "", "", "", "", ""],
            &["喷涂车间团支部", "团支部", "", "", "", "", "", ""],
            &["仓库团支部", "团支部", "", "", "12345", "", "", ""],
            &["包装车间团支部", "团支部", "", "", "", "", "", ""],
        ],
    );
    let err = z.fails(1, &["import", bad.to_str().unwrap()]);
    assert!(err.starts_with("错误[excel.rows_invalid]:"), "{err}");
    for row in [3, 4, 5, 6] {
        assert!(
            err.contains(&format!("第{row}行 ")),
            "row {row} missing: {err}"
        );
    }
    assert!(!err.contains("第2行"), "{err}");
    assert!(err.contains("第3行 组织类别:"), "{err}");
    assert!(err.contains("第5行 联系电话:"), "{err}");
    let annotated = z.file("有错误的导入-错误标注.xlsx");
    assert!(annotated.is_file());
    assert!(err.contains(annotated.to_str().unwrap()), "{err}");
    let names: Vec<String> = children(&z, "团锦江区委")
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    assert_eq!(
        names,
        ["包装车间团支部"],
        "a failing import creates nothing"
    );
    let chosen = z.file("标注.xlsx");
    z.fails(
        1,
        &[
            "import",
            bad.to_str().unwrap(),
            "--annotated",
            chosen.to_str().unwrap(),
        ],
    );
    assert!(chosen.is_file());
    // Not a spreadsheet: refused as a whole (1); a missing file: a file error (4).
    let text = z.file("说明.txt");
    std::fs::write(&text, "组织简称,组织类别\n").unwrap();
    let err = z.fails(1, &["import", text.to_str().unwrap()]);
    assert!(err.starts_with("错误[excel.not_spreadsheet]:"), "{err}");
    let err = z.fails(
        4,
        &["import", z.file("没有这个文件.xlsx").to_str().unwrap()],
    );
    assert!(err.starts_with("错误[io]:"), "{err}");
    let err = z.fails(
        4,
        &["export", z.file("没有这个目录/表.xlsx").to_str().unwrap()],
    );
    assert!(err.contains("没有这个目录"), "{err}");

    // 2: usage errors, from clap.
    z.fails(2, &[]);
    z.fails(2, &["frobnicate"]);
    z.fails(2, &["create", "--category", "团支部"]);
    z.fails(2, &["move", "包装车间团支部", "sideways"]);
    z.fails(2, &["set"]);
}

#[test]
fn every_subcommand_has_help() {
    let z = Zhtj::new();
    let top = z.ok(&["--help"]);
    for needle in [
        "退出码",
        "0  成功",
        "1  不符合规则",
        "2  用法错误",
        "3  找不到",
        "4  本地存储",
        "5  无法连接服务器",
        "6  尚未登录",
    ] {
        assert!(top.contains(needle), "{needle} not in --help:\n{top}");
    }
    assert!(
        !top.contains("stress-create"),
        "the stress command is hidden"
    );
    for sub in [
        "init",
        "show",
        "set",
        "create",
        "preview-name",
        "template",
        "import",
        "tree",
        "list",
        "move",
        "delete",
        "code",
        "codes",
        "export",
        "progress",
        "status",
        "history",
        "register",
        "login",
        "sync",
        "logout",
        "server-progress",
        "report",
        "stress-create",
    ] {
        let out = z.ok(&[sub, "--help"]);
        assert!(out.contains("Usage: zhtj"), "{sub}: {out}");
        if sub != "stress-create" {
            assert!(
                out.contains("退出码"),
                "{sub} --help documents exit codes: {out}"
            );
        }
    }
}

#[test]
fn data_directory_from_the_environment() {
    let dir = TempDir::new().unwrap();
    let data = dir.path().join("env-data");
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_zhtj"))
            .args(args)
            .env("ZHTJ_DATA", &data)
            .output()
            .unwrap()
    };
    assert!(run(&["init", "团青羊区委"]).status.success());
    assert!(data.join("replica.sqlite3").is_file());
    let out = run(&["--json", "status"]);
    assert!(out.status.success());
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["own_short_name"], "团青羊区委");
}

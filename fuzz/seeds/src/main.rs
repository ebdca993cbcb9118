//! Write the seed corpora into fuzz/corpus/<target>/seed-* (overwriting earlier seeds;
//! libFuzzer's own finds, named by their hash, are left alone).

use std::fs;
use std::path::{Path, PathBuf};

use automerge::transaction::{CommitOptions, Transactable};
use automerge::{ActorId, AutoCommit, ROOT};
use client_core::doc;
use client_core::excel::{IMPORT_HEADERS, IMPORT_SHEET, write_template};
use client_core::protocol::{self, PullRequest, PushDoc, PushRequest};
use rust_xlsxwriter::Workbook;
use schemas::org::{CodeRecord, OrgRecord};
use schemas::{Category, Level};

/// The fixed "now" of the push_decode_merge target.
const NOW: i64 = 1_704_067_200;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn write(target: &str, name: &str, bytes: &[u8]) {
    let dir = root().join("fuzz/corpus").join(target);
    fs::create_dir_all(&dir).unwrap();
    fs::write(dir.join(format!("seed-{name}")), bytes).unwrap();
    println!("{target}/seed-{name}: {} bytes", bytes.len());
}

fn tree() -> Vec<OrgRecord> {
    schemas::initial::initial_tree()
}

/// A new organization under `parent` (a record of the tree or a new one).
fn child(id: &str, parent: &OrgRecord, category: Category, short: &str) -> OrgRecord {
    let mut r = OrgRecord::new(id, parent.id.clone(), Level::new(parent.level + 1).unwrap());
    r.category = category.label().into();
    r.short_name = short.into();
    r.full_name = format!(
        "中国共产主义青年团成都市{}委员会",
        short.trim_end_matches("团委")
    );
    r.phone = "028-86661234".into();
    r.email = "youth@example.cn".into();
    r.youth_count = "120".into();
    r.recommended_count = "3".into();
    r.secretary_name = "张三".into();
    r.secretary_id_number = "11010519491231002X".into();
    r.secretary_mobile = "13800138000".into();
    r.industry = schemas::Industry::ALL[0].label().into();
    r
}

fn genesis(r: &OrgRecord, actor: &str) -> AutoCommit {
    doc::genesis(r, ActorId::from(actor.as_bytes()), NOW).unwrap()
}

fn body(docs: Vec<PushDoc>) -> Vec<u8> {
    protocol::encode(&PushRequest { version: 1, docs, cursor: 0 }).unwrap()
}

fn spreadsheets() {
    let xls = fs::read(root().join("client-core/tests/fixtures/import.xls")).unwrap();
    write("excel_import", "import.xls", &xls);

    let tmp = std::env::temp_dir().join(format!("zhtj-fuzz-template-{}.xlsx", std::process::id()));
    write_template(&tmp).unwrap();
    let template = fs::read(&tmp).unwrap();
    write("excel_import", "template.xlsx", &template);
    write("xlsx_parts", "template.parts", &parts(&template));
    fs::remove_file(&tmp).unwrap();

    // A filled import sheet: a title line, the headers, rows good and bad, a number cell.
    let mut wb = Workbook::new();
    let sheet = wb.add_worksheet();
    sheet.set_name(IMPORT_SHEET).unwrap();
    sheet.write_string(0, 0, "团锦江区委直属下级组织").unwrap();
    for (c, h) in IMPORT_HEADERS.iter().enumerate() {
        sheet.write_string(1, c as u16, *h).unwrap();
    }
    let rows: [[&str; 8]; 3] = [
        [
            "锦江区实验学校团委",
            "团委",
            "中国共产主义青年团成都市锦江区实验学校委员会",
            "教育",
            "028-86661234",
            "youth@example.cn",
            "120",
            "3",
        ],
        [
            "包装车间团支部",
            "团支部",
            "",
            "",
            "13800138000",
            "",
            "",
            "",
        ],
        [
            " 大雅宝社区团支部 ",
            "团总支",
            "x",
            "?",
            "86661234",
            "a@b",
            "-1",
            "1000000",
        ],
    ];
    for (r, row) in rows.iter().enumerate() {
        for (c, v) in row.iter().enumerate() {
            sheet.write_string(r as u32 + 2, c as u16, *v).unwrap();
        }
    }
    sheet.write_number(5, 0, 2017.0).unwrap();
    sheet.write_number(5, 6, 12.0).unwrap();
    let filled = wb.save_to_buffer().unwrap();
    write("excel_import", "filled.xlsx", &filled);
    write("xlsx_parts", "filled.parts", &parts(&filled));
}

/// An `xlsx_parts` input: the workbook's shared strings, 0xFF, its first sheet.
fn parts(xlsx: &[u8]) -> Vec<u8> {
    use std::io::Read;
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(xlsx)).unwrap();
    let mut out = Vec::new();
    for (i, name) in ["xl/sharedStrings.xml", "xl/worksheets/sheet1.xml"]
        .into_iter()
        .enumerate()
    {
        if i > 0 {
            out.push(0xFF);
        }
        zip.by_name(name).unwrap().read_to_end(&mut out).unwrap();
    }
    out
}

fn documents() {
    let tree = tree();
    let city = &tree[2];
    let district = &tree[3];
    for r in [&tree[0], city, district] {
        let mut d = doc::deterministic_genesis(r).unwrap();
        write(
            "doc_read",
            &format!("{}.automerge", r.id),
            &d.save_nocompress(),
        );
    }
    // A document with history: edits, a code, a deletion; saved compressed and not, and
    // its changes alone.
    let mut r = child(
        "org-seed-1",
        district,
        Category::Committee,
        "锦江区实验学校团委",
    );
    let mut d = genesis(&r, "seed-a");
    let genesis_heads = d.get_heads();
    let before = r.clone();
    r.phone = "02886661235".into();
    r.codes.insert(
        "Ab3dE7fG".into(),
        CodeRecord {
            issued_at: NOW,
            expires_at: NOW + 20 * 86_400,
            issued_by: district.id.clone(),
        },
    );
    doc::write(&mut d, &before, &r, NOW + 1).unwrap();
    let mut other = d.fork().with_actor(ActorId::from(b"seed-b".as_slice()));
    other.put(ROOT, "phone", "13800138001").unwrap();
    other.commit_with(CommitOptions::default().with_time(NOW + 2));
    d.merge(&mut other).unwrap();
    write("doc_read", "history.automerge", &d.save_nocompress());
    write("doc_read", "history-compressed.automerge", &d.save());
    write(
        "doc_read",
        "changes.automerge",
        &d.save_after(&genesis_heads),
    );
}

fn pushes() {
    let tree = tree();
    let city = &tree[2];
    let district = &tree[3];
    // A new committee directly under 团成都市委 (the decoded bodies are pushed by its admin).
    let r = child(
        "org-seed-1",
        city,
        Category::Committee,
        "成都市第七中学团委",
    );
    let mut d = genesis(&r, "seed-a");
    write(
        "push_decode_merge",
        "create.body",
        &body(vec![PushDoc {
            id: r.id.clone(),
            changes: d.save(),
        }]),
    );

    // A parent and its child in one push, the child with a registration code.
    let parent = child(
        "org-seed-2",
        city,
        Category::Committee,
        "成都市第一人民医院团委",
    );
    let mut kid = child("org-seed-3", &parent, Category::Branch, "急诊科团支部");
    kid.codes.insert(
        "Ab3dE7fG".into(),
        CodeRecord {
            issued_at: NOW,
            expires_at: NOW + 20 * 86_400,
            issued_by: city.id.clone(),
        },
    );
    let mut pd = genesis(&parent, "seed-b");
    let mut kd = genesis(&kid, "seed-c");
    write(
        "push_decode_merge",
        "parent-child.body",
        &body(vec![
            PushDoc {
                id: parent.id.clone(),
                changes: pd.save(),
            },
            PushDoc {
                id: kid.id.clone(),
                changes: kd.save(),
            },
        ]),
    );

    // An edit of the city's own information, as changes since the stored heads.
    let mut cd = doc::deterministic_genesis(city).unwrap();
    let heads = cd.get_heads();
    let mut cd = cd.with_actor(ActorId::from(b"seed-d".as_slice()));
    let mut after = city.clone();
    after.phone = "028-86661234".into();
    after.email = "youth@example.cn".into();
    after.full_name = "中国共产主义青年团成都市委员会".into();
    doc::write(&mut cd, city, &after, NOW).unwrap();
    write(
        "push_decode_merge",
        "edit.body",
        &body(vec![PushDoc {
            id: city.id.clone(),
            changes: cd.save_after(&heads),
        }]),
    );

    // An edit of a district (a descendant): a rename and a deletion, refused.
    let mut dd = doc::deterministic_genesis(district).unwrap();
    let heads = dd.get_heads();
    let mut after = district.clone();
    after.short_name = "团锦江区委员会".into();
    after.deleted = true;
    doc::write(&mut dd, district, &after, NOW).unwrap();
    write(
        "push_decode_merge",
        "edit-district.body",
        &body(vec![PushDoc {
            id: district.id.clone(),
            changes: dd.save_after(&heads),
        }]),
    );

    write("push_decode_merge", "empty.body", &body(vec![]));
    write(
        "push_decode_merge",
        "pull.body",
        &protocol::encode(&PullRequest {
            version: 1,
            cursor: 0,
            limit: 500,
            lean: false,
        })
        .unwrap(),
    );
}

fn parsers() {
    // One selector byte (category, region, staffing field), then the text.
    let seeds: [(u8, &str); 14] = [
        (0, "团锦江区委"),
        (15, "团成都市委"),
        (2, "成都市第七中学团委"),
        (4, "计算机专业2017级3班团支部"),
        (1, "建国门街道团工委"),
        (3, "机关团总支"),
        (0, "中国共产主义青年团成都市锦江区委员会"),
        (0, "11010519491231002X|2005年5月"),
        (0, "028-86661234"),
        (0, "13800138000"),
        (0, "youth@example.cn"),
        (64, "１２０"),
        (0, "阿依古丽·买买提"),
        (0, "Ab3dE7fG"),
    ];
    for (i, (sel, text)) in seeds.iter().enumerate() {
        let mut bytes = vec![*sel];
        bytes.extend_from_slice(text.as_bytes());
        write("schemas_parsers", &format!("{i:02}"), &bytes);
    }
}

fn main() {
    spreadsheets();
    documents();
    pushes();
    parsers();
}

//! Excel in and out (rules.md §10, §7, §11) on real files: the template, reading uploads
//! (.xlsx and .xls, odd layouts, bad files), the annotated copy and the exports.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use calamine::{Data, Range, Reader, SheetVisible, Xlsx, open_workbook, open_workbook_auto};
use client_core::Error;
use client_core::excel::{
    CodeRow, ImportRow, MAX_CELL_CHARS, MAX_IMPORT_ROWS, OrgTableRow, read_import,
    read_import_bytes, write_annotated, write_codes, write_org_table, write_template,
};
use rust_xlsxwriter::{Format, Formula, Workbook, Worksheet};
use schemas::{Category, Field, Industry, Violation};
use tempfile::TempDir;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn code_of(result: Result<Vec<ImportRow>, Error>) -> (String, String) {
    match result {
        Ok(rows) => panic!("expected an error, got {} rows", rows.len()),
        Err(e) => (e.code().to_owned(), e.to_string()),
    }
}

/// Write a one-sheet workbook filled by `fill`.
fn write_xlsx(path: &Path, fill: impl FnOnce(&mut Worksheet)) {
    let mut wb = Workbook::new();
    let ws = wb.add_worksheet();
    fill(ws);
    wb.save(path).unwrap();
}

fn strings(range: &Range<Data>) -> Vec<Vec<String>> {
    range
        .rows()
        .map(|r| r.iter().map(|c| c.to_string()).collect())
        .collect()
}

fn cell(range: &Range<Data>, row: u32, col: u32) -> Data {
    range.get_value((row, col)).cloned().unwrap_or(Data::Empty)
}

/// Replace `from` by `to` in one member of an .xlsx (zip) file: how a test makes a cell
/// longer than Excel (and rust_xlsxwriter) allow.
fn replace_in_xlsx(path: &Path, member: &str, from: &str, to: &str) {
    let bytes = std::fs::read(path).unwrap();
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes)).unwrap();
    let mut out = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for i in 0..archive.len() {
        let mut file = archive.by_index(i).unwrap();
        let name = file.name().unwrap().into_owned();
        let mut content = Vec::new();
        file.read_to_end(&mut content).unwrap();
        if name == member {
            let text = String::from_utf8(content).unwrap();
            assert!(text.contains(from), "{member} lacks {from}");
            content = text.replace(from, to).into_bytes();
        }
        out.start_file(name, zip::write::SimpleFileOptions::default())
            .unwrap();
        out.write_all(&content).unwrap();
    }
    let written = out.finish().unwrap().into_inner();
    std::fs::write(path, written).unwrap();
}

fn zip_member(path: &Path, member: &str) -> String {
    let bytes = std::fs::read(path).unwrap();
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes)).unwrap();
    let mut text = String::new();
    archive
        .by_name(member)
        .unwrap()
        .read_to_string(&mut text)
        .unwrap();
    text
}

fn row(n: u32, short: &str, category: &str) -> ImportRow {
    ImportRow {
        row: n,
        short_name: short.into(),
        category: category.into(),
        ..ImportRow::default()
    }
}

// ---------------------------------------------------------------- template

#[test]
fn template_has_its_sheets_headers_lists_and_instructions() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("导入直属下级团组织模板.xlsx");
    write_template(&path).unwrap();

    let mut wb: Xlsx<_> = open_workbook(&path).unwrap();
    assert_eq!(wb.sheet_names(), ["下级组织", "填写说明", "选项"]);
    let visible: Vec<SheetVisible> = wb.sheets_metadata().iter().map(|s| s.visible).collect();
    assert_eq!(
        visible,
        [
            SheetVisible::Visible,
            SheetVisible::Visible,
            SheetVisible::Hidden
        ]
    );

    let sheet = wb.worksheet_range("下级组织").unwrap();
    assert_eq!(
        strings(&sheet),
        [[
            "组织简称*",
            "组织类别*",
            "组织全称",
            "单位所属行业类别",
            "联系电话",
            "电子邮箱",
            "14~28周岁青年数",
            "年度经推优入党团员数"
        ]]
    );
    // Required headers red and bold, the others bold only.
    let styles = wb.worksheet_style("下级组织").unwrap();
    for col in 0..8 {
        let font = styles.get((0, col)).unwrap().font.clone().unwrap();
        assert!(font.is_bold(), "header {col} bold");
        let red = font
            .color
            .is_some_and(|c| (c.red, c.green, c.blue) == (255, 0, 0));
        assert_eq!(red, col < 2, "header {col} red");
    }

    // The lists: on the hidden sheet, referenced by range, over rows 2..=10001.
    let options = wb.worksheet_range("选项").unwrap();
    for (i, c) in Category::ALL.iter().enumerate() {
        assert_eq!(
            cell(&options, 1 + i as u32, 0),
            Data::String(c.label().into())
        );
    }
    for (i, industry) in Industry::ALL.iter().enumerate() {
        assert_eq!(
            cell(&options, 1 + i as u32, 1),
            Data::String(industry.label().into())
        );
    }
    let xml = zip_member(&path, "xl/worksheets/sheet1.xml");
    assert!(xml.contains(r#"sqref="B2:B10001""#), "{xml}");
    assert!(xml.contains("<formula1>'选项'!$A$2:$A$6</formula1>"));
    assert!(xml.contains(r#"sqref="D2:D10001""#));
    assert!(xml.contains("<formula1>'选项'!$B$2:$B$17</formula1>"));
    assert!(xml.contains(r#"type="whole""#));
    assert!(xml.contains("<formula1>0</formula1><formula2>10000</formula2>"));
    assert!(xml.contains("<formula1>0</formula1><formula2>1000</formula2>"));
    assert!(
        xml.contains(r#"<pane ySplit="1" topLeftCell="A2""#),
        "frozen header"
    );

    // The instructions name the rules and the notice's examples.
    let text = strings(&wb.worksheet_range("填写说明").unwrap())
        .concat()
        .join("\n");
    for needle in [
        "组织简称",
        "组织类别",
        "团锦江区委",
        "建国门街道团委",
        "大雅宝社区团支部",
        "北控集团团委",
        "包装车间团支部",
        "2017级1班团支部",
        "计算机专业2017级3班团支部",
        "组织全称可以不填",
        "不会创建任何组织",
        "组织简称、组织全称、组织类别、单位所属行业类别一经创建后不可修改",
    ] {
        assert!(text.contains(needle), "填写说明 lacks {needle}");
    }

    // The empty template reads as "no data", not as a broken file.
    assert_eq!(code_of(read_import(&path)).0, "excel.empty");
}

// ---------------------------------------------------------------- reading .xlsx

/// A filled sheet the way users fill it: a title line, headers moved around and typed
/// loosely, an unknown column, blank rows, numbers typed as numbers, trailing spaces,
/// formulas with cached values, a merged cell, an error value.
fn write_filled(path: &Path, with_error_cell: bool) {
    write_xlsx(path, |ws| {
        let merged = Format::new();
        ws.merge_range(0, 0, 0, 8, "团锦江区委直属下级组织", &merged)
            .unwrap();
        let headers = [
            "备注",
            " 组织类别 * ",
            "组织简称＊",
            "组织全称",
            "单位所属行业类别",
            "联系电话",
            "电子邮箱",
            "１４～２８周岁青年数",
            "年度经推优入党团员数",
        ];
        for (c, h) in headers.iter().enumerate() {
            ws.write_string(1, c as u16, *h).unwrap();
        }
        // Row 3.
        ws.write_string(2, 0, "第一行").unwrap();
        ws.write_string(2, 1, "团委").unwrap();
        ws.write_string(2, 2, "北控集团团委").unwrap();
        ws.write_string(2, 4, "国有企业").unwrap();
        ws.write_number(2, 5, 13812345678.0).unwrap();
        ws.write_string(2, 6, "tw@bjec.com.cn").unwrap();
        ws.write_number(2, 7, 120).unwrap();
        ws.write_number(2, 8, 3).unwrap();
        // Row 4 blank. Row 5: a short name typed as the number 2017, trailing spaces.
        ws.write_string(4, 1, "团支部  ").unwrap();
        ws.write_number(4, 2, 2017).unwrap();
        ws.write_string(4, 3, "  中国共产主义青年团计算机学院2017级支部委员会 ")
            .unwrap();
        ws.write_string(4, 4, "普通高等院校").unwrap();
        ws.write_string(4, 5, "028-61310936").unwrap();
        ws.write_number(4, 7, 3.5).unwrap();
        // Row 6: only the unknown column.
        ws.write_string(5, 0, "只有备注").unwrap();
        // Row 7: formulas, read by their cached values.
        ws.write_formula(
            6,
            2,
            Formula::new(r#"="大雅宝社区"&"团支部""#).set_result("大雅宝社区团支部"),
        )
        .unwrap();
        ws.write_string(6, 1, "团支部").unwrap();
        if with_error_cell {
            ws.write_formula(6, 4, Formula::new("=NA()").set_result("#N/A"))
                .unwrap();
        } else {
            ws.write_formula(
                6,
                4,
                Formula::new(r#"="城市"&"社区""#).set_result("城市社区"),
            )
            .unwrap();
        }
        // Rows 8-9: the category merged over both rows.
        ws.write_string(7, 2, "包装车间团支部").unwrap();
        ws.merge_range(7, 1, 8, 1, "团支部", &merged).unwrap();
        ws.write_string(8, 2, "2017级1班团支部").unwrap();
        // Row 10: spaces only.
        ws.write_string(9, 2, "   ").unwrap();
        // Row 11.
        ws.write_string(10, 2, "计算机专业2017级3班团支部").unwrap();
        ws.write_string(10, 1, "团支部").unwrap();
        ws.write_number(10, 8, 0).unwrap();
    });
}

fn expected_filled(with_error_cell: bool) -> Vec<ImportRow> {
    let mut row7 = row(7, "大雅宝社区团支部", "团支部");
    if with_error_cell {
        row7.industry = "#N/A".into();
        row7.cell_errors = vec![Violation::error(
            "excel.cell_error",
            Some(Field::Industry),
            "“单位所属行业类别”列是错误值#N/A(公式出错或引用失效),请改为实际内容",
        )];
    } else {
        row7.industry = "城市社区".into();
    }
    vec![
        ImportRow {
            full_name: String::new(),
            industry: "国有企业".into(),
            phone: "13812345678".into(),
            email: "tw@bjec.com.cn".into(),
            youth_count: "120".into(),
            recommended_count: "3".into(),
            ..row(3, "北控集团团委", "团委")
        },
        ImportRow {
            full_name: "中国共产主义青年团计算机学院2017级支部委员会".into(),
            industry: "普通高等院校".into(),
            phone: "028-61310936".into(),
            youth_count: "3.5".into(),
            ..row(5, "2017", "团支部")
        },
        row7,
        row(8, "包装车间团支部", "团支部"),
        // The merged category is only in its top-left cell (row 8).
        row(9, "2017级1班团支部", ""),
        ImportRow {
            recommended_count: "0".into(),
            ..row(11, "计算机专业2017级3班团支部", "团支部")
        },
    ]
}

#[test]
fn filled_xlsx_reads_exact_rows() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("filled.xlsx");
    write_filled(&path, true);
    assert_eq!(read_import(&path).unwrap(), expected_filled(true));

    // The same bytes, whatever the name says.
    let bytes = std::fs::read(&path).unwrap();
    assert_eq!(
        read_import_bytes(&bytes, Some("上传.xls")).unwrap(),
        expected_filled(true)
    );
    let renamed = dir.path().join("filled.xls");
    std::fs::copy(&path, &renamed).unwrap();
    assert_eq!(read_import(&renamed).unwrap(), expected_filled(true));
}

#[test]
fn import_sheet_is_chosen_by_name_and_the_header_may_be_lower() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("two-sheets.xlsx");
    let mut wb = Workbook::new();
    wb.add_worksheet()
        .set_name("封面")
        .unwrap()
        .write_string(0, 0, "说明页")
        .unwrap();
    let ws = wb.add_worksheet();
    ws.set_name("下级组织").unwrap();
    // Header on row 10, the last row searched.
    ws.write_string(9, 3, "组织简称").unwrap();
    ws.write_string(9, 5, "组织类别").unwrap();
    ws.write_string(10, 3, "建国门街道团委").unwrap();
    ws.write_string(10, 5, "团委").unwrap();
    wb.save(&path).unwrap();
    assert_eq!(
        read_import(&path).unwrap(),
        [row(11, "建国门街道团委", "团委")]
    );
}

// ---------------------------------------------------------------- reading .xls

fn expected_xls() -> Vec<ImportRow> {
    vec![
        ImportRow {
            phone: "13812345678".into(),
            youth_count: "120".into(),
            industry: "国有企业".into(),
            ..row(3, "北控集团团委", "团委")
        },
        ImportRow {
            phone: "028-61310936".into(),
            youth_count: "3.5".into(),
            industry: "普通高等院校".into(),
            ..row(5, "2017", "团支部")
        },
        row(7, "包装车间团支部", "团支部"),
    ]
}

#[test]
fn xls_fixture_reads_even_renamed() {
    let xls = fixture("import.xls");
    assert_eq!(read_import(&xls).unwrap(), expected_xls());

    let dir = TempDir::new().unwrap();
    for name in ["renamed.xlsx", "no-extension"] {
        let copy = dir.path().join(name);
        std::fs::copy(&xls, &copy).unwrap();
        assert_eq!(read_import(&copy).unwrap(), expected_xls(), "{name}");
    }
    let bytes = std::fs::read(&xls).unwrap();
    assert_eq!(read_import_bytes(&bytes, None).unwrap(), expected_xls());
}

// ---------------------------------------------------------------- bad files

#[test]
fn text_file_renamed_xlsx_is_not_a_spreadsheet() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("名单.xlsx");
    std::fs::write(&path, "组织简称,组织类别\n北控集团团委,团委\n").unwrap();
    let (code, message) = code_of(read_import(&path));
    assert_eq!(code, "excel.not_spreadsheet");
    assert!(message.contains("名单.xlsx"), "{message}");

    for (bytes, hint) in [
        (b"".as_slice(), "空文件"),
        (
            b"<html><table><tr><td>1</td></tr></table></html>".as_slice(),
            "网页",
        ),
        (
            // A compound file (an .xls signature) with nothing valid inside.
            &[0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1, 0, 0, 0, 0][..],
            "密码",
        ),
    ] {
        let (code, message) = code_of(read_import_bytes(bytes, Some("x.xls")));
        assert_eq!(code, "excel.not_spreadsheet");
        assert!(message.contains(hint), "{message}");
    }

    // A zip that is not a workbook (a .docx, say).
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    zip.start_file(
        "word/document.xml",
        zip::write::SimpleFileOptions::default(),
    )
    .unwrap();
    zip.write_all(b"<w:document/>").unwrap();
    let bytes = zip.finish().unwrap().into_inner();
    assert_eq!(
        code_of(read_import_bytes(&bytes, Some("a.xlsx"))).0,
        "excel.not_spreadsheet"
    );

    // A truncated workbook.
    let path = dir.path().join("t.xlsx");
    write_filled(&path, false);
    let mut bytes = std::fs::read(&path).unwrap();
    bytes.truncate(bytes.len() / 2);
    assert_eq!(
        code_of(read_import_bytes(&bytes, None)).0,
        "excel.not_spreadsheet"
    );
}

#[test]
fn missing_file_is_an_io_error() {
    let dir = TempDir::new().unwrap();
    let err = read_import(&dir.path().join("nope.xlsx")).unwrap_err();
    assert_eq!(err.code(), "io");
}

#[test]
fn empty_workbooks_are_empty() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("empty.xlsx");
    write_xlsx(&path, |_| {});
    assert_eq!(code_of(read_import(&path)).0, "excel.empty");

    // Headers, then only blank rows.
    write_xlsx(&path, |ws| {
        ws.write_string(0, 0, "组织简称*").unwrap();
        ws.write_string(0, 1, "组织类别*").unwrap();
        ws.write_string(5, 0, "  ").unwrap();
    });
    let (code, message) = code_of(read_import(&path));
    assert_eq!(code, "excel.empty");
    assert!(message.contains("没有要导入的数据"), "{message}");
}

#[test]
fn wrong_headers_name_what_is_missing() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("wrong.xlsx");
    write_xlsx(&path, |ws| {
        ws.write_string(0, 0, "名称").unwrap();
        ws.write_string(0, 1, "类型").unwrap();
        ws.write_string(1, 0, "北控集团团委").unwrap();
        ws.write_string(1, 1, "团委").unwrap();
    });
    let (code, message) = code_of(read_import(&path));
    assert_eq!(code, "excel.missing_header");
    assert!(
        message.contains("组织简称") && message.contains("组织类别"),
        "{message}"
    );

    write_xlsx(&path, |ws| {
        ws.write_string(0, 0, "组织简称").unwrap();
        ws.write_string(0, 1, "类型").unwrap();
        ws.write_string(1, 0, "北控集团团委").unwrap();
    });
    let (code, message) = code_of(read_import(&path));
    assert_eq!(code, "excel.missing_header");
    assert!(
        message.contains("组织类别") && !message.contains("组织简称"),
        "{message}"
    );

    // A header below row 10 is not looked for.
    write_xlsx(&path, |ws| {
        ws.write_string(11, 0, "组织简称").unwrap();
        ws.write_string(11, 1, "组织类别").unwrap();
        ws.write_string(12, 0, "北控集团团委").unwrap();
        ws.write_string(12, 1, "团委").unwrap();
    });
    assert_eq!(code_of(read_import(&path)).0, "excel.missing_header");
}

#[test]
fn too_many_rows_is_refused() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("big.xlsx");
    write_xlsx(&path, |ws| {
        ws.write_string(0, 0, "组织简称*").unwrap();
        ws.write_string(0, 1, "组织类别*").unwrap();
        for r in 1..=100_000u32 {
            ws.write_string(r, 0, format!("第{r}团支部")).unwrap();
            ws.write_string(r, 1, "团支部").unwrap();
        }
    });
    let started = Instant::now();
    let (code, message) = code_of(read_import(&path));
    eprintln!("refusing 100,000 rows took {:?}", started.elapsed());
    assert_eq!(code, "excel.too_many_rows");
    assert!(message.contains("20000"), "{message}");

    // Exactly the limit is fine, blank rows between do not count.
    write_xlsx(&path, |ws| {
        ws.write_string(0, 0, "组织简称*").unwrap();
        ws.write_string(0, 1, "组织类别*").unwrap();
        for i in 0..MAX_IMPORT_ROWS as u32 {
            let r = 1 + i + i / 100; // a blank row every 100
            ws.write_string(r, 0, format!("第{i}团支部")).unwrap();
            ws.write_string(r, 1, "团支部").unwrap();
        }
    });
    let started = Instant::now();
    let rows = read_import(&path).unwrap();
    eprintln!("reading {} rows took {:?}", rows.len(), started.elapsed());
    assert_eq!(rows.len(), MAX_IMPORT_ROWS);
    assert_eq!(rows[100].row, 103);
}

#[test]
fn huge_cell_is_a_cell_error_on_its_row() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("huge.xlsx");
    let longest_excel_allows = "全".repeat(32_767);
    write_xlsx(&path, |ws| {
        ws.write_string(0, 0, "组织简称*").unwrap();
        ws.write_string(0, 1, "组织类别*").unwrap();
        ws.write_string(0, 2, "组织全称").unwrap();
        ws.write_string(1, 0, "北控集团团委").unwrap();
        ws.write_string(1, 1, "团委").unwrap();
        ws.write_string(2, 0, "HUGE_PLACEHOLDER").unwrap();
        ws.write_string(2, 1, "团支部").unwrap();
        ws.write_string(3, 0, "包装车间团支部").unwrap();
        ws.write_string(3, 1, "团支部").unwrap();
        ws.write_string(3, 2, &longest_excel_allows).unwrap();
    });
    let huge = "团".repeat(100_000);
    replace_in_xlsx(&path, "xl/sharedStrings.xml", "HUGE_PLACEHOLDER", &huge);

    let rows = read_import(&path).unwrap();
    assert_eq!(rows.len(), 3);
    assert!(rows[0].cell_errors.is_empty());
    let r = &rows[1];
    assert_eq!(r.row, 3);
    assert_eq!(r.short_name.chars().count(), MAX_CELL_CHARS);
    assert_eq!(r.cell_errors.len(), 1);
    assert_eq!(r.cell_errors[0].code, "excel.cell_too_long");
    assert_eq!(r.cell_errors[0].field, Some(Field::ShortName));
    assert!(r.cell_errors[0].message.contains("100000"));
    let r = &rows[2];
    assert_eq!(r.cell_errors[0].field, Some(Field::FullName));
    assert_eq!(r.cell_errors[0].code, "excel.cell_too_long");

    // The annotated copy of such a file can be written (values fit Excel's limit).
    let out = dir.path().join("annotated.xlsx");
    write_annotated(&out, &rows, &[]).unwrap();
    let again = read_import(&out).unwrap();
    assert_eq!(again[1].short_name, rows[1].short_name);
    assert!(again[1].cell_errors.is_empty());
}

// ---------------------------------------------------------------- annotated copy

#[test]
fn annotated_copy_keeps_rows_marks_errors_and_reimports() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("filled.xlsx");
    write_filled(&path, false);
    let rows = read_import(&path).unwrap();
    assert_eq!(rows, expected_filled(false));

    let errors = vec![
        (
            5,
            vec![Violation::error(
                "short_name.suffix",
                Some(Field::ShortName),
                "组织简称应以团委、团工委、团总支或团支部结尾",
            )],
        ),
        (
            9,
            vec![
                Violation::error("category.empty", Some(Field::Category), "请选择组织类别"),
                Violation::error("short_name.duplicate", None, "与第8行重名"),
            ],
        ),
        (
            11,
            vec![Violation::warning(
                "branch.size",
                Some(Field::RecommendedCount),
                "请核对",
            )],
        ),
    ];
    let out = dir.path().join("导入错误.xlsx");
    write_annotated(&out, &rows, &errors).unwrap();

    // Re-importing the annotated file gives the same rows at the same row numbers.
    assert_eq!(read_import(&out).unwrap(), rows);

    let mut wb: Xlsx<_> = open_workbook(&out).unwrap();
    assert_eq!(&wb.sheet_names()[..2], ["下级组织", "错误汇总"]);
    let sheet = wb.worksheet_range("下级组织").unwrap();
    assert_eq!(cell(&sheet, 0, 0), Data::String("组织简称*".into()));
    assert_eq!(cell(&sheet, 0, 8), Data::String("错误说明".into()));
    assert_eq!(cell(&sheet, 4, 0), Data::String("2017".into()));
    assert_eq!(
        cell(&sheet, 4, 8),
        Data::String("组织简称:组织简称应以团委、团工委、团总支或团支部结尾".into())
    );
    assert_eq!(
        cell(&sheet, 8, 8),
        Data::String("组织类别:请选择组织类别;与第8行重名".into())
    );
    assert_eq!(
        cell(&sheet, 10, 8),
        Data::String("年度经推优入党团员数:(提示)请核对".into())
    );
    assert_eq!(cell(&sheet, 2, 8), Data::Empty);
    assert_eq!(cell(&sheet, 2, 4), Data::String("13812345678".into()));
    assert_eq!(cell(&sheet, 2, 6), Data::Float(120.0));

    let styles = wb.worksheet_style("下级组织").unwrap();
    let fill = |r: u32, c: u32| {
        styles
            .get((r, c))
            .and_then(|s| s.fill.as_ref())
            .and_then(|f| f.get_color())
            .map(|c| (c.red, c.green, c.blue))
    };
    assert_eq!(fill(4, 0), Some((0xFF, 0xC7, 0xCE)), "failing short name");
    assert_eq!(
        fill(8, 1),
        Some((0xFF, 0xC7, 0xCE)),
        "empty failing category"
    );
    assert_eq!(fill(10, 7), Some((0xFF, 0xEB, 0x9C)), "warning");
    assert_eq!(fill(4, 1), None, "a good cell of a failing row");
    assert_eq!(fill(2, 0), None);

    let summary = strings(&wb.worksheet_range("错误汇总").unwrap())
        .concat()
        .join("\n");
    assert!(summary.contains("共6行数据,其中2行有错误"), "{summary}");
    assert!(summary.contains("1行有提示"), "{summary}");
}

// ---------------------------------------------------------------- exports

#[test]
fn codes_export_keeps_codes_as_text() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("codes.xlsx");
    let rows = vec![
        CodeRow {
            short_name: "大雅宝社区团支部".into(),
            category: "团支部".into(),
            code: "12345678".into(),
            expires_at: "2017-12-31 09:00".into(),
        },
        CodeRow {
            short_name: "北控集团团委".into(),
            category: "团委".into(),
            code: "aB3dE5fG".into(),
            expires_at: "2018-01-09 17:30".into(),
        },
    ];
    write_codes(&path, "团锦江区委", &rows).unwrap();

    let mut wb = open_workbook_auto(&path).unwrap();
    assert_eq!(wb.sheet_names(), ["管理员注册码"]);
    let sheet = wb.worksheet_range("管理员注册码").unwrap();
    assert_eq!(
        cell(&sheet, 0, 0),
        Data::String("团锦江区委直属下级组织管理员注册码".into())
    );
    assert!(cell(&sheet, 1, 0).to_string().starts_with("生成时间:"));
    let note = cell(&sheet, 2, 0).to_string();
    assert!(note.contains("区分大小写") && note.contains("20天") && note.contains("仅限一名"));
    assert!(
        note.contains("注册方法:zhtj register --code <注册码>"),
        "{note}"
    );
    assert_eq!(
        strings(&sheet)[3],
        ["组织简称", "组织类别", "管理员注册码", "有效期至"]
    );
    assert_eq!(cell(&sheet, 4, 2), Data::String("12345678".into()));
    assert_eq!(cell(&sheet, 4, 3), Data::String("2017-12-31 09:00".into()));
    assert_eq!(cell(&sheet, 5, 0), Data::String("北控集团团委".into()));
    assert_eq!(cell(&sheet, 5, 2), Data::String("aB3dE5fG".into()));
}

#[test]
fn org_table_of_100000_rows() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("orgs.xlsx");
    let rows: Vec<OrgTableRow> = (0..100_000)
        .map(|i| OrgTableRow {
            level: 4 + (i % 3) as u8,
            parent: "团锦江区委".into(),
            short_name: format!("第{i}团支部"),
            full_name: format!("中国共产主义青年团成都市锦江区第{i}支部委员会"),
            category: "团支部".into(),
            industry: if i % 2 == 0 {
                "城市社区".into()
            } else {
                String::new()
            },
            phone: "028-61310936".into(),
            email: String::new(),
            secretary_name: "张三".into(),
            secretary_mobile_masked: "138****5678".into(),
            complete: i % 2 == 0,
            missing: if i % 2 == 0 {
                String::new()
            } else {
                "单位所属行业类别".into()
            },
        })
        .collect();
    let started = Instant::now();
    write_org_table(&path, "团锦江区委组织列表(截至2017-12-20 09:00)", &rows).unwrap();
    eprintln!("writing 100,000 rows took {:?}", started.elapsed());

    let mut wb = open_workbook_auto(&path).unwrap();
    let sheet = wb.worksheet_range("组织列表").unwrap();
    assert_eq!(sheet.height(), 100_002);
    assert_eq!(
        cell(&sheet, 0, 0),
        Data::String("团锦江区委组织列表(截至2017-12-20 09:00)".into())
    );
    assert_eq!(
        strings(&sheet)[1],
        [
            "层级",
            "上级组织",
            "组织简称",
            "组织全称",
            "组织类别",
            "单位所属行业类别",
            "联系电话",
            "电子邮箱",
            "书记姓名",
            "书记手机号码",
            "信息是否完整",
            "缺少的必填项"
        ]
    );
    assert_eq!(cell(&sheet, 2, 0), Data::Float(4.0));
    assert_eq!(cell(&sheet, 2, 2), Data::String("第0团支部".into()));
    assert_eq!(cell(&sheet, 2, 9), Data::String("138****5678".into()));
    assert_eq!(cell(&sheet, 2, 10), Data::String("是".into()));
    assert_eq!(cell(&sheet, 3, 10), Data::String("否".into()));
    assert_eq!(cell(&sheet, 3, 11), Data::String("单位所属行业类别".into()));
    assert_eq!(cell(&sheet, 3, 5), Data::Empty);
    assert_eq!(
        cell(&sheet, 100_001, 2),
        Data::String("第99999团支部".into())
    );
}

//! Files we write for users: the annotated copy of a failing import (rules.md §10), the
//! registration codes (§7) and the organization table (§11).

use std::collections::BTreeMap;
use std::path::Path;

use rust_xlsxwriter::{Color, Format, FormatAlign, FormatBorder, Workbook, Worksheet};
use schemas::{Field, Violation};

use super::import::ImportRow;
use super::template::{add_import_sheet, add_instructions_sheet, add_options_sheet};
use super::{COLUMNS, ERROR_COLUMN, Formats, TEMPLATE_ROWS, clip_for_cell, column_label};
use crate::Result;

const ERROR_FILL: u32 = 0xFFC7CE;
const WARNING_FILL: u32 = 0xFFEB9C;
const ERROR_FONT: u32 = 0x9C0006;

/// The summary sheet of an annotated import.
const SUMMARY_SHEET: &str = "错误汇总";

/// Write the annotated copy of an import: sheet 下级组织 with the same columns as the
/// template, every row of `rows` at its original row number (so "第12行" is row 12 of
/// this file too), and an extra last column 错误说明 ("组织简称:…;组织类别:…"). Cells
/// with an error are filled light red (light yellow for a warning only; an error without
/// a column of the import only appears in 错误说明). The row's own
/// [`ImportRow::cell_errors`] are included with `errors` (duplicates dropped). A second
/// sheet 错误汇总 counts the failing rows and lists them; 填写说明 and the drop-down lists
/// follow as in the template.
///
/// The file is meant to be fixed and uploaded again: [`read_import`](super::read_import)
/// reads it like the template and ignores the 错误说明 column.
pub fn write_annotated(
    path: &Path,
    rows: &[ImportRow],
    errors: &[(u32, Vec<Violation>)],
) -> Result<()> {
    // Every violation per row number: the row's own cell errors, then the given ones.
    let mut by_row: BTreeMap<u32, Vec<Violation>> = BTreeMap::new();
    for row in rows {
        add_unique(by_row.entry(row.row).or_default(), &row.cell_errors);
    }
    for (row, violations) in errors {
        add_unique(by_row.entry(*row).or_default(), violations);
    }
    by_row.retain(|_, v| !v.is_empty());

    let mut workbook = Workbook::new();
    let formats = Formats::new();
    let fills = Fills::new(&formats);
    let last_row = rows
        .iter()
        .map(|r| r.row)
        .chain(by_row.keys().copied())
        .max()
        .unwrap_or(0);
    let sheet = add_import_sheet(&mut workbook, &formats, last_row.max(TEMPLATE_ROWS + 1) - 1)?;
    let error_col = COLUMNS.len() as u16;
    sheet.write_string_with_format(0, error_col, ERROR_COLUMN, &fills.error_header)?;
    sheet.set_column_width(error_col, 70)?;

    for row in rows {
        if row.row < 2 {
            continue; // row 1 is the header
        }
        let r = row.row - 1;
        let violations = by_row.get(&row.row).map(Vec::as_slice).unwrap_or(&[]);
        for (i, column) in COLUMNS.iter().enumerate() {
            let value = row.get(column.field).unwrap_or("");
            let mark = mark_of(violations, column.field);
            write_value(
                sheet,
                r,
                i as u16,
                column.field,
                value,
                fills.cell(mark, column.field),
            )?;
        }
    }
    let mut failing = 0usize;
    let mut warned = 0usize;
    for (&row, violations) in &by_row {
        if violations.iter().any(Violation::is_error) {
            failing += 1;
        } else {
            warned += 1;
        }
        if row >= 2 {
            sheet.write_string_with_format(
                row - 1,
                error_col,
                clip_for_cell(&describe(violations)),
                &fills.error_text,
            )?;
        }
    }

    let total = rows.len();
    let summary = workbook.add_worksheet();
    summary.set_name(SUMMARY_SHEET)?;
    summary.set_column_width(0, 10)?;
    summary.set_column_width(1, 100)?;
    summary.write_string_with_format(0, 0, "导入检查结果", &formats.title)?;
    let sentence = if failing > 0 {
        format!(
            "共{total}行数据,其中{failing}行有错误(单元格标为浅红色){}。\
             只要有一行有错误,整个文件都不会创建任何组织:请在“下级组织”工作表中按“错误说明”列修改后,重新上传整个文件。",
            if warned > 0 {
                format!(",{warned}行有提示(标为浅黄色)")
            } else {
                String::new()
            }
        )
    } else if warned > 0 {
        format!("共{total}行数据,没有错误;{warned}行有提示(标为浅黄色),请核对。")
    } else {
        format!("共{total}行数据,全部检查通过。")
    };
    summary.write_string(1, 0, sentence)?;
    summary.write_string_with_format(3, 0, "行号", &formats.header)?;
    summary.write_string_with_format(3, 1, ERROR_COLUMN, &formats.header)?;
    for (i, (row, violations)) in by_row.iter().enumerate() {
        let r = 4 + i as u32;
        summary.write_number(r, 0, *row)?;
        summary.write_string(r, 1, clip_for_cell(&describe(violations)))?;
    }
    summary.set_freeze_panes(4, 0)?;

    add_instructions_sheet(&mut workbook, &formats)?;
    add_options_sheet(&mut workbook, &formats)?;
    workbook.save(path)?;
    Ok(())
}

fn add_unique(into: &mut Vec<Violation>, from: &[Violation]) {
    for v in from {
        if !into.contains(v) {
            into.push(v.clone());
        }
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Mark {
    None,
    Warning,
    Error,
}

fn mark_of(violations: &[Violation], field: Field) -> Mark {
    let mut mark = Mark::None;
    for v in violations.iter().filter(|v| v.field == Some(field)) {
        if v.is_error() {
            return Mark::Error;
        }
        mark = Mark::Warning;
    }
    mark
}

/// "组织简称:…;组织类别:…": each violation with the column it concerns.
fn describe(violations: &[Violation]) -> String {
    violations
        .iter()
        .map(|v| {
            let prefix = if v.is_error() { "" } else { "(提示)" };
            match v.field {
                Some(field) => format!(
                    "{}:{prefix}{}",
                    column_label(field).unwrap_or(field.label()),
                    v.message
                ),
                None => format!("{prefix}{}", v.message),
            }
        })
        .collect::<Vec<_>>()
        .join(";")
}

/// The cell formats of the annotated sheet.
struct Fills {
    error: Format,
    error_text: Format,
    error_as_text: Format,
    warning: Format,
    warning_as_text: Format,
    plain_as_text: Format,
    plain: Format,
    error_header: Format,
}

impl Fills {
    fn new(formats: &Formats) -> Fills {
        let error = Format::new().set_background_color(Color::RGB(ERROR_FILL));
        let warning = Format::new().set_background_color(Color::RGB(WARNING_FILL));
        Fills {
            error_as_text: error.clone().set_num_format("@"),
            warning_as_text: warning.clone().set_num_format("@"),
            plain_as_text: formats.text.clone(),
            plain: Format::new(),
            error,
            warning,
            error_text: Format::new().set_font_color(Color::RGB(ERROR_FONT)),
            error_header: formats.header_required.clone(),
        }
    }

    fn cell(&self, mark: Mark, field: Field) -> &Format {
        let text = !matches!(field, Field::YouthCount | Field::RecommendedCount);
        match (mark, text) {
            (Mark::Error, true) => &self.error_as_text,
            (Mark::Error, false) => &self.error,
            (Mark::Warning, true) => &self.warning_as_text,
            (Mark::Warning, false) => &self.warning,
            (Mark::None, true) => &self.plain_as_text,
            (Mark::None, false) => &self.plain,
        }
    }
}

/// Write one value back: text as text (a phone keeps its leading 0), a plain integer
/// count as a number, an empty cell only if it needs its fill.
fn write_value(
    sheet: &mut Worksheet,
    row: u32,
    col: u16,
    field: Field,
    value: &str,
    format: &Format,
) -> Result<()> {
    if value.is_empty() {
        sheet.write_blank(row, col, format)?;
        return Ok(());
    }
    if matches!(field, Field::YouthCount | Field::RecommendedCount)
        && let Some(n) = plain_integer(value)
    {
        sheet.write_number_with_format(row, col, n, format)?;
        return Ok(());
    }
    sheet.write_string_with_format(row, col, clip_for_cell(value), format)?;
    Ok(())
}

/// "12" → 12; "012", "1.5", "-3", "" → None (kept as text, exactly as typed).
fn plain_integer(s: &str) -> Option<f64> {
    let ok = !s.is_empty()
        && s.len() <= 9
        && s.bytes().all(|b| b.is_ascii_digit())
        && (s == "0" || !s.starts_with('0'));
    if ok {
        s.parse::<u32>().ok().map(f64::from)
    } else {
        None
    }
}

/// One line of the 管理员注册码 export (rules.md §7).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CodeRow {
    pub short_name: String,
    pub category: String,
    pub code: String,
    /// As shown to users, e.g. "2017-12-31 09:00".
    pub expires_at: String,
}

/// Write the batch of registration codes of `issuer_short_name`'s direct children: sheet
/// 管理员注册码, a title line ("{issuer}直属下级组织管理员注册码"), the time it was
/// generated (China Standard Time), the rules of codes (case-sensitive, valid 20 days,
/// single use) and how to register with one, then 组织简称 | 组织类别 | 管理员注册码 |
/// 有效期至 (header frozen). Codes are written as text in a monospaced font, so "12345678" stays a string and
/// look-alike letters can be told apart.
pub fn write_codes(path: &Path, issuer_short_name: &str, rows: &[CodeRow]) -> Result<()> {
    let mut workbook = Workbook::new();
    let formats = Formats::new();
    let sheet = workbook.add_worksheet();
    sheet.set_name("管理员注册码")?;
    let widths = [28.0, 16.0, 18.0, 20.0];
    for (i, w) in widths.iter().enumerate() {
        sheet.set_column_width(i as u16, *w)?;
    }
    sheet.merge_range(
        0,
        0,
        0,
        3,
        &format!(
            "{}直属下级组织管理员注册码",
            clip_for_cell(issuer_short_name)
        ),
        &formats.title.clone().set_align(FormatAlign::Center),
    )?;
    sheet.set_row_height(0, 24)?;
    sheet.write_string_with_format(
        1,
        0,
        format!(
            "生成时间:{}",
            schemas::beijing::minute(time::OffsetDateTime::now_utc())
        ),
        &formats.note,
    )?;
    sheet.write_string_with_format(
        2,
        0,
        format!(
            "说明:注册码由8位数字和字母组成,区分大小写;有效期为20天,过期后请联系上级团组织管理员重新生成;\
             一个注册码仅限一名管理员注册使用。{}。",
            schemas::code::how_to_register(None)
        ),
        &formats.note,
    )?;
    let headers = ["组织简称", "组织类别", "管理员注册码", "有效期至"];
    for (i, h) in headers.iter().enumerate() {
        sheet.write_string_with_format(3, i as u16, *h, &formats.header)?;
    }
    let code_format = Format::new()
        .set_num_format("@")
        .set_font_name("Consolas")
        .set_bold()
        .set_border(FormatBorder::Thin);
    let cell = Format::new().set_border(FormatBorder::Thin);
    for (i, row) in rows.iter().enumerate() {
        let r = 4 + i as u32;
        sheet.write_string_with_format(r, 0, clip_for_cell(&row.short_name), &cell)?;
        sheet.write_string_with_format(r, 1, clip_for_cell(&row.category), &cell)?;
        sheet.write_string_with_format(r, 2, clip_for_cell(&row.code), &code_format)?;
        sheet.write_string_with_format(r, 3, clip_for_cell(&row.expires_at), &cell)?;
    }
    sheet.set_freeze_panes(4, 0)?;
    // Codes are often printed and handed out: A4, the header on every page, one page wide.
    sheet.set_paper_size(9).set_print_fit_to_pages(1, 0);
    sheet.set_repeat_rows(3, 3)?;
    workbook.save(path)?;
    Ok(())
}

/// One line of the organization table (rules.md §11). The caller masks the secretary's
/// mobile (rules.md §9) and fills `missing` (e.g. "书记姓名、单位所属行业类别").
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct OrgTableRow {
    pub level: u8,
    pub parent: String,
    pub short_name: String,
    pub full_name: String,
    pub category: String,
    pub industry: String,
    pub phone: String,
    pub email: String,
    pub secretary_name: String,
    pub secretary_mobile_masked: String,
    pub complete: bool,
    pub missing: String,
}

/// The headers of the organization table.
pub const ORG_TABLE_HEADERS: [&str; 12] = [
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
    "缺少的必填项",
];

/// Write the organization table: sheet 组织列表, `title` on the first line, the headers
/// on the second (bold, frozen, with an auto-filter), one organization a line; 层级 is a
/// number, 信息是否完整 是/否. 100,000 rows take well under a few seconds.
pub fn write_org_table(path: &Path, title: &str, rows: &[OrgTableRow]) -> Result<()> {
    let mut workbook = Workbook::new();
    let formats = Formats::new();
    let sheet = workbook.add_worksheet();
    sheet.set_name("组织列表")?;
    let widths = [
        6.0, 24.0, 26.0, 44.0, 14.0, 26.0, 16.0, 26.0, 12.0, 16.0, 14.0, 40.0,
    ];
    for (i, w) in widths.iter().enumerate() {
        sheet.set_column_width(i as u16, *w)?;
    }
    sheet.write_string_with_format(0, 0, clip_for_cell(title), &formats.title)?;
    for (i, h) in ORG_TABLE_HEADERS.iter().enumerate() {
        sheet.write_string_with_format(1, i as u16, *h, &formats.header)?;
    }
    let text = Format::new().set_num_format("@");
    for (i, row) in rows.iter().enumerate() {
        let r = 2 + i as u32;
        sheet.write_number(r, 0, row.level)?;
        let cells: [&str; 11] = [
            &row.parent,
            &row.short_name,
            &row.full_name,
            &row.category,
            &row.industry,
            &row.phone,
            &row.email,
            &row.secretary_name,
            &row.secretary_mobile_masked,
            if row.complete { "是" } else { "否" },
            &row.missing,
        ];
        for (j, value) in cells.iter().enumerate() {
            if value.is_empty() {
                continue;
            }
            let col = 1 + j as u16;
            // Phone and masked mobile as text: a leading 0 or the * stay as they are.
            if col == 6 || col == 9 {
                sheet.write_string_with_format(r, col, clip_for_cell(value), &text)?;
            } else {
                sheet.write_string(r, col, clip_for_cell(value))?;
            }
        }
    }
    let last = 1 + rows.len() as u32;
    sheet.autofilter(1, 0, last, (ORG_TABLE_HEADERS.len() - 1) as u16)?;
    sheet.set_freeze_panes(2, 0)?;
    sheet
        .set_paper_size(9)
        .set_landscape()
        .set_print_fit_to_pages(1, 0);
    sheet.set_repeat_rows(1, 1)?;
    workbook.save(path)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_integers_only() {
        assert_eq!(plain_integer("12"), Some(12.0));
        assert_eq!(plain_integer("0"), Some(0.0));
        assert_eq!(plain_integer("012"), None);
        assert_eq!(plain_integer("1.5"), None);
        assert_eq!(plain_integer("-3"), None);
        assert_eq!(plain_integer("１２"), None);
    }

    #[test]
    fn describes_with_column_labels() {
        let v = vec![
            Violation::error("short_name.empty", Some(Field::ShortName), "请填写组织简称"),
            Violation::warning("x", Some(Field::Phone), "请核对"),
            Violation::error("y", None, "上级组织不能创建团工委"),
        ];
        assert_eq!(
            describe(&v),
            "组织简称:请填写组织简称;联系电话:(提示)请核对;上级组织不能创建团工委"
        );
    }
}

//! Excel in and out (rules.md §10, §7, §11): the template for 批量创建下级组织, reading a
//! filled template back, the annotated copy of a failing import, and the exports
//! (管理员注册码, 组织列表).
//!
//! - [`write_template`]: the "导入直属下级团组织模板" (.xlsx) with drop-down lists and a
//!   填写说明 sheet;
//! - [`read_import`] / [`read_import_bytes`]: read an uploaded .xlsx or .xls (detected by
//!   content, not by extension) into [`ImportRow`]s, raw but trimmed; the replica
//!   validates them with `schemas`;
//! - [`write_annotated`]: the upload again, with an extra 错误说明 column and the failing
//!   cells filled light red, at the original row numbers; it can be fixed and re-uploaded;
//! - [`write_codes`], [`write_org_table`]: the exports.
//!
//! Every message is Chinese. A file that cannot be used at all is an
//! [`Error::Excel`](crate::Error::Excel) with one of the machine codes:
//! `excel.not_spreadsheet`, `excel.empty`, `excel.missing_header`, `excel.too_many_rows`.
//! A problem with one cell (an error value such as `#N/A`, a cell over
//! [`MAX_CELL_CHARS`]) is never fatal: it is a [`Violation`] in
//! [`ImportRow::cell_errors`] with code `excel.cell_error` or `excel.cell_too_long`.

mod export;
mod guard;
mod import;
mod template;

pub use export::{
    CodeRow, ORG_TABLE_HEADERS, OrgTableRow, write_annotated, write_codes, write_org_table,
};
pub use import::{ImportRow, read_import, read_import_bytes};
pub use template::write_template;

use rust_xlsxwriter::{Color, Format, FormatAlign, FormatBorder};
use schemas::{Field, Violation};

/// At most this many data rows in one import. **[inferred]** (rules.md §10 sets no limit):
/// a county has a few hundred units below it, a big school a few thousand classes;
/// 20,000 leaves room and keeps one upload's validation and report manageable. A larger
/// file is refused with `excel.too_many_rows` as soon as row 20,001 is seen, without
/// reading the rest.
pub const MAX_IMPORT_ROWS: usize = 20_000;

/// At most this many characters in one cell of an import. **[inferred]**: the longest
/// legitimate value (a full name, rules.md §5) is 99 characters; a longer cell is reported on
/// its row (`excel.cell_too_long`) and its value is cut to this length.
pub const MAX_CELL_CHARS: usize = 500;

/// The template's drop-down lists and number checks cover rows 2..=10001.
pub const TEMPLATE_ROWS: u32 = 10_000;

/// The header rows searched for the import's header: the first 10.
pub const HEADER_SEARCH_ROWS: u32 = 10;

/// 14~28周岁青年数 is 0..=10000, 年度经推优入党团员数 0..=1000 (rules.md §3).
pub(crate) const YOUTH_COUNT_MAX: i32 = 10_000;
pub(crate) const RECOMMENDED_COUNT_MAX: i32 = 1_000;

/// The name of the import sheet (the template's first sheet). When a workbook has a sheet
/// of this name it is read; otherwise its first visible worksheet.
pub const IMPORT_SHEET: &str = "下级组织";

/// The column an annotated copy adds; any unknown column, this one included, is ignored
/// on import.
pub const ERROR_COLUMN: &str = "错误说明";

/// One column of the import sheet.
pub(crate) struct Column {
    /// The header as the template writes it (without the required mark).
    pub header: &'static str,
    pub field: Field,
    pub required: bool,
    /// Other spellings accepted on import, already in [`header_key`] form.
    pub aliases: &'static [&'static str],
    /// Column width in Excel character units (a Chinese character counts two).
    pub width: f64,
}

/// The import sheet's columns, in template order (rules.md §3, §10; the notice's 单个创建
/// form has the same fields).
pub(crate) const COLUMNS: [Column; 8] = [
    Column {
        header: "组织简称",
        field: Field::ShortName,
        required: true,
        aliases: &["简称", "团组织简称", "下级组织简称"],
        width: 26.0,
    },
    Column {
        header: "组织类别",
        field: Field::Category,
        required: true,
        aliases: &["类别", "团组织类别"],
        width: 16.0,
    },
    Column {
        header: "组织全称",
        field: Field::FullName,
        required: false,
        aliases: &["全称", "团组织全称"],
        width: 44.0,
    },
    Column {
        header: "单位所属行业类别",
        field: Field::Industry,
        required: false,
        aliases: &["所属行业类别", "行业类别", "所属行业", "单位所属行业"],
        width: 28.0,
    },
    Column {
        header: "联系电话",
        field: Field::Phone,
        required: false,
        aliases: &["团组织联系电话", "电话"],
        width: 16.0,
    },
    Column {
        header: "电子邮箱",
        field: Field::Email,
        required: false,
        aliases: &["团组织电子邮箱", "邮箱", "电子邮件"],
        width: 26.0,
    },
    Column {
        header: "14~28周岁青年数",
        field: Field::YouthCount,
        required: false,
        aliases: &["1428岁青年数", "青年数"],
        width: 18.0,
    },
    Column {
        header: "年度经推优入党团员数",
        field: Field::RecommendedCount,
        required: false,
        aliases: &["推优入党团员数", "经推优入党团员数"],
        width: 22.0,
    },
];

/// The import headers in template order, without the required mark.
pub const IMPORT_HEADERS: [&str; 8] = [
    COLUMNS[0].header,
    COLUMNS[1].header,
    COLUMNS[2].header,
    COLUMNS[3].header,
    COLUMNS[4].header,
    COLUMNS[5].header,
    COLUMNS[6].header,
    COLUMNS[7].header,
];

/// The import column header of a field ("联系电话" for [`Field::Phone`]), as a user sees
/// it in the template; `None` for a field the import does not carry.
pub fn column_label(field: Field) -> Option<&'static str> {
    COLUMNS.iter().find(|c| c.field == field).map(|c| c.header)
}

/// The header as written in the template: required ones carry a `*`.
pub(crate) fn template_header(c: &Column) -> String {
    if c.required {
        format!("{}*", c.header)
    } else {
        c.header.to_owned()
    }
}

/// A header cell reduced for matching: full-width folded to half-width, then only
/// letters and digits (CJK included) kept, so `*`, `＊`, spaces, brackets, `~`/`～`/`-`
/// do not matter; a "必填"/"选填" mark is dropped.
pub(crate) fn header_key(raw: &str) -> String {
    let key: String = schemas::text::to_half_width(raw)
        .chars()
        .filter(|c| c.is_alphanumeric())
        .collect();
    key.replace("必填", "")
        .replace("选填", "")
        .replace("必选", "")
}

/// The column a header cell names, if any.
pub(crate) fn column_for_header(raw: &str) -> Option<usize> {
    let key = header_key(raw);
    if key.is_empty() {
        return None;
    }
    COLUMNS
        .iter()
        .position(|c| header_key(c.header) == key || c.aliases.contains(&key.as_str()))
}

/// Excel refuses strings over 32,767 UTF-16 units; values written back are cut to fit.
pub(crate) fn clip_for_cell(s: &str) -> &str {
    const MAX_UNITS: usize = 32_767;
    let mut units = 0;
    for (i, c) in s.char_indices() {
        units += c.len_utf16();
        if units > MAX_UNITS {
            return &s[..i];
        }
    }
    s
}

/// A cell-level problem found while reading (never fatal for the file).
pub(crate) fn cell_violation(code: &str, field: Field, message: String) -> Violation {
    Violation::error(code, Some(field), message)
}

/// Shared formats of the sheets we write.
pub(crate) struct Formats {
    pub header: Format,
    pub header_required: Format,
    pub text: Format,
    pub title: Format,
    pub note: Format,
}

impl Formats {
    pub fn new() -> Formats {
        let header = Format::new()
            .set_bold()
            .set_align(FormatAlign::Center)
            .set_align(FormatAlign::VerticalCenter)
            .set_background_color(Color::RGB(0xDDEBF7))
            .set_border(FormatBorder::Thin);
        Formats {
            header_required: header.clone().set_font_color(Color::RGB(0xFF0000)),
            header,
            text: Format::new().set_num_format("@"),
            title: Format::new().set_bold().set_font_size(14),
            note: Format::new().set_font_color(Color::RGB(0x595959)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_match_loosely() {
        assert_eq!(column_for_header("组织简称*"), Some(0));
        assert_eq!(column_for_header(" 组织简称＊ "), Some(0));
        assert_eq!(column_for_header("组织 类别"), Some(1));
        assert_eq!(column_for_header("组织类别(必填)"), Some(1));
        assert_eq!(column_for_header("１４～２８周岁青年数"), Some(6));
        assert_eq!(column_for_header("14-28周岁青年数"), Some(6));
        assert_eq!(column_for_header("团组织联系电话"), Some(4));
        assert_eq!(column_for_header("单位所属行业类别"), Some(3));
        assert_eq!(column_for_header(ERROR_COLUMN), None);
        assert_eq!(column_for_header("*"), None);
        assert_eq!(column_label(Field::Phone), Some("联系电话"));
        assert_eq!(column_label(Field::SecretaryName), None);
    }

    #[test]
    fn clip_keeps_char_boundaries() {
        let s = "团".repeat(40_000);
        assert_eq!(clip_for_cell(&s).chars().count(), 32_767);
        assert_eq!(clip_for_cell("abc"), "abc");
    }
}

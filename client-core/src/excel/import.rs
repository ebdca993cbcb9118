//! Reading a filled template (rules.md §10): .xlsx or .xls, detected by content.
//!
//! What is read, and how:
//! - the sheet named 下级组织 if there is one, otherwise the first visible worksheet;
//! - the header row is the row, among the first 10, that names 组织简称 and 组织类别
//!   (headers are matched loosely: `*`/`＊`, spaces, full-width characters and a "(必填)"
//!   do not matter; columns may come in any order; unknown columns, such as the 错误说明
//!   of an annotated copy, are ignored);
//! - every later row with something in a known column is a data row; blank rows are
//!   skipped; row numbers are Excel's (1-based, as the user sees them);
//! - values are trimmed but otherwise raw (the replica validates them with `schemas`);
//!   numbers are written as Excel shows them in a General cell, without exponent
//!   (2017 → "2017", 13812345678 → "13812345678", 3.5 → "3.5"); a formula gives its
//!   cached value; a date its "YYYY-MM-DD[ HH:MM[:SS]]";
//! - a merged area gives its value in its top-left cell only (the other rows of a merged
//!   area read as empty), as calamine reports it;
//! - an error value (`#N/A`, `#REF!`…) or a cell over [`MAX_CELL_CHARS`] characters is a
//!   violation on that row and column (`excel.cell_error`, `excel.cell_too_long`), never a
//!   failure of the whole file;
//! - .xlsx is streamed cell by cell, so a file of a million rows is refused
//!   (`excel.too_many_rows`) after row [`MAX_IMPORT_ROWS`]+1 without being read whole.
//!   .xlsb (Excel's binary workbook) likewise; .xls holds at most 65,536 rows and is read
//!   at once;
//! - sizes a file declares are checked before calamine trusts them ([`guard`](super::guard)):
//!   a damaged file is refused as unreadable instead of taking the application down;
//! - .ods is refused with a request to save as .xlsx: calamine expands an .ods sheet's
//!   repeated cells in memory, which a small file can make unbounded.

use std::fs::File;
use std::io::{BufReader, Cursor, Read, Seek};
use std::path::Path;

use calamine::{
    CellErrorType, Data, DataRef, ExcelDateTime, Reader, Sheet, SheetType, SheetVisible, Xls, Xlsb,
    Xlsx,
};
use schemas::{Field, Violation};
use serde::{Deserialize, Serialize};

use super::guard;
use super::{
    COLUMNS, HEADER_SEARCH_ROWS, IMPORT_SHEET, MAX_CELL_CHARS, MAX_IMPORT_ROWS, cell_violation,
    column_for_header, template_header,
};
use crate::{Error, Result};

/// One data row of an import, as read: trimmed text, not yet validated.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ImportRow {
    /// 1-based Excel row number, as the user sees it.
    pub row: u32,
    pub short_name: String,
    pub category: String,
    pub full_name: String,
    pub industry: String,
    pub phone: String,
    pub email: String,
    pub youth_count: String,
    pub recommended_count: String,
    /// Problems of single cells found while reading (`excel.cell_error`,
    /// `excel.cell_too_long`), each with its field. A row with any of these must be
    /// treated as failing; its value in the failing cell is the error text (`#N/A`) or
    /// the first [`MAX_CELL_CHARS`] characters.
    pub cell_errors: Vec<Violation>,
}

impl ImportRow {
    /// The value of an import column by its field; `None` for a field the import does
    /// not carry.
    pub fn get(&self, field: Field) -> Option<&str> {
        Some(match field {
            Field::ShortName => &self.short_name,
            Field::Category => &self.category,
            Field::FullName => &self.full_name,
            Field::Industry => &self.industry,
            Field::Phone => &self.phone,
            Field::Email => &self.email,
            Field::YouthCount => &self.youth_count,
            Field::RecommendedCount => &self.recommended_count,
            _ => return None,
        })
    }

    fn slot(&mut self, field: Field) -> Option<&mut String> {
        Some(match field {
            Field::ShortName => &mut self.short_name,
            Field::Category => &mut self.category,
            Field::FullName => &mut self.full_name,
            Field::Industry => &mut self.industry,
            Field::Phone => &mut self.phone,
            Field::Email => &mut self.email,
            Field::YouthCount => &mut self.youth_count,
            Field::RecommendedCount => &mut self.recommended_count,
            _ => return None,
        })
    }
}

/// Read an uploaded import file (.xlsx or .xls, whatever its extension says).
///
/// Errors: `excel.not_spreadsheet` (not a spreadsheet, encrypted or unreadable),
/// `excel.empty` (no worksheet, nothing in it, or a header but no data row),
/// `excel.missing_header` (no 组织简称 / 组织类别 header in the first 10 rows),
/// `excel.too_many_rows` (more than [`MAX_IMPORT_ROWS`] data rows), and
/// [`Error::Io`] if the file cannot be opened.
pub fn read_import(path: &Path) -> Result<Vec<ImportRow>> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut file = File::open(path)?;
    let mut head = [0u8; 8];
    let n = read_head(&mut file, &mut head)?;
    let open = || -> std::io::Result<BufReader<File>> { Ok(BufReader::new(File::open(path)?)) };
    read_guarded(&head[..n], &name, open)
}

/// [`read_import`] on the bytes of an uploaded file; `file_name_hint` only names the file
/// in messages.
pub fn read_import_bytes(bytes: &[u8], file_name_hint: Option<&str>) -> Result<Vec<ImportRow>> {
    let head = &bytes[..bytes.len().min(8)];
    read_guarded(head, file_name_hint.unwrap_or(""), || {
        Ok(Cursor::new(bytes))
    })
}

fn read_head(file: &mut File, head: &mut [u8; 8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < head.len() {
        match file.read(&mut head[n..])? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}

/// A reader library must never take the application down on a malformed upload: a panic
/// inside calamine is reported as an unreadable file.
fn read_guarded<RS, F>(head: &[u8], name: &str, open: F) -> Result<Vec<ImportRow>>
where
    RS: Read + Seek,
    F: Fn() -> std::io::Result<RS>,
{
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| read_any(head, name, &open)))
        .unwrap_or_else(|_| Err(unreadable(name)))
}

const ZIP_MAGIC: &[u8] = b"PK";
const CFB_MAGIC: &[u8] = &[0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1];

fn xls_unreadable(file: &str) -> Error {
    Error::excel(
        "excel.not_spreadsheet",
        format!(
            "无法读取文件{file}:文件可能设置了打开密码或已损坏,\
             请取消密码后用Excel或WPS另存为.xlsx格式再上传"
        ),
    )
}

fn read_any<RS, F>(head: &[u8], name: &str, open: &F) -> Result<Vec<ImportRow>>
where
    RS: Read + Seek,
    F: Fn() -> std::io::Result<RS>,
{
    let file = quoted(name);
    if head.starts_with(ZIP_MAGIC) {
        // .xlsx (Excel, WPS), or .xlsb, which calamine reads too.
        if guard::xlsx_shared_strings_too_many(open()?) {
            return Err(unreadable(name));
        }
        if let Ok(wb) = Xlsx::new(open()?) {
            return read_xlsx(wb, name);
        }
        if guard::is_open_document(open()?) {
            return Err(Error::excel(
                "excel.not_spreadsheet",
                format!(
                    "文件{file}是OpenDocument表格(.ods),暂不支持导入,\
                     请用Excel或WPS打开后另存为.xlsx格式再上传"
                ),
            ));
        }
        if let Ok(wb) = Xlsb::new(open()?) {
            return read_xlsb(wb, name);
        }
        return Err(Error::excel(
            "excel.not_spreadsheet",
            format!(
                "文件{file}不是Excel表格(是其他类型的压缩文件,或文件已损坏),\
                 请下载导入模板,填写后保存为.xlsx格式再上传"
            ),
        ));
    }
    if head.starts_with(CFB_MAGIC) {
        // The container and the sheets' sizes are checked first: calamine would exhaust
        // memory on a damaged one, which aborts rather than panics (found by fuzzing:
        // tests/fuzz_regressions.rs).
        if guard::xls_refused(open()?) {
            return Err(xls_unreadable(&file));
        }
        // .xls (BIFF8, also what WPS writes as .xls); an encrypted .xlsx also starts so.
        return match Xls::new(open()?) {
            Ok(wb) => read_range_workbook(wb, name),
            Err(_) => Err(xls_unreadable(&file)),
        };
    }
    let message = if head.is_empty() {
        format!("文件{file}是空文件(0字节),请选择填写好的Excel文件")
    } else if looks_like_markup(head) {
        format!(
            "文件{file}是网页(HTML/XML)格式,不是真正的Excel表格,\
             请用Excel或WPS打开后另存为.xlsx格式再上传"
        )
    } else {
        format!(
            "文件{file}不是Excel表格(.xlsx或.xls),请下载导入模板,填写后保存再上传;\
             CSV等文本文件请用Excel或WPS另存为.xlsx格式"
        )
    };
    Err(Error::excel("excel.not_spreadsheet", message))
}

fn looks_like_markup(head: &[u8]) -> bool {
    let head = head
        .strip_prefix(b"\xEF\xBB\xBF".as_slice())
        .unwrap_or(head);
    head.iter()
        .find(|b| !b.is_ascii_whitespace())
        .is_some_and(|&b| b == b'<')
}

fn quoted(name: &str) -> String {
    if name.is_empty() {
        String::new()
    } else {
        format!("“{name}”")
    }
}

fn unreadable(name: &str) -> Error {
    Error::excel(
        "excel.not_spreadsheet",
        format!(
            "无法读取文件{}:文件内容已损坏或格式不受支持,请用Excel或WPS打开后另存为.xlsx格式再上传",
            quoted(name)
        ),
    )
}

fn no_sheet(name: &str) -> Error {
    Error::excel(
        "excel.empty",
        format!("文件{}中没有工作表,请使用导入模板填写", quoted(name)),
    )
}

/// The sheet to read: 下级组织 if present, otherwise the first visible worksheet.
fn choose_sheet(sheets: &[Sheet]) -> Option<String> {
    let worksheets: Vec<&Sheet> = sheets
        .iter()
        .filter(|s| s.typ == SheetType::WorkSheet)
        .collect();
    worksheets
        .iter()
        .find(|s| s.name.trim() == IMPORT_SHEET)
        .or_else(|| {
            worksheets
                .iter()
                .find(|s| s.visible == SheetVisible::Visible)
        })
        .or_else(|| worksheets.first())
        .map(|s| s.name.clone())
}

/// .xlsx: stream the cells, stop early on too many rows.
fn read_xlsx<RS: Read + Seek>(mut wb: Xlsx<RS>, name: &str) -> Result<Vec<ImportRow>> {
    let sheet = choose_sheet(wb.sheets_metadata()).ok_or_else(|| no_sheet(name))?;
    let mut cells = wb
        .worksheet_cells_reader(&sheet)
        .map_err(|_| unreadable(name))?;
    assemble_streamed(name, || cells.next_cell())
}

/// .xlsb: stream the cells, as .xlsx.
fn read_xlsb<RS: Read + Seek>(mut wb: Xlsb<RS>, name: &str) -> Result<Vec<ImportRow>> {
    let sheet = choose_sheet(wb.sheets_metadata()).ok_or_else(|| no_sheet(name))?;
    let mut cells = wb
        .worksheet_cells_reader(&sheet)
        .map_err(|_| unreadable(name))?;
    assemble_streamed(name, || cells.next_cell())
}

fn assemble_streamed<'a, E>(
    name: &str,
    mut next_cell: impl FnMut() -> std::result::Result<Option<calamine::Cell<DataRef<'a>>>, E>,
) -> Result<Vec<ImportRow>> {
    let mut rows = Assembler::new(name);
    while let Some(cell) = next_cell().map_err(|_| unreadable(name))? {
        let (r, c) = cell.get_position();
        rows.push(r, c, || render_ref(cell.get_value()))?;
    }
    rows.finish()
}

/// .xls: read the sheet at once (an .xls sheet has at most 65,536 rows).
fn read_range_workbook<RS, R>(mut wb: R, name: &str) -> Result<Vec<ImportRow>>
where
    RS: Read + Seek,
    R: Reader<RS>,
{
    let sheet = choose_sheet(wb.sheets_metadata()).ok_or_else(|| no_sheet(name))?;
    let range = wb.worksheet_range(&sheet).map_err(|_| unreadable(name))?;
    let mut rows = Assembler::new(name);
    if let Some((r0, c0)) = range.start() {
        for (r, c, value) in range.used_cells() {
            rows.push(r0 + r as u32, c0 + c as u32, || render(value))?;
        }
    }
    rows.finish()
}

/// A non-empty cell as read.
enum Cell {
    Text(String),
    /// An error value, as Excel shows it ("#N/A").
    Error(String),
}

fn render(d: &Data) -> Option<Cell> {
    Some(Cell::Text(match d {
        Data::Empty => return None,
        Data::String(s) => s.clone(),
        Data::Int(i) => i.to_string(),
        Data::Float(f) => render_number(*f),
        Data::Bool(b) => render_bool(*b),
        Data::DateTime(dt) => render_datetime(dt),
        Data::DateTimeIso(s) | Data::DurationIso(s) => s.clone(),
        Data::Error(e) => return Some(render_error(e)),
    }))
}

fn render_ref(d: &DataRef<'_>) -> Option<Cell> {
    Some(Cell::Text(match d {
        DataRef::Empty => return None,
        DataRef::SharedString(s) => (*s).to_owned(),
        DataRef::String(s) => s.clone(),
        DataRef::Int(i) => i.to_string(),
        DataRef::Float(f) => render_number(*f),
        DataRef::Bool(b) => render_bool(*b),
        DataRef::DateTime(dt) => render_datetime(dt),
        DataRef::DateTimeIso(s) | DataRef::DurationIso(s) => s.clone(),
        DataRef::Error(e) => return Some(render_error(e)),
    }))
}

fn render_error(e: &CellErrorType) -> Cell {
    Cell::Error(e.to_string())
}

fn render_bool(b: bool) -> String {
    if b { "TRUE" } else { "FALSE" }.to_owned()
}

/// A number as a General cell shows it, but never in exponent form: integers exactly
/// (below 10^15), others rounded to Excel's 15 significant digits, shortest form.
pub(crate) fn render_number(f: f64) -> String {
    if !f.is_finite() {
        return String::new();
    }
    if f.fract() == 0.0 && f.abs() < 1e15 {
        return format!("{}", f as i64);
    }
    let rounded: f64 = format!("{f:.14e}").parse().unwrap_or(f);
    let s = format!("{rounded}");
    if s == "-0" { "0".to_owned() } else { s }
}

fn render_datetime(dt: &ExcelDateTime) -> String {
    if dt.is_duration() {
        return render_number(dt.as_f64());
    }
    let (y, mo, d, h, mi, s, _) = dt.to_ymd_hms_milli();
    match (h, mi, s) {
        (0, 0, 0) => format!("{y:04}-{mo:02}-{d:02}"),
        (_, _, 0) => format!("{y:04}-{mo:02}-{d:02} {h:02}:{mi:02}"),
        _ => format!("{y:04}-{mo:02}-{d:02} {h:02}:{mi:02}:{s:02}"),
    }
}

/// The located header: for each sheet column, the import column it holds.
struct Header {
    row: u32,
    columns: Vec<(u32, usize)>,
}

impl Header {
    fn column(&self, col: u32) -> Option<usize> {
        self.columns
            .iter()
            .find(|(c, _)| *c == col)
            .map(|&(_, i)| i)
    }
}

type RawRow = (u32, Vec<(u32, Cell)>);

/// Groups streamed cells into rows, finds the header among the first rows, and turns
/// every later non-blank row into an [`ImportRow`].
struct Assembler<'n> {
    name: &'n str,
    current: Option<RawRow>,
    /// Rows seen before the header was decided (only the first [`HEADER_SEARCH_ROWS`]).
    head: Vec<RawRow>,
    header: Option<Header>,
    rows: Vec<ImportRow>,
    /// Whether anything at all was seen (an empty sheet is `excel.empty`, a sheet with
    /// other content `excel.missing_header`).
    seen: bool,
}

impl<'n> Assembler<'n> {
    fn new(name: &'n str) -> Self {
        Assembler {
            name,
            current: None,
            head: Vec::new(),
            header: None,
            rows: Vec::new(),
            seen: false,
        }
    }

    /// One cell, in row order; `value` renders it and is only called when it is needed.
    fn push(&mut self, row: u32, col: u32, value: impl FnOnce() -> Option<Cell>) -> Result<()> {
        if self.current.as_ref().is_none_or(|(r, _)| *r != row) {
            self.flush()?;
            self.current = Some((row, Vec::new()));
        }
        let cell = if self.header.is_none() {
            // Still looking for the header: keep every non-empty cell of the first rows.
            let Some(cell) = value() else {
                return Ok(());
            };
            self.seen = true;
            if row >= HEADER_SEARCH_ROWS {
                self.decide_header()?;
                if !self.wanted(row, col) {
                    return Ok(());
                }
            }
            cell
        } else {
            if !self.wanted(row, col) {
                return Ok(());
            }
            let Some(cell) = value() else {
                return Ok(());
            };
            cell
        };
        if let Some((_, cells)) = &mut self.current {
            cells.push((col, cell));
        }
        Ok(())
    }

    /// Whether a cell is read once the header is known: below it, in a known column.
    fn wanted(&self, row: u32, col: u32) -> bool {
        self.header
            .as_ref()
            .is_some_and(|h| row > h.row && h.column(col).is_some())
    }

    fn flush(&mut self) -> Result<()> {
        let Some((row, cells)) = self.current.take() else {
            return Ok(());
        };
        if cells.is_empty() {
            return Ok(());
        }
        if self.header.is_none() {
            self.head.push((row, cells));
            return Ok(());
        }
        self.add_row(row, cells)
    }

    fn add_row(&mut self, row: u32, cells: Vec<(u32, Cell)>) -> Result<()> {
        let Some(header) = &self.header else {
            return Ok(());
        };
        if row <= header.row {
            return Ok(());
        }
        let mut out = ImportRow {
            row: row + 1,
            ..ImportRow::default()
        };
        let mut blank = true;
        for (col, cell) in cells {
            let Some(i) = header.column(col) else {
                continue;
            };
            let column = &COLUMNS[i];
            let value = match cell {
                Cell::Text(text) => {
                    let text = text.trim();
                    let n = text.chars().count();
                    if n > MAX_CELL_CHARS {
                        out.cell_errors.push(cell_violation(
                            "excel.cell_too_long",
                            column.field,
                            format!(
                                "“{}”列内容过长(共{n}个字符),一个单元格最多{MAX_CELL_CHARS}个字符",
                                column.header
                            ),
                        ));
                        text.chars().take(MAX_CELL_CHARS).collect()
                    } else {
                        text.to_owned()
                    }
                }
                Cell::Error(shown) => {
                    out.cell_errors.push(cell_violation(
                        "excel.cell_error",
                        column.field,
                        format!(
                            "“{}”列是错误值{shown}(公式出错或引用失效),请改为实际内容",
                            column.header
                        ),
                    ));
                    shown
                }
            };
            if value.is_empty() {
                continue;
            }
            blank = false;
            if let Some(slot) = out.slot(column.field) {
                *slot = value;
            }
        }
        if blank {
            return Ok(());
        }
        if self.rows.len() >= MAX_IMPORT_ROWS {
            return Err(Error::excel(
                "excel.too_many_rows",
                format!(
                    "文件{}的数据超过{MAX_IMPORT_ROWS}行,超出一次导入的上限,请分成多个文件分批导入",
                    quoted(self.name)
                ),
            ));
        }
        self.rows.push(out);
        Ok(())
    }

    /// Choose the header among the buffered first rows: the first row naming both
    /// required columns; failing that, report what the best row lacks.
    fn decide_header(&mut self) -> Result<()> {
        let mut best: Option<(usize, Header)> = None;
        for (row, cells) in &self.head {
            let mut columns: Vec<(u32, usize)> = Vec::new();
            for (col, cell) in cells {
                if let Cell::Text(text) = cell
                    && let Some(i) = column_for_header(text)
                    && !columns.iter().any(|&(_, j)| j == i)
                {
                    columns.push((*col, i));
                }
            }
            let score = columns.len();
            let has_required = COLUMNS
                .iter()
                .enumerate()
                .filter(|(_, c)| c.required)
                .all(|(i, _)| columns.iter().any(|&(_, j)| j == i));
            let header = Header { row: *row, columns };
            if has_required {
                best = Some((usize::MAX, header));
                break;
            }
            if score > 0 && best.as_ref().is_none_or(|(s, _)| score > *s) {
                best = Some((score, header));
            }
        }
        match best {
            Some((usize::MAX, header)) => {
                self.header = Some(header);
                for (row, cells) in std::mem::take(&mut self.head) {
                    self.add_row(row, cells)?;
                }
                Ok(())
            }
            _ if !self.seen => Err(self.empty()),
            other => {
                let found = other.map(|(_, h)| h.columns).unwrap_or_default();
                let missing: Vec<String> = COLUMNS
                    .iter()
                    .enumerate()
                    .filter(|(i, c)| c.required && !found.iter().any(|(_, j)| j == i))
                    .map(|(_, c)| format!("“{}”", template_header(c)))
                    .collect();
                Err(Error::excel(
                    "excel.missing_header",
                    format!(
                        "文件{}的前{HEADER_SEARCH_ROWS}行中找不到表头{},请使用导入模板,\
                         不要修改或删除表头行",
                        quoted(self.name),
                        missing.join("、")
                    ),
                ))
            }
        }
    }

    fn empty(&self) -> Error {
        Error::excel(
            "excel.empty",
            format!(
                "文件{}中没有要导入的数据,请在“{IMPORT_SHEET}”工作表中从第2行起填写下级组织",
                quoted(self.name)
            ),
        )
    }

    fn finish(mut self) -> Result<Vec<ImportRow>> {
        self.flush()?;
        if self.header.is_none() {
            self.decide_header()?;
        }
        if self.rows.is_empty() {
            return Err(self.empty());
        }
        self.rows.sort_by_key(|r| r.row);
        Ok(self.rows)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_render_as_shown() {
        assert_eq!(render_number(2017.0), "2017");
        assert_eq!(render_number(13812345678.0), "13812345678");
        assert_eq!(render_number(3.5), "3.5");
        assert_eq!(render_number(0.1 + 0.2), "0.3");
        assert_eq!(render_number(-0.0), "0");
        assert_eq!(render_number(1e20), "100000000000000000000");
        assert_eq!(render_number(1.5e-7), "0.00000015");
        assert_eq!(render_number(510104199001011234.0), "510104199001011000");
        assert_eq!(render_number(f64::NAN), "");
    }

    #[test]
    fn other_cell_types_render_as_shown() {
        use calamine::ExcelDateTimeType::{DateTime, TimeDelta};
        let text = |d: Data| match render(&d) {
            Some(Cell::Text(s)) => s,
            Some(Cell::Error(e)) => format!("error {e}"),
            None => "none".into(),
        };
        let date = |v| Data::DateTime(ExcelDateTime::new(v, DateTime, false));
        assert_eq!(text(date(43100.0)), "2017-12-31");
        assert_eq!(text(date(43100.375)), "2017-12-31 09:00");
        assert_eq!(
            text(Data::DateTime(ExcelDateTime::new(0.5, TimeDelta, false))),
            "0.5"
        );
        assert_eq!(text(Data::Bool(true)), "TRUE");
        assert_eq!(text(Data::Int(2017)), "2017");
        assert_eq!(text(Data::Error(CellErrorType::Ref)), "error #REF!");
        assert_eq!(text(Data::Empty), "none");
    }

    #[test]
    fn markup_is_recognized() {
        assert!(looks_like_markup(b"\xEF\xBB\xBF  <html"));
        assert!(!looks_like_markup(b"a,b,c"));
    }
}

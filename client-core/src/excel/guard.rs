//! Checks of an uploaded workbook made before calamine reads it.
//!
//! calamine 0.38 trusts sizes a file declares and allocates for them up front. When such an
//! allocation fails the process aborts; that is no panic, so the importer's `catch_unwind`
//! cannot turn it into an error, and a damaged or hostile file chosen for import would take
//! the client down. Each check here reads only the numbers calamine would trust and refuses
//! a file whose numbers no valid workbook has. The files were found by fuzzing or by
//! reading calamine's sources (`tests/fuzz_regressions.rs`, fuzz/README.md).

use std::io::{BufReader, Read, Seek};

use quick_xml::events::Event;

/// BIFF8's largest sheet: 65,536 rows of 256 columns.
const XLS_MAX_ROWS: u64 = 65_536;
const XLS_MAX_COLUMNS: u64 = 256;

/// Most distinct strings an .xlsx may declare (`<sst uniqueCount>`). calamine reserves a
/// `String` (24 bytes) for each before reading any. An import holds at most
/// [`MAX_IMPORT_ROWS`](super::MAX_IMPORT_ROWS) rows of a few columns; two million leaves room
/// for any other sheets of a real workbook and bounds the reservation to 48 MB.
const XLSX_MAX_SHARED_STRINGS: u64 = 2_000_000;

/// How much of a sharedStrings part is read looking for its `<sst>` element, which a valid
/// part starts with.
const XLSX_SST_SEARCH_BYTES: u64 = 1 << 20;

/// Whether the .xls in `file` must be refused before calamine reads it:
/// - its compound-file container is damaged: calamine follows a cyclic sector chain without
///   end (the `cfb` crate detects it), and reads on where a chain points past the file's
///   sectors, so a workbook stream the `cfb` crate cannot read is not checked as calamine
///   reads it;
/// - it declares or spans a sheet larger than BIFF8 allows: a DIMENSIONS record for which
///   calamine reserves `rows × columns` cells (`xls.rs`, `parse_workbook`), or cells so far
///   apart that `Range::from_sparse` allocates the dense grid between them.
///
/// Each aborts the process on a few hundred bytes of damage.
pub(super) fn xls_refused<RS: Read + Seek>(file: RS) -> bool {
    let Ok(mut file) = cfb::CompoundFile::open(file) else {
        return true;
    };
    // calamine reads the first stream named Workbook, else Book; both are checked.
    let streams: Vec<_> = file
        .walk()
        .filter(|e| {
            e.is_stream()
                && (e.name().eq_ignore_ascii_case("Workbook")
                    || e.name().eq_ignore_ascii_case("Book"))
        })
        .map(|e| e.path().to_owned())
        .collect();
    for path in streams {
        let mut bytes = Vec::new();
        let read = file
            .open_stream(&path)
            .and_then(|mut s| s.read_to_end(&mut bytes));
        if read.is_err() {
            return true;
        }
        // Every BoundSheet8 record gives a sheet's offset in the stream (calamine reads
        // those before the globals' EOF; all of them are checked).
        let mut sheets = Vec::new();
        records(&bytes, |typ, data| {
            if typ == 0x0085 && data.len() >= 4 {
                sheets.push(u32_at(data, 0) as usize);
            }
            true
        });
        if sheets
            .into_iter()
            .any(|at| bytes.get(at..).is_some_and(sheet_too_large))
        {
            return true;
        }
    }
    false
}

/// Calls `f(type, data)` for each BIFF record of `s`, until `f` returns false or a record
/// is cut short (where calamine stops with an error).
fn records(s: &[u8], mut f: impl FnMut(u16, &[u8]) -> bool) {
    let mut p = 0;
    while p + 4 <= s.len() {
        let typ = u16::from_le_bytes([s[p], s[p + 1]]);
        let len = usize::from(u16::from_le_bytes([s[p + 2], s[p + 3]]));
        let Some(data) = s.get(p + 4..p + 4 + len) else {
            return;
        };
        if !f(typ, data) {
            return;
        }
        p += 4 + len;
    }
}

fn u16_at(b: &[u8], i: usize) -> u64 {
    u64::from(u16::from_le_bytes([b[i], b[i + 1]]))
}

fn u32_at(b: &[u8], i: usize) -> u32 {
    u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]])
}

/// `(rows, columns)` a DIMENSIONS record declares, computed as calamine does
/// (`parse_dimensions`, including its wrapping arithmetic in a release build).
fn dimensions(r: &[u8]) -> (u64, u64) {
    let (rf, rl, mut cf, cl) = match r.len() {
        10 => (
            u16_at(r, 0) as u32,
            u16_at(r, 2) as u32,
            u16_at(r, 4) as u32,
            u16_at(r, 6) as u32,
        ),
        14 | 16 => (
            u32_at(r, 0),
            u32_at(r, 4),
            u16_at(r, 8) as u32,
            u16_at(r, 10) as u32,
        ),
        _ => return (0, 0), // calamine refuses the record
    };
    if 0xFF < cf || cl < cf {
        cf = 0;
    }
    let (end_r, end_c) = if rl >= 1 && cl >= 1 {
        (rl - 1, cl - 1)
    } else {
        (rf, cf)
    };
    (
        u64::from(end_r.wrapping_sub(rf).wrapping_add(1)),
        u64::from(end_c.wrapping_sub(cf).wrapping_add(1)),
    )
}

/// Whether one sheet substream, read from its BoundSheet8 offset as calamine reads it,
/// declares or spans more than BIFF8's rows or columns.
fn sheet_too_large(sheet: &[u8]) -> bool {
    let (mut r0, mut r1, mut c0, mut c1) = (u64::MAX, 0, u64::MAX, 0);
    let mut too_large = false;
    let mut seen_bof = false;
    let mut depth = 0usize; // nested substreams (charts) are skipped, as calamine does
    records(sheet, |typ, d| {
        if depth > 0 {
            match typ {
                0x0809 => depth += 1,
                0x000A => depth -= 1,
                _ => {}
            }
            return true;
        }
        let mut cell = |r: u64, c: u64| {
            (r0, r1, c0, c1) = (r0.min(r), r1.max(r), c0.min(c), c1.max(c));
        };
        match typ {
            0x0809 if seen_bof => depth += 1,
            0x0809 => seen_bof = true,
            0x0200 => {
                let (rows, cols) = dimensions(d);
                too_large |= rows > XLS_MAX_ROWS || cols > XLS_MAX_COLUMNS;
            }
            // Number, Label, RString, BoolErr, Rk, LabelSst, Formula: row, column first.
            0x0203 | 0x0204 | 0x00D6 | 0x0205 | 0x027E | 0x00FD | 0x0006 if d.len() >= 4 => {
                cell(u16_at(d, 0), u16_at(d, 2));
            }
            // MulRk: row, first column, …, last column.
            0x00BD if d.len() >= 6 => {
                cell(u16_at(d, 0), u16_at(d, 2));
                cell(u16_at(d, 0), u16_at(d, d.len() - 2));
            }
            0x000A => return false,
            _ => {}
        }
        true
    });
    too_large || (r0 <= r1 && (r1 - r0 + 1 > XLS_MAX_ROWS || c1 - c0 + 1 > XLS_MAX_COLUMNS))
}

/// Whether the .xlsx (a zip) declares more distinct strings than
/// [`XLSX_MAX_SHARED_STRINGS`] in a sharedStrings part: calamine reserves room for every one
/// (`Xlsx::read_shared_strings`), so `uniqueCount="2000000000"` in a 10 KB file asks for
/// 48 GB and aborts. Any zip entry named …sharedStrings.xml is checked (calamine finds its
/// part through the workbook's path, case-insensitively).
pub(super) fn xlsx_shared_strings_too_many<RS: Read + Seek>(file: RS) -> bool {
    let Ok(mut zip) = zip::ZipArchive::new(file) else {
        return false; // calamine cannot open it either
    };
    for i in 0..zip.len() {
        let Ok(entry) = zip.by_index(i) else {
            continue;
        };
        let Ok(name) = entry.name() else { continue };
        let name = name.replace('\\', "/").to_ascii_lowercase();
        if !name.ends_with("sharedstrings.xml") {
            continue;
        }
        if declared_unique_count(BufReader::new(entry.take(XLSX_SST_SEARCH_BYTES)))
            .is_none_or(|n| n > XLSX_MAX_SHARED_STRINGS)
        {
            return true;
        }
    }
    false
}

/// Whether the zip is an OpenDocument file (its `mimetype` entry says so), which calamine's
/// `Ods::new` would read whole.
pub(super) fn is_open_document<RS: Read + Seek>(file: RS) -> bool {
    let Ok(mut zip) = zip::ZipArchive::new(file) else {
        return false;
    };
    let mut mime = Vec::new();
    zip.by_name("mimetype")
        .and_then(|e| Ok(e.take(64).read_to_end(&mut mime)?))
        .is_ok_and(|_| mime.starts_with(b"application/vnd.oasis.opendocument"))
}

/// The `uniqueCount` of the first `<sst>` element: `Some(0)` if it has none; `None` if it
/// is not plain digits (calamine's number parser accepts more than Excel writes) or the
/// element is not found in the bytes read.
fn declared_unique_count(part: impl std::io::BufRead) -> Option<u64> {
    let mut xml = quick_xml::Reader::from_reader(part);
    let config = xml.config_mut();
    config.check_end_names = false;
    config.check_comments = false;
    let mut buf = Vec::new();
    loop {
        buf.clear();
        match xml.read_event_into(&mut buf) {
            Ok(Event::Start(e) | Event::Empty(e)) if e.local_name().into_inner() == "sst" => {
                let mut count = 0;
                for attr in e.attributes().with_checks(false) {
                    let attr = attr.ok()?;
                    if attr.key.local_name().into_inner() == "uniqueCount" {
                        let v: &str = &attr.value;
                        if v.is_empty() || v.len() > 12 || !v.bytes().all(|b| b.is_ascii_digit()) {
                            return None;
                        }
                        count = count.max(v.parse().ok()?);
                    }
                }
                return Some(count);
            }
            Ok(Event::Eof) | Err(_) => return None,
            Ok(_) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn count(xml: &str) -> Option<u64> {
        declared_unique_count(xml.as_bytes())
    }

    #[test]
    fn unique_count_is_read_as_excel_writes_it() {
        let head = r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>"#;
        assert_eq!(
            count(&format!(
                r#"{head}<sst xmlns="x" count="74" uniqueCount="70">"#
            )),
            Some(70)
        );
        assert_eq!(count(&format!("{head}<sst/>")), Some(0));
        assert_eq!(count(r#"<x:sst x:uniqueCount="9"/>"#), Some(9));
        // What calamine might read as a number but Excel never writes: refused.
        assert_eq!(count(r#"<sst uniqueCount="+9"/>"#), None);
        assert_eq!(count(r#"<sst uniqueCount=" 9"/>"#), None);
        assert_eq!(count(r#"<sst uniqueCount="99999999999999"/>"#), None);
        assert_eq!(count("<root>no sst</root>"), None);
    }

    #[test]
    fn dimensions_are_computed_as_calamine_does() {
        // BIFF8: rows 0..10 (last is one past), columns 0..3.
        let mut r = Vec::new();
        for v in [0u32, 10] {
            r.extend(v.to_le_bytes());
        }
        for v in [0u16, 3, 0] {
            r.extend(v.to_le_bytes());
        }
        assert_eq!(dimensions(&r), (10, 3));
        r[4..8].copy_from_slice(&0xFE00_0001u32.to_le_bytes());
        assert_eq!(dimensions(&r).0, 0xFE00_0001);
    }
}

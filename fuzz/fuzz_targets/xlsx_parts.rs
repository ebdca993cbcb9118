//! `read_import_bytes` on an .xlsx whose shared strings and first sheet are the input.
//!
//! The zip's compression keeps `excel_import` from reaching calamine's XML readers (a
//! mutated deflate stream rarely inflates), so this target builds the zip itself, with the
//! parts stored uncompressed, around the import template's other parts (its workbook,
//! relationships and styles; sheet1 is 下级组织). Input: xl/sharedStrings.xml, a 0xFF byte
//! (never in UTF-8), then xl/worksheets/sheet1.xml; without a 0xFF, the whole input is the
//! sheet and the template's shared strings stay.
//!
//! As in `excel_import`, only a panic that escapes the importer, an abort or memory
//! exhaustion is a crash (`panics.rs`).
#![no_main]

use std::io::{Cursor, Read, Write};
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;

#[path = "panics.rs"]
mod panics;

const SHARED_STRINGS: &str = "xl/sharedStrings.xml";
const SHEET: &str = "xl/worksheets/sheet1.xml";

/// The import template's parts, in order.
fn template() -> &'static [(String, Vec<u8>)] {
    static PARTS: OnceLock<Vec<(String, Vec<u8>)>> = OnceLock::new();
    PARTS.get_or_init(|| {
        let path = std::env::temp_dir().join(format!("zhtj-fuzz-{}.xlsx", std::process::id()));
        client_core::excel::write_template(&path).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        std::fs::remove_file(&path).unwrap();
        let mut zip = zip::ZipArchive::new(Cursor::new(bytes)).unwrap();
        (0..zip.len())
            .map(|i| {
                let mut part = zip.by_index(i).unwrap();
                let name = part.name().unwrap().into_owned();
                let mut content = Vec::new();
                part.read_to_end(&mut content).unwrap();
                (name, content)
            })
            .collect()
    })
}

fn workbook(shared_strings: Option<&[u8]>, sheet: &[u8]) -> Vec<u8> {
    let mut out = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let stored =
        zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    for (name, content) in template() {
        let content = match name.as_str() {
            SHEET => sheet,
            SHARED_STRINGS => shared_strings.unwrap_or(content),
            _ => content,
        };
        out.start_file(name.as_str(), stored).unwrap();
        out.write_all(content).unwrap();
    }
    out.finish().unwrap().into_inner()
}

fuzz_target!(|data: &[u8]| {
    let (shared_strings, sheet) = match data.iter().position(|&b| b == 0xFF) {
        Some(i) => (Some(&data[..i]), &data[i + 1..]),
        None => (None, data),
    };
    let bytes = workbook(shared_strings, sheet);
    panics::run(|| {
        if let Ok(rows) = client_core::excel::read_import_bytes(&bytes, Some("fuzz.xlsx")) {
            for row in &rows {
                for &field in schemas::Field::ALL {
                    let _ = row.get(field);
                }
            }
        }
    });
});

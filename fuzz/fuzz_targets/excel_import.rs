//! `read_import_bytes` (the Excel importer) on arbitrary bytes: must never panic, abort or
//! run out of memory.
//!
//! The corpus is seeded with real .xlsx and .xls files (see README.md). The file name hint
//! only appears in messages, so it is fixed.
//!
//! The importer itself turns a panic inside calamine into an "unreadable file" error
//! (`catch_unwind`), which is its contract: no panic escapes. So only a panic that escapes
//! `read_import_bytes` is a crash here (`panics.rs`); `FUZZ_STRICT_PANICS=1` makes every
//! panic one, to find (and report upstream) the panics calamine has.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "panics.rs"]
mod panics;

fuzz_target!(|data: &[u8]| {
    panics::run(|| {
        if let Ok(rows) = client_core::excel::read_import_bytes(data, Some("fuzz.xlsx")) {
            for row in &rows {
                for &field in schemas::Field::ALL {
                    let _ = row.get(field);
                }
            }
        }
    });
});

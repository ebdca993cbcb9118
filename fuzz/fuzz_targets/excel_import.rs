//! `read_import_bytes` (the Excel importer) on arbitrary bytes: must never panic.
//!
//! The corpus is seeded with real .xlsx and .xls files (see README.md). The file name hint
//! only appears in messages, so it is fixed.
//!
//! The importer itself turns a panic inside calamine into an "unreadable file" error
//! (`catch_unwind`), which is its contract: no panic escapes. libFuzzer's panic hook would
//! abort on such a caught panic, so by default this target installs a quiet hook and only
//! a panic that escapes `read_import_bytes` is a crash. `FUZZ_STRICT_PANICS=1` keeps
//! libFuzzer's hook, to find (and report upstream) the panics calamine has.
#![no_main]

use std::cell::RefCell;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Once;

use libfuzzer_sys::fuzz_target;

static HOOK: Once = Once::new();

thread_local! {
    /// The message of the last panic, for reporting one that escapes.
    static LAST_PANIC: RefCell<Option<String>> = const { RefCell::new(None) };
}

fuzz_target!(|data: &[u8]| {
    HOOK.call_once(|| {
        if std::env::var_os("FUZZ_STRICT_PANICS").is_none() {
            std::panic::set_hook(Box::new(|info| {
                LAST_PANIC.with(|p| *p.borrow_mut() = Some(info.to_string()));
            }));
        }
    });
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        if let Ok(rows) = client_core::excel::read_import_bytes(data, Some("fuzz.xlsx")) {
            for row in &rows {
                for &field in schemas::Field::ALL {
                    let _ = row.get(field);
                }
            }
        }
    }));
    if outcome.is_err() {
        let message = LAST_PANIC.with(|p| p.borrow_mut().take()).unwrap_or_default();
        eprintln!("panic escaped read_import_bytes: {message}");
        std::process::abort();
    }
    LAST_PANIC.with(|p| p.borrow_mut().take());
});

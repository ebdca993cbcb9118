//! Panic handling for the targets whose code under test catches some panics itself (the
//! importer around calamine, the merge around Automerge's `load_incremental`) or that
//! tolerate a known panic of a dependency (Automerge's loader; see README.md).
//!
//! libFuzzer's hook aborts on every panic, even one that is caught. `init` replaces it by
//! a quiet one that only remembers the message (unless `FUZZ_STRICT_PANICS` is set: then
//! every panic, caught or not, is a crash); `run` aborts, with that message, on a panic
//! that escapes the code under test.

use std::cell::RefCell;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Once;

thread_local! {
    static LAST_PANIC: RefCell<Option<String>> = const { RefCell::new(None) };
}

fn init() {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        if std::env::var_os("FUZZ_STRICT_PANICS").is_none() {
            std::panic::set_hook(Box::new(|info| {
                LAST_PANIC.with(|p| *p.borrow_mut() = Some(info.to_string()));
            }));
        }
    });
}

/// Run one input: a panic that escapes `f` is a crash.
pub fn run(f: impl FnOnce()) {
    init();
    if catch_unwind(AssertUnwindSafe(f)).is_err() {
        let message = LAST_PANIC
            .with(|p| p.borrow_mut().take())
            .unwrap_or_default();
        eprintln!("panic escaped the code under test: {message}");
        std::process::abort();
    }
    LAST_PANIC.with(|p| p.borrow_mut().take());
}

/// `f`, or `None` if it panicked: for a dependency's known panic.
#[allow(dead_code)]
pub fn tolerated<T>(f: impl FnOnce() -> T) -> Option<T> {
    catch_unwind(AssertUnwindSafe(f)).ok()
}

//! Arbitrary bytes as an organization's Automerge document: load, `doc::read`, and the
//! other readers of stored or received documents. Must never panic.
//!
//! automerge 0.12 panics on some malformed input in `load` and `load_incremental`, and can
//! exhaust memory on a change bundle (chunk type 3): upstream bugs (README.md). Where the
//! project loads untrusted bytes (the merge) it refuses bundles before Automerge sees them
//! (`wire::chunk::has_foreign_chunk`) and catches the panics; this target does the same, so those
//! panics are tolerated here (`FUZZ_STRICT_PANICS=1`: not) and any other panic is a crash.
//! `FUZZ_BUNDLES=1` lets bundles through, to look at Automerge's bundle parser itself.
//!
//! Also checked: `doc::saved_heads` (the hand-written header reader the server uses to skip
//! loading a document) agrees with Automerge on every document Automerge loads.
#![no_main]

use automerge::{AutoCommit, ChangeHash};
use client_core::doc;
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

#[path = "panics.rs"]
mod panics;

fuzz_target!(|data: &[u8]| panics::run(|| one(data)));

fn one(data: &[u8]) {
    let heads_in_header = wire::chunk::saved_heads(data);
    let _ = wire::heads::decode(data);
    if wire::chunk::has_foreign_chunk(data) && !bundles_allowed() {
        return;
    }

    if let Some(Ok(mut d)) = panics::tolerated(|| AutoCommit::load(data)) {
        let record = doc::read(&d);
        let heads = d.get_heads();
        if let Some(h) = &heads_in_header {
            let mut a: Vec<ChangeHash> = h.clone();
            let mut b = heads.clone();
            a.sort();
            b.sort();
            assert_eq!(a, b, "saved_heads disagrees with the loaded document");
        }
        // The record at the document's own heads is the record; at no heads, empty.
        if let Ok(at) = doc::read_at(&mut d, &heads) {
            assert_eq!(at, record, "read_at(current heads) differs from read");
        }
        let _ = doc::read_at(&mut d, &[]);
        // A replica keeps the immutable fields an accepted state had.
        let accepted = schemas::org::OrgRecord::default();
        let _ = doc::resolve_immutables(&mut d, &accepted, 0);
        let _ = doc::read(&d);
        // What a replica saves and sends back loads again.
        let saved = d.save_nocompress();
        let again = AutoCommit::load(&saved).expect("a saved document loads again");
        assert_eq!(doc::read(&again), doc::read(&d));
    }

    // The same bytes as changes received for a new document (the server's path for a push
    // of a document it does not hold yet).
    let mut fresh = AutoCommit::new();
    if let Some(Ok(_)) = panics::tolerated(|| fresh.load_incremental(data)) {
        let _ = fresh.get_missing_deps(&[]);
        let _ = doc::read(&fresh);
    }
}

fn bundles_allowed() -> bool {
    static ALLOWED: OnceLock<bool> = OnceLock::new();
    *ALLOWED.get_or_init(|| std::env::var_os("FUZZ_BUNDLES").is_some())
}

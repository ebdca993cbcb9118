//! Inputs the fuzz targets found (fuzz/README.md), kept as regular tests.

use client_core::protocol::{DocOutcome, PushDoc};
use sync_server::identity::Actor;
use sync_server::merge;
use sync_server::storage::Store;

/// Push `bytes` as the changes of 团锦江区委 (`org-510104`) by 团成都市委's admin, into a new
/// store with the initial tree: the document's outcome.
fn push_as_city_admin(bytes: &[u8]) -> Result<DocOutcome, String> {
    let dir = tempfile::TempDir::new().unwrap();
    let store = Store::open(&dir.path().join("s.sqlite3")).unwrap();
    sync_server::operator::initialize_tree(&store).unwrap();
    let actor = Actor {
        account_id: 1,
        org_id: "org-5101".into(),
        org_path: "/org-100000/org-51/org-5101/".into(),
    };
    let docs = vec![PushDoc {
        id: "org-510104".into(),
        changes: bytes.to_vec(),
    }];
    store
        .transaction(|tx| merge::push(tx, &actor, &docs, 0))
        .map(|r| r[0].outcome.clone())
        .map_err(|e| e.to_string())
}

/// Found by `push_decode_merge`: Automerge 0.12 panics on this truncated change bundle (a
/// LEB128 length cut short) instead of returning an error. A panic inside the push's
/// blocking task failed the whole push; the document alone must be refused as malformed.
#[test]
fn a_change_set_that_makes_automerge_panic_is_refused_as_malformed() {
    let bytes = include_bytes!("fixtures/fuzz/automerge-bundle-truncated-leb128.bin");
    match push_as_city_admin(bytes).unwrap() {
        DocOutcome::Rejected { violations } => assert_eq!(violations[0].code, "doc.malformed"),
        o => panic!("{o:?}"),
    }
}

/// Found by `doc_read`: 309 bytes, a change bundle (an Automerge chunk of type 3) whose
/// delta-encoded column holds a run so long that automerge 0.12
/// (`storage::bundle::storage::decode_delta_int`) collects billions of integers: a debug
/// build passes 8 GB in 78 s, then `memory allocation of 17179869184 bytes failed` aborts
/// the process; `load_incremental` does the same. Pushed, it took the whole server down (an
/// allocation failure is no panic). The merge now refuses the chunk types clients never
/// write (bundles) before Automerge parses them. The test gives up after 5 s, so that a
/// regression cannot eat the machine.
#[test]
fn a_change_set_that_makes_automerge_exhaust_memory_is_refused_as_malformed() {
    let bytes: &'static [u8] = include_bytes!("fixtures/fuzz/automerge-bundle-huge-run.bin");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(push_as_city_admin(bytes));
    });
    // The merge thread is left running on failure: the test binary exits after its tests.
    match rx.recv_timeout(std::time::Duration::from_secs(5)) {
        Ok(Ok(DocOutcome::Rejected { violations })) => {
            assert_eq!(violations[0].code, "doc.malformed")
        }
        Ok(other) => panic!("{other:?}"),
        Err(_) => panic!("still merging after 5 s (the bundle is being decoded)"),
    }
}

//! Inputs the fuzz targets found (fuzz/README.md), kept as regular tests.

use client_core::protocol::{DocOutcome, PushDoc};
use sync_server::merge::{self, Actor};
use sync_server::store::Store;

/// Found by `push_decode_merge`: Automerge 0.12 panics on this truncated change bundle (a
/// LEB128 length cut short) instead of returning an error. A panic inside the push's
/// blocking task failed the whole push; the document alone must be refused as malformed.
#[test]
fn a_change_set_that_makes_automerge_panic_is_refused_as_malformed() {
    let bytes = include_bytes!("fixtures/fuzz/automerge-bundle-truncated-leb128.bin");
    let dir = tempfile::TempDir::new().unwrap();
    let store = Store::open(&dir.path().join("s.sqlite3")).unwrap();
    sync_server::app::initialize_tree(&store).unwrap();
    let actor = Actor {
        account_id: 1,
        org_id: "org-5101".into(),
        org_path: "/org-100000/org-51/org-5101/".into(),
    };
    let docs = vec![PushDoc {
        id: "org-510104".into(),
        changes: bytes.to_vec(),
    }];
    let results = store
        .transaction(|tx| merge::push(tx, &actor, &docs, 0))
        .unwrap();
    match &results[0].outcome {
        DocOutcome::Rejected { violations } => assert_eq!(violations[0].code, "doc.malformed"),
        o => panic!("{o:?}"),
    }
}

//! `client-core`: a unit's offline replica of its subtree (one Automerge document per
//! organization, stored in a local SQLite file), every operation of a unit admin,
//! Excel in and out, and the sync client (`sync`). The CLI `zhtj` and the
//! desktop app are thin layers over this crate.

pub mod error;
pub mod excel;
pub mod replica;
pub mod store;
pub mod supervise;
pub mod sync;
pub mod workflows;

pub use error::{Error, Result};
// The wire messages, the document mapping and the history telling live in `wire`, shared
// with the server; re-exported so the CLI and the desktop keep one import path.
pub use replica::{Direction, NewChild, OrgView, Replica, TreeEntry};
pub use sync::{Account, Rejection, Remote, SyncReport, SyncStage, SyncStatus};
pub use wire::{doc, history, protocol};
pub use workflows::{ImportOutcome, LevelProgress, Progress};

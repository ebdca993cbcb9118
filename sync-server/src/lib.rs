//! `sync-server`: the city's sync server (axum + tokio, SQLite). It registers and logs in
//! administrators, merges the subtrees units push after validating every change, serves
//! each unit the changes of its subtree, and reports the campaign's progress.
//!
//! Three layers, each calling only the ones below it (no module imports another in a
//! circle: `tests/architecture`):
//!
//! - **HTTP** — `http`: the router and its state, the extractors, the one blocking helper,
//!   the JSON error body of every refusal, and the handlers; beneath it the connections:
//!   `net` (limits and timeouts) and `tls`. `server` opens the store and starts it all with
//!   the settings of `config`.
//! - **Services**, which know nothing of HTTP: `identity` (code look-up, registration,
//!   login, sessions, the logged-in `Actor`) with `limits` (guessing); `merge` (the
//!   validating merge of pushes) with `intake` (a push decoded within its limits); `feed`
//!   (pull); `history` (author records, a document's history); `progress` (supervision)
//!   and `report` (its Excel workbook); `schedule` (the campaign's dates); and the
//!   operator's `operator` and `demo`.
//! - **Storage** — `storage`: every SQL statement, by table family, with typed rows; the
//!   one writer and the read connections. A second backend implements this module.
//!
//! `error` is the one error type of all three; `metrics` counts what they do (for
//! Prometheus).

pub mod config;
pub mod demo;
pub mod error;
pub mod feed;
pub mod history;
pub mod http;
pub mod identity;
pub mod intake;
pub mod limits;
pub mod merge;
pub mod metrics;
pub mod net;
pub mod operator;
pub mod progress;
pub mod report;
pub mod schedule;
pub mod server;
pub mod storage;
pub mod tls;

pub use config::{Config, TlsFiles};
pub use error::{Error, Result};
pub use server::{Running, start};

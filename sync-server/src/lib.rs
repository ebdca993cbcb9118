//! `sync-server`: the city's sync server (axum + tokio, SQLite). It registers and logs in
//! administrators, merges the subtrees units push after validating every change
//! (`merge`), serves each unit the changes of its subtree (`feed`), and keeps everything
//! in one SQLite file (`store`).

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

//! `sync-server`: the city's sync server (axum + tokio, SQLite).

pub mod error;
pub mod merge;
pub mod store;

pub use error::{Error, Result};

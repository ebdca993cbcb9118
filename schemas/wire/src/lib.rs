//! `wire`: what the client and the server exchange and store alike, written once so that
//! both sides read and write the same bytes. No I/O and nothing of either side: no HTTP
//! client or server, no SQLite, no Excel, no command line.
//!
//! - [`protocol`]: the messages of every endpoint and the sync bodies' codec;
//! - [`doc`]: the mapping between an organization's Automerge document and its
//!   `schemas::org::OrgRecord`;
//! - [`chunk`]: the one reader of Automerge's binary chunks (heads of a stored document,
//!   foreign chunk types);
//! - [`heads`]: the one encoding of heads (storage, wire, hex);
//! - [`history`]: the change history of one organization, told the same on both sides;
//! - [`status`]: the one mapping between HTTP statuses and the project's error codes.

pub mod chunk;
pub mod doc;
pub mod error;
pub mod heads;
pub mod history;
pub mod protocol;
pub mod status;

pub use error::{Error, Result};

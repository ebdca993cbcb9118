//! sync-server

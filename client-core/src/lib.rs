//! client-core

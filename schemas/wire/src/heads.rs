//! The one encoding of a document's heads: 32 bytes per change hash, concatenated (how
//! both stores keep them), the wire's `[u8; 32]` per hash, and hex for people.

use automerge::ChangeHash;

/// Encode heads for storage: 32 bytes per hash, concatenated.
pub fn encode(heads: &[ChangeHash]) -> Vec<u8> {
    heads.iter().flat_map(|h| h.0).collect()
}

/// Decode heads stored by [`encode`]; damaged input yields the valid prefix.
pub fn decode(bytes: &[u8]) -> Vec<ChangeHash> {
    bytes
        .chunks_exact(32)
        .filter_map(|c| ChangeHash::try_from(c).ok())
        .collect()
}

/// Heads as the wire carries them.
pub fn to_wire(heads: &[ChangeHash]) -> Vec<[u8; 32]> {
    heads.iter().map(|h| h.0).collect()
}

/// A change hash in hex (how the history and the CLI show a change).
pub fn hex(h: &ChangeHash) -> String {
    h.0.iter().map(|b| format!("{b:02x}")).collect()
}

//! The one reader of Automerge's binary chunks (magic, checksum, type, LEB128 length,
//! data): what client and server learn from stored or pushed bytes without loading them
//! into Automerge, which costs time and memory (and, for a hostile "bundle", all of it).

use automerge::ChangeHash;
use sha2::{Digest, Sha256};

/// The first four bytes of every chunk.
pub(crate) const MAGIC: [u8; 4] = [0x85, 0x6f, 0x4a, 0x83];

/// A reader of LEB128 numbers and byte strings.
pub(crate) struct Cursor<'a> {
    pub(crate) bytes: &'a [u8],
    pub(crate) pos: usize,
}

impl<'a> Cursor<'a> {
    /// A chunk's header at the cursor: checks the magic, skips the checksum, returns the
    /// type and the data length, leaving the cursor at the data.
    pub(crate) fn header(&mut self) -> Option<(u8, u64)> {
        if self.take(4)? != MAGIC {
            return None;
        }
        self.take(4)?; // checksum
        let kind = *self.take(1)?.first()?;
        Some((kind, self.uleb()?))
    }

    pub(crate) fn uleb(&mut self) -> Option<u64> {
        let mut value: u64 = 0;
        for shift in (0..64).step_by(7) {
            let byte = *self.bytes.get(self.pos)?;
            self.pos += 1;
            value |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Some(value);
            }
        }
        None
    }

    pub(crate) fn sleb(&mut self) -> Option<i64> {
        let mut value: i64 = 0;
        for shift in (0..64).step_by(7) {
            let byte = *self.bytes.get(self.pos)?;
            self.pos += 1;
            value |= i64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                if shift < 57 && byte & 0x40 != 0 {
                    value |= -1 << (shift + 7);
                }
                return Some(value);
            }
        }
        None
    }

    pub(crate) fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let out = self.bytes.get(self.pos..self.pos.checked_add(n)?)?;
        self.pos += n;
        Some(out)
    }

    pub(crate) fn take_prefixed(&mut self) -> Option<&'a [u8]> {
        let n = usize::try_from(self.uleb()?).ok()?;
        self.take(n)
    }
}

/// Append `n` as unsigned LEB128.
pub(crate) fn push_uleb(out: &mut Vec<u8>, mut n: u64) {
    loop {
        let byte = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

/// The heads recorded in a saved document, read without loading it (which costs ~60 µs
/// and ~15 KB per document: design.md "Measured facts"): from the header of one document
/// chunk (as `save_nocompress()` or `save()` writes it), or, for one change chunk (a genesis
/// stored as created: [`crate::doc::genesis_change`]), the change's hash. `None` for anything else
/// (several chunks, compressed changes, damaged bytes): load the document then.
///
/// Layout (automerge binary format): magic `85 6f 4a 83`, 4 checksum bytes, chunk type
/// (0 = document, 1 = change), LEB128 data length, the data. A document's data starts with
/// the actors (LEB128 count, each a LEB128 length and bytes), then the heads (LEB128 count,
/// 32 bytes each). A change's hash is the SHA-256 of its type, length and data; the
/// checksum is the hash's first 4 bytes.
pub fn saved_heads(bytes: &[u8]) -> Option<Vec<ChangeHash>> {
    let mut c = Cursor { bytes, pos: 0 };
    let (kind, len) = c.header()?;
    let data = c.pos;
    if data.checked_add(usize::try_from(len).ok()?)? != bytes.len() {
        return None;
    }
    match kind {
        0 => {
            for _ in 0..c.uleb()? {
                c.take_prefixed()?; // an actor
            }
            let count = usize::try_from(c.uleb()?).ok()?;
            let heads = c
                .take(count.checked_mul(32)?)?
                .chunks_exact(32)
                .filter_map(|h| ChangeHash::try_from(h).ok())
                .collect::<Vec<_>>();
            (heads.len() == count).then_some(heads)
        }
        1 => {
            // Hashed over the canonical LEB128 of the length, as Automerge hashes it.
            let mut header = vec![kind];
            push_uleb(&mut header, len);
            let hash: [u8; 32] = Sha256::new()
                .chain_update(&header)
                .chain_update(&bytes[data..])
                .finalize()
                .into();
            (hash[..4] == bytes[4..8]).then(|| vec![ChangeHash(hash)])
        }
        _ => None,
    }
}

/// Whether `bytes` are exactly one uncompressed change chunk (a genesis stored as
/// created), whose hash [`saved_heads`] reads without loading it.
pub fn is_one_change(bytes: &[u8]) -> bool {
    one_chunk_of(bytes) == Some(1)
}

/// Whether `bytes` are exactly one document chunk (`save()`, `save_nocompress()`), whose
/// heads its header holds.
pub fn is_one_document(bytes: &[u8]) -> bool {
    one_chunk_of(bytes) == Some(0)
}

/// The type of the one chunk `bytes` are, if they are exactly one.
fn one_chunk_of(bytes: &[u8]) -> Option<u8> {
    let mut c = Cursor { bytes, pos: 0 };
    let (kind, len) = c.header()?;
    let end = usize::try_from(len)
        .ok()
        .and_then(|l| c.pos.checked_add(l))?;
    (end == bytes.len()).then_some(kind)
}

/// Whether `bytes` hold an Automerge chunk of a type this project never writes: 3 (a
/// "bundle") or above. Clients push documents (0) and changes (1, or 2 compressed) only,
/// and automerge 0.12 can exhaust memory parsing a bundle (a 309-byte one asks for more
/// than 16 GiB; found by fuzzing: sync-server/tests/fuzz_regressions.rs), where a failed
/// allocation aborts the server. Bytes that are not a sequence of chunks are left to
/// automerge.
pub fn has_foreign_chunk(bytes: &[u8]) -> bool {
    let mut c = Cursor { bytes, pos: 0 };
    while c.pos < bytes.len() {
        let Some((kind, len)) = c.header() else {
            return false;
        };
        if kind > 2 {
            return true;
        }
        match usize::try_from(len).ok().and_then(|l| c.pos.checked_add(l)) {
            Some(next) => c.pos = next,
            None => return false,
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A chunk as `has_foreign_chunk` reads it: magic, checksum (not checked there), type,
    /// LEB128 length, data.
    fn chunk(kind: u8, len: usize) -> Vec<u8> {
        let mut out = vec![0x85, 0x6f, 0x4a, 0x83, 0, 0, 0, 0, kind];
        push_uleb(&mut out, len as u64);
        out.extend(std::iter::repeat_n(0u8, len));
        out
    }

    #[test]
    fn only_chunk_types_clients_never_write_are_foreign() {
        let seq = |chunks: &[(u8, usize)]| -> Vec<u8> {
            chunks.iter().flat_map(|&(k, n)| chunk(k, n)).collect()
        };
        // Documents, changes and compressed changes, with lengths of one, two and three
        // LEB128 bytes: not foreign.
        assert!(!has_foreign_chunk(&seq(&[(0, 10), (1, 200), (2, 20_000)])));
        // A bundle (3) or anything above, after chunks of every length: foreign.
        assert!(has_foreign_chunk(&seq(&[(3, 5)])));
        assert!(has_foreign_chunk(&seq(&[(1, 200), (3, 5)])));
        assert!(has_foreign_chunk(&seq(&[(0, 20_000), (1, 1), (7, 0)])));
        // Not chunks at all, or cut short: left to automerge.
        assert!(!has_foreign_chunk(b"not a chunk"));
        assert!(!has_foreign_chunk(&seq(&[(1, 200)])[..100]));
        assert!(!has_foreign_chunk(&[]));
    }

    #[test]
    fn one_change_chunk_is_told_from_documents_and_sequences() {
        assert!(is_one_change(&chunk(1, 200)));
        assert!(!is_one_change(&chunk(0, 200)));
        assert!(!is_one_change(&chunk(2, 200)));
        let two: Vec<u8> = [chunk(1, 10), chunk(1, 10)].concat();
        assert!(!is_one_change(&two));
        assert!(!is_one_change(&chunk(1, 200)[..100]));
        assert!(!is_one_change(b""));
        assert!(is_one_document(&chunk(0, 200)));
        assert!(!is_one_document(&chunk(1, 200)));
        assert!(!is_one_document(&[chunk(0, 10), chunk(1, 10)].concat()));
    }

    #[test]
    fn leb128_lengths_of_one_two_and_three_bytes() {
        for (n, bytes) in [
            (5u64, vec![5u8]),
            (200, vec![0xc8, 0x01]),
            (20_000, vec![0xa0, 0x9c, 0x01]),
        ] {
            let mut out = Vec::new();
            push_uleb(&mut out, n);
            assert_eq!(out, bytes);
            assert_eq!(
                Cursor {
                    bytes: &out,
                    pos: 0
                }
                .uleb(),
                Some(n)
            );
        }
    }
}

//! What one push may cost the server before the merge judges it: the body is decompressed
//! as a stream and decoded with every limit checked *while* decoding, so no hostile body
//! makes the server allocate more than the limits allow:
//!
//! - at most [`MAX_PUSH_BODY`] bytes on the wire and [`MAX_PUSH_DECOMPRESSED`] once
//!   decompressed (a zstd bomb stops there);
//! - at most [`MAX_PUSH_DOCS`] documents, each id at most [`MAX_ID_BYTES`], no id twice;
//! - a document's changes over [`MAX_DOC_BYTES`] are skipped without being
//!   held, and answered `size.doc_too_large` for that document alone.
//!
//! The layout is postcard's for [`PushRequest`] (docs/protocol.md): varint version, varint
//! count, then per document a varint-prefixed id and varint-prefixed changes. A test checks
//! that this reader and postcard agree.

use std::collections::HashSet;
use std::io::Read;

use wire::protocol::PushDoc;

use crate::error::{Error, Result};

/// The largest pushed change set, and the largest stored document (bytes) [inferred: a
/// real organization's document is under 10 KB even after years of edits]; the merge
/// refuses a document that grows past it.
pub const MAX_DOC_BYTES: usize = 256 * 1024;
/// Documents in one push [inferred: the client sends 2,000 at a time; a city's whole
/// campaign is about 10,000].
pub const MAX_PUSH_DOCS: usize = 5_000;
/// A push body as sent (zstd-compressed).
pub const MAX_PUSH_BODY: usize = 32 * 1024 * 1024;
/// A push body once decompressed (5,000 documents of 10 KB, a real document after years of
/// edits, are 50 MB).
pub const MAX_PUSH_DECOMPRESSED: u64 = 64 * 1024 * 1024;
/// An organization id (ours are `org-` and 32 hex digits).
pub const MAX_ID_BYTES: usize = 128;
/// Pushes decoded and merged at once: each may hold up to [`MAX_PUSH_DECOMPRESSED`].
pub const DECODES_AT_ONCE: usize = 2;

/// One document of a push, as taken in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Incoming {
    Doc(PushDoc),
    /// Changes over the per-document cap: skipped, refused for this document alone.
    TooLarge {
        id: String,
        bytes: u64,
    },
}

impl Incoming {
    pub fn id(&self) -> &str {
        match self {
            Incoming::Doc(d) => &d.id,
            Incoming::TooLarge { id, .. } => id,
        }
    }
}

/// A decoded push.
#[derive(Debug)]
pub struct Push {
    pub version: u32,
    pub docs: Vec<Incoming>,
    /// The replica's feed cursor (version 3; 0 before).
    pub cursor: u64,
}

fn malformed() -> Error {
    Error::BadRequest("无法解码推送数据(数据不完整或已损坏)".into())
}

fn too_large() -> Error {
    Error::TooLarge {
        code: "push.too_large",
        message: format!(
            "推送数据解压后超过{}MB上限,请分批推送",
            MAX_PUSH_DECOMPRESSED / 1024 / 1024
        ),
    }
}

/// Decode a push body (zstd, then postcard's layout) within the limits above.
pub fn decode_push(body: &[u8]) -> Result<Push> {
    let decoder = zstd::stream::read::Decoder::new(body).map_err(|_| malformed())?;
    let mut r = Counted {
        inner: decoder.take(MAX_PUSH_DECOMPRESSED + 1),
        read: 0,
    };
    let version = u32::try_from(varint(&mut r)?).map_err(|_| malformed())?;
    let count = varint(&mut r)?;
    if count > MAX_PUSH_DOCS as u64 {
        return Err(Error::TooLarge {
            code: "push.too_many_docs",
            message: format!("一次推送最多{MAX_PUSH_DOCS}个组织文档(本次{count}个),请分批推送"),
        });
    }
    let mut docs = Vec::with_capacity(count as usize);
    let mut seen = HashSet::with_capacity(count as usize);
    for _ in 0..count {
        let id_len = varint(&mut r)?;
        if id_len > MAX_ID_BYTES as u64 {
            return Err(Error::BadRequest(format!(
                "组织编号过长(超过{MAX_ID_BYTES}字节)"
            )));
        }
        let mut id = vec![0u8; id_len as usize];
        r.read_exact(&mut id).map_err(|_| r.error())?;
        let id = String::from_utf8(id).map_err(|_| malformed())?;
        if !seen.insert(id.clone()) {
            return Err(Error::invalid(
                "push.duplicate_id",
                format!(
                    "同一次推送中组织文档“{}”出现了不止一次",
                    schemas::text::truncate_for_message(&id)
                ),
            ));
        }
        let len = varint(&mut r)?;
        if len > MAX_DOC_BYTES as u64 {
            let skipped = std::io::copy(&mut (&mut r).take(len), &mut std::io::sink())
                .map_err(|_| r.error())?;
            if skipped < len {
                return Err(r.error());
            }
            docs.push(Incoming::TooLarge { id, bytes: len });
            continue;
        }
        let mut changes = vec![0u8; len as usize];
        r.read_exact(&mut changes).map_err(|_| r.error())?;
        docs.push(Incoming::Doc(PushDoc { id, changes }));
    }
    // Version 3 ends with the replica's feed cursor.
    let cursor = if version >= 3 { varint(&mut r)? } else { 0 };
    if r.read > MAX_PUSH_DECOMPRESSED {
        return Err(too_large());
    }
    Ok(Push {
        version,
        docs,
        cursor,
    })
}

/// The decompressed stream, counting what it gave (to tell a body cut short from one over
/// the cap).
struct Counted<R> {
    inner: R,
    read: u64,
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read += n as u64;
        Ok(n)
    }
}

impl<R> Counted<R> {
    fn error(&self) -> Error {
        if self.read > MAX_PUSH_DECOMPRESSED {
            too_large()
        } else {
            malformed()
        }
    }
}

/// A LEB128 varint (postcard's integer encoding), at most 64 bits.
fn varint<R: Read>(r: &mut Counted<R>) -> Result<u64> {
    let mut value = 0u64;
    for shift in (0..64).step_by(7) {
        let mut b = [0u8; 1];
        r.read_exact(&mut b).map_err(|_| r.error())?;
        value |= u64::from(b[0] & 0x7f) << shift;
        if b[0] & 0x80 == 0 {
            return Ok(value);
        }
    }
    Err(malformed())
}

#[cfg(test)]
mod tests {
    use super::*;
    use wire::protocol::{PROTOCOL_VERSION, PushRequest, encode};

    /// The same push as postcard would decode it.
    fn as_request(push: &Push) -> PushRequest {
        PushRequest {
            version: push.version,
            docs: push
                .docs
                .iter()
                .filter_map(|d| match d {
                    Incoming::Doc(d) => Some(d.clone()),
                    Incoming::TooLarge { .. } => None,
                })
                .collect(),
            cursor: push.cursor,
        }
    }

    fn doc(id: &str, n: usize) -> PushDoc {
        PushDoc {
            id: id.into(),
            changes: (0..n).map(|i| i as u8).collect(),
        }
    }

    #[test]
    fn agrees_with_postcard() {
        let req = PushRequest {
            version: PROTOCOL_VERSION,
            docs: vec![doc("org-a", 0), doc("org-b", 300), doc("组织", 70_000)],
            cursor: 300_000,
        };
        let push = decode_push(&encode(&req).unwrap()).unwrap();
        assert_eq!(as_request(&push), req);
        // Version 2 bodies end after the documents: no cursor is read.
        #[derive(serde::Serialize)]
        struct PushRequestV2 {
            version: u32,
            docs: Vec<PushDoc>,
        }
        let v2 = PushRequestV2 {
            version: 2,
            docs: req.docs.clone(),
        };
        let push = decode_push(&encode(&v2).unwrap()).unwrap();
        assert_eq!(
            as_request(&push),
            PushRequest {
                version: 2,
                cursor: 0,
                ..req
            }
        );
    }

    #[test]
    fn an_oversized_document_is_skipped_and_named() {
        let req = PushRequest {
            version: PROTOCOL_VERSION,
            docs: vec![doc("big", MAX_DOC_BYTES + 1), doc("small", 10)],
            cursor: 0,
        };
        let push = decode_push(&encode(&req).unwrap()).unwrap();
        assert_eq!(
            push.docs[0],
            Incoming::TooLarge {
                id: "big".into(),
                bytes: MAX_DOC_BYTES as u64 + 1
            }
        );
        assert_eq!(push.docs[1], Incoming::Doc(doc("small", 10)));
    }

    #[test]
    fn too_many_documents_duplicates_and_bombs_are_refused() {
        let many = PushRequest {
            version: PROTOCOL_VERSION,
            docs: (0..=MAX_PUSH_DOCS)
                .map(|i| doc(&format!("o{i}"), 0))
                .collect(),
            cursor: 0,
        };
        let e = decode_push(&encode(&many).unwrap()).unwrap_err();
        assert_eq!(e.code(), "push.too_many_docs");
        let twice = PushRequest {
            version: PROTOCOL_VERSION,
            docs: vec![doc("a", 1), doc("a", 2)],
            cursor: 0,
        };
        let e = decode_push(&encode(&twice).unwrap()).unwrap_err();
        assert_eq!(e.code(), "push.duplicate_id");
        // One document claiming more bytes than the cap, which decompress from a few KB.
        let bomb = PushRequest {
            version: PROTOCOL_VERSION,
            docs: (0..300).map(|i| doc(&format!("b{i}"), 250_000)).collect(),
            cursor: 0,
        };
        let body = encode(&bomb).unwrap();
        assert!(body.len() < 1024 * 1024, "{}", body.len());
        let e = decode_push(&body).unwrap_err();
        assert_eq!(e.code(), "push.too_large");
        // An id longer than any organization's.
        let long = PushRequest {
            version: PROTOCOL_VERSION,
            docs: vec![doc(&"o".repeat(MAX_ID_BYTES + 1), 1)],
            cursor: 0,
        };
        let e = decode_push(&encode(&long).unwrap()).unwrap_err();
        assert_eq!(e.code(), "bad_request");
        // A cut body.
        let e = decode_push(&encode(&twice).unwrap()[..8]).unwrap_err();
        assert_eq!(e.code(), "bad_request");
    }
}

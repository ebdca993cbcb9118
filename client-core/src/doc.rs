//! One organization's Automerge document: the mapping between the document (a flat map of
//! scalars, plus the `codes` map created in the genesis change) and `schemas::OrgRecord`.
//!
//! Why flat: DESIGN forbids creating the same nested object concurrently from two replicas.
//! Every key exists from the genesis change on; the only nested objects are one map per
//! issued code, each created once by the replica that issued it (codes are unique).

use automerge::transaction::{CommitOptions, Transactable};
use automerge::{ActorId, AutoCommit, ChangeHash, ObjType, ROOT, ReadDoc, ValueRef};
use schemas::org::{CodeRecord, INFO_FIELDS, OrgRecord};

use crate::error::Result;

const CODES: &str = "codes";

/// The genesis change of a new organization, written by the replica that creates it.
pub fn genesis(record: &OrgRecord, actor: ActorId, time: i64) -> Result<AutoCommit> {
    let mut doc = AutoCommit::new().with_actor(actor);
    doc.put(ROOT, "schema", record.schema)?;
    doc.put(ROOT, "id", record.id.as_str())?;
    doc.put(ROOT, "parent", record.parent.as_str())?;
    doc.put(ROOT, "level", u64::from(record.level))?;
    doc.put(ROOT, "sort_key", record.sort_key)?;
    doc.put(ROOT, "deleted", record.deleted)?;
    for f in INFO_FIELDS {
        doc.put(ROOT, f.key(), record.get(f))?;
    }
    let codes = doc.put_object(ROOT, CODES, ObjType::Map)?;
    for (code, c) in &record.codes {
        put_code(&mut doc, &codes, code, c)?;
    }
    doc.commit_with(CommitOptions::default().with_time(time));
    Ok(doc)
}

/// The genesis of an organization every replica and the server must share byte for byte
/// (the pre-initialized tree, RULES §1): a fixed actor derived from the id and time 0, so
/// that independently created copies are the same change.
pub fn deterministic_genesis(record: &OrgRecord) -> Result<AutoCommit> {
    let actor = ActorId::from(format!("init:{}", record.id).as_bytes());
    genesis(record, actor, 0)
}

fn put_code(
    doc: &mut AutoCommit,
    codes: &automerge::ObjId,
    code: &str,
    c: &CodeRecord,
) -> Result<()> {
    let m = doc.put_object(codes, code, ObjType::Map)?;
    doc.put(&m, "issued_at", c.issued_at)?;
    doc.put(&m, "expires_at", c.expires_at)?;
    doc.put(&m, "issued_by", c.issued_by.as_str())?;
    Ok(())
}

fn scalar_str(v: &ValueRef<'_>) -> Option<String> {
    match v {
        ValueRef::Scalar(automerge::ScalarValueRef::Str(s)) => Some(s.to_string()),
        _ => None,
    }
}

fn scalar_i64(v: &ValueRef<'_>) -> Option<i64> {
    match v {
        ValueRef::Scalar(automerge::ScalarValueRef::Int(i)) => Some(*i),
        ValueRef::Scalar(automerge::ScalarValueRef::Uint(u)) => i64::try_from(*u).ok(),
        _ => None,
    }
}

/// Read the record a document holds. Unknown keys are ignored and wrongly typed values
/// read as empty, so a hostile document cannot make a reader panic.
pub fn read<D: ReadDoc>(doc: &D) -> OrgRecord {
    let mut r = OrgRecord::default();
    let mut codes_obj = None;
    for item in doc.map_range(ROOT, ..) {
        let v = &item.value;
        match item.key.as_ref() {
            "schema" => r.schema = scalar_i64(v).unwrap_or(0).max(0) as u64,
            "id" => r.id = scalar_str(v).unwrap_or_default(),
            "parent" => r.parent = scalar_str(v).unwrap_or_default(),
            "level" => {
                r.level = scalar_i64(v)
                    .and_then(|l| u8::try_from(l).ok())
                    .unwrap_or(0)
            }
            "sort_key" => r.sort_key = scalar_i64(v).unwrap_or(0),
            "deleted" => {
                r.deleted = matches!(
                    v,
                    ValueRef::Scalar(automerge::ScalarValueRef::Boolean(true))
                )
            }
            CODES => {
                if matches!(v, ValueRef::Object(ObjType::Map)) {
                    codes_obj = Some(item.id());
                }
            }
            key => {
                if let Some(slot) = schemas::Field::from_key(key).and_then(|f| r.get_mut(f)) {
                    *slot = scalar_str(v).unwrap_or_default();
                }
            }
        }
    }
    if let Some(codes) = codes_obj {
        for item in doc.map_range(&codes, ..) {
            if !matches!(item.value, ValueRef::Object(ObjType::Map)) {
                continue;
            }
            let obj = item.id();
            let mut c = CodeRecord::default();
            for f in doc.map_range(&obj, ..) {
                match f.key.as_ref() {
                    "issued_at" => c.issued_at = scalar_i64(&f.value).unwrap_or(0),
                    "expires_at" => c.expires_at = scalar_i64(&f.value).unwrap_or(0),
                    "issued_by" => c.issued_by = scalar_str(&f.value).unwrap_or_default(),
                    _ => {}
                }
            }
            r.codes.insert(item.key.to_string(), c);
        }
    }
    r
}

/// Write into `doc` the fields where `after` differs from `before` (the state `doc` holds),
/// as one change. Returns whether anything was written.
pub fn write(
    doc: &mut AutoCommit,
    before: &OrgRecord,
    after: &OrgRecord,
    time: i64,
) -> Result<bool> {
    let mut wrote = false;
    for f in INFO_FIELDS {
        if before.get(f) != after.get(f) {
            doc.put(ROOT, f.key(), after.get(f))?;
            wrote = true;
        }
    }
    if before.parent != after.parent {
        doc.put(ROOT, "parent", after.parent.as_str())?;
        wrote = true;
    }
    if before.level != after.level {
        doc.put(ROOT, "level", u64::from(after.level))?;
        wrote = true;
    }
    if before.sort_key != after.sort_key {
        doc.put(ROOT, "sort_key", after.sort_key)?;
        wrote = true;
    }
    if before.deleted != after.deleted {
        doc.put(ROOT, "deleted", after.deleted)?;
        wrote = true;
    }
    if before.codes != after.codes {
        let codes = match doc.get(ROOT, CODES)? {
            Some((automerge::Value::Object(ObjType::Map), id)) => id,
            // A document without the genesis map (foreign or damaged): create it once here.
            _ => doc.put_object(ROOT, CODES, ObjType::Map)?,
        };
        for (code, c) in &after.codes {
            if before.codes.get(code) != Some(c) {
                put_code(doc, &codes, code, c)?;
            }
        }
        for code in before
            .codes
            .keys()
            .filter(|k| !after.codes.contains_key(*k))
        {
            doc.delete(&codes, code.as_str())?;
        }
        wrote = true;
    }
    if wrote {
        doc.commit_with(CommitOptions::default().with_time(time));
    }
    Ok(wrote)
}

/// Encode heads for storage: 32 bytes per hash, concatenated.
pub fn encode_heads(heads: &[ChangeHash]) -> Vec<u8> {
    heads.iter().flat_map(|h| h.0).collect()
}

/// Decode heads stored by [`encode_heads`]; damaged input yields the valid prefix.
pub fn decode_heads(bytes: &[u8]) -> Vec<ChangeHash> {
    bytes
        .chunks_exact(32)
        .filter_map(|c| ChangeHash::try_from(c).ok())
        .collect()
}

/// The heads recorded in a saved document (one document chunk, as `save_nocompress()` or
/// `save()` writes it), read from the chunk's header without loading the document (which
/// costs ~60 µs and ~15 KB per document: DESIGN "Measured facts"). `None` for anything else
/// (change chunks, several chunks, damaged bytes): load the document then.
///
/// Layout (automerge binary format): magic `85 6f 4a 83`, 4 checksum bytes, chunk type
/// (0 = document), LEB128 data length; the data starts with the actors (LEB128 count, each
/// a LEB128 length and bytes), then the heads (LEB128 count, 32 bytes each).
pub fn saved_heads(bytes: &[u8]) -> Option<Vec<ChangeHash>> {
    fn uleb(b: &[u8], pos: &mut usize) -> Option<u64> {
        let mut value: u64 = 0;
        for shift in (0..64).step_by(7) {
            let byte = *b.get(*pos)?;
            *pos += 1;
            value |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Some(value);
            }
        }
        None
    }
    if bytes.get(..4)? != [0x85, 0x6f, 0x4a, 0x83] || *bytes.get(8)? != 0 {
        return None;
    }
    let mut pos = 9;
    let len = usize::try_from(uleb(bytes, &mut pos)?).ok()?;
    if pos.checked_add(len)? != bytes.len() {
        return None;
    }
    let actors = uleb(bytes, &mut pos)?;
    for _ in 0..actors {
        let n = usize::try_from(uleb(bytes, &mut pos)?).ok()?;
        pos = pos.checked_add(n)?;
    }
    let count = usize::try_from(uleb(bytes, &mut pos)?).ok()?;
    let end = pos.checked_add(count.checked_mul(32)?)?;
    let heads = bytes
        .get(pos..end)?
        .chunks_exact(32)
        .filter_map(|c| ChangeHash::try_from(c).ok())
        .collect::<Vec<_>>();
    (heads.len() == count).then_some(heads)
}

/// Make the document's immutable fields agree with an accepted state (`accepted`, the
/// record at the heads a server acknowledged): the first value a server accepted stands
/// (DESIGN "Immutable fields"). Returns the fields it reset.
pub fn resolve_immutables(
    doc: &mut AutoCommit,
    accepted: &OrgRecord,
    time: i64,
) -> Result<Vec<schemas::Field>> {
    let current = read(doc);
    let changed = accepted.changed_immutables(&current);
    if changed.is_empty() {
        return Ok(changed);
    }
    let mut fixed = current.clone();
    for &f in &changed {
        if let Some(slot) = fixed.get_mut(f) {
            *slot = accepted.get(f).to_owned();
        }
    }
    write(doc, &current, &fixed, time)?;
    Ok(changed)
}

/// The record as it was at `heads` (a server's acknowledged state).
pub fn read_at(doc: &mut AutoCommit, heads: &[ChangeHash]) -> Result<OrgRecord> {
    let old = doc.fork_at(heads)?;
    Ok(read(&old))
}

#[cfg(test)]
mod tests {
    use super::*;
    use schemas::Level;

    fn record() -> OrgRecord {
        let mut r = OrgRecord::new("org-1", "parent-1", Level::VILLAGE);
        r.category = "团支部".into();
        r.short_name = "包装车间团支部".into();
        r.codes.insert(
            "Ab3dE7fG".into(),
            CodeRecord {
                issued_at: 10,
                expires_at: 20,
                issued_by: "parent-1".into(),
            },
        );
        r
    }

    #[test]
    fn genesis_then_read_round_trips() {
        let r = record();
        let doc = genesis(&r, ActorId::random(), 1).unwrap();
        assert_eq!(read(&doc), r);
    }

    #[test]
    fn write_changes_only_what_differs_and_survives_save_load() {
        let r = record();
        let mut doc = genesis(&r, ActorId::random(), 1).unwrap();
        let mut after = r.clone();
        after.secretary_name = "张三".into();
        after.sort_key = 3;
        after.codes.clear();
        assert!(write(&mut doc, &r, &after, 2).unwrap());
        assert!(!write(&mut doc, &after, &after, 3).unwrap());
        let bytes = doc.save_nocompress();
        let loaded = AutoCommit::load(&bytes).unwrap();
        assert_eq!(read(&loaded), after);
    }

    #[test]
    fn deterministic_genesis_is_identical_bytes() {
        let r = record();
        let a = deterministic_genesis(&r).unwrap().save_nocompress();
        let b = deterministic_genesis(&r).unwrap().save_nocompress();
        assert_eq!(a, b);
    }

    #[test]
    fn immutable_conflict_resolves_to_accepted_value() {
        let r = record();
        let mut server = genesis(&r, ActorId::random(), 1).unwrap();
        let accepted_heads = server.get_heads();
        let mut a = server.fork().with_actor(ActorId::random());
        let mut b = server.fork().with_actor(ActorId::random());
        // Both replicas fill the empty industry concurrently; the server accepts a's first.
        let mut ra = r.clone();
        ra.industry = "农村".into();
        write(&mut a, &r, &ra, 2).unwrap();
        let mut rb = r.clone();
        rb.industry = "城市社区".into();
        write(&mut b, &r, &rb, 2).unwrap();
        server.merge(&mut a).unwrap();
        let accepted = read(&server);
        assert_eq!(accepted.industry, "农村");
        let _ = accepted_heads;
        // b pulls the server's state and resolves before pushing again.
        b.merge(&mut server).unwrap();
        resolve_immutables(&mut b, &accepted, 3).unwrap();
        assert_eq!(read(&b).industry, "农村");
        server.merge(&mut b).unwrap();
        a.merge(&mut server).unwrap();
        assert_eq!(read(&a), read(&b));
        assert_eq!(read(&server).industry, "农村");
    }

    #[test]
    fn saved_heads_are_read_without_loading() {
        let r = record();
        let mut a = genesis(&r, ActorId::random(), 1).unwrap();
        let heads = |d: &mut AutoCommit| {
            let mut h = d.get_heads();
            h.sort();
            h
        };
        let sorted = |mut h: Vec<ChangeHash>| {
            h.sort();
            h
        };
        assert_eq!(
            saved_heads(&a.save_nocompress()).map(sorted),
            Some(heads(&mut a))
        );
        assert_eq!(saved_heads(&a.save()).map(sorted), Some(heads(&mut a)));
        // Two concurrent branches merged: two heads, three actors.
        let mut b = a.fork().with_actor(ActorId::random());
        let mut after = r.clone();
        after.secretary_name = "张三".into();
        write(&mut a, &r, &after, 2).unwrap();
        let mut other = r.clone();
        other.phone = "028-61310936".into();
        write(&mut b, &r, &other, 2).unwrap();
        a.merge(&mut b).unwrap();
        assert_eq!(heads(&mut a).len(), 2);
        let bytes = a.save_nocompress();
        assert_eq!(saved_heads(&bytes).map(sorted), Some(heads(&mut a)));
        // Not a single document chunk: none.
        let changes = a.save_after(&[]);
        assert_eq!(saved_heads(&changes), None);
        let mut two = bytes.clone();
        two.extend_from_slice(&changes);
        assert_eq!(saved_heads(&two), None);
        assert_eq!(saved_heads(&bytes[..bytes.len() / 2]), None);
        assert_eq!(saved_heads(b"nonsense"), None);
        assert_eq!(saved_heads(&[]), None);
        assert_eq!(
            saved_heads(&AutoCommit::new().save_nocompress()),
            Some(vec![])
        );
    }

    #[test]
    fn heads_encoding_round_trips() {
        let mut doc = genesis(&record(), ActorId::random(), 1).unwrap();
        let heads = doc.get_heads();
        assert_eq!(decode_heads(&encode_heads(&heads)), heads);
        assert!(decode_heads(&[1, 2, 3]).is_empty());
    }
}

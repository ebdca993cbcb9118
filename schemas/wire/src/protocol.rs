//! The sync protocol's messages (docs/protocol.md), shared by the client and the server.
//!
//! JSON for the small identity calls; for push and pull, a postcard-encoded body compressed
//! with zstd (`Content-Type: application/x-zhtj-sync`), since a push of thousands of
//! Automerge documents is megabytes of binary that JSON would bloat.

use serde::{Deserialize, Serialize};

/// The protocol version this build speaks (docs/protocol.md). Version 2 added the author
/// records at the end of push and pull answers; version 3 made push answers the size of
/// the news (documents accepted as sent go unnamed, their authors in one stamp) and lets a
/// push move the replica's feed cursor past its own documents. The server still answers
/// versions 1 and 2 as they were, and refuses others with a clear error.
pub const PROTOCOL_VERSION: u32 = 3;

/// The oldest version the server still answers.
pub const MIN_PROTOCOL_VERSION: u32 = 1;

/// The content type of postcard + zstd bodies.
pub const SYNC_CONTENT_TYPE: &str = "application/x-zhtj-sync";

/// Largest decompressed sync body the server accepts or the client expects (bytes).
pub const MAX_DECOMPRESSED: usize = 256 * 1024 * 1024;

/// `POST /api/v1/register`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegisterRequest {
    pub code: String,
    /// The organization registered for: its id or short name, checked against the code;
    /// empty (or absent): the organization the code was issued for.
    #[serde(default)]
    pub org_id: String,
    /// 团内职务, as labelled (书记, 组织委员…).
    pub role: String,
    pub name: String,
    pub id_number: String,
    pub mobile: String,
    /// 入团年月, e.g. "2010-05".
    pub join_year_month: String,
    pub password: String,
}

impl RegisterRequest {
    /// The form's fields for `schemas::registration::check` (the password included).
    pub fn form(&self) -> schemas::registration::Form<'_> {
        schemas::registration::Form {
            code: &self.code,
            role: &self.role,
            name: &self.name,
            id_number: &self.id_number,
            mobile: &self.mobile,
            join_year_month: &self.join_year_month,
            password: Some(&self.password),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegisterResponse {
    pub account_id: i64,
    pub org_id: String,
    pub org_short_name: String,
}

/// `POST /api/v1/register/lookup`: which organization a registration code was issued for,
/// so that the person confirms "this is my unit" before typing anything personal. Counted
/// and limited like a registration; an unknown, used or expired code is refused as
/// registration refuses it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CodeLookupRequest {
    pub code: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CodeLookupResponse {
    pub org_id: String,
    pub short_name: String,
    pub full_name: String,
    /// 组织类别.
    pub category: String,
    pub level: u8,
    pub parent_id: String,
    pub parent_short_name: String,
    /// Unix seconds.
    pub expires_at: i64,
}

/// `POST /api/v1/login`: by mobile number and password; `org_id` picks the organization
/// when one person administers several.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoginRequest {
    pub mobile: String,
    pub password: String,
    #[serde(default)]
    pub org_id: Option<String>,
}

/// An ancestor's read-only summary, sent at login so a new replica can show its chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AncestorSummary {
    pub id: String,
    pub parent: String,
    pub level: u8,
    pub category: String,
    pub short_name: String,
    pub full_name: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoginResponse {
    /// Bearer token for `Authorization: Bearer …`.
    pub token: String,
    /// Unix seconds.
    pub expires_at: i64,
    pub org_id: String,
    pub org_short_name: String,
    /// Root first, ending with the parent of `org_id`.
    pub ancestors: Vec<AncestorSummary>,
}

/// An error as every endpoint returns it (HTTP 4xx/5xx, JSON).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub code: String,
    pub message: String,
    #[serde(default)]
    pub violations: Vec<schemas::Violation>,
}

/// One document of a push: the changes since the heads the server last acknowledged
/// (`save_after`), or the whole document when it never was.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PushDoc {
    pub id: String,
    #[serde(with = "serde_bytes_compat")]
    pub changes: Vec<u8>,
}

/// `POST /api/v1/push` (postcard + zstd).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PushRequest {
    pub version: u32,
    pub docs: Vec<PushDoc>,
    /// (Version 3) The replica's feed cursor: if nothing but this push's own documents
    /// entered its subtree's feed after it, the answer moves it past them
    /// ([`PushResponse::cursor`]), so the next pull does not bring them back.
    pub cursor: u64,
}

/// What became of one pushed document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum DocOutcome {
    /// Accepted (or already held): the server's heads of the document now.
    Accepted { heads: Vec<[u8; 32]> },
    /// Refused as a whole, with every reason; nothing of it was stored.
    Rejected { violations: Vec<schemas::Violation> },
    /// The changes depend on history the server lacks: send the whole document.
    NeedFull,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DocResult {
    pub id: String,
    pub outcome: DocOutcome,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PushResponse {
    pub version: u32,
    /// Versions 1 and 2: every document's outcome. Version 3: only the documents *not*
    /// accepted as sent; a document the server accepted and now holds exactly as the
    /// replica sent it (its heads are the heads of what was sent) is not named: the
    /// replica computes those heads itself.
    pub results: Vec<DocResult>,
    /// (Version 2) The server's author records of the changes this push made it accept
    /// (version 3: of the documents named in `results` only). Last, so that a version 1
    /// reader, which stops after `results`, is not disturbed.
    pub authors: Vec<ChangeAuthor>,
    /// (Version 3) Who pushed and when, for every change the server accepted in the
    /// documents accepted as sent (one record instead of one per change).
    pub stamp: Option<AuthorStamp>,
    /// (Version 3) The replica's new feed cursor, when every entry of its subtree's feed
    /// after the request's cursor is a document this push accepted as sent: the replica
    /// holds all of it already.
    pub cursor: Option<u64>,
}

/// The author of the changes of one push, as [`ChangeAuthor`] records it per change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthorStamp {
    pub org_id: String,
    pub org_short_name: String,
    pub role: String,
    /// Masked (张*).
    pub name: String,
    /// Unix seconds (server clock).
    pub received_at: i64,
}

impl AuthorStamp {
    /// The record of change `hash` of document `doc_id`.
    pub fn record(&self, doc_id: &str, hash: [u8; 32]) -> ChangeAuthor {
        ChangeAuthor {
            doc_id: doc_id.to_owned(),
            hash,
            org_id: self.org_id.clone(),
            org_short_name: self.org_short_name.clone(),
            role: self.role.clone(),
            name: self.name.clone(),
            received_at: self.received_at,
        }
    }
}

/// The server's record of one accepted change (version 2): the document, the change, who
/// pushed it as supervisors see them (organization, 团内职务, masked name) and when it
/// arrived. Sent with the document to every replica that pulls it: nothing personal
/// beyond the masked name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangeAuthor {
    pub doc_id: String,
    pub hash: [u8; 32],
    pub org_id: String,
    pub org_short_name: String,
    pub role: String,
    /// Masked (张*).
    pub name: String,
    /// Unix seconds (server clock).
    pub received_at: i64,
}

/// `POST /api/v1/pull` (postcard + zstd): everything of the logged-in admin's subtree
/// changed after `cursor`, at most `limit` documents.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PullRequest {
    pub version: u32,
    pub cursor: u64,
    pub limit: u32,
    /// (Version 3) Pages as small as they can be, for a slow link: what the documents'
    /// bytes hold is left out (the replica reads it back, a few microseconds a document)
    /// and pages are compressed at [`PULL_LEVEL`]. A replica on a fast link asks for the
    /// full pages, which cost it nothing to store.
    pub lean: bool,
}

/// The first fields of a pull request, the same in every version.
#[derive(Deserialize)]
struct PullHead {
    version: u32,
    cursor: u64,
    limit: u32,
}

impl PullRequest {
    /// Decode a pull body of any version (postcard reads a struct's fields in order and
    /// leaves what follows: a version 1 or 2 body has no `lean`).
    pub fn decode(body: &[u8]) -> std::io::Result<PullRequest> {
        let head: PullHead = decode(body)?;
        if head.version >= 3 {
            return decode(body);
        }
        Ok(PullRequest {
            version: head.version,
            cursor: head.cursor,
            limit: head.limit,
            lean: false,
        })
    }
}

/// Facts only the server knows about an organization.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrgFacts {
    pub logged_in: bool,
    /// Admin display names, masked (张*).
    pub admins: Vec<String>,
    /// Codes of this organization already used to register.
    pub used_codes: Vec<String>,
}

/// One document of a pull: its whole current state (a compacted snapshot), which the
/// client merges into its copy, with the server's projection of it so that a client that
/// does not hold the document yet can store it without loading it (loading 50,000
/// Automerge documents costs seconds; design.md "Pull").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PullDoc {
    pub id: String,
    #[serde(with = "serde_bytes_compat")]
    pub bytes: Vec<u8>,
    pub facts: OrgFacts,
    /// The document's heads.
    pub heads: Vec<[u8; 32]>,
    /// The record the document holds (`schemas::org::OrgRecord` as JSON).
    pub record: String,
    /// 组织信息完整, as the server judged it.
    pub complete: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PullResponse {
    pub version: u32,
    pub docs: Vec<PullDoc>,
    /// The cursor to send next time.
    pub cursor: u64,
    /// More pages follow: pull again at once.
    pub more: bool,
    /// (Version 2) The author records of the documents of this page (all of each one's
    /// changes the server recorded). Last, for version 1 readers (see [`PushResponse`]).
    pub authors: Vec<ChangeAuthor>,
}

/// Encode a sync body: postcard, then zstd level 3.
pub fn encode<T: Serialize>(msg: &T) -> std::io::Result<Vec<u8>> {
    encode_at(msg, 3)
}

/// The zstd level of pull pages: the largest bodies, sent over the slowest links (a first
/// pull of a district is megabytes at 256 kbit/s). Level 9 makes them ~5% smaller than
/// level 3 for ~20 ms of the server's time per 5,000-document page; higher levels cost
/// seconds for little more (docs/protocol.md).
pub const PULL_LEVEL: i32 = 9;

/// Encode a sync body at zstd `level`.
pub fn encode_at<T: Serialize>(msg: &T, level: i32) -> std::io::Result<Vec<u8>> {
    let raw = postcard::to_allocvec(msg).map_err(std::io::Error::other)?;
    zstd::bulk::compress(&raw, level)
}

/// Decode a sync body, refusing more than [`MAX_DECOMPRESSED`] bytes once decompressed.
pub fn decode<T: for<'de> Deserialize<'de>>(body: &[u8]) -> std::io::Result<T> {
    use std::io::Read;
    let mut raw = Vec::new();
    zstd::stream::read::Decoder::new(body)?
        .take(MAX_DECOMPRESSED as u64 + 1)
        .read_to_end(&mut raw)?;
    if raw.len() > MAX_DECOMPRESSED {
        return Err(std::io::Error::other("body too large once decompressed"));
    }
    postcard::from_bytes(&raw).map_err(std::io::Error::other)
}

/// Byte vectors as postcard byte strings (length + bytes) rather than sequences of u8.
mod serde_bytes_compat {
    use serde::{Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(v)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Vec<u8>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("bytes")
            }
            fn visit_bytes<E: serde::de::Error>(self, v: &[u8]) -> Result<Vec<u8>, E> {
                Ok(v.to_vec())
            }
            fn visit_byte_buf<E: serde::de::Error>(self, v: Vec<u8>) -> Result<Vec<u8>, E> {
                Ok(v)
            }
            fn visit_borrowed_bytes<E: serde::de::Error>(self, v: &'de [u8]) -> Result<Vec<u8>, E> {
                Ok(v.to_vec())
            }
        }
        d.deserialize_bytes(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn push_round_trips_and_oversize_is_refused() {
        let req = PushRequest {
            version: PROTOCOL_VERSION,
            docs: vec![PushDoc {
                id: "a".into(),
                changes: vec![1, 2, 3],
            }],
            cursor: 7,
        };
        let body = encode(&req).unwrap();
        assert_eq!(decode::<PushRequest>(&body).unwrap(), req);
        assert!(decode::<PushRequest>(&body[..body.len() / 2]).is_err());
        assert!(decode::<PushRequest>(b"not zstd").is_err());
    }

    #[test]
    fn a_pull_request_of_every_version_is_read() {
        #[derive(Serialize)]
        struct PullRequestV2 {
            version: u32,
            cursor: u64,
            limit: u32,
        }
        let v2 = encode(&PullRequestV2 {
            version: 2,
            cursor: 9,
            limit: 100,
        })
        .unwrap();
        let read = PullRequest::decode(&v2).unwrap();
        assert_eq!(
            (read.version, read.cursor, read.limit, read.lean),
            (2, 9, 100, false)
        );
        let v3 = PullRequest {
            version: 3,
            cursor: 9,
            limit: 100,
            lean: true,
        };
        assert_eq!(PullRequest::decode(&encode(&v3).unwrap()).unwrap(), v3);
        // A version 3 body cut before `lean` is not read as a version 2 one.
        let mut raw = postcard::to_allocvec(&v3).unwrap();
        raw.pop();
        assert!(PullRequest::decode(&zstd::bulk::compress(&raw, 3).unwrap()).is_err());
    }

    /// The answers as version 1 defined them (without the author records).
    #[derive(Debug, PartialEq, Deserialize)]
    struct PullResponseV1 {
        version: u32,
        docs: Vec<PullDoc>,
        cursor: u64,
        more: bool,
    }

    #[derive(Debug, PartialEq, Deserialize)]
    struct PushResponseV1 {
        version: u32,
        results: Vec<DocResult>,
    }

    #[test]
    fn a_version_1_reader_reads_the_answers_without_the_author_records() {
        let doc = PullDoc {
            id: "org-1".into(),
            bytes: vec![1, 2, 3],
            facts: OrgFacts::default(),
            heads: vec![[7; 32]],
            record: "{}".into(),
            complete: true,
        };
        let author = ChangeAuthor {
            doc_id: "org-1".into(),
            hash: [9; 32],
            org_id: "org-5101".into(),
            org_short_name: "团成都市委".into(),
            role: "书记".into(),
            name: "张*".into(),
            received_at: 1,
        };
        // What the server sends a version 1 pull (no records), and a version 2 one.
        for authors in [Vec::new(), vec![author.clone()]] {
            let body = encode(&PullResponse {
                version: 1,
                docs: vec![doc.clone()],
                cursor: 5,
                more: false,
                authors,
            })
            .unwrap();
            let v1: PullResponseV1 = decode(&body).unwrap();
            assert_eq!(
                v1,
                PullResponseV1 {
                    version: 1,
                    docs: vec![doc.clone()],
                    cursor: 5,
                    more: false
                }
            );
        }
        let results = vec![DocResult {
            id: "org-1".into(),
            outcome: DocOutcome::Accepted {
                heads: vec![[7; 32]],
            },
        }];
        let body = encode(&PushResponse {
            version: 1,
            results: results.clone(),
            authors: vec![author],
            stamp: None,
            cursor: None,
        })
        .unwrap();
        let v1: PushResponseV1 = decode(&body).unwrap();
        assert_eq!(v1.results, results);
    }
}

// ------------------------------------------------------------------ progress supervision

/// The content type of `GET /api/v1/report` (an .xlsx workbook).
pub const REPORT_CONTENT_TYPE: &str =
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

/// `GET /api/v1/progress?org=ID&level=N&offset=&limit=&as_of=YYYY-MM-DD` (JSON): progress
/// supervision (录入进度督导, rules.md §11) of one organization of the logged-in admin's
/// subtree, by level below it. Personal data is masked (names 张*, mobiles 138****5678).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProgressResponse {
    pub org_id: String,
    pub org_short_name: String,
    pub org_level: u8,
    /// When the counts were taken, Beijing time ("2017-12-07 09:05").
    pub generated_at: String,
    /// The day overdue items are judged on ("2017-12-21"): today, or the request's `as_of`.
    pub as_of: String,
    /// One tab per non-empty level below the organization (二级组织录入情况 …), top first.
    pub tabs: Vec<ProgressTab>,
    /// The rows of one tab (the requested level, by default the first), one page.
    pub page: ProgressPage,
    /// The completeness finding (rules.md §1): 团委, 团工委 and 团总支 of the subtree (the
    /// organization itself included) with no 团支部 below, in tree order, at most 200.
    pub without_branch: Vec<UnitRef>,
    /// How many there are in all.
    pub without_branch_total: u64,
    /// The campaign schedule the overdue items are judged by.
    pub schedule: schemas::progress::Schedule,
    /// Per direct child: its subtree's counts (the child included), for charts; the first
    /// 200 in tree order.
    pub rollups: Vec<ChildRollup>,
    /// How many direct children there are in all (0 from a server before it was sent).
    #[serde(default)]
    pub rollups_total: u64,
}

/// One tab: a level below the viewer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProgressTab {
    pub level: u8,
    /// 三级组织录入情况 …
    pub title: String,
    pub counts: schemas::progress::LevelCounts,
    /// The summary sentence of rules.md §11.
    pub sentence: String,
    /// The deadlines of this level already passed, with how many units missed them.
    pub overdue: Vec<OverdueCount>,
}

/// A passed deadline of a level and the units that have not done its task.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OverdueCount {
    pub task: schemas::progress::Task,
    /// The task in Chinese (录入本级组织信息 …).
    pub label: String,
    /// "2017-12-18".
    pub due: String,
    /// Units of the level that are late with it. Codes (a per-child question) are counted
    /// for the requested tab only; `None` on the other tabs.
    pub units: Option<u64>,
}

/// One page of a tab's table, in tree order (by path).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProgressPage {
    pub level: u8,
    pub offset: u64,
    pub limit: u32,
    /// Rows of the level in all.
    pub total: u64,
    pub rows: Vec<ProgressEntry>,
}

/// A row of the table with its unit's overdue items.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProgressEntry {
    pub row: schemas::progress::ProgressRow,
    pub category: String,
    pub overdue: Vec<schemas::progress::Overdue>,
}

/// An organization named in a finding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnitRef {
    pub org_id: String,
    pub short_name: String,
    pub level: u8,
    pub category: String,
    pub parent_short_name: String,
}

/// A direct child's subtree in numbers (the child included).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChildRollup {
    pub org_id: String,
    pub short_name: String,
    pub category: String,
    pub counts: schemas::progress::LevelCounts,
    /// Percent of units with complete information, 0–100.
    pub complete_percent: f64,
    /// Percent of units that have logged in, 0–100.
    pub logged_in_percent: f64,
}

/// `GET /api/v1/progress/history?org=ID` (JSON): the daily snapshots of an organization's
/// counts, oldest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProgressHistory {
    pub org_id: String,
    pub org_short_name: String,
    pub days: Vec<SnapshotDay>,
}

/// The counts of one day, per level below the organization.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnapshotDay {
    /// "2017-12-20" (Beijing time).
    pub day: String,
    pub levels: Vec<SnapshotLevel>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnapshotLevel {
    pub level: u8,
    pub counts: schemas::progress::LevelCounts,
}

// ------------------------------------------------------------------ change history

/// `GET /api/v1/history?org=ID&field=KEY` (JSON): the change history of one organization of
/// the logged-in admin's subtree (`crate::history`), oldest first; `field` keeps the
/// changes of one field (its key, e.g. `phone`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryResponse {
    pub org_id: String,
    pub short_name: String,
    pub entries: Vec<crate::history::Entry>,
}

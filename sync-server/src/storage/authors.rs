//! Author records (`change_authors`): which account pushed each accepted change of a
//! document, and when it arrived; written in the push transaction that accepted it.

use super::sql::params;
use super::{Conn, Tx};
use crate::error::Result;
use automerge::ChangeHash;

/// An account as its changes are credited to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorRow {
    pub org_id: String,
    pub org_short_name: String,
    /// 团内职务.
    pub role: String,
    /// Unmasked: mask before showing.
    pub name: String,
}

/// One recorded change of a document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorRecordRow {
    pub hash: ChangeHash,
    pub account_id: i64,
    /// Unix seconds.
    pub received_at: i64,
}

impl Conn<'_> {
    /// The account `account_id` (`None` if it no longer exists).
    pub fn author(&self, account_id: i64) -> Result<Option<AuthorRow>> {
        self.db.row(
            "SELECT a.org_id, o.short_name, a.role, a.name FROM accounts a
             JOIN orgs o ON o.id = a.org_id WHERE a.id = ?1",
            params![account_id],
            |r| {
                Ok(AuthorRow {
                    org_id: r.text(0)?,
                    org_short_name: r.text(1)?,
                    role: r.text(2)?,
                    name: r.text(3)?,
                })
            },
        )
    }

    /// Every recorded change of `doc_id`.
    pub fn author_records(&self, doc_id: &str) -> Result<Vec<AuthorRecordRow>> {
        let rows = self.db.rows(
            "SELECT hash, account_id, received_at FROM change_authors WHERE doc_id = ?1",
            params![doc_id],
            |r| Ok((r.bytes(0)?.to_vec(), r.int(1)?, r.int(2)?)),
        )?;
        // A hash of another length than 32 bytes cannot be a change's: skipped.
        Ok(rows
            .into_iter()
            .filter_map(|(hash, account_id, received_at)| {
                Some(AuthorRecordRow {
                    hash: ChangeHash(<[u8; 32]>::try_from(hash).ok()?),
                    account_id,
                    received_at,
                })
            })
            .collect())
    }
}

impl Tx<'_> {
    /// Record that `account_id` pushed the changes `hashes` of `doc_id`, accepted at
    /// `received_at`.
    pub fn record_authors(
        &self,
        doc_id: &str,
        hashes: &[ChangeHash],
        account_id: i64,
        received_at: i64,
    ) -> Result<()> {
        for h in hashes {
            self.db.execute(
                "INSERT INTO change_authors(doc_id, hash, account_id, received_at)
                 VALUES (?1, ?2, ?3, ?4) ON CONFLICT DO NOTHING",
                params![doc_id, &h.0[..], account_id, received_at],
            )?;
        }
        Ok(())
    }
}

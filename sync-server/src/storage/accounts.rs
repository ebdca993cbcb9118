//! Accounts (the administrators), their login sessions (token hashes) and the
//! registration codes (issued in a document or by the operator, used once).

use std::collections::HashSet;

use super::sql::params;
use super::{Conn, Tx};
use crate::error::Result;

/// A registration code as recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeRow {
    /// The organization it registers an admin for.
    pub org_id: String,
    pub expires_at: i64,
    /// The account registered with it, once used.
    pub used_by: Option<i64>,
}

/// An account to create.
#[derive(Debug, Clone)]
pub struct NewAccount<'a> {
    pub org_id: &'a str,
    pub role: &'a str,
    pub name: &'a str,
    pub id_number: &'a str,
    pub mobile: &'a str,
    /// "YYYY-MM".
    pub join_ym: &'a str,
    /// Argon2id, PHC string.
    pub password_hash: &'a str,
    pub created_at: i64,
    pub last_login: Option<i64>,
}

/// An account a login may be for.
#[derive(Debug, Clone)]
pub struct LoginRow {
    pub account_id: i64,
    pub org_id: String,
    pub password_hash: String,
}

/// The account behind a live session, and its organization's path.
#[derive(Debug, Clone)]
pub struct SessionRow {
    pub account_id: i64,
    pub org_id: String,
    pub org_path: String,
}

impl Conn<'_> {
    /// The code, looked up exactly (codes are case-sensitive).
    pub fn code(&self, code: &str) -> Result<Option<CodeRow>> {
        self.db.row(
            "SELECT org_id, expires_at, used_by FROM codes WHERE code = ?1",
            params![code],
            |r| {
                Ok(CodeRow {
                    org_id: r.text(0)?,
                    expires_at: r.int(1)?,
                    used_by: r.opt_int(2)?,
                })
            },
        )
    }

    pub fn code_exists(&self, code: &str) -> Result<bool> {
        self.db
            .exists("SELECT 1 FROM codes WHERE code = ?1", params![code])
    }

    /// Every code recorded.
    pub fn all_codes(&self) -> Result<HashSet<String>> {
        Ok(self
            .db
            .rows("SELECT code FROM codes", &[], |r| r.text(0))?
            .into_iter()
            .collect())
    }

    /// The accounts of a (normalized) mobile number, oldest first.
    pub fn accounts_by_mobile(&self, mobile: &str) -> Result<Vec<LoginRow>> {
        self.db.rows(
            "SELECT id, org_id, password_hash FROM accounts WHERE mobile = ?1 ORDER BY id",
            params![mobile],
            |r| {
                Ok(LoginRow {
                    account_id: r.int(0)?,
                    org_id: r.text(1)?,
                    password_hash: r.text(2)?,
                })
            },
        )
    }

    /// The session of `token_hash` if it is live at `now` (not revoked, not expired, its
    /// organization not deleted).
    pub fn session(&self, token_hash: &[u8], now: i64) -> Result<Option<SessionRow>> {
        self.db.row(
            "SELECT a.id, a.org_id, o.path FROM sessions s
             JOIN accounts a ON a.id = s.account_id JOIN orgs o ON o.id = a.org_id
             WHERE s.token_hash = ?1 AND s.revoked = 0 AND s.expires_at > ?2 AND o.deleted = 0",
            params![token_hash, now],
            |r| {
                Ok(SessionRow {
                    account_id: r.int(0)?,
                    org_id: r.text(1)?,
                    org_path: r.text(2)?,
                })
            },
        )
    }

    /// The names of an organization's admins, in the order they registered (unmasked:
    /// mask before showing).
    pub fn admin_names(&self, org_id: &str) -> Result<Vec<String>> {
        self.db.rows(
            "SELECT name FROM accounts WHERE org_id = ?1 ORDER BY id",
            params![org_id],
            |r| r.text(0),
        )
    }

    /// The codes of an organization that were used.
    pub fn used_codes(&self, org_id: &str) -> Result<Vec<String>> {
        self.db.rows(
            "SELECT code FROM codes WHERE org_id = ?1 AND used_by IS NOT NULL",
            params![org_id],
            |r| r.text(0),
        )
    }
}

impl Tx<'_> {
    /// Record an issued code (from an accepted document, or issued by the operator).
    pub fn put_code(
        &self,
        code: &str,
        org_id: &str,
        issued_by: &str,
        issued_at: i64,
        expires_at: i64,
    ) -> Result<()> {
        self.db.execute(
            "INSERT INTO codes(code, org_id, issued_by, issued_at, expires_at) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![code, org_id, issued_by, issued_at, expires_at],
        )?;
        self.recount_codes(org_id)?;
        Ok(())
    }

    /// Mark `code` used by `account_id`, unless it is used already: whether it was marked.
    /// The condition is what makes a code single-use under concurrency.
    pub fn use_code(&self, code: &str, account_id: i64, at: i64) -> Result<bool> {
        let used = self.db.row(
            "UPDATE codes SET used_by = ?1, used_at = ?2 WHERE code = ?3 AND used_by IS NULL
             RETURNING org_id",
            params![account_id, at, code],
            |r| r.text(0),
        )?;
        let Some(org_id) = used else {
            return Ok(false);
        };
        self.recount_codes(&org_id)?;
        Ok(true)
    }

    /// Create an account: its id, or `None` if the mobile is already an admin of the
    /// organization.
    pub fn insert_account(&self, a: &NewAccount<'_>) -> Result<Option<i64>> {
        self.db.row(
            "INSERT INTO accounts(org_id, role, name, id_number, mobile, join_ym, password_hash, created_at, last_login)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) ON CONFLICT(mobile, org_id) DO NOTHING
             RETURNING id",
            params![
                a.org_id,
                a.role,
                a.name,
                a.id_number,
                a.mobile,
                a.join_ym,
                a.password_hash,
                a.created_at,
                a.last_login
            ],
            |r| r.int(0),
        )
    }

    /// Open a session (only the token's hash is stored) and note the account's login.
    pub fn open_session(
        &self,
        token_hash: &[u8],
        account_id: i64,
        now: i64,
        expires_at: i64,
    ) -> Result<()> {
        self.db.execute(
            "INSERT INTO sessions(token_hash, account_id, created_at, expires_at) VALUES (?1, ?2, ?3, ?4)",
            params![token_hash, account_id, now, expires_at],
        )?;
        self.db.execute(
            "UPDATE accounts SET last_login = ?1 WHERE id = ?2",
            params![now, account_id],
        )?;
        Ok(())
    }

    /// Revoke the session of `token_hash` (nothing if there is none).
    pub fn revoke_session(&self, token_hash: &[u8]) -> Result<()> {
        self.db.execute(
            "UPDATE sessions SET revoked = 1 WHERE token_hash = ?1",
            params![token_hash],
        )?;
        Ok(())
    }
}

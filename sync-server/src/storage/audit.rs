//! The audit log: one record per accepted write, refusal worth keeping, operator command
//! and rate-limit trip (who, what, which organization, a detail without personal data).

use super::sql::params;
use super::{Tx, now};
use crate::error::Result;

impl Tx<'_> {
    /// Record `action` by `account_id` (`None`: the server or the operator) on `org_id`.
    pub fn audit(
        &self,
        account_id: Option<i64>,
        action: &str,
        org_id: Option<&str>,
        detail: &str,
    ) -> Result<()> {
        self.db.execute(
            "INSERT INTO audit(at, account_id, action, org_id, detail) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![now(), account_id, action, org_id, detail],
        )?;
        Ok(())
    }
}

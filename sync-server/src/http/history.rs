//! `GET /api/v1/history`: one organization's change history (`crate::history`), the
//! admin's own by default, optionally of one field.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use serde::Deserialize;
use wire::protocol::HistoryResponse;

use super::extract::{Params, QueryHelp};
use super::{AppState, blocking};
use crate::error::Result;
use crate::history;
use crate::identity::Actor;

/// The query of `GET /api/v1/history`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct HistoryParams {
    /// Default: the admin's own organization.
    pub org: Option<String>,
    /// A field's key or label.
    pub field: Option<String>,
}

impl QueryHelp for HistoryParams {
    const HELP: &'static str =
        "org 为组织编号,field 为字段名称(如 团组织联系电话)或字段键(如 phone)";
}

/// `GET /api/v1/history`
pub async fn get_history(
    State(state): State<Arc<AppState>>,
    actor: Actor,
    Params(q): Params<HistoryParams>,
) -> Result<Json<HistoryResponse>> {
    let resp = blocking(move || {
        let field = q
            .field
            .as_deref()
            .filter(|f| !f.trim().is_empty())
            .map(history::parse_field)
            .transpose()?;
        let org = q
            .org
            .filter(|o| !o.trim().is_empty())
            .unwrap_or_else(|| actor.org_id.clone());
        history::history_of(&state.store, &actor, org.trim(), field)
    })
    .await?;
    Ok(Json(resp))
}

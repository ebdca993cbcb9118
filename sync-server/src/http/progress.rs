//! Progress supervision (rules.md §11): `GET /api/v1/progress` (a subtree's counts, one tab's
//! page, the finding, the schedule) and `GET /api/v1/progress/history` (the daily
//! snapshots), by `crate::progress`.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use serde::Deserialize;
use wire::protocol::{ProgressHistory, ProgressResponse};

use super::extract::{Params, QueryHelp};
use super::{AppState, blocking};
use crate::error::Result;
use crate::identity::Actor;
use crate::progress::{self, Clock, ProgressParams};
use crate::schedule;

impl QueryHelp for ProgressParams {
    const HELP: &'static str =
        "org 为组织编号,level 为层级数字,offset、limit 为非负整数,as_of 为 YYYY-MM-DD";
}

/// The query of `GET /api/v1/progress/history` and `GET /api/v1/report`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct OrgParams {
    /// Default: the admin's own organization.
    pub org: Option<String>,
    /// "YYYY-MM-DD": judge overdue items as of this day (the report).
    pub as_of: Option<String>,
}

impl QueryHelp for OrgParams {
    const HELP: &'static str = "org 为组织编号,as_of 为 YYYY-MM-DD";
}

/// `GET /api/v1/progress`
pub async fn get_progress(
    State(state): State<Arc<AppState>>,
    actor: Actor,
    Params(q): Params<ProgressParams>,
) -> Result<Json<ProgressResponse>> {
    let resp = blocking(move || {
        let schedule = schedule::current(&state.store)?;
        progress::progress(&state.store, &actor, &q, &schedule, Clock::system())
    })
    .await?;
    Ok(Json(resp))
}

/// `GET /api/v1/progress/history`
pub async fn get_history(
    State(state): State<Arc<AppState>>,
    actor: Actor,
    Params(q): Params<OrgParams>,
) -> Result<Json<ProgressHistory>> {
    let resp = blocking(move || progress::history(&state.store, &actor, q.org.as_deref())).await?;
    Ok(Json(resp))
}

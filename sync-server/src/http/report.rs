//! `GET /api/v1/report`: the Excel report of a subtree's progress (`crate::report`), as a
//! download named in Chinese.

use std::sync::Arc;

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use wire::protocol::REPORT_CONTENT_TYPE;

use super::extract::Params;
use super::progress::OrgParams;
use super::{AppState, blocking};
use crate::error::Result;
use crate::identity::Actor;
use crate::progress::{Clock, parse_day};
use crate::{report, schedule};

/// `GET /api/v1/report`: the .xlsx, named in Chinese (RFC 5987 `filename*`).
pub async fn get_report(
    State(state): State<Arc<AppState>>,
    actor: Actor,
    Params(q): Params<OrgParams>,
) -> Result<Response> {
    let (name, bytes) = blocking(move || {
        let mut clock = Clock::system();
        if let Some(s) = q.as_of.as_deref().filter(|s| !s.trim().is_empty()) {
            clock = clock.as_of(parse_day(s)?);
        }
        let schedule = schedule::current(&state.store)?;
        report::build(&state.store, &actor, q.org.as_deref(), &schedule, clock)
    })
    .await?;
    let disposition = format!(
        "attachment; filename=\"progress-report.xlsx\"; filename*=UTF-8''{}",
        rfc5987(&name)
    );
    Ok((
        [
            (header::CONTENT_TYPE, REPORT_CONTENT_TYPE.to_owned()),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        bytes,
    )
        .into_response())
}

/// Percent-encode a value for `filename*=UTF-8''…` (RFC 5987 attr-char kept).
fn rfc5987(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn filenames_are_percent_encoded() {
        assert_eq!(super::rfc5987("团a 1.xlsx"), "%E5%9B%A2a%201.xlsx");
    }
}

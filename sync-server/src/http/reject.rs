//! Every error answered: the status and the project's JSON error body of
//! [`Error::status`] and [`Error::body`] (server errors logged, a retryable one with
//! `Retry-After`). The extractors (`super::extract`) turn every rejection into an
//! [`Error`], so a malformed request gets this body too.

use axum::Json;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::error::Error;

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        let status =
            StatusCode::from_u16(self.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        if status.is_server_error() {
            tracing::error!(error = %self, debug = ?self, "request failed");
        }
        let mut response = (status, Json(self.body())).into_response();
        if status == StatusCode::SERVICE_UNAVAILABLE {
            response.headers_mut().insert(header::RETRY_AFTER, 2.into());
        }
        response
    }
}

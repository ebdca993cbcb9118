//! What the operator's tools ask of a running server: readiness (`/readyz`: the database
//! answers) and the metrics (`/metrics`, `crate::metrics`, which also says who may read
//! them). Liveness (`/healthz`) needs no handler: a process that answers HTTP is alive.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};

use super::{AppState, blocking};
use crate::error::{Error, Result};
use crate::metrics;

/// The longest `/readyz` waits for the database: a probe answers "not ready" in time,
/// rather than hanging while every connection is held or the database does not answer.
pub const READY_WITHIN: Duration = Duration::from_secs(2);

/// `GET /readyz`: "ok" when the database answers within [`READY_WITHIN`]; otherwise 503
/// with the JSON error body of a busy store.
pub async fn readyz(State(state): State<Arc<AppState>>) -> Result<&'static str> {
    let st = state.clone();
    let ping = async move {
        // One ping at a time, held until it returns even when the probe has given up:
        // while the database hangs, further probes wait here, not each on a thread.
        let permit = st
            .ping_work
            .clone()
            .acquire_owned()
            .await
            .map_err(|e| Error::Internal(e.to_string()))?;
        blocking(move || {
            let _permit = permit;
            st.store.ping()
        })
        .await
    };
    match tokio::time::timeout(READY_WITHIN, ping).await {
        Ok(Ok(())) => Ok("ok"),
        Ok(Err(e)) => Err(Error::Unavailable(format!("readiness: {e} ({e:?})"))),
        Err(_) => Err(Error::Unavailable(format!(
            "readiness: no answer from the database within {READY_WITHIN:?}"
        ))),
    }
}

/// `GET /metrics`: the exposition, to the clients `metrics::may_read` allows; anyone else
/// is answered as for an unknown route.
pub async fn metrics(
    State(state): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Result<Response> {
    if !metrics::may_read(&state.config.trusted_proxies, peer, &headers) {
        return Err(Error::NotFound("该接口".into()));
    }
    let text = state.metrics.encode(state.store.pool_use());
    Ok(([(header::CONTENT_TYPE, metrics::CONTENT_TYPE)], text).into_response())
}

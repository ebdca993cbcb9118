//! Push and pull (docs/protocol.md): bodies in the sync encoding (postcard, zstd), read
//! within their limits once a permit is held, then handed to the merge (`crate::merge`,
//! after `crate::intake` decodes the push within its limits) and the feed (`crate::feed`).

use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use wire::protocol::{
    self, MIN_PROTOCOL_VERSION, PROTOCOL_VERSION, PullRequest, SYNC_CONTENT_TYPE,
};

use super::extract::{check_content_type, read_body, too_large};
use super::{AppState, MAX_PULL_BODY, blocking, now};
use crate::error::{Error, Result};
use crate::identity::Actor;
use crate::{feed, intake, merge};

/// What a push body is called in its refusals.
const PUSH_BODY: &str = "推送数据";

/// `POST /api/v1/push`
pub async fn push(
    State(state): State<Arc<AppState>>,
    actor: Actor,
    headers: HeaderMap,
    body: Body,
) -> Result<Response> {
    let _timing = state.metrics.time_push();
    check_content_type(&headers, SYNC_CONTENT_TYPE)?;
    // An announced size past the limit is refused before the body is read (with `Expect:
    // 100-continue`, before it is even sent).
    let announced = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if announced.is_some_and(|n| n > intake::MAX_PUSH_BODY as u64) {
        return Err(too_large(PUSH_BODY, intake::MAX_PUSH_BODY));
    }
    let _permit = state
        .push_work
        .acquire()
        .await
        .map_err(|e| Error::Internal(e.to_string()))?;
    let body = read_body(body, intake::MAX_PUSH_BODY, PUSH_BODY).await?;
    let st = state.clone();
    let out = blocking(move || {
        let push = intake::decode_push(&body)?;
        drop(body);
        check_version(push.version)?;
        let resp = merge::answer(&st.store, &actor, &push, now(), &st.metrics)?;
        protocol::encode(&resp).map_err(|e| Error::Internal(e.to_string()))
    })
    .await?;
    Ok(sync_body(out))
}

/// `POST /api/v1/pull`
pub async fn pull(
    State(state): State<Arc<AppState>>,
    actor: Actor,
    headers: HeaderMap,
    body: Body,
) -> Result<Response> {
    let _timing = state.metrics.time_pull();
    check_content_type(&headers, SYNC_CONTENT_TYPE)?;
    let body = read_body(body, MAX_PULL_BODY, "拉取请求").await?;
    let _permit = state
        .pull_work
        .acquire()
        .await
        .map_err(|e| Error::Internal(e.to_string()))?;
    let st = state.clone();
    let out = blocking(move || {
        let req = PullRequest::decode(&body)
            .map_err(|_| Error::BadRequest("无法解码拉取请求(数据不完整或已损坏)".into()))?;
        check_version(req.version)?;
        let resp = feed::answer(&st.store, &actor, &req)?;
        let level = if req.lean { protocol::PULL_LEVEL } else { 3 };
        protocol::encode_at(&resp, level).map_err(|e| Error::Internal(e.to_string()))
    })
    .await?;
    Ok(sync_body(out))
}

fn sync_body(body: Vec<u8>) -> Response {
    ([(header::CONTENT_TYPE, SYNC_CONTENT_TYPE)], body).into_response()
}

/// The versions the server answers: its own and the older ones it still speaks.
fn check_version(v: u32) -> Result<()> {
    if !(MIN_PROTOCOL_VERSION..=PROTOCOL_VERSION).contains(&v) {
        return Err(Error::invalid(
            "protocol.version",
            format!("协议版本{v}不受支持,请升级客户端"),
        ));
    }
    Ok(())
}

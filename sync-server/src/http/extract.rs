//! What handlers take from a request: a JSON body ([`JsonBody`]), a query ([`Params`]), a
//! body of bytes within a limit ([`read_body`]), the bearer token ([`Token`]) and the
//! logged-in admin it names ([`Actor`], from the server's session record). Every rejection
//! is an [`Error`], answered with the project's JSON error body and a message that names
//! no library internals.

use std::sync::Arc;

use axum::Json;
use axum::body::{Body, Bytes};
use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, FromRequestParts, Query, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};

use super::{AppState, MAX_JSON_BODY, blocking, now};
use crate::error::{Error, Result};
use crate::identity::{self, Actor};

/// A JSON request body; every rejection (malformed JSON, missing fields, wrong content
/// type, too large, too slow) answered with the project's JSON error body.
pub struct JsonBody<T>(pub T);

impl<S: Send + Sync, T: serde::de::DeserializeOwned> FromRequest<S> for JsonBody<T> {
    type Rejection = Error;

    async fn from_request(req: Request, state: &S) -> Result<Self> {
        match Json::<T>::from_request(req, state).await {
            Ok(Json(t)) => Ok(JsonBody(t)),
            Err(e) => Err(json_rejection(&e)),
        }
    }
}

fn json_rejection(e: &JsonRejection) -> Error {
    if body_timed_out(e) {
        return Error::Timeout;
    }
    match e {
        JsonRejection::MissingJsonContentType(_) => {
            Error::BadRequest("Content-Type 应为 application/json".into())
        }
        JsonRejection::JsonSyntaxError(_) => Error::BadRequest("JSON格式错误,无法解析".into()),
        JsonRejection::JsonDataError(_) => {
            Error::BadRequest("请求缺少必填项或某项的类型不对".into())
        }
        _ if e.status() == StatusCode::PAYLOAD_TOO_LARGE => Error::TooLarge {
            code: "request.too_large",
            message: format!("请求内容超过{}KB上限", MAX_JSON_BODY / 1024),
        },
        _ => Error::BadRequest("无法读取请求内容".into()),
    }
}

/// The query parameters of a request, as `T`; a query that does not read as `T` is
/// refused with `T::HELP`, what the parameters should be (the library's own text would
/// name its internals).
pub struct Params<T>(pub T);

/// A query's parameters, and how to write them.
pub trait QueryHelp: serde::de::DeserializeOwned {
    /// What each parameter should be, in Chinese.
    const HELP: &'static str;
}

impl<S: Send + Sync, T: QueryHelp> FromRequestParts<S> for Params<T> {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self> {
        match Query::<T>::from_request_parts(parts, state).await {
            Ok(Query(t)) => Ok(Params(t)),
            Err(_) => Err(Error::BadRequest(format!("查询参数有误:{}", T::HELP))),
        }
    }
}

/// Whether `E` is somewhere in the chain of causes of `e` (a body read fails with the
/// timeout's or the length limit's error wrapped in axum's and hyper's).
fn caused_by<E: std::error::Error + 'static>(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut source = Some(e);
    while let Some(s) = source {
        if s.is::<E>() {
            return true;
        }
        source = s.source();
    }
    false
}

/// Whether reading a body failed because the client paused longer than the body timeout.
fn body_timed_out(e: &(dyn std::error::Error + 'static)) -> bool {
    caused_by::<tower_http::timeout::TimeoutError>(e)
}

/// The refusal of a body over `limit` bytes, named `what`.
pub fn too_large(what: &str, limit: usize) -> Error {
    Error::TooLarge {
        code: "request.too_large",
        message: format!("{what}超过{}MB上限,请分批发送", limit / 1024 / 1024),
    }
}

/// Read a body of at most `limit` bytes.
pub async fn read_body(body: Body, limit: usize, what: &str) -> Result<Bytes> {
    axum::body::to_bytes(body, limit).await.map_err(|e| {
        if body_timed_out(&e) {
            Error::Timeout
        } else if caused_by::<http_body_util::LengthLimitError>(&e) {
            too_large(what, limit)
        } else {
            Error::BadRequest("无法读取请求内容".into())
        }
    })
}

/// Refuse a request whose `Content-Type` is not `expected`.
pub fn check_content_type(headers: &HeaderMap, expected: &str) -> Result<()> {
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if ct != expected {
        return Err(Error::BadRequest(format!("Content-Type 应为 {expected}")));
    }
    Ok(())
}

/// The bearer token of a request.
pub struct Token(pub String);

impl<S: Send + Sync> FromRequestParts<S> for Token {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self> {
        let value = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        match value.strip_prefix("Bearer ") {
            Some(t) if !t.trim().is_empty() && t.len() <= 256 => Ok(Token(t.trim().to_owned())),
            _ => Err(Error::Unauthorized),
        }
    }
}

/// The logged-in admin of a request, from the server's session record only: a token
/// unknown, expired, revoked (or revoked in memory, see `AppState::revoked`) is refused.
impl FromRequestParts<Arc<AppState>> for Actor {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &Arc<AppState>) -> Result<Self> {
        let Token(token) = Token::from_request_parts(parts, state).await?;
        if state
            .revoked
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .contains(&identity::hash_token(&token))
        {
            return Err(Error::Unauthorized);
        }
        let st = state.clone();
        blocking(move || identity::authenticate(&st.store, &token, now())).await
    }
}

//! Registration, the look-up of a code's organization, login and logout. Every guess at a
//! code or a password is counted against the rate limits of its keys (`crate::limits`)
//! before any work, and forgiven when it turns out not to be a guess; Argon2 work waits
//! for a permit ([`AppState::password_work`]).

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Json;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode};
use time::OffsetDateTime;
use wire::protocol::{
    CodeLookupRequest, CodeLookupResponse, LoginRequest, LoginResponse, RegisterRequest,
    RegisterResponse,
};

use super::extract::{JsonBody, Token};
use super::{AppState, blocking, now};
use crate::error::{Error, Result};
use crate::identity::{self, Actor};
use crate::intake;
use crate::limits::{Guess, Key};

/// `POST /api/v1/register`
pub async fn register(
    State(state): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    JsonBody(req): JsonBody<RegisterRequest>,
) -> Result<Json<RegisterResponse>> {
    let keys = code_keys(&state, peer, &headers, &req.org_id).await?;
    count_guess(&state, Guess::Code, &keys).await?;
    let _permit = password_permit(&state).await?;
    let st = state.clone();
    code_attempt(&state, &keys, move || {
        let category = identity::registration_org(&st.store, &req, now())?;
        let today = OffsetDateTime::now_utc().date();
        let checked = identity::check_registration(&req, category, &st.config.identity, today)?;
        identity::register(&st.store, checked, now())
    })
    .await
    .map(Json)
}

/// `POST /api/v1/register/lookup`: the organization of a code, counted and limited as a
/// registration is (the same keys, the same step; no password work, so no Argon2 permit).
pub async fn lookup_code(
    State(state): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    JsonBody(req): JsonBody<CodeLookupRequest>,
) -> Result<Json<CodeLookupResponse>> {
    let keys = code_keys(&state, peer, &headers, "").await?;
    count_guess(&state, Guess::Code, &keys).await?;
    let st = state.clone();
    code_attempt(&state, &keys, move || {
        identity::lookup_code(&st.store, &req.code, now())
    })
    .await
    .map(Json)
}

/// `POST /api/v1/login`
pub async fn login(
    State(state): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    JsonBody(req): JsonBody<LoginRequest>,
) -> Result<Json<LoginResponse>> {
    let ip = state.config.trusted_proxies.client_ip(peer, &headers);
    let mut keys = vec![Key::address(Guess::Password, ip)];
    let mobile = schemas::Mobile::parse(&req.mobile).ok();
    if let Some(m) = &mobile {
        keys.push(Key::mobile(m));
    }
    count_guess(&state, Guess::Password, &keys).await?;
    let _permit = password_permit(&state).await?;
    let st = state.clone();
    let result = blocking(move || identity::login(&st.store, &req, now())).await;
    if matches!(&result, Err(Error::Invalid { code, .. }) if *code == "login.failed") {
        let shown = mobile.map_or_else(|| "(无效手机号)".to_owned(), |m| m.masked());
        tracing::warn!(mobile = %shown, %ip, "login failed");
        let st = state.clone();
        best_effort(blocking(move || {
            identity::audit_failed_login(&st.store, &shown, ip)
        }))
        .await;
    } else {
        forgive(&state, keys).await;
    }
    result.map(Json)
}

/// `POST /api/v1/logout`
pub async fn logout(
    State(state): State<Arc<AppState>>,
    _actor: Actor,
    Token(token): Token,
) -> Result<StatusCode> {
    let st = state.clone();
    let hash = identity::hash_token(&token);
    if let Err(e) = blocking(move || identity::logout(&st.store, &token)).await {
        // The database cannot take the revocation (a full disk): this process refuses the
        // token from now on all the same, and the logout is answered as done.
        tracing::warn!(error = %e, "logout not written; revoked in memory");
        state
            .revoked
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(hash);
    }
    Ok(StatusCode::NO_CONTENT)
}

/// A guess at a code or a password: counted against the rate limit of each key (refused
/// if the client's address is over it, slowed if the target is). A key that reaches the
/// limit is logged and audited once. Each refusal or slowing is counted in the metrics.
async fn count_guess(state: &Arc<AppState>, guess: Guess, keys: &[Key]) -> Result<()> {
    let st = state.clone();
    let k = keys.to_vec();
    let begun = blocking(move || st.limiter.begin(&st.store, &k, crate::limits::now_ms()));
    let begun = match begun.await? {
        Ok(b) => b,
        Err(minutes) => {
            state.metrics.rate_limited(guess);
            return Err(Error::RateLimited(minutes));
        }
    };
    if !begun.tripped.is_empty() {
        let shown: Vec<String> = begun.tripped.iter().map(|k| k.shown().to_owned()).collect();
        tracing::warn!(keys = ?shown, "rate limit reached");
        let st = state.clone();
        best_effort(blocking(move || {
            identity::audit_rate_limit(&st.store, &shown)
        }))
        .await;
    }
    if !begun.delay.is_zero() {
        state.metrics.rate_limited(guess);
        tokio::time::sleep(begun.delay).await;
    }
    Ok(())
}

/// A permit for Argon2 work, held until the password is hashed or checked.
async fn password_permit(state: &AppState) -> Result<tokio::sync::SemaphorePermit<'_>> {
    state
        .password_work
        .acquire()
        .await
        .map_err(|e| Error::Internal(e.to_string()))
}

/// Run a counted code guess (registration, look-up) off the async workers; anything but a
/// wrong code is forgiven.
async fn code_attempt<T: Send + 'static>(
    state: &Arc<AppState>,
    keys: &[Key],
    work: impl FnOnce() -> Result<T> + Send + 'static,
) -> Result<T> {
    let result = blocking(work).await;
    let wrong_code =
        matches!(&result, Err(Error::Invalid { code, .. }) if code.starts_with("code."));
    if !wrong_code {
        forgive(state, keys.to_vec()).await;
    }
    result
}

/// Take back a counted attempt that was not a guess ([`crate::limits::Limiter::forgive`]).
async fn forgive(state: &Arc<AppState>, keys: Vec<Key>) {
    let st = state.clone();
    best_effort(blocking(move || st.limiter.forgive(&st.store, &keys))).await;
}

/// A write that must not fail the request it belongs to (an audit record of a refusal):
/// logged if it fails.
async fn best_effort(work: impl std::future::Future<Output = Result<()>>) {
    if let Err(e) = work.await {
        tracing::warn!(error = %e, code = e.code(), "best-effort write failed");
    }
}

/// The organization a registration names, if it is a plausible id of one that exists: only
/// then is it a rate-limit key (raw input never is).
async fn existing_org(state: &Arc<AppState>, org_id: &str) -> Result<Option<String>> {
    if org_id.is_empty() || org_id.len() > intake::MAX_ID_BYTES {
        return Ok(None);
    }
    let st = state.clone();
    let id = org_id.to_owned();
    blocking(move || identity::existing_org(&st.store, &id)).await
}

/// The rate-limit keys of a code guess: the client's address, and the organization when
/// the form names an existing one. A code look-up and a registration count against the
/// same keys.
async fn code_keys(
    state: &Arc<AppState>,
    peer: SocketAddr,
    headers: &HeaderMap,
    org_id: &str,
) -> Result<Vec<Key>> {
    let ip = state.config.trusted_proxies.client_ip(peer, headers);
    let mut keys = vec![Key::address(Guess::Code, ip)];
    if let Some(org) = existing_org(state, org_id.trim()).await? {
        keys.push(Key::org(&org));
    }
    Ok(keys)
}

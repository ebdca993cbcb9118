//! The HTTP layer (axum): the router and the state its handlers share, the extractors
//! (`extract`), the answer to every error and rejection (`reject`: the project's JSON
//! error body), the one helper that runs blocking work off the async workers
//! ([`blocking`]), and every handler, by area: registration and login (`identity`), push
//! and pull (`sync`), progress supervision (`progress`), the Excel report (`report`) and
//! the change history (`history`), and the operator's probes and metrics (`ops`).
//!
//! Handlers are thin: they read the request, call the services (`crate::identity`,
//! `crate::merge`, `crate::feed`, `crate::history`, `crate::progress`, `crate::report`),
//! which know nothing of HTTP, and answer. The connections beneath (timeouts, TLS) are
//! `crate::net` and `crate::tls`.

mod extract;
mod history;
mod identity;
mod ops;
mod progress;
mod reject;
mod report;
mod sync;

use std::sync::Arc;

use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{get, post};

use crate::config::Config;
use crate::error::{Error, Result};
use crate::limits::Limiter;
use crate::metrics::Metrics;
use crate::storage::Store;

pub use ops::READY_WITHIN;

/// The largest JSON request body: a registration form is under 1 KB.
pub const MAX_JSON_BODY: usize = 16 * 1024;
/// The largest pull request body (a version, a cursor and a limit).
pub const MAX_PULL_BODY: usize = 1024;
/// Pulls answered at once (each may hold a page of up to `feed::MAX_PAGE_BYTES`).
pub const PULLS_AT_ONCE: usize = 4;

/// Shared state of the handlers.
pub struct AppState {
    pub store: Store,
    pub limiter: Limiter,
    /// Argon2 work (each hash holds 19 MiB) runs at most one per core at a time, so a burst
    /// of registrations or logins cannot multiply the server's memory.
    pub password_work: tokio::sync::Semaphore,
    /// Pushes read, decoded and merged at once (`intake::DECODES_AT_ONCE`): a push's body
    /// is read only once it holds a permit, so waiting pushes hold no memory.
    pub push_work: tokio::sync::Semaphore,
    /// Pulls answered at once.
    pub pull_work: tokio::sync::Semaphore,
    /// Readiness probes of the database at once: one (`ops::readyz`).
    pub ping_work: Arc<tokio::sync::Semaphore>,
    /// Sessions revoked while the database could not be written (a full disk): refused by
    /// this process all the same.
    pub revoked: std::sync::Mutex<std::collections::HashSet<Vec<u8>>>,
    pub config: Config,
    pub metrics: Metrics,
}

impl AppState {
    /// The state of a server over `store` with `config`.
    pub fn new(store: Store, config: Config) -> AppState {
        AppState {
            limiter: Limiter::for_store(&store),
            store,
            password_work: tokio::sync::Semaphore::new(
                std::thread::available_parallelism().map_or(2, |n| n.get()),
            ),
            push_work: tokio::sync::Semaphore::new(crate::intake::DECODES_AT_ONCE),
            pull_work: tokio::sync::Semaphore::new(PULLS_AT_ONCE),
            ping_work: Arc::new(tokio::sync::Semaphore::new(1)),
            revoked: Default::default(),
            config,
            metrics: Metrics::new(),
        }
    }
}

/// The router over shared state.
pub fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/api/v1/health", get(|| async { "ok" }))
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(ops::readyz))
        .route("/metrics", get(ops::metrics))
        .route("/api/v1/register", post(identity::register))
        .route("/api/v1/register/lookup", post(identity::lookup_code))
        .route("/api/v1/login", post(identity::login))
        .route("/api/v1/logout", post(identity::logout))
        .route("/api/v1/push", post(sync::push))
        .route("/api/v1/pull", post(sync::pull))
        .route("/api/v1/progress", get(progress::get_progress))
        .route("/api/v1/progress/history", get(progress::get_history))
        .route("/api/v1/report", get(report::get_report))
        .route("/api/v1/history", get(history::get_history))
        .fallback(|| async { Error::NotFound("该接口".into()) })
        .method_not_allowed_fallback(|| async { Error::MethodNotAllowed })
        .layer(DefaultBodyLimit::max(MAX_JSON_BODY))
        .layer(middleware::from_fn_with_state(state.clone(), count_request))
        // Request logs: method, path, status and latency only (no headers, no bodies: no
        // tokens or personal data reach the log).
        .layer(
            tower_http::trace::TraceLayer::new_for_http()
                .make_span_with(
                    tower_http::trace::DefaultMakeSpan::new().level(tracing::Level::INFO),
                )
                .on_response(
                    tower_http::trace::DefaultOnResponse::new().level(tracing::Level::INFO),
                ),
        )
        .with_state(state)
}

/// Count every answered request by its route's pattern (`MatchedPath`, set by the router
/// before this layer runs; never the path asked for), method and status.
async fn count_request(State(state): State<Arc<AppState>>, req: Request, next: Next) -> Response {
    let route = req.extensions().get::<MatchedPath>().cloned();
    let method = req.method().clone();
    let response = next.run(req).await;
    state.metrics.request(
        route.as_ref().map(MatchedPath::as_str),
        &method,
        response.status().as_u16(),
    );
    response
}

/// Run blocking work (SQLite, Argon2, Automerge) off the async workers.
pub(crate) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T> + Send + 'static,
) -> Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| Error::Internal(e.to_string()))?
}

/// Unix seconds now.
fn now() -> i64 {
    crate::storage::now()
}

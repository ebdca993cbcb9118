//! The HTTP edge (axum): configuration, start-up (the pre-initialized tree and the first
//! administrator's registration code), routes and thin handlers that translate HTTP to the
//! identity, merge and feed modules.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, DefaultBodyLimit, FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use client_core::doc;
use client_core::protocol::{
    self, LoginRequest, PROTOCOL_VERSION, PullRequest, PushRequest, PushResponse, RegisterRequest,
};
use time::OffsetDateTime;

use crate::error::{Error, Result};
use crate::feed;
use crate::identity::{self, IdentityConfig};
use crate::limits::{Limiter, MAX_FAILURES};
use crate::merge::{self, Actor};
use crate::store::{self, Accepted, Store};

/// The largest request body (a compressed push of tens of thousands of documents fits).
pub const MAX_BODY: usize = 64 * 1024 * 1024;

/// Server settings (flags and environment, see `main.rs`).
#[derive(Debug, Clone)]
pub struct Config {
    pub data_dir: PathBuf,
    pub listen: SocketAddr,
    pub identity: IdentityConfig,
    /// The campaign schedule progress supervision judges overdue items by (RULES §11;
    /// default: the notice's dates).
    pub schedule: schemas::progress::Schedule,
    /// Serve HTTPS with this certificate and key (`--tls-cert`/`--tls-key`); `None`: plain
    /// HTTP, for loopback or behind a TLS-terminating proxy.
    pub tls: Option<TlsFiles>,
}

/// A PEM certificate chain (the server's certificate first, then any intermediates) and
/// its PEM private key (PKCS#8, PKCS#1 or SEC1, unencrypted).
#[derive(Debug, Clone)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

impl Config {
    pub fn db_path(&self) -> PathBuf {
        self.data_dir.join("zhtj-server.sqlite3")
    }
}

/// Shared state of the handlers.
pub struct AppState {
    pub store: Store,
    pub limiter: Limiter,
    /// Argon2 work (each hash holds 19 MiB) runs at most one per core at a time, so a burst
    /// of registrations or logins cannot multiply the server's memory.
    pub password_work: tokio::sync::Semaphore,
    pub config: Config,
}

/// Open the database, creating the pre-initialized tree on first start. Returns the store
/// and, on first start, the registration code for 团成都市委's first admin.
pub fn open_store(config: &Config) -> Result<(Store, Option<schemas::code::IssuedCode>)> {
    std::fs::create_dir_all(&config.data_dir).map_err(|e| {
        Error::Internal(format!("无法创建数据目录{}:{e}", config.data_dir.display()))
    })?;
    let store = Store::open(&config.db_path())?;
    if store.is_initialized()? {
        return Ok((store, None));
    }
    initialize_tree(&store)?;
    let city = schemas::initial::org_id(schemas::divisions::chengdu_code());
    let code = identity::operator_issue_code(&store, &city, OffsetDateTime::now_utc())?;
    Ok((store, Some(code)))
}

/// Write the pre-initialized tree (RULES §1) in one transaction, with the same
/// deterministic genesis every replica uses.
pub fn initialize_tree(store: &Store) -> Result<()> {
    store.transaction(|tx| {
        let mut paths = std::collections::HashMap::<String, String>::new();
        for r in schemas::initial::initial_tree() {
            let mut d =
                doc::deterministic_genesis(&r).map_err(|e| Error::Internal(e.to_string()))?;
            let path = match paths.get(&r.parent) {
                Some(p) => format!("{p}{}/", r.id),
                None => format!("/{}/", r.id),
            };
            paths.insert(r.id.clone(), path.clone());
            let heads: Vec<u8> = d.get_heads().iter().flat_map(|h| h.0).collect();
            let was = store::get_org(tx, &r.id)?;
            store::put_org(
                tx,
                &Accepted {
                    record: &r,
                    path: &path,
                    complete: false,
                    bytes: &d.save_nocompress(),
                    heads: &heads,
                },
                was.as_ref(),
                None,
            )?;
        }
        store::set_meta(tx, "initialized", &store::now().to_string())?;
        store::audit(tx, None, "tree.initialize", None, "pre-initialized tree")?;
        Ok(())
    })
}

/// The router over shared state.
pub fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/api/v1/health", get(|| async { "ok" }))
        .route("/api/v1/register", post(register))
        .route("/api/v1/login", post(login))
        .route("/api/v1/logout", post(logout))
        .route("/api/v1/push", post(push))
        .route("/api/v1/pull", post(pull))
        .route("/api/v1/progress", get(crate::progress::get_progress))
        .route(
            "/api/v1/progress/history",
            get(crate::progress::get_history),
        )
        .route("/api/v1/report", get(crate::progress::get_report))
        .layer(DefaultBodyLimit::max(MAX_BODY))
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

/// Run blocking work (SQLite, Argon2, Automerge) off the async workers.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T> + Send + 'static) -> Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| Error::Internal(e.to_string()))?
}

fn now() -> i64 {
    store::now()
}

/// A registration or login attempt: counted against the rate limit of each key (refused
/// once one is over it), then a permit for the Argon2 work, which the caller holds until
/// the password is hashed or checked.
async fn begin_guess<'a>(
    state: &'a AppState,
    keys: &[String],
) -> Result<tokio::sync::SemaphorePermit<'a>> {
    state
        .limiter
        .begin(keys, now())
        .map_err(Error::RateLimited)?;
    state
        .password_work
        .acquire()
        .await
        .map_err(|e| Error::Internal(e.to_string()))
}

async fn register(
    State(state): State<Arc<AppState>>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    Json(req): Json<RegisterRequest>,
) -> Result<Json<protocol::RegisterResponse>> {
    let keys = vec![
        format!("reg-ip:{}", addr.ip()),
        format!("reg-org:{}", req.org_id),
    ];
    let _permit = begin_guess(&state, &keys).await?;
    let st = state.clone();
    let result = blocking(move || {
        let category = identity::org_category(&st.store, &req.org_id)?;
        let today = OffsetDateTime::now_utc().date();
        let checked = identity::check_registration(&req, category, &st.config.identity, today)?;
        identity::register(&st.store, checked, now())
    })
    .await;
    // Only a wrong code is a guess; anything else is forgiven.
    if !matches!(&result, Err(Error::Invalid { code, .. }) if code.starts_with("code.")) {
        state.limiter.forgive(&keys);
    }
    result.map(Json)
}

async fn login(
    State(state): State<Arc<AppState>>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    Json(req): Json<LoginRequest>,
) -> Result<Json<protocol::LoginResponse>> {
    let keys = vec![
        format!("login-ip:{}", addr.ip()),
        format!("login-mobile:{}", req.mobile.trim()),
    ];
    let _permit = begin_guess(&state, &keys).await?;
    let st = state.clone();
    let result = blocking(move || identity::login(&st.store, &req, now())).await;
    if !matches!(&result, Err(Error::Invalid { code, .. }) if *code == "login.failed") {
        state.limiter.forgive(&keys);
    }
    result.map(Json)
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

impl FromRequestParts<Arc<AppState>> for Actor {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &Arc<AppState>) -> Result<Self> {
        let Token(token) = Token::from_request_parts(parts, state).await?;
        let st = state.clone();
        blocking(move || identity::authenticate(&st.store, &token, now())).await
    }
}

async fn logout(
    State(state): State<Arc<AppState>>,
    _actor: Actor,
    Token(token): Token,
) -> Result<StatusCode> {
    blocking(move || identity::logout(&state.store, &token)).await?;
    Ok(StatusCode::NO_CONTENT)
}

fn sync_body(body: Vec<u8>) -> Response {
    ([(header::CONTENT_TYPE, protocol::SYNC_CONTENT_TYPE)], body).into_response()
}

fn check_content_type(headers: &HeaderMap) -> Result<()> {
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if ct != protocol::SYNC_CONTENT_TYPE {
        return Err(Error::BadRequest(format!(
            "Content-Type 应为 {}",
            protocol::SYNC_CONTENT_TYPE
        )));
    }
    Ok(())
}

/// Decode a sync body and check its protocol version.
fn decode_sync<T: serde::de::DeserializeOwned>(
    body: &[u8],
    what: &str,
    version: impl Fn(&T) -> u32,
) -> Result<T> {
    let req: T =
        protocol::decode(body).map_err(|e| Error::BadRequest(format!("无法解码{what}:{e}")))?;
    let v = version(&req);
    if v != PROTOCOL_VERSION {
        return Err(Error::invalid(
            "protocol.version",
            format!("协议版本{v}不受支持,请升级客户端"),
        ));
    }
    Ok(req)
}

async fn push(
    State(state): State<Arc<AppState>>,
    actor: Actor,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response> {
    check_content_type(&headers)?;
    let out = blocking(move || {
        let req: PushRequest = decode_sync(&body, "推送数据", |r: &PushRequest| r.version)?;
        let n = req.docs.len();
        let results = state
            .store
            .transaction(|tx| merge::push(tx, &actor, &req.docs, now()))?;
        let accepted = results
            .iter()
            .filter(|r| matches!(r.outcome, protocol::DocOutcome::Accepted { .. }))
            .count();
        tracing::info!(account_id = actor.account_id, docs = n, accepted, "push");
        protocol::encode(&PushResponse {
            version: PROTOCOL_VERSION,
            results,
        })
        .map_err(|e| Error::Internal(e.to_string()))
    })
    .await?;
    Ok(sync_body(out))
}

async fn pull(
    State(state): State<Arc<AppState>>,
    actor: Actor,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response> {
    check_content_type(&headers)?;
    let out = blocking(move || {
        let req: PullRequest = decode_sync(&body, "拉取请求", |r: &PullRequest| r.version)?;
        let resp = state
            .store
            .read(|c| feed::pull(c, &actor, req.cursor, req.limit))?;
        protocol::encode(&resp).map_err(|e| Error::Internal(e.to_string()))
    })
    .await?;
    Ok(sync_body(out))
}

/// A running server.
pub struct Running {
    pub addr: SocketAddr,
    /// The first administrator's code, on first start only.
    pub first_code: Option<schemas::code::IssuedCode>,
    pub state: Arc<AppState>,
    pub task: tokio::task::JoinHandle<std::io::Result<()>>,
}

/// Open the store and start serving on `config.listen` (port 0 picks a free port).
pub async fn start(config: Config) -> Result<Running> {
    // Unreadable or invalid TLS files are refused before anything is created or bound.
    let tls = match &config.tls {
        Some(files) => {
            let files = files.clone();
            Some(blocking(move || crate::tls::server_config(&files)).await?)
        }
        None => None,
    };
    let cfg = config.clone();
    let (store, first_code) = blocking(move || open_store(&cfg)).await?;
    let state = Arc::new(AppState {
        store,
        limiter: Limiter::new(MAX_FAILURES),
        password_work: tokio::sync::Semaphore::new(
            std::thread::available_parallelism().map_or(2, |n| n.get()),
        ),
        config: config.clone(),
    });
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|e| Error::Internal(format!("无法监听{}:{e}", config.listen)))?;
    let addr = listener
        .local_addr()
        .map_err(|e| Error::Internal(e.to_string()))?;
    let app = router(state.clone()).into_make_service_with_connect_info::<SocketAddr>();
    let task = match tls {
        None => tokio::spawn(async move { axum::serve(listener, app).await }),
        Some(tls) => {
            let listener = crate::tls::listener(listener, tls)
                .map_err(|e| Error::Internal(format!("无法监听{}:{e}", config.listen)))?;
            tokio::spawn(async move { axum::serve(listener, app).await })
        }
    };
    Ok(Running {
        addr,
        first_code,
        state,
        task,
    })
}

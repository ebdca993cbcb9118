//! The HTTP edge (axum): configuration, start-up (the pre-initialized tree and the first
//! administrator's registration code), routes and thin handlers that translate HTTP to the
//! identity, merge and feed modules.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::rejection::JsonRejection;
use axum::extract::{ConnectInfo, DefaultBodyLimit, FromRequest, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use time::OffsetDateTime;
use wire::protocol::{
    self, CodeLookupRequest, LoginRequest, MIN_PROTOCOL_VERSION, PROTOCOL_VERSION, PullRequest,
    PushResponse, RegisterRequest,
};
use wire::{doc, heads};

use crate::error::{Error, Result};
use crate::feed;
use crate::identity::{self, IdentityConfig};
use crate::intake;
use crate::limits::{Guess, Key, Limiter};
use crate::merge::{self, Actor};
use crate::net::{NetLimits, TrustedProxies};
use crate::store::{self, Accepted, Store};

/// The largest JSON request body: a registration form is under 1 KB.
pub const MAX_JSON_BODY: usize = 16 * 1024;
/// The largest pull request body (a version, a cursor and a limit).
pub const MAX_PULL_BODY: usize = 1024;
/// Pulls answered at once (each may hold a page of up to `feed::MAX_PAGE_BYTES`).
pub const PULLS_AT_ONCE: usize = 4;

/// Server settings (flags and environment, see `main.rs`).
#[derive(Debug, Clone)]
pub struct Config {
    pub data_dir: PathBuf,
    pub listen: SocketAddr,
    pub identity: IdentityConfig,
    /// The campaign schedule of the `serve` configuration (RULES §11): when given, it
    /// replaces the stored one at start. The stored schedule (`crate::schedule`; the
    /// notice's dates until one is set) is what progress supervision judges by.
    pub schedule: Option<schemas::progress::Schedule>,
    /// Serve HTTPS with this certificate and key (`--tls-cert`/`--tls-key`); `None`: plain
    /// HTTP, for loopback or behind a TLS-terminating proxy.
    pub tls: Option<TlsFiles>,
    /// Connection limits and timeouts.
    pub net: NetLimits,
    /// Reverse proxies whose `X-Forwarded-For` names the client (`--trusted-proxy`).
    pub trusted_proxies: TrustedProxies,
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
    /// Pushes read, decoded and merged at once (`intake::DECODES_AT_ONCE`): a push's body
    /// is read only once it holds a permit, so waiting pushes hold no memory.
    pub push_work: tokio::sync::Semaphore,
    /// Pulls answered at once.
    pub pull_work: tokio::sync::Semaphore,
    /// Sessions revoked while the database could not be written (a full disk): refused by
    /// this process all the same.
    pub revoked: std::sync::Mutex<std::collections::HashSet<Vec<u8>>>,
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
            let heads = heads::encode(&d.get_heads());
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
        .route("/api/v1/register/lookup", post(lookup_code))
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
        .route("/api/v1/history", get(crate::history::get_history))
        .fallback(|| async { Error::NotFound("该接口".into()) })
        .method_not_allowed_fallback(|| async { Error::MethodNotAllowed })
        .layer(DefaultBodyLimit::max(MAX_JSON_BODY))
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
pub(crate) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T> + Send + 'static,
) -> Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| Error::Internal(e.to_string()))?
}

fn now() -> i64 {
    store::now()
}

/// A JSON request body; every rejection (malformed JSON, missing fields, wrong content
/// type, too large, too slow) answered with the project's JSON error body and a message
/// that names no library internals.
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

/// What a push body is called in its refusals.
const PUSH_BODY: &str = "推送数据";

fn too_large(what: &str, limit: usize) -> Error {
    Error::TooLarge {
        code: "request.too_large",
        message: format!("{what}超过{}MB上限,请分批发送", limit / 1024 / 1024),
    }
}

/// Read a body of at most `limit` bytes.
async fn read_body(body: Body, limit: usize, what: &str) -> Result<Bytes> {
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

/// A guess at a code or a password: counted against the rate limit of each key (refused
/// if the client's address is over it, slowed if the target is). A key that reaches the
/// limit is logged and audited once.
async fn count_guess(state: &Arc<AppState>, keys: &[Key]) -> Result<()> {
    let begun = match state.limiter.begin(keys, crate::limits::now_ms()) {
        Ok(b) => b,
        Err(minutes) => return Err(Error::RateLimited(minutes)),
    };
    if !begun.tripped.is_empty() {
        let shown: Vec<String> = begun.tripped.iter().map(|k| k.shown().to_owned()).collect();
        tracing::warn!(keys = ?shown, "rate limit reached");
        let st = state.clone();
        best_effort(blocking(move || {
            st.store.transaction(|tx| {
                for k in &shown {
                    store::audit(tx, None, "ratelimit.trip", None, k)?;
                }
                Ok(())
            })
        }))
        .await;
    }
    if !begun.delay.is_zero() {
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
    state: &AppState,
    keys: &[Key],
    work: impl FnOnce() -> Result<T> + Send + 'static,
) -> Result<T> {
    let result = blocking(work).await;
    let wrong_code =
        matches!(&result, Err(Error::Invalid { code, .. }) if code.starts_with("code."));
    if !wrong_code {
        state.limiter.forgive(keys);
    }
    result
}

/// A write that must not fail the request it belongs to (an audit record of a refusal, a
/// snapshot): logged if it fails.
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
    blocking(move || st.store.read(|c| Ok(store::get_org(c, &id)?.map(|o| o.id)))).await
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

async fn register(
    State(state): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    JsonBody(req): JsonBody<RegisterRequest>,
) -> Result<Json<protocol::RegisterResponse>> {
    let keys = code_keys(&state, peer, &headers, &req.org_id).await?;
    count_guess(&state, &keys).await?;
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
async fn lookup_code(
    State(state): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    JsonBody(req): JsonBody<CodeLookupRequest>,
) -> Result<Json<protocol::CodeLookupResponse>> {
    let keys = code_keys(&state, peer, &headers, "").await?;
    count_guess(&state, &keys).await?;
    let st = state.clone();
    code_attempt(&state, &keys, move || {
        identity::lookup_code(&st.store, &req.code, now())
    })
    .await
    .map(Json)
}

async fn login(
    State(state): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    JsonBody(req): JsonBody<LoginRequest>,
) -> Result<Json<protocol::LoginResponse>> {
    let ip = state.config.trusted_proxies.client_ip(peer, &headers);
    let mut keys = vec![Key::address(Guess::Password, ip)];
    let mobile = schemas::Mobile::parse(&req.mobile).ok();
    if let Some(m) = &mobile {
        keys.push(Key::mobile(m));
    }
    count_guess(&state, &keys).await?;
    let _permit = password_permit(&state).await?;
    let st = state.clone();
    let result = blocking(move || identity::login(&st.store, &req, now())).await;
    if matches!(&result, Err(Error::Invalid { code, .. }) if *code == "login.failed") {
        let shown = mobile.map_or_else(|| "(无效手机号)".to_owned(), |m| m.masked());
        tracing::warn!(mobile = %shown, %ip, "login failed");
        let st = state.clone();
        best_effort(blocking(move || {
            st.store.transaction(|tx| {
                store::audit(
                    tx,
                    None,
                    "login.failed",
                    None,
                    &format!("mobile {shown} from {ip}"),
                )
            })
        }))
        .await;
    } else {
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

async fn logout(
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
    let req: T = protocol::decode(body)
        .map_err(|_| Error::BadRequest(format!("无法解码{what}(数据不完整或已损坏)")))?;
    check_version(version(&req))?;
    Ok(req)
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

async fn push(
    State(state): State<Arc<AppState>>,
    actor: Actor,
    headers: HeaderMap,
    body: Body,
) -> Result<Response> {
    check_content_type(&headers)?;
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
        let received_at = now();
        let (results, recorded) = merge::push_in_parts(&st.store, &actor, &push.docs, received_at)?;
        let accepted = results
            .iter()
            .filter(|r| matches!(r.outcome, protocol::DocOutcome::Accepted { .. }))
            .count();
        tracing::info!(
            account_id = actor.account_id,
            docs = push.docs.len(),
            accepted,
            "push"
        );
        // Version 2: the pusher's own author records, so its history is whole at once.
        let authors = if push.version >= 2 {
            st.store
                .read(|c| crate::history::pushed(c, actor.account_id, &recorded, received_at))?
        } else {
            Vec::new()
        };
        protocol::encode(&PushResponse {
            version: push.version,
            results,
            authors,
            stamp: None,
            cursor: None,
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
    body: Body,
) -> Result<Response> {
    check_content_type(&headers)?;
    let body = read_body(body, MAX_PULL_BODY, "拉取请求").await?;
    let _permit = state
        .pull_work
        .acquire()
        .await
        .map_err(|e| Error::Internal(e.to_string()))?;
    let st = state.clone();
    let out = blocking(move || {
        let req: PullRequest = decode_sync(&body, "拉取请求", |r: &PullRequest| r.version)?;
        let resp = st.store.read(|c| {
            let mut resp = feed::pull(c, &actor, req.cursor, req.limit)?;
            resp.version = req.version;
            if req.version >= 2 {
                resp.authors = crate::history::of_docs(c, resp.docs.iter().map(|d| &*d.id))?;
            }
            Ok(resp)
        })?;
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
    let (store, first_code) = blocking(move || {
        let (store, first_code) = open_store(&cfg)?;
        if let Some(schedule) = &cfg.schedule {
            crate::schedule::store_schedule(&store, schedule, "serve")?;
        }
        Ok((store, first_code))
    })
    .await?;
    let state = Arc::new(AppState {
        store,
        limiter: Limiter::default(),
        password_work: tokio::sync::Semaphore::new(
            std::thread::available_parallelism().map_or(2, |n| n.get()),
        ),
        push_work: tokio::sync::Semaphore::new(intake::DECODES_AT_ONCE),
        pull_work: tokio::sync::Semaphore::new(PULLS_AT_ONCE),
        revoked: Default::default(),
        config: config.clone(),
    });
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|e| Error::Internal(format!("无法监听{}:{e}", config.listen)))?;
    let addr = listener
        .local_addr()
        .map_err(|e| Error::Internal(e.to_string()))?;
    let app = router(state.clone());
    let net = config.net.clone();
    let task = match tls {
        None => tokio::spawn(crate::net::serve(listener, app, net)),
        Some(tls) => {
            let listener = crate::tls::listener(listener, tls)
                .map_err(|e| Error::Internal(format!("无法监听{}:{e}", config.listen)))?;
            tokio::spawn(crate::net::serve(listener, app, net))
        }
    };
    Ok(Running {
        addr,
        first_code,
        state,
        task,
    })
}

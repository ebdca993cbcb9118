//! The sync client (design.md "Sync protocol", "Identity and access", "Client replica"):
//! [`Remote`], the HTTP calls of docs/protocol.md (version 1), and the replica's side of a
//! sync: pull the change feed from the stored cursor, merge, then push every document with
//! local changes and record what the server accepted or refused.
//!
//! What the replica keeps (all in its SQLite file, so a crash or a lost connection at any
//! moment leaves a state the next sync resumes from):
//! - `meta`: `server_url`, `token`, `token_expires_at`, `account` (JSON [`Account`]),
//!   `cursor` (the change-feed position of the last pull page stored), `last_sync_at`;
//! - `docs.acked_heads`: the heads of the server's copy the replica has seen accepted, the
//!   base of the next `save_after`; `docs.dirty`: local changes the server has not
//!   acknowledged;
//! - `rejections`: the server's last refusal of a document, kept until it is accepted.
//!
//! Each pulled page is stored in one transaction together with its cursor, so an
//! interrupted pull resumes at the first page not stored. A push's outcome is written in
//! one transaction per request; a push lost in flight is simply sent again (the server
//! answers a retry of an accepted push with the same heads).

use std::collections::{HashMap, HashSet};
use std::io::Read;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use automerge::{ActorId, AutoCommit, ChangeHash};
use rusqlite::{Connection, params};
use schemas::divisions::Division;
use schemas::org::{Context, OrgRecord};
use schemas::{Field, Violation};
use time::OffsetDateTime;

use crate::error::{Error, Result};
use crate::history::{self, Writer};
use crate::protocol::{
    self, CodeLookupRequest, CodeLookupResponse, DocOutcome, DocResult, LoginRequest,
    LoginResponse, PROTOCOL_VERSION, PullDoc, PullRequest, PullResponse, PushDoc, PushRequest,
    PushResponse, RegisterRequest, RegisterResponse, SYNC_CONTENT_TYPE,
};
use crate::replica::Replica;
use crate::store::{self, ServerFacts};
use wire::status::Failure;
use wire::{chunk, doc, heads};

/// Documents asked for per pull page.
pub const PULL_LIMIT: u32 = 5_000;

/// Documents sent per push request.
pub const PUSH_BATCH: usize = 2_000;

/// Connection set-up budget of one request.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Budget of one whole request (sending, the server's work, reading the answer): a push of
/// 2,000 documents or a pull page of 5,000 over a slow rural line.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(120);

const META_SERVER: &str = "server_url";
const META_TOKEN: &str = "token";
const META_EXPIRES: &str = "token_expires_at";
const META_ACCOUNT: &str = "account";
const META_CURSOR: &str = "cursor";
const META_LAST_SYNC: &str = "last_sync_at";

// ------------------------------------------------------------------------ Remote

/// The sync server, reached over HTTP(S). Stateless: the session token is passed to each
/// call that needs one (the replica keeps it).
#[derive(Debug, Clone)]
pub struct Remote {
    base: String,
    agent: ureq::Agent,
    traffic: Arc<Traffic>,
}

/// Body bytes sent and received by a [`Remote`] (and its clones) so far, counted as they
/// cross the socket: a progress display on a slow link reads them while a request runs.
#[derive(Debug, Default)]
pub struct Traffic {
    sent: AtomicU64,
    received: AtomicU64,
}

impl Traffic {
    /// (bytes sent, bytes received).
    pub fn get(&self) -> (u64, u64) {
        (
            self.sent.load(Ordering::Relaxed),
            self.received.load(Ordering::Relaxed),
        )
    }
}

/// A request body that counts what ureq takes of it.
struct Counting<'a> {
    body: &'a [u8],
    count: &'a AtomicU64,
}

impl std::io::Read for Counting<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.body.read(buf)?;
        self.count.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// Check and normalize a server address: `http://` or `https://`, a host, no trailing `/`.
pub fn normalize_url(raw: &str) -> Result<String> {
    let base = raw.trim().trim_end_matches('/').to_owned();
    let bad = || {
        Error::Refused(Violation::error(
            "sync.bad_url",
            None,
            format!(
                "服务器地址“{}”不正确,应形如 https://zhtj.example.cn 或 http://127.0.0.1:8080",
                schemas::text::truncate_for_message(raw.trim())
            ),
        ))
    };
    let uri: ureq::http::Uri = base.parse().map_err(|_| bad())?;
    match uri.scheme_str() {
        Some("http") | Some("https") => {}
        _ => return Err(bad()),
    }
    if uri.host().is_none_or(str::is_empty) || uri.query().is_some() {
        return Err(bad());
    }
    Ok(base)
}

fn is_loopback(base: &str) -> bool {
    base.parse::<ureq::http::Uri>()
        .ok()
        .and_then(|u| u.host().map(str::to_owned))
        .is_some_and(|h| {
            let h = h.trim_start_matches('[').trim_end_matches(']');
            h == "localhost"
                || h.parse::<std::net::IpAddr>()
                    .is_ok_and(|ip| ip.is_loopback())
        })
}

/// Describe a transport failure in Chinese (the technical detail follows in brackets).
fn network_error(e: ureq::Error) -> Error {
    // rustls reports through the connection's I/O: its error is inside the io::Error.
    let tls = match &e {
        ureq::Error::Rustls(t) => Some(t),
        ureq::Error::Io(io) => io.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>()),
        _ => None,
    };
    let what = match &e {
        _ if matches!(tls, Some(rustls::Error::InvalidCertificate(_))) => {
            "服务器证书无法验证,未发送任何数据;服务器使用本市自建的证书时,\
             请用 zhtj --ca 文件 或环境变量 ZHTJ_CA 指定其根证书,并确认服务器地址与证书相符"
        }
        _ if tls.is_some() => "安全连接失败:加密协商未成功,请确认服务器地址应为 https 还是 http",
        ureq::Error::ConnectionFailed => "服务器拒绝连接或不可达",
        ureq::Error::HostNotFound => "找不到服务器地址",
        ureq::Error::Timeout(_) => "连接超时",
        ureq::Error::Io(io) if io.kind() == std::io::ErrorKind::ConnectionRefused => {
            "服务器拒绝连接"
        }
        ureq::Error::Io(_) => "网络连接中断",
        ureq::Error::Tls(_) | ureq::Error::Pem(_) => "安全连接失败",
        ureq::Error::BodyExceedsLimit(_) => "服务器回应过大",
        _ => "网络错误",
    };
    Error::Network(format!("{what}:{e}"))
}

/// ureq's error back out of the `io::Error` its body reader wraps it in.
fn from_io(e: std::io::Error) -> ureq::Error {
    if e.get_ref().is_some_and(|i| i.is::<ureq::Error>()) {
        if let Some(Ok(inner)) = e.into_inner().map(|i| i.downcast::<ureq::Error>()) {
            return *inner;
        }
        return ureq::Error::Io(std::io::Error::other("网络错误"));
    }
    ureq::Error::Io(e)
}

/// What an endpoint does with HTTP 401.
#[derive(Clone, Copy, PartialEq, Eq)]
enum On401 {
    /// The session is missing or expired: [`Error::LoginRequired`].
    LoginRequired,
    /// A refusal with a body (a wrong password at login): [`Error::Server`].
    Refusal,
}

/// The roots an `https://` server's certificate is verified against: Mozilla's (the
/// webpki roots) plus the certificates of `ca_pem`, a city's own CA (PEM, one or more).
fn roots_with_ca(ca_pem: &[u8]) -> Result<ureq::tls::RootCerts> {
    let bad = |detail: String| {
        Error::Refused(Violation::error(
            "sync.bad_ca",
            None,
            format!("根证书文件不是PEM格式的证书{detail}(应含 -----BEGIN CERTIFICATE----- 段)"),
        ))
    };
    let mut own = Vec::new();
    for item in ureq::tls::parse_pem(ca_pem) {
        match item {
            Ok(ureq::tls::PemItem::Certificate(c)) => own.push(c),
            Ok(_) => {}
            Err(e) => return Err(bad(format!(":{e}"))),
        }
    }
    if own.is_empty() {
        return Err(bad(String::new()));
    }
    let mozilla = webpki_root_certs::TLS_SERVER_ROOT_CERTS
        .iter()
        .map(|c| ureq::tls::Certificate::from_der(c.as_ref()));
    Ok(mozilla.chain(own).into())
}

impl Remote {
    /// A client of the server at `base_url` (e.g. `http://127.0.0.1:8080`); `https://`
    /// servers are verified against Mozilla's roots (the webpki roots).
    pub fn new(base_url: &str) -> Result<Remote> {
        Remote::build(base_url, None)
    }

    /// As [`Remote::new`], trusting also the CA certificate(s) in `ca_pem` (PEM): a city
    /// that runs its own certificate authority. Refused (`sync.bad_ca`) when `ca_pem`
    /// holds no certificate.
    pub fn with_ca(base_url: &str, ca_pem: &[u8]) -> Result<Remote> {
        Remote::build(base_url, Some(ca_pem))
    }

    fn build(base_url: &str, ca_pem: Option<&[u8]>) -> Result<Remote> {
        let base = normalize_url(base_url)?;
        let mut config = ureq::Agent::config_builder()
            // 4xx/5xx are answers with an ErrorBody to read, not transport failures.
            .http_status_as_error(false)
            .timeout_connect(Some(CONNECT_TIMEOUT))
            .timeout_global(Some(REQUEST_TIMEOUT))
            .max_redirects(0)
            .user_agent(format!("zhtj/{}", env!("CARGO_PKG_VERSION")));
        if is_loopback(&base) {
            // A proxy from the environment must not capture a server on this machine.
            config = config.proxy(None);
        }
        if let Some(pem) = ca_pem {
            let tls = ureq::tls::TlsConfig::builder()
                .root_certs(roots_with_ca(pem)?)
                .build();
            config = config.tls_config(tls);
        }
        Ok(Remote {
            base,
            agent: ureq::Agent::new_with_config(config.build()),
            traffic: Arc::default(),
        })
    }

    /// The body bytes this remote has sent and received so far.
    pub fn traffic(&self) -> &Arc<Traffic> {
        &self.traffic
    }

    /// The normalized server address.
    pub fn base_url(&self) -> &str {
        &self.base
    }

    fn url(&self, endpoint: &str) -> String {
        format!("{}/api/v1/{endpoint}", self.base)
    }

    /// Send a request body, return (status, body) of the answer.
    fn post(
        &self,
        endpoint: &str,
        token: Option<&str>,
        content_type: &str,
        body: &[u8],
    ) -> Result<(u16, Vec<u8>)> {
        let mut req = self
            .agent
            .post(self.url(endpoint))
            .header("Content-Type", content_type)
            .header("Accept", content_type);
        if let Some(t) = token {
            req = req.header("Authorization", format!("Bearer {t}"));
        }
        // Counted while ureq writes it; the length is announced, so it is not chunked.
        let mut reader = Counting {
            body,
            count: &self.traffic.sent,
        };
        let mut resp = req
            .header("Content-Length", body.len().to_string())
            .send(ureq::SendBody::from_reader(&mut reader))
            .map_err(network_error)?;
        let status = resp.status().as_u16();
        let mut bytes = Vec::new();
        let mut answer = resp
            .body_mut()
            .with_config()
            .limit(protocol::MAX_DECOMPRESSED as u64)
            .reader();
        let mut buf = [0u8; 16 * 1024];
        loop {
            match answer.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    bytes.extend_from_slice(&buf[..n]);
                    self.traffic.received.fetch_add(n as u64, Ordering::Relaxed);
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(network_error(from_io(e))),
            }
        }
        Ok((status, bytes))
    }

    /// Turn a non-2xx answer into an error.
    fn failure(status: u16, body: &[u8], on401: On401) -> Error {
        if status == 401 && on401 == On401::LoginRequired {
            return Error::LoginRequired;
        }
        match wire::status::read_failure(status, body) {
            Failure::Server(body) => Error::Server {
                status,
                body: Box::new(body),
            },
            Failure::Unreachable(message) => Error::Network(message),
        }
    }

    fn json_call<Req: serde::Serialize, Resp: for<'de> serde::Deserialize<'de>>(
        &self,
        endpoint: &str,
        token: Option<&str>,
        req: &Req,
        on401: On401,
    ) -> Result<Resp> {
        let body = serde_json::to_vec(req)?;
        let (status, bytes) = self.post(endpoint, token, "application/json", &body)?;
        if !(200..300).contains(&status) {
            return Err(Self::failure(status, &bytes, on401));
        }
        serde_json::from_slice(&bytes).map_err(|e| Error::Protocol(format!("{endpoint}: {e}")))
    }

    fn sync_call<Req: serde::Serialize, Resp: for<'de> serde::Deserialize<'de>>(
        &self,
        endpoint: &str,
        token: &str,
        req: &Req,
    ) -> Result<Resp> {
        let body = protocol::encode(req)?;
        let (status, bytes) = self.post(endpoint, Some(token), SYNC_CONTENT_TYPE, &body)?;
        if !(200..300).contains(&status) {
            return Err(Self::failure(status, &bytes, On401::LoginRequired));
        }
        protocol::decode(&bytes).map_err(|e| Error::Protocol(format!("{endpoint}: {e}")))
    }

    /// `POST /api/v1/register/lookup`: the organization a registration code was issued
    /// for (refused as registration refuses the code: unknown, used, expired; counted
    /// against the same rate limit).
    pub fn lookup_code(&self, code: &str) -> Result<CodeLookupResponse> {
        let code = schemas::code::RegistrationCode::parse(code)
            .map_err(|e| Error::Invalid(vec![e.on(Field::RegistrationCode)]))?;
        self.json_call(
            "register/lookup",
            None,
            &CodeLookupRequest {
                code: code.as_str().to_owned(),
            },
            On401::Refusal,
        )
    }

    /// `POST /api/v1/register`: create an administrator account with a registration code.
    pub fn register(&self, req: &RegisterRequest) -> Result<RegisterResponse> {
        self.json_call("register", None, req, On401::Refusal)
    }

    /// `POST /api/v1/login`: a session token for the account of `req.mobile`.
    pub fn login(&self, req: &LoginRequest) -> Result<LoginResponse> {
        self.json_call("login", None, req, On401::Refusal)
    }

    /// `POST /api/v1/logout`: revoke the session `token`.
    pub fn logout(&self, token: &str) -> Result<()> {
        let (status, bytes) = self.post("logout", Some(token), "application/json", b"{}")?;
        if !(200..300).contains(&status) {
            return Err(Self::failure(status, &bytes, On401::LoginRequired));
        }
        Ok(())
    }

    /// `POST /api/v1/push` (postcard + zstd).
    pub fn push(&self, token: &str, req: &PushRequest) -> Result<PushResponse> {
        let resp: PushResponse = self.sync_call("push", token, req)?;
        check_version(resp.version, req.version)?;
        Ok(resp)
    }

    /// `POST /api/v1/pull` (postcard + zstd).
    pub fn pull(&self, token: &str, req: &PullRequest) -> Result<PullResponse> {
        let resp: PullResponse = self.sync_call("pull", token, req)?;
        check_version(resp.version, req.version)?;
        Ok(resp)
    }

    /// `GET /api/v1/{path_and_query}` with the session `token`: the answer (status,
    /// headers, body) whatever its status; an error only when the server cannot be
    /// reached. For the endpoints outside the sync protocol (progress supervision,
    /// `crate::supervise`), with this client's TLS and proxy settings.
    pub fn get(&self, path_and_query: &str, token: &str) -> Result<ureq::http::Response<Vec<u8>>> {
        let mut resp = self
            .agent
            .get(self.url(path_and_query))
            .header("Authorization", format!("Bearer {token}"))
            .call()
            .map_err(network_error)?;
        let body = resp
            .body_mut()
            .with_config()
            .limit(protocol::MAX_DECOMPRESSED as u64)
            .read_to_vec()
            .map_err(network_error)?;
        let (parts, _) = resp.into_parts();
        Ok(ureq::http::Response::from_parts(parts, body))
    }
}

/// A sync answer carries the version of its request (docs/protocol.md).
fn check_version(v: u32, asked: u32) -> Result<()> {
    if v == asked {
        Ok(())
    } else {
        Err(Error::Protocol(format!(
            "服务器协议版本为{v},本客户端为{asked}"
        )))
    }
}

/// Check a registration form locally before sending it, with the rules the server judges
/// it by (`schemas::registration`), and return it normalized. The server judges what only
/// it knows: the code (and which organization it names), the role for the organization's
/// category, the joining age with its configured cutoff.
pub fn check_registration(req: &RegisterRequest) -> Result<RegisterRequest> {
    check_form(req, req.form())
}

/// [`check_registration`] without the password, for a command line that checks the form
/// before it asks for the password.
pub fn check_registration_before_password(req: &RegisterRequest) -> Result<RegisterRequest> {
    let form = schemas::registration::Form {
        password: None,
        ..req.form()
    };
    check_form(req, form)
}

fn check_form(
    req: &RegisterRequest,
    form: schemas::registration::Form<'_>,
) -> Result<RegisterRequest> {
    let judge = schemas::registration::Judge {
        category: None,
        join_rule: None,
        today: OffsetDateTime::now_utc().date(),
    };
    let c = schemas::registration::check(&form, &judge).map_err(Error::Invalid)?;
    Ok(RegisterRequest {
        code: c.code.as_str().to_owned(),
        org_id: req.org_id.trim().to_owned(),
        role: c.role.label().to_owned(),
        name: c.name.as_str().to_owned(),
        id_number: c.id_number.as_str().to_owned(),
        mobile: c.mobile.as_str().to_owned(),
        join_year_month: c.joined.to_string(),
        password: req.password.clone(),
    })
}

// ------------------------------------------------------------------------ state

/// The account a replica is logged in with.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Account {
    pub org_id: String,
    pub org_short_name: String,
    /// The mobile number logged in with (remembered for the next login).
    #[serde(default)]
    pub mobile: String,
}

/// The replica's sync state, for a status page.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct SyncStatus {
    pub server_url: Option<String>,
    pub account: Option<Account>,
    /// A session token is held.
    pub has_token: bool,
    /// Unix seconds.
    pub token_expires_at: Option<i64>,
    /// Unix seconds of the last complete sync.
    pub last_sync_at: Option<i64>,
    pub cursor: u64,
    /// Documents with changes the server has not acknowledged.
    pub pending: u64,
    /// Documents whose last push the server refused.
    pub rejected: u64,
}

impl SyncStatus {
    /// A token is held and, by this machine's clock, not expired.
    pub fn logged_in_at(&self, now: i64) -> bool {
        self.has_token && self.token_expires_at.is_none_or(|t| t > now)
    }
}

/// A document the server refused, with its reasons (the user corrects it and syncs again).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Rejection {
    pub id: String,
    pub short_name: String,
    /// Unix seconds.
    pub at: i64,
    pub violations: Vec<Violation>,
}

/// A link slower than this (bytes a second, as a pull page arrives) gets lean pull pages
/// (`PullRequest::lean`): 2 MB/s is ten times a 3G link and well below any LAN, where
/// reading back what the bytes hold would cost more time than the bytes it saves.
const LEAN_BELOW: f64 = 2_000_000.0;

/// Where a sync is, for a progress display.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum SyncStage {
    /// Receiving the change feed: (documents received so far, 0 = total unknown).
    Pull,
    /// Sending local changes: (documents answered so far, documents to send).
    Push,
}

/// A value this replica wrote that a concurrent write from elsewhere replaced (issue 13):
/// both wrote one field before either saw the other, and the document shows the other
/// (`crate::history`). Both stay in the history.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Overwritten {
    pub id: String,
    pub short_name: String,
    pub field: Field,
    /// The value this replica wrote.
    pub mine: String,
    /// The value shown instead.
    pub value: String,
    /// Who wrote it.
    pub by: Writer,
    /// Unix seconds the winning change was made.
    pub at: i64,
}

/// What a sync did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct SyncReport {
    /// Documents whose local copy (or server facts) the pull changed: new ones, merged
    /// ones. The echo of this replica's own accepted push is not counted.
    pub pulled: usize,
    /// Documents received in pull pages (including echoes).
    pub received: usize,
    /// Documents the server accepted.
    pub pushed: usize,
    /// Documents the server refused (kept locally with their changes).
    pub rejected: Vec<Rejection>,
    /// Immutable fields reset to the server's accepted value after a concurrent change
    /// (design.md "Immutable fields"), as (org id, field).
    pub resolved: Vec<(String, Field)>,
    /// Values of this replica that lost to a concurrent write of the same field, field by
    /// field.
    pub overwritten: Vec<Overwritten>,
    /// HTTP requests made.
    pub round_trips: usize,
    /// Body bytes sent and received (compressed, as on the wire, without HTTP headers).
    pub bytes_sent: u64,
    pub bytes_received: u64,
    pub duration: Duration,
}

fn now_secs() -> i64 {
    OffsetDateTime::now_utc().unix_timestamp()
}

fn sorted(mut heads: Vec<ChangeHash>) -> Vec<ChangeHash> {
    heads.sort_unstable();
    heads
}

/// What a pull keeps while it stores pages, for completeness: the regions of leading-organ
/// chains by parent id (so that a page of siblings does not walk the same chain once per
/// document), and the documents stored while their parent was not (yet) held (judged again
/// once the whole feed is in).
#[derive(Default)]
struct Judging {
    regions: HashMap<String, Option<&'static Division>>,
    orphans: HashSet<String>,
}

/// A pulled page, with each document's record as read from its JSON (`None`: unreadable).
struct Page {
    page: PullResponse,
    records: Vec<Option<OrgRecord>>,
}

/// One pushed document while its answer is awaited.
struct Sent {
    /// The stored bytes the changes were taken from (to notice a local change meanwhile).
    bytes: Vec<u8>,
    /// The local heads when sent.
    heads: Vec<ChangeHash>,
    /// The changes sent: a document accepted as sent has the push's author stamp on each.
    changes: Vec<ChangeHash>,
}

impl Replica {
    // -------------------------------------------------------------------- session

    /// Start the replica of a login: at `path`, a new replica of `login.org_id` with the
    /// ancestors' summary and no documents yet (the first sync downloads the subtree; until
    /// then `own()` is `OrgNotFound`). If a replica exists at `path` (created offline with
    /// `create_from_initial`, or logged in before), it must be of the same organization;
    /// the session is stored in it.
    pub fn create_for_login(path: &Path, base_url: &str, login: &LoginResponse) -> Result<Replica> {
        let base = normalize_url(base_url)?;
        if path.exists() {
            let replica = Replica::open(path)?;
            if replica.own_id() != login.org_id {
                return Err(Error::Refused(Violation::error(
                    "replica.other_org",
                    None,
                    format!(
                        "本地数据属于另一个组织(组织编号 {}),不能用{}(组织编号 {})的账号登录;请换一个数据目录",
                        replica.own_id(),
                        login.org_short_name,
                        login.org_id
                    ),
                )));
            }
            replica.store_session(&base, login)?;
            return Ok(replica);
        }
        {
            let conn = store::open(path)?;
            let tx = conn.unchecked_transaction()?;
            store::set_meta(&tx, "own_id", &login.org_id)?;
            store::set_meta(&tx, "actor", &ActorId::random().to_hex_string())?;
            tx.commit()?;
        }
        let replica = Replica::open(path)?;
        replica.store_session(&base, login)?;
        Ok(replica)
    }

    /// Store a login: server, token, account, and the ancestors' summary the server sent.
    /// A different server than before restarts the change feed from the beginning.
    fn store_session(&self, base: &str, login: &LoginResponse) -> Result<()> {
        let conn = self.conn();
        let tx = conn.unchecked_transaction()?;
        if store::get_meta(&tx, META_SERVER)?.as_deref() != Some(base) {
            store::set_meta(&tx, META_CURSOR, "0")?;
        }
        store::set_meta(&tx, META_SERVER, base)?;
        store::set_meta(&tx, META_TOKEN, &login.token)?;
        store::set_meta(&tx, META_EXPIRES, &login.expires_at.to_string())?;
        let mobile = self.account()?.map(|a| a.mobile).unwrap_or_default();
        let account = Account {
            org_id: login.org_id.clone(),
            org_short_name: login.org_short_name.clone(),
            mobile,
        };
        store::set_meta(&tx, META_ACCOUNT, &serde_json::to_string(&account)?)?;
        if !login.ancestors.is_empty() {
            tx.execute("DELETE FROM ancestors", [])?;
            for a in &login.ancestors {
                store::put_ancestor(&tx, a)?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// Remember the mobile number the account logs in with (offered at the next login).
    pub fn remember_mobile(&self, mobile: &str) -> Result<()> {
        let mut account = self.account()?.unwrap_or_default();
        account.mobile = mobile.trim().to_owned();
        store::set_meta(self.conn(), META_ACCOUNT, &serde_json::to_string(&account)?)
    }

    /// The account of the last login, if any.
    pub fn account(&self) -> Result<Option<Account>> {
        store::get_meta(self.conn(), META_ACCOUNT)?
            .map(|s| Ok(serde_json::from_str(&s)?))
            .transpose()
    }

    /// The server address of the last login, if any.
    pub fn server_url(&self) -> Result<Option<String>> {
        store::get_meta(self.conn(), META_SERVER)
    }

    /// A client of the server of the last login.
    pub fn remote(&self) -> Result<Remote> {
        self.remote_with_ca(None)
    }

    /// As [`Replica::remote`], trusting also a city's own CA (see [`Remote::with_ca`]);
    /// the CA is not stored, the caller gives it each time.
    pub fn remote_with_ca(&self, ca_pem: Option<&[u8]>) -> Result<Remote> {
        let url = self.server_url()?.ok_or(Error::LoginRequired)?;
        match ca_pem {
            Some(pem) => Remote::with_ca(&url, pem),
            None => Remote::new(&url),
        }
    }

    fn token(&self) -> Result<Option<String>> {
        store::get_meta(self.conn(), META_TOKEN)
    }

    fn forget_token(&self) -> Result<()> {
        self.conn().execute(
            "DELETE FROM meta WHERE key IN (?1, ?2)",
            params![META_TOKEN, META_EXPIRES],
        )?;
        Ok(())
    }

    /// Log out: the token is forgotten locally in any case, and revoked on the server if it
    /// can be reached. Returns whether the server confirmed (false: offline; the token
    /// then simply expires). Local data stays.
    pub fn logout(&mut self, remote: &Remote) -> Result<bool> {
        let Some(token) = self.token()? else {
            return Ok(false);
        };
        let result = remote.logout(&token);
        self.forget_token()?;
        match result {
            Ok(()) | Err(Error::LoginRequired) => Ok(true),
            Err(Error::Network(_)) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// The sync state, for a status page.
    pub fn sync_status(&self) -> Result<SyncStatus> {
        let conn = self.conn();
        let int = |key: &str| -> Result<Option<i64>> {
            Ok(store::get_meta(conn, key)?.and_then(|s| s.parse().ok()))
        };
        let rejected: i64 = conn.query_row(
            "SELECT COUNT(*) FROM rejections r JOIN docs d ON d.id = r.doc_id WHERE d.dirty = 1",
            [],
            |r| r.get(0),
        )?;
        Ok(SyncStatus {
            server_url: self.server_url()?,
            account: self.account()?,
            has_token: self.token()?.is_some(),
            token_expires_at: int(META_EXPIRES)?,
            last_sync_at: int(META_LAST_SYNC)?,
            cursor: self.cursor()?,
            pending: store::count_dirty(conn)?,
            rejected: rejected as u64,
        })
    }

    fn cursor(&self) -> Result<u64> {
        Ok(store::get_meta(self.conn(), META_CURSOR)?
            .and_then(|s| s.parse().ok())
            .unwrap_or(0))
    }

    /// Every document whose last push the server refused and that still has the refused
    /// changes, with the reasons, in tree order (level, then name).
    pub fn rejections(&self) -> Result<Vec<Rejection>> {
        let mut stmt = self.conn().prepare(
            "SELECT r.doc_id, d.short_name, r.at, r.violations FROM rejections r
             JOIN docs d ON d.id = r.doc_id WHERE d.dirty = 1
             ORDER BY d.level, d.parent, d.sort_key, d.id",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, i64>(2)?,
                r.get::<_, String>(3)?,
            ))
        })?;
        rows.map(|row| {
            let (id, short_name, at, json) = row?;
            Ok(Rejection {
                id,
                short_name,
                at,
                violations: serde_json::from_str(&json)?,
            })
        })
        .collect()
    }

    // -------------------------------------------------------------------- sync

    /// Sync with the server: pull every page of the change feed from the stored cursor and
    /// merge it, then push every document with unacknowledged changes (parents first, at
    /// most [`PUSH_BATCH`] per request). With nothing new on either side this is one
    /// round trip. `progress(stage, done, total)` is called as pages and batches complete.
    ///
    /// Errors: [`Error::LoginRequired`] (no session, or the server refused it: the token is
    /// forgotten), [`Error::Network`] (what was stored before the failure stays; the next
    /// sync resumes), [`Error::Server`], [`Error::Protocol`]. Local changes are never lost:
    /// a refused document keeps its changes and its reasons ([`Replica::rejections`]).
    pub fn sync(
        &mut self,
        remote: &Remote,
        progress: &mut dyn FnMut(SyncStage, usize, usize),
    ) -> Result<SyncReport> {
        let start = Instant::now();
        let (sent, received) = remote.traffic().get();
        let token = self.token()?.ok_or(Error::LoginRequired)?;
        let mut report = SyncReport::default();
        let result = self
            .pull_all(remote, &token, &mut report, progress)
            .and_then(|()| self.push_all(remote, &token, &mut report, progress));
        if let Err(e) = result {
            if matches!(e, Error::LoginRequired) {
                self.forget_token()?;
            }
            return Err(e);
        }
        // The time of the last sync is informative only: written without waiting for the
        // disk (synchronous=NORMAL for this one statement), so an empty sync costs no fsync.
        store::set_meta_lazy(self.conn(), META_LAST_SYNC, &now_secs().to_string())?;
        report.duration = start.elapsed();
        let (now_sent, now_received) = remote.traffic().get();
        report.bytes_sent = now_sent - sent;
        report.bytes_received = now_received - received;
        Ok(report)
    }

    fn pull_all(
        &mut self,
        remote: &Remote,
        token: &str,
        report: &mut SyncReport,
        progress: &mut dyn FnMut(SyncStage, usize, usize),
    ) -> Result<()> {
        let first = self.cursor()?;
        let mut judging = Judging::default();
        // Lean pages (smaller, a few microseconds a document more to store) while the link
        // is slow: the first page asks for them and measures the link; each page's rate
        // decides for the next.
        let lean = std::sync::atomic::AtomicBool::new(true);
        let fetch = |cursor: u64| -> Result<Page> {
            let started = Instant::now();
            let (_, before) = remote.traffic().get();
            let page = remote.pull(
                token,
                &PullRequest {
                    version: PROTOCOL_VERSION,
                    cursor,
                    limit: PULL_LIMIT,
                    lean: lean.load(Ordering::Relaxed),
                },
            )?;
            let (_, after) = remote.traffic().get();
            let rate = (after - before) as f64 / started.elapsed().as_secs_f64().max(1e-6);
            lean.store(rate < LEAN_BELOW, Ordering::Relaxed);
            // Version 3 leaves out what the bytes hold: the heads, and the record of a unit
            // that is its genesis change alone. Both are read from the bytes here, without
            // loading them, on the thread that fetches (while the previous page is stored).
            let mut page = page;
            let records = page
                .docs
                .iter_mut()
                .map(|d| {
                    if d.heads.is_empty()
                        && let Some(h) = chunk::saved_heads(&d.bytes)
                    {
                        d.heads = heads::to_wire(&h);
                    }
                    match d.record.as_str() {
                        "" => {
                            let r = doc::read_sent_genesis(&d.bytes)?;
                            d.record = serde_json::to_string(&r).ok()?;
                            Some(r)
                        }
                        json => serde_json::from_str(json).ok(),
                    }
                })
                .collect();
            Ok(Page { page, records })
        };
        // Where the page after one asked at `cursor` starts, if one follows (a page that
        // moves nothing forward cannot be followed by another).
        let follows = |cursor: u64, page: &PullResponse| {
            (page.more && (page.cursor != cursor || !page.docs.is_empty())).then_some(page.cursor)
        };
        let mut keep = |Page { page, records }: Page| -> Result<()> {
            report.round_trips += 1;
            self.apply_page(&page, records, &mut judging, report)?;
            report.received += page.docs.len();
            if !page.docs.is_empty() {
                progress(SyncStage::Pull, report.received, 0);
            }
            Ok(())
        };
        // The first page on this thread: most syncs have one page (an empty sync too).
        let page = fetch(first)?;
        match follows(first, &page.page) {
            None => keep(page)?,
            Some(next) => std::thread::scope(|s| -> Result<()> {
                let _cache = store::LargeCache::new(self.conn())?;
                // The next pages are asked for (and their records read) while one is
                // stored, so the server's work and the transfer overlap the local writes; at
                // most one page waits. Pages are stored in order, each with its cursor.
                let (sender, pages) = std::sync::mpsc::sync_channel::<Result<Page>>(1);
                let (fetch, follows) = (&fetch, &follows);
                s.spawn(move || {
                    let mut cursor = next;
                    loop {
                        let page = fetch(cursor);
                        let next = page.as_ref().ok().and_then(|p| follows(cursor, &p.page));
                        // A send fails when storing stopped (an error): nothing more to ask.
                        if sender.send(page).is_err() {
                            break;
                        }
                        match next {
                            Some(c) => cursor = c,
                            None => break,
                        }
                    }
                });
                keep(page)?;
                for page in pages {
                    keep(page?)?;
                }
                Ok(())
            })?,
        }
        if !judging.orphans.is_empty() {
            self.rejudge_completeness(&judging.orphans)?;
        }
        Ok(())
    }

    /// Store one pulled page and its cursor in one transaction.
    fn apply_page(
        &self,
        page: &PullResponse,
        records: Vec<Option<OrgRecord>>,
        judging: &mut Judging,
        report: &mut SyncReport,
    ) -> Result<()> {
        let conn = self.conn();
        if page.docs.is_empty() && page.cursor == self.cursor()? {
            // Nothing new: no write, no fsync (an empty sync stays one cheap round trip).
            return Ok(());
        }
        let tx = conn.unchecked_transaction()?;
        let now = now_secs();
        // The authors first: a merge below may name the author of a winning change.
        store::put_change_authors(&tx, &page.authors)?;
        for (pd, record) in page.docs.iter().zip(records) {
            if self.apply_pulled(&tx, pd, record, now, judging, report)? {
                report.pulled += 1;
            }
        }
        store::set_meta(&tx, META_CURSOR, &page.cursor.to_string())?;
        tx.commit()?;
        Ok(())
    }

    /// Merge one pulled document (the server's whole current state) into the local copy.
    /// The server's state is the accepted state: immutable fields that differ from it are
    /// reset to its values (a concurrent fill by another replica lost), and its heads
    /// become the acknowledged heads. The document stays dirty if the local copy has
    /// changes the server lacks (or the reset added one). A document not held yet is
    /// stored as sent, without loading it (design.md "Pull": loading 50,000 documents costs
    /// seconds); one held with exactly the server's heads is left as it is.
    fn apply_pulled(
        &self,
        conn: &Connection,
        pd: &PullDoc,
        sent_record: Option<OrgRecord>,
        now: i64,
        judging: &mut Judging,
        report: &mut SyncReport,
    ) -> Result<bool> {
        let load_server = || {
            AutoCommit::load(&pd.bytes)
                .map_err(|e| Error::Protocol(format!("组织文档 {} 无法读取:{e}", pd.id)))
        };
        // The server sends its projection (record, heads, completeness) with the bytes, so
        // that a document not held yet is stored without loading it; without one (or an
        // unreadable one: `sent_record`, as read from `pd.record`) the bytes are loaded and
        // read here.
        let (accepted, server_heads, server_complete, mut server) =
            match (sent_record, pd.heads.is_empty()) {
                (Some(record), false) => (
                    record,
                    sorted(pd.heads.iter().copied().map(ChangeHash).collect()),
                    Some(pd.complete),
                    None,
                ),
                _ => {
                    let mut d = load_server()?;
                    (doc::read(&d), sorted(d.get_heads()), None, Some(d))
                }
            };
        if accepted.id != pd.id {
            return Err(Error::Protocol(format!(
                "收到的组织文档({})与其编号({})不符",
                accepted.id, pd.id
            )));
        }
        let acked = heads::encode(&server_heads);
        // Not held yet, as most of a first pull: stored as sent, in one statement.
        let inserted = server.is_none()
            && store::insert_new_doc(
                conn,
                &accepted,
                &pd.record,
                pd.complete,
                &pd.bytes,
                Some(&acked),
            )?;
        let changed = inserted
            || match store::load_doc(conn, &pd.id)? {
                None => {
                    let complete = match server_complete {
                        Some(c) => c,
                        None => self.complete_cached(&accepted, judging),
                    };
                    // The record as the server sent it when it was read from what was sent.
                    let json = match server {
                        None => pd.record.as_str(),
                        Some(_) => &serde_json::to_string(&accepted)?,
                    };
                    store::save_doc_json(
                        conn,
                        &accepted,
                        json,
                        complete,
                        &pd.bytes,
                        Some(&acked),
                        false,
                    )?;
                    true
                }
                // Already held exactly as the server has it (the echo of this replica's own
                // push): nothing to merge.
                Some(row) if !row.dirty && row.acked_heads.as_deref() == Some(acked.as_slice()) => {
                    false
                }
                Some(row) => {
                    let mut local = AutoCommit::load(&row.bytes)?;
                    local.set_actor(self.actor().clone());
                    let has_all = local.get_missing_deps(&server_heads).is_empty();
                    // What this copy showed before the merge, to tell which of its values lost.
                    let shown = (!has_all).then(|| doc::read(&local));
                    if !has_all {
                        let server = match server.as_mut() {
                            Some(d) => d,
                            None => server.insert(load_server()?),
                        };
                        local.merge(server)?;
                    }
                    // The server's state is the accepted one: the first value it accepted for
                    // an immutable field stands (design.md "Immutable fields").
                    let fixed = doc::resolve_immutables(&mut local, &accepted, now)?;
                    report
                        .resolved
                        .extend(fixed.iter().map(|f| (pd.id.clone(), *f)));
                    let dirty = sorted(local.get_heads()) != server_heads;
                    let record = doc::read(&local);
                    if let Some(shown) = &shown {
                        self.note_overwritten(conn, &mut local, shown, &record, report)?;
                    }
                    let complete = match server_complete {
                        Some(c) if !dirty => c,
                        _ => self.complete_cached(&record, judging),
                    };
                    let bytes = if has_all && fixed.is_empty() {
                        row.bytes
                    } else {
                        local.save_nocompress()
                    };
                    store::save_doc(conn, &record, complete, &bytes, Some(&acked), dirty)?;
                    if !dirty {
                        store::clear_rejection(conn, &pd.id)?;
                    }
                    true
                }
            };
        let facts = ServerFacts {
            logged_in: pd.facts.logged_in,
            admins: pd.facts.admins.clone(),
            used_codes: pd.facts.used_codes.clone(),
        };
        // Facts are kept only for documents held, so one just inserted has none: the
        // default (no row) needs no write.
        let facts_changed = if inserted {
            facts != ServerFacts::default()
        } else {
            changed || store::server_facts(conn, &pd.id)? != facts
        };
        if facts_changed {
            store::put_server_facts(conn, &pd.id, &facts)?;
        }
        Ok(changed || facts_changed)
    }

    /// After a merge changed what `local` shows from `shown` to `now`: report the fields
    /// where the value this replica wrote lost to a concurrent write.
    fn note_overwritten(
        &self,
        conn: &Connection,
        local: &mut AutoCommit,
        shown: &OrgRecord,
        now: &OrgRecord,
        report: &mut SyncReport,
    ) -> Result<()> {
        let changed: Vec<Field> = shown
            .changed_fields(now)
            .into_iter()
            .filter(|f| schemas::org::INFO_FIELDS.contains(f))
            .collect();
        if changed.is_empty() {
            return Ok(());
        }
        let authors = store::change_authors(conn, &now.id)?;
        let entries = history::history(local, &|h| authors.get(h).cloned(), Some(self.actor()));
        for f in changed {
            let lost = entries.iter().rev().find(|e| {
                e.field == Some(f) && e.mine && e.new == shown.get(f) && e.overwritten.is_some()
            });
            if let Some(o) = lost.and_then(|e| e.overwritten.as_ref()) {
                report.overwritten.push(Overwritten {
                    id: now.id.clone(),
                    short_name: now.short_name.clone(),
                    field: f,
                    mine: shown.get(f).to_owned(),
                    value: o.value.clone(),
                    by: o.by.clone(),
                    at: o.at,
                });
            }
        }
        Ok(())
    }

    /// Completeness of `r`, with the region of its chain cached by parent. A parent not
    /// held yet puts `r` on the list to judge again after the pull.
    fn complete_cached(&self, r: &OrgRecord, judging: &mut Judging) -> bool {
        let region = match judging.regions.get(&r.parent) {
            Some(region) => *region,
            None => {
                // The same judgement as local edits make (`completeness_of`). A chain
                // that cannot be walked yet (a document stored before its parent) is
                // judged again after the pull; the own unit's parent is an ancestor,
                // never held as a document.
                match self.chain(&r.parent) {
                    Ok(chain) => {
                        let region = schemas::name::region_of_chain(&chain);
                        judging.regions.insert(r.parent.clone(), region);
                        region
                    }
                    Err(_) => {
                        if r.id != self.own_id() {
                            judging.orphans.insert(r.id.clone());
                        }
                        None
                    }
                }
            }
        };
        r.completeness(&Context { region }).is_complete()
    }

    /// Judge again the completeness of documents stored before their parent.
    fn rejudge_completeness(&self, ids: &HashSet<String>) -> Result<()> {
        let conn = self.conn();
        let tx = conn.unchecked_transaction()?;
        for id in ids {
            if let Some(p) = store::projected_one(&tx, id)? {
                let complete = self.completeness_of(&p.record).is_complete();
                if complete != p.complete {
                    tx.execute(
                        "UPDATE docs SET complete = ?2 WHERE id = ?1",
                        params![id, complete],
                    )?;
                }
            }
        }
        tx.commit()?;
        Ok(())
    }

    fn push_all(
        &mut self,
        remote: &Remote,
        token: &str,
        report: &mut SyncReport,
        progress: &mut dyn FnMut(SyncStage, usize, usize),
    ) -> Result<()> {
        // A unit created and deleted again before any server saw it is a local-only
        // tombstone: nothing to send (the server refuses to create a deleted unit). Should
        // the server have received its creation after all (an answer lost), the next pull
        // brings it back and the deletion goes up as an ordinary change.
        self.conn().execute(
            "UPDATE docs SET dirty = 0 WHERE dirty = 1 AND deleted = 1 AND acked_heads IS NULL",
            [],
        )?;
        // Deletions first, deepest first (a parent's deletion is judged after its
        // children's, and a deleted name is free before a new sibling takes it); then
        // everything else, parents before children.
        let ids: Vec<String> = {
            let mut stmt = self.conn().prepare(
                "SELECT id FROM docs WHERE dirty = 1
                 ORDER BY deleted DESC, CASE WHEN deleted = 1 THEN -level ELSE level END,
                          parent, sort_key, id",
            )?;
            stmt.query_map([], |r| r.get(0))?
                .collect::<rusqlite::Result<_>>()?
        };
        let total = ids.len();
        let mut done = 0;
        for chunk in ids.chunks(PUSH_BATCH) {
            let mut sent = HashMap::with_capacity(chunk.len());
            let mut docs = Vec::with_capacity(chunk.len());
            for id in chunk {
                let Some(row) = store::load_doc(self.conn(), id)? else {
                    continue;
                };
                let (changes, heads, hashes) =
                    match (&row.acked_heads, chunk::saved_heads(&row.bytes)) {
                        // Never acknowledged and never edited (a unit created offline): the
                        // stored bytes are its genesis change, sent as they are; its heads
                        // are read from the bytes without loading it.
                        (None, Some(heads)) if chunk::is_one_change(&row.bytes) => {
                            let heads = sorted(heads);
                            (row.bytes.clone(), heads.clone(), heads)
                        }
                        (acked, _) => {
                            let mut d = AutoCommit::load(&row.bytes)?;
                            let heads = sorted(d.get_heads());
                            let acked = acked.as_deref().map(heads::decode);
                            match acked {
                                Some(a) if d.get_missing_deps(&a).is_empty() => {
                                    let hashes =
                                        d.get_changes(&a).iter().map(|c| c.hash()).collect();
                                    (d.save_after(&a), heads, hashes)
                                }
                                // Never acknowledged, or acknowledged at heads this copy
                                // lacks: send everything.
                                _ => {
                                    let hashes =
                                        d.get_changes(&[]).iter().map(|c| c.hash()).collect();
                                    (row.bytes.clone(), heads, hashes)
                                }
                            }
                        }
                    };
                docs.push(PushDoc {
                    id: id.clone(),
                    changes,
                });
                sent.insert(
                    id.clone(),
                    Sent {
                        bytes: row.bytes,
                        heads,
                        changes: hashes,
                    },
                );
            }
            if docs.is_empty() {
                continue;
            }
            let need_full = self.push_batch(remote, token, docs, &sent, report, false)?;
            if !need_full.is_empty() {
                // The server lacks history these changes build on: send the whole
                // documents once.
                let full = need_full
                    .into_iter()
                    .filter_map(|id| {
                        sent.get(&id).map(|s| PushDoc {
                            changes: s.bytes.clone(),
                            id,
                        })
                    })
                    .collect();
                self.push_batch(remote, token, full, &sent, report, true)?;
            }
            done += chunk.len();
            progress(SyncStage::Push, done, total);
        }
        Ok(())
    }

    /// Send one push request and record its outcome in one transaction. Returns the ids the
    /// server asked to receive whole (none when `last_try`: those are then recorded as
    /// refused).
    fn push_batch(
        &self,
        remote: &Remote,
        token: &str,
        docs: Vec<PushDoc>,
        sent: &HashMap<String, Sent>,
        report: &mut SyncReport,
        last_try: bool,
    ) -> Result<Vec<String>> {
        let cursor = self.cursor()?;
        let ids: Vec<String> = docs.iter().map(|d| d.id.clone()).collect();
        let resp = remote.push(
            token,
            &PushRequest {
                version: PROTOCOL_VERSION,
                docs,
                cursor,
            },
        )?;
        report.round_trips += 1;
        let conn = self.conn();
        let tx = conn.unchecked_transaction()?;
        let now = now_secs();
        store::put_change_authors(&tx, &resp.authors)?;
        let mut need_full = Vec::new();
        // Version 3 names only the documents not accepted as sent: the others are held by
        // the server at the heads sent, with the push's stamp on each change sent.
        let named: HashSet<&str> = resp.results.iter().map(|r| r.id.as_str()).collect();
        if resp.version >= 3 {
            let mut stamped = Vec::new();
            for id in ids.iter().filter(|id| !named.contains(id.as_str())) {
                let Some(s) = sent.get(id) else {
                    continue;
                };
                if let Some(stamp) = &resp.stamp {
                    stamped.extend(s.changes.iter().map(|h| stamp.record(id, h.0)));
                }
                self.record_accepted(&tx, id, s, s.heads.clone())?;
                report.pushed += 1;
            }
            store::put_change_authors(&tx, &stamped)?;
        }
        for DocResult { id, outcome } in resp.results {
            let Some(s) = sent.get(&id) else {
                continue;
            };
            match outcome {
                DocOutcome::Accepted { heads } => {
                    let heads = sorted(heads.into_iter().map(ChangeHash).collect());
                    self.record_accepted(&tx, &id, s, heads)?;
                    report.pushed += 1;
                }
                DocOutcome::Rejected { violations } => {
                    report
                        .rejected
                        .push(record_rejection(&tx, &id, now, violations)?);
                }
                DocOutcome::NeedFull if !last_try => need_full.push(id),
                DocOutcome::NeedFull => {
                    let v = vec![Violation::error(
                        "sync.need_full",
                        None,
                        "服务器无法合并该组织的修改(缺少历史记录),请联系上级组织或服务器管理员",
                    )];
                    report.rejected.push(record_rejection(&tx, &id, now, v)?);
                }
            }
        }
        // Nothing but this push entered the subtree's feed since the cursor: the next pull
        // starts after it instead of bringing this push's documents back.
        if let Some(c) = resp.cursor.filter(|&c| c > cursor) {
            store::set_meta(&tx, META_CURSOR, &c.to_string())?;
        }
        tx.commit()?;
        Ok(need_full)
    }

    /// The server accepted `id` and now holds `server_heads`. If this copy has all of
    /// them, they become the acknowledged heads; otherwise (the server also holds others'
    /// newer changes, which the next pull brings) the heads that were sent do.
    fn record_accepted(
        &self,
        conn: &Connection,
        id: &str,
        sent: &Sent,
        server_heads: Vec<ChangeHash>,
    ) -> Result<()> {
        let Some(row) = store::load_doc(conn, id)? else {
            return Ok(());
        };
        let (acked, dirty) = if row.bytes == sent.bytes {
            if server_heads == sent.heads {
                (server_heads, false)
            } else {
                let mut d = AutoCommit::load(&row.bytes)?;
                if d.get_missing_deps(&server_heads).is_empty() {
                    let dirty = sorted(d.get_heads()) != server_heads;
                    (server_heads, dirty)
                } else {
                    (sent.heads.clone(), false)
                }
            }
        } else {
            // Changed locally while the push was in flight: the sent heads are accepted,
            // the rest is still to send.
            (sent.heads.clone(), true)
        };
        conn.prepare_cached("UPDATE docs SET acked_heads = ?2, dirty = ?3 WHERE id = ?1")?
            .execute(params![id, heads::encode(&acked), dirty])?;
        store::clear_rejection(conn, id)?;
        Ok(())
    }
}

/// Store a refusal (replacing the previous one) and describe it for the report.
fn record_rejection(
    conn: &Connection,
    id: &str,
    at: i64,
    violations: Vec<Violation>,
) -> Result<Rejection> {
    conn.execute(
        "INSERT OR REPLACE INTO rejections(doc_id, at, violations) VALUES (?1, ?2, ?3)",
        params![id, at, serde_json::to_string(&violations)?],
    )?;
    let short_name = store::projected_one(conn, id)?
        .map(|p| p.record.short_name)
        .unwrap_or_default();
    Ok(Rejection {
        id: id.to_owned(),
        short_name,
        at,
        violations,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_checked_and_normalized() {
        assert_eq!(
            normalize_url(" https://zhtj.example.cn/ ").unwrap(),
            "https://zhtj.example.cn"
        );
        assert_eq!(
            normalize_url("http://127.0.0.1:8080").unwrap(),
            "http://127.0.0.1:8080"
        );
        for bad in [
            "",
            "zhtj.example.cn",
            "ftp://x",
            "http://",
            "http://x/?a=1",
            "团委",
        ] {
            let e = normalize_url(bad).unwrap_err();
            assert_eq!(e.code(), "sync.bad_url", "{bad}");
        }
        assert!(is_loopback("http://127.0.0.1:1"));
        assert!(is_loopback("http://localhost:8080"));
        assert!(is_loopback("http://[::1]:8080"));
        assert!(!is_loopback("https://zhtj.example.cn"));
    }

    #[test]
    fn failures_map_to_errors() {
        use crate::protocol::ErrorBody;
        let body = serde_json::to_vec(&ErrorBody {
            code: "code.used".into(),
            message: "注册码已被使用".into(),
            violations: vec![Violation::error("code.used", None, "注册码已被使用")],
        })
        .unwrap();
        let e = Remote::failure(422, &body, On401::Refusal);
        assert_eq!(e.code(), "code.used");
        assert_eq!(e.to_string(), "注册码已被使用");
        assert_eq!(e.violations().len(), 1);
        assert!(matches!(
            Remote::failure(401, &body, On401::LoginRequired),
            Error::LoginRequired
        ));
        assert!(matches!(
            Remote::failure(401, &body, On401::Refusal),
            Error::Server { status: 401, .. }
        ));
        assert_eq!(
            Remote::failure(413, b"length limit exceeded", On401::Refusal).code(),
            "payload_too_large"
        );
        assert_eq!(
            Remote::failure(502, b"<html>Bad Gateway</html>", On401::Refusal).code(),
            "sync.network"
        );
        assert_eq!(Remote::failure(500, b"", On401::Refusal).code(), "http.500");
    }
}

//! The desktop app's Rust side: one Tauri command per operation of a unit admin, each a thin
//! forward to `client-core` (the replica, the sync client) or `schemas` (field checks), so
//! that no rule is written again in the front-end. Long work (the first download, sync) runs
//! on a blocking worker and reports its progress through a `tauri::ipc::Channel`.
//!
//! Every command opens the replica file itself: SQLite serializes the writers, and a sync in
//! progress never blocks the form. No command runs on the main thread (`command(async)` for
//! the short ones): one that waited there for the replica's write lock, held by a sync, would
//! freeze the window.

pub mod error;

use std::path::{Path, PathBuf};

use client_core::protocol::{CodeLookupResponse, LoginRequest, RegisterRequest, RegisterResponse};
use client_core::{OrgView, Remote, Replica, SyncStage, SyncStatus};
use schemas::org::{self, Context};
use schemas::role::Role;
use schemas::{Category, Field};
use serde::{Deserialize, Serialize};
use tauri::ipc::Channel;

pub use error::{Error, Result, UiViolation};

/// The replica's file name in the data folder.
const REPLICA_FILE: &str = "replica.sqlite3";
/// The remembered settings (the server address) in the data folder.
const SETTINGS_FILE: &str = "settings.json";
/// Overrides the data folder (tests, several units on one computer).
pub const DATA_ENV: &str = "ZHTJ_DESKTOP_DATA";
/// Seconds between automatic syncs (default [`AUTO_SYNC_SECONDS`]; tests shorten it).
pub const AUTO_SYNC_ENV: &str = "ZHTJ_DESKTOP_AUTOSYNC_SECONDS";
/// Set (to anything): no animations or transitions in the window, so that a screenshot
/// shows the page's final state, never a message half faded in (the window tests).
pub const NO_MOTION_ENV: &str = "ZHTJ_DESKTOP_NO_MOTION";
/// An empty sync is one small round trip: every 20 seconds costs the server little and
/// notices a server coming back soon enough.
const AUTO_SYNC_SECONDS: u32 = 20;

/// The app's state: where its data lives.
pub struct AppData {
    pub dir: PathBuf,
}

impl AppData {
    fn replica_path(&self) -> PathBuf {
        self.dir.join(REPLICA_FILE)
    }

    fn open(&self) -> Result<Replica> {
        let path = self.replica_path();
        if !path.exists() {
            return Err(Error::NoReplica);
        }
        Ok(Replica::open(&path)?)
    }

    fn ensure_dir(&self) -> Result<()> {
        std::fs::create_dir_all(&self.dir).map_err(|source| self.dir_error(source))
    }

    fn dir_error(&self, source: std::io::Error) -> Error {
        Error::DataDir {
            path: self.dir.display().to_string(),
            source,
        }
    }

    fn settings(&self) -> Settings {
        std::fs::read(self.dir.join(SETTINGS_FILE))
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default()
    }

    fn save_settings(&self, s: &Settings) -> Result<()> {
        self.ensure_dir()?;
        let json = serde_json::to_vec_pretty(s).map_err(|e| self.dir_error(e.into()))?;
        std::fs::write(self.dir.join(SETTINGS_FILE), json).map_err(|e| self.dir_error(e))
    }
}

/// What the app remembers between runs besides the replica.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Settings {
    server_url: Option<String>,
}

// ------------------------------------------------------------------------ views

/// One field of the information form.
#[derive(Debug, Clone, Serialize)]
pub struct FieldView {
    pub key: &'static str,
    pub label: &'static str,
    pub value: String,
    /// Red * for the unit's category (rules.md §3).
    pub required: bool,
    /// Why the field cannot be changed: set by the parent's admin, or immutable and
    /// already accepted by the server. None: editable.
    pub locked: Option<&'static str>,
}

/// A unit as the 组织首页 shows it.
#[derive(Debug, Clone, Serialize)]
pub struct UnitInfo {
    pub id: String,
    pub short_name: String,
    pub full_name: String,
    pub category: String,
    pub level: u8,
    pub children: usize,
    pub fields: Vec<FieldView>,
    /// Labels of the required fields still empty.
    pub missing: Vec<&'static str>,
    /// Present values that break a rule.
    pub violations: Vec<UiViolation>,
    pub complete: bool,
    pub pending: bool,
    pub synced: bool,
    /// The server's last refusal of this unit, with its reasons.
    pub rejection: Option<Vec<UiViolation>>,
}

fn unit_info(replica: &Replica, view: OrgView) -> Result<UnitInfo> {
    let r = &view.record;
    let required: &[Field] = r
        .category()
        .map(|c| org::required_fields(c.profile()))
        .unwrap_or(&[]);
    let locked = replica.locked_fields(&r.id)?;
    let own = r.id == replica.own_id();
    let lock_reason = |f: Field| {
        if !locked.contains(&f) {
            None
        } else if own && !org::may_write(org::Relation::Own, f) {
            Some("由上级组织填写")
        } else {
            Some("已确认,不可修改")
        }
    };
    let fields = org::INFO_FIELDS
        .iter()
        .map(|&f| FieldView {
            key: f.key(),
            label: f.label(),
            value: r.get(f).to_owned(),
            required: required.contains(&f),
            locked: lock_reason(f),
        })
        .collect();
    Ok(UnitInfo {
        id: r.id.clone(),
        short_name: r.short_name.clone(),
        full_name: r.full_name.clone(),
        category: r.category.clone(),
        level: r.level,
        children: replica.children(&r.id)?.len(),
        fields,
        missing: view
            .completeness
            .missing
            .iter()
            .map(|f| f.label())
            .collect(),
        violations: view
            .completeness
            .violations
            .iter()
            .map(Into::into)
            .collect(),
        complete: view.completeness.is_complete(),
        pending: view.pending,
        synced: view.synced,
        rejection: view
            .rejection
            .as_ref()
            .map(|v| v.iter().map(Into::into).collect()),
    })
}

/// A pre-initialized unit that can start offline.
#[derive(Debug, Clone, Serialize)]
pub struct InitialUnit {
    pub division: String,
    pub short_name: String,
}

/// What the first screen needs to decide where to go.
#[derive(Debug, Clone, Serialize)]
pub struct Startup {
    pub data_dir: String,
    /// The remembered server address.
    pub server_url: Option<String>,
    /// The remembered mobile number of the last login.
    pub mobile: Option<String>,
    /// The own unit, when local data exists and holds it.
    pub unit: Option<UnitInfo>,
    pub initial_units: Vec<InitialUnit>,
    /// The choices of 组织类别 and 单位所属行业类别, as schemas labels them.
    pub categories: Vec<&'static str>,
    pub industries: Vec<&'static str>,
    /// Seconds between automatic syncs.
    pub auto_sync_seconds: u32,
    /// No animations ([`NO_MOTION_ENV`]).
    pub no_motion: bool,
}

/// Progress of long work, sent through a channel.
#[derive(Debug, Clone, Serialize)]
pub struct ProgressEvent {
    /// "pull" (downloading) or "push" (sending).
    pub stage: &'static str,
    pub done: usize,
    /// 0 = not known yet.
    pub total: usize,
}

/// What a sync did, for the sync bar.
#[derive(Debug, Clone, Serialize)]
pub struct SyncSummary {
    pub pulled: usize,
    pub pushed: usize,
    pub rejected: usize,
    pub status: SyncStatus,
}

// ------------------------------------------------------------------------ commands

fn field_of(key: &str) -> Result<Field> {
    Field::from_key(key).ok_or_else(|| Error::UnknownField(key.to_owned()))
}

/// Run blocking work (network, disk) off the UI thread.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T> + Send + 'static) -> Result<T> {
    tauri::async_runtime::spawn_blocking(f)
        .await
        .map_err(|e| Error::Worker(e.to_string()))?
}

fn progress_sender(channel: Channel<ProgressEvent>) -> impl FnMut(SyncStage, usize, usize) {
    move |stage, done, total| {
        let stage = match stage {
            SyncStage::Pull => "pull",
            SyncStage::Push => "push",
        };
        // A closed window is no reason to stop the work.
        let _ = channel.send(ProgressEvent { stage, done, total });
    }
}

#[tauri::command(async)]
fn startup(app: tauri::State<'_, AppData>) -> Result<Startup> {
    let settings = app.settings();
    let (unit, mobile) = match app.open() {
        Ok(replica) => {
            let mobile = replica
                .account()?
                .map(|a| a.mobile)
                .filter(|m| !m.is_empty());
            // Logged in but not downloaded yet: no own document.
            let unit = match replica.own() {
                Ok(view) => Some(unit_info(&replica, view)?),
                Err(client_core::Error::OrgNotFound(_)) => None,
                Err(e) => return Err(e.into()),
            };
            (unit, mobile)
        }
        Err(Error::NoReplica) => (None, None),
        Err(e) => return Err(e),
    };
    let initial_units = schemas::initial::initial_tree()
        .into_iter()
        .filter(|r| r.level >= 3)
        .map(|r| InitialUnit {
            division: r.id.trim_start_matches("org-").to_owned(),
            short_name: r.short_name,
        })
        .collect();
    Ok(Startup {
        data_dir: app.dir.display().to_string(),
        server_url: settings.server_url,
        mobile,
        unit,
        initial_units,
        categories: Category::ALL.iter().map(|c| c.label()).collect(),
        industries: schemas::Industry::ALL.iter().map(|i| i.label()).collect(),
        no_motion: std::env::var_os(NO_MOTION_ENV).is_some(),
        auto_sync_seconds: std::env::var(AUTO_SYNC_ENV)
            .ok()
            .and_then(|s| s.parse().ok())
            .filter(|&s| s > 0)
            .unwrap_or(AUTO_SYNC_SECONDS),
    })
}

/// Check one value as it is typed, with the same rule the replica and the server apply.
/// `category` is the form's current category (names depend on it); `org_id`, when given,
/// places the check in the tree (a leading organ's name must name its region).
#[tauri::command(async)]
fn check_field(
    app: tauri::State<'_, AppData>,
    field: String,
    value: String,
    category: Option<String>,
    org_id: Option<String>,
) -> Result<Option<UiViolation>> {
    let field = field_of(&field)?;
    if value.trim().is_empty() {
        return Ok(None);
    }
    let category = category.as_deref().and_then(|c| Category::parse(c).ok());
    let chain = match (&org_id, app.open()) {
        (Some(id), Ok(replica)) => {
            let parent = replica.org(id)?.record.parent;
            replica.chain(&parent).unwrap_or_default()
        }
        _ => Vec::new(),
    };
    let ctx = Context {
        region: schemas::name::region_of_chain(&chain),
    };
    Ok(org::check_value(field, &value, category, &ctx)
        .err()
        .map(|v| UiViolation::from(&v.on(field))))
}

/// 离线开始: a replica of a pre-initialized unit, with no network.
#[tauri::command(async)]
fn init_offline(app: tauri::State<'_, AppData>, unit: String) -> Result<UnitInfo> {
    app.ensure_dir()?;
    let path = app.replica_path();
    if path.exists() {
        let replica = Replica::open(&path)?;
        let own = replica.own()?;
        return unit_info(&replica, own);
    }
    let replica = Replica::create_from_initial(&path, unit.trim())?;
    let own = replica.own()?;
    unit_info(&replica, own)
}

/// Remember the server address (normalized) for the next start.
#[tauri::command(async)]
fn set_server(app: tauri::State<'_, AppData>, url: String) -> Result<String> {
    let url = client_core::sync::normalize_url(&url)?;
    let mut s = app.settings();
    s.server_url = Some(url.clone());
    app.save_settings(&s)?;
    Ok(url)
}

/// 登录: log in, attach (or create) the replica, then download the subtree, reporting
/// progress through `on_progress`.
#[tauri::command]
async fn login(
    app: tauri::State<'_, AppData>,
    server: String,
    mobile: String,
    password: String,
    on_progress: Channel<ProgressEvent>,
) -> Result<UnitInfo> {
    let url = set_server(app.clone(), server)?;
    app.ensure_dir()?;
    let path = app.replica_path();
    blocking(move || login_blocking(&path, &url, &mobile, password, on_progress)).await
}

fn login_blocking(
    path: &Path,
    url: &str,
    mobile: &str,
    password: String,
    on_progress: Channel<ProgressEvent>,
) -> Result<UnitInfo> {
    // With local data, log in as its organization (one person may administer several).
    let org_id = match path.exists() {
        true => Some(Replica::open(path)?.own_id().to_owned()),
        false => None,
    };
    let remote = Remote::new(url)?;
    let resp = remote.login(&LoginRequest {
        mobile: mobile.trim().to_owned(),
        password,
        org_id,
    })?;
    let mut replica = match Replica::create_for_login(path, url, &resp) {
        Ok(r) => r,
        Err(e) => {
            // The session is of no use here: do not leave it valid on the server.
            let _ = remote.logout(&resp.token);
            return Err(e.into());
        }
    };
    replica.remember_mobile(mobile)?;
    replica.sync(&remote, &mut progress_sender(on_progress))?;
    let own = replica.own()?;
    unit_info(&replica, own)
}

/// The unit a registration code was issued for, shown for confirmation before anything
/// personal is typed, with the posts (团内职务) its category offers.
#[derive(Debug, Clone, Serialize)]
pub struct CodeUnit {
    #[serde(flatten)]
    pub unit: CodeLookupResponse,
    pub roles: Vec<&'static str>,
}

/// 注册, step 1: the organization of a code (the server counts a wrong code as a guess).
#[tauri::command]
async fn lookup_code(
    app: tauri::State<'_, AppData>,
    server: String,
    code: String,
) -> Result<CodeUnit> {
    let url = set_server(app, server)?;
    blocking(move || {
        let code = schemas::code::RegistrationCode::parse(&code)
            .map_err(|e| client_core::Error::Invalid(vec![e.on(Field::RegistrationCode)]))?;
        let unit = Remote::new(&url)?.lookup_code(code.as_str())?;
        let roles = Category::parse(&unit.category)
            .map(Role::offered_by)
            .unwrap_or_else(|_| Role::ALL.to_vec());
        Ok(CodeUnit {
            unit,
            roles: roles.into_iter().map(Role::label).collect(),
        })
    })
    .await
}

/// 注册, step 2: register with the confirmed code and the person's information, checked
/// locally with the rules the server applies, then by the server. The front-end then logs
/// in as 登录 does (a registration that succeeded is not undone by a failed download).
#[tauri::command]
async fn register(
    app: tauri::State<'_, AppData>,
    server: String,
    form: RegisterRequest,
) -> Result<RegisterResponse> {
    let url = set_server(app, server)?;
    blocking(move || {
        let req = client_core::sync::check_registration(&form)?;
        Ok(Remote::new(&url)?.register(&req)?)
    })
    .await
}

/// The own unit (or `org_id` below it) for the 组织首页.
#[tauri::command(async)]
fn unit(app: tauri::State<'_, AppData>, org_id: Option<String>) -> Result<UnitInfo> {
    let replica = app.open()?;
    let view = match org_id {
        Some(id) => replica.org(&id)?,
        None => replica.own()?,
    };
    unit_info(&replica, view)
}

/// Save information fields (`[key, value]` pairs): all accepted, or nothing saved.
#[tauri::command(async)]
fn update_info(
    app: tauri::State<'_, AppData>,
    org_id: String,
    changes: Vec<(String, String)>,
) -> Result<UnitInfo> {
    let changes = changes
        .into_iter()
        .map(|(k, v)| Ok((field_of(&k)?, v)))
        .collect::<Result<Vec<_>>>()?;
    let mut replica = app.open()?;
    let view = replica.update_info(&org_id, &changes)?;
    unit_info(&replica, view)
}

/// The sync state for the sync bar.
#[tauri::command(async)]
fn sync_status(app: tauri::State<'_, AppData>) -> Result<SyncStatus> {
    Ok(app.open()?.sync_status()?)
}

/// A unit whose changes the server refused, with the reasons (the sync bar's list).
#[derive(Debug, Clone, Serialize)]
pub struct RefusedUnit {
    pub id: String,
    pub short_name: String,
    /// Unix seconds.
    pub at: i64,
    pub violations: Vec<UiViolation>,
}

/// The refused units still holding their refused changes.
#[tauri::command(async)]
fn rejections(app: tauri::State<'_, AppData>) -> Result<Vec<RefusedUnit>> {
    Ok(app
        .open()?
        .rejections()?
        .into_iter()
        .map(|r| RefusedUnit {
            id: r.id,
            short_name: r.short_name,
            at: r.at,
            violations: r.violations.iter().map(Into::into).collect(),
        })
        .collect())
}

/// 立即同步, with progress through `on_progress`.
#[tauri::command]
async fn sync_now(
    app: tauri::State<'_, AppData>,
    on_progress: Channel<ProgressEvent>,
) -> Result<SyncSummary> {
    let path = app.replica_path();
    if !path.exists() {
        return Err(Error::NoReplica);
    }
    blocking(move || {
        let mut replica = Replica::open(&path)?;
        let remote = replica.remote()?;
        let report = replica.sync(&remote, &mut progress_sender(on_progress))?;
        Ok(SyncSummary {
            pulled: report.pulled,
            pushed: report.pushed,
            rejected: report.rejected.len(),
            status: replica.sync_status()?,
        })
    })
    .await
}

// ------------------------------------------------------------------------ subordinates

/// One line of the subtree (the tree on the left of 管理下级组织).
#[derive(Debug, Clone, Serialize)]
pub struct TreeLine {
    pub id: String,
    pub parent: String,
    pub depth: usize,
    pub short_name: String,
    pub category: String,
    pub complete: bool,
    pub pending: bool,
}

/// The subtree of the own unit, depth first in display order.
#[tauri::command(async)]
fn tree(app: tauri::State<'_, AppData>) -> Result<Vec<TreeLine>> {
    Ok(app
        .open()?
        .tree()?
        .into_iter()
        .map(|e| TreeLine {
            id: e.record.id,
            parent: e.record.parent,
            depth: e.depth,
            short_name: e.record.short_name,
            category: e.record.category,
            complete: e.complete,
            pending: e.pending,
        })
        .collect())
}

/// A registration code as the code window shows it.
#[derive(Debug, Clone, Serialize)]
pub struct CodeView {
    pub code: String,
    /// "2026-12-25 14:03" (Beijing time).
    pub expires: String,
}

fn code_view(c: &client_core::replica::ChildCode) -> CodeView {
    let t = schemas::beijing::at(c.expires_at);
    CodeView {
        code: c.code.clone(),
        expires: format!(
            "{}-{:02}-{:02} {:02}:{:02}",
            t.year(),
            u8::from(t.month()),
            t.day(),
            t.hour(),
            t.minute()
        ),
    }
}

/// A row of the table of direct children.
#[derive(Debug, Clone, Serialize)]
pub struct ChildRow {
    pub id: String,
    pub short_name: String,
    pub full_name: String,
    pub category: String,
    pub industry: String,
    pub phone: String,
    pub complete: bool,
    pub pending: bool,
    /// The valid registration code, if one was issued and is unused and unexpired.
    pub code: Option<CodeView>,
}

/// The direct children of `parent` in display order.
#[tauri::command(async)]
fn children(app: tauri::State<'_, AppData>, parent: String) -> Result<Vec<ChildRow>> {
    let replica = app.open()?;
    let now = time::OffsetDateTime::now_utc();
    replica
        .children(&parent)?
        .into_iter()
        .map(|r| {
            let view = replica.org(&r.id)?;
            Ok(ChildRow {
                code: replica.valid_code(&r.id, now)?.as_ref().map(code_view),
                complete: view.completeness.is_complete(),
                pending: view.pending,
                id: r.id,
                short_name: r.short_name,
                full_name: r.full_name,
                category: r.category,
                industry: r.industry,
                phone: r.phone,
            })
        })
        .collect()
}

/// The generated 组织全称 of a would-be child, shown before saving (rules.md §6).
#[tauri::command(async)]
fn preview_full_name(
    app: tauri::State<'_, AppData>,
    parent: String,
    category: String,
    short_name: String,
) -> Result<String> {
    let category = Category::parse(&category).map_err(client_core::Error::from)?;
    Ok(app
        .open()?
        .preview_full_name(&parent, category, &short_name)?)
}

/// 单个创建: one direct child of `parent`, checked whole; its id.
#[tauri::command(async)]
fn create_child(
    app: tauri::State<'_, AppData>,
    parent: String,
    child: client_core::NewChild,
) -> Result<String> {
    Ok(app.open()?.create_child(&parent, &child)?)
}

/// 上移 / 下移 among the siblings.
#[tauri::command(async)]
fn move_child(app: tauri::State<'_, AppData>, id: String, up: bool) -> Result<()> {
    let dir = if up {
        client_core::Direction::Up
    } else {
        client_core::Direction::Down
    };
    Ok(app.open()?.move_child(&id, dir)?)
}

/// Delete a child (only without children or registered admins).
#[tauri::command(async)]
fn delete_child(app: tauri::State<'_, AppData>, id: String) -> Result<()> {
    Ok(app.open()?.delete_child(&id)?)
}

/// The child's valid registration code, issuing one when it has none.
#[tauri::command(async)]
fn child_code(app: tauri::State<'_, AppData>, id: String) -> Result<CodeView> {
    let mut replica = app.open()?;
    let now = time::OffsetDateTime::now_utc();
    let code = match replica.valid_code(&id, now)? {
        Some(c) => c,
        None => replica.issue_code(&id, now)?,
    };
    Ok(code_view(&code))
}

// ------------------------------------------------------------------------ files

/// Overrides the folder the app saves files to (templates, annotated workbooks, codes).
pub const FILES_ENV: &str = "ZHTJ_DESKTOP_FILES";

/// Where saved files go: `ZHTJ_DESKTOP_FILES`, else the user's download folder, else the
/// data folder. A name already taken gets "(2)", "(3)"… so nothing is overwritten.
fn save_path(app: &tauri::AppHandle, data: &AppData, name: &str) -> Result<PathBuf> {
    use tauri::Manager;
    let dir = std::env::var_os(FILES_ENV)
        .map(PathBuf::from)
        .or_else(|| app.path().download_dir().ok().filter(|d| d.is_dir()))
        .unwrap_or_else(|| data.dir.clone());
    std::fs::create_dir_all(&dir).map_err(|source| Error::DataDir {
        path: dir.display().to_string(),
        source,
    })?;
    let (stem, ext) = name.rsplit_once('.').unwrap_or((name, "xlsx"));
    let mut path = dir.join(name);
    let mut n = 2;
    while path.exists() {
        path = dir.join(format!("{stem}({n}).{ext}"));
        n += 1;
    }
    Ok(path)
}

/// 1 下载并填写模板: the import template, saved; its path.
#[tauri::command(async)]
fn save_template(handle: tauri::AppHandle, app: tauri::State<'_, AppData>) -> Result<String> {
    let path = save_path(&handle, &app, "组织导入模板.xlsx")?;
    client_core::excel::write_template(&path)?;
    Ok(path.display().to_string())
}

/// One row's result of a batch import.
#[derive(Debug, Clone, Serialize)]
pub struct RowResult {
    /// Excel row number.
    pub row: u32,
    pub short_name: String,
    pub category: String,
    /// Empty: the row is valid.
    pub messages: Vec<String>,
}

/// The outcome of 批量创建.
#[derive(Debug, Clone, Serialize)]
pub struct ImportResult {
    /// Organizations created (0 while any row is wrong).
    pub created: usize,
    /// Every row with its result.
    pub rows: Vec<RowResult>,
    /// The annotated copy of the file, when rows were wrong.
    pub annotated: Option<String>,
}

/// 2 上传Excel文件 → 3 完成: every row judged; while any is wrong nothing is created and an
/// annotated copy is saved. `bytes` are the chosen file's, `name` its file name.
#[tauri::command]
async fn import_children(
    handle: tauri::AppHandle,
    app: tauri::State<'_, AppData>,
    parent: String,
    name: String,
    bytes: Vec<u8>,
    on_progress: Channel<ProgressEvent>,
) -> Result<ImportResult> {
    let path = app.replica_path();
    if !path.exists() {
        return Err(Error::NoReplica);
    }
    let stem = name.rsplit_once('.').map_or(name.as_str(), |(s, _)| s);
    let annotated = save_path(&handle, &app, &format!("{stem}-错误标注.xlsx"))?;
    blocking(move || {
        let rows = client_core::excel::read_import_bytes(&bytes, Some(&name))?;
        let mut replica = Replica::open(&path)?;
        let mut progress = |done, total| {
            let _ = on_progress.send(ProgressEvent {
                stage: "push",
                done,
                total,
            });
        };
        let result = replica.import_rows(&parent, &rows, Some(&annotated), &mut progress);
        let failures = match result {
            Ok(outcome) => {
                return Ok(ImportResult {
                    created: outcome.created.len(),
                    rows: rows.iter().map(|r| row_result(r, &[])).collect(),
                    annotated: None,
                });
            }
            Err(client_core::Error::ImportRows(f)) => f,
            Err(e) => return Err(e.into()),
        };
        Ok(ImportResult {
            created: 0,
            rows: rows
                .iter()
                .map(|r| {
                    let v = failures
                        .iter()
                        .find(|(row, _)| *row == r.row)
                        .map_or(&[][..], |(_, v)| v.as_slice());
                    row_result(r, v)
                })
                .collect(),
            annotated: Some(annotated.display().to_string()),
        })
    })
    .await
}

fn row_result(r: &client_core::excel::ImportRow, v: &[schemas::Violation]) -> RowResult {
    RowResult {
        row: r.row,
        short_name: r.short_name.clone(),
        category: r.category.clone(),
        messages: v.iter().map(|v| v.message.clone()).collect(),
    }
}

/// 批量生成管理员注册码: a code for every direct child of `parent` without one (and without
/// an admin), then all valid codes saved as .xlsx; (codes issued now, path).
#[tauri::command(async)]
fn export_codes(
    handle: tauri::AppHandle,
    app: tauri::State<'_, AppData>,
    parent: String,
) -> Result<(usize, String)> {
    let mut replica = app.open()?;
    let now = time::OffsetDateTime::now_utc();
    let issued = replica.issue_codes_batch(&parent, now)?.len();
    let path = save_path(&handle, &app, "管理员注册码.xlsx")?;
    replica.export_codes(&parent, &path, now)?;
    Ok((issued, path.display().to_string()))
}

/// The data folder: `ZHTJ_DESKTOP_DATA`, else the platform's app data folder.
fn data_dir(app: &tauri::App) -> PathBuf {
    use tauri::Manager;
    std::env::var_os(DATA_ENV)
        .map(PathBuf::from)
        .or_else(|| app.path().app_data_dir().ok())
        .unwrap_or_else(|| PathBuf::from("zhtj-desktop-data"))
}

/// Build and run the app (the binary's `main`).
pub fn run() {
    tauri::Builder::default()
        .setup(|app| {
            use tauri::Manager;
            let dir = data_dir(app);
            app.manage(AppData { dir });
            Ok(())
        })
        .invoke_handler(tauri::generate_handler![
            startup,
            check_field,
            init_offline,
            set_server,
            login,
            lookup_code,
            register,
            unit,
            update_info,
            sync_status,
            sync_now,
            rejections,
            tree,
            children,
            preview_full_name,
            create_child,
            move_child,
            delete_child,
            child_code,
            save_template,
            import_children,
            export_codes,
        ])
        .run(tauri::generate_context!())
        .expect("智慧团建组织树桌面端无法启动");
}

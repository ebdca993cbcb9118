//! Progress supervision from the server (录入进度督导, rules.md §11): the whole subtree's
//! progress as the server knows it (every unit's logins and admins, which a replica only
//! knows for what it holds), the daily snapshots, the Excel report and an organization's
//! change history: the endpoints `GET /api/v1/progress`, `/api/v1/progress/history`,
//! `/api/v1/history` (JSON, types at the end of [`crate::protocol`]) and `/api/v1/report`
//! (.xlsx), called through [`Remote::get`] (the same TLS and proxy settings as sync) with
//! the session token the replica keeps.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::protocol::{HistoryResponse, ProgressHistory, ProgressResponse, REPORT_CONTENT_TYPE};
use crate::replica::Replica;
use crate::store;
use crate::sync::Remote;
use wire::status::Failure;

/// What to ask `GET /api/v1/progress` for. `Default`: the logged-in admin's organization,
/// its first level below, the first page, judged today.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProgressQuery {
    /// An organization of the admin's subtree (default: the admin's own).
    pub org: Option<String>,
    /// The level whose rows to list (default: the first level below `org`).
    pub level: Option<u8>,
    pub offset: u64,
    /// Rows per page (the server allows 1–500; default 50).
    pub limit: Option<u32>,
    /// Judge overdue items as of this day ("2017-12-21").
    pub as_of: Option<String>,
}

impl ProgressQuery {
    fn query_string(&self) -> String {
        let mut q = Vec::new();
        if let Some(o) = &self.org {
            q.push(format!("org={}", encode(o)));
        }
        if let Some(l) = self.level {
            q.push(format!("level={l}"));
        }
        if self.offset > 0 {
            q.push(format!("offset={}", self.offset));
        }
        if let Some(l) = self.limit {
            q.push(format!("limit={l}"));
        }
        if let Some(d) = &self.as_of {
            q.push(format!("as_of={}", encode(d)));
        }
        q.join("&")
    }
}

/// `GET /api/v1/progress`: one tab's page of an organization's progress.
pub fn fetch_progress(
    remote: &Remote,
    token: &str,
    org: Option<&str>,
    level: Option<u8>,
    offset: u64,
    limit: u32,
) -> Result<ProgressResponse> {
    fetch_progress_with(
        remote,
        token,
        &ProgressQuery {
            org: org.map(str::to_owned),
            level,
            offset,
            limit: Some(limit),
            as_of: None,
        },
    )
}

/// `GET /api/v1/progress` with every parameter.
pub fn fetch_progress_with(
    remote: &Remote,
    token: &str,
    q: &ProgressQuery,
) -> Result<ProgressResponse> {
    let resp = get(remote, token, "progress", &q.query_string())?;
    serde_json::from_slice(&resp.body).map_err(|e| Error::Protocol(format!("progress: {e}")))
}

/// `GET /api/v1/progress/history`: the daily snapshots of an organization, oldest first.
pub fn fetch_history(remote: &Remote, token: &str, org: Option<&str>) -> Result<ProgressHistory> {
    let q = org
        .map(|o| format!("org={}", encode(o)))
        .unwrap_or_default();
    let resp = get(remote, token, "progress/history", &q)?;
    serde_json::from_slice(&resp.body).map_err(|e| Error::Protocol(format!("history: {e}")))
}

/// `GET /api/v1/history`: the change history of `org` (default: the admin's own) as the
/// server holds it, optionally of one field (its key or label).
pub fn fetch_change_history(
    remote: &Remote,
    token: &str,
    org: Option<&str>,
    field: Option<&str>,
) -> Result<HistoryResponse> {
    let mut q = Vec::new();
    if let Some(o) = org {
        q.push(format!("org={}", encode(o)));
    }
    if let Some(f) = field {
        q.push(format!("field={}", encode(f)));
    }
    let resp = get(remote, token, "history", &q.join("&"))?;
    serde_json::from_slice(&resp.body).map_err(|e| Error::Protocol(format!("history: {e}")))
}

/// A downloaded report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    pub path: PathBuf,
    pub bytes: u64,
    /// The file name the server suggests (团成都市委下级组织录入情况2017-12-21.xlsx).
    pub suggested_name: Option<String>,
}

/// `GET /api/v1/report`: download the Excel report of `org` (default: the admin's own) to
/// `path` (written to a temporary file first, then renamed: a failed download leaves no
/// partial file).
pub fn download_report(
    remote: &Remote,
    token: &str,
    org: Option<&str>,
    path: &Path,
) -> Result<Report> {
    let q = org
        .map(|o| format!("org={}", encode(o)))
        .unwrap_or_default();
    let resp = get(remote, token, "report", &q)?;
    if resp.content_type.as_deref() != Some(REPORT_CONTENT_TYPE) {
        return Err(Error::Protocol(format!(
            "report: 服务器返回的不是Excel文件({})",
            resp.content_type.unwrap_or_default()
        )));
    }
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut tmp = tempfile_in(dir)?;
    tmp.1.write_all(&resp.body)?;
    tmp.1.sync_all()?;
    drop(tmp.1);
    std::fs::rename(&tmp.0, path).inspect_err(|_| {
        let _ = std::fs::remove_file(&tmp.0);
    })?;
    Ok(Report {
        path: path.to_owned(),
        bytes: resp.body.len() as u64,
        suggested_name: resp.disposition.as_deref().and_then(disposition_file_name),
    })
}

/// The session token of the replica's last login, for the calls above. `LoginRequired`
/// without a login (or after logout).
pub fn token(replica: &Replica) -> Result<String> {
    // The key `sync` stores the session token under.
    store::get_meta(replica.conn(), "token")?.ok_or(Error::LoginRequired)
}

/// The replica's server and session token.
pub fn session(replica: &Replica) -> Result<(Remote, String)> {
    let token = token(replica)?;
    Ok((replica.remote()?, token))
}

// ------------------------------------------------------------------------ HTTP

struct Answer {
    body: Vec<u8>,
    content_type: Option<String>,
    disposition: Option<String>,
}

fn get(remote: &Remote, token: &str, endpoint: &str, query: &str) -> Result<Answer> {
    let path = if query.is_empty() {
        endpoint.to_owned()
    } else {
        format!("{endpoint}?{query}")
    };
    let resp = remote.get(&path, token)?;
    let status = resp.status().as_u16();
    let header = |name: &str| {
        resp.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let content_type = header("content-type");
    let disposition = header("content-disposition");
    let body = resp.into_body();
    if !(200..300).contains(&status) {
        return Err(failure(status, &body));
    }
    Ok(Answer {
        body,
        content_type,
        disposition,
    })
}

/// A non-2xx answer: 401 is a login to renew; otherwise the server's `ErrorBody`.
fn failure(status: u16, body: &[u8]) -> Error {
    if status == 401 {
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

/// Percent-encode a query value.
fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The UTF-8 file name of `Content-Disposition: …; filename*=UTF-8''…` (RFC 5987).
pub fn disposition_file_name(value: &str) -> Option<String> {
    let encoded = value
        .split(';')
        .map(str::trim)
        .find_map(|p| p.strip_prefix("filename*="))?;
    let encoded = encoded
        .strip_prefix("UTF-8''")
        .or_else(|| encoded.strip_prefix("utf-8''"))?;
    let bytes = encoded.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    let name = String::from_utf8(out).ok()?;
    // Only a file name, never a path.
    let name = name.rsplit(['/', '\\']).next()?.to_owned();
    (!name.is_empty()).then_some(name)
}

/// A new temporary file next to where the report goes.
fn tempfile_in(dir: &Path) -> Result<(PathBuf, std::fs::File)> {
    for i in 0..100u32 {
        let p = dir.join(format!(".zhtj-report-{}-{i}.tmp", std::process::id()));
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&p)
        {
            Ok(f) => return Ok((p, f)),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(Error::Io(std::io::Error::other("无法创建临时文件")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_are_encoded_and_names_decoded() {
        let q = ProgressQuery {
            org: Some("org-5101 x".into()),
            level: Some(5),
            offset: 100,
            limit: Some(20),
            as_of: Some("2017-12-21".into()),
        };
        assert_eq!(
            q.query_string(),
            "org=org-5101%20x&level=5&offset=100&limit=20&as_of=2017-12-21"
        );
        assert_eq!(ProgressQuery::default().query_string(), "");
        assert_eq!(
            disposition_file_name(
                "attachment; filename=\"r.xlsx\"; filename*=UTF-8''%E5%9B%A2a%201.xlsx"
            )
            .as_deref(),
            Some("团a 1.xlsx")
        );
        assert_eq!(
            disposition_file_name("attachment; filename*=UTF-8''..%2F..%2Fx.xlsx").as_deref(),
            Some("x.xlsx")
        );
        assert_eq!(
            disposition_file_name("attachment; filename*=UTF-8''%E5%9"),
            None
        );
    }
}

//! The crate's one error type. Every variant has a stable machine code and a Chinese
//! message a league cadre can act on; rule violations carry every `Violation` found.

use schemas::Violation;

/// Everything that can go wrong in the replica, its operations, Excel and sync.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Input broke the notice's rules; nothing was changed.
    #[error("输入不符合规则:{}", join(.0))]
    Invalid(Vec<Violation>),
    /// An Excel import with failing rows; nothing was created. Each entry is
    /// (Excel row number, violations of that row).
    #[error("导入文件有{}行存在错误,未创建任何组织", .0.len())]
    ImportRows(Vec<(u32, Vec<Violation>)>),
    /// A spreadsheet that cannot be used at all (not a spreadsheet, no sheet, no headers…).
    #[error("{message}")]
    Excel { code: &'static str, message: String },
    #[error("找不到组织:{0}")]
    OrgNotFound(String),
    #[error("{0}")]
    Refused(Violation),
    #[error("本地数据库错误:{0}")]
    Store(#[from] rusqlite::Error),
    #[error("组织文档损坏:{0}")]
    Document(Box<automerge::AutomergeError>),
    #[error("文件读写错误:{0}")]
    Io(#[from] std::io::Error),
    #[error("生成Excel文件失败:{0}")]
    XlsxWrite(#[from] rust_xlsxwriter::XlsxError),
    #[error("本地数据格式错误:{0}")]
    Json(#[from] serde_json::Error),
    /// The server answered with an error (4xx/5xx and its JSON body): a refused
    /// registration, a wrong password, a rate limit, a refused request.
    #[error("{}", .body.message)]
    Server {
        status: u16,
        body: Box<crate::protocol::ErrorBody>,
    },
    /// The server could not be reached (no network, refused, timed out, a proxy's error
    /// page). Local data is untouched.
    #[error("无法连接服务器({0}),修改已保存在本地,联网后再同步")]
    Network(String),
    /// No session, or the server no longer accepts it (expired or revoked).
    #[error("尚未登录或登录已过期,请重新登录")]
    LoginRequired,
    /// The server answered something this client cannot read (another protocol version,
    /// a damaged body).
    #[error("服务器的回应无法识别({0}),请确认服务器地址正确、客户端为最新版本")]
    Protocol(String),
}

fn join(v: &[Violation]) -> String {
    v.iter()
        .map(|v| v.to_string())
        .collect::<Vec<_>>()
        .join(";")
}

impl Error {
    /// The stable machine code, for scripts and the desktop front-end.
    pub fn code(&self) -> &str {
        match self {
            Error::Invalid(v) => v.first().map(|v| v.code.as_str()).unwrap_or("invalid"),
            Error::ImportRows(_) => "excel.rows_invalid",
            Error::Excel { code, .. } => code,
            Error::OrgNotFound(_) => "org.not_found",
            Error::Refused(v) => &v.code,
            Error::Store(_) => "store.sqlite",
            Error::Document(_) => "store.document",
            Error::Io(_) => "io",
            Error::XlsxWrite(_) => "excel.write",
            Error::Json(_) => "store.json",
            Error::Server { body, .. } => &body.code,
            Error::Network(_) => "sync.network",
            Error::LoginRequired => "sync.login_required",
            Error::Protocol(_) => "sync.protocol",
        }
    }

    /// The violations carried, if any.
    pub fn violations(&self) -> Vec<Violation> {
        match self {
            Error::Invalid(v) => v.clone(),
            Error::ImportRows(rows) => rows.iter().flat_map(|(_, v)| v.clone()).collect(),
            Error::Refused(v) => vec![v.clone()],
            Error::Server { body, .. } => body.violations.clone(),
            _ => Vec::new(),
        }
    }

    pub(crate) fn excel(code: &'static str, message: impl Into<String>) -> Error {
        Error::Excel {
            code,
            message: message.into(),
        }
    }
}

impl From<automerge::AutomergeError> for Error {
    // Boxed: Automerge's error is 120 bytes and would make every `Result` of the crate large.
    fn from(e: automerge::AutomergeError) -> Self {
        Error::Document(Box::new(e))
    }
}

impl From<wire::Error> for Error {
    fn from(e: wire::Error) -> Self {
        match e {
            wire::Error::Document(e) => Error::Document(e),
        }
    }
}

impl From<Violation> for Error {
    fn from(v: Violation) -> Self {
        Error::Invalid(vec![v])
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

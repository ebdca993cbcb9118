//! The server's one error type, and what a client is told of each: its status, its stable
//! machine code, its Chinese message and, for rule violations, every `Violation`
//! ([`Error::status`], [`Error::body`]). Internal errors are answered with a generic
//! message (no detail leaks to clients); `crate::http` sends the answer and logs them.

use schemas::Violation;
use wire::protocol::ErrorBody;
use wire::status::{self, Known};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Input broke the rules; nothing stored.
    #[error("{message}")]
    Invalid {
        code: &'static str,
        message: String,
        violations: Vec<Violation>,
    },
    /// No valid login token.
    #[error("请先登录")]
    Unauthorized,
    /// Logged in, but the organization asked for is outside the admin's subtree (code
    /// `auth.outside_subtree`, as the merge's refusal of such a document).
    #[error("{0}")]
    Forbidden(String),
    #[error("找不到{0}")]
    NotFound(String),
    /// Too many failed attempts; try again later.
    #[error("尝试次数过多,请{0}分钟后再试")]
    RateLimited(u64),
    /// A request body the server cannot decode.
    #[error("请求格式错误:{0}")]
    BadRequest(String),
    /// A request larger than the server takes (`code`: which limit).
    #[error("{message}")]
    TooLarge { code: &'static str, message: String },
    /// A route that does not take this HTTP method.
    #[error("该接口不支持此请求方法")]
    MethodNotAllowed,
    /// The client was too slow sending its request.
    #[error("请求发送超时,请检查网络后重试")]
    Timeout,
    #[error("数据库错误")]
    Store(#[from] rusqlite::Error),
    #[error("数据库错误")]
    Postgres(#[from] postgres::Error),
    /// The database cannot be reached, or no connection was free in time: retry.
    #[error("服务器繁忙,请稍后重试")]
    Unavailable(String),
    #[error("文档错误")]
    Document(#[from] automerge::AutomergeError),
    #[error("内部错误:{0}")]
    Internal(String),
}

impl Error {
    pub fn invalid(code: &'static str, message: impl Into<String>) -> Error {
        Error::Invalid {
            code,
            message: message.into(),
            violations: Vec::new(),
        }
    }

    pub fn violations(
        code: &'static str,
        message: impl Into<String>,
        violations: Vec<Violation>,
    ) -> Error {
        Error::Invalid {
            code,
            message: message.into(),
            violations,
        }
    }

    /// The stable machine code.
    pub fn code(&self) -> &'static str {
        match self {
            Error::Invalid { code, .. } => code,
            Error::TooLarge { code, .. } => code,
            Error::Forbidden(_) => "auth.outside_subtree",
            Error::Document(_) => "internal.document",
            other => match other.store_kind() {
                Some(StoreKind::Full) => "store.full",
                Some(StoreKind::Failed) => "internal.store",
                Some(StoreKind::Busy) | None => other.known().code,
            },
        }
    }

    /// What kind of database error this is, if it is one (either engine).
    fn store_kind(&self) -> Option<StoreKind> {
        let (full, busy) = match self {
            Error::Store(e) => (is_full(e), is_busy(e)),
            Error::Postgres(e) => (pg_full(e), pg_busy(e)),
            _ => return None,
        };
        Some(if full {
            StoreKind::Full
        } else if busy {
            StoreKind::Busy
        } else {
            StoreKind::Failed
        })
    }

    /// The status and code of `wire::status` (one table for client and server).
    fn known(&self) -> Known {
        match self {
            Error::Unauthorized => status::AUTH_REQUIRED,
            Error::Forbidden(_) => status::FORBIDDEN,
            Error::NotFound(_) => status::NOT_FOUND,
            Error::RateLimited(_) => status::RATE_LIMITED,
            Error::BadRequest(_) => status::BAD_REQUEST,
            Error::TooLarge { .. } => status::PAYLOAD_TOO_LARGE,
            Error::Timeout => status::TIMEOUT,
            Error::MethodNotAllowed => status::METHOD,
            // Retryable: another writer holds the database, or it has no room left.
            Error::Unavailable(_) => status::UNAVAILABLE,
            other => match other.store_kind() {
                Some(StoreKind::Busy | StoreKind::Full) => status::UNAVAILABLE,
                _ => status::INTERNAL,
            },
        }
    }

    /// The HTTP status a client is answered with (`wire::status`).
    pub fn status(&self) -> u16 {
        match self {
            Error::Invalid { .. } => status::INVALID,
            other => other.known().status,
        }
    }

    /// The body a client is answered with: the code (a rule's own for a single violation),
    /// the message a user reads, and the violations.
    pub fn body(&self) -> ErrorBody {
        let (message, violations) = match self {
            Error::Invalid {
                message,
                violations,
                ..
            } => (message.clone(), violations.clone()),
            other if other.store_kind() == Some(StoreKind::Busy) => {
                ("服务器繁忙,请稍后重试".to_owned(), Vec::new())
            }
            other if other.store_kind() == Some(StoreKind::Full) => (
                "服务器存储空间不足,暂时无法保存,请稍后重试".to_owned(),
                Vec::new(),
            ),
            Error::Store(_) | Error::Postgres(_) | Error::Document(_) | Error::Internal(_) => {
                ("服务器内部错误,请稍后重试".to_owned(), Vec::new())
            }
            other => (other.to_string(), Vec::new()),
        };
        let code = match self {
            Error::Invalid {
                code, violations, ..
            } if *code == "invalid" => violations
                .first()
                .map(|v| v.code.clone())
                .unwrap_or_else(|| "invalid".into()),
            other => other.code().to_owned(),
        };
        ErrorBody {
            code,
            message,
            violations,
        }
    }
}

impl Error {
    /// A PostgreSQL transaction that lost a race to another (a deadlock, a serialization
    /// failure, a unique key taken first): run again, it is judged on the new state.
    pub fn lost_race(&self) -> bool {
        use postgres::error::SqlState;
        match self {
            Error::Postgres(e) => matches!(
                e.code(),
                Some(c) if *c == SqlState::T_R_DEADLOCK_DETECTED
                    || *c == SqlState::T_R_SERIALIZATION_FAILURE
                    || *c == SqlState::UNIQUE_VIOLATION
            ),
            _ => false,
        }
    }
}

impl From<r2d2::Error> for Error {
    fn from(e: r2d2::Error) -> Self {
        Error::Unavailable(e.to_string())
    }
}

impl From<Violation> for Error {
    fn from(v: Violation) -> Self {
        Error::Invalid {
            code: "invalid",
            message: v.message.clone(),
            violations: vec![v],
        }
    }
}

/// Another connection holds the database's write lock (past the busy timeout).
pub fn is_busy(e: &rusqlite::Error) -> bool {
    matches!(
        e.sqlite_error_code(),
        Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
    )
}

/// The disk is full.
pub fn is_full(e: &rusqlite::Error) -> bool {
    matches!(e.sqlite_error_code(), Some(rusqlite::ErrorCode::DiskFull))
}

/// PostgreSQL: a lock waited on too long, a cancelled statement, or a connection lost or
/// refused (the database restarting, failing over): retryable.
pub fn pg_busy(e: &postgres::Error) -> bool {
    use postgres::error::SqlState;
    e.is_closed()
        || e.code().is_none_or(|c| {
            *c == SqlState::LOCK_NOT_AVAILABLE
                || *c == SqlState::QUERY_CANCELED
                || *c == SqlState::ADMIN_SHUTDOWN
                || *c == SqlState::CANNOT_CONNECT_NOW
                || *c == SqlState::T_R_DEADLOCK_DETECTED
                || *c == SqlState::T_R_SERIALIZATION_FAILURE
                || *c == SqlState::TOO_MANY_CONNECTIONS
        })
}

/// PostgreSQL: the disk is full.
pub fn pg_full(e: &postgres::Error) -> bool {
    e.code() == Some(&postgres::error::SqlState::DISK_FULL)
}

/// A database error's kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum StoreKind {
    /// The disk is full: retryable.
    Full,
    /// Another writer holds a lock, or the database cannot be reached now: retryable.
    Busy,
    Failed,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

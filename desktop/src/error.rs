//! The crate's one error type and its form on the wire to the front-end:
//! `{code, message, field, violations}`, with the Chinese messages of client-core and schemas.

use schemas::Violation;
use serde::Serialize;

/// Everything a command can fail with.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// client-core refused or failed (rules, storage, network, session…).
    #[error(transparent)]
    Core(#[from] client_core::Error),
    /// A command needs the local data, and there is none yet.
    #[error("本机还没有组织数据:请先登录,或选择“离线开始”")]
    NoReplica,
    /// The data folder or the settings file could not be used.
    #[error("无法使用本机数据目录 {path}:{source}")]
    DataDir {
        path: String,
        source: std::io::Error,
    },
    /// A field key the front-end sent is not one of schemas' fields.
    #[error("未知的字段:{0}")]
    UnknownField(String),
    /// The blocking worker of a long command stopped abnormally.
    #[error("后台任务异常中止:{0}")]
    Worker(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// One violation as the front-end shows it (field as its stable key).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct UiViolation {
    pub code: String,
    pub field: Option<&'static str>,
    pub message: String,
    pub error: bool,
}

impl From<&Violation> for UiViolation {
    fn from(v: &Violation) -> Self {
        UiViolation {
            code: v.code.clone(),
            field: v.field.map(|f| f.key()),
            message: v.message.clone(),
            error: v.is_error(),
        }
    }
}

impl Error {
    pub fn code(&self) -> &str {
        match self {
            Error::Core(e) => e.code(),
            Error::NoReplica => "desktop.no_replica",
            Error::DataDir { .. } => "desktop.data_dir",
            Error::UnknownField(_) => "desktop.unknown_field",
            Error::Worker(_) => "desktop.worker",
        }
    }

    fn violations(&self) -> Vec<UiViolation> {
        match self {
            Error::Core(e) => e.violations().iter().map(UiViolation::from).collect(),
            _ => Vec::new(),
        }
    }
}

/// `{code, message, field, violations}`: `field` is the first violation's field (the one
/// the form scrolls to), `violations` all of them with their messages.
impl Serialize for Error {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let violations = self.violations();
        let mut st = s.serialize_struct("Error", 4)?;
        st.serialize_field("code", self.code())?;
        st.serialize_field("message", &self.to_string())?;
        st.serialize_field("field", &violations.iter().find_map(|v| v.field))?;
        st.serialize_field("violations", &violations)?;
        st.end()
    }
}

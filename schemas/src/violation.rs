//! The one report type of every rule: [`Violation`], and the crate's [`Error`].
//!
//! A violation carries a stable machine code (`"id_number.checksum"`: never renamed once
//! released, clients and the server match on it), the field it concerns, a Chinese message
//! a league cadre can act on, and a severity. Warnings inform (a 团支部 of 80 members);
//! errors refuse.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::field::Field;

/// How serious a violation is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// The value is refused.
    Error,
    /// The value is accepted, but the user should look again.
    Warning,
}

/// One broken rule: what, where, and what to do about it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Violation {
    /// Stable machine code, `area.reason`, e.g. `"short_name.suffix_mismatch"`.
    pub code: String,
    /// The field concerned, if any (a cross-field rule may have none).
    pub field: Option<Field>,
    /// A Chinese message that says what is wrong and what to fix.
    pub message: String,
    pub severity: Severity,
}

impl Violation {
    /// An error-severity violation.
    pub fn error(code: &str, field: Option<Field>, message: impl Into<String>) -> Self {
        Violation {
            code: code.to_owned(),
            field,
            message: message.into(),
            severity: Severity::Error,
        }
    }

    /// A warning-severity violation.
    pub fn warning(code: &str, field: Option<Field>, message: impl Into<String>) -> Self {
        Violation {
            severity: Severity::Warning,
            ..Violation::error(code, field, message)
        }
    }

    /// The same violation, attached to another field (a parser knows the value, its caller
    /// knows which field the value came from).
    pub fn on(mut self, field: Field) -> Self {
        self.field = Some(field);
        self
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.field {
            Some(field) => write!(f, "{}:{} [{}]", field.label(), self.message, self.code),
            None => write!(f, "{} [{}]", self.message, self.code),
        }
    }
}

impl std::error::Error for Violation {}

/// The crate's error: one or more violations.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    Invalid(Violation),
    #[error("{}", join_messages(.0))]
    InvalidMany(Vec<Violation>),
}

fn join_messages(v: &[Violation]) -> String {
    v.iter()
        .map(|v| v.to_string())
        .collect::<Vec<_>>()
        .join(";")
}

impl Error {
    /// Every violation carried, in order.
    pub fn violations(&self) -> Vec<Violation> {
        match self {
            Error::Invalid(v) => vec![v.clone()],
            Error::InvalidMany(v) => v.clone(),
        }
    }

    /// The machine code of the first violation.
    pub fn code(&self) -> &str {
        match self {
            Error::Invalid(v) => &v.code,
            Error::InvalidMany(v) => v.first().map(|v| v.code.as_str()).unwrap_or("invalid"),
        }
    }
}

impl From<Violation> for Error {
    fn from(v: Violation) -> Self {
        Error::Invalid(v)
    }
}

/// Parsers return one violation: the first rule the input breaks.
pub type Result<T, E = Violation> = std::result::Result<T, E>;

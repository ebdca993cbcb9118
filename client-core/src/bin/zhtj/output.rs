//! Output helpers of `zhtj`: the stdout buffer, tables aligned for Chinese text, masking of
//! personal data (rules.md §9), times in Beijing time, and the CLI's failure type with its
//! exit codes and its report on stderr.
//!
//! Also the progress spinner on stderr. Depends on no other module of the CLI.

use std::io::{IsTerminal, Write};

use client_core::Error;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use schemas::{Field, IdNumber, Mobile, Violation};
use time::OffsetDateTime;

/// What a command prints on stdout, collected and written once at the end (so that a
/// closed pipe, as in `zhtj tree | head`, is not a panic).
#[derive(Debug, Default)]
pub struct Out {
    buf: String,
}

impl Out {
    pub fn line(&mut self, s: impl AsRef<str>) {
        self.buf.push_str(s.as_ref());
        self.buf.push('\n');
    }

    pub fn blank(&mut self) {
        self.buf.push('\n');
    }

    pub fn json(&mut self, v: &serde_json::Value) {
        let text = serde_json::to_string_pretty(v).unwrap_or_else(|_| "null".to_owned());
        self.line(text);
    }

    /// Write the collected text to stdout; a closed pipe is not an error.
    pub fn flush_to_stdout(&self) {
        let mut stdout = std::io::stdout().lock();
        let _ = stdout.write_all(self.buf.as_bytes());
        let _ = stdout.flush();
    }
}

// ------------------------------------------------------------------------ tables

/// Columns of a terminal: CJK and full-width characters take two.
pub fn display_width(s: &str) -> usize {
    s.chars().map(|c| if is_wide(c) { 2 } else { 1 }).sum()
}

fn is_wide(c: char) -> bool {
    matches!(
        c as u32,
        0x1100..=0x115F
            | 0x2E80..=0x303E
            | 0x3041..=0x33FF
            | 0x3400..=0x4DBF
            | 0x4E00..=0x9FFF
            | 0xA000..=0xA4CF
            | 0xAC00..=0xD7A3
            | 0xF900..=0xFAFF
            | 0xFE30..=0xFE4F
            | 0xFF00..=0xFF60
            | 0xFFE0..=0xFFE6
            | 0x20000..=0x3FFFD
    )
}

fn pad(s: &str, width: usize) -> String {
    let w = display_width(s);
    let mut out = s.to_owned();
    out.extend(std::iter::repeat_n(' ', width.saturating_sub(w)));
    out
}

/// A table: a header row, then rows, columns separated by two spaces and aligned.
pub fn table(out: &mut Out, headers: &[&str], rows: &[Vec<String>]) {
    let mut widths: Vec<usize> = headers.iter().map(|h| display_width(h)).collect();
    for r in rows {
        for (i, cell) in r.iter().enumerate() {
            if i < widths.len() {
                widths[i] = widths[i].max(display_width(cell));
            }
        }
    }
    let render = |cells: Vec<&str>| -> String {
        let last = cells.len().saturating_sub(1);
        let mut line = String::new();
        for (i, c) in cells.iter().enumerate() {
            if i == last {
                line.push_str(c);
            } else {
                line.push_str(&pad(c, widths[i]));
                line.push_str("  ");
            }
        }
        line.trim_end().to_owned()
    };
    out.line(render(headers.to_vec()));
    for r in rows {
        out.line(render(r.iter().map(String::as_str).collect()));
    }
}

/// A label padded to `width` display columns, for "label  value" lists.
pub fn label(s: &str, width: usize) -> String {
    pad(s, width)
}

// ------------------------------------------------------------------------ progress

/// A spinner with `message` on stderr (a command may turn it into a bar once it knows the
/// total), hidden when stderr is not a terminal.
pub fn spinner(message: &'static str) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
    if let Ok(style) = ProgressStyle::with_template("{spinner} {msg}") {
        bar.set_style(style);
    }
    bar.set_message(message);
    bar.enable_steady_tick(std::time::Duration::from_millis(120));
    bar
}

// ------------------------------------------------------------------------ personal data

/// Hide the middle of a personal value (rules.md §9): the ID number as
/// `510104********1234`, the mobile as `138****5678`; a value that does not parse (a
/// refused value kept for correction) keeps only its first 3 and last 2 characters.
pub fn mask(field: Field, raw: &str) -> String {
    if raw.is_empty() {
        return String::new();
    }
    let parsed = match field {
        Field::SecretaryIdNumber | Field::IdNumber => IdNumber::parse(raw).ok().map(|i| i.masked()),
        Field::SecretaryMobile | Field::Mobile => Mobile::parse(raw).ok().map(|m| m.masked()),
        _ => return raw.to_owned(),
    };
    parsed.unwrap_or_else(|| {
        let chars: Vec<char> = raw.chars().collect();
        if chars.len() <= 6 {
            "*".repeat(chars.len())
        } else {
            let mut s: String = chars[..3].iter().collect();
            s.push_str(&"*".repeat(chars.len() - 5));
            s.extend(&chars[chars.len() - 2..]);
            s
        }
    })
}

/// A value as lists show it: personal data masked (rules.md §9), the rest as it is.
pub fn shown(field: Field, raw: &str) -> String {
    if is_personal(field) {
        mask(field, raw)
    } else {
        raw.to_owned()
    }
}

/// Whether a field holds personal data that lists and logs mask.
pub fn is_personal(field: Field) -> bool {
    matches!(
        field,
        Field::SecretaryIdNumber | Field::SecretaryMobile | Field::IdNumber | Field::Mobile
    )
}

// ------------------------------------------------------------------------ time

pub use schemas::beijing::minute as format_beijing;

/// RFC 3339 with the Beijing offset, for JSON.
pub fn rfc3339(t: OffsetDateTime) -> String {
    schemas::beijing::at(t)
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

// ------------------------------------------------------------------------ failures

/// Why a command failed.
#[derive(Debug)]
pub enum Failure {
    /// An error of the replica; `notes` are printed after it (where an annotated copy is).
    Core {
        error: Box<Error>,
        notes: Vec<String>,
    },
    /// The command line is well-formed for clap but not for us (an unknown field name).
    Usage { code: &'static str, message: String },
    /// A file or directory of the CLI itself (the data directory).
    Io {
        message: String,
        source: std::io::Error,
    },
    /// A sync that completed, but the server refused some documents (listed on stdout).
    Rejected { count: usize },
}

impl From<Error> for Failure {
    fn from(error: Error) -> Self {
        Failure::Core {
            error: Box::new(error),
            notes: Vec::new(),
        }
    }
}

pub type CliResult<T = ()> = Result<T, Failure>;

/// Exit codes, as documented in `zhtj --help`.
pub mod exit {
    pub const REFUSED: u8 = 1;
    pub const USAGE: u8 = 2;
    pub const NOT_FOUND: u8 = 3;
    pub const STORAGE: u8 = 4;
    pub const NETWORK: u8 = 5;
    pub const LOGIN: u8 = 6;
}

impl Failure {
    pub fn usage(code: &'static str, message: impl Into<String>) -> Failure {
        Failure::Usage {
            code,
            message: message.into(),
        }
    }

    pub fn exit_code(&self) -> u8 {
        match self {
            Failure::Core { error, .. } => core_exit_code(error),
            Failure::Usage { .. } => exit::USAGE,
            Failure::Io { .. } => exit::STORAGE,
            Failure::Rejected { .. } => exit::REFUSED,
        }
    }

    pub fn machine_code(&self) -> &str {
        match self {
            Failure::Core { error, .. } => error.code(),
            Failure::Usage { code, .. } => code,
            Failure::Io { .. } => "io",
            Failure::Rejected { .. } => "sync.rejected",
        }
    }

    /// The report on stderr: "错误[code]:message", then one line per violation, then notes.
    pub fn report(&self) -> String {
        let mut lines = vec![format!("错误[{}]:{}", self.machine_code(), self.headline())];
        match self {
            Failure::Core { error, notes } => {
                match error.as_ref() {
                    Error::Invalid(violations) => {
                        lines.extend(
                            violations
                                .iter()
                                .map(|v| format!("  {}", violation_line(v))),
                        );
                    }
                    Error::Server { body, .. } => {
                        lines.extend(
                            body.violations
                                .iter()
                                .map(|v| format!("  {}", violation_line(v))),
                        );
                    }
                    Error::LoginRequired if notes.is_empty() => {
                        lines.push(
                            "请用 zhtj login 重新登录(本地数据和未同步的修改都保留)。".to_owned(),
                        );
                    }
                    Error::ImportRows(rows) => {
                        for (row, violations) in rows {
                            for v in violations {
                                lines.push(format!("  第{row}行 {}", import_violation_line(v)));
                            }
                        }
                    }
                    _ => {}
                }
                lines.extend(notes.iter().cloned());
            }
            Failure::Usage { .. } => lines.push("用法见 zhtj --help".to_owned()),
            Failure::Io { .. } | Failure::Rejected { .. } => {}
        }
        lines.join("\n")
    }

    fn headline(&self) -> String {
        match self {
            Failure::Core { error, .. } => match error.as_ref() {
                Error::Invalid(v) => format!("输入不符合规则,未作任何修改(共{}处)", v.len()),
                Error::Refused(v) => v.message.clone(),
                e => e.to_string(),
            },
            Failure::Usage { message, .. } => message.clone(),
            Failure::Io { message, source } => format!("{message}:{source}"),
            Failure::Rejected { count } => format!(
                "服务器退回了{count}个组织的修改(修改仍保留在本地),请按上面列出的原因修改后再运行 zhtj sync"
            ),
        }
    }
}

fn core_exit_code(e: &Error) -> u8 {
    match e {
        Error::Invalid(_) | Error::ImportRows(_) | Error::Excel { .. } => exit::REFUSED,
        Error::OrgNotFound(_) => exit::NOT_FOUND,
        Error::Refused(v) => match v.code.as_str() {
            "replica.missing" | "init.unknown_unit" => exit::NOT_FOUND,
            "replica.damaged" => exit::STORAGE,
            "sync.bad_url" => exit::USAGE,
            _ => exit::REFUSED,
        },
        Error::Server { status, .. } => match status {
            404 => exit::NOT_FOUND,
            500.. => exit::NETWORK,
            _ => exit::REFUSED,
        },
        Error::Network(_) | Error::Protocol(_) => exit::NETWORK,
        Error::LoginRequired => exit::LOGIN,
        Error::Store(_)
        | Error::Document(_)
        | Error::Io(_)
        | Error::XlsxWrite(_)
        | Error::Json(_) => exit::STORAGE,
    }
}

fn warning_prefix(v: &Violation) -> &'static str {
    if v.is_error() { "" } else { "(提示)" }
}

/// "书记手机号码:手机号码应为… [mobile.format]".
pub fn violation_line(v: &Violation) -> String {
    match v.field {
        Some(f) => format!(
            "{}:{}{} [{}]",
            f.label(),
            warning_prefix(v),
            v.message,
            v.code
        ),
        None => format!("{}{} [{}]", warning_prefix(v), v.message, v.code),
    }
}

/// Like [`violation_line`], naming the column as the import sheet does ("联系电话").
fn import_violation_line(v: &Violation) -> String {
    match v.field {
        Some(f) => format!(
            "{}:{}{} [{}]",
            client_core::excel::column_label(f).unwrap_or(f.label()),
            warning_prefix(v),
            v.message,
            v.code
        ),
        None => format!("{}{} [{}]", warning_prefix(v), v.message, v.code),
    }
}

/// A violation as JSON.
pub fn violation_json(v: &Violation) -> serde_json::Value {
    serde_json::json!({
        "code": v.code,
        "field": v.field.map(|f| f.key()),
        "field_label": v.field.map(|f| f.label()),
        "message": v.message,
        "severity": if v.is_error() { "error" } else { "warning" },
    })
}

/// "团锦江区委(手机号码 139****5678)": who a replica is logged in as, mobile masked.
pub fn account_label(a: &client_core::sync::Account) -> String {
    if a.mobile.is_empty() {
        a.org_short_name.clone()
    } else {
        format!(
            "{}(手机号码 {})",
            a.org_short_name,
            mask(Field::Mobile, &a.mobile)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn widths_and_masks() {
        assert_eq!(display_width("团支部ab"), 8);
        assert_eq!(mask(Field::SecretaryMobile, "13812345678"), "138****5678");
        assert_eq!(mask(Field::SecretaryMobile, "12345"), "*****");
        assert_eq!(mask(Field::SecretaryMobile, "1234567890"), "123*****90");
        assert_eq!(mask(Field::Phone, "028-61310936"), "028-61310936");
    }
}

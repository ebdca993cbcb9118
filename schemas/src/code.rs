//! 管理员注册码 (rules.md §7): eight characters of digits and letters, case-sensitive,
//! generated with a cryptographic RNG, valid for 20 days, single use.
//!
//! \[inferred\] The alphabet drops the look-alike glyphs `0 O o 1 l I`: still digits and
//! letters, fewer mistyped codes. Single use is the server's business (it records which
//! code registered whom); this module knows the format, generation and expiry.
//!
//! A code is a credential: [`RegistrationCode`]'s `Debug` prints it masked (`Ab****9z`),
//! `Display` prints it in full (to show it to the issuing admin and export it).

use std::fmt;

use rand::{CryptoRng, RngExt};
use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};

use crate::field::Field;
use crate::text::{char_len, normalize};
use crate::violation::{Result, Violation};

/// The characters of a code: digits and letters without `0 O o 1 l I` (56 characters).
pub const ALPHABET: &str = "23456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnpqrstuvwxyz";

/// The length of a code, in characters.
pub const LEN: usize = 8;

/// How long a code is valid after it is issued.
pub const VALIDITY_DAYS: i64 = 20;

/// When a code issued at `issued` expires: [`VALIDITY_DAYS`] later. (A time so close to
/// the end of the calendar that this overflows yields `issued`: expired at once.)
pub fn expires_at(issued: OffsetDateTime) -> OffsetDateTime {
    issued
        .checked_add(Duration::days(VALIDITY_DAYS))
        .unwrap_or(issued)
}

/// Whether a code that expires at `expires_at` (Unix seconds, as documents and the server
/// store it) has expired at `now`: a code is valid strictly before its expiry, as
/// [`IssuedCode::is_valid_at`] says (the replica's display and the server's registration
/// judge with this).
pub fn expired(expires_at: i64, now: i64) -> bool {
    now >= expires_at
}

fn invalid(code: &str, message: impl Into<String>) -> Violation {
    Violation::error(code, Some(Field::RegistrationCode), message)
}

/// A well-formed registration code (whether it was issued, is unexpired and unused is for
/// the server to tell).
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct RegistrationCode(String);

impl RegistrationCode {
    /// Parse a typed code. Surrounding whitespace is trimmed and full-width characters are
    /// folded to half-width; the case is kept (codes are case-sensitive).
    pub fn parse(raw: &str) -> Result<RegistrationCode> {
        let s = normalize(raw);
        if s.is_empty() {
            return Err(invalid("code.empty", "请填写管理员注册码"));
        }
        let len = char_len(&s);
        if len != LEN {
            return Err(invalid(
                "code.length",
                format!("注册码应为{LEN}位,现为{len}位,请对照上级团组织提供的注册码核对"),
            ));
        }
        if let Some(c) = s.chars().find(|&c| !ALPHABET.contains(c)) {
            let shown: String = c.escape_debug().collect();
            return Err(invalid(
                "code.chars",
                format!(
                    "注册码中不会出现“{shown}”:注册码只由数字和字母组成,区分大小写,\
                     且从不使用0、O、o、1、l、I这几个易混字符,请对照原注册码逐位核对"
                ),
            ));
        }
        Ok(RegistrationCode(s))
    }

    /// A fresh code: each character drawn uniformly from [`ALPHABET`] with `rng`
    /// (e.g. `&mut rand::rng()` or a `rand::rngs::StdRng`).
    pub fn generate<R: CryptoRng + ?Sized>(rng: &mut R) -> RegistrationCode {
        let alphabet = ALPHABET.as_bytes();
        let code = (0..LEN)
            .map(|_| char::from(alphabet[rng.random_range(0..alphabet.len())]))
            .collect();
        RegistrationCode(code)
    }

    /// The full code.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The first and last two characters, the rest hidden: `Ab****9z`.
    pub fn masked(&self) -> String {
        format!("{}****{}", &self.0[..2], &self.0[LEN - 2..])
    }
}

impl fmt::Debug for RegistrationCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("RegistrationCode")
            .field(&self.masked())
            .finish()
    }
}

impl fmt::Display for RegistrationCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for RegistrationCode {
    type Error = Violation;
    fn try_from(s: String) -> Result<RegistrationCode> {
        RegistrationCode::parse(&s)
    }
}

impl From<RegistrationCode> for String {
    fn from(c: RegistrationCode) -> String {
        c.0
    }
}

/// How the holder of a code registers, for every place a code is printed or exported
/// (the code sheet, `zhtj code`/`codes`, the server's first code, `issue-code`): the code
/// alone identifies the organization, which is shown to confirm before anything personal
/// is typed.
pub fn how_to_register(code: Option<&str>) -> String {
    format!(
        "注册方法:zhtj register --code {}(桌面客户端:首次使用 → 注册),核对显示的组织无误后填写本人信息",
        code.unwrap_or("<注册码>")
    )
}

/// A code as issued: when, and until when it is valid.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct IssuedCode {
    pub code: RegistrationCode,
    pub issued_at: OffsetDateTime,
    /// [`expires_at`] of `issued_at`.
    pub expires_at: OffsetDateTime,
}

impl IssuedCode {
    /// A code issued at `issued_at`, expiring [`VALIDITY_DAYS`] later.
    pub fn new(code: RegistrationCode, issued_at: OffsetDateTime) -> IssuedCode {
        IssuedCode {
            code,
            issued_at,
            expires_at: expires_at(issued_at),
        }
    }

    /// Whether the code is still valid at `now` (strictly before its expiry).
    pub fn is_valid_at(&self, now: OffsetDateTime) -> bool {
        now < self.expires_at
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::StdRng;
    use time::macros::datetime;

    fn code(raw: &str) -> String {
        RegistrationCode::parse(raw).unwrap_err().code
    }

    #[test]
    fn alphabet_is_digits_and_letters_without_look_alikes() {
        assert_eq!(ALPHABET.len(), 56);
        assert!(ALPHABET.bytes().all(|b| b.is_ascii_alphanumeric()));
        for c in ['0', 'O', 'o', '1', 'l', 'I'] {
            assert!(!ALPHABET.contains(c), "{c}");
        }
        let mut seen = std::collections::HashSet::new();
        assert!(ALPHABET.chars().all(|c| seen.insert(c)));
    }

    #[test]
    fn parses_codes_case_sensitively() {
        let c = RegistrationCode::parse(" Ab3kP9xz ").unwrap();
        assert_eq!(c.as_str(), "Ab3kP9xz");
        assert_ne!(c, RegistrationCode::parse("AB3KP9XZ").unwrap());
        assert_eq!(RegistrationCode::parse("Ａｂ３ｋＰ９ｘｚ").unwrap(), c);
        assert_eq!(c.masked(), "Ab****xz");
        assert_eq!(format!("{c:?}"), "RegistrationCode(\"Ab****xz\")");
        assert_eq!(c.to_string(), "Ab3kP9xz");
    }

    #[test]
    fn refuses_each_rule_with_its_code() {
        assert_eq!(code(""), "code.empty");
        assert_eq!(code(" \t "), "code.empty");
        assert_eq!(code("Ab3kP9x"), "code.length");
        assert_eq!(code("Ab3kP9xzz"), "code.length");
        assert_eq!(code("Ab3k P9x"), "code.chars");
        for look_alike in [
            "Ab3kP9x0", "Ab3kP9xO", "Ab3kP9xo", "Ab3kP9x1", "Ab3kP9xl", "Ab3kP9xI",
        ] {
            let v = RegistrationCode::parse(look_alike).unwrap_err();
            assert_eq!(v.code, "code.chars", "{look_alike}");
            assert!(v.message.contains("0、O、o、1、l、I"));
        }
        assert_eq!(code("Ab3kP9x团"), "code.chars");
        assert_eq!(code("Ab3kP9x\u{0}"), "code.chars");
        assert_eq!(code("Ab3kP9x-"), "code.chars");
    }

    #[test]
    fn generated_codes_parse_back_and_spread_over_the_alphabet() {
        let mut rng = StdRng::seed_from_u64(7);
        let mut seen = std::collections::HashSet::new();
        for _ in 0..200 {
            let c = RegistrationCode::generate(&mut rng);
            assert_eq!(RegistrationCode::parse(c.as_str()).unwrap(), c);
            seen.extend(c.as_str().chars());
        }
        assert_eq!(seen.len(), ALPHABET.len());
        // The thread RNG is a cryptographic RNG too.
        let c = RegistrationCode::generate(&mut rand::rng());
        assert!(RegistrationCode::parse(c.as_str()).is_ok());
    }

    #[test]
    fn valid_for_twenty_days() {
        let issued = datetime!(2017-05-10 09:00 +8);
        let c = IssuedCode::new(RegistrationCode::parse("Ab3kP9xz").unwrap(), issued);
        assert_eq!(c.expires_at, datetime!(2017-05-30 09:00 +8));
        assert!(c.is_valid_at(issued));
        assert!(c.is_valid_at(datetime!(2017-05-30 08:59:59 +8)));
        assert!(!c.is_valid_at(datetime!(2017-05-30 09:00 +8)));
        assert!(!c.is_valid_at(datetime!(2017-06-01 00:00 UTC)));
        let end = datetime!(9999-12-31 23:59 UTC);
        assert_eq!(expires_at(end), end);
    }
}

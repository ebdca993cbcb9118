//! Identity and access (DESIGN "Identity and access", RULES §7, §8): the look-up of the
//! organization a registration code was issued for, administrator registration with a
//! registration code (the code alone names the organization; it is consumed in the same
//! transaction that creates the account), login to an expiring, revocable session token (stored hashed), logout, and
//! the authentication of every request from the server's own session record.

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use rand::RngExt;
use rusqlite::{Connection, OptionalExtension, params};
use schemas::join::{JoinRule, YearMonth};
use schemas::person::PersonName;
use schemas::{Category, Field, IdNumber, Mobile, RegistrationCode, Role, Violation};
use sha2::{Digest, Sha256};
use wire::protocol::{
    AncestorSummary, CodeLookupResponse, LoginRequest, LoginResponse, RegisterRequest,
    RegisterResponse,
};

use crate::error::{Error, Result};
use crate::store::{self, OrgRow, Store};

/// The logged-in admin a request is served for, from the server's session record only
/// ([`authenticate`]): pushes are judged for it, reads are limited to its subtree.
#[derive(Debug, Clone)]
pub struct Actor {
    pub account_id: i64,
    pub org_id: String,
    /// The path of the admin's organization: its subtree is every path with this prefix.
    pub org_path: String,
}

/// How long a login lasts [inferred: two weeks, so a unit that syncs weekly from a town
/// office need not log in each time; revocable by logout].
pub const SESSION_SECONDS: i64 = 14 * 86_400;

/// Minimum password length [inferred].
pub const MIN_PASSWORD_CHARS: usize = 8;

/// The settings identity depends on.
#[derive(Debug, Clone, Default)]
pub struct IdentityConfig {
    /// The joining-age cutoff (RULES §8; the notice's 2016-09-01 by default).
    pub join_rule: JoinRule,
}

/// The stored form of a session token.
pub fn hash_token(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

/// Hash a password with Argon2id and a random salt (PHC string).
pub fn hash_password(password: &str) -> Result<String> {
    let salt_bytes: [u8; 16] = rand::rng().random();
    let salt = SaltString::encode_b64(&salt_bytes).map_err(|e| Error::Internal(e.to_string()))?;
    Ok(Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map_err(|e| Error::Internal(e.to_string()))?
        .to_string())
}

fn verify_password(password: &str, phc: &str) -> bool {
    PasswordHash::new(phc).is_ok_and(|h| {
        Argon2::default()
            .verify_password(password.as_bytes(), &h)
            .is_ok()
    })
}

/// The checked fields of a registration, ready to store.
pub struct CheckedRegistration {
    pub code: RegistrationCode,
    pub org_id: String,
    pub role: Role,
    pub name: PersonName,
    pub id_number: IdNumber,
    pub mobile: Mobile,
    pub joined: YearMonth,
    pub password_hash: String,
}

/// Check every field of a registration form (everything that needs no database), and hash
/// the password. Reports every violation at once.
pub fn check_registration(
    req: &RegisterRequest,
    category: Category,
    config: &IdentityConfig,
    today: time::Date,
) -> Result<CheckedRegistration> {
    let mut v = Vec::new();
    let code = RegistrationCode::parse(&req.code)
        .map_err(|e| v.push(e.on(Field::RegistrationCode)))
        .ok();
    let role = Role::parse_for(&req.role, category)
        .map_err(|e| v.push(e))
        .ok();
    let name = PersonName::parse(&req.name)
        .map_err(|e| v.push(e.on(Field::AdminName)))
        .ok();
    let id_number = IdNumber::parse_on(&req.id_number, today)
        .map_err(|e| v.push(e.on(Field::IdNumber)))
        .ok();
    let mobile = Mobile::parse(&req.mobile)
        .map_err(|e| v.push(e.on(Field::Mobile)))
        .ok();
    let joined = YearMonth::parse(&req.join_year_month)
        .map_err(|e| v.push(e.on(Field::JoinYearMonth)))
        .ok();
    if let (Some(id), Some(j)) = (&id_number, joined)
        && let Err(e) = config.join_rule.check(id.birth_date(), j, today)
    {
        v.push(e.on(Field::JoinYearMonth));
    }
    if req.password.chars().count() < MIN_PASSWORD_CHARS
        || !req.password.chars().any(|c| c.is_ascii_digit())
        || !req.password.chars().any(|c| c.is_alphabetic())
    {
        v.push(Violation::error(
            "password.weak",
            Some(Field::Password),
            format!("密码至少{MIN_PASSWORD_CHARS}位,且须同时包含字母和数字"),
        ));
    }
    if req.password.chars().count() > 128 {
        v.push(Violation::error(
            "password.too_long",
            Some(Field::Password),
            "密码不能超过128位",
        ));
    }
    match (code, role, name, id_number, mobile, joined) {
        (Some(code), Some(role), Some(name), Some(id_number), Some(mobile), Some(joined))
            if v.is_empty() =>
        {
            Ok(CheckedRegistration {
                code,
                org_id: req.org_id.clone(),
                role,
                name,
                id_number,
                mobile,
                joined,
                password_hash: hash_password(&req.password)?,
            })
        }
        _ => Err(Error::violations(
            "register.invalid",
            "注册信息有误,请按提示修改",
            v,
        )),
    }
}

/// A typed code, well-formed, or the registration form's refusal of it.
fn parse_code(raw: &str) -> Result<RegistrationCode> {
    RegistrationCode::parse(raw).map_err(|e| {
        Error::violations(
            "register.invalid",
            "注册信息有误,请按提示修改",
            vec![e.on(Field::RegistrationCode)],
        )
    })
}

/// The live organization a code may register an admin for: the code exists
/// (case-sensitive), was issued for `org` when `org` names one (its id or short name;
/// empty: any; another organization's code reads as unknown), is unused and unexpired. The one judgement of a code, for the look-up and
/// for registration (inside its transaction). Returns the organization and when the code
/// expires.
fn code_org(c: &Connection, code: &RegistrationCode, org: &str, now: i64) -> Result<(OrgRow, i64)> {
    let row: Option<(String, i64, Option<i64>)> = c
        .prepare_cached("SELECT org_id, expires_at, used_by FROM codes WHERE code = ?1")?
        .query_row([code.as_str()], |x| Ok((x.get(0)?, x.get(1)?, x.get(2)?)))
        .optional()?;
    let Some((org_id, expires_at, used_by)) = row else {
        return Err(code_error(
            "code.unknown",
            "注册码不存在,请核对(注意区分大小写)",
        ));
    };
    let target = store::get_org(c, &org_id)?;
    let org = org.trim();
    let named = org.is_empty()
        || org == org_id
        || target
            .as_ref()
            .is_some_and(|t| schemas::name::names_equal(&t.short_name, org));
    // A code of another organization than the one named is answered as an unknown one:
    // the answer must not tell a guesser that a code exists.
    if !named {
        return Err(code_error(
            "code.unknown",
            "注册码不存在,请核对(注意区分大小写)",
        ));
    }
    if used_by.is_some() {
        return Err(code_error(
            "code.used",
            "该注册码已被使用,一个注册码仅限一位管理员注册",
        ));
    }
    if now >= expires_at {
        return Err(code_error(
            "code.expired",
            "注册码已过期(有效期20天),请联系上级组织管理员重新生成",
        ));
    }
    let target = target
        .filter(|o| !o.deleted)
        .ok_or_else(|| Error::NotFound("该组织".into()))?;
    Ok((target, expires_at))
}

/// The organization a registration is for, and its category (for the form's checks): by
/// the code, checked against the organization the form names, if any. A code that is not
/// even well-formed is refused with the form (the organization must then be named).
pub fn registration_org(store: &Store, req: &RegisterRequest, now: i64) -> Result<Category> {
    store.read(|c| {
        let org = match RegistrationCode::parse(&req.code) {
            Ok(code) => code_org(c, &code, &req.org_id, now)?.0,
            Err(e) if req.org_id.trim().is_empty() => {
                return Err(Error::violations(
                    "register.invalid",
                    "注册信息有误,请按提示修改",
                    vec![e.on(Field::RegistrationCode)],
                ));
            }
            Err(_) => store::get_org(c, req.org_id.trim())?
                .filter(|o| !o.deleted)
                .ok_or_else(|| Error::NotFound("该组织".into()))?,
        };
        Category::parse(&org.category).map_err(Error::from)
    })
}

/// Which organization `code` registers an admin for, to confirm before the form is filled.
pub fn lookup_code(store: &Store, code: &str, now: i64) -> Result<CodeLookupResponse> {
    let code = parse_code(code)?;
    store.read(|c| {
        let (org, expires_at) = code_org(c, &code, "", now)?;
        let (_, record) =
            store::get_org_doc(c, &org.id)?.ok_or_else(|| Error::NotFound("该组织".into()))?;
        let parent_short_name = store::get_org(c, &org.parent)?
            .map(|p| p.short_name)
            .unwrap_or_default();
        Ok(CodeLookupResponse {
            org_id: org.id,
            short_name: org.short_name,
            full_name: record.full_name,
            category: org.category,
            level: org.level,
            parent_id: org.parent,
            parent_short_name,
            expires_at,
        })
    })
}

/// Store a checked registration: the code is consumed in the same transaction that creates
/// the account, so two registrations with one code cannot both succeed.
pub fn register(store: &Store, r: CheckedRegistration, now: i64) -> Result<RegisterResponse> {
    store.transaction(|tx| {
        let code = r.code.as_str();
        let (org, _) = code_org(tx, &r.code, &r.org_id, now)?;
        let org_id = org.id.clone();
        let inserted = tx.execute(
            "INSERT INTO accounts(org_id, role, name, id_number, mobile, join_ym, password_hash, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) ON CONFLICT(mobile, org_id) DO NOTHING",
            params![
                org_id,
                r.role.label(),
                r.name.as_str(),
                r.id_number.as_str(),
                r.mobile.as_str(),
                r.joined.to_string(),
                r.password_hash,
                now
            ],
        )?;
        if inserted == 0 {
            return Err(Error::invalid("account.exists", "该手机号已是本组织的管理员,请直接登录"));
        }
        let account_id = tx.last_insert_rowid();
        // The conditional update is what makes the code single-use under concurrency.
        let consumed = tx.execute(
            "UPDATE codes SET used_by = ?1, used_at = ?2 WHERE code = ?3 AND used_by IS NULL",
            params![account_id, now, code],
        )?;
        if consumed != 1 {
            return Err(code_error("code.used", "该注册码已被使用,一个注册码仅限一位管理员注册"));
        }
        tx.execute("UPDATE orgs SET admin_count = admin_count + 1 WHERE id = ?1", [&org_id])?;
        store::touch_org(tx, &org_id, Some(account_id))?;
        store::audit(
            tx,
            Some(account_id),
            "account.register",
            Some(&org_id),
            &format!("code {} mobile {}", r.code.masked(), r.mobile.masked()),
        )?;
        tracing::info!(account_id, org_id = %org_id, code = %r.code.masked(), "admin registered");
        Ok(RegisterResponse { account_id, org_id, org_short_name: org.short_name })
    })
}

fn code_error(code: &'static str, message: &str) -> Error {
    Error::violations(
        code,
        message,
        vec![Violation::error(
            code,
            Some(Field::RegistrationCode),
            message,
        )],
    )
}

/// Log in: check the password, create a session token (only its hash is stored).
pub fn login(store: &Store, req: &LoginRequest, now: i64) -> Result<LoginResponse> {
    let mobile = Mobile::parse(&req.mobile).map_err(|_| wrong_login())?;
    let accounts: Vec<(i64, String, String)> = store.read(|c| {
        let mut stmt = c.prepare(
            "SELECT id, org_id, password_hash FROM accounts WHERE mobile = ?1 ORDER BY id",
        )?;
        let rows = stmt.query_map([mobile.as_str()], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    })?;
    let candidates: Vec<_> = accounts
        .into_iter()
        .filter(|(_, org, _)| req.org_id.as_ref().is_none_or(|o| o == org))
        .collect();
    // Verify against every candidate; with none, against a dummy hash, so that an unknown
    // mobile takes as long to refuse as a wrong password (its timing tells nothing).
    if candidates.is_empty() {
        verify_password(&req.password, dummy_hash());
    }
    let matched: Vec<_> = candidates
        .into_iter()
        .filter(|(_, _, h)| verify_password(&req.password, h))
        .collect();
    let (account_id, org_id) = match matched.as_slice() {
        [] => return Err(wrong_login()),
        [(id, org, _)] => (*id, org.clone()),
        _ => {
            return Err(Error::invalid(
                "login.choose_org",
                "该手机号是多个组织的管理员,请选择要登录的组织",
            ));
        }
    };
    let token: [u8; 32] = rand::rng().random();
    let token: String = token.iter().map(|b| format!("{b:02x}")).collect();
    let expires_at = now + SESSION_SECONDS;
    let (org, ancestors) = store.transaction(|tx| {
        tx.execute(
            "INSERT INTO sessions(token_hash, account_id, created_at, expires_at) VALUES (?1, ?2, ?3, ?4)",
            params![hash_token(&token), account_id, now, expires_at],
        )?;
        tx.execute("UPDATE accounts SET last_login = ?1 WHERE id = ?2", params![now, account_id])?;
        let org = store::get_org(tx, &org_id)?.ok_or_else(|| Error::NotFound("该组织".into()))?;
        let first = tx.execute("UPDATE orgs SET logged_in = 1 WHERE id = ?1 AND logged_in = 0", [&org_id])?;
        if first == 1 {
            store::touch_org(tx, &org_id, Some(account_id))?;
        }
        store::audit(tx, Some(account_id), "account.login", Some(&org_id), "")?;
        let ancestors = ancestors_of(tx, &org.path, &org_id)?;
        Ok((org, ancestors))
    })?;
    tracing::info!(account_id, org_id = %org_id, "login");
    Ok(LoginResponse {
        token,
        expires_at,
        org_id,
        org_short_name: org.short_name,
        ancestors,
    })
}

/// A hash no password matches in practice, made once, with the same parameters as real
/// ones.
fn dummy_hash() -> &'static str {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY.get_or_init(|| {
        let random: [u8; 16] = rand::rng().random();
        let random: String = random.iter().map(|b| format!("{b:02x}")).collect();
        hash_password(&random).unwrap_or_default()
    })
}

fn wrong_login() -> Error {
    Error::invalid("login.failed", "手机号或密码错误")
}

/// The summaries of the organizations on `path` above `org_id`, root first.
pub fn ancestors_of(c: &Connection, path: &str, org_id: &str) -> Result<Vec<AncestorSummary>> {
    let mut out = Vec::new();
    for id in path.split('/').filter(|s| !s.is_empty() && *s != org_id) {
        if let Some((_, rec)) = store::get_org_doc(c, id)? {
            out.push(AncestorSummary {
                id: rec.id,
                parent: rec.parent,
                level: rec.level,
                category: rec.category,
                short_name: rec.short_name,
                full_name: rec.full_name,
            });
        }
    }
    Ok(out)
}

/// The logged-in admin behind a bearer token, from the server's session record: an
/// unknown, revoked or expired token is refused.
pub fn authenticate(store: &Store, token: &str, now: i64) -> Result<Actor> {
    let row: Option<(i64, String, String)> = store.read(|c| {
        Ok(c.prepare_cached(
            "SELECT a.id, a.org_id, o.path FROM sessions s
             JOIN accounts a ON a.id = s.account_id JOIN orgs o ON o.id = a.org_id
             WHERE s.token_hash = ?1 AND s.revoked = 0 AND s.expires_at > ?2 AND o.deleted = 0",
        )?
        .query_row(params![hash_token(token), now], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })
        .optional()?)
    })?;
    let (account_id, org_id, org_path) = row.ok_or(Error::Unauthorized)?;
    Ok(Actor {
        account_id,
        org_id,
        org_path,
    })
}

/// Revoke a session.
pub fn logout(store: &Store, token: &str) -> Result<()> {
    store.transaction(|tx| {
        tx.execute(
            "UPDATE sessions SET revoked = 1 WHERE token_hash = ?1",
            [hash_token(token)],
        )?;
        Ok(())
    })
}

/// A code issued by the operator (the first admin of 团成都市委, or any org on request),
/// recorded only on the server.
pub fn operator_issue_code(
    store: &Store,
    org_id: &str,
    now: time::OffsetDateTime,
) -> Result<schemas::code::IssuedCode> {
    let issued = schemas::code::IssuedCode::new(RegistrationCode::generate(&mut rand::rng()), now);
    store.transaction(|tx| {
        store::get_org(tx, org_id)?
            .filter(|o| !o.deleted)
            .ok_or_else(|| Error::NotFound(format!("组织{org_id}")))?;
        store::put_code(
            tx,
            issued.code.as_str(),
            org_id,
            "operator",
            issued.issued_at.unix_timestamp(),
            issued.expires_at.unix_timestamp(),
        )?;
        store::audit(
            tx,
            None,
            "code.operator_issue",
            Some(org_id),
            &issued.code.masked(),
        )?;
        Ok(())
    })?;
    Ok(issued)
}

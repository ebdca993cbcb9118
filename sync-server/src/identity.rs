//! Identity and access (design.md "Identity and access", rules.md §7, §8): the look-up of the
//! organization a registration code was issued for, administrator registration with a
//! registration code (the code alone names the organization; it is consumed in the same
//! transaction that creates the account), login to an expiring, revocable session token (stored hashed), logout, and
//! the authentication of every request from the server's own session record (the
//! logged-in [`Actor`] every service serves); the audit records of failed logins and
//! tripped rate limits.

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use rand::RngExt;
use schemas::join::{JoinRule, YearMonth};
use schemas::person::PersonName;
use schemas::registration;
use schemas::{Category, Field, IdNumber, Mobile, RegistrationCode, Role, Violation};
use sha2::{Digest, Sha256};
use wire::protocol::{
    AncestorSummary, CodeLookupResponse, LoginRequest, LoginResponse, RegisterRequest,
    RegisterResponse,
};

use crate::error::{Error, Result};
use crate::storage::{Conn, NewAccount, OrgRow, Store};

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

/// The settings identity depends on.
#[derive(Debug, Clone, Default)]
pub struct IdentityConfig {
    /// The joining-age cutoff (rules.md §8; the notice's 2016-09-01 by default).
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

/// Check every field of a registration form (everything that needs no database) with
/// `schemas::registration`, as the client does, plus what only the server knows (the
/// organization's category, the configured joining-age cutoff), and hash the password.
/// Reports every violation at once.
pub fn check_registration(
    req: &RegisterRequest,
    category: Category,
    config: &IdentityConfig,
    today: time::Date,
) -> Result<CheckedRegistration> {
    let judge = registration::Judge {
        category: Some(category),
        join_rule: Some(&config.join_rule),
        today,
    };
    let c = registration::check(&req.form(), &judge).map_err(form_refused)?;
    Ok(CheckedRegistration {
        code: c.code,
        org_id: req.org_id.clone(),
        role: c.role,
        name: c.name,
        id_number: c.id_number,
        mobile: c.mobile,
        joined: c.joined,
        password_hash: hash_password(&req.password)?,
    })
}

/// The registration form refused, with every reason.
fn form_refused(violations: Vec<Violation>) -> Error {
    Error::violations("register.invalid", "注册信息有误,请按提示修改", violations)
}

/// A typed code, well-formed, or the registration form's refusal of it.
fn parse_code(raw: &str) -> Result<RegistrationCode> {
    RegistrationCode::parse(raw).map_err(|e| form_refused(vec![e.on(Field::RegistrationCode)]))
}

/// The live organization a code may register an admin for: the code exists
/// (case-sensitive), was issued for `org` when `org` names one (its id or short name;
/// empty: any; another organization's code reads as unknown), is unused and unexpired. The one judgement of a code, for the look-up and
/// for registration (inside its transaction). Returns the organization and when the code
/// expires.
fn code_org(c: &Conn<'_>, code: &RegistrationCode, org: &str, now: i64) -> Result<(OrgRow, i64)> {
    let Some(row) = c.code(code.as_str())? else {
        return Err(unknown_code());
    };
    let target = c.org(&row.org_id)?;
    let org = org.trim();
    let named = org.is_empty()
        || org == row.org_id
        || target
            .as_ref()
            .is_some_and(|t| schemas::name::names_equal(&t.short_name, org));
    // A code of another organization than the one named is answered as an unknown one:
    // the answer must not tell a guesser that a code exists.
    if !named {
        return Err(unknown_code());
    }
    if row.used_by.is_some() {
        return Err(used_code());
    }
    if schemas::code::expired(row.expires_at, now) {
        return Err(code_error(
            "code.expired",
            "注册码已过期(有效期20天),请联系上级组织管理员重新生成",
        ));
    }
    let target = target
        .filter(|o| !o.deleted)
        .ok_or_else(|| Error::NotFound("该组织".into()))?;
    Ok((target, row.expires_at))
}

/// The organization a registration is for, and its category (for the form's checks): by
/// the code, checked against the organization the form names, if any. A code that is not
/// even well-formed is refused with the form (the organization must then be named).
pub fn registration_org(store: &Store, req: &RegisterRequest, now: i64) -> Result<Category> {
    store.read(|c| {
        let org = match RegistrationCode::parse(&req.code) {
            Ok(code) => code_org(c, &code, &req.org_id, now)?.0,
            Err(e) if req.org_id.trim().is_empty() => {
                return Err(form_refused(vec![e.on(Field::RegistrationCode)]));
            }
            Err(_) => c
                .org(req.org_id.trim())?
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
        let record = c
            .org_doc(&org.id)?
            .ok_or_else(|| Error::NotFound("该组织".into()))?
            .record;
        let parent_short_name = c
            .org(&org.parent)?
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
        let account = NewAccount {
            org_id: &org_id,
            role: r.role.label(),
            name: r.name.as_str(),
            id_number: r.id_number.as_str(),
            mobile: r.mobile.as_str(),
            join_ym: &r.joined.to_string(),
            password_hash: &r.password_hash,
            created_at: now,
            last_login: None,
        };
        let Some(account_id) = tx.insert_account(&account)? else {
            return Err(Error::invalid(
                "account.exists",
                "该手机号已是本组织的管理员,请直接登录",
            ));
        };
        if !tx.use_code(code, account_id, now)? {
            return Err(used_code());
        }
        tx.add_admins(&org_id, 1, false)?;
        tx.touch_org(&org_id, Some(account_id))?;
        tx.audit(
            Some(account_id),
            "account.register",
            Some(&org_id),
            &format!("code {} mobile {}", r.code.masked(), r.mobile.masked()),
        )?;
        tracing::info!(account_id, org_id = %org_id, code = %r.code.masked(), "admin registered");
        Ok(RegisterResponse {
            account_id,
            org_id,
            org_short_name: org.short_name,
        })
    })
}

fn unknown_code() -> Error {
    code_error("code.unknown", "注册码不存在,请核对(注意区分大小写)")
}

fn used_code() -> Error {
    code_error("code.used", "该注册码已被使用,一个注册码仅限一位管理员注册")
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
    let accounts = store.read(|c| c.accounts_by_mobile(mobile.as_str()))?;
    let candidates: Vec<_> = accounts
        .into_iter()
        .filter(|a| req.org_id.as_ref().is_none_or(|o| *o == a.org_id))
        .collect();
    // Verify against every candidate; with none, against a dummy hash, so that an unknown
    // mobile takes as long to refuse as a wrong password (its timing tells nothing).
    if candidates.is_empty() {
        verify_password(&req.password, dummy_hash());
    }
    let matched: Vec<_> = candidates
        .into_iter()
        .filter(|a| verify_password(&req.password, &a.password_hash))
        .collect();
    let (account_id, org_id) = match matched.as_slice() {
        [] => return Err(wrong_login()),
        [a] => (a.account_id, a.org_id.clone()),
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
        tx.open_session(&hash_token(&token), account_id, now, expires_at)?;
        let org = tx
            .org(&org_id)?
            .ok_or_else(|| Error::NotFound("该组织".into()))?;
        if tx.mark_logged_in(&org_id)? {
            tx.touch_org(&org_id, Some(account_id))?;
        }
        tx.audit(Some(account_id), "account.login", Some(&org_id), "")?;
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
pub fn ancestors_of(c: &Conn<'_>, path: &str, org_id: &str) -> Result<Vec<AncestorSummary>> {
    let mut out = Vec::new();
    for id in path.split('/').filter(|s| !s.is_empty() && *s != org_id) {
        if let Some(rec) = c.org_doc(id)?.map(|d| d.record) {
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
    let session = store
        .read(|c| c.session(&hash_token(token), now))?
        .ok_or(Error::Unauthorized)?;
    Ok(Actor {
        account_id: session.account_id,
        org_id: session.org_id,
        org_path: session.org_path,
    })
}

/// Revoke a session.
pub fn logout(store: &Store, token: &str) -> Result<()> {
    store.transaction(|tx| tx.revoke_session(&hash_token(token)))
}

/// The id of the organization `org_id`, if it exists (deleted or not).
pub fn existing_org(store: &Store, org_id: &str) -> Result<Option<String>> {
    store.read(|c| Ok(c.org(org_id)?.map(|o| o.id)))
}

/// Audit a failed login (`shown`: the mobile masked; `from`: the client's address).
pub fn audit_failed_login(store: &Store, shown: &str, from: std::net::IpAddr) -> Result<()> {
    store.transaction(|tx| {
        tx.audit(
            None,
            "login.failed",
            None,
            &format!("mobile {shown} from {from}"),
        )
    })
}

/// Audit the rate-limit keys that reached their limit (as `limits::Key::shown`).
pub fn audit_rate_limit(store: &Store, keys: &[String]) -> Result<()> {
    store.transaction(|tx| {
        for k in keys {
            tx.audit(None, "ratelimit.trip", None, k)?;
        }
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
        tx.org(org_id)?
            .filter(|o| !o.deleted)
            .ok_or_else(|| Error::NotFound(format!("组织{org_id}")))?;
        tx.put_code(
            issued.code.as_str(),
            org_id,
            "operator",
            issued.issued_at.unix_timestamp(),
            issued.expires_at.unix_timestamp(),
        )?;
        tx.audit(
            None,
            "code.operator_issue",
            Some(org_id),
            &issued.code.masked(),
        )?;
        Ok(())
    })?;
    Ok(issued)
}

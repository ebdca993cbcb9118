//! `zhtj-server demo`: fill a server database with a realistic tree and a campaign in
//! progress, for demonstrations and for trying the supervision pages (rules.md §11).
//!
//! The tree is [`schemas::generate::chengdu_tree`] (or a [`schemas::generate::synthetic_tree`]
//! of a given size), its information partly filled by [`schemas::generate::fill_campaign`].
//! Documents are written directly through the store, in one transaction: new organizations
//! as one genesis change by a fixed demo actor ([`DEMO_ACTOR`]); the pre-initialized ones
//! (same ids in the generator and the database) keep their deterministic genesis and, if
//! still untouched, get the campaign's values as a second change, as their admins would
//! have entered them. The projection is written by `storage::Tx::put_org` with paths.
//!
//! Administrators: a seeded share of the organizations (more where the information is
//! complete, only below a parent that has one, as registration codes flow down the tree,
//! rules.md §7) get accounts, with the one demo password hashed once (Argon2 is slow on
//! purpose; every demo account shares the PHC string); most have logged in. Their
//! registration codes are recorded as used; other organizations below an admin have codes
//! issued and unused, some expired. `admin_count` and `logged_in` agree with the accounts.

use std::collections::{HashMap, HashSet};
use std::str::FromStr;
use std::time::{Duration, Instant};

use automerge::{ActorId, AutoCommit};
use schemas::RegistrationCode;
use schemas::generate::{self, GenOptions, SplitMix};
use schemas::org::{CodeRecord, Context, INFO_FIELDS, OrgRecord};
use schemas::{Category, Role};
use wire::{doc, heads};

use crate::error::{Error, Result};
use crate::storage::{self, Accepted, LevelSummary, NewAccount, Store, Tx};

/// The one password of every demo account.
pub const DEMO_PASSWORD: &str = "zhtj2017demo";

/// The Automerge actor of every document change the demo writes.
pub const DEMO_ACTOR: &[u8] = b"zhtj-demo";

/// The demo logins printed for the user: 团成都市委, 团锦江区委, and a street below it.
pub const CITY_MOBILE: &str = "13800028001";
pub const DISTRICT_MOBILE: &str = "13800028002";
pub const TOWN_MOBILE: &str = "13800028003";

/// The district whose admin is printed (团锦江区委).
pub const DEMO_DISTRICT: &str = "510104";

/// How big a tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DemoSize {
    /// The Chengdu tree ([`schemas::generate::chengdu_tree`], about 9,000 organizations).
    Chengdu,
    /// Exactly this many organizations ([`schemas::generate::synthetic_tree`]).
    Orgs(usize),
}

impl FromStr for DemoSize {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<DemoSize, String> {
        let s = s.trim();
        if s.eq_ignore_ascii_case("chengdu") || s == "成都" {
            return Ok(DemoSize::Chengdu);
        }
        s.replace(['_', ','], "")
            .parse::<usize>()
            .ok()
            .filter(|&n| (1..=5_000_000).contains(&n))
            .map(DemoSize::Orgs)
            .ok_or_else(|| format!("规模应为 chengdu 或 1 至 5000000 的组织数,“{s}”无效"))
    }
}

/// The options of a demo run.
#[derive(Debug, Clone)]
pub struct DemoOptions {
    pub seed: u64,
    pub size: DemoSize,
    /// The campaign's "now" (Unix seconds): document times, account and code dates.
    pub now: i64,
}

impl DemoOptions {
    pub fn new(seed: u64, size: DemoSize) -> DemoOptions {
        DemoOptions {
            seed,
            size,
            now: storage::now(),
        }
    }
}

/// A login printed for the user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DemoLogin {
    pub org_id: String,
    pub short_name: String,
    pub mobile: String,
    pub password: String,
}

/// What a run did.
#[derive(Debug, Clone, Default)]
pub struct DemoSummary {
    /// New organizations written.
    pub created: usize,
    /// Pre-initialized organizations given the campaign's values.
    pub updated: usize,
    /// Pre-initialized organizations the campaign leaves as they are (nothing to enter).
    pub unchanged: usize,
    /// Pre-initialized organizations already edited by their admins, left as they were.
    pub kept: usize,
    pub accounts: usize,
    /// Codes written: used by the demo accounts, and issued and unused.
    pub codes_used: usize,
    pub codes_open: usize,
    /// Each level's figures after the run (the whole database, not only what the run
    /// wrote).
    pub levels: Vec<LevelSummary>,
    pub logins: Vec<DemoLogin>,
    pub generate_time: Duration,
    pub write_time: Duration,
}

impl DemoSummary {
    /// The summary as printed by the CLI (Chinese, one line per level).
    pub fn report(&self) -> String {
        let mut s = String::new();
        s.push_str(&format!(
            "演示数据已写入:新建组织{}个,更新预置组织{}个(无需填写{}个,保留已修改的{}个);管理员账号{}个;注册码{}个(已使用{}个,未使用{}个)。\n",
            self.created,
            self.updated,
            self.unchanged,
            self.kept,
            self.accounts,
            self.codes_used + self.codes_open,
            self.codes_used,
            self.codes_open
        ));
        s.push_str(&format!(
            "生成用时{:.2}秒,写入用时{:.2}秒。\n\n",
            self.generate_time.as_secs_f64(),
            self.write_time.as_secs_f64()
        ));
        s.push_str("层级  组织数  信息完整  已登录  有管理员  已创建下级\n");
        for l in &self.levels {
            s.push_str(&format!(
                "{:>2}级 {:>7} {:>9} {:>7} {:>9} {:>10}\n",
                l.level, l.orgs, l.complete, l.logged_in, l.with_admin, l.with_children
            ));
        }
        s.push_str("\n演示登录(手机号 / 密码):\n");
        for l in &self.logins {
            s.push_str(&format!(
                "  {}({}):{} / {}\n",
                l.short_name, l.org_id, l.mobile, l.password
            ));
        }
        s
    }
}

/// One demo administrator.
struct Admin {
    role: Role,
    name: String,
    id_number: String,
    mobile: String,
    join_ym: String,
    created_at: i64,
    last_login: Option<i64>,
    /// The code this admin registered with.
    code: String,
}

/// The facts decided for one organization besides its document.
#[derive(Default)]
struct Facts {
    admins: Vec<Admin>,
    /// Codes issued and not used (code, issued_at).
    open_codes: Vec<(String, i64)>,
}

/// The share of organizations without complete information that have an admin, by level
/// (the parent issued a code and someone registered): committees register early, branches
/// late.
fn admin_base_rate(level: u8) -> f64 {
    match level {
        0..=2 => 0.0,
        3 => 1.0,
        4 => 0.7,
        5 => 0.4,
        6 => 0.12,
        _ => 0.1,
    }
}

/// Whether anything beyond the names is entered.
fn has_info(r: &OrgRecord) -> bool {
    INFO_FIELDS[3..]
        .iter()
        .any(|&f| !r.get(f).trim().is_empty())
}

/// Fill the database behind `store` with the demo tree and campaign. The store may be
/// fresh (the pre-initialized tree is created first) or hold the pre-initialized tree and
/// nothing else generated (refused otherwise, so a second run cannot mix two trees).
/// `progress` receives lines to show.
pub fn run(
    store: &Store,
    opts: &DemoOptions,
    progress: &mut dyn FnMut(&str),
) -> Result<DemoSummary> {
    let mut summary = DemoSummary::default();
    if !store.is_initialized()? {
        crate::operator::initialize_tree(store)?;
        progress("已初始化组织树(团中央 → 团四川省委 → 团成都市委 → 20个区(市)县团委)。");
    }
    let initial: HashSet<String> = schemas::initial::initial_tree()
        .into_iter()
        .map(|r| r.id)
        .collect();
    let existing: HashMap<String, String> = store.read(|c| c.org_paths())?;
    if let Some(other) = existing.keys().find(|id| !initial.contains(*id)) {
        return Err(Error::invalid(
            "demo.not_empty",
            format!(
                "数据库中已有预置组织以外的组织(如{other}),演示数据只能写入新的或仅有预置组织树的数据库;请换一个数据目录"
            ),
        ));
    }

    // 1. The tree and the campaign.
    let t0 = Instant::now();
    let gen_opts = GenOptions::new(opts.seed);
    let mut records = match opts.size {
        DemoSize::Chengdu => generate::chengdu_tree(&gen_opts),
        DemoSize::Orgs(n) => generate::synthetic_tree(&gen_opts, n),
    };
    generate::fill_campaign(&mut records, &gen_opts);
    let regions = generate::child_regions(&records);
    let complete: Vec<bool> = records
        .iter()
        .map(|r| {
            let region = regions.get(&r.parent).copied().flatten();
            r.completeness(&Context { region }).is_complete()
        })
        .collect();
    progress(&format!(
        "已生成{}个组织(种子{}),其中信息完整{}个。",
        records.len(),
        opts.seed,
        complete.iter().filter(|&&c| c).count()
    ));

    // 2. Administrators and codes.
    let facts = decide_facts(&mut records, &complete, opts, store)?;
    summary.generate_time = t0.elapsed();

    // 3. One transaction: documents, projection, accounts, codes.
    let t1 = Instant::now();
    let phc = crate::identity::hash_password(DEMO_PASSWORD)?;
    let actor = ActorId::from(DEMO_ACTOR);
    store.transaction(|tx| {
        // A bulk load: the progress roll-ups are computed once at the end.
        tx.defer_rollups();
        let mut paths = existing.clone();
        const BATCH: usize = 2048;
        let total = records.len();
        let mut done = 0;
        let (records, existing, actor) = (&records, &existing, &actor);
        // The Automerge work of the new documents, spread over the cores, one batch ahead
        // of the writes.
        let (send, batches) = std::sync::mpsc::sync_channel::<Result<Vec<NewDoc>>>(1);
        std::thread::scope(|s| -> Result<()> {
            s.spawn(move || {
                for chunk in records.chunks(BATCH) {
                    let docs = geneses(chunk, existing, actor, opts.now);
                    let failed = docs.is_err();
                    if send.send(docs).is_err() || failed {
                        break;
                    }
                }
            });
            for (batch_no, chunk) in records.chunks(BATCH).enumerate() {
                let base = batch_no * BATCH;
                let docs = batches
                    .recv()
                    .map_err(|_| Error::Internal("演示数据生成线程异常退出".into()))??;
                for (i, (r, new_doc)) in chunk.iter().zip(docs).enumerate() {
                    let k = base + i;
                    let path = match paths.get(&r.parent) {
                        Some(p) => format!("{p}{}/", r.id),
                        None => format!("/{}/", r.id),
                    };
                    let wrote = match new_doc {
                        Some((bytes, heads)) => {
                            tx.put_org(
                                &Accepted {
                                    record: r,
                                    path: &path,
                                    complete: complete[k],
                                    bytes: &bytes,
                                    heads: &heads,
                                },
                                None,
                                None,
                            )?;
                            summary.created += 1;
                            true
                        }
                        None => match update_existing(tx, r, complete[k], actor, opts.now)? {
                            Existing::Updated => {
                                summary.updated += 1;
                                true
                            }
                            Existing::Unchanged => {
                                summary.unchanged += 1;
                                false
                            }
                            Existing::Kept => {
                                summary.kept += 1;
                                false
                            }
                        },
                    };
                    paths.entry(r.id.clone()).or_insert(path);
                    write_facts(tx, r, &facts[k], wrote, &phc, &mut summary)?;
                }
                let before = done;
                done += chunk.len();
                if done == total || done * 10 / total > before * 10 / total {
                    progress(&format!("已写入 {done}/{total}"));
                }
            }
            Ok(())
        })?;
        progress("计算录入进度汇总……");
        tx.rebuild_rollups()?;
        tx.audit(
            None,
            "demo.fill",
            None,
            &format!(
                "seed {} size {:?}: {} created, {} updated, {} accounts",
                opts.seed, opts.size, summary.created, summary.updated, summary.accounts
            ),
        )?;
        Ok(())
    })?;
    summary.write_time = t1.elapsed();

    summary.levels = store.read(|c| c.level_summary())?;
    summary.logins = demo_logins(&records, &facts);
    Ok(summary)
}

/// A new document's bytes and heads; `None` for an organization already stored.
type NewDoc = Option<(Vec<u8>, Vec<u8>)>;

/// The genesis documents of the records not yet in the database, computed on every core.
fn geneses(
    chunk: &[OrgRecord],
    existing: &HashMap<String, String>,
    actor: &ActorId,
    now: i64,
) -> Result<Vec<NewDoc>> {
    let one = |r: &OrgRecord| -> Result<NewDoc> {
        if existing.contains_key(&r.id) {
            return Ok(None);
        }
        let mut d =
            doc::genesis(r, actor.clone(), now).map_err(|e| Error::Internal(e.to_string()))?;
        let heads = heads::encode(&d.get_heads());
        Ok(Some((d.save_nocompress(), heads)))
    };
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .clamp(1, 8);
    let per = chunk.len().div_ceil(threads).max(1);
    let parts: Vec<Result<Vec<_>>> = std::thread::scope(|s| {
        let handles: Vec<_> = chunk
            .chunks(per)
            .map(|part| s.spawn(move || part.iter().map(one).collect::<Result<Vec<_>>>()))
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(Error::Internal("演示数据生成线程异常退出".into())))
            })
            .collect()
    });
    let mut out = Vec::with_capacity(chunk.len());
    for p in parts {
        out.extend(p?);
    }
    Ok(out)
}

/// What became of a pre-initialized organization.
enum Existing {
    /// Given the campaign's values.
    Updated,
    /// Nothing to enter: the campaign leaves it empty.
    Unchanged,
    /// Already edited by a real admin: left as it was.
    Kept,
}

/// Give a pre-initialized organization the campaign's values, as a change by the demo
/// actor on top of its stored document, if it still holds nothing but its names (a real
/// admin's edits are kept).
fn update_existing(
    tx: &Tx<'_>,
    r: &OrgRecord,
    complete: bool,
    actor: &ActorId,
    now: i64,
) -> Result<Existing> {
    let (Some(row), Some(doc)) = (tx.org(&r.id)?, tx.org_doc(&r.id)?) else {
        return Ok(Existing::Kept);
    };
    let (bytes, stored) = (doc.bytes, doc.record);
    let untouched = !has_info(&stored)
        && stored.codes.is_empty()
        && stored.short_name == r.short_name
        && stored.full_name == r.full_name
        && stored.category == r.category
        && stored.parent == r.parent
        && !stored.deleted;
    if !untouched {
        return Ok(Existing::Kept);
    }
    if stored == *r {
        return Ok(Existing::Unchanged);
    }
    let mut d = AutoCommit::load(&bytes)?.with_actor(actor.clone());
    if !doc::write(&mut d, &stored, r, now).map_err(|e| Error::Internal(e.to_string()))? {
        return Ok(Existing::Unchanged);
    }
    let after = doc::read(&d);
    let heads = heads::encode(&d.get_heads());
    tx.put_org(
        &Accepted {
            record: &after,
            path: &row.path,
            complete,
            bytes: &d.save_nocompress(),
            heads: &heads,
        },
        Some(&row),
        None,
    )?;
    Ok(Existing::Updated)
}

/// Decide who has administrators, who logged in, and which codes were issued; codes go
/// into the records (the parent's admin issues them into the child's document, rules.md §7).
fn decide_facts(
    records: &mut [OrgRecord],
    complete: &[bool],
    opts: &DemoOptions,
    store: &Store,
) -> Result<Vec<Facts>> {
    let city = schemas::initial::org_id(schemas::divisions::chengdu_code());
    let district = schemas::initial::org_id(DEMO_DISTRICT);
    let mut taken_codes: HashSet<String> = store.read(|c| c.all_codes())?;
    let mut mobiles: HashSet<String> = [CITY_MOBILE, DISTRICT_MOBILE, TOWN_MOBILE]
        .into_iter()
        .map(str::to_owned)
        .collect();
    let new_code = |taken: &mut HashSet<String>| loop {
        let c = RegistrationCode::generate(&mut rand::rng())
            .as_str()
            .to_owned();
        if taken.insert(c.clone()) {
            return c;
        }
    };
    let mut with_admin: HashSet<String> = HashSet::new();
    let mut town_login_given = false;
    let day = 86_400;
    let mut out = Vec::with_capacity(records.len());
    for (k, r) in records.iter_mut().enumerate() {
        let mut rng = SplitMix::for_key(opts.seed ^ 0xde30_0000_0000_0001, &r.id);
        let mut f = Facts::default();
        let category = Category::parse(&r.category).unwrap_or(Category::Branch);
        // Codes reach an organization from its parent's admin (the operator for the city
        // and the districts).
        let parent_has_admin = with_admin.contains(&r.parent) || r.level == 4;
        let issued_by = if r.level <= 4 {
            None
        } else {
            Some(r.parent.clone())
        };
        let p_admin = if r.level <= 3 {
            admin_base_rate(r.level)
        } else if complete[k] {
            0.92
        } else if has_info(r) {
            0.7
        } else {
            admin_base_rate(r.level)
        };
        let forced_mobile = if r.id == city {
            Some(CITY_MOBILE)
        } else if r.id == district {
            Some(DISTRICT_MOBILE)
        } else if !town_login_given && r.parent == district && r.level == 5 {
            town_login_given = true;
            Some(TOWN_MOBILE)
        } else {
            None
        };
        let has_admin =
            forced_mobile.is_some() || (parent_has_admin && r.level >= 3 && rng.chance(p_admin));
        if has_admin {
            let n = if category != Category::Branch && rng.chance(0.15) {
                2
            } else {
                1
            };
            for i in 0..n {
                let use_secretary = i == 0
                    && !r.secretary_name.is_empty()
                    && !r.secretary_id_number.is_empty()
                    && !r.secretary_mobile.is_empty()
                    && rng.chance(0.7);
                let person = generate::random_person(&mut rng, 1980..=1997);
                let (name, id_number, mut mobile, role) = if use_secretary {
                    (
                        r.secretary_name.clone(),
                        r.secretary_id_number.clone(),
                        r.secretary_mobile.clone(),
                        Role::Secretary,
                    )
                } else {
                    let roles = Role::offered_by(category);
                    let role = if i == 0 && rng.chance(0.5) {
                        Role::Secretary
                    } else {
                        *rng.pick(&roles)
                    };
                    (
                        person.name.clone(),
                        person.id_number.clone(),
                        person.mobile.clone(),
                        role,
                    )
                };
                match forced_mobile {
                    // Reserved in `mobiles` from the start.
                    Some(m) if i == 0 => mobile = m.to_owned(),
                    _ => {
                        while !mobiles.insert(mobile.clone()) {
                            mobile = generate::random_mobile(&mut rng);
                        }
                    }
                }
                let created_at = opts.now - i64::from(rng.range(1..=12)) * day
                    + i64::from(rng.range(0..=36_000));
                let logged_in = forced_mobile.is_some() || rng.chance(0.93);
                let last_login =
                    logged_in.then(|| created_at + i64::from(rng.range(60..=3 * 86_400)));
                let code = new_code(&mut taken_codes);
                if let Some(by) = &issued_by {
                    r.codes.insert(
                        code.clone(),
                        CodeRecord {
                            issued_at: created_at - i64::from(rng.range(3_600..=4 * 86_400)),
                            expires_at: 0,
                            issued_by: by.clone(),
                        },
                    );
                }
                f.admins.push(Admin {
                    role,
                    name,
                    id_number,
                    mobile,
                    join_ym: person.join_year_month(&mut rng),
                    created_at,
                    last_login: last_login.map(|t| t.min(opts.now)),
                    code,
                });
            }
            with_admin.insert(r.id.clone());
        } else if parent_has_admin && r.level >= 5 && rng.chance(0.6) {
            // Issued, not used yet; some past their 20 days.
            let code = new_code(&mut taken_codes);
            let issued_at =
                opts.now - i64::from(rng.range(0..=24)) * day - i64::from(rng.range(0..=36_000));
            r.codes.insert(
                code.clone(),
                CodeRecord {
                    issued_at,
                    expires_at: 0,
                    issued_by: r.parent.clone(),
                },
            );
            f.open_codes.push((code, issued_at));
        }
        for c in r.codes.values_mut() {
            c.expires_at = c.issued_at + schemas::code::VALIDITY_DAYS * day;
        }
        out.push(f);
    }
    Ok(out)
}

/// Write one organization's accounts and codes, and the facts that follow from them.
fn write_facts(
    tx: &Tx<'_>,
    r: &OrgRecord,
    f: &Facts,
    doc_written: bool,
    phc: &str,
    summary: &mut DemoSummary,
) -> Result<()> {
    if f.admins.is_empty() && f.open_codes.is_empty() {
        return Ok(());
    }
    // A pre-initialized organization kept as it was has no demo codes in its document:
    // its codes stay server-side (issued by the operator).
    let in_doc = |code: &str| doc_written && r.codes.contains_key(code);
    let mut logged_in = false;
    for a in &f.admins {
        let account_id = tx
            .insert_account(&NewAccount {
                org_id: &r.id,
                role: a.role.label(),
                name: &a.name,
                id_number: &a.id_number,
                mobile: &a.mobile,
                join_ym: &a.join_ym,
                password_hash: phc,
                created_at: a.created_at,
                last_login: a.last_login,
            })?
            .ok_or_else(|| Error::Internal(format!("演示账号手机号重复:{}", a.mobile)))?;
        let (issued_by, issued_at, expires_at) = match r.codes.get(&a.code) {
            Some(c) if in_doc(&a.code) => (c.issued_by.clone(), c.issued_at, c.expires_at),
            _ => {
                let at = a.created_at - 3_600;
                (
                    "operator".to_owned(),
                    at,
                    at + schemas::code::VALIDITY_DAYS * 86_400,
                )
            }
        };
        tx.put_code(&a.code, &r.id, &issued_by, issued_at, expires_at)?;
        tx.use_code(&a.code, account_id, a.created_at)?;
        logged_in |= a.last_login.is_some();
        summary.accounts += 1;
        summary.codes_used += 1;
    }
    for (code, _) in &f.open_codes {
        if let Some(c) = r.codes.get(code).filter(|_| in_doc(code)) {
            tx.put_code(code, &r.id, &c.issued_by, c.issued_at, c.expires_at)?;
            summary.codes_open += 1;
        }
    }
    if !f.admins.is_empty() {
        tx.add_admins(&r.id, f.admins.len() as i64, logged_in)?;
        if !doc_written {
            // Its facts changed without its document: subtrees pulling must see them.
            tx.touch_org(&r.id, None)?;
        }
    }
    Ok(())
}

/// The logins to print: the city's, the district's and the street's fixed mobiles.
fn demo_logins(records: &[OrgRecord], facts: &[Facts]) -> Vec<DemoLogin> {
    let mut out = Vec::new();
    for mobile in [CITY_MOBILE, DISTRICT_MOBILE, TOWN_MOBILE] {
        if let Some((r, _)) = records
            .iter()
            .zip(facts)
            .find(|(_, f)| f.admins.iter().any(|a| a.mobile == mobile))
        {
            out.push(DemoLogin {
                org_id: r.id.clone(),
                short_name: r.short_name.clone(),
                mobile: mobile.to_owned(),
                password: DEMO_PASSWORD.to_owned(),
            });
        }
    }
    out
}

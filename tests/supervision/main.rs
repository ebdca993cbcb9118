//! End-to-end: progress supervision (录入进度督导, rules.md §11) against a real server on a
//! loopback port, through the client calls of `client_core::supervise`:
//! - every count, row, overdue item, roll-up and the completeness finding of the progress
//!   service agree with brute force over random trees (`schemas::progress::tally`,
//!   `Schedule::overdue`, `committees_without_branch`), property-tested on trees written
//!   straight into the server's projection;
//! - a small campaign through replicas and pushes shows up the same way;
//! - overdue items follow the schedule's dates (`as_of` before and after a deadline), and
//!   the schedule the city sets (stored on the server) once it is set; a schedule with a
//!   deadline before the start or an unknown item is refused;
//! - the Excel report opens with the expected sheets, headers and counts, and no full
//!   mobile or ID number appears in any cell;
//! - daily snapshots, the operator's snapshot, and the report's comparison with the
//!   previous one;
//! - an organization outside the admin's subtree is refused.

use std::path::Path;
use std::sync::atomic::{AtomicU32, Ordering};

use calamine::{Reader, Xlsx};
use client_core::protocol::ProgressResponse;
use client_core::supervise::{self, ProgressQuery};
use client_core::sync::Remote;
use client_core::{Error, NewChild, Replica};
use e2e::{
    CITY, JINJIANG, TestServer, id_number, login_request, mobile, personal_runs, registration,
    replica_dir, spawn_server,
};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use schemas::progress::{self, LevelCounts, Overdue, ProgressRow, Schedule, Task, UnitFacts};
use schemas::{Category, Field, Level, Mobile};
use time::{Date, OffsetDateTime, PrimitiveDateTime};

fn register(remote: &Remote, code: &str, org: &str, n: u32, name: &str) {
    remote.register(&registration(code, org, n, name)).unwrap();
}

fn login(remote: &Remote, n: u32) -> client_core::protocol::LoginResponse {
    remote.login(&login_request(n)).unwrap()
}

/// 团成都市委's admin (account n = 1), registered with the first code and logged in.
fn city_admin(server: &TestServer) -> (Remote, String) {
    let remote = Remote::new(&server.url).unwrap();
    register(&remote, &server.first_code, CITY, 1, "张三");
    let token = login(&remote, 1).token;
    (remote, token)
}

/// An admin of `org` registered with a code the operator issued, logged in.
fn admin_of(server: &TestServer, org: &str, n: u32, name: &str) -> (Remote, String) {
    let code = server.issue_code(org);
    let remote = Remote::new(&server.url).unwrap();
    register(&remote, &code, org, n, name);
    let token = login(&remote, n).token;
    (remote, token)
}

fn path_of(server: &TestServer, id: &str) -> String {
    server
        .state
        .store
        .read(|c| Ok(c.org(id)?.unwrap().path))
        .unwrap()
}

fn now() -> i64 {
    OffsetDateTime::now_utc().unix_timestamp()
}

fn day(s: &str) -> Date {
    sync_server::progress::parse_day(s).unwrap()
}

fn query(org: &str, level: Option<u8>, as_of: Option<&str>) -> ProgressQuery {
    ProgressQuery {
        org: Some(org.to_owned()),
        level,
        offset: 0,
        limit: Some(500),
        as_of: as_of.map(str::to_owned),
    }
}

// ------------------------------------------------------------------ synthetic trees

/// An organization written straight into the server's projection (documents are empty:
/// progress never reads them), with its admins and codes.
#[derive(Debug, Clone)]
struct Unit {
    id: String,
    parent: String,
    path: String,
    level: u8,
    category: String,
    short_name: String,
    phone: String,
    complete: bool,
    logged_in: bool,
    deleted: bool,
    live_children: i64,
    /// (name, mobile, ID number)
    admins: Vec<(String, String, String)>,
    /// (code, expires_at, used)
    codes: Vec<(String, i64, bool)>,
}

fn insert(server: &TestServer, units: &[Unit]) {
    server
        .state
        .store
        .transaction(|tx| {
            use sync_server::storage::Value::{Bytes, Int, Null, Text};
            for (i, u) in units.iter().enumerate() {
                tx.execute_sql(
                    "INSERT INTO orgs(id, parent, path, level, sort_key, deleted, category,
                         short_name, name_key, full_name, phone, complete, live_children,
                         admin_count, logged_in, seq, record, bytes, heads)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?1, '', ?9, ?10, ?11, ?12, ?13, 0,
                             '{}', ?14, ?14)",
                    &[
                        Text(&u.id),
                        Text(&u.parent),
                        Text(&u.path),
                        Int(u.level.into()),
                        Int(i as i64),
                        Int(u.deleted.into()),
                        Text(&u.category),
                        Text(&u.short_name),
                        Text(&u.phone),
                        Int(u.complete.into()),
                        Int(u.live_children),
                        Int(u.admins.len() as i64),
                        Int(u.logged_in.into()),
                        Bytes(b""),
                    ],
                )?;
                for (name, mobile, idn) in &u.admins {
                    tx.execute_sql(
                        "INSERT INTO accounts(org_id, role, name, id_number, mobile, join_ym,
                             password_hash, created_at)
                         VALUES (?1, '书记', ?2, ?3, ?4, '2005-05', '', 0)",
                        &[Text(&u.id), Text(name), Text(idn), Text(mobile)],
                    )?;
                }
                for (code, expires_at, used) in &u.codes {
                    let used = if *used { Int(1) } else { Null };
                    tx.execute_sql(
                        "INSERT INTO codes(code, org_id, issued_by, issued_at, expires_at,
                             used_by, used_at)
                         VALUES (?1, ?2, 'operator', 0, ?3, ?4, ?4)",
                        &[Text(code), Text(&u.id), Int(*expires_at), used],
                    )?;
                }
            }
            // The roots hang under existing organizations: keep their counts in step.
            for u in units {
                if !u.deleted && !units.iter().any(|p| p.id == u.parent) {
                    tx.execute_sql(
                        "UPDATE orgs SET live_children = live_children + 1 WHERE id = ?1",
                        &[Text(&u.parent)],
                    )?;
                }
            }
            // Rows written as given: the roll-ups are computed from them.
            tx.rebuild_rollups()?;
            Ok(())
        })
        .unwrap();
}

/// What proptest draws for one organization below a case's root.
#[derive(Debug, Clone)]
struct Spec {
    parent: usize,
    category: usize,
    logged_in: bool,
    complete: bool,
    admins: usize,
    code: u8,
    deleted: bool,
    phone: u8,
}

fn spec() -> impl Strategy<Value = Spec> {
    (
        any::<usize>(),
        any::<usize>(),
        any::<bool>(),
        any::<bool>(),
        0usize..3,
        0u8..4,
        prop::bool::weighted(0.12),
        0u8..3,
    )
        .prop_map(
            |(parent, category, logged_in, complete, admins, code, deleted, phone)| Spec {
                parent,
                category,
                logged_in,
                complete,
                admins,
                code,
                deleted,
                phone,
            },
        )
}

static PERSON: AtomicU32 = AtomicU32::new(10_000);

const NAMES: [&str; 3] = ["李四", "欧阳娜娜", "王五"];

/// A tree under `parent` (at `parent_path`, level `parent_level`): a root 团的领导机关 and
/// one organization per spec, each under a live earlier one whose category may contain
/// it (rules.md §1, §2). Deleted organizations have no live children (as the merge
/// enforces); only live ones have admins.
fn build(
    tag: &str,
    parent: &str,
    parent_path: &str,
    parent_level: u8,
    specs: &[Spec],
) -> Vec<Unit> {
    let now = now();
    let root_id = format!("{tag}-root");
    let mut units = vec![Unit {
        path: format!("{parent_path}{root_id}/"),
        id: root_id,
        parent: parent.to_owned(),
        level: parent_level + 1,
        category: Category::LeadingOrgan.label().to_owned(),
        short_name: format!("团{tag}区委"),
        phone: "028-61310936".into(),
        complete: true,
        logged_in: false,
        deleted: false,
        live_children: 0,
        admins: Vec::new(),
        codes: Vec::new(),
    }];
    for (i, s) in specs.iter().enumerate() {
        let candidates: Vec<usize> = (0..units.len())
            .filter(|&j| {
                !units[j].deleted
                    && units[j].level < 12
                    && Category::parse(&units[j].category).is_ok_and(Category::has_children)
            })
            .collect();
        let p = candidates[s.parent % candidates.len()];
        let allowed = Category::parse(&units[p].category)
            .unwrap()
            .allowed_children();
        let category = allowed[s.category % allowed.len()];
        let id = format!("{tag}-{i:02}");
        units.push(Unit {
            path: format!("{}{id}/", units[p].path),
            id,
            parent: units[p].id.clone(),
            level: units[p].level + 1,
            category: category.label().to_owned(),
            short_name: format!("第{i}{}", category.label()),
            phone: String::new(),
            complete: s.complete,
            logged_in: false,
            deleted: s.deleted,
            live_children: 0,
            admins: Vec::new(),
            codes: Vec::new(),
        });
    }
    // A deleted organization with a live child is not deleted after all.
    for i in (0..units.len()).rev() {
        if !units[i].deleted {
            let parent = units[i].parent.clone();
            if let Some(p) = units.iter_mut().find(|u| u.id == parent) {
                p.deleted = false;
            }
        }
    }
    for i in 0..units.len() {
        units[i].live_children = units
            .iter()
            .filter(|c| c.parent == units[i].id && !c.deleted)
            .count() as i64;
    }
    for (i, s) in specs.iter().enumerate() {
        let u = &mut units[i + 1];
        if !u.deleted {
            for a in 0..s.admins {
                let n = PERSON.fetch_add(1, Ordering::Relaxed);
                u.admins
                    .push((NAMES[a % NAMES.len()].to_owned(), mobile(n), id_number(n)));
            }
            u.logged_in = s.logged_in && !u.admins.is_empty();
        }
        let n = PERSON.fetch_add(1, Ordering::Relaxed);
        u.phone = match s.phone {
            0 => String::new(),
            1 => format!("137{n:08}"),
            _ => format!("028-8{:07}", n % 10_000_000),
        };
        let code = format!("{}K{n}", u.id);
        match s.code {
            1 => u.codes.push((code, now + 10 * 86_400, false)),
            2 => u.codes.push((code, now - 86_400, false)),
            3 => u.codes.push((code, now + 10 * 86_400, true)),
            _ => {}
        }
    }
    units
}

// ------------------------------------------------------------------ brute force

fn live(units: &[Unit]) -> impl Iterator<Item = &Unit> {
    units.iter().filter(|u| !u.deleted)
}

fn has_valid_code(u: &Unit, now: i64) -> bool {
    u.codes.iter().any(|(_, exp, used)| !used && *exp > now)
}

fn facts(u: &Unit, units: &[Unit], now: i64) -> UnitFacts {
    let kids: Vec<&Unit> = live(units).filter(|k| k.parent == u.id).collect();
    UnitFacts {
        level: Level::new(u.level).unwrap(),
        category: Category::parse(&u.category).ok(),
        logged_in: u.logged_in,
        info_complete: u.complete,
        created_children: !kids.is_empty(),
        children_without_code: kids
            .iter()
            .filter(|k| k.admins.is_empty() && !has_valid_code(k, now))
            .count() as u32,
    }
}

fn row(u: &Unit, f: &UnitFacts, now: i64) -> ProgressRow {
    ProgressRow {
        org_id: u.id.clone(),
        short_name: u.short_name.clone(),
        logged_in: u.logged_in,
        info_complete: u.complete,
        created_children: f.expects_children().then_some(f.created_children),
        admins: u
            .admins
            .iter()
            .map(|(n, _, _)| schemas::person::mask_name(n))
            .collect(),
        phone: match Mobile::parse(&u.phone) {
            Ok(m) => m.masked(),
            Err(_) => u.phone.clone(),
        },
        code: if u.admins.is_empty() {
            u.codes
                .iter()
                .filter(|(_, exp, used)| !used && *exp > now)
                .max_by(|a, b| (a.1, &a.0).cmp(&(b.1, &b.0)))
                .map(|c| c.0.clone())
        } else {
            None
        },
    }
}

fn generated_at(resp: &ProgressResponse) -> PrimitiveDateTime {
    PrimitiveDateTime::parse(
        &resp.generated_at,
        time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]"),
    )
    .unwrap()
}

/// Every number of the progress of `units[0]` (fetched level by level, page by page)
/// against brute force over `units`.
fn check_case(
    remote: &Remote,
    token: &str,
    units: &[Unit],
    as_of: &str,
    page: u32,
) -> Result<(), TestCaseError> {
    let root = &units[0];
    let now = now();
    let today = day(as_of);
    let schedule = Schedule::default();
    let below: Vec<&Unit> = live(units).filter(|u| u.id != root.id).collect();
    let first = supervise::fetch_progress_with(remote, token, &query(&root.id, None, Some(as_of)))
        .map_err(|e| TestCaseError::fail(e.to_string()))?;
    prop_assert_eq!(&first.as_of, as_of);
    let at = generated_at(&first);
    prop_assert_eq!(at.date(), today);

    // Tabs: every non-empty level, with its counts and sentence.
    let mut levels: Vec<u8> = below.iter().map(|u| u.level).collect();
    levels.sort_unstable();
    levels.dedup();
    prop_assert_eq!(
        first.tabs.iter().map(|t| t.level).collect::<Vec<_>>(),
        levels.clone()
    );
    for tab in &first.tabs {
        let fs: Vec<UnitFacts> = below
            .iter()
            .filter(|u| u.level == tab.level)
            .map(|u| facts(u, units, now))
            .collect();
        let want: LevelCounts = progress::tally(&fs);
        prop_assert_eq!(tab.counts, want, "level {}", tab.level);
        let lvl = Level::new(tab.level).unwrap();
        prop_assert_eq!(&tab.title, &progress::tab_title(lvl));
        prop_assert_eq!(
            &tab.sentence,
            &progress::summary_sentence(at, &root.short_name, lvl, &want)
        );
    }

    // Rows and overdue items, level by level, page by page.
    for level in &levels {
        let mut want: Vec<&Unit> = below
            .iter()
            .copied()
            .filter(|u| u.level == *level)
            .collect();
        want.sort_by(|a, b| a.path.cmp(&b.path));
        let mut got = Vec::new();
        let mut offset = 0;
        let mut tab_overdue;
        loop {
            let resp = supervise::fetch_progress_with(
                remote,
                token,
                &ProgressQuery {
                    org: Some(root.id.clone()),
                    level: Some(*level),
                    offset,
                    limit: Some(page),
                    as_of: Some(as_of.to_owned()),
                },
            )
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(resp.page.total, want.len() as u64);
            prop_assert!(resp.page.rows.len() <= page as usize);
            tab_overdue = resp
                .tabs
                .iter()
                .find(|t| t.level == *level)
                .map(|t| t.overdue.clone())
                .unwrap_or_default();
            if resp.page.rows.is_empty() {
                break;
            }
            offset += resp.page.rows.len() as u64;
            got.extend(resp.page.rows);
        }
        prop_assert_eq!(got.len(), want.len());
        let mut late: std::collections::HashMap<Task, u64> = Default::default();
        for (g, u) in got.iter().zip(&want) {
            let f = facts(u, units, now);
            prop_assert_eq!(&g.row, &row(u, &f, now));
            prop_assert_eq!(&g.category, &u.category);
            let overdue: Vec<Overdue> = schedule.overdue(&f, today);
            for o in &overdue {
                *late.entry(o.task).or_default() += 1;
            }
            prop_assert_eq!(&g.overdue, &overdue, "{}", u.id);
            // Personal data is masked.
            for (_, m, _) in &u.admins {
                prop_assert!(!g.row.admins.iter().any(|a| a == m));
            }
            prop_assert!(!g.row.phone.starts_with("137") || g.row.phone.contains("****"));
        }
        // The tab's overdue counts (codes counted for the requested tab).
        let lvl = Level::new(*level).unwrap();
        let passed: Vec<_> = schedule.for_level(lvl).filter(|d| today > d.due).collect();
        prop_assert_eq!(tab_overdue.len(), passed.len());
        for o in &tab_overdue {
            prop_assert_eq!(o.units, Some(late.get(&o.task).copied().unwrap_or(0)));
        }
    }

    // The completeness finding, the root included.
    let nodes: Vec<progress::TreeNode<'_>> = live(units)
        .map(|u| progress::TreeNode {
            id: &u.id,
            parent: if u.id == root.id { "" } else { &u.parent },
            category: Category::parse(&u.category).ok(),
        })
        .collect();
    let mut want = progress::committees_without_branch(&nodes);
    want.sort_by_key(|id| units.iter().find(|u| u.id == *id).map(|u| u.path.clone()));
    prop_assert_eq!(first.without_branch_total, want.len() as u64);
    prop_assert_eq!(
        first
            .without_branch
            .iter()
            .map(|u| u.org_id.as_str())
            .collect::<Vec<_>>(),
        want
    );

    // Roll-ups per direct child.
    let children: Vec<&Unit> = below
        .iter()
        .copied()
        .filter(|u| u.parent == root.id)
        .collect();
    prop_assert_eq!(first.rollups.len(), children.len());
    prop_assert_eq!(first.rollups_total, children.len() as u64);
    for k in &first.rollups {
        let child = children.iter().find(|c| c.id == k.org_id).unwrap();
        let fs: Vec<UnitFacts> = live(units)
            .filter(|u| u.path.starts_with(&child.path))
            .map(|u| facts(u, units, now))
            .collect();
        prop_assert_eq!(k.counts, progress::tally(&fs));
    }
    Ok(())
}

const AS_OF: [&str; 6] = [
    "2017-12-18",
    "2017-12-19",
    "2017-12-21",
    "2017-12-27",
    "2018-01-09",
    "2018-01-21",
];

#[test]
fn every_count_agrees_with_brute_force_on_random_trees() {
    let server = spawn_server();
    let (remote, token) = city_admin(&server);
    let city_path = path_of(&server, CITY);
    let case = AtomicU32::new(0);
    let mut runner = TestRunner::new(Config {
        cases: 24,
        failure_persistence: None,
        ..Config::default()
    });
    runner
        .run(
            &(
                prop::collection::vec(spec(), 1..36),
                0..AS_OF.len(),
                1u32..9,
            ),
            |(specs, as_of, page)| {
                let tag = format!("p{}", case.fetch_add(1, Ordering::Relaxed));
                let units = build(&tag, CITY, &city_path, 3, &specs);
                insert(&server, &units);
                check_case(&remote, &token, &units, AS_OF[as_of], page)
            },
        )
        .unwrap();
}

// ------------------------------------------------------------------ campaign

fn child(category: &str, name: &str) -> NewChild {
    NewChild {
        category: category.into(),
        short_name: name.into(),
        ..NewChild::default()
    }
}

#[test]
fn a_campaign_through_replicas_shows_in_progress() {
    let server = spawn_server();
    let (remote, _) = city_admin(&server);
    let login = login(&remote, 1);
    let (_dir, path) = replica_dir();
    let mut city = Replica::create_for_login(&path, &server.url, &login).unwrap();
    city.sync(&remote, &mut |_, _, _| {}).unwrap();
    // The city creates two towns and a branch under 团锦江区委 and fills its phone (a
    // mobile); 团锦江区委's admin registers and logs in.
    let town = city
        .create_child(JINJIANG, &child("团工委", "春熙路街道团工委"))
        .unwrap();
    city.create_child(JINJIANG, &child("团工委", "书院街街道团工委"))
        .unwrap();
    city.create_child(&town, &child("团支部", "红星路社区团支部"))
        .unwrap();
    city.update_info(JINJIANG, &[(Field::Phone, mobile(77))])
        .unwrap();
    let report = city.sync(&remote, &mut |_, _, _| {}).unwrap();
    assert!(report.rejected.is_empty(), "{:?}", report.rejected);
    admin_of(&server, JINJIANG, 2, "李四");

    let p = supervise::fetch_progress(&remote, &login.token, None, None, 0, 50).unwrap();
    assert_eq!(p.org_id, CITY);
    assert_eq!(
        p.tabs.iter().map(|t| t.title.as_str()).collect::<Vec<_>>(),
        vec!["四级组织录入情况", "五级组织录入情况", "六级组织录入情况"]
    );
    let four = &p.tabs[0].counts;
    assert_eq!(
        (four.total, four.logged_in, four.created_children),
        (20, 1, 1)
    );
    assert!(
        p.tabs[0]
            .sentence
            .contains("团成都市委共有四级组织20个,其中1个已登录系统,19个未登录系统"),
        "{}",
        p.tabs[0].sentence
    );
    let jj = p
        .page
        .rows
        .iter()
        .find(|r| r.row.org_id == JINJIANG)
        .unwrap();
    assert_eq!(jj.row.admins, vec!["李*"]);
    assert_eq!(jj.row.phone, "138****0077");
    assert_eq!(jj.row.created_children, Some(true));
    assert_eq!(jj.row.code, None);
    // The finding: 书院街街道团工委 has no branch; 春熙路 has one.
    assert_eq!(p.without_branch_total, 1);
    assert_eq!(p.without_branch[0].short_name, "书院街街道团工委");
    assert_eq!(p.without_branch[0].parent_short_name, "团锦江区委");
    let roll = p.rollups.iter().find(|r| r.org_id == JINJIANG).unwrap();
    assert_eq!(roll.counts.total, 4, "the district, two towns and a branch");
    assert_eq!(roll.logged_in_percent, 25.0);

    // 团锦江区委's admin sees its own subtree: tabs from level 5.
    let (dr, dt) = (remote.clone(), login_token(&remote, 2));
    let p = supervise::fetch_progress(&dr, &dt, None, None, 0, 50).unwrap();
    assert_eq!(p.org_id, JINJIANG);
    assert_eq!(p.tabs[0].level, 5);
    assert_eq!(p.tabs[0].counts.total, 2);
    assert!(p.tabs[0].sentence.contains("团锦江区委共有五级组织2个"));
}

fn login_token(remote: &Remote, n: u32) -> String {
    login(remote, n).token
}

// ------------------------------------------------------------------ overdue items

#[test]
fn overdue_items_follow_the_schedule_dates() {
    let server = spawn_server();
    let (remote, token) = city_admin(&server);
    // A town under 团锦江区委, without an admin or a code.
    let units = vec![Unit {
        id: "town-1".into(),
        parent: JINJIANG.into(),
        path: format!("{}town-1/", path_of(&server, JINJIANG)),
        level: 5,
        category: "团工委".into(),
        short_name: "春熙路街道团工委".into(),
        phone: String::new(),
        complete: false,
        logged_in: false,
        deleted: false,
        live_children: 0,
        admins: Vec::new(),
        codes: Vec::new(),
    }];
    insert(&server, &units);
    let at = |d: &str| {
        supervise::fetch_progress_with(&remote, &token, &query(CITY, Some(4), Some(d))).unwrap()
    };
    // The deadline day itself is not late.
    let p = at("2017-12-18");
    assert!(p.tabs[0].overdue.is_empty());
    assert!(p.page.rows.iter().all(|r| r.overdue.is_empty()));
    // The day after: every district is late with its information; 团锦江区委 has created
    // its children, the 19 others have not.
    let p = at("2017-12-19");
    let counts: Vec<(Task, Option<u64>)> = p.tabs[0]
        .overdue
        .iter()
        .map(|o| (o.task, o.units))
        .collect();
    assert_eq!(
        counts,
        vec![
            (Task::InfoComplete, Some(20)),
            (Task::ChildrenCreated, Some(19))
        ]
    );
    assert_eq!(p.tabs[0].overdue[0].due, "2017-12-18");
    let jj = p
        .page
        .rows
        .iter()
        .find(|r| r.row.org_id == JINJIANG)
        .unwrap();
    assert_eq!(
        jj.overdue.iter().map(|o| o.task).collect::<Vec<_>>(),
        vec![Task::InfoComplete]
    );
    // Codes to level 5 were due on 12-20: 团锦江区委's town has none.
    let p = at("2017-12-21");
    let codes = p.tabs[0]
        .overdue
        .iter()
        .find(|o| o.task == Task::CodesIssued)
        .unwrap();
    assert_eq!(codes.units, Some(1));
    let jj = p
        .page
        .rows
        .iter()
        .find(|r| r.row.org_id == JINJIANG)
        .unwrap();
    assert!(jj.overdue.iter().any(|o| o.task == Task::CodesIssued));
    // Not for the level-5 tab's units before their own dates; after 12-26, the town is late.
    let p =
        supervise::fetch_progress_with(&remote, &token, &query(CITY, Some(5), Some("2017-12-26")))
            .unwrap();
    assert!(p.page.rows[0].overdue.is_empty());
    let p =
        supervise::fetch_progress_with(&remote, &token, &query(CITY, Some(5), Some("2017-12-27")))
            .unwrap();
    assert_eq!(
        p.page.rows[0]
            .overdue
            .iter()
            .map(|o| o.task)
            .collect::<Vec<_>>(),
        vec![Task::InfoComplete, Task::ChildrenCreated]
    );
    // A bad date is refused.
    let err =
        supervise::fetch_progress_with(&remote, &token, &query(CITY, None, Some("2017-13-01")))
            .unwrap_err();
    assert!(matches!(err, Error::Server { status: 400, .. }), "{err:?}");
}

// ------------------------------------------------------------------ report

/// Every sheet of a workbook: (name, cells by absolute row and column, as text).
fn read_sheets(path: &Path) -> Vec<(String, Vec<Vec<String>>)> {
    let mut wb: Xlsx<_> = calamine::open_workbook(path).unwrap();
    let names = wb.sheet_names();
    names
        .into_iter()
        .map(|name| {
            let range = wb.worksheet_range(&name).unwrap();
            let (r0, c0) = range.start().unwrap_or((0, 0));
            let mut grid: Vec<Vec<String>> = vec![Vec::new(); r0 as usize];
            for row in range.rows() {
                let mut cells = vec![String::new(); c0 as usize];
                cells.extend(row.iter().map(|c| c.to_string()));
                grid.push(cells);
            }
            (name, grid)
        })
        .collect()
}

#[test]
fn the_report_has_the_sheets_and_counts_and_no_personal_data() {
    let server = spawn_server();
    let (remote, token) = city_admin(&server);
    admin_of(&server, JINJIANG, 2, "李四");
    // A district's subtree with admins, mobiles as phones, codes.
    let qingyang = "org-510105";
    let specs: Vec<Spec> = (0..40)
        .map(|i| Spec {
            parent: i * 7,
            category: i * 3,
            logged_in: i.is_multiple_of(2),
            complete: i.is_multiple_of(3),
            admins: i % 3,
            code: (i % 4) as u8,
            deleted: false,
            phone: (i % 3) as u8,
        })
        .collect();
    let units = build("r", qingyang, &path_of(&server, qingyang), 4, &specs);
    insert(&server, &units);
    let secrets: Vec<String> = units
        .iter()
        .flat_map(|u| {
            u.admins
                .iter()
                .flat_map(|(_, m, i)| [m.clone(), i.clone()])
                .chain(Mobile::parse(&u.phone).ok().map(|m| m.as_str().to_owned()))
        })
        .chain([mobile(1), id_number(1), mobile(2), id_number(2)])
        .collect();
    assert!(secrets.len() > 40);

    let p = supervise::fetch_progress(&remote, &token, None, None, 0, 50).unwrap();
    let (dir, _) = replica_dir();
    let out = dir.path().join("report.xlsx");
    let got = supervise::download_report(&remote, &token, None, &out).unwrap();
    assert_eq!(got.bytes, std::fs::metadata(&out).unwrap().len());
    let name = got.suggested_name.unwrap();
    assert!(
        name.starts_with("团成都市委下级组织录入情况") && name.ends_with(".xlsx"),
        "{name}"
    );

    let sheets = read_sheets(&out);
    let names: Vec<&str> = sheets.iter().map(|(n, _)| n.as_str()).collect();
    let mut want = vec!["汇总"];
    want.extend(p.tabs.iter().map(|t| t.title.as_str()));
    want.extend(["逾期事项", "未建团支部的团委、团工委、团总支"]);
    assert_eq!(names, want);
    for tab in &p.tabs {
        let (_, grid) = sheets.iter().find(|(n, _)| *n == tab.title).unwrap();
        // The sentence on top (the hour may have turned between the two requests).
        let tail = |s: &str| s.split_once(',').map(|(_, t)| t.to_owned()).unwrap();
        assert_eq!(tail(&grid[0][0]), tail(&tab.sentence));
        assert_eq!(
            grid[1],
            schemas::progress::ROW_HEADERS.map(str::to_owned).to_vec()
        );
        let rows: Vec<&Vec<String>> = grid[2..]
            .iter()
            .filter(|r| r.first().is_some_and(|c| !c.is_empty()))
            .collect();
        assert_eq!(rows.len() as u64, tab.counts.total, "{}", tab.title);
        let logged = rows.iter().filter(|r| r[1] == "是").count() as u64;
        let complete = rows.iter().filter(|r| r[2] == "是").count() as u64;
        let created = rows.iter().filter(|r| r[3] == "是").count() as u64;
        let branches = rows.iter().filter(|r| r[3] == "不适用").count() as u64;
        assert_eq!(
            (logged, complete, created, branches),
            (
                tab.counts.logged_in,
                tab.counts.info_complete,
                tab.counts.created_children,
                tab.counts.branches
            )
        );
    }
    // 汇总: each level's total now; the direct children's roll-ups.
    let (_, summary) = &sheets[0];
    for tab in &p.tabs {
        let label = Level::new(tab.level).unwrap().to_string();
        let row = summary.iter().find(|r| r.first() == Some(&label)).unwrap();
        assert_eq!(row[1], tab.counts.total.to_string());
    }
    let qy = summary
        .iter()
        .find(|r| r.first().map(String::as_str) == Some("团青羊区委"))
        .unwrap();
    assert_eq!(qy[2], (live(&units).count() + 1).to_string());
    // The finding sheet lists what the service found.
    let (_, finding) = sheets.last().unwrap();
    assert_eq!(
        finding.len() - 2,
        p.without_branch_total as usize,
        "rows below the title and headers"
    );
    // Masked data appears; full mobiles and ID numbers nowhere.
    let all: Vec<&String> = sheets
        .iter()
        .flat_map(|(_, g)| g.iter().flatten())
        .collect();
    assert!(all.iter().any(|c| c.as_str() == "李*"));
    assert!(all.iter().any(|c| c.contains("****")));
    for cell in &all {
        assert!(
            personal_runs(cell).is_empty(),
            "personal data in a cell: {cell}"
        );
        for s in &secrets {
            assert!(!cell.contains(s.as_str()), "{s} in {cell}");
        }
    }
}

// ------------------------------------------------------------------ snapshots

#[test]
fn snapshots_are_taken_daily_and_the_report_compares() {
    let server = spawn_server();
    let (remote, token) = city_admin(&server);
    let store = &server.state.store;
    let today = sync_server::progress::Clock::system().day;
    let yesterday = today.previous_day().unwrap();

    // The first progress request of the day takes the day's snapshot.
    let p = supervise::fetch_progress(&remote, &token, None, None, 0, 10).unwrap();
    let h = supervise::fetch_history(&remote, &token, None).unwrap();
    assert_eq!(h.days.len(), 1);
    assert_eq!(h.days[0].day, sync_server::progress::fmt_day(today));
    assert_eq!(h.days[0].levels[0].counts, p.tabs[0].counts);

    // A snapshot two days old and the operator's snapshot of yesterday (all orgs).
    let before = today.previous_day().unwrap().previous_day().unwrap();
    store
        .transaction(|tx| {
            sync_server::progress::write_snapshot(
                tx,
                CITY,
                before,
                &[(
                    4,
                    LevelCounts {
                        total: 15,
                        ..LevelCounts::default()
                    },
                )],
                true,
            )
        })
        .unwrap();
    let n = sync_server::progress::snapshot_all(store, yesterday).unwrap();
    assert!(n >= 3, "团中央, 团四川省委, 团成都市委 at least: {n}");
    let h = supervise::fetch_history(&remote, &token, Some(CITY)).unwrap();
    assert_eq!(
        h.days.iter().map(|d| d.day.clone()).collect::<Vec<_>>(),
        [before, yesterday, today].map(sync_server::progress::fmt_day)
    );
    assert_eq!(h.days[0].levels[0].counts.total, 15);
    assert_eq!(h.days[1].levels[0].counts, p.tabs[0].counts);

    // Yesterday's is the one compared with: 3 new level-4 units since.
    store
        .transaction(|tx| {
            sync_server::progress::write_snapshot(
                tx,
                CITY,
                yesterday,
                &[(
                    4,
                    LevelCounts {
                        total: 17,
                        logged_in: 2,
                        ..LevelCounts::default()
                    },
                )],
                true,
            )
        })
        .unwrap();
    let (dir, _) = replica_dir();
    let out = dir.path().join("r.xlsx");
    supervise::download_report(&remote, &token, Some(CITY), &out).unwrap();
    let sheets = read_sheets(&out);
    let (_, summary) = &sheets[0];
    let header = format!("上次快照({})", sync_server::progress::fmt_day(yesterday));
    assert!(
        summary.iter().flatten().any(|c| *c == header),
        "{summary:?}"
    );
    let four = summary
        .iter()
        .find(|r| r.first().map(String::as_str) == Some("四级"))
        .unwrap();
    // 本次: total, logged in …; 上次: 17, 2 …; 变化: +3, -2 …
    assert_eq!(&four[1..3], ["20", "0"]);
    assert_eq!(&four[5..7], ["17", "2"]);
    assert_eq!(&four[9..11], ["3", "-2"]);
}

// ------------------------------------------------------------------ authorization

#[test]
fn an_organization_outside_the_subtree_is_refused() {
    let server = spawn_server();
    city_admin(&server);
    let (remote, token) = admin_of(&server, JINJIANG, 2, "李四");
    let other = schemas::initial::initial_tree()
        .into_iter()
        .find(|r| r.level == 4 && r.id != JINJIANG)
        .unwrap()
        .id;
    let refused = |r: client_core::Result<()>| match r {
        Err(Error::Server { status, body }) => {
            assert_eq!((status, body.code.as_str()), (403, "auth.outside_subtree"));
        }
        other => panic!("expected a refusal, got {other:?}"),
    };
    for org in [CITY, other.as_str(), "org-unknown"] {
        refused(supervise::fetch_progress(&remote, &token, Some(org), None, 0, 10).map(|_| ()));
        refused(supervise::fetch_history(&remote, &token, Some(org)).map(|_| ()));
        let (dir, _) = replica_dir();
        let out = dir.path().join("r.xlsx");
        refused(supervise::download_report(&remote, &token, Some(org), &out).map(|_| ()));
        assert!(!out.exists(), "no file is left behind");
    }
    // Its own subtree is fine; without a login, nothing.
    let p = supervise::fetch_progress(&remote, &token, Some(JINJIANG), None, 0, 10).unwrap();
    assert_eq!(p.org_short_name, "团锦江区委");
    assert!(matches!(
        supervise::fetch_progress(&remote, "not-a-token", None, None, 0, 10),
        Err(Error::LoginRequired)
    ));
    // A level above the organization is a bad request.
    assert!(matches!(
        supervise::fetch_progress(&remote, &token, None, Some(3), 0, 10),
        Err(Error::Server { status: 400, .. })
    ));
}

// ------------------------------------------------------------------ the city's schedule

#[test]
fn the_city_sets_a_schedule_and_overdue_items_follow_it() {
    use sync_server::schedule::{self, Changes};
    let server = spawn_server();
    let (remote, token) = city_admin(&server);
    let at = |d: &str| {
        supervise::fetch_progress_with(&remote, &token, &query(CITY, Some(4), Some(d))).unwrap()
    };
    let late = |p: &ProgressResponse| -> Vec<(Task, String, Option<u64>)> {
        p.tabs[0]
            .overdue
            .iter()
            .filter(|o| o.units != Some(0))
            .map(|o| (o.task, o.due.clone(), o.units))
            .collect()
    };
    // The notice's schedule: in December 2026 every district is nine years late.
    let p = at("2026-12-10");
    assert_eq!(p.schedule, Schedule::default());
    assert_eq!(
        late(&p)[..2],
        [
            (Task::InfoComplete, "2017-12-18".to_owned(), Some(20)),
            (Task::ChildrenCreated, "2017-12-18".to_owned(), Some(20))
        ]
    );

    // The city runs the campaign from 2026-12-01: the notice's dates moved there, with
    // the districts' information due on 12-15.
    let set = schedule::change(
        &server.state.store,
        &Changes {
            start: Some("2026-12-01".into()),
            items: vec!["4.info=2026-12-15".into()],
            ..Changes::default()
        },
    )
    .unwrap();
    let p = at("2026-12-10");
    assert_eq!(
        p.schedule, set,
        "the progress view judges by the stored schedule"
    );
    assert_eq!(
        late(&p),
        [(Task::ChildrenCreated, "2026-12-04".to_owned(), Some(20))],
        "information is not due yet; creating children was due on 12-04"
    );
    assert!(p.page.rows.iter().all(|r| {
        r.overdue.iter().map(|o| o.task).collect::<Vec<_>>() == [Task::ChildrenCreated]
    }));
    let p = at("2026-12-04");
    assert!(late(&p).is_empty(), "the due day itself is not late");
    let p = at("2026-12-16");
    assert_eq!(
        late(&p)[0],
        (Task::InfoComplete, "2026-12-15".to_owned(), Some(20))
    );
    // The report follows the same schedule.
    let (dir, _) = replica_dir();
    let out = dir.path().join("report.xlsx");
    supervise::download_report(&remote, &token, None, &out).unwrap();
    let text: String = read_sheets(&out)
        .into_iter()
        .flat_map(|(_, rows)| rows.into_iter().flatten())
        .collect::<Vec<_>>()
        .join("\n");
    assert!(text.contains("活动开始日期:2026-12-01"), "{text}");
    assert!(text.contains("2026-12-15") && !text.contains("2017-12-18"));

    // Refused, with a Chinese reason, and nothing changed: a deadline before the start,
    // an unknown item.
    for (item, code, says) in [
        (
            "4.info=2026-11-20",
            "schedule.before_start",
            "早于活动开始日期2026-12-01",
        ),
        (
            "9.info=2026-12-20",
            "schedule.unknown_item",
            "没有“9.info”这一事项",
        ),
        ("4.info=2026-12-32", "schedule.bad_date", "格式不对"),
    ] {
        let e = schedule::change(
            &server.state.store,
            &Changes {
                items: vec![item.into()],
                ..Changes::default()
            },
        )
        .unwrap_err();
        assert_eq!(e.code(), "schedule.invalid");
        let sync_server::Error::Invalid { violations, .. } = &e else {
            panic!("{e:?}");
        };
        assert_eq!(violations[0].code, code, "{item}");
        assert!(
            violations[0].message.contains(says),
            "{}",
            violations[0].message
        );
    }
    assert_eq!(at("2026-12-10").schedule, set, "unchanged");
}

/// A progress response carries the roll-ups of the first 200 direct children in the tree's
/// order and says how many there are (a district with two thousand direct children is
/// answered in milliseconds; the report has them all).
#[test]
fn the_roll_ups_of_many_direct_children_are_the_first_200_and_the_total() {
    let server = spawn_server();
    let (remote, token) = city_admin(&server);
    let specs: Vec<Spec> = (0..205)
        .map(|i| Spec {
            parent: 0,
            category: i,
            logged_in: false,
            complete: i % 2 == 0,
            admins: 0,
            code: 0,
            deleted: false,
            phone: 0,
        })
        .collect();
    let units = build("w", JINJIANG, &path_of(&server, JINJIANG), 4, &specs);
    insert(&server, &units);
    let root = &units[0];
    assert_eq!(units.iter().filter(|u| u.parent == root.id).count(), 205);
    let p = supervise::fetch_progress(&remote, &token, Some(&root.id), None, 0, 10).unwrap();
    assert_eq!(p.rollups_total, 205);
    let shown: Vec<&str> = p.rollups.iter().map(|r| r.org_id.as_str()).collect();
    let first: Vec<&str> = units[1..=200].iter().map(|u| u.id.as_str()).collect();
    assert_eq!(shown, first, "the first 200 in the tree's order");
    assert!(p.rollups.iter().all(|r| r.counts.total == 1));
}

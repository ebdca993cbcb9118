//! Progress supervision at scale (a bench binary: `cargo bench -p sync-server --bench
//! progress`): a 100,000-organization projection written straight into a temporary
//! store's `orgs` table (documents are empty blobs: progress never reads them), then the
//! progress of the root (团成都市委), of a district and of a town (budget: 50 ms each),
//! of the root's deepest tabs, and the Excel report of the root (budget: 3 s for 100,000
//! rows).

use std::time::{Duration, Instant};

use rusqlite::params;
use schemas::progress::Schedule;
use sync_server::identity::Actor;
use sync_server::progress::{self, Clock, ProgressParams};
use sync_server::report;
use sync_server::storage::Store;

/// A small deterministic generator (no seeding API needed).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }

    fn hex_id(&mut self) -> String {
        format!("{:012x}{:012x}", self.next(), self.next())
    }
}

struct Node {
    id: String,
    parent: String,
    path: String,
    level: u8,
    category: &'static str,
    name: String,
    children: i64,
}

/// 团中央 → 团四川省委 → 团成都市委 → 20 districts → 20 towns each → 8 villages or
/// communities each → 30 units each (28 branches, 2 general branches; the first general
/// branch of every village has a branch below it at level 8): 100,003 organizations.
fn tree(rng: &mut Lcg) -> Vec<Node> {
    let mut nodes = vec![
        Node {
            id: "org-1".into(),
            parent: String::new(),
            path: "/org-1/".into(),
            level: 1,
            category: "团的领导机关",
            name: "团中央".into(),
            children: 1,
        },
        Node {
            id: "org-51".into(),
            parent: "org-1".into(),
            path: "/org-1/org-51/".into(),
            level: 2,
            category: "团的领导机关",
            name: "团四川省委".into(),
            children: 1,
        },
        Node {
            id: "org-5101".into(),
            parent: "org-51".into(),
            path: "/org-1/org-51/org-5101/".into(),
            level: 3,
            category: "团的领导机关",
            name: "团成都市委".into(),
            children: 20,
        },
    ];
    let child = |rng: &mut Lcg, parent: &Node, category: &'static str, name: String, n: i64| {
        let id = rng.hex_id();
        Node {
            path: format!("{}{id}/", parent.path),
            id,
            parent: parent.id.clone(),
            level: parent.level + 1,
            category,
            name,
            children: n,
        }
    };
    let city = nodes.len() - 1;
    for d in 0..20 {
        let district = child(
            rng,
            &nodes[city],
            "团的领导机关",
            format!("团第{d}区委"),
            20,
        );
        let di = nodes.len();
        nodes.push(district);
        for t in 0..20 {
            let cat = if t % 2 == 0 { "团工委" } else { "团委" };
            let town = child(rng, &nodes[di], cat, format!("第{t}街道{cat}"), 8);
            let ti = nodes.len();
            nodes.push(town);
            for v in 0..8 {
                let village = child(rng, &nodes[ti], "团委", format!("第{v}社区团委"), 30);
                let vi = nodes.len();
                nodes.push(village);
                for u in 0..30 {
                    let (cat, n) = match u {
                        0 => ("团总支", 1),
                        1 => ("团总支", 0),
                        _ => ("团支部", 0),
                    };
                    let unit = child(rng, &nodes[vi], cat, format!("第{u}{cat}"), n);
                    let ui = nodes.len();
                    nodes.push(unit);
                    if n == 1 {
                        let b = child(rng, &nodes[ui], "团支部", "第1班团支部".into(), 0);
                        nodes.push(b);
                    }
                }
            }
        }
    }
    nodes
}

fn id_number(n: u64) -> String {
    let first17 = format!("51010419900101{:03}", n % 1000);
    format!(
        "{first17}{}",
        schemas::IdNumber::check_char(&first17).unwrap()
    )
}

fn build_store(dir: &std::path::Path) -> (Store, Vec<Node>) {
    let store = Store::open(&dir.join("bench.sqlite3")).unwrap();
    let mut rng = Lcg(20171207);
    let nodes = tree(&mut rng);
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    store
        .transaction(|tx| {
            let mut org = tx.sqlite().prepare(
                "INSERT INTO orgs(id, parent, path, level, sort_key, deleted, category, short_name,
                     name_key, full_name, phone, complete, live_children, admin_count, logged_in,
                     seq, record, bytes, heads)
                 VALUES (?1, ?2, ?3, ?4, ?5, 0, ?6, ?7, ?8, '', ?9, ?10, ?11, ?12, ?13, 0, '{}',
                         x'', x'')",
            )?;
            let mut account = tx.sqlite().prepare(
                "INSERT INTO accounts(org_id, role, name, id_number, mobile, join_ym,
                     password_hash, created_at, last_login)
                 VALUES (?1, '书记', '张三丰', ?2, ?3, '2005-05', '', ?4, ?4)",
            )?;
            let mut code = tx.sqlite().prepare(
                "INSERT INTO codes(code, org_id, issued_by, issued_at, expires_at)
                 VALUES (?1, ?2, 'operator', ?3, ?4)",
            )?;
            for (i, n) in nodes.iter().enumerate() {
                let admin = n.level <= 4 || rng.chance(35);
                let logged = admin && rng.chance(80);
                let complete = rng.chance(40);
                let phone = if rng.chance(50) {
                    format!("139{:08}", i)
                } else {
                    "028-61310936".to_owned()
                };
                org.execute(params![
                    n.id,
                    n.parent,
                    n.path,
                    n.level,
                    i as i64,
                    n.category,
                    n.name,
                    n.id,
                    phone,
                    complete,
                    n.children,
                    i64::from(admin),
                    logged
                ])?;
                if admin {
                    account.execute(params![
                        n.id,
                        id_number(i as u64),
                        format!("138{:08}", i),
                        now
                    ])?;
                } else if rng.chance(50) {
                    code.execute(params![format!("C{i:07}"), n.id, now, now + 20 * 86_400])?;
                }
            }
            drop((org, account, code));
            // Rows written as given: the progress roll-ups are computed from them.
            tx.rebuild_rollups()
        })
        .unwrap();
    (store, nodes)
}

fn time_it<T>(runs: usize, mut f: impl FnMut() -> T) -> (Duration, Duration, T) {
    let mut times = Vec::with_capacity(runs);
    let mut last = None;
    for _ in 0..runs {
        let t = Instant::now();
        last = Some(f());
        times.push(t.elapsed());
    }
    times.sort();
    (times[0], times[times.len() / 2], last.unwrap())
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn main() {
    let dir = tempfile::TempDir::new().unwrap();
    let t = Instant::now();
    let (store, nodes) = build_store(dir.path());
    println!(
        "progress benchmarks: {} organizations written in {:.1} s (release, 2 shared cores)",
        nodes.len(),
        t.elapsed().as_secs_f64()
    );
    let actor = Actor {
        account_id: 1,
        org_id: "org-5101".into(),
        org_path: "/org-1/org-51/org-5101/".into(),
    };
    let schedule = Schedule::default();
    let district = nodes.iter().find(|n| n.level == 4).unwrap();
    let town = nodes.iter().find(|n| n.level == 5).unwrap();
    let cases: Vec<(&str, ProgressParams)> = vec![
        ("root (团成都市委, 4级 tab)", ProgressParams::default()),
        (
            "district (5级 tab)",
            ProgressParams {
                org: Some(district.id.clone()),
                ..Default::default()
            },
        ),
        (
            "town (6级 tab)",
            ProgressParams {
                org: Some(town.id.clone()),
                ..Default::default()
            },
        ),
        (
            "root, 6级 tab (3,200 units, 96,000 children)",
            ProgressParams {
                level: Some(6),
                ..Default::default()
            },
        ),
        (
            "root, 7级 tab, page at offset 50,000",
            ProgressParams {
                level: Some(7),
                offset: Some(50_000),
                limit: Some(100),
                ..Default::default()
            },
        ),
    ];
    // Where the root's time goes.
    let root = store.read(|c| Ok(c.org("org-5101")?.unwrap())).unwrap();
    let clock = Clock::system();
    store
        .read(|c| {
            let (_, scan, sub) = time_it(5, || progress::scan(c, &root, None).unwrap());
            let parts: Vec<(&str, Duration)> = vec![
                ("one scan of the subtree (counts, roll-ups, finding)", scan),
                (
                    "the same scan counting 4级 units late with codes",
                    time_it(5, || {
                        progress::scan(c, &root, Some((4, clock.now))).unwrap()
                    })
                    .1,
                ),
                (
                    "the same scan counting 6级 units late with codes",
                    time_it(5, || {
                        progress::scan(c, &root, Some((6, clock.now))).unwrap()
                    })
                    .1,
                ),
                (
                    "roll-up names",
                    time_it(5, || {
                        progress::rollups(c, &root, &sub.child_counts()).unwrap()
                    })
                    .1,
                ),
                (
                    "page of 50 (4级 tab)",
                    time_it(5, || {
                        progress::page(c, &root, 4, 0, 50, &clock, &schedule).unwrap()
                    })
                    .1,
                ),
            ];
            println!("  root breakdown (median of 5):");
            for (name, d) in parts {
                println!("    {name}: {:.1} ms", ms(d));
            }
            Ok(())
        })
        .unwrap();
    let mut worst = Duration::ZERO;
    for (name, q) in &cases {
        let first = Instant::now();
        let resp = progress::progress(&store, &actor, q, &schedule, Clock::system()).unwrap();
        let first = first.elapsed();
        let (min, median, _) = time_it(7, || {
            progress::progress(&store, &actor, q, &schedule, Clock::system()).unwrap()
        });
        worst = worst.max(median);
        let below: u64 = resp.tabs.iter().map(|t| t.counts.total).sum();
        println!(
            "  progress of {name}: first {:.1} ms (with the day's snapshot), then min {:.1} ms, median {:.1} ms; {below} units below, {} tabs, {} rows, {} children rolled up, {} without branch",
            ms(first),
            ms(min),
            ms(median),
            resp.tabs.len(),
            resp.page.rows.len(),
            resp.rollups.len(),
            resp.without_branch_total
        );
    }
    println!(
        "  worst median {:.1} ms (budget 50 ms): {}",
        ms(worst),
        if worst < Duration::from_millis(50) {
            "ok"
        } else {
            "OVER BUDGET"
        }
    );

    let (min, median, (name, bytes)) = time_it(3, || {
        report::build(&store, &actor, None, &schedule, Clock::system()).unwrap()
    });
    println!(
        "  report of the root ({} rows over the level sheets): min {:.2} s, median {:.2} s, {:.1} MB, {name} (budget 3 s: {})",
        nodes.len() - 3,
        min.as_secs_f64(),
        median.as_secs_f64(),
        bytes.len() as f64 / 1e6,
        if median < Duration::from_secs(3) {
            "ok"
        } else {
            "OVER BUDGET"
        }
    );
    let (_, gather, _) = time_it(3, || {
        store
            .read(|c| report::gather(c, &actor, "org-5101", &schedule, Clock::system()))
            .unwrap()
    });
    println!(
        "    of which gathering under the database lock: median {:.2} s (the workbook is written after)",
        gather.as_secs_f64()
    );
    let t = Instant::now();
    let n = progress::snapshot_all(&store, Clock::system().day).unwrap();
    println!(
        "  operator snapshot of every organization: {n} organizations in {:.2} s",
        t.elapsed().as_secs_f64()
    );
}

//! Benchmarks of the replica (a bench binary, run with `cargo bench -p client-core`):
//! Excel import of 10,000 rows, creating 5,000 organizations offline in one batch, and
//! opening a replica of 50,000 organizations. Prints one line per figure; the README
//! carries the latest figures.

use std::time::Instant;

use client_core::excel::{self, ImportRow};
use client_core::{NewChild, Replica};
use rust_xlsxwriter::Workbook;

fn rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .map(|kb| kb / 1024.0)
        .unwrap_or(f64::NAN)
}

fn branch(i: usize) -> NewChild {
    NewChild {
        category: "团支部".into(),
        short_name: format!("第{i}车间团支部"),
        industry: "国有企业".into(),
        phone: "028-61310936".into(),
        ..NewChild::default()
    }
}

fn committee(i: usize) -> NewChild {
    NewChild {
        category: "团委".into(),
        short_name: format!("第{i}公司团委"),
        ..NewChild::default()
    }
}

fn write_sheet(path: &std::path::Path, rows: usize) {
    let mut wb = Workbook::new();
    let ws = wb.add_worksheet();
    let headers = [
        "组织简称*",
        "组织类别*",
        "组织全称",
        "单位所属行业类别",
        "联系电话",
    ];
    for (c, h) in headers.iter().enumerate() {
        ws.write_string(0, c as u16, *h).unwrap();
    }
    for i in 0..rows {
        let r = i as u32 + 1;
        ws.write_string(r, 0, format!("第{i}车间团支部")).unwrap();
        ws.write_string(r, 1, "团支部").unwrap();
        ws.write_string(r, 3, "国有企业").unwrap();
        ws.write_number(r, 4, 13812345678.0).unwrap();
    }
    wb.save(path).unwrap();
}

fn main() {
    let dir = tempfile::TempDir::new().unwrap();
    println!(
        "replica benchmarks (release, this machine: {} cores)",
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    );

    // 1. Excel import of 10,000 rows.
    let sheet = dir.path().join("import.xlsx");
    write_sheet(&sheet, 10_000);
    let mut r =
        Replica::create_from_initial(&dir.path().join("import.sqlite3"), "团锦江区委").unwrap();
    let own = r.own_id().to_owned();
    let t = Instant::now();
    let rows: Vec<ImportRow> = excel::read_import(&sheet).unwrap();
    let read = t.elapsed();
    let t2 = Instant::now();
    let bad = r
        .validate_children(
            &own,
            &rows
                .iter()
                .map(|x| NewChild {
                    category: x.category.clone(),
                    short_name: x.short_name.clone(),
                    industry: x.industry.clone(),
                    phone: x.phone.clone(),
                    ..NewChild::default()
                })
                .collect::<Vec<_>>(),
        )
        .unwrap();
    let validate = t2.elapsed();
    assert!(bad.is_empty());
    let t3 = Instant::now();
    let out = r.import_rows(&own, &rows, None, &mut |_, _| {}).unwrap();
    let whole = t3.elapsed();
    assert_eq!(out.created.len(), 10_000);
    println!(
        "import 10,000 rows: read {:.0} ms, validate {:.0} ms; read+validate {:.0} ms; validate+create (import_rows) {:.0} ms; total {:.0} ms",
        read.as_secs_f64() * 1e3,
        validate.as_secs_f64() * 1e3,
        (read + validate).as_secs_f64() * 1e3,
        whole.as_secs_f64() * 1e3,
        (read + whole).as_secs_f64() * 1e3,
    );

    // 2. Creating 5,000 organizations offline, one batch.
    let mut r =
        Replica::create_from_initial(&dir.path().join("create.sqlite3"), "团锦江区委").unwrap();
    let own = r.own_id().to_owned();
    let batch: Vec<NewChild> = (0..5_000).map(branch).collect();
    let t = Instant::now();
    r.create_children(&own, &batch, &mut |_, _| {}).unwrap();
    println!(
        "create 5,000 organizations offline (one batch): {:.0} ms",
        t.elapsed().as_secs_f64() * 1e3
    );

    // 3. A replica of 50,000 organizations: 50 committees of 999 branches each.
    let path = dir.path().join("big.sqlite3");
    {
        let mut r = Replica::create_from_initial(&path, "团锦江区委").unwrap();
        let own = r.own_id().to_owned();
        let committees = r
            .create_children(
                &own,
                &(0..50).map(committee).collect::<Vec<_>>(),
                &mut |_, _| {},
            )
            .unwrap();
        for c in &committees {
            r.create_children(c, &(0..999).map(branch).collect::<Vec<_>>(), &mut |_, _| {})
                .unwrap();
        }
        assert!(r.counts().unwrap().0 >= 50_000);
    }
    let before = rss_mb();
    let t = Instant::now();
    let r = Replica::open(&path).unwrap();
    let own = r.own().unwrap();
    let kids = r.children(&own.record.id).unwrap();
    let opened = t.elapsed();
    let t = Instant::now();
    let tree = r.tree().unwrap();
    let tree_time = t.elapsed();
    println!(
        "open a replica of {} organizations and show the own unit and its {} children: {:.1} ms; whole tree listed: {:.0} ms; RSS {:.0} MB (before open {:.0} MB)",
        tree.len(),
        kids.len(),
        opened.as_secs_f64() * 1e3,
        tree_time.as_secs_f64() * 1e3,
        rss_mb(),
        before
    );
}

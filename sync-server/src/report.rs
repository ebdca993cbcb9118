//! The Excel report of progress supervision (rules.md §11: each tab "downloadable as Excel";
//! the city reports every two days): one sheet per level below the organization (the tab
//! title, the summary sentence on top, the 7-column table), a 汇总 sheet (each level now,
//! at the previous snapshot at least a day old, and the change; per direct child its
//! subtree's totals and percentages; the campaign schedule), a 逾期事项 sheet (units late
//! per the schedule) and the completeness finding (未建团支部的团委、团工委、团总支).
//! Personal data is masked as in the progress service (names 张*, mobiles 138****5678);
//! ID numbers never leave the accounts table.
//!
//! The data is gathered under the database lock with a few bulk queries ([`gather`]); the
//! workbook is written after the lock is released ([`render`]).

use std::collections::HashMap;

use rust_xlsxwriter::{Color, Format, FormatAlign, FormatBorder, Workbook, Worksheet, XlsxError};
use schemas::Level;
use schemas::progress::{self, LevelCounts, Overdue, ProgressRow, ROW_HEADERS, Schedule};
use wire::protocol::{ChildRollup, UnitRef};

use crate::error::{Error, Result};
use crate::identity::Actor;
use crate::progress::{self as p, Clock};
use crate::storage::{Conn, Snapshot, Store};

pub const SUMMARY_SHEET: &str = "汇总";
pub const OVERDUE_SHEET: &str = "逾期事项";
pub const FINDING_SHEET: &str = "未建团支部的团委、团工委、团总支";

/// One level's sheet.
#[derive(Debug, Clone)]
pub struct LevelSheet {
    pub level: u8,
    pub title: String,
    pub counts: LevelCounts,
    pub sentence: String,
    pub rows: Vec<ProgressRow>,
}

/// A unit with overdue items.
#[derive(Debug, Clone)]
pub struct OverdueUnit {
    pub level: u8,
    pub short_name: String,
    pub category: String,
    pub parent_short_name: String,
    pub items: Vec<Overdue>,
}

/// Everything the workbook shows.
#[derive(Debug, Clone)]
pub struct ReportData {
    pub org_id: String,
    pub org_short_name: String,
    pub clock: Clock,
    pub schedule: Schedule,
    pub levels: Vec<LevelSheet>,
    /// The latest snapshot at least a day old: its day and counts per level.
    pub previous: Option<Snapshot>,
    pub rollups: Vec<ChildRollup>,
    pub overdue: Vec<OverdueUnit>,
    pub without_branch: Vec<UnitRef>,
}

/// Gather the report of `org_id` (in `actor`'s subtree). Also returns the level counts
/// (for today's snapshot).
pub fn gather(
    c: &Conn<'_>,
    actor: &Actor,
    org_id: &str,
    schedule: &Schedule,
    clock: Clock,
) -> Result<(ReportData, Vec<(u8, LevelCounts)>)> {
    let org = p::authorize(c, actor, org_id)?;
    let sub = p::scan(c, &org, None)?;
    let admins = c.subtree_admins(&org.path)?;
    // The valid unused code of each unit without an admin (as `progress::page` shows it).
    let codes = c.subtree_open_codes(&org.path, clock.now)?;
    let without_code = c.subtree_without_code(&org.path, clock.now)?;

    let scope = p::scope_of(&org);
    let mut names: HashMap<String, String> = HashMap::new();
    names.insert(org.id.clone(), org.short_name.clone());
    let mut sheets = Vec::with_capacity(sub.levels.len());
    let mut overdue = Vec::new();
    for (level, counts) in &sub.levels {
        let lvl = Level::new(*level).map_err(Error::from)?;
        let units = c.level_units(&org.path, *level)?;
        let mut rows = Vec::with_capacity(units.len());
        for u in units {
            let probe = p::unit_facts(&u, 0)?;
            let n = if probe.expects_children() {
                without_code.get(&u.id).copied().unwrap_or(0)
            } else {
                0
            };
            let facts = p::unit_facts(&u, n)?;
            let none = Vec::new();
            let row = p::unit_row(
                &u,
                &facts,
                admins.get(&u.id).unwrap_or(&none),
                codes.get(&u.id).cloned(),
            );
            let items = schedule.overdue(&facts, clock.today);
            if !items.is_empty() {
                overdue.push(OverdueUnit {
                    level: *level,
                    short_name: u.short_name.clone(),
                    category: u.category.clone(),
                    parent_short_name: names.get(&u.parent).cloned().unwrap_or_default(),
                    items,
                });
            }
            names.insert(u.id, u.short_name);
            rows.push(row);
        }
        sheets.push(LevelSheet {
            level: *level,
            title: progress::tab_title(lvl),
            counts: *counts,
            sentence: progress::summary_sentence(clock.at, &scope, lvl, counts),
            rows,
        });
    }
    let data = ReportData {
        previous: c.latest_snapshot_before(&org.id, clock.day)?,
        rollups: p::rollups(c, &org, &sub.child_counts())?,
        without_branch: c.unit_refs(&sub.without_branch)?,
        org_id: org.id,
        org_short_name: org.short_name,
        clock,
        schedule: schedule.clone(),
        levels: sheets,
        overdue,
    };
    Ok((data, sub.levels))
}

/// The report of `org` (default: the admin's own) as (file name, .xlsx bytes). Takes
/// today's snapshot if there is none yet (after reading the previous one).
pub fn build(
    store: &Store,
    actor: &Actor,
    org: Option<&str>,
    schedule: &Schedule,
    clock: Clock,
) -> Result<(String, Vec<u8>)> {
    let org_id = org.unwrap_or(&actor.org_id).to_owned();
    // On a replica when one is configured (docs/deployment.md: it may lag).
    let (data, levels, need_snapshot) = store.read_replica(|c| {
        let (data, levels) = gather(c, actor, &org_id, schedule, clock)?;
        let need = !levels.is_empty() && !c.has_snapshot(&data.org_id, clock.day)?;
        Ok((data, levels, need))
    })?;
    if need_snapshot {
        // Best effort, as for progress: the report is read even when this cannot be written.
        if let Err(e) =
            store.transaction(|tx| tx.write_snapshot(&data.org_id, clock.day, &levels, false))
        {
            tracing::warn!(error = %e, code = e.code(), "progress snapshot not written");
        }
    }
    let bytes = render(&data)?;
    Ok((file_name(&data), bytes))
}

/// "团成都市委下级组织录入情况2017-12-21.xlsx".
pub fn file_name(d: &ReportData) -> String {
    let name: String = d
        .org_short_name
        .chars()
        .map(|c| {
            if c.is_control() || "/\\:*?\"<>|".contains(c) {
                '_'
            } else {
                c
            }
        })
        .collect();
    format!("{name}下级组织录入情况{}.xlsx", p::fmt_day(d.clock.today))
}

/// Write the workbook.
pub fn render(d: &ReportData) -> Result<Vec<u8>> {
    render_xlsx(d).map_err(|e| Error::Internal(format!("生成Excel失败:{e}")))
}

struct Formats {
    title: Format,
    bold: Format,
    header: Format,
    sentence: Format,
    pct: Format,
    signed: Format,
}

impl Formats {
    fn new() -> Formats {
        Formats {
            title: Format::new().set_bold().set_font_size(14),
            bold: Format::new().set_bold(),
            header: Format::new()
                .set_bold()
                .set_background_color(Color::RGB(0xD9E1F2))
                .set_border(FormatBorder::Thin)
                .set_align(FormatAlign::Center)
                .set_align(FormatAlign::VerticalCenter)
                .set_text_wrap(),
            sentence: Format::new().set_text_wrap().set_align(FormatAlign::Top),
            pct: Format::new().set_num_format("0.0%"),
            signed: Format::new().set_num_format("+0;-0;0"),
        }
    }
}

type X<T = ()> = std::result::Result<T, XlsxError>;

fn render_xlsx(d: &ReportData) -> X<Vec<u8>> {
    let mut wb = Workbook::new();
    let f = Formats::new();
    summary_sheet(wb.add_worksheet(), d, &f)?;
    for l in &d.levels {
        level_sheet(wb.add_worksheet(), l, &f)?;
    }
    overdue_sheet(wb.add_worksheet(), d, &f)?;
    finding_sheet(wb.add_worksheet(), d, &f)?;
    wb.save_to_buffer()
}

fn level_label(level: u8) -> String {
    Level::new(level)
        .map(|l| l.to_string())
        .unwrap_or_else(|_| format!("{level}级"))
}

fn headers(ws: &mut Worksheet, row: u32, names: &[&str], f: &Formats) -> X {
    for (i, h) in names.iter().enumerate() {
        ws.write_string_with_format(row, i as u16, *h, &f.header)?;
    }
    Ok(())
}

const METRICS: [&str; 4] = [
    "组织总数",
    "已登录系统",
    "已完整录入信息",
    "已创建直属下级组织",
];

fn metrics(c: &LevelCounts) -> [u64; 4] {
    [c.total, c.logged_in, c.info_complete, c.created_children]
}

fn summary_sheet(ws: &mut Worksheet, d: &ReportData, f: &Formats) -> X {
    ws.set_name(SUMMARY_SHEET)?;
    ws.set_column_width(0, 26)?;
    for col in 1..=12u16 {
        ws.set_column_width(col, 12)?;
    }
    ws.write_string_with_format(
        0,
        0,
        format!("{}下级组织录入情况汇总", d.org_short_name),
        &f.title,
    )?;
    let prev_note = match &d.previous {
        Some(s) => format!("上次快照:{}", s.day),
        None => "尚无一天前的快照,下次报告起显示变化".to_owned(),
    };
    ws.write_string(
        1,
        0,
        format!(
            "{}(北京时间);{prev_note}",
            progress::format_as_of(d.clock.at)
        ),
    )?;

    // 一、each level now, at the previous snapshot, and the change.
    let mut r = 3;
    ws.write_string_with_format(r, 0, "一、各级组织录入情况", &f.bold)?;
    r += 1;
    ws.write_string_with_format(r, 0, "层级", &f.header)?;
    ws.merge_range(r, 1, r, 4, "本次", &f.header)?;
    let prev_title = match &d.previous {
        Some(s) => format!("上次快照({})", s.day),
        None => "上次快照(无)".to_owned(),
    };
    ws.merge_range(r, 5, r, 8, &prev_title, &f.header)?;
    ws.merge_range(r, 9, r, 12, "变化", &f.header)?;
    r += 1;
    ws.write_string_with_format(r, 0, "", &f.header)?;
    for block in 0..3u16 {
        for (i, m) in METRICS.iter().enumerate() {
            ws.write_string_with_format(r, 1 + block * 4 + i as u16, *m, &f.header)?;
        }
    }
    r += 1;
    let mut all_levels: Vec<u8> = d.levels.iter().map(|l| l.level).collect();
    if let Some(prev) = &d.previous {
        all_levels.extend(prev.levels.iter().map(|(l, _)| *l));
    }
    all_levels.sort_unstable();
    all_levels.dedup();
    for level in all_levels {
        let now = d
            .levels
            .iter()
            .find(|l| l.level == level)
            .map(|l| l.counts)
            .unwrap_or_default();
        ws.write_string(r, 0, level_label(level))?;
        let now_m = metrics(&now);
        for (i, v) in now_m.iter().enumerate() {
            ws.write_number(r, 1 + i as u16, *v as f64)?;
        }
        if let Some(prev) = &d.previous {
            let before = prev
                .levels
                .iter()
                .find(|(l, _)| *l == level)
                .map(|(_, c)| *c)
                .unwrap_or_default();
            for (i, v) in metrics(&before).iter().enumerate() {
                ws.write_number(r, 5 + i as u16, *v as f64)?;
                ws.write_number_with_format(
                    r,
                    9 + i as u16,
                    now_m[i] as f64 - *v as f64,
                    &f.signed,
                )?;
            }
        }
        r += 1;
    }

    // 二、per direct child.
    r += 1;
    ws.write_string_with_format(r, 0, "二、直属下级组织汇总(含其全部下级组织)", &f.bold)?;
    r += 1;
    headers(
        ws,
        r,
        &[
            "直属下级组织",
            "组织类别",
            "组织总数",
            "已登录系统",
            "已完整录入信息",
            "已创建直属下级组织",
            "团支部",
            "信息完整率",
            "登录率",
        ],
        f,
    )?;
    r += 1;
    for k in &d.rollups {
        ws.write_string(r, 0, &k.short_name)?;
        ws.write_string(r, 1, &k.category)?;
        ws.write_number(r, 2, k.counts.total as f64)?;
        ws.write_number(r, 3, k.counts.logged_in as f64)?;
        ws.write_number(r, 4, k.counts.info_complete as f64)?;
        ws.write_number(r, 5, k.counts.created_children as f64)?;
        ws.write_number(r, 6, k.counts.branches as f64)?;
        ws.write_number_with_format(r, 7, k.complete_percent / 100.0, &f.pct)?;
        ws.write_number_with_format(r, 8, k.logged_in_percent / 100.0, &f.pct)?;
        r += 1;
    }

    // 三、四、the finding and the overdue units, in short.
    r += 1;
    ws.write_string_with_format(
        r,
        0,
        format!(
            "三、完整性检查:未建团支部的团委、团工委、团总支共{}个(见“{FINDING_SHEET}”表)",
            d.without_branch.len()
        ),
        &f.bold,
    )?;
    r += 1;
    ws.write_string_with_format(
        r,
        0,
        format!(
            "四、逾期事项:截至{},共{}个组织有逾期未完成的事项(见“{OVERDUE_SHEET}”表)",
            p::fmt_day(d.clock.today),
            d.overdue.len()
        ),
        &f.bold,
    )?;

    // 五、the schedule.
    r += 2;
    ws.write_string_with_format(r, 0, "五、工作进度安排", &f.bold)?;
    r += 1;
    ws.write_string(
        r,
        0,
        format!("活动开始日期:{}", p::fmt_day(d.schedule.start)),
    )?;
    r += 1;
    headers(ws, r, &["层级", "事项", "截止日期"], f)?;
    r += 1;
    for dl in &d.schedule.deadlines {
        let mut label = level_label(dl.level);
        if dl.and_deeper {
            label.push_str("及以下");
        }
        ws.write_string(r, 0, label)?;
        ws.write_string(r, 1, dl.task.label())?;
        ws.write_string(r, 2, p::fmt_day(dl.due))?;
        r += 1;
    }
    Ok(())
}

fn level_sheet(ws: &mut Worksheet, l: &LevelSheet, f: &Formats) -> X {
    ws.set_name(&l.title)?;
    for (col, w) in [28.0, 12.0, 12.0, 14.0, 20.0, 16.0, 14.0]
        .iter()
        .enumerate()
    {
        ws.set_column_width(col as u16, *w)?;
    }
    ws.merge_range(0, 0, 0, 6, &l.sentence, &f.sentence)?;
    ws.set_row_height(0, 48)?;
    headers(ws, 1, &ROW_HEADERS, f)?;
    for (i, row) in l.rows.iter().enumerate() {
        let r = 2 + i as u32;
        for (col, cell) in row.cells().into_iter().enumerate() {
            if !cell.is_empty() {
                ws.write_string(r, col as u16, cell)?;
            }
        }
    }
    ws.set_freeze_panes(2, 0)?;
    ws.autofilter(1, 0, 1 + l.rows.len() as u32, 6)?;
    Ok(())
}

fn overdue_sheet(ws: &mut Worksheet, d: &ReportData, f: &Formats) -> X {
    ws.set_name(OVERDUE_SHEET)?;
    for (col, w) in [10.0, 28.0, 14.0, 28.0, 70.0].iter().enumerate() {
        ws.set_column_width(col as u16, *w)?;
    }
    ws.write_string_with_format(
        0,
        0,
        format!(
            "依据工作进度安排,截至{}逾期未完成事项的组织共{}个",
            p::fmt_day(d.clock.today),
            d.overdue.len()
        ),
        &f.bold,
    )?;
    headers(
        ws,
        1,
        &["层级", "组织简称", "组织类别", "上级组织", "逾期事项"],
        f,
    )?;
    for (i, u) in d.overdue.iter().enumerate() {
        let r = 2 + i as u32;
        let items: Vec<String> = u
            .items
            .iter()
            .map(|o| format!("{}(截止{})", o.task.label(), p::fmt_day(o.due)))
            .collect();
        ws.write_string(r, 0, level_label(u.level))?;
        ws.write_string(r, 1, &u.short_name)?;
        ws.write_string(r, 2, &u.category)?;
        ws.write_string(r, 3, &u.parent_short_name)?;
        ws.write_string(r, 4, items.join(";"))?;
    }
    ws.set_freeze_panes(2, 0)?;
    Ok(())
}

fn finding_sheet(ws: &mut Worksheet, d: &ReportData, f: &Formats) -> X {
    ws.set_name(FINDING_SHEET)?;
    for (col, w) in [10.0, 28.0, 14.0, 28.0].iter().enumerate() {
        ws.set_column_width(col as u16, *w)?;
    }
    ws.write_string_with_format(
        0,
        0,
        format!(
            "不能出现团委、团工委、团总支下没有团支部的现象:以下{}个组织下尚无团支部",
            d.without_branch.len()
        ),
        &f.bold,
    )?;
    headers(ws, 1, &["层级", "组织简称", "组织类别", "上级组织"], f)?;
    for (i, u) in d.without_branch.iter().enumerate() {
        let r = 2 + i as u32;
        ws.write_string(r, 0, level_label(u.level))?;
        ws.write_string(r, 1, &u.short_name)?;
        ws.write_string(r, 2, &u.category)?;
        ws.write_string(r, 3, &u.parent_short_name)?;
    }
    ws.set_freeze_panes(2, 0)?;
    Ok(())
}

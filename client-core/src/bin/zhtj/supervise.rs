//! `zhtj server-progress` and `zhtj report`: progress supervision as the server knows it
//! (rules.md §11: every level below, logins and admins of the whole subtree, overdue items by
//! the campaign's dates, the completeness finding) and the Excel report the city sends
//! every two days. Thin layers over `client_core::supervise`, with the session of the
//! last `zhtj login`.

use client_core::protocol::{ProgressResponse, ProgressTab};
use client_core::supervise::{self, ProgressQuery};
use serde_json::json;

use crate::args::{ReportArgs, ServerProgressArgs};
use crate::ctx::Ctx;
use crate::output::{CliResult, Out, table};

fn print_tab(out: &mut Out, tab: &ProgressTab) {
    out.line(format!("【{}】", tab.title));
    out.line(&tab.sentence);
    for o in tab.overdue.iter().filter(|o| o.units != Some(0)) {
        let units = o
            .units
            .map(|n| format!("{n}个组织逾期未完成"))
            .unwrap_or_else(|| "用 --level 查看逾期组织数".to_owned());
        out.line(format!("  逾期:{}(截止{}):{units}", o.label, o.due));
    }
}

fn print_page(out: &mut Out, p: &ProgressResponse) {
    let rows: Vec<Vec<String>> = p
        .page
        .rows
        .iter()
        .map(|e| {
            let mut cells = e.row.cells().to_vec();
            cells.push(
                e.overdue
                    .iter()
                    .map(|o| o.task.label())
                    .collect::<Vec<_>>()
                    .join("、"),
            );
            cells
        })
        .collect();
    if rows.is_empty() {
        return;
    }
    let mut headers = schemas::progress::ROW_HEADERS.to_vec();
    headers.push("逾期事项");
    table(out, &headers, &rows);
    let shown = p.page.offset + p.page.rows.len() as u64;
    if shown < p.page.total {
        out.line(format!(
            "(共{}个,已列出第{}至{}个;用 --level {} --offset {shown} 查看后面的)",
            p.page.total,
            p.page.offset + 1,
            shown,
            p.page.level
        ));
    }
}

pub fn server_progress(ctx: &Ctx, out: &mut Out, a: &ServerProgressArgs) -> CliResult {
    let (remote, token, org) = ctx.session(a.org.as_deref())?;
    let limit = a.limit.unwrap_or(if a.level.is_some() { 50 } else { 10 });
    let q = |level: Option<u8>, offset: u64| ProgressQuery {
        org: org.clone(),
        level,
        offset,
        limit: Some(limit),
        as_of: a.as_of.clone(),
    };
    let first = supervise::fetch_progress_with(&remote, &token, &q(a.level, a.offset))?;
    // Each tab's first page (one request per further level), or the one level asked.
    let mut pages = vec![first.clone()];
    if a.level.is_none() {
        for tab in first.tabs.iter().skip(1) {
            pages.push(supervise::fetch_progress_with(
                &remote,
                &token,
                &q(Some(tab.level), 0),
            )?);
        }
    }
    if ctx.json {
        let mut v = serde_json::to_value(&first).map_err(client_core::Error::from)?;
        v["pages"] = json!(pages.iter().map(|p| &p.page).collect::<Vec<_>>());
        out.json(&v);
        return Ok(());
    }
    out.line(format!(
        "{}下级组织录入情况(服务器数据,{},逾期事项按{}判断)",
        first.org_short_name, first.generated_at, first.as_of
    ));
    out.blank();
    if first.tabs.is_empty() {
        out.line("该组织还没有下级组织。");
    }
    for tab in &first.tabs {
        if a.level.is_some_and(|l| l != tab.level) {
            continue;
        }
        print_tab(out, tab);
        if let Some(p) = pages.iter().find(|p| p.page.level == tab.level) {
            print_page(out, p);
        }
        out.blank();
    }
    if !first.rollups.is_empty() && a.level.is_none() {
        out.line("【直属下级组织汇总】(含其全部下级组织)");
        let rows: Vec<Vec<String>> = first
            .rollups
            .iter()
            .map(|r| {
                vec![
                    r.short_name.clone(),
                    r.counts.total.to_string(),
                    r.counts.logged_in.to_string(),
                    r.counts.info_complete.to_string(),
                    format!("{:.1}%", r.complete_percent),
                    format!("{:.1}%", r.logged_in_percent),
                ]
            })
            .collect();
        table(
            out,
            &[
                "直属下级组织",
                "组织总数",
                "已登录系统",
                "信息完整",
                "信息完整率",
                "登录率",
            ],
            &rows,
        );
        if first.rollups_total > first.rollups.len() as u64 {
            out.line(format!(
                "(共{}个直属下级组织,仅列出前{}个;全部见 zhtj report 导出的报表)",
                first.rollups_total,
                first.rollups.len()
            ));
        }
        out.blank();
    }
    if first.without_branch_total == 0 {
        out.line("没有发现团委、团工委、团总支下没有团支部的情况。");
    } else {
        out.line(format!(
            "以下{}个团委、团工委、团总支下还没有团支部(不能出现团委、团工委、团总支下没有团支部的现象):",
            first.without_branch_total
        ));
        let names: Vec<String> = first
            .without_branch
            .iter()
            .take(50)
            .map(|u| format!("{}({})", u.short_name, u.parent_short_name))
            .collect();
        out.line(format!("  {}", names.join("、")));
        if first.without_branch_total > names.len() as u64 {
            out.line("  (其余见 zhtj report 下载的报表)");
        }
    }
    Ok(())
}

pub fn report(ctx: &Ctx, out: &mut Out, a: &ReportArgs) -> CliResult {
    let (remote, token, org) = ctx.session(a.org.as_deref())?;
    let got = supervise::download_report(&remote, &token, org.as_deref(), &a.out)?;
    if ctx.json {
        out.json(&json!({
            "path": got.path,
            "bytes": got.bytes,
            "suggested_name": got.suggested_name,
        }));
        return Ok(());
    }
    out.line(format!(
        "已下载录入情况报表:{}({:.1} KB{})",
        got.path.display(),
        got.bytes as f64 / 1024.0,
        got.suggested_name
            .map(|n| format!(",服务器建议的文件名:{n}"))
            .unwrap_or_default()
    ));
    out.line("报表含汇总(与上次快照对比)、各级组织录入情况、逾期事项和未建团支部的组织。");
    Ok(())
}

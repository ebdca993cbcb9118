//! `zhtj history`: an organization's change history (issue 13), from the replica (offline,
//! with the author records pulled from the server) or, with `--online`, from the server.
//! A thin layer over `client_core::history`.

use client_core::history::{Entry, Kind, Writer};
use client_core::supervise;
use schemas::Field;
use serde_json::json;
use time::OffsetDateTime;

use crate::args::HistoryArgs;
use crate::ctx::{Ctx, parse_field, target};
use crate::output::{CliResult, Failure, Out, format_beijing, rfc3339, shown};

fn time_of(t: i64) -> Option<OffsetDateTime> {
    OffsetDateTime::from_unix_timestamp(t).ok()
}

/// "2026-11-26 09:00", or 系统预置 for the pre-initialized tree's time 0.
fn when(t: i64) -> String {
    match time_of(t) {
        Some(t) if t.unix_timestamp() > 0 => format_beijing(t),
        _ => "(预置)".to_owned(),
    }
}

fn value(field: Option<Field>, raw: &str, full: bool) -> String {
    match field {
        Some(f) if !full => shown(f, raw),
        _ => raw.to_owned(),
    }
}

/// What an entry did, in one phrase; `created`: it is part of the organization's creation.
fn what(e: &Entry, full: bool, created: bool) -> String {
    match e.kind {
        Kind::Created => format!("创建组织“{}”", e.new),
        Kind::Reordered => "调整排序".to_owned(),
        Kind::Deleted => "删除组织".to_owned(),
        Kind::CodeIssued => format!("生成管理员注册码 {}", e.new),
        Kind::Field => {
            let label = e.field.map(Field::label).unwrap_or_default();
            let old = value(e.field, &e.old, full);
            let new = value(e.field, &e.new, full);
            if created {
                return format!("{label}:{new}(创建时填写)");
            }
            format!(
                "{label}:{} → {}",
                if old.is_empty() { "(未填写)" } else { &old },
                if new.is_empty() { "(清除)" } else { &new }
            )
        }
    }
}

fn entry_json(e: &Entry, full: bool) -> serde_json::Value {
    json!({
        "kind": e.kind,
        "field": e.field.map(Field::key),
        "field_label": e.field.map(Field::label),
        "old": value(e.field, &e.old, full),
        "new": value(e.field, &e.new, full),
        "at": time_of(e.at).filter(|_| e.at > 0).map(rfc3339),
        "received_at": e.received_at.and_then(time_of).map(rfc3339),
        "offline": e.offline,
        "by": e.by,
        "by_text": e.by.describe(),
        "mine": e.mine,
        "overwritten": e.overwritten.as_ref().map(|o| json!({
            "value": value(e.field, &o.value, full),
            "by": o.by,
            "by_text": o.by.describe(),
            "at": time_of(o.at).map(rfc3339),
            "change": o.change,
        })),
        "change": e.change,
    })
}

pub fn history(ctx: &Ctx, out: &mut Out, a: &HistoryArgs) -> CliResult {
    let field = match a.field.as_deref().map(str::trim).filter(|f| !f.is_empty()) {
        Some(name) => Some(parse_field(name).ok_or_else(|| {
            Failure::usage(
                "cli.unknown_field",
                format!("没有名为“{name}”的字段,请写中文名称(如 团组织联系电话)或英文键(如 phone)"),
            )
        })?),
        None => None,
    };
    let (org_id, short_name, entries, source) = if a.online {
        // The server answers an organization outside the subtree as an unknown one.
        let (remote, token, org) = ctx.session(a.org.as_deref())?;
        let resp = supervise::fetch_change_history(
            &remote,
            &token,
            org.as_deref(),
            field.map(Field::key),
        )?;
        (resp.org_id, resp.short_name, resp.entries, "server")
    } else {
        let replica = ctx.open()?;
        let id = target(&replica, a.org.as_deref())?;
        let name = replica.org(&id)?.record.short_name;
        let entries = replica
            .history(&id)?
            .into_iter()
            .filter(|e| field.is_none_or(|f| e.field == Some(f)))
            .collect();
        (id, name, entries, "local")
    };
    if ctx.json {
        out.json(&json!({
            "org_id": org_id,
            "short_name": short_name,
            "field": field.map(Field::key),
            "source": source,
            "masked": !a.full,
            "entries": entries.iter().map(|e| entry_json(e, a.full)).collect::<Vec<_>>(),
        }));
        return Ok(());
    }
    let scope = field
        .map(|f| format!("“{}”的", f.label()))
        .unwrap_or_default();
    if entries.is_empty() {
        out.line(format!(
            "{short_name}(组织编号 {org_id})没有{scope}修改记录。"
        ));
        return Ok(());
    }
    out.line(format!(
        "{short_name}(组织编号 {org_id}){scope}修改记录,共{}条(北京时间{}):",
        entries.len(),
        if source == "server" {
            ",服务器数据"
        } else {
            ""
        }
    ));
    let creations: Vec<&str> = entries
        .iter()
        .filter(|e| e.kind == Kind::Created)
        .map(|e| e.change.as_str())
        .collect();
    for e in &entries {
        let created = e.kind == Kind::Field && creations.contains(&e.change.as_str());
        let mut by = e.by.describe();
        if e.offline
            && let Some(r) = e.received_at
        {
            by.push_str(&format!(";离线修改,{}同步到服务器", when(r)));
        }
        out.line(format!(
            "{}  {}  —— {by}",
            when(e.at),
            what(e, a.full, created)
        ));
        if let Some(o) = &e.overwritten {
            out.line(format!(
                "    [已被覆盖] 与{}同时修改,显示的是其于{}填写的“{}”",
                o.by.describe(),
                when(o.at),
                value(e.field, &o.value, a.full)
            ));
        }
    }
    let local = entries.iter().filter(|e| e.by == Writer::Local).count();
    if local > 0 {
        out.line(format!(
            "其中{local}条是本机尚未同步的修改;同步后显示修改人。"
        ));
    }
    Ok(())
}

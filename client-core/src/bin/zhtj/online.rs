//! The commands that talk to the sync server: register, login (with the first download),
//! sync and logout. Thin layers over `client_core::sync`.

use std::io::IsTerminal;

use client_core::protocol::{CodeLookupResponse, LoginRequest, RegisterRequest};
use client_core::{Error, Remote, Replica, SyncReport, SyncStage};
use indicatif::ProgressStyle;
use serde_json::json;
use time::OffsetDateTime;

use crate::args::{LoginArgs, RegisterArgs};
use crate::ctx::Ctx;
use crate::output::{
    CliResult, Failure, Out, account_label, format_beijing, rfc3339, shown, spinner,
    violation_json, violation_line,
};

/// The server to use: given on the command line (or ZHTJ_SERVER), else the replica's.
fn server_of(ctx: &Ctx, given: Option<&str>) -> CliResult<String> {
    if let Some(url) = given.map(str::trim).filter(|s| !s.is_empty()) {
        return Ok(client_core::sync::normalize_url(url)?);
    }
    if ctx.replica_path().exists()
        && let Some(url) = ctx.open()?.server_url()?
    {
        return Ok(url);
    }
    Err(Failure::usage(
        "cli.server_missing",
        "请用 --server 指定服务器地址(如 --server https://zhtj.example.cn),或设置环境变量 ZHTJ_SERVER",
    ))
}

/// The password: given (option or ZHTJ_PASSWORD), else typed on a terminal without echo.
fn password_of(given: Option<&str>, confirm: bool) -> CliResult<String> {
    if let Some(p) = given {
        return Ok(p.to_owned());
    }
    if !std::io::stdin().is_terminal() {
        return Err(Failure::usage(
            "cli.password_missing",
            "请用 --password 或环境变量 ZHTJ_PASSWORD 提供密码",
        ));
    }
    let io_failure = |source| Failure::Io {
        message: "无法读取输入的密码".to_owned(),
        source,
    };
    let first = read_hidden("密码:").map_err(io_failure)?;
    if confirm {
        let again = read_hidden("再次输入密码:").map_err(io_failure)?;
        if again != first {
            return Err(Failure::usage(
                "cli.password_mismatch",
                "两次输入的密码不一致,请重新运行",
            ));
        }
    }
    Ok(first)
}

/// Read a line from the terminal with echo off (stty on Unix; elsewhere it is shown).
fn read_hidden(prompt: &str) -> std::io::Result<String> {
    use std::io::Write;
    eprint!("{prompt}");
    std::io::stderr().flush()?;
    let stty = |arg: &str| {
        cfg!(unix)
            && std::process::Command::new("stty")
                .arg(arg)
                .stdin(std::process::Stdio::inherit())
                .status()
                .is_ok_and(|s| s.success())
    };
    let hidden = stty("-echo");
    let mut line = String::new();
    let read = std::io::stdin().read_line(&mut line);
    if hidden {
        stty("echo");
        eprintln!();
    }
    read?;
    Ok(line.trim_end_matches(['\r', '\n']).to_owned())
}

// ------------------------------------------------------------------------ register

/// The organization of a code, as the person confirms it.
fn describe_unit(u: &CodeLookupResponse) -> Vec<String> {
    vec![
        format!("注册码所属的组织:{}(组织编号 {})", u.short_name, u.org_id),
        format!("  组织全称:{}", u.full_name),
        format!(
            "  组织类别:{}  上级组织:{}",
            u.category, u.parent_short_name
        ),
    ]
}

/// Ask on the terminal whether the unit is the person's own; without a terminal, `--yes`
/// is required.
fn confirm_unit(u: &CodeLookupResponse, yes: bool) -> CliResult {
    use std::io::Write;
    if yes {
        return Ok(());
    }
    if !std::io::stdin().is_terminal() {
        return Err(Failure::usage(
            "cli.confirm_missing",
            format!(
                "注册码所属的组织是{}({}的下级组织);核对无误后加 --yes 重新运行",
                u.short_name, u.parent_short_name
            ),
        ));
    }
    for line in describe_unit(u) {
        eprintln!("{line}");
    }
    eprint!("这是您要注册的组织吗?输入 y 确认,其他键取消:");
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    std::io::stdin()
        .read_line(&mut answer)
        .map_err(|source| Failure::Io {
            message: "无法读取输入".to_owned(),
            source,
        })?;
    if matches!(answer.trim(), "y" | "Y" | "是") {
        Ok(())
    } else {
        Err(Failure::usage(
            "cli.cancelled",
            "已取消注册:如注册码所属的组织不对,请联系发放注册码的上级组织",
        ))
    }
}

pub fn register(ctx: &Ctx, out: &mut Out, a: &RegisterArgs) -> CliResult {
    let server = server_of(ctx, a.server.as_deref())?;
    let mut req = RegisterRequest {
        code: a.code.clone(),
        org_id: a.org.clone().unwrap_or_default(),
        role: a.role.clone(),
        name: a.name.clone(),
        id_number: a.id_number.clone(),
        mobile: a.mobile.clone(),
        join_year_month: a.join.clone(),
        password: String::new(),
    };
    // Check the form before anything goes over the network or the password is asked.
    client_core::sync::check_registration_before_password(&req)?;
    // The code names the organization: show it and have it confirmed first.
    let remote = ctx.remote(&server)?;
    let unit = remote.lookup_code(&req.code)?;
    confirm_unit(&unit, a.yes)?;
    if req.org_id.trim().is_empty() {
        req.org_id = unit.org_id.clone();
    }
    req.password = password_of(a.password.as_deref(), true)?;
    let req = client_core::sync::check_registration(&req)?;
    let resp = remote.register(&req)?;
    if ctx.json {
        out.json(&json!({
            "account_id": resp.account_id,
            "org_id": resp.org_id,
            "org_short_name": resp.org_short_name,
            "org_full_name": unit.full_name,
            "category": unit.category,
            "parent_short_name": unit.parent_short_name,
            "server": server,
        }));
        return Ok(());
    }
    for line in describe_unit(&unit) {
        out.line(line);
    }
    out.line(format!(
        "注册成功:{}已成为{}的{}(账号编号 {})。",
        req.name, resp.org_short_name, req.role, resp.account_id
    ));
    out.line(format!(
        "下一步:zhtj login --server {server} --mobile {} 登录并下载本组织数据。",
        req.mobile
    ));
    Ok(())
}

// ------------------------------------------------------------------------ login

pub fn login(ctx: &Ctx, out: &mut Out, a: &LoginArgs) -> CliResult {
    let path = ctx.replica_path();
    let existing = if path.exists() {
        Some(ctx.open()?)
    } else {
        None
    };
    let server = server_of(ctx, a.server.as_deref())?;
    let remembered = match &existing {
        Some(r) => r.account()?.map(|a| a.mobile).filter(|m| !m.is_empty()),
        None => None,
    };
    let mobile = a.mobile.clone().or(remembered).ok_or_else(|| {
        Failure::usage("cli.mobile_missing", "请用 --mobile 填写注册时的手机号码")
    })?;
    // With local data, log in as its organization (one person may administer several).
    let org_id = a
        .org
        .clone()
        .or_else(|| existing.as_ref().map(|r| r.own_id().to_owned()));
    drop(existing);
    let password = password_of(a.password.as_deref(), false)?;
    let remote = ctx.remote(&server)?;
    let resp = remote.login(&LoginRequest {
        mobile: mobile.trim().to_owned(),
        password,
        org_id,
    })?;
    std::fs::create_dir_all(&ctx.data).map_err(|source| Failure::Io {
        message: format!("无法创建数据目录 {}", ctx.data.display()),
        source,
    })?;
    let mut replica = match Replica::create_for_login(&path, &server, &resp) {
        Ok(r) => r,
        Err(e) => {
            // The session is of no use here: do not leave it valid on the server.
            let _ = remote.logout(&resp.token);
            return Err(e.into());
        }
    };
    replica.remember_mobile(&mobile)?;
    let expires = OffsetDateTime::from_unix_timestamp(resp.expires_at)
        .map(format_beijing)
        .unwrap_or_default();
    if !ctx.json {
        out.line(format!(
            "已登录:{}(组织编号 {}),登录有效期至 {expires}(北京时间)",
            resp.org_short_name, resp.org_id
        ));
        out.line(format!("本地数据:{}", path.display()));
    }
    let report = match run_sync(&mut replica, &remote) {
        Ok(r) => r,
        Err(Failure::Core { error, mut notes }) => {
            notes.push("已登录,但同步未完成;联网后运行 zhtj sync 即可继续。".to_owned());
            return Err(Failure::Core { error, notes });
        }
        Err(f) => return Err(f),
    };
    if ctx.json {
        out.json(&json!({
            "org_id": resp.org_id,
            "org_short_name": resp.org_short_name,
            "expires_at": rfc3339(
                OffsetDateTime::from_unix_timestamp(resp.expires_at).unwrap_or(OffsetDateTime::UNIX_EPOCH)
            ),
            "replica": path.display().to_string(),
            "sync": report_json(&report),
        }));
    } else {
        print_report(out, &replica, &report)?;
        out.line("用 zhtj status 查看概况,zhtj tree 查看组织树。");
    }
    rejected_failure(&report)
}

// ------------------------------------------------------------------------ sync

pub fn sync(ctx: &Ctx, out: &mut Out) -> CliResult {
    let mut replica = ctx.open()?;
    let ca = ctx.ca_pem()?;
    let remote = match replica.remote_with_ca(ca.as_deref()) {
        Ok(r) => r,
        Err(Error::LoginRequired) => {
            return Err(Failure::Core {
                error: Box::new(Error::LoginRequired),
                notes: vec![
                    "本地数据还没有登录过服务器:请先用 zhtj login --server URL --mobile 手机号码 登录。"
                        .to_owned(),
                ],
            });
        }
        Err(e) => return Err(e.into()),
    };
    let report = run_sync(&mut replica, &remote)?;
    if ctx.json {
        out.json(&report_json(&report));
    } else {
        print_report(out, &replica, &report)?;
    }
    rejected_failure(&report)
}

fn rejected_failure(report: &SyncReport) -> CliResult {
    if report.rejected.is_empty() {
        Ok(())
    } else {
        Err(Failure::Rejected {
            count: report.rejected.len(),
        })
    }
}

/// Sync with a progress display on a terminal (hidden otherwise).
fn run_sync(replica: &mut Replica, remote: &Remote) -> CliResult<SyncReport> {
    let bar = spinner("正在连接服务器…");
    if let Ok(style) = ProgressStyle::with_template("{spinner} {msg} {prefix}") {
        bar.set_style(style);
    }
    let (finished, wait) = std::sync::mpsc::channel::<()>();
    let result = std::thread::scope(|s| {
        // On a slow link one request takes many seconds: the bytes that crossed it so far
        // are shown while it runs, refreshed four times a second until the sync ends.
        if !bar.is_hidden() {
            let bar = bar.clone();
            s.spawn(move || {
                loop {
                    let (sent, received) = remote.traffic().get();
                    bar.set_prefix(format!("(已上传{},已接收{})", kb(sent), kb(received)));
                    match wait.recv_timeout(std::time::Duration::from_millis(250)) {
                        Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
                        _ => break,
                    }
                }
            });
        }
        let mut pushing = false;
        let result = replica.sync(remote, &mut |stage, done, total| match stage {
            SyncStage::Pull => bar.set_message(format!("正在接收更新:已接收{done}个组织")),
            SyncStage::Push => {
                if !pushing {
                    pushing = true;
                    if let Ok(style) =
                        ProgressStyle::with_template("正在上传修改 [{bar:30}] {pos}/{len} {prefix}")
                    {
                        bar.set_style(style.progress_chars("=> "));
                    }
                    bar.set_length(total as u64);
                }
                bar.set_position(done as u64);
            }
        });
        drop(finished);
        result
    });
    bar.finish_and_clear();
    Ok(result?)
}

/// Bytes as KB with one decimal (how a data plan counts).
fn kb(bytes: u64) -> String {
    format!("{:.1} KB", bytes as f64 / 1024.0)
}

fn report_json(r: &SyncReport) -> serde_json::Value {
    json!({
        "pulled": r.pulled,
        "received": r.received,
        "pushed": r.pushed,
        "rejected": r.rejected.iter().map(|x| json!({
            "id": x.id,
            "short_name": x.short_name,
            "violations": x.violations.iter().map(violation_json).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
        "resolved": r.resolved.iter().map(|(id, f)| json!({
            "id": id,
            "field": f.key(),
            "field_label": f.label(),
        })).collect::<Vec<_>>(),
        "overwritten": r.overwritten.iter().map(|o| json!({
            "id": o.id,
            "short_name": o.short_name,
            "field": o.field.key(),
            "field_label": o.field.label(),
            "mine": shown(o.field, &o.mine),
            "value": shown(o.field, &o.value),
            "by": o.by,
            "by_text": o.by.describe(),
            "at": OffsetDateTime::from_unix_timestamp(o.at).map(rfc3339).ok(),
        })).collect::<Vec<_>>(),
        "round_trips": r.round_trips,
        "bytes_sent": r.bytes_sent,
        "bytes_received": r.bytes_received,
        "duration_ms": r.duration.as_millis() as u64,
    })
}

fn print_report(out: &mut Out, replica: &Replica, r: &SyncReport) -> CliResult {
    let secs = r.duration.as_secs_f64();
    if r.pulled == 0 && r.pushed == 0 && r.rejected.is_empty() && r.overwritten.is_empty() {
        out.line(format!(
            "同步完成(用时{secs:.2}秒):已是最新,没有需要接收或上传的修改。"
        ));
        return Ok(());
    }
    out.line(format!("同步完成(用时{secs:.2}秒):"));
    out.line(format!("  接收:{}个组织的更新", r.pulled));
    out.line(format!("  上传:{}个组织的修改已被服务器接受", r.pushed));
    out.line(format!(
        "  数据:上传{},接收{}",
        kb(r.bytes_sent),
        kb(r.bytes_received)
    ));
    if !r.resolved.is_empty() {
        out.line(format!(
            "  有{}项“填写后不可修改”的信息与服务器已确认的值不同,已改为服务器确认的值:",
            r.resolved.len()
        ));
        for (id, field) in &r.resolved {
            let name = replica
                .org(id)
                .map(|v| v.record.short_name)
                .unwrap_or_else(|_| id.clone());
            let value = replica
                .org(id)
                .map(|v| v.record.get(*field).to_owned())
                .unwrap_or_default();
            out.line(format!("    {name} {}:{value}", field.label()));
        }
    }
    if !r.overwritten.is_empty() {
        out.line(format!(
            "  被覆盖:{}项您填写的信息与其他组织同时修改,显示的是对方的值(两次修改都保留在修改记录中,可用 zhtj history 查看):",
            r.overwritten.len()
        ));
        for o in &r.overwritten {
            let at = OffsetDateTime::from_unix_timestamp(o.at)
                .map(format_beijing)
                .unwrap_or_default();
            out.line(format!(
                "    {} {}:您填写的“{}”被{}于{at}填写的“{}”覆盖",
                o.short_name,
                o.field.label(),
                shown(o.field, &o.mine),
                o.by.describe(),
                shown(o.field, &o.value),
            ));
        }
    }
    if !r.rejected.is_empty() {
        out.line(format!(
            "  退回:{}个组织的修改被服务器退回(修改仍保留在本地,请按原因修改后再同步):",
            r.rejected.len()
        ));
        for x in &r.rejected {
            out.line(format!("    {}(组织编号 {}):", x.short_name, x.id));
            for v in &x.violations {
                out.line(format!("      {}", violation_line(v)));
            }
        }
    }
    let (_, pending) = replica.counts()?;
    if pending > 0 {
        out.line(format!("  仍有{pending}个组织的修改未被服务器接受。"));
    }
    Ok(())
}

// ------------------------------------------------------------------------ logout

pub fn logout(ctx: &Ctx, out: &mut Out) -> CliResult {
    let mut replica = ctx.open()?;
    let status = replica.sync_status()?;
    if !status.has_token {
        out.line("当前未登录。");
        return Ok(());
    }
    let who = status
        .account
        .as_ref()
        .map(account_label)
        .unwrap_or_default();
    // A CA that cannot be used must not keep the session here: log out locally anyway.
    let ca = ctx.ca_pem().ok().flatten();
    let remote = replica
        .remote_with_ca(ca.as_deref())
        .or_else(|_| replica.remote());
    let confirmed = match remote {
        Ok(remote) => replica.logout(&remote)?,
        Err(_) => false,
    };
    out.line(format!("已退出登录:{who}。本地数据保留,可继续离线使用。"));
    if !confirmed {
        out.line("(未能连接服务器注销本次登录,它将在有效期满后自动失效。)");
    }
    Ok(())
}

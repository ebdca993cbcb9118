//! The commands that work on the local replica alone (offline): init, show, set, create,
//! preview-name, template, import, export, tree, list, move, delete, code, codes, progress,
//! status. Thin layers over `client_core::Replica`.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use client_core::{Direction, Error, NewChild, OrgView, Replica};
use indicatif::ProgressStyle;
use schemas::org::{INFO_FIELDS, required_fields};
use schemas::{Category, Field, Level};
use serde_json::{Value, json};
use time::OffsetDateTime;

use crate::args::{CreateArgs, MoveDirection};
use crate::ctx::{Ctx, parse_field, target};
use crate::output::{
    CliResult, Failure, Out, account_label, display_width, format_beijing, is_personal, label,
    mask, rfc3339, spinner, table, violation_json, violation_line,
};

/// Now, in Beijing time: the offset only changes how times are shown (the progress
/// sentence "截至…"), never a comparison.
fn now() -> OffsetDateTime {
    schemas::beijing::now()
}

/// Name the file of a file error (the library's I/O errors do not carry the path).
fn on_file(path: &Path) -> impl FnOnce(Error) -> Failure + '_ {
    move |error| match error {
        Error::Io(_) | Error::XlsxWrite(_) => Failure::Core {
            error: Box::new(error),
            notes: vec![format!("  文件:{}", path.display())],
        },
        e => e.into(),
    }
}

fn level_label(level: u8) -> String {
    Level::new(level)
        .map(|l| l.to_string())
        .unwrap_or_else(|_| format!("{level}级"))
}

/// Short names of every organization the replica knows (subtree and ancestors), by id.
fn names(replica: &Replica) -> CliResult<HashMap<String, String>> {
    let mut map: HashMap<String, String> = replica
        .ancestors()?
        .into_iter()
        .map(|a| (a.id, a.short_name))
        .collect();
    for e in replica.tree()? {
        map.insert(e.record.id, e.record.short_name);
    }
    Ok(map)
}

fn name_or_id(names: &HashMap<String, String>, id: &str) -> String {
    names.get(id).cloned().unwrap_or_else(|| id.to_owned())
}

fn sync_state(view: &OrgView) -> &'static str {
    match (view.pending, view.synced) {
        (true, true) => "有本地修改待同步",
        (true, false) => "有本地修改待同步(尚未与服务器同步过)",
        (false, true) => "已同步,无待同步的修改",
        (false, false) => "无待同步的修改(尚未与服务器同步过)",
    }
}

fn required_of(view: &OrgView) -> &'static [Field] {
    view.record
        .category()
        .map(|c| required_fields(c.profile()))
        .unwrap_or(&[])
}

fn field_labels(fields: &[Field]) -> String {
    fields
        .iter()
        .map(|f| f.label())
        .collect::<Vec<_>>()
        .join("、")
}

// ------------------------------------------------------------------------ init

pub fn init(ctx: &Ctx, out: &mut Out, unit: &str) -> CliResult {
    let path = ctx.replica_path();
    if path.exists() {
        return Err(Error::Refused(schemas::Violation::error(
            "replica.exists",
            None,
            format!(
                "本地数据已存在:{},不能重复初始化(如要重新开始,请换一个 --data 目录)",
                path.display()
            ),
        ))
        .into());
    }
    std::fs::create_dir_all(&ctx.data).map_err(|source| Failure::Io {
        message: format!("无法创建数据目录 {}", ctx.data.display()),
        source,
    })?;
    let replica = Replica::create_from_initial(&path, unit.trim())?;
    let own = replica.own()?;
    out.line(format!(
        "已为{}建立本地数据:{}",
        own.record.short_name,
        path.display()
    ));
    out.line(format!(
        "组织编号:{}  层级:{}  组织全称:{}",
        own.record.id,
        level_label(own.record.level),
        own.record.full_name
    ));
    let missing = &own.completeness.missing;
    if !missing.is_empty() {
        out.line(format!("待填写的必填项:{}", field_labels(missing)));
    }
    out.line("下一步:zhtj set 字段=值 填写本组织信息;zhtj create 或 zhtj import 创建下级组织。");
    Ok(())
}

// ------------------------------------------------------------------------ show / set

pub fn show(ctx: &Ctx, out: &mut Out, org: Option<&str>, full: bool) -> CliResult {
    let replica = ctx.open()?;
    let id = target(&replica, org)?;
    let view = replica.org(&id)?;
    let names = names(&replica)?;
    let required = required_of(&view);
    let value_of = |f: Field| -> String {
        let raw = view.record.get(f);
        if !full && is_personal(f) {
            mask(f, raw)
        } else {
            raw.to_owned()
        }
    };
    if ctx.json {
        let fields: Vec<Value> = INFO_FIELDS
            .iter()
            .map(|&f| {
                json!({
                    "key": f.key(),
                    "label": f.label(),
                    "value": value_of(f),
                    "required": required.contains(&f),
                })
            })
            .collect();
        out.json(&json!({
            "id": view.record.id,
            "parent": view.record.parent,
            "parent_name": name_or_id(&names, &view.record.parent),
            "level": view.record.level,
            "category": view.record.category,
            "short_name": view.record.short_name,
            "fields": fields,
            "masked": !full,
            "complete": view.completeness.is_complete(),
            "missing": view.completeness.missing.iter().map(|f| f.key()).collect::<Vec<_>>(),
            "violations": view.completeness.violations.iter().map(violation_json).collect::<Vec<_>>(),
            "pending": view.pending,
            "synced": view.synced,
            "rejection": view.rejection.as_ref().map(|v| v.iter().map(violation_json).collect::<Vec<_>>()),
        }));
        return Ok(());
    }
    let r = &view.record;
    out.line(format!("{}(组织编号 {})", r.short_name, r.id));
    let parent = if r.parent.is_empty() {
        "无".to_owned()
    } else {
        name_or_id(&names, &r.parent)
    };
    out.line(format!(
        "层级:{}  上级组织:{}",
        level_label(r.level),
        parent
    ));
    out.blank();
    out.line("组织信息(* 为必填项):");
    let width = INFO_FIELDS
        .iter()
        .map(|f| display_width(f.label()) + 1)
        .max()
        .unwrap_or(0);
    for &f in &INFO_FIELDS {
        let mark = if required.contains(&f) { "*" } else { "" };
        let v = value_of(f);
        let v = if v.is_empty() {
            "(未填写)".to_owned()
        } else {
            v
        };
        out.line(format!(
            "  {}  {}",
            label(&format!("{}{mark}", f.label()), width),
            v
        ));
    }
    out.blank();
    describe_completeness(out, &view);
    out.line(format!("同步状态:{}", sync_state(&view)));
    if let Some(rejection) = &view.rejection {
        out.line("服务器退回了上次的修改(修改仍保留在本地),原因:");
        for v in rejection {
            out.line(format!("  {}", violation_line(v)));
        }
        out.line("请按原因修改(zhtj set)后运行 zhtj sync 再次上传。");
    }
    Ok(())
}

fn describe_completeness(out: &mut Out, view: &OrgView) {
    let c = &view.completeness;
    out.line(format!(
        "组织信息完整:{}",
        if c.is_complete() { "是" } else { "否" }
    ));
    if !c.missing.is_empty() {
        out.line(format!("  缺少必填项:{}", field_labels(&c.missing)));
    }
    if !c.violations.is_empty() {
        out.line("  填写有误:");
        for v in &c.violations {
            out.line(format!("    {}", violation_line(v)));
        }
    }
}

fn parse_pairs(pairs: &[String]) -> CliResult<Vec<(Field, String)>> {
    pairs
        .iter()
        .map(|p| {
            let Some((name, value)) = p.split_once(['=', '=']) else {
                return Err(Failure::usage(
                    "cli.bad_pair",
                    format!("“{p}”应写成 字段=值,如 书记姓名=张三"),
                ));
            };
            let field = parse_field(name).ok_or_else(|| {
                Failure::usage(
                    "cli.unknown_field",
                    format!(
                        "没有名为“{}”的字段,可填写:{}",
                        name.trim(),
                        field_labels(&INFO_FIELDS)
                    ),
                )
            })?;
            Ok((field, value.to_owned()))
        })
        .collect()
}

pub fn set(ctx: &Ctx, out: &mut Out, org: Option<&str>, pairs: &[String]) -> CliResult {
    let changes = parse_pairs(pairs)?;
    let mut replica = ctx.open()?;
    let id = target(&replica, org)?;
    let view = replica.update_info(&id, &changes)?;
    out.line(format!("已保存({}):", view.record.short_name));
    let mut seen = Vec::new();
    for (f, _) in &changes {
        if seen.contains(f) {
            continue;
        }
        seen.push(*f);
        let raw = view.record.get(*f);
        let shown = if raw.is_empty() {
            "(已清除)".to_owned()
        } else {
            mask(*f, raw)
        };
        out.line(format!("  {}:{}", f.label(), shown));
    }
    let c = &view.completeness;
    if c.is_complete() {
        out.line("本组织信息已完整。");
    } else {
        if !c.missing.is_empty() {
            out.line(format!("仍缺少必填项:{}", field_labels(&c.missing)));
        }
        if c.errors().next().is_some() {
            out.line("仍有填写有误的项:");
            for v in c.errors() {
                out.line(format!("  {}", violation_line(v)));
            }
        }
    }
    Ok(())
}

// ------------------------------------------------------------------------ create

pub fn create(ctx: &Ctx, out: &mut Out, a: &CreateArgs) -> CliResult {
    let mut replica = ctx.open()?;
    let parent = target(&replica, a.parent.as_deref())?;
    let opt = |v: &Option<String>| v.clone().unwrap_or_default();
    let child = NewChild {
        category: a.category.clone(),
        short_name: a.name.clone(),
        full_name: opt(&a.full_name),
        industry: opt(&a.industry),
        phone: opt(&a.phone),
        email: opt(&a.email),
        youth_count: opt(&a.youth),
        recommended_count: opt(&a.recommended),
    };
    let id = replica.create_child(&parent, &child)?;
    let view = replica.org(&id)?;
    let parent_name = replica.org(&parent)?.record.short_name;
    let r = &view.record;
    if ctx.json {
        out.json(&json!({
            "id": r.id,
            "parent": r.parent,
            "parent_name": parent_name,
            "level": r.level,
            "category": r.category,
            "short_name": r.short_name,
            "full_name": r.full_name,
            "complete": view.completeness.is_complete(),
            "missing": view.completeness.missing.iter().map(|f| f.key()).collect::<Vec<_>>(),
        }));
        return Ok(());
    }
    out.line(format!(
        "已在{}下创建{}:{}",
        parent_name, r.category, r.short_name
    ));
    out.line(format!("组织编号:{}", r.id));
    out.line(format!("组织全称:{}", r.full_name));
    out.line(format!(
        "下一步:zhtj code {} 生成管理员注册码;也可用 zhtj set --org {} 字段=值 代为填写信息。",
        r.id, r.id
    ));
    Ok(())
}

pub fn preview_name(
    ctx: &Ctx,
    out: &mut Out,
    category: &str,
    name: &str,
    parent: Option<&str>,
) -> CliResult {
    let replica = ctx.open()?;
    let parent = target(&replica, parent)?;
    let category = Category::parse(category).map_err(Error::from)?;
    let full = replica.preview_full_name(&parent, category, name)?;
    if ctx.json {
        out.json(&json!({ "full_name": full }));
    } else {
        out.line(full);
    }
    Ok(())
}

// ------------------------------------------------------------------------ Excel

pub fn template(out: &mut Out, path: &Path) -> CliResult {
    client_core::excel::write_template(path).map_err(on_file(path))?;
    out.line(format!("已生成导入模板:{}", path.display()));
    out.line(
        "在“下级组织”工作表中每行填写一个组织(组织简称、组织类别必填),然后用 zhtj import 导入。",
    );
    Ok(())
}

/// `<file stem>-错误标注.xlsx` next to the uploaded file.
fn default_annotated(file: &Path) -> PathBuf {
    let stem = file
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "导入文件".to_owned());
    file.with_file_name(format!("{stem}-错误标注.xlsx"))
}

pub fn import(
    ctx: &Ctx,
    out: &mut Out,
    file: &Path,
    parent: Option<&str>,
    annotated: Option<&Path>,
) -> CliResult {
    let mut replica = ctx.open()?;
    let parent = target(&replica, parent)?;
    let parent_name = replica.org(&parent)?.record.short_name;
    if let Err(source) = std::fs::metadata(file) {
        return Err(Failure::Io {
            message: format!("无法读取导入文件 {}", file.display()),
            source,
        });
    }
    let annotated = annotated
        .map(Path::to_path_buf)
        .unwrap_or_else(|| default_annotated(file));
    let bar = spinner("正在读取并检查导入文件…");
    let mut sized = false;
    let result = replica.import_excel(&parent, file, Some(&annotated), &mut |done, total| {
        if !sized {
            sized = true;
            if let Ok(style) =
                ProgressStyle::with_template("正在创建下级组织 [{bar:30}] {pos}/{len}")
            {
                bar.set_style(style.progress_chars("=> "));
            }
            bar.set_length(total as u64);
        }
        bar.set_position(done as u64);
    });
    bar.finish_and_clear();
    match result {
        Ok(outcome) => {
            out.line(format!(
                "导入成功:已在{}下创建{}个直属下级组织。",
                parent_name,
                outcome.created.len()
            ));
            out.line("用 zhtj list 查看,zhtj codes 批量生成管理员注册码。");
            Ok(())
        }
        Err(error @ Error::ImportRows(_)) => {
            let mut notes = Vec::new();
            if annotated.exists() {
                notes.push(format!(
                    "已生成错误标注文件:{}(按“错误说明”列修改后,重新导入整个文件)",
                    annotated.display()
                ));
            }
            Err(Failure::Core {
                error: Box::new(error),
                notes,
            })
        }
        Err(error @ (Error::Io(_) | Error::XlsxWrite(_))) => Err(Failure::Core {
            error: Box::new(error),
            notes: vec![
                format!("  导入文件:{}", file.display()),
                format!("  错误标注文件:{}", annotated.display()),
            ],
        }),
        Err(e) => Err(e.into()),
    }
}

pub fn export(ctx: &Ctx, out: &mut Out, path: &Path) -> CliResult {
    let replica = ctx.open()?;
    let n = replica.export_table(path).map_err(on_file(path))?;
    out.line(format!(
        "已导出{n}个组织到:{}(书记手机号码已隐藏中间四位)",
        path.display()
    ));
    Ok(())
}

// ------------------------------------------------------------------------ tree / list

pub fn tree(ctx: &Ctx, out: &mut Out) -> CliResult {
    let replica = ctx.open()?;
    let entries = replica.tree()?;
    let rejected: std::collections::HashSet<String> =
        replica.rejections()?.into_iter().map(|r| r.id).collect();
    if ctx.json {
        let v: Vec<Value> = entries
            .iter()
            .map(|e| {
                json!({
                    "depth": e.depth,
                    "id": e.record.id,
                    "parent": e.record.parent,
                    "level": e.record.level,
                    "category": e.record.category,
                    "short_name": e.record.short_name,
                    "complete": e.complete,
                    "pending": e.pending,
                    "rejected": rejected.contains(&e.record.id),
                })
            })
            .collect();
        out.json(&Value::Array(v));
        return Ok(());
    }
    // Whether each entry is the last of its siblings: the next entry at a depth not
    // greater than its own is shallower (or there is none).
    let n = entries.len();
    let mut last = vec![true; n];
    for i in 0..n {
        let d = entries[i].depth;
        for e in &entries[i + 1..] {
            if e.depth < d {
                break;
            }
            if e.depth == d {
                last[i] = false;
                break;
            }
        }
    }
    let mut open: Vec<bool> = Vec::new(); // per depth: is the ancestor there the last one
    let (mut incomplete, mut pending) = (0, 0);
    for (i, e) in entries.iter().enumerate() {
        let mut prefix = String::new();
        if e.depth > 0 {
            for &was_last in open.iter().take(e.depth).skip(1) {
                prefix.push_str(if was_last { "   " } else { "│  " });
            }
            prefix.push_str(if last[i] { "└─ " } else { "├─ " });
        }
        open.truncate(e.depth);
        open.push(last[i]);
        let category = if e.record.category.is_empty() {
            "未定类别"
        } else {
            e.record.category.as_str()
        };
        let mut line = format!("{prefix}{}({category})", e.record.short_name);
        if !e.complete {
            incomplete += 1;
            line.push_str(" [信息不完整]");
        }
        if e.pending {
            pending += 1;
            line.push_str(" [待同步]");
        }
        if rejected.contains(&e.record.id) {
            line.push_str(" [被服务器退回]");
        }
        out.line(line);
    }
    out.blank();
    out.line(format!(
        "共{n}个组织:{}个信息完整,{incomplete}个信息不完整;{pending}个有待同步的修改。",
        n - incomplete
    ));
    Ok(())
}

pub fn list(ctx: &Ctx, out: &mut Out, parent: Option<&str>) -> CliResult {
    let replica = ctx.open()?;
    let parent = target(&replica, parent)?;
    list_children(&replica, out, &parent, ctx.json)
}

fn list_children(replica: &Replica, out: &mut Out, parent: &str, as_json: bool) -> CliResult {
    let parent_name = replica.org(parent)?.record.short_name;
    let kids = replica.children(parent)?;
    let mut rows = Vec::with_capacity(kids.len());
    let mut items = Vec::with_capacity(kids.len());
    for (i, k) in kids.iter().enumerate() {
        let view = replica.org(&k.id)?;
        let complete = view.completeness.is_complete();
        items.push(json!({
            "index": i + 1,
            "id": k.id,
            "short_name": k.short_name,
            "category": k.category,
            "complete": complete,
            "pending": view.pending,
        }));
        rows.push(vec![
            (i + 1).to_string(),
            k.short_name.clone(),
            k.category.clone(),
            if complete { "是" } else { "否" }.to_owned(),
            if view.pending { "是" } else { "否" }.to_owned(),
            k.id.clone(),
        ]);
    }
    if as_json {
        out.json(&json!({ "parent": parent, "parent_name": parent_name, "children": items }));
        return Ok(());
    }
    if rows.is_empty() {
        out.line(format!("{parent_name}还没有直属下级组织。"));
        return Ok(());
    }
    out.line(format!("{parent_name}的直属下级组织(共{}个):", rows.len()));
    table(
        out,
        &[
            "序号",
            "组织简称",
            "组织类别",
            "信息完整",
            "待同步",
            "组织编号",
        ],
        &rows,
    );
    Ok(())
}

pub fn move_org(
    ctx: &Ctx,
    out: &mut Out,
    org: &str,
    direction: MoveDirection,
    parent: Option<&str>,
) -> CliResult {
    let mut replica = ctx.open()?;
    let id = match replica.resolve(org.trim()) {
        Ok(id) => id,
        Err(Error::OrgNotFound(_)) if org.trim().parse::<usize>().is_ok() => {
            // A position of `zhtj list`.
            let parent = target(&replica, parent)?;
            let n: usize = org.trim().parse().unwrap_or(0);
            let kids = replica.children(&parent)?;
            match n.checked_sub(1).and_then(|i| kids.get(i)) {
                Some(k) => k.id.clone(),
                None => return Err(Error::OrgNotFound(format!("序号{n}")).into()),
            }
        }
        Err(e) => return Err(e.into()),
    };
    let dir = match direction {
        MoveDirection::Up => Direction::Up,
        MoveDirection::Down => Direction::Down,
    };
    replica.move_child(&id, dir)?;
    let me = replica.org(&id)?.record;
    out.line(format!(
        "已{}:{}",
        if dir == Direction::Up {
            "上移"
        } else {
            "下移"
        },
        me.short_name
    ));
    list_children(&replica, out, &me.parent, false)
}

pub fn delete(ctx: &Ctx, out: &mut Out, org: &str) -> CliResult {
    let mut replica = ctx.open()?;
    let id = replica.resolve(org.trim())?;
    let name = replica.org(&id)?.record.short_name;
    replica.delete_child(&id)?;
    out.line(format!(
        "已删除:{name}(组织编号 {id}),删除将随下次同步上传。"
    ));
    Ok(())
}

// ------------------------------------------------------------------------ codes

pub fn code(ctx: &Ctx, out: &mut Out, org: &str) -> CliResult {
    let mut replica = ctx.open()?;
    let id = replica.resolve(org.trim())?;
    let c = replica.issue_code(&id, now())?;
    if ctx.json {
        out.json(&json!({
            "org_id": c.org_id,
            "short_name": c.short_name,
            "category": c.category,
            "code": c.code,
            "expires_at": rfc3339(c.expires_at),
        }));
        return Ok(());
    }
    out.line(format!("已为{}生成管理员注册码", c.short_name));
    out.line(format!("管理员注册码:{}", c.code));
    out.line(format!(
        "有效期至:{}(北京时间)",
        format_beijing(c.expires_at)
    ));
    out.line("注册码区分大小写,一个注册码仅限一名管理员注册使用;过期后请重新生成。");
    out.line(schemas::code::how_to_register(Some(&c.code)));
    Ok(())
}

pub fn codes(ctx: &Ctx, out: &mut Out, parent: Option<&str>, export: Option<&Path>) -> CliResult {
    let mut replica = ctx.open()?;
    let parent = target(&replica, parent)?;
    let parent_name = replica.org(&parent)?.record.short_name;
    let at = now();
    let issued = replica.issue_codes_batch(&parent, at)?;
    let all = replica.codes_of_children(&parent, at)?;
    let exported = match export {
        Some(path) => Some((
            path,
            replica
                .export_codes(&parent, path, at)
                .map_err(on_file(path))?,
        )),
        None => None,
    };
    if ctx.json {
        let children: Vec<Value> = all
            .iter()
            .map(|(r, c)| {
                json!({
                    "org_id": r.id,
                    "short_name": r.short_name,
                    "category": r.category,
                    "code": c.as_ref().map(|c| c.code.clone()),
                    "expires_at": c.as_ref().map(|c| rfc3339(c.expires_at)),
                })
            })
            .collect();
        out.json(&json!({
            "parent": parent,
            "parent_name": parent_name,
            "issued": issued.len(),
            "children": children,
            "exported": exported.as_ref().map(|(p, n)| json!({"path": p.display().to_string(), "count": n})),
        }));
        return Ok(());
    }
    if all.is_empty() {
        out.line(format!("{parent_name}还没有直属下级组织,无需生成注册码。"));
    } else {
        out.line(format!(
            "本次为{parent_name}的{}个直属下级组织新生成了注册码(已有有效注册码或已有管理员的不再生成)。",
            issued.len()
        ));
        let rows: Vec<Vec<String>> = all
            .iter()
            .enumerate()
            .map(|(i, (r, c))| {
                vec![
                    (i + 1).to_string(),
                    r.short_name.clone(),
                    r.category.clone(),
                    c.as_ref()
                        .map(|c| c.code.clone())
                        .unwrap_or_else(|| "(无有效注册码)".to_owned()),
                    c.as_ref()
                        .map(|c| format_beijing(c.expires_at))
                        .unwrap_or_default(),
                ]
            })
            .collect();
        table(
            out,
            &[
                "序号",
                "组织简称",
                "组织类别",
                "管理员注册码",
                "有效期至(北京时间)",
            ],
            &rows,
        );
        out.line("注册码区分大小写,有效期20天,一个注册码仅限一名管理员注册使用。");
        out.line(schemas::code::how_to_register(None));
    }
    if let Some((path, n)) = exported {
        out.line(format!("已导出{n}个注册码到:{}", path.display()));
    }
    Ok(())
}

// ------------------------------------------------------------------------ progress / status

pub fn progress(ctx: &Ctx, out: &mut Out) -> CliResult {
    let replica = ctx.open()?;
    let p = replica.progress(now())?;
    if ctx.json {
        out.json(&serde_json::to_value(&p).map_err(Error::from)?);
        return Ok(());
    }
    if p.levels.is_empty() {
        out.line("本组织还没有下级组织。");
    }
    for tab in &p.levels {
        out.line(format!("【{}】", tab.title));
        out.line(&tab.sentence);
        let rows: Vec<Vec<String>> = tab.rows.iter().map(|r| r.cells().to_vec()).collect();
        table(out, &schemas::progress::ROW_HEADERS, &rows);
        out.blank();
    }
    if p.without_branch.is_empty() {
        out.line("没有发现团委、团工委、团总支下没有团支部的情况。");
    } else {
        out.line(format!(
            "以下{}个团委、团工委、团总支下还没有团支部(不能出现团委、团工委、团总支下没有团支部的现象):",
            p.without_branch.len()
        ));
        out.line(format!("  {}", p.without_branch.join("、")));
    }
    Ok(())
}

pub fn status(ctx: &Ctx, out: &mut Out) -> CliResult {
    let replica = ctx.open()?;
    // A replica started by a login holds no document until its first sync.
    let own = match replica.own() {
        Ok(own) => Some(own),
        Err(Error::OrgNotFound(_)) => None,
        Err(e) => return Err(e.into()),
    };
    let (docs, dirty) = replica.counts()?;
    let sync = replica.sync_status()?;
    let rejections = replica.rejections()?;
    let now_secs = OffsetDateTime::now_utc().unix_timestamp();
    let logged_in = sync.logged_in_at(now_secs);
    let time_of = |t: Option<i64>| t.and_then(|t| OffsetDateTime::from_unix_timestamp(t).ok());
    if ctx.json {
        let r = own.as_ref().map(|o| &o.record);
        out.json(&json!({
            "own_id": replica.own_id(),
            "own_short_name": r.map(|r| r.short_name.clone()),
            "own_full_name": r.map(|r| r.full_name.clone()),
            "level": r.map(|r| r.level),
            "category": r.map(|r| r.category.clone()),
            "own_complete": own.as_ref().map(|o| o.completeness.is_complete()),
            "replica": replica.path().display().to_string(),
            "orgs": docs,
            "pending": dirty,
            "server": sync.server_url,
            "logged_in": logged_in,
            "token_expires_at": time_of(sync.token_expires_at).map(rfc3339),
            "account": sync.account.as_ref().map(|a| json!({
                "org_id": a.org_id,
                "org_short_name": a.org_short_name,
                "mobile": mask(Field::Mobile, &a.mobile),
            })),
            "last_sync_at": time_of(sync.last_sync_at).map(rfc3339),
            "rejected": rejections.len(),
            "rejections": rejections.iter().map(|r| json!({
                "id": r.id,
                "short_name": r.short_name,
                "at": time_of(Some(r.at)).map(rfc3339),
                "violations": r.violations.iter().map(violation_json).collect::<Vec<_>>(),
            })).collect::<Vec<_>>(),
        }));
        return Ok(());
    }
    match &own {
        Some(own) => {
            let r = &own.record;
            out.line(format!(
                "本组织:{}(组织编号 {},{},{})",
                r.short_name,
                r.id,
                level_label(r.level),
                r.category
            ));
            out.line(format!("组织全称:{}", r.full_name));
            out.line(format!(
                "本组织信息完整:{}",
                if own.completeness.is_complete() {
                    "是"
                } else {
                    "否"
                }
            ));
        }
        None => {
            let name = sync
                .account
                .as_ref()
                .map(|a| a.org_short_name.clone())
                .unwrap_or_default();
            out.line(format!(
                "本组织:{name}(组织编号 {}),尚未从服务器下载本组织数据,请运行 zhtj sync",
                replica.own_id()
            ));
        }
    }
    out.line(format!("本地数据:{}", replica.path().display()));
    out.line(format!("组织数:{docs}(含本组织及已删除的组织)"));
    match &sync.server_url {
        Some(url) => out.line(format!("服务器:{url}")),
        None => out.line("服务器:未设置(仅离线使用;用 zhtj login 登录服务器后即可同步)"),
    }
    let who = sync.account.as_ref().map(account_label).unwrap_or_default();
    let expiry = time_of(sync.token_expires_at)
        .map(|t| format!("{}(北京时间)", format_beijing(t)))
        .unwrap_or_default();
    if logged_in {
        out.line(format!("登录状态:已登录({who}),有效期至 {expiry}"));
    } else if sync.has_token {
        out.line(format!(
            "登录状态:登录已过期({expiry}),请用 zhtj login 重新登录"
        ));
    } else if sync.server_url.is_some() {
        out.line("登录状态:未登录,同步前请用 zhtj login 登录");
    } else {
        out.line("登录状态:未登录");
    }
    match time_of(sync.last_sync_at) {
        Some(t) => out.line(format!("上次同步:{}(北京时间)", format_beijing(t))),
        None => out.line("上次同步:从未同步"),
    }
    out.line(format!("待同步的修改:{dirty}个组织"));
    if rejections.is_empty() {
        out.line("被服务器退回的修改:无");
    } else {
        out.line(format!(
            "被服务器退回的修改:{}个组织(修改后再同步;用 zhtj show ORG 查看原因)",
            rejections.len()
        ));
        for r in rejections.iter().take(20) {
            out.line(format!("  {}(组织编号 {})", r.short_name, r.id));
        }
        if rejections.len() > 20 {
            out.line(format!("  ……另有{}个", rejections.len() - 20));
        }
    }
    Ok(())
}

// ------------------------------------------------------------------------ stress (hidden)

/// Create `count` branches one at a time, printing each id only after `create_child`
/// returned (the crash test kills this process at random moments and checks that every
/// printed id survived).
pub fn stress_create(ctx: &Ctx, count: u64, parent: Option<&str>) -> CliResult {
    let mut replica = ctx.open()?;
    let parent = target(&replica, parent)?;
    let mut n = replica.children(&parent)?.len() as u64;
    let mut stdout = std::io::stdout().lock();
    let mut created = 0;
    while created < count {
        n += 1;
        let child = NewChild {
            category: Category::Branch.label().to_owned(),
            short_name: format!("压力测试{n}团支部"),
            ..NewChild::default()
        };
        match replica.create_child(&parent, &child) {
            Ok(id) => {
                let written = writeln!(stdout, "{id}").and_then(|()| stdout.flush());
                if written.is_err() {
                    // The reader is gone: stop quietly.
                    return Ok(());
                }
                created += 1;
            }
            Err(Error::Invalid(v)) if v.iter().any(|v| v.code == "short_name.duplicate") => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

//! The definitions of progress supervision (录入进度督导, rules.md §11), shared by the
//! server's progress service and the client's offline view of its own subtree: the facts
//! about one unit, the counts of a level, the summary sentence, the table's rows, the
//! completeness finding (no committee without a branch below, rules.md §1) and the campaign
//! schedule with each unit's overdue items.

use std::collections::{HashMap, HashSet};

use serde::{Deserialize, Serialize};
use time::{Date, Month, PrimitiveDateTime};

use crate::category::Category;
use crate::level::Level;
use crate::violation::Violation;

/// What progress needs to know about one unit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnitFacts {
    pub level: Level,
    pub category: Option<Category>,
    /// 是否已登录过系统: at least one of its admins has logged in.
    pub logged_in: bool,
    /// 组织信息是否完整 (rules.md §3).
    pub info_complete: bool,
    /// 是否已创建下级组织: it has at least one live direct child.
    pub created_children: bool,
    /// Live direct children that have neither a registered admin nor a valid code.
    pub children_without_code: u32,
}

impl UnitFacts {
    /// Whether "created subordinates" applies: a 团支部 has none to create (the notice:
    /// 团支部只须完成第1、2项).
    pub fn expects_children(&self) -> bool {
        self.category.is_none_or(Category::has_children)
    }
}

/// The counts behind one tab's summary sentence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct LevelCounts {
    pub total: u64,
    pub logged_in: u64,
    pub info_complete: u64,
    /// Among units that expect children: those that have created some.
    pub created_children: u64,
    /// Units that expect no children (团支部), left out of the created/not-created pair.
    pub branches: u64,
}

impl LevelCounts {
    pub fn add(&mut self, f: &UnitFacts) {
        self.total += 1;
        self.logged_in += u64::from(f.logged_in);
        self.info_complete += u64::from(f.info_complete);
        if f.expects_children() {
            self.created_children += u64::from(f.created_children);
        } else {
            self.branches += 1;
        }
    }

    pub fn not_logged_in(&self) -> u64 {
        self.total - self.logged_in
    }

    pub fn info_incomplete(&self) -> u64 {
        self.total - self.info_complete
    }

    pub fn not_created_children(&self) -> u64 {
        self.total - self.branches - self.created_children
    }

    /// Share of units with complete information, 0.0–1.0 (for roll-up charts).
    pub fn complete_ratio(&self) -> f64 {
        if self.total == 0 {
            0.0
        } else {
            self.info_complete as f64 / self.total as f64
        }
    }
}

/// Tally facts into counts (the brute-force definition the server's indexed queries
/// must agree with).
pub fn tally<'a>(facts: impl IntoIterator<Item = &'a UnitFacts>) -> LevelCounts {
    let mut c = LevelCounts::default();
    for f in facts {
        c.add(f);
    }
    c
}

/// "截至2017年12月7日9时" as the notice's screens write it.
pub fn format_as_of(at: PrimitiveDateTime) -> String {
    format!(
        "截至{}年{}月{}日{}时",
        at.year(),
        u8::from(at.month()),
        at.day(),
        at.hour()
    )
}

/// The tab's title: 二级组织录入情况, 三级…
pub fn tab_title(level: Level) -> String {
    format!("{}级组织录入情况", level.ordinal())
}

/// The summary sentence of one tab (rules.md §11): "截至{time},{scope}共有{level}组织{n}个,
/// 其中{a}个已登录系统,{b}个未登录系统;{c}个已完整录入本组织信息,{d}个未完整录入本组织
/// 信息;{e}个已创建直属下级组织,{f}个未创建直属下级组织。" Branches, which have no
/// subordinates to create, are counted apart so that e + f are the units that must create.
pub fn summary_sentence(
    at: PrimitiveDateTime,
    scope: &str,
    level: Level,
    c: &LevelCounts,
) -> String {
    let mut s = format!(
        "{},{}共有{}组织{}个,其中{}个已登录系统,{}个未登录系统;{}个已完整录入本组织信息,{}个未完整录入本组织信息;",
        format_as_of(at),
        scope,
        level,
        c.total,
        c.logged_in,
        c.not_logged_in(),
        c.info_complete,
        c.info_incomplete(),
    );
    s.push_str(&format!(
        "{}个已创建直属下级组织,{}个未创建直属下级组织",
        c.created_children,
        c.not_created_children()
    ));
    if c.branches > 0 {
        s.push_str(&format!("({}个团支部无需创建下级组织)", c.branches));
    }
    s.push('。');
    s
}

/// The table's columns, in the notice's order.
pub const ROW_HEADERS: [&str; 7] = [
    "组织简称",
    "是否已登录过系统",
    "组织信息是否完整",
    "是否已创建下级组织",
    "组织管理员",
    "联系电话",
    "管理员注册码",
];

/// "是" / "否".
pub fn yes_no(b: bool) -> &'static str {
    if b { "是" } else { "否" }
}

/// One row of a tab's table. Personal data in it is already masked by whoever builds it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProgressRow {
    pub org_id: String,
    pub short_name: String,
    pub logged_in: bool,
    pub info_complete: bool,
    /// `None` for a 团支部 ("不适用").
    pub created_children: Option<bool>,
    pub admins: Vec<String>,
    pub phone: String,
    /// The current valid code, for a unit with no admin yet.
    pub code: Option<String>,
}

impl ProgressRow {
    /// The row's cells, as the table and the Excel report show them.
    pub fn cells(&self) -> [String; 7] {
        [
            self.short_name.clone(),
            yes_no(self.logged_in).to_owned(),
            yes_no(self.info_complete).to_owned(),
            self.created_children
                .map(|b| yes_no(b).to_owned())
                .unwrap_or_else(|| "不适用".to_owned()),
            self.admins.join("、"),
            self.phone.clone(),
            self.code.clone().unwrap_or_default(),
        ]
    }
}

/// A node of the tree, as the completeness finding needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TreeNode<'a> {
    pub id: &'a str,
    pub parent: &'a str,
    pub category: Option<Category>,
}

/// The completeness finding of rules.md §1: the 团委, 团工委 and 团总支 (among `nodes`, live
/// ones only) that have no 团支部 anywhere below them. O(n): each branch marks its
/// ancestors once.
pub fn committees_without_branch<'a>(nodes: &[TreeNode<'a>]) -> Vec<&'a str> {
    let parent_of: HashMap<&str, &str> = nodes.iter().map(|n| (n.id, n.parent)).collect();
    let mut has_branch: HashSet<&str> = HashSet::new();
    for n in nodes
        .iter()
        .filter(|n| n.category == Some(Category::Branch))
    {
        let mut cur = n.parent;
        while !cur.is_empty() && has_branch.insert(cur) {
            cur = parent_of.get(cur).copied().unwrap_or("");
        }
    }
    nodes
        .iter()
        .filter(|n| {
            n.category.is_some_and(Category::needs_branch_below) && !has_branch.contains(n.id)
        })
        .map(|n| n.id)
        .collect()
}

/// A task of the campaign (the notice's 任务 (1)–(4)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Task {
    /// 完成本级组织信息录入.
    InfoComplete,
    /// 完成直属下级组织创建 (units that have subordinates).
    ChildrenCreated,
    /// 为直属下级组织分配管理员注册码.
    CodesIssued,
}

impl Task {
    pub const ALL: [Task; 3] = [Task::InfoComplete, Task::ChildrenCreated, Task::CodesIssued];

    pub fn label(self) -> &'static str {
        match self {
            Task::InfoComplete => "录入本级组织信息",
            Task::ChildrenCreated => "创建直属下级组织",
            Task::CodesIssued => "为直属下级组织分配管理员注册码",
        }
    }

    /// The short key of a schedule item (`4.info`).
    pub fn key(self) -> &'static str {
        match self {
            Task::InfoComplete => "info",
            Task::ChildrenCreated => "children",
            Task::CodesIssued => "codes",
        }
    }
}

/// One deadline: units at `level` (or deeper, when `and_deeper`) must have done `task` by `due`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Deadline {
    pub level: u8,
    pub and_deeper: bool,
    pub task: Task,
    #[serde(with = "iso_date")]
    pub due: Date,
}

impl Deadline {
    /// The item's key, as an operator types it: level, `+` for "and deeper", task
    /// (`4.info`, `6+.codes`).
    pub fn item(&self) -> String {
        format!(
            "{}{}.{}",
            self.level,
            if self.and_deeper { "+" } else { "" },
            self.task.key()
        )
    }

    /// The item in Chinese: 四级组织录入本级组织信息, 六级及以下组织为直属下级组织分配管理员注册码.
    pub fn label(&self) -> String {
        let level = Level::new(self.level)
            .map(|l| l.ordinal())
            .unwrap_or_else(|_| self.level.to_string());
        format!(
            "{level}级{}组织{}",
            if self.and_deeper { "及以下" } else { "" },
            self.task.label()
        )
    }
}

/// The campaign schedule (rules.md §11): when the campaign starts and, per level, the day
/// each task is due. Server data the city sets (`zhtj-server schedule`), defaulting to the
/// notice's dates.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Schedule {
    /// The campaign's first day: no deadline may fall before it.
    #[serde(with = "iso_date", default = "notice_start")]
    pub start: Date,
    pub deadlines: Vec<Deadline>,
}

/// The notice's first day of entry (第四级组织信息录入 from 2017-12-15).
pub fn notice_start() -> Date {
    d(2017, Month::December, 15)
}

// Dates as "2017-12-18" in JSON, not the `time` crate's default `[2017, 352]`.
time::serde::format_description!(iso_date, Date, "[year]-[month]-[day]");

fn d(y: i32, m: Month, day: u8) -> Date {
    Date::from_calendar_date(y, m, day).expect("valid constant date")
}

impl Default for Schedule {
    /// 成青办〔2017〕70号: level 4 by 2017-12-18 (codes to level 5 by 12-20); level 5 by
    /// 12-26 (codes to level 6 by 12-29); level 6 by 2018-01-08; the whole tree by 01-20.
    fn default() -> Self {
        use Month::*;
        use Task::*;
        let dl = |level, and_deeper, task, due| Deadline {
            level,
            and_deeper,
            task,
            due,
        };
        Schedule {
            start: notice_start(),
            deadlines: vec![
                dl(4, false, InfoComplete, d(2017, December, 18)),
                dl(4, false, ChildrenCreated, d(2017, December, 18)),
                dl(4, false, CodesIssued, d(2017, December, 20)),
                dl(5, false, InfoComplete, d(2017, December, 26)),
                dl(5, false, ChildrenCreated, d(2017, December, 26)),
                dl(5, false, CodesIssued, d(2017, December, 29)),
                dl(6, false, InfoComplete, d(2018, January, 8)),
                dl(6, false, ChildrenCreated, d(2018, January, 8)),
                dl(6, true, CodesIssued, d(2018, January, 20)),
                dl(7, true, InfoComplete, d(2018, January, 20)),
                dl(7, true, ChildrenCreated, d(2018, January, 20)),
            ],
        }
    }
}

/// An item a unit has not done by its deadline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Overdue {
    pub task: Task,
    #[serde(with = "iso_date")]
    pub due: Date,
}

fn schedule_violation(code: &str, message: impl Into<String>) -> Violation {
    Violation::error(code, None, message)
}

/// Parse "2017-12-18" (half-width or full-width digits, surrounding spaces ignored).
pub fn parse_date(raw: &str) -> Option<Date> {
    let s = crate::text::normalize(raw);
    Date::parse(
        &s,
        time::macros::format_description!("[year]-[month]-[day]"),
    )
    .ok()
}

/// The date `raw` of the schedule's item `item` (its key or Chinese name), or why not.
pub fn parse_item_date(item: &str, raw: &str) -> Result<Date, Violation> {
    parse_date(raw).ok_or_else(|| {
        let item = crate::text::truncate_for_message(item);
        let what = if item.ends_with("日期") {
            item
        } else {
            format!("{item}的日期")
        };
        schedule_violation(
            "schedule.bad_date",
            format!(
                "{what}“{}”格式不对,应为 YYYY-MM-DD,如 2017-12-18",
                crate::text::truncate_for_message(raw)
            ),
        )
    })
}

/// "2017-12-18".
pub fn format_date(d: Date) -> String {
    format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day())
}

impl Schedule {
    /// Every item an operator may set, with its Chinese name, for help and messages
    /// (`start` first).
    pub fn items(&self) -> Vec<(String, String)> {
        std::iter::once(("start".to_owned(), "活动开始日期".to_owned()))
            .chain(self.deadlines.iter().map(|d| (d.item(), d.label())))
            .collect()
    }

    /// The schedule with `changes` applied, each `ITEM=YYYY-MM-DD` (`start=…` for the
    /// campaign's first day, `4.info=…` for a deadline: see [`Schedule::items`]; the
    /// Chinese name of an item is accepted too), then checked ([`Schedule::check`]). Every
    /// problem is reported at once.
    pub fn with_changes<S: AsRef<str>>(&self, changes: &[S]) -> Result<Schedule, Vec<Violation>> {
        let mut out = self.clone();
        let mut v = Vec::new();
        for change in changes {
            let change = crate::text::normalize(change.as_ref());
            let Some((item, value)) = change.split_once('=') else {
                v.push(schedule_violation(
                    "schedule.bad_item",
                    format!(
                        "“{}”应写成 事项=日期,如 4.info=2017-12-18",
                        crate::text::truncate_for_message(&change)
                    ),
                ));
                continue;
            };
            let (item, value) = (item.trim(), value.trim());
            let date = match parse_item_date(item, value) {
                Ok(d) => d,
                Err(e) => {
                    v.push(e);
                    continue;
                }
            };
            if item == "start" || item == "活动开始日期" {
                out.start = date;
                continue;
            }
            match out
                .deadlines
                .iter_mut()
                .find(|d| d.item() == item || d.label() == item)
            {
                Some(d) => d.due = date,
                None => v.push(schedule_violation(
                    "schedule.unknown_item",
                    format!(
                        "没有“{}”这一事项。可设置的事项:{}",
                        crate::text::truncate_for_message(item),
                        self.items()
                            .iter()
                            .map(|(k, l)| format!("{k}({l})"))
                            .collect::<Vec<_>>()
                            .join("、")
                    ),
                )),
            }
        }
        if v.is_empty() {
            v = out.check();
        }
        if v.is_empty() { Ok(out) } else { Err(v) }
    }

    /// What is wrong with the schedule: a deadline before the campaign's start.
    pub fn check(&self) -> Vec<Violation> {
        self.deadlines
            .iter()
            .filter(|d| d.due < self.start)
            .map(|d| {
                schedule_violation(
                    "schedule.before_start",
                    format!(
                        "{}({})的截止日期{}早于活动开始日期{},请改为活动开始之后的日期",
                        d.label(),
                        d.item(),
                        format_date(d.due),
                        format_date(self.start)
                    ),
                )
            })
            .collect()
    }

    /// The notice's schedule moved to start on `start`: every deadline keeps its distance
    /// from the start (level 4 information 3 days after it, the whole tree 36 days after).
    pub fn notice_from(start: Date) -> Schedule {
        let notice = Schedule::default();
        let shift = start - notice.start;
        Schedule {
            start,
            deadlines: notice
                .deadlines
                .into_iter()
                .map(|d| Deadline {
                    due: d.due.saturating_add(shift),
                    ..d
                })
                .collect(),
        }
    }

    /// The deadlines that apply to a unit at `level`.
    pub fn for_level(&self, level: Level) -> impl Iterator<Item = &Deadline> {
        let l = level.get();
        self.deadlines
            .iter()
            .filter(move |d| d.level == l || (d.and_deeper && l > d.level))
    }

    /// What the unit has not done although its deadline has passed (`today` > due).
    pub fn overdue(&self, facts: &UnitFacts, today: Date) -> Vec<Overdue> {
        self.for_level(facts.level)
            .filter(|d| today > d.due)
            .filter(|d| match d.task {
                Task::InfoComplete => !facts.info_complete,
                Task::ChildrenCreated => facts.expects_children() && !facts.created_children,
                Task::CodesIssued => facts.expects_children() && facts.children_without_code > 0,
            })
            .map(|d| Overdue {
                task: d.task,
                due: d.due,
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::{date, datetime};

    fn facts(
        level: u8,
        category: Category,
        logged: bool,
        complete: bool,
        created: bool,
    ) -> UnitFacts {
        UnitFacts {
            level: Level::new(level).unwrap(),
            category: Some(category),
            logged_in: logged,
            info_complete: complete,
            created_children: created,
            children_without_code: 0,
        }
    }

    #[test]
    fn sentence_matches_the_notice_screen() {
        let fs = vec![
            facts(2, Category::LeadingOrgan, true, true, true),
            facts(2, Category::LeadingOrgan, false, false, true),
            facts(2, Category::LeadingOrgan, true, false, false),
        ];
        let c = tally(&fs);
        assert_eq!(
            (c.total, c.logged_in, c.info_complete, c.created_children),
            (3, 2, 1, 2)
        );
        let s = summary_sentence(datetime!(2017-12-07 9:05), "全团", Level::PROVINCE, &c);
        assert_eq!(
            s,
            "截至2017年12月7日9时,全团共有二级组织3个,其中2个已登录系统,1个未登录系统;\
             1个已完整录入本组织信息,2个未完整录入本组织信息;2个已创建直属下级组织,\
             1个未创建直属下级组织。"
        );
        assert_eq!(tab_title(Level::PROVINCE), "二级组织录入情况");
    }

    #[test]
    fn branches_are_counted_apart_from_creating() {
        let fs = vec![
            facts(6, Category::Branch, true, true, false),
            facts(6, Category::Committee, true, true, false),
        ];
        let c = tally(&fs);
        assert_eq!(c.not_created_children(), 1);
        assert_eq!(c.branches, 1);
        let s = summary_sentence(
            datetime!(2018-01-02 10:00),
            "团锦江区委",
            Level::VILLAGE,
            &c,
        );
        assert!(
            s.ends_with("0个已创建直属下级组织,1个未创建直属下级组织(1个团支部无需创建下级组织)。"),
            "{s}"
        );
        let row = ProgressRow {
            org_id: "x".into(),
            short_name: "大雅宝社区团支部".into(),
            logged_in: false,
            info_complete: true,
            created_children: None,
            admins: vec![],
            phone: String::new(),
            code: Some("AB3dE7fG".into()),
        };
        assert_eq!(row.cells()[1], "否");
        assert_eq!(row.cells()[3], "不适用");
    }

    #[test]
    fn committees_without_branch_are_found() {
        let n = |id, parent, c| TreeNode {
            id,
            parent,
            category: Some(c),
        };
        let nodes = vec![
            n("city", "", Category::LeadingOrgan),
            n("school", "city", Category::Committee),
            n("grade", "school", Category::GeneralBranch),
            n("class", "grade", Category::Branch),
            n("factory", "city", Category::Committee),
            n("empty_gb", "factory", Category::GeneralBranch),
            n("wc", "city", Category::WorkingCommittee),
        ];
        let mut found = committees_without_branch(&nodes);
        found.sort();
        assert_eq!(found, vec!["empty_gb", "factory", "wc"]);
    }

    #[test]
    fn overdue_items_follow_the_notice_dates() {
        let s = Schedule::default();
        let mut f = facts(4, Category::LeadingOrgan, true, false, false);
        assert!(
            s.overdue(&f, date!(2017 - 12 - 18)).is_empty(),
            "due day itself is not late"
        );
        let late = s.overdue(&f, date!(2017 - 12 - 19));
        assert_eq!(
            late.iter().map(|o| o.task).collect::<Vec<_>>(),
            vec![Task::InfoComplete, Task::ChildrenCreated]
        );
        f.info_complete = true;
        f.created_children = true;
        f.children_without_code = 3;
        assert!(s.overdue(&f, date!(2017 - 12 - 20)).is_empty());
        assert_eq!(
            s.overdue(&f, date!(2017 - 12 - 21))[0].task,
            Task::CodesIssued
        );
        let branch = facts(8, Category::Branch, false, false, false);
        assert!(s.overdue(&branch, date!(2018 - 01 - 20)).is_empty());
        let late = s.overdue(&branch, date!(2018 - 01 - 21));
        assert_eq!(
            late,
            vec![Overdue {
                task: Task::InfoComplete,
                due: date!(2018 - 01 - 20)
            }]
        );
    }
}

#[cfg(test)]
mod schedule_tests {
    use super::*;
    use time::macros::date;

    #[test]
    fn items_are_set_by_key_or_chinese_name() {
        let s = Schedule::default()
            .with_changes(&[
                "start=2026-12-01",
                "4.info=2026-12-05",
                "六级及以下组织为直属下级组织分配管理员注册码=2027-01-10",
                "4.children = 2026-12-05",
                "4.codes=2026-12-08",
                "5.info=2026-12-12",
                "5.children=2026-12-12",
                "5.codes=2026-12-15",
                "6.info=2026-12-20",
                "6.children=2026-12-20",
                "7+.info=2027-01-10",
                "7+.children=2027-01-10",
            ])
            .unwrap();
        assert_eq!(s.start, date!(2026 - 12 - 01));
        assert_eq!(s.deadlines[0].due, date!(2026 - 12 - 05));
        let codes6 = s.deadlines.iter().find(|d| d.item() == "6+.codes").unwrap();
        assert_eq!(codes6.due, date!(2027 - 01 - 10));
        assert_eq!(
            codes6.label(),
            "六级及以下组织为直属下级组织分配管理员注册码"
        );
        assert!(s.check().is_empty());
    }

    #[test]
    fn unknown_items_bad_dates_and_deadlines_before_the_start_are_refused() {
        let e = Schedule::default()
            .with_changes(&["9.info=2017-12-20", "4.info=2017-13-01", "4.info"])
            .unwrap_err();
        let codes: Vec<&str> = e.iter().map(|v| v.code.as_str()).collect();
        assert_eq!(
            codes,
            [
                "schedule.unknown_item",
                "schedule.bad_date",
                "schedule.bad_item"
            ]
        );
        assert!(
            e[0].message.contains("4.info(四级组织录入本级组织信息)"),
            "{}",
            e[0].message
        );
        // Moving the start past the notice's deadlines leaves all of them before it.
        let e = Schedule::default()
            .with_changes(&["start=2026-12-01"])
            .unwrap_err();
        assert_eq!(e.len(), 11);
        assert!(e.iter().all(|v| v.code == "schedule.before_start"));
        assert!(
            e[0].message
                .contains("截止日期2017-12-18早于活动开始日期2026-12-01"),
            "{}",
            e[0].message
        );
        let e = Schedule::default()
            .with_changes(&["4.codes=2017-12-14"])
            .unwrap_err();
        assert_eq!(e.len(), 1);
        assert!(
            e[0].message
                .starts_with("四级组织为直属下级组织分配管理员注册码(4.codes)")
        );
    }

    #[test]
    fn the_notice_schedule_moves_with_its_start() {
        let s = Schedule::notice_from(date!(2026 - 12 - 01));
        assert_eq!(s.start, date!(2026 - 12 - 01));
        // 2017-12-15 → 12-18 is 3 days; 2017-12-15 → 2018-01-20 is 36.
        assert_eq!(s.deadlines[0].due, date!(2026 - 12 - 04));
        assert_eq!(s.deadlines.last().unwrap().due, date!(2027 - 01 - 06));
        assert!(s.check().is_empty());
        assert_eq!(Schedule::notice_from(notice_start()), Schedule::default());
    }

    #[test]
    fn a_schedule_without_a_start_reads_as_the_notice_start() {
        let s: Schedule = serde_json::from_str(r#"{"deadlines":[]}"#).unwrap();
        assert_eq!(s.start, notice_start());
        let json = serde_json::to_string(&Schedule::default()).unwrap();
        assert!(
            json.starts_with(r#"{"start":"2017-12-15","deadlines":[{"level":4"#),
            "{json}"
        );
    }
}

#[cfg(test)]
mod serde_tests {
    #[test]
    fn dates_serialize_as_iso_dates() {
        let o = super::Overdue {
            task: super::Task::InfoComplete,
            due: time::macros::date!(2017 - 12 - 18),
        };
        let json = serde_json::to_string(&o).unwrap();
        assert_eq!(json, r#"{"task":"info_complete","due":"2017-12-18"}"#);
        assert_eq!(serde_json::from_str::<super::Overdue>(&json).unwrap(), o);
    }
}

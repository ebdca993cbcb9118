//! Seeded generators of realistic trees, for demonstrations, tests and benchmarks.
//!
//! - [`chengdu_tree`]: the pre-initialized chain ([`crate::initial::initial_tree`], same
//!   records and ids), then below each of Chengdu's 20 district and county committees its
//!   375 towns and streets of 2017 (rules.md §1 level 5: a 街道 as 团工委 "XX街道团工委", a
//!   镇 or 乡 as 团委 "XX镇团委"), below each of those its 4,342 villages and communities
//!   (level 6: "XX社区团支部", "XX村团支部"), and, seeded-random, the units a real tree
//!   also holds: secondary schools (a 中学团委 with 年级团总支 and class branches
//!   "2017级3班团支部", rules.md §5), vocational schools (专业团总支, "计算机应用专业2017级2班团支部"),
//!   hospitals, enterprises (公司团委 with 车间团支部; groups with subsidiaries), the
//!   district's 机关团工委 and 两新组织团工委, and under towns their organ branch,
//!   schools, health centres and small enterprises.
//! - [`synthetic_tree`]: the Chengdu tree grown with more such units to an exact size, for
//!   benchmarks (100,000 organizations and more).
//! - [`fill_campaign`]: a campaign a few days before its deadline (rules.md §11 schedule):
//!   a seeded share of the organizations have their information complete, more at level 4
//!   than at level 6, some partly entered, the rest untouched.
//!
//! Every generated record follows the rules: short names pass [`ShortName::parse`] for their
//! category (rules.md §5) and are unique among siblings, full names come from
//! [`generate_full_name`] (rules.md §6), a child is one level below its parent (rules.md §1) and of
//! a category the parent may contain (rules.md §2), and every committee, working committee and
//! general branch has a branch below it except a few left without on purpose
//! ([`GenOptions::childless`], the completeness finding of rules.md §1). Filled values are valid
//! (rules.md §3, §9): a record is either complete or only *missing* fields, never invalid.
//!
//! Determinism: everything derives from [`GenOptions::seed`] through [`SplitMix`], a tiny
//! generator of our own (so that a seed means the same tree whatever the version of `rand`).
//! Ids are `g-` + 24 hex digits drawn from it; records come parents before children.

use std::collections::{HashMap, HashSet};
use std::ops::RangeInclusive;
use std::sync::OnceLock;

use crate::category::{Category, Profile};
use crate::divisions::{self, Division};
use crate::id_number::IdNumber;
use crate::industry::Industry;
use crate::initial;
use crate::level::Level;
use crate::name::{ChainLink, ShortName, generate_full_name, name_key, stem};
use crate::org::OrgRecord;

/// The knobs of the generators. `GenOptions::new(seed)` gives the defaults.
#[derive(Debug, Clone, PartialEq)]
pub struct GenOptions {
    /// Everything derives from it: the same seed gives the same tree and campaign.
    pub seed: u64,
    /// How many seeded extra units (schools, enterprises, institutions) to add, relative to
    /// the default density (1.0); 0 gives the administrative tree alone.
    pub extra_units: f64,
    /// The share of generated committee-like units (团委, 团工委, 团总支) created without any
    /// branch yet, to exercise the completeness finding (rules.md §1).
    pub childless: f64,
    /// The state of the campaign [`fill_campaign`] produces.
    pub campaign: CampaignRates,
}

/// The share of organizations with their information complete, by level, in a campaign a
/// few days before its deadline (rules.md §11: level 4 first, level 6 last).
#[derive(Debug, Clone, PartialEq)]
pub struct CampaignRates {
    /// Levels 1–3 (团中央, 团四川省委, 团成都市委).
    pub chain: f64,
    /// Level 4: district and county committees.
    pub county: f64,
    /// Level 5: towns and streets, and units directly under a district.
    pub township: f64,
    /// Level 6: villages and communities, and units under a town.
    pub village: f64,
    /// Levels 7 and deeper.
    pub deeper: f64,
    /// Of the organizations not complete, the share with some fields entered.
    pub partial: f64,
    /// How much a district's diligence varies (0 = every district alike): each
    /// organization's chance is its level's rate times a factor drawn around its parent's.
    pub spread: f64,
}

impl Default for CampaignRates {
    fn default() -> CampaignRates {
        CampaignRates {
            chain: 1.0,
            county: 0.85,
            township: 0.55,
            village: 0.25,
            deeper: 0.2,
            partial: 0.35,
            spread: 0.25,
        }
    }
}

impl CampaignRates {
    /// The share complete at a level.
    pub fn at_level(&self, level: u8) -> f64 {
        match level {
            0..=3 => self.chain,
            4 => self.county,
            5 => self.township,
            6 => self.village,
            _ => self.deeper,
        }
    }
}

impl GenOptions {
    pub fn new(seed: u64) -> GenOptions {
        GenOptions {
            seed,
            ..GenOptions::default()
        }
    }
}

impl Default for GenOptions {
    fn default() -> GenOptions {
        GenOptions {
            seed: 2017,
            extra_units: 1.0,
            childless: 0.03,
            campaign: CampaignRates::default(),
        }
    }
}

// ---------------------------------------------------------------------------------------
// The generator of random numbers

/// SplitMix64: a small, fast, seedable generator whose output never changes between
/// versions (the generators' determinism rests on it). Not for secrets.
#[derive(Debug, Clone)]
pub struct SplitMix(u64);

impl SplitMix {
    pub fn new(seed: u64) -> SplitMix {
        SplitMix(seed)
    }

    /// A generator for one key under a seed (e.g. one organization's id): the same key and
    /// seed give the same stream whatever else was drawn before.
    pub fn for_key(seed: u64, key: &str) -> SplitMix {
        // FNV-1a of the key, mixed with the seed.
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in key.bytes() {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        let mut s = SplitMix(seed ^ h.rotate_left(17));
        s.next_u64();
        s
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`n` > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n.max(1))) >> 64) as u64
    }

    /// A number in the inclusive range.
    pub fn range(&mut self, r: RangeInclusive<u32>) -> u32 {
        let (lo, hi) = (*r.start(), *r.end());
        if hi <= lo {
            return lo;
        }
        lo + self.below(u64::from(hi - lo) + 1) as u32
    }

    /// A number in `[0, 1)`.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }

    /// One element of a non-empty slice.
    pub fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
        &xs[self.below(xs.len() as u64) as usize]
    }

    /// `k` distinct elements of a slice, in the slice's order.
    pub fn sample<'a, T>(&mut self, xs: &'a [T], k: usize) -> Vec<&'a T> {
        let mut idx: Vec<usize> = (0..xs.len()).collect();
        let k = k.min(xs.len());
        for i in 0..k {
            let j = i + self.below((xs.len() - i) as u64) as usize;
            idx.swap(i, j);
        }
        let mut chosen = idx[..k].to_vec();
        chosen.sort_unstable();
        chosen.into_iter().map(|i| &xs[i]).collect()
    }

    /// `n` decimal digits.
    pub fn digits(&mut self, n: usize) -> String {
        (0..n)
            .map(|_| char::from(b'0' + self.below(10) as u8))
            .collect()
    }
}

// ---------------------------------------------------------------------------------------
// Name pools

const BRANDS: &[&str] = &[
    "天府", "锦城", "蓉欣", "川西", "金沙", "西岭", "浣花", "蜀都", "银杏", "芙蓉", "龙泉", "东篱",
    "南湖", "翠微", "宏达", "华蓉", "新川", "博瑞", "兴蓉", "明珠", "嘉禾", "瑞丰", "启航", "恒信",
    "鑫源", "安康", "景程", "众诚", "岷江", "青城", "峨眉", "锦华", "蓉昌", "川能", "金瑞", "德阳",
    "天润", "汇通", "远航", "立信",
];

const TRADES: &[&str] = &[
    "电子科技",
    "食品",
    "机械制造",
    "物流",
    "建筑工程",
    "医药",
    "包装印刷",
    "信息技术",
    "商贸",
    "汽车零部件",
    "家具",
    "服装",
    "农业开发",
    "环保科技",
    "文化传媒",
    "餐饮管理",
    "光电",
    "新材料",
    "物业服务",
    "旅游开发",
    "软件",
    "生物科技",
    "能源",
    "通信",
];

const WORKSHOPS: &[&str] = &[
    "一车间",
    "二车间",
    "三车间",
    "包装车间",
    "装配车间",
    "生产部",
    "研发中心",
    "销售部",
    "质检部",
    "机关",
    "物流部",
    "技术部",
    "客服中心",
    "行政部",
];

const HOSPITAL_DEPTS: &[&str] = &[
    "内科",
    "外科",
    "妇产科",
    "儿科",
    "护理部",
    "医技科室",
    "行政后勤",
    "急诊科",
    "药剂科",
];

const BUREAUS: &[&str] = &[
    "党政办公室",
    "发改局",
    "教育局",
    "财政局",
    "人社局",
    "卫计局",
    "公安分局",
    "城管局",
    "文旅局",
    "司法局",
    "民政局",
    "住建局",
    "环保局",
    "商务局",
    "统计局",
    "审计局",
    "农林局",
    "交通局",
];

const MAJORS: &[&str] = &[
    "计算机应用",
    "汽车维修",
    "电子商务",
    "学前教育",
    "会计",
    "烹饪",
    "旅游服务",
    "数控技术",
    "护理",
    "机电技术",
];

const ASSOCIATIONS: &[&str] = &[
    "青年企业家协会",
    "律师协会",
    "志愿者协会",
    "电子商务协会",
    "社会工作服务中心",
    "青年创业促进会",
];

/// The entrance years of the classes in December 2017.
const CLASS_YEARS: [u16; 3] = [2015, 2016, 2017];

const SURNAMES: &[&str] = &[
    "王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴", "周", "徐", "孙", "马", "朱", "胡", "郭",
    "何", "林", "罗", "高", "郑", "梁", "谢", "宋", "唐", "许", "邓", "冯", "韩", "曹", "曾", "彭",
    "蔡", "潘", "田", "董", "袁", "于", "余", "叶", "蒋", "杜", "苏", "魏", "程", "吕", "丁", "沈",
    "任", "姚", "卢", "傅", "钟", "姜", "崔", "谭", "廖", "范", "汪", "陆", "金", "石", "戴", "贾",
    "夏", "邱", "方", "侯", "邹", "熊", "孟", "秦", "白", "江", "薛", "尹", "段", "雷", "黎", "史",
    "龙", "陶", "贺", "顾", "毛", "郝", "龚", "邵", "万", "严", "欧阳", "司马",
];

const GIVEN: &[&str] = &[
    "伟", "芳", "娜", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰", "娟", "涛", "明",
    "超", "霞", "平", "刚", "婷", "雪", "琳", "晨", "宇", "浩", "欣", "怡", "佳", "思", "梦", "雨",
    "俊", "博", "鑫", "瑶", "倩", "帅", "鹏", "飞", "玲", "蕾", "晓", "文", "华", "建", "国", "志",
    "红", "燕", "丹", "波", "斌", "亮", "辉", "阳", "琴", "薇", "颖", "莉", "彬", "凯", "琪", "川",
    "蓉", "锦", "睿", "航",
];

const MOBILE_PREFIXES: &[&str] = &[
    "130", "131", "132", "133", "135", "136", "137", "138", "139", "150", "151", "152", "155",
    "156", "157", "158", "159", "166", "173", "176", "177", "178", "180", "181", "182", "183",
    "185", "186", "187", "188", "189", "198", "199",
];

const MAIL_DOMAINS: &[&str] = &["163.com", "126.com", "qq.com", "sina.com", "foxmail.com"];

/// 一 … 九十九 for 1–99, Arabic digits beyond (成都市第37中学 is written both ways).
fn chinese_number(n: u32) -> String {
    const D: [&str; 10] = ["零", "一", "二", "三", "四", "五", "六", "七", "八", "九"];
    match n {
        1..=9 => D[n as usize].to_owned(),
        10 => "十".to_owned(),
        11..=19 => format!("十{}", D[(n % 10) as usize]),
        20..=99 if n.is_multiple_of(10) => format!("{}十", D[(n / 10) as usize]),
        20..=99 => format!("{}十{}", D[(n / 10) as usize], D[(n % 10) as usize]),
        _ => n.to_string(),
    }
}

/// A town's name without its kind: 督院街街道 → 督院街, 五凤镇 → 五凤, 华阳镇街道 → 华阳镇.
fn town_stem(preferred: &str) -> &str {
    for suffix in ["街道", "镇", "乡", "地区"] {
        if let Some(s) = preferred.strip_suffix(suffix)
            && s.chars().count() >= 2
        {
            return s;
        }
    }
    preferred
}

// ---------------------------------------------------------------------------------------
// The builder

/// An organization already emitted, as its children need it.
#[derive(Debug, Clone)]
struct Node {
    id: String,
    level: Level,
    category: Category,
    /// The chain from the root down to this node, inclusive.
    chain: Vec<ChainLink>,
}

/// Per parent: the next sort key and the name keys taken.
#[derive(Default)]
struct Slot {
    last_sort: i64,
    names: HashSet<String>,
}

/// A place units can be added under, with what its names derive from.
#[derive(Debug, Clone)]
struct Place {
    node: Node,
    /// 锦江区, 督院街, 五凤 …
    stem: String,
    kind: PlaceKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PlaceKind {
    County,
    Street,
    Township,
}

struct Builder<'o> {
    opts: &'o GenOptions,
    rng: SplitMix,
    out: Vec<OrgRecord>,
    slots: HashMap<String, Slot>,
    ids: HashSet<String>,
    /// Schools numbered per district (第一中学, 第二中学, …).
    school_serial: HashMap<String, u32>,
}

impl<'o> Builder<'o> {
    fn new(opts: &'o GenOptions) -> Builder<'o> {
        Builder {
            opts,
            rng: SplitMix::new(opts.seed ^ 0x7a68_746a_2017_0070),
            out: Vec::new(),
            slots: HashMap::new(),
            ids: HashSet::new(),
            school_serial: HashMap::new(),
        }
    }

    fn new_id(&mut self) -> String {
        loop {
            let id = format!(
                "g-{:016x}{:08x}",
                self.rng.next_u64(),
                self.rng.next_u64() as u32
            );
            if self.ids.insert(id.clone()) {
                return id;
            }
        }
    }

    /// Emit the pre-initialized chain; returns the district and county nodes.
    fn initial(&mut self) -> Vec<Node> {
        let mut chains: HashMap<String, Vec<ChainLink>> = HashMap::new();
        let mut counties = Vec::new();
        for r in initial::initial_tree() {
            let level = Level::new(r.level).expect("initial levels are valid");
            let category = Category::parse(&r.category).expect("initial categories are valid");
            let mut chain = chains.get(&r.parent).cloned().unwrap_or_default();
            chain.push(ChainLink::new(level, category, r.short_name.clone()));
            chains.insert(r.id.clone(), chain.clone());
            let slot = self.slots.entry(r.parent.clone()).or_default();
            slot.names.insert(name_key(&r.short_name));
            slot.last_sort = slot.last_sort.max(r.sort_key);
            self.ids.insert(r.id.clone());
            if level == Level::COUNTY {
                counties.push(Node {
                    id: r.id.clone(),
                    level,
                    category,
                    chain,
                });
            }
            self.out.push(r);
        }
        counties
    }

    /// Emit a child of `parent` named `short` (normalized, checked), unless the name is
    /// taken among its siblings.
    fn add(&mut self, parent: &Node, category: Category, short: &str) -> Option<Node> {
        debug_assert!(parent.category.may_contain(category), "{short}");
        let level = parent.level.child().ok()?;
        let name = match ShortName::parse(short, category, None) {
            Ok(n) => n,
            Err(v) => {
                if cfg!(debug_assertions) {
                    panic!("generated name {short}: {v}");
                }
                return None;
            }
        };
        let slot = self.slots.entry(parent.id.clone()).or_default();
        if !slot.names.insert(name.key()) {
            return None;
        }
        slot.last_sort += 1;
        let sort_key = slot.last_sort;
        let id = self.new_id();
        let mut r = OrgRecord::new(id.clone(), parent.id.clone(), level);
        r.category = category.label().to_owned();
        r.full_name = generate_full_name(&parent.chain, category, &name);
        r.sort_key = sort_key;
        let mut chain = Vec::with_capacity(parent.chain.len() + 1);
        chain.extend_from_slice(&parent.chain);
        chain.push(ChainLink::new(level, category, name.as_str()));
        r.short_name = name.into_string();
        self.out.push(r);
        Some(Node {
            id,
            level,
            category,
            chain,
        })
    }

    /// Emit a child named by the first candidate (drawn afresh each attempt) that is free
    /// among its siblings; after a few attempts, a numbered variant of the last stem.
    fn add_fresh(
        &mut self,
        parent: &Node,
        category: Category,
        mut stem_of: impl FnMut(&mut SplitMix) -> String,
    ) -> Option<Node> {
        let suffix = crate::name::category_suffix(category)?;
        let mut last = String::new();
        for _ in 0..12 {
            last = stem_of(&mut self.rng);
            if let Some(n) = self.add(parent, category, &format!("{last}{suffix}")) {
                return Some(n);
            }
        }
        for k in 2..10_000 {
            if let Some(n) = self.add(parent, category, &format!("{last}第{k}分部{suffix}")) {
                return Some(n);
            }
        }
        None
    }

    /// Whether a committee-like unit is left without branches this time.
    fn leave_childless(&mut self) -> bool {
        self.rng.chance(self.opts.childless)
    }

    /// How many of something, scaled by the density of extra units.
    fn scaled(&mut self, r: RangeInclusive<u32>) -> u32 {
        let n = f64::from(self.rng.range(r)) * self.opts.extra_units;
        let whole = n.floor();
        whole as u32 + u32::from(self.rng.chance(n - whole))
    }

    // --- the administrative tree ----------------------------------------------------

    fn county(&mut self, county: &Division, node: &Node) -> Vec<Place> {
        let mut towns = Vec::new();
        for t in divisions::townships_of(county.code) {
            let forms = t.short_forms();
            let mut made = None;
            for form in &forms {
                let (category, name) = if form.ends_with("镇") || form.ends_with("乡") {
                    (Category::Committee, format!("{form}团委"))
                } else {
                    (Category::WorkingCommittee, format!("{form}团工委"))
                };
                if let Some(n) = self.add(node, category, &name) {
                    made = Some((n, form.clone()));
                    break;
                }
            }
            let Some((tnode, form)) = made else { continue };
            for v in divisions::villages_of(t.code) {
                for form in v.short_forms() {
                    if self
                        .add(&tnode, Category::Branch, &format!("{form}团支部"))
                        .is_some()
                    {
                        break;
                    }
                }
            }
            let kind = if tnode.category == Category::WorkingCommittee {
                PlaceKind::Street
            } else {
                PlaceKind::Township
            };
            towns.push(Place {
                node: tnode,
                stem: town_stem(&form).to_owned(),
                kind,
            });
        }
        towns
    }

    // --- units -----------------------------------------------------------------------

    /// A secondary school: 中学团委 → 年级团总支 (2015级, 2016级, 2017级) → class branches;
    /// a small school has its classes directly under the 团委.
    fn school(&mut self, parent: &Node, stem_text: String, grades: bool) -> usize {
        let start = self.out.len();
        let Some(school) = self.add_fresh(parent, Category::Committee, |_| stem_text.clone())
        else {
            return 0;
        };
        if self.leave_childless() {
            return self.out.len() - start;
        }
        for year in CLASS_YEARS {
            if grades {
                let Some(grade) =
                    self.add(&school, Category::GeneralBranch, &format!("{year}级团总支"))
                else {
                    continue;
                };
                if self.leave_childless() {
                    continue;
                }
                let classes = self.rng.range(3..=10);
                for c in 1..=classes {
                    self.add(&grade, Category::Branch, &format!("{year}级{c}班团支部"));
                }
            } else {
                let classes = self.rng.range(1..=3);
                for c in 1..=classes {
                    self.add(&school, Category::Branch, &format!("{year}级{c}班团支部"));
                }
            }
        }
        self.out.len() - start
    }

    /// A vocational school: 团委 → 专业团总支 → "计算机应用专业2017级2班团支部".
    fn vocational(&mut self, parent: &Node, stem_text: String) -> usize {
        let start = self.out.len();
        let Some(school) = self.add_fresh(parent, Category::Committee, |_| stem_text.clone())
        else {
            return 0;
        };
        if self.leave_childless() {
            return self.out.len() - start;
        }
        let n = self.rng.range(2..=4) as usize;
        let majors: Vec<&str> = self.rng.sample(MAJORS, n).into_iter().copied().collect();
        for major in majors {
            let Some(m) = self.add(
                &school,
                Category::GeneralBranch,
                &format!("{major}专业团总支"),
            ) else {
                continue;
            };
            for year in CLASS_YEARS {
                for c in 1..=self.rng.range(1..=2) {
                    self.add(
                        &m,
                        Category::Branch,
                        &format!("{major}专业{year}级{c}班团支部"),
                    );
                }
            }
        }
        self.out.len() - start
    }

    /// An institution with departments: a hospital's 团委 → 内科团支部, 护理部团支部, …
    fn institution(&mut self, parent: &Node, stem_text: String, depts: &[&str]) -> usize {
        let start = self.out.len();
        let Some(unit) = self.add_fresh(parent, Category::Committee, |_| stem_text.clone()) else {
            return 0;
        };
        if self.leave_childless() {
            return self.out.len() - start;
        }
        let n = self.rng.range(3..=6) as usize;
        for d in self
            .rng
            .sample(depts, n)
            .into_iter()
            .copied()
            .collect::<Vec<_>>()
        {
            self.add(&unit, Category::Branch, &format!("{d}团支部"));
        }
        self.out.len() - start
    }

    fn company_stem(rng: &mut SplitMix, kind: &str) -> String {
        format!("{}{}{kind}", rng.pick(BRANDS), rng.pick(TRADES))
    }

    /// An enterprise 团委 with 车间/部门 branches; a group (集团) has subsidiaries' 团委 too.
    fn enterprise(&mut self, parent: &Node, group: bool) -> usize {
        let start = self.out.len();
        let kind = if group { "集团" } else { "公司" };
        let Some(company) =
            self.add_fresh(parent, Category::Committee, |r| Self::company_stem(r, kind))
        else {
            return 0;
        };
        if self.leave_childless() {
            return self.out.len() - start;
        }
        let n = self.rng.range(2..=5) as usize;
        for w in self
            .rng
            .sample(WORKSHOPS, n)
            .into_iter()
            .copied()
            .collect::<Vec<_>>()
        {
            self.add(&company, Category::Branch, &format!("{w}团支部"));
        }
        if group {
            for _ in 0..self.rng.range(1..=3) {
                let Some(sub) = self.add_fresh(&company, Category::Committee, |r| {
                    format!("{}{}公司", r.pick(BRANDS), r.pick(TRADES))
                }) else {
                    continue;
                };
                if self.leave_childless() {
                    continue;
                }
                let n = self.rng.range(2..=4) as usize;
                for w in self
                    .rng
                    .sample(WORKSHOPS, n)
                    .into_iter()
                    .copied()
                    .collect::<Vec<_>>()
                {
                    self.add(&sub, Category::Branch, &format!("{w}团支部"));
                }
            }
        }
        self.out.len() - start
    }

    /// A single branch of a small enterprise, cooperative or association.
    fn small_branch(&mut self, parent: &Node, rural: bool) -> usize {
        let made = if rural && self.rng.chance(0.5) {
            self.add_fresh(parent, Category::Branch, |r| {
                format!(
                    "{}{}专业合作社",
                    r.pick(BRANDS),
                    r.pick(&["种植", "养殖", "果蔬", "茶叶", "农机"])
                )
            })
        } else {
            self.add_fresh(parent, Category::Branch, |r| Self::company_stem(r, "公司"))
        };
        usize::from(made.is_some())
    }

    /// A district's working committee of its organs (only a leading organ may create a
    /// 团工委, rules.md §2) with one branch per bureau.
    fn organs(&mut self, district: &Place) -> usize {
        let start = self.out.len();
        let stem_text = format!("{}直属机关", district.stem);
        let Some(wc) = self.add_fresh(&district.node, Category::WorkingCommittee, |_| {
            stem_text.clone()
        }) else {
            return 0;
        };
        if self.leave_childless() {
            return self.out.len() - start;
        }
        let n = self.rng.range(6..=14) as usize;
        for b in self
            .rng
            .sample(BUREAUS, n)
            .into_iter()
            .copied()
            .collect::<Vec<_>>()
        {
            self.add(&wc, Category::Branch, &format!("{b}团支部"));
        }
        self.out.len() - start
    }

    /// A district's working committee of the new economic and social organizations.
    fn new_sectors(&mut self, district: &Place) -> usize {
        let start = self.out.len();
        let stem_text = format!("{}两新组织", district.stem);
        let Some(wc) = self.add_fresh(&district.node, Category::WorkingCommittee, |_| {
            stem_text.clone()
        }) else {
            return 0;
        };
        if self.leave_childless() {
            return self.out.len() - start;
        }
        let n = self.rng.range(1..=3) as usize;
        for a in self
            .rng
            .sample(ASSOCIATIONS, n)
            .into_iter()
            .copied()
            .collect::<Vec<_>>()
        {
            self.add(
                &wc,
                Category::Branch,
                &format!("{}{a}团支部", district.stem),
            );
        }
        for _ in 0..self.rng.range(2..=6) {
            self.small_branch(&wc, false);
        }
        if self.rng.chance(0.5) {
            self.enterprise(&wc, false);
        }
        self.out.len() - start
    }

    fn next_school(&mut self, district: &Place) -> String {
        let n = self
            .school_serial
            .entry(district.node.id.clone())
            .or_insert(0);
        *n += 1;
        format!("{}第{}中学", district.stem, chinese_number(*n))
    }

    /// The seeded extra units directly under a district or county committee.
    fn county_extras(&mut self, d: &Place, towns: &[Place]) {
        if self.rng.chance(0.85 * self.opts.extra_units.min(1.0)) {
            self.organs(d);
        }
        if self.rng.chance(0.5 * self.opts.extra_units.min(1.0)) {
            self.new_sectors(d);
        }
        for _ in 0..self.scaled(2..=4) {
            let name = self.next_school(d);
            self.school(&d.node, name, true);
        }
        if self.rng.chance(0.5 * self.opts.extra_units) {
            let name = if self.rng.chance(0.5) {
                format!("{}职业技术学校", d.stem)
            } else {
                format!("{}职业高级中学", d.stem)
            };
            self.vocational(&d.node, name);
        }
        if self.rng.chance(0.8 * self.opts.extra_units) {
            self.institution(&d.node, format!("{}人民医院", d.stem), HOSPITAL_DEPTS);
        }
        if self.rng.chance(0.3 * self.opts.extra_units) {
            self.institution(&d.node, format!("{}中医医院", d.stem), HOSPITAL_DEPTS);
        }
        for _ in 0..self.scaled(1..=3) {
            let group = self.rng.chance(0.25);
            self.enterprise(&d.node, group);
        }
        // A school named after one of its towns (华阳中学).
        if !towns.is_empty() && self.rng.chance(0.4 * self.opts.extra_units) {
            let t = self.rng.pick(towns).stem.clone();
            self.school(&d.node, format!("{t}中学"), true);
        }
    }

    /// The seeded extra units under a town or street.
    fn town_extras(&mut self, t: &Place) {
        let p = self.opts.extra_units;
        if self.rng.chance(0.6 * p.min(1.0)) {
            self.add(&t.node, Category::Branch, "机关团支部");
        }
        match t.kind {
            PlaceKind::Street => {
                if self.rng.chance(0.25 * p) {
                    self.add(
                        &t.node,
                        Category::Branch,
                        &format!("{}社区卫生服务中心团支部", t.stem),
                    );
                }
                for _ in 0..self.scaled(0..=3) {
                    self.small_branch(&t.node, false);
                }
                if self.rng.chance(0.25 * p) {
                    self.enterprise(&t.node, false);
                }
            }
            PlaceKind::Township | PlaceKind::County => {
                if self.rng.chance(0.4 * p) {
                    self.school(&t.node, format!("{}中学", t.stem), false);
                }
                if self.rng.chance(0.4 * p) {
                    self.add(
                        &t.node,
                        Category::Branch,
                        &format!("{}中心小学团支部", t.stem),
                    );
                }
                if self.rng.chance(0.35 * p) {
                    self.add(
                        &t.node,
                        Category::Branch,
                        &format!("{}卫生院团支部", t.stem),
                    );
                }
                for _ in 0..self.scaled(0..=2) {
                    self.small_branch(&t.node, true);
                }
                if self.rng.chance(0.1 * p) {
                    self.enterprise(&t.node, false);
                }
            }
        }
    }

    /// One random unit for growing a synthetic tree, under a district (15%) or a town.
    fn synthetic_unit(&mut self, counties: &[Place], towns: &[Place]) -> usize {
        if towns.is_empty() || self.rng.chance(0.15) {
            let d = self.rng.pick(counties).clone();
            match self.rng.below(10) {
                0..=3 => {
                    let name = self.next_school(&d);
                    self.school(&d.node, name, true)
                }
                4 => {
                    let name = format!("{}第{}职业技术学校", d.stem, self.rng.range(1..=99));
                    self.vocational(&d.node, name)
                }
                5 => {
                    let name = format!("{}第{}人民医院", d.stem, self.rng.range(1..=99));
                    self.institution(&d.node, name, HOSPITAL_DEPTS)
                }
                _ => {
                    let group = self.rng.chance(0.3);
                    self.enterprise(&d.node, group)
                }
            }
        } else {
            let t = self.rng.pick(towns).clone();
            match self.rng.below(10) {
                0..=4 => self.small_branch(&t.node, t.kind == PlaceKind::Township),
                5..=7 => self.enterprise(&t.node, false),
                8 => {
                    let n = self.rng.range(1..=99);
                    self.school(
                        &t.node,
                        format!("{}第{}中学", t.stem, chinese_number(n)),
                        false,
                    )
                }
                _ => {
                    let n = self.rng.range(1..=99);
                    let name = format!("{}第{}小学", t.stem, chinese_number(n));
                    usize::from(
                        self.add(&t.node, Category::Branch, &format!("{name}团支部"))
                            .is_some(),
                    )
                }
            }
        }
    }
}

/// The Chengdu tree of a campaign's target: the pre-initialized chain (exactly
/// [`initial::initial_tree`], same ids), the 375 towns and streets and 4,342 villages and
/// communities of 2017 below the 20 district and county committees, and seeded extra units
/// (see the module's documentation). Parents before children; information fields empty
/// (see [`fill_campaign`]). The same options give the same tree.
pub fn chengdu_tree(opts: &GenOptions) -> Vec<OrgRecord> {
    build(opts).0.out
}

/// Build the Chengdu tree, keeping the builder and places for growing it further.
fn build(opts: &GenOptions) -> (Builder<'_>, Vec<Place>, Vec<Place>) {
    let mut b = Builder::new(opts);
    let county_nodes = b.initial();
    let mut counties = Vec::new();
    let mut all_towns = Vec::new();
    for (division, node) in divisions::chengdu_counties().iter().zip(county_nodes) {
        let towns = b.county(division, &node);
        let place = Place {
            stem: stem(&node.chain.last().expect("chain").short_name).to_owned(),
            node,
            kind: PlaceKind::County,
        };
        for t in &towns {
            b.town_extras(t);
        }
        b.county_extras(&place, &towns);
        counties.push(place);
        all_towns.extend(towns);
    }
    (b, counties, all_towns)
}

/// A tree of exactly `target_orgs` organizations for benchmarks: the Chengdu tree of
/// [`chengdu_tree`], grown with seeded schools, enterprises, hospitals and small branches
/// under districts and towns (fan-out as in the real tree: tens of units per town, each a
/// handful to a few dozen organizations). A target smaller than the Chengdu tree gives the
/// Chengdu tree. Parents before children.
pub fn synthetic_tree(opts: &GenOptions, target_orgs: usize) -> Vec<OrgRecord> {
    let (mut b, counties, towns) = build(opts);
    // The largest unit a step can add (a school of 3 grades × 10 classes, a group).
    const MAX_UNIT: usize = 64;
    while b.out.len() + MAX_UNIT < target_orgs {
        b.synthetic_unit(&counties, &towns);
    }
    // Top up with single branches, which can always be added one by one.
    let mut i = 0usize;
    while b.out.len() < target_orgs && !towns.is_empty() {
        let t = towns[i % towns.len()].clone();
        b.small_branch(&t.node, t.kind == PlaceKind::Township);
        i += 1;
    }
    b.out
}

// ---------------------------------------------------------------------------------------
// The campaign

/// A person as the generators make one: a secretary or an administrator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Person {
    pub name: String,
    /// A valid 18-character number (rules.md §9), its check character from
    /// [`IdNumber::check_char`].
    pub id_number: String,
    pub mobile: String,
    pub birth_year: i32,
    pub birth_month: u8,
}

impl Person {
    /// A year-month of joining the league that satisfies the joining-age rule (rules.md §8):
    /// the month of the 14th birthday, or later.
    pub fn join_year_month(&self, rng: &mut SplitMix) -> String {
        let year = self.birth_year + 14 + rng.range(0..=2) as i32;
        format!("{year:04}-{:02}", self.birth_month)
    }
}

/// A valid mobile number (^1[3-9]\d{9}$).
pub fn random_mobile(rng: &mut SplitMix) -> String {
    format!("{}{}", rng.pick(MOBILE_PREFIXES), rng.digits(8))
}

/// The ID number of numbered person `n`, for tests that must know a person's number in
/// advance: Chengdu (510104), born 1990-01-01 plus `n % 5000` days, sequence `n % 1000`.
/// Valid, and distinct for `n` below 5,000.
pub fn numbered_id_number(n: u32) -> String {
    let birth = time::macros::date!(1990 - 01 - 01) + time::Duration::days(i64::from(n % 5000));
    let first17 = format!(
        "510104{:04}{:02}{:02}{:03}",
        birth.year(),
        u8::from(birth.month()),
        birth.day(),
        n % 1000
    );
    let check = IdNumber::check_char(&first17).expect("17 digits");
    format!("{first17}{check}")
}

/// The mobile number of numbered person `n` (see [`numbered_id_number`]): valid, and
/// distinct for `n` below 100,000,000.
pub fn numbered_mobile(n: u32) -> String {
    format!("138{n:08}")
}

/// The address codes ID numbers are drawn from: Chengdu's counties mostly, other Sichuan
/// counties too.
struct AddressCodes {
    sichuan: Vec<&'static str>,
    chengdu: Vec<&'static str>,
}

fn address_codes() -> &'static AddressCodes {
    static CODES: OnceLock<AddressCodes> = OnceLock::new();
    CODES.get_or_init(|| {
        let all = divisions::divisions();
        let sichuan: Vec<&'static str> = all
            .league_children("51")
            .into_iter()
            .flat_map(|city| all.children(city.code))
            .filter(|c| !c.is_placeholder())
            .map(|c| c.code)
            .collect();
        let chengdu = sichuan
            .iter()
            .copied()
            .filter(|c| c.starts_with(divisions::CHENGDU_CODE))
            .collect();
        AddressCodes { sichuan, chengdu }
    })
}

/// A person born in `years`, with a valid ID number and mobile.
pub fn random_person(rng: &mut SplitMix, years: RangeInclusive<i32>) -> Person {
    let surname = *rng.pick(SURNAMES);
    let given: String = (0..rng.range(1..=2)).map(|_| *rng.pick(GIVEN)).collect();
    let codes = address_codes();
    let address = if !codes.chengdu.is_empty() && rng.chance(0.75) {
        *rng.pick(&codes.chengdu)
    } else if codes.sichuan.is_empty() {
        "510104"
    } else {
        *rng.pick(&codes.sichuan)
    };
    let (lo, hi) = (*years.start(), *years.end());
    let year = lo + rng.below((hi - lo).max(0) as u64 + 1) as i32;
    let month = rng.range(1..=12) as u8;
    let day = rng.range(1..=28);
    let first17 = format!("{address}{year:04}{month:02}{day:02}{}", rng.digits(3));
    let check = IdNumber::check_char(&first17).expect("17 digits");
    Person {
        name: format!("{surname}{given}"),
        id_number: format!("{first17}{check}"),
        mobile: random_mobile(rng),
        birth_year: year,
        birth_month: month,
    }
}

/// The industry (rules.md §4) a unit's name implies, if it implies one; `inherited` is its
/// parent's. A school, hospital, enterprise, community or village names its own industry;
/// an organ (机关, 局, 街道, 镇) only when nothing above implies one (a company's 机关团支部
/// is the company's).
fn industry_of_name(
    short_name: &str,
    rng_bit: bool,
    inherited: Option<Industry>,
) -> Option<Industry> {
    let s = stem(short_name);
    let has = |k: &str| s.contains(k);
    if s.ends_with("社区") {
        return Some(Industry::UrbanCommunity);
    }
    if s.ends_with('村') {
        return Some(Industry::Rural);
    }
    if has("小学") {
        Some(Industry::PrimarySchool)
    } else if has("职业") {
        Some(Industry::VocationalSchool)
    } else if has("大学") || has("学院") {
        Some(Industry::University)
    } else if has("中学") {
        Some(if rng_bit {
            Industry::HighSchool
        } else {
            Industry::MiddleSchool
        })
    } else if has("医院") || has("卫生") {
        Some(Industry::PublicInstitution)
    } else if has("合作社") {
        Some(Industry::CollectiveEnterprise)
    } else if has("公司") || has("集团") {
        Some(if rng_bit {
            Industry::PrivateEnterprise
        } else {
            Industry::StateEnterprise
        })
    } else if has("协会") || has("促进会") || has("服务中心") || has("两新") {
        Some(Industry::SocialOrganization)
    } else if inherited.is_some() {
        inherited
    } else if has("机关")
        || s.ends_with('局')
        || has("办公室")
        || s.ends_with("街道")
        || s.ends_with('镇')
        || s.ends_with('乡')
    {
        Some(Industry::PartyGovernment)
    } else {
        None
    }
}

/// Fill a campaign in progress (rules.md §3, §11): each organization's information is
/// complete with its level's chance ([`CampaignRates`], times a diligence factor drawn
/// around its parent's, so some districts are ahead of others), partly entered with
/// [`CampaignRates::partial`] of the rest, or left untouched. Every value entered is valid:
/// landline or mobile phones, e-mail addresses, staffing counts, the industry the unit's
/// name implies (inherited by its subunits: a class branch has its school's), secretaries
/// with valid ID numbers and mobiles. Names, category and tree fields are not touched.
///
/// Seeded per organization (by [`GenOptions::seed`] and its id), so the result does not
/// depend on the order of unrelated records; `records` should come parents before children
/// (for the diligence and inherited industry).
pub fn fill_campaign(records: &mut [OrgRecord], opts: &GenOptions) {
    let rates = &opts.campaign;
    // Per id: (diligence, industry implied by the unit or its ancestors).
    let mut inherited: HashMap<String, (f64, Option<Industry>)> = HashMap::new();
    for r in records.iter_mut() {
        let mut rng = SplitMix::for_key(opts.seed ^ 0xc4a3_9a16_0000_0001, &r.id);
        let (parent_diligence, parent_industry) =
            inherited.get(&r.parent).copied().unwrap_or((1.0, None));
        let diligence = if r.level <= 3 {
            1.0
        } else {
            parent_diligence * (1.0 + rates.spread * (2.0 * rng.unit() - 1.0))
        };
        let industry = industry_of_name(&r.short_name, rng.chance(0.7), parent_industry);
        inherited.insert(r.id.clone(), (diligence, industry));
        let Ok(category) = Category::parse(&r.category) else {
            continue;
        };
        let p = (rates.at_level(r.level) * diligence).clamp(0.0, 1.0);
        if rng.chance(p) {
            fill_record(r, category, industry, &mut rng, None);
        } else if rng.chance(rates.partial) {
            // Some fields entered, at least one required field still missing.
            let required = crate::org::required_fields(category.profile());
            let skip = required[3 + rng.below((required.len() - 3) as u64) as usize];
            fill_record(r, category, industry, &mut rng, Some(skip));
        }
    }
}

/// Fill a record's information; with `partial`, about half the fields and never that one.
fn fill_record(
    r: &mut OrgRecord,
    category: Category,
    industry: Option<Industry>,
    rng: &mut SplitMix,
    partial: Option<crate::field::Field>,
) {
    use crate::field::Field;
    let profile = category.profile();
    let is_class = {
        let s = stem(&r.short_name);
        s.contains('级') && s.ends_with('班')
    };
    let years = match (profile, is_class) {
        (_, true) => 2000..=2002,
        (Profile::A, _) => 1978..=1988,
        (Profile::B, _) => 1980..=1993,
        (Profile::C, _) => 1984..=1998,
    };
    let secretary = random_person(rng, years);
    let phone = if profile == Profile::A || rng.chance(0.6) {
        format!("028-{}{}", rng.pick(&["8", "6"]), rng.digits(7))
    } else {
        random_mobile(rng)
    };
    let email = if rng.chance(0.5) {
        let first = rng.range(1..=9);
        let len = rng.range(7..=9) as usize;
        format!("{first}{}@qq.com", rng.digits(len))
    } else {
        format!("gqt{}@{}", rng.digits(6), rng.pick(MAIL_DOMAINS))
    };
    let (admin_quota, career_quota) = match profile {
        Profile::A => (rng.range(3..=8), rng.range(0..=3)),
        _ if rng.chance(0.8) => (0, 0),
        _ => (rng.range(0..=1), rng.range(0..=2)),
    };
    let admin_staffed = admin_quota.saturating_sub(rng.range(0..=1));
    let career_staffed = career_quota.saturating_sub(rng.range(0..=1));
    let optional = profile != Profile::A && rng.chance(0.4);
    let youth = match profile {
        Profile::A => rng.range(2000..=10_000),
        Profile::B => rng.range(30..=600),
        Profile::C => rng.range(3..=50),
    };
    let recommended = rng.range(0..=(youth / 20).min(1000));
    let mut values: Vec<(Field, String)> = vec![
        (Field::SecretaryName, secretary.name),
        (Field::SecretaryIdNumber, secretary.id_number),
        (Field::SecretaryMobile, secretary.mobile),
    ];
    if profile != Profile::A {
        let i = industry.unwrap_or(Industry::Other);
        values.push((Field::Industry, i.label().to_owned()));
    }
    if profile == Profile::A || optional {
        values.push((Field::Phone, phone));
        values.push((Field::Email, email));
    }
    if profile != Profile::C {
        values.push((Field::AdminQuota, admin_quota.to_string()));
        values.push((Field::AdminStaffed, admin_staffed.to_string()));
        values.push((Field::CareerQuota, career_quota.to_string()));
        values.push((Field::CareerStaffed, career_staffed.to_string()));
    }
    if rng.chance(0.6) {
        values.push((Field::YouthCount, youth.to_string()));
        values.push((Field::RecommendedCount, recommended.to_string()));
    }
    for (field, value) in values {
        if let Some(skip) = partial
            && (field == skip || !rng.chance(0.5))
        {
            continue;
        }
        if let Some(slot) = r.get_mut(field) {
            *slot = value;
        }
    }
}

/// For each organization of a generated tree, the administrative region in which its
/// children's names are checked (rules.md §5; as [`crate::name::region_of_chain`] of its
/// chain): the nation for 团中央, 四川省 for 团四川省委, …, the county for a district
/// committee, `None` below a basic organization. `records` parents before children.
pub fn child_regions(records: &[OrgRecord]) -> HashMap<String, Option<&'static Division>> {
    let all = divisions::divisions();
    let mut out: HashMap<String, Option<&'static Division>> = HashMap::new();
    for r in records {
        let leading = Category::parse(&r.category) == Ok(Category::LeadingOrgan);
        let region = if !leading {
            None
        } else if r.parent.is_empty() {
            (r.short_name == crate::name::CENTRAL_SHORT_NAME).then(|| all.nation())
        } else {
            match out.get(&r.parent) {
                Some(Some(p)) => all.find_child_by_name(p.code, stem(&r.short_name)),
                _ => None,
            }
        };
        out.insert(r.id.clone(), region);
    }
    out
}

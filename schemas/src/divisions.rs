//! The 2017 administrative divisions (GB/T 2260 codes, extended to townships and villages)
//! that the naming rules check against (rules.md §5: "where division data is known for the
//! parent's region, the middle must be a real division of that region").
//!
//! The data is compiled in (`schemas/data/*.csv`, see `schemas/data/SOURCE.md`) and parsed
//! once, lazily, on first use ([`divisions`]); nothing is read from disk at run time. The
//! tables borrow from the embedded text, so loading allocates little.
//!
//! # Kinds of divisions and their names
//!
//! | kind | code | examples of names in the data |
//! |---|---|---|
//! | [`DivisionKind::Nation`] | `100000` (synthetic, not in the data) | 中华人民共和国 |
//! | [`DivisionKind::Province`] | 2 digits | 四川省, 北京市, 内蒙古自治区, 广西壮族自治区 |
//! | [`DivisionKind::City`] | 4 digits | 成都市, 阿坝藏族羌族自治州, 兴安盟, 喀什地区; the placeholders 市辖区, 县, 省直辖县级行政区划 |
//! | [`DivisionKind::County`] | 6 digits | 锦江区, 金堂县, 都江堰市, 木里藏族自治县, 鄂伦春自治旗 |
//! | [`DivisionKind::Township`] | 9 digits | 东华门街道办事处, 西安路街道, 东升街道办, 五凤镇, 于家务回族乡, 南磨房地区办事处, notes such as （省级） |
//! | [`DivisionKind::Village`] | 12 digits (成都市 only) | 青石桥社区居委会, XX社区居民委员会, XX村民委员会, XX村委会, 东街居委会 |
//!
//! A league name uses a *short form* of the division's name ([`short_forms`]):
//! 团内蒙古区委 (内蒙古自治区), 团阿坝州委 (阿坝藏族羌族自治州), 东华门街道团工委
//! (东华门街道办事处), 青石桥社区团支部 (青石桥社区居委会), 龙王村团支部 (龙王村民委员会).
//!
//! The municipalities 北京, 天津, 上海, 重庆 are provinces whose cities are the
//! placeholders 市辖区 and 县; the league has no committee for those (团北京市委 is at
//! province level and 团东城区委 right below it), so the league view of the tree
//! ([`Divisions::league_children`]) looks through every placeholder city.

use std::sync::OnceLock;

use serde::Serialize;

use crate::text::normalize;

const PROVINCES_CSV: &str = include_str!("../data/divisions-2017-provinces.csv");
const CITIES_CSV: &str = include_str!("../data/divisions-2017-cities.csv");
const COUNTIES_CSV: &str = include_str!("../data/divisions-2017-areas.csv");
const TOWNSHIPS_CSV: &str = include_str!("../data/divisions-2017-streets.csv");
const VILLAGES_CSV: &str = include_str!("../data/divisions-2017-villages-chengdu.csv");

/// The code of the synthetic root above the provinces (not part of the data files; the
/// league's 团中央 sits at this "region").
pub const NATION_CODE: &str = "100000";

/// The code of 成都市 (rules.md §1: 团成都市委 is level 3).
pub const CHENGDU_CODE: &str = "5101";

/// The codes of the four municipalities (直辖市), whose cities are placeholders.
const MUNICIPALITIES: [&str; 4] = ["11", "12", "31", "50"];

/// City-level rows that are not cities but groupings (市辖区, 县 under a municipality;
/// the county-level units administered directly by a province).
const PLACEHOLDER_NAMES: [&str; 4] = [
    "市辖区",
    "县",
    "省直辖县级行政区划",
    "自治区直辖县级行政区划",
];

/// The level of an administrative division.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DivisionKind {
    /// The synthetic root, [`NATION_CODE`].
    Nation,
    /// 省级: province, autonomous region, municipality (2-digit code).
    Province,
    /// 地级: city, autonomous prefecture, 地区, 盟, or a placeholder (4 digits).
    City,
    /// 县级: district, county, county-level city, 旗 (6 digits).
    County,
    /// 乡级: township, town, street (街道), and the like (9 digits).
    Township,
    /// 村级: village or community committee (12 digits; 成都市 only).
    Village,
}

impl DivisionKind {
    /// The kind of a code, from its shape: [`NATION_CODE`], or 2, 4, 6, 9, 12 digits.
    pub fn of_code(code: &str) -> Option<DivisionKind> {
        if code == NATION_CODE {
            return Some(DivisionKind::Nation);
        }
        if !code.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        match code.len() {
            2 => Some(DivisionKind::Province),
            4 => Some(DivisionKind::City),
            6 => Some(DivisionKind::County),
            9 => Some(DivisionKind::Township),
            12 => Some(DivisionKind::Village),
            _ => None,
        }
    }

    /// The kind one level down, if any.
    pub fn child(self) -> Option<DivisionKind> {
        use DivisionKind::*;
        match self {
            Nation => Some(Province),
            Province => Some(City),
            City => Some(County),
            County => Some(Township),
            Township => Some(Village),
            Village => None,
        }
    }

    /// The Chinese name of the level: 省级, 地级, 县级, 乡级, 村级.
    pub fn label(self) -> &'static str {
        match self {
            DivisionKind::Nation => "国家级",
            DivisionKind::Province => "省级",
            DivisionKind::City => "地级",
            DivisionKind::County => "县级",
            DivisionKind::Township => "乡级",
            DivisionKind::Village => "村级",
        }
    }
}

/// One administrative division, borrowed from the embedded data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub struct Division {
    /// The code: GB/T 2260 for provinces, cities and counties; the statistical extension
    /// (9 and 12 digits) for townships and villages.
    pub code: &'static str,
    /// The name exactly as in the data, e.g. `青石桥社区居委会`, `内蒙古自治区`.
    pub name: &'static str,
    pub kind: DivisionKind,
    /// The parent's code; [`NATION_CODE`] for a province, `None` for the nation.
    pub parent: Option<&'static str>,
}

impl Division {
    /// The forms of this division's name a league name may use; see [`short_forms`].
    pub fn short_forms(&self) -> Vec<String> {
        short_forms(self.name)
    }

    /// The form a league name normally uses: `青石桥社区`, `内蒙古区`, `成都市`.
    pub fn preferred_name(&self) -> String {
        short_forms(self.name)
            .into_iter()
            .next()
            .unwrap_or_else(|| self.name.to_owned())
    }

    /// Whether `name` (normalized like any input) is one of this division's short forms.
    pub fn matches_name(&self, name: &str) -> bool {
        let n = normalize(name);
        !n.is_empty() && short_forms(self.name).contains(&n)
    }

    /// The short name of this division's leading organ (rules.md §5): 团 + name + 委,
    /// e.g. 团成都市委, 团锦江区委, 团内蒙古区委.
    pub fn leading_organ_name(&self) -> String {
        format!("团{}委", self.preferred_name())
    }

    /// Whether this is a placeholder city (市辖区, 县, 省直辖县级行政区划, …), a grouping
    /// with no league committee of its own.
    pub fn is_placeholder(&self) -> bool {
        self.kind == DivisionKind::City && PLACEHOLDER_NAMES.contains(&self.name)
    }

    /// Whether this is one of the four municipalities (北京市, 天津市, 上海市, 重庆市).
    pub fn is_municipality(&self) -> bool {
        self.kind == DivisionKind::Province && MUNICIPALITIES.contains(&self.code)
    }

    /// How this division is named in a message: the preferred short form for townships
    /// and villages (建国门街道, not 建国门街道办事处), "全国" for the nation, else the name.
    pub fn display_name(&self) -> String {
        match self.kind {
            DivisionKind::Nation => "全国".to_owned(),
            DivisionKind::Township | DivisionKind::Village => self.preferred_name(),
            _ => normalize(self.name),
        }
    }

    /// What the league-level children of this division are called in a message:
    /// 省、自治区、直辖市 / 市(州) / 区县 / 区(市)县 / 乡镇(街道) / 村(社区).
    pub fn children_noun(&self) -> &'static str {
        match self.kind {
            DivisionKind::Nation => "省、自治区、直辖市",
            DivisionKind::Province if self.is_municipality() => "区县",
            DivisionKind::Province => "市(州)",
            DivisionKind::City => "区(市)县",
            DivisionKind::County => "乡镇(街道)",
            DivisionKind::Township => "村(社区)",
            DivisionKind::Village => "下级行政区划",
        }
    }
}

/// All divisions, one table per kind, each sorted by code.
#[derive(Debug)]
pub struct Divisions {
    nation: Division,
    provinces: Vec<Division>,
    cities: Vec<Division>,
    counties: Vec<Division>,
    townships: Vec<Division>,
    villages: Vec<Division>,
}

/// The divisions, parsed from the embedded data on first use.
pub fn divisions() -> &'static Divisions {
    static DIVISIONS: OnceLock<Divisions> = OnceLock::new();
    DIVISIONS.get_or_init(Divisions::load)
}

/// The code of 成都市, `"5101"`.
pub fn chengdu_code() -> &'static str {
    CHENGDU_CODE
}

/// 成都市's districts, counties and county-level cities (20 in 2017).
pub fn chengdu_counties() -> &'static [Division] {
    divisions().children(CHENGDU_CODE)
}

/// The townships (乡、镇、街道) of a county; empty for an unknown code.
pub fn townships_of(county_code: &str) -> &'static [Division] {
    match DivisionKind::of_code(county_code) {
        Some(DivisionKind::County) => divisions().children(county_code),
        _ => &[],
    }
}

/// The villages and communities of a township (the data has them for 成都市 only);
/// empty for an unknown code.
pub fn villages_of(township_code: &str) -> &'static [Division] {
    match DivisionKind::of_code(township_code) {
        Some(DivisionKind::Township) => divisions().children(township_code),
        _ => &[],
    }
}

impl Divisions {
    fn load() -> Divisions {
        let nation = Division {
            code: NATION_CODE,
            name: "中华人民共和国",
            kind: DivisionKind::Nation,
            parent: None,
        };
        Divisions {
            nation,
            provinces: parse_table(PROVINCES_CSV, DivisionKind::Province, None),
            cities: parse_table(CITIES_CSV, DivisionKind::City, Some(2)),
            counties: parse_table(COUNTIES_CSV, DivisionKind::County, Some(2)),
            townships: parse_table(TOWNSHIPS_CSV, DivisionKind::Township, Some(2)),
            villages: parse_table(VILLAGES_CSV, DivisionKind::Village, Some(2)),
        }
    }

    fn table(&self, kind: DivisionKind) -> &[Division] {
        match kind {
            DivisionKind::Nation => std::slice::from_ref(&self.nation),
            DivisionKind::Province => &self.provinces,
            DivisionKind::City => &self.cities,
            DivisionKind::County => &self.counties,
            DivisionKind::Township => &self.townships,
            DivisionKind::Village => &self.villages,
        }
    }

    /// The synthetic root above the provinces.
    pub fn nation(&self) -> &Division {
        &self.nation
    }

    /// The division with this code (exact, e.g. `"510104"`), if known.
    pub fn get(&self, code: &str) -> Option<&Division> {
        let table = self.table(DivisionKind::of_code(code)?);
        table
            .binary_search_by(|d| d.code.cmp(code))
            .ok()
            .map(|i| &table[i])
    }

    /// The direct children of a division, sorted by code (placeholders included); empty
    /// for a village or an unknown code.
    pub fn children(&self, code: &str) -> &[Division] {
        let Some(kind) = DivisionKind::of_code(code) else {
            return &[];
        };
        let Some(child_kind) = kind.child() else {
            return &[];
        };
        let table = self.table(child_kind);
        if kind == DivisionKind::Nation {
            return table;
        }
        let n = code.len();
        let prefix = |d: &Division| d.code.get(..n).unwrap_or(d.code);
        let start = table.partition_point(|d| prefix(d) < code);
        let end = table.partition_point(|d| prefix(d) <= code);
        &table[start..end]
    }

    /// The children as the league sees them: like [`Divisions::children`], but a
    /// placeholder city (市辖区, 县, 省直辖县级行政区划) is replaced by its own children,
    /// so 北京市's league children are 东城区, 西城区, …, and 湖北省's include 仙桃市.
    pub fn league_children(&self, code: &str) -> Vec<&Division> {
        let mut out = Vec::new();
        for d in self.children(code) {
            if d.is_placeholder() {
                out.extend(self.children(d.code));
            } else {
                out.push(d);
            }
        }
        out
    }

    /// The parent of a division (the nation for a province).
    pub fn parent(&self, d: &Division) -> Option<&Division> {
        self.get(d.parent?)
    }

    /// The chain from the nation down to the division itself; empty for an unknown code.
    pub fn ancestry(&self, code: &str) -> Vec<&Division> {
        let mut chain = Vec::new();
        let mut cur = self.get(code);
        while let Some(d) = cur {
            chain.push(d);
            cur = self.parent(d);
        }
        chain.reverse();
        chain
    }

    /// The league child of `parent_code` (see [`Divisions::league_children`]) that `name`
    /// designates by any of its short forms: `find_child_by_name("510104", "盐市口街道")`.
    pub fn find_child_by_name(&self, parent_code: &str, name: &str) -> Option<&Division> {
        let n = normalize(name);
        if n.is_empty() {
            return None;
        }
        self.league_children(parent_code)
            .into_iter()
            .find(|d| short_forms(d.name).contains(&n))
    }

    /// Every division strictly below `ancestor_code`, at any depth, that `name` designates
    /// by any of its short forms, in order of kind then code. Names repeat across the
    /// country (many a 新华街道), so this returns all matches.
    pub fn by_name_under(&self, ancestor_code: &str, name: &str) -> Vec<&Division> {
        let n = normalize(name);
        let Some(first) = n.chars().next() else {
            return Vec::new();
        };
        let Some(kind) = DivisionKind::of_code(ancestor_code) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        let mut k = kind.child();
        while let Some(kind) = k {
            let table = self.table(kind);
            let range = if ancestor_code == NATION_CODE {
                table
            } else {
                let len = ancestor_code.len();
                let prefix = |d: &Division| d.code.get(..len).unwrap_or(d.code);
                let start = table.partition_point(|d| prefix(d) < ancestor_code);
                let end = table.partition_point(|d| prefix(d) <= ancestor_code);
                &table[start..end]
            };
            // Every short form starts with the name's first character: filter cheaply first.
            out.extend(range.iter().filter(|d| {
                d.name.chars().next().map(half_width) == Some(first)
                    && short_forms(d.name).contains(&n)
            }));
            k = kind.child();
        }
        out
    }

    /// Every province, autonomous region and municipality (31).
    pub fn provinces(&self) -> &[Division] {
        &self.provinces
    }

    /// The number of divisions of a kind in the data.
    pub fn count(&self, kind: DivisionKind) -> usize {
        self.table(kind).len()
    }
}

/// Parse one embedded table. `parent_col` is the column holding the parent's code
/// (`None` for provinces, whose parent is the nation). The data is static and checked by
/// the tests; a malformed line is skipped rather than panicking.
fn parse_table(text: &'static str, kind: DivisionKind, parent_col: Option<usize>) -> Vec<Division> {
    let mut out: Vec<Division> = text
        .lines()
        .skip(1)
        .filter_map(|line| {
            let fields = split_csv_line(line);
            let code = *fields.first()?;
            let name = *fields.get(1)?;
            if DivisionKind::of_code(code) != Some(kind) || name.is_empty() {
                return None;
            }
            let parent = match parent_col {
                None => NATION_CODE,
                Some(i) => *fields.get(i)?,
            };
            Some(Division {
                code,
                name,
                kind,
                parent: Some(parent),
            })
        })
        .collect();
    // The files are sorted already; sorting again keeps `get` and `children` correct
    // should a future snapshot not be.
    out.sort_by(|a, b| a.code.cmp(b.code));
    out
}

/// Split one line of the simple CSV of the data files: fields separated by commas, a
/// field optionally enclosed in double quotes (the names hold no quote and no comma).
fn split_csv_line(line: &'static str) -> Vec<&'static str> {
    let line = line.strip_suffix('\r').unwrap_or(line);
    line.split(',')
        .map(|f| {
            f.strip_prefix('"')
                .and_then(|f| f.strip_suffix('"'))
                .unwrap_or(f)
        })
        .collect()
}

/// Full-width ASCII to half-width, one character (as [`crate::text::to_half_width`]).
fn half_width(c: char) -> char {
    match c {
        '\u{3000}' => ' ',
        '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
        _ => c,
    }
}

/// The ethnic groups that appear in the names of autonomous areas (自治区/州/县/旗) and
/// ethnic townships (民族乡), without the trailing 族.
const ETHNIC_GROUPS: &[&str] = &[
    "蒙古",
    "回",
    "藏",
    "维吾尔",
    "苗",
    "彝",
    "壮",
    "布依",
    "朝鲜",
    "满",
    "侗",
    "瑶",
    "白",
    "土家",
    "哈尼",
    "哈萨克",
    "傣",
    "黎",
    "傈僳",
    "佤",
    "畲",
    "高山",
    "拉祜",
    "水",
    "东乡",
    "纳西",
    "景颇",
    "柯尔克孜",
    "土",
    "达斡尔",
    "仫佬",
    "羌",
    "布朗",
    "撒拉",
    "毛南",
    "仡佬",
    "锡伯",
    "阿昌",
    "普米",
    "塔吉克",
    "怒",
    "乌孜别克",
    "俄罗斯",
    "鄂温克",
    "德昂",
    "保安",
    "裕固",
    "京",
    "塔塔尔",
    "独龙",
    "鄂伦春",
    "赫哲",
    "门巴",
    "珞巴",
    "基诺",
    "汉",
    // 民族乡, 各族自治县: not groups, but stripped the same way.
    "民",
    "各",
];

/// Remove the ethnic groups at the end of the stem of an autonomous area's name:
/// 阿坝藏族羌族 → 阿坝, 新疆维吾尔 → 新疆, 博尔塔拉蒙古 → 博尔塔拉. A group is removed only
/// if at least two characters remain (鄂伦春 stays 鄂伦春); a stem that is nothing but
/// one group + 族 loses the 族 (鄂温克族 → 鄂温克).
fn strip_ethnic(stem: &str) -> String {
    // Longest first, so that a group is never cut in the middle.
    let mut groups: Vec<&str> = ETHNIC_GROUPS.to_vec();
    groups.sort_by_key(|g| std::cmp::Reverse(g.chars().count()));
    let mut s = stem;
    'outer: loop {
        for &g in &groups {
            let with_zu = format!("{g}族");
            let cut = if let Some(rest) = s.strip_suffix(with_zu.as_str()) {
                Some(rest)
            } else if g.chars().count() >= 2 && !matches!(g, "民" | "各") {
                s.strip_suffix(g)
            } else {
                None
            };
            if let Some(rest) = cut
                && rest.chars().count() >= 2
            {
                s = rest;
                continue 'outer;
            }
        }
        break;
    }
    if let Some(g) = s.strip_suffix('族')
        && ETHNIC_GROUPS.contains(&g)
    {
        return g.to_owned();
    }
    s.to_owned()
}

/// Remove trailing parenthesized notes: `和平街道办事处(梅河口市经济贸易开发区)(省级)`
/// → `和平街道办事处`. Works on normalized (half-width) text.
fn strip_notes(s: &str) -> &str {
    let mut s = s;
    while let Some(inner) = s.strip_suffix(')') {
        match inner.rfind('(') {
            Some(i) if i > 0 => s = &inner[..i],
            _ => break,
        }
    }
    s
}

/// The forms of a division's name that a league name may use, the preferred one first,
/// all normalized (half-width, trimmed), without duplicates. The full name is always one
/// of them.
///
/// - committees: 青石桥社区居委会 / 青石桥社区居民委员会 → 青石桥社区; 龙王村民委员会 /
///   龙王村委会 / 龙王村村民委员会 → 龙王村; 东街居委会 → 东街社区;
/// - streets: 东华门街道办事处 / 东升街道办 → 东华门街道 / 东升街道; 南磨房地区办事处 →
///   南磨房地区; another XX办事处 → XX;
/// - autonomous regions: 内蒙古自治区 → 内蒙古区 (团内蒙古区委), and likewise 广西区,
///   西藏区, 宁夏区, 新疆区; autonomous prefectures, counties and banners keep their full
///   name and gain a plain one: 阿坝藏族羌族自治州 → 阿坝州, 木里藏族自治县 → 木里县,
///   莫力达瓦达斡尔族自治旗 → 莫力达瓦旗; ethnic townships: 于家务回族乡 → 于家务乡;
/// - 地区: 喀什地区 → also 喀什地 (团喀什地委);
/// - notes in parentheses are dropped: 双营子回族乡（梅花鹿产业经济开发区）（省级） → 双营子回族乡;
/// - everything else (四川省, 成都市, 锦江区, 五凤镇) is used as is: no 成都 for 成都市.
pub fn short_forms(name: &str) -> Vec<String> {
    let full = normalize(name);
    let base = strip_notes(&full).to_owned();
    // `lead`: the derived forms preferred over the name itself; `tail`: variants after it.
    let mut lead: Vec<String> = Vec::new();
    let mut tail: Vec<String> = Vec::new();
    let village = |stem: &str| {
        if stem.is_empty() || stem.ends_with('村') {
            stem.to_owned()
        } else {
            format!("{stem}村")
        }
    };

    if let Some(i) = base.find("社区").filter(|&i| i > 0)
        && base[i + "社区".len()..].contains('委')
    {
        // XX社区居委会, XX社区居民委员会, and the data's variants (XX社区委会, XX社区居委).
        lead.push(base[..i + "社区".len()].to_owned());
    } else if let Some(stem) = base.strip_suffix("村民委员会") {
        lead.push(village(stem));
    } else if let Some(stem) = base.strip_suffix("村委会") {
        lead.push(village(stem));
    } else if let Some(stem) = base
        .strip_suffix("居民委员会")
        .or_else(|| base.strip_suffix("居委会"))
        .filter(|s| !s.is_empty())
    {
        lead.push(format!("{stem}社区"));
    } else if let Some(stem) = base.strip_suffix("街道办事处") {
        lead.push(format!("{stem}街道"));
    } else if let Some(stem) = base.strip_suffix("街道办") {
        lead.push(format!("{stem}街道"));
    } else if let Some(stem) = base.strip_suffix("办事处") {
        lead.push(stem.to_owned());
    } else if let Some((stem, kind)) = [
        ("自治区", "区"),
        ("自治州", "州"),
        ("自治县", "县"),
        ("自治旗", "旗"),
    ]
    .into_iter()
    .find_map(|(auto, kind)| Some((base.strip_suffix(auto)?, kind)))
    {
        // 团内蒙古区委, 团阿坝州委, 团木里县委: the plain form is the league's usage.
        lead.push(format!("{}{kind}", strip_ethnic(stem)));
    } else if let Some((stem, kind)) = ["乡", "镇", "苏木"]
        .into_iter()
        .find_map(|kind| Some((base.strip_suffix(&format!("族{kind}"))?, kind)))
    {
        // Ethnic townships keep their name first: 于家务回族乡, then 于家务乡.
        let stem = strip_ethnic(&format!("{stem}族"));
        if !stem.ends_with('族') {
            tail.push(format!("{stem}{kind}"));
        }
    } else if let Some(stem) = base.strip_suffix("地区").filter(|s| s.chars().count() >= 2) {
        // 团喀什地委.
        tail.push(format!("{stem}地"));
    }

    let mut forms: Vec<String> = Vec::new();
    for f in lead.into_iter().chain([base]).chain(tail).chain([full]) {
        if f.chars().count() >= 2 && !forms.contains(&f) {
            forms.push(f);
        }
    }
    forms
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(ds: &[Division]) -> Vec<&str> {
        ds.iter().map(|d| d.name).collect()
    }

    #[test]
    fn tables_load_completely() {
        let d = divisions();
        // Every data line (minus the header) became a division: no line was skipped.
        assert_eq!(
            d.count(DivisionKind::Province),
            PROVINCES_CSV.lines().count() - 1
        );
        assert_eq!(d.count(DivisionKind::City), CITIES_CSV.lines().count() - 1);
        assert_eq!(
            d.count(DivisionKind::County),
            COUNTIES_CSV.lines().count() - 1
        );
        assert_eq!(
            d.count(DivisionKind::Township),
            TOWNSHIPS_CSV.lines().count() - 1
        );
        assert_eq!(
            d.count(DivisionKind::Village),
            VILLAGES_CSV.lines().count() - 1
        );
        assert_eq!(d.count(DivisionKind::Province), 31);
        assert_eq!(d.count(DivisionKind::City), 343);
        assert_eq!(d.count(DivisionKind::County), 3009);
        assert_eq!(d.count(DivisionKind::Township), 43524);
        assert_eq!(d.count(DivisionKind::Village), 4342);
    }

    #[test]
    fn data_is_well_formed() {
        let d = divisions();
        for kind in [
            DivisionKind::Province,
            DivisionKind::City,
            DivisionKind::County,
            DivisionKind::Township,
            DivisionKind::Village,
        ] {
            let t = d.table(kind);
            assert!(
                t.windows(2).all(|w| w[0].code < w[1].code),
                "{kind:?} sorted, unique"
            );
            for x in t {
                assert!(!x.name.contains(['"', ',']), "{}", x.name);
                assert!(!x.name.chars().any(char::is_whitespace), "{}", x.name);
                let parent = d
                    .parent(x)
                    .unwrap_or_else(|| panic!("parent of {}", x.code));
                assert_eq!(parent.kind.child(), Some(kind));
                if kind != DivisionKind::Province {
                    assert!(x.code.starts_with(parent.code));
                }
            }
        }
    }

    /// rules.md §1 and the notice: 20 districts/counties, 375 towns/streets,
    /// 4,342 villages/communities in 成都市 (measured from the 2017 data).
    #[test]
    fn chengdu_counts() {
        let counties = chengdu_counties();
        assert_eq!(counties.len(), 20);
        assert_eq!(counties[0].name, "锦江区");
        assert!(names(counties).contains(&"简阳市"));
        let townships: Vec<&Division> =
            counties.iter().flat_map(|c| townships_of(c.code)).collect();
        assert_eq!(townships.len(), 375);
        let villages: usize = townships.iter().map(|t| villages_of(t.code).len()).sum();
        assert_eq!(villages, 4342);
        assert_eq!(chengdu_code(), "5101");
        let cd = divisions().get(CHENGDU_CODE).unwrap();
        assert_eq!(cd.name, "成都市");
        assert_eq!(cd.parent, Some("51"));
    }

    #[test]
    fn lookups() {
        let d = divisions();
        assert_eq!(d.get("51").unwrap().name, "四川省");
        assert_eq!(d.get("510104").unwrap().name, "锦江区");
        assert_eq!(d.get("510104020007").unwrap().name, "青石桥社区居委会");
        assert!(d.get("").is_none());
        assert!(d.get("5199").is_none());
        assert!(d.get("锦江区").is_none());
        assert!(d.get("5101040200071").is_none());
        assert_eq!(d.get(NATION_CODE).unwrap().kind, DivisionKind::Nation);
        assert_eq!(d.children(NATION_CODE).len(), 31);
        assert!(d.children("510104020007").is_empty());
        assert!(d.children("x").is_empty());
        assert!(d.children("99").is_empty());
        assert_eq!(townships_of("5101"), &[] as &[Division]);
        assert!(
            villages_of("110101001").is_empty(),
            "villages only for 成都市"
        );
        let chain: Vec<&str> = d.ancestry("510104020007").iter().map(|d| d.name).collect();
        assert_eq!(
            chain,
            [
                "中华人民共和国",
                "四川省",
                "成都市",
                "锦江区",
                "督院街街道办事处",
                "青石桥社区居委会"
            ]
        );
        assert!(d.ancestry("nope").is_empty());
    }

    #[test]
    fn municipalities_look_through_placeholders() {
        let d = divisions();
        let bj = d.get("11").unwrap();
        assert!(bj.is_municipality());
        assert_eq!(names(d.children("11")), ["市辖区"]);
        let kids = d.league_children("11");
        assert!(kids.iter().any(|k| k.name == "东城区"));
        assert!(kids.iter().all(|k| k.kind == DivisionKind::County));
        let cq: Vec<&str> = d.league_children("50").iter().map(|k| k.name).collect();
        assert!(cq.contains(&"渝中区") && cq.iter().any(|n| n.ends_with('县')));
        // 湖北省's directly administered county-level cities.
        assert!(d.find_child_by_name("42", "仙桃市").is_some());
        assert!(d.find_child_by_name("42", "武汉市").is_some());
        assert!(d.find_child_by_name("42", "省直辖县级行政区划").is_none());
        assert_eq!(d.find_child_by_name("11", "东城区").unwrap().code, "110101");
    }

    #[test]
    fn short_forms_of_the_kinds_of_names() {
        let f = short_forms;
        assert_eq!(f("青石桥社区居委会"), ["青石桥社区", "青石桥社区居委会"]);
        assert_eq!(f("XX社区居民委员会")[0], "XX社区");
        assert_eq!(f("龙王村民委员会")[0], "龙王村");
        assert_eq!(f("龙王村村民委员会")[0], "龙王村");
        assert_eq!(f("新光村委会")[0], "新光村");
        assert_eq!(f("东街居委会")[0], "东街社区");
        assert_eq!(f("东华门街道办事处"), ["东华门街道", "东华门街道办事处"]);
        assert_eq!(f("东升街道办")[0], "东升街道");
        assert_eq!(f("南磨房地区办事处")[0], "南磨房地区");
        assert_eq!(f("内蒙古自治区"), ["内蒙古区", "内蒙古自治区"]);
        assert_eq!(f("广西壮族自治区")[0], "广西区");
        assert_eq!(f("西藏自治区")[0], "西藏区");
        assert_eq!(f("宁夏回族自治区")[0], "宁夏区");
        assert_eq!(f("新疆维吾尔自治区")[0], "新疆区");
        assert!(f("阿坝藏族羌族自治州").contains(&"阿坝州".to_owned()));
        assert!(f("阿坝藏族羌族自治州").contains(&"阿坝藏族羌族自治州".to_owned()));
        assert!(f("博尔塔拉蒙古自治州").contains(&"博尔塔拉州".to_owned()));
        assert!(f("克孜勒苏柯尔克孜自治州").contains(&"克孜勒苏州".to_owned()));
        assert!(f("木里藏族自治县").contains(&"木里县".to_owned()));
        assert!(f("莫力达瓦达斡尔族自治旗").contains(&"莫力达瓦旗".to_owned()));
        assert!(f("鄂伦春自治旗").contains(&"鄂伦春旗".to_owned()));
        assert!(f("鄂温克族自治旗").contains(&"鄂温克旗".to_owned()));
        assert!(f("于家务回族乡").contains(&"于家务乡".to_owned()));
        assert!(f("喀什地区").contains(&"喀什地".to_owned()));
        assert_eq!(f("喀什地区")[0], "喀什地区");
        assert_eq!(
            f("和平街道办事处（梅河口市经济贸易开发区）（省级）")[0],
            "和平街道"
        );
        assert_eq!(f("成都市"), ["成都市"]);
        assert_eq!(f("四川省"), ["四川省"]);
        assert_eq!(f(" 锦江区 "), ["锦江区"]);
        assert!(f("").is_empty());
        assert!(f("社区居委会").iter().all(|s| !s.is_empty()));
    }

    #[test]
    fn every_division_has_a_sane_preferred_form() {
        let d = divisions();
        for kind in [
            DivisionKind::Province,
            DivisionKind::City,
            DivisionKind::County,
            DivisionKind::Township,
            DivisionKind::Village,
        ] {
            for x in d.table(kind).iter().filter(|x| !x.is_placeholder()) {
                let forms = x.short_forms();
                assert!(!forms.is_empty(), "{}", x.name);
                assert!(
                    forms.iter().all(|f| f.chars().count() >= 2),
                    "{} {forms:?}",
                    x.name
                );
                assert!(forms.contains(&normalize(x.name)), "{}", x.name);
            }
        }
    }

    #[test]
    fn name_lookups() {
        let d = divisions();
        assert_eq!(
            d.find_child_by_name("5101", "锦江区").unwrap().code,
            "510104"
        );
        assert_eq!(d.find_child_by_name("51", "阿坝州").unwrap().code, "5132");
        assert_eq!(
            d.find_child_by_name(NATION_CODE, "内蒙古区").unwrap().code,
            "15"
        );
        assert_eq!(
            d.find_child_by_name(NATION_CODE, "四川省").unwrap().code,
            "51"
        );
        assert!(d.find_child_by_name("5101", "锦江").is_none());
        assert!(d.find_child_by_name("5101", "").is_none());
        let qsq = d.find_child_by_name("510104020", "青石桥社区").unwrap();
        assert_eq!(qsq.name, "青石桥社区居委会");
        assert!(qsq.matches_name("青石桥社区居委会"));
        assert!(qsq.matches_name(" 青石桥社区 "));
        assert!(!qsq.matches_name("青石桥"));
        let found = d.by_name_under(CHENGDU_CODE, "青石桥社区");
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].code, "510104020007");
        assert_eq!(d.by_name_under(NATION_CODE, "锦江区").len(), 1);
        assert!(
            d.by_name_under("51", "西华街道")
                .iter()
                .any(|x| x.code.starts_with("510106"))
        );
        assert!(d.by_name_under("nope", "锦江区").is_empty());
        assert!(d.by_name_under("51", "").is_empty());
    }

    #[test]
    fn league_names_and_messages() {
        let d = divisions();
        assert_eq!(d.get("37").unwrap().leading_organ_name(), "团山东省委");
        assert_eq!(d.get("3701").unwrap().leading_organ_name(), "团济南市委");
        assert_eq!(d.get("5101").unwrap().leading_organ_name(), "团成都市委");
        assert_eq!(d.get("15").unwrap().leading_organ_name(), "团内蒙古区委");
        assert_eq!(d.get("510104").unwrap().leading_organ_name(), "团锦江区委");
        assert_eq!(d.get("5101").unwrap().children_noun(), "区(市)县");
        assert_eq!(d.get("11").unwrap().children_noun(), "区县");
        assert_eq!(d.nation().display_name(), "全国");
        assert_eq!(d.get("110101001").unwrap().display_name(), "东华门街道");
    }
}

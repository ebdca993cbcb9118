//! Organization names: the short name (组织简称, rules.md §5), the full name (组织全称) and
//! the one rule that generates a full name from the chain of ancestors (rules.md §6).
//!
//! Every parser takes arbitrary text and answers with a [`Violation`], never a panic:
//! text is normalized first (trimmed, full-width → half-width, [`crate::text`]), and
//! only cut at character boundaries.
//!
//! Machine codes: `short_name.empty`, `short_name.whitespace`, `short_name.control`,
//! `short_name.too_long`, `short_name.leading_pattern`, `short_name.unknown_division`,
//! `short_name.suffix_mismatch`, `short_name.no_unit`, `short_name.class_pattern`;
//! `full_name.empty`, `full_name.whitespace`, `full_name.control`, `full_name.too_long`,
//! `full_name.prefix`, `full_name.no_unit`.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::category::Category;
use crate::divisions::{Division, divisions};
use crate::field::Field;
use crate::level::Level;
use crate::text::{char_len, has_control, has_whitespace, normalize, truncate_for_message};
use crate::violation::{Result, Violation};

/// The longest short name, in characters (rules.md §5 \[inferred\]).
pub const MAX_SHORT_NAME_CHARS: usize = 50;

/// The longest full name, in characters (rules.md §5 \[inferred\]).
pub const MAX_FULL_NAME_CHARS: usize = 99;

/// Every full name starts with this (rules.md §6).
pub const FULL_NAME_PREFIX: &str = "中国共产主义青年团";

/// The short name of the root of the tree (level 1), the one leading organ that is not
/// 团 + division + 委.
pub const CENTRAL_SHORT_NAME: &str = "团中央";

/// The entrance years a class branch may carry (rules.md §5, a sanity bound \[inferred\]).
pub const CLASS_YEARS: std::ops::RangeInclusive<u16> = 1950..=2100;

/// The suffixes of the basic categories, longest first where one ends another
/// (团工委 before 团委).
const BASIC_SUFFIXES: [(&str, Category); 4] = [
    ("团工委", Category::WorkingCommittee),
    ("团总支", Category::GeneralBranch),
    ("团支部", Category::Branch),
    ("团委", Category::Committee),
];

/// How the middle of a leading organ's name ends when no division data is given: the
/// generic words of division names (省, 市, 区, 县, 旗, 州, 盟, 地 as in 团喀什地委, 镇,
/// 乡, 街道, 村, 苏木; 社区 ends with 区) (rules.md §5 \[inferred\]).
const DIVISION_ENDINGS: [&str; 13] = [
    "省", "市", "区", "县", "旗", "州", "盟", "地", "镇", "乡", "街道", "村", "苏木",
];

/// The suffix a short name of a basic category ends with: 团委, 团工委, 团总支, 团支部;
/// `None` for 团的领导机关 (团 + division + 委).
pub fn category_suffix(category: Category) -> Option<&'static str> {
    BASIC_SUFFIXES
        .iter()
        .find(|(_, c)| *c == category)
        .map(|(s, _)| *s)
}

/// The basic category a name's suffix announces, with the suffix: 大雅宝社区团支部 →
/// (团支部, "团支部"). `None` if the name ends with none of them.
pub fn basic_suffix(name: &str) -> Option<(Category, &'static str)> {
    BASIC_SUFFIXES
        .iter()
        .find(|(s, _)| name.ends_with(s))
        .map(|&(s, c)| (c, s))
}

/// The unit or division a short name names, without the league's words: 团锦江区委 →
/// 锦江区, 大雅宝社区团支部 → 大雅宝社区, 建国门街道团工委 → 建国门街道, 团中央 → 中央.
/// Works on any text (a name that follows no pattern is returned whole, trimmed).
pub fn stem(name: &str) -> &str {
    let name = name.trim();
    if name == CENTRAL_SHORT_NAME {
        return "中央";
    }
    if let Some((_, suffix)) = basic_suffix(name) {
        return &name[..name.len() - suffix.len()];
    }
    match name.strip_prefix('团').and_then(|m| m.strip_suffix('委')) {
        Some(middle) if !middle.is_empty() => middle,
        _ => name,
    }
}

/// The comparison key of a name: normalized (trimmed, half-width) and with ASCII letters
/// in lower case, so that `ABC公司团委` and `ａｂｃ公司团委` collide.
pub fn name_key(name: &str) -> String {
    normalize(name).to_ascii_lowercase()
}

/// Whether two short names are the same for the rule "short names are unique among the
/// live children of one parent" (rules.md §5): equal after normalization, ignoring the case
/// of Latin letters.
pub fn names_equal(a: &str, b: &str) -> bool {
    name_key(a) == name_key(b)
}

/// 组织简称: a normalized short name that passed the rules of rules.md §5.
///
/// Serialized as a plain string. Deserializing checks only what does not depend on the
/// category (not empty, no whitespace or control characters, at most 50 characters,
/// [`ShortName::parse_uncategorized`]); a full check needs the category and region,
/// [`ShortName::parse`].
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ShortName(String);

fn short_err(code: &str, message: impl Into<String>) -> Violation {
    Violation::error(code, Some(Field::ShortName), message)
}

/// No short name given (the parser's and `tree::judge_new`'s one report of it).
pub(crate) fn missing_short_name() -> Violation {
    short_err("short_name.empty", "请填写组织简称")
}

fn example_for(category: Category) -> &'static str {
    match category {
        Category::LeadingOrgan => "团锦江区委",
        Category::WorkingCommittee => "建国门街道团工委",
        Category::Committee => "北控集团团委",
        Category::GeneralBranch => "机关团总支",
        Category::Branch => "包装车间团支部",
    }
}

impl ShortName {
    /// Parse a short name for a unit of `category` (rules.md §5).
    ///
    /// `region` is the administrative region of the parent, when known: for a leading
    /// organ (团 + division + 委) the division must then be one of the region's children
    /// (a province under the nation's [`crate::divisions::Divisions::nation`], a district
    /// or county under 成都市, …; placeholders such as 市辖区 are looked through).
    /// Without a region, the middle only has to end like a division name (省, 市, 区, 县, …).
    /// Basic categories must end with their suffix (团委, 团工委, 团总支, 团支部), and a
    /// name with 级…班 must be a school class branch: (专业) + four-digit year + 级 +
    /// Arabic class number + 班 + 团支部.
    ///
    /// [`CENTRAL_SHORT_NAME`] (团中央) is accepted as a leading organ without a region only:
    /// the root of the tree.
    pub fn parse(raw: &str, category: Category, region: Option<&Division>) -> Result<ShortName> {
        let name = Self::parse_uncategorized(raw)?;
        match category {
            Category::LeadingOrgan => check_leading(&name.0, region)?,
            basic => check_basic(&name.0, basic)?,
        }
        Ok(name)
    }

    /// The checks that do not depend on the category: normalized, not empty, no
    /// whitespace, no control characters, at most [`MAX_SHORT_NAME_CHARS`] characters.
    pub fn parse_uncategorized(raw: &str) -> Result<ShortName> {
        let s = normalize(raw);
        if s.is_empty() {
            return Err(missing_short_name());
        }
        if has_whitespace(&s) {
            return Err(short_err(
                "short_name.whitespace",
                format!(
                    "组织简称“{}”中有空格或换行,请删除",
                    truncate_for_message(&s)
                ),
            ));
        }
        if has_control(&s) {
            return Err(short_err(
                "short_name.control",
                "组织简称中有不可见的控制字符(常见于从网页或文档复制的文字),请删除后重新输入",
            ));
        }
        let len = char_len(&s);
        if len > MAX_SHORT_NAME_CHARS {
            return Err(short_err(
                "short_name.too_long",
                format!("组织简称不能超过{MAX_SHORT_NAME_CHARS}个字,现有{len}个字,请缩短"),
            ));
        }
        Ok(ShortName(s))
    }

    /// The short name of the root, 团中央.
    pub fn central() -> ShortName {
        ShortName(CENTRAL_SHORT_NAME.to_owned())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The unit or division named, without the league's words; see [`stem`].
    pub fn stem(&self) -> &str {
        stem(&self.0)
    }

    /// The comparison key for sibling uniqueness; see [`name_key`].
    pub fn key(&self) -> String {
        name_key(&self.0)
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

/// 团 + division + 委 (rules.md §5).
fn check_leading(s: &str, region: Option<&Division>) -> Result<()> {
    let pattern = || {
        short_err(
            "short_name.leading_pattern",
            format!(
                "团的领导机关的组织简称应为“团+行政区划名称+委”,例如“团成都市委”、“团锦江区委”,“{}”不符合",
                truncate_for_message(s)
            ),
        )
    };
    if s == CENTRAL_SHORT_NAME {
        return match region {
            None => Ok(()),
            Some(_) => Err(pattern()),
        };
    }
    let middle = s
        .strip_prefix('团')
        .and_then(|m| m.strip_suffix('委'))
        .filter(|m| !m.is_empty())
        .ok_or_else(pattern)?;
    if middle.ends_with('团') || middle.ends_with('工') {
        // 团锦江区团委, 团锦江区工委: a basic organization's name under the wrong category.
        return Err(short_err(
            "short_name.leading_pattern",
            format!(
                "“{}”是基层团组织的命名方式;团的领导机关的组织简称应为“团+行政区划名称+委”,例如“团锦江区委”,如为基层团委请将组织类别改为团委或团工委",
                truncate_for_message(s)
            ),
        ));
    }
    match region {
        Some(region) => {
            let d = divisions();
            let children = d.league_children(region.code);
            if children
                .iter()
                .any(|c| c.short_forms().iter().any(|f| f == middle))
            {
                return Ok(());
            }
            let message = match children.first() {
                Some(example) => format!(
                    "{}没有名为“{}”的{},请按行政区划名称填写,例如“{}”",
                    region.display_name(),
                    truncate_for_message(middle),
                    region.children_noun(),
                    example.leading_organ_name()
                ),
                None => format!(
                    "{}以下没有行政区划,不能以“{}”为名创建团的领导机关",
                    region.display_name(),
                    truncate_for_message(middle)
                ),
            };
            Err(short_err("short_name.unknown_division", message))
        }
        None if DIVISION_ENDINGS.iter().any(|e| middle.ends_with(e)) => Ok(()),
        None => Err(pattern()),
    }
}

/// A basic category's name: unit + suffix; class branches fully patterned (rules.md §5).
fn check_basic(s: &str, category: Category) -> Result<()> {
    if looks_like_class(s) {
        check_class(s)?;
    }
    let expected = category_suffix(category).unwrap_or("团委");
    match basic_suffix(s) {
        Some((found, suffix)) if found == category => {
            if s.len() == suffix.len() {
                Err(short_err(
                    "short_name.no_unit",
                    format!(
                        "组织简称“{s}”缺少单位或行政区划名称,应为“单位/行政区划名称+{expected}”,例如“{}”",
                        example_for(category)
                    ),
                ))
            } else {
                Ok(())
            }
        }
        found => {
            let mut message = format!(
                "组织类别为{}时,组织简称应以“{expected}”结尾,例如“{}”",
                category.label(),
                example_for(category)
            );
            if let Some((other, _)) = found {
                message.push_str(&format!(
                    ";如确为{},请将组织类别改为{}",
                    other.label(),
                    other.label()
                ));
            } else if s.starts_with('团') && s.ends_with('委') {
                message.push_str(";“团+行政区划名称+委”是团的领导机关的命名方式");
            }
            Err(short_err("short_name.suffix_mismatch", message))
        }
    }
}

/// Whether a name has 级 followed somewhere by 班: it then claims to be a class branch.
fn looks_like_class(s: &str) -> bool {
    s.find('级').is_some_and(|i| s[i..].contains('班'))
}

/// (专业) + YYYY + 级 + N + 班 + 团支部, e.g. 计算机专业2017级3班团支部 (rules.md §5).
fn check_class(s: &str) -> Result<()> {
    let pattern = || {
        short_err(
            "short_name.class_pattern",
            format!(
                "学校班级团支部应以“(专业)+入学年份+级+班号+班+团支部”命名,入学年份为四位数字、班号为阿拉伯数字,例如“2017级1班团支部”、“计算机专业2017级3班团支部”,“{}”不符合",
                truncate_for_message(s)
            ),
        )
    };
    let rest = s
        .strip_suffix("团支部")
        .and_then(|r| r.strip_suffix('班'))
        .ok_or_else(pattern)?;
    let before_number = rest.trim_end_matches(|c: char| c.is_ascii_digit());
    let number = &rest[before_number.len()..];
    if number.is_empty() || number.len() > 3 || number.bytes().all(|b| b == b'0') {
        return Err(pattern());
    }
    let rest = before_number.strip_suffix('级').ok_or_else(pattern)?;
    let major = rest.trim_end_matches(|c: char| c.is_ascii_digit());
    let year = &rest[major.len()..];
    if year.len() != 4 {
        return Err(pattern());
    }
    let year: u16 = year.parse().map_err(|_| pattern())?;
    if !CLASS_YEARS.contains(&year) {
        return Err(short_err(
            "short_name.class_pattern",
            format!(
                "入学年份{year}不合理,应在{}年到{}年之间",
                CLASS_YEARS.start(),
                CLASS_YEARS.end()
            ),
        ));
    }
    Ok(())
}

impl TryFrom<String> for ShortName {
    type Error = Violation;
    fn try_from(s: String) -> Result<ShortName> {
        ShortName::parse_uncategorized(&s)
    }
}

impl From<ShortName> for String {
    fn from(n: ShortName) -> String {
        n.0
    }
}

impl AsRef<str> for ShortName {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ShortName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// 组织全称: normalized, at most 99 characters, starting with 中国共产主义青年团.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct FullName(String);

fn full_err(code: &str, message: impl Into<String>) -> Violation {
    Violation::error(code, Some(Field::FullName), message)
}

impl FullName {
    /// Parse a full name (rules.md §5, §6): trimmed and half-width, no whitespace or control
    /// characters, at most [`MAX_FULL_NAME_CHARS`] characters, starting with
    /// [`FULL_NAME_PREFIX`] and naming something after it.
    pub fn parse(raw: &str) -> Result<FullName> {
        let s = normalize(raw);
        if s.is_empty() {
            return Err(full_err("full_name.empty", "请填写组织全称"));
        }
        if has_whitespace(&s) {
            return Err(full_err(
                "full_name.whitespace",
                format!(
                    "组织全称“{}”中有空格或换行,请删除",
                    truncate_for_message(&s)
                ),
            ));
        }
        if has_control(&s) {
            return Err(full_err(
                "full_name.control",
                "组织全称中有不可见的控制字符(常见于从网页或文档复制的文字),请删除后重新输入",
            ));
        }
        let len = char_len(&s);
        if len > MAX_FULL_NAME_CHARS {
            return Err(full_err(
                "full_name.too_long",
                format!("组织全称不能超过{MAX_FULL_NAME_CHARS}个字,现有{len}个字,请缩短"),
            ));
        }
        match s.strip_prefix(FULL_NAME_PREFIX) {
            None => Err(full_err(
                "full_name.prefix",
                format!(
                    "组织全称应以“{FULL_NAME_PREFIX}”开头,例如“中国共产主义青年团成都市锦江区委员会”,“{}”不符合",
                    truncate_for_message(&s)
                ),
            )),
            Some("") => Err(full_err(
                "full_name.no_unit",
                format!(
                    "组织全称不能只有“{FULL_NAME_PREFIX}”,请写出地区、单位和组织名称,例如“中国共产主义青年团成都市锦江区委员会”"
                ),
            )),
            Some(_) => Ok(FullName(s)),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

impl TryFrom<String> for FullName {
    type Error = Violation;
    fn try_from(s: String) -> Result<FullName> {
        FullName::parse(&s)
    }
}

impl From<FullName> for String {
    fn from(n: FullName) -> String {
        n.0
    }
}

impl AsRef<str> for FullName {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for FullName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// One ancestor in the chain a full name is generated from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChainLink {
    pub level: Level,
    pub category: Category,
    pub short_name: String,
}

impl ChainLink {
    pub fn new(level: Level, category: Category, short_name: impl Into<String>) -> ChainLink {
        ChainLink {
            level,
            category,
            short_name: short_name.into(),
        }
    }
}

/// The ending of a full name by category (rules.md §6): 委员会 (团的领导机关, 团委),
/// 工作委员会 (团工委), 总支部委员会 (团总支), 支部委员会 (团支部).
pub fn full_name_suffix(category: Category) -> &'static str {
    match category {
        Category::LeadingOrgan | Category::Committee => "委员会",
        Category::WorkingCommittee => "工作委员会",
        Category::GeneralBranch => "总支部委员会",
        Category::Branch => "支部委员会",
    }
}

/// THE chain rule: the generated full name (组织全称) of a new unit (rules.md §6 \[inferred\];
/// this function is the project's one definition of it).
///
/// `ancestors` is the chain from the root (团中央) down to the parent, inclusive.
/// The name is
///
/// 1. [`FULL_NAME_PREFIX`] 中国共产主义青年团, then
/// 2. the region and units "from the city level down": the [`stem`] of every ancestor at
///    level ≥ 3 ([`Level::CITY`]), root first (团中央 and the province, levels 1 and 2,
///    are left out: 团锦江区委 is 中国共产主义青年团成都市锦江区委员会, not …四川省成都市…),
///    then the unit's own stem (always, whatever its level: 团四川省委 → 四川省);
///    a stem that begins with an earlier component replaces that component and
///    everything after it, so nothing is said twice (成都市第七中学 under 成都市 gives
///    成都市第七中学, not 成都市成都市第七中学; 锦江区实验学校 under 成都市, 锦江区 gives
///    成都市锦江区实验学校);
/// 3. the ending of the unit's category, [`full_name_suffix`].
///
/// Examples: 团成都市委 under [团中央, 团四川省委] → 中国共产主义青年团成都市委员会;
/// 大雅宝社区团支部 under [团中央, 团四川省委, 团成都市委, 团锦江区委, 建国门街道团工委] →
/// 中国共产主义青年团成都市锦江区建国门街道大雅宝社区支部委员会.
///
/// The result is a proposal the creator checks and corrects (the notice: "请仔细核对修正
/// 自动生成的组织全称"); it is not validated here: a very deep chain can exceed
/// [`MAX_FULL_NAME_CHARS`], which [`FullName::parse`] then refuses.
pub fn generate_full_name(
    ancestors: &[ChainLink],
    category: Category,
    short_name: &ShortName,
) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for link in ancestors.iter().filter(|l| l.level >= Level::CITY) {
        push_component(&mut parts, stem(&link.short_name));
    }
    push_component(&mut parts, short_name.stem());
    let mut out = String::from(FULL_NAME_PREFIX);
    for p in parts {
        out.push_str(p);
    }
    out.push_str(full_name_suffix(category));
    out
}

/// Append one component, dropping the earlier components it repeats (see
/// [`generate_full_name`]).
fn push_component<'a>(parts: &mut Vec<&'a str>, s: &'a str) {
    if s.is_empty() {
        return;
    }
    if let Some(i) = parts.iter().position(|p| s.starts_with(p)) {
        parts.truncate(i);
    }
    parts.push(s);
}

#[cfg(test)]
mod tests {
    use super::*;
    use Category::*;

    fn code_of(r: Result<ShortName>) -> String {
        r.map(|_| "ok".to_owned()).unwrap_or_else(|v| v.code)
    }

    fn ok(raw: &str, c: Category) -> ShortName {
        ShortName::parse(raw, c, None).unwrap_or_else(|v| panic!("{raw} as {c}: {v}"))
    }

    fn err(raw: &str, c: Category, region: Option<&Division>) -> Violation {
        match ShortName::parse(raw, c, region) {
            Ok(n) => panic!("{raw} as {c} accepted as {n}"),
            Err(v) => {
                assert_eq!(v.field, Some(Field::ShortName));
                assert!(v.is_error());
                v
            }
        }
    }

    fn div(code: &str) -> &'static Division {
        divisions().get(code).unwrap()
    }

    #[test]
    fn notice_examples_are_accepted() {
        for n in [
            "团山东省委",
            "团济南市委",
            "团天桥区委",
            "团成都市委",
            "团锦江区委",
        ] {
            ok(n, LeadingOrgan);
        }
        ok("建国门街道团委", Committee);
        ok("北控集团团委", Committee);
        ok("大雅宝社区团支部", Branch);
        ok("包装车间团支部", Branch);
        ok("2017级1班团支部", Branch);
        ok("计算机专业2017级3班团支部", Branch);
        ok("建国门街道团工委", WorkingCommittee);
        ok("机关团总支", GeneralBranch);
        ok("团市委机关团支部", Branch);
    }

    #[test]
    fn leading_organs_against_division_data() {
        let nation = divisions().nation();
        ok_in("团四川省委", nation);
        ok_in("团北京市委", nation);
        ok_in("团内蒙古区委", nation);
        ok_in("团内蒙古自治区委", nation);
        ok_in("团新疆区委", nation);
        ok_in("团山东省委", nation);
        ok_in("团济南市委", div("37"));
        ok_in("团天桥区委", div("3701"));
        ok_in("团成都市委", div("51"));
        ok_in("团阿坝州委", div("51"));
        ok_in("团锦江区委", div("5101"));
        ok_in("团简阳市委", div("5101"));
        ok_in("团东城区委", div("11"));
        ok_in("团密云区委", div("11"));
        ok_in("团仙桃市委", div("42"));
        let v = err("团高新区委", LeadingOrgan, Some(div("5101")));
        assert_eq!(v.code, "short_name.unknown_division");
        assert_eq!(
            v.message,
            "成都市没有名为“高新区”的区(市)县,请按行政区划名称填写,例如“团锦江区委”"
        );
        let v = err("团锦江区委", LeadingOrgan, Some(div("51")));
        assert_eq!(v.code, "short_name.unknown_division");
        assert!(v.message.starts_with("四川省没有名为“锦江区”的市(州)"));
        let v = err("团成都委", LeadingOrgan, Some(div("51")));
        assert_eq!(v.code, "short_name.unknown_division");
        let v = err("团成都市委", LeadingOrgan, Some(nation));
        assert!(
            v.message
                .starts_with("全国没有名为“成都市”的省、自治区、直辖市")
        );
        let v = err("团青石桥社区委", LeadingOrgan, Some(div("510104020007")));
        assert_eq!(v.code, "short_name.unknown_division");
        assert!(v.message.contains("以下没有行政区划"));
    }

    fn ok_in(raw: &str, region: &Division) {
        if let Err(v) = ShortName::parse(raw, LeadingOrgan, Some(region)) {
            panic!("{raw} under {}: {v}", region.name);
        }
    }

    #[test]
    fn leading_pattern_is_enforced() {
        for bad in [
            "成都市委",
            "团成都市",
            "团委",
            "团",
            "团锦江区团委",
            "团锦江区工委",
            "锦江区团委",
        ] {
            assert_eq!(
                err(bad, LeadingOrgan, None).code,
                "short_name.leading_pattern",
                "{bad}"
            );
        }
        // Without data, the middle must end like a division name.
        assert_eq!(
            err("团北控集团公司委", LeadingOrgan, None).code,
            "short_name.leading_pattern"
        );
        ok("团喀什地委", LeadingOrgan);
        ok("团兴安盟委", LeadingOrgan);
        ok("团建国门街道委", LeadingOrgan);
        // The basic-name hint.
        assert!(
            err("团锦江区团委", LeadingOrgan, None)
                .message
                .contains("基层团组织")
        );
        // 团中央: the root only.
        ok("团中央", LeadingOrgan);
        assert_eq!(
            err("团中央", LeadingOrgan, Some(divisions().nation())).code,
            "short_name.leading_pattern"
        );
        assert_eq!(
            err("团中央", Committee, None).code,
            "short_name.suffix_mismatch"
        );
    }

    #[test]
    fn suffix_must_agree_with_category() {
        let v = err("包装车间团委", Branch, None);
        assert_eq!(v.code, "short_name.suffix_mismatch");
        assert_eq!(
            v.message,
            "组织类别为团支部时,组织简称应以“团支部”结尾,例如“包装车间团支部”;如确为团委,请将组织类别改为团委"
        );
        assert_eq!(
            err("建国门街道团工委", Committee, None).code,
            "short_name.suffix_mismatch"
        );
        assert_eq!(
            err("建国门街道团委", WorkingCommittee, None).code,
            "short_name.suffix_mismatch"
        );
        assert_eq!(
            err("机关团支部", GeneralBranch, None).code,
            "short_name.suffix_mismatch"
        );
        assert_eq!(
            err("机关团总支", Branch, None).code,
            "short_name.suffix_mismatch"
        );
        assert_eq!(
            err("包装车间支部", Branch, None).code,
            "short_name.suffix_mismatch"
        );
        assert_eq!(
            err("市直机关工委", WorkingCommittee, None).code,
            "short_name.suffix_mismatch"
        );
        let v = err("团锦江区委", Committee, None);
        assert_eq!(v.code, "short_name.suffix_mismatch");
        assert!(v.message.contains("团的领导机关的命名方式"));
    }

    #[test]
    fn a_unit_must_precede_the_suffix() {
        for (n, c) in [
            ("团委", Committee),
            ("团工委", WorkingCommittee),
            ("团总支", GeneralBranch),
            ("团支部", Branch),
        ] {
            assert_eq!(err(n, c, None).code, "short_name.no_unit", "{n}");
        }
        assert_eq!(err(" 团委 ", Committee, None).code, "short_name.no_unit");
    }

    #[test]
    fn class_branches() {
        ok("2017级1班团支部", Branch);
        ok("计算机专业2017级3班团支部", Branch);
        ok("高级护理专业2016级12班团支部", Branch);
        ok("２０１７级１班团支部", Branch);
        assert_eq!(
            ok("２０１７级１班团支部", Branch).as_str(),
            "2017级1班团支部"
        );
        for bad in [
            "17级1班团支部",
            "2017级一班团支部",
            "2017级1班支部",
            "2017级班团支部",
            "12017级1班团支部",
            "2017级0班团支部",
            "2017级1234班团支部",
            "2017级计算机1班团支部",
            "2017级1班团委",
            "1900级1班团支部",
            "2101级1班团支部",
            "级1班团支部",
        ] {
            assert_eq!(
                code_of(ShortName::parse(bad, Branch, None)),
                "short_name.class_pattern",
                "{bad}"
            );
        }
        assert!(
            err("1900级1班团支部", Branch, None)
                .message
                .contains("1950")
        );
        // A valid class name with the wrong category is a suffix mismatch.
        assert_eq!(
            err("2017级1班团支部", Committee, None).code,
            "short_name.suffix_mismatch"
        );
        // No 级…班: not a class.
        ok("研究生班团支部", Branch);
        ok("班级管理团支部", Branch);
    }

    #[test]
    fn text_rules() {
        assert_eq!(err("", Branch, None).code, "short_name.empty");
        assert_eq!(err(" \u{3000} ", Branch, None).code, "short_name.empty");
        assert_eq!(
            err("包装 车间团支部", Branch, None).code,
            "short_name.whitespace"
        );
        assert_eq!(
            err("包装\n车间团支部", Branch, None).code,
            "short_name.whitespace"
        );
        assert_eq!(
            err("包装\u{0}车间团支部", Branch, None).code,
            "short_name.control"
        );
        assert_eq!(
            err("包装\u{200B}车间团支部", Branch, None).code,
            "short_name.control"
        );
        let long = format!("{}团支部", "车".repeat(48));
        assert_eq!(err(&long, Branch, None).code, "short_name.too_long");
        let max = format!("{}团支部", "车".repeat(47));
        ok(&max, Branch);
        assert_eq!(
            ok("  包装车间团支部\u{3000}", Branch).as_str(),
            "包装车间团支部"
        );
        assert_eq!(ok("ＡＢＣ公司团委", Committee).as_str(), "ABC公司团委");
    }

    #[test]
    fn stems_and_equality() {
        assert_eq!(ok("团锦江区委", LeadingOrgan).stem(), "锦江区");
        assert_eq!(ok("大雅宝社区团支部", Branch).stem(), "大雅宝社区");
        assert_eq!(
            ok("建国门街道团工委", WorkingCommittee).stem(),
            "建国门街道"
        );
        assert_eq!(ok("机关团总支", GeneralBranch).stem(), "机关");
        assert_eq!(ok("北控集团团委", Committee).stem(), "北控集团");
        assert_eq!(ShortName::central().stem(), "中央");
        assert_eq!(stem("团委"), "");
        assert_eq!(stem("随便"), "随便");
        assert_eq!(stem("团"), "团");
        assert!(names_equal("包装车间团支部", " 包装车间团支部　"));
        assert!(names_equal("ABC公司团委", "ａｂｃ公司团委"));
        assert!(!names_equal("包装车间团支部", "包装一车间团支部"));
    }

    #[test]
    fn serde_is_a_plain_string() {
        use serde::de::value::{Error as DeError, StrDeserializer};
        let de = |s: &str| ShortName::deserialize(StrDeserializer::<DeError>::new(s));
        assert_eq!(de(" 包装车间团支部 ").unwrap().as_str(), "包装车间团支部");
        assert_eq!(de("团中央").unwrap(), ShortName::central());
        assert!(de("有 空格").is_err());
        assert!(de("").is_err());
        let n = ok("包装车间团支部", Branch);
        assert_eq!(String::from(n), "包装车间团支部");
        let f = FullName::deserialize(StrDeserializer::<DeError>::new(
            "中国共产主义青年团成都市委员会",
        ));
        assert_eq!(String::from(f.unwrap()), "中国共产主义青年团成都市委员会");
        assert!(FullName::deserialize(StrDeserializer::<DeError>::new("团成都市委")).is_err());
    }

    #[test]
    fn full_names() {
        assert_eq!(
            FullName::parse(" 中国共产主义青年团成都市锦江区委员会 ")
                .unwrap()
                .as_str(),
            "中国共产主义青年团成都市锦江区委员会"
        );
        let code = |s: &str| FullName::parse(s).unwrap_err().code;
        assert_eq!(code(""), "full_name.empty");
        assert_eq!(
            code("中国共产主义青年团成都市 委员会"),
            "full_name.whitespace"
        );
        assert_eq!(
            code("中国共产主义青年团成都市\u{7}委员会"),
            "full_name.control"
        );
        assert_eq!(code("共青团成都市委员会"), "full_name.prefix");
        assert_eq!(code("中国共产主义青年团"), "full_name.no_unit");
        let long = format!("{FULL_NAME_PREFIX}{}委员会", "成".repeat(88));
        assert_eq!(char_len(&long), 100);
        assert_eq!(code(&long), "full_name.too_long");
        let max = format!("{FULL_NAME_PREFIX}{}委员会", "成".repeat(87));
        assert!(FullName::parse(&max).is_ok());
        assert_eq!(
            FullName::parse("").unwrap_err().field,
            Some(Field::FullName)
        );
    }

    fn link(level: u8, category: Category, name: &str) -> ChainLink {
        ChainLink::new(Level::new(level).unwrap(), category, name)
    }

    fn chengdu_chain() -> Vec<ChainLink> {
        vec![
            link(1, LeadingOrgan, "团中央"),
            link(2, LeadingOrgan, "团四川省委"),
            link(3, LeadingOrgan, "团成都市委"),
        ]
    }

    #[test]
    fn the_chain_rule() {
        let gen_ = |anc: &[ChainLink], c: Category, n: &str| {
            generate_full_name(anc, c, &ShortName::parse(n, c, None).unwrap())
        };
        assert_eq!(
            gen_(&chengdu_chain()[..2], LeadingOrgan, "团成都市委"),
            "中国共产主义青年团成都市委员会"
        );
        assert_eq!(
            gen_(&chengdu_chain(), LeadingOrgan, "团锦江区委"),
            "中国共产主义青年团成都市锦江区委员会"
        );
        assert_eq!(
            gen_(&chengdu_chain()[..1], LeadingOrgan, "团四川省委"),
            "中国共产主义青年团四川省委员会"
        );
        assert_eq!(
            generate_full_name(&[], LeadingOrgan, &ShortName::central()),
            "中国共产主义青年团中央委员会"
        );
        let mut chain = chengdu_chain();
        chain.push(link(4, LeadingOrgan, "团锦江区委"));
        chain.push(link(5, WorkingCommittee, "建国门街道团工委"));
        assert_eq!(
            gen_(&chain, Branch, "大雅宝社区团支部"),
            "中国共产主义青年团成都市锦江区建国门街道大雅宝社区支部委员会"
        );
        assert_eq!(
            gen_(&chain[..4], WorkingCommittee, "建国门街道团工委"),
            "中国共产主义青年团成都市锦江区建国门街道工作委员会"
        );
        assert_eq!(
            gen_(&chain[..4], GeneralBranch, "机关团总支"),
            "中国共产主义青年团成都市锦江区机关总支部委员会"
        );
        assert_eq!(
            gen_(&chain[..4], Committee, "锦江区实验学校团委"),
            "中国共产主义青年团成都市锦江区实验学校委员会"
        );
        // A stem repeating its parent's text does not repeat it.
        assert_eq!(
            gen_(&chengdu_chain(), Committee, "成都市第七中学团委"),
            "中国共产主义青年团成都市第七中学委员会"
        );
        assert_eq!(
            gen_(&chain[..4], Committee, "成都市锦江区XX中学团委"),
            "中国共产主义青年团成都市锦江区XX中学委员会"
        );
        let mut school = chengdu_chain();
        school.push(link(4, Committee, "成都市第七中学团委"));
        assert_eq!(
            gen_(&school, Branch, "计算机专业2017级3班团支部"),
            "中国共产主义青年团成都市第七中学计算机专业2017级3班支部委员会"
        );
        // The generated names are valid full names.
        assert!(FullName::parse(&gen_(&chain, Branch, "大雅宝社区团支部")).is_ok());
    }

    #[test]
    fn suffixes() {
        assert_eq!(category_suffix(Branch), Some("团支部"));
        assert_eq!(category_suffix(LeadingOrgan), None);
        assert_eq!(
            basic_suffix("建国门街道团工委"),
            Some((WorkingCommittee, "团工委"))
        );
        assert_eq!(basic_suffix("团锦江区委"), None);
        assert_eq!(full_name_suffix(LeadingOrgan), "委员会");
        assert_eq!(full_name_suffix(Committee), "委员会");
        assert_eq!(full_name_suffix(WorkingCommittee), "工作委员会");
        assert_eq!(full_name_suffix(GeneralBranch), "总支部委员会");
        assert_eq!(full_name_suffix(Branch), "支部委员会");
    }

    #[test]
    fn never_panics_on_odd_input() {
        let odd = [
            "",
            "团",
            "委",
            "团委委",
            "级班",
            "级班团支部",
            "2017级班",
            "\u{FFFF}团支部",
            "😀😀😀团委",
            "团😀委",
            "a级b班团支部",
            "9999级999班团支部",
            "00000级1班团支部",
            "(",
            ")",
            "团()委",
        ];
        for s in odd {
            for c in Category::ALL {
                let _ = ShortName::parse(s, c, None);
                let _ = ShortName::parse(s, c, Some(divisions().nation()));
                let _ = ShortName::parse(s, c, Some(div("510104020007")));
            }
            let _ = FullName::parse(s);
            let _ = stem(s);
        }
        let huge = "团".repeat(100_000);
        assert_eq!(
            code_of(ShortName::parse(&huge, Branch, None)),
            "short_name.too_long"
        );
        assert_eq!(
            FullName::parse(&huge).unwrap_err().code,
            "full_name.too_long"
        );
    }
}

/// The administrative region in which the children of the chain's last link are named
/// (rules.md §5: a leading organ's name must name a real division of its parent's region).
/// The chain (root first) must be 团中央 followed by leading organs each naming a child
/// division of the one before (团中央 → 团四川省委 → 团成都市委 → 团锦江区委); otherwise
/// the region is unknown and `None` is returned, which skips the division check.
pub fn region_of_chain(chain: &[ChainLink]) -> Option<&'static crate::divisions::Division> {
    let all = crate::divisions::divisions();
    let (first, rest) = chain.split_first()?;
    if first.category != Category::LeadingOrgan || first.short_name != CENTRAL_SHORT_NAME {
        return None;
    }
    let mut cur = all.nation();
    for link in rest {
        if link.category != Category::LeadingOrgan {
            return None;
        }
        cur = all.find_child_by_name(cur.code, stem(&link.short_name))?;
    }
    Some(cur)
}

#[cfg(test)]
mod region_tests {
    use super::*;

    fn link(level: u8, name: &str) -> ChainLink {
        ChainLink::new(Level::new(level).unwrap(), Category::LeadingOrgan, name)
    }

    #[test]
    fn region_follows_the_leading_organ_chain() {
        let chain = [
            link(1, "团中央"),
            link(2, "团四川省委"),
            link(3, "团成都市委"),
        ];
        let region = region_of_chain(&chain).expect("成都市");
        assert_eq!(region.name, "成都市");
        assert!(ShortName::parse("团锦江区委", Category::LeadingOrgan, Some(region)).is_ok());
        let err = ShortName::parse("团朝阳区委", Category::LeadingOrgan, Some(region)).unwrap_err();
        assert_eq!(err.code, "short_name.unknown_division");
        assert!(
            region_of_chain(&chain[..1]).is_some_and(|d| d.code == crate::divisions::NATION_CODE)
        );
        let mut broken = chain.to_vec();
        broken[2].short_name = "团不存在市委".into();
        assert!(region_of_chain(&broken).is_none());
        let mut basic = chain.to_vec();
        basic.push(ChainLink::new(
            Level::COUNTY,
            Category::Committee,
            "北控集团团委",
        ));
        assert!(region_of_chain(&basic).is_none());
        assert!(region_of_chain(&[]).is_none());
    }
}

//! A person's name (书记姓名, an administrator's 姓名).
//!
//! \[inferred\] 2–30 characters after normalization; Chinese characters (including the rare
//! ones of the CJK extensions), with the middle dot `·` of minority and transliterated
//! names (`·`, `•`, `‧`, `・`, `･`, `∙`, `⋅` are all stored as `·`), or Latin letters and
//! spaces for foreign names. No digits, no punctuation, no control characters.
//!
//! Spaces: a name without Latin letters loses its spaces (`张  三`, padded to line up with
//! three-character names, is `张三`); a Latin name keeps single spaces between words. Spaces
//! around `·` are dropped.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::field::Field;
use crate::text::{char_len, has_control, normalize};
use crate::violation::{Result, Violation};

/// The separator of a name's parts, as stored.
pub const MIDDLE_DOT: char = '·';

/// A validated person's name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct PersonName(String);

fn invalid(code: &str, message: impl Into<String>) -> Violation {
    Violation::error(code, Some(Field::SecretaryName), message)
}

fn is_han(c: char) -> bool {
    matches!(c,
        '\u{3007}'                      // 〇
        | '\u{3400}'..='\u{4DBF}'       // extension A
        | '\u{4E00}'..='\u{9FFF}'       // unified ideographs
        | '\u{F900}'..='\u{FAFF}'       // compatibility ideographs
        | '\u{20000}'..='\u{323AF}') // extensions B–H, compatibility supplement
}

/// Latin letters, with the accented ones of Latin-1 and Latin Extended-A.
fn is_latin(c: char) -> bool {
    matches!(c,
        'A'..='Z' | 'a'..='z'
        | 'À'..='Ö' | 'Ø'..='ö' | 'ø'..='ÿ'
        | '\u{100}'..='\u{17F}')
}

fn is_dot(c: char) -> bool {
    matches!(
        c,
        '\u{B7}' | '\u{2022}' | '\u{2027}' | '\u{30FB}' | '\u{FF65}' | '\u{2219}' | '\u{22C5}'
    )
}

impl PersonName {
    /// The fewest characters of a name.
    pub const MIN_LEN: usize = 2;
    /// The most characters of a name.
    pub const MAX_LEN: usize = 30;

    /// Parse and validate. Violations are reported on [`Field::SecretaryName`]; re-target
    /// them with [`Violation::on`] (e.g. `Field::AdminName`).
    pub fn parse(raw: &str) -> Result<PersonName> {
        let s = normalize(raw);
        if s.is_empty() {
            return Err(invalid("person_name.empty", "请填写姓名"));
        }
        if has_control(&s) {
            return Err(invalid(
                "person_name.chars",
                "姓名含有控制字符或不可见字符,请删除后重新输入",
            ));
        }
        if let Some(c) = s
            .chars()
            .find(|&c| !(is_han(c) || is_latin(c) || is_dot(c) || c.is_whitespace()))
        {
            let message = if c.is_numeric() {
                "姓名不能包含数字".to_owned()
            } else {
                format!(
                    "姓名中的“{c}”无效:姓名只能由汉字组成(少数民族或外国人姓名可用间隔号“·”),\
                     外国人姓名可用字母和空格"
                )
            };
            return Err(invalid("person_name.chars", message));
        }

        let has_latin = s.chars().any(is_latin);
        let mut out = String::with_capacity(s.len());
        for word in s.split_whitespace() {
            if has_latin
                && !out.is_empty()
                && !out.ends_with(MIDDLE_DOT)
                && !word.starts_with(is_dot)
            {
                out.push(' ');
            }
            out.extend(word.chars().map(|c| if is_dot(c) { MIDDLE_DOT } else { c }));
        }

        if out.starts_with(MIDDLE_DOT) || out.ends_with(MIDDLE_DOT) || out.contains("··") {
            return Err(invalid(
                "person_name.chars",
                "间隔号“·”只能用在姓名的两部分之间,不能位于首尾或连用",
            ));
        }
        let len = char_len(&out);
        if !(PersonName::MIN_LEN..=PersonName::MAX_LEN).contains(&len) {
            return Err(invalid(
                "person_name.length",
                format!(
                    "姓名应为{}至{}个字符,现为{len}个,请填写完整姓名",
                    PersonName::MIN_LEN,
                    PersonName::MAX_LEN
                ),
            ));
        }
        Ok(PersonName(out))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for PersonName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for PersonName {
    type Error = Violation;
    fn try_from(s: String) -> Result<PersonName> {
        PersonName::parse(&s)
    }
}

impl From<PersonName> for String {
    fn from(n: PersonName) -> String {
        n.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(raw: &str) -> String {
        PersonName::parse(raw).unwrap().0
    }

    fn code(raw: &str) -> String {
        PersonName::parse(raw).unwrap_err().code
    }

    #[test]
    fn accepts_names() {
        assert_eq!(ok("张三"), "张三");
        assert_eq!(ok(" 欧阳娜娜 "), "欧阳娜娜");
        assert_eq!(ok("张  三"), "张三");
        assert_eq!(ok("张\u{3000}三"), "张三");
        assert_eq!(ok("阿卜杜拉·买买提"), "阿卜杜拉·买买提");
        assert_eq!(ok("阿卜杜拉•买买提"), "阿卜杜拉·买买提");
        assert_eq!(ok("阿卜杜拉‧买买提"), "阿卜杜拉·买买提");
        assert_eq!(ok("阿卜杜拉・买买提"), "阿卜杜拉·买买提");
        assert_eq!(ok("阿卜杜拉 · 买买提"), "阿卜杜拉·买买提");
        assert_eq!(ok("John  Smith"), "John Smith");
        assert_eq!(ok("ＪＯＨＮ ＳＭＩＴＨ"), "JOHN SMITH");
        assert_eq!(ok("José Müller"), "José Müller");
        assert_eq!(ok("𠀀𠀁"), "𠀀𠀁");
        assert_eq!(ok("王〇"), "王〇");
        assert_eq!(ok(&"张".repeat(30)), "张".repeat(30));
    }

    #[test]
    fn refuses_each_rule_with_its_code() {
        assert_eq!(code(""), "person_name.empty");
        assert_eq!(code(" \u{3000}"), "person_name.empty");
        assert_eq!(code("张"), "person_name.length");
        assert_eq!(code("张 "), "person_name.length");
        assert_eq!(code(&"张".repeat(31)), "person_name.length");
        assert_eq!(code("张三1"), "person_name.chars");
        assert_eq!(code("张三１"), "person_name.chars");
        assert_eq!(code("张\u{0}三"), "person_name.chars");
        assert_eq!(code("张\u{200B}三"), "person_name.chars");
        assert_eq!(code("张\t三"), "person_name.chars");
        assert_eq!(code("张三(书记)"), "person_name.chars");
        assert_eq!(code("张-三"), "person_name.chars");
        assert_eq!(code("张.三"), "person_name.chars");
        assert_eq!(code("·张三"), "person_name.chars");
        assert_eq!(code("张三·"), "person_name.chars");
        assert_eq!(code("张··三"), "person_name.chars");
        assert_eq!(code("张· ·三"), "person_name.chars");
        assert_eq!(code("김철수"), "person_name.chars");
    }

    #[test]
    fn digits_have_their_own_message() {
        assert_eq!(
            PersonName::parse("张三2").unwrap_err().message,
            "姓名不能包含数字"
        );
    }

    #[test]
    fn violations_default_to_the_secretary_and_can_be_retargeted() {
        let v = PersonName::parse("").unwrap_err();
        assert_eq!(v.field, Some(Field::SecretaryName));
        assert_eq!(v.on(Field::AdminName).field, Some(Field::AdminName));
    }
}

/// A name as supervisors and logs see it: the first character, the rest starred (张*,
/// 欧***) (rules.md §9: personal data is masked where supervisors see it).
pub fn mask_name(name: &str) -> String {
    let mut chars = name.trim().chars();
    match chars.next() {
        Some(first) => std::iter::once(first).chain(chars.map(|_| '*')).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod mask_tests {
    #[test]
    fn masks_all_but_the_first_character() {
        assert_eq!(super::mask_name("张三"), "张*");
        assert_eq!(super::mask_name("欧阳娜娜"), "欧***");
        assert_eq!(super::mask_name(""), "");
    }
}

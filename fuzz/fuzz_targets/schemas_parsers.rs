//! Every `schemas` parser on arbitrary text: must never panic.
//!
//! Input: one selector byte (the category, the parent's region and the staffing field the
//! context-dependent parsers are given), then the text (UTF-8, lossy). Every parser sees the
//! whole text; the join rule also sees `ID|入团年月` split at the first `|`.
//!
//! Besides "no panic", one property is checked: a value a parser accepted parses again to
//! itself (the canonical form is what is stored, and the server judges stored values again).
#![no_main]

use libfuzzer_sys::fuzz_target;
use schemas::divisions::{self, Division};
use schemas::name::{self, ChainLink};
use schemas::org::{self, Context};
use schemas::{
    Category, Email, Field, FullName, IdNumber, Industry, JoinRule, Level, Mobile, PersonName,
    Phone, RecommendedCount, RegistrationCode, Role, ShortName, StaffCount, YearMonth,
    YouthCount,
};

/// Parents' regions: none, the nation, a province, 成都市, a district, a township, a
/// municipality and its placeholder 市辖区, prefectures with short forms (喀什地区, 阿坝州).
const REGION_CODES: [&str; 10] = [
    "", "100000", "51", "5101", "510104", "510104001", "11", "1101", "6531", "5132",
];

const STAFF_FIELDS: [Field; 4] = [
    Field::AdminQuota,
    Field::AdminStaffed,
    Field::CareerQuota,
    Field::CareerStaffed,
];

fn region(i: usize) -> Option<&'static Division> {
    let code = REGION_CODES[i % REGION_CODES.len()];
    match code {
        "" => None,
        "100000" => Some(divisions::divisions().nation()),
        c => divisions::divisions().get(c),
    }
}

/// A parser's accepted value parses again to itself.
macro_rules! idempotent {
    ($parsed:expr, |$v:ident| $again:expr) => {
        if let Ok($v) = $parsed {
            let again = $again;
            assert_eq!(again.as_ref().ok(), Some(&$v), "not idempotent: {:?}", $v);
        }
    };
}

fuzz_target!(|data: &[u8]| {
    let Some((&sel, rest)) = data.split_first() else {
        return;
    };
    let text = String::from_utf8_lossy(rest);
    let s: &str = &text;
    let category = Category::ALL[usize::from(sel) % 5];
    let region = region(usize::from(sel / 5));
    let staff_field = STAFF_FIELDS[usize::from(sel >> 6)];

    // The enumerations: a label parses back to its value.
    idempotent!(Category::parse(s), |v| Category::parse(v.label()));
    idempotent!(Industry::parse(s), |v| Industry::parse(v.label()));
    idempotent!(Role::parse(s), |v| Role::parse(v.label()));
    let _ = Role::parse_for(s, category);

    // Names.
    idempotent!(ShortName::parse(s, category, region), |v| ShortName::parse(
        v.as_str(),
        category,
        region
    ));
    idempotent!(ShortName::parse_uncategorized(s), |v| {
        ShortName::parse_uncategorized(v.as_str())
    });
    idempotent!(FullName::parse(s), |v| FullName::parse(v.as_str()));
    if let Ok(short) = ShortName::parse_uncategorized(s) {
        let chain = [
            ChainLink::new(Level::CENTRAL, Category::LeadingOrgan, "团中央"),
            ChainLink::new(Level::CENTRAL.child().unwrap(), Category::LeadingOrgan, "团四川省委"),
            ChainLink::new(
                Level::CENTRAL.child().unwrap().child().unwrap(),
                Category::LeadingOrgan,
                "团成都市委",
            ),
        ];
        let full = name::generate_full_name(&chain, category, &short);
        let _ = FullName::parse(&full);
        let _ = name::region_of_chain(&chain);
        let _ = short.stem();
        let _ = short.key();
    }
    let _ = name::stem(s);
    let _ = name::name_key(s);
    let _ = name::names_equal(s, "团锦江区委");
    let _ = name::basic_suffix(s);
    idempotent!(PersonName::parse(s), |v| PersonName::parse(v.as_str()));
    let _ = schemas::person::mask_name(s);

    // Value formats.
    idempotent!(IdNumber::parse(s), |v| IdNumber::parse(v.as_str()));
    if let Ok(id) = IdNumber::parse(s) {
        let _ = id.masked();
        let _ = id.birth_date();
    }
    let _ = IdNumber::check_char(s);
    idempotent!(Mobile::parse(s), |v| Mobile::parse(v.as_str()));
    if let Ok(m) = Mobile::parse(s) {
        let _ = m.masked();
    }
    idempotent!(Phone::parse(s), |v| Phone::parse(v.as_str()));
    idempotent!(Email::parse(s), |v| Email::parse(v.as_str()));
    idempotent!(StaffCount::parse(s, staff_field), |v| StaffCount::parse(
        &v.get().to_string(),
        staff_field
    ));
    idempotent!(YouthCount::parse(s), |v| YouthCount::parse(&v.get().to_string()));
    idempotent!(RecommendedCount::parse(s), |v| RecommendedCount::parse(
        &v.get().to_string()
    ));
    idempotent!(RegistrationCode::parse(s), |v| RegistrationCode::parse(v.as_str()));
    if let Ok(c) = RegistrationCode::parse(s) {
        let _ = c.masked();
    }
    if let Ok(ym) = YearMonth::parse(s) {
        let _ = ym.to_chinese();
        let _ = ym.pred();
        let _ = ym.plus_years(13);
    }
    if let Some((id, joined)) = s.split_once('|')
        && let (Ok(id), Ok(joined)) = (IdNumber::parse(id), YearMonth::parse(joined))
    {
        let today = time::OffsetDateTime::now_utc().date();
        for rule in [JoinRule::default(), JoinRule { cutoff: JoinRule::FAQ_CUTOFF }] {
            let _ = rule.check(id.birth_date(), joined, today);
            let _ = rule.earliest_join(id.birth_date());
        }
    }

    // Every information field through the record-level checks.
    let ctx = Context { region };
    for &field in Field::ALL {
        let _ = org::check_value(field, s, Some(category), &ctx);
        let _ = org::canonical_value(field, s, Some(category), &ctx);
    }

    // The division look-ups by name and code.
    let all = divisions::divisions();
    let _ = all.get(s);
    let _ = all.children(s);
    let _ = divisions::townships_of(s);
    let _ = divisions::villages_of(s);
    let _ = divisions::DivisionKind::of_code(s);
    let _ = divisions::short_forms(s);
    let _ = all.find_child_by_name("510104", s);
    let _ = all.by_name_under("5101", s);
    if let Some(r) = region {
        let _ = r.matches_name(s);
    }
});

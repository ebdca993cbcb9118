//! Property tests of the value parsers: ID numbers, contacts, counts, names, codes and
//! year-months.

use proptest::prelude::*;
use rand::SeedableRng;
use rand::rngs::StdRng;
use schemas::Field;
use schemas::code::{ALPHABET, LEN, RegistrationCode};
use schemas::contact::{Email, Mobile, Phone};
use schemas::count::{RecommendedCount, StaffCount, YouthCount};
use schemas::id_number::IdNumber;
use schemas::join::{JoinRule, YearMonth};
use schemas::person::PersonName;
use time::Date;
use time::macros::date;

const PROVINCES: [u8; 34] = [
    11, 12, 13, 14, 15, 21, 22, 23, 31, 32, 33, 34, 35, 36, 37, 41, 42, 43, 44, 45, 46, 50, 51, 52,
    53, 54, 61, 62, 63, 64, 65, 71, 81, 82,
];

const TODAY: Date = date!(2025 - 01 - 01);

/// A date from 1950-01-01 to 2009-12-31.
fn birth_date() -> impl Strategy<Value = Date> {
    let from = date!(1950 - 01 - 01).to_julian_day();
    let to = date!(2009 - 12 - 31).to_julian_day();
    (from..=to).prop_map(|d| Date::from_julian_day(d).unwrap())
}

/// A valid ID number: a real province, four more address digits, a real birth date, a
/// sequence and the computed check character.
fn valid_id() -> impl Strategy<Value = String> {
    (
        prop::sample::select(&PROVINCES[..]),
        0u32..10_000,
        birth_date(),
        0u32..1000,
    )
        .prop_map(|(province, area, birth, seq)| {
            let first17 = format!(
                "{province:02}{area:04}{:04}{:02}{:02}{seq:03}",
                birth.year(),
                u8::from(birth.month()),
                birth.day()
            );
            let check = IdNumber::check_char(&first17).unwrap();
            format!("{first17}{check}")
        })
}

/// Run every parser on `s`: none may panic.
fn parse_everything(s: &str) {
    let _ = IdNumber::parse(s);
    let _ = IdNumber::parse_on(s, TODAY);
    let _ = IdNumber::check_char(s);
    let _ = Mobile::parse(s);
    let _ = Phone::parse(s);
    let _ = Email::parse(s);
    let _ = PersonName::parse(s);
    let _ = StaffCount::parse(s, Field::AdminQuota);
    let _ = YouthCount::parse(s);
    let _ = RecommendedCount::parse(s);
    let _ = RegistrationCode::parse(s);
    if let Ok(ym) = YearMonth::parse(s) {
        let _ = JoinRule::default().check(date!(2000 - 01 - 01), ym, TODAY);
    }
}

proptest! {
    #[test]
    fn valid_id_numbers_pass(raw in valid_id()) {
        let id = IdNumber::parse_on(&raw, TODAY).unwrap();
        prop_assert_eq!(id.as_str(), raw.as_str());
        prop_assert_eq!(id.masked().len(), 18);
        let lower = raw.to_ascii_lowercase();
        prop_assert_eq!(IdNumber::parse_on(&lower, TODAY).unwrap(), id);
    }

    #[test]
    fn any_single_character_change_fails(
        raw in valid_id(),
        pos in 0usize..18,
        replacement in prop::sample::select(&b"0123456789X"[..]),
    ) {
        let mut bytes = raw.into_bytes();
        prop_assume!(bytes[pos] != replacement);
        bytes[pos] = replacement;
        let changed = String::from_utf8(bytes).unwrap();
        prop_assert!(IdNumber::parse_on(&changed, TODAY).is_err(), "{}", changed);
    }

    #[test]
    fn no_parser_panics_on_any_string(s in any::<String>()) {
        parse_everything(&s);
    }

    #[test]
    fn no_parser_panics_on_digit_like_strings(s in "[0-9xX０-９ \u{3000}.\\-/年月]{0,20}") {
        parse_everything(&s);
    }

    #[test]
    fn no_parser_panics_on_id_like_strings(s in "[0-9xX０-９]{0,20}") {
        parse_everything(&s);
    }

    #[test]
    fn generated_codes_parse_back(seed in any::<u64>()) {
        let mut rng = StdRng::seed_from_u64(seed);
        let code = RegistrationCode::generate(&mut rng);
        prop_assert_eq!(code.as_str().chars().count(), LEN);
        prop_assert!(code.as_str().chars().all(|c| ALPHABET.contains(c)));
        prop_assert_eq!(RegistrationCode::parse(code.as_str()).unwrap(), code);
    }

    #[test]
    fn earliest_join_is_the_first_accepted_month(birth in birth_date()) {
        let rule = JoinRule::default();
        let earliest = rule.earliest_join(birth);
        prop_assert_eq!(rule.check(birth, earliest, TODAY), Ok(()));
        prop_assert!(rule.check(birth, earliest.pred(), TODAY).is_err());
    }

    #[test]
    fn join_check_never_panics(
        birth in any::<i32>(),
        today in any::<i32>(),
        year in 0i32..10_000,
        month in 1u8..=12,
    ) {
        let span = Date::MIN.to_julian_day()..=Date::MAX.to_julian_day();
        let day = |n: i32| {
            let len = i64::from(*span.end()) - i64::from(*span.start()) + 1;
            let d = i64::from(*span.start()) + i64::from(n).rem_euclid(len);
            Date::from_julian_day(i32::try_from(d).unwrap()).unwrap()
        };
        let joined = YearMonth::new(year, month).unwrap();
        let _ = JoinRule::default().check(day(birth), joined, day(today));
        let _ = JoinRule::default().earliest_join(day(birth));
    }
}

//! Property tests of the name parsers (rules.md §5, §6): no input makes them panic, and every
//! well-formed class-branch name is accepted.

use proptest::prelude::*;
use schemas::Category;
use schemas::divisions::divisions;
use schemas::name::{FullName, ShortName, generate_full_name, names_equal, stem};

/// Text that stresses the parsers: the league's own words, digits (half- and full-width),
/// 级/班, whitespace, controls, zero-width characters, emoji, and arbitrary Unicode.
fn nasty() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("团".to_owned()),
        Just("委".to_owned()),
        Just("团委".to_owned()),
        Just("团工委".to_owned()),
        Just("团总支".to_owned()),
        Just("团支部".to_owned()),
        Just("级".to_owned()),
        Just("班".to_owned()),
        Just("社区居委会".to_owned()),
        Just("中国共产主义青年团".to_owned()),
        Just("(".to_owned()),
        Just("（".to_owned()),
        Just(")".to_owned()),
        Just("\u{200B}".to_owned()),
        Just("\u{3000}".to_owned()),
        "[0-9０-９]{1,5}",
        "\\PC{0,4}",
        any::<char>().prop_map(String::from),
    ];
    prop::collection::vec(piece, 0..12).prop_map(|v| v.concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn parsers_never_panic(s in nasty()) {
        let regions = [
            None,
            Some(divisions().nation()),
            divisions().get("5101"),
            divisions().get("510104020007"),
        ];
        for c in Category::ALL {
            for r in regions {
                let _ = ShortName::parse(&s, c, r);
            }
        }
        let _ = ShortName::parse_uncategorized(&s);
        let _ = FullName::parse(&s);
        let _ = stem(&s);
        let _ = names_equal(&s, "团委");
    }

    #[test]
    fn parsers_never_panic_on_any_unicode(s in any::<String>()) {
        for c in Category::ALL {
            let _ = ShortName::parse(&s, c, None);
            let _ = ShortName::parse(&s, c, divisions().get("5101"));
        }
        let _ = FullName::parse(&s);
    }

    #[test]
    fn accepted_names_are_normalized_and_stable(s in nasty()) {
        for c in Category::ALL {
            if let Ok(n) = ShortName::parse(&s, c, None) {
                prop_assert_eq!(n.as_str().trim(), n.as_str());
                prop_assert!(n.as_str().chars().count() <= 50);
                // Parsing the stored value again gives the same value.
                prop_assert_eq!(ShortName::parse(n.as_str(), c, None).unwrap(), n);
            }
        }
        if let Ok(f) = FullName::parse(&s) {
            prop_assert!(f.as_str().starts_with("中国共产主义青年团"));
            prop_assert_eq!(FullName::parse(f.as_str()).unwrap(), f);
        }
    }

    #[test]
    fn class_branches_parse(
        major in prop_oneof![
            Just(String::new()),
            "[\\u{4e00}-\\u{9fa5}]{1,8}",
            "[\\u{4e00}-\\u{9fa5}]{1,6}专业",
            "[A-Za-z]{1,4}",
        ],
        year in 1950u16..=2100,
        n in 1u16..=999,
    ) {
        let name = format!("{major}{year}级{n}班团支部");
        let parsed = ShortName::parse(&name, Category::Branch, None);
        prop_assert!(parsed.is_ok(), "{} refused: {:?}", name, parsed);
        let parsed = parsed.unwrap();
        let full = generate_full_name(&[], Category::Branch, &parsed);
        prop_assert_eq!(full, format!("中国共产主义青年团{major}{year}级{n}班支部委员会"));
    }
}

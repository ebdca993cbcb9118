//! The seeded tree generators (`schemas::generate`): exact Chengdu counts, every record
//! valid by the rules, determinism, and a campaign that fills by level.

use std::collections::{HashMap, HashSet};
use std::time::Instant;

use schemas::divisions::{self, Division};
use schemas::generate::{
    CampaignRates, GenOptions, SplitMix, chengdu_tree, child_regions, fill_campaign,
    numbered_id_number, numbered_mobile, random_person, synthetic_tree,
};
use schemas::name::{FullName, name_key};
use schemas::org::{Context, OrgRecord};
use schemas::{Category, IdNumber, Mobile, initial};

/// Check the structure and every rule; returns the number of committee-like units with no
/// branch below them.
fn check_tree(records: &[OrgRecord]) -> usize {
    let regions = child_regions(records);
    let mut seen: HashMap<&str, &OrgRecord> = HashMap::new();
    let mut sibling_names: HashSet<(&str, String)> = HashSet::new();
    let mut sibling_sorts: HashSet<(&str, i64)> = HashSet::new();
    for r in records {
        assert!(!seen.contains_key(r.id.as_str()), "duplicate id {}", r.id);
        let category = Category::parse(&r.category).expect("category");
        if r.parent.is_empty() {
            assert_eq!(r.level, 1);
        } else {
            let parent = seen
                .get(r.parent.as_str())
                .unwrap_or_else(|| panic!("{} comes before its parent", r.short_name));
            assert_eq!(r.level, parent.level + 1, "{}", r.short_name);
            let pc = Category::parse(&parent.category).unwrap();
            assert!(
                pc.may_contain(category),
                "{} under {}",
                r.short_name,
                parent.short_name
            );
        }
        assert!(
            sibling_names.insert((r.parent.as_str(), name_key(&r.short_name))),
            "sibling name {} twice",
            r.short_name
        );
        assert!(sibling_sorts.insert((r.parent.as_str(), r.sort_key)));
        let region = regions.get(&r.parent).copied().flatten();
        let c = r.completeness(&Context { region });
        assert!(
            c.violations.is_empty(),
            "{} ({}): {:?}",
            r.short_name,
            r.full_name,
            c.violations
        );
        assert!(FullName::parse(&r.full_name).is_ok(), "{}", r.full_name);
        assert!(!r.deleted);
        seen.insert(&r.id, r);
    }
    // Committee-like units without a branch anywhere below (rules.md §1).
    let mut has_branch: HashSet<&str> = HashSet::new();
    for r in records.iter().rev() {
        if r.category == "团支部" || has_branch.contains(r.id.as_str()) {
            has_branch.insert(&r.parent);
        }
    }
    records
        .iter()
        .filter(|r| {
            Category::parse(&r.category).is_ok_and(|c| c.needs_branch_below())
                && !has_branch.contains(r.id.as_str())
        })
        .count()
}

fn by_id(records: &[OrgRecord]) -> HashMap<&str, &OrgRecord> {
    records.iter().map(|r| (r.id.as_str(), r)).collect()
}

/// The child of `parent` whose short name is `name`.
fn child<'a>(records: &'a [OrgRecord], parent: &str, name: &str) -> Option<&'a OrgRecord> {
    records
        .iter()
        .find(|r| r.parent == parent && r.short_name == name)
}

#[test]
fn chengdu_counts_are_exact() {
    let opts = GenOptions::new(7);
    let t0 = Instant::now();
    let tree = chengdu_tree(&opts);
    eprintln!(
        "chengdu_tree: {} organizations in {:?}",
        tree.len(),
        t0.elapsed()
    );
    // The pre-initialized chain, exactly.
    let init = initial::initial_tree();
    assert_eq!(&tree[..init.len()], &init[..]);
    // Index the tree by (parent, short name).
    let index: HashMap<(&str, &str), &OrgRecord> = tree
        .iter()
        .map(|r| ((r.parent.as_str(), r.short_name.as_str()), r))
        .collect();
    let counties = divisions::chengdu_counties();
    assert_eq!(counties.len(), 20);
    let (mut towns, mut villages) = (0, 0);
    for county in counties {
        let district = initial::org_id(county.code);
        let d = index
            .values()
            .find(|r| r.id == district)
            .expect("district in the tree");
        assert_eq!(d.level, 4);
        for t in divisions::townships_of(county.code) {
            let form = t.preferred_name();
            let (name, category) = if form.ends_with('镇') || form.ends_with('乡') {
                (format!("{form}团委"), "团委")
            } else {
                (format!("{form}团工委"), "团工委")
            };
            let town = index
                .get(&(district.as_str(), name.as_str()))
                .unwrap_or_else(|| panic!("{name} under {}", d.short_name));
            assert_eq!(town.level, 5);
            assert_eq!(town.category, category);
            towns += 1;
            for v in divisions::villages_of(t.code) {
                let name = format!("{}团支部", v.preferred_name());
                let village = index
                    .get(&(town.id.as_str(), name.as_str()))
                    .unwrap_or_else(|| panic!("{name} under {}", town.short_name));
                assert_eq!(village.level, 6);
                assert_eq!(village.category, "团支部");
                villages += 1;
            }
        }
    }
    assert_eq!(towns, 375);
    assert_eq!(villages, 4342);
    // Names as the league writes them.
    let jinjiang = initial::org_id("510104");
    let duyuanjie = child(&tree, &jinjiang, "督院街街道团工委").expect("督院街街道团工委");
    assert_eq!(
        duyuanjie.full_name,
        "中国共产主义青年团成都市锦江区督院街街道工作委员会"
    );
    let qsq = child(&tree, &duyuanjie.id, "青石桥社区团支部").expect("青石桥社区团支部");
    assert_eq!(
        qsq.full_name,
        "中国共产主义青年团成都市锦江区督院街街道青石桥社区支部委员会"
    );
    assert!(
        tree.iter()
            .any(|r| r.level == 5 && r.short_name.ends_with("镇团委"))
    );
    assert!(
        tree.iter()
            .any(|r| r.level == 5 && r.short_name.ends_with("乡团委"))
    );
    assert!(
        tree.iter()
            .any(|r| r.level == 6 && r.short_name.ends_with("村团支部"))
    );

    // Without extra units: the administrative tree alone.
    let bare = chengdu_tree(&GenOptions {
        extra_units: 0.0,
        ..GenOptions::new(7)
    });
    assert_eq!(bare.len(), 23 + 375 + 4342);
    let levels = |t: &[OrgRecord], l: u8| t.iter().filter(|r| r.level == l).count();
    assert_eq!(levels(&bare, 4), 20);
    assert_eq!(levels(&bare, 5), 375);
    assert_eq!(levels(&bare, 6), 4342);
    assert_eq!(check_tree(&bare), 0);
}

#[test]
fn every_record_follows_the_rules() {
    let tree = chengdu_tree(&GenOptions::new(1));
    let childless = check_tree(&tree);
    let committees = tree
        .iter()
        .filter(|r| Category::parse(&r.category).is_ok_and(|c| c.needs_branch_below()))
        .count();
    eprintln!(
        "{} organizations; {committees} committee-like, {childless} without a branch",
        tree.len()
    );
    // A few left without on purpose, not many.
    assert!(childless >= 1, "some committee without branches");
    assert!(childless * 20 < committees, "{childless} of {committees}");
    // The extra units are there: schools with grades and classes, enterprises, organs.
    let ids = by_id(&tree);
    let class = tree
        .iter()
        .find(|r| r.short_name.ends_with("班团支部") && r.level == 7)
        .expect("a class branch under a grade");
    let grade = ids[class.parent.as_str()];
    assert_eq!(grade.category, "团总支");
    assert!(grade.short_name.ends_with("级团总支"));
    let school = ids[grade.parent.as_str()];
    assert!(
        school.short_name.ends_with("中学团委"),
        "{}",
        school.short_name
    );
    assert!(tree.iter().any(|r| r.short_name.ends_with("车间团支部")
        && ids[r.parent.as_str()].short_name.ends_with("公司团委")));
    assert!(
        tree.iter()
            .any(|r| r.short_name.ends_with("直属机关团工委") && r.level == 5)
    );
    assert!(tree.iter().any(|r| r.short_name.contains("专业20")));
    // Before the campaign nothing but names is filled: every record misses fields.
    for r in &tree[..] {
        assert!(r.secretary_name.is_empty());
    }
}

#[test]
fn same_seed_same_tree_other_seed_other_units() {
    let a = chengdu_tree(&GenOptions::new(42));
    let b = chengdu_tree(&GenOptions::new(42));
    assert_eq!(a, b);
    let c = chengdu_tree(&GenOptions::new(43));
    assert_ne!(a, c);
    // The administrative part is the same tree by name; the extra units differ.
    let names = |t: &[OrgRecord]| -> HashSet<(String, String)> {
        let ids = by_id(t);
        t.iter()
            .map(|r| {
                let parent = ids.get(r.parent.as_str()).map(|p| p.full_name.clone());
                (parent.unwrap_or_default(), r.full_name.clone())
            })
            .collect()
    };
    let (na, nc) = (names(&a), names(&c));
    assert_ne!(na, nc, "different seeds give different extra units");
    assert!(na.len().abs_diff(nc.len()) < na.len() / 5);
    let ids_a: HashSet<&str> = a.iter().map(|r| r.id.as_str()).collect();
    let generated_a = a.iter().filter(|r| r.id.starts_with("g-")).count();
    let shared = c.iter().filter(|r| ids_a.contains(r.id.as_str())).count();
    assert_eq!(shared, 23, "only the pre-initialized ids are shared");
    assert!(generated_a > 4700);
}

#[test]
fn campaign_fills_by_level_and_stays_valid() {
    let opts = GenOptions::new(3);
    let mut tree = chengdu_tree(&opts);
    let t0 = Instant::now();
    fill_campaign(&mut tree, &opts);
    eprintln!("fill_campaign: {:?}", t0.elapsed());
    check_tree(&tree);
    let regions = child_regions(&tree);
    let mut by_level: HashMap<u8, (usize, usize, usize)> = HashMap::new();
    for r in &tree {
        let region = regions.get(&r.parent).copied().flatten();
        let c = r.completeness(&Context { region });
        let e = by_level.entry(r.level).or_default();
        e.0 += 1;
        if c.is_complete() {
            e.1 += 1;
        } else if !r.secretary_name.is_empty()
            || !r.secretary_mobile.is_empty()
            || !r.industry.is_empty()
            || !r.phone.is_empty()
        {
            e.2 += 1;
        }
        if !r.secretary_id_number.is_empty() {
            assert!(IdNumber::parse(&r.secretary_id_number).is_ok());
        }
        if !r.secretary_mobile.is_empty() {
            assert!(Mobile::parse(&r.secretary_mobile).is_ok());
        }
    }
    let share = |l: u8| {
        let (n, c, _) = by_level[&l];
        c as f64 / n as f64
    };
    eprintln!("by level (total, complete, partial): {by_level:?}");
    assert_eq!(share(3), 1.0);
    assert!(share(4) >= 0.6, "level 4 mostly complete: {}", share(4));
    assert!(share(4) > share(5) && share(5) > share(6));
    assert!(
        share(6) > 0.1 && share(6) < 0.45,
        "level 6 partly: {}",
        share(6)
    );
    assert!(by_level[&6].2 > 100, "some partly entered");
    // Untouched ones remain.
    assert!(
        tree.iter()
            .any(|r| r.level == 6 && r.secretary_name.is_empty())
    );
    // Deterministic, and per organization.
    let mut again = chengdu_tree(&opts);
    fill_campaign(&mut again, &opts);
    assert_eq!(tree, again);
    // Industries follow the units: a village is 农村, a community 城市社区, a class its school's.
    let ids = by_id(&tree);
    for r in tree.iter().filter(|r| !r.industry.is_empty()) {
        if r.short_name.ends_with("村团支部") && r.level == 6 {
            assert_eq!(r.industry, "农村", "{}", r.short_name);
        }
        if r.short_name.ends_with("社区团支部") && r.level == 6 {
            assert_eq!(r.industry, "城市社区", "{}", r.short_name);
        }
        if r.short_name.ends_with("班团支部") {
            assert!(
                ["普通高中", "初中", "职业教育学校"].contains(&r.industry.as_str()),
                "{} {}",
                r.short_name,
                r.industry
            );
        }
        if let Some(p) = ids.get(r.parent.as_str())
            && p.short_name.ends_with("公司团委")
            && r.short_name == "机关团支部"
        {
            assert!(r.industry.ends_with("企业"), "{}", r.industry);
        }
    }
    // Nothing filled at all: only the names.
    let mut none = chengdu_tree(&opts);
    let zero = GenOptions {
        campaign: CampaignRates {
            chain: 0.0,
            county: 0.0,
            township: 0.0,
            village: 0.0,
            deeper: 0.0,
            partial: 0.0,
            spread: 0.0,
        },
        ..opts.clone()
    };
    fill_campaign(&mut none, &zero);
    assert_eq!(none, chengdu_tree(&opts));
}

#[test]
fn synthetic_trees_reach_their_target_exactly() {
    let opts = GenOptions::new(11);
    let t0 = Instant::now();
    let big = synthetic_tree(&opts, 100_000);
    eprintln!("synthetic_tree(100000): {:?}", t0.elapsed());
    assert_eq!(big.len(), 100_000);
    let childless = check_tree(&big);
    let committees = big
        .iter()
        .filter(|r| Category::parse(&r.category).is_ok_and(|c| c.needs_branch_below()))
        .count();
    eprintln!("{committees} committee-like, {childless} without a branch");
    assert!(childless >= 1 && childless * 20 < committees);
    let max_level = big.iter().map(|r| r.level).max().unwrap();
    assert!((7..=9).contains(&max_level), "{max_level}");
    // Fan-out: no parent with an absurd number of children.
    let mut fanout: HashMap<&str, usize> = HashMap::new();
    for r in &big {
        *fanout.entry(&r.parent).or_default() += 1;
    }
    let max_fanout = fanout.values().max().unwrap();
    assert!(*max_fanout < 2_000, "{max_fanout}");
    // A small target gives the Chengdu tree; an odd one is met exactly.
    assert_eq!(synthetic_tree(&opts, 10), chengdu_tree(&opts));
    assert_eq!(synthetic_tree(&opts, 12_345).len(), 12_345);
    assert_eq!(
        synthetic_tree(&opts, 12_345)[..],
        synthetic_tree(&opts, 12_345)[..]
    );
}

#[test]
fn people_are_valid() {
    let mut rng = SplitMix::new(5);
    for _ in 0..2_000 {
        let p = random_person(&mut rng, 1980..=1999);
        let id = IdNumber::parse(&p.id_number).expect("valid id number");
        assert!((1980..=1999).contains(&id.birth_date().year()));
        assert!(Mobile::parse(&p.mobile).is_ok(), "{}", p.mobile);
        assert!(schemas::PersonName::parse(&p.name).is_ok());
        let ym = schemas::YearMonth::parse(&p.join_year_month(&mut rng)).unwrap();
        assert!(
            schemas::JoinRule::default()
                .check(id.birth_date(), ym, time::macros::date!(2017 - 12 - 20))
                .is_ok()
        );
    }
    // Region lookups used by the checks.
    let tree = chengdu_tree(&GenOptions::new(1));
    let regions = child_regions(&tree);
    let city: Option<&Division> = regions[&initial::org_id("5101")];
    assert_eq!(city.map(|d| d.name), Some("成都市"));
    assert_eq!(
        regions[&initial::org_id("510104")].map(|d| d.code),
        Some("510104")
    );
}

#[test]
fn numbered_people_are_valid_and_distinct() {
    let ids: HashSet<String> = (0..5000).map(numbered_id_number).collect();
    assert_eq!(ids.len(), 5000);
    for id in &ids {
        assert!(IdNumber::parse(id).is_ok(), "{id}");
    }
    let mobiles: HashSet<String> = (0..5000).map(numbered_mobile).collect();
    assert_eq!(mobiles.len(), 5000);
    for m in &mobiles {
        assert!(Mobile::parse(m).is_ok(), "{m}");
    }
}

//! The pre-initialized tree (rules.md §1, "各区(市)县团委机关已初始化到系统"): 团中央 →
//! 团四川省委 → 团成都市委 → the 20 district and county committees of Chengdu in 2017.
//! Their ids derive from their GB/T 2260 codes, so the server and every replica name the
//! same organization the same way; their admins only check order and names.

use crate::category::Category;
use crate::divisions::{self, Division, NATION_CODE};
use crate::level::Level;
use crate::name::{CENTRAL_SHORT_NAME, ChainLink, ShortName, generate_full_name};
use crate::org::OrgRecord;

/// The id of the pre-initialized organization of a division (`org-5101` for 成都市).
pub fn org_id(division_code: &str) -> String {
    format!("org-{division_code}")
}

/// The id of 团中央.
pub fn central_id() -> String {
    org_id(NATION_CODE)
}

fn record(
    id: String,
    parent: String,
    level: Level,
    short: &str,
    chain: &[ChainLink],
    sort_key: i64,
) -> OrgRecord {
    let mut r = OrgRecord::new(id, parent, level);
    r.category = Category::LeadingOrgan.label().to_owned();
    r.short_name = short.to_owned();
    let name = ShortName::parse_uncategorized(short).expect("initial names are valid");
    r.full_name = generate_full_name(chain, Category::LeadingOrgan, &name);
    r.sort_key = sort_key;
    r
}

/// The pre-initialized tree, parents before children: 团中央, 团四川省委, 团成都市委 and
/// the Chengdu county-level committees in code order.
pub fn initial_tree() -> Vec<OrgRecord> {
    let all = divisions::divisions();
    let sichuan = all.get("51").expect("四川省 in the 2017 data");
    let chengdu = all
        .get(divisions::chengdu_code())
        .expect("成都市 in the 2017 data");
    let mut chain = vec![ChainLink::new(
        Level::CENTRAL,
        Category::LeadingOrgan,
        CENTRAL_SHORT_NAME,
    )];
    let mut out = vec![record(
        central_id(),
        String::new(),
        Level::CENTRAL,
        CENTRAL_SHORT_NAME,
        &[],
        1,
    )];
    let mut parent = central_id();
    for (level, d) in [(Level::PROVINCE, sichuan), (Level::CITY, chengdu)] {
        let short = d.leading_organ_name();
        out.push(record(
            org_id(d.code),
            parent.clone(),
            level,
            &short,
            &chain,
            1,
        ));
        chain.push(ChainLink::new(level, Category::LeadingOrgan, short));
        parent = org_id(d.code);
    }
    for (i, county) in divisions::chengdu_counties().iter().enumerate() {
        out.push(county_record(county, &parent, &chain, i as i64 + 1));
    }
    out
}

fn county_record(county: &Division, parent: &str, chain: &[ChainLink], sort_key: i64) -> OrgRecord {
    record(
        org_id(county.code),
        parent.to_owned(),
        Level::COUNTY,
        &county.leading_organ_name(),
        chain,
        sort_key,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::org::Context;

    #[test]
    fn chain_and_the_twenty_chengdu_committees() {
        let t = initial_tree();
        assert_eq!(t.len(), 3 + 20);
        assert_eq!(t[0].short_name, "团中央");
        assert_eq!(t[1].short_name, "团四川省委");
        assert_eq!(t[1].full_name, "中国共产主义青年团四川省委员会");
        assert_eq!(t[2].short_name, "团成都市委");
        assert_eq!(t[2].full_name, "中国共产主义青年团成都市委员会");
        let jinjiang = t.iter().find(|r| r.short_name == "团锦江区委").unwrap();
        assert_eq!(jinjiang.id, "org-510104");
        assert_eq!(jinjiang.parent, "org-5101");
        assert_eq!(jinjiang.level, 4);
        assert_eq!(jinjiang.full_name, "中国共产主义青年团成都市锦江区委员会");
        assert!(t.iter().any(|r| r.short_name == "团简阳市委"));
        for r in &t {
            let c = r.completeness(&Context::default());
            assert!(
                c.violations.is_empty(),
                "{}: {:?}",
                r.short_name,
                c.violations
            );
        }
    }
}

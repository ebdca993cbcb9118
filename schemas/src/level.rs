//! Levels of the tree (rules.md §1): 团中央 = 1, 团省委 = 2, 团成都市委 = 3, districts = 4,
//! towns and streets = 5, villages and communities = 6, deeper as needed. A child is
//! always at its parent's level + 1.

use serde::{Deserialize, Serialize};

use crate::field::Field;
use crate::violation::{Result, Violation};

/// The deepest level accepted: far below any real branch, it bounds hostile input.
pub const MAX_LEVEL: u8 = 16;

/// A level of the tree, 1 (团中央) to [`MAX_LEVEL`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "u8", into = "u8")]
pub struct Level(u8);

impl Level {
    pub const CENTRAL: Level = Level(1);
    pub const PROVINCE: Level = Level(2);
    pub const CITY: Level = Level(3);
    pub const COUNTY: Level = Level(4);
    pub const TOWNSHIP: Level = Level(5);
    pub const VILLAGE: Level = Level(6);

    pub fn new(n: u8) -> Result<Level> {
        if (1..=MAX_LEVEL).contains(&n) {
            Ok(Level(n))
        } else {
            Err(Violation::error(
                "level.out_of_range",
                Some(Field::Level),
                format!("组织层级应在1到{MAX_LEVEL}之间"),
            ))
        }
    }

    pub fn get(self) -> u8 {
        self.0
    }

    /// The level of a direct child.
    pub fn child(self) -> Result<Level> {
        Level::new(self.0 + 1)
    }

    /// The Chinese ordinal used in the progress tabs: 二级组织录入情况, 三级…
    pub fn ordinal(self) -> String {
        const DIGITS: [&str; 10] = ["零", "一", "二", "三", "四", "五", "六", "七", "八", "九"];
        match self.0 {
            n @ 0..=9 => DIGITS[n as usize].to_owned(),
            10 => "十".to_owned(),
            n => format!("十{}", DIGITS[(n - 10) as usize]),
        }
    }
}

impl TryFrom<u8> for Level {
    type Error = Violation;
    fn try_from(n: u8) -> Result<Level> {
        Level::new(n)
    }
}

impl From<Level> for u8 {
    fn from(l: Level) -> u8 {
        l.0
    }
}

impl std::fmt::Display for Level {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}级", self.ordinal())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_and_ordinals() {
        assert!(Level::new(0).is_err());
        assert!(Level::new(MAX_LEVEL + 1).is_err());
        assert_eq!(Level::CITY.child().unwrap(), Level::COUNTY);
        assert!(Level::new(MAX_LEVEL).unwrap().child().is_err());
        assert_eq!(Level::new(2).unwrap().ordinal(), "二");
        assert_eq!(Level::new(12).unwrap().ordinal(), "十二");
        assert_eq!(Level::VILLAGE.to_string(), "六级");
    }
}

//! `schemas`: the domain model of the 组织树建立 phase and every rule of the notice
//! 成青办〔2017〕70号, as types that validate on construction.
//!
//! Pure Rust, no I/O: the client (at entry time, offline) and the server (on every merge)
//! judge data by exactly these rules. Each rule cites its section of `docs/rules.md`
//! (the rules as this project implements them, with the notice's sections).
//!
//! Map of the crate:
//! - [`violation`]: the one [`Violation`] type every rule reports with, and the crate's `Error`;
//! - [`field`]: the fields of an organization, with stable keys and Chinese labels;
//! - [`beijing`]: Beijing time, the notice's clock;
//! - [`text`]: normalization shared by every parser (trim, full-width → half-width);
//! - [`category`], [`level`], [`industry`], [`role`]: the enumerations of §1, §2, §4;
//! - [`name`]: short names (§5) and full names and their generation (§6);
//! - [`divisions`]: the 2017 administrative divisions (GB/T 2260) used by the name checks;
//! - [`id_number`], [`contact`], [`count`]: value formats (§3, §9);
//! - [`code`]: administrator registration codes (§7);
//! - [`person`]: a person's name (secretary, administrator);
//! - [`join`]: 入团年月 and the joining-age rule (§8);
//! - [`initial`]: the pre-initialized tree (团中央 down to Chengdu's districts);
//! - [`org`]: one organization's document model, completeness, immutable fields and the
//!   permission matrix (§3);
//! - [`tree`]: the rules over more than one organization: a new one under its parent,
//!   sibling names, deletion, sibling order (§1, §2, §5);
//! - [`registration`]: the administrator registration form (§7–§9);
//! - [`progress`]: the definitions of progress supervision (§11);
//! - `generate` (feature `generate`, off by default): seeded realistic trees for the
//!   server's demonstration data, tests and benchmarks; not a rule, so not built unless asked.

pub mod beijing;
pub mod category;
pub mod code;
pub mod contact;
pub mod count;
pub mod divisions;
pub mod field;
#[cfg(feature = "generate")]
pub mod generate;
pub mod id_number;
pub mod industry;
pub mod initial;
pub mod join;
pub mod level;
pub mod name;
pub mod org;
pub mod person;
pub mod progress;
pub mod registration;
pub mod role;
pub mod text;
pub mod tree;
pub mod violation;

pub use category::{Category, Profile};
pub use code::{IssuedCode, RegistrationCode};
pub use contact::{Email, Mobile, Phone};
pub use count::{RecommendedCount, StaffCount, YouthCount};
pub use divisions::{Division, divisions};
pub use field::Field;
pub use id_number::IdNumber;
pub use industry::Industry;
pub use join::{JoinRule, YearMonth};
pub use level::Level;
pub use name::{FullName, ShortName};
pub use person::PersonName;
pub use role::Role;
pub use violation::{Error, Result, Severity, Violation};

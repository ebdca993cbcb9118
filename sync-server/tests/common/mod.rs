//! Helpers shared by the tests of this crate that drive the real `zhtj-server` binary.

/// A valid 18-digit ID number (Chengdu, born 1990-01-01 + n days), distinct per `n`.
pub fn id_number(n: u32) -> String {
    let birth = time::macros::date!(1990 - 01 - 01) + time::Duration::days(i64::from(n % 5000));
    let first17 = format!(
        "510104{:04}{:02}{:02}{:03}",
        birth.year(),
        u8::from(birth.month()),
        birth.day(),
        n % 1000
    );
    let check = schemas::IdNumber::check_char(&first17).expect("17 digits");
    format!("{first17}{check}")
}

/// A valid mobile number, distinct per `n`.
pub fn mobile(n: u32) -> String {
    format!("138{n:08}")
}

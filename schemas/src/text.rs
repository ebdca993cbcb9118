//! Text normalization shared by every parser (rules.md §5 [inferred]): values are trimmed,
//! full-width ASCII (digits, Latin letters, punctuation, the ideographic space) is folded
//! to half-width before checking and storing, and control characters are refused.

/// Fold full-width ASCII variants (U+FF01..U+FF5E) and the ideographic space (U+3000) to
/// their half-width forms; everything else is kept.
pub fn to_half_width(s: &str) -> String {
    // Never longer than `s` (a folded character is one byte instead of three): one
    // allocation, where collecting grows the string several times.
    let mut out = String::with_capacity(s.len());
    out.extend(s.chars().map(half_width));
    out
}

/// One character of [`to_half_width`].
pub fn half_width(c: char) -> char {
    match c {
        '\u{3000}' => ' ',
        '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
        _ => c,
    }
}

/// Half-width, then trimmed of surrounding whitespace (Unicode whitespace, including the
/// non-breaking and ideographic spaces that pasted text carries).
pub fn normalize(s: &str) -> String {
    let mut out = to_half_width(s);
    out.truncate(out.trim_end().len());
    let start = out.len() - out.trim_start().len();
    out.drain(..start);
    out
}

/// Whether `s` holds a control character (tab, newline, NUL, …) or a Unicode format
/// character that would hide in a name (zero-width space/joiner, BOM).
pub fn has_control(s: &str) -> bool {
    s.chars().any(|c| {
        c.is_control()
            || matches!(c, '\u{200B}'..='\u{200F}' | '\u{2028}'..='\u{202E}' | '\u{FEFF}')
    })
}

/// Whether `s` holds any whitespace.
pub fn has_whitespace(s: &str) -> bool {
    s.chars().any(char::is_whitespace)
}

/// Length in characters (not bytes): the notice's limits count characters.
pub fn char_len(s: &str) -> usize {
    s.chars().count()
}

/// A user's value quoted inside a message, cut to 20 characters so that a huge cell
/// does not make a huge message.
pub fn truncate_for_message(s: &str) -> String {
    let mut out: String = s.chars().take(20).collect();
    if s.chars().nth(20).is_some() {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folds_full_width_and_trims() {
        assert_eq!(
            normalize("  ２０１７级１班团支部\u{3000}"),
            "2017级1班团支部"
        );
        assert_eq!(to_half_width("ＡＢｃ－１"), "ABc-1");
        assert_eq!(normalize("\u{a0}团成都市委\u{a0}"), "团成都市委");
    }

    proptest::proptest! {
        /// Trimming in place is trimming: any text, with full-width and odd spaces.
        #[test]
        fn normalize_is_half_width_then_trim(s in "[ \u{3000}\u{a0}\u{ff01}-\u{ff5e}a-z团委\t\n]{0,12}") {
            let folded = to_half_width(&s);
            proptest::prop_assert_eq!(normalize(&s), folded.trim());
        }
    }

    #[test]
    fn detects_control_and_whitespace() {
        assert!(has_control("团\u{0}委"));
        assert!(has_control("团\u{200B}委"));
        assert!(!has_control("团委"));
        assert!(has_whitespace("团 委"));
        assert_eq!(char_len("团委"), 2);
    }
}

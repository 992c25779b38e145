//! JavaScript's `a.localeCompare(b)` (V8's ICU collator, locale `en-US`, the CLDR root
//! order): how the reference node host orders MCP servers and tools before it names their
//! descriptors (so it decides which of two colliding tools gets the `_2` suffix), and how
//! the real Gateway orders published plugin tools.
//!
//! Exact for ASCII: the CLDR root order of the printable characters (whitespace, then
//! punctuation and symbols in CLDR's order, digits, letters), C0 controls ignorable, case a
//! tertiary difference (lower case first) and accents a secondary one. Beyond ASCII, a
//! character that decomposes (NFD) to an ASCII letter sorts as that letter with its marks as
//! the secondary difference; any other character sorts after `z` by code point, where ICU
//! has a per-script order. Tool names are nearly always ASCII.

use std::cmp::Ordering;

use unicode_normalization::UnicodeNormalization as _;

/// Printable ASCII in CLDR root order (checked against V8's `localeCompare`).
const ASCII_ORDER: &str = " _-,;:!?.'\"()[]{}@*/\\&#%`^+<=>|~$0123456789aAbBcCdDeEfFgGhHiIjJkKlLmMnNoOpPqQrRsStTuUvVwWxXyYzZ";

/// Whitespace controls, which CLDR orders before the space.
const WHITESPACE: [char; 5] = ['\t', '\n', '\u{b}', '\u{c}', '\r'];

/// The three comparison levels of one string.
#[derive(Default)]
struct Keys {
    primary: Vec<u32>,
    secondary: Vec<u32>,
    tertiary: Vec<u8>,
}

/// The primary weight and case of one ASCII character, or `None` when it is ignorable.
fn ascii_weight(c: char) -> Option<(u32, u8)> {
    if let Some(i) = WHITESPACE.iter().position(|w| *w == c) {
        return Some((i as u32, 0));
    }
    let pos = ASCII_ORDER.find(c)? as u32;
    let base = WHITESPACE.len() as u32;
    if c.is_ascii_alphabetic() {
        // `a` and `A` share a primary weight; upper case is the tertiary difference.
        let letter = ASCII_ORDER.find(c.to_ascii_lowercase()).unwrap_or_default() as u32;
        Some((base + letter, u8::from(c.is_ascii_uppercase())))
    } else {
        Some((base + pos, 0))
    }
}

fn keys(s: &str) -> Keys {
    let mut k = Keys::default();
    for c in s.nfd() {
        if c.is_ascii() {
            if let Some((weight, case)) = ascii_weight(c) {
                k.primary.push(weight);
                k.secondary.push(0);
                k.tertiary.push(case);
            }
        } else if unicode_normalization::char::is_combining_mark(c) {
            // A mark modifies the character before it: a secondary difference only.
            match k.secondary.last_mut() {
                Some(last) => *last = last.saturating_mul(31).saturating_add(c as u32),
                None => k.secondary.push(c as u32),
            }
        } else {
            k.primary.push(0x1_0000 + c as u32);
            k.secondary.push(0);
            k.tertiary.push(u8::from(c.is_uppercase()));
        }
    }
    k
}

/// `a.localeCompare(b)` as V8 answers it in the `en-US` locale (see the module doc).
pub fn locale_compare(a: &str, b: &str) -> Ordering {
    let (a, b) = (keys(a), keys(b));
    a.primary
        .cmp(&b.primary)
        .then_with(|| a.secondary.cmp(&b.secondary))
        .then_with(|| a.tertiary.cmp(&b.tertiary))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sorted(items: &[&str]) -> Vec<String> {
        let mut v: Vec<String> = items.iter().map(|s| s.to_string()).collect();
        v.sort_by(|a, b| locale_compare(a, b));
        v
    }

    #[test]
    fn printable_ascii_sorts_as_v8_sorts_it() {
        // node -e 'cs.sort((a,b)=>a.localeCompare(b))' over U+0020..U+007E.
        let mut chars: Vec<String> = (0x20u8..0x7f).map(|b| (b as char).to_string()).collect();
        chars.reverse();
        let refs: Vec<&str> = chars.iter().map(String::as_str).collect();
        assert_eq!(sorted(&refs).concat(), ASCII_ORDER);
    }

    #[test]
    fn levels_are_compared_as_v8_compares_them() {
        // The order V8 (node 26, en-US) gives the same list.
        let input = [
            "a", "A", "b", "B", "a1", "a-", "a_", "a ", "aA", "Aa", "AA", "aa", "a.b", "ab", "a",
            "é", "e", "f", "ü", "u", "v", "\t", "\n",
        ];
        let expected = [
            "\t", "\n", "a", "a", "A", "a ", "a_", "a-", "a.b", "a1", "aa", "aA", "Aa", "AA", "ab",
            "b", "B", "e", "é", "f", "u", "ü", "v",
        ];
        assert_eq!(sorted(&input), expected);
    }

    #[test]
    fn colliding_tool_names_sort_as_the_reference_sorts_them() {
        // The reference named these `get_weather`, `Get_Weather_2`, `GET_WEATHER_3`.
        assert_eq!(
            sorted(&["GET_WEATHER", "Get Weather!", "get weather"]),
            ["get weather", "Get Weather!", "GET_WEATHER"]
        );
    }

    #[test]
    fn controls_are_ignorable() {
        assert_eq!(locale_compare("x\u{1}", "x"), Ordering::Equal);
        assert_eq!(locale_compare("x\t", "x"), Ordering::Greater);
    }
}

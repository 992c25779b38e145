//! An allowlist entry's `argPattern` in the reference's dialect (spec exec-approvals.md
//! §7.3). The reference tests `new RegExp(argPattern).test(args)`: ECMAScript, no flags,
//! unanchored. Without the `u` flag `\d` is `[0-9]`, `\w` is `[A-Za-z0-9_]`, `\b` is an
//! ASCII word boundary, `\s` is the ECMAScript white-space and line-terminator set, `.`
//! is anything but a line terminator, `^`/`$` are the ends of the text, and Annex B keeps
//! stray `{`, `}`, `]` and unknown escapes (`\e`, `\p`) as literals. This module rewrites
//! such a pattern into the `regex` crate's syntax.
//!
//! What the `regex` crate cannot express (lookaround, backreferences, octal escapes,
//! modifier groups) gives no pattern at all, and then the entry never matches: stricter
//! than the reference, never looser. The same holds for one thing that depends on UTF-16
//! code units: the reference sees a character outside the Basic Multilingual Plane as two
//! units, so when the arguments hold one and the pattern has a construct that could match
//! half of it (`.`, a negated class or escape, or such a character itself), the entry does
//! not match.

use regex::Regex;

/// `\s` in ECMAScript: WhiteSpace (tab, VT, FF, space, NBSP, ZWNBSP, the Zs category)
/// and LineTerminator (LF, CR, LS, PS). Checked against node 26.
const SPACE: &str = r"\t\n\x0B\x0C\r\x20\xA0\x{1680}\x{2000}-\x{200A}\x{2028}\x{2029}\x{202F}\x{205F}\x{3000}\x{FEFF}";
const DIGIT: &str = "0-9";
const WORD: &str = "A-Za-z0-9_";
/// `.`: anything but a line terminator.
const DOT: &str = r"[^\n\r\x{2028}\x{2029}]";

/// A compiled `argPattern`.
#[derive(Debug, Clone)]
pub struct ArgPattern {
    regex: Regex,
    /// The pattern could match half of a character outside the BMP (see the module doc).
    unit_sensitive: bool,
}

impl ArgPattern {
    /// Compiles an ECMAScript pattern; the error says what is not supported or invalid.
    pub fn new(pattern: &str) -> Result<Self, String> {
        let (translated, unit_sensitive) = translate(pattern)?;
        let regex = Regex::new(&translated).map_err(|e| e.to_string())?;
        Ok(Self {
            regex,
            unit_sensitive,
        })
    }

    /// `RegExp.prototype.test`: whether the pattern matches anywhere in `text`.
    pub fn is_match(&self, text: &str) -> bool {
        if self.unit_sensitive && text.chars().any(|c| c > '\u{FFFF}') {
            return false;
        }
        self.regex.is_match(text)
    }
}

/// A character as a `regex` literal: ASCII letters and digits as they are, everything
/// else as `\x{…}` (never special, inside or outside a class).
fn literal(out: &mut String, c: char) {
    if c.is_ascii_alphanumeric() {
        out.push(c);
    } else {
        out.push_str(&format!("\\x{{{:X}}}", c as u32));
    }
}

/// One item of a pattern: a single character, or a class escape (already rendered as the
/// inside of a `regex` class, or as a nested class).
enum Atom {
    Char(char),
    Class(String),
}

/// Reads the escape after a backslash at `c[*i]` (which is the character after `\`), as
/// ECMAScript without `u` reads it, and advances past it. `None`: not supported.
fn escape(c: &[char], i: &mut usize, in_class: bool) -> Result<Atom, String> {
    let e = c[*i];
    *i += 1;
    let hex = |from: usize, n: usize| -> Option<char> {
        let digits: String = c.get(from..from + n)?.iter().collect();
        if digits.len() != n || !digits.chars().all(|d| d.is_ascii_hexdigit()) {
            return None;
        }
        char::from_u32(u32::from_str_radix(&digits, 16).ok()?)
    };
    let class = |s: &str| Atom::Class(s.to_string());
    Ok(match e {
        'd' => class(DIGIT),
        'w' => class(WORD),
        's' => class(SPACE),
        'D' => class(&format!("[^{DIGIT}]")),
        'W' => class(&format!("[^{WORD}]")),
        'S' => class(&format!("[^{SPACE}]")),
        'n' => Atom::Char('\n'),
        'r' => Atom::Char('\r'),
        't' => Atom::Char('\t'),
        'v' => Atom::Char('\u{B}'),
        'f' => Atom::Char('\u{C}'),
        'b' if in_class => Atom::Char('\u{8}'),
        '0' if !c.get(*i).is_some_and(char::is_ascii_digit) => Atom::Char('\0'),
        '0'..='9' => {
            return Err(format!(
                "\\{e}: backreferences and octal escapes are not supported"
            ));
        }
        'k' if c.iter().collect::<String>().contains("(?<") => {
            return Err("\\k: named backreferences are not supported".into());
        }
        'x' => match hex(*i, 2) {
            Some(ch) => {
                *i += 2;
                Atom::Char(ch)
            }
            None => Atom::Char('x'),
        },
        'u' => match hex(*i, 4) {
            Some(ch) => {
                *i += 4;
                Atom::Char(ch)
            }
            None if c
                .get(*i..*i + 4)
                .is_some_and(|s| s.iter().all(char::is_ascii_hexdigit)) =>
            {
                return Err("\\u: lone surrogates are not supported".into());
            }
            None => Atom::Char('u'),
        },
        'c' => match c.get(*i) {
            Some(l) if l.is_ascii_alphabetic() => {
                *i += 1;
                Atom::Char(char::from(*l as u8 % 32))
            }
            _ => return Err("\\c without a letter is not supported".into()),
        },
        // Annex B identity escape: `\e` is `e`, `\/` is `/`, `\p{L}` is `p{L}`.
        other => Atom::Char(other),
    })
}

/// Whether `c[i..]` starts a quantifier `{n}`, `{n,}` or `{n,m}`; its length if so.
fn quantifier_len(c: &[char], i: usize) -> Option<usize> {
    let mut j = i + 1;
    let digits = |j: &mut usize| {
        let start = *j;
        while c.get(*j).is_some_and(char::is_ascii_digit) {
            *j += 1;
        }
        *j > start
    };
    if !digits(&mut j) {
        return None;
    }
    if c.get(j) == Some(&',') {
        j += 1;
        digits(&mut j);
    }
    (c.get(j) == Some(&'}')).then_some(j + 1 - i)
}

/// Rewrites an ECMAScript pattern; also says whether it is unit-sensitive.
fn translate(pattern: &str) -> Result<(String, bool), String> {
    let c: Vec<char> = pattern.chars().collect();
    let mut out = String::new();
    let mut sensitive = false;
    let mut i = 0;
    while i < c.len() {
        let ch = c[i];
        match ch {
            '\\' => {
                i += 1;
                if i >= c.len() {
                    return Err("\\ at end of pattern".into());
                }
                match c[i] {
                    'b' => {
                        out.push_str(r"(?-u:\b)");
                        i += 1;
                    }
                    'B' => {
                        out.push_str(r"(?-u:\B)");
                        i += 1;
                    }
                    'D' | 'W' | 'S' => {
                        sensitive = true;
                        push_atom(&mut out, escape(&c, &mut i, false)?);
                    }
                    _ => push_atom(&mut out, escape(&c, &mut i, false)?),
                }
                continue;
            }
            '.' => {
                out.push_str(DOT);
                sensitive = true;
            }
            '[' => {
                i = class(&c, i + 1, &mut out, &mut sensitive)?;
                continue;
            }
            '(' if c.get(i + 1) == Some(&'?') => {
                if c.get(i + 2) == Some(&':') {
                    out.push_str("(?:");
                    i += 3;
                    continue;
                }
                if c.get(i + 2) == Some(&'<') && !matches!(c.get(i + 3), Some('=' | '!')) {
                    let name: String = c[i + 3..].iter().take_while(|&&n| n != '>').collect();
                    if name.is_empty()
                        || c.get(i + 3 + name.chars().count()) != Some(&'>')
                        || !name.chars().all(|n| n.is_ascii_alphanumeric() || n == '_')
                        || name.starts_with(|n: char| n.is_ascii_digit())
                    {
                        return Err(format!("group name {name:?} is not supported"));
                    }
                    out.push_str(&format!("(?<{name}>"));
                    i += 4 + name.chars().count();
                    continue;
                }
                return Err("lookaround and modifier groups are not supported".into());
            }
            '(' | ')' | '|' | '^' | '$' | '*' | '+' | '?' => out.push(ch),
            '{' => match quantifier_len(&c, i) {
                Some(n) => {
                    out.extend(&c[i..i + n]);
                    i += n;
                    continue;
                }
                None => literal(&mut out, ch),
            },
            other => {
                // A quantifier after such a character repeats its second unit only in
                // the reference.
                sensitive |=
                    other > '\u{FFFF}' && matches!(c.get(i + 1), Some('*' | '+' | '?' | '{'));
                push_atom(&mut out, Atom::Char(other));
            }
        }
        i += 1;
    }
    Ok((out, sensitive))
}

fn push_atom(out: &mut String, atom: Atom) {
    match atom {
        Atom::Char(c) => literal(out, c),
        Atom::Class(s) if s.starts_with('[') => out.push_str(&s),
        Atom::Class(s) => {
            out.push('[');
            out.push_str(&s);
            out.push(']');
        }
    }
}

/// Rewrites a character class whose body starts at `c[i]`; returns the index after `]`.
fn class(
    c: &[char],
    mut i: usize,
    out: &mut String,
    sensitive: &mut bool,
) -> Result<usize, String> {
    let negated = c.get(i) == Some(&'^');
    if negated {
        i += 1;
        *sensitive = true;
    }
    if c.get(i) == Some(&']') {
        // `[]` matches nothing, `[^]` anything.
        out.push_str(if negated {
            r"[\x{0}-\x{10FFFF}]"
        } else {
            r"[^\x{0}-\x{10FFFF}]"
        });
        return Ok(i + 1);
    }
    let mut body = String::new();
    let read = |i: &mut usize, sensitive: &mut bool| -> Result<Atom, String> {
        let ch = c[*i];
        if ch == '\\' {
            *i += 1;
            if *i >= c.len() {
                return Err("\\ at end of pattern".into());
            }
            if matches!(c[*i], 'D' | 'W' | 'S') {
                *sensitive = true;
            }
            return escape(c, i, true);
        }
        *i += 1;
        *sensitive |= ch > '\u{FFFF}';
        Ok(Atom::Char(ch))
    };
    loop {
        if i >= c.len() {
            return Err("unterminated character class".into());
        }
        if c[i] == ']' {
            i += 1;
            break;
        }
        let first = read(&mut i, sensitive)?;
        let range = c.get(i) == Some(&'-') && c.get(i + 1).is_some_and(|n| *n != ']');
        if !range {
            push_class_atom(&mut body, first);
            continue;
        }
        i += 1;
        let second = read(&mut i, sensitive)?;
        match (first, second) {
            (Atom::Char(a), Atom::Char(b)) => {
                if a > b {
                    return Err("range out of order in character class".into());
                }
                literal(&mut body, a);
                body.push('-');
                literal(&mut body, b);
            }
            // Annex B: a range with a class escape at either end is the union of both
            // ends and `-`.
            (a, b) => {
                push_class_atom(&mut body, a);
                literal(&mut body, '-');
                push_class_atom(&mut body, b);
            }
        }
    }
    out.push('[');
    if negated {
        out.push('^');
    }
    out.push_str(&body);
    out.push(']');
    Ok(i)
}

fn push_class_atom(body: &mut String, atom: Atom) {
    match atom {
        Atom::Char(c) => literal(body, c),
        Atom::Class(s) => body.push_str(&s),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unsupported_constructs_never_match() {
        for p in [
            r"(?=a)a", r"(?<!a)b", r"(a)\1", r"(?i:a)", r"\07", r"[\1]", r"\uD83D",
        ] {
            assert!(ArgPattern::new(p).is_err(), "{p}");
        }
        assert!(ArgPattern::new("[").is_err());
        assert!(ArgPattern::new("[z-a]").is_err());
    }

    #[test]
    fn characters_outside_the_bmp() {
        // A literal one in the pattern matches it whole: the reference's units line up.
        assert!(ArgPattern::new("^-m 😀$").unwrap().is_match("-m 😀"));
        assert!(!ArgPattern::new("^-m 😀+$").unwrap().is_match("-m 😀"));
        assert!(ArgPattern::new("^-m ").unwrap().is_match("-m 😀"));
        assert!(!ArgPattern::new("^-m .+$").unwrap().is_match("-m 😀"));
    }
}

//! Key names and chords for `press` (spec browser.md §3.5): `Enter`, `a`, `Control+Shift+T`,
//! with the reference's aliases. Turns a chord into the `Input.dispatchKeyEvent` fields.

/// One key ready to dispatch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Key {
    /// DOM `key`.
    pub key: String,
    /// DOM `code`.
    pub code: String,
    /// Windows virtual key code.
    pub key_code: i64,
    /// Text the key inserts (none with Control/Alt/Meta held).
    pub text: Option<String>,
    /// CDP modifier bits: Alt 1, Control 2, Meta 4, Shift 8.
    pub modifiers: i64,
}

const NAMED: &[(&str, &str, i64, Option<&str>)] = &[
    ("Enter", "Enter", 13, Some("\r")),
    ("Tab", "Tab", 9, None),
    ("Backspace", "Backspace", 8, None),
    ("Delete", "Delete", 46, None),
    ("Escape", "Escape", 27, None),
    ("Space", "Space", 32, Some(" ")),
    ("ArrowUp", "ArrowUp", 38, None),
    ("ArrowDown", "ArrowDown", 40, None),
    ("ArrowLeft", "ArrowLeft", 37, None),
    ("ArrowRight", "ArrowRight", 39, None),
    ("Home", "Home", 36, None),
    ("End", "End", 35, None),
    ("PageUp", "PageUp", 33, None),
    ("PageDown", "PageDown", 34, None),
    ("Insert", "Insert", 45, None),
    ("Shift", "ShiftLeft", 16, None),
    ("Control", "ControlLeft", 17, None),
    ("Alt", "AltLeft", 18, None),
    ("Meta", "MetaLeft", 91, None),
];

fn alias(part: &str) -> &str {
    match part.to_ascii_lowercase().as_str() {
        "esc" => "Escape",
        "return" => "Enter",
        "del" => "Delete",
        "ctrl" | "control" => "Control",
        "cmd" | "meta" | "command" => "Meta",
        "alt" | "option" => "Alt",
        "shift" => "Shift",
        "space" => "Space",
        _ => part,
    }
}

fn modifier_bit(name: &str) -> Option<i64> {
    match name {
        "Alt" => Some(1),
        "Control" | "ControlOrMeta" => {
            Some(if cfg!(target_os = "macos") && name == "ControlOrMeta" {
                4
            } else {
                2
            })
        }
        "Meta" => Some(4),
        "Shift" => Some(8),
        _ => None,
    }
}

/// Parses `Control+Shift+T`-style chords. The last part is the key; the others must be
/// modifiers.
pub fn parse_chord(chord: &str) -> Result<Key, String> {
    let chord = chord.trim();
    if chord.is_empty() {
        return Err("press requires key".into());
    }
    // A lone "+" is the plus key, and "Control++" is Control with plus.
    let (mods_part, key_part) = match chord.strip_suffix("++") {
        Some(rest) => (rest, "+"),
        None if chord == "+" => ("", "+"),
        None => match chord.rsplit_once('+') {
            Some((m, k)) => (m, k),
            None => ("", chord),
        },
    };
    let mut modifiers = 0;
    for part in mods_part.split('+').filter(|p| !p.is_empty()) {
        let name = alias(part);
        modifiers |= modifier_bit(name)
            .ok_or_else(|| format!("unknown modifier {part:?} in key {chord:?}"))?;
    }
    let name = alias(key_part);
    if let Some((key, code, key_code, text)) =
        NAMED.iter().find(|(k, ..)| k.eq_ignore_ascii_case(name))
    {
        let key = if *key == "Space" { " " } else { key };
        return Ok(Key {
            key: key.to_string(),
            code: code.to_string(),
            key_code: *key_code,
            text: text.filter(|_| modifiers & 0b111 == 0).map(String::from),
            modifiers,
        });
    }
    if let Some(n) = name
        .strip_prefix(['F', 'f'])
        .and_then(|n| n.parse::<i64>().ok())
        .filter(|n| (1..=12).contains(n))
    {
        return Ok(Key {
            key: format!("F{n}"),
            code: format!("F{n}"),
            key_code: 111 + n,
            text: None,
            modifiers,
        });
    }
    let mut chars = name.chars();
    match (chars.next(), chars.next()) {
        (Some(c), None) => {
            let shifted = modifiers & 8 != 0;
            let key = if shifted {
                c.to_uppercase().to_string()
            } else {
                c.to_string()
            };
            let (code, key_code) = if c.is_ascii_alphabetic() {
                (
                    format!("Key{}", c.to_ascii_uppercase()),
                    c.to_ascii_uppercase() as i64,
                )
            } else if c.is_ascii_digit() {
                (format!("Digit{c}"), c as i64)
            } else {
                (String::new(), 0)
            };
            Ok(Key {
                text: (modifiers & 0b111 == 0).then(|| key.clone()),
                key,
                code,
                key_code,
                modifiers,
            })
        }
        _ => Err(format!("unknown key {name:?}")),
    }
}

/// Parses the click `modifiers` list.
pub fn modifier_mask(names: &[String]) -> Result<i64, String> {
    names.iter().try_fold(0, |acc, n| {
        modifier_bit(n)
            .map(|b| acc | b)
            .ok_or_else(|| "modifiers must be Alt|Control|ControlOrMeta|Meta|Shift".to_string())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chords_aliases_and_plain_keys() {
        let enter = parse_chord("return").unwrap();
        assert_eq!(
            (enter.key.as_str(), enter.key_code, enter.text.as_deref()),
            ("Enter", 13, Some("\r"))
        );
        let t = parse_chord("ctrl+Shift+T").unwrap();
        assert_eq!(t.modifiers, 2 | 8);
        assert_eq!(t.code, "KeyT");
        assert_eq!(t.text, None);
        let a = parse_chord("a").unwrap();
        assert_eq!(
            (a.key.as_str(), a.text.as_deref(), a.key_code),
            ("a", Some("a"), 65)
        );
        assert_eq!(parse_chord("Esc").unwrap().key, "Escape");
        assert_eq!(parse_chord("F5").unwrap().key_code, 116);
        assert_eq!(parse_chord("Control++").unwrap().key, "+");
        assert!(
            parse_chord("Hyper+x")
                .unwrap_err()
                .contains("unknown modifier")
        );
        assert!(parse_chord("NotAKey").unwrap_err().contains("unknown key"));
        assert_eq!(parse_chord("").unwrap_err(), "press requires key");
        assert_eq!(modifier_mask(&["Shift".into(), "Alt".into()]).unwrap(), 9);
        assert!(modifier_mask(&["Super".into()]).is_err());
    }
}

//! The YAML frontmatter of a `SKILL.md`, read as the reference's line reader does
//! (`parseLineFrontmatter`, its fallback when the YAML parser cannot help): `key: value`
//! lines, a value in matching quotes unquoted, an empty value continued by indented
//! lines. Only `name` and `description` are used; nested YAML is not interpreted.

use std::collections::BTreeMap;

/// Why a frontmatter does not parse (the reference's issue text).
pub const UNTERMINATED: &str =
    "invalid frontmatter: UNTERMINATED_FRONTMATTER: missing closing --- delimiter";

/// The fields of `content`'s frontmatter: none when it has no frontmatter block, an error
/// when the block is opened and never closed.
pub fn parse(content: &str) -> Result<BTreeMap<String, String>, &'static str> {
    let text = content.strip_prefix('\u{feff}').unwrap_or(content);
    let text = text.replace("\r\n", "\n").replace('\r', "\n");
    let Some(tail) = after_delimiter(&text) else {
        return Ok(BTreeMap::new());
    };
    let Some(block) = block_before_closing(tail) else {
        return Err(UNTERMINATED);
    };
    Ok(fields(block))
}

/// The text after a `---` line (trailing blanks allowed), when `text` opens with one.
fn after_delimiter(text: &str) -> Option<&str> {
    let (line, rest) = text.split_once('\n')?;
    is_delimiter(line).then_some(rest)
}

fn is_delimiter(line: &str) -> bool {
    line.strip_prefix("---")
        .is_some_and(|blanks| blanks.chars().all(|c| c.is_whitespace()))
}

/// The block up to the closing `---` line (which may end the text without a newline).
fn block_before_closing(tail: &str) -> Option<&str> {
    let mut start = 0;
    for line in tail.split('\n') {
        if is_delimiter(line) {
            return Some(tail[..start].strip_suffix('\n').unwrap_or(&tail[..start]));
        }
        start += line.len() + 1;
    }
    None
}

/// `key: value` lines (keys of word characters and `-`).
fn fields(block: &str) -> BTreeMap<String, String> {
    let lines: Vec<&str> = block.split('\n').collect();
    let mut out = BTreeMap::new();
    let mut i = 0;
    while i < lines.len() {
        let Some((key, raw)) = key_value(lines[i]) else {
            i += 1;
            continue;
        };
        let mut value = raw.trim().to_string();
        let indented = |l: &str| l.starts_with([' ', '\t']);
        if value.is_empty() && lines.get(i + 1).is_some_and(|l| indented(l)) {
            let mut continued = Vec::new();
            while let Some(line) = lines.get(i + 1) {
                if !line.is_empty() && !indented(line) {
                    break;
                }
                continued.push(*line);
                i += 1;
            }
            value = continued.join("\n").trim().to_string();
        } else {
            value = unquote(&value).to_string();
        }
        if !value.is_empty() {
            out.insert(key.to_string(), value);
        }
        i += 1;
    }
    out
}

fn key_value(line: &str) -> Option<(&str, &str)> {
    let (key, rest) = line.split_once(':')?;
    let word = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-';
    (!key.is_empty() && key.chars().all(word)).then_some((key, rest))
}

fn unquote(value: &str) -> &str {
    for q in ['"', '\''] {
        if value.len() >= 2 && value.starts_with(q) && value.ends_with(q) {
            return &value[1..value.len() - 1];
        }
    }
    value
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_read_from_the_leading_block() {
        let f = parse("---\nname: deploy\ndescription: \"Ship it: now\"\n---\n# Body\nname: no\n")
            .unwrap();
        assert_eq!(f["name"], "deploy");
        assert_eq!(f["description"], "Ship it: now");
        let f =
            parse("\u{feff}---\r\nname: 'x'\r\ndescription:\r\n  two\r\n  lines\r\n---").unwrap();
        assert_eq!(f["name"], "x");
        assert_eq!(f["description"], "two\n  lines");
        assert!(parse("# no frontmatter\nname: x\n").unwrap().is_empty());
        assert!(parse("---\n---\nbody").unwrap().is_empty());
        assert_eq!(parse("---\nname: x\n"), Err(UNTERMINATED));
    }
}

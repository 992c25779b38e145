//! What a node skill may be called (parity §2.4): the reference's
//! `^(?!.*--)[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$`, checked by hand (the `regex` crate has
//! no look-ahead).

/// Longest name.
pub const MAX_NAME_LEN: usize = 64;

/// Whether `name` is a valid skill name: 1–64 of `a-z`, `0-9`, `-`, starting and ending
/// with a letter or digit, with no `--`.
pub fn is_valid(name: &str) -> bool {
    let bytes = name.as_bytes();
    let alnum = |b: &u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    !bytes.is_empty()
        && bytes.len() <= MAX_NAME_LEN
        && bytes.iter().all(|b| alnum(b) || *b == b'-')
        && bytes.first().is_some_and(alnum)
        && bytes.last().is_some_and(alnum)
        && !name.contains("--")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_reference_pattern() {
        for good in ["a", "0", "deploy", "git-helper", "a-b-c", &"x".repeat(64)] {
            assert!(is_valid(good), "{good}");
        }
        for bad in [
            "",
            "-a",
            "a-",
            "a--b",
            "Deploy",
            "a_b",
            "a.b",
            "a b",
            "é",
            &"x".repeat(65),
        ] {
            assert!(!is_valid(bad), "{bad}");
        }
    }
}

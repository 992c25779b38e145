//! `node://<encodeURIComponent(nodeId)>/skills/<name>`: how an agent names a published
//! skill's directory as the `cwd` of `system.run` and `system.run.prepare` (parity §4, the
//! reference's `resolveNodeHostedSkillDirectory`). Any other `cwd` is not a locator and
//! passes through; a `node://` one must name this node and a valid skill name, and resolve
//! (realpath) to a directory inside the skills directory that holds a regular `SKILL.md`.

use std::path::{Path, PathBuf};

use openclaw_capability_api::CapabilityError;

use crate::name;

/// Why a `node://` cwd cannot be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum LocatorError {
    /// Another node's locator, or no valid skill name after `/skills/`.
    #[error("INVALID_REQUEST: node skill cwd locator is invalid for this node")]
    Invalid,
    /// No such skill here (missing, outside the skills directory, no `SKILL.md`).
    #[error("INVALID_REQUEST: node skill cwd locator is unavailable")]
    Unavailable,
}

impl From<LocatorError> for CapabilityError {
    /// `INVALID_REQUEST` with the reference's text: a thrown `Error`, hence `Error: `.
    fn from(e: LocatorError) -> Self {
        CapabilityError::invalid_request(format!("Error: {e}"))
    }
}

/// The skill directory `cwd` names, `None` when `cwd` is not a `node://` locator.
pub fn resolve(
    cwd: &str,
    node_id: &str,
    skills_dir: &Path,
) -> Result<Option<PathBuf>, LocatorError> {
    if !cwd.starts_with("node://") {
        return Ok(None);
    }
    let prefix = format!("node://{}/skills/", encode_uri_component(node_id));
    let skill = cwd.strip_prefix(&prefix).unwrap_or("");
    if !name::is_valid(skill) {
        return Err(LocatorError::Invalid);
    }
    let found = || -> Option<PathBuf> {
        let root = std::fs::canonicalize(skills_dir).ok()?;
        let dir = std::fs::canonicalize(root.join(skill)).ok()?;
        let inside = dir.starts_with(&root) && dir != root;
        let has_skill = std::fs::metadata(dir.join("SKILL.md")).is_ok_and(|m| m.is_file());
        (inside && has_skill).then_some(dir)
    };
    found().map(Some).ok_or(LocatorError::Unavailable)
}

/// JavaScript's `encodeURIComponent`: every byte of the UTF-8 text percent-encoded except
/// `A-Z a-z 0-9 - _ . ! ~ * ' ( )`.
pub fn encode_uri_component(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.!~*'()".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    const NODE: &str = "abc123";

    struct Dirs {
        _tmp: tempfile::TempDir,
        skills: PathBuf,
        outside: PathBuf,
    }

    fn dirs() -> Dirs {
        let tmp = tempfile::tempdir().unwrap();
        let skills = tmp.path().join("skills");
        let outside = tmp.path().join("outside");
        fs::create_dir_all(skills.join("deploy")).unwrap();
        fs::write(skills.join("deploy/SKILL.md"), "---\n---\n").unwrap();
        fs::create_dir_all(&outside).unwrap();
        fs::write(outside.join("SKILL.md"), "---\n---\n").unwrap();
        Dirs {
            _tmp: tmp,
            skills,
            outside,
        }
    }

    fn at(name: &str) -> String {
        format!("node://{NODE}/skills/{name}")
    }

    #[test]
    fn a_locator_maps_to_the_real_skill_directory() {
        let d = dirs();
        let real = fs::canonicalize(d.skills.join("deploy")).unwrap();
        assert_eq!(
            resolve(&at("deploy"), NODE, &d.skills),
            Ok(Some(real.clone()))
        );
        // A symlink that stays inside the skills directory is followed.
        std::os::unix::fs::symlink("deploy", d.skills.join("ship")).unwrap();
        assert_eq!(resolve(&at("ship"), NODE, &d.skills), Ok(Some(real)));
    }

    #[test]
    fn any_other_cwd_passes_through() {
        let d = dirs();
        for cwd in [
            "/tmp",
            "relative",
            "",
            "file:///x",
            "NODE://x/skills/deploy",
        ] {
            assert_eq!(resolve(cwd, NODE, &d.skills), Ok(None), "{cwd}");
        }
    }

    #[test]
    fn another_node_or_a_bad_name_is_invalid() {
        let d = dirs();
        for cwd in [
            "node://other/skills/deploy".to_string(),
            "node://abc123/skill/deploy".into(),
            at(""),
            at("Deploy"),
            at("deploy/"),
            at("deploy/sub"),
            at("../deploy"),
            at("a--b"),
        ] {
            assert_eq!(
                resolve(&cwd, NODE, &d.skills),
                Err(LocatorError::Invalid),
                "{cwd}"
            );
        }
    }

    #[test]
    fn a_missing_escaping_or_skill_less_directory_is_unavailable() {
        let d = dirs();
        assert_eq!(
            resolve(&at("absent"), NODE, &d.skills),
            Err(LocatorError::Unavailable)
        );
        std::os::unix::fs::symlink(&d.outside, d.skills.join("escape")).unwrap();
        assert_eq!(
            resolve(&at("escape"), NODE, &d.skills),
            Err(LocatorError::Unavailable)
        );
        fs::create_dir(d.skills.join("bare")).unwrap();
        assert_eq!(
            resolve(&at("bare"), NODE, &d.skills),
            Err(LocatorError::Unavailable)
        );
        fs::create_dir_all(d.skills.join("dirmd/SKILL.md")).unwrap();
        assert_eq!(
            resolve(&at("dirmd"), NODE, &d.skills),
            Err(LocatorError::Unavailable)
        );
        let none = d.skills.join("nowhere");
        assert_eq!(
            resolve(&at("deploy"), NODE, &none),
            Err(LocatorError::Unavailable)
        );
    }

    #[test]
    fn the_wire_error_is_the_reference_text() {
        let e = CapabilityError::from(LocatorError::Invalid);
        assert_eq!(e.code.as_str(), "INVALID_REQUEST");
        assert_eq!(
            e.message,
            "Error: INVALID_REQUEST: node skill cwd locator is invalid for this node"
        );
        assert_eq!(
            CapabilityError::from(LocatorError::Unavailable).message,
            "Error: INVALID_REQUEST: node skill cwd locator is unavailable"
        );
    }

    #[test]
    fn node_ids_are_encoded_as_encode_uri_component_does() {
        assert_eq!(encode_uri_component("a-b_c.d!~*'()"), "a-b_c.d!~*'()");
        assert_eq!(encode_uri_component("a b/c?é"), "a%20b%2Fc%3F%C3%A9");
        let d = dirs();
        let cwd = "node://my%20node/skills/deploy";
        assert!(resolve(cwd, "my node", &d.skills).unwrap().is_some());
    }
}

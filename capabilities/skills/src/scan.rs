//! The one scan of the skills directory at start (parity §4, the reference's
//! `scanNodeHostedSkills`): each non-dot child directory with a regular `SKILL.md`, in name
//! order, read under the skill directory as its root (symlinks inside it allowed, escapes
//! and hard-linked files refused, at most [`MAX_CONTENT_BYTES`] read), its frontmatter
//! `name` and `description` checked against the directory, the bounds applied. Every skip
//! is one warning in the reference's words, `node host skill skipped (<path>): <why>`.

use std::io::Read as _;
use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::{frontmatter, name};

/// Most bytes of one `SKILL.md` (read and published).
pub const MAX_CONTENT_BYTES: usize = 65536;
/// Most skills published.
pub const MAX_SKILLS: usize = 64;
/// Most content bytes of all skills together.
pub const MAX_TOTAL_BYTES: usize = 524288;
/// Longest description, in UTF-16 units (JavaScript's `length`).
pub const MAX_DESCRIPTION_LEN: usize = 1024;

/// One published skill (a closed object on the gateway: never add fields).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Skill {
    /// The directory name, equal to the frontmatter `name`.
    pub name: String,
    /// The frontmatter `description`, trimmed.
    pub description: String,
    /// The whole `SKILL.md`, frontmatter included.
    pub content: String,
}

/// Scans `dir`; every skip goes to `warn`.
pub fn scan(dir: &Path, warn: &mut dyn FnMut(String)) -> Vec<Skill> {
    let dir = std::path::absolute(dir).unwrap_or_else(|_| dir.to_path_buf());
    let root_file = dir.join("SKILL.md");
    match std::fs::metadata(&root_file) {
        Ok(m) if m.is_file() => warn(skipped(
            &root_file,
            "skills must use a named child directory",
        )),
        Ok(_) => {}
        Err(e) if missing(&e) => {}
        Err(e) => warn(format!(
            "node host skill scan skipped ({}): {e}",
            root_file.display()
        )),
    }
    let mut skills = Vec::new();
    let mut total = 0;
    for (dir_name, file) in candidates(&dir, warn) {
        let Some(skill) = load(&dir_name, &file, warn) else {
            continue;
        };
        let bytes = skill.content.len();
        if !name::is_valid(&skill.name)
            || skill.description.is_empty()
            || skill.description.encode_utf16().count() > MAX_DESCRIPTION_LEN
            || bytes > MAX_CONTENT_BYTES
        {
            warn(skipped(&file, "invalid name, description, or size"));
            continue;
        }
        if skills.len() >= MAX_SKILLS {
            warn(skipped(&file, &format!("exceeds {MAX_SKILLS} skills")));
            continue;
        }
        if total + bytes > MAX_TOTAL_BYTES {
            warn(skipped(
                &file,
                &format!("exceeds {MAX_TOTAL_BYTES} total bytes"),
            ));
            continue;
        }
        total += bytes;
        skills.push(skill);
    }
    skills
}

fn skipped(path: &Path, why: &str) -> String {
    format!("node host skill skipped ({}): {why}", path.display())
}

fn missing(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::NotFound | std::io::ErrorKind::NotADirectory
    )
}

/// The child directories (not symlinks, not dot-named) holding a regular `SKILL.md`
/// (after symlinks), sorted as the reference sorts them (`localeCompare`, `en`: case
/// folded first).
fn candidates(dir: &Path, warn: &mut dyn FnMut(String)) -> Vec<(String, PathBuf)> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Vec::new(),
        Err(e) => {
            warn(format!(
                "node host skill scan skipped ({}): {e}",
                dir.display()
            ));
            return Vec::new();
        }
    };
    let mut found = Vec::new();
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') || !entry.file_type().is_ok_and(|t| t.is_dir()) {
            continue;
        }
        let file = dir.join(&name).join("SKILL.md");
        match std::fs::metadata(&file) {
            Ok(m) if m.is_file() => found.push((name, file)),
            Ok(_) => {}
            Err(e) if missing(&e) => {}
            Err(e) => warn(skipped(&file, &e.to_string())),
        }
    }
    found.sort_by(|(a, _), (b, _)| a.to_lowercase().cmp(&b.to_lowercase()).then(a.cmp(b)));
    found
}

/// One skill, or `None` after a warning.
fn load(dir_name: &str, file: &Path, warn: &mut dyn FnMut(String)) -> Option<Skill> {
    let skill_dir = file.parent().unwrap_or(file);
    let loaded =
        std::fs::canonicalize(skill_dir)
            .ok()
            .and_then(|root| match read_under(&root, file) {
                Ok(raw) => Some(raw),
                Err(Some(why)) => {
                    warn(skipped(file, &why));
                    None
                }
                Err(None) => {
                    warn(skipped(file, "has invalid or missing frontmatter"));
                    None
                }
            })?;
    let fields = match frontmatter::parse(&loaded) {
        Ok(fields) => fields,
        Err(why) => {
            warn(skipped(file, why));
            return None;
        }
    };
    let field = |key: &str| fields.get(key).map(|v| v.trim().to_string());
    let name = field("name")
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| dir_name.trim().to_string());
    let Some(description) = field("description").filter(|d| !d.is_empty()) else {
        let why = if name.is_empty() {
            "name is required"
        } else {
            "description is required"
        };
        warn(skipped(file, why));
        return None;
    };
    if field("name").as_deref() != Some(&name) || dir_name != name {
        warn(skipped(file, "directory, name, and frontmatter must match"));
        return None;
    }
    Some(Skill {
        name,
        description,
        content: loaded,
    })
}

/// `file`'s text, read under `root` (a canonical directory): `Err(Some(why))` when it
/// escapes `root`, is hard-linked or is too big; `Err(None)` when it went missing.
fn read_under(root: &Path, file: &Path) -> Result<String, Option<String>> {
    let real = std::fs::canonicalize(file).map_err(|_| None)?;
    if !real.starts_with(root) || real == root {
        let symlink = std::fs::symlink_metadata(file).is_ok_and(|m| m.file_type().is_symlink());
        let kind = if symlink { "Symlink" } else { "Path" };
        return Err(Some(format!(
            "{kind} escapes skill root ({}): {}",
            short(root),
            short(file)
        )));
    }
    let opened = std::fs::File::open(&real)
        .map_err(|e| (!missing(&e)).then(|| format!("skill file could not be read: {e}")))?;
    let meta = opened
        .metadata()
        .map_err(|e| Some(format!("skill file could not be read: {e}")))?;
    if meta.is_file() && meta.nlink() > 1 {
        return Err(Some("hardlinked path not allowed".into()));
    }
    let mut bytes = Vec::new();
    opened
        .take(MAX_CONTENT_BYTES as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| Some(e.to_string()))?;
    if bytes.len() > MAX_CONTENT_BYTES {
        return Err(Some(format!("File exceeds {MAX_CONTENT_BYTES} bytes")));
    }
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// A path with the home directory written `~` (the reference's `shortPath`).
fn short(path: &Path) -> String {
    let text = path.display().to_string();
    match std::env::var("HOME") {
        Ok(home) if !home.is_empty() && home != "/" => {
            let home = home.trim_end_matches('/');
            if text == home {
                "~".into()
            } else if let Some(rest) = text.strip_prefix(&format!("{home}/")) {
                format!("~/{rest}")
            } else {
                text
            }
        }
        _ => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    fn skill_md(name: &str, description: &str) -> String {
        format!("---\nname: {name}\ndescription: {description}\n---\n# {name}\n")
    }

    fn write(dir: &Path, name: &str, text: &str) {
        fs::create_dir_all(dir.join(name)).unwrap();
        fs::write(dir.join(name).join("SKILL.md"), text).unwrap();
    }

    fn scan_with_warnings(dir: &Path) -> (Vec<Skill>, Vec<String>) {
        let mut warnings = Vec::new();
        let skills = scan(dir, &mut |w| warnings.push(w));
        (skills, warnings)
    }

    #[test]
    fn skills_are_child_directories_with_a_skill_md_in_name_order() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        write(dir, "zeta", &skill_md("zeta", "Last one"));
        write(dir, "alpha", &skill_md("alpha", "  First one  "));
        write(dir, ".hidden", &skill_md("hidden", "no"));
        fs::create_dir(dir.join("empty")).unwrap();
        fs::create_dir_all(dir.join("notfile/SKILL.md")).unwrap();
        fs::write(dir.join("SKILL.md"), skill_md("root", "no")).unwrap();
        let (skills, warnings) = scan_with_warnings(dir);
        let names: Vec<_> = skills.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["alpha", "zeta"]);
        assert_eq!(skills[0].description, "First one");
        assert_eq!(skills[0].content, skill_md("alpha", "  First one  "));
        assert_eq!(
            warnings,
            [format!(
                "node host skill skipped ({}): skills must use a named child directory",
                dir.join("SKILL.md").display()
            )]
        );
        assert!(scan_with_warnings(&dir.join("absent")).0.is_empty());
    }

    #[test]
    fn each_skip_warns_in_the_reference_words() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        let outside = tempfile::tempdir().unwrap();
        write(dir, "mismatch", &skill_md("other", "d"));
        write(dir, "noname", "---\ndescription: d\n---\n");
        write(dir, "nodesc", "---\nname: nodesc\n---\n");
        write(dir, "open", "---\nname: open\n");
        write(dir, "Upper", &skill_md("Upper", "d"));
        write(dir, "long", &skill_md("long", &"d".repeat(1025)));
        let big = format!("{}{}", skill_md("big", "d"), "x".repeat(MAX_CONTENT_BYTES));
        write(dir, "big", &big);
        fs::write(outside.path().join("SKILL.md"), skill_md("escape", "d")).unwrap();
        fs::create_dir(dir.join("escape")).unwrap();
        std::os::unix::fs::symlink(outside.path().join("SKILL.md"), dir.join("escape/SKILL.md"))
            .unwrap();
        write(dir, "hard", &skill_md("hard", "d"));
        fs::hard_link(dir.join("hard/SKILL.md"), outside.path().join("hard")).unwrap();
        // A symlink inside the skill directory is fine.
        fs::create_dir(dir.join("inside")).unwrap();
        fs::write(dir.join("inside/real.md"), skill_md("inside", "d")).unwrap();
        std::os::unix::fs::symlink("real.md", dir.join("inside/SKILL.md")).unwrap();
        let (skills, warnings) = scan_with_warnings(dir);
        assert_eq!(skills.len(), 1, "{skills:?}");
        assert_eq!(skills[0].name, "inside");
        let why = |name: &str| {
            let prefix = format!(
                "node host skill skipped ({}): ",
                dir.join(name).join("SKILL.md").display()
            );
            warnings
                .iter()
                .find_map(|w| w.strip_prefix(&prefix))
                .unwrap_or_else(|| panic!("no warning for {name}: {warnings:?}"))
                .to_string()
        };
        assert_eq!(
            why("mismatch"),
            "directory, name, and frontmatter must match"
        );
        assert_eq!(why("noname"), "directory, name, and frontmatter must match");
        assert_eq!(why("nodesc"), "description is required");
        assert_eq!(why("open"), frontmatter::UNTERMINATED);
        assert_eq!(why("Upper"), "invalid name, description, or size");
        assert_eq!(why("long"), "invalid name, description, or size");
        assert_eq!(why("big"), "File exceeds 65536 bytes");
        assert!(
            why("escape").starts_with("Symlink escapes skill root ("),
            "{warnings:?}"
        );
        assert_eq!(why("hard"), "hardlinked path not allowed");
        assert_eq!(warnings.len(), 9, "{warnings:?}");
    }

    #[test]
    fn the_count_and_total_bounds_hold() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        for i in 0..66 {
            write(
                dir,
                &format!("s{i:02}"),
                &skill_md(&format!("s{i:02}"), "d"),
            );
        }
        let (skills, warnings) = scan_with_warnings(dir);
        assert_eq!(skills.len(), MAX_SKILLS);
        assert_eq!(skills.last().unwrap().name, "s63");
        assert!(
            warnings[0].ends_with("s64/SKILL.md): exceeds 64 skills"),
            "{warnings:?}"
        );

        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        let pad = "x".repeat(60_000);
        for i in 0..10 {
            let name = format!("t{i}");
            write(dir, &name, &format!("{}{pad}", skill_md(&name, "d")));
        }
        let (skills, warnings) = scan_with_warnings(dir);
        assert_eq!(skills.len(), 8);
        assert!(
            warnings[0].ends_with("t8/SKILL.md): exceeds 524288 total bytes"),
            "{warnings:?}"
        );
    }
}

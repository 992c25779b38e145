//! The fuzz targets' committed inputs, replayed without libFuzzer: every file of
//! `fuzz/corpus/<target>/` (seeds, then what `cargo fuzz cmin` kept) and of
//! `fuzz/regressions/<target>/` (inputs that once crashed a target) goes through the same
//! body the target runs (`openclaw_node::fuzzing`), whose asserts are the invariants.

use std::path::{Path, PathBuf};

use openclaw_node::fuzzing::TARGETS;

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz")
}

/// Runs every file under `dir/<target>/` through its target; returns the count per target.
fn replay(dir: &Path) -> Vec<(&'static str, usize)> {
    let mut counts = Vec::new();
    for (name, body) in TARGETS {
        let mut files: Vec<PathBuf> = match std::fs::read_dir(dir.join(name)) {
            Ok(entries) => entries.map(|e| e.unwrap().path()).collect(),
            Err(_) => Vec::new(),
        };
        files.retain(|p| p.is_file());
        files.sort();
        for path in &files {
            let data = std::fs::read(path).unwrap();
            let outcome = std::panic::catch_unwind(|| body(&data));
            assert!(
                outcome.is_ok(),
                "fuzz target {name} fails on {} (its panic is printed above)",
                path.display()
            );
        }
        counts.push((*name, files.len()));
    }
    counts
}

/// Every directory under `dir` is named after a target, so no input is skipped unseen.
fn assert_only_target_dirs(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        assert!(
            TARGETS.iter().any(|(t, _)| *t == name),
            "{}/{name} is not a fuzz target",
            dir.display()
        );
    }
}

#[test]
fn every_target_has_a_one_line_fuzz_target() {
    for (name, _) in TARGETS {
        let path = fuzz_dir().join("fuzz_targets").join(format!("{name}.rs"));
        let text =
            std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert!(
            text.contains(&format!("openclaw_node::fuzzing::{name}(data)")),
            "{} does not call fuzzing::{name}",
            path.display()
        );
    }
    for entry in std::fs::read_dir(fuzz_dir().join("fuzz_targets")).unwrap() {
        let file = entry.unwrap().file_name().to_string_lossy().into_owned();
        let name = file.trim_end_matches(".rs");
        assert!(
            TARGETS.iter().any(|(t, _)| *t == name),
            "fuzz/fuzz_targets/{file} has no body in openclaw_node::fuzzing::TARGETS"
        );
    }
}

#[test]
fn the_corpus_of_every_target_replays_clean() {
    let dir = fuzz_dir().join("corpus");
    assert_only_target_dirs(&dir);
    for (name, count) in replay(&dir) {
        assert!(count >= 5, "fuzz/corpus/{name} has only {count} inputs");
    }
}

#[test]
fn crash_inputs_found_by_fuzzing_stay_fixed() {
    let dir = fuzz_dir().join("regressions");
    assert_only_target_dirs(&dir);
    let total: usize = replay(&dir).iter().map(|(_, n)| n).sum();
    assert!(total > 0, "fuzz/regressions holds no input");
}

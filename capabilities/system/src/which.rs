//! `system.which` (spec commands.md §5): resolve executable names through the node's own
//! PATH. The caller cannot change the PATH; names with a path separator are never
//! resolved; only names that resolve appear in the result.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use openclaw_capability_api::{CallContext, CapabilityError, Command, js};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// `system.which` params, read as the reference reads them: `bins` must be an array, and
/// its items are looked up as `String(item)`.
#[derive(Debug)]
pub struct WhichParams {
    /// Names to look up.
    pub bins: Option<Vec<String>>,
}

impl<'de> Deserialize<'de> for WhichParams {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = Value::deserialize(d)?;
        Ok(Self {
            bins: v
                .get("bins")
                .and_then(Value::as_array)
                .map(|items| items.iter().map(js::to_string).collect()),
        })
    }
}

/// `system.which` result: only the names that were found.
#[derive(Debug, Serialize, PartialEq)]
pub struct WhichResult {
    /// name → absolute path.
    pub bins: BTreeMap<String, String>,
}

/// The command.
#[derive(Debug, Clone)]
pub struct SystemWhich {
    /// The PATH searched.
    pub path_env: String,
}

impl Command for SystemWhich {
    type Params = WhichParams;
    type Output = WhichResult;

    fn name(&self) -> &'static str {
        "system.which"
    }

    fn parse(&self, params_json: Option<&str>) -> Result<WhichParams, CapabilityError> {
        js::decode_params(params_json)
    }

    async fn run(
        &self,
        params: WhichParams,
        _ctx: CallContext,
    ) -> Result<WhichResult, CapabilityError> {
        let bins = params.bins.ok_or_else(|| {
            CapabilityError::invalid_request("Error: INVALID_REQUEST: bins required")
        })?;
        let mut found = BTreeMap::new();
        for name in bins.iter().map(|b| b.trim()).filter(|b| !b.is_empty()) {
            if let Some(path) = search_path(name, &self.path_env) {
                found.insert(name.to_string(), path.display().to_string());
            }
        }
        Ok(WhichResult { bins: found })
    }
}

/// The first executable regular file called `name` in the directories of `path_env`.
/// Names containing `/` or `\` are refused (`None`).
pub fn search_path(name: &str, path_env: &str) -> Option<PathBuf> {
    if name.contains('/') || name.contains('\\') || name == "." || name == ".." {
        return None;
    }
    std::env::split_paths(path_env)
        .filter(|dir| dir.is_absolute())
        .map(|dir| dir.join(name))
        .find(|candidate| is_executable_file(candidate))
}

fn is_executable_file(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::metadata(path)
        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;
    use openclaw_capability_api::ErrorCode;

    fn which(path_env: &str) -> SystemWhich {
        SystemWhich {
            path_env: path_env.into(),
        }
    }

    #[tokio::test]
    async fn finds_sh_and_skips_unknown() {
        let r = which("/usr/bin:/bin")
            .run(
                WhichParams {
                    bins: Some(vec![" sh ".into(), "no-such-bin-xyz".into(), "".into()]),
                },
                CallContext::detached("t"),
            )
            .await
            .unwrap();
        assert_eq!(r.bins.len(), 1);
        assert!(r.bins["sh"].ends_with("/sh"));
    }

    #[tokio::test]
    async fn missing_bins_is_invalid_request() {
        let e = which("/bin")
            .run(WhichParams { bins: None }, CallContext::detached("t"))
            .await
            .unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidRequest);
        assert_eq!(e.message, "Error: INVALID_REQUEST: bins required");
    }

    #[test]
    fn path_separators_and_relative_dirs_are_refused() {
        assert_eq!(search_path("/bin/sh", "/bin"), None);
        assert_eq!(search_path("../sh", "/bin"), None);
        assert_eq!(search_path("sh", "relative/dir"), None);
    }

    #[test]
    fn non_executable_files_are_skipped() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("tool"), "x").unwrap();
        let path_env = dir.path().display().to_string();
        assert_eq!(search_path("tool", &path_env), None);
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(
            dir.path().join("tool"),
            std::fs::Permissions::from_mode(0o755),
        )
        .unwrap();
        assert_eq!(
            search_path("tool", &path_env),
            Some(dir.path().join("tool"))
        );
    }
}

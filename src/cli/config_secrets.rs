//! Which MCP servers put secrets in the config file (`[mcp.servers.<name>] env` or
//! `headers` values: API keys, bearer tokens), and the warning `run` logs at start when
//! that file is open to group or others (`doctor` gives the same verdict in its
//! `permissions` layer). Issue 18: a config holding them must be 0600.

use std::path::{Path, PathBuf};

use openclaw_capability_mcp::McpSettings;

use super::global::GlobalArgs;
use crate::config::Config;

/// The servers whose `env` or `headers` carry a value, by name.
pub(crate) fn servers_with_secrets(mcp: &McpSettings) -> Vec<String> {
    mcp.servers
        .iter()
        .filter(|(_, s)| {
            s.env.values().any(|v| !v.is_empty())
                || s.headers
                    .as_ref()
                    .is_some_and(|h| h.values().any(|v| !v.is_empty()))
        })
        .map(|(name, _)| name.clone())
        .collect()
}

/// `[mcp.servers.a]`, `[mcp.servers.b]` …
pub(crate) fn table_names(servers: &[String]) -> String {
    servers
        .iter()
        .map(|n| format!("[mcp.servers.{n}]"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The config file the node read.
pub(crate) fn config_file(config: &Config, global: &GlobalArgs) -> PathBuf {
    global
        .config
        .clone()
        .unwrap_or_else(|| config.state_dir.join("config.toml"))
}

/// The permission bits of `path` when group or others can get in.
pub(crate) fn exposed_mode(path: &Path) -> Option<u32> {
    use std::os::unix::fs::PermissionsExt as _;
    let mode = std::fs::metadata(path).ok()?.permissions().mode() & 0o777;
    crate::credentials::open_to_others(mode).then_some(mode)
}

/// Logs a warning when the config file holds MCP secrets and group or others can read it.
pub(crate) fn warn_if_exposed(config: &Config, global: &GlobalArgs) {
    let servers = servers_with_secrets(&config.mcp);
    if servers.is_empty() {
        return;
    }
    let path = config_file(config, global);
    if let Some(mode) = exposed_mode(&path) {
        tracing::warn!(
            config = %path.display(),
            mode = %format!("{mode:04o}"),
            servers = %table_names(&servers),
            fix = %format!("chmod 600 {}", path.display()),
            "the config file holds MCP server secrets (env or headers) and group or others can read it"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use openclaw_capability_mcp::ServerSettings;
    use std::collections::BTreeMap;

    #[test]
    fn only_servers_with_env_or_header_values_count() {
        let server = |env: &[(&str, &str)], headers: Option<&[(&str, &str)]>| ServerSettings {
            env: env
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            headers: headers.map(|h| {
                h.iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect()
            }),
            ..Default::default()
        };
        let mcp = McpSettings {
            servers: BTreeMap::from([
                ("a".to_string(), server(&[("K", "v")], None)),
                (
                    "b".to_string(),
                    server(&[], Some(&[("Authorization", "Bearer x")])),
                ),
                ("c".to_string(), server(&[("EMPTY", "")], Some(&[]))),
                ("d".to_string(), server(&[], None)),
            ]),
        };
        let names = servers_with_secrets(&mcp);
        assert_eq!(names, ["a", "b"]);
        assert_eq!(table_names(&names), "[mcp.servers.a], [mcp.servers.b]");
    }
}

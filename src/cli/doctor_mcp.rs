//! `doctor`'s MCP layer: each configured server is started once (a probe: initialize,
//! list its tools, stop), and the verdict says what it offers or what to fix. A stdio
//! server whose command is not found fails before anything is started. `doctor` turns
//! these verdicts into its `mcp` checks; this file knows nothing of its other layers.

use std::path::Path;
use std::time::Duration;

use openclaw_capability_mcp::{McpCapability, McpSettings, ServerSettings};

/// The longest a probe waits for a server to come up.
const PROBE_TIMEOUT: Duration = Duration::from_secs(30);
/// Tool names shown per server.
const SHOWN_TOOLS: usize = 20;

/// One server's verdict.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ServerVerdict {
    /// `Some(true)` fine, `Some(false)` broken, `None` not checked (disabled).
    pub ok: Option<bool>,
    /// Worth a look although it works.
    pub warn: bool,
    pub detail: String,
    pub fix: Option<String>,
}

/// Whether `command` names an executable: a path to one, or a name found on `path_env`.
fn command_found(command: &str, path_env: &str) -> bool {
    use std::os::unix::fs::PermissionsExt as _;
    let executable = |p: &Path| {
        std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    };
    if command.contains('/') {
        return executable(Path::new(command));
    }
    std::env::split_paths(path_env).any(|dir| executable(&dir.join(command)))
}

/// Starts `settings` as the only server, waits for its first connection and returns the
/// names of the tools it publishes.
async fn probe(name: &str, settings: &ServerSettings) -> Result<Vec<String>, String> {
    // The server's own connect and list deadlines apply; this bounds the whole probe.
    match tokio::time::timeout(
        PROBE_TIMEOUT,
        McpCapability::probe(name, settings, crate::VERSION),
    )
    .await
    {
        Ok(answer) => answer,
        Err(_) => Err(format!(
            "did not answer within {} s",
            PROBE_TIMEOUT.as_secs()
        )),
    }
}

/// The verdict on every configured server, in name order.
pub(crate) async fn check_servers(settings: &McpSettings) -> Vec<(String, ServerVerdict)> {
    let path_env = std::env::var("PATH").unwrap_or_default();
    let mut out = Vec::new();
    for (name, server) in &settings.servers {
        let key = format!("[mcp.servers.{name}]");
        let verdict = if !server.is_enabled() {
            ServerVerdict {
                ok: None,
                warn: false,
                detail: format!("{name}: disabled (enabled = false)"),
                fix: None,
            }
        } else if let Some(command) = server
            .command
            .as_deref()
            .filter(|c| !command_found(c, &path_env))
        {
            ServerVerdict {
                ok: Some(false),
                warn: false,
                detail: format!("{name}: command {command:?} not found"),
                fix: Some(format!(
                    "check {key} command: an executable on PATH or its absolute path"
                )),
            }
        } else {
            verdict_of(name, &key, probe(name, server).await, settings)
        };
        out.push((name.clone(), verdict));
    }
    out
}

/// The verdict on one probe's outcome (pure).
fn verdict_of(
    name: &str,
    key: &str,
    outcome: Result<Vec<String>, String>,
    settings: &McpSettings,
) -> ServerVerdict {
    match outcome {
        Ok(tools) if tools.is_empty() => ServerVerdict {
            ok: Some(true),
            warn: true,
            detail: format!(
                "{name}: started, but publishes no tools (it failed before listing them, or its filters hide them all)"
            ),
            fix: Some(format!(
                "run its command by hand to see its error; check {key} args, env, include and exclude"
            )),
        },
        Ok(tools) => {
            let mut shown = tools
                .iter()
                .take(SHOWN_TOOLS)
                .cloned()
                .collect::<Vec<_>>()
                .join(", ");
            if tools.len() > SHOWN_TOOLS {
                shown.push_str(&format!(", … ({} more)", tools.len() - SHOWN_TOOLS));
            }
            ServerVerdict {
                ok: Some(true),
                warn: false,
                detail: format!("{name}: up, {} tools: {shown}", tools.len()),
                fix: None,
            }
        }
        Err(e) => ServerVerdict {
            ok: Some(false),
            warn: false,
            detail: format!("{name}: {}", crate::status::mcp::mask_secrets(&e, settings)),
            fix: Some(format!(
                "check {key} command, args and env (run the command by hand to see its error)"
            )),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_are_found_on_path_or_by_path() {
        assert!(command_found("sh", "/usr/bin:/bin"));
        assert!(command_found("/bin/sh", ""));
        assert!(!command_found("no-such-mcp-server", "/usr/bin:/bin"));
        let dir = tempfile::tempdir().unwrap();
        let plain = dir.path().join("server");
        std::fs::write(&plain, "").unwrap();
        assert!(
            !command_found(plain.to_str().unwrap(), ""),
            "not executable"
        );
    }

    #[test]
    fn verdicts_name_the_tools_or_the_fix() {
        let s = McpSettings::default();
        let ok = verdict_of(
            "fx",
            "[mcp.servers.fx]",
            Ok(vec!["echo".into(), "big".into()]),
            &s,
        );
        assert_eq!(
            (ok.ok, ok.detail.as_str()),
            (Some(true), "fx: up, 2 tools: echo, big")
        );
        let empty = verdict_of("fx", "[mcp.servers.fx]", Ok(vec![]), &s);
        assert!(empty.warn && empty.fix.unwrap().contains("[mcp.servers.fx]"));
        let failed = verdict_of("fx", "[mcp.servers.fx]", Err("exited".into()), &s);
        assert_eq!(failed.ok, Some(false));
        assert!(
            failed
                .fix
                .unwrap()
                .starts_with("check [mcp.servers.fx] command")
        );
    }
}

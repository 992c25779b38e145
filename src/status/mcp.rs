//! The node's MCP servers as `status`, `--metrics` and `--prometheus` show them: one
//! [`McpServerView`] per configured server (transport, state, tool count, restarts, last
//! error with the server's own secret values masked), and their Prometheus lines.
//!
//! [`servers`] maps the capability's own `status()` (its supervisors keep it current).

use std::fmt::Write as _;

use openclaw_capability_mcp::status::ServerState;
use openclaw_capability_mcp::{McpCapability, McpSettings};
use serde::Serialize;

/// One configured server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct McpServerView {
    /// The config name (`[mcp.servers.<name>]`).
    pub name: String,
    /// `stdio`, `streamable-http` or `sse`.
    pub transport: String,
    /// `up`, `starting`, `down` or `disabled`.
    pub state: String,
    /// Tools it offers the catalog.
    pub tools: usize,
    /// Restarts after a failure or an exit.
    pub restarts: u32,
    /// The last failure, secrets masked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
}

/// `text` with every `env`/`headers` value of the servers replaced by `[redacted]`.
pub fn mask_secrets(text: &str, settings: &McpSettings) -> String {
    let mut out = text.to_string();
    for s in settings.servers.values() {
        let headers = s.headers.iter().flat_map(|h| h.values());
        for secret in s.env.values().chain(headers) {
            // Very short values ("1", "on") are not secrets and would mangle the text.
            if secret.len() >= 4 {
                out = out.replace(secret.as_str(), "[redacted]");
            }
        }
    }
    out
}

/// Every configured server of `cap`, by name, as its supervisor reports it.
pub fn servers(cap: &McpCapability, settings: &McpSettings) -> Vec<McpServerView> {
    cap.status()
        .into_iter()
        .map(|s| McpServerView {
            name: s.name,
            transport: s.transport,
            state: match s.state {
                ServerState::Up => "up",
                ServerState::Starting => "starting",
                ServerState::Down => "down",
                ServerState::Disabled => "disabled",
            }
            .into(),
            tools: s.tools,
            restarts: s.restarts,
            last_error: s.last_error.map(|e| mask_secrets(&e, settings)),
        })
        .collect()
}

fn label(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// One Prometheus series: name, type, help, and the value of one server.
type Series = (
    &'static str,
    &'static str,
    &'static str,
    fn(&McpServerView) -> String,
);

/// The servers' Prometheus lines: `openclaw_node_mcp_server_up` (1 when up),
/// `openclaw_node_mcp_server_tools`, `openclaw_node_mcp_server_restarts_total`.
pub fn prometheus(servers: &[McpServerView]) -> String {
    let mut out = String::new();
    if servers.is_empty() {
        return out;
    }
    let series: [Series; 3] = [
        (
            "openclaw_node_mcp_server_up",
            "gauge",
            "Whether the MCP server is up (1) or not (0).",
            |s| u8::from(s.state == "up").to_string(),
        ),
        (
            "openclaw_node_mcp_server_tools",
            "gauge",
            "Tools the MCP server offers the catalog.",
            |s| s.tools.to_string(),
        ),
        (
            "openclaw_node_mcp_server_restarts_total",
            "counter",
            "Restarts of the MCP server.",
            |s| s.restarts.to_string(),
        ),
    ];
    for (name, kind, help, value) in series {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
        for s in servers {
            let _ = writeln!(out, "{name}{{server=\"{}\"}} {}", label(&s.name), value(s));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use openclaw_capability_mcp::ServerSettings;
    use std::collections::BTreeMap;

    fn view(name: &str, state: &str, tools: usize) -> McpServerView {
        McpServerView {
            name: name.into(),
            transport: "stdio".into(),
            state: state.into(),
            tools,
            restarts: 2,
            last_error: None,
        }
    }

    #[test]
    fn prometheus_has_an_up_gauge_tools_and_restarts_per_server() {
        let text = prometheus(&[view("fx", "up", 5), view("b\"x", "down", 0)]);
        for want in [
            "# TYPE openclaw_node_mcp_server_up gauge",
            "openclaw_node_mcp_server_up{server=\"fx\"} 1",
            "openclaw_node_mcp_server_up{server=\"b\\\"x\"} 0",
            "openclaw_node_mcp_server_tools{server=\"fx\"} 5",
            "# TYPE openclaw_node_mcp_server_restarts_total counter",
            "openclaw_node_mcp_server_restarts_total{server=\"fx\"} 2",
        ] {
            assert!(text.contains(want), "no {want:?} in\n{text}");
        }
        assert_eq!(prometheus(&[]), "");
    }

    #[test]
    fn secret_values_are_masked_in_errors() {
        let settings = McpSettings {
            servers: BTreeMap::from([(
                "fx".to_string(),
                ServerSettings {
                    env: BTreeMap::from([
                        ("API_KEY".into(), "sk-123456".into()),
                        ("V".into(), "1".into()),
                    ]),
                    headers: Some(BTreeMap::from([(
                        "Authorization".into(),
                        "Bearer abc.def".into(),
                    )])),
                    ..Default::default()
                },
            )]),
        };
        assert_eq!(
            mask_secrets("bad key sk-123456 with Bearer abc.def (v1)", &settings),
            "bad key [redacted] with [redacted] (v1)"
        );
    }
}

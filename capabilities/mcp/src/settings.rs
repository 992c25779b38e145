//! The `[mcp.servers.<name>]` tables of the node's config, as the capability takes them:
//! a stdio command or a remote `url` (streamable HTTP) per server, its own environment and
//! headers (secrets: never printed), a tool-name filter (`include`, then `exclude`: the
//! owner's deny list — an excluded tool is never published and never called) and the
//! connect and request timeouts. Parsing and validation only; nothing here starts a
//! process or opens a connection.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

/// `connect_timeout_ms` when unset (the reference's `connectionTimeoutMs` default).
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_millis(30_000);
/// `request_timeout_ms` when unset: `tools/call` (the reference's default).
pub const DEFAULT_CALL_TIMEOUT: Duration = Duration::from_millis(120_000);
/// `tools/list` per page when `request_timeout_ms` is unset (the reference's default).
pub const DEFAULT_LIST_TIMEOUT: Duration = Duration::from_millis(60_000);

/// `[mcp]`: the node-hosted MCP servers, by name (their order is the names' order).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct McpSettings {
    /// `[mcp.servers.<name>]`.
    #[serde(default)]
    pub servers: BTreeMap<String, ServerSettings>,
}

/// One `[mcp.servers.<name>]` table.
#[derive(Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerSettings {
    /// The program speaking MCP on its stdin/stdout.
    pub command: Option<String>,
    /// Its arguments.
    #[serde(default)]
    pub args: Vec<String>,
    /// Variables added to the node's scrubbed environment (values may be secrets).
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// Its working directory (default: the node's).
    pub cwd: Option<PathBuf>,
    /// `false` skips the server (default true).
    pub enabled: Option<bool>,
    /// Tool-name globs (`*` matches any run); absent = every tool.
    pub include: Option<Vec<String>>,
    /// Tool-name globs never published (after `include`).
    #[serde(default)]
    pub exclude: Vec<String>,
    /// `initialize` deadline in ms (default 30000).
    pub connect_timeout_ms: Option<u64>,
    /// Per-request deadline in ms (default: `tools/list` 60000, `tools/call` 120000).
    pub request_timeout_ms: Option<u64>,
    /// A remote server's URL (`http://`; used when there is no `command`).
    pub url: Option<String>,
    /// A remote server's transport: `streamable-http`, or `sse` (the reference's default,
    /// refused: rmcp has no SSE client).
    pub transport: Option<String>,
    /// The reference's alias key for `transport` (read only when `transport` is unset).
    #[serde(rename = "type")]
    pub transport_alias: Option<String>,
    /// Headers sent with every HTTP request (values may be secrets).
    pub headers: Option<BTreeMap<String, String>>,
    /// `"oauth"` skips the server, as the reference does (OAuth is not supported).
    pub auth: Option<String>,
    /// An `oauth` table skips the server too; its content is never read.
    pub oauth: Option<serde_json::Value>,
}

/// How the node reaches a server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// A child process speaking MCP on its stdin/stdout.
    Stdio,
    /// MCP streamable HTTP at `url`.
    StreamableHttp,
}

impl Transport {
    /// The config and status spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Transport::Stdio => "stdio",
            Transport::StreamableHttp => "streamable-http",
        }
    }
}

impl std::fmt::Debug for ServerSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // `env` and `headers` values are secrets (API keys): only their names are shown.
        f.debug_struct("ServerSettings")
            .field("command", &self.command)
            .field("args", &self.args)
            .field("env", &self.env.keys().collect::<Vec<_>>())
            .field("cwd", &self.cwd)
            .field("enabled", &self.enabled)
            .field("include", &self.include)
            .field("exclude", &self.exclude)
            .field("connect_timeout_ms", &self.connect_timeout_ms)
            .field("request_timeout_ms", &self.request_timeout_ms)
            .field("url", &self.url.as_ref().map(|_| "[redacted]"))
            .field("transport", &self.transport)
            .field("type", &self.transport_alias)
            .field("auth", &self.auth)
            .field("oauth", &self.oauth.as_ref().map(|_| "[redacted]"))
            .field(
                "headers",
                &self.headers.as_ref().map(|h| h.keys().collect::<Vec<_>>()),
            )
            .finish()
    }
}

impl McpSettings {
    /// Checks every table: a name equal to its trimmed form, a `command` or an `http://`
    /// `url` for each enabled server, a supported transport. The error names the key.
    pub fn validate(&self) -> Result<(), (String, String)> {
        for (name, server) in &self.servers {
            let key = format!("mcp.servers.{name}");
            if name.is_empty() || name.trim() != name {
                return Err((
                    key,
                    "a server name must be non-empty without surrounding spaces".into(),
                ));
            }
            if server.is_enabled() && !server.skips_oauth() {
                server.transport_kind().map_err(|why| (key.clone(), why))?;
            }
            for (what, value) in [
                ("connect_timeout_ms", server.connect_timeout_ms),
                ("request_timeout_ms", server.request_timeout_ms),
            ] {
                if value == Some(0) {
                    return Err((format!("{key}.{what}"), "must be at least 1".into()));
                }
            }
        }
        Ok(())
    }

    /// The servers to start, in name order.
    pub fn enabled(&self) -> impl Iterator<Item = (&String, &ServerSettings)> {
        self.servers.iter().filter(|(_, s)| s.is_enabled())
    }
}

impl ServerSettings {
    /// Whether the server is started (`enabled` unset = true).
    pub fn is_enabled(&self) -> bool {
        self.enabled != Some(false)
    }

    /// Whether the server asks for OAuth (`auth = "oauth"` or an `oauth` table): it is
    /// skipped with the reference's warning.
    pub fn skips_oauth(&self) -> bool {
        self.auth.as_deref() == Some("oauth") || self.oauth.is_some()
    }

    /// How the server is reached: `command` wins (as in the reference); else `url` with
    /// `transport` (or its alias `type`; default `sse`, which is refused). The error says
    /// what to change.
    pub fn transport_kind(&self) -> Result<Transport, String> {
        if self
            .command
            .as_deref()
            .is_some_and(|c| !c.trim().is_empty())
        {
            return Ok(Transport::Stdio);
        }
        let Some(url) = self.url.as_deref().map(str::trim).filter(|u| !u.is_empty()) else {
            return Err("command is required".into());
        };
        if url.starts_with("https://") {
            return Err("https MCP servers are not supported yet (the MCP HTTP client has no TLS); use http:// on a trusted network, or reach it through a stdio bridge: command = \"npx\", args = [\"-y\", \"mcp-remote\", \"<the https URL>\"]".into());
        }
        if !url.starts_with("http://") {
            return Err("url must start with http://".into());
        }
        let transport = self
            .transport
            .as_deref()
            .or(self.transport_alias.as_deref())
            .map(|t| t.trim().to_ascii_lowercase())
            .filter(|t| !t.is_empty())
            .unwrap_or_else(|| "sse".into());
        match transport.as_str() {
            "streamable-http" => {}
            "sse" => {
                return Err("transport \"sse\" is not supported (the MCP client has no SSE transport); set transport = \"streamable-http\"".into());
            }
            other => {
                return Err(format!(
                    "transport \"{other}\" is not supported; use \"streamable-http\""
                ));
            }
        }
        Ok(Transport::StreamableHttp)
    }

    /// The `initialize` deadline.
    pub fn connect_timeout(&self) -> Duration {
        self.connect_timeout_ms
            .map_or(DEFAULT_CONNECT_TIMEOUT, Duration::from_millis)
    }

    /// The deadline of one `tools/list` page.
    pub fn list_timeout(&self) -> Duration {
        self.request_timeout_ms
            .map_or(DEFAULT_LIST_TIMEOUT, Duration::from_millis)
    }

    /// The longest a `tools/call` may take on this server.
    pub fn call_timeout(&self) -> Duration {
        self.request_timeout_ms
            .map_or(DEFAULT_CALL_TIMEOUT, Duration::from_millis)
    }

    /// Whether a tool passes the filter: `include` first (absent = all), then `exclude`.
    pub fn admits(&self, tool: &str) -> bool {
        let included = self
            .include
            .as_ref()
            .is_none_or(|globs| globs.iter().any(|g| glob_matches(g, tool)));
        included && !self.exclude.iter().any(|g| glob_matches(g, tool))
    }
}

/// `*` matches any run of characters (none included); everything else matches itself.
pub fn glob_matches(glob: &str, name: &str) -> bool {
    let parts: Vec<&str> = glob.split('*').collect();
    if parts.len() == 1 {
        return glob == name;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !name.starts_with(first) || name.len() < first.len() + last.len() || !name.ends_with(last) {
        return false;
    }
    let mut rest = &name[first.len()..name.len() - last.len()];
    for part in &parts[1..parts.len() - 1] {
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_match_runs() {
        assert!(glob_matches("*", "anything"));
        assert!(glob_matches("read_*", "read_file"));
        assert!(!glob_matches("read_*", "write_file"));
        assert!(glob_matches("*_file", "read_file"));
        assert!(glob_matches("a*b*c", "aXbYc"));
        assert!(!glob_matches("a*b*c", "aXcYb"));
        assert!(!glob_matches("ab*ba", "aba"));
        assert!(glob_matches("exact", "exact"));
        assert!(!glob_matches("exact", "exactly"));
    }

    #[test]
    fn include_then_exclude() {
        let s = ServerSettings {
            include: Some(vec!["e*".into(), "big".into()]),
            exclude: vec!["*x*".into()],
            ..Default::default()
        };
        assert!(s.admits("echo"));
        assert!(s.admits("big"));
        assert!(!s.admits("exit"));
        assert!(!s.admits("hang"));
    }

    #[test]
    fn validation_names_the_key_and_refuses_what_cannot_be_reached() {
        let parse = |t: &str| -> McpSettings { toml::from_str(t).unwrap() };
        assert!(parse("[servers.a]\ncommand = \"x\"\n").validate().is_ok());
        let (key, why) =
            parse("[servers.a]\nurl = \"https://x\"\ntransport = \"streamable-http\"\n")
                .validate()
                .unwrap_err();
        assert_eq!(key, "mcp.servers.a");
        assert!(why.contains("not supported yet"), "{why}");
        let ok = parse(
            "[servers.a]\nurl = \"http://127.0.0.1:1/mcp\"\ntype = \"streamable-http\"\nheaders = { Authorization = \"Bearer t\" }\n",
        );
        assert!(ok.validate().is_ok());
        assert_eq!(
            ok.servers["a"].transport_kind(),
            Ok(Transport::StreamableHttp)
        );
        // SSE, named or by default, is refused with a pointer to streamable-http.
        for t in [
            "url = \"http://x\"\ntransport = \"sse\"\n",
            "url = \"http://x\"\n",
        ] {
            let (_, why) = parse(&format!("[servers.a]\n{t}")).validate().unwrap_err();
            assert!(
                why.contains("\"sse\" is not supported") && why.contains("streamable-http"),
                "{why}"
            );
        }
        let (_, why) = parse("[servers.a]\nurl = \"http://x\"\ntransport = \"ws\"\n")
            .validate()
            .unwrap_err();
        assert!(why.contains("\"ws\" is not supported"), "{why}");
        // OAuth servers are skipped at start, not refused.
        assert!(
            parse("[servers.a]\nurl = \"https://x\"\nauth = \"oauth\"\n")
                .validate()
                .is_ok()
        );
        assert!(
            parse("[servers.a]\nurl = \"https://x\"\n[servers.a.oauth]\nclient_id = \"c\"\n")
                .validate()
                .is_ok()
        );
        let (_, why) = parse("[servers.a]\nargs = []\n").validate().unwrap_err();
        assert_eq!(why, "command is required");
        assert!(parse("[servers.a]\nenabled = false\n").validate().is_ok());
        assert!(toml::from_str::<McpSettings>("[servers.a]\ncomand = \"x\"\n").is_err());
    }

    #[test]
    fn debug_never_shows_env_values() {
        let s = ServerSettings {
            command: Some("srv".into()),
            env: BTreeMap::from([("API_KEY".into(), "hunter2".into())]),
            ..Default::default()
        };
        let text = format!("{s:?}");
        assert!(
            text.contains("API_KEY") && !text.contains("hunter2"),
            "{text}"
        );
    }
}

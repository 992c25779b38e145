//! `openclaw-node status`: asks the running node over its local status socket what it is
//! doing (connection state, pending approvals, gateway and path, device id, credential
//! store, caps and commands, uptime, last error) and prints it as a table or `--json`.
//! `--metrics` and `--prometheus` print the counters instead. When no node is running it
//! says so and shows what it can read from disk.

use std::process::ExitCode;

use serde_json::{Value, json};

use super::global::GlobalArgs;
use crate::config::{Config, Overrides};
use crate::status;

/// Flags of `status`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Machine-readable output.
    #[arg(long)]
    pub json: bool,
    /// Print the node's metrics (calls, failures, latencies, bytes, reconnects).
    #[arg(long, conflicts_with = "prometheus")]
    pub metrics: bool,
    /// Print the metrics in Prometheus text format.
    #[arg(long)]
    pub prometheus: bool,
}

/// Exit code when no node is running.
pub const NOT_RUNNING: u8 = 3;

/// Runs `status`.
pub async fn run(args: Args, global: &GlobalArgs) -> anyhow::Result<ExitCode> {
    let overrides = Overrides {
        config_file: global.config.clone(),
        state_dir: global.state_dir.clone(),
        ..Default::default()
    };
    let env = global.env_lookup()?;
    let config = Config::load(&overrides, &env)?;
    let what = if args.prometheus {
        "prometheus"
    } else if args.metrics {
        "metrics"
    } else {
        "status"
    };
    match status::query(&config.state_dir, what).await {
        Ok(body) => {
            if args.prometheus || args.json || args.metrics {
                println!("{}", body.trim_end());
            } else {
                let mut doc: Value = serde_json::from_str(&body)?;
                let mcp = doc.as_object_mut().and_then(|d| d.remove("mcpServers"));
                print_table(&doc);
                for line in mcp_lines(mcp.as_ref()) {
                    println!("{line}");
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(status::StatusError::NotRunning(_)) => {
            // Read-only: only a store this node already uses is opened.
            let store = crate::credentials::recorded_store(&config.state_dir)
                .and_then(|choice| crate::credentials::open_store(choice, &config.state_dir).ok());
            let device = store
                .as_ref()
                .and_then(|s| s.load_identity().ok().flatten())
                .map(|i| i.device_id());
            let doc = json!({
                "running": false,
                "state": "not running",
                "stateDir": config.state_dir,
                "gateway": config.gateway_url.as_str(),
                "deviceId": device,
                "credentialStore": store.as_ref().map(|s| s.kind()),
            });
            if args.json {
                println!("{}", serde_json::to_string_pretty(&doc)?);
            } else {
                print_table(&doc);
                println!(
                    "\nno node is running with this state directory; start one with `openclaw-node run` (or `openclaw-node start` for the service)"
                );
            }
            Ok(ExitCode::from(NOT_RUNNING))
        }
        Err(e) => Err(e.into()),
    }
}

/// Prints a status document as aligned `key: value` lines.
pub fn print_table(doc: &Value) {
    let Some(map) = doc.as_object() else {
        println!("{doc}");
        return;
    };
    let width = map.keys().map(String::len).max().unwrap_or(0);
    for (key, value) in map {
        let text = match value {
            Value::Null => "-".to_string(),
            Value::String(s) => s.clone(),
            Value::Array(items) => items
                .iter()
                .map(|v| {
                    v.as_str()
                        .map(str::to_string)
                        .unwrap_or_else(|| v.to_string())
                })
                .collect::<Vec<_>>()
                .join(", "),
            other => other.to_string(),
        };
        println!("{key:>width$}: {text}");
    }
}

/// One line per MCP server: `mcp <name>: <state> (<transport>), N tools, N restarts`, and
/// the last error when there is one.
fn mcp_lines(servers: Option<&Value>) -> Vec<String> {
    let Some(servers) = servers.and_then(Value::as_array) else {
        return Vec::new();
    };
    servers
        .iter()
        .map(|s| {
            let text = |k: &str| s[k].as_str().unwrap_or("-").to_string();
            let mut line = format!(
                "mcp {}: {} ({}), {} tools, {} restarts",
                text("name"),
                text("state"),
                text("transport"),
                s["tools"].as_u64().unwrap_or(0),
                s["restarts"].as_u64().unwrap_or(0)
            );
            if let Some(e) = s["lastError"].as_str() {
                line.push_str(&format!("; last error: {e}"));
            }
            line
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mcp_servers_print_one_line_each() {
        let servers = json!([
            {"name": "fx", "transport": "stdio", "state": "up", "tools": 5, "restarts": 0},
            {"name": "bad", "transport": "stdio", "state": "down", "tools": 0, "restarts": 3,
             "lastError": "spawn failed"},
        ]);
        assert_eq!(
            mcp_lines(Some(&servers)),
            [
                "mcp fx: up (stdio), 5 tools, 0 restarts",
                "mcp bad: down (stdio), 0 tools, 3 restarts; last error: spawn failed"
            ]
        );
        assert!(mcp_lines(None).is_empty());
    }
}

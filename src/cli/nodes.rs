//! `openclaw-node nodes list|pending|describe|tools|approve|reject|invoke`: the node
//! registry, a node's published agent tools, and command-surface approval, as an operator.

use std::process::ExitCode;

use anyhow::Context as _;
use clap::Subcommand;
use serde_json::{Value, json};

use super::devices::{Target, connect, print, short};
use super::global::GlobalArgs;

/// Flags of `nodes`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The gateway.
    #[command(flatten)]
    pub target: Target,
    /// What to do.
    #[command(subcommand)]
    pub action: Action,
}

/// `nodes` actions.
#[derive(Debug, Subcommand)]
pub enum Action {
    /// Known nodes, connected first.
    List,
    /// Command surfaces waiting for approval.
    Pending,
    /// One node in detail.
    Describe {
        /// Node id or display name.
        node: String,
    },
    /// The agent tools a node publishes (`nodePluginTools`: its MCP servers' tools), as
    /// the gateway keeps them; call one with `nodes invoke <node> mcp.tools.call.v1`.
    Tools {
        /// Node id or display name.
        node: String,
    },
    /// Approve a node's command surface.
    Approve {
        /// The request id (from `nodes pending`).
        request_id: String,
    },
    /// Reject a node's command surface.
    Reject {
        /// The request id.
        request_id: String,
    },
    /// Run a command on a node and print its result.
    Invoke {
        /// Node id or display name.
        node: String,
        /// Command, e.g. `system.which`.
        command: String,
        /// Params as JSON, e.g. '{"bins":["git"]}'.
        #[arg(long, default_value = "{}")]
        params: String,
        /// How long to wait for the node, in milliseconds.
        #[arg(long, default_value_t = 30_000)]
        timeout_ms: u64,
    },
}

/// Resolves a display name (or id prefix) to a node id.
async fn resolve(op: &crate::operator::OperatorClient, node: &str) -> anyhow::Result<String> {
    let list = op.node_list().await?;
    if list.nodes.iter().any(|n| n.node_id == node) {
        return Ok(node.to_string());
    }
    let by_name: Vec<_> = list
        .nodes
        .iter()
        .filter(|n| n.display_name.as_deref() == Some(node) || n.node_id.starts_with(node))
        .collect();
    match by_name.as_slice() {
        [one] => Ok(one.node_id.clone()),
        [] => anyhow::bail!("no node called {node:?}; see `openclaw-node nodes list`"),
        _ => anyhow::bail!("{node:?} matches several nodes; use the node id"),
    }
}

/// Runs `nodes`.
pub async fn run(args: Args, global: &GlobalArgs) -> anyhow::Result<ExitCode> {
    let op = connect(&args.target, global).await?;
    let json = args.target.json;
    match args.action {
        Action::List => {
            let list = op.node_list().await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&list)?);
            } else if list.nodes.is_empty() {
                println!("no nodes");
            } else {
                for n in &list.nodes {
                    println!(
                        "{}  {:<20} {:<12} {}  commands: {}",
                        short(&n.node_id),
                        n.display_name.as_deref().unwrap_or("-"),
                        if n.connected { "connected" } else { "offline" },
                        n.platform.as_deref().unwrap_or("-"),
                        if n.commands.is_empty() {
                            "(none approved)".to_string()
                        } else {
                            n.commands.join(", ")
                        }
                    );
                }
            }
        }
        Action::Pending => {
            let list = op.node_pair_list().await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&list)?);
            } else if list.pending.is_empty() {
                println!("no pending command surfaces");
            } else {
                for p in &list.pending {
                    println!(
                        "{}  node {} {}  commands: {}",
                        p.request_id,
                        short(&p.node_id),
                        p.display_name.as_deref().unwrap_or("-"),
                        p.commands.clone().unwrap_or_default().join(", ")
                    );
                }
            }
        }
        Action::Describe { node } => {
            let id = resolve(&op, &node).await?;
            let n = op.node_describe(&id).await?;
            println!("{}", serde_json::to_string_pretty(&n)?);
        }
        Action::Tools { node } => {
            let id = resolve(&op, &node).await?;
            let tools = op.node_describe(&id).await?.node_plugin_tools;
            let Some(tools) = tools else {
                anyhow::bail!(
                    "node {} is not connected; its tools are published while it is",
                    short(&id)
                );
            };
            if json {
                println!("{}", serde_json::to_string_pretty(&tools)?);
            } else if tools.is_empty() {
                println!("no tools published");
            } else {
                for line in tool_lines(&tools) {
                    println!("{line}");
                }
            }
        }
        Action::Approve { request_id } => {
            let v = op.node_pair_approve(&request_id).await?;
            print(json, &v, |v| {
                format!(
                    "approved command surface {request_id}: {}",
                    v["commands"]
                        .as_array()
                        .map(|a| a
                            .iter()
                            .filter_map(Value::as_str)
                            .collect::<Vec<_>>()
                            .join(", "))
                        .unwrap_or_default()
                )
            });
        }
        Action::Reject { request_id } => {
            let v = op.node_pair_reject(&request_id).await?;
            print(json, &v, |_| {
                format!("rejected command surface {request_id}")
            });
        }
        Action::Invoke {
            node,
            command,
            params,
            timeout_ms,
        } => {
            let params: Value =
                serde_json::from_str(&params).context("--params is not valid JSON")?;
            let id = resolve(&op, &node).await?;
            match op
                .node_invoke(&id, &command, params, Some(timeout_ms))
                .await
            {
                Ok(reply) => {
                    if json {
                        println!("{}", serde_json::to_string_pretty(&reply)?);
                    } else {
                        println!("{}", serde_json::to_string_pretty(&reply.payload)?);
                    }
                }
                Err(crate::operator::OperatorError::Gateway(e)) => {
                    if json {
                        println!("{}", json!({"ok": false, "error": e}));
                    }
                    anyhow::bail!("{}: {}", e.code, e.message);
                }
                Err(e) => return Err(e.into()),
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// One line per tool: its agent name, what it calls (`server/tool` for an MCP tool, else
/// the command), and the first line of its description.
fn tool_lines(tools: &[Value]) -> Vec<String> {
    let field = |t: &Value, k: &str| t[k].as_str().unwrap_or_default().to_string();
    let rows: Vec<(String, String, String)> = tools
        .iter()
        .map(|t| {
            let target = match (t["mcp"]["server"].as_str(), t["mcp"]["tool"].as_str()) {
                (Some(server), Some(tool)) => format!("{server}/{tool}"),
                _ => field(t, "command"),
            };
            let description = field(t, "description");
            let first = description
                .lines()
                .next()
                .unwrap_or_default()
                .trim()
                .to_string();
            (field(t, "name"), target, first)
        })
        .collect();
    let name_w = rows.iter().map(|r| r.0.len()).max().unwrap_or(0);
    let target_w = rows.iter().map(|r| r.1.len()).max().unwrap_or(0);
    rows.into_iter()
        .map(|(name, target, first)| {
            format!("{name:<name_w$}  {target:<target_w$}  {first}")
                .trim_end()
                .to_string()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tool_lines_show_name_target_and_first_description_line() {
        let tools = [
            json!({"pluginId": "node-mcp", "name": "fx_echo", "description": "Echoes.\nMore text.",
                   "command": "mcp.tools.call.v1", "mcp": {"server": "fx", "tool": "echo"}}),
            json!({"pluginId": "p", "name": "run", "description": "Runs", "command": "x.run"}),
        ];
        assert_eq!(
            tool_lines(&tools),
            ["fx_echo  fx/echo  Echoes.", "run      x.run    Runs"]
        );
    }
}

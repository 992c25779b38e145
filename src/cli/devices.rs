//! `openclaw-node devices list|approve|reject|remove`: device pairing, as an operator.

use std::process::ExitCode;

use clap::Subcommand;
use serde_json::Value;

use super::global::GlobalArgs;
use crate::operator::{OperatorClient, OperatorError, OperatorOptions};
use crate::secret::Secret;

/// Where the gateway is and how to print.
#[derive(Debug, Clone, clap::Args)]
pub struct Target {
    /// Gateway URL [env: OPENCLAW_GATEWAY_URL; default ws://127.0.0.1:18789]. Credentials
    /// come from OPENCLAW_GATEWAY_TOKEN / OPENCLAW_GATEWAY_PASSWORD.
    #[arg(long, global = true)]
    pub url: Option<String>,
    /// Print the gateway's JSON answer.
    #[arg(long, global = true)]
    pub json: bool,
}

/// Flags of `devices`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The gateway.
    #[command(flatten)]
    pub target: Target,
    /// What to do.
    #[command(subcommand)]
    pub action: Action,
}

/// `devices` actions.
#[derive(Debug, Subcommand)]
pub enum Action {
    /// Pending and paired devices.
    List,
    /// Approve a pending device pairing request.
    Approve {
        /// The request id (from `devices list` or the node's log).
        request_id: String,
    },
    /// Reject a pending device pairing request.
    Reject {
        /// The request id.
        request_id: String,
    },
    /// Remove a paired device (its token stops working).
    Remove {
        /// The device id.
        device_id: String,
    },
}

/// Connects an operator to the gateway named by `--url` or the environment.
pub(crate) async fn connect(
    target: &Target,
    global: &GlobalArgs,
) -> anyhow::Result<OperatorClient> {
    let env = global.env_lookup()?;
    let url = target
        .url
        .clone()
        .or_else(|| env(crate::config::env::GATEWAY_URL))
        .unwrap_or_else(|| {
            let port = env(crate::config::env::GATEWAY_PORT)
                .unwrap_or_else(|| crate::protocol::DEFAULT_GATEWAY_PORT.to_string());
            format!("ws://127.0.0.1:{port}")
        });
    let mut opts = OperatorOptions::new(url.clone());
    opts.token = env(crate::config::env::GATEWAY_TOKEN).map(Secret::new);
    opts.password = env(crate::config::env::GATEWAY_PASSWORD).map(Secret::new);
    let url = crate::transport::redact_userinfo(&url);
    OperatorClient::connect(opts).await.map_err(|e| match e {
        OperatorError::Gateway(shape) => {
            anyhow::anyhow!(
                "the gateway at {url} refused the operator connection: {}",
                shape.message
            )
        }
        other => anyhow::anyhow!("cannot reach the gateway at {url}: {other}"),
    })
}

/// Prints a result: raw JSON, or a one-line summary.
pub(crate) fn print(json: bool, value: &Value, summary: impl FnOnce(&Value) -> String) {
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(value).unwrap_or_default()
        );
    } else {
        println!("{}", summary(value));
    }
}

/// Runs `devices`.
pub async fn run(args: Args, global: &GlobalArgs) -> anyhow::Result<ExitCode> {
    let op = connect(&args.target, global).await?;
    let json = args.target.json;
    match args.action {
        Action::List => {
            let list = op.device_pair_list().await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&list)?);
            } else {
                println!("pending ({}):", list.pending.len());
                for p in &list.pending {
                    println!(
                        "  {}  device {}  {}  {}",
                        p.request_id,
                        short(&p.device_id),
                        p.display_name.as_deref().unwrap_or("-"),
                        p.remote_ip.as_deref().unwrap_or("")
                    );
                }
                println!("paired ({}):", list.paired.len());
                for d in &list.paired {
                    println!(
                        "  {}  {}  roles {}",
                        short(&d.device_id),
                        d.display_name.as_deref().unwrap_or("-"),
                        d.roles.join(",")
                    );
                }
            }
        }
        Action::Approve { request_id } => {
            let v = op.device_pair_approve(&request_id).await?;
            print(json, &v, |_| {
                format!("approved device pairing request {request_id}")
            });
        }
        Action::Reject { request_id } => {
            let v = op.device_pair_reject(&request_id).await?;
            print(json, &v, |_| {
                format!("rejected device pairing request {request_id}")
            });
        }
        Action::Remove { device_id } => {
            let v = op.device_pair_remove(&device_id).await?;
            print(json, &v, |_| format!("removed device {device_id}"));
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The first 12 characters of an id, for tables.
pub(crate) fn short(id: &str) -> &str {
    id.get(..12).unwrap_or(id)
}

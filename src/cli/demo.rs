//! `openclaw-node demo`: the whole system on one machine in one command. Starts the
//! embedded gateway on loopback, a node with a throwaway identity against it, approves
//! the node's device and command surface through the operator API (as a person would on a
//! real Gateway), invokes a real command through the gateway and prints the round trip.
//! Then it keeps serving and prints how to invoke more from a second terminal.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use serde_json::json;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::global::GlobalArgs;
use crate::config::{Config, Overrides, RawConfig};
use crate::credentials::StoreChoice;
use crate::gateway::{self, GatewayAuth, GatewayConfig};
use crate::node::{Node, StoreSource};
use crate::operator::{OperatorClient, OperatorOptions};
use crate::session::{NodeOptions, SessionState, run_node};

/// The demo node's config file: only `system` is served (the device commands are off by
/// default), and no host stats are published.
const DEMO_CONFIG: &str = "[device]\nhost_stats = false\n\n[browser]\nenabled = false\n";

/// How long the demo waits for each step before giving up with an explanation.
const STEP_TIMEOUT: Duration = Duration::from_secs(20);

/// Flags of `demo`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Port for the embedded gateway on 127.0.0.1 (0 picks a free one).
    #[arg(long, default_value_t = 0)]
    pub port: u16,
    /// Exit after the round trip instead of serving until Ctrl-C.
    #[arg(long)]
    pub once: bool,
}

/// Runs `demo`.
pub async fn run(args: Args, _global: &GlobalArgs) -> anyhow::Result<ExitCode> {
    let scratch = tempfile::Builder::new()
        .prefix("openclaw-node-demo-")
        .tempdir()
        .context("cannot create a scratch directory for the demo")?;

    let listener = tokio::net::TcpListener::bind(("127.0.0.1", args.port))
        .await
        .with_context(|| format!("cannot listen on 127.0.0.1:{}", args.port))?;
    let gw = gateway::start(
        listener,
        GatewayConfig {
            auth: GatewayAuth::None,
            state_dir: Some(scratch.path().join("gateway")),
            ..GatewayConfig::default()
        },
    )
    .await?;
    let url = gw.url();
    println!("1. embedded gateway listening on {url} (loopback only, no auth)");

    // The demo node is put together like any node, from a config: its own state dir, no
    // shared credentials, nothing but `system` (no browser, no host stats).
    let node_dir = scratch.path().join("node");
    let overrides = Overrides {
        state_dir: Some(node_dir.clone()),
        url: Some(url.clone()),
        display_name: Some("demo-node".into()),
        ..Overrides::default()
    };
    let raw = RawConfig::parse(DEMO_CONFIG, std::path::Path::new("demo.toml"))?;
    let config = Config::from_raw(raw, &overrides, &|_| None, node_dir.clone())?;
    let node = Node::prepare(config, StoreSource::Chosen(StoreChoice::File), false).await?;
    let node_id = node.identity.device_id();
    // The demo node allows exactly one command for system.run: `uname` (the one explicit
    // step a real node's owner takes with `openclaw-node approvals allow uname`).
    openclaw_capability_system::approvals::ApprovalsStore::in_state_dir(&node_dir).update(
        |doc| {
            doc.agents.entry("*".into()).or_default().allowlist.push(
                openclaw_capability_system::approvals::AllowEntry {
                    pattern: "uname".into(),
                    ..Default::default()
                },
            )
        },
    )?;
    let (state_tx, mut state_rx) = watch::channel(SessionState::Starting);
    let shutdown = CancellationToken::new();
    let options = NodeOptions {
        pairing_retry_interval: Duration::from_millis(300),
        ..node.session_options()
    };
    let node = tokio::spawn(run_node(
        options,
        node.identity,
        node.store,
        node.registry,
        state_tx,
        shutdown.clone(),
    ));
    println!("2. node demo-node started; device id {node_id}");

    let op = OperatorClient::connect(OperatorOptions::new(url.clone()))
        .await
        .context("the demo operator could not connect to the embedded gateway")?;

    let request_id = wait_step("the node's device pairing request", || async {
        let list = op.device_pair_list().await.ok()?;
        list.pending
            .into_iter()
            .find(|p| p.device_id == node_id)
            .map(|p| p.request_id)
    })
    .await?;
    op.device_pair_approve(&request_id).await?;
    println!(
        "3. approved device pairing request {request_id} (openclaw-node devices approve {request_id})"
    );

    let request_id = wait_step("the node's command-surface request", || async {
        let list = op.node_pair_list().await.ok()?;
        list.pending
            .into_iter()
            .find(|p| p.node_id == node_id)
            .map(|p| p.request_id)
    })
    .await?;
    op.node_pair_approve(&request_id).await?;
    println!("4. approved command surface {request_id} (openclaw-node nodes approve {request_id})");

    tokio::time::timeout(
        STEP_TIMEOUT,
        state_rx.wait_for(|s| matches!(s, SessionState::Ready { .. })),
    )
    .await
    .context("the node did not become ready")??;

    let params = json!({"bins": ["sh", "ls", "git", "no-such-tool"]});
    let started = std::time::Instant::now();
    let reply = op
        .node_invoke(&node_id, "system.which", params.clone(), Some(10_000))
        .await
        .context("the round trip through the gateway failed")?;
    let elapsed = started.elapsed();
    println!("5. round trip: operator -> gateway -> node -> gateway -> operator");
    println!("   node.invoke system.which {params}");
    println!(
        "   => {}  ({:.1} ms)",
        reply.payload,
        elapsed.as_secs_f64() * 1000.0
    );
    let params = json!({"command": ["uname", "-sr"]});
    let reply = op
        .node_invoke(&node_id, "system.run", params.clone(), Some(10_000))
        .await
        .context("system.run through the gateway failed")?;
    println!("   node.invoke system.run {params}   (uname is on this node's allowlist)");
    println!("   => {}", reply.payload);
    let params = json!({"command": ["id"]});
    match op
        .node_invoke(&node_id, "system.run", params.clone(), Some(10_000))
        .await
    {
        Ok(reply) => println!(
            "   node.invoke system.run {params}\n   => {}",
            reply.payload
        ),
        Err(e) => {
            println!("   node.invoke system.run {params}   (not allowlisted)\n   => refused: {e}")
        }
    }

    if args.once {
        println!("done (--once).");
    } else {
        println!();
        println!("The gateway and the node keep running. From another terminal:");
        println!("  openclaw-node nodes list --url {url}");
        println!(
            "  openclaw-node nodes invoke {node_id} system.which --params '{{\"bins\":[\"cargo\"]}}' --url {url}"
        );
        println!("Press Ctrl-C to stop.");
        tokio::signal::ctrl_c().await?;
        println!();
    }
    shutdown.cancel();
    let _ = node.await;
    drop(op);
    gw.shutdown().await;
    Ok(ExitCode::SUCCESS)
}

/// Polls `probe` until it yields a value, or fails after [`STEP_TIMEOUT`] naming the step.
async fn wait_step<T, F, Fut>(what: &str, mut probe: F) -> anyhow::Result<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + STEP_TIMEOUT;
    loop {
        if let Some(v) = probe().await {
            return Ok(v);
        }
        if tokio::time::Instant::now() >= deadline {
            anyhow::bail!("timed out after {:?} waiting for {what}", STEP_TIMEOUT);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

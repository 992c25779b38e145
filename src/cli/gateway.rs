//! `openclaw-node gateway`: runs the embedded minimal gateway until SIGINT/SIGTERM. It
//! binds loopback by default and refuses any other address without a token or password.
//! Secrets come from the environment (`OPENCLAW_GATEWAY_TOKEN`, `_PASSWORD`), never from
//! a command-line argument.

use std::net::{IpAddr, SocketAddr};
use std::process::ExitCode;

use anyhow::Context as _;

use super::global::GlobalArgs;
use crate::gateway::{self, GatewayAuth, GatewayConfig};
use crate::secret::Secret;

/// Flags of `gateway`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Address to listen on. Anything but loopback requires a token or password.
    #[arg(long, default_value = "127.0.0.1")]
    pub bind: IpAddr,
    /// Port [env: OPENCLAW_GATEWAY_PORT; default 18789].
    #[arg(long)]
    pub port: Option<u16>,
    /// Approve every device and command surface at once (demos and tests only: anyone who
    /// can connect can then run commands on the nodes).
    #[arg(long)]
    pub auto_approve: bool,
    /// Print a single-use setup code (valid 10 minutes) for `openclaw-node pair`.
    #[arg(long)]
    pub setup_code: bool,
    /// Tick interval in seconds.
    #[arg(long, default_value_t = 30)]
    pub tick_seconds: u64,
}

/// Runs `gateway`.
pub async fn run(args: Args, global: &GlobalArgs) -> anyhow::Result<ExitCode> {
    let env = global.env_lookup()?;
    let auth = match (
        env(crate::config::env::GATEWAY_TOKEN),
        env(crate::config::env::GATEWAY_PASSWORD),
    ) {
        (Some(t), _) => GatewayAuth::Token(Secret::new(t)),
        (None, Some(p)) => GatewayAuth::Password(Secret::new(p)),
        (None, None) => GatewayAuth::None,
    };
    let port = match args.port {
        Some(p) => p,
        None => match env(crate::config::env::GATEWAY_PORT) {
            Some(p) => p
                .parse()
                .context("OPENCLAW_GATEWAY_PORT is not a port number")?,
            None => crate::protocol::DEFAULT_GATEWAY_PORT,
        },
    };
    let addr = SocketAddr::new(args.bind, port);
    if let Err(why) = gateway::check_bind_safety(&addr, &auth) {
        eprintln!("openclaw-node: {why}");
        return Ok(ExitCode::from(crate::exit::USAGE));
    }
    let state_dir = global
        .state_dir
        .clone()
        .unwrap_or_else(|| crate::config::default_state_dir(&env))
        .join("gateway");
    // The gateway's state lives inside the node's state directory: both 0700 when made here.
    crate::credentials::create_private_dir(&state_dir)
        .with_context(|| format!("cannot create {}", state_dir.display()))?;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr}"))?;
    let handle = gateway::start(
        listener,
        GatewayConfig {
            auth: auth.clone(),
            state_dir: Some(state_dir.clone()),
            auto_approve_devices: args.auto_approve,
            auto_approve_commands: args.auto_approve,
            tick_interval: std::time::Duration::from_secs(args.tick_seconds.max(1)),
            ..GatewayConfig::default()
        },
    )
    .await?;
    let mode = match auth {
        GatewayAuth::None => "no auth (loopback only)",
        GatewayAuth::Token(_) => "token auth",
        GatewayAuth::Password(_) => "password auth",
    };
    eprintln!(
        "embedded gateway on {} ({mode}); state in {}",
        handle.url(),
        state_dir.display()
    );
    if args.setup_code {
        println!("{}", handle.mint_setup_code(&handle.url()));
    }
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate())?;
    let code = tokio::select! {
        _ = tokio::signal::ctrl_c() => crate::exit::SIGINT,
        _ = term.recv() => crate::exit::SIGTERM,
    };
    eprintln!("stopping the gateway");
    handle.shutdown().await;
    Ok(ExitCode::from(code))
}

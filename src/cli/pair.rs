//! `openclaw-node pair`: the first-run flow. Takes a gateway URL, a setup code, or a join
//! link; connects (with the setup code's single-use bootstrap token for the first connect
//! only, never stored); waits through both approvals (device pairing, then the node's
//! command surface) while showing what to approve and where; resumes by itself after each
//! approval; and ends by printing the node id, the gateway, the commands exposed and where
//! the credentials are kept. `--json` for scripts; distinct exit codes for rejection (78)
//! and timeout (4). The node is put together by [`crate::node`], as for `run`.

use std::io::IsTerminal as _;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use serde_json::json;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::global::GlobalArgs;
use crate::config::{Config, Overrides};
use crate::exit;
use crate::node::{Node, StoreSource};
use crate::protocol::setup_code::{SetupCode, parse_setup_code};
use crate::session::{ApprovalKind, SessionState, run_node};

/// Flags of `pair`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// A setup code (from `openclaw qr` or `openclaw-node gateway --setup-code`), an
    /// `oc-pair://` link, or a join URL (`https://…/j/<id>` from `openclaw devices
    /// join-code`); `-` reads it from standard input, which keeps it out of the process
    /// list. Omit it to pair with --url and the shared token.
    pub code: Option<String>,
    /// Gateway URL (when not using a setup code).
    #[arg(long, conflicts_with_all = ["host", "code"])]
    pub url: Option<String>,
    /// Gateway host (with --port and --tls instead of --url).
    #[arg(long, conflicts_with = "code")]
    pub host: Option<String>,
    /// Gateway port.
    #[arg(long, default_value_t = crate::protocol::DEFAULT_GATEWAY_PORT, requires = "host")]
    pub port: u16,
    /// Use wss:// with --host.
    #[arg(long, requires = "host")]
    pub tls: bool,
    /// Name shown on the gateway [default: the host name].
    #[arg(long)]
    pub display_name: Option<String>,
    /// Give up after this long, e.g. `10m`.
    #[arg(long, default_value = "15m", value_parser = super::run::parse_duration)]
    pub timeout: Duration,
    /// Stop once the device is paired, without waiting for the command surface approval.
    #[arg(long)]
    pub no_wait_commands: bool,
    /// Machine-readable result on stdout.
    #[arg(long)]
    pub json: bool,
}

/// Fetches a join URL (`http(s)://host/j/<id>`), which returns the setup document once.
async fn fetch_join(url: &str) -> anyhow::Result<String> {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let parsed = url::Url::parse(url).context("invalid join URL")?;
    let host = parsed
        .host_str()
        .context("join URL without a host")?
        .to_string();
    let port = parsed.port_or_known_default().unwrap_or(80);
    let path = match parsed.query() {
        Some(q) => format!("{}?{q}", parsed.path()),
        None => parsed.path().to_string(),
    };
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nAccept: application/json\r\nConnection: close\r\nUser-Agent: openclaw-node/{}\r\n\r\n",
        crate::VERSION
    );
    let tcp = tokio::time::timeout(
        crate::protocol::DIAL_TIMEOUT,
        tokio::net::TcpStream::connect((host.as_str(), port)),
    )
    .await
    .context("timed out connecting to the join URL")?
    .with_context(|| format!("cannot connect to {host}:{port}"))?;
    let mut body = Vec::new();
    if parsed.scheme() == "https" {
        let config = crate::transport::tls_client_config();
        let name = rustls::pki_types::ServerName::try_from(host.clone())?;
        let mut tls = tokio_rustls::TlsConnector::from(config)
            .connect(name, tcp)
            .await?;
        tls.write_all(request.as_bytes()).await?;
        tls.take(64 * 1024).read_to_end(&mut body).await?;
    } else {
        let mut tcp = tcp;
        tcp.write_all(request.as_bytes()).await?;
        tcp.take(64 * 1024).read_to_end(&mut body).await?;
    }
    let text = String::from_utf8_lossy(&body);
    let (head, payload) = text
        .split_once("\r\n\r\n")
        .context("malformed HTTP answer")?;
    let status = head.split_whitespace().nth(1).unwrap_or("");
    match status {
        "200" => Ok(payload.to_string()),
        "404" => anyhow::bail!(
            "the join link was already used or has expired; ask the gateway for a new one"
        ),
        other => anyhow::bail!("the join link answered HTTP {other}"),
    }
}

/// Runs `pair`.
pub async fn run(args: Args, global: &GlobalArgs) -> anyhow::Result<ExitCode> {
    let code = match args.code.as_deref() {
        Some("-") => {
            let mut line = String::new();
            std::io::stdin()
                .read_line(&mut line)
                .context("cannot read the setup code from standard input")?;
            Some(line.trim().to_string())
        }
        other => other.map(str::to_string),
    };
    let setup: Option<SetupCode> = match &code {
        Some(code) if code.starts_with("http://") || code.starts_with("https://") => {
            let doc = fetch_join(code).await?;
            Some(parse_setup_code(&doc)?)
        }
        Some(code) => Some(parse_setup_code(code)?),
        None => None,
    };
    let url = match (&setup, &args.url, &args.host) {
        (Some(s), _, _) => Some(s.url.clone()),
        (None, Some(u), _) => Some(u.clone()),
        (None, None, Some(h)) => Some(format!(
            "{}://{h}:{}",
            if args.tls { "wss" } else { "ws" },
            args.port
        )),
        _ => None,
    };
    let overrides = Overrides {
        config_file: global.config.clone(),
        state_dir: global.state_dir.clone(),
        url: url.clone(),
        display_name: args.display_name.clone(),
        tls_fingerprint: setup.as_ref().and_then(|s| s.tls_fingerprint.clone()),
    };
    let env = global.env_lookup()?;
    let mut config = Config::load(&overrides, &env)?;
    // Pairing only pairs: host figures are `run`'s to publish.
    config.device.host_stats = false;
    let node = Node::prepare(config, StoreSource::Chosen(global.credential_store), false).await?;
    let node_id = node.identity.device_id();
    let mut opts = node.session_options();
    // A setup code replaces the shared credentials for this run (spec §7.4).
    if let Some(s) = &setup {
        opts.bootstrap_token = Some(s.bootstrap_token.clone());
        opts.token = None;
        opts.password = None;
    }
    opts.pairing_retry_interval = Duration::from_secs(3);
    let Node {
        config,
        store,
        identity,
        registry,
        ..
    } = node;
    let (state_tx, mut state_rx) = watch::channel(SessionState::Starting);
    let shutdown = CancellationToken::new();
    let session = tokio::spawn(run_node(
        opts,
        identity,
        store.clone(),
        registry.clone(),
        state_tx,
        shutdown.clone(),
    ));
    let live = !args.json && std::io::stderr().is_terminal();
    let say = |line: &str| {
        if !args.json {
            if live {
                eprint!("\r\x1b[2K{line}");
            } else {
                eprintln!("{line}");
            }
        }
    };
    say(&format!(
        "pairing {} with {}…",
        short(&node_id),
        config.gateway_url
    ));
    let deadline = tokio::time::Instant::now() + args.timeout;
    let mut last = String::new();
    let outcome = loop {
        let state = state_rx.borrow_and_update().clone();
        let line = match &state {
            SessionState::WaitingForApproval {
                request_id,
                what: ApprovalKind::Device,
            } => {
                let id = request_id.as_deref().unwrap_or("<id>");
                format!(
                    "waiting for device approval (request {id}): on the gateway run `openclaw devices approve {id}` (embedded gateway: `openclaw-node devices approve {id}`)"
                )
            }
            SessionState::Ready {
                surface_approved: true,
                ..
            } => break Ok(()),
            SessionState::Ready { .. } if args.no_wait_commands => break Ok(()),
            SessionState::Ready { .. } => "device paired; waiting for the command surface approval: on the gateway run `openclaw nodes pending`, then `openclaw nodes approve <requestId>` (embedded: `openclaw-node nodes pending` / `nodes approve`)".to_string(),
            SessionState::BackingOff { last_error, retry_in, .. } => {
                format!("cannot reach the gateway ({last_error}); retrying in {:.0}s", retry_in.as_secs_f64())
            }
            SessionState::Stopped => break Err(()),
            _ => last.clone(),
        };
        if line != last && !line.is_empty() {
            say(&line);
            last = line;
        }
        tokio::select! {
            changed = state_rx.changed() => if changed.is_err() { break Err(()) },
            _ = tokio::time::sleep_until(deadline) => break Err(()),
        }
    };
    if live {
        eprintln!();
    }
    let timed_out = outcome.is_err() && !session.is_finished();
    shutdown.cancel();
    let result = session.await.context("the session task failed")?;
    if let Err(e) = result {
        eprintln!("openclaw-node: {e}");
        return Ok(ExitCode::from(exit::for_session(&e)));
    }
    if timed_out {
        eprintln!(
            "openclaw-node: gave up after {:?} waiting for approval; run `openclaw-node pair` again once the gateway operator is ready",
            args.timeout
        );
        return Ok(ExitCode::from(exit::PAIR_TIMED_OUT));
    }
    // Remember the gateway for `run` (never the bootstrap token).
    let config_file = global
        .config
        .clone()
        .unwrap_or_else(|| config.state_dir.join("config.toml"));
    let remembered = remember_gateway(&config_file, config.gateway_url.as_str())?;
    let commands = registry.commands();
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&json!({
                "paired": true,
                "nodeId": node_id,
                "gateway": config.gateway_url.as_str(),
                "commands": commands,
                "commandsApproved": !args.no_wait_commands,
                "credentialStore": store.kind(),
                "credentialLocation": store.location(),
                "configFile": config_file,
            }))?
        );
    } else {
        println!("paired.");
        println!("  node id:     {node_id}");
        println!("  gateway:     {}", config.gateway_url.as_str());
        println!("  commands:    {}", commands.join(", "));
        println!("  credentials: {} ({})", store.location(), store.kind());
        if remembered {
            println!(
                "  config:      {} (gateway url saved)",
                config_file.display()
            );
        }
        println!(
            "start serving with `openclaw-node run` (or `openclaw-node install` for a service)"
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Writes `[gateway] url` to a config file that has none; never touches one that does.
fn remember_gateway(path: &std::path::Path, url: &str) -> anyhow::Result<bool> {
    let existing = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(e).context(format!("cannot read {}", path.display())),
    };
    let raw = crate::config::RawConfig::parse(&existing, path)?;
    if raw.gateway.url.is_some() || existing.contains("[gateway]") {
        return Ok(false);
    }
    let text = format!(
        "{existing}{}[gateway]\nurl = {}\n",
        if existing.is_empty() || existing.ends_with('\n') {
            ""
        } else {
            "\n"
        },
        toml::Value::String(url.to_string())
    );
    crate::credentials::write_secret_file(path, text.as_bytes())?;
    Ok(true)
}

fn short(id: &str) -> &str {
    id.get(..12).unwrap_or(id)
}

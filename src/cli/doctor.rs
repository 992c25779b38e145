//! `openclaw-node doctor`: checks the node layer by layer and prints a verdict per layer
//! with the fix: config and credentials; DNS and TCP to the gateway; the path and whether
//! plaintext is allowed on it; TLS and the pin; one real handshake (auth accepted, device
//! paired, clock skew within the signature window); what the running node reports (command
//! surface approved); each capability; the service. `--json` for scripts. Exit code 0 when
//! nothing failed, 1 otherwise.
//!
//! `mcp` starts each configured MCP server once and lists its tools, or says what to fix
//! (`doctor_mcp`).
//!
//! `permissions` warns when the state directory or a settings file holding a token, a
//! password or MCP server secrets (the config file, `--env-file`) is open to group or
//! others, with the `chmod`.
//!
//! The node-building layers are the steps of [`crate::node`], called one by one so each
//! gets its verdict: `config` (`Config::load`), `credentials` (`open_store`,
//! `open_identity`; only a store the node already uses), `path` (`transport_path`), `tls`
//! (`tls_config`, the pin), `capabilities` (`build_registry`).

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use serde_json::{Value, json};

use super::global::GlobalArgs;
use crate::config::{Config, Overrides};
use crate::credentials::recorded_store;
use crate::node::{self, StoreSource};
use crate::protocol::{SIGNATURE_SKEW_MS, detail_codes};

/// Flags of `doctor`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Machine-readable output.
    #[arg(long)]
    pub json: bool,
    /// Gateway URL to check instead of the configured one.
    #[arg(long)]
    pub url: Option<String>,
}

/// One layer's verdict.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// Fine.
    Ok,
    /// Works, but worth a look.
    Warn,
    /// Broken; the fix says what to do.
    Fail,
    /// Not checked (an earlier layer failed, or it does not apply).
    Skip,
}

/// A checked layer.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    /// Layer name.
    pub layer: &'static str,
    /// Verdict.
    pub verdict: Verdict,
    /// What was found.
    pub detail: String,
    /// What to do, when something is wrong.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
}

fn check(
    layer: &'static str,
    verdict: Verdict,
    detail: impl Into<String>,
    fix: Option<String>,
) -> Check {
    Check {
        layer,
        verdict,
        detail: detail.into(),
        fix,
    }
}

/// One path that group or others can get into: what was found and the `chmod` that fixes it.
#[derive(Debug, PartialEq, Eq)]
struct Exposure {
    detail: String,
    fix: String,
}

/// The verdict on one path's permission bits: a directory must be 0700, a file holding a
/// secret 0600 (pure; `what` names it in the detail).
fn exposure(what: &str, path: &std::path::Path, mode: u32, is_dir: bool) -> Option<Exposure> {
    if !crate::credentials::open_to_others(mode) {
        return None;
    }
    Some(Exposure {
        detail: format!(
            "{what} {} is mode {:04o} (group or others can get in)",
            path.display(),
            mode & 0o777
        ),
        fix: format!(
            "chmod {} {}",
            if is_dir { "700" } else { "600" },
            path.display()
        ),
    })
}

/// The state directory and every settings file that holds a token or password must be
/// the owner's alone (issue 17); the warning names the exact `chmod` for each.
fn permissions(config: &Config, global: &GlobalArgs) -> Check {
    use std::os::unix::fs::PermissionsExt as _;
    let mode = |path: &std::path::Path| {
        std::fs::metadata(path)
            .ok()
            .map(|m| (m.permissions().mode() & 0o777, m.is_dir()))
    };
    let mut found = Vec::new();
    if let Some((bits, is_dir)) = mode(&config.state_dir) {
        found.extend(exposure("state directory", &config.state_dir, bits, is_dir));
    }
    let config_file = global
        .config
        .clone()
        .unwrap_or_else(|| config.state_dir.join("config.toml"));
    let file_has_secret = std::fs::read_to_string(&config_file)
        .ok()
        .and_then(|text| crate::config::RawConfig::parse(&text, &config_file).ok())
        .is_some_and(|raw| raw.gateway.token.is_some() || raw.gateway.password.is_some());
    if file_has_secret && let Some((bits, is_dir)) = mode(&config_file) {
        found.extend(exposure(
            "config file (with a token or password)",
            &config_file,
            bits,
            is_dir,
        ));
    }
    let mcp_secrets = super::config_secrets::servers_with_secrets(&config.mcp);
    if !file_has_secret
        && !mcp_secrets.is_empty()
        && let Some((bits, is_dir)) = mode(&config_file)
    {
        let what = format!(
            "config file (with {} env or headers)",
            super::config_secrets::table_names(&mcp_secrets)
        );
        found.extend(exposure(&what, &config_file, bits, is_dir));
    }
    if let Some(env_file) = &global.env_file {
        let env_has_secret = std::fs::read_to_string(env_file).is_ok_and(|text| {
            let vars = super::global::parse_env_file(&text);
            [
                crate::config::env::GATEWAY_TOKEN,
                crate::config::env::GATEWAY_PASSWORD,
            ]
            .iter()
            .any(|k| vars.get(*k).is_some_and(|v| !v.is_empty()))
        });
        if env_has_secret && let Some((bits, is_dir)) = mode(env_file) {
            found.extend(exposure(
                "env file (with a token or password)",
                env_file,
                bits,
                is_dir,
            ));
        }
    }
    if found.is_empty() {
        return check(
            "permissions",
            Verdict::Ok,
            "the state directory and the files with secrets are the owner's alone",
            None,
        );
    }
    check(
        "permissions",
        Verdict::Warn,
        found
            .iter()
            .map(|e| e.detail.as_str())
            .collect::<Vec<_>>()
            .join("; "),
        Some(
            found
                .iter()
                .map(|e| e.fix.as_str())
                .collect::<Vec<_>>()
                .join("; "),
        ),
    )
}

/// Runs every check and returns them in order.
pub async fn diagnose(args: &Args, global: &GlobalArgs) -> anyhow::Result<Vec<Check>> {
    let mut out = Vec::new();
    let overrides = Overrides {
        config_file: global.config.clone(),
        state_dir: global.state_dir.clone(),
        url: args.url.clone(),
        ..Default::default()
    };
    let env = global.env_lookup()?;
    let config = match Config::load(&overrides, &env) {
        Ok(c) => {
            out.push(check(
                "config",
                Verdict::Ok,
                format!(
                    "state dir {}, gateway {}",
                    c.state_dir.display(),
                    c.gateway_url
                ),
                None,
            ));
            c
        }
        Err(e) => {
            out.push(check(
                "config",
                Verdict::Fail,
                e.to_string(),
                Some("fix the config file or the OPENCLAW_* environment".into()),
            ));
            return Ok(out);
        }
    };
    out.push(permissions(&config, global));
    for (_, v) in super::doctor_mcp::check_servers(&config.mcp).await {
        let verdict = match (v.ok, v.warn) {
            (None, _) => Verdict::Skip,
            (Some(false), _) => Verdict::Fail,
            (Some(true), true) => Verdict::Warn,
            (Some(true), false) => Verdict::Ok,
        };
        out.push(check("mcp", verdict, v.detail, v.fix));
    }
    // Credentials: only a store this node already uses is opened (doctor creates nothing).
    let store = match recorded_store(&config.state_dir) {
        None => {
            out.push(check(
                "credentials",
                Verdict::Fail,
                "this node has no identity yet",
                Some("pair it: `openclaw-node pair` (or `openclaw-node run` once)".into()),
            ));
            return Ok(out);
        }
        Some(choice) => match node::open_store(&config, StoreSource::Chosen(choice)) {
            Ok(s) => s,
            Err(e) => {
                out.push(check(
                    "credentials",
                    Verdict::Fail,
                    e.to_string(),
                    Some("unlock the keychain, or `openclaw-node reset` to start over".into()),
                ));
                return Ok(out);
            }
        },
    };
    let identity = match node::open_identity(store.clone()).await {
        Ok(i) => i,
        Err(e) => {
            out.push(check("credentials", Verdict::Fail, e.to_string(), None));
            return Ok(out);
        }
    };
    let has_secret = config.token.is_some() || config.password.is_some();
    out.push(check(
        "credentials",
        Verdict::Ok,
        format!(
            "device {} in {} ({}); shared credential {}",
            &identity.device_id()[..12],
            store.location(),
            store.kind(),
            if has_secret {
                "set"
            } else {
                "not set (device token only)"
            }
        ),
        None,
    ));
    // Path and plaintext rule.
    let url = &config.gateway_url;
    match node::transport_path(&config, false) {
        Ok(path) => out.push(check(
            "path",
            Verdict::Ok,
            format!("{path} ({})", url.scheme()),
            None,
        )),
        Err(e) => {
            out.push(check(
                "path",
                Verdict::Fail,
                e.to_string(),
                Some("use wss://, --ssh user@host, or Tailscale".into()),
            ));
            return Ok(out);
        }
    }
    // DNS and TCP.
    let host = url
        .host_str()
        .unwrap_or_default()
        .trim_matches(['[', ']'])
        .to_string();
    let port = url
        .port_or_known_default()
        .unwrap_or(crate::protocol::DEFAULT_GATEWAY_PORT);
    let resolved = tokio::time::timeout(
        Duration::from_secs(5),
        tokio::net::lookup_host((host.as_str(), port)),
    )
    .await
    .map(|r| r.map(|addrs| addrs.count()));
    match resolved {
        Ok(Ok(n)) if n > 0 => out.push(check("dns", Verdict::Ok, format!("{host} resolves"), None)),
        Ok(Ok(_)) | Ok(Err(_)) => {
            out.push(check(
                "dns",
                Verdict::Fail,
                format!("{host} does not resolve"),
                Some("check the gateway host name".into()),
            ));
            return Ok(out);
        }
        Err(_) => {
            out.push(check(
                "dns",
                Verdict::Fail,
                format!("resolving {host} timed out"),
                None,
            ));
            return Ok(out);
        }
    }
    match tokio::time::timeout(
        Duration::from_secs(5),
        tokio::net::TcpStream::connect((host.as_str(), port)),
    )
    .await
    {
        Ok(Ok(_)) => out.push(check(
            "tcp",
            Verdict::Ok,
            format!("{host}:{port} accepts connections"),
            None,
        )),
        Ok(Err(e)) => {
            out.push(check(
                "tcp",
                Verdict::Fail,
                format!("{host}:{port}: {e}"),
                Some(
                    "is the gateway running and listening there? (`openclaw gateway status`)"
                        .into(),
                ),
            ));
            return Ok(out);
        }
        Err(_) => {
            out.push(check(
                "tcp",
                Verdict::Fail,
                format!("{host}:{port}: timed out"),
                Some("a firewall or a dead route: check the network path".into()),
            ));
            return Ok(out);
        }
    }
    // The TLS configuration (the pin), then one handshake.
    let tls = match node::tls_config(&config) {
        Ok(tls) => tls,
        Err(e) => {
            out.push(check("tls", Verdict::Fail, e.to_string(), None));
            return Ok(out);
        }
    };
    let registry = Arc::new(node::build_registry(&config));
    let opts = node::session_options(&config, tls);
    let probe = crate::session::probe(opts, identity, store.clone(), registry.clone()).await?;
    if let Some(e) = probe.dial_error {
        let tls = url.scheme() == "wss";
        out.push(check(
            if tls { "tls" } else { "websocket" },
            Verdict::Fail,
            e,
            Some(if tls {
                "check the certificate or the --tls-fingerprint pin".into()
            } else {
                "the port answers but not as a gateway".into()
            }),
        ));
        return Ok(out);
    }
    if url.scheme() == "wss" {
        out.push(check(
            "tls",
            Verdict::Ok,
            if config.tls_pin.is_some() {
                "certificate matches the pin"
            } else {
                "certificate trusted by the system roots"
            },
            None,
        ));
    }
    if let Some(skew) = probe.clock_skew_ms {
        let verdict = if skew.abs() > SIGNATURE_SKEW_MS {
            Verdict::Fail
        } else if skew.abs() > SIGNATURE_SKEW_MS / 4 {
            Verdict::Warn
        } else {
            Verdict::Ok
        };
        out.push(check(
            "clock",
            verdict.clone(),
            format!("gateway clock {skew:+} ms from ours (limit ±{SIGNATURE_SKEW_MS} ms)"),
            (verdict != Verdict::Ok).then(|| {
                "sync the clocks (NTP): signatures outside ±2 min are refused".to_string()
            }),
        ));
    }
    match (&probe.accepted, &probe.refused) {
        (Some(hello), _) => {
            out.push(check(
                "auth",
                Verdict::Ok,
                format!(
                    "accepted as {} ({})",
                    hello.auth.role,
                    hello.auth.method.as_deref().unwrap_or("?")
                ),
                None,
            ));
            out.push(check("paired", Verdict::Ok, "the device is paired", None));
        }
        (None, Some(e)) => {
            let code = e.detail_code().unwrap_or_default();
            if code == detail_codes::PAIRING_REQUIRED {
                out.push(check("auth", Verdict::Ok, "credentials accepted", None));
                let id = e.detail_str("requestId").unwrap_or("<requestId>");
                out.push(check(
                    "paired",
                    Verdict::Fail,
                    format!("waiting for device approval (request {id})"),
                    Some(format!("on the gateway: `openclaw devices approve {id}`")),
                ));
            } else {
                out.push(check(
                    "auth",
                    Verdict::Fail,
                    format!("{code}: {}", e.message),
                    Some(match code {
                        detail_codes::AUTH_TOKEN_MISMATCH | detail_codes::AUTH_TOKEN_MISSING => {
                            "set OPENCLAW_GATEWAY_TOKEN to the gateway's token".into()
                        }
                        detail_codes::AUTH_DEVICE_TOKEN_MISMATCH => {
                            "the device was removed or its token revoked: pair again".into()
                        }
                        _ => "see the gateway's message".into(),
                    }),
                ));
            }
        }
        (None, None) => out.push(check(
            "auth",
            Verdict::Fail,
            probe.other_error.unwrap_or_default(),
            None,
        )),
    }
    // What the running node says about its command surface.
    match crate::status::query(&config.state_dir, "status").await {
        Ok(body) => {
            let doc: Value = serde_json::from_str(&body).unwrap_or_default();
            let state = doc["state"].as_str().unwrap_or("?").to_string();
            let approved = doc["surfaceApprovedThisConnection"].as_bool();
            out.push(check(
                "node",
                if state == "ready" {
                    Verdict::Ok
                } else {
                    Verdict::Warn
                },
                format!("running, {state}"),
                None,
            ));
            match approved {
                Some(true) => out.push(check("commands", Verdict::Ok, "command surface approved", None)),
                _ => out.push(check("commands", Verdict::Warn, "no approval seen on this connection (approved earlier, or still pending)", Some("on the gateway: `openclaw nodes pending`; approve with `openclaw nodes approve <requestId>`".into()))),
            }
        }
        Err(_) => out.push(check(
            "node",
            Verdict::Warn,
            "no node is running with this state directory",
            Some("`openclaw-node run` or `openclaw-node start`".into()),
        )),
    }
    // Capabilities.
    let surface = registry.surface();
    out.push(check(
        "capabilities",
        Verdict::Ok,
        format!("serving {}", surface.commands.join(", ")),
        None,
    ));
    for (cap, reason) in &surface.unavailable {
        out.push(check(
            "capabilities",
            Verdict::Skip,
            format!("{cap}: unavailable ({reason})"),
            None,
        ));
    }
    // Host figures (what node.host.stats reports).
    match openclaw_capability_device::sample_host_stats(&config.state_dir) {
        Ok(h) => {
            let gib = |b: u64| b as f64 / (1u64 << 30) as f64;
            let disk_low = h.disk_available_bytes.is_some_and(|a| a < 1 << 30);
            out.push(check(
                "host",
                if disk_low { Verdict::Warn } else { Verdict::Ok },
                format!(
                    "{} CPUs, load {}, memory {:.1}/{:.1} GiB free, disk {} GiB free",
                    h.cpu_count,
                    h.load_average
                        .map(|l| format!("{:.2}", l[0]))
                        .unwrap_or_else(|| "-".into()),
                    gib(h.memory_free_bytes),
                    gib(h.memory_total_bytes),
                    h.disk_available_bytes
                        .map(|a| format!("{:.1}", gib(a)))
                        .unwrap_or_else(|| "-".into())
                ),
                disk_low.then(|| "less than 1 GiB free where the node keeps its state".to_string()),
            ));
        }
        Err(e) => out.push(check("host", Verdict::Warn, e, None)),
    }
    // Service.
    let home = std::env::var_os("HOME")
        .map(std::path::PathBuf::from)
        .unwrap_or_default();
    let paths = crate::service::paths(
        crate::service::Platform::current(),
        crate::service::Scope::User,
        &home,
        std::env::var_os("XDG_CONFIG_HOME")
            .map(std::path::PathBuf::from)
            .as_deref(),
    );
    if paths.unit.exists() {
        let user = std::env::var("USER").unwrap_or_default();
        let linger = crate::service::linger_enabled(&user);
        out.push(check(
            "service",
            if linger == Some(false) {
                Verdict::Warn
            } else {
                Verdict::Ok
            },
            format!(
                "installed at {}{}",
                paths.unit.display(),
                if linger == Some(false) {
                    "; linger is off"
                } else {
                    ""
                }
            ),
            (linger == Some(false)).then(|| format!("sudo loginctl enable-linger {user}")),
        ));
    } else {
        out.push(check(
            "service",
            Verdict::Skip,
            "not installed as a user service",
            Some("`openclaw-node install`".into()),
        ));
    }
    Ok(out)
}

/// Runs `doctor`.
pub async fn run(args: Args, global: &GlobalArgs) -> anyhow::Result<ExitCode> {
    let checks = diagnose(&args, global).await?;
    let failed = checks.iter().any(|c| c.verdict == Verdict::Fail);
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&json!({"ok": !failed, "checks": checks}))?
        );
    } else {
        for c in &checks {
            let mark = match c.verdict {
                Verdict::Ok => "ok  ",
                Verdict::Warn => "warn",
                Verdict::Fail => "FAIL",
                Verdict::Skip => "--  ",
            };
            println!("[{mark}] {:<13} {}", c.layer, c.detail);
            if let Some(fix) = &c.fix
                && c.verdict != Verdict::Ok
            {
                println!("       {:<13} fix: {fix}", "");
            }
        }
    }
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

//! `openclaw-node mcp import`: for people moving from the reference node host, reads
//! `nodeHost.mcp.servers` from its `openclaw.json` (JSON5) and writes the equivalent
//! `[mcp.servers.<name>]` tables into this node's config. The mapping is `convert`, a
//! pure function; this file's other half writes the tables (appended, so the file's
//! comments stay; `--force` rewrites the file to replace a server of the same name) and
//! prints what was written with secret values masked.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;
use serde_json::{Map, Value, json};

use super::global::GlobalArgs;

/// Flags of `mcp`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// What to do.
    #[command(subcommand)]
    pub action: Action,
}

/// `mcp` actions.
#[derive(Debug, clap::Subcommand)]
pub enum Action {
    /// Copy the reference node host's MCP servers (`nodeHost.mcp.servers` in its
    /// openclaw.json) into this node's config as `[mcp.servers.<name>]` tables.
    Import(ImportArgs),
}

/// Flags of `mcp import`.
#[derive(Debug, clap::Args)]
pub struct ImportArgs {
    /// The reference config [default: $OPENCLAW_CONFIG_PATH, else
    /// $OPENCLAW_STATE_DIR/openclaw.json, else ~/.openclaw/openclaw.json].
    #[arg(long, value_name = "FILE")]
    pub from: Option<PathBuf>,
    /// Print what would be written; change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Replace servers of the same name already in this node's config.
    #[arg(long)]
    pub force: bool,
    /// Machine-readable output.
    #[arg(long)]
    pub json: bool,
}

/// Keys of a reference server this node has no equivalent for, and why.
const UNSUPPORTED: &[(&str, &str)] = &[
    (
        "sslVerify",
        "TLS verification cannot be turned off for MCP servers",
    ),
    (
        "clientCert",
        "client certificates are not supported for MCP servers",
    ),
    (
        "clientKey",
        "client certificates are not supported for MCP servers",
    ),
    ("workingDirectory", "use cwd"),
];

/// One key (or a whole server) left out, and why.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub(crate) struct Skipped {
    server: String,
    /// `None` when the whole server was left out.
    #[serde(skip_serializing_if = "Option::is_none")]
    key: Option<String>,
    reason: String,
}

/// What [`convert`] made of the reference's servers.
#[derive(Debug, Default)]
pub(crate) struct Converted {
    /// Our tables by server name.
    pub servers: BTreeMap<String, toml::Table>,
    pub skipped: Vec<Skipped>,
    /// Things copied as they are that the owner should look at.
    pub warnings: Vec<String>,
}

fn skip(server: &str, key: Option<&str>, reason: impl Into<String>) -> Skipped {
    Skipped {
        server: server.to_string(),
        key: key.map(str::to_string),
        reason: reason.into(),
    }
}

/// A table of string values (`env`, `headers`): numbers and booleans as their text, other
/// values (secret references) skipped.
fn string_table(
    server: &str,
    key: &str,
    value: &Value,
    out: &mut Converted,
) -> Option<toml::Table> {
    let Some(map) = value.as_object() else {
        out.skipped.push(skip(server, Some(key), "not an object"));
        return None;
    };
    let mut table = toml::Table::new();
    for (name, v) in map {
        let text = match v {
            Value::String(s) => s.clone(),
            Value::Number(n) => n.to_string(),
            Value::Bool(b) => b.to_string(),
            _ => {
                out.skipped.push(skip(
                    server,
                    Some(&format!("{key}.{name}")),
                    "not a plain value (a secret reference?): set it by hand",
                ));
                continue;
            }
        };
        if text.contains("${") {
            out.warnings.push(format!(
                "mcp.servers.{server}.{key}.{name} contains ${{…}}: openclaw-node does not expand variables; put the value itself in the config"
            ));
        }
        table.insert(name.clone(), toml::Value::String(text));
    }
    Some(table)
}

fn strings(value: &Value) -> Option<Vec<toml::Value>> {
    value
        .as_array()?
        .iter()
        .map(|v| v.as_str().map(|s| toml::Value::String(s.to_string())))
        .collect()
}

/// Maps the reference's `nodeHost.mcp.servers` (parity §3.2) to our tables: `command`,
/// `args`, `env`, `cwd`, `url`, `transport` (or its alias `type`), `headers`, `enabled`,
/// `toolFilter.include`/`exclude`, `connectionTimeoutMs`, `requestTimeoutMs`. OAuth servers
/// are left out as the reference skips them; other keys are listed as skipped.
pub(crate) fn convert(servers: &Map<String, Value>) -> Converted {
    let mut out = Converted::default();
    for (name, server) in servers {
        if name.is_empty() || name.trim() != name || name == "__proto__" {
            out.skipped.push(skip(
                name,
                None,
                "the name must be non-empty and without surrounding spaces",
            ));
            continue;
        }
        let Some(map) = server.as_object() else {
            out.skipped.push(skip(name, None, "not an object"));
            continue;
        };
        if map.get("auth").and_then(Value::as_str) == Some("oauth") || map.contains_key("oauth") {
            out.skipped.push(skip(name, None, "OAuth is not supported"));
            continue;
        }
        let mut table = toml::Table::new();
        for (key, value) in map {
            let ours: Option<(&str, toml::Value)> = match key.as_str() {
                "command" | "cwd" | "url" => value.as_str().map(|s| (key.as_str(), s.into())),
                "transport" | "type" => value.as_str().map(|s| ("transport", s.into())),
                "args" => strings(value).map(|a| ("args", toml::Value::Array(a))),
                "enabled" => value.as_bool().map(|b| ("enabled", b.into())),
                "connectionTimeoutMs" => value
                    .as_u64()
                    .map(|n| ("connect_timeout_ms", (n as i64).into())),
                "requestTimeoutMs" => value
                    .as_u64()
                    .map(|n| ("request_timeout_ms", (n as i64).into())),
                "env" | "headers" => string_table(name, key, value, &mut out)
                    .map(|t| (key.as_str(), toml::Value::Table(t))),
                "toolFilter" => {
                    for (from, to) in [("include", "include"), ("exclude", "exclude")] {
                        if let Some(globs) = value.get(from) {
                            match strings(globs) {
                                Some(g) => {
                                    table.insert(to.into(), toml::Value::Array(g));
                                }
                                None => out.skipped.push(skip(
                                    name,
                                    Some(&format!("toolFilter.{from}")),
                                    "not a list of strings",
                                )),
                            }
                        }
                    }
                    continue;
                }
                "auth" => {
                    out.skipped.push(skip(
                        name,
                        Some(key),
                        "only OAuth is a known auth mode, and it is not supported",
                    ));
                    continue;
                }
                other => {
                    let reason = UNSUPPORTED
                        .iter()
                        .find(|(k, _)| *k == other)
                        .map(|(_, r)| *r)
                        .unwrap_or("not a key openclaw-node knows");
                    out.skipped.push(skip(name, Some(key), reason));
                    continue;
                }
            };
            match ours {
                Some((k, v)) => {
                    table.insert(k.into(), v);
                }
                None => out
                    .skipped
                    .push(skip(name, Some(key), "a value of the wrong type")),
            }
        }
        out.servers.insert(name.clone(), table);
    }
    out
}

/// The reference's config path, as the reference host finds it.
fn reference_config(getenv: &dyn Fn(&str) -> Option<String>) -> PathBuf {
    if let Some(p) = getenv("OPENCLAW_CONFIG_PATH") {
        return PathBuf::from(p);
    }
    if let Some(d) = getenv("OPENCLAW_STATE_DIR") {
        return Path::new(&d).join("openclaw.json");
    }
    let home = getenv("HOME").unwrap_or_default();
    Path::new(&home).join(".openclaw/openclaw.json")
}

/// `[mcp.servers.<name>]` tables as TOML text; `mask` hides `env` and `headers` values.
fn render(servers: &BTreeMap<String, toml::Table>, mask: bool) -> String {
    let mut servers = servers.clone();
    if mask {
        for table in servers.values_mut() {
            for key in ["env", "headers"] {
                if let Some(toml::Value::Table(t)) = table.get_mut(key) {
                    for (_, v) in t.iter_mut() {
                        *v = toml::Value::String("[redacted]".into());
                    }
                }
            }
        }
    }
    let mut root = toml::Table::new();
    let mut mcp = toml::Table::new();
    mcp.insert(
        "servers".into(),
        toml::Value::Table(
            servers
                .into_iter()
                .map(|(k, v)| (k, toml::Value::Table(v)))
                .collect(),
        ),
    );
    root.insert("mcp".into(), toml::Value::Table(mcp));
    toml::to_string(&root).unwrap_or_default()
}

/// Runs `mcp`.
pub async fn run(args: Args, global: &GlobalArgs) -> anyhow::Result<ExitCode> {
    let Action::Import(args) = args.action;
    let env = global.env_lookup()?;
    let from = args.from.clone().unwrap_or_else(|| reference_config(&env));
    let text = std::fs::read_to_string(&from)
        .with_context(|| format!("cannot read the reference config {}", from.display()))?;
    let doc = super::json5::parse(&text).with_context(|| {
        format!(
            "{} is not JSON5 openclaw-node can read (it reads comments, trailing commas, unquoted keys and single quotes; not $include)",
            from.display()
        )
    })?;
    if doc.get("$include").is_some() {
        anyhow::bail!(
            "{} uses $include, which mcp import does not follow: import from the included file with --from",
            from.display()
        );
    }
    let servers = doc
        .pointer("/nodeHost/mcp/servers")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let mut converted = convert(&servers);

    let state_dir = global
        .state_dir
        .clone()
        .unwrap_or_else(|| crate::config::default_state_dir(&env));
    let ours = global
        .config
        .clone()
        .unwrap_or_else(|| state_dir.join("config.toml"));
    let existing_text = match std::fs::read_to_string(&ours) {
        Ok(t) => Some(t),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", ours.display())),
    };
    let mut existing: toml::Table = match &existing_text {
        Some(t) => {
            toml::from_str(t).with_context(|| format!("{} is not valid TOML", ours.display()))?
        }
        None => toml::Table::new(),
    };
    let present: Vec<String> = existing
        .get("mcp")
        .and_then(|m| m.get("servers"))
        .and_then(toml::Value::as_table)
        .map(|t| t.keys().cloned().collect())
        .unwrap_or_default();
    let clashing: Vec<String> = converted
        .servers
        .keys()
        .filter(|n| present.contains(n))
        .cloned()
        .collect();
    let mut kept = Vec::new();
    if !args.force {
        for name in &clashing {
            converted.servers.remove(name);
            kept.push(name.clone());
        }
    }
    let rewrite = args.force;

    if !args.dry_run && !converted.servers.is_empty() {
        if rewrite {
            let servers = existing
                .entry("mcp")
                .or_insert_with(|| toml::Value::Table(Default::default()))
                .as_table_mut()
                .context("[mcp] is not a table")?
                .entry("servers")
                .or_insert_with(|| toml::Value::Table(Default::default()))
                .as_table_mut()
                .context("[mcp.servers] is not a table")?;
            for (name, table) in &converted.servers {
                servers.insert(name.clone(), toml::Value::Table(table.clone()));
            }
            if let Some(old) = &existing_text {
                let backup = ours.with_extension("toml.bak");
                crate::credentials::write_secret_file(&backup, old.as_bytes())
                    .with_context(|| format!("cannot write {}", backup.display()))?;
                converted.warnings.push(format!(
                    "--force rewrote {} (its comments are not kept; the previous file is {})",
                    ours.display(),
                    backup.display()
                ));
            }
            let text = toml::to_string(&existing)?;
            crate::credentials::write_secret_file(&ours, text.as_bytes())
                .with_context(|| format!("cannot write {}", ours.display()))?;
        } else {
            let mut text = existing_text.clone().unwrap_or_default();
            if !text.is_empty() && !text.ends_with('\n') {
                text.push('\n');
            }
            if !text.is_empty() {
                text.push('\n');
            }
            text.push_str(&format!(
                "# Imported from {} by openclaw-node mcp import.\n",
                from.display()
            ));
            text.push_str(&render(&converted.servers, false));
            if toml::from_str::<toml::Table>(&text).is_err() {
                anyhow::bail!(
                    "cannot add [mcp.servers.*] tables to {} as it is written (an inline `mcp = {{…}}`?); rerun with --force to rewrite it",
                    ours.display()
                );
            }
            crate::credentials::write_secret_file(&ours, text.as_bytes())
                .with_context(|| format!("cannot write {}", ours.display()))?;
        }
    }

    let names: Vec<&String> = converted.servers.keys().collect();
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&json!({
                "from": from,
                "config": ours,
                "dryRun": args.dry_run,
                "written": if args.dry_run { Vec::new() } else { names.clone() },
                "wouldWrite": if args.dry_run { names.clone() } else { Vec::new() },
                "keptExisting": kept,
                "skipped": converted.skipped,
                "warnings": converted.warnings,
            }))?
        );
        return Ok(ExitCode::SUCCESS);
    }
    if servers.is_empty() {
        println!(
            "no nodeHost.mcp.servers in {}; nothing to import",
            from.display()
        );
    } else if names.is_empty() {
        println!("nothing written to {}", ours.display());
    } else {
        let verb = if args.dry_run { "would write" } else { "wrote" };
        println!(
            "{verb} to {} (secret values shown as [redacted]):\n",
            ours.display()
        );
        print!("{}", render(&converted.servers, true));
    }
    for name in &kept {
        println!("kept the existing [mcp.servers.{name}] (use --force to replace it)");
    }
    for s in &converted.skipped {
        match &s.key {
            Some(k) => println!("skipped mcp.servers.{}.{k}: {}", s.server, s.reason),
            None => println!("skipped server {}: {}", s.server, s.reason),
        }
    }
    for w in &converted.warnings {
        println!("note: {w}");
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_reference_key_maps_or_is_listed_as_skipped() {
        let servers = super::super::json5::parse(
            r#"{
              fs: { command: "npx", args: ["-y", "srv"], env: { KEY: "k", N: 5 }, cwd: "/srv",
                    enabled: false, toolFilter: { include: ["read_*"], exclude: ["rm*"] },
                    connectionTimeoutMs: 1000, requestTimeoutMs: 2000, sslVerify: false },
              api: { url: "https://x/mcp", type: "streamable-http",
                     headers: { Authorization: "Bearer ${TOKEN}", Ref: { source: "env" } },
                     clientCert: "/c.pem" },
              sso: { url: "https://y/mcp", auth: "oauth" },
              " bad": { command: "x" },
            }"#,
        )
        .unwrap();
        let c = convert(servers.as_object().unwrap());
        assert_eq!(
            toml::Value::Table(c.servers["fs"].clone()).to_string(),
            toml::Value::Table(
                toml::from_str(
                    "command = \"npx\"\nargs = [\"-y\", \"srv\"]\ncwd = \"/srv\"\nenabled = false\n\
                     include = [\"read_*\"]\nexclude = [\"rm*\"]\nconnect_timeout_ms = 1000\n\
                     request_timeout_ms = 2000\n[env]\nKEY = \"k\"\nN = \"5\"\n"
                )
                .unwrap()
            )
            .to_string()
        );
        assert_eq!(
            c.servers["api"]["transport"].as_str(),
            Some("streamable-http")
        );
        assert_eq!(
            c.servers["api"]["headers"]["Authorization"].as_str(),
            Some("Bearer ${TOKEN}")
        );
        assert!(!c.servers.contains_key("sso") && !c.servers.contains_key(" bad"));
        let skipped: Vec<String> = c
            .skipped
            .iter()
            .map(|s| format!("{}:{}", s.server, s.key.as_deref().unwrap_or("*")))
            .collect();
        assert_eq!(
            skipped,
            [
                " bad:*",
                "api:clientCert",
                "api:headers.Ref",
                "fs:sslVerify",
                "sso:*"
            ]
        );
        assert!(
            c.warnings
                .iter()
                .any(|w| w.contains("mcp.servers.api.headers.Authorization"))
        );
        // The written text is our config, and secrets are masked when shown.
        let text = render(&c.servers, false);
        let back: crate::config::RawConfig = toml::from_str(&text).unwrap();
        assert!(back.mcp.contains_key("servers"));
        let shown = render(&c.servers, true);
        assert!(
            !shown.contains("Bearer") && shown.contains("[redacted]"),
            "{shown}"
        );
    }
}

//! `openclaw-node approvals`: the local exec policy that guards `system.run`. Show it,
//! allow or remove executables, and set the modes. Edits are atomic (a 0600 temp file
//! renamed over the old one, under a lock, with compare-and-swap), so a crash mid-write
//! leaves the previous policy intact, and a running node picks them up on its next call.

use std::process::ExitCode;

use anyhow::Context as _;
use clap::Subcommand;
use openclaw_capability_system::approvals::{AllowEntry, ApprovalsStore, Ask, Security};
use serde_json::json;

use super::global::GlobalArgs;
use crate::config::{Config, Overrides};

/// Flags of `approvals`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Machine-readable output.
    #[arg(long, global = true)]
    pub json: bool,
    /// What to do (default: show).
    #[command(subcommand)]
    pub action: Option<Action>,
}

/// `approvals` actions.
#[derive(Debug, Subcommand)]
pub enum Action {
    /// Show the policy, the effective modes and the allowlist.
    Show,
    /// Allow an executable: a bare name (`git`, matches it found through PATH), an absolute
    /// path or a path glob (`/usr/bin/*`, `~/bin/**`).
    Allow {
        /// The pattern.
        pattern: String,
        /// Only with arguments matching this regular expression.
        #[arg(long)]
        arg_pattern: Option<String>,
        /// The agent the entry is for (`*` = every agent).
        #[arg(long, default_value = "*")]
        agent: String,
    },
    /// Remove allowlist entries with this pattern.
    Remove {
        /// The pattern, as shown by `approvals show`.
        pattern: String,
        /// The agent (`*` = every agent).
        #[arg(long, default_value = "*")]
        agent: String,
    },
    /// Set the modes (for every agent unless --agent is given).
    Set {
        /// `deny`, `allowlist` or `full`.
        #[arg(long)]
        security: Option<String>,
        /// `off`, `on-miss` or `always`.
        #[arg(long)]
        ask: Option<String>,
        /// What a miss resolves to on this headless node: `deny`, `allowlist` or `full`.
        #[arg(long)]
        ask_fallback: Option<String>,
        /// Set it for this agent only.
        #[arg(long)]
        agent: Option<String>,
    },
}

/// Runs `approvals`.
pub async fn run(args: Args, global: &GlobalArgs) -> anyhow::Result<ExitCode> {
    let overrides = Overrides {
        config_file: global.config.clone(),
        state_dir: global.state_dir.clone(),
        ..Default::default()
    };
    let env = global.env_lookup()?;
    let config = Config::load(&overrides, &env)?;
    let store = ApprovalsStore::in_state_dir(&config.state_dir);
    match args.action.unwrap_or(Action::Show) {
        Action::Show => {}
        Action::Allow {
            pattern,
            arg_pattern,
            agent,
        } => {
            if pattern.trim().is_empty() {
                anyhow::bail!("the pattern cannot be empty");
            }
            if let Some(re) = &arg_pattern {
                openclaw_capability_system::approvals::ArgPattern::new(re)
                    .map_err(anyhow::Error::msg)
                    .with_context(|| {
                        format!("--arg-pattern {re:?} is not a valid regular expression")
                    })?;
            }
            store.update(|doc| {
                let list = &mut doc.agents.entry(agent.clone()).or_default().allowlist;
                if !list
                    .iter()
                    .any(|e| e.pattern == pattern && e.arg_pattern == arg_pattern)
                {
                    list.push(AllowEntry {
                        pattern: pattern.clone(),
                        arg_pattern: arg_pattern.clone(),
                        ..Default::default()
                    });
                }
            })?;
            if !args.json {
                println!("allowed {pattern} for agent {agent}");
            }
        }
        Action::Remove { pattern, agent } => {
            let mut removed = 0;
            store.update(|doc| {
                if let Some(a) = doc.agents.get_mut(&agent) {
                    let before = a.allowlist.len();
                    a.allowlist.retain(|e| e.pattern != pattern);
                    removed = before - a.allowlist.len();
                }
            })?;
            if removed == 0 {
                anyhow::bail!(
                    "no entry {pattern:?} for agent {agent:?}; see `openclaw-node approvals show`"
                );
            }
            if !args.json {
                println!(
                    "removed {removed} entr{} for {pattern}",
                    if removed == 1 { "y" } else { "ies" }
                );
            }
        }
        Action::Set {
            security,
            ask,
            ask_fallback,
            agent,
        } => {
            let check_sec = |v: &Option<String>, flag: &str| -> anyhow::Result<()> {
                match v {
                    Some(s) if Security::parse(s).is_none() => {
                        anyhow::bail!("{flag} must be deny, allowlist or full")
                    }
                    _ => Ok(()),
                }
            };
            check_sec(&security, "--security")?;
            check_sec(&ask_fallback, "--ask-fallback")?;
            if let Some(a) = &ask
                && Ask::parse(a).is_none()
            {
                anyhow::bail!("--ask must be off, on-miss or always");
            }
            store.update(|doc| {
                let fields = match &agent {
                    Some(a) => &mut doc.agents.entry(a.clone()).or_default().fields,
                    None => doc.defaults.get_or_insert_with(Default::default),
                };
                if security.is_some() {
                    fields.security = security.clone();
                }
                if ask.is_some() {
                    fields.ask = ask.clone();
                }
                if ask_fallback.is_some() {
                    fields.ask_fallback = ask_fallback.clone();
                }
            })?;
            if !args.json {
                println!("updated the exec policy");
            }
        }
    }
    let snapshot = store.load()?;
    let effective = openclaw_capability_system::approvals::resolve_policy(
        &snapshot.doc,
        "main",
        (config.exec.security, config.exec.ask),
    );
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&json!({
                "path": store.path(),
                "exists": snapshot.exists,
                "hash": snapshot.hash,
                "file": snapshot.doc.redacted(),
                "effective": {
                    "security": effective.security.as_str(),
                    "ask": effective.ask.as_str(),
                    "askFallback": effective.ask_fallback.as_str(),
                },
                "error": snapshot.error,
            }))?
        );
    } else {
        if let Some(e) = &snapshot.error {
            println!(
                "WARNING: {} is malformed ({e}); every command is denied until it is fixed",
                store.path().display()
            );
        }
        println!(
            "policy file: {}{}",
            store.path().display(),
            if snapshot.exists {
                ""
            } else {
                " (not created yet)"
            }
        );
        println!(
            "effective:   security={} ask={} askFallback={}",
            effective.security.as_str(),
            effective.ask.as_str(),
            effective.ask_fallback.as_str()
        );
        if effective.allowlist.is_empty() {
            println!(
                "allowlist:   (empty; in allowlist mode nothing runs until you `openclaw-node approvals allow <executable>`)"
            );
        } else {
            println!("allowlist:");
            for (agent, a) in &snapshot.doc.agents {
                for e in &a.allowlist {
                    println!(
                        "  [{agent}] {}{}{}",
                        e.pattern,
                        e.arg_pattern
                            .as_deref()
                            .map(|p| format!("  args ~ {p}"))
                            .unwrap_or_default(),
                        e.source
                            .as_deref()
                            .map(|s| format!("  ({s})"))
                            .unwrap_or_default()
                    );
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

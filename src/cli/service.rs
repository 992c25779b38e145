//! `openclaw-node install|uninstall|start|stop|restart`: the node as a systemd user or
//! system service, or a launchd LaunchAgent on macOS. The planning lives in
//! [`crate::service`]; this file parses flags, prints plans and results.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use serde_json::json;

use super::global::GlobalArgs;
use crate::service::{
    self, InstallOptions, Platform, SERVICE_ENV_KEYS, Scope, lifecycle_command, paths,
};

/// Flags of `install`.
#[derive(Debug, clap::Args)]
pub struct InstallArgs {
    /// Install a system-wide unit running as the dedicated `openclaw-node` account
    /// (Linux; needs root). Default: a user unit.
    #[arg(long)]
    pub system: bool,
    /// Print the files and commands instead of applying them (secrets masked).
    #[arg(long)]
    pub dry_run: bool,
    /// Replace a unit or plist that openclaw-node did not write.
    #[arg(long)]
    pub force: bool,
    /// Machine-readable output.
    #[arg(long)]
    pub json: bool,
}

/// Flags of `uninstall`, `start`, `stop`, `restart`.
#[derive(Debug, clap::Args)]
pub struct LifecycleArgs {
    /// Act on the system-wide unit instead of the user unit.
    #[arg(long)]
    pub system: bool,
    /// Machine-readable output.
    #[arg(long)]
    pub json: bool,
}

fn scope(system: bool) -> anyhow::Result<Scope> {
    if system && Platform::current() == Platform::Launchd {
        anyhow::bail!("--system is for Linux/systemd; on macOS the node runs as a LaunchAgent");
    }
    Ok(if system { Scope::System } else { Scope::User })
}

fn home() -> anyhow::Result<PathBuf> {
    std::env::var_os("HOME")
        .map(PathBuf::from)
        .context("HOME is not set; cannot find where user services live")
}

/// Runs `install`.
pub async fn install(args: InstallArgs, global: &GlobalArgs) -> anyhow::Result<ExitCode> {
    let scope = scope(args.system)?;
    let platform = Platform::current();
    let exec = std::env::current_exe().context("cannot find this program's path")?;
    let mut run_args = Vec::new();
    if let Some(dir) = &global.state_dir {
        run_args.push("--state-dir".to_string());
        run_args.push(std::path::absolute(dir)?.display().to_string());
    }
    if let Some(config) = &global.config {
        run_args.push("--config".to_string());
        run_args.push(std::path::absolute(config)?.display().to_string());
    }
    let env = SERVICE_ENV_KEYS
        .iter()
        .filter_map(|(key, secret)| {
            std::env::var(key)
                .ok()
                .filter(|v| !v.is_empty())
                .map(|v| (key.to_string(), v, *secret))
        })
        .collect();
    let opts = InstallOptions {
        platform,
        scope,
        exec,
        home: home()?,
        xdg_config_home: std::env::var_os("XDG_CONFIG_HOME").map(PathBuf::from),
        run_args,
        env,
    };
    let plan = service::plan_install(&opts)?;
    let mut notes = Vec::new();
    if scope == Scope::System {
        notes.push(format!(
            "the unit runs as the account `{0}`; create it first if needed: sudo useradd --system --home /var/lib/openclaw-node --shell /usr/sbin/nologin {0}",
            service::SYSTEM_USER
        ));
    }
    if platform == Platform::Systemd && scope == Scope::User {
        let user = std::env::var("USER").unwrap_or_default();
        if service::linger_enabled(&user) == Some(false) {
            notes.push(format!(
                "linger is off for {user}: the node stops when you log out. Enable it with: sudo loginctl enable-linger {user}"
            ));
        }
    }
    if args.dry_run {
        if args.json {
            println!(
                "{}",
                serde_json::to_string_pretty(
                    &json!({"dryRun": true, "plan": plan, "notes": notes})
                )?
            );
        } else {
            for f in &plan.files {
                println!("# would write {} (mode {:o})", f.path.display(), f.mode);
                println!("{}", f.display_contents());
            }
            for c in &plan.commands {
                println!("# would run: {}", c.join(" "));
            }
            for n in &notes {
                println!("# note: {n}");
            }
        }
        return Ok(ExitCode::SUCCESS);
    }
    service::write_files(&plan, args.force)?;
    let mut ran = Vec::new();
    let manager_here = platform == Platform::Launchd || service::systemd_running();
    if manager_here {
        for c in &plan.commands {
            service::run_command(c)?;
            ran.push(c.join(" "));
        }
    } else {
        notes.push(
            "systemd is not running on this machine; the unit was written but not enabled. Run the node in the foreground with `openclaw-node run` instead".into(),
        );
    }
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&json!({
                "installed": true, "platform": plan.platform, "scope": plan.scope,
                "files": plan.files.iter().map(|f| json!({"path": f.path, "mode": format!("{:o}", f.mode)})).collect::<Vec<_>>(),
                "commands": ran, "notes": notes,
            }))?
        );
    } else {
        for f in &plan.files {
            println!("wrote {} (mode {:o})", f.path.display(), f.mode);
        }
        for c in &ran {
            println!("ran {c}");
        }
        for n in &notes {
            println!("note: {n}");
        }
        println!(
            "start it with: openclaw-node start{}",
            if args.system { " --system" } else { "" }
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Runs `uninstall`: stops and disables the service and removes the files it owns.
pub async fn uninstall(args: LifecycleArgs, _global: &GlobalArgs) -> anyhow::Result<ExitCode> {
    let scope = scope(args.system)?;
    let platform = Platform::current();
    let p = paths(
        platform,
        scope,
        &home()?,
        std::env::var_os("XDG_CONFIG_HOME")
            .map(PathBuf::from)
            .as_deref(),
    );
    let mut removed = Vec::new();
    let mut notes = Vec::new();
    if platform == Platform::Launchd || service::systemd_running() {
        let stop = lifecycle_command(platform, scope, "stop");
        if let Err(e) = service::run_command(&stop) {
            notes.push(format!("stopping: {e}"));
        }
        if platform == Platform::Systemd {
            let disable = lifecycle_command(platform, scope, "disable");
            if let Err(e) = service::run_command(&disable) {
                notes.push(format!("disabling: {e}"));
            }
        }
    }
    for path in [&p.unit, &p.env_file] {
        if service::is_foreign(path) {
            notes.push(format!(
                "left {} alone: not written by openclaw-node",
                path.display()
            ));
            continue;
        }
        match std::fs::remove_file(path) {
            Ok(()) => removed.push(path.display().to_string()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => anyhow::bail!("cannot remove {}: {e}", path.display()),
        }
    }
    if platform == Platform::Systemd && service::systemd_running() {
        let mut reload = vec!["systemctl".to_string()];
        if scope == Scope::User {
            reload.push("--user".into());
        }
        reload.push("daemon-reload".into());
        let _ = service::run_command(&reload);
    }
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&json!({"removed": removed, "notes": notes}))?
        );
    } else {
        if removed.is_empty() {
            println!("nothing to remove: the service is not installed");
        }
        for r in &removed {
            println!("removed {r}");
        }
        for n in &notes {
            println!("note: {n}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Runs `start`, `stop` or `restart`.
pub async fn lifecycle(action: &str, args: LifecycleArgs) -> anyhow::Result<ExitCode> {
    let scope = scope(args.system)?;
    let platform = Platform::current();
    if platform == Platform::Systemd && !service::systemd_running() {
        anyhow::bail!(
            "systemd is not running on this machine, so there is no service to {action}; run the node in the foreground with `openclaw-node run`"
        );
    }
    let argv = lifecycle_command(platform, scope, action);
    service::run_command(&argv)?;
    if args.json {
        println!(
            "{}",
            json!({"action": action, "ok": true, "command": argv.join(" ")})
        );
    } else {
        println!("{action}: ok ({})", argv.join(" "));
    }
    Ok(ExitCode::SUCCESS)
}

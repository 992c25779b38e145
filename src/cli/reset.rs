//! `openclaw-node reset`: removes this node's credentials (device key and device tokens)
//! after confirmation. The next start creates a new identity, which the gateway sees as a
//! new device that must be paired again.

use std::io::{BufRead as _, IsTerminal as _, Write as _};
use std::process::ExitCode;

use super::global::GlobalArgs;
use crate::config::{Config, Overrides};

/// Flags of `reset`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Do not ask for confirmation.
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// Machine-readable output.
    #[arg(long)]
    pub json: bool,
}

/// Runs `reset`.
pub async fn run(args: Args, global: &GlobalArgs) -> anyhow::Result<ExitCode> {
    let overrides = Overrides {
        config_file: global.config.clone(),
        state_dir: global.state_dir.clone(),
        ..Default::default()
    };
    let env = global.env_lookup()?;
    let config = Config::load(&overrides, &env)?;
    let marker = config.state_dir.join("credential-store");
    let recorded = std::fs::read_to_string(&marker).ok();
    let choice = match recorded.as_deref().map(str::trim) {
        Some("keychain") => crate::credentials::StoreChoice::Keychain,
        _ => crate::credentials::StoreChoice::File,
    };
    let store = crate::credentials::open_store(choice, &config.state_dir)?;
    let device = store.load_identity().ok().flatten().map(|i| i.device_id());
    if !args.yes {
        if !std::io::stdin().is_terminal() {
            anyhow::bail!("refusing to reset without confirmation; pass --yes to confirm");
        }
        eprint!(
            "This removes the device key{} and all device tokens from {}.\nThe gateway will see a new device that must be paired again. Continue? [y/N] ",
            device
                .as_deref()
                .map(|d| format!(" of {d}"))
                .unwrap_or_default(),
            store.location()
        );
        std::io::stderr().flush()?;
        let mut answer = String::new();
        std::io::stdin().lock().read_line(&mut answer)?;
        if !matches!(answer.trim(), "y" | "Y" | "yes") {
            eprintln!("nothing changed");
            return Ok(ExitCode::from(crate::exit::FAILURE));
        }
    }
    store.clear_all()?;
    match std::fs::remove_file(&marker) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => anyhow::bail!("cannot remove {}: {e}", marker.display()),
    }
    if args.json {
        println!(
            "{}",
            serde_json::json!({"reset": true, "deviceId": device, "store": store.kind(), "location": store.location()})
        );
    } else {
        println!(
            "removed the credentials{} from {}",
            device.map(|d| format!(" of {d}")).unwrap_or_default(),
            store.location()
        );
    }
    Ok(ExitCode::SUCCESS)
}

//! The embedded gateway's pairing state: paired devices (with their device tokens and
//! approved command surfaces) and pending requests, persisted as one JSON file in the
//! gateway's state directory (mode 0600, replaced atomically) so a restart keeps approved
//! devices.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::protocol::{PendingDevice, PendingNode};

/// A paired device.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeviceRecord {
    /// Raw public key, base64url.
    pub public_key: String,
    /// Display name at approval.
    pub display_name: Option<String>,
    /// Platform at approval.
    pub platform: Option<String>,
    /// Device family at approval.
    pub device_family: Option<String>,
    /// Approved roles.
    pub roles: BTreeSet<String>,
    /// Approved scopes.
    pub scopes: Vec<String>,
    /// Device tokens by role.
    pub tokens: BTreeMap<String, TokenRecord>,
    /// The approved command surface (`None` until a node.pair approval).
    pub approved_commands: Option<BTreeSet<String>>,
    /// When the device was approved.
    pub approved_at_ms: u64,
    /// When the command surface was approved.
    pub commands_approved_at_ms: Option<u64>,
}

/// A device token.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TokenRecord {
    /// The token (a secret; the state file is 0600).
    pub token: String,
    /// When issued.
    pub issued_at_ms: u64,
}

/// A pending node command-surface request with its bookkeeping.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PendingNodeRecord {
    /// What operators see.
    pub request: PendingNode,
}

/// Everything persisted.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Persisted {
    /// Paired devices by id.
    pub devices: BTreeMap<String, DeviceRecord>,
    /// Pending device requests.
    pub pending_devices: Vec<PendingDevice>,
    /// Pending command-surface requests.
    pub pending_nodes: Vec<PendingNode>,
}

/// Where the state lives.
#[derive(Debug, Clone)]
pub struct Store {
    path: Option<PathBuf>,
}

impl Store {
    /// A store in `dir` (`None` = memory only).
    pub fn new(dir: Option<&Path>) -> Self {
        Self {
            path: dir.map(|d| d.join("gateway-state.json")),
        }
    }

    /// Loads the state (empty when there is none yet).
    pub fn load(&self) -> anyhow::Result<Persisted> {
        let Some(path) = &self.path else {
            return Ok(Persisted::default());
        };
        match std::fs::read_to_string(path) {
            Ok(text) => serde_json::from_str(&text)
                .map_err(|e| anyhow::anyhow!("gateway state {} is not valid: {e}", path.display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Persisted::default()),
            Err(e) => Err(anyhow::anyhow!(
                "cannot read gateway state {}: {e}",
                path.display()
            )),
        }
    }

    /// Writes the state atomically (0600).
    pub fn save(&self, state: &Persisted) {
        let Some(path) = &self.path else { return };
        let text = match serde_json::to_vec_pretty(state) {
            Ok(t) => t,
            Err(e) => {
                tracing::error!(error = %e, "cannot encode the gateway state");
                return;
            }
        };
        if let Err(e) = crate::credentials::write_secret_file(path, &text) {
            tracing::error!(path = %path.display(), error = %e, "cannot save the gateway state; the previous file is intact");
        }
    }
}

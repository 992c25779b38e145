//! What every credential store is: the [`CredentialStore`] interface, the token and key
//! types it stores, its error, and the one rule for identities (created only when none is
//! stored). The stores themselves live beside it (`FileStore`, `MemoryStore` in the
//! parent module, the OS keychain in `keychain`).

use serde::{Deserialize, Serialize};

use crate::identity::DeviceIdentity;

/// Why a credential could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum CredentialError {
    /// The store exists but cannot be read or parsed; the identity is not regenerated.
    #[error(
        "credential store {path} cannot be read: {reason}; fix its permissions or contents, or remove it with `openclaw-node reset` to start over with a new identity"
    )]
    Unreadable {
        /// The file or keychain entry.
        path: String,
        /// What went wrong.
        reason: String,
    },
    /// The node's credentials are in a different store than the one asked for.
    #[error(
        "this node keeps its credentials in the {recorded} store, not the {wanted} store; switching would make it a new device (to start over on purpose: `openclaw-node reset`)"
    )]
    StoreMismatch {
        /// The store recorded in the state directory.
        recorded: String,
        /// The store asked for.
        wanted: String,
    },
    /// The keychain is required (recorded or forced) but cannot be used now.
    #[error(
        "the OS keychain is not usable: {reason}; unlock it (or run inside a desktop session), or start over with `openclaw-node reset` and --credential-store file"
    )]
    KeychainUnavailable {
        /// Why.
        reason: String,
    },
    /// Writing failed; the previous contents are intact.
    #[error("could not write credential store {path}: {reason}")]
    Write {
        /// The file or keychain entry.
        path: String,
        /// What went wrong.
        reason: String,
    },
}

/// A device token issued by a gateway in hello-ok.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StoredToken {
    /// The token (a secret).
    pub token: String,
    /// The scopes it covers.
    #[serde(default)]
    pub scopes: Vec<String>,
    /// When it was issued, ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issued_at_ms: Option<u64>,
}

impl std::fmt::Debug for StoredToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredToken")
            .field("token", &"[redacted]")
            .field("scopes", &self.scopes)
            .field("issued_at_ms", &self.issued_at_ms)
            .finish()
    }
}

/// Which gateway, device and role a token belongs to.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct TokenKey {
    /// The gateway origin, e.g. `ws://127.0.0.1:18789`.
    pub gateway: String,
    /// The device id.
    pub device_id: String,
    /// The role (`node`).
    pub role: String,
}

impl TokenKey {
    pub(super) fn as_string(&self) -> String {
        format!("{}|{}|{}", self.gateway, self.device_id, self.role)
    }
}

/// A place to keep the device identity and device tokens. Calls may block (keychains do);
/// call them from `spawn_blocking` on hot paths.
pub trait CredentialStore: Send + Sync + 'static {
    /// A short name for `status`: `file`, `keychain`, `memory`.
    fn kind(&self) -> &'static str;
    /// Where it is, for `status` (a path or a keychain service name).
    fn location(&self) -> String;
    /// The stored identity; `Ok(None)` only when nothing is stored.
    fn load_identity(&self) -> Result<Option<DeviceIdentity>, CredentialError>;
    /// Stores the identity, replacing any previous one.
    fn save_identity(&self, identity: &DeviceIdentity) -> Result<(), CredentialError>;
    /// The device token for this key, if one is stored.
    fn load_token(&self, key: &TokenKey) -> Result<Option<StoredToken>, CredentialError>;
    /// Stores (or replaces) the device token for this key.
    fn save_token(&self, key: &TokenKey, token: &StoredToken) -> Result<(), CredentialError>;
    /// Forgets the device token for this key.
    fn clear_token(&self, key: &TokenKey) -> Result<(), CredentialError>;
    /// Removes everything this store holds.
    fn clear_all(&self) -> Result<(), CredentialError>;
}

/// Loads the identity, or creates and stores one when (and only when) none is stored.
pub fn load_or_create_identity(
    store: &dyn CredentialStore,
) -> Result<DeviceIdentity, CredentialError> {
    if let Some(identity) = store.load_identity()? {
        return Ok(identity);
    }
    let identity = DeviceIdentity::generate();
    store.save_identity(&identity)?;
    tracing::info!(device_id = %identity.device_id(), store = store.kind(), "created a new device identity");
    Ok(identity)
}

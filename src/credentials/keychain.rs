//! The OS keychain as a [`CredentialStore`]: the macOS Keychain, or the Secret Service
//! (GNOME Keyring, KWallet) on a Linux desktop, through `keyring-core` and its store
//! crates. Entries live under the service `openclaw-node`; each entry's user name carries
//! the state directory so two nodes of one account never share a key.
//!
//! The keychain APIs block; callers on async paths use `spawn_blocking`.

use std::path::Path;
use std::sync::Arc;

use keyring_core::Entry;
use keyring_core::api::CredentialStore as NativeStore;
use keyring_core::error::Error as KeyringError;

use super::store::{CredentialError, CredentialStore, StoredToken, TokenKey};
use crate::identity::DeviceIdentity;

/// The keychain service name.
pub const SERVICE: &str = "openclaw-node";

/// Opens the platform's native store.
fn native_store() -> Result<Arc<NativeStore>, KeyringError> {
    #[cfg(target_os = "linux")]
    {
        let store: Arc<NativeStore> = zbus_secret_service_keyring_store::Store::new()?;
        Ok(store)
    }
    #[cfg(target_os = "macos")]
    {
        let store: Arc<NativeStore> = apple_native_keyring_store::keychain::Store::new()?;
        Ok(store)
    }
}

/// Credentials in the OS keychain.
pub struct KeychainStore {
    store: Arc<NativeStore>,
    scope: String,
}

impl std::fmt::Debug for KeychainStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeychainStore")
            .field("scope", &self.scope)
            .finish_non_exhaustive()
    }
}

impl KeychainStore {
    /// Opens the keychain for the node whose state lives in `state_dir`, and proves it
    /// usable (write, read back, delete a probe entry). `Err` means "no usable keychain
    /// here" with the reason.
    pub fn open(state_dir: &Path) -> Result<Self, String> {
        let store = native_store().map_err(|e| describe(&e))?;
        let scope = std::path::absolute(state_dir)
            .unwrap_or_else(|_| state_dir.to_path_buf())
            .display()
            .to_string();
        let this = Self { store, scope };
        this.probe()?;
        Ok(this)
    }

    fn probe(&self) -> Result<(), String> {
        let entry = self
            .entry(&format!("probe:{}", std::process::id()))
            .map_err(|e| describe(&e))?;
        entry.set_password("probe").map_err(|e| describe(&e))?;
        let back = entry.get_password().map_err(|e| describe(&e))?;
        let _ = entry.delete_credential();
        if back != "probe" {
            return Err("the keychain returned a different value than was stored".into());
        }
        Ok(())
    }

    fn entry(&self, what: &str) -> Result<Entry, KeyringError> {
        self.store
            .build(SERVICE, &format!("{what}@{}", self.scope), None)
    }

    fn read(&self, what: &str) -> Result<Option<String>, CredentialError> {
        let entry = self.entry(what).map_err(|e| self.unreadable(&e))?;
        match entry.get_password() {
            Ok(v) => Ok(Some(v)),
            Err(KeyringError::NoEntry) => Ok(None),
            Err(e) => Err(self.unreadable(&e)),
        }
    }

    fn write(&self, what: &str, value: &str) -> Result<(), CredentialError> {
        self.entry(what)
            .and_then(|e| e.set_password(value))
            .map_err(|e| CredentialError::Write {
                path: self.location(),
                reason: describe(&e),
            })
    }

    fn delete(&self, what: &str) -> Result<(), CredentialError> {
        match self.entry(what).and_then(|e| e.delete_credential()) {
            Ok(()) | Err(KeyringError::NoEntry) => Ok(()),
            Err(e) => Err(CredentialError::Write {
                path: self.location(),
                reason: describe(&e),
            }),
        }
    }

    fn unreadable(&self, e: &KeyringError) -> CredentialError {
        CredentialError::Unreadable {
            path: self.location(),
            reason: describe(e),
        }
    }

    fn token_name(key: &TokenKey) -> String {
        format!("token:{}|{}|{}", key.gateway, key.device_id, key.role)
    }
}

/// A keyring error in words, without any secret (keyring errors carry none except
/// `BadEncoding`/`BadDataFormat`, whose bytes are not printed here).
fn describe(e: &KeyringError) -> String {
    match e {
        KeyringError::PlatformFailure(inner) => format!("keychain failure: {inner}"),
        KeyringError::NoStorageAccess(inner) => {
            format!("the keychain is locked or refused access: {inner}")
        }
        KeyringError::NoDefaultStore => "no keychain is available".into(),
        KeyringError::NoEntry => "no such entry".into(),
        KeyringError::BadEncoding(_) | KeyringError::BadDataFormat(_, _) => {
            "an entry holds data that is not valid".into()
        }
        other => other.to_string(),
    }
}

impl CredentialStore for KeychainStore {
    fn kind(&self) -> &'static str {
        "keychain"
    }

    fn location(&self) -> String {
        format!("OS keychain, service {SERVICE:?}, scope {}", self.scope)
    }

    fn load_identity(&self) -> Result<Option<DeviceIdentity>, CredentialError> {
        let Some(hex_seed) = self.read("device-key")? else {
            return Ok(None);
        };
        let seed: [u8; 32] = hex::decode(hex_seed.trim())
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| CredentialError::Unreadable {
                path: self.location(),
                reason: "the device key is not 32 hex-encoded bytes".into(),
            })?;
        Ok(Some(DeviceIdentity::from_seed(&seed)))
    }

    fn save_identity(&self, identity: &DeviceIdentity) -> Result<(), CredentialError> {
        self.write("device-key", &hex::encode(identity.seed()))
    }

    fn load_token(&self, key: &TokenKey) -> Result<Option<StoredToken>, CredentialError> {
        match self.read(&Self::token_name(key))? {
            None => Ok(None),
            Some(text) => {
                serde_json::from_str(&text)
                    .map(Some)
                    .map_err(|e| CredentialError::Unreadable {
                        path: self.location(),
                        reason: format!("a device token entry is not valid JSON: {e}"),
                    })
            }
        }
    }

    fn save_token(&self, key: &TokenKey, token: &StoredToken) -> Result<(), CredentialError> {
        let text = serde_json::to_string(token).map_err(|e| CredentialError::Write {
            path: self.location(),
            reason: e.to_string(),
        })?;
        self.write(&Self::token_name(key), &text)
    }

    fn clear_token(&self, key: &TokenKey) -> Result<(), CredentialError> {
        self.delete(&Self::token_name(key))
    }

    fn clear_all(&self) -> Result<(), CredentialError> {
        self.delete("device-key")?;
        let spec = std::collections::HashMap::from([("service", SERVICE)]);
        if let Ok(entries) = self.store.search(&spec) {
            let suffix = format!("@{}", self.scope);
            for entry in entries {
                let ours = entry
                    .get_specifiers()
                    .is_some_and(|(_, user)| user.ends_with(&suffix));
                if ours {
                    let _ = entry.delete_credential();
                }
            }
        }
        Ok(())
    }
}

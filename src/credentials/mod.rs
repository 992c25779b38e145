//! Where the device key and device tokens live.
//!
//! [`CredentialStore`] is the one interface the rest of the node uses. This module owns
//! the stores: [`FileStore`] (files created with mode 0600 at open time and replaced
//! atomically, for headless boxes) and [`MemoryStore`] (ephemeral identities and tests).
//! It does not decide *which* token to present to a gateway; that is the session's job.
//!
//! [`open_store`] picks the store: the OS keychain ([`keychain::KeychainStore`]) when one
//! is usable, else the file; the choice is recorded in the state directory so a later run
//! (say, at boot before the keychain is unlocked) fails closed instead of switching stores
//! and silently becoming a new device.
//!
//! The state directory they live in is created 0700 by [`create_private_dir`], the one
//! helper every command that may create it uses.
//!
//! Never regenerate an identity silently: a store that cannot be read is an error, and
//! only a store that positively says "nothing stored" leads to a fresh key.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use crate::identity::DeviceIdentity;

#[cfg(any(target_os = "linux", target_os = "macos"))]
pub mod keychain;
mod private_dir;
mod store;

pub use private_dir::{PrivateDir, create_private_dir, ensure_state_dir, open_to_others};
pub use store::{CredentialError, CredentialStore, StoredToken, TokenKey, load_or_create_identity};

/// Which credential store to use (`--credential-store`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StoreChoice {
    /// The one this node used before; for a new node the keychain if usable, else a file.
    #[default]
    Auto,
    /// The OS keychain; an error if it is not usable.
    Keychain,
    /// A 0600 file in the state directory.
    File,
}

impl std::str::FromStr for StoreChoice {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "auto" => Ok(Self::Auto),
            "keychain" => Ok(Self::Keychain),
            "file" => Ok(Self::File),
            other => Err(format!(
                "unknown credential store {other:?} (auto, keychain, file)"
            )),
        }
    }
}

/// The file in the state directory that records which store a node uses.
const STORE_MARKER: &str = "credential-store";

/// The store a node in `state_dir` uses, as recorded there (`None` for a new node).
/// Reads only; creates nothing.
pub fn recorded_store(state_dir: &Path) -> Option<StoreChoice> {
    match fs::read_to_string(state_dir.join(STORE_MARKER)) {
        Ok(text) => text.trim().parse().ok(),
        Err(_) => state_dir
            .join("credentials.json")
            .exists()
            .then_some(StoreChoice::File),
    }
}

/// Opens the credential store for the node whose state lives in `state_dir`.
pub fn open_store(
    choice: StoreChoice,
    state_dir: &Path,
) -> Result<std::sync::Arc<dyn CredentialStore>, CredentialError> {
    let marker_path = state_dir.join(STORE_MARKER);
    let recorded = match fs::read_to_string(&marker_path) {
        Ok(text) => Some(text.trim().to_string()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            // A node from before the marker existed used the file store.
            state_dir
                .join("credentials.json")
                .exists()
                .then(|| "file".to_string())
        }
        Err(e) => {
            return Err(CredentialError::Unreadable {
                path: marker_path.display().to_string(),
                reason: e.to_string(),
            });
        }
    };
    let wanted = match (choice, recorded.as_deref()) {
        (StoreChoice::Auto, Some("keychain")) | (StoreChoice::Keychain, _) => "keychain",
        (StoreChoice::Auto, Some("file")) | (StoreChoice::File, _) => "file",
        (StoreChoice::Auto, Some(other)) => {
            return Err(CredentialError::Unreadable {
                path: marker_path.display().to_string(),
                reason: format!("unknown credential store {other:?}"),
            });
        }
        (StoreChoice::Auto, None) => "probe",
    };
    if let Some(recorded) = recorded.as_deref()
        && wanted != "probe"
        && wanted != recorded
    {
        return Err(CredentialError::StoreMismatch {
            recorded: recorded.to_string(),
            wanted: wanted.to_string(),
        });
    }
    let store: std::sync::Arc<dyn CredentialStore> = match wanted {
        "file" => std::sync::Arc::new(FileStore::in_state_dir(state_dir)),
        "keychain" => match open_keychain(state_dir) {
            Ok(store) => store,
            Err(reason) => return Err(CredentialError::KeychainUnavailable { reason }),
        },
        _ => match open_keychain(state_dir) {
            Ok(store) => store,
            Err(reason) => {
                tracing::info!(%reason, "no usable OS keychain; keeping credentials in a 0600 file");
                std::sync::Arc::new(FileStore::in_state_dir(state_dir))
            }
        },
    };
    if recorded.is_none() {
        create_private_dir(state_dir)
            .and_then(|_| fs::write(&marker_path, format!("{}\n", store.kind())))
            .map_err(|e| CredentialError::Write {
                path: marker_path.display().to_string(),
                reason: e.to_string(),
            })?;
    }
    Ok(store)
}

#[cfg(any(target_os = "linux", target_os = "macos"))]
fn open_keychain(state_dir: &Path) -> Result<std::sync::Arc<dyn CredentialStore>, String> {
    keychain::KeychainStore::open(state_dir)
        .map(|s| std::sync::Arc::new(s) as std::sync::Arc<dyn CredentialStore>)
}

#[cfg(not(any(target_os = "linux", target_os = "macos")))]
fn open_keychain(_state_dir: &Path) -> Result<std::sync::Arc<dyn CredentialStore>, String> {
    Err("no keychain support on this platform".into())
}

/// The on-disk document of [`FileStore`].
#[derive(Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct FileDoc {
    version: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    device_seed_hex: Option<String>,
    #[serde(default)]
    tokens: BTreeMap<String, StoredToken>,
}

/// Credentials in one JSON file, mode 0600, replaced atomically (write a 0600 temp file in
/// the same directory, fsync, rename). A mutex serialises writers within the process.
#[derive(Debug)]
pub struct FileStore {
    path: PathBuf,
    lock: Mutex<()>,
}

impl FileStore {
    /// A store at `path` (the file need not exist yet).
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self {
            path: path.into(),
            lock: Mutex::new(()),
        }
    }

    /// The default file name inside a state directory.
    pub fn in_state_dir(state_dir: &Path) -> Self {
        Self::new(state_dir.join("credentials.json"))
    }

    fn unreadable(&self, reason: impl ToString) -> CredentialError {
        CredentialError::Unreadable {
            path: self.path.display().to_string(),
            reason: reason.to_string(),
        }
    }

    fn write_err(&self, reason: impl ToString) -> CredentialError {
        CredentialError::Write {
            path: self.path.display().to_string(),
            reason: reason.to_string(),
        }
    }

    fn read(&self) -> Result<FileDoc, CredentialError> {
        match fs::read_to_string(&self.path) {
            Ok(text) => serde_json::from_str(&text).map_err(|e| self.unreadable(e)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(FileDoc {
                version: 1,
                ..Default::default()
            }),
            Err(e) => Err(self.unreadable(e)),
        }
    }

    fn write(&self, doc: &FileDoc) -> Result<(), CredentialError> {
        let text = serde_json::to_string_pretty(doc).map_err(|e| self.write_err(e))?;
        write_secret_file(&self.path, text.as_bytes()).map_err(|e| self.write_err(e))
    }

    fn update(&self, f: impl FnOnce(&mut FileDoc)) -> Result<(), CredentialError> {
        let _guard = self.lock.lock().unwrap_or_else(|p| p.into_inner());
        let mut doc = self.read()?;
        doc.version = 1;
        f(&mut doc);
        self.write(&doc)
    }
}

/// Writes `bytes` to `path` atomically with mode 0600 (see
/// [`openclaw_capability_api::fs::write_private_file`]).
pub fn write_secret_file(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    openclaw_capability_api::fs::write_private_file(path, bytes)
}

impl CredentialStore for FileStore {
    fn kind(&self) -> &'static str {
        "file"
    }

    fn location(&self) -> String {
        self.path.display().to_string()
    }

    fn load_identity(&self) -> Result<Option<DeviceIdentity>, CredentialError> {
        let doc = self.read()?;
        let Some(hex_seed) = doc.device_seed_hex else {
            return Ok(None);
        };
        let seed: [u8; 32] = hex::decode(hex_seed.trim())
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| self.unreadable("the device key is not 32 hex-encoded bytes"))?;
        Ok(Some(DeviceIdentity::from_seed(&seed)))
    }

    fn save_identity(&self, identity: &DeviceIdentity) -> Result<(), CredentialError> {
        let seed = hex::encode(identity.seed());
        self.update(|doc| doc.device_seed_hex = Some(seed))
    }

    fn load_token(&self, key: &TokenKey) -> Result<Option<StoredToken>, CredentialError> {
        Ok(self.read()?.tokens.get(&key.as_string()).cloned())
    }

    fn save_token(&self, key: &TokenKey, token: &StoredToken) -> Result<(), CredentialError> {
        self.update(|doc| {
            doc.tokens.insert(key.as_string(), token.clone());
        })
    }

    fn clear_token(&self, key: &TokenKey) -> Result<(), CredentialError> {
        self.update(|doc| {
            doc.tokens.remove(&key.as_string());
        })
    }

    fn clear_all(&self) -> Result<(), CredentialError> {
        let _guard = self.lock.lock().unwrap_or_else(|p| p.into_inner());
        match fs::remove_file(&self.path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(self.write_err(e)),
        }
    }
}

/// Credentials kept in memory only: ephemeral CI identities and tests.
#[derive(Default)]
pub struct MemoryStore {
    identity: Mutex<Option<DeviceIdentity>>,
    tokens: Mutex<BTreeMap<TokenKey, StoredToken>>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }
}

impl CredentialStore for MemoryStore {
    fn kind(&self) -> &'static str {
        "memory"
    }

    fn location(&self) -> String {
        "process memory (ephemeral)".into()
    }

    fn load_identity(&self) -> Result<Option<DeviceIdentity>, CredentialError> {
        Ok(self
            .identity
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone())
    }

    fn save_identity(&self, identity: &DeviceIdentity) -> Result<(), CredentialError> {
        *self.identity.lock().unwrap_or_else(|p| p.into_inner()) = Some(identity.clone());
        Ok(())
    }

    fn load_token(&self, key: &TokenKey) -> Result<Option<StoredToken>, CredentialError> {
        Ok(self
            .tokens
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(key)
            .cloned())
    }

    fn save_token(&self, key: &TokenKey, token: &StoredToken) -> Result<(), CredentialError> {
        self.tokens
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(key.clone(), token.clone());
        Ok(())
    }

    fn clear_token(&self, key: &TokenKey) -> Result<(), CredentialError> {
        self.tokens
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(key);
        Ok(())
    }

    fn clear_all(&self) -> Result<(), CredentialError> {
        *self.identity.lock().unwrap_or_else(|p| p.into_inner()) = None;
        self.tokens
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt as _;

    fn key() -> TokenKey {
        TokenKey {
            gateway: "ws://127.0.0.1:1".into(),
            device_id: "d".into(),
            role: "node".into(),
        }
    }

    #[test]
    fn file_store_round_trips_with_mode_0600() {
        let dir = tempfile::tempdir().unwrap();
        let store = FileStore::in_state_dir(dir.path());
        assert!(store.load_identity().unwrap().is_none());
        let id = load_or_create_identity(&store).unwrap();
        let again = load_or_create_identity(&store).unwrap();
        assert_eq!(id.device_id(), again.device_id());
        let tok = StoredToken {
            token: "secret-token".into(),
            scopes: vec![],
            issued_at_ms: Some(1),
        };
        store.save_token(&key(), &tok).unwrap();
        assert_eq!(store.load_token(&key()).unwrap(), Some(tok));
        let mode = fs::metadata(store.location()).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        store.clear_token(&key()).unwrap();
        assert_eq!(store.load_token(&key()).unwrap(), None);
        store.clear_all().unwrap();
        assert!(store.load_identity().unwrap().is_none());
    }

    #[test]
    fn corrupt_store_fails_closed_and_is_not_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        let store = FileStore::in_state_dir(dir.path());
        fs::write(store.location(), "{not json").unwrap();
        let err = load_or_create_identity(&store).unwrap_err();
        assert!(err.to_string().contains("openclaw-node reset"), "{err}");
        assert_eq!(fs::read_to_string(store.location()).unwrap(), "{not json");
    }

    #[test]
    fn concurrent_writers_leave_a_valid_file() {
        let dir = tempfile::tempdir().unwrap();
        let store = std::sync::Arc::new(FileStore::in_state_dir(dir.path()));
        let threads: Vec<_> = (0..8)
            .map(|i| {
                let store = store.clone();
                std::thread::spawn(move || {
                    for j in 0..20 {
                        let k = TokenKey {
                            gateway: format!("g{i}"),
                            device_id: format!("d{j}"),
                            role: "node".into(),
                        };
                        let t = StoredToken {
                            token: format!("t{i}-{j}"),
                            scopes: vec![],
                            issued_at_ms: None,
                        };
                        store.save_token(&k, &t).unwrap();
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        let doc = store.read().unwrap();
        assert_eq!(doc.tokens.len(), 160);
        let leftovers: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .filter_map(Result::ok)
            .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
            .collect();
        assert!(leftovers.is_empty());
    }

    #[test]
    fn open_store_records_its_choice_and_refuses_to_switch() {
        let dir = tempfile::tempdir().unwrap();
        let store = open_store(StoreChoice::File, dir.path()).unwrap();
        assert_eq!(store.kind(), "file");
        let id = load_or_create_identity(store.as_ref()).unwrap();
        let again = open_store(StoreChoice::Auto, dir.path()).unwrap();
        assert_eq!(again.kind(), "file");
        assert_eq!(
            load_or_create_identity(again.as_ref()).unwrap().device_id(),
            id.device_id()
        );
        let err = open_store(StoreChoice::Keychain, dir.path()).err().unwrap();
        assert!(
            matches!(err, CredentialError::StoreMismatch { .. }),
            "{err}"
        );
    }

    #[test]
    fn a_recorded_keychain_that_is_gone_fails_closed() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join(STORE_MARKER), "keychain\n").unwrap();
        match open_store(StoreChoice::Auto, dir.path()) {
            // A usable keychain here (desktop or CI with gnome-keyring): fine.
            Ok(store) => assert_eq!(store.kind(), "keychain"),
            Err(e) => {
                assert!(
                    matches!(e, CredentialError::KeychainUnavailable { .. }),
                    "{e}"
                );
                assert!(!dir.path().join("credentials.json").exists());
            }
        }
    }

    /// Runs against a real Secret Service (`scripts/test` starts gnome-keyring under
    /// dbus-run-session) or the macOS Keychain.
    #[cfg(any(target_os = "linux", target_os = "macos"))]
    #[test]
    #[ignore = "needs a Secret Service (gnome-keyring on a session bus): scripts/test"]
    fn keychain_store_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        let store = keychain::KeychainStore::open(dir.path()).unwrap_or_else(|reason| {
            panic!("no usable keychain ({reason}): run scripts/test, which starts gnome-keyring")
        });
        assert!(store.load_identity().unwrap().is_none());
        let id = load_or_create_identity(&store).unwrap();
        assert_eq!(
            store.load_identity().unwrap().unwrap().device_id(),
            id.device_id()
        );
        let tok = StoredToken {
            token: "kc-token".into(),
            scopes: vec!["a".into()],
            issued_at_ms: Some(2),
        };
        store.save_token(&key(), &tok).unwrap();
        assert_eq!(store.load_token(&key()).unwrap(), Some(tok));
        store.clear_token(&key()).unwrap();
        assert_eq!(store.load_token(&key()).unwrap(), None);
        store.clear_all().unwrap();
        assert!(store.load_identity().unwrap().is_none());
        assert!(!store.location().contains("kc-token"));
    }

    #[test]
    fn token_debug_is_redacted() {
        let tok = StoredToken {
            token: "secret-token".into(),
            scopes: vec![],
            issued_at_ms: None,
        };
        assert!(!format!("{tok:?}").contains("secret-token"));
    }
}

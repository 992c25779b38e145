//! The exec-approvals document (spec exec-approvals.md §2–§3) and its file store: JSON at
//! `<state dir>/exec-approvals.json`, mode 0600, replaced atomically under an exclusive
//! lock, with compare-and-swap on the SHA-256 of the stored text. A missing file is the
//! empty document; a malformed one fails closed to deny-all.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest as _, Sha256};

/// `security`: how much may run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Security {
    /// Nothing runs.
    Deny,
    /// Only allowlisted commands run.
    Allowlist,
    /// Everything runs.
    Full,
}

impl Security {
    /// Parses the wire spelling.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "deny" => Some(Self::Deny),
            "allowlist" => Some(Self::Allowlist),
            "full" => Some(Self::Full),
            _ => None,
        }
    }

    /// The wire spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Deny => "deny",
            Self::Allowlist => "allowlist",
            Self::Full => "full",
        }
    }
}

/// `ask`: when a human must approve.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Ask {
    /// Never.
    Off,
    /// When the allowlist does not cover the command.
    OnMiss,
    /// Always.
    Always,
}

impl Ask {
    /// Parses the wire spelling.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "off" => Some(Self::Off),
            "on-miss" => Some(Self::OnMiss),
            "always" => Some(Self::Always),
            _ => None,
        }
    }

    /// The wire spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Off => "off",
            Self::OnMiss => "on-miss",
            Self::Always => "always",
        }
    }
}

/// Policy scalars of `defaults` or an agent (strings kept raw; invalid values are ignored
/// when resolving, as the reference drops them on load).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PolicyFields {
    /// `deny|allowlist|full`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub security: Option<String>,
    /// `off|on-miss|always`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ask: Option<String>,
    /// What a miss resolves to when nobody can approve.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ask_fallback: Option<String>,
    /// Trust the gateway's skill bins.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auto_allow_skills: Option<bool>,
}

impl PolicyFields {
    fn drop_unknown(&mut self) {
        let known_security = |v: Option<&str>| v.and_then(Security::parse).is_some();
        if !known_security(self.security.as_deref()) {
            self.security = None;
        }
        if !known_security(self.ask_fallback.as_deref()) {
            self.ask_fallback = None;
        }
        if self.ask.as_deref().and_then(Ask::parse).is_none() {
            self.ask = None;
        }
    }
}

/// One allowlist entry.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AllowEntry {
    /// Stable id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Executable glob: a path glob (with `/` or `~`) or a bare name glob.
    pub pattern: String,
    /// Regex over the arguments, or a `sha256:cwd-argv:v1:` binding.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arg_pattern: Option<String>,
    /// `allow-always` when persisted from an approval.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// Last match, ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_used_at: Option<u64>,
    /// Last matched command text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_used_command: Option<String>,
    /// Last resolved executable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_resolved_path: Option<String>,
}

/// An allowlist item as written: an entry or a bare pattern string.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
enum RawEntry {
    Entry(AllowEntry),
    Pattern(String),
}

fn entries<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<AllowEntry>, D::Error> {
    let raw: Vec<RawEntry> = Vec::deserialize(d)?;
    Ok(raw
        .into_iter()
        .map(|r| match r {
            RawEntry::Entry(e) => e,
            RawEntry::Pattern(pattern) => AllowEntry {
                pattern,
                ..Default::default()
            },
        })
        .filter(|e| !e.pattern.trim().is_empty())
        .collect())
}

/// An agent's layer.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AgentPolicy {
    /// Scalars.
    #[serde(flatten)]
    pub fields: PolicyFields,
    /// Allowlist entries.
    #[serde(
        default,
        deserialize_with = "entries",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub allowlist: Vec<AllowEntry>,
}

/// The whole document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApprovalsDoc {
    /// Always 1.
    pub version: u32,
    /// The macOS app's socket (kept as is; the token is redacted on get).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub socket: Option<Value>,
    /// Defaults.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub defaults: Option<PolicyFields>,
    /// Per agent (`*` = every agent).
    #[serde(default)]
    pub agents: BTreeMap<String, AgentPolicy>,
}

impl Default for ApprovalsDoc {
    fn default() -> Self {
        Self {
            version: 1,
            socket: None,
            defaults: None,
            agents: BTreeMap::new(),
        }
    }
}

impl ApprovalsDoc {
    /// The fail-closed document used when the stored one cannot be read.
    pub fn deny_all() -> Self {
        Self {
            defaults: Some(PolicyFields {
                security: Some("deny".into()),
                ask: Some("off".into()),
                ask_fallback: Some("deny".into()),
                auto_allow_skills: Some(false),
            }),
            ..Self::default()
        }
    }

    /// Normalises after load: legacy `default` merged into `main`, missing ids added.
    pub fn normalize(mut self) -> Self {
        self.version = 1;
        if let Some(legacy) = self.agents.remove("default") {
            let main = self.agents.entry("main".into()).or_default();
            for e in legacy.allowlist {
                let dup = main.allowlist.iter().any(|m| {
                    m.pattern.eq_ignore_ascii_case(&e.pattern) && m.arg_pattern == e.arg_pattern
                });
                if !dup {
                    main.allowlist.push(e);
                }
            }
        }
        // Values the policy does not know are dropped, as the reference drops them, so
        // what `get` shows is what applies.
        if let Some(defaults) = &mut self.defaults {
            defaults.drop_unknown();
        }
        for agent in self.agents.values_mut() {
            agent.fields.drop_unknown();
            for e in &mut agent.allowlist {
                if e.id.is_none() {
                    e.id = Some(new_id());
                }
            }
        }
        self
    }

    /// Parses stored text (`None` = no file).
    pub fn parse(text: Option<&str>) -> Result<Self, String> {
        let Some(text) = text.filter(|t| !t.trim().is_empty()) else {
            return Ok(Self::default());
        };
        let doc: ApprovalsDoc =
            serde_json::from_str(text).map_err(|e| format!("not a valid document: {e}"))?;
        if doc.version != 1 {
            return Err(format!("unsupported version {}", doc.version));
        }
        Ok(doc.normalize())
    }

    /// The document as sent to a remote reader: `socket.token` removed.
    pub fn redacted(&self) -> Self {
        let mut doc = self.clone();
        if let Some(Value::Object(socket)) = &mut doc.socket {
            socket.remove("token");
        }
        doc
    }
}

/// A random entry id.
pub fn new_id() -> String {
    // A random (version 4) UUID, the reference's id format.
    let mut raw = [0u8; 16];
    let _ = getrandom::fill(&mut raw);
    raw[6] = (raw[6] & 0x0f) | 0x40;
    raw[8] = (raw[8] & 0x3f) | 0x80;
    let h = hex::encode(raw);
    format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    )
}

/// Lowercase hex SHA-256 of the stored text (of `""` when there is none).
pub fn hash_text(text: Option<&str>) -> String {
    hex::encode(Sha256::digest(text.unwrap_or("").as_bytes()))
}

/// Why the store could not be read or written.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum StoreError {
    /// The base hash does not match the stored one.
    #[error("exec approvals changed; reload and retry")]
    Changed,
    /// A base hash is required because the store exists.
    #[error("exec approvals base hash required; reload and retry")]
    BaseHashRequired,
    /// The file is a symlink or the path is unsafe.
    #[error("refusing to use {0}: it is a symlink or not a regular file")]
    Unsafe(String),
    /// I/O failed.
    #[error("exec approvals store {path}: {reason}")]
    Io {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
}

/// A snapshot of the store.
#[derive(Debug, Clone)]
pub struct Snapshot {
    /// Whether the file exists.
    pub exists: bool,
    /// SHA-256 of the stored text.
    pub hash: String,
    /// The document (deny-all when the stored one is malformed).
    pub doc: ApprovalsDoc,
    /// Why the stored document was replaced by deny-all, if it was.
    pub error: Option<String>,
}

/// The file that holds the document.
#[derive(Debug, Clone)]
pub struct ApprovalsStore {
    path: PathBuf,
}

impl ApprovalsStore {
    /// The store at `<state_dir>/exec-approvals.json`.
    pub fn in_state_dir(state_dir: &Path) -> Self {
        Self {
            path: state_dir.join("exec-approvals.json"),
        }
    }

    /// Its path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn io(&self, e: impl ToString) -> StoreError {
        StoreError::Io {
            path: self.path.display().to_string(),
            reason: e.to_string(),
        }
    }

    fn read_text(&self) -> Result<Option<String>, StoreError> {
        match std::fs::symlink_metadata(&self.path) {
            Ok(m) if m.file_type().is_symlink() || !m.is_file() => {
                return Err(StoreError::Unsafe(self.path.display().to_string()));
            }
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(self.io(e)),
        }
        std::fs::read_to_string(&self.path)
            .map(Some)
            .map_err(|e| self.io(e))
    }

    /// Reads the document; a malformed one becomes deny-all (fail closed).
    pub fn load(&self) -> Result<Snapshot, StoreError> {
        let text = self.read_text()?;
        let hash = hash_text(text.as_deref());
        let (doc, error) = match ApprovalsDoc::parse(text.as_deref()) {
            Ok(doc) => (doc, None),
            Err(e) => (ApprovalsDoc::deny_all(), Some(e)),
        };
        Ok(Snapshot {
            exists: text.is_some(),
            hash,
            doc,
            error,
        })
    }

    /// Replaces the document if the stored hash is still `base_hash` (required when the
    /// file exists). Keeps the existing socket when the new document has none, and its
    /// token when the new socket has none (a document read back from `get` has it
    /// redacted, and writing it back must not wipe the token).
    pub fn save(&self, doc: ApprovalsDoc, base_hash: Option<&str>) -> Result<Snapshot, StoreError> {
        let _lock = self.lock()?;
        let current = self.read_text()?;
        let current_hash = hash_text(current.as_deref());
        match (current.is_some(), base_hash.filter(|h| !h.is_empty())) {
            (true, None) => return Err(StoreError::BaseHashRequired),
            (_, Some(h)) if h != current_hash => return Err(StoreError::Changed),
            _ => {}
        }
        let mut doc = doc.normalize();
        if let Some(old) = current
            .as_deref()
            .and_then(|t| ApprovalsDoc::parse(Some(t)).ok())
            .and_then(|d| d.socket)
        {
            match &mut doc.socket {
                None => doc.socket = Some(old),
                Some(Value::Object(new)) if !new.contains_key("token") => {
                    if let Some(token) = old.get("token") {
                        new.insert("token".into(), token.clone());
                    }
                }
                Some(_) => {}
            }
        }
        let text = serde_json::to_string_pretty(&doc).map_err(|e| self.io(e))?;
        openclaw_capability_api::fs::write_private_file(&self.path, text.as_bytes())
            .map_err(|e| self.io(e))?;
        Ok(Snapshot {
            exists: true,
            hash: hash_text(Some(&text)),
            doc,
            error: None,
        })
    }

    /// Edits the document in place under the lock (for the CLI and allow-always).
    pub fn update(&self, f: impl FnOnce(&mut ApprovalsDoc)) -> Result<Snapshot, StoreError> {
        let snapshot = self.load()?;
        if let Some(e) = snapshot.error {
            return Err(self.io(format!(
                "the stored document is malformed ({e}); fix or remove it first"
            )));
        }
        let mut doc = snapshot.doc;
        f(&mut doc);
        self.save(doc, Some(&snapshot.hash))
    }

    fn lock(&self) -> Result<nix::fcntl::Flock<std::fs::File>, StoreError> {
        let lock_path = self.path.with_extension("json.lock");
        if let Some(dir) = lock_path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| self.io(e))?;
        }
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|e| self.io(e))?;
        nix::fcntl::Flock::lock(file, nix::fcntl::FlockArg::LockExclusive)
            .map_err(|(_, e)| self.io(e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_file_is_the_empty_document_with_the_empty_hash() {
        let dir = tempfile::tempdir().unwrap();
        let s = ApprovalsStore::in_state_dir(dir.path()).load().unwrap();
        assert!(!s.exists);
        assert_eq!(s.hash, hash_text(None));
        assert_eq!(s.doc, ApprovalsDoc::default());
    }

    #[test]
    fn malformed_file_fails_closed() {
        let dir = tempfile::tempdir().unwrap();
        let store = ApprovalsStore::in_state_dir(dir.path());
        std::fs::write(store.path(), "{oops").unwrap();
        let s = store.load().unwrap();
        assert_eq!(s.doc, ApprovalsDoc::deny_all());
        assert!(s.error.is_some());
        std::fs::write(store.path(), r#"{"version":2}"#).unwrap();
        assert_eq!(store.load().unwrap().doc, ApprovalsDoc::deny_all());
    }

    #[test]
    fn compare_and_swap() {
        let dir = tempfile::tempdir().unwrap();
        let store = ApprovalsStore::in_state_dir(dir.path());
        let first = store.save(ApprovalsDoc::default(), None).unwrap();
        assert_eq!(
            store.save(ApprovalsDoc::default(), None).unwrap_err(),
            StoreError::BaseHashRequired
        );
        assert_eq!(
            store
                .save(ApprovalsDoc::default(), Some("bad"))
                .unwrap_err(),
            StoreError::Changed
        );
        let second = store
            .save(ApprovalsDoc::default(), Some(&first.hash))
            .unwrap();
        assert_eq!(store.load().unwrap().hash, second.hash);
        use std::os::unix::fs::PermissionsExt as _;
        assert_eq!(
            std::fs::metadata(store.path())
                .unwrap()
                .permissions()
                .mode()
                & 0o777,
            0o600
        );
    }

    #[test]
    fn attack_27_symlinked_store_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let store = ApprovalsStore::in_state_dir(dir.path());
        std::fs::write(dir.path().join("elsewhere.json"), "{}").unwrap();
        std::os::unix::fs::symlink(dir.path().join("elsewhere.json"), store.path()).unwrap();
        assert!(matches!(store.load(), Err(StoreError::Unsafe(_))));
    }

    #[test]
    fn bare_strings_legacy_default_and_socket_token() {
        let text = r#"{"version":1,"socket":{"path":"/s","token":"tok"},
            "agents":{"default":{"allowlist":["/usr/bin/git"]},"main":{"allowlist":[{"pattern":"/usr/bin/GIT"}]},
                      "*":{"security":"bogus","allowlist":[""]}}}"#;
        let doc = ApprovalsDoc::parse(Some(text)).unwrap();
        assert!(!doc.agents.contains_key("default"));
        assert_eq!(
            doc.agents["main"].allowlist.len(),
            1,
            "deduplicated case-insensitively"
        );
        assert!(doc.agents["main"].allowlist[0].id.is_some());
        assert!(doc.agents["*"].allowlist.is_empty());
        let red = doc.redacted();
        assert_eq!(red.socket.unwrap()["path"], "/s");
        assert!(
            serde_json::to_string(&doc.redacted())
                .unwrap()
                .find("tok\"")
                .is_none()
        );
    }

    #[test]
    fn writing_back_a_redacted_document_keeps_the_socket_token() {
        let dir = tempfile::tempdir().unwrap();
        let store = ApprovalsStore::in_state_dir(dir.path());
        std::fs::write(
            store.path(),
            r#"{"version":1,"socket":{"path":"/s","token":"tok"}}"#,
        )
        .unwrap();
        let read = store.load().unwrap();
        let sent = read.doc.redacted();
        assert!(sent.socket.as_ref().unwrap().get("token").is_none());
        let saved = store.save(sent, Some(&read.hash)).unwrap();
        assert_eq!(saved.doc.socket.unwrap()["token"], "tok");
        assert_eq!(store.load().unwrap().doc.socket.unwrap()["token"], "tok");
        // A socket the writer replaces on purpose, token included, is taken as sent.
        let mut doc = store.load().unwrap().doc;
        doc.socket = Some(serde_json::json!({"path": "/t", "token": "new"}));
        let hash = store.load().unwrap().hash;
        store.save(doc, Some(&hash)).unwrap();
        assert_eq!(store.load().unwrap().doc.socket.unwrap()["token"], "new");
    }
}

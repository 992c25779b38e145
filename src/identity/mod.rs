//! The device identity (spec §5): an Ed25519 key pair, the device id derived from it, and
//! the strings a device signs during `connect`.
//!
//! This module owns key material in memory and the pure signing/verification logic; where
//! the key is stored is `credentials`' business. The embedded gateway uses the same
//! functions to verify, which keeps both sides honest.

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use ed25519_dalek::{Signer as _, SigningKey, Verifier as _, VerifyingKey};
use sha2::{Digest, Sha256};

/// DER prefix of an Ed25519 SubjectPublicKeyInfo; followed by the 32 raw key bytes.
const SPKI_PREFIX: [u8; 12] = [
    0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
];

/// A device's Ed25519 key pair. `Debug` never prints the secret.
#[derive(Clone)]
pub struct DeviceIdentity {
    key: SigningKey,
}

impl std::fmt::Debug for DeviceIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeviceIdentity")
            .field("device_id", &self.device_id())
            .finish_non_exhaustive()
    }
}

impl DeviceIdentity {
    /// A fresh identity from the operating system's random source.
    pub fn generate() -> Self {
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed).expect("the OS random source is available");
        Self::from_seed(&seed)
    }

    /// The identity whose secret key is this 32-byte seed.
    pub fn from_seed(seed: &[u8; 32]) -> Self {
        Self {
            key: SigningKey::from_bytes(seed),
        }
    }

    /// The 32-byte secret seed, for the credential store only.
    pub fn seed(&self) -> [u8; 32] {
        self.key.to_bytes()
    }

    /// The raw 32-byte public key.
    pub fn public_key_raw(&self) -> [u8; 32] {
        self.key.verifying_key().to_bytes()
    }

    /// `device.publicKey`: the raw public key, base64url without padding (43 chars).
    pub fn public_key(&self) -> String {
        URL_SAFE_NO_PAD.encode(self.public_key_raw())
    }

    /// `device.id`: lowercase hex SHA-256 of the raw public key (64 chars).
    pub fn device_id(&self) -> String {
        device_id_for(&self.public_key_raw())
    }

    /// Signs a payload string; the signature is base64url without padding (86 chars).
    pub fn sign(&self, payload: &str) -> String {
        URL_SAFE_NO_PAD.encode(self.key.sign(payload.as_bytes()).to_bytes())
    }
}

/// The device id of a raw public key.
pub fn device_id_for(public_key_raw: &[u8; 32]) -> String {
    hex::encode(Sha256::digest(public_key_raw))
}

/// Normalises a `device.publicKey` to the raw 32 bytes: accepts raw base64url (the normal
/// form), standard base64, or a PEM SPKI block, as the real Gateway does.
pub fn normalize_public_key(text: &str) -> Option<[u8; 32]> {
    let text = text.trim();
    let bytes = if text.starts_with("-----BEGIN") {
        let body: String = text
            .lines()
            .filter(|l| !l.starts_with("-----"))
            .collect::<Vec<_>>()
            .concat();
        STANDARD.decode(body.trim()).ok()?
    } else {
        decode_b64(text)?
    };
    match bytes.len() {
        32 => bytes.try_into().ok(),
        44 if bytes[..12] == SPKI_PREFIX => bytes[12..].try_into().ok(),
        _ => None,
    }
}

/// Decodes base64url without padding, falling back to standard base64.
fn decode_b64(text: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD
        .decode(text.trim_end_matches('='))
        .ok()
        .or_else(|| STANDARD.decode(text).ok())
}

/// Verifies a base64url signature over `payload` with a raw public key.
pub fn verify(public_key_raw: &[u8; 32], payload: &str, signature: &str) -> bool {
    let Ok(key) = VerifyingKey::from_bytes(public_key_raw) else {
        return false;
    };
    let Some(sig) = decode_b64(signature) else {
        return false;
    };
    let Ok(sig) = ed25519_dalek::Signature::from_slice(&sig) else {
        return false;
    };
    key.verify(payload.as_bytes(), &sig).is_ok()
}

/// The fields a device signature binds (spec §5.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignaturePayload<'a> {
    /// `device.id`.
    pub device_id: &'a str,
    /// `client.id` as sent.
    pub client_id: &'a str,
    /// `client.mode` as sent.
    pub client_mode: &'a str,
    /// The role.
    pub role: &'a str,
    /// Scopes in sent order.
    pub scopes: &'a [String],
    /// `device.signedAt`.
    pub signed_at_ms: u64,
    /// The presented credential (see `AuthParams::signed_token`), or empty.
    pub token: &'a str,
    /// The challenge nonce.
    pub nonce: &'a str,
    /// `client.platform` (v3 only).
    pub platform: Option<&'a str>,
    /// `client.deviceFamily` (v3 only).
    pub device_family: Option<&'a str>,
}

impl SignaturePayload<'_> {
    /// `v3|id|client|mode|role|scopes|signedAt|token|nonce|platform|family`.
    pub fn v3(&self) -> String {
        format!(
            "{}|{}|{}",
            self.common("v3"),
            normalize_metadata(self.platform),
            normalize_metadata(self.device_family)
        )
    }

    /// `v2|id|client|mode|role|scopes|signedAt|token|nonce`.
    pub fn v2(&self) -> String {
        self.common("v2")
    }

    fn common(&self, version: &str) -> String {
        format!(
            "{version}|{}|{}|{}|{}|{}|{}|{}|{}",
            self.device_id,
            self.client_id,
            self.client_mode,
            self.role,
            self.scopes.join(","),
            self.signed_at_ms,
            self.token,
            self.nonce
        )
    }
}

/// Trim, then lowercase ASCII letters only (non-ASCII is left as it is).
fn normalize_metadata(value: Option<&str>) -> String {
    value.unwrap_or("").trim().to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEED: &str = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60";
    const DEVICE_ID: &str = "21fe31dfa154a261626bf854046fd2271b7bed4b6abe45aa58877ef47f9721b9";
    const NONCE: &str = "3f2b6c1e-7a4d-4e2b-9c1a-0d5e8f7a6b21";

    fn rfc_identity() -> DeviceIdentity {
        let seed: [u8; 32] = hex::decode(SEED).unwrap().try_into().unwrap();
        DeviceIdentity::from_seed(&seed)
    }

    fn payload(token: &str) -> SignaturePayload<'_> {
        SignaturePayload {
            device_id: DEVICE_ID,
            client_id: "node-host",
            client_mode: "node",
            role: "node",
            scopes: &[],
            signed_at_ms: 1_737_264_000_000,
            token,
            nonce: NONCE,
            platform: Some("linux"),
            device_family: Some("Linux"),
        }
    }

    #[test]
    fn rfc8032_key_and_device_id() {
        let id = rfc_identity();
        assert_eq!(
            hex::encode(id.public_key_raw()),
            "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"
        );
        assert_eq!(
            id.public_key(),
            "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"
        );
        assert_eq!(id.device_id(), DEVICE_ID);
        let empty = URL_SAFE_NO_PAD.decode(id.sign("")).unwrap();
        assert_eq!(
            hex::encode(empty),
            "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"
        );
    }

    #[test]
    fn vector_a_v3_with_shared_token() {
        let p = payload("shared-token-123").v3();
        assert_eq!(
            p,
            format!(
                "v3|{DEVICE_ID}|node-host|node|node||1737264000000|shared-token-123|{NONCE}|linux|linux"
            )
        );
        assert_eq!(
            rfc_identity().sign(&p),
            "IcMSwvc5KHYDY_TjyvNxv_smbFiQ2TG1kn0do8ucfqDfG_cDZD8sti6GgBjuRXzEeBya2OHdEC1SpwqlLZZUAA"
        );
    }

    #[test]
    fn vector_b_v3_without_credential() {
        let p = payload("").v3();
        assert_eq!(
            p,
            format!("v3|{DEVICE_ID}|node-host|node|node||1737264000000||{NONCE}|linux|linux")
        );
        assert_eq!(
            rfc_identity().sign(&p),
            "32z7wpOSjw6zkCRRiEXti9ClYpE8QnzSHfAFR9qlT_08GB2ZvTQ6Wl3GvHjC2joBJUCzz7YKDTDGTNGYRxZ5BA"
        );
    }

    #[test]
    fn vector_c_v2_with_shared_token() {
        let p = payload("shared-token-123").v2();
        assert_eq!(
            p,
            format!("v2|{DEVICE_ID}|node-host|node|node||1737264000000|shared-token-123|{NONCE}")
        );
        assert_eq!(
            rfc_identity().sign(&p),
            "9VrpKUJYtNmg2De1HvoBHy1HUDD0l9iraQJIFmpcnLWVZ4fMY_BsE6BCp7phOarhq4LQLzHgWmzsSv7l1dlQAw"
        );
    }

    #[test]
    fn payload_builder_vectors() {
        let scopes = vec!["operator.admin".to_string(), "operator.read".to_string()];
        let mut p = SignaturePayload {
            device_id: "dev-1",
            client_id: "openclaw-macos",
            client_mode: "ui",
            role: "operator",
            scopes: &scopes,
            signed_at_ms: 1_700_000_000_000,
            token: "",
            nonce: "nonce-abc",
            platform: None,
            device_family: None,
        };
        assert_eq!(
            p.v2(),
            "v2|dev-1|openclaw-macos|ui|operator|operator.admin,operator.read|1700000000000||nonce-abc"
        );
        p.token = "tok-123";
        p.platform = Some("  IOS  ");
        p.device_family = Some("  iPhone  ");
        assert_eq!(
            p.v3(),
            "v3|dev-1|openclaw-macos|ui|operator|operator.admin,operator.read|1700000000000|tok-123|nonce-abc|ios|iphone"
        );
        let read = vec!["operator.read".to_string()];
        let p = SignaturePayload {
            device_id: "dev-2",
            client_id: "openclaw-ios",
            client_mode: "ui",
            role: "operator",
            scopes: &read,
            signed_at_ms: 1_700_000_000_001,
            token: "",
            nonce: "nonce-def",
            platform: None,
            device_family: None,
        };
        assert_eq!(
            p.v3(),
            "v3|dev-2|openclaw-ios|ui|operator|operator.read|1700000000001||nonce-def||"
        );
    }

    #[test]
    fn non_ascii_metadata_is_left_alone() {
        assert_eq!(normalize_metadata(Some(" ÄBC ")), "Äbc");
    }

    #[test]
    fn verify_accepts_good_and_rejects_bad() {
        let id = rfc_identity();
        let p = payload("t").v3();
        let sig = id.sign(&p);
        assert!(verify(&id.public_key_raw(), &p, &sig));
        assert!(!verify(&id.public_key_raw(), &payload("u").v3(), &sig));
        let other = DeviceIdentity::generate();
        assert!(!verify(&other.public_key_raw(), &p, &sig));
        assert!(!verify(&id.public_key_raw(), &p, "not base64!"));
        assert!(!verify(&id.public_key_raw(), &p, "AAAA"));
    }

    #[test]
    fn public_key_forms_normalize() {
        let raw = rfc_identity().public_key_raw();
        assert_eq!(
            normalize_public_key("11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"),
            Some(raw)
        );
        let mut der = SPKI_PREFIX.to_vec();
        der.extend_from_slice(&raw);
        let pem = format!(
            "-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----\n",
            STANDARD.encode(&der)
        );
        assert_eq!(normalize_public_key(&pem), Some(raw));
        assert_eq!(normalize_public_key("short"), None);
    }

    #[test]
    fn generated_identities_differ_and_round_trip() {
        let a = DeviceIdentity::generate();
        let b = DeviceIdentity::generate();
        assert_ne!(a.device_id(), b.device_id());
        let again = DeviceIdentity::from_seed(&a.seed());
        assert_eq!(again.device_id(), a.device_id());
        assert!(!format!("{a:?}").contains(&hex::encode(a.seed())));
    }
}

//! TLS certificate pinning (spec §12.2): `--tls-fingerprint` is the SHA-256 of the
//! gateway's leaf certificate (DER); an `spki:` pin is the SHA-256 of the certificate's
//! SubjectPublicKeyInfo, which survives a renewal that keeps the key. With a pin, the pin
//! replaces CA and host-name validation; the handshake signature is still verified with the
//! certificate's key, so a peer without the private key cannot pass.

use std::sync::Arc;

use rustls::DigitallySignedStruct;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use sha2::{Digest as _, Sha256};

/// What a pin binds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pin {
    /// SHA-256 of the leaf certificate (the OpenClaw `tlsFingerprint`).
    Certificate([u8; 32]),
    /// SHA-256 of the leaf's SubjectPublicKeyInfo.
    PublicKey([u8; 32]),
}

impl std::fmt::Display for Pin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Pin::Certificate(h) => write!(f, "sha256:{}", hex::encode(h)),
            Pin::PublicKey(h) => write!(f, "spki:sha256:{}", hex::encode(h)),
        }
    }
}

/// Parses a pin: optional `spki:` prefix, optional `sha256`/`sha-256` label (with or
/// without `:`), then 64 hex digits in any case with any separators (colons, spaces).
pub fn parse_pin(text: &str) -> Result<Pin, String> {
    let mut rest = text.trim();
    let spki = match rest.get(..5) {
        Some(p) if p.eq_ignore_ascii_case("spki:") => {
            rest = &rest[5..];
            true
        }
        _ => false,
    };
    let lower = rest.to_ascii_lowercase();
    let body = lower
        .strip_prefix("sha-256")
        .or_else(|| lower.strip_prefix("sha256"))
        .unwrap_or(&lower);
    let body = body.strip_prefix(':').unwrap_or(body);
    let digits: String = body.chars().filter(char::is_ascii_hexdigit).collect();
    let stray = body
        .chars()
        .any(|c| !c.is_ascii_hexdigit() && !matches!(c, ':' | ' ' | '-'));
    let bytes: [u8; 32] = hex::decode(&digits)
        .ok()
        .filter(|_| !stray)
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| {
            format!("invalid TLS fingerprint {text:?}: expected a SHA-256 as 64 hex digits")
        })?;
    Ok(if spki {
        Pin::PublicKey(bytes)
    } else {
        Pin::Certificate(bytes)
    })
}

/// The SHA-256 of a certificate (DER).
pub fn certificate_fingerprint(der: &[u8]) -> [u8; 32] {
    Sha256::digest(der).into()
}

/// The SHA-256 of a certificate's SubjectPublicKeyInfo (its DER, outer SEQUENCE
/// included), if the certificate parses: rustls-webpki reads it, the same parser rustls
/// checks the handshake signature with, so DER it would refuse gives no pin.
pub fn spki_fingerprint(der: &[u8]) -> Option<[u8; 32]> {
    let der = CertificateDer::from(der);
    let cert = webpki::EndEntityCert::try_from(&der).ok()?;
    Some(Sha256::digest(cert.subject_public_key_info().as_ref()).into())
}

/// A verifier that accepts exactly the pinned certificate (or key).
#[derive(Debug)]
struct PinVerifier {
    pin: Pin,
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for PinVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let (expected, actual) = match self.pin {
            Pin::Certificate(want) => (want, Some(certificate_fingerprint(end_entity))),
            Pin::PublicKey(want) => (want, spki_fingerprint(end_entity)),
        };
        if actual == Some(expected) {
            return Ok(ServerCertVerified::assertion());
        }
        let seen = match self.pin {
            Pin::Certificate(_) => Pin::Certificate(certificate_fingerprint(end_entity)),
            Pin::PublicKey(_) => Pin::PublicKey(actual.unwrap_or([0; 32])),
        };
        Err(rustls::Error::General(format!(
            "gateway TLS certificate does not match the pin: expected {}, got {seen}",
            self.pin
        )))
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// A TLS client configuration that trusts exactly `pin`.
pub fn pinned_client_config(pin: Pin) -> Arc<rustls::ClientConfig> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .expect("the ring provider supports the default TLS versions")
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(PinVerifier { pin, provider }))
        .with_no_client_auth();
    Arc::new(config)
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::{SinkExt as _, StreamExt as _};
    use tokio_tungstenite::tungstenite::Message;

    const HEX: &str = "a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90";

    #[test]
    fn pins_parse_in_every_spelling() {
        let want = Pin::Certificate(hex::decode(HEX).unwrap().try_into().unwrap());
        assert_eq!(parse_pin(HEX), Ok(want));
        assert_eq!(
            parse_pin(&format!("sha256:{}", HEX.to_uppercase())),
            Ok(want)
        );
        assert_eq!(parse_pin(&format!("SHA-256 {HEX}")), Ok(want));
        let colons = HEX
            .as_bytes()
            .chunks(2)
            .map(|c| std::str::from_utf8(c).unwrap())
            .collect::<Vec<_>>()
            .join(":");
        assert_eq!(parse_pin(&colons), Ok(want));
        assert!(matches!(
            parse_pin(&format!("spki:{HEX}")),
            Ok(Pin::PublicKey(_))
        ));
        assert!(parse_pin("abc").is_err());
        assert!(parse_pin(&format!("{HEX}zz")).is_err());
    }

    fn self_signed() -> (rcgen::CertifiedKey<rcgen::KeyPair>, Vec<u8>) {
        let ck = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
        let der = ck.cert.der().to_vec();
        (ck, der)
    }

    #[test]
    fn spki_pin_is_the_hash_of_the_public_key_der() {
        let (ck, der) = self_signed();
        use rcgen::PublicKeyData as _;
        let want: [u8; 32] = Sha256::digest(ck.signing_key.subject_public_key_info()).into();
        assert_eq!(spki_fingerprint(&der), Some(want));
        assert_eq!(spki_fingerprint(&der[..10]), None);
        assert_eq!(spki_fingerprint(b""), None);
    }

    /// A fixed P-256 certificate (`openssl req -x509 -newkey ec`, CN openclaw-pin-test),
    /// with its pins as openssl computes them: `sha256sum` of the DER, and of
    /// `openssl x509 -pubkey | openssl pkey -pubin -outform der`.
    const FIXED_CERT_B64: &str = "MIIBpTCCAUugAwIBAgIUVJ+K9R9OPTLkudLhN3CmL3qA1ZowCgYIKoZIzj0EAwIwHDEaMBgGA1UEAwwRb3BlbmNsYXctcGluLXRlc3QwIBcNMjYxMjAxMjMzNjAyWhgPMjEyNjExMDcyMzM2MDJaMBwxGjAYBgNVBAMMEW9wZW5jbGF3LXBpbi10ZXN0MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEQjtz5cu4rOKV0nTCevkneYtXb5I99JioLuEOOvVyHvgmHJXWxhXctmf/2V8FRTrl1o8JKycGPGHXukqaK4V6vaNpMGcwHQYDVR0OBBYEFKF3fGq5WRvUsbbUcjDR8wIPpnCwMB8GA1UdIwQYMBaAFKF3fGq5WRvUsbbUcjDR8wIPpnCwMA8GA1UdEwEB/wQFMAMBAf8wFAYDVR0RBA0wC4IJbG9jYWxob3N0MAoGCCqGSM49BAMCA0gAMEUCIBfS2MBRuU6NIUib8ooPirj/GXbj1kvYfyv2qyaWkPTJAiEAy/psRDM8NLCvtWuLb8r4NA3gYQ26Mz3BOr7yFSOsQI4=";
    const FIXED_CERT_PIN: &str = "016ba47e59c18a04d6d312897b495fefdc5e0788699149469ab31492241302ca";
    const FIXED_SPKI_PIN: &str = "62c4dc36e35826678126b7eaa4ef58cfa407cbb6c0d445869e449c6bb1a1d49b";

    fn fixed_cert() -> Vec<u8> {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD
            .decode(FIXED_CERT_B64)
            .unwrap()
    }

    #[test]
    fn pins_of_a_fixed_certificate_match_openssl() {
        let der = fixed_cert();
        assert_eq!(hex::encode(certificate_fingerprint(&der)), FIXED_CERT_PIN);
        assert_eq!(
            spki_fingerprint(&der).map(hex::encode).as_deref(),
            Some(FIXED_SPKI_PIN)
        );
    }

    /// A certificate followed by stray bytes is not DER; the hand-written walker read the
    /// first element and pinned its key anyway (issue 17).
    #[test]
    fn a_certificate_with_trailing_bytes_has_no_spki_pin() {
        let mut der = fixed_cert();
        der.extend_from_slice(&[0x05, 0x00]);
        assert_eq!(spki_fingerprint(&der), None);
    }

    /// Malformed DER against an `spki:` pin: the same refusal as a different key.
    #[test]
    fn malformed_der_is_refused_with_the_pin_mismatch_error() {
        let want = [9; 32];
        let verifier = PinVerifier {
            pin: Pin::PublicKey(want),
            provider: Arc::new(rustls::crypto::ring::default_provider()),
        };
        let name = ServerName::try_from("localhost").unwrap();
        for der in [&b""[..], b"\x30\x03\x02\x01", &fixed_cert()[..40]] {
            let err = verifier
                .verify_server_cert(&CertificateDer::from(der), &[], &name, &[], UnixTime::now())
                .unwrap_err();
            assert_eq!(
                err.to_string(),
                format!(
                    "unexpected error: gateway TLS certificate does not match the pin: expected spki:sha256:{}, got spki:sha256:{}",
                    hex::encode(want),
                    hex::encode([0; 32])
                )
            );
        }
    }

    /// A wss echo server on 127.0.0.1:0 with a self-signed certificate.
    async fn wss_server(ck: &rcgen::CertifiedKey<rcgen::KeyPair>) -> std::net::SocketAddr {
        let cert = CertificateDer::from(ck.cert.der().to_vec());
        let key =
            rustls::pki_types::PrivateKeyDer::try_from(ck.signing_key.serialize_der()).unwrap();
        let config = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![cert], key)
        .unwrap();
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    let Ok(tls) = acceptor.accept(tcp).await else {
                        return;
                    };
                    let Ok(mut ws) = tokio_tungstenite::accept_async(tls).await else {
                        return;
                    };
                    let _ = ws.send(Message::text("hello")).await;
                });
            }
        });
        addr
    }

    #[tokio::test]
    async fn wss_with_the_right_pin_connects_and_a_wrong_pin_is_refused() {
        let (ck, der) = self_signed();
        let addr = wss_server(&ck).await;
        let url = url::Url::parse(&format!("wss://localhost:{}/", addr.port())).unwrap();

        let good = pinned_client_config(Pin::Certificate(certificate_fingerprint(&der)));
        let mut ws = super::super::dial_with(&url, Some(good)).await.unwrap();
        let msg = ws.next().await.unwrap().unwrap();
        assert_eq!(msg, Message::text("hello"));

        let by_key = pinned_client_config(Pin::PublicKey(spki_fingerprint(&der).unwrap()));
        super::super::dial_with(&url, Some(by_key)).await.unwrap();

        let wrong = pinned_client_config(Pin::Certificate([7; 32]));
        let err = super::super::dial_with(&url, Some(wrong))
            .await
            .unwrap_err();
        assert!(err.to_string().contains("does not match the pin"), "{err}");

        // Without a pin, a self-signed certificate fails normal CA validation.
        let err = super::super::dial_with(&url, None).await.unwrap_err();
        assert!(
            err.to_string().to_lowercase().contains("certificate"),
            "{err}"
        );
    }
}

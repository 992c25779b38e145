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

/// The SHA-256 of a certificate's SubjectPublicKeyInfo, if the DER can be walked.
pub fn spki_fingerprint(der: &[u8]) -> Option<[u8; 32]> {
    spki_of(der).map(|spki| Sha256::digest(spki).into())
}

/// One DER element: its tag, the whole element, its content, and what follows it.
struct Tlv<'a> {
    tag: u8,
    whole: &'a [u8],
    content: &'a [u8],
    rest: &'a [u8],
}

/// Reads one DER element.
fn tlv(input: &[u8]) -> Option<Tlv<'_>> {
    let (&tag, rest) = input.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (first as usize, rest)
    } else {
        let n = (first & 0x7f) as usize;
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let len = rest[..n]
            .iter()
            .fold(0usize, |acc, b| (acc << 8) | *b as usize);
        (len, &rest[n..])
    };
    if rest.len() < len {
        return None;
    }
    let header = input.len() - rest.len();
    Some(Tlv {
        tag,
        whole: &input[..header + len],
        content: &rest[..len],
        rest: &rest[len..],
    })
}

/// Reads one DER element that must be a SEQUENCE.
fn sequence(input: &[u8]) -> Option<Tlv<'_>> {
    tlv(input).filter(|t| t.tag == 0x30)
}

/// Finds the SubjectPublicKeyInfo element of an X.509 certificate.
fn spki_of(cert: &[u8]) -> Option<&[u8]> {
    let tbs = sequence(sequence(cert)?.content)?.content;
    let mut rest = tbs;
    // [0] version (optional)
    let first = tlv(rest)?;
    if first.tag == 0xa0 {
        rest = first.rest;
    }
    // serialNumber, signature, issuer, validity, subject
    for _ in 0..5 {
        rest = tlv(rest)?.rest;
    }
    Some(sequence(rest)?.whole)
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
    fn spki_is_found_in_a_real_certificate() {
        let (ck, der) = self_signed();
        let spki = spki_of(&der).unwrap();
        // The SPKI DER embeds the raw public key.
        let raw = ck.signing_key.public_key_raw();
        assert!(spki.windows(raw.len()).any(|w| w == raw));
        assert!(spki_of(&der[..10]).is_none());
        assert!(spki_of(b"").is_none());
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

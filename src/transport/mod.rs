//! Dialing a gateway: `ws://` and `wss://` (rustls with the platform's native roots),
//! with a dial timeout and frame-size limits, and never an `Origin` header (spec §2: an
//! Origin subjects the upgrade to the browser origin check).
//!
//! This module owns the socket up to the WebSocket upgrade, and [`handshake`] the client
//! side of the protocol handshake on it; what flows after hello-ok is the session's
//! business.

pub mod handshake;
pub mod path;
pub mod ssh;
pub mod tls;

use std::sync::{Arc, OnceLock};

use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::{Connector, MaybeTlsStream, WebSocketStream};

use crate::protocol::{DIAL_TIMEOUT, MAX_PAYLOAD_BYTES};

/// A dialed WebSocket.
pub type WsStream = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Why a dial failed. All of these are transient from the session's point of view except
/// [`DialError::BadUrl`].
#[derive(Debug, thiserror::Error)]
pub enum DialError {
    /// The URL cannot be dialed at all.
    #[error("invalid gateway url {url:?}: {reason}")]
    BadUrl {
        /// The URL as given.
        url: String,
        /// Why.
        reason: String,
    },
    /// TCP, TLS or the upgrade failed.
    #[error("could not connect to {url}: {reason}")]
    Connect {
        /// The URL.
        url: String,
        /// Why.
        reason: String,
    },
    /// Nothing answered in time.
    #[error("could not connect to {url}: timed out after {secs} s")]
    Timeout {
        /// The URL.
        url: String,
        /// The timeout.
        secs: u64,
    },
}

/// Normalises a gateway URL: `http(s)://` becomes `ws(s)://`; anything else but `ws(s)://`
/// is refused, and so is a URL with credentials in it (they would show in logs, `status`
/// and the process list; the token and password come from the environment instead).
pub fn normalize_url(url: &str) -> Result<url::Url, DialError> {
    let bad = |reason: &str| DialError::BadUrl {
        url: redact_userinfo(url),
        reason: reason.to_string(),
    };
    let mut parsed = url::Url::parse(url.trim()).map_err(|e| bad(&e.to_string()))?;
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(bad(
            "credentials in the URL are not supported; set OPENCLAW_GATEWAY_TOKEN or OPENCLAW_GATEWAY_PASSWORD instead",
        ));
    }
    let scheme = match parsed.scheme() {
        "ws" | "http" => "ws",
        "wss" | "https" => "wss",
        _ => return Err(bad("the scheme must be ws:// or wss://")),
    };
    if parsed.scheme() != scheme {
        parsed
            .set_scheme(scheme)
            .map_err(|()| bad("cannot change the scheme"))?;
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err(bad("no host"));
    }
    Ok(parsed)
}

/// `url` as it may be shown: any `user:password@` before the host becomes `[redacted]@`.
/// Works on text that does not parse as a URL too.
pub fn redact_userinfo(url: &str) -> String {
    let start = url.find("://").map_or(0, |i| i + 3);
    let end = url[start..]
        .find(['/', '?', '#'])
        .map_or(url.len(), |i| start + i);
    match url[start..end].rfind('@') {
        Some(at) => format!("{}[redacted]{}", &url[..start], &url[start + at..]),
        None => url.to_string(),
    }
}

/// The TLS client configuration with the platform's native roots (built once).
pub fn tls_client_config() -> Arc<rustls::ClientConfig> {
    native_tls_config()
}

fn native_tls_config() -> Arc<rustls::ClientConfig> {
    static CONFIG: OnceLock<Arc<rustls::ClientConfig>> = OnceLock::new();
    CONFIG
        .get_or_init(|| {
            let mut roots = rustls::RootCertStore::empty();
            let loaded = rustls_native_certs::load_native_certs();
            for error in &loaded.errors {
                tracing::debug!(%error, "skipping an unreadable native root certificate");
            }
            let (added, ignored) = roots.add_parsable_certificates(loaded.certs);
            tracing::debug!(added, ignored, "loaded native root certificates");
            let config = rustls::ClientConfig::builder_with_provider(Arc::new(
                rustls::crypto::ring::default_provider(),
            ))
            .with_safe_default_protocol_versions()
            .expect("the ring provider supports the default TLS versions")
            .with_root_certificates(roots)
            .with_no_client_auth();
            Arc::new(config)
        })
        .clone()
}

/// WebSocket limits for a client: frames up to the post-auth maximum.
pub fn client_ws_config() -> WebSocketConfig {
    WebSocketConfig::default()
        .max_message_size(Some(MAX_PAYLOAD_BYTES))
        .max_frame_size(Some(MAX_PAYLOAD_BYTES))
        .read_buffer_size(crate::protocol::consts::WS_READ_CHUNK_BYTES)
}

/// Dials `url` (already normalised) with the given TLS configuration for `wss://`
/// (`None` = native roots).
pub async fn dial_with(
    url: &url::Url,
    tls: Option<Arc<rustls::ClientConfig>>,
) -> Result<WsStream, DialError> {
    let request = url
        .as_str()
        .into_client_request()
        .map_err(|e| DialError::BadUrl {
            url: url.to_string(),
            reason: e.to_string(),
        })?;
    let connector = if url.scheme() == "wss" {
        Some(Connector::Rustls(tls.unwrap_or_else(native_tls_config)))
    } else {
        Some(Connector::Plain)
    };
    let attempt = tokio_tungstenite::connect_async_tls_with_config(
        request,
        Some(client_ws_config()),
        true,
        connector,
    );
    match tokio::time::timeout(DIAL_TIMEOUT, attempt).await {
        Ok(Ok((ws, _response))) => Ok(ws),
        Ok(Err(e)) => Err(DialError::Connect {
            url: url.to_string(),
            reason: e.to_string(),
        }),
        Err(_) => Err(DialError::Timeout {
            url: url.to_string(),
            secs: DIAL_TIMEOUT.as_secs(),
        }),
    }
}

/// Dials `url` (`ws://`, `wss://`, `http://`, `https://`) with native roots for TLS.
pub async fn dial(url: &str) -> Result<WsStream, DialError> {
    let url = normalize_url(url)?;
    dial_with(&url, None).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_normalised() {
        assert_eq!(
            normalize_url("http://127.0.0.1:18789").unwrap().as_str(),
            "ws://127.0.0.1:18789/"
        );
        assert_eq!(
            normalize_url("https://gw.example.com").unwrap().as_str(),
            "wss://gw.example.com/"
        );
        assert!(normalize_url("ftp://x").is_err());
        assert!(normalize_url("not a url").is_err());
    }

    #[test]
    fn credentials_in_a_url_are_refused_and_never_shown() {
        for url in [
            "ws://alice:hunter2@127.0.0.1:18789",
            "wss://hunter2@gw.example.com/",
            "ws://alice:hunter2@[::1",
            "alice:hunter2@gw.example.com",
        ] {
            let err = normalize_url(url).unwrap_err().to_string();
            assert!(!err.contains("hunter2"), "{err}");
        }
        assert_eq!(
            redact_userinfo("ws://alice:pw@host:1/p?q=a@b"),
            "ws://[redacted]@host:1/p?q=a@b"
        );
        assert_eq!(redact_userinfo("ws://host/a@b"), "ws://host/a@b");
    }

    #[tokio::test]
    async fn dialing_a_closed_port_fails_with_connect_error() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        let err = dial(&format!("ws://127.0.0.1:{port}")).await.unwrap_err();
        assert!(matches!(err, DialError::Connect { .. }), "{err}");
    }
}

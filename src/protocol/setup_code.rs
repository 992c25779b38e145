//! Setup codes (spec §7.5): the base64url (no padding) of a small JSON object
//! `{"url": "ws(s)://host:port", "bootstrapToken": "…"}` (optionally `urls`, and a TLS pin),
//! pasted raw, as an `oc-pair://<code>` link, or inside a join URL. The bootstrap token in
//! it is single-use and short-lived; it is used for the first connect only and never
//! stored.

use std::borrow::Cow;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde::Deserialize;

use crate::secret::Secret;

/// A decoded setup code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetupCode {
    /// The gateway URL to dial.
    pub url: String,
    /// Other URLs the gateway can be reached at.
    pub other_urls: Vec<String>,
    /// The single-use bootstrap token.
    pub bootstrap_token: Secret,
    /// A TLS certificate pin, when the code carries one.
    pub tls_fingerprint: Option<String>,
    /// When the code stops working, if it says.
    pub expires_at_ms: Option<u64>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawCode {
    url: Option<String>,
    #[serde(default)]
    urls: Vec<String>,
    bootstrap_token: Option<String>,
    token: Option<String>,
    #[serde(alias = "tlsFingerprintSha256", alias = "fingerprint")]
    tls_fingerprint: Option<String>,
    expires_at_ms: Option<u64>,
}

/// Why a setup code was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid setup code: {0}")]
pub struct SetupCodeError(pub String);

/// The largest setup code we look at (they are a few hundred bytes).
const MAX_CODE_LEN: usize = 8 * 1024;

/// Pulls the code out of the forms people paste: the raw code, `oc-pair://CODE`, or a URL
/// carrying it in a `code`/`setup`/`pair` query parameter or in the fragment.
///
/// The URL's own parts are returned, never offsets into `input`: the parser
/// percent-encodes and decodes, so a part's length need not match the text it came from
/// (found by the `setup_code` fuzz target: `http:g#` and four NULs underflowed).
fn extract(input: &str) -> Cow<'_, str> {
    let input = input.trim();
    if let Some(rest) = input.strip_prefix("oc-pair://") {
        return Cow::Borrowed(rest.trim_end_matches('/'));
    }
    if let Ok(url) = url::Url::parse(input)
        && matches!(url.scheme(), "http" | "https" | "openclaw")
    {
        for (key, value) in url.query_pairs() {
            if matches!(key.as_ref(), "code" | "setup" | "setupCode" | "pair") {
                return Cow::Owned(value.into_owned());
            }
        }
        if let Some(fragment) = url.fragment().filter(|f| !f.is_empty()) {
            return Cow::Owned(fragment.to_string());
        }
    }
    Cow::Borrowed(input)
}

/// Decodes a setup code in any of its pasted forms (also the JSON document itself, which
/// is what a join URL returns).
pub fn parse_setup_code(input: &str) -> Result<SetupCode, SetupCodeError> {
    if input.len() > MAX_CODE_LEN {
        return Err(SetupCodeError("too long".into()));
    }
    let trimmed = input.trim();
    let bytes = if trimmed.starts_with('{') {
        trimmed.as_bytes().to_vec()
    } else {
        let extracted = extract(input);
        let code = extracted.trim();
        if code.is_empty() {
            return Err(SetupCodeError("empty".into()));
        }
        URL_SAFE_NO_PAD
            .decode(code.trim_end_matches('='))
            .or_else(|_| STANDARD.decode(code))
            .map_err(|_| SetupCodeError("not base64url".into()))?
    };
    let raw: RawCode = serde_json::from_slice(&bytes).map_err(|e| {
        SetupCodeError(format!("not a setup code document ({})", e.classify_name()))
    })?;
    if let Some(exp) = raw.expires_at_ms
        && exp < crate::now_ms()
    {
        return Err(SetupCodeError(
            "it has expired; ask the gateway for a new one".into(),
        ));
    }
    let url = raw
        .url
        .or_else(|| raw.urls.first().cloned())
        .ok_or_else(|| SetupCodeError("no gateway url".into()))?;
    let parsed = url::Url::parse(&url).map_err(|_| SetupCodeError("bad gateway url".into()))?;
    if !matches!(parsed.scheme(), "ws" | "wss") {
        return Err(SetupCodeError(
            "the gateway url must be ws:// or wss://".into(),
        ));
    }
    let token = raw
        .bootstrap_token
        .or(raw.token)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| SetupCodeError("no bootstrap token".into()))?;
    if token.len() > 256 || !token.bytes().all(|b| (0x21..=0x7e).contains(&b)) {
        return Err(SetupCodeError("the bootstrap token is malformed".into()));
    }
    Ok(SetupCode {
        other_urls: raw.urls.into_iter().filter(|u| *u != url).collect(),
        url,
        bootstrap_token: Secret::new(token),
        tls_fingerprint: raw.tls_fingerprint,
        expires_at_ms: raw.expires_at_ms,
    })
}

/// Encodes a setup code (the embedded gateway mints these), in the real Gateway's shape.
pub fn encode_setup_code(url: &str, bootstrap_token: &str, expires_at_ms: Option<u64>) -> String {
    let mut doc = serde_json::json!({"url": url, "bootstrapToken": bootstrap_token});
    if let Some(exp) = expires_at_ms {
        doc["expiresAtMs"] = serde_json::json!(exp);
    }
    URL_SAFE_NO_PAD.encode(doc.to_string())
}

trait ClassifyName {
    fn classify_name(&self) -> &'static str;
}

impl ClassifyName for serde_json::Error {
    fn classify_name(&self) -> &'static str {
        match self.classify() {
            serde_json::error::Category::Io => "unreadable",
            serde_json::error::Category::Syntax => "not JSON",
            serde_json::error::Category::Data => "missing or wrong fields",
            serde_json::error::Category::Eof => "truncated",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_real_gateways_shape_and_expiry() {
        let future = crate::now_ms() + 600_000;
        let doc = format!(
            "{{\"url\":\"ws://127.0.0.1:28799\",\"bootstrapToken\":\"fVA2\",\"expiresAtMs\":{future}}}"
        );
        let c = parse_setup_code(&URL_SAFE_NO_PAD.encode(&doc)).unwrap();
        assert_eq!(c.expires_at_ms, Some(future));
        assert_eq!(parse_setup_code(&doc).unwrap().url, "ws://127.0.0.1:28799");
        let past = "{\"url\":\"ws://x:1\",\"bootstrapToken\":\"t\",\"expiresAtMs\":1}";
        assert!(
            parse_setup_code(past)
                .unwrap_err()
                .to_string()
                .contains("expired")
        );
    }

    #[test]
    fn round_trips_in_every_form() {
        let code = encode_setup_code("ws://127.0.0.1:18789", "boot-123", None);
        for form in [
            code.clone(),
            format!("  {code}\n"),
            format!("oc-pair://{code}"),
            format!("https://gw.example/join?code={code}"),
            format!("https://gw.example/join#{code}"),
        ] {
            let c = parse_setup_code(&form).unwrap_or_else(|e| panic!("{form}: {e}"));
            assert_eq!(c.url, "ws://127.0.0.1:18789");
            assert_eq!(c.bootstrap_token.expose(), "boot-123");
        }
    }

    #[test]
    fn rejects_garbage_without_echoing_it() {
        for bad in [
            "",
            "!!!",
            "oc-pair://",
            &URL_SAFE_NO_PAD.encode("{\"url\":\"ftp://x\",\"bootstrapToken\":\"t\"}"),
            &URL_SAFE_NO_PAD.encode("{\"url\":\"ws://x\"}"),
            &URL_SAFE_NO_PAD.encode("[1]"),
            &"a".repeat(MAX_CODE_LEN + 1),
        ] {
            let err = parse_setup_code(bad).unwrap_err();
            assert!(!err.to_string().contains("bootstrapToken\":\"t"), "{err}");
        }
        let with_secret =
            URL_SAFE_NO_PAD.encode("{\"url\":\"ftp://x\",\"bootstrapToken\":\"sekrit\"}");
        assert!(
            !parse_setup_code(&with_secret)
                .unwrap_err()
                .to_string()
                .contains("sekrit")
        );
    }

    #[test]
    fn a_url_whose_parts_are_re_encoded_is_refused_not_a_panic() {
        // Found by the `setup_code` fuzz target: the fragment comes back percent-encoded,
        // longer than the text it came from.
        for bad in [
            "http:g#\0\0\0\0Q",
            "http://é/?code=%41%41%41%41%41%41%41%41",
        ] {
            assert!(parse_setup_code(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn legacy_token_field_and_pin_are_read() {
        let code = URL_SAFE_NO_PAD.encode(
            "{\"urls\":[\"wss://a:1\",\"ws://b:2\"],\"token\":\"t\",\"tlsFingerprint\":\"ab\"}",
        );
        let c = parse_setup_code(&code).unwrap();
        assert_eq!(c.url, "wss://a:1");
        assert_eq!(c.other_urls, vec!["ws://b:2".to_string()]);
        assert_eq!(c.tls_fingerprint.as_deref(), Some("ab"));
    }
}

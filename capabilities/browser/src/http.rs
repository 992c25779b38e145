//! The HTTP-shaped request and response that `browser.proxy` carries in-process (no
//! socket), and the argument reader every route uses: query first for GETs, body for
//! POSTs, numbers and booleans accepted as strings (spec browser.md §1.1).

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use crate::error::ServiceError;

/// One request to the control service.
#[derive(Debug, Clone, Default)]
pub struct Request {
    /// `GET`, `POST` or `DELETE`.
    pub method: String,
    /// Path with a leading `/`, without query.
    pub path: String,
    /// Query values as strings.
    pub query: BTreeMap<String, String>,
    /// The JSON body (anything but an object is treated as `{}`).
    pub body: Map<String, Value>,
}

/// One response.
#[derive(Debug, Clone, PartialEq)]
pub struct Response {
    /// HTTP-like status.
    pub status: u16,
    /// JSON body.
    pub body: Value,
}

impl Response {
    /// 200 with `body`.
    pub fn ok(body: Value) -> Self {
        Self { status: 200, body }
    }

    /// An error body `{error, …extra}`.
    pub fn error(e: ServiceError) -> Self {
        let mut body = json!({ "error": e.message });
        if let Some(Value::Object(extra)) = e.extra {
            for (k, v) in extra {
                body[k] = v;
            }
        }
        Self {
            status: e.status,
            body,
        }
    }
}

/// Reads a route's arguments.
pub struct Args<'a> {
    req: &'a Request,
}

fn parse_bool(s: &str) -> Option<bool> {
    match s.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" => Some(true),
        "false" | "0" | "no" => Some(false),
        _ => None,
    }
}

impl<'a> Args<'a> {
    /// Arguments of `req`.
    pub fn new(req: &'a Request) -> Self {
        Self { req }
    }

    /// The whole body.
    pub fn body(&self) -> &'a Map<String, Value> {
        &self.req.body
    }

    /// The raw body value of `name`, if any.
    pub fn raw(&self, name: &str) -> Option<&'a Value> {
        self.req.body.get(name).filter(|v| !v.is_null())
    }

    /// A string argument (body, then query). Numbers are turned into text.
    pub fn str(&self, name: &str) -> Option<String> {
        match self.raw(name) {
            Some(Value::String(s)) => Some(s.clone()),
            Some(Value::Number(n)) => Some(n.to_string()),
            Some(Value::Bool(b)) => Some(b.to_string()),
            Some(_) => None,
            None => self.req.query.get(name).cloned(),
        }
    }

    /// A boolean argument: `true|1|yes` / `false|0|no`. Invalid text is `None`.
    pub fn bool(&self, name: &str) -> Option<bool> {
        match self.raw(name) {
            Some(Value::Bool(b)) => Some(*b),
            Some(Value::String(s)) => parse_bool(s),
            Some(Value::Number(n)) => n.as_i64().map(|n| n != 0),
            _ => self.req.query.get(name).and_then(|s| parse_bool(s)),
        }
    }

    /// A number argument (decimal strings accepted). Invalid text is `None`.
    pub fn f64(&self, name: &str) -> Option<f64> {
        match self.raw(name) {
            Some(Value::Number(n)) => n.as_f64(),
            Some(Value::String(s)) => s.trim().parse().ok(),
            _ => self.req.query.get(name).and_then(|s| s.trim().parse().ok()),
        }
        .filter(|n: &f64| n.is_finite())
    }

    /// Whether the argument is present at all.
    pub fn has(&self, name: &str) -> bool {
        self.raw(name).is_some() || self.req.query.contains_key(name)
    }

    /// A timeout in ms clamped to `[lo, hi]`, `default` when absent.
    pub fn timeout_ms(&self, default: u64, lo: u64, hi: u64) -> u64 {
        self.f64("timeoutMs")
            .map_or(default, |v| (v.max(0.0) as u64).clamp(lo, hi))
    }
}

/// Matches `pattern` (with `:param` segments) against `path`, decoding the params.
pub fn match_path(
    pattern: &str,
    path: &str,
) -> Option<Result<BTreeMap<String, String>, ServiceError>> {
    let pat: Vec<&str> = pattern.trim_matches('/').split('/').collect();
    let got: Vec<&str> = path.trim_matches('/').split('/').collect();
    if pat.len() != got.len() {
        return None;
    }
    let mut params = BTreeMap::new();
    for (p, g) in pat.iter().zip(&got) {
        if let Some(name) = p.strip_prefix(':') {
            match percent_decode(g) {
                Some(v) => {
                    params.insert(name.to_string(), v);
                }
                None => {
                    return Some(Err(ServiceError::new(
                        400,
                        format!("invalid path parameter encoding: {name}"),
                    )));
                }
            }
        } else if p != g {
            return None;
        }
    }
    Some(Ok(params))
}

fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn args_accept_strings_for_numbers_and_booleans() {
        let mut req = Request {
            method: "GET".into(),
            path: "/snapshot".into(),
            ..Default::default()
        };
        req.query.insert("interactive".into(), "yes".into());
        req.query.insert("depth".into(), "3".into());
        req.body.insert("timeoutMs".into(), json!("999999"));
        req.body.insert("fullPage".into(), json!("true"));
        let a = Args::new(&req);
        assert_eq!(a.bool("interactive"), Some(true));
        assert_eq!(a.f64("depth"), Some(3.0));
        assert_eq!(a.bool("fullPage"), Some(true));
        assert_eq!(a.timeout_ms(20_000, 1_000, 120_000), 120_000);
        assert_eq!(a.bool("missing"), None);
    }

    #[test]
    fn paths_match_with_decoded_params() {
        let m = match_path("/tabs/:targetId", "/tabs/A%20B")
            .unwrap()
            .unwrap();
        assert_eq!(m["targetId"], "A B");
        assert!(match_path("/tabs/:targetId", "/tabs").is_none());
        let bad = match_path("/tabs/:targetId", "/tabs/%zz")
            .unwrap()
            .unwrap_err();
        assert_eq!(bad.message, "invalid path parameter encoding: targetId");
    }
}

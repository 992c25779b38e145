//! The `browser.proxy` command (spec commands.md §11): its params, the gating before any
//! browser starts (path, method, no profile mutation, no host-local routes, the profile
//! allowlist, upload only on `browser.proxy.upload.v1`), the timeout, and the reply —
//! `{result, files?}` or the `browser-v1` error envelope. Does not own the routes
//! (`routes/`) or the files themselves (`transfer.rs`).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use openclaw_capability_api::{CallContext, CapabilityError, Command};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::http::Request;
use crate::memory;
use crate::routes;
use crate::service::Service;
use crate::transfer::{collect_files, invalid, stage_upload};

/// Default `browser.proxy` timeout when the call gives none.
pub const DEFAULT_PROXY_TIMEOUT_MS: u64 = 20_000;

/// `browser.proxy` params (spec commands.md §11), read as the reference reads them: a
/// field of the wrong type is ignored (a numeric `method` is `GET`, a `query` that is not
/// an object is none), and params that are not an object have no `path`.
#[derive(Debug, Default)]
pub struct ProxyParams {
    /// Route path (a leading `/` is added).
    pub path: Option<String>,
    /// `GET` (default), `POST` or `DELETE`.
    pub method: Option<String>,
    /// Query values (string, number, boolean; null dropped).
    pub query: Option<Map<String, Value>>,
    /// Any JSON body.
    pub body: Option<Value>,
    /// The profile (also read from query and body).
    pub profile: Option<String>,
    /// Request timeout.
    pub timeout_ms: Option<f64>,
    /// `browser-v1` for the structured error envelope.
    pub error_envelope: Option<String>,
    /// Only for `browser.proxy.upload.v1`.
    pub upload: Option<Value>,
}

impl<'de> Deserialize<'de> for ProxyParams {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = Value::deserialize(d)?;
        let text = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_string);
        Ok(Self {
            path: text("path"),
            method: text("method").map(|m| m.trim().to_string()),
            query: v.get("query").and_then(Value::as_object).cloned(),
            body: v.get("body").filter(|b| !b.is_null()).cloned(),
            profile: text("profile"),
            timeout_ms: v.get("timeoutMs").and_then(Value::as_f64),
            error_envelope: text("errorEnvelope"),
            upload: v.get("upload").filter(|u| !u.is_null()).cloned(),
        })
    }
}

/// `browser.proxy`, or `browser.proxy.upload.v1` when `upload`.
pub struct Proxy {
    /// The service the routes run against.
    pub service: Arc<Service>,
    /// Whether this is the upload command.
    pub upload: bool,
}

const MUTATING: &[(&str, &str)] = &[("POST", "/profiles/create"), ("POST", "/reset-profile")];
const HOST_LOCAL: &[(&str, &str)] = &[("GET", "/system-profiles"), ("POST", "/profiles/import")];

/// A failed route as the reference node host reports it: `INVALID_REQUEST` with the text
/// of a thrown JavaScript `Error` (seen on the real Gateway; docs/protocol-notes.md).
fn node_error(msg: String) -> CapabilityError {
    CapabilityError::invalid_request(format!("Error: {msg}"))
}

impl Command for Proxy {
    type Params = ProxyParams;
    type Output = Value;

    fn name(&self) -> &'static str {
        if self.upload {
            "browser.proxy.upload.v1"
        } else {
            "browser.proxy"
        }
    }

    async fn run(&self, p: ProxyParams, ctx: CallContext) -> Result<Value, CapabilityError> {
        let svc = &self.service;
        if !svc.settings.enabled {
            return Err(CapabilityError::unavailable(
                "UNAVAILABLE: node browser proxy disabled",
            ));
        }
        let raw_path = p
            .path
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .ok_or_else(|| invalid("path required"))?;
        let mut path = if raw_path.starts_with('/') {
            raw_path.to_string()
        } else {
            format!("/{raw_path}")
        };
        if let Some((before, _)) = path.split_once('?') {
            path = before.to_string();
        }
        let method = p.method.as_deref().unwrap_or("GET").to_ascii_uppercase();
        if !["GET", "POST", "DELETE"].contains(&method.as_str()) {
            return Err(invalid("method must be GET, POST, or DELETE"));
        }
        let cmp = path.trim_end_matches('/');
        let cmp = if cmp.is_empty() { "/" } else { cmp };
        let deleting_profile = method == "DELETE" && cmp.starts_with("/profiles/");
        if deleting_profile || MUTATING.contains(&(method.as_str(), cmp)) {
            return Err(invalid(
                "browser.proxy cannot mutate persistent browser profiles",
            ));
        }
        if HOST_LOCAL.contains(&(method.as_str(), cmp)) || cmp.starts_with("/system-profiles") {
            return Err(invalid(
                "browser.proxy cannot run host-local browser routes",
            ));
        }
        let mut query: BTreeMap<String, String> = BTreeMap::new();
        for (k, v) in p.query.unwrap_or_default() {
            match v {
                Value::Null => {}
                Value::String(s) => {
                    query.insert(k, s);
                }
                Value::Number(n) => {
                    query.insert(k, n.to_string());
                }
                Value::Bool(b) => {
                    query.insert(k, b.to_string());
                }
                _ => {
                    return Err(invalid(&format!(
                        "query.{k} must be a string, number, boolean or null"
                    )));
                }
            }
        }
        let mut body = match p.body {
            Some(Value::Object(m)) => m,
            _ => Map::new(),
        };
        let profile = p
            .profile
            .clone()
            .or_else(|| query.get("profile").cloned())
            .or_else(|| {
                body.get("profile")
                    .and_then(Value::as_str)
                    .map(String::from)
            })
            .unwrap_or_else(|| svc.default_profile().to_string());
        let allow = &svc.settings.allow_profiles;
        if !allow.is_empty() && !allow.contains(&profile) {
            return Err(invalid("browser profile not allowed"));
        }
        query.insert("profile".into(), profile.clone());
        match (self.upload, p.upload) {
            (false, Some(_)) => {
                return Err(invalid("browser.proxy does not accept upload envelopes"));
            }
            (true, None) => {
                return Err(invalid(
                    "browser.proxy.upload.v1 requires an upload envelope",
                ));
            }
            (true, Some(u)) => {
                let prof = svc.profile(&profile).map_err(|e| invalid(&e.message))?;
                let staged = stage_upload(&prof.uploads_dir(), &u)?;
                body.insert("paths".into(), json!(staged));
            }
            (false, None) => {}
        }
        let timeout_ms = p
            .timeout_ms
            .filter(|t| t.is_finite() && *t > 0.0)
            .map_or(DEFAULT_PROXY_TIMEOUT_MS, |t| t as u64);
        let timeout = match ctx.deadline {
            Some(d) => Duration::from_millis(timeout_ms)
                .min(d.saturating_duration_since(tokio::time::Instant::now())),
            None => Duration::from_millis(timeout_ms),
        };
        let req = Request {
            method: method.clone(),
            path: path.clone(),
            query,
            body,
        };
        let envelope = p.error_envelope.as_deref() == Some("browser-v1");
        let route_info = json!({"status": "resolved", "profile": profile, "driver": "openclaw"});
        let resp = tokio::select! {
            r = tokio::time::timeout(timeout, routes::dispatch(svc, &req)) => match r {
                Ok(resp) => resp,
                Err(_) => {
                    let status_req = Request {
                        method: "GET".into(),
                        path: "/".into(),
                        query: [("profile".to_string(), profile.clone())].into(),
                        body: Map::new(),
                    };
                    let b = routes::dispatch(svc, &status_req).await.body;
                    return Err(node_error(format!(
                        "browser proxy timed out for {method} {path} after {}ms; browser action; profile={profile}; status(running={}, cdpHttp={}, cdpReady={})",
                        timeout.as_millis(), b["running"], b["cdpHttp"], b["cdpReady"]
                    )));
                }
            },
            _ = ctx.cancel.cancelled() => return Err(CapabilityError::unavailable("browser proxy call cancelled")),
        };
        if matches!(
            cmp,
            "/snapshot" | "/screenshot" | "/pdf" | "/download" | "/wait/download" | "/doctor"
        ) {
            memory::release_soon();
        }
        if resp.status >= 400 {
            if envelope {
                let mut body = json!({"error": resp.body.get("error").cloned().unwrap_or(json!(format!("HTTP {}", resp.status)))});
                if let Some(code) = resp.body.get("code") {
                    body["code"] = code.clone();
                }
                for k in ["reason", "details"] {
                    if let Some(v) = resp.body.get(k) {
                        body[k] = v.clone();
                    }
                }
                return Ok(
                    json!({"error": {"status": resp.status, "body": body}, "route": route_info}),
                );
            }
            let detail = resp
                .body
                .get("error")
                .and_then(Value::as_str)
                .map(String::from);
            return Err(node_error(match detail {
                Some(d) => format!("{}: {d}", resp.status),
                None => format!("HTTP {}", resp.status),
            }));
        }
        let prof_dir = svc.profile(&profile).map(|p| p.dir.clone()).ok();
        let files = collect_files(&resp.body, prof_dir.as_deref())?;
        let mut out = json!({"result": resp.body});
        if !files.is_empty() {
            out["files"] = json!(files);
        }
        if envelope {
            out["route"] = route_info;
        }
        Ok(out)
    }
}

//! `browser.proxy` and `browser.proxy.upload.v1`: an in-process browser control service
//! that drives Chromium over CDP (through chromiumoxide), compatible with the reference
//! node host's route set (spec `commands.md` §11, `browser.md`).
//!
//! - [`settings`]: the `[browser]` config section.
//! - [`launch`]: finding the browser, starting it in its own process group, and killing
//!   the whole tree on stop, on shutdown and after a node crash.
//! - [`service`]: profiles, the running browser of each, tabs and per-tab state.
//! - [`routes`]: the HTTP-shaped routes, one file per group; [`act`]: `POST /act`, running
//!   the typed [`action::Action`]s that [`action`] decodes and checks.
//! - Shared by both: [`guard`] (the URL policy on pages), [`element`] (refs and
//!   selectors), [`input`] (mouse and keys), [`error`], [`http`] (request, response,
//!   arguments).
//! - [`snapshot`]: the role snapshot; [`policy`]: URL and file-system rules; [`keys`]: key
//!   chords; [`cdp`]: raw calls; [`clock`]: ISO timestamps; [`memory`]: trimming the heap.
//! - This file: the two commands, their envelope (gating, profile allowlist, files
//!   shipped back, the `browser-v1` error envelope, timeouts) and upload staging.

#![deny(unsafe_code)]

pub mod act;
pub mod action;
pub mod cdp;
pub mod clock;
pub mod element;
pub mod error;
pub mod guard;
pub mod http;
pub mod input;
pub mod keys;
pub mod launch;
pub mod memory;
pub mod policy;
pub mod routes;
pub mod service;
pub mod settings;
pub mod snapshot;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use openclaw_capability_api::{
    Availability, CallContext, Capability, CapabilityError, Command, Handler, erase,
};
use serde::Deserialize;
use serde_json::{Map, Value, json};

pub use http::{Request, Response};
pub use service::Service;
pub use settings::BrowserSettings;

/// Default `browser.proxy` timeout when the call gives none.
pub const DEFAULT_PROXY_TIMEOUT_MS: u64 = 20_000;
/// Largest file shipped back in `files[]`.
pub const MAX_FILE_BYTES: u64 = 10 * 1024 * 1024;
/// Largest sum of shipped files.
pub const MAX_FILES_TOTAL_BYTES: u64 = 16 * 1024 * 1024;
/// Most files shipped back.
pub const MAX_FILES: usize = 256;
/// Largest upload (decoded, all files together).
pub const MAX_UPLOAD_BYTES: usize = 16 * 1024 * 1024;

/// The browser capability.
#[derive(Clone)]
pub struct BrowserCapability {
    service: Arc<Service>,
}

impl BrowserCapability {
    /// A capability with its profiles under `data_dir` (usually `<state>/browser`).
    pub fn new(settings: BrowserSettings, data_dir: &Path) -> Self {
        let env: HashMap<String, String> = std::env::vars().collect();
        Self::with_env(settings, data_dir, env)
    }

    /// As [`BrowserCapability::new`] with an explicit environment (tests).
    pub fn with_env(
        settings: BrowserSettings,
        data_dir: &Path,
        env: HashMap<String, String>,
    ) -> Self {
        Self {
            service: Arc::new(Service::new(settings, data_dir, env)),
        }
    }

    /// The service (for `doctor`, benchmarks and tests).
    pub fn service(&self) -> &Arc<Service> {
        &self.service
    }

    /// Stops every browser (call on node shutdown).
    pub async fn shutdown(&self) {
        self.service.stop_all().await;
    }
}

impl Capability for BrowserCapability {
    fn caps(&self) -> Vec<&'static str> {
        vec!["browser"]
    }

    fn handlers(&self) -> Vec<Arc<dyn Handler>> {
        vec![
            erase(Proxy {
                service: self.service.clone(),
                upload: false,
            }),
            erase(Proxy {
                service: self.service.clone(),
                upload: true,
            }),
        ]
    }

    fn shutdown(&self) -> openclaw_capability_api::BoxFuture<()> {
        let service = self.service.clone();
        Box::pin(async move { service.stop_all().await })
    }

    fn availability(&self) -> Availability {
        if !self.service.settings.enabled {
            return Availability::Unavailable(
                "browser control is disabled ([browser] enabled = false)".into(),
            );
        }
        match self.service.detect() {
            Ok(_) => Availability::Available,
            Err(e) => Availability::Unavailable(e),
        }
    }
}

/// `browser.proxy` params (spec commands.md §11).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProxyParams {
    /// Route path (a leading `/` is added).
    #[serde(default)]
    pub path: Option<String>,
    /// `GET` (default), `POST` or `DELETE`.
    #[serde(default)]
    pub method: Option<String>,
    /// Query values (string, number, boolean; null dropped).
    #[serde(default)]
    pub query: Option<Map<String, Value>>,
    /// Any JSON body.
    #[serde(default)]
    pub body: Option<Value>,
    /// The profile (also read from query and body).
    #[serde(default)]
    pub profile: Option<String>,
    /// Request timeout.
    #[serde(default)]
    pub timeout_ms: Option<f64>,
    /// `browser-v1` for the structured error envelope.
    #[serde(default)]
    pub error_envelope: Option<String>,
    /// Only for `browser.proxy.upload.v1`.
    #[serde(default)]
    pub upload: Option<Value>,
}

struct Proxy {
    service: Arc<Service>,
    upload: bool,
}

const MUTATING: &[(&str, &str)] = &[("POST", "/profiles/create"), ("POST", "/reset-profile")];
const HOST_LOCAL: &[(&str, &str)] = &[("GET", "/system-profiles"), ("POST", "/profiles/import")];

/// A failed route as the reference node host reports it: `INVALID_REQUEST` with the text
/// of a thrown JavaScript `Error` (seen on the real Gateway; docs/protocol-notes.md).
fn node_error(msg: String) -> CapabilityError {
    CapabilityError::invalid_request(format!("Error: {msg}"))
}

fn invalid(msg: &str) -> CapabilityError {
    CapabilityError::invalid_request(format!("INVALID_REQUEST: {msg}"))
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
                return Err(invalid(
                    "upload is only accepted by browser.proxy.upload.v1",
                ));
            }
            (true, None) => return Err(invalid("browser.proxy.upload.v1 requires upload")),
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

/// The result paths shipped back: `path`, `imagePath`, `download.path`, `downloads[].path`
/// (never deeper: page-controlled data must not name files). Only files inside the
/// profile's own directory are read.
fn collect_files(
    result: &Value,
    profile_dir: Option<&Path>,
) -> Result<Vec<Value>, CapabilityError> {
    let mut paths: Vec<&str> = Vec::new();
    for key in ["path", "imagePath"] {
        if let Some(p) = result.get(key).and_then(Value::as_str) {
            paths.push(p);
        }
    }
    if let Some(p) = result.pointer("/download/path").and_then(Value::as_str) {
        paths.push(p);
    }
    if let Some(list) = result.get("downloads").and_then(Value::as_array) {
        paths.extend(
            list.iter()
                .filter_map(|d| d.get("path").and_then(Value::as_str)),
        );
    }
    if paths.len() > MAX_FILES {
        return Err(CapabilityError::unavailable(format!(
            "browser proxy result names {} files (limit {MAX_FILES})",
            paths.len()
        )));
    }
    let Some(root) = profile_dir.and_then(|d| std::fs::canonicalize(d).ok()) else {
        return Ok(Vec::new());
    };
    let mut total = 0u64;
    let mut out = Vec::new();
    for p in paths {
        let Ok(real) = std::fs::canonicalize(p) else {
            continue;
        };
        if !real.starts_with(&root) {
            continue;
        }
        let size = std::fs::metadata(&real).map(|m| m.len()).unwrap_or(0);
        if size > MAX_FILE_BYTES {
            return Err(CapabilityError::unavailable(format!(
                "browser proxy file {p} is {size} bytes (limit {MAX_FILE_BYTES})"
            )));
        }
        total += size;
        if total > MAX_FILES_TOTAL_BYTES {
            return Err(CapabilityError::unavailable(format!(
                "browser proxy files exceed {MAX_FILES_TOTAL_BYTES} bytes in total"
            )));
        }
        let bytes = std::fs::read(&real)
            .map_err(|e| CapabilityError::unavailable(format!("cannot read {p}: {e}")))?;
        let mut f =
            json!({"path": p, "base64": base64::engine::general_purpose::STANDARD.encode(&bytes)});
        if let Some(m) = mime_of(&real) {
            f["mimeType"] = json!(m);
        }
        out.push(f);
    }
    Ok(out)
}

fn mime_of(p: &Path) -> Option<&'static str> {
    Some(
        match p.extension()?.to_str()?.to_ascii_lowercase().as_str() {
            "png" => "image/png",
            "jpg" | "jpeg" => "image/jpeg",
            "pdf" => "application/pdf",
            "txt" => "text/plain",
            "html" | "htm" => "text/html",
            "json" => "application/json",
            "zip" => "application/zip",
            "csv" => "text/csv",
            _ => return None,
        },
    )
}

/// Writes `upload.files` into a fresh directory under `root` and returns their paths.
fn stage_upload(root: &Path, upload: &Value) -> Result<Vec<String>, CapabilityError> {
    if upload.get("envelope").and_then(Value::as_str) != Some("browser-upload-v1") {
        return Err(invalid("upload.envelope must be \"browser-upload-v1\""));
    }
    let files = upload
        .get("files")
        .and_then(Value::as_array)
        .filter(|f| !f.is_empty())
        .ok_or_else(|| invalid("upload.files are required"))?;
    let mut id = [0u8; 8];
    getrandom::fill(&mut id).map_err(|e| CapabilityError::unavailable(e.to_string()))?;
    let dir: PathBuf = root.join(id.iter().map(|b| format!("{b:02x}")).collect::<String>());
    std::fs::create_dir_all(&dir).map_err(|e| {
        CapabilityError::unavailable(format!("cannot stage uploads in {}: {e}", dir.display()))
    })?;
    let mut total = 0usize;
    let mut out = Vec::new();
    for (i, f) in files.iter().enumerate() {
        let name = f.get("name").and_then(Value::as_str).unwrap_or("");
        let clean: String = name
            .chars()
            .map(|c| {
                if c.is_alphanumeric() || "._- ".contains(c) {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        let clean = clean.trim_start_matches('.').to_string();
        if clean.is_empty() {
            return Err(invalid(&format!("upload.files[{i}].name is required")));
        }
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(f.get("contentBase64").and_then(Value::as_str).unwrap_or(""))
            .map_err(|_| {
                invalid(&format!(
                    "upload.files[{i}].contentBase64 is not valid base64"
                ))
            })?;
        total += bytes.len();
        if total > MAX_UPLOAD_BYTES {
            let _ = std::fs::remove_dir_all(&dir);
            return Err(invalid(&format!("upload exceeds {MAX_UPLOAD_BYTES} bytes")));
        }
        let path = dir.join(&clean);
        openclaw_capability_api::fs::write_private_file(&path, &bytes).map_err(|e| {
            CapabilityError::unavailable(format!("cannot stage {}: {e}", path.display()))
        })?;
        out.push(path.display().to_string());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cap(settings: BrowserSettings) -> (BrowserCapability, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        (
            BrowserCapability::with_env(settings, dir.path(), HashMap::new()),
            dir,
        )
    }

    async fn call(
        c: &BrowserCapability,
        name: &str,
        params: Value,
    ) -> Result<Value, CapabilityError> {
        let h = c.handlers().into_iter().find(|h| h.name() == name).unwrap();
        h.call(Some(params.to_string()), CallContext::detached("t"))
            .await
            .map(|s| serde_json::from_str(&s).unwrap())
    }

    #[tokio::test]
    async fn gating_happens_before_any_browser_starts() {
        let (c, _d) = cap(BrowserSettings {
            allow_profiles: vec!["openclaw".into()],
            ..Default::default()
        });
        let cases = [
            (json!({}), "INVALID_REQUEST: path required"),
            (
                json!({"path": "/", "method": "PUT"}),
                "INVALID_REQUEST: method must be GET, POST, or DELETE",
            ),
            (
                json!({"path": "/profiles/create", "method": "POST"}),
                "INVALID_REQUEST: browser.proxy cannot mutate persistent browser profiles",
            ),
            (
                json!({"path": "profiles/work", "method": "DELETE"}),
                "INVALID_REQUEST: browser.proxy cannot mutate persistent browser profiles",
            ),
            (
                json!({"path": "/reset-profile/", "method": "POST"}),
                "INVALID_REQUEST: browser.proxy cannot mutate persistent browser profiles",
            ),
            (
                json!({"path": "/system-profiles"}),
                "INVALID_REQUEST: browser.proxy cannot run host-local browser routes",
            ),
            (
                json!({"path": "/profiles/import", "method": "POST"}),
                "INVALID_REQUEST: browser.proxy cannot run host-local browser routes",
            ),
            (
                json!({"path": "/tabs", "profile": "work"}),
                "INVALID_REQUEST: browser profile not allowed",
            ),
            (
                json!({"path": "/tabs", "query": {"profile": "work"}}),
                "INVALID_REQUEST: browser profile not allowed",
            ),
            (
                json!({"path": "/tabs", "upload": {}}),
                "INVALID_REQUEST: upload is only accepted by browser.proxy.upload.v1",
            ),
        ];
        for (params, want) in cases {
            let e = call(&c, "browser.proxy", params.clone()).await.unwrap_err();
            assert_eq!(e.message, want, "{params}");
        }
        let e = call(
            &c,
            "browser.proxy.upload.v1",
            json!({"path": "/hooks/file-chooser", "method": "POST"}),
        )
        .await
        .unwrap_err();
        assert_eq!(
            e.message,
            "INVALID_REQUEST: browser.proxy.upload.v1 requires upload"
        );
        let (off, _d) = cap(BrowserSettings {
            enabled: false,
            ..Default::default()
        });
        let e = call(&off, "browser.proxy", json!({"path": "/"}))
            .await
            .unwrap_err();
        assert_eq!(e.message, "UNAVAILABLE: node browser proxy disabled");
        assert!(matches!(off.availability(), Availability::Unavailable(_)));
    }

    #[tokio::test]
    async fn routes_that_never_launch_answer_without_a_browser() {
        let (c, _d) = cap(BrowserSettings {
            executable_path: Some("/nonexistent/chromium".into()),
            ..Default::default()
        });
        let status = call(&c, "browser.proxy", json!({"path": "/"}))
            .await
            .unwrap();
        assert_eq!(status["result"]["running"], false);
        assert_eq!(status["result"]["profile"], "openclaw");
        assert!(
            status["result"]["detectError"]
                .as_str()
                .unwrap()
                .contains("not an executable file")
        );
        let tabs = call(&c, "browser.proxy", json!({"path": "/tabs"}))
            .await
            .unwrap();
        assert_eq!(tabs["result"], json!({"running": false, "tabs": []}));
        let doctor = call(&c, "browser.proxy", json!({"path": "/doctor"}))
            .await
            .unwrap();
        assert_eq!(doctor["result"]["ok"], false);
        // Unknown routes and unknown profiles keep the reference shapes.
        let e = call(&c, "browser.proxy", json!({"path": "/nope"}))
            .await
            .unwrap_err();
        assert_eq!(e.message, "Error: 404: Not Found");
        assert_eq!(e.code, openclaw_capability_api::ErrorCode::InvalidRequest);
        let env = call(
            &c,
            "browser.proxy",
            json!({"path": "/nope", "errorEnvelope": "browser-v1"}),
        )
        .await
        .unwrap();
        assert_eq!(
            env["error"],
            json!({"status": 404, "body": {"error": "Not Found"}})
        );
        assert_eq!(env["route"]["status"], "resolved");
        let e = call(
            &c,
            "browser.proxy",
            json!({"path": "/", "profile": "ghost"}),
        )
        .await
        .unwrap_err();
        assert!(
            e.message.starts_with("Error: 404: ") && e.message.contains("not found"),
            "{}",
            e.message
        );
        // A page route needs the browser: the missing binary is a clear error.
        let e = call(&c, "browser.proxy", json!({"path": "/snapshot"}))
            .await
            .unwrap_err();
        assert!(
            e.message.contains("not an executable file"),
            "{}",
            e.message
        );
        // Navigation to refused schemes never reaches the browser.
        let e = call(
            &c,
            "browser.proxy",
            json!({"path": "/tabs/open", "method": "POST", "body": {"url": "file:///etc/passwd"}}),
        )
        .await
        .unwrap_err();
        assert_eq!(
            e.message,
            "Error: 400: Navigation blocked: unsupported protocol \"file:\""
        );
    }

    #[test]
    fn uploads_are_staged_privately_with_clean_names() {
        let dir = tempfile::tempdir().unwrap();
        let upload = json!({"envelope": "browser-upload-v1", "files": [{"name": "../../evil.txt", "contentBase64": "aGk="}]});
        let paths = stage_upload(dir.path(), &upload).unwrap();
        let p = Path::new(&paths[0]);
        assert!(p.starts_with(dir.path()));
        assert_eq!(p.file_name().unwrap(), "_.._evil.txt");
        assert_eq!(std::fs::read(p).unwrap(), b"hi");
        use std::os::unix::fs::PermissionsExt as _;
        assert_eq!(
            std::fs::metadata(p).unwrap().permissions().mode() & 0o777,
            0o600
        );
        let bad = json!({"envelope": "browser-upload-v1", "files": [{"name": "a", "contentBase64": "%%%"}]});
        assert!(
            stage_upload(dir.path(), &bad)
                .unwrap_err()
                .message
                .contains("not valid base64")
        );
        assert!(stage_upload(dir.path(), &json!({"files": []})).is_err());
    }

    #[test]
    fn only_files_inside_the_profile_are_shipped() {
        let dir = tempfile::tempdir().unwrap();
        let inside = dir.path().join("media/a.png");
        std::fs::create_dir_all(inside.parent().unwrap()).unwrap();
        std::fs::write(&inside, b"png").unwrap();
        let result =
            json!({"path": inside, "imagePath": "/etc/passwd", "nested": {"path": inside}});
        let files = collect_files(&result, Some(dir.path())).unwrap();
        assert_eq!(files.len(), 1);
        assert_eq!(files[0]["mimeType"], "image/png");
        assert_eq!(files[0]["base64"], "cG5n");
    }
}

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
//!   chords; [`cdp`]: raw calls; [`cdp_events`]: events as raw JSON, including those
//!   chromiumoxide cannot decode; [`clock`]: ISO timestamps; [`memory`]: trimming the heap.
//! - [`proxy`]: the `browser.proxy` command — gating, profile allowlist, timeout, the
//!   `browser-v1` error envelope; [`transfer`]: files shipped back and uploads staged.
//! - This file: the capability (its commands, availability, shutdown).

#![deny(unsafe_code)]

pub mod act;
pub mod action;
pub mod cdp;
pub mod cdp_events;
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
pub mod proxy;
pub mod routes;
pub mod service;
pub mod settings;
pub mod snapshot;
pub mod transfer;

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use openclaw_capability_api::{Availability, Capability, Handler, erase};

pub use http::{Request, Response};
pub use proxy::{DEFAULT_PROXY_TIMEOUT_MS, ProxyParams};
pub use service::Service;
pub use settings::BrowserSettings;
pub use transfer::{MAX_FILE_BYTES, MAX_FILES, MAX_FILES_TOTAL_BYTES, MAX_UPLOAD_BYTES};

use crate::proxy::Proxy;

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

#[cfg(test)]
mod tests {
    use openclaw_capability_api::{CallContext, CapabilityError};
    use serde_json::{Value, json};

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
            (json!({}), "Error: INVALID_REQUEST: path required"),
            (
                json!({"path": "/", "method": "PUT"}),
                "Error: INVALID_REQUEST: method must be GET, POST, or DELETE",
            ),
            (
                json!({"path": "/profiles/create", "method": "POST"}),
                "Error: INVALID_REQUEST: browser.proxy cannot mutate persistent browser profiles",
            ),
            (
                json!({"path": "profiles/work", "method": "DELETE"}),
                "Error: INVALID_REQUEST: browser.proxy cannot mutate persistent browser profiles",
            ),
            (
                json!({"path": "/reset-profile/", "method": "POST"}),
                "Error: INVALID_REQUEST: browser.proxy cannot mutate persistent browser profiles",
            ),
            (
                json!({"path": "/system-profiles"}),
                "Error: INVALID_REQUEST: browser.proxy cannot run host-local browser routes",
            ),
            (
                json!({"path": "/profiles/import", "method": "POST"}),
                "Error: INVALID_REQUEST: browser.proxy cannot run host-local browser routes",
            ),
            (
                json!({"path": "/tabs", "profile": "work"}),
                "Error: INVALID_REQUEST: browser profile not allowed",
            ),
            (
                json!({"path": "/tabs", "query": {"profile": "work"}}),
                "Error: INVALID_REQUEST: browser profile not allowed",
            ),
            (
                json!({"path": "/tabs", "upload": {}}),
                "Error: INVALID_REQUEST: browser.proxy does not accept upload envelopes",
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
            "Error: INVALID_REQUEST: browser.proxy.upload.v1 requires an upload envelope"
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
}

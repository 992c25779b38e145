//! Status and lifecycle routes: `GET /` (status), `GET /doctor`, `POST /start`,
//! `GET /profiles`. (`POST /stop` is answered in the route table.) Does not own starting
//! the browser (`service/lifecycle.rs`).

use std::sync::Arc;

use serde_json::{Value, json};

use crate::cdp::page_call;
use crate::error::{RouteResult, ServiceError};
use crate::http::Args;
use crate::service::profile::Profile;
use crate::service::{DEFAULT_COLOR, Service, is_root};
use crate::snapshot;

/// `GET /`: the profile's status (browser found, running, CDP port, headless and why).
pub async fn status(svc: &Service, profile: &Profile) -> RouteResult {
    let detected = svc.detect();
    let running = svc.running(profile).await.is_some();
    let port = svc.port(profile).await;
    let pid = svc.pid(profile).await;
    let (headless, source) = svc.headless(profile);
    Ok(json!({
        "enabled": svc.settings.enabled,
        "profile": profile.name,
        "driver": "openclaw",
        "transport": "cdp",
        "running": running,
        "cdpReady": running,
        "cdpHttp": running,
        "pageReady": running,
        "pid": pid,
        "cdpPort": if running { json!(port) } else { Value::Null },
        "cdpUrl": if running { json!(format!("http://127.0.0.1:{port}")) } else { Value::Null },
        "chosenBrowser": detected.as_ref().ok().map(|d| d.kind),
        "detectedBrowser": detected.as_ref().ok().map(|d| d.kind),
        "detectedExecutablePath": detected.as_ref().ok().map(|d| d.path.display().to_string()),
        "detectError": detected.as_ref().err(),
        "userDataDir": profile.user_data_dir().display().to_string(),
        "color": DEFAULT_COLOR,
        "headless": headless,
        "headlessSource": source.as_str(),
        "noSandbox": svc.no_sandbox(),
        "executablePath": svc.settings.executable_path.as_ref().map(|p| p.display().to_string()),
        "attachOnly": false,
        "graphics": Value::Null,
    }))
}

/// `GET /doctor`: checks of the setup; `deep`/`live` also take a snapshot.
pub async fn doctor(svc: &Service, profile: &Arc<Profile>, args: &Args<'_>) -> RouteResult {
    let mut checks = Vec::new();
    let mut check = |id: &str, label: &str, status: &str, summary: String, fix: Option<&str>| {
        let mut c = json!({"id": id, "label": label, "status": status, "summary": summary});
        if let Some(f) = fix {
            c["fixHint"] = json!(f);
        }
        checks.push(c);
    };
    check(
        "plugin-enabled",
        "Browser control",
        if svc.settings.enabled { "pass" } else { "fail" },
        if svc.settings.enabled {
            "enabled".into()
        } else {
            "disabled by [browser] enabled = false".into()
        },
        (!svc.settings.enabled).then_some("set [browser] enabled = true"),
    );
    check(
        "profile",
        "Profile",
        "pass",
        format!(
            "{} (managed, {})",
            profile.name,
            profile.user_data_dir().display()
        ),
        None,
    );
    match svc.detect() {
        Ok(d) => check(
            "managed-executable",
            "Browser executable",
            "pass",
            format!("{} ({})", d.path.display(), d.kind),
            None,
        ),
        Err(e) => check(
            "managed-executable",
            "Browser executable",
            "fail",
            e,
            Some("install chromium (apt-get install chromium) or set [browser] executable_path"),
        ),
    }
    let (headless, source) = svc.headless(profile);
    check(
        "headless-mode",
        "Headless",
        "info",
        format!(
            "{} (from {})",
            if headless { "headless" } else { "headed" },
            source.as_str()
        ),
        None,
    );
    if !headless && !svc.display_present() {
        check(
            "display",
            "Display",
            "warn",
            "headed mode but no DISPLAY or WAYLAND_DISPLAY".into(),
            Some("set [browser] headless = true or start a display"),
        );
    }
    if is_root() && !svc.no_sandbox() {
        check(
            "linux-sandbox",
            "Sandbox",
            "warn",
            "running as root without --no-sandbox: Chromium will refuse to start".into(),
            Some("set [browser] no_sandbox = true"),
        );
    }
    let running = svc.running(profile).await.is_some();
    check(
        "cdp-http",
        "CDP endpoint",
        if running { "pass" } else { "info" },
        if running {
            "reachable".into()
        } else {
            "browser not running (starts on first use)".into()
        },
        None,
    );
    if args.bool("deep").unwrap_or(false) || args.bool("live").unwrap_or(false) {
        match svc.tab_for(profile, None).await {
            Ok((_, page, _)) => {
                let nodes =
                    page_call(&page, "Accessibility.getFullAXTree", json!({"depth": 25})).await;
                match nodes {
                    Ok(v) => {
                        let n = snapshot::build_aria(&snapshot::AxNode::parse_all(&v["nodes"]), 25)
                            .len();
                        check(
                            "live-snapshot",
                            "Live snapshot",
                            if n > 0 { "pass" } else { "warn" },
                            format!("{n} accessibility node(s)"),
                            None,
                        );
                    }
                    Err(e) => check(
                        "live-snapshot",
                        "Live snapshot",
                        "fail",
                        e.0,
                        Some("run `openclaw-node doctor` and check the browser's stderr"),
                    ),
                }
            }
            Err(e) => check(
                "live-snapshot",
                "Live snapshot",
                "fail",
                e.message,
                Some("check that the browser can start on this machine"),
            ),
        }
    }
    let ok = !checks.iter().any(|c| c["status"] == "fail");
    Ok(
        json!({"ok": ok, "profile": profile.name, "transport": "cdp", "checks": checks, "status": status(svc, profile).await?}),
    )
}

/// `POST /start`: start the profile's browser (`headless` for this start only).
pub async fn start(svc: &Service, profile: &Arc<Profile>, args: &Args<'_>) -> RouteResult {
    if args.has("headless") {
        let h = match args.str("headless").as_deref() {
            Some("true") => true,
            Some("false") => false,
            _ => {
                return Err(ServiceError::bad_request(
                    "Invalid headless value. Use \"true\" or \"false\".",
                ));
            }
        };
        if svc.running(profile).await.is_none() {
            *profile.headless_override.lock().expect("headless lock") = Some(h);
        }
    }
    let result = svc.ensure_running(profile).await;
    *profile.headless_override.lock().expect("headless lock") = None;
    result?;
    Ok(json!({"ok": true, "profile": profile.name}))
}

/// `GET /profiles`: every profile with its state.
pub async fn profiles(svc: &Service) -> RouteResult {
    let mut out = Vec::new();
    for p in svc.profiles.values() {
        let browser = svc.running(p).await;
        let tab_count = match &browser {
            Some(b) => svc.page_targets(p, b).await.map(|t| t.len()).unwrap_or(0),
            None => 0,
        };
        let port = svc.port(p).await;
        out.push(json!({
            "name": p.name, "transport": "cdp",
            "cdpPort": if browser.is_some() { json!(port) } else { Value::Null },
            "cdpUrl": if browser.is_some() { json!(format!("http://127.0.0.1:{port}")) } else { Value::Null },
            "color": DEFAULT_COLOR, "driver": "openclaw", "running": browser.is_some(),
            "tabCount": tab_count, "isDefault": p.name == svc.default_profile(), "isRemote": false,
        }));
    }
    Ok(json!({"profiles": out}))
}

//! The control routes (spec browser.md §1–3): status, profiles, tabs, snapshot, navigate,
//! screenshot, pdf, text, debug reads, hooks, downloads and the cheap state setters.
//! `/act` lives in `act.rs`. Routes not built answer 501 (or the reference's Chrome-MCP
//! 400) with an `{error}` body; an unknown path is 404 `Not Found`.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use chromiumoxide::Page;
use serde_json::{Value, json};

use crate::cdp::{evaluate, page_call};
use crate::http::{Args, Request, Response, match_path};
use crate::policy::NavBlock;
use crate::service::{Profile, Service, ServiceError};
use crate::snapshot;

/// Largest screenshot side before it is scaled down.
pub const SCREENSHOT_MAX_SIDE: f64 = 2000.0;
/// Largest screenshot file.
pub const SCREENSHOT_MAX_BYTES: usize = 5 * 1024 * 1024;

type RouteResult = Result<Value, ServiceError>;

fn bad(msg: impl Into<String>) -> ServiceError {
    ServiceError::new(400, msg)
}

/// A navigation refusal as a 400 with `reason: navigation_blocked`.
pub fn blocked(b: NavBlock) -> ServiceError {
    let mut e = ServiceError::new(400, b.to_string());
    e.extra = Some(json!({"reason": "navigation_blocked"}));
    e
}

/// Runs one request against the service.
pub async fn dispatch(svc: &Service, req: &Request) -> Response {
    match route(svc, req).await {
        Ok(body) => Response::ok(body),
        Err(e) => Response::error(e),
    }
}

async fn route(svc: &Service, req: &Request) -> RouteResult {
    let args = Args::new(req);
    let profile_name = args
        .str("profile")
        .unwrap_or_else(|| svc.default_profile().to_string());
    let path = req.path.trim_end_matches('/');
    let path = if path.is_empty() { "/" } else { path };
    let method = req.method.as_str();
    // Routes that do not need a profile resolved first.
    if (method, path) == ("GET", "/profiles") {
        return profiles(svc).await;
    }
    let profile = svc.profile(&profile_name)?;
    match (method, path) {
        ("GET", "/") => return status(svc, &profile).await,
        ("GET", "/doctor") => return doctor(svc, &profile, &args).await,
        ("POST", "/start") => return start(svc, &profile, &args).await,
        ("POST", "/stop") => {
            svc.stop(&profile).await;
            return Ok(json!({"ok": true, "stopped": true, "profile": profile.name}));
        }
        ("GET", "/tabs") => return tabs(svc, &profile).await,
        ("POST", "/tabs/open") => return tabs_open(svc, &profile, &args).await,
        ("POST", "/tabs/focus") => return tabs_focus(svc, &profile, &args).await,
        ("POST", "/tabs/action") => return tabs_action(svc, &profile, &args).await,
        ("GET", "/snapshot") => return snapshot_route(svc, &profile, &args).await,
        ("POST", "/navigate") => return navigate(svc, &profile, &args).await,
        ("POST", "/screenshot") => return screenshot(svc, &profile, &args).await,
        ("POST", "/pdf") => return pdf(svc, &profile, &args).await,
        ("POST", "/act") => return crate::act::act(svc, &profile, &args).await,
        ("GET", "/text") => return text(svc, &profile, &args).await,
        ("GET", "/console") | ("GET", "/errors") | ("GET", "/requests") | ("GET", "/dialogs") => {
            return debug_read(svc, &profile, &args, path).await;
        }
        ("POST", "/hooks/dialog") => return hook_dialog(svc, &profile, &args).await,
        ("POST", "/hooks/file-chooser") => {
            return crate::act::file_chooser(svc, &profile, &args).await;
        }
        ("POST", "/download") => return crate::act::download(svc, &profile, &args).await,
        ("POST", "/wait/download") => return crate::act::wait_download(svc, &profile, &args).await,
        ("GET", "/cookies") | ("POST", "/cookies/set") | ("POST", "/cookies/clear") => {
            return cookies(svc, &profile, &args, path).await;
        }
        ("POST", p) if p.starts_with("/set/") => {
            return set_state(svc, &profile, &args, &p[5..]).await;
        }
        _ => {}
    }
    if let Some(m) = match_path("/tabs/:targetId", path).filter(|_| method == "DELETE") {
        let target = m?.remove("targetId").unwrap_or_default();
        return tabs_delete(svc, &profile, &args, &target).await;
    }
    const MCP_ONLY: &[&str] = &[
        "/trace/insight",
        "/heap-snapshot",
        "/lighthouse",
        "/screencast",
        "/extensions",
        "/third-party-tools",
        "/web-mcp-tools",
        "/console/message",
        "/requests/request",
    ];
    if MCP_ONLY
        .iter()
        .any(|p| path == *p || path.starts_with(&format!("{p}/")))
    {
        return Err(bad("this route is only supported for Chrome MCP profiles"));
    }
    const NOT_BUILT: &[&str] = &[
        "/storage",
        "/response/body",
        "/highlight",
        "/trace/start",
        "/trace/stop",
        "/permissions/grant",
        "/__openclaw/session-tab/close-owned",
    ];
    if NOT_BUILT
        .iter()
        .any(|p| path == *p || path.starts_with(&format!("{p}/")))
    {
        return Err(ServiceError::new(
            501,
            format!("{method} {path} is not supported by openclaw-node yet"),
        ));
    }
    Err(ServiceError::new(404, "Not Found"))
}

/// The tab a page-data route works on (the referenced, sticky or first one), once its
/// current URL has passed the navigation policy: `(page, target id, url)`.
async fn readable_tab(
    svc: &Service,
    profile: &Arc<Profile>,
    args: &Args<'_>,
) -> Result<(Page, String, String), ServiceError> {
    let (_, page, target) = svc
        .tab_for(profile, args.str("targetId").as_deref())
        .await?;
    let url = check_current_url(svc, &page).await?;
    Ok((page, target, url))
}

/// Whether a page's current URL may be read (page-data routes refuse otherwise).
pub async fn check_current_url(svc: &Service, page: &Page) -> Result<String, ServiceError> {
    let url = page.url().await.ok().flatten().unwrap_or_default();
    if url.is_empty() || url.starts_with("chrome-error://") {
        return Ok(url);
    }
    svc.policy
        .check(&url)
        .await
        .map_err(|_| blocked(NavBlock::Private))?;
    Ok(url)
}

async fn status(svc: &Service, profile: &Profile) -> RouteResult {
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
        "color": crate::service::DEFAULT_COLOR,
        "headless": headless,
        "headlessSource": source.as_str(),
        "noSandbox": svc.no_sandbox(),
        "executablePath": svc.settings.executable_path.as_ref().map(|p| p.display().to_string()),
        "attachOnly": false,
        "graphics": Value::Null,
    }))
}

async fn doctor(svc: &Service, profile: &Arc<Profile>, args: &Args<'_>) -> RouteResult {
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
    if crate::service::is_root() && !svc.no_sandbox() {
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

async fn start(svc: &Service, profile: &Arc<Profile>, args: &Args<'_>) -> RouteResult {
    if args.has("headless") {
        let h = match args.str("headless").as_deref() {
            Some("true") => true,
            Some("false") => false,
            _ => return Err(bad("Invalid headless value. Use \"true\" or \"false\".")),
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

async fn profiles(svc: &Service) -> RouteResult {
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
            "color": crate::service::DEFAULT_COLOR, "driver": "openclaw", "running": browser.is_some(),
            "tabCount": tab_count, "isDefault": p.name == svc.default_profile(), "isRemote": false,
        }));
    }
    Ok(json!({"profiles": out}))
}

async fn tabs(svc: &Service, profile: &Profile) -> RouteResult {
    let Some(browser) = svc.running(profile).await else {
        return Ok(json!({"running": false, "tabs": []}));
    };
    let port = svc.port(profile).await;
    let mut list = Vec::new();
    for t in svc.page_targets(profile, &browser).await? {
        let url = t["url"].as_str().unwrap_or("");
        let visible = url.is_empty() || svc.policy.check(url).await.is_ok();
        list.push(svc.tab_record(profile, port, &t, visible));
    }
    Ok(json!({"running": true, "tabs": list}))
}

async fn wait_loaded(page: &Page, timeout: Duration) {
    let deadline = tokio::time::Instant::now() + timeout;
    while tokio::time::Instant::now() < deadline {
        if let Ok(Value::String(s)) = evaluate(page, "document.readyState").await
            && s == "complete"
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

async fn target_info(
    svc: &Service,
    profile: &Profile,
    browser: &chromiumoxide::Browser,
    target: &str,
) -> Result<Value, ServiceError> {
    svc.page_targets(profile, browser)
        .await?
        .into_iter()
        .find(|t| t["targetId"] == target)
        .ok_or_else(|| ServiceError::new(404, "tab not found"))
}

async fn tabs_open(svc: &Service, profile: &Arc<Profile>, args: &Args<'_>) -> RouteResult {
    let url = args
        .str("url")
        .filter(|u| !u.trim().is_empty())
        .ok_or_else(|| bad("url is required"))?;
    svc.policy.check(&url).await.map_err(blocked)?;
    let browser = svc.ensure_running(profile).await?;
    // Open blank, attach the listeners, then load: the page's first console lines and
    // errors are captured too.
    // A fresh browser's own blank tab is used rather than left behind (as the reference
    // does); otherwise a new background tab.
    let targets = svc.page_targets(profile, &browser).await?;
    let untouched = {
        let book = profile.book.lock().expect("book lock");
        match targets.as_slice() {
            [only] if only["url"] == "about:blank" && book.sticky.is_none() => only["targetId"]
                .as_str()
                .filter(|id| book.tabs.get(*id).is_none_or(|t| t.label.is_none()))
                .map(String::from),
            _ => None,
        }
    };
    let target = match untouched {
        Some(t) => t,
        None => svc.open_tab(&browser, "about:blank").await?,
    };
    let page = svc.page(profile, &browser, &target).await?;
    if url != "about:blank" {
        let nav = page_call(&page, "Page.navigate", json!({"url": url}))
            .await
            .map_err(|e| ServiceError::new(500, e.0))?;
        if let Some(err) = nav
            .get("errorText")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
        {
            return Err(ServiceError::new(
                500,
                format!("navigation to {url} failed: {err}"),
            ));
        }
    }
    wait_loaded(&page, Duration::from_secs(10)).await;
    final_url_guard(svc, &page).await?;
    if let Some(label) = args.str("label").filter(|l| !l.is_empty()) {
        profile.book.lock().expect("book lock").tab(&target).label = Some(label);
    }
    let info = target_info(svc, profile, &browser, &target).await?;
    let mut rec = svc.tab_record(profile, svc.port(profile).await, &info, true);
    rec["resolvedProfile"] = json!(profile.name);
    Ok(rec)
}

async fn tabs_focus(svc: &Service, profile: &Arc<Profile>, args: &Args<'_>) -> RouteResult {
    let wanted = args
        .str("targetId")
        .filter(|t| !t.is_empty())
        .ok_or_else(|| bad("targetId is required"))?;
    let browser = match svc.running(profile).await {
        Some(b) => b,
        None => {
            tokio::time::sleep(Duration::from_millis(250)).await;
            svc.running(profile)
                .await
                .ok_or_else(|| ServiceError::new(409, "browser not running"))?
        }
    };
    let targets = svc.page_targets(profile, &browser).await?;
    let target = svc.resolve_ref(profile, &targets, Some(&wanted))?;
    let page = svc.page(profile, &browser, &target).await?;
    check_current_url(svc, &page).await?;
    crate::cdp::browser_call(
        &browser,
        "Target.activateTarget",
        json!({"targetId": target}),
    )
    .await
    .map_err(|e| ServiceError::new(500, e.0))?;
    Ok(json!({"ok": true, "targetId": target}))
}

async fn tabs_delete(
    svc: &Service,
    profile: &Arc<Profile>,
    args: &Args<'_>,
    wanted: &str,
) -> RouteResult {
    let raw_only = match args.str("targetIdMode").as_deref() {
        None => false,
        Some("raw") => true,
        Some(_) => return Err(bad("targetIdMode must be \"raw\"")),
    };
    let browser = svc
        .running(profile)
        .await
        .ok_or_else(|| ServiceError::new(409, "browser not running"))?;
    let targets = svc.page_targets(profile, &browser).await?;
    let target = if raw_only {
        targets
            .iter()
            .find(|t| t["targetId"] == wanted)
            .map(|_| wanted.to_string())
            .ok_or_else(|| ServiceError::new(404, format!("tab not found: browser tab \"{wanted}\" not found. Use action=tabs and pass suggestedTargetId, tabId, label, or raw targetId.")))?
    } else {
        svc.resolve_ref(profile, &targets, Some(wanted))?
    };
    close_target(svc, profile, &browser, &target).await?;
    Ok(json!({"ok": true}))
}

/// Closes a tab and forgets its state.
pub async fn close_target(
    _svc: &Service,
    profile: &Profile,
    browser: &chromiumoxide::Browser,
    target: &str,
) -> Result<(), ServiceError> {
    crate::cdp::browser_call(browser, "Target.closeTarget", json!({"targetId": target}))
        .await
        .map_err(|e| ServiceError::new(500, e.0))?;
    // Closing is asynchronous in Chromium: wait until the target is gone, so the next
    // route cannot pick a tab whose session is already detached.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(3);
    while tokio::time::Instant::now() < deadline {
        let listed = crate::cdp::browser_call(browser, "Target.getTargets", json!({}))
            .await
            .ok()
            .and_then(|r| r["targetInfos"].as_array().cloned())
            .unwrap_or_default();
        if !listed.iter().any(|t| t["targetId"] == target) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut book = profile.book.lock().expect("book lock");
    book.tabs.remove(target);
    if book.sticky.as_deref() == Some(target) {
        book.sticky = None;
    }
    Ok(())
}

async fn tabs_action(svc: &Service, profile: &Arc<Profile>, args: &Args<'_>) -> RouteResult {
    let action = args.str("action").unwrap_or_default();
    let index = || -> Result<Option<usize>, ServiceError> {
        match args.f64("index") {
            None if args.has("index") => Err(bad("index must be a non-negative integer")),
            None => Ok(None),
            Some(i) if i < 0.0 || i.fract() != 0.0 => {
                Err(bad("index must be a non-negative integer"))
            }
            Some(i) => Ok(Some(i as usize)),
        }
    };
    match action.as_str() {
        "list" => {
            let t = tabs(svc, profile).await?;
            Ok(json!({"ok": true, "tabs": t["tabs"]}))
        }
        "new" => {
            let browser = svc.ensure_running(profile).await?;
            let target = svc.open_tab(&browser, "about:blank").await?;
            svc.page(profile, &browser, &target).await?;
            if let Some(label) = args.str("label").filter(|l| !l.is_empty()) {
                profile.book.lock().expect("book lock").tab(&target).label = Some(label);
            }
            let info = target_info(svc, profile, &browser, &target).await?;
            Ok(
                json!({"ok": true, "tab": svc.tab_record(profile, svc.port(profile).await, &info, true)}),
            )
        }
        "label" => {
            let label = args
                .str("label")
                .filter(|l| !l.is_empty())
                .ok_or_else(|| bad("label is required"))?;
            let browser = svc
                .running(profile)
                .await
                .ok_or_else(|| ServiceError::new(409, "browser not running"))?;
            let targets = svc.page_targets(profile, &browser).await?;
            let target = svc.resolve_ref(profile, &targets, args.str("targetId").as_deref())?;
            profile.book.lock().expect("book lock").tab(&target).label = Some(label);
            let info = target_info(svc, profile, &browser, &target).await?;
            Ok(
                json!({"ok": true, "tab": svc.tab_record(profile, svc.port(profile).await, &info, true)}),
            )
        }
        "close" | "select" => {
            let i = index()?;
            if action == "select" && i.is_none() {
                return Err(bad("index is required"));
            }
            let browser = svc
                .running(profile)
                .await
                .ok_or_else(|| ServiceError::new(409, "browser not running"))?;
            let targets = svc.page_targets(profile, &browser).await?;
            let target = targets
                .get(i.unwrap_or(0))
                .and_then(|t| t["targetId"].as_str())
                .map(String::from)
                .ok_or_else(|| ServiceError::new(404, "tab not found"))?;
            if action == "close" {
                close_target(svc, profile, &browser, &target).await?;
            } else {
                svc.page(profile, &browser, &target).await?;
                let _ = crate::cdp::browser_call(
                    &browser,
                    "Target.activateTarget",
                    json!({"targetId": target}),
                )
                .await;
            }
            Ok(json!({"ok": true, "targetId": target}))
        }
        _ => Err(bad("unknown tab action")),
    }
}

/// After a load: a final URL the policy refuses is replaced by `about:blank`.
pub async fn final_url_guard(svc: &Service, page: &Page) -> Result<String, ServiceError> {
    let url = page.url().await.ok().flatten().unwrap_or_default();
    if url.is_empty() || url.starts_with("chrome-error://") {
        return Ok(url);
    }
    if let Err(b) = svc.policy.check(&url).await {
        let _ = page_call(page, "Page.navigate", json!({"url": "about:blank"})).await;
        return Err(blocked(b));
    }
    Ok(url)
}

async fn navigate(svc: &Service, profile: &Arc<Profile>, args: &Args<'_>) -> RouteResult {
    let url = args
        .str("url")
        .filter(|u| !u.trim().is_empty())
        .ok_or_else(|| bad("url is required"))?;
    svc.policy.check(&url).await.map_err(blocked)?;
    let timeout = Duration::from_millis(args.timeout_ms(20_000, 1_000, 120_000));
    let (_, page, target) = svc
        .tab_for(profile, args.str("targetId").as_deref())
        .await?;
    let nav = tokio::time::timeout(
        timeout,
        page_call(&page, "Page.navigate", json!({"url": url})),
    )
    .await
    .map_err(|_| {
        ServiceError::new(
            504,
            format!(
                "navigation to {url} timed out after {} ms",
                timeout.as_millis()
            ),
        )
    })?
    .map_err(|e| ServiceError::new(500, e.0))?;
    if let Some(err) = nav
        .get("errorText")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
    {
        return Err(ServiceError::new(
            500,
            format!("navigation to {url} failed: {err}"),
        ));
    }
    wait_loaded(&page, timeout).await;
    if let Some(t) = profile
        .book
        .lock()
        .expect("book lock")
        .tabs
        .get_mut(&target)
    {
        t.refs.clear();
    }
    let final_url = final_url_guard(svc, &page).await?;
    Ok(json!({"ok": true, "targetId": target, "url": final_url}))
}

async fn snapshot_route(svc: &Service, profile: &Arc<Profile>, args: &Args<'_>) -> RouteResult {
    let mode_efficient = args.str("mode").as_deref() == Some("efficient");
    let format = args.str("format").unwrap_or_else(|| "ai".into());
    if format != "ai" && format != "aria" {
        return Err(bad("format must be ai or aria"));
    }
    if format == "aria" && (mode_efficient || args.bool("labels").unwrap_or(false)) {
        return Err(bad("labels/mode=efficient require format=ai"));
    }
    if args.bool("labels").unwrap_or(false) {
        return Err(ServiceError::new(
            501,
            "labelled snapshots are not supported by openclaw-node yet",
        ));
    }
    if args.has("frame") {
        return Err(ServiceError::new(
            501,
            "frame-scoped snapshots are not supported by openclaw-node yet",
        ));
    }
    let (page, target, url) = readable_tab(svc, profile, args).await?;
    let tree = match args.str("selector").filter(|s| !s.is_empty()) {
        Some(sel) => {
            let object = crate::act::query_selector(&page, &sel).await?;
            scoped_tree(&page, &object).await?
        }
        None => page_call(&page, "Accessibility.getFullAXTree", json!({}))
            .await
            .map_err(|e| ServiceError::new(500, e.0))?,
    };
    let nodes = snapshot::AxNode::parse_all(&tree["nodes"]);
    if format == "aria" {
        let limit = args
            .f64("limit")
            .map_or(500, |l| (l as usize).clamp(1, 2000));
        let aria = snapshot::build_aria(&nodes, limit);
        let refs = aria
            .iter()
            .filter_map(|n| Some((n.r#ref.clone(), n.backend_dom_node_id?)))
            .collect();
        profile.book.lock().expect("book lock").tab(&target).refs = refs;
        return Ok(
            json!({"ok": true, "format": "aria", "targetId": target, "url": url, "nodes": aria}),
        );
    }
    let max_chars = if args.has("maxChars") {
        args.f64("maxChars")
            .filter(|m| *m > 0.0)
            .map(|m| m as usize)
    } else if mode_efficient {
        Some(snapshot::EFFICIENT_MAX_CHARS)
    } else {
        Some(snapshot::DEFAULT_MAX_CHARS)
    };
    let opts = snapshot::Options {
        interactive: mode_efficient || args.bool("interactive").unwrap_or(false),
        compact: mode_efficient || args.bool("compact").unwrap_or(false),
        depth: if mode_efficient {
            Some(6)
        } else {
            args.f64("depth").filter(|d| *d >= 0.0).map(|d| d as usize)
        },
        max_chars,
    };
    let snap = snapshot::build(&nodes, &opts);
    let refs = snap
        .refs
        .iter()
        .filter_map(|(k, v)| Some((k.clone(), v.backend_dom_node_id?)))
        .collect();
    profile.book.lock().expect("book lock").tab(&target).refs = refs;
    let mut body = json!({
        "ok": true, "format": "ai", "targetId": target, "url": url,
        "snapshot": snap.text, "refs": snap.refs,
        "stats": {"lines": snap.lines, "chars": snap.text.chars().count(), "refs": snap.refs.len(), "interactive": snap.interactive},
    });
    if snap.truncated {
        body["truncated"] = json!(true);
    }
    Ok(body)
}

/// The subtree under a selected element, as a `getFullAXTree`-shaped object.
async fn scoped_tree(page: &Page, object_id: &str) -> Result<Value, ServiceError> {
    let full = page_call(page, "Accessibility.getFullAXTree", json!({}))
        .await
        .map_err(|e| ServiceError::new(500, e.0))?;
    let described = page_call(page, "DOM.describeNode", json!({"objectId": object_id}))
        .await
        .map_err(|e| ServiceError::new(500, e.0))?;
    let backend = described
        .pointer("/node/backendNodeId")
        .cloned()
        .unwrap_or(Value::Null);
    let nodes = full["nodes"].as_array().cloned().unwrap_or_default();
    let Some(root) = nodes.iter().find(|n| n["backendDOMNodeId"] == backend) else {
        return Ok(json!({"nodes": []}));
    };
    // A synthetic root whose only child is the selected node keeps the walk's shape.
    let mut out = vec![
        json!({"nodeId": "__scope", "role": {"value": "RootWebArea"}, "childIds": [root["nodeId"]]}),
    ];
    out.extend(nodes.iter().cloned());
    Ok(json!({"nodes": out}))
}

fn save_media(profile: &Profile, ext: &str, bytes: &[u8]) -> Result<String, ServiceError> {
    let dir = profile.media_dir();
    std::fs::create_dir_all(&dir)
        .map_err(|e| ServiceError::new(507, format!("cannot create {}: {e}", dir.display())))?;
    let mut id = [0u8; 8];
    getrandom::fill(&mut id).map_err(|e| ServiceError::new(500, e.to_string()))?;
    let name: String = id.iter().map(|b| format!("{b:02x}")).collect();
    let path = dir.join(format!("{name}.{ext}"));
    std::fs::write(&path, bytes)
        .map_err(|e| ServiceError::new(507, format!("cannot write {}: {e}", path.display())))?;
    Ok(path.display().to_string())
}

/// Two figures of `Page.getLayoutMetrics` (JSON pointers), defaulting to the viewport.
async fn layout_size(page: &Page, w: &str, h: &str) -> Result<(f64, f64), ServiceError> {
    let metrics = page_call(page, "Page.getLayoutMetrics", json!({}))
        .await
        .map_err(|e| ServiceError::new(500, e.0))?;
    let get = |p: &str, d: f64| metrics.pointer(p).and_then(Value::as_f64).unwrap_or(d);
    Ok((get(w, 1280.0), get(h, 720.0)))
}

async fn screenshot(svc: &Service, profile: &Arc<Profile>, args: &Args<'_>) -> RouteResult {
    let full_page = args.bool("fullPage").unwrap_or(false);
    let r#ref = args.str("ref").filter(|s| !s.is_empty());
    let element = args.str("element").filter(|s| !s.is_empty());
    if full_page && (r#ref.is_some() || element.is_some()) {
        return Err(bad("fullPage is not supported for element screenshots"));
    }
    let jpeg = match args.str("type").as_deref() {
        None | Some("png") => false,
        Some("jpeg") => true,
        Some(_) => return Err(bad("type must be png or jpeg")),
    };
    let (page, target, url) = readable_tab(svc, profile, args).await?;
    let _ = page_call(&page, "Page.bringToFront", json!({})).await;
    let mut clip: Option<(f64, f64, f64, f64)> = None;
    if let Some(node) = match (&r#ref, &element) {
        (Some(r), _) => Some(crate::act::ref_node(profile, &target, r)?),
        (None, Some(sel)) => Some(crate::act::selector_node(&page, sel).await?),
        _ => None,
    } {
        let (x, y, w, h) = crate::act::node_box(&page, node).await?;
        let metrics = page_call(&page, "Page.getLayoutMetrics", json!({}))
            .await
            .map_err(|e| ServiceError::new(500, e.0))?;
        let sx = metrics
            .pointer("/cssVisualViewport/pageX")
            .and_then(Value::as_f64)
            .unwrap_or(0.0);
        let sy = metrics
            .pointer("/cssVisualViewport/pageY")
            .and_then(Value::as_f64)
            .unwrap_or(0.0);
        clip = Some((x + sx, y + sy, w, h));
    } else if full_page {
        let (w, h) = layout_size(&page, "/cssContentSize/width", "/cssContentSize/height").await?;
        clip = Some((0.0, 0.0, w, h));
    }
    let (mut fmt, mut quality) = (if jpeg { "jpeg" } else { "png" }, 85);
    let mut scale = clip.map_or(1.0, |(_, _, w, h)| {
        (SCREENSHOT_MAX_SIDE / w.max(h)).min(1.0)
    });
    loop {
        let mut params = json!({"format": fmt, "captureBeyondViewport": full_page});
        if fmt == "jpeg" {
            params["quality"] = json!(quality);
        }
        if let Some((x, y, w, h)) = clip {
            params["clip"] =
                json!({"x": x, "y": y, "width": w.max(1.0), "height": h.max(1.0), "scale": scale});
        }
        let shot = page_call(&page, "Page.captureScreenshot", params)
            .await
            .map_err(|e| ServiceError::new(500, e.0))?;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(shot["data"].as_str().unwrap_or(""))
            .map_err(|e| ServiceError::new(500, format!("screenshot data: {e}")))?;
        if bytes.len() <= SCREENSHOT_MAX_BYTES {
            let path = save_media(profile, if fmt == "jpeg" { "jpg" } else { "png" }, &bytes)?;
            return Ok(json!({"ok": true, "path": path, "targetId": target, "url": url}));
        }
        if fmt == "png" {
            fmt = "jpeg";
        } else if quality > 40 {
            quality -= 15;
        } else if scale > 0.3 {
            scale *= 0.75;
            if clip.is_none() {
                let (w, h) = layout_size(
                    &page,
                    "/cssLayoutViewport/clientWidth",
                    "/cssLayoutViewport/clientHeight",
                )
                .await?;
                clip = Some((0.0, 0.0, w, h));
            }
        } else {
            return Err(ServiceError::new(
                500,
                format!(
                    "Browser screenshot could not be reduced below 5MB (got {:.2}MB)",
                    bytes.len() as f64 / 1048576.0
                ),
            ));
        }
    }
}

async fn pdf(svc: &Service, profile: &Arc<Profile>, args: &Args<'_>) -> RouteResult {
    let (page, target, url) = readable_tab(svc, profile, args).await?;
    let r = page_call(&page, "Page.printToPDF", json!({"printBackground": true}))
        .await
        .map_err(|e| ServiceError::new(500, e.0))?;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(r["data"].as_str().unwrap_or(""))
        .map_err(|e| ServiceError::new(500, format!("pdf data: {e}")))?;
    let path = save_media(profile, "pdf", &bytes)?;
    Ok(json!({"ok": true, "path": path, "targetId": target, "url": url}))
}

async fn text(svc: &Service, profile: &Arc<Profile>, args: &Args<'_>) -> RouteResult {
    let max = args
        .f64("maxChars")
        .map_or(40_000, |m| (m.max(1.0) as usize).min(40_000));
    let (page, target, url) = readable_tab(svc, profile, args).await?;
    let selector =
        serde_json::to_string(&args.str("selector").unwrap_or_default()).unwrap_or_default();
    let expr = format!(
        "(() => {{ const s = {selector}; const el = (s && document.querySelector(s)) || document.querySelector('article') || document.querySelector('main') || document.body; return el ? el.innerText : ''; }})()"
    );
    let full = evaluate(&page, &expr)
        .await
        .map_err(|e| ServiceError::new(500, e.0))?;
    let full = full.as_str().unwrap_or("");
    let truncated = full.chars().count() > max;
    let text: String = full.chars().take(max).collect();
    Ok(json!({"ok": true, "targetId": target, "url": url, "text": text, "truncated": truncated}))
}

fn level_rank(t: &str) -> u8 {
    match t {
        "debug" | "verbose" => 0,
        "info" | "log" => 1,
        "warning" | "warn" => 2,
        "error" | "assert" => 3,
        _ => 1,
    }
}

async fn debug_read(
    svc: &Service,
    profile: &Arc<Profile>,
    args: &Args<'_>,
    path: &str,
) -> RouteResult {
    let (_page, target, url) = readable_tab(svc, profile, args).await?;
    let clear = args.bool("clear").unwrap_or(false);
    let mut book = profile.book.lock().expect("book lock");
    let tab = book.tab(&target);
    let mut body = json!({"ok": true, "targetId": target, "url": url});
    match path {
        "/console" => {
            let min = args.str("level").map_or(0, |l| level_rank(&l));
            let msgs: Vec<&Value> = tab
                .console
                .iter()
                .filter(|m| level_rank(m["type"].as_str().unwrap_or("log")) >= min)
                .collect();
            body["messages"] = json!(msgs);
            if clear {
                tab.console.clear();
            }
        }
        "/errors" => {
            body["errors"] = json!(tab.errors);
            if clear {
                tab.errors.clear();
            }
        }
        "/requests" => {
            let filter = args.str("filter").unwrap_or_default();
            let reqs: Vec<&Value> = tab
                .requests
                .iter()
                .filter(|r| r["url"].as_str().unwrap_or("").contains(&filter))
                .collect();
            body["requests"] = json!(reqs);
            if clear {
                tab.requests.clear();
            }
        }
        _ => {
            body["browserState"] = dialog_state(tab);
        }
    }
    Ok(body)
}

/// `{dialogs: {pending, recent}}` of a tab.
pub fn dialog_state(tab: &crate::service::TabState) -> Value {
    json!({"dialogs": {
        "pending": tab.pending_dialogs.iter().map(|d| d.to_json()).collect::<Vec<_>>(),
        "recent": tab.recent_dialogs,
    }})
}

async fn hook_dialog(svc: &Service, profile: &Arc<Profile>, args: &Args<'_>) -> RouteResult {
    let accept = args
        .bool("accept")
        .ok_or_else(|| bad("accept is required"))?;
    let prompt = args.str("promptText");
    let (_, page, target) = svc
        .tab_for(profile, args.str("targetId").as_deref())
        .await?;
    let dialog_id = args.str("dialogId");
    let answer_now = {
        let mut book = profile.book.lock().expect("book lock");
        let tab = book.tab(&target);
        let idx = match &dialog_id {
            Some(id) => Some(
                tab.pending_dialogs
                    .iter()
                    .position(|d| &d.id == id)
                    .ok_or_else(|| ServiceError::new(404, format!("dialog {id} is not pending")))?,
            ),
            None if !tab.pending_dialogs.is_empty() => Some(0),
            None => None,
        };
        match idx {
            Some(i) => {
                let d = tab.pending_dialogs.remove(i);
                let mut rec = d.to_json();
                rec["accepted"] = json!(accept);
                rec["closedAt"] = json!(crate::service::now_iso());
                tab.recent_dialogs.push_back(rec);
                true
            }
            None => {
                tab.dialog_hook = Some((accept, prompt.clone()));
                false
            }
        }
    };
    if answer_now {
        let mut params = json!({"accept": accept});
        if let Some(t) = prompt {
            params["promptText"] = json!(t);
        }
        page_call(&page, "Page.handleJavaScriptDialog", params)
            .await
            .map_err(|e| ServiceError::new(500, e.0))?;
    }
    Ok(json!({"ok": true}))
}

async fn cookies(
    svc: &Service,
    profile: &Arc<Profile>,
    args: &Args<'_>,
    path: &str,
) -> RouteResult {
    let (page, target, url) = readable_tab(svc, profile, args).await?;
    let err = |e: crate::cdp::CdpFailure| ServiceError::new(500, e.0);
    match path {
        "/cookies" => {
            let r = page_call(&page, "Network.getCookies", json!({}))
                .await
                .map_err(err)?;
            Ok(json!({"ok": true, "targetId": target, "cookies": r["cookies"]}))
        }
        "/cookies/set" => {
            let cookie = args
                .raw("cookie")
                .filter(|c| c.is_object())
                .ok_or_else(|| bad("cookie is required"))?;
            let mut c = cookie.clone();
            if c.get("url").is_none() && c.get("domain").is_none() {
                c["url"] = json!(url);
            }
            page_call(&page, "Network.setCookie", c)
                .await
                .map_err(err)?;
            Ok(json!({"ok": true, "targetId": target}))
        }
        _ => {
            page_call(&page, "Network.clearBrowserCookies", json!({}))
                .await
                .map_err(err)?;
            Ok(json!({"ok": true, "targetId": target}))
        }
    }
}

async fn set_state(
    svc: &Service,
    profile: &Arc<Profile>,
    args: &Args<'_>,
    what: &str,
) -> RouteResult {
    let required = |name: &str| {
        args.str(name)
            .filter(|s| !s.is_empty())
            .ok_or_else(|| bad(format!("{name} is required")))
    };
    let (method, params) = match what {
        "media" => {
            let scheme = args.str("colorScheme").unwrap_or_default();
            if !["dark", "light", "no-preference", "none"].contains(&scheme.as_str()) {
                return Err(bad("colorScheme must be dark|light|no-preference|none"));
            }
            let features = if scheme == "none" {
                json!([])
            } else {
                json!([{"name": "prefers-color-scheme", "value": scheme}])
            };
            ("Emulation.setEmulatedMedia", json!({"features": features}))
        }
        "timezone" => (
            "Emulation.setTimezoneOverride",
            json!({"timezoneId": required("timezoneId")?}),
        ),
        "locale" => (
            "Emulation.setLocaleOverride",
            json!({"locale": required("locale")?}),
        ),
        "offline" => {
            let offline = args
                .bool("offline")
                .ok_or_else(|| bad("offline is required"))?;
            (
                "Network.emulateNetworkConditions",
                json!({"offline": offline, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1}),
            )
        }
        "headers" => {
            let headers = args
                .raw("headers")
                .and_then(Value::as_object)
                .ok_or_else(|| bad("headers is required"))?;
            if headers.values().any(|v| !v.is_string()) {
                return Err(bad("headers values must be strings"));
            }
            ("Network.setExtraHTTPHeaders", json!({"headers": headers}))
        }
        _ => {
            return Err(ServiceError::new(
                501,
                format!("POST /set/{what} is not supported by openclaw-node yet"),
            ));
        }
    };
    let (_, page, target) = svc
        .tab_for(profile, args.str("targetId").as_deref())
        .await?;
    page_call(&page, method, params)
        .await
        .map_err(|e| ServiceError::new(500, e.0))?;
    Ok(json!({"ok": true, "targetId": target}))
}

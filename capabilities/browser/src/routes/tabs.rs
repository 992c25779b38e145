//! Tab and navigation routes: `GET /tabs`, `POST /tabs/open|focus|action`,
//! `DELETE /tabs/:targetId`, `POST /navigate`. Does not own tab resolution or the tab
//! bookkeeping (`service/tabs.rs`).

use std::sync::Arc;
use std::time::Duration;

use chromiumoxide::Page;
use serde_json::{Value, json};

use crate::cdp::{browser_call, evaluate, page_call};
use crate::error::{RouteResult, ServiceError};
use crate::guard::{blocked, check_current_url, final_url_guard};
use crate::http::Args;
use crate::service::Service;
use crate::service::profile::Profile;

/// `GET /tabs`: the tabs of a running browser (URLs the policy refuses are blanked).
pub async fn tabs(svc: &Service, profile: &Profile) -> RouteResult {
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

/// Waits until the page is `complete` or `timeout` passes.
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

/// The target info of one page target.
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

/// `POST /tabs/open`: a tab at `url` (policy first; a fresh browser's blank tab is reused).
pub async fn tabs_open(svc: &Service, profile: &Arc<Profile>, args: &Args<'_>) -> RouteResult {
    let url = args
        .str("url")
        .filter(|u| !u.trim().is_empty())
        .ok_or_else(|| ServiceError::bad_request("url is required"))?;
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
        navigated(&url, &nav)?;
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

/// `POST /tabs/focus`: bring the referenced tab to the front.
pub async fn tabs_focus(svc: &Service, profile: &Arc<Profile>, args: &Args<'_>) -> RouteResult {
    let wanted = args
        .str("targetId")
        .filter(|t| !t.is_empty())
        .ok_or_else(|| ServiceError::bad_request("targetId is required"))?;
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
    browser_call(
        &browser,
        "Target.activateTarget",
        json!({"targetId": target}),
    )
    .await
    .map_err(|e| ServiceError::new(500, e.0))?;
    Ok(json!({"ok": true, "targetId": target}))
}

/// `DELETE /tabs/:targetId`: close the referenced tab (`targetIdMode=raw`: raw ids only).
pub async fn tabs_delete(
    svc: &Service,
    profile: &Arc<Profile>,
    args: &Args<'_>,
    wanted: &str,
) -> RouteResult {
    let raw_only = match args.str("targetIdMode").as_deref() {
        None => false,
        Some("raw") => true,
        Some(_) => return Err(ServiceError::bad_request("targetIdMode must be \"raw\"")),
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
    svc.close_target(profile, &browser, &target).await?;
    Ok(json!({"ok": true}))
}

/// `POST /tabs/action`: `list`, `new`, `label`, `close`, `select`.
pub async fn tabs_action(svc: &Service, profile: &Arc<Profile>, args: &Args<'_>) -> RouteResult {
    let action = args.str("action").unwrap_or_default();
    let index = || -> Result<Option<usize>, ServiceError> {
        match args.f64("index") {
            None if args.has("index") => Err(ServiceError::bad_request(
                "index must be a non-negative integer",
            )),
            None => Ok(None),
            Some(i) if i < 0.0 || i.fract() != 0.0 => Err(ServiceError::bad_request(
                "index must be a non-negative integer",
            )),
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
                .ok_or_else(|| ServiceError::bad_request("label is required"))?;
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
                return Err(ServiceError::bad_request("index is required"));
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
                svc.close_target(profile, &browser, &target).await?;
            } else {
                svc.page(profile, &browser, &target).await?;
                let _ = browser_call(
                    &browser,
                    "Target.activateTarget",
                    json!({"targetId": target}),
                )
                .await;
            }
            Ok(json!({"ok": true, "targetId": target}))
        }
        _ => Err(ServiceError::bad_request("unknown tab action")),
    }
}

/// `POST /navigate`: load `url` in the tab (policy before and after).
pub async fn navigate(svc: &Service, profile: &Arc<Profile>, args: &Args<'_>) -> RouteResult {
    let url = args
        .str("url")
        .filter(|u| !u.trim().is_empty())
        .ok_or_else(|| ServiceError::bad_request("url is required"))?;
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
    navigated(&url, &nav)?;
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

/// The `Page.navigate` reply's verdict: an `errorText` is a failed navigation.
fn navigated(url: &str, nav: &Value) -> Result<(), ServiceError> {
    match nav
        .get("errorText")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
    {
        Some(err) => Err(ServiceError::new(
            500,
            format!("navigation to {url} failed: {err}"),
        )),
        None => Ok(()),
    }
}

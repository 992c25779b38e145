//! `POST /act` and the element-level routes (file chooser, downloads), spec browser.md
//! §3.5–3.7. Elements are found through the latest snapshot's refs (ref → backend DOM
//! node) or a CSS selector, then driven with real input events: scroll into view, the
//! centre of the content quad, `Input.dispatchMouseEvent` / `Input.insertText`.

use std::sync::Arc;
use std::time::Duration;

use chromiumoxide::Page;
use serde_json::{Value, json};

use crate::cdp::{call_on, evaluate, page_call};
use crate::http::Args;
use crate::keys;
use crate::policy::confine;
use crate::routes::{blocked, check_current_url, dialog_state, final_url_guard};
use crate::service::{Profile, Service, ServiceError};

/// Interaction timeout default and clamp (ms).
const ACT_TIMEOUT: (u64, u64, u64) = (8_000, 500, 60_000);
/// `wait` / `evaluate` timeout default and clamp (ms).
const WAIT_TIMEOUT: (u64, u64, u64) = (20_000, 500, 120_000);
/// Most actions in one batch, and the deepest nesting.
const BATCH_MAX: usize = 100;
const BATCH_DEPTH: usize = 5;
/// How long an action's downloads may take to finish before the result is returned.
const ACTION_DOWNLOAD_WAIT: Duration = Duration::from_secs(30);

const KINDS: &[&str] = &[
    "click",
    "clickCoords",
    "dragCoords",
    "type",
    "press",
    "hover",
    "scrollIntoView",
    "drag",
    "select",
    "fill",
    "resize",
    "wait",
    "evaluate",
    "close",
    "batch",
];
const SELECTOR_KINDS: &[&str] = &[
    "batch",
    "click",
    "drag",
    "hover",
    "scrollIntoView",
    "select",
    "type",
    "wait",
];

fn act_err(status: u16, code: &str, msg: impl Into<String>) -> ServiceError {
    let mut e = ServiceError::new(status, msg);
    e.extra = Some(json!({"code": code}));
    e
}

fn invalid(msg: impl Into<String>) -> ServiceError {
    act_err(400, "ACT_INVALID_REQUEST", msg)
}

fn cdp(e: crate::cdp::CdpFailure) -> ServiceError {
    ServiceError::new(500, e.0)
}

/// Normalises a ref (`e12`, `@e12`, `ref=e12`, `ax12`, `12`).
pub fn normalise_ref(raw: &str) -> String {
    let r = raw.trim().trim_start_matches('@');
    let r = r.strip_prefix("ref=").unwrap_or(r);
    if r.chars().all(|c| c.is_ascii_digit()) && !r.is_empty() {
        format!("e{r}")
    } else {
        r.to_string()
    }
}

/// The backend node of a ref on a tab.
pub fn ref_node(profile: &Profile, target: &str, raw: &str) -> Result<i64, ServiceError> {
    let r = normalise_ref(raw);
    profile
        .book
        .lock()
        .expect("book lock")
        .tabs
        .get(target)
        .and_then(|t| t.refs.get(&r).copied())
        .ok_or_else(|| {
            ServiceError::new(
                400,
                format!(
                    "Unknown ref \"{r}\". Run a new snapshot and use a ref from that snapshot."
                ),
            )
        })
}

/// The remote object id of the first element matching `selector`.
pub async fn query_selector(page: &Page, selector: &str) -> Result<String, ServiceError> {
    let expr = format!(
        "document.querySelector({})",
        serde_json::to_string(selector).unwrap_or_default()
    );
    let r = page_call(page, "Runtime.evaluate", json!({"expression": expr}))
        .await
        .map_err(cdp)?;
    if r.get("exceptionDetails").is_some() {
        return Err(invalid(format!("invalid selector {selector:?}")));
    }
    r.pointer("/result/objectId")
        .and_then(Value::as_str)
        .map(String::from)
        .ok_or_else(|| ServiceError::new(404, format!("no element matches selector {selector:?}")))
}

/// The backend node of the first element matching `selector`.
pub async fn selector_node(page: &Page, selector: &str) -> Result<i64, ServiceError> {
    let object = query_selector(page, selector).await?;
    let d = page_call(page, "DOM.describeNode", json!({"objectId": object}))
        .await
        .map_err(cdp)?;
    d.pointer("/node/backendNodeId")
        .and_then(Value::as_i64)
        .ok_or_else(|| ServiceError::new(500, "element has no DOM node"))
}

fn stale(node: i64) -> ServiceError {
    ServiceError::new(
        409,
        format!(
            "the element (node {node}) is no longer in the page. Run a new snapshot and use a ref from that snapshot."
        ),
    )
}

async fn object_of(page: &Page, node: i64) -> Result<String, ServiceError> {
    let r = page_call(page, "DOM.resolveNode", json!({"backendNodeId": node}))
        .await
        .map_err(|_| stale(node))?;
    r.pointer("/object/objectId")
        .and_then(Value::as_str)
        .map(String::from)
        .ok_or_else(|| stale(node))
}

/// Scrolls the node into view and returns its box in viewport CSS pixels.
pub async fn node_box(page: &Page, node: i64) -> Result<(f64, f64, f64, f64), ServiceError> {
    let _ = page_call(
        page,
        "DOM.scrollIntoViewIfNeeded",
        json!({"backendNodeId": node}),
    )
    .await;
    let q = page_call(page, "DOM.getContentQuads", json!({"backendNodeId": node}))
        .await
        .map_err(|_| stale(node))?;
    let quad: Vec<f64> = q
        .pointer("/quads/0")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_f64).collect())
        .unwrap_or_default();
    if quad.len() != 8 {
        return Err(ServiceError::new(
            409,
            format!("the element (node {node}) is not visible"),
        ));
    }
    let xs = [quad[0], quad[2], quad[4], quad[6]];
    let ys = [quad[1], quad[3], quad[5], quad[7]];
    let (x0, x1) = (
        xs.iter().cloned().fold(f64::MAX, f64::min),
        xs.iter().cloned().fold(f64::MIN, f64::max),
    );
    let (y0, y1) = (
        ys.iter().cloned().fold(f64::MAX, f64::min),
        ys.iter().cloned().fold(f64::MIN, f64::max),
    );
    Ok((x0, y0, x1 - x0, y1 - y0))
}

async fn centre(page: &Page, node: i64) -> Result<(f64, f64), ServiceError> {
    let (x, y, w, h) = node_box(page, node).await?;
    Ok((x + w / 2.0, y + h / 2.0))
}

async fn mouse(
    page: &Page,
    kind: &str,
    x: f64,
    y: f64,
    button: &str,
    clicks: i64,
    modifiers: i64,
) -> Result<(), ServiceError> {
    page_call(
        page,
        "Input.dispatchMouseEvent",
        json!({"type": kind, "x": x, "y": y, "button": button, "clickCount": clicks, "modifiers": modifiers}),
    )
    .await
    .map(|_| ())
    .map_err(cdp)
}

async fn click_at(
    page: &Page,
    x: f64,
    y: f64,
    button: &str,
    double: bool,
    modifiers: i64,
    delay_ms: u64,
) -> Result<(), ServiceError> {
    mouse(page, "mouseMoved", x, y, "none", 0, modifiers).await?;
    let rounds = if double { 2 } else { 1 };
    for n in 1..=rounds {
        mouse(page, "mousePressed", x, y, button, n, modifiers).await?;
        if delay_ms > 0 {
            tokio::time::sleep(Duration::from_millis(delay_ms)).await;
        }
        mouse(page, "mouseReleased", x, y, button, n, modifiers).await?;
    }
    Ok(())
}

async fn drag_between(page: &Page, from: (f64, f64), to: (f64, f64)) -> Result<(), ServiceError> {
    mouse(page, "mouseMoved", from.0, from.1, "none", 0, 0).await?;
    mouse(page, "mousePressed", from.0, from.1, "left", 1, 0).await?;
    for i in 1..=5 {
        let t = i as f64 / 5.0;
        mouse(
            page,
            "mouseMoved",
            from.0 + (to.0 - from.0) * t,
            from.1 + (to.1 - from.1) * t,
            "left",
            0,
            0,
        )
        .await?;
    }
    mouse(page, "mouseReleased", to.0, to.1, "left", 1, 0).await
}

async fn press_key(page: &Page, key: &keys::Key) -> Result<(), ServiceError> {
    let down = json!({
        "type": if key.text.is_some() { "keyDown" } else { "rawKeyDown" },
        "key": key.key, "code": key.code, "windowsVirtualKeyCode": key.key_code,
        "modifiers": key.modifiers, "text": key.text.clone().unwrap_or_default(),
    });
    page_call(page, "Input.dispatchKeyEvent", down)
        .await
        .map_err(cdp)?;
    let up = json!({"type": "keyUp", "key": key.key, "code": key.code, "windowsVirtualKeyCode": key.key_code, "modifiers": key.modifiers});
    page_call(page, "Input.dispatchKeyEvent", up)
        .await
        .map_err(cdp)?;
    Ok(())
}

const FOCUS_AND_SELECT: &str = "function() { this.focus(); \
  if (typeof this.select === 'function' && (this.tagName === 'INPUT' || this.tagName === 'TEXTAREA')) { this.select(); } \
  else if (this.isContentEditable) { const r = document.createRange(); r.selectNodeContents(this); const s = getSelection(); s.removeAllRanges(); s.addRange(r); } }";

async fn type_into(
    page: &Page,
    node: i64,
    text: &str,
    slowly: bool,
    submit: bool,
) -> Result<(), ServiceError> {
    let object = object_of(page, node).await?;
    if slowly {
        let c = centre(page, node).await?;
        click_at(page, c.0, c.1, "left", false, 0, 0).await?;
    }
    call_on(page, &object, FOCUS_AND_SELECT, vec![])
        .await
        .map_err(cdp)?;
    if text.is_empty() {
        press_key(page, &keys::parse_chord("Delete").expect("known key")).await?;
    } else if slowly {
        // Replace the selection first, then type one key at a time.
        press_key(page, &keys::parse_chord("Delete").expect("known key")).await?;
        for ch in text.chars() {
            match keys::parse_chord(&ch.to_string()) {
                Ok(k) if ch != '+' => press_key(page, &k).await?,
                _ => {
                    page_call(page, "Input.insertText", json!({"text": ch.to_string()}))
                        .await
                        .map_err(cdp)?;
                }
            }
        }
    } else {
        page_call(page, "Input.insertText", json!({"text": text}))
            .await
            .map_err(cdp)?;
    }
    if submit {
        press_key(page, &keys::parse_chord("Enter").expect("known key")).await?;
    }
    Ok(())
}

/// Finds the element of an action: `ref`/`selector` (or the given key names).
async fn element(
    page: &Page,
    profile: &Profile,
    target: &str,
    a: &Value,
    ref_key: &str,
    sel_key: &str,
) -> Result<Option<i64>, ServiceError> {
    if let Some(r) = a.get(ref_key).and_then(value_str).filter(|s| !s.is_empty()) {
        return ref_node(profile, target, &r).map(Some);
    }
    if let Some(s) = a
        .get(sel_key)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
    {
        return selector_node(page, s).await.map(Some);
    }
    Ok(None)
}

fn value_str(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn num(a: &Value, k: &str) -> Option<f64> {
    match a.get(k)? {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
    .filter(|n: &f64| n.is_finite())
}

fn boolean(a: &Value, k: &str) -> bool {
    match a.get(k) {
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => matches!(s.as_str(), "true" | "1" | "yes"),
        Some(Value::Number(n)) => n.as_f64() != Some(0.0),
        _ => false,
    }
}

fn timeout_of(a: &Value, (default, lo, hi): (u64, u64, u64)) -> Duration {
    Duration::from_millis(
        num(a, "timeoutMs").map_or(default, |v| (v.max(0.0) as u64).clamp(lo, hi)),
    )
}

/// The click `modifiers` list of an action as CDP modifier bits.
fn modifiers_of(a: &Value) -> Result<i64, ServiceError> {
    let names: Vec<String> = a
        .get("modifiers")
        .and_then(Value::as_array)
        .map(|m| {
            m.iter()
                .filter_map(|v| v.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default();
    keys::modifier_mask(&names).map_err(invalid)
}

/// Validates one action (and nested batches) before anything runs.
fn validate(a: &Value, svc: &Service, depth: usize, count: &mut usize) -> Result<(), ServiceError> {
    let kind = a.get("kind").and_then(Value::as_str).unwrap_or("");
    if !KINDS.contains(&kind) {
        return Err(act_err(400, "ACT_KIND_REQUIRED", "kind is required"));
    }
    *count += 1;
    if *count > BATCH_MAX {
        return Err(invalid(format!(
            "batch exceeds maximum of {BATCH_MAX} actions"
        )));
    }
    let has_target = |k: &str| a.get(k).and_then(value_str).is_some_and(|s| !s.is_empty());
    let needs_element = |kind: &str| -> Result<(), ServiceError> {
        if has_target("ref") || has_target("selector") {
            Ok(())
        } else {
            Err(invalid(format!("{kind} requires ref or selector")))
        }
    };
    if a.get("selector").is_some() && !SELECTOR_KINDS.contains(&kind) {
        return Err(act_err(
            400,
            "ACT_SELECTOR_UNSUPPORTED",
            format!("selector is not supported for {kind}; use a ref from a snapshot"),
        ));
    }
    match kind {
        "click" => {
            needs_element("click")?;
            if let Some(b) = a.get("button").and_then(Value::as_str)
                && !["left", "right", "middle"].contains(&b)
            {
                return Err(invalid("click button must be left|right|middle"));
            }
            modifiers_of(a)?;
            if num(a, "delayMs").is_some_and(|d| d > 5000.0) {
                return Err(invalid("delayMs must not exceed 5000"));
            }
        }
        "clickCoords"
            if !(num(a, "x").is_some_and(|v| v >= 0.0)
                && num(a, "y").is_some_and(|v| v >= 0.0)) =>
        {
            return Err(invalid("clickCoords requires non-negative x and y"));
        }
        "dragCoords"
            if !["x", "y", "endX", "endY"]
                .iter()
                .all(|k| num(a, k).is_some_and(|v| v >= 0.0)) =>
        {
            return Err(invalid(
                "dragCoords requires non-negative x, y, endX, and endY",
            ));
        }
        "type" => {
            needs_element("type")?;
            if !a.get("text").is_some_and(Value::is_string) {
                return Err(invalid("type requires text"));
            }
        }
        "press" => {
            let key = a.get("key").and_then(Value::as_str).unwrap_or("");
            if key.is_empty() {
                return Err(invalid("press requires key"));
            }
            keys::parse_chord(key).map_err(invalid)?;
        }
        "hover" | "scrollIntoView" => needs_element(kind)?,
        "drag" => {
            if !(has_target("startRef") || has_target("startSelector")) {
                return Err(invalid("drag requires startRef or startSelector"));
            }
            if !(has_target("endRef") || has_target("endSelector")) {
                return Err(invalid("drag requires endRef or endSelector"));
            }
        }
        "select" => {
            let values_ok = a
                .get("values")
                .and_then(Value::as_array)
                .is_some_and(|v| !v.is_empty());
            if !(has_target("ref") || has_target("selector")) || !values_ok {
                return Err(invalid("select requires ref/selector and values"));
            }
        }
        "fill" => {
            let fields = a
                .get("fields")
                .and_then(Value::as_array)
                .filter(|f| !f.is_empty())
                .ok_or_else(|| invalid("fill requires fields"))?;
            for (i, f) in fields.iter().enumerate() {
                let obj = f
                    .as_object()
                    .ok_or_else(|| invalid(format!("fields[{i}] must be an object")))?;
                if let Some(k) = obj
                    .keys()
                    .find(|k| !["ref", "type", "value"].contains(&k.as_str()))
                {
                    return Err(invalid(format!(
                        "fields[{i}] unsupported field key \"{k}\""
                    )));
                }
                if obj
                    .get("ref")
                    .and_then(value_str)
                    .is_none_or(|r| r.is_empty())
                {
                    return Err(invalid(format!("fields[{i}] requires ref")));
                }
            }
        }
        "resize" => {
            let (w, h) = (num(a, "width"), num(a, "height"));
            if !(w.is_some_and(|w| w >= 1.0) && h.is_some_and(|h| h >= 1.0)) {
                return Err(invalid("resize requires positive width and height"));
            }
            if w.unwrap_or(0.0) > 8192.0 || h.unwrap_or(0.0) > 8192.0 {
                return Err(invalid("resize width and height must not exceed 8192"));
            }
        }
        "wait" => {
            if ![
                "timeMs",
                "text",
                "textGone",
                "selector",
                "url",
                "loadState",
                "fn",
            ]
            .iter()
            .any(|k| a.get(*k).is_some_and(|v| !v.is_null()))
            {
                return Err(invalid(
                    "wait requires at least one of: timeMs, text, textGone, selector, url, loadState, fn",
                ));
            }
            if num(a, "timeMs").is_some_and(|t| t > 30_000.0) {
                return Err(invalid("wait timeMs must not exceed 30000"));
            }
            if let Some(ls) = a.get("loadState").and_then(Value::as_str)
                && !["load", "domcontentloaded", "networkidle"].contains(&ls)
            {
                return Err(invalid(
                    "loadState must be load|domcontentloaded|networkidle",
                ));
            }
            if a.get("fn").is_some() && !svc.settings.evaluate_enabled {
                return Err(act_err(
                    403,
                    "ACT_EVALUATE_DISABLED",
                    "evaluate is disabled on this node ([browser] evaluate_enabled = false)",
                ));
            }
        }
        "evaluate" => {
            if a.get("fn")
                .and_then(Value::as_str)
                .is_none_or(|f| f.trim().is_empty())
            {
                return Err(invalid("evaluate requires fn"));
            }
            if !svc.settings.evaluate_enabled {
                return Err(act_err(
                    403,
                    "ACT_EVALUATE_DISABLED",
                    "evaluate is disabled on this node ([browser] evaluate_enabled = false)",
                ));
            }
        }
        "batch" => {
            if depth >= BATCH_DEPTH {
                return Err(invalid(format!(
                    "batch nesting exceeds maximum depth of {BATCH_DEPTH}"
                )));
            }
            let actions = a
                .get("actions")
                .and_then(Value::as_array)
                .filter(|v| !v.is_empty())
                .ok_or_else(|| invalid("actions are required"))?;
            for inner in actions {
                validate(inner, svc, depth + 1, count)?;
            }
        }
        _ => {}
    }
    Ok(())
}

fn check_targets(
    a: &Value,
    request_target: Option<&str>,
    nested: bool,
) -> Result<(), ServiceError> {
    if let (Some(t), Some(req)) = (a.get("targetId").and_then(Value::as_str), request_target)
        && t != req
    {
        let msg = if nested {
            "batched action targetId must match request targetId"
        } else {
            "action targetId must match request targetId"
        };
        return Err(act_err(403, "ACT_TARGET_ID_MISMATCH", msg));
    }
    if let Some(actions) = a.get("actions").and_then(Value::as_array) {
        for inner in actions {
            check_targets(inner, request_target, true)?;
        }
    }
    Ok(())
}

/// `POST /act`.
pub async fn act(
    svc: &Service,
    profile: &Arc<Profile>,
    args: &Args<'_>,
) -> Result<Value, ServiceError> {
    let body: Value = Value::Object(
        [
            "kind",
            "ref",
            "selector",
            "doubleClick",
            "button",
            "modifiers",
            "delayMs",
            "timeoutMs",
            "x",
            "y",
            "endX",
            "endY",
            "text",
            "submit",
            "slowly",
            "key",
            "startRef",
            "startSelector",
            "endRef",
            "endSelector",
            "values",
            "fields",
            "width",
            "height",
            "timeMs",
            "textGone",
            "url",
            "loadState",
            "fn",
            "actions",
            "stopOnError",
        ]
        .iter()
        .filter_map(|k| args.raw(k).map(|v| (k.to_string(), v.clone())))
        .collect(),
    );
    validate(&body, svc, 0, &mut 0)?;
    let kind = body["kind"].as_str().unwrap_or("");
    let request_target = args.str("targetId");
    let (_, page, target) = svc.tab_for(profile, request_target.as_deref()).await?;
    if !matches!(kind, "resize" | "close") {
        check_current_url(svc, &page).await?;
    }
    let nested: Vec<&Value> = body
        .get("actions")
        .and_then(Value::as_array)
        .map(|a| a.iter().collect())
        .unwrap_or_default();
    for a in nested {
        check_targets(a, Some(&target), true)?;
    }
    let downloads_before = profile.book.lock().expect("book lock").downloads.len();
    let work = run_action(svc, profile, &page, &target, &body, 0);
    tokio::pin!(work);
    // A dialog blocks the page's input and script calls: answer with the dialog state
    // instead of waiting for a call that cannot return.
    let outcome = tokio::select! {
        r = &mut work => Some(r),
        _ = dialog_opened(profile, &target) => None,
    };
    let mut out = json!({"ok": true, "targetId": target});
    match outcome {
        None => {
            out["blockedByDialog"] = json!(true);
            let book = profile.book.lock().expect("book lock");
            if let Some(tab) = book.tabs.get(&target) {
                out["browserState"] = dialog_state(tab);
            }
            return Ok(out);
        }
        Some(Err(e)) => return Err(e),
        Some(Ok(extra)) => {
            if let Value::Object(m) = extra {
                for (k, v) in m {
                    out[k] = v;
                }
            }
        }
    }
    if kind != "close"
        && let Ok(url) = final_url_guard(svc, &page).await
    {
        out["url"] = json!(url);
    }
    let downloads = collect_action_downloads(profile, &target, downloads_before).await?;
    if !downloads.is_empty() {
        out["downloads"] = json!(downloads);
    }
    Ok(out)
}

async fn dialog_opened(profile: &Profile, target: &str) {
    loop {
        let notified = profile.changed.notified();
        let pending = profile
            .book
            .lock()
            .expect("book lock")
            .tabs
            .get(target)
            .is_some_and(|t| !t.pending_dialogs.is_empty());
        if pending {
            return;
        }
        let _ = tokio::time::timeout(Duration::from_millis(100), notified).await;
    }
}

fn run_action<'a>(
    svc: &'a Service,
    profile: &'a Arc<Profile>,
    page: &'a Page,
    target: &'a str,
    a: &'a Value,
    depth: usize,
) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<Value, ServiceError>> + Send + 'a>> {
    Box::pin(async move {
        let kind = a["kind"].as_str().unwrap_or("");
        let budget = if matches!(kind, "wait" | "evaluate") {
            timeout_of(a, WAIT_TIMEOUT)
        } else {
            timeout_of(a, ACT_TIMEOUT)
        };
        let work = async {
            match kind {
                "click" => {
                    let node = element(page, profile, target, a, "ref", "selector")
                        .await?
                        .expect("validated");
                    let (x, y) = centre(page, node).await?;
                    let mask = modifiers_of(a)?;
                    let button = a.get("button").and_then(Value::as_str).unwrap_or("left");
                    click_at(
                        page,
                        x,
                        y,
                        button,
                        boolean(a, "doubleClick"),
                        mask,
                        num(a, "delayMs").unwrap_or(0.0) as u64,
                    )
                    .await?;
                    Ok(json!({}))
                }
                "clickCoords" => {
                    let button = a.get("button").and_then(Value::as_str).unwrap_or("left");
                    click_at(
                        page,
                        num(a, "x").unwrap_or(0.0),
                        num(a, "y").unwrap_or(0.0),
                        button,
                        boolean(a, "doubleClick"),
                        0,
                        num(a, "delayMs").unwrap_or(0.0) as u64,
                    )
                    .await?;
                    Ok(json!({}))
                }
                "dragCoords" => {
                    let n = |k| num(a, k).unwrap_or(0.0);
                    drag_between(page, (n("x"), n("y")), (n("endX"), n("endY"))).await?;
                    Ok(json!({}))
                }
                "drag" => {
                    let from = element(page, profile, target, a, "startRef", "startSelector")
                        .await?
                        .expect("validated");
                    let to = element(page, profile, target, a, "endRef", "endSelector")
                        .await?
                        .expect("validated");
                    let (f, t) = (centre(page, from).await?, centre(page, to).await?);
                    drag_between(page, f, t).await?;
                    Ok(json!({}))
                }
                "type" => {
                    let node = element(page, profile, target, a, "ref", "selector")
                        .await?
                        .expect("validated");
                    type_into(
                        page,
                        node,
                        a["text"].as_str().unwrap_or(""),
                        boolean(a, "slowly"),
                        boolean(a, "submit"),
                    )
                    .await?;
                    Ok(json!({}))
                }
                "press" => {
                    let key =
                        keys::parse_chord(a["key"].as_str().unwrap_or("")).map_err(invalid)?;
                    if let Some(d) = num(a, "delayMs").filter(|d| *d > 0.0) {
                        tokio::time::sleep(Duration::from_millis(d.min(5000.0) as u64)).await;
                    }
                    press_key(page, &key).await?;
                    Ok(json!({}))
                }
                "hover" => {
                    let node = element(page, profile, target, a, "ref", "selector")
                        .await?
                        .expect("validated");
                    let (x, y) = centre(page, node).await?;
                    mouse(page, "mouseMoved", x, y, "none", 0, 0).await?;
                    Ok(json!({}))
                }
                "scrollIntoView" => {
                    let node = element(page, profile, target, a, "ref", "selector")
                        .await?
                        .expect("validated");
                    node_box(page, node).await?;
                    Ok(json!({}))
                }
                "select" => {
                    let node = element(page, profile, target, a, "ref", "selector")
                        .await?
                        .expect("validated");
                    let object = object_of(page, node).await?;
                    let values = a["values"].clone();
                    let chosen = call_on(page, &object,
                        "function(values) { if (!this.options) throw new Error('element is not a <select>'); \
                         let n = 0; for (const o of this.options) { o.selected = values.includes(o.value) || values.includes(o.label); if (o.selected) n++; } \
                         this.dispatchEvent(new Event('input', {bubbles: true})); this.dispatchEvent(new Event('change', {bubbles: true})); \
                         return [...this.options].filter(o => o.selected).map(o => o.value); }",
                        vec![values]).await.map_err(|e| ServiceError::new(500, e.0))?;
                    if chosen.as_array().is_none_or(|c| c.is_empty()) {
                        return Err(ServiceError::new(400, "no option matched the given values"));
                    }
                    Ok(json!({}))
                }
                "fill" => {
                    for f in a["fields"]
                        .as_array()
                        .map(|v| v.as_slice())
                        .unwrap_or_default()
                    {
                        let node =
                            ref_node(profile, target, &value_str(&f["ref"]).unwrap_or_default())?;
                        let kind = f.get("type").and_then(Value::as_str).unwrap_or("text");
                        if kind == "checkbox" || kind == "radio" {
                            let want = matches!(&f["value"], Value::Bool(true))
                                || matches!(f["value"].as_str(), Some("true" | "1"))
                                || f["value"].as_i64() == Some(1);
                            let object = object_of(page, node).await?;
                            call_on(
                                page,
                                &object,
                                "function(v) { if (this.checked !== v) this.click(); }",
                                vec![json!(want)],
                            )
                            .await
                            .map_err(cdp)?;
                        } else {
                            let text = match &f["value"] {
                                Value::String(s) => s.clone(),
                                Value::Null => String::new(),
                                other => other.to_string(),
                            };
                            type_into(page, node, &text, false, false).await?;
                        }
                    }
                    Ok(json!({}))
                }
                "resize" => {
                    page_call(page, "Emulation.setDeviceMetricsOverride", json!({
                        "width": num(a, "width").unwrap_or(1280.0) as i64, "height": num(a, "height").unwrap_or(720.0) as i64,
                        "deviceScaleFactor": 1, "mobile": false,
                    })).await.map_err(cdp)?;
                    Ok(json!({}))
                }
                "wait" => {
                    wait_for(svc, page, a, budget).await?;
                    Ok(json!({}))
                }
                "evaluate" => {
                    let node = element(page, profile, target, a, "ref", "selector").await?;
                    let result = evaluate_fn(page, a["fn"].as_str().unwrap_or(""), node).await?;
                    Ok(json!({"result": result}))
                }
                "close" => {
                    let browser = svc
                        .running(profile)
                        .await
                        .ok_or_else(|| ServiceError::new(409, "browser not running"))?;
                    crate::routes::close_target(svc, profile, &browser, target).await?;
                    Ok(json!({}))
                }
                "batch" => run_batch(svc, profile, page, target, a, depth).await,
                _ => Err(act_err(400, "ACT_KIND_REQUIRED", "kind is required")),
            }
        };
        if kind == "batch" || kind == "wait" {
            return work.await;
        }
        tokio::time::timeout(budget, work)
            .await
            .unwrap_or_else(|_| {
                Err(ServiceError::new(
                    504,
                    format!("{kind} timed out after {} ms", budget.as_millis()),
                ))
            })
    })
}

async fn run_batch(
    svc: &Service,
    profile: &Arc<Profile>,
    page: &Page,
    target: &str,
    a: &Value,
    depth: usize,
) -> Result<Value, ServiceError> {
    let stop_on_error = a
        .get("stopOnError")
        .is_none_or(|_| boolean(a, "stopOnError"));
    let actions = a["actions"].as_array().cloned().unwrap_or_default();
    let mut results = Vec::new();
    let mut out = json!({});
    for (i, inner) in actions.iter().enumerate() {
        let before = page.url().await.ok().flatten().unwrap_or_default();
        let loader_before = evaluate(page, "performance.timeOrigin").await.ok();
        let r = run_action(svc, profile, page, target, inner, depth + 1).await;
        let kind = inner["kind"].as_str().unwrap_or("");
        match r {
            Ok(v) => {
                let mut res = json!({"ok": true});
                if let Some(result) = v.get("result") {
                    res["result"] = result.clone();
                }
                if kind == "close" {
                    results.push(res);
                    out["aborted"] = json!({"reason": "closed", "afterAction": i, "skipped": actions.len() - i - 1});
                    break;
                }
                let after = page.url().await.ok().flatten().unwrap_or_default();
                let loader_after = evaluate(page, "performance.timeOrigin").await.ok();
                let navigated = after != before || loader_after != loader_before;
                if navigated {
                    res["navigated"] = json!(true);
                    res["url"] = json!(after);
                    results.push(res);
                    if i + 1 < actions.len() {
                        out["aborted"] = json!({"reason": "navigation", "afterAction": i, "url": after, "skipped": actions.len() - i - 1});
                    }
                    break;
                }
                results.push(res);
            }
            Err(e) => {
                results.push(json!({"ok": false, "error": e.message}));
                if stop_on_error {
                    break;
                }
            }
        }
    }
    out["results"] = json!(results);
    Ok(out)
}

async fn wait_for(
    svc: &Service,
    page: &Page,
    a: &Value,
    budget: Duration,
) -> Result<(), ServiceError> {
    if let Some(t) = num(a, "timeMs").filter(|t| *t > 0.0) {
        tokio::time::sleep(Duration::from_millis(t as u64)).await;
    }
    let q = |s: &str| serde_json::to_string(s).unwrap_or_default();
    let mut conditions: Vec<(String, String)> = Vec::new();
    if let Some(t) = a.get("text").and_then(Value::as_str) {
        conditions.push((
            format!("text {t:?}"),
            format!(
                "document.body && document.body.innerText.includes({})",
                q(t)
            ),
        ));
    }
    if let Some(t) = a.get("textGone").and_then(Value::as_str) {
        conditions.push((
            format!("text {t:?} to disappear"),
            format!(
                "!(document.body && document.body.innerText.includes({}))",
                q(t)
            ),
        ));
    }
    if let Some(s) = a.get("selector").and_then(Value::as_str) {
        conditions.push((
            format!("selector {s:?}"),
            format!("!!document.querySelector({})", q(s)),
        ));
    }
    if let Some(u) = a.get("url").and_then(Value::as_str) {
        let check = if u.contains('*') {
            let re = regex_from_glob(u);
            format!("new RegExp({}).test(location.href)", q(&re))
        } else {
            format!("location.href === {0} || location.href.includes({0})", q(u))
        };
        conditions.push((format!("url {u:?}"), check));
    }
    if let Some(ls) = a.get("loadState").and_then(Value::as_str) {
        let check = match ls {
            "domcontentloaded" => "document.readyState !== 'loading'".to_string(),
            "networkidle" => "document.readyState === 'complete' && performance.getEntriesByType('resource').every(e => e.responseEnd > 0)".to_string(),
            _ => "document.readyState === 'complete'".to_string(),
        };
        conditions.push((format!("load state {ls}"), check));
    }
    if let Some(f) = a.get("fn").and_then(Value::as_str) {
        if !svc.settings.evaluate_enabled {
            return Err(act_err(
                403,
                "ACT_EVALUATE_DISABLED",
                "evaluate is disabled on this node",
            ));
        }
        conditions.push(("fn".into(), wrap_fn(f)));
    }
    for (what, expr) in conditions {
        let deadline = tokio::time::Instant::now() + budget;
        loop {
            if let Ok(v) = evaluate(page, &expr).await
                && !matches!(v, Value::Null | Value::Bool(false))
                && v != json!(0)
                && v != json!("")
            {
                break;
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(ServiceError::new(
                    504,
                    format!("wait for {what} timed out after {} ms", budget.as_millis()),
                ));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    Ok(())
}

fn regex_from_glob(glob: &str) -> String {
    let mut re = String::from("^");
    let mut chars = glob.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '*' if chars.peek() == Some(&'*') => {
                chars.next();
                re.push_str(".*");
            }
            '*' => re.push_str("[^/]*"),
            '?' => re.push('.'),
            c if "\\.+()|[]{}^$".contains(c) => {
                re.push('\\');
                re.push(c);
            }
            c => re.push(c),
        }
    }
    re.push('$');
    re
}

/// An expression that runs `src` as a function, an expression, or a statement body.
fn wrap_fn(src: &str) -> String {
    let s = serde_json::to_string(src).unwrap_or_default();
    format!(
        "(async (el) => {{ const src = {s}; let f; \
         try {{ f = (0, eval)('(' + src + ')'); }} catch (e) {{ f = (0, eval)('(async function(el) {{' + src + '\\n}})'); }} \
         return typeof f === 'function' ? await f(el) : await f; }})(globalThis.__openclawEl)"
    )
}

async fn evaluate_fn(page: &Page, src: &str, node: Option<i64>) -> Result<Value, ServiceError> {
    let expr = wrap_fn(src);
    match node {
        None => evaluate(page, &expr)
            .await
            .map_err(|e| ServiceError::new(500, format!("evaluate failed: {}", e.0))),
        Some(n) => {
            let object = object_of(page, n).await?;
            let f = format!(
                "function() {{ globalThis.__openclawEl = this; try {{ return {expr}; }} finally {{ delete globalThis.__openclawEl; }} }}"
            );
            call_on(page, &object, &f, vec![])
                .await
                .map_err(|e| ServiceError::new(500, format!("evaluate failed: {}", e.0)))
        }
    }
}

/// Waits for downloads the tab started after index `from` and moves them into place.
async fn collect_action_downloads(
    profile: &Profile,
    target: &str,
    from: usize,
) -> Result<Vec<Value>, ServiceError> {
    let started: Vec<String> = {
        let book = profile.book.lock().expect("book lock");
        book.downloads
            .iter()
            .skip(from)
            .filter(|d| d.frame_id == target && !d.claimed)
            .map(|d| d.guid.clone())
            .collect()
    };
    let mut out = Vec::new();
    for guid in started {
        if let Ok(v) = finish_download(profile, &guid, None, ACTION_DOWNLOAD_WAIT).await {
            out.push(v);
        }
    }
    Ok(out)
}

/// Waits until download `guid` completes, then moves it to `dest` (or a free name from
/// its suggested filename) inside the downloads directory.
async fn finish_download(
    profile: &Profile,
    guid: &str,
    dest: Option<&str>,
    wait: Duration,
) -> Result<Value, ServiceError> {
    let deadline = tokio::time::Instant::now() + wait;
    let d = loop {
        let notified = profile.changed.notified();
        let d = profile
            .book
            .lock()
            .expect("book lock")
            .downloads
            .iter()
            .find(|d| d.guid == guid)
            .cloned();
        match d {
            Some(d) if d.state == "completed" => break d,
            Some(d) if d.state == "canceled" => {
                return Err(ServiceError::new(
                    500,
                    format!("download of {} was canceled", d.url),
                ));
            }
            _ => {}
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(ServiceError::new(
                504,
                format!(
                    "download {guid} did not finish within {} ms",
                    wait.as_millis()
                ),
            ));
        }
        let _ = tokio::time::timeout(Duration::from_millis(100), notified).await;
    };
    let root = profile.downloads_dir();
    let target_path = match dest {
        Some(p) => confine(&root, p, "downloads").map_err(|e| ServiceError::new(400, e))?,
        None => free_name(&root, &sanitise(&d.suggested_filename)),
    };
    let tmp = root.join(guid);
    std::fs::rename(&tmp, &target_path).map_err(|e| {
        ServiceError::new(
            500,
            format!("cannot move the download to {}: {e}", target_path.display()),
        )
    })?;
    if let Some(x) = profile
        .book
        .lock()
        .expect("book lock")
        .downloads
        .iter_mut()
        .find(|x| x.guid == guid)
    {
        x.claimed = true;
    }
    Ok(
        json!({"url": d.url, "suggestedFilename": d.suggested_filename, "path": target_path.display().to_string()}),
    )
}

fn sanitise(name: &str) -> String {
    let clean: String = name
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || "._- ()".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    let clean = clean.trim_start_matches('.').trim();
    if clean.is_empty() {
        "download".into()
    } else {
        clean.chars().take(120).collect()
    }
}

fn free_name(root: &std::path::Path, name: &str) -> std::path::PathBuf {
    let first = root.join(name);
    if !first.exists() {
        return first;
    }
    let (stem, ext) = match name.rsplit_once('.') {
        Some((s, e)) if !s.is_empty() => (s.to_string(), format!(".{e}")),
        _ => (name.to_string(), String::new()),
    };
    (1..)
        .map(|n| root.join(format!("{stem} ({n}){ext}")))
        .find(|p| !p.exists())
        .expect("unbounded")
}

/// `POST /download`: click a ref and save what it downloads to `path`.
pub async fn download(
    svc: &Service,
    profile: &Arc<Profile>,
    args: &Args<'_>,
) -> Result<Value, ServiceError> {
    if args.has("currentDocument") || args.has("expectedUrl") {
        return Err(ServiceError::new(
            501,
            "currentDocument downloads are not supported by openclaw-node yet",
        ));
    }
    let r = args
        .str("ref")
        .filter(|s| !s.is_empty())
        .ok_or_else(|| ServiceError::new(400, "ref is required"))?;
    let path = args
        .str("path")
        .filter(|s| !s.is_empty())
        .ok_or_else(|| ServiceError::new(400, "path is required"))?;
    let timeout = timeout_arg(args, 120_000)?;
    confine(&profile.downloads_dir(), &path, "downloads").map_err(|e| ServiceError::new(400, e))?;
    let (_, page, target) = svc
        .tab_for(profile, args.str("targetId").as_deref())
        .await?;
    check_current_url(svc, &page).await?;
    let before = profile.book.lock().expect("book lock").downloads.len();
    let node = ref_node(profile, &target, &r)?;
    let (x, y) = centre(&page, node).await?;
    click_at(&page, x, y, "left", false, 0, 0).await?;
    let guid = next_download(profile, &target, before, timeout).await?;
    let d = finish_download(profile, &guid, Some(&path), timeout).await?;
    check_download_url(svc, &d).await?;
    Ok(json!({"ok": true, "targetId": target, "download": d}))
}

/// `POST /wait/download`: the tab's next download.
pub async fn wait_download(
    svc: &Service,
    profile: &Arc<Profile>,
    args: &Args<'_>,
) -> Result<Value, ServiceError> {
    let timeout = timeout_arg(args, 120_000)?;
    let path = args.str("path").filter(|s| !s.is_empty());
    if let Some(p) = &path {
        confine(&profile.downloads_dir(), p, "downloads").map_err(|e| ServiceError::new(400, e))?;
    }
    let (_, _page, target) = svc
        .tab_for(profile, args.str("targetId").as_deref())
        .await?;
    let from = {
        let book = profile.book.lock().expect("book lock");
        book.downloads
            .iter()
            .position(|d| d.frame_id == target && !d.claimed)
            .unwrap_or(book.downloads.len())
    };
    let guid = next_download(profile, &target, from, timeout).await?;
    let d = finish_download(profile, &guid, path.as_deref(), timeout).await?;
    check_download_url(svc, &d).await?;
    Ok(json!({"ok": true, "targetId": target, "download": d}))
}

async fn check_download_url(svc: &Service, d: &Value) -> Result<(), ServiceError> {
    let url = d["url"].as_str().unwrap_or("");
    if url.starts_with("http")
        && let Err(b) = svc.policy.check(url).await
    {
        if let Some(p) = d["path"].as_str() {
            let _ = std::fs::remove_file(p);
        }
        return Err(blocked(b));
    }
    Ok(())
}

fn timeout_arg(args: &Args<'_>, default: u64) -> Result<Duration, ServiceError> {
    match args.f64("timeoutMs") {
        None if args.has("timeoutMs") => Err(ServiceError::new(
            400,
            "timeoutMs must be a positive integer.",
        )),
        None => Ok(Duration::from_millis(default)),
        Some(t) if t <= 0.0 || t.fract() != 0.0 => Err(ServiceError::new(
            400,
            "timeoutMs must be a positive integer.",
        )),
        Some(t) => Ok(Duration::from_millis(t as u64)),
    }
}

async fn next_download(
    profile: &Profile,
    target: &str,
    from: usize,
    timeout: Duration,
) -> Result<String, ServiceError> {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let notified = profile.changed.notified();
        let found = profile
            .book
            .lock()
            .expect("book lock")
            .downloads
            .iter()
            .skip(from)
            .find(|d| d.frame_id == target && !d.claimed)
            .map(|d| d.guid.clone());
        if let Some(g) = found {
            return Ok(g);
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(ServiceError::new(
                504,
                format!("no download started within {} ms", timeout.as_millis()),
            ));
        }
        let _ = tokio::time::timeout(Duration::from_millis(100), notified).await;
    }
}

/// `POST /hooks/file-chooser`: set files on an input, or arm the next chooser.
pub async fn file_chooser(
    svc: &Service,
    profile: &Arc<Profile>,
    args: &Args<'_>,
) -> Result<Value, ServiceError> {
    let raw_paths: Vec<String> = args
        .raw("paths")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|p| p.as_str().map(String::from))
                .collect()
        })
        .filter(|v: &Vec<String>| !v.is_empty())
        .ok_or_else(|| ServiceError::new(400, "paths are required"))?;
    let input = args
        .str("inputRef")
        .or_else(|| args.str("element"))
        .filter(|s| !s.is_empty());
    let click = args.str("ref").filter(|s| !s.is_empty());
    if input.is_some() && click.is_some() {
        return Err(ServiceError::new(
            400,
            "ref cannot be combined with inputRef/element",
        ));
    }
    let root = profile.uploads_dir();
    let mut files = Vec::new();
    for p in &raw_paths {
        let f = confine(&root, p, "uploads").map_err(|e| ServiceError::new(400, e))?;
        if !f.is_file() {
            return Err(ServiceError::new(
                400,
                format!("Invalid path: {p:?} is not an existing file in the uploads directory"),
            ));
        }
        files.push(f.display().to_string());
    }
    let (_, page, target) = svc
        .tab_for(profile, args.str("targetId").as_deref())
        .await?;
    check_current_url(svc, &page).await?;
    if let Some(i) = input {
        let node = if args.str("inputRef").is_some() {
            ref_node(profile, &target, &i)?
        } else {
            selector_node(&page, &i).await?
        };
        page_call(
            &page,
            "DOM.setFileInputFiles",
            json!({"files": files, "backendNodeId": node}),
        )
        .await
        .map_err(cdp)?;
        return Ok(json!({"ok": true}));
    }
    profile
        .book
        .lock()
        .expect("book lock")
        .tab(&target)
        .chooser_hook = Some(files);
    page_call(
        &page,
        "Page.setInterceptFileChooserDialog",
        json!({"enabled": true}),
    )
    .await
    .map_err(cdp)?;
    if let Some(r) = click {
        let node = ref_node(profile, &target, &r)?;
        let (x, y) = centre(&page, node).await?;
        click_at(&page, x, y, "left", false, 0, 0).await?;
    }
    Ok(json!({"ok": true}))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn svc(evaluate_enabled: bool) -> (Service, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let settings = crate::settings::BrowserSettings {
            evaluate_enabled,
            ..Default::default()
        };
        (Service::new(settings, dir.path(), HashMap::new()), dir)
    }

    fn code(e: &ServiceError) -> (u16, String, String) {
        (
            e.status,
            e.extra
                .as_ref()
                .and_then(|x| x["code"].as_str())
                .unwrap_or("")
                .to_string(),
            e.message.clone(),
        )
    }

    #[test]
    fn validation_messages_match_the_reference() {
        let (s, _d) = svc(true);
        let cases = [
            (json!({}), "ACT_KIND_REQUIRED", "kind is required"),
            (
                json!({"kind": "click"}),
                "ACT_INVALID_REQUEST",
                "click requires ref or selector",
            ),
            (
                json!({"kind": "click", "ref": "e1", "button": "side"}),
                "ACT_INVALID_REQUEST",
                "click button must be left|right|middle",
            ),
            (
                json!({"kind": "click", "ref": "e1", "modifiers": ["Hyper"]}),
                "ACT_INVALID_REQUEST",
                "modifiers must be Alt|Control|ControlOrMeta|Meta|Shift",
            ),
            (
                json!({"kind": "type", "ref": "e1"}),
                "ACT_INVALID_REQUEST",
                "type requires text",
            ),
            (
                json!({"kind": "press"}),
                "ACT_INVALID_REQUEST",
                "press requires key",
            ),
            (
                json!({"kind": "clickCoords", "x": -1, "y": 0}),
                "ACT_INVALID_REQUEST",
                "clickCoords requires non-negative x and y",
            ),
            (
                json!({"kind": "fill", "fields": []}),
                "ACT_INVALID_REQUEST",
                "fill requires fields",
            ),
            (
                json!({"kind": "fill", "fields": [{"ref": "e1", "bogus": 1}]}),
                "ACT_INVALID_REQUEST",
                "fields[0] unsupported field key \"bogus\"",
            ),
            (
                json!({"kind": "resize", "width": 9000, "height": 10}),
                "ACT_INVALID_REQUEST",
                "resize width and height must not exceed 8192",
            ),
            (
                json!({"kind": "wait"}),
                "ACT_INVALID_REQUEST",
                "wait requires at least one of: timeMs, text, textGone, selector, url, loadState, fn",
            ),
            (
                json!({"kind": "evaluate"}),
                "ACT_INVALID_REQUEST",
                "evaluate requires fn",
            ),
            (
                json!({"kind": "batch", "actions": []}),
                "ACT_INVALID_REQUEST",
                "actions are required",
            ),
            (
                json!({"kind": "press", "key": "Enter", "selector": "#x"}),
                "ACT_SELECTOR_UNSUPPORTED",
                "selector is not supported for press; use a ref from a snapshot",
            ),
        ];
        for (body, want_code, want_msg) in cases {
            let e = validate(&body, &s, 0, &mut 0).unwrap_err();
            let (status, c, m) = code(&e);
            assert_eq!(
                (status, c.as_str(), m.as_str()),
                (400, want_code, want_msg),
                "{body}"
            );
        }
        let mut nested = json!({"kind": "press", "key": "a"});
        for _ in 0..6 {
            nested = json!({"kind": "batch", "actions": [nested]});
        }
        assert!(
            validate(&nested, &s, 0, &mut 0)
                .unwrap_err()
                .message
                .contains("nesting exceeds maximum depth of 5")
        );
        let many =
            json!({"kind": "batch", "actions": vec![json!({"kind": "press", "key": "a"}); 101]});
        assert!(
            validate(&many, &s, 0, &mut 0)
                .unwrap_err()
                .message
                .contains("maximum of 100")
        );
        let (off, _d2) = svc(false);
        let e = validate(&json!({"kind": "evaluate", "fn": "1"}), &off, 0, &mut 0).unwrap_err();
        assert_eq!(code(&e).0, 403);
        assert_eq!(code(&e).1, "ACT_EVALUATE_DISABLED");
    }

    #[test]
    fn refs_targets_globs_and_names() {
        assert_eq!(normalise_ref("@e12"), "e12");
        assert_eq!(normalise_ref("ref=e3"), "e3");
        assert_eq!(normalise_ref("7"), "e7");
        assert_eq!(normalise_ref("ax2"), "ax2");
        let bad = json!({"kind": "batch", "actions": [{"kind": "press", "key": "a", "targetId": "OTHER"}]});
        let e = check_targets(&bad["actions"][0], Some("MINE"), true).unwrap_err();
        assert_eq!(
            e.message,
            "batched action targetId must match request targetId"
        );
        assert_eq!(regex_from_glob("**/done?x=*"), "^.*/done.x=[^/]*$");
        assert_eq!(sanitise("../../etc/passwd"), "_.._etc_passwd");
        assert_eq!(sanitise(""), "download");
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("r.pdf"), "x").unwrap();
        assert_eq!(free_name(dir.path(), "r.pdf"), dir.path().join("r (1).pdf"));
    }
}

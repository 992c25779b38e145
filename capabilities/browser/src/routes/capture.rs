//! Page capture routes: `POST /screenshot` (viewport, full page or one element, shrunk
//! under 5 MB), `POST /pdf`, `GET /text`; files land in the profile's media directory.
//! Does not own shipping the files back (`lib.rs`).

use std::sync::Arc;

use base64::Engine as _;
use chromiumoxide::Page;
use serde_json::{Value, json};

use crate::cdp::{evaluate, page_call};
use crate::element::{node_box, ref_node, selector_node};
use crate::error::{RouteResult, ServiceError};
use crate::guard::readable_tab;
use crate::http::Args;
use crate::service::Service;
use crate::service::profile::Profile;

/// Largest screenshot side before it is scaled down.
pub const SCREENSHOT_MAX_SIDE: f64 = 2000.0;
/// Largest screenshot file.
pub const SCREENSHOT_MAX_BYTES: usize = 5 * 1024 * 1024;

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
pub async fn layout_size(page: &Page, w: &str, h: &str) -> Result<(f64, f64), ServiceError> {
    let metrics = page_call(page, "Page.getLayoutMetrics", json!({}))
        .await
        .map_err(|e| ServiceError::new(500, e.0))?;
    let get = |p: &str, d: f64| metrics.pointer(p).and_then(Value::as_f64).unwrap_or(d);
    Ok((get(w, 1280.0), get(h, 720.0)))
}

/// `POST /screenshot`: the viewport, the full page or one element (`ref`/`element`), PNG or JPEG, shrunk until it fits 5 MB.
pub async fn screenshot(svc: &Service, profile: &Arc<Profile>, args: &Args<'_>) -> RouteResult {
    let full_page = args.bool("fullPage").unwrap_or(false);
    let r#ref = args.str("ref").filter(|s| !s.is_empty());
    let element = args.str("element").filter(|s| !s.is_empty());
    if full_page && (r#ref.is_some() || element.is_some()) {
        return Err(ServiceError::bad_request(
            "fullPage is not supported for element screenshots",
        ));
    }
    let jpeg = match args.str("type").as_deref() {
        None | Some("png") => false,
        Some("jpeg") => true,
        Some(_) => return Err(ServiceError::bad_request("type must be png or jpeg")),
    };
    let (page, target, url) = readable_tab(svc, profile, args).await?;
    let _ = page_call(&page, "Page.bringToFront", json!({})).await;
    let mut clip: Option<(f64, f64, f64, f64)> = None;
    if let Some(node) = match (&r#ref, &element) {
        (Some(r), _) => Some(ref_node(profile, &target, r)?),
        (None, Some(sel)) => Some(selector_node(&page, sel).await?),
        _ => None,
    } {
        let (x, y, w, h) = node_box(&page, node).await?;
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

/// `POST /pdf`: the page printed with backgrounds.
pub async fn pdf(svc: &Service, profile: &Arc<Profile>, args: &Args<'_>) -> RouteResult {
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

/// `GET /text`: the inner text of `selector`, `article`, `main` or the body (≤ 40,000 characters).
pub async fn text(svc: &Service, profile: &Arc<Profile>, args: &Args<'_>) -> RouteResult {
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

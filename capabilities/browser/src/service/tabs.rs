//! The tabs of a running browser: listing page targets in tab order, the wire's tab
//! record, resolving a caller's tab reference (raw id, `tN` handle, label, prefix), the
//! page handle of a target (listeners attached on first use), opening and closing tabs.
//! Does not own starting the browser (`lifecycle.rs`) or the tab routes (`routes/tabs.rs`).

use std::sync::Arc;
use std::time::Duration;

use chromiumoxide::cdp::browser_protocol::target::TargetId;
use chromiumoxide::{Browser, Page};
use serde_json::{Value, json};

use crate::cdp::{browser_call, page_call};
use crate::error::ServiceError;
use crate::service::Service;
use crate::service::events::spawn_tab_listeners;
use crate::service::profile::Profile;

/// How long `page` waits for chromiumoxide to attach to a new target.
const ATTACH_TIMEOUT: Duration = Duration::from_secs(10);

/// The viewport of headless tabs.
pub const VIEWPORT: (u32, u32) = (1280, 720);

impl Service {
    /// Page targets of a running browser, in tab order, with their info.
    pub async fn page_targets(
        &self,
        profile: &Profile,
        browser: &Browser,
    ) -> Result<Vec<Value>, ServiceError> {
        let r = browser_call(browser, "Target.getTargets", json!({}))
            .await
            .map_err(|e| ServiceError::new(500, e.0))?;
        let infos: Vec<Value> = r
            .get("targetInfos")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .filter(|t| t.get("type").and_then(Value::as_str) == Some("page"))
            .collect();
        let mut book = profile.book.lock().expect("book lock");
        let live: Vec<String> = infos
            .iter()
            .filter_map(|t| t.get("targetId")?.as_str().map(String::from))
            .collect();
        book.tabs.retain(|id, _| live.contains(id));
        if book.sticky.as_ref().is_some_and(|s| !live.contains(s)) {
            book.sticky = None;
        }
        let mut with_no: Vec<(u32, Value)> = infos
            .into_iter()
            .map(|t| {
                let id = t
                    .get("targetId")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string();
                let state = book.tab(&id);
                let no = state.tab_id[1..].parse().unwrap_or(u32::MAX);
                (no, t)
            })
            .collect();
        with_no.sort_by_key(|(no, _)| *no);
        Ok(with_no.into_iter().map(|(_, t)| t).collect())
    }

    /// The tab record of the wire (`suggestedTargetId`, `targetId`, `tabId`, …).
    pub fn tab_record(
        &self,
        profile: &Profile,
        port: u16,
        info: &Value,
        url_visible: bool,
    ) -> Value {
        let id = info.get("targetId").and_then(Value::as_str).unwrap_or("");
        let mut book = profile.book.lock().expect("book lock");
        let state = book.tab(id);
        let suggested = state.label.clone().unwrap_or_else(|| state.tab_id.clone());
        let mut v = json!({
            "suggestedTargetId": suggested,
            "targetId": id,
            "tabId": state.tab_id,
            "title": info.get("title").and_then(Value::as_str).unwrap_or(""),
            "url": if url_visible { info.get("url").and_then(Value::as_str).unwrap_or("") } else { "" },
            "wsUrl": format!("ws://127.0.0.1:{port}/devtools/page/{id}"),
            "type": "page",
        });
        if let Some(l) = &state.label {
            v["label"] = json!(l);
        }
        v
    }

    /// Resolves a caller's tab reference (raw id, tab id, label, or unique raw-id prefix)
    /// among `targets`; `None` picks the sticky tab, else the first.
    pub fn resolve_ref(
        &self,
        profile: &Profile,
        targets: &[Value],
        wanted: Option<&str>,
    ) -> Result<String, ServiceError> {
        let ids: Vec<String> = targets
            .iter()
            .filter_map(|t| t.get("targetId")?.as_str().map(String::from))
            .collect();
        let book = profile.book.lock().expect("book lock");
        let Some(wanted) = wanted.map(str::trim).filter(|w| !w.is_empty()) else {
            if let Some(s) = book.sticky.as_ref().filter(|s| ids.contains(s)) {
                return Ok(s.clone());
            }
            return ids
                .first()
                .cloned()
                .ok_or_else(|| ServiceError::new(404, "tab not found"));
        };
        if ids.iter().any(|i| i == wanted) {
            return Ok(wanted.to_string());
        }
        let by_handle: Vec<&String> = ids
            .iter()
            .filter(|id| {
                book.tabs
                    .get(*id)
                    .is_some_and(|t| t.tab_id == wanted || t.label.as_deref() == Some(wanted))
            })
            .collect();
        if by_handle.len() == 1 {
            return Ok(by_handle[0].clone());
        }
        let lower = wanted.to_ascii_lowercase();
        let by_prefix: Vec<&String> = ids
            .iter()
            .filter(|id| id.to_ascii_lowercase().starts_with(&lower))
            .collect();
        match by_prefix.len() {
            1 => Ok(by_prefix[0].clone()),
            0 if by_handle.is_empty() => {
                let hint = if wanted.chars().all(|c| c.is_ascii_digit()) {
                    " Numbers are not tab targets; use a tabId such as t1."
                } else {
                    ""
                };
                Err(ServiceError::new(
                    404,
                    format!(
                        "tab not found: browser tab \"{wanted}\" not found. Use action=tabs and pass suggestedTargetId, tabId, label, or raw targetId.{hint}"
                    ),
                ))
            }
            _ => Err(ServiceError::new(409, "ambiguous browser tab reference")),
        }
    }

    /// The page of `target`, with its listeners running; makes it the sticky tab.
    pub async fn page(
        &self,
        profile: &Arc<Profile>,
        browser: &Browser,
        target: &str,
    ) -> Result<Page, ServiceError> {
        let deadline = tokio::time::Instant::now() + ATTACH_TIMEOUT;
        let page = loop {
            match browser.get_page(TargetId::from(target.to_string())).await {
                Ok(p) => break p,
                Err(_) if tokio::time::Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(25)).await
                }
                Err(e) => {
                    return Err(ServiceError::new(
                        404,
                        format!("tab not found: {target}: {e}"),
                    ));
                }
            }
        };
        let start_listening = {
            let mut book = profile.book.lock().expect("book lock");
            book.sticky = Some(target.to_string());
            let tab = book.tab(target);
            !std::mem::replace(&mut tab.listening, true)
        };
        if start_listening {
            let _ = page_call(&page, "Network.enable", json!({})).await;
            let _ = page_call(&page, "Runtime.enable", json!({})).await;
            let _ = page_call(&page, "Page.enable", json!({})).await;
            // Headless windows include invisible browser chrome: pin the viewport so
            // screenshots and coordinates match the size agents expect.
            let (headless, events) = profile
                .running
                .lock()
                .await
                .as_ref()
                .map_or((false, None), |r| (r.headless, Some(r.events.clone())));
            if headless {
                let _ = page_call(
                    &page,
                    "Emulation.setDeviceMetricsOverride",
                    json!({"width": VIEWPORT.0, "height": VIEWPORT.1, "deviceScaleFactor": 1, "mobile": false}),
                )
                .await;
            }
            if let Some(events) = events {
                spawn_tab_listeners(&page, profile, target, &events).await;
            }
        }
        Ok(page)
    }

    /// Opens a new background tab at `url` and returns its target id.
    pub async fn open_tab(&self, browser: &Browser, url: &str) -> Result<String, ServiceError> {
        let r = browser_call(
            browser,
            "Target.createTarget",
            json!({"url": url, "background": true}),
        )
        .await
        .map_err(|e| ServiceError::new(500, e.0))?;
        r.get("targetId")
            .and_then(Value::as_str)
            .map(String::from)
            .ok_or_else(|| ServiceError::new(500, "Target.createTarget returned no targetId"))
    }

    /// A page tab to work on: the referenced one, else sticky/first, opening `about:blank`
    /// when the browser has none. Starts the browser if needed.
    pub async fn tab_for(
        &self,
        profile: &Arc<Profile>,
        wanted: Option<&str>,
    ) -> Result<(Arc<Browser>, Page, String), ServiceError> {
        let browser = self.ensure_running(profile).await?;
        let mut targets = self.page_targets(profile, &browser).await?;
        if targets.is_empty() {
            if wanted.is_some() {
                return Err(ServiceError::new(
                    404,
                    format!(
                        "tab not found: browser tab \"{}\" not found. Use action=tabs and pass suggestedTargetId, tabId, label, or raw targetId.",
                        wanted.unwrap_or("")
                    ),
                ));
            }
            self.open_tab(&browser, "about:blank").await?;
            targets = self.page_targets(profile, &browser).await?;
        }
        let target = self.resolve_ref(profile, &targets, wanted)?;
        let page = self.page(profile, &browser, &target).await?;
        Ok((browser, page, target))
    }

    /// Closes a tab and forgets its state.
    pub async fn close_target(
        &self,
        profile: &Profile,
        browser: &Browser,
        target: &str,
    ) -> Result<(), ServiceError> {
        browser_call(browser, "Target.closeTarget", json!({"targetId": target})).await?;
        // Closing is asynchronous in Chromium: wait until the target is gone, so the next
        // route cannot pick a tab whose session is already detached.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(3);
        while tokio::time::Instant::now() < deadline {
            let listed = browser_call(browser, "Target.getTargets", json!({}))
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
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;
    use crate::settings::{BrowserSettings, DEFAULT_PROFILE};

    #[test]
    fn tab_references_resolve_by_id_handle_label_and_prefix() {
        let dir = tempfile::tempdir().unwrap();
        let s = Service::new(BrowserSettings::default(), dir.path(), HashMap::new());
        let p = s.profile(DEFAULT_PROFILE).unwrap();
        let targets = vec![json!({"targetId": "ABC123"}), json!({"targetId": "ABD456"})];
        {
            let mut b = p.book.lock().unwrap();
            b.tab("ABC123");
            b.tab("ABD456").label = Some("research".into());
        }
        assert_eq!(s.resolve_ref(&p, &targets, Some("t1")).unwrap(), "ABC123");
        assert_eq!(
            s.resolve_ref(&p, &targets, Some("research")).unwrap(),
            "ABD456"
        );
        assert_eq!(s.resolve_ref(&p, &targets, Some("abc")).unwrap(), "ABC123");
        assert_eq!(
            s.resolve_ref(&p, &targets, Some("AB")).unwrap_err().status,
            409
        );
        let e = s.resolve_ref(&p, &targets, Some("zz")).unwrap_err();
        assert_eq!(e.status, 404);
        assert!(
            e.message
                .starts_with("tab not found: browser tab \"zz\" not found.")
        );
        assert!(
            s.resolve_ref(&p, &targets, Some("7"))
                .unwrap_err()
                .message
                .contains("Numbers are not tab targets")
        );
        assert_eq!(s.resolve_ref(&p, &targets, None).unwrap(), "ABC123");
        p.book.lock().unwrap().sticky = Some("ABD456".into());
        assert_eq!(s.resolve_ref(&p, &targets, None).unwrap(), "ABD456");
    }
}

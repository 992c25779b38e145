//! Downloads: `POST /download` (click a ref, save what it downloads), `POST /wait/download`
//! (the tab's next download), and moving the downloads an action started into place.
//! Chromium names each download by its guid in the profile's downloads directory; the
//! listeners (`service/events.rs`) track its state. Each finished file is renamed inside
//! that directory and its source URL checked against the navigation policy.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};

use crate::action::Button;
use crate::element::{centre, ref_node};
use crate::error::ServiceError;
use crate::guard::{blocked, check_current_url};
use crate::http::Args;
use crate::input::click_at;
use crate::policy::confine;
use crate::service::Service;
use crate::service::profile::Profile;

/// How long an action's downloads may take to finish before the result is returned.
const ACTION_DOWNLOAD_WAIT: Duration = Duration::from_secs(30);

/// Waits for downloads the tab started after index `from` and moves them into place.
pub async fn collect_action_downloads(
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
    click_at(&page, x, y, Button::Left, false, 0, 0).await?;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn download_names_are_clean_and_free() {
        assert_eq!(sanitise("../../etc/passwd"), "_.._etc_passwd");
        assert_eq!(sanitise(""), "download");
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("r.pdf"), "x").unwrap();
        assert_eq!(free_name(dir.path(), "r.pdf"), dir.path().join("r (1).pdf"));
    }
}

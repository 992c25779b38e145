//! Hooks: `POST /hooks/dialog` (answer the pending dialog or arm the next one) and
//! `POST /hooks/file-chooser` (set files on an input, or arm the next chooser and click).
//! The armed hooks fire in the tab listeners (`service/events.rs`).

use std::sync::Arc;

use serde_json::{Value, json};

use crate::action::Button;
use crate::cdp::page_call;
use crate::clock::now_iso;
use crate::element::{centre, ref_node, selector_node};
use crate::error::{RouteResult, ServiceError};
use crate::guard::check_current_url;
use crate::http::Args;
use crate::input::click_at;
use crate::policy::confine;
use crate::service::Service;
use crate::service::profile::Profile;

/// `POST /hooks/dialog`: answer the pending (or named) dialog, or arm the answer for the next one.
pub async fn hook_dialog(svc: &Service, profile: &Arc<Profile>, args: &Args<'_>) -> RouteResult {
    let accept = args
        .bool("accept")
        .ok_or_else(|| ServiceError::bad_request("accept is required"))?;
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
                rec["closedAt"] = json!(now_iso());
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
        .await?;
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
    .await?;
    if let Some(r) = click {
        let node = ref_node(profile, &target, &r)?;
        let (x, y) = centre(&page, node).await?;
        click_at(&page, x, y, Button::Left, false, 0, 0).await?;
    }
    Ok(json!({"ok": true}))
}

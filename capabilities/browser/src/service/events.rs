//! The CDP event listeners of a profile: downloads (browser-wide) and, per tab, dialogs
//! (answered at once when a hook is armed), console messages, page errors, network
//! requests and file choosers, recorded into the profile's [`TabBook`] with capped
//! buffers. Does not own reading the buffers (`routes/debug.rs`) or tab lookup.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use chromiumoxide::cdp::browser_protocol::browser::{
    EventDownloadProgress, EventDownloadWillBegin,
};
use chromiumoxide::cdp::browser_protocol::network::{
    EventLoadingFailed, EventRequestWillBeSent, EventResponseReceived,
};
use chromiumoxide::cdp::browser_protocol::page::{
    EventFileChooserOpened, EventJavascriptDialogOpening,
};
use chromiumoxide::cdp::js_protocol::runtime::{EventConsoleApiCalled, EventExceptionThrown};
use chromiumoxide::listeners::EventStream;
use chromiumoxide::{Browser, Page};
use futures_util::StreamExt as _;
use serde_json::{Value, json};

use crate::cdp::page_call;
use crate::clock::{iso_from_millis, now_iso};
use crate::service::profile::{Dialog, Download, Profile, TabBook};

/// Entries kept per tab in each debug buffer.
pub const BUFFER_LIMIT: usize = 500;

fn push_capped(buf: &mut VecDeque<Value>, v: Value) {
    if buf.len() >= BUFFER_LIMIT {
        buf.pop_front();
    }
    buf.push_back(v);
}

async fn listen<E>(
    stream: chromiumoxide::Result<EventStream<E>>,
    mut f: impl FnMut(Value) + Send + 'static,
) -> Option<tokio::task::JoinHandle<()>>
where
    E: chromiumoxide::cdp::IntoEventKind + serde::Serialize + Unpin + Send + Sync + 'static,
{
    let mut stream = stream.ok()?;
    Some(tokio::spawn(async move {
        while let Some(ev) = stream.next().await {
            if let Ok(v) = serde_json::to_value(&*ev) {
                f(v);
            }
        }
    }))
}

pub(super) async fn spawn_download_listeners(
    browser: &Browser,
    profile: &Arc<Profile>,
) -> Vec<tokio::task::JoinHandle<()>> {
    let mut tasks = Vec::new();
    let (book, changed) = (profile.book.clone(), profile.changed.clone());
    tasks.extend(
        listen(
            browser.event_listener::<EventDownloadWillBegin>().await,
            move |v| {
                let d = Download {
                    guid: v["guid"].as_str().unwrap_or("").into(),
                    frame_id: v["frameId"].as_str().unwrap_or("").into(),
                    url: v["url"].as_str().unwrap_or("").into(),
                    suggested_filename: v["suggestedFilename"]
                        .as_str()
                        .unwrap_or("download")
                        .into(),
                    state: "inProgress".into(),
                    claimed: false,
                };
                book.lock().expect("book lock").downloads.push(d);
                changed.notify_waiters();
            },
        )
        .await,
    );
    let (book, changed) = (profile.book.clone(), profile.changed.clone());
    tasks.extend(
        listen(
            browser.event_listener::<EventDownloadProgress>().await,
            move |v| {
                let guid = v["guid"].as_str().unwrap_or("");
                let state = v["state"].as_str().unwrap_or("inProgress");
                if let Some(d) = book
                    .lock()
                    .expect("book lock")
                    .downloads
                    .iter_mut()
                    .find(|d| d.guid == guid)
                {
                    d.state = state.to_string();
                }
                changed.notify_waiters();
            },
        )
        .await,
    );
    tasks
}

pub(super) async fn spawn_tab_listeners(page: &Page, profile: &Arc<Profile>, target: &str) {
    let t = target.to_string();
    let (book, changed) = (profile.book.clone(), profile.changed.clone());
    let answer_page = page.clone();
    listen(
        page.event_listener::<EventJavascriptDialogOpening>().await,
        move |v| {
            let mut b = book.lock().expect("book lock");
            b.next_dialog += 1;
            let dialog = Dialog {
                id: format!("d{}", b.next_dialog),
                kind: v["type"].as_str().unwrap_or("alert").into(),
                message: v["message"].as_str().unwrap_or("").into(),
                opened_at: now_iso(),
                default_value: v["defaultPrompt"]
                    .as_str()
                    .filter(|s| !s.is_empty())
                    .map(String::from),
            };
            let tab = b.tab(&t);
            if let Some((accept, text)) = tab.dialog_hook.take() {
                let mut rec = dialog.to_json();
                rec["accepted"] = json!(accept);
                rec["closedAt"] = json!(now_iso());
                push_capped(&mut tab.recent_dialogs, rec);
                let page = answer_page.clone();
                tokio::spawn(async move {
                    let mut params = json!({"accept": accept});
                    if let Some(t) = text {
                        params["promptText"] = json!(t);
                    }
                    let _ = page_call(&page, "Page.handleJavaScriptDialog", params).await;
                });
            } else {
                tab.pending_dialogs.push(dialog);
            }
            drop(b);
            changed.notify_waiters();
        },
    )
    .await;
    let t = target.to_string();
    let book = profile.book.clone();
    listen(page.event_listener::<EventConsoleApiCalled>().await, move |v| {
        let text = v["args"]
            .as_array()
            .map(|a| a.iter().map(remote_text).collect::<Vec<_>>().join(" "))
            .unwrap_or_default();
        let ts = v["timestamp"].as_f64().map(|t| iso_from_millis(t as i64)).unwrap_or_else(now_iso);
        let mut msg = json!({"type": v["type"].as_str().unwrap_or("log"), "text": text, "timestamp": ts});
        if let Some(frame) = v.pointer("/stackTrace/callFrames/0") {
            msg["location"] = json!({"url": frame["url"], "lineNumber": frame["lineNumber"], "columnNumber": frame["columnNumber"]});
        }
        push_capped(&mut book.lock().expect("book lock").tab(&t).console, msg);
    })
    .await;
    let t = target.to_string();
    let book = profile.book.clone();
    listen(
        page.event_listener::<EventExceptionThrown>().await,
        move |v| {
            let d = &v["exceptionDetails"];
            let description = d.pointer("/exception/description").and_then(Value::as_str);
            let message = description
                .and_then(|s| s.lines().next())
                .or_else(|| d["text"].as_str())
                .unwrap_or("error")
                .to_string();
            let mut e = json!({"message": message, "timestamp": now_iso()});
            if let Some(name) = d.pointer("/exception/className").and_then(Value::as_str) {
                e["name"] = json!(name);
            }
            if let Some(stack) = description {
                e["stack"] = json!(stack);
            }
            push_capped(&mut book.lock().expect("book lock").tab(&t).errors, e);
        },
    )
    .await;
    let t = target.to_string();
    let book = profile.book.clone();
    listen(page.event_listener::<EventRequestWillBeSent>().await, move |v| {
        let r = json!({
            "id": v["requestId"], "timestamp": now_iso(), "method": v.pointer("/request/method"),
            "url": v.pointer("/request/url"), "resourceType": v["type"],
        });
        push_capped(&mut book.lock().expect("book lock").tab(&t).requests, r);
    })
    .await;
    let t = target.to_string();
    let book = profile.book.clone();
    listen(
        page.event_listener::<EventResponseReceived>().await,
        move |v| {
            let status = v
                .pointer("/response/status")
                .and_then(Value::as_f64)
                .unwrap_or(0.0);
            update_request(&book, &t, &v, |r| {
                r["status"] = json!(status as i64);
                r["ok"] = json!((200.0..400.0).contains(&status));
            });
        },
    )
    .await;
    let t = target.to_string();
    let book = profile.book.clone();
    listen(
        page.event_listener::<EventLoadingFailed>().await,
        move |v| {
            update_request(&book, &t, &v, |r| {
                r["ok"] = json!(false);
                r["failureText"] = v["errorText"].clone();
            });
        },
    )
    .await;
    let t = target.to_string();
    let book = profile.book.clone();
    let chooser_page = page.clone();
    listen(
        page.event_listener::<EventFileChooserOpened>().await,
        move |v| {
            let files = book.lock().expect("book lock").tab(&t).chooser_hook.take();
            if let (Some(files), Some(node)) = (files, v["backendNodeId"].as_i64()) {
                let page = chooser_page.clone();
                tokio::spawn(async move {
                    let _ = page_call(
                        &page,
                        "DOM.setFileInputFiles",
                        json!({"files": files, "backendNodeId": node}),
                    )
                    .await;
                    let _ = page_call(
                        &page,
                        "Page.setInterceptFileChooserDialog",
                        json!({"enabled": false}),
                    )
                    .await;
                });
            }
        },
    )
    .await;
}

/// Applies `f` to the buffered request that `event` reports on.
fn update_request(book: &Mutex<TabBook>, target: &str, event: &Value, f: impl FnOnce(&mut Value)) {
    let mut b = book.lock().expect("book lock");
    if let Some(r) = b
        .tab(target)
        .requests
        .iter_mut()
        .rev()
        .find(|r| r["id"] == event["requestId"])
    {
        f(r);
    }
}

/// A console argument as text.
fn remote_text(arg: &Value) -> String {
    match &arg["value"] {
        Value::String(s) => s.clone(),
        Value::Null => arg["description"]
            .as_str()
            .or(arg["type"].as_str())
            .unwrap_or("")
            .to_string(),
        other => other.to_string(),
    }
}

//! The CDP event listeners of a profile: downloads (browser-wide) and, per tab, dialogs
//! (answered at once when a hook is armed), console messages, page errors, network
//! requests and file choosers, recorded into the profile's [`TabBook`] with capped
//! buffers. Events arrive as raw JSON (`cdp_events.rs`), so one that chromiumoxide's
//! bundled protocol cannot decode is recorded too; each is decoded here into only the
//! fields it uses, leniently (unknown fields ignored, missing ones defaulted). Does not
//! own reading the buffers (`routes/debug.rs`) or tab lookup.

use std::collections::VecDeque;
use std::sync::Arc;

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
use chromiumoxide::{Browser, Page};
use futures_util::StreamExt as _;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::cdp::page_call;
use crate::cdp_events::{EventHub, RawEvent, merged, typed};
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

/// `params` as `T`, or none (logged) when even the lenient shape does not fit.
fn decode<T: DeserializeOwned>(event: &RawEvent) -> Option<T> {
    match T::deserialize(&event.params) {
        Ok(v) => Some(v),
        Err(e) => {
            tracing::debug!(target: "browser", method = %event.method, error = %e, "cdp event ignored");
            None
        }
    }
}

/// `Browser.downloadWillBegin`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct DownloadWillBegin {
    guid: Option<String>,
    frame_id: Option<String>,
    url: Option<String>,
    suggested_filename: Option<String>,
}

/// `Browser.downloadProgress`.
#[derive(Deserialize)]
struct DownloadProgress {
    guid: Option<String>,
    state: Option<String>,
}

/// `Page.javascriptDialogOpening`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct DialogOpening {
    #[serde(rename = "type")]
    kind: Option<String>,
    message: Option<String>,
    default_prompt: Option<String>,
}

/// `Runtime.consoleAPICalled`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ConsoleApiCalled {
    #[serde(rename = "type")]
    kind: Option<String>,
    #[serde(default)]
    args: Vec<RemoteArg>,
    timestamp: Option<f64>,
    stack_trace: Option<StackTrace>,
}

/// A console argument (a `Runtime.RemoteObject`).
#[derive(Deserialize)]
struct RemoteArg {
    value: Option<Value>,
    description: Option<String>,
    #[serde(rename = "type")]
    kind: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct StackTrace {
    #[serde(default)]
    call_frames: Vec<CallFrame>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CallFrame {
    #[serde(default)]
    url: Value,
    #[serde(default)]
    line_number: Value,
    #[serde(default)]
    column_number: Value,
}

/// `Runtime.exceptionThrown`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ExceptionThrown {
    exception_details: ExceptionDetails,
}

#[derive(Deserialize)]
struct ExceptionDetails {
    text: Option<String>,
    exception: Option<Exception>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Exception {
    description: Option<String>,
    class_name: Option<String>,
}

/// `Network.requestWillBeSent`: only the ids, method, URL and resource type, kept as
/// sent (a resource type newer than chromiumoxide's is recorded as it is).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RequestWillBeSent {
    #[serde(default)]
    request_id: Value,
    request: Option<RequestLine>,
    #[serde(default, rename = "type")]
    resource_type: Value,
}

#[derive(Deserialize)]
struct RequestLine {
    #[serde(default)]
    method: Value,
    #[serde(default)]
    url: Value,
}

/// `Network.responseReceived`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ResponseReceived {
    #[serde(default)]
    request_id: Value,
    response: Option<ResponseStatus>,
}

#[derive(Deserialize)]
struct ResponseStatus {
    status: Option<f64>,
}

/// `Network.loadingFailed`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct LoadingFailed {
    #[serde(default)]
    request_id: Value,
    #[serde(default)]
    error_text: Value,
}

/// `Page.fileChooserOpened`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct FileChooserOpened {
    backend_node_id: Option<i64>,
}

/// What a tab event asks of the page once it is recorded.
#[derive(Debug, PartialEq)]
enum FollowUp {
    /// Answer the open dialog (an armed hook).
    AnswerDialog {
        accept: bool,
        prompt_text: Option<String>,
    },
    /// Put these files into the chooser's input (an armed hook).
    SetFiles { files: Vec<String>, node: i64 },
}

/// Records a browser-wide download event; true if a download changed.
fn record_download(book: &mut TabBook, event: &RawEvent) -> bool {
    match event.method.as_str() {
        "Browser.downloadWillBegin" => {
            let Some(d) = decode::<DownloadWillBegin>(event) else {
                return false;
            };
            book.downloads.push(Download {
                guid: d.guid.unwrap_or_default(),
                frame_id: d.frame_id.unwrap_or_default(),
                url: d.url.unwrap_or_default(),
                suggested_filename: d.suggested_filename.unwrap_or_else(|| "download".into()),
                state: "inProgress".into(),
                claimed: false,
            });
            true
        }
        "Browser.downloadProgress" => {
            let Some(p) = decode::<DownloadProgress>(event) else {
                return false;
            };
            let guid = p.guid.unwrap_or_default();
            if let Some(d) = book.downloads.iter_mut().find(|d| d.guid == guid) {
                d.state = p.state.unwrap_or_else(|| "inProgress".into());
            }
            true
        }
        _ => false,
    }
}

/// Records one event of tab `target` into `book`: what it asks of the page next, and
/// whether waiters should wake (a dialog opened).
fn record_tab_event(
    book: &mut TabBook,
    target: &str,
    event: &RawEvent,
) -> (Option<FollowUp>, bool) {
    match event.method.as_str() {
        "Page.javascriptDialogOpening" => {
            let Some(d) = decode::<DialogOpening>(event) else {
                return (None, false);
            };
            book.next_dialog += 1;
            let dialog = Dialog {
                id: format!("d{}", book.next_dialog),
                kind: d.kind.unwrap_or_else(|| "alert".into()),
                message: d.message.unwrap_or_default(),
                opened_at: now_iso(),
                default_value: d.default_prompt.filter(|s| !s.is_empty()),
            };
            let tab = book.tab(target);
            let Some((accept, prompt_text)) = tab.dialog_hook.take() else {
                tab.pending_dialogs.push(dialog);
                return (None, true);
            };
            let mut rec = dialog.to_json();
            rec["accepted"] = json!(accept);
            rec["closedAt"] = json!(now_iso());
            push_capped(&mut tab.recent_dialogs, rec);
            let answer = FollowUp::AnswerDialog {
                accept,
                prompt_text,
            };
            (Some(answer), true)
        }
        "Runtime.consoleAPICalled" => {
            if let Some(c) = decode::<ConsoleApiCalled>(event) {
                let text = c.args.iter().map(remote_text).collect::<Vec<_>>().join(" ");
                let ts = c
                    .timestamp
                    .map(|t| iso_from_millis(t as i64))
                    .unwrap_or_else(now_iso);
                let kind = c.kind.unwrap_or_else(|| "log".into());
                let mut msg = json!({"type": kind, "text": text, "timestamp": ts});
                if let Some(f) = c.stack_trace.and_then(|s| s.call_frames.into_iter().next()) {
                    msg["location"] = json!({"url": f.url, "lineNumber": f.line_number, "columnNumber": f.column_number});
                }
                push_capped(&mut book.tab(target).console, msg);
            }
            (None, false)
        }
        "Runtime.exceptionThrown" => {
            if let Some(x) = decode::<ExceptionThrown>(event) {
                let d = x.exception_details;
                let (description, class_name) = d
                    .exception
                    .map_or((None, None), |e| (e.description, e.class_name));
                let message = description
                    .as_deref()
                    .and_then(|s| s.lines().next())
                    .or(d.text.as_deref())
                    .unwrap_or("error")
                    .to_string();
                let mut e = json!({"message": message, "timestamp": now_iso()});
                if let Some(name) = class_name {
                    e["name"] = json!(name);
                }
                if let Some(stack) = description {
                    e["stack"] = json!(stack);
                }
                push_capped(&mut book.tab(target).errors, e);
            }
            (None, false)
        }
        "Network.requestWillBeSent" => {
            if let Some(q) = decode::<RequestWillBeSent>(event) {
                let (method, url) = q
                    .request
                    .map_or((Value::Null, Value::Null), |r| (r.method, r.url));
                let r = json!({
                    "id": q.request_id, "timestamp": now_iso(), "method": method,
                    "url": url, "resourceType": q.resource_type,
                });
                push_capped(&mut book.tab(target).requests, r);
            }
            (None, false)
        }
        "Network.responseReceived" => {
            if let Some(r) = decode::<ResponseReceived>(event) {
                let status = r.response.and_then(|r| r.status).unwrap_or(0.0);
                update_request(book, target, &r.request_id, |r| {
                    r["status"] = json!(status as i64);
                    r["ok"] = json!((200.0..400.0).contains(&status));
                });
            }
            (None, false)
        }
        "Network.loadingFailed" => {
            if let Some(f) = decode::<LoadingFailed>(event) {
                update_request(book, target, &f.request_id, |r| {
                    r["ok"] = json!(false);
                    r["failureText"] = f.error_text;
                });
            }
            (None, false)
        }
        "Page.fileChooserOpened" => {
            let node = decode::<FileChooserOpened>(event).and_then(|c| c.backend_node_id);
            let files = book.tab(target).chooser_hook.take();
            match (files, node) {
                (Some(files), Some(node)) => (Some(FollowUp::SetFiles { files, node }), false),
                _ => (None, false),
            }
        }
        _ => (None, false),
    }
}

/// Listens for the browser-wide download events; the task ends with the browser.
pub(super) async fn spawn_download_listeners(
    browser: &Browser,
    profile: &Arc<Profile>,
    hub: &EventHub,
) -> Vec<tokio::task::JoinHandle<()>> {
    let typed_listeners: Vec<_> = [
        typed(browser.event_listener::<EventDownloadWillBegin>().await),
        typed(browser.event_listener::<EventDownloadProgress>().await),
    ]
    .into_iter()
    .flatten()
    .collect();
    let mut events = merged(typed_listeners, hub.subscribe(None));
    let (book, changed) = (profile.book.clone(), profile.changed.clone());
    vec![tokio::spawn(async move {
        while let Some(event) = events.next().await {
            if record_download(&mut book.lock().expect("book lock"), &event) {
                changed.notify_waiters();
            }
        }
    })]
}

/// Listens for the events of tab `target` (session of `page`); the task ends with the tab.
pub(super) async fn spawn_tab_listeners(
    page: &Page,
    profile: &Arc<Profile>,
    target: &str,
    hub: &EventHub,
) {
    let typed_listeners: Vec<_> = [
        typed(page.event_listener::<EventJavascriptDialogOpening>().await),
        typed(page.event_listener::<EventConsoleApiCalled>().await),
        typed(page.event_listener::<EventExceptionThrown>().await),
        typed(page.event_listener::<EventRequestWillBeSent>().await),
        typed(page.event_listener::<EventResponseReceived>().await),
        typed(page.event_listener::<EventLoadingFailed>().await),
        typed(page.event_listener::<EventFileChooserOpened>().await),
    ]
    .into_iter()
    .flatten()
    .collect();
    let session: &str = page.session_id().as_ref();
    let mut events = merged(typed_listeners, hub.subscribe(Some(session)));
    let (book, changed) = (profile.book.clone(), profile.changed.clone());
    let (page, target) = (page.clone(), target.to_string());
    tokio::spawn(async move {
        while let Some(event) = events.next().await {
            let (follow_up, wake) =
                record_tab_event(&mut book.lock().expect("book lock"), &target, &event);
            if wake {
                changed.notify_waiters();
            }
            if let Some(follow_up) = follow_up {
                tokio::spawn(follow(page.clone(), follow_up));
            }
        }
    });
}

/// Does what a recorded event asked of the page.
async fn follow(page: Page, follow_up: FollowUp) {
    match follow_up {
        FollowUp::AnswerDialog {
            accept,
            prompt_text,
        } => {
            let mut params = json!({"accept": accept});
            if let Some(t) = prompt_text {
                params["promptText"] = json!(t);
            }
            let _ = page_call(&page, "Page.handleJavaScriptDialog", params).await;
        }
        FollowUp::SetFiles { files, node } => {
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
        }
    }
}

/// Applies `f` to the buffered request `request_id` of `target`.
fn update_request(
    book: &mut TabBook,
    target: &str,
    request_id: &Value,
    f: impl FnOnce(&mut Value),
) {
    if let Some(r) = book
        .tab(target)
        .requests
        .iter_mut()
        .rev()
        .find(|r| &r["id"] == request_id)
    {
        f(r);
    }
}

/// A console argument as text.
fn remote_text(arg: &RemoteArg) -> String {
    match &arg.value {
        Some(Value::String(s)) => s.clone(),
        None | Some(Value::Null) => arg
            .description
            .as_deref()
            .or(arg.kind.as_deref())
            .unwrap_or("")
            .to_string(),
        Some(other) => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use chromiumoxide::cdp::CdpEventMessage;
    use chromiumoxide::types::Message;

    use super::*;

    fn raw(method: &str, params: Value) -> RawEvent {
        RawEvent {
            method: method.into(),
            session_id: Some("S1".into()),
            params,
        }
    }

    /// The same event the way a typed chromiumoxide listener hands it over: decoded into
    /// its generated type and encoded again.
    fn through_chromiumoxide(event: &RawEvent) -> RawEvent {
        let text = json!({"method": event.method, "sessionId": "S1", "params": event.params});
        let msg: Message<CdpEventMessage> = serde_json::from_value(text).expect("typed decode");
        let Message::Event(msg) = msg else {
            panic!("not an event")
        };
        let params =
            serde_json::to_value(msg.params.into_json().expect("typed json")).expect("re-encode");
        raw(&event.method, params)
    }

    fn request(resource_type: &str, initiator: &str) -> RawEvent {
        raw(
            "Network.requestWillBeSent",
            json!({"requestId": "r1", "loaderId": "l1", "documentURL": "https://example.com/",
                "request": {"url": "https://example.com/x", "method": "GET", "headers": {},
                    "initialPriority": "High", "referrerPolicy": "no-referrer", "aNewField": 1},
                "timestamp": 1.0, "wallTime": 1.0, "initiator": {"type": initiator},
                "redirectHasExtraInfo": false, "type": resource_type}),
        )
    }

    fn without_timestamps(mut entries: Vec<Value>) -> Vec<Value> {
        for e in &mut entries {
            e.as_object_mut().unwrap().remove("timestamp");
        }
        entries
    }

    #[test]
    fn a_request_chromiumoxide_cannot_decode_is_still_recorded() {
        let newer = request("SpeculationRules", "aNewInitiator");
        let text = json!({"method": newer.method, "params": newer.params}).to_string();
        assert!(serde_json::from_str::<Message<CdpEventMessage>>(&text).is_err());
        let mut book = TabBook::default();
        record_tab_event(&mut book, "T", &newer);
        let failed = raw(
            "Network.loadingFailed",
            json!({"requestId": "r1", "timestamp": 2.0, "type": "SpeculationRules", "errorText": "net::ERR_ABORTED", "canceled": false}),
        );
        record_tab_event(&mut book, "T", &failed);
        let got = without_timestamps(book.tab("T").requests.iter().cloned().collect());
        assert_eq!(
            got,
            vec![
                json!({"id": "r1", "method": "GET", "url": "https://example.com/x", "resourceType": "SpeculationRules", "ok": false, "failureText": "net::ERR_ABORTED"})
            ]
        );
    }

    #[test]
    fn decodable_events_record_the_same_entries_raw_and_through_chromiumoxide() {
        let events = [
            request("Document", "other"),
            raw(
                "Network.responseReceived",
                json!({"requestId": "r1", "loaderId": "l1", "timestamp": 2.0, "type": "Document", "hasExtraInfo": false,
                    "response": {"url": "https://example.com/x", "status": 404, "statusText": "Not Found", "headers": {},
                        "mimeType": "text/html", "charset": "", "connectionReused": false, "connectionId": 1.0,
                        "encodedDataLength": 10.0, "securityState": "secure"}}),
            ),
            raw(
                "Runtime.consoleAPICalled",
                json!({"type": "warning", "executionContextId": 1, "timestamp": 1700000000123.0,
                    "args": [{"type": "string", "value": "hi"}, {"type": "number", "value": 3}, {"type": "object", "description": "Window"}, {"type": "undefined"}],
                    "stackTrace": {"callFrames": [{"functionName": "", "scriptId": "1", "url": "https://example.com/", "lineNumber": 4, "columnNumber": 8}]}}),
            ),
            raw(
                "Runtime.exceptionThrown",
                json!({"timestamp": 1.0, "exceptionDetails": {"exceptionId": 1, "text": "Uncaught", "lineNumber": 0, "columnNumber": 0,
                    "exception": {"type": "object", "subtype": "error", "className": "Error", "description": "Error: late failure\n    at x"}}}),
            ),
            raw(
                "Page.javascriptDialogOpening",
                json!({"url": "https://example.com/", "frameId": "F", "message": "Proceed?", "type": "prompt", "hasBrowserHandler": false, "defaultPrompt": "yes"}),
            ),
        ];
        let record_all = |typed: bool| {
            let mut book = TabBook::default();
            for e in &events {
                let e = if typed {
                    through_chromiumoxide(e)
                } else {
                    e.clone()
                };
                record_tab_event(&mut book, "T", &e);
            }
            let tab = book.tab("T");
            let pending: Vec<Value> = tab
                .pending_dialogs
                .iter()
                .map(|d| d.to_json())
                .map(|mut d| {
                    d.as_object_mut().unwrap().remove("openedAt");
                    d
                })
                .collect();
            (
                without_timestamps(tab.requests.iter().cloned().collect()),
                tab.console.iter().cloned().collect::<Vec<_>>(),
                without_timestamps(tab.errors.iter().cloned().collect()),
                pending,
            )
        };
        let from_raw = record_all(false);
        assert_eq!(from_raw, record_all(true));
        let (requests, console, errors, dialogs) = from_raw;
        assert_eq!(
            requests,
            vec![
                json!({"id": "r1", "method": "GET", "url": "https://example.com/x", "resourceType": "Document", "status": 404, "ok": false})
            ]
        );
        assert_eq!(
            console,
            vec![
                json!({"type": "warning", "text": "hi 3 Window undefined", "timestamp": "2023-11-14T22:13:20.123Z",
                "location": {"url": "https://example.com/", "lineNumber": 4, "columnNumber": 8}})
            ]
        );
        assert_eq!(
            errors,
            vec![
                json!({"message": "Error: late failure", "name": "Error", "stack": "Error: late failure\n    at x"})
            ]
        );
        assert_eq!(
            dialogs,
            vec![
                json!({"id": "d1", "type": "prompt", "message": "Proceed?", "defaultValue": "yes"})
            ]
        );
    }

    #[test]
    fn armed_hooks_answer_dialogs_and_choosers() {
        let mut book = TabBook::default();
        book.tab("T").dialog_hook = Some((true, Some("ok".into())));
        let (follow, wake) = record_tab_event(
            &mut book,
            "T",
            &raw(
                "Page.javascriptDialogOpening",
                json!({"message": "m", "type": "aNewKind"}),
            ),
        );
        assert!(wake);
        assert_eq!(
            follow,
            Some(FollowUp::AnswerDialog {
                accept: true,
                prompt_text: Some("ok".into())
            })
        );
        let recent = &book.tab("T").recent_dialogs[0];
        assert_eq!(
            (recent["type"].as_str(), recent["accepted"].as_bool()),
            (Some("aNewKind"), Some(true))
        );
        book.tab("T").chooser_hook = Some(vec!["/tmp/a".into()]);
        let (follow, _) = record_tab_event(
            &mut book,
            "T",
            &raw(
                "Page.fileChooserOpened",
                json!({"frameId": "F", "mode": "aNewMode", "backendNodeId": 7}),
            ),
        );
        assert_eq!(
            follow,
            Some(FollowUp::SetFiles {
                files: vec!["/tmp/a".into()],
                node: 7
            })
        );
    }

    #[test]
    fn downloads_are_recorded_with_defaults_for_what_is_missing() {
        let mut book = TabBook::default();
        let begin = raw(
            "Browser.downloadWillBegin",
            json!({"frameId": "F", "guid": "g1", "url": "https://example.com/r.txt"}),
        );
        assert!(record_download(&mut book, &begin));
        let progress = raw(
            "Browser.downloadProgress",
            json!({"guid": "g1", "totalBytes": 1, "receivedBytes": 1, "state": "aNewState"}),
        );
        assert!(record_download(&mut book, &progress));
        let d = &book.downloads[0];
        assert_eq!(
            (
                d.guid.as_str(),
                d.frame_id.as_str(),
                d.suggested_filename.as_str(),
                d.state.as_str()
            ),
            ("g1", "F", "download", "aNewState")
        );
        assert!(!record_download(
            &mut book,
            &raw("Browser.other", json!({}))
        ));
    }
}

//! Raw CDP calls over chromiumoxide's connection.
//!
//! chromiumoxide owns the WebSocket, the target sessions and the event fan-out; the routes
//! speak CDP as JSON through [`Raw`], which keeps each call next to the protocol method it
//! names instead of behind a generated builder. Errors become [`CdpFailure`] text.

use std::borrow::Cow;
use std::time::Duration;

use chromiumoxide::types::{Command, Method, MethodId};
use chromiumoxide::{Browser, Page};
use serde::Serialize;
use serde_json::Value;

/// How long one CDP call may take before it is given up (chromiumoxide's own limit is
/// 30 s; a route's deadline is usually shorter and wins).
pub const CDP_CALL_TIMEOUT: Duration = Duration::from_secs(30);

/// One CDP method with JSON params and a JSON result.
#[derive(Debug, Clone)]
pub struct Raw {
    method: Cow<'static, str>,
    params: Value,
}

impl Raw {
    /// `method` with `params` (an object).
    pub fn new(method: &'static str, params: Value) -> Self {
        Self {
            method: Cow::Borrowed(method),
            params,
        }
    }
}

impl Serialize for Raw {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.params.serialize(s)
    }
}

impl Method for Raw {
    fn identifier(&self) -> MethodId {
        self.method.clone()
    }
}

impl Command for Raw {
    type Response = Value;
}

/// A failed CDP call, as text for an error body.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct CdpFailure(pub String);

fn failure(method: &str, e: impl std::fmt::Display) -> CdpFailure {
    CdpFailure(format!("{method} failed: {e}"))
}

/// Calls `method` on a page's session.
pub async fn page_call(
    page: &Page,
    method: &'static str,
    params: Value,
) -> Result<Value, CdpFailure> {
    match tokio::time::timeout(CDP_CALL_TIMEOUT, page.execute(Raw::new(method, params))).await {
        Ok(Ok(resp)) => Ok(resp.result),
        Ok(Err(e)) => Err(failure(method, e)),
        Err(_) => Err(failure(method, "timed out")),
    }
}

/// Calls `method` on the browser target.
pub async fn browser_call(
    browser: &Browser,
    method: &'static str,
    params: Value,
) -> Result<Value, CdpFailure> {
    match tokio::time::timeout(CDP_CALL_TIMEOUT, browser.execute(Raw::new(method, params))).await {
        Ok(Ok(resp)) => Ok(resp.result),
        Ok(Err(e)) => Err(failure(method, e)),
        Err(_) => Err(failure(method, "timed out")),
    }
}

/// Evaluates `expression` in the page (awaiting promises, result by value). A thrown
/// exception is an error carrying the exception's description.
pub async fn evaluate(page: &Page, expression: &str) -> Result<Value, CdpFailure> {
    let r = page_call(
        page,
        "Runtime.evaluate",
        serde_json::json!({
            "expression": expression,
            "awaitPromise": true,
            "returnByValue": true,
            "userGesture": true,
        }),
    )
    .await?;
    unwrap_remote(r)
}

/// Calls `function` with `this` bound to the remote object `object_id`.
pub async fn call_on(
    page: &Page,
    object_id: &str,
    function: &str,
    args: Vec<Value>,
) -> Result<Value, CdpFailure> {
    let arguments: Vec<Value> = args
        .into_iter()
        .map(|v| serde_json::json!({ "value": v }))
        .collect();
    let r = page_call(
        page,
        "Runtime.callFunctionOn",
        serde_json::json!({
            "objectId": object_id,
            "functionDeclaration": function,
            "arguments": arguments,
            "awaitPromise": true,
            "returnByValue": true,
            "userGesture": true,
        }),
    )
    .await?;
    unwrap_remote(r)
}

/// Pulls the value out of a `Runtime.evaluate`-shaped reply, or the exception text.
pub fn unwrap_remote(r: Value) -> Result<Value, CdpFailure> {
    if let Some(ex) = r.get("exceptionDetails") {
        let text = ex
            .pointer("/exception/description")
            .and_then(Value::as_str)
            .or_else(|| ex.get("text").and_then(Value::as_str))
            .unwrap_or("script threw an exception");
        return Err(CdpFailure(text.to_string()));
    }
    Ok(r.pointer("/result/value").cloned().unwrap_or(Value::Null))
}

/// The page's current URL as Chromium has it (`Target.getTargetInfo` on the page's own
/// session), not as chromiumoxide's frame tracking last decoded it: the navigation policy
/// must never judge a URL a missed or undecodable event left behind. Falls back to the
/// tracked URL only when Chromium does not answer.
pub async fn current_url(page: &Page) -> String {
    match page_call(page, "Target.getTargetInfo", serde_json::json!({})).await {
        Ok(info) => match info["targetInfo"]["url"].as_str() {
            Some(url) => url.to_string(),
            None => tracked_url(page).await,
        },
        Err(_) => tracked_url(page).await,
    }
}

async fn tracked_url(page: &Page) -> String {
    page.url().await.ok().flatten().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_serialises_as_its_params() {
        let raw = Raw::new("Page.navigate", serde_json::json!({"url": "about:blank"}));
        assert_eq!(raw.identifier(), "Page.navigate");
        assert_eq!(serde_json::to_value(&raw).unwrap()["url"], "about:blank");
    }

    #[test]
    fn remote_values_and_exceptions() {
        let ok = serde_json::json!({"result": {"type": "number", "value": 42}});
        assert_eq!(unwrap_remote(ok).unwrap(), 42);
        let thrown = serde_json::json!({
            "result": {"type": "object"},
            "exceptionDetails": {"text": "Uncaught", "exception": {"description": "Error: boom"}}
        });
        assert_eq!(unwrap_remote(thrown).unwrap_err().0, "Error: boom");
    }
}

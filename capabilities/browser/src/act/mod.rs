//! `POST /act` (spec browser.md §3.5): decode the body into an [`Action`] (`action.rs`),
//! resolve the tab and check its URL, then run the action — a batch action by action,
//! stopping at a failure, a navigation or a closed tab — while watching for a dialog that
//! would block it, and collect the downloads it started.
//!
//! - [`steps`]: what each single action does on the page; [`wait`]: `wait` and
//!   `evaluate`. This file owns the order of the route's checks (decode, tab, URL, batch
//!   targets), cutting an action off at its budget, batches and the result body. It does
//!   not own the checks on the action's fields or the budgets themselves (`action/`).

pub mod steps;
pub mod wait;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use chromiumoxide::Page;
use serde_json::{Map, Value, json};

use crate::action::{self, ActCode, ActError, Action, Batch};
use crate::cdp::{current_url, evaluate};
use crate::error::ServiceError;
use crate::guard::{check_current_url, final_url_guard};
use crate::http::Args;
use crate::routes::downloads::collect_action_downloads;
use crate::service::Service;
use crate::service::profile::Profile;

/// `POST /act`.
pub async fn act(
    svc: &Service,
    profile: &Arc<Profile>,
    args: &Args<'_>,
) -> Result<Value, ServiceError> {
    // The body's own fields (not the query's), nulls dropped like every route argument.
    let body: Map<String, Value> = args
        .body()
        .iter()
        .filter(|(_, v)| !v.is_null())
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let action = action::decode(&Value::Object(body), svc.settings.evaluate_enabled)?;
    let request_target = args.str("targetId");
    let (_, page, target) = svc.tab_for(profile, request_target.as_deref()).await?;
    if !matches!(action, Action::Resize(_) | Action::Close(_)) {
        check_current_url(svc, &page).await?;
    }
    if let Action::Batch(b) = &action
        && b.target_ids.iter().any(|t| *t != target)
    {
        return Err(ActError::new(
            ActCode::TargetIdMismatch,
            "batched action targetId must match request targetId",
        )
        .into());
    }
    let downloads_before = profile.book.lock().expect("book lock").downloads.len();
    let work = run_action(svc, profile, &page, &target, &action);
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
                out["browserState"] = tab.dialog_state();
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
    if !matches!(action, Action::Close(_))
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

/// Resolves when the tab has a dialog waiting for an answer.
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

type ActFuture<'a> = Pin<Box<dyn Future<Output = Result<Value, ServiceError>> + Send + 'a>>;

/// Runs one action within its time budget (a batch runs its own, boxed for recursion).
fn run_action<'a>(
    svc: &'a Service,
    profile: &'a Arc<Profile>,
    page: &'a Page,
    target: &'a str,
    action: &'a Action,
) -> ActFuture<'a> {
    Box::pin(async move {
        if let Action::Batch(b) = action {
            return run_batch(svc, profile, page, target, b).await;
        }
        let work = steps::perform(svc, profile, page, target, action);
        let Some(budget) = action.budget() else {
            return work.await;
        };
        tokio::time::timeout(budget, work)
            .await
            .unwrap_or_else(|_| {
                Err(ServiceError::new(
                    504,
                    format!(
                        "{} timed out after {} ms",
                        action.kind(),
                        budget.as_millis()
                    ),
                ))
            })
    })
}

async fn run_batch(
    svc: &Service,
    profile: &Arc<Profile>,
    page: &Page,
    target: &str,
    batch: &Batch,
) -> Result<Value, ServiceError> {
    let actions = &batch.actions;
    let mut results = Vec::new();
    let mut out = json!({});
    for (i, inner) in actions.iter().enumerate() {
        let before = current_url(page).await;
        let loader_before = evaluate(page, "performance.timeOrigin").await.ok();
        let r = run_action(svc, profile, page, target, inner).await;
        match r {
            Ok(v) => {
                let mut res = json!({"ok": true});
                if let Some(result) = v.get("result") {
                    res["result"] = result.clone();
                }
                if matches!(inner, Action::Close(_)) {
                    results.push(res);
                    out["aborted"] = json!({"reason": "closed", "afterAction": i, "skipped": actions.len() - i - 1});
                    break;
                }
                let after = current_url(page).await;
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
                if batch.stop_on_error {
                    break;
                }
            }
        }
    }
    out["results"] = json!(results);
    Ok(out)
}

//! Debug reads: `GET /console`, `/errors`, `/requests`, `/dialogs` from the buffers the
//! tab listeners fill (`service/events.rs`), optionally clearing them.

use std::sync::Arc;

use serde_json::{Value, json};

use crate::error::RouteResult;
use crate::guard::readable_tab;
use crate::http::Args;
use crate::service::Service;
use crate::service::profile::Profile;

fn level_rank(t: &str) -> u8 {
    match t {
        "debug" | "verbose" => 0,
        "info" | "log" => 1,
        "warning" | "warn" => 2,
        "error" | "assert" => 3,
        _ => 1,
    }
}

/// `GET /console`, `/errors`, `/requests`, `/dialogs` of the tab (`path` says which).
pub async fn debug_read(
    svc: &Service,
    profile: &Arc<Profile>,
    args: &Args<'_>,
    path: &str,
) -> RouteResult {
    let (_page, target, url) = readable_tab(svc, profile, args).await?;
    let clear = args.bool("clear").unwrap_or(false);
    let mut book = profile.book.lock().expect("book lock");
    let tab = book.tab(&target);
    let mut body = json!({"ok": true, "targetId": target, "url": url});
    match path {
        "/console" => {
            let min = args.str("level").map_or(0, |l| level_rank(&l));
            let msgs: Vec<&Value> = tab
                .console
                .iter()
                .filter(|m| level_rank(m["type"].as_str().unwrap_or("log")) >= min)
                .collect();
            body["messages"] = json!(msgs);
            if clear {
                tab.console.clear();
            }
        }
        "/errors" => {
            body["errors"] = json!(tab.errors);
            if clear {
                tab.errors.clear();
            }
        }
        "/requests" => {
            let filter = args.str("filter").unwrap_or_default();
            let reqs: Vec<&Value> = tab
                .requests
                .iter()
                .filter(|r| r["url"].as_str().unwrap_or("").contains(&filter))
                .collect();
            body["requests"] = json!(reqs);
            if clear {
                tab.requests.clear();
            }
        }
        _ => {
            body["browserState"] = tab.dialog_state();
        }
    }
    Ok(body)
}

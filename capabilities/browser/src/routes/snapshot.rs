//! `GET /snapshot` (spec browser.md §3.2): the page's accessibility tree, built into the
//! `ai` role snapshot or the `aria` node list, whose refs are remembered for the tab.
//! Does not own the tree walk (`snapshot.rs`).

use std::sync::Arc;

use chromiumoxide::Page;
use serde_json::{Value, json};

use crate::cdp::page_call;
use crate::element::query_selector;
use crate::error::{RouteResult, ServiceError};
use crate::guard::readable_tab;
use crate::http::Args;
use crate::service::Service;
use crate::service::profile::Profile;
use crate::snapshot;

/// `GET /snapshot`: `format=ai` (role snapshot, `mode=efficient`) or `format=aria`.
pub async fn snapshot_route(svc: &Service, profile: &Arc<Profile>, args: &Args<'_>) -> RouteResult {
    let mode_efficient = args.str("mode").as_deref() == Some("efficient");
    let format = args.str("format").unwrap_or_else(|| "ai".into());
    if format != "ai" && format != "aria" {
        return Err(ServiceError::bad_request("format must be ai or aria"));
    }
    if format == "aria" && (mode_efficient || args.bool("labels").unwrap_or(false)) {
        return Err(ServiceError::bad_request(
            "labels/mode=efficient require format=ai",
        ));
    }
    if args.bool("labels").unwrap_or(false) {
        return Err(ServiceError::new(
            501,
            "labelled snapshots are not supported by openclaw-node yet",
        ));
    }
    if args.has("frame") {
        return Err(ServiceError::new(
            501,
            "frame-scoped snapshots are not supported by openclaw-node yet",
        ));
    }
    let (page, target, url) = readable_tab(svc, profile, args).await?;
    let tree = match args.str("selector").filter(|s| !s.is_empty()) {
        Some(sel) => {
            let object = query_selector(&page, &sel).await?;
            scoped_tree(&page, &object).await?
        }
        None => page_call(&page, "Accessibility.getFullAXTree", json!({}))
            .await
            .map_err(|e| ServiceError::new(500, e.0))?,
    };
    let nodes = snapshot::AxNode::parse_all(&tree["nodes"]);
    if format == "aria" {
        let limit = args
            .f64("limit")
            .map_or(500, |l| (l as usize).clamp(1, 2000));
        let aria = snapshot::build_aria(&nodes, limit);
        let refs = aria
            .iter()
            .filter_map(|n| Some((n.r#ref.clone(), n.backend_dom_node_id?)))
            .collect();
        profile.book.lock().expect("book lock").tab(&target).refs = refs;
        return Ok(
            json!({"ok": true, "format": "aria", "targetId": target, "url": url, "nodes": aria}),
        );
    }
    let max_chars = if args.has("maxChars") {
        args.f64("maxChars")
            .filter(|m| *m > 0.0)
            .map(|m| m as usize)
    } else if mode_efficient {
        Some(snapshot::EFFICIENT_MAX_CHARS)
    } else {
        Some(snapshot::DEFAULT_MAX_CHARS)
    };
    let opts = snapshot::Options {
        interactive: mode_efficient || args.bool("interactive").unwrap_or(false),
        compact: mode_efficient || args.bool("compact").unwrap_or(false),
        depth: if mode_efficient {
            Some(6)
        } else {
            args.f64("depth").filter(|d| *d >= 0.0).map(|d| d as usize)
        },
        max_chars,
    };
    let snap = snapshot::build(&nodes, &opts);
    let refs = snap
        .refs
        .iter()
        .filter_map(|(k, v)| Some((k.clone(), v.backend_dom_node_id?)))
        .collect();
    profile.book.lock().expect("book lock").tab(&target).refs = refs;
    let mut body = json!({
        "ok": true, "format": "ai", "targetId": target, "url": url,
        "snapshot": snap.text, "refs": snap.refs,
        "stats": {"lines": snap.lines, "chars": snap.text.chars().count(), "refs": snap.refs.len(), "interactive": snap.interactive},
    });
    if snap.truncated {
        body["truncated"] = json!(true);
    }
    Ok(body)
}

/// The subtree under a selected element, as a `getFullAXTree`-shaped object.
pub async fn scoped_tree(page: &Page, object_id: &str) -> Result<Value, ServiceError> {
    let full = page_call(page, "Accessibility.getFullAXTree", json!({}))
        .await
        .map_err(|e| ServiceError::new(500, e.0))?;
    let described = page_call(page, "DOM.describeNode", json!({"objectId": object_id}))
        .await
        .map_err(|e| ServiceError::new(500, e.0))?;
    let backend = described
        .pointer("/node/backendNodeId")
        .cloned()
        .unwrap_or(Value::Null);
    let nodes = full["nodes"].as_array().cloned().unwrap_or_default();
    let Some(root) = nodes.iter().find(|n| n["backendDOMNodeId"] == backend) else {
        return Ok(json!({"nodes": []}));
    };
    // A synthetic root whose only child is the selected node keeps the walk's shape.
    let mut out = vec![
        json!({"nodeId": "__scope", "role": {"value": "RootWebArea"}, "childIds": [root["nodeId"]]}),
    ];
    out.extend(nodes.iter().cloned());
    Ok(json!({"nodes": out}))
}

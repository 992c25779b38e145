//! Finding the element an action or route works on: a ref from the tab's latest snapshot
//! (ref → backend DOM node) or a CSS selector, and its box on screen (scrolled into view).
//! Does not own the snapshot that makes the refs (`routes/snapshot.rs`) or input events.

use chromiumoxide::Page;
use serde_json::{Value, json};

use crate::action::{ActCode, ActError, Element};
use crate::cdp::page_call;
use crate::error::ServiceError;
use crate::service::profile::Profile;

/// Normalises a ref (`e12`, `@e12`, `ref=e12`, `ax12`, `12`).
pub fn normalise_ref(raw: &str) -> String {
    let r = raw.trim().trim_start_matches('@');
    let r = r.strip_prefix("ref=").unwrap_or(r);
    if r.chars().all(|c| c.is_ascii_digit()) && !r.is_empty() {
        format!("e{r}")
    } else {
        r.to_string()
    }
}

/// The backend node of a ref on a tab.
pub fn ref_node(profile: &Profile, target: &str, raw: &str) -> Result<i64, ServiceError> {
    let r = normalise_ref(raw);
    profile
        .book
        .lock()
        .expect("book lock")
        .tabs
        .get(target)
        .and_then(|t| t.refs.get(&r).copied())
        .ok_or_else(|| {
            ServiceError::new(
                400,
                format!(
                    "Unknown ref \"{r}\". Run a new snapshot and use a ref from that snapshot."
                ),
            )
        })
}

/// The remote object id of the first element matching `selector`.
pub async fn query_selector(page: &Page, selector: &str) -> Result<String, ServiceError> {
    let expr = format!(
        "document.querySelector({})",
        serde_json::to_string(selector).unwrap_or_default()
    );
    let r = page_call(page, "Runtime.evaluate", json!({"expression": expr})).await?;
    if r.get("exceptionDetails").is_some() {
        return Err(ActError::new(
            ActCode::InvalidRequest,
            format!("invalid selector {selector:?}"),
        )
        .into());
    }
    r.pointer("/result/objectId")
        .and_then(Value::as_str)
        .map(String::from)
        .ok_or_else(|| ServiceError::new(404, format!("no element matches selector {selector:?}")))
}

/// The backend node of the first element matching `selector`.
pub async fn selector_node(page: &Page, selector: &str) -> Result<i64, ServiceError> {
    let object = query_selector(page, selector).await?;
    let d = page_call(page, "DOM.describeNode", json!({"objectId": object})).await?;
    d.pointer("/node/backendNodeId")
        .and_then(Value::as_i64)
        .ok_or_else(|| ServiceError::new(500, "element has no DOM node"))
}

fn stale(node: i64) -> ServiceError {
    ServiceError::new(
        409,
        format!(
            "the element (node {node}) is no longer in the page. Run a new snapshot and use a ref from that snapshot."
        ),
    )
}

/// The remote object of a backend node (a node that is gone asks for a new snapshot).
pub async fn object_of(page: &Page, node: i64) -> Result<String, ServiceError> {
    let r = page_call(page, "DOM.resolveNode", json!({"backendNodeId": node}))
        .await
        .map_err(|_| stale(node))?;
    r.pointer("/object/objectId")
        .and_then(Value::as_str)
        .map(String::from)
        .ok_or_else(|| stale(node))
}

/// Scrolls the node into view and returns its box in viewport CSS pixels.
pub async fn node_box(page: &Page, node: i64) -> Result<(f64, f64, f64, f64), ServiceError> {
    let _ = page_call(
        page,
        "DOM.scrollIntoViewIfNeeded",
        json!({"backendNodeId": node}),
    )
    .await;
    let q = page_call(page, "DOM.getContentQuads", json!({"backendNodeId": node}))
        .await
        .map_err(|_| stale(node))?;
    let quad: Vec<f64> = q
        .pointer("/quads/0")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_f64).collect())
        .unwrap_or_default();
    if quad.len() != 8 {
        return Err(ServiceError::new(
            409,
            format!("the element (node {node}) is not visible"),
        ));
    }
    let xs = [quad[0], quad[2], quad[4], quad[6]];
    let ys = [quad[1], quad[3], quad[5], quad[7]];
    let (x0, x1) = (
        xs.iter().cloned().fold(f64::MAX, f64::min),
        xs.iter().cloned().fold(f64::MIN, f64::max),
    );
    let (y0, y1) = (
        ys.iter().cloned().fold(f64::MAX, f64::min),
        ys.iter().cloned().fold(f64::MIN, f64::max),
    );
    Ok((x0, y0, x1 - x0, y1 - y0))
}

/// Scrolls the node into view and returns its centre.
pub async fn centre(page: &Page, node: i64) -> Result<(f64, f64), ServiceError> {
    let (x, y, w, h) = node_box(page, node).await?;
    Ok((x + w / 2.0, y + h / 2.0))
}

/// The backend node of an action's element on a tab.
pub async fn resolve(
    page: &Page,
    profile: &Profile,
    target: &str,
    element: &Element,
) -> Result<i64, ServiceError> {
    match element {
        Element::Ref(r) => ref_node(profile, target, r),
        Element::Selector(s) => selector_node(page, s).await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refs_are_normalised() {
        assert_eq!(normalise_ref("@e12"), "e12");
        assert_eq!(normalise_ref("ref=e3"), "e3");
        assert_eq!(normalise_ref("7"), "e7");
        assert_eq!(normalise_ref("ax2"), "ax2");
    }
}

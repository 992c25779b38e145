//! Page guards every page route shares: the navigation policy applied to a tab's current
//! URL before its data is read, and to the final URL after a load (a refused one is
//! replaced by `about:blank`), with the 400 `navigation_blocked` error they raise.
//! Does not own the policy rules themselves (`policy.rs`).

use std::sync::Arc;

use chromiumoxide::Page;
use serde_json::json;

use crate::cdp::{current_url, page_call};
use crate::error::ServiceError;
use crate::http::Args;
use crate::policy::NavBlock;
use crate::service::Service;
use crate::service::profile::Profile;

/// A navigation refusal as a 400 with `reason: navigation_blocked`.
pub fn blocked(b: NavBlock) -> ServiceError {
    let mut e = ServiceError::new(400, b.to_string());
    e.extra = Some(json!({"reason": "navigation_blocked"}));
    e
}

/// The tab a page-data route works on (the referenced, sticky or first one), once its
/// current URL has passed the navigation policy: `(page, target id, url)`.
pub async fn readable_tab(
    svc: &Service,
    profile: &Arc<Profile>,
    args: &Args<'_>,
) -> Result<(Page, String, String), ServiceError> {
    let (_, page, target) = svc
        .tab_for(profile, args.str("targetId").as_deref())
        .await?;
    let url = check_current_url(svc, &page).await?;
    Ok((page, target, url))
}

/// Whether a page's current URL may be read (page-data routes refuse otherwise).
pub async fn check_current_url(svc: &Service, page: &Page) -> Result<String, ServiceError> {
    let url = current_url(page).await;
    if url.is_empty() || url.starts_with("chrome-error://") {
        return Ok(url);
    }
    svc.policy
        .check(&url)
        .await
        .map_err(|_| blocked(NavBlock::Private))?;
    Ok(url)
}

/// After a load: a final URL the policy refuses is replaced by `about:blank`.
pub async fn final_url_guard(svc: &Service, page: &Page) -> Result<String, ServiceError> {
    let url = current_url(page).await;
    if url.is_empty() || url.starts_with("chrome-error://") {
        return Ok(url);
    }
    if let Err(b) = svc.policy.check(&url).await {
        let _ = page_call(page, "Page.navigate", json!({"url": "about:blank"})).await;
        return Err(blocked(b));
    }
    Ok(url)
}

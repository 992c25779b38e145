//! State routes: cookies (`GET /cookies`, `POST /cookies/set|clear`) and the cheap
//! emulation setters `POST /set/media|timezone|locale|offline|headers`.

use std::sync::Arc;

use serde_json::{Value, json};

use crate::cdp::{CdpFailure, page_call};
use crate::error::{RouteResult, ServiceError};
use crate::guard::readable_tab;
use crate::http::Args;
use crate::service::Service;
use crate::service::profile::Profile;

/// `GET /cookies`, `POST /cookies/set`, `POST /cookies/clear` (`path` says which).
pub async fn cookies(
    svc: &Service,
    profile: &Arc<Profile>,
    args: &Args<'_>,
    path: &str,
) -> RouteResult {
    let (page, target, url) = readable_tab(svc, profile, args).await?;
    let err = |e: CdpFailure| ServiceError::new(500, e.0);
    match path {
        "/cookies" => {
            let r = page_call(&page, "Network.getCookies", json!({}))
                .await
                .map_err(err)?;
            Ok(json!({"ok": true, "targetId": target, "cookies": r["cookies"]}))
        }
        "/cookies/set" => {
            let cookie = args
                .raw("cookie")
                .filter(|c| c.is_object())
                .ok_or_else(|| ServiceError::bad_request("cookie is required"))?;
            let mut c = cookie.clone();
            if c.get("url").is_none() && c.get("domain").is_none() {
                c["url"] = json!(url);
            }
            page_call(&page, "Network.setCookie", c)
                .await
                .map_err(err)?;
            Ok(json!({"ok": true, "targetId": target}))
        }
        _ => {
            page_call(&page, "Network.clearBrowserCookies", json!({}))
                .await
                .map_err(err)?;
            Ok(json!({"ok": true, "targetId": target}))
        }
    }
}

/// `POST /set/<what>`: media, timezone, locale, offline, headers.
pub async fn set_state(
    svc: &Service,
    profile: &Arc<Profile>,
    args: &Args<'_>,
    what: &str,
) -> RouteResult {
    let required = |name: &str| {
        args.str(name)
            .filter(|s| !s.is_empty())
            .ok_or_else(|| ServiceError::bad_request(format!("{name} is required")))
    };
    let (method, params) = match what {
        "media" => {
            let scheme = args.str("colorScheme").unwrap_or_default();
            if !["dark", "light", "no-preference", "none"].contains(&scheme.as_str()) {
                return Err(ServiceError::bad_request(
                    "colorScheme must be dark|light|no-preference|none",
                ));
            }
            let features = if scheme == "none" {
                json!([])
            } else {
                json!([{"name": "prefers-color-scheme", "value": scheme}])
            };
            ("Emulation.setEmulatedMedia", json!({"features": features}))
        }
        "timezone" => (
            "Emulation.setTimezoneOverride",
            json!({"timezoneId": required("timezoneId")?}),
        ),
        "locale" => (
            "Emulation.setLocaleOverride",
            json!({"locale": required("locale")?}),
        ),
        "offline" => {
            let offline = args
                .bool("offline")
                .ok_or_else(|| ServiceError::bad_request("offline is required"))?;
            (
                "Network.emulateNetworkConditions",
                json!({"offline": offline, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1}),
            )
        }
        "headers" => {
            let headers = args
                .raw("headers")
                .and_then(Value::as_object)
                .ok_or_else(|| ServiceError::bad_request("headers is required"))?;
            if headers.values().any(|v| !v.is_string()) {
                return Err(ServiceError::bad_request("headers values must be strings"));
            }
            ("Network.setExtraHTTPHeaders", json!({"headers": headers}))
        }
        _ => {
            return Err(ServiceError::new(
                501,
                format!("POST /set/{what} is not supported by openclaw-node yet"),
            ));
        }
    };
    let (_, page, target) = svc
        .tab_for(profile, args.str("targetId").as_deref())
        .await?;
    page_call(&page, method, params)
        .await
        .map_err(|e| ServiceError::new(500, e.0))?;
    Ok(json!({"ok": true, "targetId": target}))
}

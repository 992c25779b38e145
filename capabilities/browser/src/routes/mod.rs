//! The control routes (spec browser.md §1–3) by `(method, path)`: the route table, and the
//! answers for routes that are not built (501) or exist only for Chrome MCP profiles
//! (400); an unknown path is 404 `Not Found`. The handlers live in one file per route
//! group; `/act` is in `act/`.

pub mod capture;
pub mod debug;
pub mod downloads;
pub mod hooks;
pub mod snapshot;
pub mod state;
pub mod status;
pub mod tabs;

use serde_json::json;

use crate::error::{RouteResult, ServiceError};
use crate::http::{Args, Request, Response, match_path};
use crate::service::Service;

/// Runs one request against the service.
pub async fn dispatch(svc: &Service, req: &Request) -> Response {
    match route(svc, req).await {
        Ok(body) => Response::ok(body),
        Err(e) => Response::error(e),
    }
}

async fn route(svc: &Service, req: &Request) -> RouteResult {
    let args = Args::new(req);
    let profile_name = args
        .str("profile")
        .unwrap_or_else(|| svc.default_profile().to_string());
    let path = req.path.trim_end_matches('/');
    let path = if path.is_empty() { "/" } else { path };
    let method = req.method.as_str();
    // Routes that do not need a profile resolved first.
    if (method, path) == ("GET", "/profiles") {
        return status::profiles(svc).await;
    }
    let profile = svc.profile(&profile_name)?;
    match (method, path) {
        ("GET", "/") => return status::status(svc, &profile).await,
        ("GET", "/doctor") => return status::doctor(svc, &profile, &args).await,
        ("POST", "/start") => return status::start(svc, &profile, &args).await,
        ("POST", "/stop") => {
            svc.stop(&profile).await;
            return Ok(json!({"ok": true, "stopped": true, "profile": profile.name}));
        }
        ("GET", "/tabs") => return tabs::tabs(svc, &profile).await,
        ("POST", "/tabs/open") => return tabs::tabs_open(svc, &profile, &args).await,
        ("POST", "/tabs/focus") => return tabs::tabs_focus(svc, &profile, &args).await,
        ("POST", "/tabs/action") => return tabs::tabs_action(svc, &profile, &args).await,
        ("GET", "/snapshot") => return snapshot::snapshot_route(svc, &profile, &args).await,
        ("POST", "/navigate") => return tabs::navigate(svc, &profile, &args).await,
        ("POST", "/screenshot") => return capture::screenshot(svc, &profile, &args).await,
        ("POST", "/pdf") => return capture::pdf(svc, &profile, &args).await,
        ("POST", "/act") => return crate::act::act(svc, &profile, &args).await,
        ("GET", "/text") => return capture::text(svc, &profile, &args).await,
        ("GET", "/console") | ("GET", "/errors") | ("GET", "/requests") | ("GET", "/dialogs") => {
            return debug::debug_read(svc, &profile, &args, path).await;
        }
        ("POST", "/hooks/dialog") => return hooks::hook_dialog(svc, &profile, &args).await,
        ("POST", "/hooks/file-chooser") => {
            return hooks::file_chooser(svc, &profile, &args).await;
        }
        ("POST", "/download") => return downloads::download(svc, &profile, &args).await,
        ("POST", "/wait/download") => return downloads::wait_download(svc, &profile, &args).await,
        ("GET", "/cookies") | ("POST", "/cookies/set") | ("POST", "/cookies/clear") => {
            return state::cookies(svc, &profile, &args, path).await;
        }
        ("POST", p) if p.starts_with("/set/") => {
            return state::set_state(svc, &profile, &args, &p[5..]).await;
        }
        _ => {}
    }
    if let Some(m) = match_path("/tabs/:targetId", path).filter(|_| method == "DELETE") {
        let target = m?.remove("targetId").unwrap_or_default();
        return tabs::tabs_delete(svc, &profile, &args, &target).await;
    }
    const MCP_ONLY: &[&str] = &[
        "/trace/insight",
        "/heap-snapshot",
        "/lighthouse",
        "/screencast",
        "/extensions",
        "/third-party-tools",
        "/web-mcp-tools",
        "/console/message",
        "/requests/request",
    ];
    if MCP_ONLY
        .iter()
        .any(|p| path == *p || path.starts_with(&format!("{p}/")))
    {
        return Err(ServiceError::bad_request(
            "this route is only supported for Chrome MCP profiles",
        ));
    }
    const NOT_BUILT: &[&str] = &[
        "/storage",
        "/response/body",
        "/highlight",
        "/trace/start",
        "/trace/stop",
        "/permissions/grant",
        "/__openclaw/session-tab/close-owned",
    ];
    if NOT_BUILT
        .iter()
        .any(|p| path == *p || path.starts_with(&format!("{p}/")))
    {
        return Err(ServiceError::new(
            501,
            format!("{method} {path} is not supported by openclaw-node yet"),
        ));
    }
    Err(ServiceError::new(404, "Not Found"))
}

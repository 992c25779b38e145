//! What the MCP crate's integration tests share: a validated capability, waiting for the
//! catalog, and calling `mcp.tools.call.v1` the way the session does.

#![allow(dead_code)] // each test binary uses its own part

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use openclaw_capability_api::{CallContext, Capability, CapabilityError, Handler};
use openclaw_capability_mcp::{Catalog, McpCapability, McpSettings, ServerSettings};
use serde_json::Value;

/// A capability for `servers` (validated as the config loader validates them).
pub(crate) fn capability(servers: Vec<(&str, ServerSettings)>) -> McpCapability {
    let settings = McpSettings {
        servers: servers
            .into_iter()
            .map(|(n, s)| (n.to_string(), s))
            .collect::<BTreeMap<_, _>>(),
    };
    settings.validate().unwrap();
    McpCapability::new(settings, "test")
}

/// Waits (at most 60 s) until the catalog satisfies `ok`.
pub(crate) async fn catalog_until(
    cap: &McpCapability,
    what: &str,
    ok: impl Fn(&Catalog) -> bool,
) -> Arc<Catalog> {
    let mut rx = cap.catalog();
    let wait = async {
        loop {
            let now = rx.borrow_and_update().clone();
            if ok(&now) {
                return now;
            }
            rx.changed().await.unwrap();
        }
    };
    tokio::time::timeout(Duration::from_secs(60), wait)
        .await
        .unwrap_or_else(|_| panic!("timed out waiting for {what}"))
}

/// The capability's one handler, `mcp.tools.call.v1`.
pub(crate) fn handler(cap: &McpCapability) -> Arc<dyn Handler> {
    cap.handlers()
        .into_iter()
        .next()
        .expect("mcp.tools.call.v1")
}

/// One `mcp.tools.call.v1` with `params`, its answer decoded.
pub(crate) async fn call(
    cap: &McpCapability,
    params: Value,
    ctx: CallContext,
) -> Result<Value, CapabilityError> {
    handler(cap)
        .call(Some(params.to_string()), ctx)
        .await
        .map(|text| serde_json::from_str(&text).unwrap())
}

/// A detached call context.
pub(crate) fn ctx() -> CallContext {
    CallContext::detached("t")
}

//! `node.pluginTools.update` on one gateway connection (parity §2.1, §2.5): the catalog
//! after hello-ok (even `{tools: []}`) and again on every change; identical params are not
//! sent twice; an `unknown method` (or `unauthorized role: node`) answer stops publication
//! quietly for the connection, any other `INVALID_REQUEST` is logged and those params are
//! not resent until they change, anything else is retried with backoff (250 ms, doubling,
//! at most 5 s; a new catalog resets it).

use std::sync::Arc;
use std::time::Duration;

use openclaw_capability_api::{BackgroundContext, GatewayError};
use serde_json::Value;
use tokio::sync::watch;

use crate::catalog::Catalog;

/// The method.
pub const METHOD: &str = "node.pluginTools.update";
/// First retry delay.
pub const RETRY_INITIAL: Duration = Duration::from_millis(250);
/// Longest retry delay.
pub const RETRY_MAX: Duration = Duration::from_millis(5000);
/// How long one publication waits for its answer before it counts as transient.
pub const ANSWER_TIMEOUT: Duration = Duration::from_secs(30);

/// How a failed publication is treated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// The gateway does not know the method: stop for this connection, silently.
    Unsupported,
    /// The gateway refused these params: do not resend them.
    Rejected,
    /// Anything else: retry with backoff.
    Transient,
}

/// Classifies a gateway error (parity §2.1's table).
pub fn classify(error: &GatewayError) -> Failure {
    if error.code != "INVALID_REQUEST" {
        return Failure::Transient;
    }
    if error.message == format!("unknown method: {METHOD}")
        || error.message == "unauthorized role: node"
    {
        Failure::Unsupported
    } else {
        Failure::Rejected
    }
}

/// Publishes the catalog on one connection until `ctx.stop`.
pub(crate) async fn run(mut catalog: watch::Receiver<Arc<Catalog>>, ctx: BackgroundContext) {
    let mut settled: Option<Value> = None;
    let mut delay = RETRY_INITIAL;
    loop {
        let params = catalog.borrow_and_update().update_params();
        if settled.as_ref() != Some(&params) {
            let answer = tokio::select! {
                a = tokio::time::timeout(ANSWER_TIMEOUT, ctx.requests.request(METHOD, params.clone())) => a,
                _ = ctx.stop.cancelled() => return,
            };
            let error = match answer {
                Ok(Ok(_)) => None,
                Ok(Err(e)) => Some(e),
                Err(_) => Some(GatewayError {
                    code: "TIMEOUT".into(),
                    message: "no answer from the gateway".into(),
                }),
            };
            match error.as_ref().map(classify) {
                None => {
                    settled = Some(params);
                    delay = RETRY_INITIAL;
                }
                Some(Failure::Unsupported) => return,
                Some(Failure::Rejected) => {
                    tracing::warn!(
                        "node host plugin tool publish failed: {}",
                        error.expect("an error")
                    );
                    settled = Some(params);
                }
                Some(Failure::Transient) => {
                    tracing::warn!(
                        "node host plugin tool publish failed: {}",
                        error.expect("an error")
                    );
                    tokio::select! {
                        _ = tokio::time::sleep(delay) => { delay = (delay * 2).min(RETRY_MAX); }
                        changed = catalog.changed() => {
                            if changed.is_err() { return; }
                            delay = RETRY_INITIAL;
                        }
                        _ = ctx.stop.cancelled() => return,
                    }
                    continue;
                }
            }
        }
        tokio::select! {
            changed = catalog.changed() => if changed.is_err() { return },
            _ = ctx.stop.cancelled() => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(code: &str, message: &str) -> GatewayError {
        GatewayError {
            code: code.into(),
            message: message.into(),
        }
    }

    #[test]
    fn failures_are_classified_as_the_reference_does() {
        assert_eq!(
            classify(&err(
                "INVALID_REQUEST",
                "unknown method: node.pluginTools.update"
            )),
            Failure::Unsupported
        );
        assert_eq!(
            classify(&err("INVALID_REQUEST", "unauthorized role: node")),
            Failure::Unsupported
        );
        assert_eq!(
            classify(&err(
                "INVALID_REQUEST",
                "invalid node.pluginTools.update params: x"
            )),
            Failure::Rejected
        );
        assert_eq!(classify(&err("UNAVAILABLE", "later")), Failure::Transient);
        assert_eq!(classify(&err("TIMEOUT", "no answer")), Failure::Transient);
    }
}

//! The engine behind the node's publication methods (parity §2.1): `node.pluginTools.update`,
//! `node.skills.update`, `node.runnerInventory.update`. One [`run`] per method and
//! connection, from hello-ok until the connection ends, fed by a `watch` of the params to
//! publish. It owns when to send and what a refusal means; what the params are belongs to
//! the capability that feeds it.
//!
//! - The params go out at once, and again on every change; params equal (deep equality)
//!   to the last ones answered are not sent twice.
//! - An `unknown method: <method>` (or `unauthorized role: node`) answer stops publication
//!   for the connection, silently.
//! - Any other `INVALID_REQUEST` is logged and those params are not resent until they
//!   change.
//! - Anything else (`UNAVAILABLE`, no answer, the connection closing) is logged and retried
//!   with backoff: 250 ms, doubling, at most 5 s; new params reset it.
//!
//! Every failure is logged as `node host <label> publish failed: <error>`.

use std::time::Duration;

use serde_json::Value;
use tokio::sync::watch;

use crate::{BackgroundContext, GatewayError};

/// First retry delay.
pub const RETRY_INITIAL: Duration = Duration::from_millis(250);
/// Longest retry delay.
pub const RETRY_MAX: Duration = Duration::from_millis(5000);
/// How long one publication waits for its answer before it counts as transient.
pub const ANSWER_TIMEOUT: Duration = Duration::from_secs(30);

/// What one publisher publishes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Publication {
    /// The gateway method, e.g. `node.skills.update`.
    pub method: &'static str,
    /// The word in the failure log line, e.g. `skill` (`node host skill publish failed: …`).
    pub label: &'static str,
    /// Publish again (backoff reset) when the gateway approves the node's command surface
    /// (`node.pair.resolved`): the runner inventory does, skills and plugin tools do not
    /// (the gateway keeps those across the approval).
    pub resend_on_approval: bool,
}

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

/// Classifies a gateway error on `method` (parity §2.1's table).
pub fn classify(method: &str, error: &GatewayError) -> Failure {
    if error.code != "INVALID_REQUEST" {
        return Failure::Transient;
    }
    if error.message == format!("unknown method: {method}")
        || error.message == "unauthorized role: node"
    {
        Failure::Unsupported
    } else {
        Failure::Rejected
    }
}

/// What ended a wait between publications.
enum Wake {
    /// The params changed (or the gateway approved the surface, for a resending publisher).
    Again,
    /// The retry delay passed.
    Retry,
    /// The connection ended.
    Stop,
}

/// Publishes `params` on the connection of `ctx` until `ctx.stop`. A sender that goes
/// away leaves the last params in place (they are still published and retried).
pub async fn run(
    publication: Publication,
    mut params: watch::Receiver<Value>,
    ctx: BackgroundContext,
) {
    let Publication {
        method,
        label,
        resend_on_approval,
    } = publication;
    // The params last answered (published or rejected): not sent again while equal.
    let mut settled: Option<Value> = None;
    let mut delay = RETRY_INITIAL;
    loop {
        let current = params.borrow_and_update().clone();
        let mut retry = None;
        if settled.as_ref() != Some(&current) {
            let answer = tokio::select! {
                a = tokio::time::timeout(ANSWER_TIMEOUT, ctx.requests.request(method, current.clone())) => a,
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
            match error {
                None => {
                    settled = Some(current);
                    delay = RETRY_INITIAL;
                }
                Some(e) => match classify(method, &e) {
                    Failure::Unsupported => return,
                    Failure::Rejected => {
                        tracing::warn!("node host {label} publish failed: {e}");
                        settled = Some(current);
                    }
                    Failure::Transient => {
                        tracing::warn!("node host {label} publish failed: {e}");
                        retry = Some(delay);
                    }
                },
            }
        }
        let wake = tokio::select! {
            _ = async { tokio::time::sleep(retry.unwrap_or_default()).await }, if retry.is_some() => Wake::Retry,
            _ = changed(&mut params) => Wake::Again,
            _ = ctx.surface_approved.notified(), if resend_on_approval => {
                settled = None;
                Wake::Again
            }
            _ = ctx.stop.cancelled() => Wake::Stop,
        };
        match wake {
            Wake::Retry => delay = (delay * 2).min(RETRY_MAX),
            Wake::Again => delay = RETRY_INITIAL,
            Wake::Stop => return,
        }
    }
}

/// Waits for new params; never returns once the sender is gone.
async fn changed(params: &mut watch::Receiver<Value>) {
    if params.changed().await.is_err() {
        std::future::pending::<()>().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{GatewayRequest, RequestSink};
    use serde_json::json;
    use tokio::sync::mpsc;

    const METHOD: &str = "node.test.update";
    const PUBLICATION: Publication = Publication {
        method: METHOD,
        label: "test",
        resend_on_approval: false,
    };

    fn err(code: &str, message: &str) -> GatewayError {
        GatewayError {
            code: code.into(),
            message: message.into(),
        }
    }

    /// A publisher on a fake connection: its requests, the params sender, the context.
    struct Harness {
        requests: mpsc::UnboundedReceiver<GatewayRequest>,
        params: watch::Sender<Value>,
        ctx: BackgroundContext,
    }

    fn start(publication: Publication, first: Value) -> Harness {
        let (tx, requests) = mpsc::unbounded_channel();
        let mut ctx = BackgroundContext::detached();
        ctx.requests = RequestSink::new(tx);
        let (params, rx) = watch::channel(first);
        tokio::spawn(run(publication, rx, ctx.clone()));
        Harness {
            requests,
            params,
            ctx,
        }
    }

    impl Harness {
        /// The next request, within a second.
        async fn next(&mut self) -> GatewayRequest {
            tokio::time::timeout(Duration::from_secs(2), self.requests.recv())
                .await
                .expect("a publication within 2 s")
                .expect("the publisher is running")
        }

        /// That nothing is sent for a while.
        async fn quiet(&mut self, wait: Duration) {
            if let Ok(Some(r)) = tokio::time::timeout(wait, self.requests.recv()).await {
                panic!("unexpected publication {}", r.params);
            }
        }
    }

    fn answer(r: GatewayRequest, result: Result<Value, GatewayError>) {
        let _ = r.reply.send(result);
    }

    #[test]
    fn failures_are_classified_as_the_reference_does() {
        assert_eq!(
            classify(
                METHOD,
                &err("INVALID_REQUEST", "unknown method: node.test.update")
            ),
            Failure::Unsupported
        );
        assert_eq!(
            classify(
                METHOD,
                &err("INVALID_REQUEST", "unknown method: node.other")
            ),
            Failure::Rejected
        );
        assert_eq!(
            classify(METHOD, &err("INVALID_REQUEST", "unauthorized role: node")),
            Failure::Unsupported
        );
        assert_eq!(
            classify(METHOD, &err("INVALID_REQUEST", "invalid params: x")),
            Failure::Rejected
        );
        assert_eq!(
            classify(METHOD, &err("UNAVAILABLE", "later")),
            Failure::Transient
        );
        assert_eq!(
            classify(METHOD, &err("TIMEOUT", "no answer")),
            Failure::Transient
        );
    }

    #[tokio::test]
    async fn params_go_out_once_and_again_only_when_they_differ() {
        let mut h = start(PUBLICATION, json!({"items": []}));
        let r = h.next().await;
        assert_eq!(r.method, METHOD);
        assert_eq!(r.params, json!({"items": []}));
        answer(r, Ok(json!({})));
        // Equal params (a new value, deep-equal) are not sent again.
        h.params.send_replace(json!({"items": []}));
        h.quiet(Duration::from_millis(300)).await;
        h.params.send_replace(json!({"items": [1]}));
        let r = h.next().await;
        assert_eq!(r.params, json!({"items": [1]}));
        answer(r, Ok(json!({})));
        h.quiet(Duration::from_millis(300)).await;
        h.ctx.stop.cancel();
    }

    #[tokio::test]
    async fn a_transient_failure_is_retried_with_backoff() {
        let mut h = start(PUBLICATION, json!({"a": 1}));
        let first = h.next().await;
        answer(first, Err(err("UNAVAILABLE", "awaiting approval")));
        let at = tokio::time::Instant::now();
        let second = h.next().await;
        let waited = at.elapsed();
        assert!(waited >= RETRY_INITIAL, "retried after {waited:?}");
        assert_eq!(second.params, json!({"a": 1}));
        answer(second, Err(err("UNAVAILABLE", "awaiting approval")));
        let at = tokio::time::Instant::now();
        let third = h.next().await;
        assert!(at.elapsed() >= RETRY_INITIAL * 2, "the delay doubles");
        // The connection closing before an answer is transient too.
        drop(third);
        let fourth = h.next().await;
        answer(fourth, Ok(json!({})));
        h.quiet(Duration::from_millis(300)).await;
        h.ctx.stop.cancel();
    }

    #[tokio::test]
    async fn a_rejection_is_not_resent_until_the_params_change() {
        let mut h = start(PUBLICATION, json!({"a": 1}));
        answer(
            h.next().await,
            Err(err("INVALID_REQUEST", "invalid params")),
        );
        h.quiet(Duration::from_millis(600)).await;
        h.params.send_replace(json!({"a": 2}));
        let r = h.next().await;
        assert_eq!(r.params, json!({"a": 2}));
        answer(r, Ok(json!({})));
        h.ctx.stop.cancel();
    }

    #[tokio::test]
    async fn an_unknown_method_stops_publication_for_the_connection() {
        let mut h = start(PUBLICATION, json!({"a": 1}));
        answer(
            h.next().await,
            Err(err("INVALID_REQUEST", "unknown method: node.test.update")),
        );
        h.params.send_replace(json!({"a": 2}));
        h.quiet(Duration::from_millis(300)).await;
    }

    #[tokio::test]
    async fn approval_resends_only_where_asked_and_a_gone_sender_keeps_the_params() {
        let mut h = start(
            Publication {
                resend_on_approval: true,
                ..PUBLICATION
            },
            json!({"a": 1}),
        );
        answer(h.next().await, Ok(json!({})));
        h.ctx.surface_approved.notify_one();
        let r = h.next().await;
        assert_eq!(r.params, json!({"a": 1}));
        answer(r, Err(err("UNAVAILABLE", "later")));
        drop(h.params);
        let r = tokio::time::timeout(Duration::from_secs(2), h.requests.recv())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(r.params, json!({"a": 1}), "retried after the sender left");
        answer(r, Ok(json!({})));
        h.ctx.stop.cancel();

        let mut h = start(PUBLICATION, json!({"a": 1}));
        answer(h.next().await, Ok(json!({})));
        h.ctx.surface_approved.notify_one();
        h.quiet(Duration::from_millis(300)).await;
        h.ctx.stop.cancel();
    }
}

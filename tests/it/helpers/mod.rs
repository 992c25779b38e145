//! Shared helpers, the only thing test modules import from (`use crate::helpers::*`):
//! [`TestGateway`] (embedded gateway on 127.0.0.1:0, stopped on drop), [`TestNode`] (a real
//! node in-process with a temp state dir and short intervals, built with
//! [`TestNode::builder`]), [`TestCapability`] (controllable commands with a per-instance
//! cancel counter), operator-side waits, raw-protocol clients, the [`FaultProxy`], process
//! inspection, a private Xvfb per screen test, and `within`/`eventually` (a global timeout for every wait).

mod capability;
mod fault_proxy;
mod gateway;
mod node;
mod operator;
mod process;
mod raw;
#[cfg(feature = "screen")]
mod xvfb;

use std::future::Future;
use std::time::Duration;

pub(crate) use capability::*;
pub(crate) use fault_proxy::*;
pub(crate) use gateway::*;
pub(crate) use node::*;
pub(crate) use operator::*;
pub(crate) use process::*;
pub(crate) use raw::*;
#[cfg(feature = "screen")]
pub(crate) use xvfb::*;

/// The shared token every test gateway uses.
pub(crate) const TOKEN: &str = "it-shared-token";
/// The longest any single wait may take before the test fails.
pub(crate) const WAIT: Duration = Duration::from_secs(20);

/// Awaits `fut`, failing the test after [`WAIT`].
pub(crate) async fn within<T>(what: &str, fut: impl Future<Output = T>) -> T {
    match tokio::time::timeout(WAIT, fut).await {
        Ok(v) => v,
        Err(_) => panic!("timed out after {WAIT:?} waiting for {what}"),
    }
}

/// Polls `probe` until it yields `Some`, with the global timeout.
pub(crate) async fn eventually<T, F, Fut>(what: &str, probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    eventually_for(WAIT, what, probe).await
}

/// Polls `probe` until it yields `Some`, failing after `limit` (the real Gateway's CLI
/// takes seconds per call, so its tests wait longer).
pub(crate) async fn eventually_for<T, F, Fut>(limit: Duration, what: &str, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let polled = async {
        loop {
            if let Some(v) = probe().await {
                return v;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    };
    match tokio::time::timeout(limit, polled).await {
        Ok(v) => v,
        Err(_) => panic!("timed out after {limit:?} waiting for {what}"),
    }
}

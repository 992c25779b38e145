//! [`TestCapability`]: `test.sleep {ms}` (honours cancel) and `test.echo {value}`. Each
//! instance counts its own cancelled sleeps, so a test reads only what its node did (a
//! process-wide counter could be bumped by any test running alongside).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use openclaw_capability_api::{CallContext, Capability, CapabilityError, Command, Handler, erase};
use serde::Deserialize;
use serde_json::{Value, json};

/// A capability for tests; clones share one cancel counter.
#[derive(Clone, Default)]
pub(crate) struct TestCapability {
    cancelled_sleeps: Arc<AtomicUsize>,
}

impl TestCapability {
    /// How many `test.sleep` calls of this capability saw their cancel token fire.
    pub(crate) fn cancelled_sleeps(&self) -> usize {
        self.cancelled_sleeps.load(Ordering::SeqCst)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SleepParams {
    ms: u64,
}

struct Sleep {
    cancelled: Arc<AtomicUsize>,
}

impl Command for Sleep {
    type Params = SleepParams;
    type Output = Value;
    fn name(&self) -> &'static str {
        "test.sleep"
    }
    async fn run(&self, p: SleepParams, ctx: CallContext) -> Result<Value, CapabilityError> {
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_millis(p.ms)) => Ok(json!({"slept": p.ms})),
            _ = ctx.cancel.cancelled() => {
                self.cancelled.fetch_add(1, Ordering::SeqCst);
                Err(CapabilityError::unavailable("cancelled"))
            }
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct EchoParams {
    value: Value,
}

struct Echo;

impl Command for Echo {
    type Params = EchoParams;
    type Output = Value;
    fn name(&self) -> &'static str {
        "test.echo"
    }
    async fn run(&self, p: EchoParams, _ctx: CallContext) -> Result<Value, CapabilityError> {
        Ok(json!({"value": p.value}))
    }
}

impl Capability for TestCapability {
    fn caps(&self) -> Vec<&'static str> {
        vec!["test"]
    }
    fn handlers(&self) -> Vec<Arc<dyn Handler>> {
        vec![
            erase(Sleep {
                cancelled: self.cancelled_sleeps.clone(),
            }),
            erase(Echo),
        ]
    }
}

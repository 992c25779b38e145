//! The life of one running command, the same for both backends: wait for it to exit while
//! watching the deadline, the cancel token and the heartbeat; on timeout or cancel kill its
//! tree (TERM, grace, KILL); after any end, kill what is left of the tree (background jobs,
//! `setsid` escapees, orphans that came back to the node), which also closes the pipes or
//! terminal they held. The call's dead orphans are reaped on every heartbeat and at the end.

use std::future::Future;
use std::time::Duration;

use openclaw_capability_api::ProgressSink;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::capture::{Capture, Captured};
use super::spec::{Outcome, Spec, TIMEOUT_EXIT_CODE};
use super::tree::Tree;

/// The shortest heartbeat interval, whatever the config says.
const MIN_HEARTBEAT: Duration = Duration::from_millis(50);
/// The grace given to leftovers after the command itself has ended.
const LEFTOVER_GRACE: Duration = Duration::from_millis(200);

/// How a command exited, as far as the backend can tell.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct Exit {
    /// Its exit code.
    pub code: Option<i32>,
    /// The signal that ended it.
    pub signal: Option<i32>,
}

/// What [`supervise`] saw.
pub(super) struct Ended {
    /// The exit, if the backend could read it.
    pub exit: Option<Exit>,
    /// The deadline fired.
    pub timed_out: bool,
    /// The cancel token fired.
    pub cancelled: bool,
}

/// Waits on `exit` (the leader's exit) under the spec's deadline, `cancel` and heartbeat;
/// returns once the leader has exited and nothing of `tree` is left.
pub(super) async fn supervise(
    exit: impl Future<Output = Option<Exit>>,
    tree: &Tree,
    spec: &Spec,
    capture: &Capture,
    cancel: &CancellationToken,
    progress: &ProgressSink,
) -> Ended {
    tokio::pin!(exit);
    let deadline = spec.timeout.map(|t| Instant::now() + t);
    let mut beat = tokio::time::interval(spec.heartbeat.max(MIN_HEARTBEAT));
    beat.tick().await;
    let mut timed_out = false;
    let mut cancelled = false;
    let exit = loop {
        tokio::select! {
            status = &mut exit => break status,
            _ = async { match deadline { Some(d) => tokio::time::sleep_until(d).await, None => std::future::pending().await } } => {
                timed_out = true;
                tree.kill(spec.kill_grace).await;
                break exit.await;
            }
            _ = cancel.cancelled() => {
                cancelled = true;
                tree.kill(spec.kill_grace).await;
                break exit.await;
            }
            _ = beat.tick() => {
                tree.refresh();
                tree.reap();
                if capture.silent_for(spec.heartbeat) && progress.is_enabled() {
                    progress.send(String::new()).await;
                }
            }
        }
    };
    // The leader is gone: a last walk finds the orphans that came back since the last one.
    tree.refresh();
    if timed_out || cancelled || tree.has_leftovers() {
        tree.kill(LEFTOVER_GRACE).await;
    }
    Ended {
        exit,
        timed_out,
        cancelled,
    }
}

impl Ended {
    /// The call's outcome: the exit seen, the captured text, and the reference's exit code
    /// 124 after a timeout.
    pub(super) fn outcome(self, captured: Captured, started: Instant) -> Outcome {
        let exit = self.exit.unwrap_or_default();
        Outcome {
            exit_code: if self.timed_out {
                Some(TIMEOUT_EXIT_CODE)
            } else {
                exit.code
            },
            signal: exit.signal,
            timed_out: self.timed_out,
            cancelled: self.cancelled,
            stdout: captured.stdout,
            stderr: captured.stderr,
            truncated: captured.truncated,
            error: None,
            duration: started.elapsed(),
        }
    }
}

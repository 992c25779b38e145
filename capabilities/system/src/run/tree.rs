//! The process tree of one call, and how it dies. The command leads its own process group
//! (pipes: `process_group(0)`; PTY: its own session), so the group is signalled as one; a
//! descendant that left the group (`setsid`, `nohup … &` in a new session) is tracked by
//! pid and start time from the walks [`Tree::refresh`] makes while the leader lives, and
//! signalled by pid. Killing is TERM, a grace period, then KILL ([`Tree::kill`]); a
//! [`Guard`] kills the tree with KILL at once when the call's future is dropped, so
//! nothing outlives a call however it ends. Both backends use this; what a process is and
//! who its children are comes from `openclaw_capability_api::process`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use nix::sys::signal::{Signal, kill, killpg};
use nix::unistd::Pid;
use openclaw_capability_api::process;
use tokio::time::Instant;

/// How often [`Tree::kill`] looks whether the tree is gone during the grace period.
const POLL: Duration = Duration::from_millis(25);

/// The processes a call has started (cloning shares the record).
#[derive(Clone)]
pub(super) struct Tree(Arc<Mutex<Seen>>);

struct Seen {
    /// The command's pid, which is also its process group id, and its start time (so a
    /// walk never starts from a reused pid).
    leader: Option<(i32, Option<u64>)>,
    /// Every descendant seen so far: pid → start time.
    descendants: HashMap<i32, u64>,
}

impl Tree {
    /// The tree of a command whose pid (and process group) is `leader`.
    pub(super) fn new(leader: Option<i32>) -> Self {
        Self(Arc::new(Mutex::new(Seen {
            leader: leader.map(|pid| (pid, process::start_time(pid))),
            descendants: HashMap::new(),
        })))
    }

    fn lock(&self) -> MutexGuard<'_, Seen> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Records the leader's current descendants (nothing once the leader has exited: its
    /// orphans are reparented, so only the ones seen before can still be found).
    pub(super) fn refresh(&self) {
        let mut seen = self.lock();
        if let Some((pid, Some(started))) = seen.leader
            && process::is_live_since(pid, started)
        {
            let found = process::descendants(pid);
            seen.descendants.extend(found);
        }
    }

    /// Sends `sig` to the group and to every recorded descendant still alive.
    fn signal(&self, sig: Signal) {
        let seen = self.lock();
        if let Some((pgid, _)) = seen.leader {
            let _ = killpg(Pid::from_raw(pgid), sig);
        }
        for (&pid, &started) in &seen.descendants {
            if process::start_time(pid) == Some(started) {
                let _ = kill(Pid::from_raw(pid), sig);
            }
        }
    }

    /// Whether anything of the tree is still alive (zombies do not count: they hold no
    /// resources and cannot be killed again).
    fn any_alive(&self) -> bool {
        let seen = self.lock();
        seen.leader
            .is_some_and(|(pgid, _)| process::group_has_live_member(pgid))
            || seen
                .descendants
                .iter()
                .any(|(&pid, &started)| process::is_live_since(pid, started))
    }

    /// Whether processes are left after the leader exited: the group still has members, or
    /// a recorded descendant lives. Cheap in the common case: an empty group answers
    /// `ESRCH` and nothing was recorded.
    pub(super) fn has_leftovers(&self) -> bool {
        let seen = self.lock();
        seen.leader
            .is_some_and(|(pgid, _)| killpg(Pid::from_raw(pgid), None).is_ok())
            || seen
                .descendants
                .iter()
                .any(|(&pid, &started)| process::is_live_since(pid, started))
    }

    /// TERM to the whole tree, up to `grace` for it to go, then KILL to what is left.
    pub(super) async fn kill(&self, grace: Duration) {
        self.refresh();
        self.signal(Signal::SIGTERM);
        let deadline = Instant::now() + grace;
        while Instant::now() < deadline {
            if !self.any_alive() {
                return;
            }
            tokio::time::sleep(POLL).await;
        }
        self.signal(Signal::SIGKILL);
    }

    /// A guard that kills the tree when dropped.
    pub(super) fn guard(&self) -> Guard {
        Guard(self.clone())
    }
}

/// Kills its tree with KILL when dropped: the last word when a call's future is dropped
/// mid-run (no one is left to wait out a grace period), and a final sweep after a normal
/// end. The leader's descendants are walked once more first, so a process that left the
/// group since the last walk is not missed.
pub(super) struct Guard(Tree);

impl Drop for Guard {
    fn drop(&mut self) {
        self.0.refresh();
        self.0.signal(Signal::SIGKILL);
    }
}

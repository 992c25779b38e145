//! The process tree of one call, and how it dies. The command leads its own process group
//! (pipes: `process_group(0)`; PTY: its own session), so the group is signalled as one; a
//! descendant that left the group (`setsid`, `nohup … &` in a new session) is tracked by
//! pid and start time from the walks [`Tree::refresh`] makes, and signalled by pid.
//! Killing is TERM, a grace period, then KILL ([`Tree::kill`]); a [`Guard`] kills the tree
//! with KILL at once when the call's future is dropped, so nothing outlives a call however
//! it ends. Both backends use this; what a process is and who its children are comes from
//! `openclaw_capability_api::process`.
//!
//! A walk starts from the leader while it lives, and from the call's orphans: where the
//! node is a child subreaper (`orphans`, Linux), a descendant whose parent exited is
//! reparented to the node, and the walk claims the node's children that are this call's
//! (never the leader, which its backend waits for): one seen in an earlier walk (same pid
//! and start time), one still in the leader's process group, or one whose environment
//! carries the call's marker (`orphans::MARK_VAR`, set on the command, inherited by its
//! descendants). That finds a `setsid`'ed daemon even when its parent was gone before any
//! walk saw it. What it cannot find: an orphan that left the group *and* cleared or lost
//! the marker (`env -i`, a set-uid program whose environment is unreadable) before any walk
//! saw it; that one outlives the call, as it would without a subreaper. Claimed orphans
//! that die are the node's zombies, and are reaped by pid ([`Tree::reap`]).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use nix::sys::signal::{Signal, kill, killpg};
use nix::unistd::Pid;
use openclaw_capability_api::process;
use tokio::time::Instant;

use super::orphans;

/// How often [`Tree::kill`] looks whether the tree is gone during the grace period.
const POLL: Duration = Duration::from_millis(25);
/// How long the tree may take to die after KILL (zombies to reap).
const AFTER_KILL: Duration = Duration::from_secs(1);

/// The processes a call has started (cloning shares the record).
#[derive(Clone)]
pub(super) struct Tree(Arc<Mutex<Seen>>);

struct Seen {
    /// The command's pid, which is also its process group id, and its start time (so a
    /// walk never starts from a reused pid).
    leader: Option<(i32, Option<u64>)>,
    /// Every descendant seen so far: pid → start time.
    descendants: HashMap<i32, u64>,
    /// The marker in the environment of the call's processes.
    mark: String,
}

impl Tree {
    /// The tree of a command whose pid (and process group) is `leader`, started with
    /// `mark` (from `orphans::new_mark`) as its `orphans::MARK_VAR`.
    pub(super) fn new(leader: Option<i32>, mark: String) -> Self {
        Self(Arc::new(Mutex::new(Seen {
            leader: leader.map(|pid| (pid, process::start_time(pid))),
            descendants: HashMap::new(),
            mark,
        })))
    }

    fn lock(&self) -> MutexGuard<'_, Seen> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Records the current descendants of the leader (while it lives) and of the call's
    /// orphans among this process's children (see the module doc), from one look at the
    /// process table.
    pub(super) fn refresh(&self) {
        let table = process::all();
        let me = std::process::id() as i32;
        let mut seen = self.lock();
        let mut roots = Vec::new();
        if let Some((pid, Some(started))) = seen.leader
            && table
                .iter()
                .any(|p| p.pid == pid && p.started == started && !p.zombie)
        {
            roots.push(pid);
        }
        let leader = seen.leader.map(|(pid, _)| pid);
        for p in table
            .iter()
            .filter(|p| p.ppid == me && Some(p.pid) != leader)
        {
            let ours = seen.descendants.get(&p.pid) == Some(&p.started)
                || Some(p.pgid) == leader
                || (!p.zombie
                    && process::environ(p.pid).is_some_and(|e| orphans::carries(&e, &seen.mark)));
            if ours {
                seen.descendants.insert(p.pid, p.started);
                roots.push(p.pid);
            }
        }
        for root in roots {
            let found = process::descendants_in(&table, root);
            seen.descendants.extend(found);
        }
    }

    /// Reaps the call's orphans that died as this process's children (pid, start time and
    /// parent checked; the leader is never touched: its backend waits for it).
    pub(super) fn reap(&self) {
        let me = std::process::id() as i32;
        let seen = self.lock();
        for (&pid, &started) in &seen.descendants {
            if process::info(pid).is_some_and(|i| i.zombie && i.ppid == me && i.started == started)
            {
                orphans::reap(pid);
            }
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

    /// TERM to the whole tree, up to `grace` for it to go, then KILL to what is left; then
    /// up to [`AFTER_KILL`] for it to die, and the orphans among the dead are reaped.
    pub(super) async fn kill(&self, grace: Duration) {
        self.refresh();
        self.signal(Signal::SIGTERM);
        if !self.gone_within(grace).await {
            self.refresh();
            self.signal(Signal::SIGKILL);
            self.gone_within(AFTER_KILL).await;
        }
        self.reap();
    }

    /// Whether nothing of the tree is alive within `wait`.
    async fn gone_within(&self, wait: Duration) -> bool {
        let deadline = Instant::now() + wait;
        loop {
            if !self.any_alive() {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(POLL).await;
        }
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
        let tree = &self.0;
        tree.refresh();
        tree.signal(Signal::SIGKILL);
        tree.reap();
        // What was just killed dies in a moment: reap it off the async threads.
        if tree.any_alive() {
            let tree = tree.clone();
            std::thread::spawn(move || {
                let deadline = std::time::Instant::now() + AFTER_KILL;
                while tree.any_alive() && std::time::Instant::now() < deadline {
                    std::thread::sleep(POLL);
                }
                tree.reap();
            });
        }
    }
}

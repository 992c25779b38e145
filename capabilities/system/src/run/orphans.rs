//! Orphans of a call: descendants whose parent exited before them (a subshell that
//! started a daemon and left, `setsid … &`, a double fork). Unseen, they would be
//! reparented to init and outlive the call, holding its pipes or terminal.
//!
//! On Linux the node makes itself a child subreaper ([`adopt_orphans`], called once by the
//! composition root): orphans of its descendants are then reparented to the node instead of
//! init, so a call's tree can still find them among the node's own children and kill them
//! (`tree`). Which call an orphan belongs to is told by a marker in the environment every
//! call's command starts with ([`MARK_VAR`], inherited by its descendants) or by its process
//! group (see `tree`). Once dead, such an orphan is the node's zombie; it is reaped here,
//! by its own pid only: never `waitpid(-1)`, which would steal the exit status of a child
//! tokio, `std` or portable-pty is waiting for.
//!
//! macOS has no subreaper (nor cgroups): an orphan goes to launchd at once. There a call
//! kills its process group and the escapees it saw in its walks while their parents lived;
//! one that left the group and was orphaned between two walks is out of reach (its
//! environment, and so the marker, is not readable through `ps` for other processes).
//! Cgroups would find every escapee on Linux too, but a node runs as a user service
//! without a delegated cgroup subtree, so one can rarely be had; the subreaper needs
//! nothing.

use std::sync::atomic::{AtomicU64, Ordering};

/// The environment variable that marks every process of one call: `<node pid>.<call>`.
pub(super) const MARK_VAR: &str = "OPENCLAW_NODE_CALL";

/// A marker no other call of this node carries.
pub(super) fn new_mark() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    format!(
        "{}.{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// Makes this process a child subreaper (Linux), so the orphans of the calls it runs come
/// back to it and die with their call; returns whether it is one. Call it once, from the
/// process that serves calls (the node's composition root, or a test binary that plays the
/// node): every orphan of every descendant comes back to that process, and only the ones a
/// call claims are reaped. Elsewhere (macOS) it does nothing and returns `false`.
pub fn adopt_orphans() -> bool {
    #[cfg(target_os = "linux")]
    {
        match nix::sys::prctl::set_child_subreaper(true) {
            Ok(()) => {
                // Orphans no call claims (a browser helper whose main process died first)
                // would stay zombies until the node exits: reap them as they die.
                if let Ok(runtime) = tokio::runtime::Handle::try_current() {
                    runtime.spawn(reap_strays_on_sigchld());
                }
                true
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot become a child subreaper; escaped processes of system.run may outlive their call");
                false
            }
        }
    }
    #[cfg(not(target_os = "linux"))]
    {
        false
    }
}

/// Reaps `pid`, a zombie child of this process that a call claimed as its orphan (never a
/// child someone else waits for).
pub(super) fn reap(pid: i32) {
    use nix::sys::wait::{WaitPidFlag, waitpid};
    let _ = waitpid(nix::unistd::Pid::from_raw(pid), Some(WaitPidFlag::WNOHANG));
}

/// Reaps stray zombies each time a child dies, for as long as the runtime lives.
#[cfg(target_os = "linux")]
async fn reap_strays_on_sigchld() {
    use tokio::signal::unix::{SignalKind, signal};
    let Ok(mut children) = signal(SignalKind::child()) else {
        return;
    };
    while children.recv().await.is_some() {
        let _ = tokio::task::spawn_blocking(reap_strays).await;
    }
}

/// Reaps the zombie children of this process that it adopted as a subreaper and that no
/// call claimed. Such a zombie is told from a child this process started (which tokio,
/// `std` or portable-pty waits for) by its process group: the node starts every child
/// either in the node's own group or as the leader of a new one, never in another child's
/// group, so a zombie child in a group led by some other process was adopted.
#[cfg(target_os = "linux")]
fn reap_strays() -> usize {
    let me = std::process::id() as i32;
    let own_group = nix::unistd::getpgrp().as_raw();
    let strays: Vec<i32> = openclaw_capability_api::process::all()
        .into_iter()
        .filter(|p| is_stray(p, me, own_group))
        .map(|p| p.pid)
        .collect();
    strays.iter().for_each(|pid| reap(*pid));
    strays.len()
}

#[cfg(target_os = "linux")]
fn is_stray(p: &openclaw_capability_api::process::Info, me: i32, own_group: i32) -> bool {
    p.zombie && p.ppid == me && p.pgid != p.pid && p.pgid != own_group
}

/// Whether `environ` (NUL-separated `KEY=value`) holds the marker `mark`.
pub(super) fn carries(environ: &[u8], mark: &str) -> bool {
    let want = format!("{MARK_VAR}={mark}");
    environ.split(|b| *b == 0).any(|kv| kv == want.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(target_os = "linux")]
    #[test]
    fn only_zombie_children_in_another_childs_group_are_strays() {
        use openclaw_capability_api::process::Info;
        let me = 100;
        let own_group = 90;
        let child = |pid, pgid, zombie| Info {
            pid,
            ppid: me,
            pgid,
            zombie,
            started: 1,
        };
        // Adopted: a helper of a dead browser (group 200, led by its dead main process).
        assert!(is_stray(&child(201, 200, true), me, own_group));
        // Started by this process: a group leader, or in the node's own group.
        assert!(!is_stray(&child(300, 300, true), me, own_group));
        assert!(!is_stray(&child(301, own_group, true), me, own_group));
        // Alive, or somebody else's child.
        assert!(!is_stray(&child(202, 200, false), me, own_group));
        assert!(!is_stray(
            &Info {
                ppid: 1,
                ..child(203, 200, true)
            },
            me,
            own_group
        ));
    }

    #[test]
    fn a_marker_matches_only_as_a_whole_entry() {
        let mark = new_mark();
        assert_ne!(mark, new_mark());
        let env = format!("A=1\0{MARK_VAR}={mark}\0B=2\0");
        assert!(carries(env.as_bytes(), &mark));
        assert!(!carries(format!("{MARK_VAR}={mark}7\0").as_bytes(), &mark));
        assert!(!carries(format!("X{MARK_VAR}={mark}\0").as_bytes(), &mark));
        assert!(!carries(b"", &mark));
    }
}

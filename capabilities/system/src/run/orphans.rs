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
            Ok(()) => true,
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

/// Whether `environ` (NUL-separated `KEY=value`) holds the marker `mark`.
pub(super) fn carries(environ: &[u8], mark: &str) -> bool {
    let want = format!("{MARK_VAR}={mark}");
    environ.split(|b| *b == 0).any(|kv| kv == want.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

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

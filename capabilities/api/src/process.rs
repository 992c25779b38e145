//! Looking at other processes, for the capabilities that start process trees and must
//! leave none behind (`system.run`, the browser): who is alive, who is whose child, who is
//! in a process group, and whose command line names something. One table of processes
//! comes from the platform (`procfs` reads `/proc` on Linux, `ps` asks `ps(1)`
//! elsewhere, which is how macOS answers); everything here is built on that table.
//!
//! This module only looks. Sending signals is the caller's business (through `nix`), and
//! so is deciding what to kill: a pid is paired with its start time so that a caller can
//! tell a process it saw from a later one that reused the pid.

use std::collections::HashMap;

mod info;
#[cfg_attr(not(target_os = "linux"), allow(dead_code))]
mod procfs;
#[cfg_attr(target_os = "linux", allow(dead_code))]
mod ps;

#[cfg(target_os = "linux")]
use procfs as os;
#[cfg(not(target_os = "linux"))]
use ps as os;

pub use info::Info;

/// Every process visible to this one (empty when the platform cannot be asked).
pub fn all() -> Vec<Info> {
    os::all()
}

/// One process, if it exists (zombies included).
pub fn info(pid: i32) -> Option<Info> {
    os::info(pid)
}

/// The start time of `pid` (see [`Info::started`]), if it exists.
pub fn start_time(pid: i32) -> Option<u64> {
    info(pid).map(|i| i.started)
}

/// Whether `pid` exists and is not a zombie.
pub fn is_live(pid: i32) -> bool {
    info(pid).is_some_and(|i| !i.zombie)
}

/// Whether `pid` is still the process that started at `started` and has not exited.
pub fn is_live_since(pid: i32, started: u64) -> bool {
    info(pid).is_some_and(|i| i.started == started && !i.zombie)
}

/// Every live descendant of `root` (pid → start time), from one look at the table.
pub fn descendants(root: i32) -> HashMap<i32, u64> {
    descendants_in(&all(), root)
}

/// Every descendant of `root` in `table` (a table from [`all`]), zombies included: pid →
/// start time.
pub fn descendants_in(table: &[Info], root: i32) -> HashMap<i32, u64> {
    let mut children: HashMap<i32, Vec<&Info>> = HashMap::new();
    for p in table {
        children.entry(p.ppid).or_default().push(p);
    }
    let mut out = HashMap::new();
    let mut stack = vec![root];
    while let Some(parent) = stack.pop() {
        for c in children.get(&parent).map(Vec::as_slice).unwrap_or(&[]) {
            if c.pid != root && out.insert(c.pid, c.started).is_none() {
                stack.push(c.pid);
            }
        }
    }
    out
}

/// Whether any process of group `pgid` is alive (zombies do not count).
pub fn group_has_live_member(pgid: i32) -> bool {
    all().iter().any(|p| p.pgid == pgid && !p.zombie)
}

/// The command line of `pid`: its arguments separated by NUL (Linux) or by spaces (where
/// `ps` reports it).
pub fn cmdline(pid: i32) -> Option<Vec<u8>> {
    os::cmdline(pid)
}

/// The initial environment of `pid` (`KEY=value` entries separated by NUL), where the
/// platform shows it: `/proc/<pid>/environ` on Linux, readable for this user's processes
/// that are not set-uid; `None` elsewhere, and for a zombie's (empty) one.
pub fn environ(pid: i32) -> Option<Vec<u8>> {
    os::environ(pid).filter(|e| !e.is_empty())
}

/// Live processes other than this one whose command line contains `marker` anywhere (for
/// tests and diagnostics).
pub fn pids_with_marker(marker: &str) -> Vec<i32> {
    live_others_whose_cmdline(|c| contains(c, marker.as_bytes()))
}

/// Live processes other than this one whose command line holds `arg` as one whole
/// argument (see [`names_arg`]).
pub fn pids_with_arg(arg: &str) -> Vec<i32> {
    live_others_whose_cmdline(|c| names_arg(c, arg.as_bytes()))
}

fn live_others_whose_cmdline(matches: impl Fn(&[u8]) -> bool) -> Vec<i32> {
    let me = std::process::id() as i32;
    all()
        .iter()
        .filter(|p| p.pid != me && !p.zombie)
        .filter(|p| cmdline(p.pid).is_some_and(|c| matches(&c)))
        .map(|p| p.pid)
        .collect()
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    needle.is_empty() || haystack.windows(needle.len()).any(|w| w == needle)
}

/// Whether a command line holds `arg` as a whole argument. Both NUL and space end an
/// argument: Chromium sometimes rewrites its command line as one space-separated string
/// (seen with a session bus), and `ps` joins arguments with spaces.
pub fn names_arg(cmdline: &[u8], arg: &[u8]) -> bool {
    if arg.is_empty() {
        return false;
    }
    let mut from = 0;
    while let Some(i) = cmdline[from..].windows(arg.len()).position(|w| w == arg) {
        let start = from + i;
        let end = start + arg.len();
        let starts = start == 0 || matches!(cmdline[start - 1], 0 | b' ');
        let ends = end == cmdline.len() || matches!(cmdline[end], 0 | b' ');
        if starts && ends {
            return true;
        }
        from = start + 1;
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(pid: i32, ppid: i32) -> Info {
        Info {
            pid,
            ppid,
            pgid: pid,
            zombie: false,
            started: pid as u64 * 10,
        }
    }

    #[test]
    fn descendants_follow_parents_down_and_not_up_or_sideways() {
        let table = [p(1, 0), p(10, 1), p(11, 10), p(12, 11), p(20, 1), p(13, 10)];
        let d = descendants_in(&table, 10);
        assert_eq!(
            d,
            HashMap::from([(11, 110), (12, 120), (13, 130)]),
            "children, grandchildren, and no sibling or parent"
        );
        assert!(descendants_in(&table, 12).is_empty());
        assert!(descendants_in(&table, 99).is_empty());
    }

    #[test]
    fn arguments_match_whole_with_nul_or_space_separators() {
        let arg = b"--user-data-dir=/tmp/p";
        assert!(names_arg(b"chromium\0--user-data-dir=/tmp/p\0--x", arg));
        assert!(names_arg(b"chromium --user-data-dir=/tmp/p --x", arg));
        assert!(names_arg(b"--user-data-dir=/tmp/p", arg));
        assert!(!names_arg(b"chromium --user-data-dir=/tmp/p2", arg));
        assert!(!names_arg(b"chromium x--user-data-dir=/tmp/p", arg));
        assert!(!names_arg(b"", arg));
    }

    #[test]
    fn this_process_and_its_child_are_seen_with_their_relations() {
        let me = std::process::id() as i32;
        let mine = info(me).expect("this process is in the table");
        assert_eq!(mine.pid, me);
        assert!(!mine.zombie && is_live(me));
        assert!(is_live_since(me, mine.started));
        assert!(!is_live_since(me, mine.started.wrapping_add(1)));
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap();
        let pid = child.id() as i32;
        assert_eq!(info(pid).map(|i| i.ppid), Some(me));
        assert!(descendants(me).contains_key(&pid));
        let _ = child.kill();
        let _ = child.wait();
        assert!(!is_live(pid), "a reaped child is gone");
        assert!(info(-5).is_none());
    }

    #[test]
    fn command_lines_are_searched_for_markers_and_whole_arguments() {
        let marker = format!("marker-{}-314", std::process::id());
        let mut child = std::process::Command::new("sleep")
            .arg(format!("30.{}", std::process::id()))
            .spawn()
            .unwrap();
        let pid = child.id() as i32;
        let arg = format!("30.{}", std::process::id());
        // Until the child has exec'd, its command line is still ours: wait for `sleep`.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while !cmdline(pid).is_some_and(|c| contains(&c, b"sleep")) {
            assert!(
                std::time::Instant::now() < deadline,
                "the child never exec'd sleep"
            );
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        assert!(pids_with_marker(&arg).contains(&pid));
        assert!(pids_with_arg(&arg).contains(&pid));
        assert!(!pids_with_arg(&arg[..arg.len() - 1]).contains(&pid));
        assert!(pids_with_marker(&marker).is_empty());
        let _ = child.kill();
        let _ = child.wait();
        assert!(!pids_with_marker(&arg).contains(&pid));
    }

    /// The `ps` backend (macOS's) agrees with `/proc` here, so it is checked on Linux too.
    #[cfg(target_os = "linux")]
    #[test]
    fn the_ps_backend_agrees_with_procfs() {
        let me = std::process::id() as i32;
        let (a, b) = (procfs::info(me).unwrap(), ps::info(me).unwrap());
        assert_eq!(
            (a.pid, a.ppid, a.pgid, a.zombie),
            (b.pid, b.ppid, b.pgid, b.zombie)
        );
        assert!(ps::all().iter().any(|p| p.pid == me && p.ppid == a.ppid));
        let cmd = ps::cmdline(me).unwrap();
        assert!(!cmd.is_empty() && !cmd.contains(&0), "{cmd:?}");
        assert!(ps::info(-5).is_none());
    }
}

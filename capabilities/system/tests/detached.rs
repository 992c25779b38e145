//! `system.run` against descendants that detach from the call (issue 17): a `setsid`'ed
//! daemon that holds the call's pipes or terminal must neither hold up the timed-out
//! result nor outlive the call, and an orphan that ends by itself must leave no zombie.
//!
//! This binary is the node here: like `openclaw-node run`, it makes itself a child
//! subreaper first ([`openclaw_capability_system::run::adopt_orphans`]), so that orphans
//! of a call come back to it. Being its own test binary, that touches no other test.
//! Processes are looked at in `/proc` directly, not through the code under test.

#![cfg(target_os = "linux")]

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use openclaw_capability_api::{CallContext, Command, ProgressSink};
use openclaw_capability_system::approvals::Security;
use openclaw_capability_system::node_path;
use openclaw_capability_system::run::{RunConfig, RunParams, RunResult, SystemRun, adopt_orphans};

/// The command of the issue, word for word: a shell that ignores TERM and HUP, whose
/// subshell starts a `setsid`'ed `sleep` (its own session, reparented at once) that holds
/// the call's stdout and stderr.
const DETACHED: &str = "trap '' TERM HUP; (setsid sh -c 'sleep 300' &); sleep 300";
/// How long the timed-out result may take: the 800 ms deadline, the test config's kill
/// grace (500 ms), a leftover sweep, and room for a slow machine.
const ANSWER_WITHIN: Duration = Duration::from_secs(6);
/// How long anything else in these tests may take to happen.
const WAIT: Duration = Duration::from_secs(10);

fn config(dir: &std::path::Path) -> Arc<RunConfig> {
    let mut c = RunConfig::new(node_path(), dir.to_path_buf());
    c.security = Security::Full;
    c.heartbeat = Duration::from_millis(100);
    c.kill_grace = Duration::from_millis(500);
    Arc::new(c)
}

fn params(script: &str, pty: bool, timeout_ms: Option<u64>) -> RunParams {
    RunParams {
        command: Some(vec!["sh".into(), "-c".into(), script.into()]),
        pty: Some(pty),
        timeout_ms,
        ..Default::default()
    }
}

/// One process as `/proc/<pid>/stat` tells it: (state, ppid, start time).
fn stat(pid: i32) -> Option<(String, i32, String)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let fields: Vec<&str> = stat[stat.rfind(')')? + 2..].split_whitespace().collect();
    Some((
        fields[0].to_string(),
        fields[1].parse().ok()?,
        fields[19].to_string(),
    ))
}

/// The live `sleep 300`s (and `sh -c 'sleep 300'`s) on the machine, with their start
/// times: the processes [`DETACHED`] starts, wherever they were reparented.
fn sleepers() -> BTreeSet<(i32, String)> {
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| {
            let cmd = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            cmd == b"sleep\x00300\x00" || cmd == b"sh\x00-c\x00sleep 300\x00"
        })
        .filter_map(|pid| {
            let (state, _, started) = stat(pid)?;
            (state != "Z").then_some((pid, started))
        })
        .collect()
}

/// One call at a time in this binary, so that the processes of one are told apart from
/// another's by appearing during it.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Runs `p` as the session does: with a progress sink, and done only when the result is
/// back *and* the sink is closed (the session sends the result after the last progress).
async fn run_to_the_end(run: &SystemRun, p: RunParams, within: Duration) -> Option<RunResult> {
    let (tx, mut rx) = tokio::sync::mpsc::channel(64);
    let mut ctx = CallContext::detached("t");
    ctx.progress = ProgressSink::new(tx);
    tokio::time::timeout(within, async {
        let r = run.run(p, ctx).await.unwrap();
        while rx.recv().await.is_some() {}
        r
    })
    .await
    .ok()
}

/// The zombies whose parent is this process.
fn my_zombies() -> Vec<i32> {
    let me = std::process::id() as i32;
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|&pid| stat(pid).is_some_and(|(s, ppid, _)| s == "Z" && ppid == me))
        .collect()
}

/// Runs [`DETACHED`] with `timeoutMs: 800`, checks the timed-out result arrives (and the
/// progress sink closes) within [`ANSWER_WITHIN`], then that none of the `sleep`s it
/// started is left.
async fn detached_daemon_times_out(pty: bool) -> RunResult {
    adopt_orphans();
    let _one = ONE_AT_A_TIME.lock().await;
    let dir = tempfile::tempdir().unwrap();
    let run = SystemRun(config(dir.path()));
    let before = sleepers();
    let r = run_to_the_end(&run, params(DETACHED, pty, Some(800)), ANSWER_WITHIN).await;
    let ours = || sleepers().difference(&before).cloned().collect::<Vec<_>>();
    let r = r.unwrap_or_else(|| {
        panic!(
            "no result within {ANSWER_WITHIN:?} (pty: {pty}); the call's sleepers: {:?}",
            ours()
        )
    });
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let left = ours();
        if left.is_empty() {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "processes of the call (pid, start time) outlived it by {WAIT:?} (pty: {pty}): {left:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    r
}

/// The shape is the one every timed-out call already has (and the reference's):
/// `exitCode: 124, timedOut: true, success: false`.
fn assert_timed_out(r: &RunResult) {
    assert!(r.timed_out, "{r:?}");
    assert_eq!(r.exit_code, Some(124), "{r:?}");
    assert!(!r.success && r.error.is_none(), "{r:?}");
}

#[tokio::test]
async fn a_setsid_daemon_holding_the_pipes_does_not_hold_up_the_deadline() {
    let r = detached_daemon_times_out(false).await;
    assert_timed_out(&r);
    assert!(!r.pty);
}

#[tokio::test]
async fn a_setsid_daemon_holding_the_terminal_does_not_hold_up_the_deadline() {
    let r = detached_daemon_times_out(true).await;
    assert_timed_out(&r);
    assert!(r.pty);
}

/// Output printed before the deadline is still reported when a daemon holds the pipes.
#[tokio::test]
async fn what_was_printed_before_the_deadline_is_reported() {
    adopt_orphans();
    let _one = ONE_AT_A_TIME.lock().await;
    let dir = tempfile::tempdir().unwrap();
    let run = SystemRun(config(dir.path()));
    for pty in [false, true] {
        let script = format!("echo before; {DETACHED}");
        let r = run_to_the_end(&run, params(&script, pty, Some(800)), ANSWER_WITHIN)
            .await
            .unwrap_or_else(|| panic!("no result within {ANSWER_WITHIN:?} (pty: {pty})"));
        assert_timed_out(&r);
        assert_eq!(r.stdout.trim_end(), "before", "pty: {pty}");
    }
}

/// An orphan of the call (its parent, a subshell, is gone at once) that ends by itself
/// while the call still runs comes back to this process as a zombie: it is reaped, in
/// pipe and PTY mode.
#[tokio::test]
async fn an_orphan_that_exits_during_the_call_leaves_no_zombie() {
    adopt_orphans();
    let dir = tempfile::tempdir().unwrap();
    let work = tempfile::tempdir().unwrap();
    let run = SystemRun(config(dir.path()));
    for pty in [false, true] {
        let pid_file = work.path().join(format!("orphan-{pty}.pid"));
        let _ = std::fs::remove_file(&pid_file);
        // The orphan writes its pid and exits; the command waits until it is gone from
        // `/proc` as a live process (it is a zombie or reaped), then a little longer.
        let script = format!(
            "(sh -c 'echo $$ > {f}; exit 0' &); \
             while [ ! -s {f} ]; do sleep 0.01; done; \
             pid=$(cat {f}); \
             while grep -qv '^[0-9]* ([^)]*) Z' /proc/$pid/stat 2>/dev/null; do sleep 0.01; done; \
             sleep 1; echo done",
            f = pid_file.display()
        );
        let r = run_to_the_end(&run, params(&script, pty, Some(20_000)), WAIT)
            .await
            .expect("the call ends");
        assert_eq!(r.stdout.trim_end(), "done", "pty: {pty}: {r:?}");
        let pid: i32 = std::fs::read_to_string(&pid_file)
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        let deadline = tokio::time::Instant::now() + WAIT;
        while stat(pid).is_some_and(|(s, ppid, _)| s == "Z" && ppid == std::process::id() as i32) {
            assert!(
                tokio::time::Instant::now() < deadline,
                "the orphan {pid} is still this process's zombie {WAIT:?} after its call (pty: {pty}); zombies: {:?}",
                my_zombies()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// An orphan no call claims (here: the member of a group whose leader, like a browser's
/// main process, died first) comes back to the subreaper node; when it dies it must be
/// reaped rather than stay the node's zombie until the node exits.
#[tokio::test]
async fn an_orphan_no_call_claims_is_reaped_when_it_dies() {
    use std::os::unix::process::CommandExt as _;
    let _one = ONE_AT_A_TIME.lock().await;
    adopt_orphans();
    let mut leader = std::process::Command::new("sh")
        .args(["-c", "sleep 0.3 & echo $!"])
        .process_group(0)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = String::new();
    std::io::Read::read_to_string(leader.stdout.as_mut().unwrap(), &mut out).unwrap();
    leader.wait().unwrap();
    let orphan: i32 = out.trim().parse().unwrap();
    let deadline = tokio::time::Instant::now() + WAIT;
    // It is the node's child now, then its zombie for an instant, then gone.
    while std::fs::metadata(format!("/proc/{orphan}")).is_ok() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the orphan {orphan} is still {:?} {WAIT:?} after it was orphaned",
            stat(orphan)
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

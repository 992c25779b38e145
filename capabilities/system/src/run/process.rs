//! Running one command so that nothing outlives its call: the child leads its own process
//! group; on timeout or cancel the group and every descendant seen (including ones that
//! left the group with `setsid`) get SIGTERM, a grace period, then SIGKILL; after a normal
//! exit, leftovers in the group are killed too. Output is captured with a total cap that
//! keeps the head and keeps draining the pipes (bounded memory, no blocked child), and is
//! streamed as progress with an empty heartbeat chunk while the command is silent.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use nix::sys::signal::{Signal, kill, killpg};
use nix::unistd::Pid;
use openclaw_capability_api::ProgressSink;
use tokio::io::AsyncReadExt as _;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// The reference cap on captured output (stdout + stderr together).
pub const OUTPUT_CAP: usize = 200_000;
/// The marker appended to truncated output.
pub const TRUNCATION_MARKER: &str = "... (truncated)";
/// The exit code reported for a timed-out command (as the reference node reports it).
pub const TIMEOUT_EXIT_CODE: i32 = 124;

/// What to run and how.
#[derive(Debug, Clone)]
pub struct Spec {
    /// argv (argv[0] resolved or pinned by the caller).
    pub argv: Vec<String>,
    /// Working directory.
    pub cwd: PathBuf,
    /// The complete environment.
    pub env: BTreeMap<String, String>,
    /// Kill after this long.
    pub timeout: Option<Duration>,
    /// Capture at most this many bytes of output.
    pub output_cap: usize,
    /// Run in a pseudo-terminal instead of pipes.
    pub pty: bool,
    /// Send an empty progress chunk after this long without output.
    pub heartbeat: Duration,
    /// Between SIGTERM and SIGKILL.
    pub kill_grace: Duration,
}

/// How it ended.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Outcome {
    /// Exit status (None when killed by a signal or never started).
    pub exit_code: Option<i32>,
    /// The signal that ended it.
    pub signal: Option<i32>,
    /// The timeout fired.
    pub timed_out: bool,
    /// The call was cancelled.
    pub cancelled: bool,
    /// Captured stdout (the PTY transcript in PTY mode).
    pub stdout: String,
    /// Captured stderr (empty in PTY mode).
    pub stderr: String,
    /// Output went over the cap.
    pub truncated: bool,
    /// Spawn error.
    pub error: Option<String>,
    /// How long it ran.
    pub duration: Duration,
}

/// A capped two-stream buffer shared by the readers.
#[derive(Default)]
struct Capture {
    stdout: Vec<u8>,
    stderr: Vec<u8>,
    total: usize,
    truncated: bool,
    last_output: Option<Instant>,
}

impl Capture {
    fn push(&mut self, stderr: bool, bytes: &[u8], cap: usize) -> usize {
        self.last_output = Some(Instant::now());
        let room = cap.saturating_sub(self.total);
        let take = room.min(bytes.len());
        if take < bytes.len() {
            self.truncated = true;
        }
        let target = if stderr {
            &mut self.stderr
        } else {
            &mut self.stdout
        };
        target.extend_from_slice(&bytes[..take]);
        self.total += take;
        take
    }
}

/// The pid and start time of a process (start time guards against pid reuse).
fn start_time(pid: i32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &stat[stat.rfind(')')? + 2..];
    rest.split_whitespace().nth(19)?.parse().ok()
}

/// Every live descendant of `root` (pid → start time), from one walk of /proc.
pub fn descendants(root: i32) -> HashMap<i32, u64> {
    let mut children: HashMap<i32, Vec<i32>> = HashMap::new();
    if let Ok(dir) = std::fs::read_dir("/proc") {
        for entry in dir.flatten() {
            let Some(pid) = entry
                .file_name()
                .to_str()
                .and_then(|n| n.parse::<i32>().ok())
            else {
                continue;
            };
            let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
                continue;
            };
            let Some(close) = stat.rfind(')') else {
                continue;
            };
            let ppid = stat[close + 2..]
                .split_whitespace()
                .nth(1)
                .and_then(|p| p.parse::<i32>().ok());
            if let Some(ppid) = ppid {
                children.entry(ppid).or_default().push(pid);
            }
        }
    }
    let mut out = HashMap::new();
    let mut stack = vec![root];
    while let Some(p) = stack.pop() {
        for &c in children.get(&p).map(Vec::as_slice).unwrap_or(&[]) {
            if let Some(st) = start_time(c)
                && out.insert(c, st).is_none()
            {
                stack.push(c);
            }
        }
    }
    out
}

/// Processes a call has started, so they can be killed even after leaving its group.
#[derive(Default)]
struct Tree {
    pgid: Option<i32>,
    seen: HashMap<i32, u64>,
}

impl Tree {
    fn refresh(&mut self, root: i32) {
        self.seen.extend(descendants(root));
    }

    fn signal_all(&self, sig: Signal) {
        if let Some(pgid) = self.pgid {
            let _ = killpg(Pid::from_raw(pgid), sig);
        }
        for (&pid, &st) in &self.seen {
            if start_time(pid) == Some(st) {
                let _ = kill(Pid::from_raw(pid), sig);
            }
        }
    }

    fn any_alive(&self) -> bool {
        // Zombies (exited, not yet reaped by their parent) do not count: they hold no
        // resources and cannot be killed again.
        let group_alive = self.pgid.is_some_and(group_has_live_member);
        group_alive
            || self
                .seen
                .iter()
                .any(|(&pid, &st)| start_time(pid) == Some(st) && !is_zombie(pid))
    }
}

/// Whether any non-zombie process is in process group `pgid` (field 5 of /proc/*/stat).
fn group_has_live_member(pgid: i32) -> bool {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return killpg(Pid::from_raw(pgid), None).is_ok();
    };
    dir.flatten().any(|entry| {
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            return false;
        };
        let Some(close) = stat.rfind(')') else {
            return false;
        };
        let mut fields = stat[close + 2..].split_whitespace();
        let state = fields.next();
        let pgrp = fields.nth(1).and_then(|p| p.parse::<i32>().ok());
        pgrp == Some(pgid) && state != Some("Z")
    })
}

fn is_zombie(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| s.rfind(')').map(|i| s[i + 2..].starts_with('Z')))
        .unwrap_or(true)
}

/// TERM, grace, KILL for the whole tree.
async fn kill_tree(tree: &Mutex<Tree>, root: Option<i32>, grace: Duration) {
    {
        let mut t = tree.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(r) = root {
            t.refresh(r);
        }
        t.signal_all(Signal::SIGTERM);
    }
    let deadline = Instant::now() + grace;
    while Instant::now() < deadline {
        if !tree.lock().unwrap_or_else(|p| p.into_inner()).any_alive() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    tree.lock()
        .unwrap_or_else(|p| p.into_inner())
        .signal_all(Signal::SIGKILL);
}

fn finish_text(bytes: &[u8], pty: bool) -> String {
    let text = String::from_utf8_lossy(bytes).into_owned();
    if pty {
        text.replace("\r\n", "\n")
    } else {
        text
    }
}

/// Applies the reference truncation rule: the marker goes after a newline on stderr if
/// stderr has content, else on stdout.
pub fn mark_truncated(stdout: &mut String, stderr: &mut String) {
    let target = if stderr.trim().is_empty() {
        stdout
    } else {
        stderr
    };
    if !target.is_empty() && !target.ends_with('\n') {
        target.push('\n');
    }
    target.push_str(TRUNCATION_MARKER);
}

/// Runs `spec`; never panics, never leaves a process behind.
pub async fn run(spec: Spec, cancel: CancellationToken, progress: ProgressSink) -> Outcome {
    if spec.pty {
        return super::pty::run(spec, cancel, progress).await;
    }
    let started = Instant::now();
    let mut cmd = tokio::process::Command::new(&spec.argv[0]);
    cmd.args(&spec.argv[1..])
        .current_dir(&spec.cwd)
        .env_clear()
        .envs(&spec.env)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => {
            return Outcome {
                error: Some(format!("spawn {} failed: {e}", spec.argv[0])),
                duration: started.elapsed(),
                ..Default::default()
            };
        }
    };
    let pid = child.id().map(|p| p as i32);
    let tree = Arc::new(Mutex::new(Tree {
        pgid: pid,
        seen: HashMap::new(),
    }));
    // Whatever happens to this future (even a drop), the tree dies with it.
    struct Guard(Arc<Mutex<Tree>>);
    impl Drop for Guard {
        fn drop(&mut self) {
            self.0
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .signal_all(Signal::SIGKILL);
        }
    }
    let guard = Guard(tree.clone());

    let capture = Arc::new(Mutex::new(Capture::default()));
    let cap = spec.output_cap;
    let mut readers = Vec::new();
    for (is_err, stream) in [
        (
            false,
            child
                .stdout
                .take()
                .map(|s| Box::new(s) as Box<dyn tokio::io::AsyncRead + Unpin + Send>),
        ),
        (
            true,
            child
                .stderr
                .take()
                .map(|s| Box::new(s) as Box<dyn tokio::io::AsyncRead + Unpin + Send>),
        ),
    ] {
        let Some(mut stream) = stream else { continue };
        let capture = capture.clone();
        let progress = progress.clone();
        readers.push(tokio::spawn(async move {
            let mut buf = vec![0u8; 16 * 1024];
            loop {
                let n = match stream.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => n,
                };
                let kept =
                    capture
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .push(is_err, &buf[..n], cap);
                if kept > 0 && progress.is_enabled() {
                    progress
                        .send(String::from_utf8_lossy(&buf[..kept]).into_owned())
                        .await;
                }
            }
        }));
    }

    let deadline = spec.timeout.map(|t| Instant::now() + t);
    let mut beat = tokio::time::interval(spec.heartbeat.max(Duration::from_millis(50)));
    beat.tick().await;
    let mut timed_out = false;
    let mut cancelled = false;
    let status = loop {
        tokio::select! {
            status = child.wait() => break status.ok(),
            _ = async { match deadline { Some(d) => tokio::time::sleep_until(d).await, None => std::future::pending().await } } => {
                timed_out = true;
                kill_tree(&tree, pid, spec.kill_grace).await;
                break child.wait().await.ok();
            }
            _ = cancel.cancelled() => {
                cancelled = true;
                kill_tree(&tree, pid, spec.kill_grace).await;
                break child.wait().await.ok();
            }
            _ = beat.tick() => {
                if let Some(p) = pid {
                    tree.lock().unwrap_or_else(|p| p.into_inner()).refresh(p);
                }
                let silent = capture
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .last_output
                    .is_none_or(|t| t.elapsed() >= spec.heartbeat);
                if silent && progress.is_enabled() {
                    progress.send(String::new()).await;
                }
            }
        }
    };
    // Nothing outlives the call: background jobs left in the group (or escaped with
    // setsid) are killed, which also closes the pipes they held. The leader is reaped by
    // now, so an empty group answers ESRCH and the /proc walk is skipped (the common case).
    let leftovers = {
        let t = tree.lock().unwrap_or_else(|p| p.into_inner());
        t.pgid
            .is_some_and(|g| killpg(Pid::from_raw(g), None).is_ok())
            || t.seen.iter().any(|(&pid, &st)| start_time(pid) == Some(st))
    };
    if leftovers || timed_out || cancelled {
        kill_tree(&tree, None, Duration::from_millis(200)).await;
    }
    for r in readers {
        let _ = tokio::time::timeout(Duration::from_secs(2), r).await;
    }
    drop(guard);
    let c = std::mem::take(&mut *capture.lock().unwrap_or_else(|p| p.into_inner()));
    let mut stdout = finish_text(&c.stdout, false);
    let mut stderr = finish_text(&c.stderr, false);
    if c.truncated {
        mark_truncated(&mut stdout, &mut stderr);
    }
    use std::os::unix::process::ExitStatusExt as _;
    let (mut exit_code, signal) = match status {
        Some(s) => (s.code(), s.signal()),
        None => (None, None),
    };
    if timed_out {
        exit_code = Some(TIMEOUT_EXIT_CODE);
    }
    Outcome {
        exit_code,
        signal,
        timed_out,
        cancelled,
        stdout,
        stderr,
        truncated: c.truncated,
        error: None,
        duration: started.elapsed(),
    }
}

/// Pids whose command line contains `marker` (for tests and diagnostics).
pub fn pids_with_marker(marker: &str) -> Vec<i32> {
    let mut out = Vec::new();
    let me = std::process::id() as i32;
    let mut seen = HashSet::new();
    if let Ok(dir) = std::fs::read_dir("/proc") {
        for entry in dir.flatten() {
            let Some(pid) = entry
                .file_name()
                .to_str()
                .and_then(|n| n.parse::<i32>().ok())
            else {
                continue;
            };
            if pid == me || is_zombie(pid) {
                continue;
            }
            if let Ok(cmd) = std::fs::read(entry.path().join("cmdline"))
                && String::from_utf8_lossy(&cmd).contains(marker)
                && seen.insert(pid)
            {
                out.push(pid);
            }
        }
    }
    out
}

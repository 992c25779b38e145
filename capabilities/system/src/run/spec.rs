//! What `system.run` hands a backend and what it gets back: [`Spec`] in, [`Outcome`] out,
//! the same for the pipe backend (`pipes`) and the PTY backend (`pty`).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use tokio::time::Instant;

/// The reference cap on captured output (stdout + stderr together).
pub const OUTPUT_CAP: usize = 200_000;
/// The marker appended to truncated output.
pub const TRUNCATION_MARKER: &str = "... (truncated)";
/// The exit code reported for a timed-out command (as the reference node reports it).
pub const TIMEOUT_EXIT_CODE: i32 = 124;

/// What to run and how.
#[derive(Debug, Clone)]
pub struct Spec {
    /// argv (`argv[0]` resolved or pinned by the caller).
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

impl Outcome {
    /// A command that never started.
    pub fn failed(error: String, started: Instant) -> Self {
        Self {
            error: Some(error),
            duration: started.elapsed(),
            ..Default::default()
        }
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

/// The result text of a spawn that failed, as the reference words it: the error's name
/// (`ENOENT`, `EACCES` …) in a fixed sentence.
pub fn launch_error(e: &std::io::Error) -> String {
    let name = match e.raw_os_error() {
        Some(code) => format!("{:?}", nix::errno::Errno::from_raw(code)),
        None if e.kind() == std::io::ErrorKind::InvalidInput => "ERR_INVALID_ARG_VALUE".into(),
        None => format!("{:?}", e.kind()),
    };
    format!("Command failed during launch or output capture ({name})")
}

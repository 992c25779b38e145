//! The pipe backend: the command runs with stdin closed and stdout/stderr on pipes, as the
//! leader of its own process group. One task per pipe drains it into the shared
//! [`Capture`] and streams what was kept as progress; [`supervise`] does the rest.

use std::process::Stdio;
use std::time::Duration;

use openclaw_capability_api::ProgressSink;
use tokio::io::{AsyncRead, AsyncReadExt as _};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::capture::{Capture, Stream};
use super::orphans;
use super::spec::{Outcome, Spec, launch_error};
use super::supervise::{Exit, supervise};
use super::tree::Tree;

/// How long the pipe readers may take to finish once the tree is gone; then they stop.
const READER_DRAIN: Duration = Duration::from_secs(2);

/// Runs `spec` on pipes; never panics, never leaves a process behind.
pub(super) async fn run(spec: Spec, cancel: CancellationToken, progress: ProgressSink) -> Outcome {
    let started = Instant::now();
    let mark = orphans::new_mark();
    let mut cmd = tokio::process::Command::new(&spec.argv[0]);
    cmd.args(&spec.argv[1..])
        .current_dir(&spec.cwd)
        .env_clear()
        .envs(&spec.env)
        .env(orphans::MARK_VAR, &mark)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => return Outcome::failed(launch_error(&e), started),
    };
    let tree = Tree::new(child.id().map(|p| p as i32), mark);
    // Whatever happens to this future (even a drop), the tree dies with it.
    let guard = tree.guard();

    let capture = Capture::new(spec.output_cap);
    let mut readers = Vec::new();
    if let Some(out) = child.stdout.take() {
        readers.push(tokio::spawn(drain(
            out,
            Stream::Stdout,
            capture.clone(),
            progress.clone(),
        )));
    }
    if let Some(err) = child.stderr.take() {
        readers.push(tokio::spawn(drain(
            err,
            Stream::Stderr,
            capture.clone(),
            progress.clone(),
        )));
    }
    let exit = async {
        use std::os::unix::process::ExitStatusExt as _;
        child.wait().await.ok().map(|s| Exit {
            code: s.code(),
            signal: s.signal(),
        })
    };
    let ended = supervise(exit, &tree, &spec, &capture, &cancel, &progress).await;
    // A holder of the pipes that escaped every kill must not hold up the result, nor keep
    // the call's progress sink open (the caller waits for it to close): stop reading.
    for mut r in readers {
        if tokio::time::timeout(READER_DRAIN, &mut r).await.is_err() {
            r.abort();
        }
    }
    drop(guard);
    ended.outcome(capture.take(false), started)
}

/// Reads one pipe to its end into `capture`, streaming the kept bytes as progress.
async fn drain(
    mut pipe: impl AsyncRead + Unpin,
    stream: Stream,
    capture: Capture,
    progress: ProgressSink,
) {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let n = match pipe.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        let kept = capture.push(stream, &buf[..n]);
        if kept > 0 && progress.is_enabled() {
            progress
                .send(String::from_utf8_lossy(&buf[..kept]).into_owned())
                .await;
        }
    }
}

//! The PTY backend: the command runs on a pseudo-terminal (`portable-pty`), so programs
//! that behave differently on a terminal (colour, prompts, `tty`) see one. The result is
//! the terminal transcript with `\r\n` normalised to `\n`, in `stdout`; `stderr` is empty.
//! The child leads its own session and so its own process group, which makes its tree the
//! same kind of [`Tree`] as in pipe mode, killed the same way on timeout, cancel, drop and
//! after it exits (portable-pty's own `kill` would only hang up the leader). Reading the
//! terminal and waiting for the child block, so each runs on its own thread.

use std::io::Read as _;
use std::time::Duration;

use openclaw_capability_api::ProgressSink;
use portable_pty::{CommandBuilder, PtySize, native_pty_system};
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::capture::{Capture, Stream};
use super::orphans;
use super::spec::{Outcome, Spec};
use super::supervise::{Exit, supervise};
use super::tree::Tree;

/// The terminal size the command sees.
const SIZE: PtySize = PtySize {
    rows: 24,
    cols: 120,
    pixel_width: 0,
    pixel_height: 0,
};
/// How long the terminal reader may take to finish once the tree is gone.
const READER_DRAIN: Duration = Duration::from_secs(2);

/// Runs `spec` on a PTY; never panics, never leaves a process behind.
pub(super) async fn run(spec: Spec, cancel: CancellationToken, progress: ProgressSink) -> Outcome {
    let started = Instant::now();
    let pty = match native_pty_system().openpty(SIZE) {
        Ok(p) => p,
        Err(e) => {
            return Outcome::failed(format!("cannot open a pseudo-terminal: {e}"), started);
        }
    };
    let mut cmd = CommandBuilder::new(&spec.argv[0]);
    cmd.args(&spec.argv[1..]);
    cmd.cwd(&spec.cwd);
    cmd.env_clear();
    for (k, v) in &spec.env {
        cmd.env(k, v);
    }
    let mark = orphans::new_mark();
    cmd.env(orphans::MARK_VAR, &mark);
    let mut child = match pty.slave.spawn_command(cmd) {
        Ok(c) => c,
        Err(e) => {
            let text = match e.downcast_ref::<std::io::Error>() {
                Some(io) => super::spec::launch_error(io),
                None => format!("Command failed during launch or output capture ({e})"),
            };
            return Outcome::failed(text, started);
        }
    };
    drop(pty.slave);
    let tree = Tree::new(child.process_id().map(|p| p as i32), mark);
    // Whatever happens to this future (even a drop), the tree dies with it.
    let guard = tree.guard();
    let reader = match pty.master.try_clone_reader() {
        Ok(r) => r,
        Err(e) => {
            return Outcome::failed(format!("cannot read the pseudo-terminal: {e}"), started);
        }
    };

    let capture = Capture::new(spec.output_cap);
    let (chunks, forwarder) = if progress.is_enabled() {
        let (tx, rx) = mpsc::channel::<Vec<u8>>(16);
        (Some(tx), Some(tokio::spawn(forward(rx, progress.clone()))))
    } else {
        (None, None)
    };
    // Resolves when the reader thread ends (its sender is dropped with it). Waited on
    // with a timeout rather than joined: a process that escaped every kill and still holds
    // the terminal must not hold up the call, nor the runtime's shutdown.
    let (reader_done, reader_ended) = tokio::sync::oneshot::channel::<()>();
    std::thread::spawn({
        let capture = capture.clone();
        move || {
            drain(reader, &capture, chunks);
            drop(reader_done);
        }
    });
    let (exit_tx, exit_rx) = tokio::sync::oneshot::channel();
    std::thread::spawn(move || {
        let _ = exit_tx.send(child.wait());
    });
    let exit = async {
        exit_rx.await.ok().and_then(Result::ok).map(|s| Exit {
            code: Some(s.exit_code() as i32),
            signal: None,
        })
    };
    let ended = supervise(exit, &tree, &spec, &capture, &cancel, &progress).await;
    drop(pty.master);
    let _ = tokio::time::timeout(READER_DRAIN, reader_ended).await;
    // A holder of the terminal that escaped every kill must not keep the call's progress
    // sink open (the caller waits for it to close): stop forwarding. The reader thread
    // stays blocked in `read` until that holder goes; what it reads then is dropped.
    if let Some(mut f) = forwarder
        && tokio::time::timeout(READER_DRAIN, &mut f).await.is_err()
    {
        f.abort();
    }
    drop(guard);
    ended.outcome(capture.take(true), started)
}

/// Reads the terminal until every holder of its other end is gone, into `capture`, and
/// passes the kept bytes on to [`forward`].
fn drain(
    mut terminal: Box<dyn std::io::Read + Send>,
    capture: &Capture,
    chunks: Option<mpsc::Sender<Vec<u8>>>,
) {
    let mut buf = [0u8; 8192];
    loop {
        let n = match terminal.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        let kept = capture.push(Stream::Stdout, &buf[..n]);
        if kept > 0
            && let Some(tx) = &chunks
        {
            let _ = tx.blocking_send(buf[..kept].to_vec());
        }
    }
}

/// Streams terminal chunks as progress, `\r\n` normalised as in the transcript.
async fn forward(mut chunks: mpsc::Receiver<Vec<u8>>, progress: ProgressSink) {
    while let Some(chunk) = chunks.recv().await {
        progress
            .send(String::from_utf8_lossy(&chunk).replace("\r\n", "\n"))
            .await;
    }
}

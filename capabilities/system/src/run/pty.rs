//! PTY mode: the command runs on a pseudo-terminal (`portable-pty`), so programs that
//! behave differently on a terminal (colour, prompts, `tty`) see one. The result is the
//! terminal transcript with `\r\n` normalised to `\n`, in `stdout`; `stderr` is empty.
//! The child leads its own session, so its process group is killed the same way as in
//! pipe mode. Reading the PTY blocks, so it runs on a blocking thread.

use std::io::Read as _;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use openclaw_capability_api::ProgressSink;
use portable_pty::{CommandBuilder, PtySize, native_pty_system};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::process::{Outcome, Spec, TIMEOUT_EXIT_CODE, mark_truncated};

fn kill_group(pgid: Option<i32>, sig: Signal) {
    if let Some(g) = pgid {
        let _ = killpg(Pid::from_raw(g), sig);
    }
}

/// Runs `spec` on a PTY.
pub async fn run(spec: Spec, cancel: CancellationToken, progress: ProgressSink) -> Outcome {
    let started = Instant::now();
    let fail = |e: String| Outcome {
        error: Some(e),
        duration: started.elapsed(),
        ..Default::default()
    };
    let pty = match native_pty_system().openpty(PtySize {
        rows: 24,
        cols: 120,
        pixel_width: 0,
        pixel_height: 0,
    }) {
        Ok(p) => p,
        Err(e) => return fail(format!("cannot open a pseudo-terminal: {e}")),
    };
    let mut cmd = CommandBuilder::new(&spec.argv[0]);
    cmd.args(&spec.argv[1..]);
    cmd.cwd(&spec.cwd);
    cmd.env_clear();
    for (k, v) in &spec.env {
        cmd.env(k, v);
    }
    let mut child = match pty.slave.spawn_command(cmd) {
        Ok(c) => c,
        Err(e) => return fail(format!("spawn {} failed: {e}", spec.argv[0])),
    };
    drop(pty.slave);
    let pgid = child.process_id().map(|p| p as i32);
    let mut reader = match pty.master.try_clone_reader() {
        Ok(r) => r,
        Err(e) => {
            kill_group(pgid, Signal::SIGKILL);
            return fail(format!("cannot read the pseudo-terminal: {e}"));
        }
    };
    let cap = spec.output_cap;
    let transcript = Arc::new(Mutex::new((Vec::<u8>::new(), false)));
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Vec<u8>>(16);
    let reader_task = std::thread::spawn({
        let transcript = transcript.clone();
        move || {
            let mut buf = [0u8; 8192];
            loop {
                match reader.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        let mut t = transcript.lock().unwrap_or_else(|p| p.into_inner());
                        let room = cap.saturating_sub(t.0.len());
                        let take = room.min(n);
                        if take < n {
                            t.1 = true;
                        }
                        t.0.extend_from_slice(&buf[..take]);
                        drop(t);
                        if take > 0 {
                            let _ = tx.blocking_send(buf[..take].to_vec());
                        }
                    }
                }
            }
        }
    });
    let (wait_tx, mut wait_rx) = tokio::sync::oneshot::channel();
    let mut killer = child.clone_killer();
    std::thread::spawn(move || {
        let _ = wait_tx.send(child.wait());
    });
    let deadline = spec.timeout.map(|t| Instant::now() + t);
    let mut timed_out = false;
    let mut cancelled = false;
    let mut beat = tokio::time::interval(spec.heartbeat.max(Duration::from_millis(50)));
    beat.tick().await;
    let mut last_output = Instant::now();
    let status = loop {
        tokio::select! {
            s = &mut wait_rx => break s.ok().and_then(|r| r.ok()),
            Some(chunk) = rx.recv() => {
                last_output = Instant::now();
                if progress.is_enabled() {
                    progress.send(String::from_utf8_lossy(&chunk).replace("\r\n", "\n")).await;
                }
            }
            _ = async { match deadline { Some(d) => tokio::time::sleep_until(d).await, None => std::future::pending().await } }, if !timed_out && !cancelled => {
                timed_out = true;
                kill_group(pgid, Signal::SIGTERM);
                let grace = spec.kill_grace;
                tokio::time::sleep(grace).await;
                kill_group(pgid, Signal::SIGKILL);
                let _ = killer.kill();
            }
            _ = cancel.cancelled(), if !timed_out && !cancelled => {
                cancelled = true;
                kill_group(pgid, Signal::SIGTERM);
                tokio::time::sleep(spec.kill_grace).await;
                kill_group(pgid, Signal::SIGKILL);
                let _ = killer.kill();
            }
            _ = beat.tick() => {
                if last_output.elapsed() >= spec.heartbeat && progress.is_enabled() {
                    progress.send(String::new()).await;
                }
            }
        }
    };
    kill_group(pgid, Signal::SIGKILL);
    drop(pty.master);
    let _ = tokio::task::spawn_blocking(move || reader_task.join()).await;
    let (bytes, truncated) =
        std::mem::take(&mut *transcript.lock().unwrap_or_else(|p| p.into_inner()));
    let mut stdout = String::from_utf8_lossy(&bytes).replace("\r\n", "\n");
    let mut stderr = String::new();
    if truncated {
        mark_truncated(&mut stdout, &mut stderr);
    }
    let exit_code = if timed_out {
        Some(TIMEOUT_EXIT_CODE)
    } else {
        status.map(|s| s.exit_code() as i32)
    };
    Outcome {
        exit_code,
        signal: None,
        timed_out,
        cancelled,
        stdout,
        stderr,
        truncated,
        error: None,
        duration: started.elapsed(),
    }
}

//! The output of one command, captured under a total cap: the head is kept, the rest is
//! counted as truncation while the readers keep draining (bounded memory, no blocked
//! child). Both backends fill it; [`super::supervise`] reads when output last arrived to
//! decide on a heartbeat.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::time::Instant;

use super::spec::mark_truncated;

/// Which stream a chunk came from (a PTY has only [`Stream::Stdout`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Stream {
    /// Standard output, or the terminal transcript.
    Stdout,
    /// Standard error.
    Stderr,
}

/// A capped two-stream buffer shared by the readers (cloning shares it).
#[derive(Clone)]
pub(super) struct Capture {
    cap: usize,
    inner: Arc<Mutex<Buffers>>,
}

#[derive(Default)]
struct Buffers {
    stdout: Vec<u8>,
    stderr: Vec<u8>,
    total: usize,
    truncated: bool,
    last_output: Option<Instant>,
}

/// The captured text at the end of a call.
pub(super) struct Captured {
    /// stdout (the transcript with `\r\n` as `\n` for a PTY), marked if truncated.
    pub stdout: String,
    /// stderr, marked if truncated.
    pub stderr: String,
    /// Output went over the cap.
    pub truncated: bool,
}

impl Capture {
    /// An empty capture that keeps at most `cap` bytes over both streams.
    pub(super) fn new(cap: usize) -> Self {
        Self {
            cap,
            inner: Arc::default(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Buffers> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Keeps what fits of `bytes`; returns how many bytes were kept (the prefix of `bytes`
    /// worth streaming as progress).
    pub(super) fn push(&self, stream: Stream, bytes: &[u8]) -> usize {
        let mut b = self.lock();
        b.last_output = Some(Instant::now());
        let take = self.cap.saturating_sub(b.total).min(bytes.len());
        if take < bytes.len() {
            b.truncated = true;
        }
        match stream {
            Stream::Stdout => b.stdout.extend_from_slice(&bytes[..take]),
            Stream::Stderr => b.stderr.extend_from_slice(&bytes[..take]),
        }
        b.total += take;
        take
    }

    /// No output for at least `quiet` (or none yet).
    pub(super) fn silent_for(&self, quiet: Duration) -> bool {
        self.lock().last_output.is_none_or(|t| t.elapsed() >= quiet)
    }

    /// Takes the text out (lossy UTF-8), with `\r\n` normalised for a terminal transcript
    /// and the truncation marker applied.
    pub(super) fn take(&self, terminal: bool) -> Captured {
        let b = std::mem::take(&mut *self.lock());
        let text = |bytes: &[u8]| {
            let t = String::from_utf8_lossy(bytes).into_owned();
            if terminal { t.replace("\r\n", "\n") } else { t }
        };
        let (mut stdout, mut stderr) = (text(&b.stdout), text(&b.stderr));
        if b.truncated {
            mark_truncated(&mut stdout, &mut stderr);
        }
        Captured {
            stdout,
            stderr,
            truncated: b.truncated,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cap_spans_both_streams_and_marks_the_one_with_content() {
        let c = Capture::new(5);
        assert_eq!(c.push(Stream::Stdout, b"abc"), 3);
        assert_eq!(c.push(Stream::Stderr, b"def"), 2);
        assert_eq!(c.push(Stream::Stdout, b"g"), 0);
        let t = c.take(false);
        assert!(t.truncated);
        assert_eq!(t.stdout, "abc");
        assert_eq!(t.stderr, "de\n... (truncated)");
    }

    #[test]
    fn a_terminal_transcript_loses_its_carriage_returns() {
        let c = Capture::new(100);
        assert!(c.silent_for(Duration::from_secs(3600)));
        c.push(Stream::Stdout, b"a\r\nb\r\n");
        assert!(!c.silent_for(Duration::from_secs(3600)));
        let t = c.take(true);
        assert_eq!((t.stdout.as_str(), t.truncated), ("a\nb\n", false));
    }
}

//! The local status endpoint: a Unix socket in the node's state directory (mode 0600, so
//! only the node's own user can read it) that answers one request per connection:
//! `status` (the node's state as JSON), `metrics` (counters and histograms as JSON) or
//! `prometheus` (the same in Prometheus text). `openclaw-node status` is its client; it
//! answers whatever the session is doing, connected or not.
//!
//! This module owns the socket, the metrics types and the MCP servers' view ([`mcp`]);
//! what goes into the status document is the caller's [`StatusSource`].

pub mod mcp;
pub mod metrics;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt as _, AsyncReadExt as _, AsyncWriteExt as _, BufReader};
use tokio::net::{UnixListener, UnixStream};
use tokio_util::sync::CancellationToken;

pub use metrics::{FailureKind, Metrics, MetricsSnapshot};

/// The socket's file name in the state directory.
pub const SOCKET_NAME: &str = "node.sock";
/// How long a client may take to send its request line.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(2);
/// Longest request line.
const MAX_REQUEST: usize = 64;

/// What the endpoint reports.
pub trait StatusSource: Send + Sync + 'static {
    /// The status document.
    fn status(&self) -> serde_json::Value;
    /// The metrics.
    fn metrics(&self) -> MetricsSnapshot;
}

/// The socket path for a state directory.
pub fn socket_path(state_dir: &Path) -> PathBuf {
    state_dir.join(SOCKET_NAME)
}

/// Why the endpoint could not be opened or queried.
#[derive(Debug, thiserror::Error)]
pub enum StatusError {
    /// Another live process owns the socket.
    #[error(
        "another node is already running with this state directory (its status socket {0} answers)"
    )]
    InUse(String),
    /// Socket I/O failed.
    #[error("status socket {path}: {reason}")]
    Io {
        /// The socket.
        path: String,
        /// Why.
        reason: String,
    },
    /// Nobody listens.
    #[error("no node is running with this state directory (nothing answers on {0})")]
    NotRunning(String),
}

fn io_err(path: &Path, e: impl ToString) -> StatusError {
    StatusError::Io {
        path: path.display().to_string(),
        reason: e.to_string(),
    }
}

/// Binds the socket: a stale socket from a crashed node is replaced; a live one is an
/// error. A missing state directory is created 0700 (one the user made is left as it is:
/// `doctor` says when it is open to others); the socket is 0600.
pub async fn bind(state_dir: &Path) -> Result<UnixListener, StatusError> {
    use std::os::unix::fs::PermissionsExt as _;
    let path = socket_path(state_dir);
    crate::credentials::create_private_dir(state_dir).map_err(|e| io_err(state_dir, e))?;
    if path.exists() {
        if UnixStream::connect(&path).await.is_ok() {
            return Err(StatusError::InUse(path.display().to_string()));
        }
        std::fs::remove_file(&path).map_err(|e| io_err(&path, e))?;
    }
    let listener = UnixListener::bind(&path).map_err(|e| io_err(&path, e))?;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))
        .map_err(|e| io_err(&path, e))?;
    Ok(listener)
}

/// Serves requests until `shutdown`, then removes the socket file.
pub async fn serve(
    listener: UnixListener,
    source: Arc<dyn StatusSource>,
    shutdown: CancellationToken,
) {
    let path = listener
        .local_addr()
        .ok()
        .and_then(|a| a.as_pathname().map(Path::to_path_buf));
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    tracing::warn!(error = %e, "status socket accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            _ = shutdown.cancelled() => break,
        };
        let source = source.clone();
        tokio::spawn(async move {
            if let Err(e) = answer(stream, source.as_ref()).await {
                tracing::debug!(error = %e, "status request failed");
            }
        });
    }
    if let Some(path) = path {
        let _ = std::fs::remove_file(path);
    }
}

async fn answer(stream: UnixStream, source: &dyn StatusSource) -> std::io::Result<()> {
    let (read, mut write) = stream.into_split();
    let mut line = String::new();
    let mut reader = BufReader::new(read).take(MAX_REQUEST as u64);
    let _ = tokio::time::timeout(REQUEST_TIMEOUT, reader.read_line(&mut line)).await;
    let body = match line.trim() {
        "" | "status" => serde_json::to_string_pretty(&source.status())?,
        "metrics" => serde_json::to_string_pretty(&source.metrics())?,
        "prometheus" => source.metrics().prometheus(),
        other => format!(
            "{{\"error\":\"unknown request {other:?}; ask status, metrics or prometheus\"}}"
        ),
    };
    write.write_all(body.as_bytes()).await?;
    write.shutdown().await
}

/// Asks a running node: `what` is `status`, `metrics` or `prometheus`.
pub async fn query(state_dir: &Path, what: &str) -> Result<String, StatusError> {
    let path = socket_path(state_dir);
    let mut stream = match UnixStream::connect(&path).await {
        Ok(s) => s,
        Err(e)
            if matches!(
                e.kind(),
                std::io::ErrorKind::NotFound | std::io::ErrorKind::ConnectionRefused
            ) =>
        {
            return Err(StatusError::NotRunning(path.display().to_string()));
        }
        Err(e) => return Err(io_err(&path, e)),
    };
    let exchange = async {
        stream.write_all(format!("{what}\n").as_bytes()).await?;
        let mut body = String::new();
        stream.read_to_string(&mut body).await?;
        Ok::<_, std::io::Error>(body)
    };
    tokio::time::timeout(Duration::from_secs(5), exchange)
        .await
        .map_err(|_| io_err(&path, "the node did not answer within 5 s"))?
        .map_err(|e| io_err(&path, e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt as _;

    struct Fixed(Metrics);

    impl StatusSource for Fixed {
        fn status(&self) -> serde_json::Value {
            serde_json::json!({"state": "ready"})
        }
        fn metrics(&self) -> MetricsSnapshot {
            self.0.snapshot(0)
        }
    }

    #[tokio::test]
    async fn serves_status_metrics_and_prometheus_on_a_0600_socket() {
        let dir = tempfile::tempdir().unwrap();
        let listener = bind(dir.path()).await.unwrap();
        let mode = std::fs::metadata(socket_path(dir.path()))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        let stop = CancellationToken::new();
        let m = Metrics::default();
        m.connected();
        let task = tokio::spawn(serve(listener, Arc::new(Fixed(m)), stop.clone()));
        let status: serde_json::Value =
            serde_json::from_str(&query(dir.path(), "status").await.unwrap()).unwrap();
        assert_eq!(status["state"], "ready");
        let metrics: serde_json::Value =
            serde_json::from_str(&query(dir.path(), "metrics").await.unwrap()).unwrap();
        assert_eq!(metrics["connects"], 1);
        assert!(
            query(dir.path(), "prometheus")
                .await
                .unwrap()
                .contains("openclaw_node_connects_total 1")
        );
        assert!(
            query(dir.path(), "bogus")
                .await
                .unwrap()
                .contains("unknown request")
        );
        // A second node on the same state dir is refused while the first is alive.
        assert!(matches!(bind(dir.path()).await, Err(StatusError::InUse(_))));
        stop.cancel();
        task.await.unwrap();
        assert!(!socket_path(dir.path()).exists());
        assert!(matches!(
            query(dir.path(), "status").await,
            Err(StatusError::NotRunning(_))
        ));
    }

    #[tokio::test]
    async fn a_stale_socket_is_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let stale = std::os::unix::net::UnixListener::bind(socket_path(dir.path())).unwrap();
        drop(stale);
        assert!(bind(dir.path()).await.is_ok());
    }
}

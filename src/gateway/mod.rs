//! The embedded minimal gateway: the server side of the same protocol types, so the whole
//! system runs and is tested on one machine (spec §13.1). It verifies signed connects,
//! authenticates with a shared token or password (constant-time), runs device pairing and
//! node command-surface approval, keeps a node registry, routes `node.invoke` with
//! timeouts, serves the operator methods to list/approve/invoke, sends ticks, and answers
//! `/healthz` and `/readyz` on the same port. Fleet features (channels, agents, models)
//! stay in the real Gateway.
//!
//! Layout: [`config`] (settings), [`http`] (the port: probes and upgrades), `conn` (one
//! connection: handshake, then frames), `methods` (what each request does), `registry`
//! (the live connections, nodes and invokes, shared by `conn` and `methods`), `catalog`
//! (what a node publishes: plugin tools, skills, runner inventory), [`state`]
//! (persisted pairing state).
//! The caller owns the listener and stops the gateway through the [`GatewayHandle`].

mod catalog;
pub mod config;
mod conn;
pub mod http;
mod methods;
mod registry;
pub mod state;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::Instrument as _;

pub use config::{GatewayAuth, GatewayConfig, REQUEST_HEAD_TIMEOUT, check_bind_safety};
use registry::{Bootstrap, Inner, Shared};

/// How long [`GatewayHandle::shutdown`] waits for the connections to finish.
const SHUTDOWN_DRAIN: Duration = Duration::from_secs(5);
/// The pause after a failed `accept` (out of file descriptors, say) before the next one.
const ACCEPT_RETRY_DELAY: Duration = Duration::from_millis(50);

/// The pure part of the handshake, for the fuzz targets (`crate::fuzzing`).
#[cfg(feature = "fuzzing")]
pub(crate) use conn::{Refusal, ValidConnect, validate_connect};

/// A running gateway.
pub struct GatewayHandle {
    addr: SocketAddr,
    shared: Arc<Shared>,
    tracker: TaskTracker,
    accept: tokio::task::JoinHandle<()>,
}

impl GatewayHandle {
    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// `ws://<addr>`.
    pub fn url(&self) -> String {
        format!("ws://{}", self.addr)
    }

    /// Closes every connection (code 1012) and keeps running (tests).
    pub fn drop_all_connections(&self) {
        let mut t = self
            .shared
            .drop_token
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        t.cancel();
        *t = CancellationToken::new();
    }

    /// Mints a single-use setup code for `url` (the gateway's address as nodes see it),
    /// valid for ten minutes.
    pub fn mint_setup_code(&self, url: &str) -> String {
        self.mint_setup_code_for(url, crate::protocol::BOOTSTRAP_TOKEN_TTL)
    }

    /// Mints a single-use setup code valid for `ttl` (tests use short ones).
    pub fn mint_setup_code_for(&self, url: &str, ttl: Duration) -> String {
        let mut raw = [0u8; 24];
        getrandom::fill(&mut raw).expect("the OS random source is available");
        use base64::Engine as _;
        let token = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw);
        self.shared.lock().bootstrap.insert(
            token.clone(),
            Bootstrap {
                expires_at: std::time::Instant::now() + ttl,
                bound_device: None,
            },
        );
        let expires = crate::now_ms() + ttl.as_millis() as u64;
        crate::protocol::setup_code::encode_setup_code(url, &token, Some(expires))
    }

    /// Connected node ids.
    pub fn connected_nodes(&self) -> Vec<String> {
        self.shared.lock().nodes.keys().cloned().collect()
    }

    /// Stops: every connection gets a `shutdown` event and close 1012, then the tasks are
    /// drained.
    pub async fn shutdown(self) {
        self.shared.draining.store(true, Ordering::SeqCst);
        self.shared.shutdown.cancel();
        self.accept.abort();
        // Wait for the accept task to be gone so the listening socket is closed and the
        // port can be bound again at once (restarts in tests and in `gateway`).
        let _ = self.accept.await;
        self.tracker.close();
        let _ = tokio::time::timeout(SHUTDOWN_DRAIN, self.tracker.wait()).await;
    }
}

/// Starts a gateway on `listener` (the caller binds; tests use 127.0.0.1:0).
pub async fn start(
    listener: tokio::net::TcpListener,
    config: GatewayConfig,
) -> anyhow::Result<GatewayHandle> {
    let addr = listener.local_addr()?;
    check_bind_safety(&addr, &config.auth).map_err(anyhow::Error::msg)?;
    let store = state::Store::new(config.state_dir.as_deref());
    let persisted = store.load()?;
    let shared = Arc::new(Shared {
        config,
        store,
        inner: Mutex::new(Inner {
            persisted,
            conns: HashMap::new(),
            nodes: HashMap::new(),
            invokes: HashMap::new(),
            rejected_devices: HashMap::new(),
            bootstrap: HashMap::new(),
        }),
        next_conn: AtomicU64::new(1),
        draining: AtomicBool::new(false),
        drop_token: Mutex::new(CancellationToken::new()),
        shutdown: CancellationToken::new(),
        started: std::time::Instant::now(),
    });
    let tracker = TaskTracker::new();
    let accept = {
        let shared = shared.clone();
        let tracker = tracker.clone();
        tokio::spawn(async move {
            loop {
                let (stream, peer) = match listener.accept().await {
                    Ok(x) => x,
                    Err(e) => {
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(ACCEPT_RETRY_DELAY).await;
                        continue;
                    }
                };
                let _ = stream.set_nodelay(true);
                let shared = shared.clone();
                // Every line this connection logs, from the request head to the close,
                // carries its peer.
                let span = tracing::info_span!("gw_conn", %peer);
                tracker.spawn(
                    async move {
                        let ready = !shared.draining.load(Ordering::SeqCst);
                        let head_timeout = shared.config.request_head_timeout;
                        match http::accept(stream, ready, head_timeout).await {
                            Ok(http::Request::Upgrade(io)) => conn::run(shared, io, peer).await,
                            Ok(http::Request::Done) => {}
                            Err(e) => tracing::debug!(error = %e, "http request failed"),
                        }
                    }
                    .instrument(span),
                );
            }
        })
    };
    tracing::info!(%addr, "embedded gateway listening");
    Ok(GatewayHandle {
        addr,
        shared,
        tracker,
        accept,
    })
}

#[cfg(test)]
mod tests {
    //! Every line a gateway connection logs carries its peer (issue 16: the `gw_conn`
    //! span used to be entered and dropped).

    use super::*;
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

    #[tokio::test]
    async fn a_connection_logs_under_its_peer() {
        let (logs, _guard) = crate::test_log::CapturedLog::start();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let gw = start(listener, GatewayConfig::default()).await.unwrap();
        // An upgrade request without a key: tungstenite refuses it inside the connection.
        let mut tcp = tokio::net::TcpStream::connect(gw.local_addr())
            .await
            .unwrap();
        let peer = tcp.local_addr().unwrap();
        tcp.write_all(
            b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
        )
        .await
        .unwrap();
        let mut rest = Vec::new();
        let _ = tokio::time::timeout(Duration::from_secs(5), tcp.read_to_end(&mut rest)).await;
        gw.shutdown().await;
        let text = logs.text();
        let line = text
            .lines()
            .find(|l| l.contains("websocket upgrade failed"))
            .unwrap_or_else(|| panic!("no upgrade failure logged:\n{text}"));
        assert!(line.contains(&format!("gw_conn{{peer={peer}}}")), "{line}");
    }
}

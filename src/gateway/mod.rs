//! The embedded minimal gateway: the server side of the same protocol types, so the whole
//! system runs and is tested on one machine (spec §13.1). It verifies signed connects,
//! authenticates with a shared token or password (constant-time), runs device pairing and
//! node command-surface approval, keeps a node registry, routes `node.invoke` with
//! timeouts, serves the operator methods to list/approve/invoke, sends ticks, and answers
//! `/healthz` and `/readyz` on the same port. Fleet features (channels, agents, models)
//! stay in the real Gateway.
//!
//! Layout: [`http`] (the port: probes and upgrades), `conn` (one connection: handshake,
//! then frames), `methods` (what each request does), [`state`] (persisted pairing state).
//! The caller owns the listener and stops the gateway through the [`GatewayHandle`].

mod conn;
pub mod http;
mod methods;
pub mod state;

use std::collections::{BTreeSet, HashMap};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::protocol::{ErrorShape, NodeInvokeResult};
use crate::secret::Secret;

/// The pure part of the handshake, for the fuzz targets (`crate::fuzzing`).
#[cfg(feature = "fuzzing")]
pub(crate) use conn::{Refusal, ValidConnect, validate_connect};

/// How clients authenticate.
#[derive(Debug, Clone)]
pub enum GatewayAuth {
    /// No shared secret (loopback only).
    None,
    /// A shared token.
    Token(Secret),
    /// A shared password.
    Password(Secret),
}

/// Gateway settings.
#[derive(Debug, Clone)]
pub struct GatewayConfig {
    /// Authentication mode.
    pub auth: GatewayAuth,
    /// Where pairing state is persisted (`None` = memory only).
    pub state_dir: Option<PathBuf>,
    /// Approve device pairing requests at once (demo and tests).
    pub auto_approve_devices: bool,
    /// Approve node command surfaces at once (demo and tests).
    pub auto_approve_commands: bool,
    /// Tick period.
    pub tick_interval: Duration,
    /// `node.invoke` budget when the operator gives none.
    pub invoke_timeout_default: Duration,
}

impl Default for GatewayConfig {
    fn default() -> Self {
        Self {
            auth: GatewayAuth::None,
            state_dir: None,
            auto_approve_devices: false,
            auto_approve_commands: false,
            tick_interval: Duration::from_millis(crate::protocol::DEFAULT_TICK_INTERVAL_MS),
            invoke_timeout_default: Duration::from_millis(
                crate::protocol::DEFAULT_INVOKE_TIMEOUT_MS,
            ),
        }
    }
}

/// Refuses a non-loopback bind without a shared secret: loopback first, exposure only
/// with explicit authentication.
pub fn check_bind_safety(addr: &SocketAddr, auth: &GatewayAuth) -> Result<(), String> {
    if addr.ip().is_loopback() || !matches!(auth, GatewayAuth::None) {
        return Ok(());
    }
    Err(format!(
        "refusing to listen on {addr} without authentication: anyone who can reach that address could pair a node and run commands on it. Bind to 127.0.0.1, or set OPENCLAW_GATEWAY_TOKEN (or OPENCLAW_GATEWAY_PASSWORD)"
    ))
}

/// One live connection, as seen by the rest of the gateway.
pub(crate) struct ConnEntry {
    pub role: String,
    pub device_id: Option<String>,
    pub out: mpsc::Sender<conn::Out>,
}

/// A connected node.
pub(crate) struct NodeSession {
    pub conn_id: u64,
    pub summary: crate::protocol::NodeSummary,
    pub declared: BTreeSet<String>,
    pub out: mpsc::Sender<conn::Out>,
}

/// An invoke waiting for the node's result.
pub(crate) struct PendingInvoke {
    pub node_id: String,
    pub command: String,
    pub done: oneshot::Sender<Result<NodeInvokeResult, ErrorShape>>,
}

/// A single-use setup-code token.
pub(crate) struct Bootstrap {
    pub expires_at: std::time::Instant,
    pub bound_device: Option<String>,
}

/// Mutable gateway state behind one lock (short critical sections, no I/O inside).
pub(crate) struct Inner {
    pub persisted: state::Persisted,
    pub conns: HashMap<u64, ConnEntry>,
    pub nodes: HashMap<String, NodeSession>,
    pub invokes: HashMap<String, PendingInvoke>,
    pub rejected_devices: HashMap<String, String>,
    pub bootstrap: HashMap<String, Bootstrap>,
}

/// What every connection task shares.
pub(crate) struct Shared {
    pub config: GatewayConfig,
    pub store: state::Store,
    pub inner: Mutex<Inner>,
    pub next_conn: AtomicU64,
    pub draining: AtomicBool,
    pub drop_token: Mutex<CancellationToken>,
    pub shutdown: CancellationToken,
    pub started: std::time::Instant,
}

impl Shared {
    pub fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Persists the pairing state (serialised under the lock, written outside it).
    pub fn persist(&self) {
        let snapshot = self.lock().persisted.clone();
        self.store.save(&snapshot);
    }

    /// Sends an event to every operator connection.
    pub fn broadcast_operators(&self, event: &str, payload: serde_json::Value) {
        let text = crate::protocol::Frame::event(event, payload).to_text();
        let inner = self.lock();
        for c in inner
            .conns
            .values()
            .filter(|c| c.role == crate::protocol::ROLE_OPERATOR)
        {
            let _ = c.out.try_send(conn::Out::Text(text.clone()));
        }
    }
}

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
        let _ = tokio::time::timeout(Duration::from_secs(5), self.tracker.wait()).await;
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
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let _ = stream.set_nodelay(true);
                let shared = shared.clone();
                tracker.spawn(async move {
                    let ready = !shared.draining.load(Ordering::SeqCst);
                    match http::accept(stream, ready).await {
                        Ok(http::Request::Upgrade(io)) => conn::run(shared, io, peer).await,
                        Ok(http::Request::Done) => {}
                        Err(e) => tracing::debug!(%peer, error = %e, "http request failed"),
                    }
                });
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

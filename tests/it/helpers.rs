//! Shared helpers: `TestGateway` (embedded gateway on 127.0.0.1:0, stopped on drop),
//! `TestNode` (a real node in-process with a temp state dir and short intervals), a test
//! capability with controllable commands, and `within` (a global timeout for waits).

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use openclaw_capability_api::{CallContext, Capability, CapabilityError, Command, Handler, erase};
use openclaw_node::credentials::{CredentialStore, FileStore, load_or_create_identity};
use openclaw_node::gateway::{self, GatewayAuth, GatewayConfig, GatewayHandle};
use openclaw_node::operator::{OperatorClient, OperatorOptions};
use openclaw_node::policy::CommandPolicy;
use openclaw_node::secret::Secret;
use openclaw_node::session::{
    NodeExit, NodeOptions, Registry, SessionError, SessionState, run_node,
};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// The shared token every test gateway uses.
pub const TOKEN: &str = "it-shared-token";
/// The longest any single wait may take before the test fails.
pub const WAIT: Duration = Duration::from_secs(20);

/// Awaits `fut`, failing the test after [`WAIT`].
pub async fn within<T>(what: &str, fut: impl Future<Output = T>) -> T {
    match tokio::time::timeout(WAIT, fut).await {
        Ok(v) => v,
        Err(_) => panic!("timed out after {WAIT:?} waiting for {what}"),
    }
}

/// Polls `probe` until it yields `Some`, with the global timeout.
pub async fn eventually<T, F, Fut>(what: &str, probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    eventually_for(WAIT, what, probe).await
}

/// Polls `probe` until it yields `Some`, failing after `limit` (the real Gateway's CLI
/// takes seconds per call, so its tests wait longer).
pub async fn eventually_for<T, F, Fut>(limit: Duration, what: &str, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let polled = async {
        loop {
            if let Some(v) = probe().await {
                return v;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    };
    match tokio::time::timeout(limit, polled).await {
        Ok(v) => v,
        Err(_) => panic!("timed out after {limit:?} waiting for {what}"),
    }
}

/// The embedded gateway on 127.0.0.1:0 with its own state dir; shut down on drop.
pub struct TestGateway {
    handle: Option<GatewayHandle>,
    /// `ws://127.0.0.1:PORT`
    pub url: String,
    /// The gateway's state directory (kept so a restart can reuse it).
    pub dir: tempfile::TempDir,
}

impl TestGateway {
    /// A token-auth gateway that does not auto-approve anything.
    pub async fn start() -> Self {
        Self::start_with(|_| {}).await
    }

    /// A token-auth gateway that approves devices and command surfaces at once.
    pub async fn start_auto_approve() -> Self {
        Self::start_with(|c| {
            c.auto_approve_devices = true;
            c.auto_approve_commands = true;
        })
        .await
    }

    /// A gateway with a customised config.
    pub async fn start_with(customise: impl FnOnce(&mut GatewayConfig)) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        Self::start_on(listener, dir, customise).await
    }

    /// A gateway on a given listener and state dir (for restarts).
    pub async fn start_on(
        listener: tokio::net::TcpListener,
        dir: tempfile::TempDir,
        customise: impl FnOnce(&mut GatewayConfig),
    ) -> Self {
        let mut config = GatewayConfig {
            auth: GatewayAuth::Token(Secret::new(TOKEN)),
            state_dir: Some(dir.path().to_path_buf()),
            tick_interval: Duration::from_secs(30),
            ..GatewayConfig::default()
        };
        customise(&mut config);
        let handle = gateway::start(listener, config).await.unwrap();
        let url = handle.url();
        TestGateway {
            handle: Some(handle),
            url,
            dir,
        }
    }

    /// The running gateway's handle.
    pub fn handle(&self) -> &GatewayHandle {
        self.handle.as_ref().unwrap()
    }

    /// An operator connected with the shared token.
    pub async fn operator(&self) -> OperatorClient {
        let mut opts = OperatorOptions::new(self.url.clone());
        opts.token = Some(Secret::new(TOKEN));
        within("operator connect", OperatorClient::connect(opts))
            .await
            .unwrap()
    }

    /// Stops the gateway and returns its state dir for a restart.
    pub async fn stop(mut self) -> tempfile::TempDir {
        if let Some(h) = self.handle.take() {
            h.shutdown().await;
        }
        std::mem::replace(&mut self.dir, tempfile::tempdir().unwrap())
    }
}

impl Drop for TestGateway {
    fn drop(&mut self) {
        if let Some(h) = self.handle.take()
            && let Ok(rt) = tokio::runtime::Handle::try_current()
        {
            rt.spawn(h.shutdown());
        }
    }
}

/// A real node in-process: temp state dir, file credential store, short intervals.
pub struct TestNode {
    /// The node's state (watch it instead of sleeping).
    pub state: watch::Receiver<SessionState>,
    /// Its device id (= node id).
    pub node_id: String,
    shutdown: CancellationToken,
    task: Option<JoinHandle<Result<NodeExit, SessionError>>>,
    _dir: tempfile::TempDir,
}

impl TestNode {
    /// A node with the `system` capability and the test capability, shared token auth.
    pub fn start(url: &str) -> Self {
        Self::start_with(url, Some(TOKEN), |_| {})
    }

    /// A node with custom options.
    pub fn start_with(
        url: &str,
        token: Option<&str>,
        customise: impl FnOnce(&mut NodeOptions),
    ) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let store: Arc<dyn CredentialStore> = Arc::new(FileStore::in_state_dir(dir.path()));
        Self::start_in(url, token, dir, store, customise)
    }

    /// A node on an existing state dir and store (for restarts).
    pub fn start_in(
        url: &str,
        token: Option<&str>,
        dir: tempfile::TempDir,
        store: Arc<dyn CredentialStore>,
        customise: impl FnOnce(&mut NodeOptions),
    ) -> Self {
        Self::start_full(url, token, dir, store, customise, |_| {})
    }

    /// A node that runs any command (`security = "full"`), with a file store in its temp
    /// state dir.
    pub fn start_exec_full(url: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let store: Arc<dyn CredentialStore> = Arc::new(FileStore::in_state_dir(dir.path()));
        Self::start_full(
            url,
            Some(TOKEN),
            dir,
            store,
            |_| {},
            |r| {
                r.security = openclaw_capability_system::approvals::Security::Full;
            },
        )
    }

    /// A node with custom node options and `system.run` settings.
    pub fn start_full(
        url: &str,
        token: Option<&str>,
        dir: tempfile::TempDir,
        store: Arc<dyn CredentialStore>,
        customise: impl FnOnce(&mut NodeOptions),
        customise_run: impl FnOnce(&mut openclaw_capability_system::run::RunConfig),
    ) -> Self {
        let mut run = openclaw_capability_system::run::RunConfig::new(
            openclaw_capability_system::node_path(),
            dir.path().to_path_buf(),
        );
        customise_run(&mut run);
        let caps: Vec<Arc<dyn Capability>> = vec![
            Arc::new(openclaw_capability_system::SystemCapability::new(run)),
            Arc::new(TestCapability),
        ];
        Self::start_caps(url, token, dir, store, customise, caps)
    }

    /// A node serving exactly `caps`.
    pub fn start_caps(
        url: &str,
        token: Option<&str>,
        dir: tempfile::TempDir,
        store: Arc<dyn CredentialStore>,
        customise: impl FnOnce(&mut NodeOptions),
        caps: Vec<Arc<dyn Capability>>,
    ) -> Self {
        let identity = load_or_create_identity(store.as_ref()).unwrap();
        let node_id = identity.device_id();
        let registry = Arc::new(Registry::new(caps, &CommandPolicy::default()));
        let mut options = NodeOptions::new(url.to_string(), "it-node".to_string());
        options.token = token.map(Secret::new);
        options.pairing_retry_interval = Duration::from_millis(200);
        options.backoff = openclaw_node::session::BackoffPolicy::fast_for_tests();
        customise(&mut options);
        let (tx, rx) = watch::channel(SessionState::Starting);
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(run_node(
            options,
            identity,
            store.clone(),
            registry,
            tx,
            shutdown.clone(),
        ));
        TestNode {
            state: rx,
            node_id,
            shutdown,
            task: Some(task),
            _dir: dir,
        }
    }

    /// Waits until the node is ready.
    pub async fn wait_ready(&mut self) {
        self.wait_for("the node to be ready", |s| {
            matches!(s, SessionState::Ready { .. })
        })
        .await;
    }

    /// Waits until the state matches.
    pub async fn wait_for(&mut self, what: &str, pred: impl FnMut(&SessionState) -> bool) {
        within(what, self.state.wait_for(pred)).await.unwrap();
    }

    /// Stops the node gracefully and returns how `run_node` ended.
    pub async fn stop(mut self) -> Result<NodeExit, SessionError> {
        self.shutdown.cancel();
        within("the node to stop", self.task.take().unwrap())
            .await
            .unwrap()
    }

    /// Waits for `run_node` to end by itself (fatal errors).
    pub async fn join(mut self) -> Result<NodeExit, SessionError> {
        within("the node to exit", self.task.take().unwrap())
            .await
            .unwrap()
    }
}

impl Drop for TestNode {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// Waits for the device pairing request of `device_id` and returns its id.
pub async fn device_request(op: &OperatorClient, device_id: &str) -> String {
    eventually("the device pairing request", || async {
        op.device_pair_list()
            .await
            .ok()?
            .pending
            .into_iter()
            .find(|p| p.device_id == device_id)
            .map(|p| p.request_id)
    })
    .await
}

/// Waits for the command-surface request of `node_id` and returns its id.
pub async fn surface_request(op: &OperatorClient, node_id: &str) -> String {
    eventually("the command-surface request", || async {
        op.node_pair_list()
            .await
            .ok()?
            .pending
            .into_iter()
            .find(|p| p.node_id == node_id)
            .map(|p| p.request_id)
    })
    .await
}

/// Whether an operator's call error is one a call may cleanly end with while the node's
/// link is faulty: the node went away, was not there, or did not answer in time.
pub fn is_clean_call_error(text: &str) -> bool {
    ["UNAVAILABLE", "TIMEOUT", "not connected"]
        .iter()
        .any(|c| text.contains(c))
}

/// The id of the first connected node that declares `command` (for nodes started as
/// processes, whose id the test does not know).
pub async fn connected_node_with(op: &OperatorClient, command: &str) -> String {
    eventually("the node to connect", || async {
        op.node_list()
            .await
            .ok()?
            .nodes
            .into_iter()
            .find(|n| n.connected && n.commands.iter().any(|c| c == command))
            .map(|n| n.node_id)
    })
    .await
}

/// Waits until `node_id` answers an echo tagged `tag` through the gateway (after a fault,
/// a node may report ready before every path to it is back).
pub async fn serves_again(op: &OperatorClient, node_id: &str, tag: &str) {
    eventually("the node to serve again", || async {
        let r = op
            .node_invoke(node_id, "test.echo", json!({"value": tag}), Some(2000))
            .await;
        r.ok().filter(|reply| reply.payload["value"] == tag)
    })
    .await;
}

/// Pairs `node` on `gw` through the operator API: approves the device, then the command
/// surface, then waits until the node is ready with its commands.
pub async fn pair(gw: &TestGateway, node: &mut TestNode, op: &OperatorClient) {
    let id = node.node_id.clone();
    op.device_pair_approve(&device_request(op, &id).await)
        .await
        .unwrap();
    op.node_pair_approve(&surface_request(op, &id).await)
        .await
        .unwrap();
    node.wait_ready().await;
    let _ = gw;
}

/// How many `test.sleep` calls saw their cancel token fire.
pub static CANCELLED_SLEEPS: AtomicUsize = AtomicUsize::new(0);

/// A capability for tests: `test.sleep {ms}` (honours cancel) and `test.echo {value}`.
pub struct TestCapability;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SleepParams {
    ms: u64,
}

struct Sleep;

impl Command for Sleep {
    type Params = SleepParams;
    type Output = Value;
    fn name(&self) -> &'static str {
        "test.sleep"
    }
    async fn run(&self, p: SleepParams, ctx: CallContext) -> Result<Value, CapabilityError> {
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_millis(p.ms)) => Ok(json!({"slept": p.ms})),
            _ = ctx.cancel.cancelled() => {
                CANCELLED_SLEEPS.fetch_add(1, Ordering::SeqCst);
                Err(CapabilityError::unavailable("cancelled"))
            }
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EchoParams {
    value: Value,
}

struct Echo;

impl Command for Echo {
    type Params = EchoParams;
    type Output = Value;
    fn name(&self) -> &'static str {
        "test.echo"
    }
    async fn run(&self, p: EchoParams, _ctx: CallContext) -> Result<Value, CapabilityError> {
        Ok(json!({"value": p.value}))
    }
}

impl Capability for TestCapability {
    fn caps(&self) -> Vec<&'static str> {
        vec!["test"]
    }
    fn handlers(&self) -> Vec<Arc<dyn Handler>> {
        vec![erase(Sleep), erase(Echo)]
    }
}

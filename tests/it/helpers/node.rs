//! [`TestNode`]: a real node in-process (a file credential store in a temp state dir, short
//! retry intervals), built with [`TestNode::builder`] and stopped on drop.

use std::sync::Arc;
use std::time::Duration;

use openclaw_capability_api::Capability;
use openclaw_capability_system::run::RunConfig;
use openclaw_node::credentials::{CredentialStore, FileStore, load_or_create_identity};
use openclaw_node::policy::CommandPolicy;
use openclaw_node::secret::Secret;
use openclaw_node::session::{
    NodeExit, NodeOptions, Registry, SessionError, SessionState, run_node,
};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::{TOKEN, TestCapability, within};

/// A real node in-process: temp state dir, file credential store, short intervals.
pub(crate) struct TestNode {
    /// The node's state (watch it instead of sleeping).
    pub state: watch::Receiver<SessionState>,
    /// Its device id (= node id).
    pub node_id: String,
    /// The test capability it serves, when it was built with the default capabilities.
    test: Option<TestCapability>,
    shutdown: CancellationToken,
    task: Option<JoinHandle<Result<NodeExit, SessionError>>>,
    _dir: tempfile::TempDir,
}

/// A change to the session options.
type CustomiseOptions<'a> = Box<dyn FnOnce(&mut NodeOptions) + 'a>;
/// A change to the `system.run` settings.
type CustomiseExec<'a> = Box<dyn FnOnce(&mut RunConfig) + 'a>;

/// How to build a [`TestNode`]: by default the shared [`TOKEN`], a fresh state dir with a
/// file store, and the `system` capability (default `system.run` policy) plus a
/// [`TestCapability`].
pub(crate) struct TestNodeBuilder<'a> {
    url: String,
    token: Option<String>,
    state: Option<(tempfile::TempDir, Arc<dyn CredentialStore>)>,
    options: Option<CustomiseOptions<'a>>,
    exec: Option<CustomiseExec<'a>>,
    caps: Option<Vec<Arc<dyn Capability>>>,
}

impl<'a> TestNodeBuilder<'a> {
    /// Authenticate with this shared token instead of [`TOKEN`].
    pub(crate) fn token(mut self, token: &str) -> Self {
        self.token = Some(token.to_string());
        self
    }

    /// No shared token (a stored device token or a bootstrap token only).
    pub(crate) fn no_token(mut self) -> Self {
        self.token = None;
        self
    }

    /// Use an existing state dir and credential store (restarts, a broken disk).
    pub(crate) fn state(mut self, dir: tempfile::TempDir, store: Arc<dyn CredentialStore>) -> Self {
        self.state = Some((dir, store));
        self
    }

    /// Adjust the session options after the test defaults are set.
    pub(crate) fn options(mut self, customise: impl FnOnce(&mut NodeOptions) + 'a) -> Self {
        self.options = Some(Box::new(customise));
        self
    }

    /// Adjust the `system.run` settings of the default `system` capability.
    pub(crate) fn exec(mut self, customise: impl FnOnce(&mut RunConfig) + 'a) -> Self {
        self.exec = Some(Box::new(customise));
        self
    }

    /// `system.run` runs any command (`security = "full"`).
    pub(crate) fn exec_full(self) -> Self {
        self.exec(|r| r.security = openclaw_capability_system::approvals::Security::Full)
    }

    /// Serve exactly these capabilities instead of `system` and the test capability.
    pub(crate) fn caps(mut self, caps: Vec<Arc<dyn Capability>>) -> Self {
        self.caps = Some(caps);
        self
    }

    /// Starts the node's session in a task.
    pub(crate) fn start(self) -> TestNode {
        let (dir, store) = self.state.unwrap_or_else(|| {
            let dir = tempfile::tempdir().unwrap();
            let store: Arc<dyn CredentialStore> = Arc::new(FileStore::in_state_dir(dir.path()));
            (dir, store)
        });
        let (caps, test) = match self.caps {
            Some(caps) => (caps, None),
            None => {
                let mut run = RunConfig::new(
                    openclaw_capability_system::node_path(),
                    dir.path().to_path_buf(),
                );
                if let Some(customise) = self.exec {
                    customise(&mut run);
                }
                let test = TestCapability::default();
                let caps: Vec<Arc<dyn Capability>> = vec![
                    Arc::new(openclaw_capability_system::SystemCapability::new(run)),
                    Arc::new(test.clone()),
                ];
                (caps, Some(test))
            }
        };
        let identity = load_or_create_identity(store.as_ref()).unwrap();
        let node_id = identity.device_id();
        let registry = Arc::new(Registry::new(caps, &CommandPolicy::default()));
        let mut options = NodeOptions::new(self.url, "it-node".to_string());
        options.token = self.token.map(Secret::new);
        options.pairing_retry_interval = Duration::from_millis(200);
        options.backoff = openclaw_node::session::BackoffPolicy::fast_for_tests();
        if let Some(customise) = self.options {
            customise(&mut options);
        }
        let (tx, rx) = watch::channel(SessionState::Starting);
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(run_node(
            options,
            identity,
            store,
            registry,
            tx,
            shutdown.clone(),
        ));
        TestNode {
            state: rx,
            node_id,
            test,
            shutdown,
            task: Some(task),
            _dir: dir,
        }
    }
}

impl TestNode {
    /// A builder for a node that dials `url`.
    pub(crate) fn builder<'a>(url: &str) -> TestNodeBuilder<'a> {
        TestNodeBuilder {
            url: url.to_string(),
            token: Some(TOKEN.to_string()),
            state: None,
            options: None,
            exec: None,
            caps: None,
        }
    }

    /// The test capability this node serves (nodes built without `.caps(…)`).
    pub(crate) fn test_capability(&self) -> &TestCapability {
        self.test
            .as_ref()
            .expect("this node was built with its own capabilities")
    }

    /// Waits until the node is ready.
    pub(crate) async fn wait_ready(&mut self) {
        self.wait_for("the node to be ready", |s| {
            matches!(s, SessionState::Ready { .. })
        })
        .await;
    }

    /// Waits until the state matches.
    pub(crate) async fn wait_for(&mut self, what: &str, pred: impl FnMut(&SessionState) -> bool) {
        within(what, self.state.wait_for(pred)).await.unwrap();
    }

    /// Stops the node gracefully and returns how `run_node` ended.
    pub(crate) async fn stop(mut self) -> Result<NodeExit, SessionError> {
        self.shutdown.cancel();
        within("the node to stop", self.task.take().unwrap())
            .await
            .unwrap()
    }

    /// Waits for `run_node` to end by itself (fatal errors).
    pub(crate) async fn join(mut self) -> Result<NodeExit, SessionError> {
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

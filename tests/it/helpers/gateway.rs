//! [`TestGateway`]: the embedded gateway on 127.0.0.1:0 with token auth and its own state
//! directory, shut down on drop.

use std::time::Duration;

use openclaw_node::gateway::{self, GatewayAuth, GatewayConfig, GatewayHandle};
use openclaw_node::operator::{OperatorClient, OperatorOptions};
use openclaw_node::secret::Secret;

use super::{TOKEN, within};

/// The embedded gateway on 127.0.0.1:0 with its own state dir; shut down on drop.
pub(crate) struct TestGateway {
    handle: Option<GatewayHandle>,
    /// `ws://127.0.0.1:PORT`
    pub url: String,
    /// The gateway's state directory (kept so a restart can reuse it).
    pub dir: tempfile::TempDir,
}

impl TestGateway {
    /// A token-auth gateway that does not auto-approve anything.
    pub(crate) async fn start() -> Self {
        Self::start_with(|_| {}).await
    }

    /// A token-auth gateway that approves devices and command surfaces at once.
    pub(crate) async fn start_auto_approve() -> Self {
        Self::start_with(|c| {
            c.auto_approve_devices = true;
            c.auto_approve_commands = true;
        })
        .await
    }

    /// A gateway with a customised config.
    pub(crate) async fn start_with(customise: impl FnOnce(&mut GatewayConfig)) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        Self::start_on(listener, dir, customise).await
    }

    /// A gateway on a given listener and state dir (for restarts).
    pub(crate) async fn start_on(
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
    pub(crate) fn handle(&self) -> &GatewayHandle {
        self.handle.as_ref().unwrap()
    }

    /// An operator connected with the shared token.
    pub(crate) async fn operator(&self) -> OperatorClient {
        let mut opts = OperatorOptions::new(self.url.clone());
        opts.token = Some(Secret::new(TOKEN));
        within("operator connect", OperatorClient::connect(opts))
            .await
            .unwrap()
    }

    /// Stops the gateway and returns its state dir for a restart.
    pub(crate) async fn stop(mut self) -> tempfile::TempDir {
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

//! [`Running`]: one launched browser — its CDP client, process and background tasks — and
//! how it is stopped: gracefully on `/stop`, synchronously when dropped (node shutdown).
//! Does not own launching (`lifecycle.rs`, `launch.rs`).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use chromiumoxide::Browser;

use crate::cdp_events::EventHub;
use crate::launch;

/// A browser that is running for a profile.
pub struct Running {
    /// The CDP client.
    pub browser: Arc<Browser>,
    /// Browser pid (and process group).
    pub pid: u32,
    /// DevTools port.
    pub port: u16,
    /// The child process (killed on drop).
    pub(super) child: tokio::process::Child,
    /// Tasks to abort on stop (the CDP handler and the listeners).
    pub(super) tasks: Vec<tokio::task::JoinHandle<()>>,
    /// The events chromiumoxide could not decode, for the tab listeners to subscribe to.
    pub(super) events: EventHub,
    /// The user-data-dir (for the sweep).
    pub(super) user_data_dir: PathBuf,
    /// Headless or not, as launched.
    pub headless: bool,
}

impl Running {
    /// Whether the process and its CDP connection are still alive.
    pub fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
            && self.tasks.first().is_some_and(|t| !t.is_finished())
    }

    /// Stops the tasks, kills the process tree and reaps the child.
    pub async fn stop(mut self) {
        for t in &self.tasks {
            t.abort();
        }
        launch::kill_tree(self.pid, &self.user_data_dir).await;
        let _ = tokio::time::timeout(Duration::from_secs(2), self.child.wait()).await;
        self.pid = 0;
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
        if self.pid > 0 {
            launch::kill_tree_now(self.pid, &self.user_data_dir);
        }
    }
}

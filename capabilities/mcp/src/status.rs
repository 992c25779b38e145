//! What ops see of each configured server (`status`, `doctor`, metrics): its transport,
//! whether it is up, how many tools it publishes, how often it was restarted and the last
//! failure with secrets removed. Plain data; the supervisors keep it current in
//! `catalog::Servers`.

use serde::Serialize;

/// Where a server is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ServerState {
    /// Connected, its tools listed.
    Up,
    /// Connecting (first start or a restart).
    Starting,
    /// Failed or exited; a restart is pending.
    Down,
    /// `enabled = false`, or skipped (OAuth).
    Disabled,
}

/// One configured server as ops see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ServerStatus {
    /// The config name.
    pub name: String,
    /// `stdio`, `streamable-http` or `sse`.
    pub transport: String,
    /// Up, starting, down or disabled.
    pub state: ServerState,
    /// Tools listed by it after the filters (what it offers the catalog).
    pub tools: usize,
    /// How many times it was started again after a failure or an exit.
    pub restarts: u32,
    /// The last failure, secrets removed (URL credentials and secret query values), at
    /// most 1024 UTF-16 units.
    pub last_error: Option<String>,
}

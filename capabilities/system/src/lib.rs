//! The `system` capability: `system.which`, `system.run` (pipes or a PTY),
//! `system.run.prepare` and `system.execApprovals.get/set`, guarded by the local exec
//! approvals policy ([`approvals`]) and the environment sanitiser ([`mod@env`]).
//!
//! Commands here take typed params and return typed results through
//! `openclaw-capability-api`; they never see a frame. Policy decisions (the exec
//! allowlist) are made by the node before a command runs.

#![forbid(unsafe_code)]

use std::sync::Arc;

use openclaw_capability_api::{Capability, Handler, erase};

pub mod approvals;
pub mod env;
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;
pub mod run;
pub mod which;

pub use which::{SystemWhich, search_path};

/// The PATH searched when the node's environment has none.
pub const FALLBACK_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// The node's PATH: the process's, or [`FALLBACK_PATH`] when it has none.
pub fn node_path() -> String {
    std::env::var("PATH")
        .ok()
        .filter(|p| !p.trim().is_empty())
        .unwrap_or_else(|| FALLBACK_PATH.to_string())
}

/// The `system` capability group.
#[derive(Debug, Clone)]
pub struct SystemCapability {
    /// The PATH commands are resolved and run with.
    pub path_env: String,
    /// Execution settings.
    pub run: Arc<run::RunConfig>,
}

impl SystemCapability {
    /// A capability with these execution settings.
    pub fn new(run: run::RunConfig) -> Self {
        Self {
            path_env: run.path_env.clone(),
            run: Arc::new(run),
        }
    }
}

impl Capability for SystemCapability {
    fn caps(&self) -> Vec<&'static str> {
        vec!["system"]
    }

    fn handlers(&self) -> Vec<Arc<dyn Handler>> {
        vec![
            erase(SystemWhich {
                path_env: self.path_env.clone(),
            }),
            erase(run::SystemRun(self.run.clone())),
            erase(run::SystemRunPrepare(self.run.clone())),
            erase(run::ExecApprovalsGet(self.run.clone())),
            erase(run::ExecApprovalsSet(self.run.clone())),
        ]
    }
}

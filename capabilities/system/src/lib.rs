//! The `system` capability: `system.which` (and, as they land, `system.run`,
//! `system.run.prepare` and `system.execApprovals.*`).
//!
//! Commands here take typed params and return typed results through
//! `openclaw-capability-api`; they never see a frame. Policy decisions (the exec
//! allowlist) are made by the node before a command runs.

#![forbid(unsafe_code)]

use std::sync::Arc;

use openclaw_capability_api::{Capability, Handler, erase};

pub mod approvals;
pub mod env;
pub mod which;

pub use which::{SystemWhich, search_path};

/// The PATH searched when the node's environment has none.
pub const FALLBACK_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// The `system` capability group.
#[derive(Debug, Clone)]
pub struct SystemCapability {
    /// The PATH commands are resolved and run with.
    pub path_env: String,
}

impl SystemCapability {
    /// A capability using the process's PATH (or [`FALLBACK_PATH`]).
    pub fn from_env() -> Self {
        let path_env = std::env::var("PATH")
            .ok()
            .filter(|p| !p.trim().is_empty())
            .unwrap_or_else(|| FALLBACK_PATH.to_string());
        Self { path_env }
    }
}

impl Capability for SystemCapability {
    fn caps(&self) -> Vec<&'static str> {
        vec!["system"]
    }

    fn handlers(&self) -> Vec<Arc<dyn Handler>> {
        vec![erase(SystemWhich {
            path_env: self.path_env.clone(),
        })]
    }
}

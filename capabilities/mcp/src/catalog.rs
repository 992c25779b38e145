//! What the servers have right now: each server's connection (its MCP peer) and listed
//! tools, and from them the published catalog, rebuilt on every change and handed out on a
//! `watch` channel (publication follows it; calls are authorised against it). The
//! supervisors write here; nothing here talks to a server.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

use rmcp::{Peer, RoleClient};
use serde_json::Value;
use tokio::sync::watch;

use crate::descriptors::{self, Descriptor, ListedTool};

/// The published catalog.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Catalog {
    /// Whether every server had its first connection attempt (before that, calls answer
    /// `node host MCP is unavailable` and no MCP tools are published).
    pub ready: bool,
    /// The descriptors, bounded (parity §3.4).
    pub descriptors: Vec<Descriptor>,
}

impl Catalog {
    /// Whether `(server, tool)` is published.
    pub fn publishes(&self, server: &str, tool: &str) -> bool {
        self.descriptors
            .iter()
            .any(|d| d.mcp.server == server && d.mcp.tool == tool)
    }

    /// The `node.pluginTools.update` params.
    pub fn update_params(&self) -> Value {
        serde_json::json!({ "tools": self.descriptors })
    }
}

/// One server's connection, while it is up.
struct Up {
    peer: Peer<RoleClient>,
    tools: Vec<Value>,
}

/// The servers' state and the catalog made from it.
pub(crate) struct Servers {
    /// Up servers, by name.
    up: Mutex<BTreeMap<String, Up>>,
    /// Servers that had their first attempt.
    attempted: Mutex<BTreeSet<String>>,
    /// How many servers are configured and enabled.
    expected: usize,
    /// The published catalog.
    catalog: watch::Sender<Arc<Catalog>>,
}

impl Servers {
    /// No server up yet; `expected` first attempts make the catalog ready.
    pub(crate) fn new(expected: usize) -> Self {
        Self {
            up: Mutex::default(),
            attempted: Mutex::default(),
            expected,
            catalog: watch::Sender::new(Arc::new(Catalog {
                ready: expected == 0,
                descriptors: Vec::new(),
            })),
        }
    }

    /// Follows the catalog.
    pub(crate) fn subscribe(&self) -> watch::Receiver<Arc<Catalog>> {
        self.catalog.subscribe()
    }

    /// The catalog now.
    pub(crate) fn catalog(&self) -> Arc<Catalog> {
        self.catalog.borrow().clone()
    }

    /// The peer of `server`, if it is up.
    pub(crate) fn peer(&self, server: &str) -> Option<Peer<RoleClient>> {
        self.lock_up().get(server).map(|u| u.peer.clone())
    }

    /// `server` connected and listed `tools` (already filtered).
    pub(crate) fn set_up(&self, server: &str, peer: Peer<RoleClient>, tools: Vec<Value>) {
        self.lock_up().insert(server.into(), Up { peer, tools });
        self.attempted(server);
    }

    /// `server` is down: its tools are withdrawn.
    pub(crate) fn set_down(&self, server: &str) {
        self.lock_up().remove(server);
        self.attempted(server);
    }

    fn attempted(&self, server: &str) {
        self.attempted
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(server.into());
        self.rebuild();
    }

    fn lock_up(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Up>> {
        self.up.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn rebuild(&self) {
        let ready = self
            .attempted
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .len()
            >= self.expected;
        let listed = self
            .lock_up()
            .iter()
            .flat_map(|(server, up)| {
                up.tools.iter().map(|tool| ListedTool {
                    server: server.clone(),
                    tool: tool.clone(),
                })
            })
            .collect();
        let descriptors = if ready {
            descriptors::build(listed)
        } else {
            Vec::new()
        };
        let next = Catalog { ready, descriptors };
        self.catalog.send_if_modified(|current| {
            if **current == next {
                return false;
            }
            *current = Arc::new(next);
            true
        });
    }
}

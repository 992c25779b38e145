//! What the servers have right now: each server's connection (its MCP peer), listed tools
//! and status for ops, and from them the published catalog, rebuilt on every change and handed out on a
//! `watch` channel (publication follows it; calls are authorised against it). The
//! supervisors write here; nothing here talks to a server.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use rmcp::{Peer, RoleClient};
use serde_json::Value;
use tokio::sync::watch;

use crate::descriptors::{self, Descriptor, ListedTool};
use crate::settings::McpSettings;
use crate::status::{ServerState, ServerStatus};

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

/// One configured server.
struct Entry {
    /// Its connection and listed tools, while it is up.
    up: Option<Up>,
    /// What ops see.
    status: ServerStatus,
    /// Whether it had its first connection attempt.
    attempted: bool,
}

/// The servers' state and the catalog made from it.
pub(crate) struct Servers {
    /// Every configured server, by name.
    entries: Mutex<BTreeMap<String, Entry>>,
    /// The published catalog.
    catalog: watch::Sender<Arc<Catalog>>,
}

impl Servers {
    /// Nothing up yet; the catalog is ready once every server to start had its first
    /// attempt (at once when there is none).
    pub(crate) fn new(settings: &McpSettings) -> Self {
        let entries: BTreeMap<String, Entry> = settings
            .servers
            .iter()
            .map(|(name, s)| {
                let runs = s.is_enabled() && !s.skips_oauth();
                let entry = Entry {
                    up: None,
                    status: ServerStatus {
                        name: name.clone(),
                        transport: s.transport_kind().map_or("stdio", |t| t.as_str()).into(),
                        state: if runs {
                            ServerState::Starting
                        } else {
                            ServerState::Disabled
                        },
                        tools: 0,
                        restarts: 0,
                        last_error: None,
                    },
                    attempted: !runs,
                };
                (name.clone(), entry)
            })
            .collect();
        let ready = entries.values().all(|e| e.attempted);
        Self {
            entries: Mutex::new(entries),
            catalog: watch::Sender::new(Arc::new(Catalog {
                ready,
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

    /// Every configured server, in name order.
    pub(crate) fn status(&self) -> Vec<ServerStatus> {
        self.lock().values().map(|e| e.status.clone()).collect()
    }

    /// The peer of `server`, if it is up.
    pub(crate) fn peer(&self, server: &str) -> Option<Peer<RoleClient>> {
        self.lock()
            .get(server)
            .and_then(|e| e.up.as_ref())
            .map(|u| u.peer.clone())
    }

    /// `server` is (re)connecting; `restart` counts it.
    pub(crate) fn set_starting(&self, server: &str, restart: bool) {
        self.update(server, |e| {
            e.status.state = ServerState::Starting;
            if restart {
                e.status.restarts += 1;
            }
        });
    }

    /// `server` connected and listed `tools` (already filtered).
    pub(crate) fn set_up(&self, server: &str, peer: Peer<RoleClient>, tools: Vec<Value>) {
        self.update(server, |e| {
            e.status.state = ServerState::Up;
            e.status.tools = tools.len();
            e.up = Some(Up { peer, tools });
            e.attempted = true;
        });
    }

    /// `server` listed `tools` again (after `list_changed`); ignored unless it is up.
    pub(crate) fn set_tools(&self, server: &str, tools: Vec<Value>) {
        self.update(server, |e| {
            if let Some(up) = e.up.as_mut() {
                e.status.tools = tools.len();
                up.tools = tools;
            }
        });
    }

    /// `server` is down (`error`: why, secrets already removed): its tools are withdrawn.
    pub(crate) fn set_down(&self, server: &str, error: Option<String>) {
        self.update(server, |e| {
            e.up = None;
            e.status.state = ServerState::Down;
            e.status.tools = 0;
            if error.is_some() {
                e.status.last_error = error;
            }
            e.attempted = true;
        });
    }

    /// `server` will not run (OAuth): no tools, not waited for.
    pub(crate) fn set_disabled(&self, server: &str, why: String) {
        self.update(server, |e| {
            e.up = None;
            e.status.state = ServerState::Disabled;
            e.status.last_error = Some(why);
            e.attempted = true;
        });
    }

    fn update(&self, server: &str, change: impl FnOnce(&mut Entry)) {
        {
            let mut entries = self.lock();
            let Some(entry) = entries.get_mut(server) else {
                return;
            };
            change(entry);
        }
        self.rebuild();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Entry>> {
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn rebuild(&self) {
        let (ready, listed) = {
            let entries = self.lock();
            let ready = entries.values().all(|e| e.attempted);
            let listed: Vec<ListedTool> = entries
                .iter()
                .flat_map(|(server, e)| {
                    e.up.iter().flat_map(move |up| {
                        up.tools.iter().map(move |tool| ListedTool {
                            server: server.clone(),
                            tool: tool.clone(),
                        })
                    })
                })
                .collect();
            (ready, listed)
        };
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

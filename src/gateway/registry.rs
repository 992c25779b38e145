//! The embedded gateway's live state: the connection registry (every open connection, the
//! connected nodes with their declared and effective commands, the invokes waiting for a
//! node's result, the single-use setup codes) behind one lock, and the operations that
//! register and forget a connection. `conn` and `methods` both use it; it uses neither.

use std::collections::{BTreeSet, HashMap};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64};
use std::sync::{Arc, Mutex};

use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

use super::config::GatewayConfig;
use super::state;
use crate::protocol::*;

/// A frame for a connection's socket.
#[derive(Debug)]
pub(crate) enum Out {
    /// A text frame.
    Text(String),
    /// Close with code and reason.
    Close(u16, String),
}

/// What the handshake established.
pub(crate) struct Session {
    pub conn_id: u64,
    pub role: String,
    pub scopes: Vec<String>,
    pub device_id: Option<String>,
}

/// One live connection, as seen by the rest of the gateway.
pub(crate) struct ConnEntry {
    pub role: String,
    pub device_id: Option<String>,
    pub out: mpsc::Sender<Out>,
}

/// A connected node.
pub(crate) struct NodeSession {
    pub conn_id: u64,
    /// Its row; `commands` are the effective ones, `nodePluginTools` derived from
    /// `declared_tools` and them.
    pub summary: NodeSummary,
    /// The commands it declared at connect.
    pub declared: BTreeSet<String>,
    /// Its last accepted `node.pluginTools.update`, as declared (parity §2.5: the
    /// effective list is recomputed whenever the approved surface changes).
    pub declared_tools: Vec<serde_json::Value>,
    /// Its last accepted `node.skills.update`, normalised (kept, never listed: the
    /// embedded gateway runs no agents).
    pub skills: Vec<serde_json::Value>,
    pub out: mpsc::Sender<Out>,
}

impl NodeSession {
    /// Sets the effective commands and recomputes the effective plugin tools from them.
    pub(crate) fn set_commands(&mut self, commands: Vec<String>) {
        self.summary.commands = commands;
        self.refresh_tools();
    }

    /// Recomputes `nodePluginTools` from the declared tools and the effective commands.
    pub(crate) fn refresh_tools(&mut self) {
        let tools = super::catalog::effective_plugin_tools(
            &self.summary.node_id,
            &self.declared_tools,
            &self.summary.commands,
        );
        self.summary.node_plugin_tools = Some(tools);
    }
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
    pub(super) fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Persists the pairing state (serialised under the lock, written outside it).
    pub(super) fn persist(&self) {
        let snapshot = self.lock().persisted.clone();
        self.store.save(&snapshot);
    }

    /// Sends an event to every operator connection.
    pub(super) fn broadcast_operators<T: serde::Serialize>(&self, event: &str, payload: &T) {
        // Plain data with string keys: serialising cannot fail.
        let payload = serde_json::to_value(payload).expect("event bodies serialise");
        let text = Frame::event(event, payload).to_text();
        let inner = self.lock();
        for c in inner.conns.values().filter(|c| c.role == ROLE_OPERATOR) {
            let _ = c.out.try_send(Out::Text(text.clone()));
        }
    }
}

/// A short random id with a prefix (`r-…` device requests, `n-…` node requests).
pub(crate) fn short_id(prefix: &str) -> String {
    let id = uuid::Uuid::new_v4().simple().to_string();
    format!("{prefix}-{}", &id[..12])
}

/// Registers a node session after hello-ok and opens a command-surface request when its
/// declared commands go beyond the approved ones.
pub(crate) fn register_node(
    shared: &Arc<Shared>,
    session: &Session,
    params: &ConnectParams,
    peer: SocketAddr,
    out: mpsc::Sender<Out>,
) {
    let Some(node_id) = session.device_id.clone() else {
        return;
    };
    let declared: BTreeSet<String> = params
        .commands
        .clone()
        .unwrap_or_default()
        .into_iter()
        .collect();
    let now = crate::now_ms();
    let mut changed = false;
    let mut requested = None;
    {
        let mut inner = shared.lock();
        let approved = inner
            .persisted
            .devices
            .get(&node_id)
            .and_then(|d| d.approved_commands.clone())
            .unwrap_or_default();
        let missing: Vec<String> = declared.difference(&approved).cloned().collect();
        let mut effective: BTreeSet<String> = declared.intersection(&approved).cloned().collect();
        if !missing.is_empty() {
            if shared.config.auto_approve_commands {
                if let Some(d) = inner.persisted.devices.get_mut(&node_id) {
                    d.approved_commands
                        .get_or_insert_with(BTreeSet::new)
                        .extend(declared.iter().cloned());
                    d.commands_approved_at_ms = Some(now);
                }
                effective = declared.clone();
                changed = true;
            } else {
                let existing = inner
                    .persisted
                    .pending_nodes
                    .iter_mut()
                    .find(|p| p.node_id == node_id);
                match existing {
                    Some(p) => {
                        p.commands = Some(declared.iter().cloned().collect());
                        p.ts = now;
                    }
                    None => {
                        let p = PendingNode {
                            request_id: short_id("n"),
                            node_id: node_id.clone(),
                            display_name: params.client.display_name.clone(),
                            platform: Some(params.client.platform.clone()),
                            version: Some(params.client.version.clone()),
                            device_family: params.client.device_family.clone(),
                            caps: params.caps.clone(),
                            commands: Some(declared.iter().cloned().collect()),
                            remote_ip: Some(peer.ip().to_string()),
                            silent: Some(false),
                            ts: now,
                        };
                        inner.persisted.pending_nodes.push(p.clone());
                        requested = Some(p);
                    }
                }
                changed = true;
            }
        }
        let summary = NodeSummary {
            node_id: node_id.clone(),
            display_name: params.client.display_name.clone(),
            platform: Some(params.client.platform.clone()),
            version: Some(params.client.version.clone()),
            device_family: params.client.device_family.clone(),
            model_identifier: params.client.model_identifier.clone(),
            remote_ip: Some(peer.ip().to_string()),
            caps: params.caps.clone().unwrap_or_default(),
            commands: effective.into_iter().collect(),
            path_env: params.path_env.clone(),
            permissions: params.permissions.clone(),
            connected_at_ms: Some(now),
            paired: true,
            connected: true,
            // Live rows always carry the list, empty until the node publishes.
            node_plugin_tools: Some(Vec::new()),
        };
        if let Some(old) = inner.nodes.insert(
            node_id.clone(),
            NodeSession {
                conn_id: session.conn_id,
                summary,
                declared,
                declared_tools: Vec::new(),
                skills: Vec::new(),
                out,
            },
        ) {
            let _ = old.out.try_send(Out::Close(
                close_codes::POLICY,
                "replaced by a newer connection of the same node".into(),
            ));
        }
    }
    if changed {
        shared.persist();
    }
    if let Some(p) = requested {
        tracing::info!(request_id = %p.request_id, node = %p.node_id, "node command surface needs approval");
        shared.broadcast_operators(events::NODE_PAIR_REQUESTED, &p);
    }
}

/// Forgets a connection; a node's pending invokes fail.
pub(crate) fn disconnect(shared: &Arc<Shared>, session: &Session) {
    let mut inner = shared.lock();
    inner.conns.remove(&session.conn_id);
    let Some(node_id) = &session.device_id else {
        return;
    };
    if inner
        .nodes
        .get(node_id)
        .is_some_and(|n| n.conn_id == session.conn_id)
    {
        inner.nodes.remove(node_id);
        let ids: Vec<String> = inner
            .invokes
            .iter()
            .filter(|(_, p)| &p.node_id == node_id)
            .map(|(id, _)| id.clone())
            .collect();
        for id in ids {
            if let Some(p) = inner.invokes.remove(&id) {
                let _ = p.done.send(Err(ErrorShape::new(
                    error_codes::UNAVAILABLE,
                    format!("node disconnected ({})", p.command),
                )
                .with(ErrorDetails::code(detail_codes::NOT_CONNECTED))));
            }
        }
        tracing::info!(node = %node_id, "node disconnected");
    }
}

/// Every node: connected ones first (by id), then paired ones that are offline.
pub(crate) fn node_list(inner: &Inner) -> Vec<NodeSummary> {
    let mut nodes: Vec<NodeSummary> = inner.nodes.values().map(|n| n.summary.clone()).collect();
    nodes.sort_by(|a, b| a.node_id.cmp(&b.node_id));
    for (id, d) in &inner.persisted.devices {
        if d.roles.contains(ROLE_NODE) && !inner.nodes.contains_key(id) {
            nodes.push(NodeSummary {
                node_id: id.clone(),
                display_name: d.display_name.clone(),
                platform: d.platform.clone(),
                device_family: d.device_family.clone(),
                commands: d
                    .approved_commands
                    .clone()
                    .unwrap_or_default()
                    .into_iter()
                    .collect(),
                paired: true,
                connected: false,
                ..Default::default()
            });
        }
    }
    nodes
}

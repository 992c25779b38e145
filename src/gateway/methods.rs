//! What the embedded gateway does with each request: device admission and pairing, the
//! operator methods of spec §13, and the node methods (`node.invoke.result`,
//! `node.invoke.progress`, `node.event`, read as [`NodeToGateway`]). Every answer is built
//! from the `protocol` types; the live state it reads and changes is in `registry`.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use serde::Serialize;
use serde_json::Value;
use tokio::sync::{mpsc, oneshot};

use super::registry::{Inner, Out, PendingInvoke, Session, Shared, node_list, short_id};
use super::state::DeviceRecord;
use crate::protocol::*;

/// A reply body as the `payload` of a response.
fn body<T: Serialize>(value: &T) -> Value {
    // Plain data with string keys: serialising cannot fail.
    serde_json::to_value(value).expect("reply bodies serialise")
}

fn invalid(message: impl Into<String>) -> ErrorShape {
    ErrorShape::new(error_codes::INVALID_REQUEST, message)
}

fn mint_token() -> String {
    let mut raw = [0u8; 32];
    getrandom::fill(&mut raw).expect("the OS random source is available");
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw)
}

fn normalized_key(text: &str) -> String {
    crate::identity::normalize_public_key(text)
        .map(|k| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(k))
        .unwrap_or_else(|| text.to_string())
}

/// Lets a node device in, or records a pairing request and refuses it.
/// On success returns its device token for role node and when it was issued.
pub(crate) fn admit_device(
    shared: &Arc<Shared>,
    device: &DeviceProof,
    params: &ConnectParams,
    peer: SocketAddr,
) -> Result<(String, u64), ErrorShape> {
    let now = crate::now_ms();
    let key = normalized_key(&device.public_key);
    let mut changed = false;
    let mut requested = None;
    let result = {
        let mut inner = shared.lock();
        if let Some(request_id) = inner.rejected_devices.remove(&device.id) {
            return Err(
                ErrorShape::new(error_codes::NOT_PAIRED, "pairing rejected").with(ErrorDetails {
                    request_id: Some(request_id),
                    device_id: Some(device.id.clone()),
                    ..ErrorDetails::code(detail_codes::PAIRING_REJECTED)
                }),
            );
        }
        let ttl = PAIRING_REQUEST_TTL.as_millis() as u64;
        inner
            .persisted
            .pending_devices
            .retain(|p| now.saturating_sub(p.ts) < ttl);
        let paired = inner
            .persisted
            .devices
            .get(&device.id)
            .is_some_and(|d| d.public_key == key && d.roles.contains(ROLE_NODE));
        if !paired && shared.config.auto_approve_devices {
            inner.persisted.devices.insert(
                device.id.clone(),
                DeviceRecord {
                    public_key: key.clone(),
                    display_name: params.client.display_name.clone(),
                    platform: Some(params.client.platform.clone()),
                    device_family: params.client.device_family.clone(),
                    roles: BTreeSet::from([ROLE_NODE.to_string()]),
                    approved_at_ms: now,
                    ..Default::default()
                },
            );
            inner
                .persisted
                .pending_devices
                .retain(|p| p.device_id != device.id);
            changed = true;
        } else if !paired {
            let existing = inner
                .persisted
                .pending_devices
                .iter_mut()
                .find(|p| p.device_id == device.id && p.public_key == key);
            let request = match existing {
                Some(p) => {
                    p.ts = now;
                    p.clone()
                }
                None => {
                    let p = PendingDevice {
                        request_id: short_id("r"),
                        device_id: device.id.clone(),
                        public_key: key.clone(),
                        display_name: params.client.display_name.clone(),
                        platform: Some(params.client.platform.clone()),
                        device_family: params.client.device_family.clone(),
                        client_id: Some(params.client.id.clone()),
                        client_mode: Some(params.client.mode.clone()),
                        role: Some(ROLE_NODE.into()),
                        scopes: Some(Vec::new()),
                        remote_ip: Some(peer.ip().to_string()),
                        silent: Some(false),
                        ts: now,
                    };
                    inner.persisted.pending_devices.push(p.clone());
                    requested = Some(p.clone());
                    p
                }
            };
            drop(inner);
            if let Some(p) = requested {
                shared.persist();
                shared.broadcast_operators(events::DEVICE_PAIR_REQUESTED, &p);
                tracing::info!(request_id = %p.request_id, device = %p.device_id, "device pairing requested");
            }
            return Err(ErrorShape::new(
                error_codes::NOT_PAIRED,
                "pairing required: device is not approved yet",
            )
            .with(ErrorDetails {
                reason: Some("not-paired".into()),
                request_id: Some(request.request_id),
                remediation_hint: Some(
                    "Approve this device from the pending pairing requests.".into(),
                ),
                device_id: Some(device.id.clone()),
                requested_role: Some(ROLE_NODE.into()),
                ..ErrorDetails::code(detail_codes::PAIRING_REQUIRED)
            }));
        }
        let record = inner
            .persisted
            .devices
            .get_mut(&device.id)
            .expect("paired above");
        let token = record.tokens.entry(ROLE_NODE.into()).or_insert_with(|| {
            changed = true;
            super::state::TokenRecord {
                token: mint_token(),
                issued_at_ms: now,
            }
        });
        Ok((token.token.clone(), token.issued_at_ms))
    };
    if changed {
        shared.persist();
    }
    result
}

fn reply(out: &mpsc::Sender<Out>, id: &str, result: Result<Value, ErrorShape>) {
    let frame = match result {
        Ok(v) => Frame::ok(id, v),
        Err(e) => Frame::err(id, e),
    };
    if out.try_send(Out::Text(frame.to_text())).is_err() {
        tracing::warn!("a client is not reading its responses; dropping one");
    }
}

fn parse<T: serde::de::DeserializeOwned>(
    method: &str,
    params: Option<Value>,
) -> Result<T, ErrorShape> {
    serde_json::from_value(params.unwrap_or_else(|| Value::Object(Default::default())))
        .map_err(|e| invalid(format!("invalid {method} params: {e}")))
}

fn required_scope(method: &str) -> &'static str {
    match method {
        methods::NODE_LIST
        | methods::NODE_DESCRIBE
        | methods::DEVICE_PAIR_LIST
        | methods::NODE_PAIR_LIST => scopes::READ,
        methods::NODE_INVOKE => scopes::WRITE,
        _ => scopes::PAIRING,
    }
}

fn has_scope(granted: &[String], needed: &str) -> bool {
    granted.iter().any(|g| {
        g == scopes::ADMIN || g == needed || (needed == scopes::READ && g == scopes::WRITE)
    })
}

/// Handles one request from a connection.
pub(crate) fn handle_request(
    shared: &Arc<Shared>,
    session: &Arc<Session>,
    req: RequestFrame,
    out: &mpsc::Sender<Out>,
) {
    let id = req.id.clone();
    let method = req.method.as_str();
    let is_node = session.role == ROLE_NODE;
    if methods::NODE.contains(&method) {
        if !is_node {
            return reply(
                out,
                &id,
                Err(invalid(format!("unauthorized role: {}", session.role))),
            );
        }
        return reply(out, &id, node_request(shared, session, req));
    }
    if !methods::OPERATOR.contains(&method) {
        return reply(out, &id, Err(invalid(format!("unknown method: {method}"))));
    }
    if is_node {
        return reply(out, &id, Err(invalid("unauthorized role: node")));
    }
    let needed = required_scope(method);
    if !has_scope(&session.scopes, needed) {
        return reply(
            out,
            &id,
            Err(
                ErrorShape::new(error_codes::FORBIDDEN, format!("missing scope: {needed}")).with(
                    ErrorDetails {
                        missing_scope: Some(needed.into()),
                        required_scopes: Some(vec![needed.into()]),
                        ..ErrorDetails::code(detail_codes::MISSING_SCOPE)
                    },
                ),
            ),
        );
    }
    if method == methods::NODE_INVOKE {
        let shared = shared.clone();
        let out = out.clone();
        tokio::spawn(async move {
            let result = node_invoke(&shared, req.params).await;
            let frame = match result {
                Ok(v) => Frame::ok(&id, v),
                Err(e) => Frame::err(&id, e),
            };
            let _ = out.send(Out::Text(frame.to_text())).await;
        });
        return;
    }
    reply(out, &id, operator_request(shared, method, req.params));
}

fn node_request(
    shared: &Arc<Shared>,
    session: &Session,
    req: RequestFrame,
) -> Result<Value, ErrorShape> {
    let own = session.device_id.as_deref().unwrap_or_default();
    match req.method.as_str() {
        methods::NODE_PLUGIN_TOOLS_UPDATE | methods::NODE_SKILLS_UPDATE => {
            return publication(shared, session, &req);
        }
        methods::NODE_RUNNER_INVENTORY_UPDATE => return runner_inventory(shared, session, &req),
        _ => {}
    }
    let message = NodeToGateway::from_request(req).map_err(|e| match e {
        MessageError::Payload { name, reason } => {
            invalid(format!("invalid {name} params: {reason}"))
        }
        other => invalid(other.to_string()),
    })?;
    match message {
        NodeToGateway::InvokeResult { result, .. } => {
            if result.node_id != own {
                return Err(invalid("nodeId mismatch"));
            }
            let mut inner = shared.lock();
            let belongs = inner
                .invokes
                .get(&result.id)
                .is_some_and(|p| p.node_id == own);
            if !belongs {
                return Ok(body(&Ack::ignored()));
            }
            let pending = inner.invokes.remove(&result.id).expect("checked above");
            let _ = pending.done.send(Ok(result));
            Ok(body(&Ack::ok()))
        }
        NodeToGateway::InvokeProgress { progress, .. } => {
            if progress.node_id != own {
                return Err(invalid("nodeId mismatch"));
            }
            if progress.chunk.len() > MAX_PROGRESS_CHUNK_BYTES {
                return Err(invalid("chunk too large"));
            }
            Ok(body(&Ack::ok()))
        }
        NodeToGateway::Event { event, .. } => Ok(body(&NodeEventAck {
            ok: true,
            event: event.event,
            handled: true,
        })),
        // Read as raw params above, with the real Gateway's schema messages.
        NodeToGateway::PluginToolsUpdate { .. } => unreachable!("handled by publication()"),
        NodeToGateway::Connect { .. } => Err(invalid("connect is only valid as the first request")),
    }
}

/// `node.pluginTools.update` / `node.skills.update` (parity §2.4, §2.5): checked against
/// the closed schema, stored on the node's current connection, answered with what the
/// gateway keeps (`{nodeId, tools}` effective, `{nodeId, skills}` normalised). No approval
/// needed: tools are recomputed when the approved surface changes.
fn publication(
    shared: &Arc<Shared>,
    session: &Session,
    req: &RequestFrame,
) -> Result<Value, ErrorShape> {
    let params = req.params.clone().unwrap_or(Value::Null);
    let tools = req.method == methods::NODE_PLUGIN_TOOLS_UPDATE;
    let declared = if tools {
        super::catalog::plugin_tools_params(&params)
    } else {
        super::catalog::skills_params(&params)
    }
    .map_err(invalid)?;
    let node_id = session
        .device_id
        .clone()
        .ok_or_else(|| invalid("nodeId required"))?;
    let mut inner = shared.lock();
    let node = inner
        .nodes
        .get_mut(&node_id)
        .filter(|n| n.conn_id == session.conn_id)
        .ok_or_else(|| invalid("unknown nodeId"))?;
    if tools {
        node.declared_tools = declared;
        node.refresh_tools();
        let effective = node.summary.node_plugin_tools.clone().unwrap_or_default();
        tracing::debug!(node = %node_id, declared = node.declared_tools.len(), effective = effective.len(), "node plugin tools updated");
        Ok(serde_json::json!({"nodeId": node_id, "tools": effective}))
    } else {
        node.skills = super::catalog::normalise_skills(&node_id, &declared);
        Ok(serde_json::json!({"nodeId": node_id, "skills": node.skills}))
    }
}

/// `node.runnerInventory.update` (parity §2.3) for the forms a node without worker
/// hosting sends: `{nodeId}` once its command surface is settled, `UNAVAILABLE` with the
/// real Gateway's text while a surface request is pending (the node retries).
fn runner_inventory(
    shared: &Arc<Shared>,
    session: &Session,
    req: &RequestFrame,
) -> Result<Value, ErrorShape> {
    use super::catalog::RunnerInventory;
    let params = req.params.clone().unwrap_or(Value::Null);
    let declaration = super::catalog::runner_inventory(&params)
        .ok_or_else(|| invalid("invalid node runner inventory"))?;
    let inner = shared.lock();
    let node_id = session
        .device_id
        .clone()
        .filter(|id| {
            inner
                .nodes
                .get(id)
                .is_some_and(|n| n.conn_id == session.conn_id)
        })
        .ok_or_else(|| invalid("unknown nodeId"))?;
    if declaration == RunnerInventory::Retired {
        return Err(invalid(super::catalog::runner_update_required(&node_id)));
    }
    if let Some(p) = inner
        .persisted
        .pending_nodes
        .iter()
        .find(|p| p.node_id == node_id)
    {
        return Err(ErrorShape::new(
            error_codes::UNAVAILABLE,
            format!(
                "node capability surface is awaiting operator approval; run `openclaw nodes approve {}` (see `openclaw nodes pending`), then this node retries automatically",
                p.request_id
            ),
        ));
    }
    Ok(serde_json::json!({"nodeId": node_id}))
}

fn find_pending_device(inner: &Inner, request_id: &str) -> Result<PendingDevice, ErrorShape> {
    inner
        .persisted
        .pending_devices
        .iter()
        .find(|p| p.request_id == request_id)
        .cloned()
        .ok_or_else(|| invalid("unknown requestId"))
}

fn operator_request(
    shared: &Arc<Shared>,
    method: &str,
    params: Option<Value>,
) -> Result<Value, ErrorShape> {
    let now = crate::now_ms();
    match method {
        methods::DEVICE_PAIR_LIST => {
            let _: EmptyParams = parse(method, params)?;
            let inner = shared.lock();
            let paired: Vec<PairedDevice> = inner
                .persisted
                .devices
                .iter()
                .map(|(id, d)| PairedDevice {
                    device_id: id.clone(),
                    public_key: d.public_key.clone(),
                    display_name: d.display_name.clone(),
                    platform: d.platform.clone(),
                    device_family: d.device_family.clone(),
                    roles: d.roles.iter().cloned().collect(),
                    scopes: d.scopes.clone(),
                    approved_at_ms: Some(d.approved_at_ms),
                })
                .collect();
            Ok(body(&DevicePairList {
                pending: inner.persisted.pending_devices.clone(),
                paired,
            }))
        }
        methods::DEVICE_PAIR_APPROVE | methods::DEVICE_PAIR_REJECT => {
            let p: RequestIdParams = parse(method, params)?;
            let approve = method == methods::DEVICE_PAIR_APPROVE;
            let (pending, device) = {
                let mut inner = shared.lock();
                let pending = find_pending_device(&inner, &p.request_id)?;
                inner
                    .persisted
                    .pending_devices
                    .retain(|x| x.request_id != p.request_id);
                if approve {
                    let record = DeviceRecord {
                        public_key: pending.public_key.clone(),
                        display_name: pending.display_name.clone(),
                        platform: pending.platform.clone(),
                        device_family: pending.device_family.clone(),
                        roles: BTreeSet::from([pending
                            .role
                            .clone()
                            .unwrap_or_else(|| ROLE_NODE.into())]),
                        scopes: pending.scopes.clone().unwrap_or_default(),
                        approved_at_ms: now,
                        ..Default::default()
                    };
                    inner
                        .persisted
                        .devices
                        .insert(pending.device_id.clone(), record);
                } else {
                    inner
                        .rejected_devices
                        .insert(pending.device_id.clone(), pending.request_id.clone());
                }
                (pending.clone(), pending)
            };
            shared.persist();
            let decision = if approve { "approved" } else { "rejected" };
            shared.broadcast_operators(
                events::DEVICE_PAIR_RESOLVED,
                &PairResolved {
                    request_id: pending.request_id.clone(),
                    node_id: None,
                    device_id: Some(pending.device_id.clone()),
                    decision: decision.into(),
                    ts: now,
                },
            );
            tracing::info!(request_id = %pending.request_id, device = %pending.device_id, decision, "device pairing decided");
            Ok(body(&DevicePairDecision {
                request_id: pending.request_id,
                decision: decision.into(),
                device,
            }))
        }
        methods::DEVICE_PAIR_REMOVE => {
            let p: DeviceIdParams = parse(method, params)?;
            let removed = {
                let mut inner = shared.lock();
                let removed = inner.persisted.devices.remove(&p.device_id);
                inner
                    .persisted
                    .pending_nodes
                    .retain(|n| n.node_id != p.device_id);
                for c in inner.conns.values() {
                    if c.device_id.as_deref() == Some(&p.device_id) {
                        let _ = c
                            .out
                            .try_send(Out::Close(close_codes::POLICY, "device removed".into()));
                    }
                }
                removed
            };
            if removed.is_none() {
                return Err(invalid("unknown deviceId"));
            }
            shared.persist();
            Ok(body(&DeviceRemoved {
                device_id: p.device_id,
                removed_at_ms: now,
            }))
        }
        methods::NODE_PAIR_LIST => {
            let _: EmptyParams = parse(method, params)?;
            let inner = shared.lock();
            let paired: Vec<PairedNode> = inner
                .persisted
                .devices
                .iter()
                .filter_map(|(id, d)| {
                    d.approved_commands.as_ref().map(|c| PairedNode {
                        node_id: id.clone(),
                        display_name: d.display_name.clone(),
                        commands: c.iter().cloned().collect(),
                        approved_at_ms: d.commands_approved_at_ms,
                    })
                })
                .collect();
            Ok(body(&NodePairList {
                pending: inner.persisted.pending_nodes.clone(),
                paired,
            }))
        }
        methods::NODE_PAIR_APPROVE | methods::NODE_PAIR_REJECT => {
            let p: RequestIdParams = parse(method, params)?;
            let approve = method == methods::NODE_PAIR_APPROVE;
            let pending = {
                let mut inner = shared.lock();
                let pending = inner
                    .persisted
                    .pending_nodes
                    .iter()
                    .find(|n| n.request_id == p.request_id)
                    .cloned()
                    .ok_or_else(|| invalid("unknown requestId"))?;
                inner
                    .persisted
                    .pending_nodes
                    .retain(|n| n.request_id != p.request_id);
                if approve {
                    let commands: BTreeSet<String> = pending
                        .commands
                        .clone()
                        .unwrap_or_default()
                        .into_iter()
                        .collect();
                    let approved = inner.persisted.devices.get_mut(&pending.node_id).map(|d| {
                        let set = d.approved_commands.get_or_insert_with(BTreeSet::new);
                        set.extend(commands.iter().cloned());
                        d.commands_approved_at_ms = Some(now);
                        set.clone()
                    });
                    if let (Some(approved), Some(node)) =
                        (approved, inner.nodes.get_mut(&pending.node_id))
                    {
                        let commands = node.declared.intersection(&approved).cloned().collect();
                        node.set_commands(commands);
                    }
                }
                let decision = if approve { "approved" } else { "rejected" };
                let event = GatewayToNode::PairResolved(PairResolved {
                    request_id: pending.request_id.clone(),
                    node_id: Some(pending.node_id.clone()),
                    device_id: None,
                    decision: decision.into(),
                    ts: now,
                })
                .to_text();
                if let Some(node) = inner.nodes.get(&pending.node_id) {
                    let _ = node.out.try_send(Out::Text(event));
                }
                pending
            };
            shared.persist();
            let decision = if approve { "approved" } else { "rejected" };
            shared.broadcast_operators(
                events::NODE_PAIR_RESOLVED,
                &PairResolved {
                    request_id: pending.request_id.clone(),
                    node_id: Some(pending.node_id.clone()),
                    device_id: None,
                    decision: decision.into(),
                    ts: now,
                },
            );
            tracing::info!(request_id = %pending.request_id, node = %pending.node_id, decision, "node command surface decided");
            Ok(body(&NodePairDecision {
                request_id: pending.request_id,
                node_id: pending.node_id,
                decision: decision.into(),
                commands: pending.commands,
            }))
        }
        methods::NODE_LIST => {
            let _: EmptyParams = parse(method, params)?;
            let inner = shared.lock();
            Ok(body(&NodeListResult {
                ts: now,
                nodes: node_list(&inner),
            }))
        }
        methods::NODE_DESCRIBE => {
            let p: NodeIdParams = parse(method, params)?;
            let inner = shared.lock();
            let node = node_list(&inner)
                .into_iter()
                .find(|n| n.node_id == p.node_id)
                .ok_or_else(|| invalid("unknown nodeId"))?;
            Ok(body(&NodeDescribeResult { node, ts: now }))
        }
        _ => Err(invalid(format!("unknown method: {method}"))),
    }
}

async fn node_invoke(shared: &Arc<Shared>, params: Option<Value>) -> Result<Value, ErrorShape> {
    let p: NodeInvokeParams = parse(methods::NODE_INVOKE, params)?;
    if p.idempotency_key.trim().is_empty() {
        return Err(invalid(
            "invalid node.invoke params: idempotencyKey required",
        ));
    }
    let timeout = p
        .timeout_ms
        .map(Duration::from_millis)
        .unwrap_or(shared.config.invoke_timeout_default);
    let invoke_id = uuid::Uuid::new_v4().to_string();
    let (tx, rx) = oneshot::channel();
    {
        let mut inner = shared.lock();
        let Some(node) = inner.nodes.get(&p.node_id) else {
            return Err(
                ErrorShape::new(error_codes::UNAVAILABLE, "node not connected")
                    .with(ErrorDetails::code(detail_codes::NOT_CONNECTED)),
            );
        };
        if !node.summary.commands.iter().any(|c| c == &p.command) {
            return Err(invalid(format!(
                "node command not allowed: \"{}\" is not in the allowlist for platform \"{}\"",
                p.command,
                node.summary.platform.as_deref().unwrap_or("unknown")
            ))
            .with(ErrorDetails {
                reason: Some("not-allowed".into()),
                command: Some(p.command.clone()),
                ..ErrorDetails::default()
            }));
        }
        let text = GatewayToNode::InvokeRequest(NodeInvokeRequest {
            id: invoke_id.clone(),
            node_id: p.node_id.clone(),
            command: p.command.clone(),
            params_json: p.params.as_ref().map(Value::to_string),
            timeout_ms: Some(timeout.as_millis() as u64),
            idempotency_key: Some(p.idempotency_key.clone()),
        })
        .to_text();
        if node.out.try_send(Out::Text(text)).is_err() {
            return Err(ErrorShape::new(
                error_codes::UNAVAILABLE,
                "node busy; retry",
            ));
        }
        inner.invokes.insert(
            invoke_id.clone(),
            PendingInvoke {
                node_id: p.node_id.clone(),
                command: p.command.clone(),
                done: tx,
            },
        );
    }
    let outcome = tokio::time::timeout(timeout, rx).await;
    let result = match outcome {
        Ok(Ok(r)) => r?,
        Ok(Err(_)) => {
            return Err(ErrorShape::new(
                error_codes::UNAVAILABLE,
                "node disconnected",
            ));
        }
        Err(_) => {
            // Like the real Gateway: tell the node to stop, and report the timeout as the
            // node's error.
            let node_out = {
                let mut inner = shared.lock();
                inner.invokes.remove(&invoke_id);
                inner.nodes.get(&p.node_id).map(|n| n.out.clone())
            };
            if let Some(out) = node_out {
                let cancel = GatewayToNode::InvokeCancel(NodeInvokeCancel {
                    invoke_id: invoke_id.clone(),
                    node_id: Some(p.node_id.clone()),
                });
                let _ = out.try_send(Out::Text(cancel.to_text()));
            }
            return Err(ErrorShape::new(
                error_codes::UNAVAILABLE,
                "TIMEOUT: node invoke timed out",
            )
            .with(ErrorDetails {
                node_error: Some(InvokeError {
                    code: Some(error_codes::TIMEOUT.into()),
                    message: Some("node invoke timed out".into()),
                    details: None,
                }),
                node_command_dispatched: Some(true),
                ..ErrorDetails::default()
            }));
        }
    };
    if !result.ok {
        let e = result.error.unwrap_or(InvokeError {
            code: None,
            message: None,
            details: None,
        });
        let message = match (&e.code, &e.message) {
            (Some(c), Some(m)) if !m.starts_with(&format!("{c}:")) => format!("{c}: {m}"),
            (_, Some(m)) => m.clone(),
            (Some(c), None) => c.clone(),
            (None, None) => "node invoke failed".into(),
        };
        return Err(
            ErrorShape::new(error_codes::UNAVAILABLE, message).with(ErrorDetails {
                node_error: Some(e),
                node_command_dispatched: Some(true),
                ..ErrorDetails::default()
            }),
        );
    }
    let payload = match (&result.payload_json, &result.payload) {
        (Some(text), _) => serde_json::from_str(text).unwrap_or(Value::Null),
        (None, Some(v)) => v.clone(),
        (None, None) => Value::Null,
    };
    Ok(body(&NodeInvokeResponse {
        ok: true,
        node_id: p.node_id,
        command: p.command,
        payload,
        payload_json: result.payload_json,
    }))
}

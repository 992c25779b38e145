//! The two directions of a node connection as typed messages: [`GatewayToNode`] (what a
//! node receives from a gateway) and [`NodeToGateway`] (what a gateway receives from a
//! node). The node's session and the embedded gateway both read and write frames through
//! these, so a change of shape on one side is a compile error on the other.
//!
//! Each message maps to one [`Frame`] and back ([`GatewayToNode::into_frame`],
//! [`GatewayToNode::from_frame`], and the same on [`NodeToGateway`]). Decoding is lenient
//! in what the node reads (an event it does not know is [`GatewayToNode::Other`]) and
//! reports a known message with a bad body as [`MessageError::Payload`].

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::connect::{ConnectChallenge, ConnectParams};
use super::consts::{events, methods};
use super::frames::{EventFrame, Frame, FrameError, RequestFrame, ResponseFrame};
use super::node::{
    NodeEventParams, NodeInvokeCancel, NodeInvokeProgress, NodeInvokeRequest, NodeInvokeResult,
    NodePluginToolsUpdate, PairResolved, ShutdownEvent, TickEvent,
};

/// Why a frame is not the message it claims to be.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MessageError {
    /// The text is not a frame.
    #[error(transparent)]
    Frame(#[from] FrameError),
    /// A known event or method whose body does not decode.
    #[error("malformed {name}: {reason}")]
    Payload {
        /// The event or method name.
        name: String,
        /// What was wrong.
        reason: String,
    },
    /// A frame this direction never carries (a request to a node, a response or event to
    /// a gateway) or a method a node does not call.
    #[error("unexpected {0} from the peer")]
    Unexpected(String),
}

fn decode<T: DeserializeOwned>(name: &str, body: Option<Value>) -> Result<T, MessageError> {
    serde_json::from_value(body.unwrap_or(Value::Null)).map_err(|e| MessageError::Payload {
        name: name.to_string(),
        reason: e.to_string(),
    })
}

fn encode<T: Serialize>(body: &T) -> Value {
    // Plain data with string keys: serialising cannot fail.
    serde_json::to_value(body).expect("message bodies serialise")
}

/// What a node receives from a gateway (spec §4, §6, §9, §10).
#[derive(Debug, Clone, PartialEq)]
pub enum GatewayToNode {
    /// `connect.challenge`: the nonce the device signature must cover. The first frame of
    /// every connection.
    Challenge(ConnectChallenge),
    /// The answer to one of the node's requests: hello-ok or a refusal for `connect`, an
    /// acknowledgement (or a refusal) for `node.invoke.result`, `node.event` …
    Response(ResponseFrame),
    /// `node.invoke.request`: run a command and answer with one `node.invoke.result`.
    InvokeRequest(NodeInvokeRequest),
    /// `node.invoke.cancel`: stop a running call; no result is expected for it.
    InvokeCancel(NodeInvokeCancel),
    /// `tick`: the gateway's keepalive, every `policy.tickIntervalMs`, with a
    /// per-connection sequence number.
    Tick {
        /// The gateway clock.
        tick: TickEvent,
        /// Per-connection broadcast sequence.
        seq: Option<u64>,
    },
    /// `shutdown`: the gateway is stopping; a close 1012 follows.
    Shutdown(ShutdownEvent),
    /// `node.pair.resolved`: an operator decided on this node's command surface.
    PairResolved(PairResolved),
    /// Any other event (presence, health …): tolerated and ignored by nodes.
    Other(EventFrame),
}

impl GatewayToNode {
    /// Parses one text frame leniently (unknown keys tolerated), as a node does.
    pub fn parse(text: &str) -> Result<Self, MessageError> {
        Self::from_frame(Frame::parse(text)?)
    }

    /// The message a frame carries.
    pub fn from_frame(frame: Frame) -> Result<Self, MessageError> {
        let e = match frame {
            Frame::Res(r) => return Ok(Self::Response(r)),
            Frame::Req(r) => return Err(MessageError::Unexpected(format!("request {}", r.method))),
            Frame::Event(e) => e,
        };
        let name = e.event.as_str();
        Ok(match name {
            events::CONNECT_CHALLENGE => Self::Challenge(decode(name, e.payload)?),
            events::NODE_INVOKE_REQUEST => Self::InvokeRequest(decode(name, e.payload)?),
            events::NODE_INVOKE_CANCEL => Self::InvokeCancel(decode(name, e.payload)?),
            events::TICK => Self::Tick {
                tick: decode(name, e.payload)?,
                seq: e.seq,
            },
            events::SHUTDOWN => Self::Shutdown(decode(name, e.payload)?),
            events::NODE_PAIR_RESOLVED => Self::PairResolved(decode(name, e.payload)?),
            _ => Self::Other(e),
        })
    }

    /// The frame that carries this message.
    pub fn into_frame(self) -> Frame {
        let event = |name: &str, body: Value| Frame::event(name, body);
        match self {
            Self::Challenge(c) => event(events::CONNECT_CHALLENGE, encode(&c)),
            Self::Response(r) => Frame::Res(r),
            Self::InvokeRequest(r) => event(events::NODE_INVOKE_REQUEST, encode(&r)),
            Self::InvokeCancel(c) => event(events::NODE_INVOKE_CANCEL, encode(&c)),
            Self::Tick { tick, seq } => Frame::Event(EventFrame {
                event: events::TICK.into(),
                payload: Some(encode(&tick)),
                seq,
                state_version: None,
            }),
            Self::Shutdown(s) => event(events::SHUTDOWN, encode(&s)),
            Self::PairResolved(p) => event(events::NODE_PAIR_RESOLVED, encode(&p)),
            Self::Other(e) => Frame::Event(e),
        }
    }

    /// The text of the WebSocket message that carries this message.
    pub fn to_text(&self) -> String {
        self.clone().into_frame().to_text()
    }
}

/// What a gateway receives from a node (spec §4, §9, §10). Every one is a request; the
/// gateway answers each with a response of the same id.
#[derive(Debug, Clone, PartialEq)]
pub enum NodeToGateway {
    /// `connect`: the first frame, with the signed device proof.
    Connect {
        /// The request id hello-ok echoes.
        id: String,
        /// The closed connect params.
        params: Box<ConnectParams>,
    },
    /// `node.invoke.result`: the one terminal answer to an invoke.
    InvokeResult {
        /// The request id.
        id: String,
        /// The result.
        result: NodeInvokeResult,
    },
    /// `node.invoke.progress`: one chunk of streamed output.
    InvokeProgress {
        /// The request id.
        id: String,
        /// The chunk.
        progress: NodeInvokeProgress,
    },
    /// `node.event`: `exec.finished`, `node.host.stats` …
    Event {
        /// The request id.
        id: String,
        /// The event.
        event: NodeEventParams,
    },
    /// `node.pluginTools.update`: the node's agent-tool catalog (answered `{nodeId, tools}`).
    PluginToolsUpdate {
        /// The request id.
        id: String,
        /// The catalog.
        update: NodePluginToolsUpdate,
    },
}

impl NodeToGateway {
    /// The message a request carries; [`MessageError::Unexpected`] for a method nodes do
    /// not call (an operator method, say).
    pub fn from_request(req: RequestFrame) -> Result<Self, MessageError> {
        let name = req.method.as_str();
        let id = req.id.clone();
        // Absent params read as `{}`, which the closed param types then judge.
        let params = Some(
            req.params
                .unwrap_or_else(|| Value::Object(Default::default())),
        );
        Ok(match name {
            methods::CONNECT => Self::Connect {
                id,
                params: Box::new(decode(name, params)?),
            },
            methods::NODE_INVOKE_RESULT => Self::InvokeResult {
                id,
                result: decode(name, params)?,
            },
            methods::NODE_INVOKE_PROGRESS => Self::InvokeProgress {
                id,
                progress: decode(name, params)?,
            },
            methods::NODE_EVENT => Self::Event {
                id,
                event: decode(name, params)?,
            },
            methods::NODE_PLUGIN_TOOLS_UPDATE => Self::PluginToolsUpdate {
                id,
                update: decode(name, params)?,
            },
            _ => return Err(MessageError::Unexpected(format!("method {name}"))),
        })
    }

    /// The message a frame carries.
    pub fn from_frame(frame: Frame) -> Result<Self, MessageError> {
        match frame {
            Frame::Req(r) => Self::from_request(r),
            Frame::Res(_) => Err(MessageError::Unexpected("response".into())),
            Frame::Event(e) => Err(MessageError::Unexpected(format!("event {}", e.event))),
        }
    }

    /// The request id.
    pub fn id(&self) -> &str {
        match self {
            Self::Connect { id, .. }
            | Self::InvokeResult { id, .. }
            | Self::InvokeProgress { id, .. }
            | Self::Event { id, .. }
            | Self::PluginToolsUpdate { id, .. } => id,
        }
    }

    /// The method name.
    pub fn method(&self) -> &'static str {
        match self {
            Self::Connect { .. } => methods::CONNECT,
            Self::InvokeResult { .. } => methods::NODE_INVOKE_RESULT,
            Self::InvokeProgress { .. } => methods::NODE_INVOKE_PROGRESS,
            Self::Event { .. } => methods::NODE_EVENT,
            Self::PluginToolsUpdate { .. } => methods::NODE_PLUGIN_TOOLS_UPDATE,
        }
    }

    /// The frame that carries this message.
    pub fn into_frame(self) -> Frame {
        let method = self.method();
        let (id, params) = match self {
            Self::Connect { id, params } => (id, encode(&params)),
            Self::InvokeResult { id, result } => (id, encode(&result)),
            Self::InvokeProgress { id, progress } => (id, encode(&progress)),
            Self::Event { id, event } => (id, encode(&event)),
            Self::PluginToolsUpdate { id, update } => (id, encode(&update)),
        };
        Frame::request(id, method, params)
    }

    /// The text of the WebSocket message that carries this message.
    pub fn to_text(&self) -> String {
        self.clone().into_frame().to_text()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::connect::{AuthParams, ClientInfo};
    use crate::protocol::frames::ErrorShape;
    use crate::protocol::node::InvokeError;
    use serde_json::json;

    fn round_trip_gateway(m: GatewayToNode) {
        let text = m.to_text();
        assert_eq!(GatewayToNode::parse(&text).unwrap(), m, "{text}");
    }

    fn round_trip_node(m: NodeToGateway) {
        let text = m.to_text();
        let frame = Frame::parse_strict(&text).unwrap();
        assert_eq!(NodeToGateway::from_frame(frame).unwrap(), m, "{text}");
    }

    #[test]
    fn every_gateway_to_node_message_round_trips() {
        round_trip_gateway(GatewayToNode::Challenge(ConnectChallenge {
            nonce: "n".into(),
            ts: 7,
        }));
        round_trip_gateway(GatewayToNode::Response(ResponseFrame {
            id: "n1".into(),
            ok: false,
            payload: None,
            error: Some(ErrorShape::new("INVALID_REQUEST", "no")),
        }));
        round_trip_gateway(GatewayToNode::InvokeRequest(NodeInvokeRequest {
            id: "i".into(),
            node_id: "n".into(),
            command: "system.which".into(),
            params_json: Some(r#"{"bins":["sh"]}"#.into()),
            timeout_ms: Some(5000),
            idempotency_key: Some("k".into()),
        }));
        round_trip_gateway(GatewayToNode::InvokeCancel(NodeInvokeCancel {
            invoke_id: "i".into(),
            node_id: Some("n".into()),
        }));
        round_trip_gateway(GatewayToNode::Tick {
            tick: TickEvent { ts: 9 },
            seq: Some(3),
        });
        round_trip_gateway(GatewayToNode::Shutdown(ShutdownEvent {
            reason: "gateway stopping".into(),
            restart_expected_ms: None,
        }));
        round_trip_gateway(GatewayToNode::PairResolved(PairResolved {
            request_id: "r".into(),
            node_id: Some("n".into()),
            device_id: None,
            decision: "approved".into(),
            ts: 1,
        }));
        round_trip_gateway(GatewayToNode::Other(EventFrame {
            event: "presence".into(),
            payload: Some(json!({"x": 1})),
            seq: Some(1),
            state_version: None,
        }));
    }

    #[test]
    fn gateway_to_node_wire_shapes_are_the_spec_ones() {
        let tick = GatewayToNode::Tick {
            tick: TickEvent { ts: 5 },
            seq: Some(0),
        };
        assert_eq!(
            tick.to_text(),
            r#"{"type":"event","event":"tick","payload":{"ts":5},"seq":0}"#
        );
        let cancel = GatewayToNode::InvokeCancel(NodeInvokeCancel {
            invoke_id: "i".into(),
            node_id: Some("n".into()),
        });
        assert_eq!(
            cancel.to_text(),
            r#"{"type":"event","event":"node.invoke.cancel","payload":{"invokeId":"i","nodeId":"n"}}"#
        );
    }

    #[test]
    fn a_known_event_with_a_bad_body_is_a_payload_error_and_requests_are_unexpected() {
        let text = r#"{"type":"event","event":"node.invoke.request","payload":{"id":"1"}}"#;
        assert!(matches!(
            GatewayToNode::parse(text),
            Err(MessageError::Payload { name, .. }) if name == "node.invoke.request"
        ));
        let text = r#"{"type":"req","id":"1","method":"x"}"#;
        assert!(matches!(
            GatewayToNode::parse(text),
            Err(MessageError::Unexpected(_))
        ));
        assert!(matches!(
            GatewayToNode::parse("nope"),
            Err(MessageError::Frame(_))
        ));
    }

    #[test]
    fn every_node_to_gateway_message_round_trips() {
        round_trip_node(NodeToGateway::Connect {
            id: "connect".into(),
            params: Box::new(ConnectParams {
                min_protocol: 3,
                max_protocol: 4,
                client: ClientInfo {
                    id: "node-host".into(),
                    display_name: None,
                    version: "0.1.0".into(),
                    platform: "linux".into(),
                    device_family: None,
                    model_identifier: None,
                    mode: "node".into(),
                    instance_id: None,
                },
                role: Some("node".into()),
                scopes: Some(vec![]),
                caps: None,
                commands: None,
                permissions: None,
                path_env: None,
                auth: Some(AuthParams {
                    token: Some("t".into()),
                    ..Default::default()
                }),
                device: None,
                locale: None,
                user_agent: None,
            }),
        });
        round_trip_node(NodeToGateway::InvokeResult {
            id: "n1".into(),
            result: NodeInvokeResult {
                id: "i".into(),
                node_id: "n".into(),
                ok: false,
                payload: None,
                payload_json: None,
                error: Some(InvokeError {
                    code: Some("UNAVAILABLE".into()),
                    message: Some("no".into()),
                    details: None,
                }),
            },
        });
        round_trip_node(NodeToGateway::InvokeProgress {
            id: "n2".into(),
            progress: NodeInvokeProgress {
                invoke_id: "i".into(),
                node_id: "n".into(),
                seq: 0,
                chunk: "out".into(),
            },
        });
        round_trip_node(NodeToGateway::Event {
            id: "n3".into(),
            event: NodeEventParams {
                event: "node.host.stats".into(),
                payload: None,
                payload_json: Some("{}".into()),
            },
        });
    }

    #[test]
    fn node_to_gateway_refuses_other_methods_and_bad_params() {
        let req = |method: &str, params: Value| RequestFrame {
            id: "1".into(),
            method: method.into(),
            params: Some(params),
        };
        assert!(matches!(
            NodeToGateway::from_request(req("node.list", json!({}))),
            Err(MessageError::Unexpected(_))
        ));
        let err = NodeToGateway::from_request(req(
            "node.invoke.result",
            json!({"id": "i", "nodeId": "n", "ok": true, "extra": 1}),
        ))
        .unwrap_err();
        assert!(err.to_string().contains("extra"), "{err}");
    }
}

//! `mcp.tools.call.v1`: params decoded as the reference's `decodeMcpToolsCallParams`
//! (parity §3.5), the call authorised against the published catalog only (issue #124580),
//! sent as MCP `tools/call` under min(the invoke's deadline, the server's request
//! timeout), dropped (and so cancelled on the server) on `node.invoke.cancel`, and the
//! result bounded ([`crate::result`]) and sent as a `payload` object (parity §1). Errors
//! carry the reference's codes and are redacted and bounded as its are (§3.6).

use std::sync::Arc;
use std::time::Duration;

use openclaw_capability_api::{CallContext, CapabilityError, Command, ErrorCode};
use rmcp::ServiceError;
use rmcp::model::CallToolRequestParams;
use serde_json::{Map, Value};

use crate::catalog::Servers;
use crate::descriptors::CALL_COMMAND;
use crate::redact::redact_error;
use crate::server::secrets;
use crate::settings::{DEFAULT_CALL_TIMEOUT, McpSettings};

/// The decoded params (`Deserialize` only because [`Command`] asks for it: they are read
/// by [`decode`]).
#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
pub struct CallParams {
    /// The server's config name, trimmed.
    pub server: String,
    /// The MCP tool name, trimmed.
    pub tool: String,
    /// The tool's arguments (absent = `{}`).
    pub arguments: Map<String, Value>,
}

fn invalid(text: &str) -> CapabilityError {
    CapabilityError::invalid_request(format!("Error: INVALID_REQUEST: {text}"))
}

/// `paramsJSON` → [`CallParams`], with the reference's three messages.
pub fn decode(params_json: Option<&str>) -> Result<CallParams, CapabilityError> {
    let raw = params_json
        .filter(|t| !t.is_empty())
        .ok_or_else(|| invalid("paramsJSON required"))?;
    let value: Value =
        serde_json::from_str(raw).map_err(|_| invalid("paramsJSON malformed JSON"))?;
    let Value::Object(object) = value else {
        return Err(invalid("MCP tool params must be an object"));
    };
    let text = |key: &str| {
        object
            .get(key)
            .and_then(Value::as_str)
            .map(|s| s.trim().to_string())
            .unwrap_or_default()
    };
    let (server, tool) = (text("server"), text("tool"));
    if server.is_empty() || tool.is_empty() {
        return Err(invalid("server and tool required"));
    }
    let arguments = match object.get("arguments") {
        None => Map::new(),
        Some(Value::Object(a)) => a.clone(),
        Some(_) => return Err(invalid("arguments must be an object")),
    };
    Ok(CallParams {
        server,
        tool,
        arguments,
    })
}

fn mcp_error(code: &'static str, message: impl Into<String>) -> CapabilityError {
    CapabilityError::new(ErrorCode::Token(code), message)
}

/// The command.
pub(crate) struct ToolsCall {
    pub(crate) settings: Arc<McpSettings>,
    pub(crate) servers: Arc<Servers>,
}

impl Command for ToolsCall {
    type Params = Option<CallParams>;
    type Output = Value;

    fn name(&self) -> &'static str {
        CALL_COMMAND
    }

    fn result_as_object(&self) -> bool {
        true
    }

    fn parse(&self, params_json: Option<&str>) -> Result<Option<CallParams>, CapabilityError> {
        // The reference answers "unavailable" before it reads the params.
        if !self.servers.catalog().ready {
            return Ok(None);
        }
        decode(params_json).map(Some)
    }

    async fn run(
        &self,
        params: Option<CallParams>,
        ctx: CallContext,
    ) -> Result<Value, CapabilityError> {
        let unavailable = || mcp_error("MCP_SERVER_UNAVAILABLE", "node host MCP is unavailable");
        let params = params.ok_or_else(unavailable)?;
        if !self.servers.catalog().ready {
            return Err(unavailable());
        }
        let server = &params.server;
        let peer = self.servers.peer(server).ok_or_else(|| {
            mcp_error(
                "MCP_SERVER_UNAVAILABLE",
                format!("MCP server \"{server}\" is unavailable"),
            )
        })?;
        let settings = self.settings.servers.get(server);
        // The owner's `exclude` is checked here too, not only when the catalog is built:
        // an excluded tool is never called, whatever the catalog holds.
        let denied = settings.is_some_and(|s| !s.admits(&params.tool));
        if denied || !self.servers.catalog().publishes(server, &params.tool) {
            return Err(mcp_error(
                "MCP_TOOL_UNAVAILABLE",
                format!(
                    "MCP tool \"{}\" is unavailable on server \"{server}\"",
                    params.tool
                ),
            ));
        }
        let server_timeout = settings.map_or(DEFAULT_CALL_TIMEOUT, |s| s.call_timeout());
        let bounded = |text: &str| redact_error(text, settings.into_iter().flat_map(secrets));
        let requested = ctx
            .deadline
            .map(|d| d.saturating_duration_since(tokio::time::Instant::now()))
            .filter(|d| !d.is_zero())
            .unwrap_or(DEFAULT_CALL_TIMEOUT);
        let timeout = requested.min(server_timeout);
        let mut request = CallToolRequestParams::new(params.tool.clone());
        request.arguments = Some(params.arguments);
        // Dropping the request future sends `notifications/cancelled` to the server.
        let outcome = tokio::select! {
            r = peer.call_tool(request) => r,
            _ = tokio::time::sleep(timeout) => {
                return Err(mcp_error("MCP_TOOL_TIMEOUT", timeout_message(timeout)));
            }
            _ = ctx.cancel.cancelled() => {
                return Err(CapabilityError::unavailable("cancelled"));
            }
        };
        match outcome {
            Ok(result) => {
                let value = serde_json::to_value(result)
                    .map_err(|e| mcp_error("MCP_TOOL_ERROR", e.to_string()))?;
                Ok(crate::result::bound(&value))
            }
            Err(ServiceError::TransportClosed | ServiceError::TransportSend(_)) => Err(mcp_error(
                "MCP_SERVER_UNAVAILABLE",
                format!("MCP server \"{server}\" disconnected"),
            )),
            Err(ServiceError::McpError(e)) if e.code.0 == -32001 => Err(mcp_error(
                "MCP_TOOL_TIMEOUT",
                bounded(&format!("MCP error {}: {}", e.code.0, e.message)),
            )),
            Err(ServiceError::McpError(e)) => Err(mcp_error(
                "MCP_TOOL_ERROR",
                bounded(&format!("MCP error {}: {}", e.code.0, e.message)),
            )),
            Err(e) => Err(mcp_error("MCP_TOOL_ERROR", bounded(&e.to_string()))),
        }
    }
}

/// The message of a call that ran out of time (the TypeScript SDK's RequestTimeout text).
fn timeout_message(timeout: Duration) -> String {
    format!(
        "MCP error -32001: Request timed out (timeout: {} ms)",
        timeout.as_millis()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn params_are_decoded_with_the_reference_messages() {
        let msg = |p: Option<&str>| decode(p).unwrap_err().message;
        assert_eq!(msg(None), "Error: INVALID_REQUEST: paramsJSON required");
        assert_eq!(msg(Some("")), "Error: INVALID_REQUEST: paramsJSON required");
        assert_eq!(
            msg(Some("{")),
            "Error: INVALID_REQUEST: paramsJSON malformed JSON"
        );
        assert_eq!(
            msg(Some("[]")),
            "Error: INVALID_REQUEST: MCP tool params must be an object"
        );
        assert_eq!(
            msg(Some(r#"{"server":" ","tool":"t"}"#)),
            "Error: INVALID_REQUEST: server and tool required"
        );
        assert_eq!(
            msg(Some(r#"{"server":"s","tool":5}"#)),
            "Error: INVALID_REQUEST: server and tool required"
        );
        assert_eq!(
            msg(Some(r#"{"server":"s","tool":"t","arguments":[1]}"#)),
            "Error: INVALID_REQUEST: arguments must be an object"
        );
        let p = decode(Some(r#"{"server":" s ","tool":"t","extra":1}"#)).unwrap();
        assert_eq!(
            (p.server.as_str(), p.tool.as_str(), p.arguments.len()),
            ("s", "t", 0)
        );
        assert_eq!(
            decode(Some(r#"{}"#)).unwrap_err().code,
            ErrorCode::InvalidRequest
        );
    }
}

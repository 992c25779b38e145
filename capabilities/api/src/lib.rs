//! The contract between `openclaw-node` and its capabilities.
//!
//! A capability (`system`, `screen`, `browser` …) is a group of commands. Each command is a
//! plain async function from typed params to a typed result, written against [`Command`];
//! [`erase`] turns it into a [`Handler`] that the node's dispatcher can store next to
//! commands of other types. This crate knows nothing of frames, sockets or gateways: the
//! node's `session::dispatch` is the one place that translates between the wire and here.
//!
//! A call gets a [`CallContext`]: its deadline, a cancel token (fired on
//! `node.invoke.cancel`, on the deadline and on shutdown), a [`ProgressSink`] for streamed
//! output and an [`EventSink`] for `node.event`s such as `exec.finished`.
//!
//! A capability may also run one task per gateway connection
//! ([`Capability::background`], e.g. the `node.host.stats` publisher): it gets a
//! [`BackgroundContext`] with the connection's event sink, a [`RequestSink`] for gateway
//! methods that answer (e.g. `node.pluginTools.update`) and the stop token.

#![forbid(unsafe_code)]

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

pub mod collate;
pub mod js;
pub mod publish;

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// A boxed, sendable future (what [`Handler::call`] returns).
pub type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

/// The error code of a failed call, as it goes on the wire in `node.invoke.result.error`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    /// The params were missing or wrong (`INVALID_REQUEST`).
    InvalidRequest,
    /// The command cannot be served here or was refused by policy (`UNAVAILABLE`).
    Unavailable,
    /// The call ran out of time (`TIMEOUT`).
    Timeout,
    /// A policy refusal; its token is the code, as the reference node does
    /// (`SYSTEM_RUN_DENIED`, `SYSTEM_RUN_DISABLED`, `PERMISSION_MISSING`).
    Denied(Denial),
    /// Another command-specific token used as the code (`PAYLOAD_TOO_LARGE` …).
    Token(&'static str),
}

/// Why a policy refused a call: the denial tokens of the reference node. A denial's
/// message is `TOKEN: detail`; its code is the token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Denial {
    /// The exec policy refused the command (allowlist miss, env override, …).
    SystemRunDenied,
    /// Exec is switched off (`security=deny`).
    SystemRunDisabled,
    /// The command needs an OS permission the node does not have.
    PermissionMissing,
}

impl Denial {
    /// The wire token.
    pub fn token(self) -> &'static str {
        match self {
            Denial::SystemRunDenied => "SYSTEM_RUN_DENIED",
            Denial::SystemRunDisabled => "SYSTEM_RUN_DISABLED",
            Denial::PermissionMissing => "PERMISSION_MISSING",
        }
    }
}

impl ErrorCode {
    /// The wire spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidRequest => "INVALID_REQUEST",
            ErrorCode::Unavailable => "UNAVAILABLE",
            ErrorCode::Timeout => "TIMEOUT",
            ErrorCode::Denied(d) => d.token(),
            ErrorCode::Token(t) => t,
        }
    }

    /// Whether this is a policy refusal.
    pub fn is_denial(self) -> bool {
        matches!(self, ErrorCode::Denied(_))
    }
}

/// Why a call failed. Becomes `node.invoke.result {ok: false, error}`; never ends a session.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{}: {message}", code.as_str())]
pub struct CapabilityError {
    /// The wire code.
    pub code: ErrorCode,
    /// Human text; by convention `TOKEN: detail` for policy and plugin errors.
    pub message: String,
    /// Optional machine details (e.g. a permission descriptor).
    pub details: Option<Value>,
}

impl CapabilityError {
    /// An error with a code and message.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            details: None,
        }
    }

    /// `INVALID_REQUEST` with this message.
    pub fn invalid_request(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidRequest, message)
    }

    /// `UNAVAILABLE` with this message.
    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Unavailable, message)
    }

    /// A policy refusal: code `denial`, message `TOKEN: detail`.
    pub fn deny(denial: Denial, detail: impl std::fmt::Display) -> Self {
        Self::new(
            ErrorCode::Denied(denial),
            format!("{}: {detail}", denial.token()),
        )
    }

    /// `TIMEOUT` with this message.
    pub fn timeout(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Timeout, message)
    }

    /// The same error with details attached.
    pub fn with_details(mut self, details: Value) -> Self {
        self.details = Some(details);
        self
    }
}

/// Where a command sends streamed output (`node.invoke.progress`). Chunks may be any
/// length; the node splits them to the wire limit and numbers them. An empty chunk is a
/// liveness heartbeat. Sending never fails: when nobody listens, chunks are dropped.
#[derive(Debug, Clone, Default)]
pub struct ProgressSink {
    tx: Option<mpsc::Sender<String>>,
}

impl ProgressSink {
    /// A sink that forwards into `tx`.
    pub fn new(tx: mpsc::Sender<String>) -> Self {
        Self { tx: Some(tx) }
    }

    /// A sink that drops everything.
    pub fn disabled() -> Self {
        Self { tx: None }
    }

    /// Whether anybody listens (commands may skip formatting work when not).
    pub fn is_enabled(&self) -> bool {
        self.tx.as_ref().is_some_and(|tx| !tx.is_closed())
    }

    /// Sends one chunk, waiting if the consumer is behind (backpressure, bounded memory).
    pub async fn send(&self, chunk: impl Into<String>) {
        if let Some(tx) = &self.tx {
            let _ = tx.send(chunk.into()).await;
        }
    }
}

/// A `node.event` a command wants published (e.g. `exec.finished`, `exec.denied`).
#[derive(Debug, Clone, PartialEq)]
pub struct NodeEvent {
    /// Event name.
    pub event: String,
    /// Event body.
    pub payload: Value,
}

/// Where a command publishes node events. Best-effort, never blocks, never fails.
#[derive(Debug, Clone, Default)]
pub struct EventSink {
    tx: Option<mpsc::UnboundedSender<NodeEvent>>,
}

impl EventSink {
    /// A sink that forwards into `tx`.
    pub fn new(tx: mpsc::UnboundedSender<NodeEvent>) -> Self {
        Self { tx: Some(tx) }
    }

    /// A sink that drops everything.
    pub fn disabled() -> Self {
        Self { tx: None }
    }

    /// Publishes one event.
    pub fn emit(&self, event: impl Into<String>, payload: Value) {
        if let Some(tx) = &self.tx {
            let _ = tx.send(NodeEvent {
                event: event.into(),
                payload,
            });
        }
    }
}

/// A gateway's refusal of a request a capability sent ([`RequestSink::request`]), or why no
/// answer came (`code` `UNAVAILABLE` when the connection closed first).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct GatewayError {
    /// The wire code (`INVALID_REQUEST`, `UNAVAILABLE` …).
    pub code: String,
    /// The gateway's message.
    pub message: String,
}

/// One request a capability wants sent on the connection, with where its answer goes.
#[derive(Debug)]
pub struct GatewayRequest {
    /// The method, e.g. `node.pluginTools.update`.
    pub method: String,
    /// Its params.
    pub params: Value,
    /// Where the answer goes: the response payload or the gateway's error.
    pub reply: tokio::sync::oneshot::Sender<Result<Value, GatewayError>>,
}

/// Where a background task sends gateway requests that answer (the publication methods).
/// Unlike [`EventSink`], the caller gets the response.
#[derive(Debug, Clone, Default)]
pub struct RequestSink {
    tx: Option<mpsc::UnboundedSender<GatewayRequest>>,
}

impl RequestSink {
    /// A sink that forwards into `tx`.
    pub fn new(tx: mpsc::UnboundedSender<GatewayRequest>) -> Self {
        Self { tx: Some(tx) }
    }

    /// A sink with no connection behind it: every request fails `UNAVAILABLE`.
    pub fn disabled() -> Self {
        Self { tx: None }
    }

    /// Sends `method` with `params` and waits for the answer. The connection closing
    /// first is an `UNAVAILABLE` error (a transient one).
    pub async fn request(&self, method: &str, params: Value) -> Result<Value, GatewayError> {
        let closed = || GatewayError {
            code: "UNAVAILABLE".into(),
            message: "the gateway connection closed".into(),
        };
        let tx = self.tx.as_ref().ok_or_else(closed)?;
        let (reply, answer) = tokio::sync::oneshot::channel();
        tx.send(GatewayRequest {
            method: method.into(),
            params,
            reply,
        })
        .map_err(|_| closed())?;
        answer.await.map_err(|_| closed())?
    }
}

/// Everything a running call may use besides its params.
#[derive(Debug, Clone)]
pub struct CallContext {
    /// The invoke id (for logs and correlation; not a secret).
    pub invoke_id: String,
    /// When the caller stops waiting; the command should give up by then.
    pub deadline: Option<Instant>,
    /// Fired on `node.invoke.cancel`, at the deadline, on disconnect and on shutdown.
    pub cancel: CancellationToken,
    /// Streamed output.
    pub progress: ProgressSink,
    /// Node events.
    pub events: EventSink,
}

impl CallContext {
    /// A context with no deadline, a fresh cancel token and disabled sinks (tests, CLI).
    pub fn detached(invoke_id: impl Into<String>) -> Self {
        Self {
            invoke_id: invoke_id.into(),
            deadline: None,
            cancel: CancellationToken::new(),
            progress: ProgressSink::disabled(),
            events: EventSink::disabled(),
        }
    }
}

/// What a capability's per-connection [`Capability::background`] task gets.
#[derive(Debug, Clone)]
pub struct BackgroundContext {
    /// Publishes `node.event`s on this connection.
    pub events: EventSink,
    /// Sends gateway requests that answer on this connection.
    pub requests: RequestSink,
    /// Fired when the connection ends; the task should return.
    pub stop: CancellationToken,
    /// Notified when the gateway approved the node's command surface on this connection
    /// (the real Gateway drops node events from a node still waiting for that approval,
    /// so a publisher sends its figures again then).
    pub surface_approved: Arc<tokio::sync::Notify>,
}

impl BackgroundContext {
    /// A context with a disabled sink and fresh tokens (tests).
    pub fn detached() -> Self {
        Self {
            events: EventSink::disabled(),
            requests: RequestSink::disabled(),
            stop: CancellationToken::new(),
            surface_approved: Arc::new(tokio::sync::Notify::new()),
        }
    }
}

/// One command with typed params and result.
pub trait Command: Send + Sync + 'static {
    /// Params, parsed from the invoke's `paramsJSON`. A call with no params is parsed as
    /// `{}`, so commands whose params are all optional accept it.
    type Params: DeserializeOwned + Send + 'static;
    /// Result, serialised into `payloadJSON`.
    type Output: Serialize + Send + 'static;

    /// The wire name, e.g. `system.which`.
    fn name(&self) -> &'static str;

    /// Reads the params text. The default is [`parse_params`]; a command that must read
    /// params as the reference node host does decodes them itself (see [`js`]).
    fn parse(&self, params_json: Option<&str>) -> Result<Self::Params, CapabilityError> {
        parse_params(self.name(), params_json)
    }

    /// Whether the result goes to the gateway as an object (`payload`) rather than as
    /// JSON text (`payloadJSON`, the default). Only `mcp.tools.call.v1` answers with an
    /// object in the reference (parity §1).
    fn result_as_object(&self) -> bool {
        false
    }

    /// Runs the command.
    fn run(
        &self,
        params: Self::Params,
        ctx: CallContext,
    ) -> impl Future<Output = Result<Self::Output, CapabilityError>> + Send;
}

/// A command with its types erased: JSON text in, JSON text out.
pub trait Handler: Send + Sync + 'static {
    /// The wire name.
    fn name(&self) -> &'static str;
    /// Whether the result is sent as `payload` (an object) instead of `payloadJSON`
    /// ([`Command::result_as_object`]). Default: `payloadJSON`.
    fn result_as_object(&self) -> bool {
        false
    }
    /// Parses `params_json`, runs, and serialises the result as JSON text.
    fn call(
        self: Arc<Self>,
        params_json: Option<String>,
        ctx: CallContext,
    ) -> BoxFuture<Result<String, CapabilityError>>;
}

struct Erased<C>(C);

impl<C: Command> Handler for Erased<C> {
    fn name(&self) -> &'static str {
        self.0.name()
    }

    fn result_as_object(&self) -> bool {
        self.0.result_as_object()
    }

    fn call(
        self: Arc<Self>,
        params_json: Option<String>,
        ctx: CallContext,
    ) -> BoxFuture<Result<String, CapabilityError>> {
        Box::pin(async move {
            let params = self.0.parse(params_json.as_deref())?;
            let output = self.0.run(params, ctx).await?;
            serde_json::to_string(&output).map_err(|e| {
                CapabilityError::unavailable(format!("could not encode the result: {e}"))
            })
        })
    }
}

/// The node's own gateway credentials (it reads them from its environment, as a service
/// unit's environment file sets them). Every process the node starts — commands, the SSH
/// tunnel, the browser — gets its environment without them, so nothing it runs can read
/// them back.
pub const NODE_SECRET_ENV: &[&str] = &["OPENCLAW_GATEWAY_TOKEN", "OPENCLAW_GATEWAY_PASSWORD"];

/// Wraps a typed command as a [`Handler`].
pub fn erase<C: Command>(command: C) -> Arc<dyn Handler> {
    Arc::new(Erased(command))
}

/// Parses params text (absent = `{}`), turning a failure into `INVALID_REQUEST` with the
/// reason.
pub fn parse_params<P: DeserializeOwned>(
    command: &str,
    params_json: Option<&str>,
) -> Result<P, CapabilityError> {
    let text = match params_json.map(str::trim) {
        None | Some("") | Some("null") => "{}",
        Some(text) => text,
    };
    // The decoder's own words (types, line and column) are for the log; the wire gets a
    // sentence an agent can act on.
    serde_json::from_str(text).map_err(|e| {
        if params_json.is_none() {
            CapabilityError::invalid_request("INVALID_REQUEST: paramsJSON required")
        } else {
            tracing::debug!(command, error = %e, "params do not decode");
            CapabilityError::invalid_request(format!("invalid {command} params"))
        }
    })
}

/// Whether a capability can work on this machine right now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Availability {
    /// It works here.
    Available,
    /// It cannot work here; the reason is shown by `doctor`.
    Unavailable(String),
}

/// A group of commands advertised under one or more caps.
pub trait Capability: Send + Sync + 'static {
    /// The caps this group advertises (e.g. `["system"]`).
    fn caps(&self) -> Vec<&'static str>;
    /// Its commands.
    fn handlers(&self) -> Vec<Arc<dyn Handler>>;
    /// Whether it works here (probed at each connect). Default: available.
    fn availability(&self) -> Availability {
        Availability::Available
    }
    /// Permission grants it reports in `connect.permissions`.
    fn permissions(&self) -> Vec<(&'static str, bool)> {
        Vec::new()
    }
    /// A task to run for each gateway connection, from hello-ok until the connection ends
    /// (`ctx.stop`), publishing through `ctx.events` — e.g. periodic `node.host.stats`.
    /// Runs whether or not the capability's commands are available. Default: none.
    fn background(&self, ctx: BackgroundContext) -> Option<BoxFuture<()>> {
        let _ = ctx;
        None
    }
    /// Releases what the capability started (browsers, helpers) when the node stops.
    /// Default: nothing to release.
    fn shutdown(&self) -> BoxFuture<()> {
        Box::pin(async {})
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    struct Echo;

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct EchoParams {
        text: String,
    }

    impl Command for Echo {
        type Params = EchoParams;
        type Output = Value;
        fn name(&self) -> &'static str {
            "test.echo"
        }
        async fn run(&self, p: EchoParams, _ctx: CallContext) -> Result<Value, CapabilityError> {
            Ok(serde_json::json!({ "text": p.text }))
        }
    }

    #[tokio::test]
    async fn erased_command_parses_runs_and_encodes() {
        let h = erase(Echo);
        assert_eq!(h.name(), "test.echo");
        let out = h
            .clone()
            .call(Some(r#"{"text":"hi"}"#.into()), CallContext::detached("1"))
            .await
            .unwrap();
        assert_eq!(out, r#"{"text":"hi"}"#);
    }

    #[tokio::test]
    async fn bad_params_become_invalid_request_with_reason() {
        let h = erase(Echo);
        let err = h
            .clone()
            .call(Some(r#"{"text":5}"#.into()), CallContext::detached("1"))
            .await
            .unwrap_err();
        assert_eq!(err.code, ErrorCode::InvalidRequest);
        assert_eq!(err.message, "invalid test.echo params");
        let err = h.call(None, CallContext::detached("1")).await.unwrap_err();
        assert_eq!(err.message, "INVALID_REQUEST: paramsJSON required");
    }

    #[test]
    fn denials_carry_their_token_as_code() {
        let e = CapabilityError::deny(Denial::SystemRunDenied, "allowlist miss");
        assert_eq!(e.code, ErrorCode::Denied(Denial::SystemRunDenied));
        assert_eq!(e.code.as_str(), "SYSTEM_RUN_DENIED");
        assert_eq!(e.message, "SYSTEM_RUN_DENIED: allowlist miss");
        assert!(e.code.is_denial());
        let e = CapabilityError::deny(Denial::PermissionMissing, "screenRecording");
        assert_eq!(e.code.as_str(), "PERMISSION_MISSING");
        assert_eq!(e.message, "PERMISSION_MISSING: screenRecording");
        assert!(!ErrorCode::Timeout.is_denial());
    }

    #[tokio::test]
    async fn progress_sink_forwards_and_disabled_drops() {
        let (tx, mut rx) = mpsc::channel(4);
        let sink = ProgressSink::new(tx);
        assert!(sink.is_enabled());
        sink.send("a").await;
        assert_eq!(rx.recv().await.as_deref(), Some("a"));
        let off = ProgressSink::disabled();
        assert!(!off.is_enabled());
        off.send("dropped").await;
    }
}

pub mod process;

/// Files that hold secrets or policy: created with mode 0600 at open time and replaced
/// atomically, so a crash mid-write leaves the previous version intact.
pub mod fs {
    use std::io::Write as _;
    use std::path::Path;

    /// Writes `bytes` to `path` atomically with mode 0600: a temp file in the same
    /// directory is created with that mode (never widened later), synced, then renamed
    /// over the target. On failure the previous file is untouched and the temp file removed.
    pub fn write_private_file(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
        use std::os::unix::fs::OpenOptionsExt as _;
        let dir = path.parent().unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir)?;
        let mut suffix = [0u8; 8];
        getrandom::fill(&mut suffix).map_err(std::io::Error::other)?;
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("file");
        let tmp = dir.join(format!(
            ".{name}.{}.tmp",
            suffix
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect::<String>()
        ));
        let result = (|| {
            let mut file = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&tmp)?;
            file.write_all(bytes)?;
            file.sync_all()?;
            std::fs::rename(&tmp, path)?;
            if let Ok(d) = std::fs::File::open(dir) {
                let _ = d.sync_all();
            }
            Ok(())
        })();
        if result.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        result
    }
}

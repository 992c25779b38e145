//! `openclaw-node`: a node host for the OpenClaw Gateway.
//!
//! # Architecture
//!
//! The binary is thin (`main.rs`): it parses the command line into [`cli`], sets up logging
//! through the same environment lookup as every other setting (the process environment,
//! then `--env-file`), runs one subcommand and maps its error to an exit code with
//! [`exit`]. The CLI parses and prints; a node is put together in one place, [`node`]: a
//! validated, typed [`config`] (a normalised gateway URL, a parsed TLS pin, enums for the
//! exec policy, each capability's settings) goes through the plaintext rule, the pin, the
//! [`credentials`] store and the device [`identity`], and the capability registry, and
//! comes out as the options a [`session`] runs with. `run`, `pair` and `demo` use it whole;
//! `doctor` runs its steps one by one and gives a verdict per step.
//!
//! A session reads no environment. It is a loop around one connection attempt that dials
//! the gateway through [`transport`], completes the one client handshake
//! (`transport::handshake`, shared with `doctor`'s probe and the [`operator`] client, whose
//! failures are a typed `HandshakeError`), then serves the connection as a `Connection`
//! with one method per `protocol::GatewayToNode` message. Each call runs in its own task
//! under a `call{id, command}` span; `session::dispatch` checks the node-local [`policy`]
//! first, then hands typed params to a capability from the `capabilities/*` crates (which
//! know nothing of the wire) and sends the one terminal `node.invoke.result`. Transport and
//! protocol errors end a connection and the loop reconnects with capped, jittered backoff;
//! a capability error is just a failed result. A capability may run a task per connection
//! (`Capability::background`): that is how the device capability publishes
//! `node.host.stats`, and how the publications that answer (`node.pluginTools.update`,
//! `node.skills.update`) go out through `openclaw_capability_api::publish` — the
//! reference's dedupe and retry engine over the connection's request path
//! (`RequestSink`, answered in `session::dispatch`).
//!
//! The embedded [`gateway`] reads `protocol::NodeToGateway` and answers with the same
//! [`protocol`] types, so node and gateway cannot drift apart without a compile error, and
//! the whole system runs and is tested on one machine; [`operator`] is the client the
//! `devices` and `nodes` subcommands (and the tests) use to drive a gateway as an operator.
//! A running node answers `status` over a local socket ([`status`], with its metrics);
//! [`service`] renders the systemd/launchd units from `packaging/`.
//!
//! Two departures from the layout in DESIGN.md: [`policy`] holds only the node-local
//! command allowlist, while the exec-approvals engine lives in the `system` capability
//! crate (`openclaw_capability_system::approvals`), its only consumer, which cannot depend
//! on this crate; and host figures (`node.host.stats`, `device.info`, `device.status`) are
//! their own capability crate, `capabilities/device`.
//!
//! Capabilities that start processes find them through `openclaw_capability_api::process`
//! (`/proc` on Linux, `ps` elsewhere); `system.run`'s two backends, pipes and a PTY, share
//! one process tree that dies with its call, whether it ends, times out, is cancelled or is
//! dropped; on Linux the composition root makes the node a child subreaper, so a call's
//! orphans come back to it and die with that tree. The commands whose answers must match
//! the reference node host read their params as its JavaScript does
//! (`openclaw_capability_api::js`), and `tests/it/differential.rs` compares the two on the
//! real Gateway. `capabilities/browser` (Cargo feature `browser`) serves `browser.proxy`
//! in-process: `proxy` gates a call and wraps its reply, `routes/` answers each route
//! against `service/` (profiles, one Chromium process tree each, tabs and their event
//! buffers), and `/act` decodes its body into a typed `action::Action` before it touches a
//! page. `capabilities/screen` captures through X11 in pure Rust or the Wayland portal over
//! D-Bus (xcap on macOS) and `capabilities/camera` through V4L2 ioctls (nokhwa on macOS), so
//! the Linux build needs no system library. `capabilities/mcp` supervises the owner's MCP
//! servers (one rmcp client each: `server`), keeps the published catalog (`catalog`,
//! named and bounded by `descriptors`) and serves `mcp.tools.call.v1` against it
//! (`call`, answers bounded by `result`); `capabilities/skills` scans the skills directory
//! once and resolves `node://…/skills/<name>` locators, which the composition root hands
//! to `system.run` as a resolver, so no capability crate depends on another. Capabilities
//! release what they started through `Capability::shutdown`, which the session loop calls
//! when the node stops.
//!
//! `fuzzing` (hidden from the docs, built only with the `fuzzing` feature, which `fuzz/`
//! and the tests turn on) holds the bodies of the `cargo fuzz` targets; the exec-approvals
//! body lives in `openclaw_capability_system::fuzzing`, next to the internals it checks.
//!
//! # Glossary
//!
//! - **Gateway**: the control plane a node dials; routes operator calls to nodes.
//! - **Node**: this program; the execution plane. It never listens on a network port.
//! - **Device identity**: an Ed25519 key; its id is the hex SHA-256 of the public key and
//!   is also the node id the gateway routes by.
//! - **Device token**: a credential a gateway issues in hello-ok for (gateway, device, role).
//! - **Pairing**: two approvals on the gateway: the device (may it connect?) and the node
//!   command surface (which of its declared commands may be invoked?).
//! - **Capability / command**: a group of commands (`system`) and one command
//!   (`system.which`), served through `node.invoke`.
//! - **Operator**: a client (CLI, UI, agent runtime) that lists, approves and invokes.

#![forbid(unsafe_code)]

pub mod cli;
pub mod config;
pub mod credentials;
pub mod exit;
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;
pub mod gateway;
pub mod identity;
pub mod node;
pub mod operator;
pub mod policy;
pub mod protocol;
pub mod secret;
pub mod service;
pub mod session;
pub mod status;
#[cfg(test)]
mod test_log;
pub mod transport;

/// The version reported in `connect.client.version` and `--version`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Milliseconds since the Unix epoch (the protocol's clock unit).
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

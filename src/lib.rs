//! `openclaw-node`: a node host for the OpenClaw Gateway.
//!
//! # Architecture
//!
//! The binary is thin (`main.rs`): it parses the command line into [`cli`] and runs one
//! subcommand. A node (`openclaw-node run`) loads its [`config`], its device [`identity`]
//! from a [`credentials`] store, and hands both to a [`session`]: a loop around one
//! connection attempt that dials the gateway through [`transport`], answers the
//! `connect.challenge` with a signed `connect`, reads `hello-ok`, then serves
//! `node.invoke.request`s. Each call runs in its own task; `session::dispatch` checks the
//! node-local [`policy`] first, then hands typed params to a capability from the
//! `capabilities/*` crates (which know nothing of the wire) and sends the one terminal
//! `node.invoke.result`. Transport and protocol errors end a connection and the loop
//! reconnects with capped, jittered backoff; a capability error is just a failed result.
//! The embedded [`gateway`] is the server side of the same [`protocol`] types, so the whole
//! system runs and is tested on one machine; [`operator`] is the client the `devices` and
//! `nodes` subcommands (and the tests) use to drive a gateway as an operator. A running
//! node answers `status` over a local socket ([`status`], with its metrics); [`service`]
//! renders the systemd/launchd units from `packaging/`.
//!
//! Two departures from the layout in DESIGN.md: [`policy`] holds only the node-local
//! command allowlist, while the exec-approvals engine lives in the `system` capability
//! crate (`openclaw_capability_system::approvals`), its only consumer, which cannot depend
//! on this crate; and host figures (`node.host.stats`, `device.info`, `device.status`) are
//! their own capability crate, `capabilities/device`.
//!
//! `capabilities/browser` (Cargo feature `browser`, on by default) is an in-process browser
//! control service behind `browser.proxy`: it owns one Chromium process tree per profile
//! and speaks CDP through chromiumoxide. Capabilities that start processes release them
//! through `Capability::shutdown`, which the session loop calls when the node stops.
//!
//! `fuzzing` (hidden from the docs) holds the bodies of the `cargo fuzz` targets in
//! `fuzz/`, so the targets stay one line and the integration tests replay their corpus.
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

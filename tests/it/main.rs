//! The one integration-test binary: end-to-end tests of a real node in-process against the
//! embedded gateway on 127.0.0.1:0, raw-protocol attacks on the gateway, and conformance
//! against the real OpenClaw Gateway.
//!
//! Plain `cargo test` runs what needs nothing outside the repository. A test that needs an
//! outside component (Chromium, Xvfb, sshd, a Secret Service, the real Gateway) is
//! `#[ignore = "needs …: scripts/test"]`: `scripts/test` installs them and runs
//! `cargo test -- --include-ignored`, where a missing component fails the test with the
//! command that provides it.

#[cfg(feature = "browser")]
mod browser;
#[cfg(feature = "camera")]
mod camera;
mod ci_runner;
mod differential;
mod doctor;
mod e2e;
mod fake_gateway;
mod faults;
mod fuzz_corpus;
mod gateway_catalogs;
mod handshake;
mod helpers;
mod hostile;
mod mcp;
mod mcp_import;
mod mcp_ops;
mod pairing;
mod process_faults;
mod real_gateway;
#[cfg(feature = "screen")]
mod screen;
mod secrets;
mod settings;
mod skills;
mod ssh_tunnel;

//! The one integration-test binary: end-to-end tests of a real node in-process against the
//! embedded gateway on 127.0.0.1:0, raw-protocol attacks on the gateway, and (with
//! `OPENCLAW_REAL_GATEWAY=1`) conformance against the real OpenClaw Gateway.

#[cfg(feature = "browser")]
mod browser;
#[cfg(feature = "camera")]
mod camera;
mod ci_runner;
mod doctor;
mod e2e;
mod fake_gateway;
mod faults;
mod fuzz_corpus;
mod handshake;
mod helpers;
mod hostile;
mod pairing;
mod process_faults;
mod real_gateway;
#[cfg(feature = "screen")]
mod screen;
mod secrets;
mod settings;
mod ssh_tunnel;

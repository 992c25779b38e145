//! Wire types of the OpenClaw Gateway protocol, shared by the node (client side) and the
//! embedded gateway (server side). Plain serde data and constants; no I/O lives here.
//!
//! Layout: [`frames`] (the req/res/event envelopes and the error shape), [`connect`] (the
//! handshake: challenge, connect params, hello-ok), [`node`] (what a node sends and receives
//! after hello-ok), [`operator`] (the operator methods of spec §13 that the embedded gateway
//! serves and the operator CLI calls), [`replies`] (acknowledgements, pairing decisions and
//! error details), [`messages`] (the two directions of a node connection as typed enums),
//! [`consts`] (versions, limits, timeouts, codes).
//!
//! Parsing is lenient on the node side (unknown fields from a gateway are tolerated) and
//! strict on the gateway side: [`frames::Frame::parse_strict`] and the closed
//! `deny_unknown_fields` structs mirror the real Gateway's validator.

pub mod connect;
pub mod consts;
pub mod frames;
pub mod messages;
pub mod node;
pub mod operator;
pub mod replies;
pub mod setup_code;

pub use connect::*;
pub use consts::*;
pub use frames::*;
pub use messages::*;
pub use node::*;
pub use operator::*;
pub use replies::*;

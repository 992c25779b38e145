//! Every exit code the binary uses, and the one mapping from an error to its code
//! ([`code_for`], used by `main`). Supervisors (systemd `RestartPreventExitStatus`,
//! launchd) read these codes to stop restarting a node that cannot succeed without a human:
//! the units in `packaging/` stop on [`AUTH`] and [`USAGE`].
//!
//! This module decides codes only; it prints nothing and never exits the process.

use crate::config::ConfigError;
use crate::node::NodeError;
use crate::session::SessionError;

/// Success.
pub const OK: u8 = 0;
/// A failure worth retrying (network, gateway down, I/O).
pub const FAILURE: u8 = 1;
/// Bad command line or config (a bad config file, an unreadable `--env-file`, plaintext
/// to a public host, a pin on a `ws://` URL): retrying the same settings cannot help.
pub const USAGE: u8 = 2;
/// `pair`: the approvals did not come in time.
pub const PAIR_TIMED_OUT: u8 = 4;
/// The gateway refused our credentials and retrying cannot help (wrong token or
/// password, revoked device token, pairing rejected). Fix credentials or re-pair.
pub const AUTH: u8 = 78;
/// Stopped by SIGINT.
pub const SIGINT: u8 = 130;
/// Stopped by SIGTERM.
pub const SIGTERM: u8 = 143;

/// The exit code for a session that ended in an error.
pub fn for_session(error: &SessionError) -> u8 {
    match error {
        SessionError::AuthRejected { .. }
        | SessionError::DeviceTokenRevoked { .. }
        | SessionError::PairingRejected { .. } => AUTH,
        SessionError::Config(_) => USAGE,
        SessionError::Credentials(_) => FAILURE,
    }
}

/// The exit code for an error that reached `main`: the first typed error in its chain
/// decides ([`ConfigError`] and the settings half of [`NodeError`] are [`USAGE`], a
/// [`SessionError`] as [`for_session`]); anything else is [`FAILURE`].
pub fn code_for(error: &anyhow::Error) -> u8 {
    for cause in error.chain() {
        if cause.is::<ConfigError>() {
            return USAGE;
        }
        if let Some(e) = cause.downcast_ref::<NodeError>() {
            return match e {
                NodeError::Config(_) | NodeError::Plaintext(_) | NodeError::PinNeedsWss => USAGE,
                NodeError::Credentials(_) | NodeError::Task(_) => FAILURE,
            };
        }
        if let Some(e) = cause.downcast_ref::<SessionError>() {
            return for_session(e);
        }
    }
    FAILURE
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_config_error_is_a_usage_error_even_under_context() {
        let e = anyhow::Error::new(ConfigError::Invalid {
            key: "gateway.url".into(),
            reason: "no".into(),
        })
        .context("loading");
        assert_eq!(code_for(&e), USAGE);
        let e = anyhow::Error::new(NodeError::PinNeedsWss);
        assert_eq!(code_for(&e), USAGE);
        let e = anyhow::Error::new(SessionError::PairingRejected { request_id: None });
        assert_eq!(code_for(&e), AUTH);
        assert_eq!(code_for(&anyhow::anyhow!("disk full")), FAILURE);
    }
}

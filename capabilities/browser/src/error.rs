//! [`ServiceError`]: how every route and service operation fails, with the HTTP-like
//! status and the extra body fields (`code`, `reason`, `details`) the reference sends
//! (spec browser.md §5). Owns no decision about which error a route raises.

use serde_json::Value;

use crate::cdp::CdpFailure;

/// Failure of a service operation, with the HTTP-like status the route answers.
#[derive(Debug, Clone)]
pub struct ServiceError {
    /// Status.
    pub status: u16,
    /// Message.
    pub message: String,
    /// Extra body fields (`reason`, `details`, `code`).
    pub extra: Option<Value>,
}

impl ServiceError {
    /// A status and message.
    pub fn new(status: u16, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
            extra: None,
        }
    }

    /// A 400 with `message`.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(400, message)
    }
}

/// A failed CDP call is a 500 carrying its text.
impl From<CdpFailure> for ServiceError {
    fn from(e: CdpFailure) -> Self {
        Self::new(500, e.0)
    }
}

/// What a route handler returns: the success body or the failure.
pub type RouteResult = Result<Value, ServiceError>;

//! The one error type of the use cases. The HTTP layer maps it to a response, in one place
//! (`http::error_response`).

use crate::sms::SmsError;
use crate::store::{Failure, StoreError};
use crate::token::TokenError;

#[derive(Debug, thiserror::Error)]
pub enum OtpError {
    /// The request is malformed; the text says how, is safe to show the caller and never
    /// repeats the input.
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    /// The number's region is not in `OTP_ALLOWED_COUNTRIES`.
    #[error("country not allowed")]
    CountryNotAllowed,
    /// The number's line type is not in `OTP_ALLOWED_NUMBER_TYPES` (for a call,
    /// `OTP_VOICE_ALLOWED_NUMBER_TYPES`).
    #[error("number type not allowed")]
    NumberTypeNotAllowed,
    /// A voice call was asked for and the deployment does not place calls.
    #[error("channel not allowed")]
    ChannelNotAllowed,
    /// Wrong, expired, used or missing code: deliberately one variant.
    #[error("invalid or expired code")]
    InvalidOtp,
    /// Attempts used up; `limit` names the one (as the metrics do).
    #[error("attempts used up")]
    TooManyAttempts {
        retry_after: u64,
        limit: &'static str,
    },
    /// A send limit reached; `limit` names the one (as the metrics do).
    #[error("rate limited")]
    RateLimited {
        retry_after: u64,
        limit: &'static str,
    },
    #[error("sms not sent")]
    SmsFailed(#[source] SmsError),
    #[error("call not placed")]
    CallFailed(#[source] SmsError),
    #[error("store unavailable")]
    Unavailable(#[source] StoreError),
    #[error("store request failed")]
    Internal(#[source] StoreError),
    /// The code was right and is used up, but its token could not be signed.
    #[error("token not issued")]
    TokenFailed(#[source] TokenError),
    /// A discovery document was asked for, and no token signing key is configured.
    #[error("not found")]
    NotFound,
    /// A callback that is not Plivo's (unsigned, badly signed) or was received before; the
    /// text says which, and is safe to show.
    #[error("forbidden: {0}")]
    Forbidden(&'static str),
}

impl From<StoreError> for OtpError {
    fn from(err: StoreError) -> Self {
        match err.kind() {
            Failure::Unavailable | Failure::Throttled => OtpError::Unavailable(err),
            Failure::Failed => OtpError::Internal(err),
        }
    }
}

/// An error and its sources, joined with `: `, for logs (the SDK's errors keep their detail in
/// the source chain).
pub(crate) fn chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Failure;

    #[test]
    fn the_logged_chain_keeps_the_store_errors_detail() {
        let err = OtpError::from(StoreError::new(
            Failure::Unavailable,
            "dispatch failure: connection refused".into(),
        ));
        assert_eq!(
            chain(&err),
            "store unavailable: dynamodb unavailable: dispatch failure: connection refused"
        );
    }
}

//! The one error type of the use cases, and the one table that says how each variant is seen:
//! its HTTP status, its stable code, its metric outcome and its message
//! ([`OtpError::describe`]). The HTTP layer builds the response from it, the metrics name the
//! outcome from it.

use crate::domain::Tripped;
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
    /// Attempts used up; `limit` names the one.
    #[error("attempts used up")]
    TooManyAttempts { retry_after: u64, limit: Tripped },
    /// A send limit reached; `limit` names the one.
    #[error("rate limited")]
    RateLimited { retry_after: u64, limit: Tripped },
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

/// How the caller and the metrics see an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Described<'a> {
    /// The HTTP status.
    pub(crate) status: u16,
    /// The stable, machine-readable code clients switch on.
    pub(crate) code: &'static str,
    /// The metrics' `Outcome` dimension.
    pub(crate) outcome: &'static str,
    /// A message safe to show the caller: never internal detail.
    pub(crate) message: &'a str,
}

impl OtpError {
    /// The one table from variant to status, code, outcome and message, a row each.
    #[rustfmt::skip]
    pub(crate) fn describe(&self) -> Described<'_> {
        let (status, code, outcome, message) = match self {
            OtpError::InvalidRequest(message) => (400, "invalid_request", "InvalidRequest", message.as_str()),
            OtpError::CountryNotAllowed => (400, "country_not_allowed", "CountryNotAllowed", "Codes cannot be sent to numbers in this country"),
            OtpError::NumberTypeNotAllowed => (400, "number_type_not_allowed", "NumberTypeNotAllowed", "Codes cannot be sent to this kind of number; use a mobile number"),
            OtpError::ChannelNotAllowed => (400, "channel_not_allowed", "ChannelNotAllowed", "Codes cannot be sent by voice call here; use sms"),
            OtpError::InvalidOtp => (401, "invalid_otp", "InvalidOtp", "The code is invalid or has expired"),
            OtpError::Forbidden(message) => (403, "forbidden", "Forbidden", *message),
            OtpError::NotFound => (404, "not_found", "NotFound", "Not found"),
            OtpError::TooManyAttempts { .. } => (429, "too_many_attempts", "TooManyAttempts", "Too many wrong codes; request a new code later"),
            OtpError::RateLimited { .. } => (429, "rate_limited", "RateLimited", "Too many codes requested; try again later"),
            OtpError::Internal(_) | OtpError::TokenFailed(_) => (500, "internal", "Internal", "Internal error"),
            OtpError::SmsFailed(_) => (502, "sms_failed", "SmsFailed", "The SMS could not be sent; try again later"),
            OtpError::CallFailed(_) => (502, "call_failed", "CallFailed", "The call could not be placed; try again later"),
            OtpError::Unavailable(_) => (503, "unavailable", "Unavailable", "The service is temporarily unavailable; try again later"),
        };
        Described { status, code, outcome, message }
    }

    /// The limit that refused the request, and the seconds until it has room.
    pub(crate) fn limit(&self) -> Option<(Tripped, u64)> {
        match self {
            OtpError::TooManyAttempts { retry_after, limit }
            | OtpError::RateLimited { retry_after, limit } => Some((*limit, *retry_after)),
            _ => None,
        }
    }
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

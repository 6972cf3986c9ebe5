//! The one error type of the use cases. The HTTP layer maps it to a response, in one place
//! (`http::error_response`).

use crate::sms::SmsError;
use crate::store::{Failure, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum OtpError {
    /// The request is malformed; the text says how, is safe to show the caller and never
    /// repeats the input.
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    /// The number's region is not in `OTP_ALLOWED_COUNTRIES`.
    #[error("country not allowed")]
    CountryNotAllowed,
    /// The number's line type is not in `OTP_ALLOWED_NUMBER_TYPES`.
    #[error("number type not allowed")]
    NumberTypeNotAllowed,
    /// Wrong, expired, used or missing code: deliberately one variant.
    #[error("invalid or expired code")]
    InvalidOtp,
    #[error("attempts used up")]
    TooManyAttempts { retry_after: u64 },
    #[error("rate limited")]
    RateLimited { retry_after: u64 },
    #[error("sms not sent")]
    SmsFailed(#[source] SmsError),
    #[error("store unavailable")]
    Unavailable(#[source] StoreError),
    #[error("store request failed")]
    Internal(#[source] StoreError),
}

impl From<StoreError> for OtpError {
    fn from(err: StoreError) -> Self {
        match err.kind() {
            Failure::Unavailable | Failure::Throttled => OtpError::Unavailable(err),
            Failure::Failed => OtpError::Internal(err),
        }
    }
}

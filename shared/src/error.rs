//! The one error type of the service, and its single mapping to an HTTP response.

use lambda_http::http::{HeaderValue, StatusCode, header};
use lambda_http::{Body, Response};
use serde::Serialize;

use crate::domain::InputError;
use crate::sms::SmsError;
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum OtpError {
    #[error("invalid request: {0}")]
    InvalidRequest(#[from] InputError),
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
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
}

impl From<StoreError> for OtpError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::Unavailable(_) | StoreError::Throttled(_) => OtpError::Unavailable(err),
            StoreError::Failed(_) => OtpError::Internal(anyhow::Error::new(err)),
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ErrorBody<'a> {
    status_code: u16,
    error: &'a str,
    code: &'a str,
    message: &'a str,
}

impl OtpError {
    pub fn status(&self) -> StatusCode {
        match self {
            OtpError::InvalidRequest(_)
            | OtpError::CountryNotAllowed
            | OtpError::NumberTypeNotAllowed => StatusCode::BAD_REQUEST,
            OtpError::InvalidOtp => StatusCode::UNAUTHORIZED,
            OtpError::TooManyAttempts { .. } | OtpError::RateLimited { .. } => {
                StatusCode::TOO_MANY_REQUESTS
            }
            OtpError::SmsFailed(_) => StatusCode::BAD_GATEWAY,
            OtpError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            OtpError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The stable machine-readable code clients switch on.
    pub fn code(&self) -> &'static str {
        match self {
            OtpError::InvalidRequest(_) => "invalid_request",
            OtpError::CountryNotAllowed => "country_not_allowed",
            OtpError::NumberTypeNotAllowed => "number_type_not_allowed",
            OtpError::InvalidOtp => "invalid_otp",
            OtpError::TooManyAttempts { .. } => "too_many_attempts",
            OtpError::RateLimited { .. } => "rate_limited",
            OtpError::SmsFailed(_) => "sms_failed",
            OtpError::Unavailable(_) => "unavailable",
            OtpError::Internal(_) => "internal",
        }
    }

    fn public_message(&self) -> &str {
        match self {
            OtpError::InvalidRequest(e) => e.message(),
            OtpError::CountryNotAllowed => "Codes cannot be sent to numbers in this country",
            OtpError::NumberTypeNotAllowed => {
                "Codes cannot be sent to this kind of number; use a mobile number"
            }
            OtpError::InvalidOtp => "The code is invalid or has expired",
            OtpError::TooManyAttempts { .. } => "Too many wrong codes; request a new code later",
            OtpError::RateLimited { .. } => "Too many codes requested; try again later",
            OtpError::SmsFailed(_) => "The SMS could not be sent; try again later",
            OtpError::Unavailable(_) => "The service is temporarily unavailable; try again later",
            OtpError::Internal(_) => "Internal error",
        }
    }

    fn retry_after(&self) -> Option<u64> {
        match self {
            OtpError::TooManyAttempts { retry_after } | OtpError::RateLimited { retry_after } => {
                Some(*retry_after)
            }
            _ => None,
        }
    }

    /// The response the caller sees. Internal detail never goes into the body.
    pub fn to_response(&self) -> Response<Body> {
        let status = self.status();
        let body = ErrorBody {
            status_code: status.as_u16(),
            error: status.canonical_reason().unwrap_or("Error"),
            code: self.code(),
            message: self.public_message(),
        };
        let mut response = json_response(status, &body);
        if let Some(seconds) = self.retry_after() {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds.max(1)));
        }
        response
    }
}

/// A JSON response that no cache keeps.
pub fn json_response(status: StatusCode, body: &impl Serialize) -> Response<Body> {
    let text = serde_json::to_string(body).unwrap_or_else(|_| "{}".to_owned());
    let mut response = Response::new(Body::Text(text));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body_json(response: &Response<Body>) -> serde_json::Value {
        serde_json::from_slice(response.body().as_ref()).unwrap()
    }

    #[test]
    fn each_error_maps_to_its_status_code_and_body() {
        let cases: Vec<(OtpError, u16, &str, &str)> = vec![
            (
                InputError::new("bad").into(),
                400,
                "Bad Request",
                "invalid_request",
            ),
            (OtpError::InvalidOtp, 401, "Unauthorized", "invalid_otp"),
            (
                OtpError::TooManyAttempts { retry_after: 7 },
                429,
                "Too Many Requests",
                "too_many_attempts",
            ),
            (
                OtpError::RateLimited { retry_after: 9 },
                429,
                "Too Many Requests",
                "rate_limited",
            ),
            (
                OtpError::SmsFailed(SmsError::Unavailable {
                    attempts: 3,
                    last: "status 500".into(),
                }),
                502,
                "Bad Gateway",
                "sms_failed",
            ),
            (
                OtpError::Unavailable(StoreError::Unavailable("timeout".into())),
                503,
                "Service Unavailable",
                "unavailable",
            ),
            (
                OtpError::Internal(anyhow::anyhow!("secret detail")),
                500,
                "Internal Server Error",
                "internal",
            ),
        ];
        for (err, status, reason, code) in cases {
            let response = err.to_response();
            assert_eq!(response.status().as_u16(), status);
            let body = body_json(&response);
            assert_eq!(body["statusCode"], status);
            assert_eq!(body["error"], reason);
            assert_eq!(body["code"], code);
            assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()));
            assert_eq!(response.headers()[header::CONTENT_TYPE], "application/json");
        }
    }

    #[test]
    fn rate_limits_carry_retry_after_in_seconds() {
        let response = OtpError::RateLimited { retry_after: 27 }.to_response();
        assert_eq!(response.headers()[header::RETRY_AFTER], "27");
        let response = OtpError::TooManyAttempts { retry_after: 0 }.to_response();
        assert_eq!(response.headers()[header::RETRY_AFTER], "1");
        assert!(
            OtpError::InvalidOtp
                .to_response()
                .headers()
                .get(header::RETRY_AFTER)
                .is_none()
        );
    }

    #[test]
    fn internal_detail_never_reaches_the_body() {
        let err = OtpError::Internal(anyhow::anyhow!("table otp-prod not found at 10.0.0.1"));
        let text = String::from_utf8(err.to_response().body().to_vec()).unwrap();
        assert!(!text.contains("otp-prod"), "{text}");
        let err = OtpError::from(StoreError::Failed("ResourceNotFoundException".into()));
        let text = String::from_utf8(err.to_response().body().to_vec()).unwrap();
        assert!(!text.contains("ResourceNotFound"), "{text}");
        assert_eq!(err.code(), "internal");
    }
}

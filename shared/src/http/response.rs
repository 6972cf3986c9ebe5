//! Writing a response: every outcome as JSON, an error through the one table
//! ([`OtpError::describe`]) with `Retry-After` on the 429s, and the log line of each request's
//! outcome. Internal detail never goes into a body.

use lambda_http::http::{HeaderValue, StatusCode, header};
use lambda_http::{Body, Response};
use serde::Serialize;
use tracing::Instrument;

use crate::error::{OtpError, chain};

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ErrorBody<'a> {
    status_code: u16,
    error: &'a str,
    code: &'a str,
    message: &'a str,
}

/// Runs a request's work inside `span`, then answers with its outcome, logged in the span.
pub(super) async fn serve<T>(
    span: tracing::Span,
    work: impl Future<Output = Result<T, OtpError>>,
    respond: impl FnOnce(T) -> Response<Body>,
) -> Response<Body> {
    let result = work.instrument(span.clone()).await;
    span.in_scope(|| match result {
        Ok(body) => {
            tracing::info!(status = 200, "request succeeded");
            respond(body)
        }
        Err(err) => {
            log_failure(&err);
            error_response(&err)
        }
    })
}

/// [`serve`] with a JSON body.
pub(super) async fn serve_json<T: Serialize>(
    span: tracing::Span,
    work: impl Future<Output = Result<T, OtpError>>,
) -> Response<Body> {
    serve(span, work, |body| json_response(StatusCode::OK, &body)).await
}

/// Logs the outcome of a failed request: client mistakes briefly, dependency failures with
/// their cause chain. Neither ever includes the code or the full number.
fn log_failure(err: &OtpError) {
    let described = err.describe();
    let (status, code) = (described.status, described.code);
    if status >= 500 {
        let cause = std::error::Error::source(err)
            .map(chain)
            .unwrap_or_default();
        tracing::error!(status, code, error.message = %err, error.cause = %cause, "request failed");
    } else {
        tracing::info!(status, code, "request refused");
    }
}

/// The response the caller sees for `err`. Internal detail never goes into the body.
pub fn error_response(err: &OtpError) -> Response<Body> {
    let described = err.describe();
    let status =
        StatusCode::from_u16(described.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let body = ErrorBody {
        status_code: status.as_u16(),
        error: status.canonical_reason().unwrap_or("Error"),
        code: described.code,
        message: described.message,
    };
    let mut response = json_response(status, &body);
    if let Some((_, retry_after)) = err.limit() {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(retry_after.max(1)));
    }
    response
}

/// A response that no cache keeps, with `text` of `content_type`.
pub(super) fn uncached(
    status: StatusCode,
    content_type: &'static str,
    text: String,
) -> Response<Body> {
    let mut response = Response::new(Body::Text(text));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// A JSON response that no cache keeps.
fn json_response(status: StatusCode, body: &impl Serialize) -> Response<Body> {
    let text = serde_json::to_string(body).unwrap_or_else(|_| "{}".to_owned());
    uncached(status, "application/json", text)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;
    use crate::domain::Tripped;
    use crate::sms::SmsError;
    use crate::store::{Failure, StoreError};

    fn status(err: &OtpError) -> u16 {
        err.describe().status
    }

    fn code(err: &OtpError) -> &'static str {
        err.describe().code
    }

    fn body_json(response: &Response<Body>) -> serde_json::Value {
        serde_json::from_slice(response.body().as_ref()).unwrap()
    }

    #[test]
    fn each_error_maps_to_its_status_code_and_body() {
        let cases: Vec<(OtpError, u16, &str, &str)> = vec![
            (
                OtpError::InvalidRequest("bad".into()),
                400,
                "Bad Request",
                "invalid_request",
            ),
            (OtpError::InvalidOtp, 401, "Unauthorized", "invalid_otp"),
            (
                OtpError::TooManyAttempts {
                    retry_after: 7,
                    limit: Tripped::Attempts,
                },
                429,
                "Too Many Requests",
                "too_many_attempts",
            ),
            (
                OtpError::RateLimited {
                    retry_after: 9,
                    limit: Tripped::Attempts,
                },
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
                OtpError::Unavailable(StoreError::new(Failure::Unavailable, "timeout".into())),
                503,
                "Service Unavailable",
                "unavailable",
            ),
            (
                OtpError::Internal(StoreError::new(Failure::Failed, "secret detail".into())),
                500,
                "Internal Server Error",
                "internal",
            ),
        ];
        for (err, status, reason, code) in cases {
            let response = error_response(&err);
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
        let response = error_response(&OtpError::RateLimited {
            retry_after: 27,
            limit: Tripped::Attempts,
        });
        assert_eq!(response.headers()[header::RETRY_AFTER], "27");
        let response = error_response(&OtpError::TooManyAttempts {
            retry_after: 0,
            limit: Tripped::Attempts,
        });
        assert_eq!(response.headers()[header::RETRY_AFTER], "1");
        assert!(
            error_response(&OtpError::InvalidOtp)
                .headers()
                .get(header::RETRY_AFTER)
                .is_none()
        );
    }

    #[test]
    fn internal_detail_never_reaches_the_body() {
        let err = OtpError::from(StoreError::new(
            Failure::Failed,
            "ResourceNotFoundException: table otp-prod not found at 10.0.0.1".into(),
        ));
        let text = String::from_utf8(error_response(&err).body().to_vec()).unwrap();
        assert!(!text.contains("otp-prod"), "{text}");
        assert!(!text.contains("ResourceNotFound"), "{text}");
        assert_eq!(code(&err), "internal");
    }

    /// Every error the service can answer, one of each kind.
    fn every_error() -> Vec<OtpError> {
        vec![
            OtpError::InvalidRequest("x".into()),
            OtpError::CountryNotAllowed,
            OtpError::NumberTypeNotAllowed,
            OtpError::InvalidOtp,
            OtpError::TooManyAttempts {
                retry_after: 1,
                limit: Tripped::Attempts,
            },
            OtpError::RateLimited {
                retry_after: 1,
                limit: Tripped::Attempts,
            },
            OtpError::SmsFailed(SmsError::Unavailable {
                attempts: 1,
                last: String::new(),
            }),
            OtpError::CallFailed(SmsError::Unavailable {
                attempts: 1,
                last: String::new(),
            }),
            OtpError::ChannelNotAllowed,
            OtpError::Unavailable(StoreError::new(Failure::Unavailable, "x".into())),
            OtpError::Internal(StoreError::new(Failure::Failed, "x".into())),
            OtpError::NotFound,
            OtpError::Forbidden("x"),
        ]
    }

    #[test]
    fn every_error_code_and_status_is_documented_in_openapi() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../openapi.yaml");
        let openapi: serde_norway::Value =
            serde_norway::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        let codes: BTreeSet<&str> = openapi["components"]["schemas"]["Error"]["properties"]["code"]
            ["enum"]
            .as_sequence()
            .unwrap()
            .iter()
            .map(|c| c.as_str().unwrap())
            .collect();
        let produced: BTreeSet<&str> = every_error().iter().map(code).collect();
        assert_eq!(codes, produced);

        let documented = |path: &str| -> BTreeSet<u16> {
            openapi["paths"][path]["post"]["responses"]
                .as_mapping()
                .unwrap()
                .keys()
                .map(|k| k.as_str().unwrap().parse().unwrap())
                .collect()
        };
        let answered = |skip: fn(&OtpError) -> bool| -> BTreeSet<u16> {
            every_error()
                .iter()
                .filter(|e| !skip(e))
                .map(status)
                .chain([200])
                .collect()
        };
        let send = answered(|e| {
            matches!(
                e,
                OtpError::InvalidOtp
                    | OtpError::TooManyAttempts { .. }
                    | OtpError::NotFound
                    | OtpError::Forbidden(_)
            )
        });
        assert_eq!(documented("/auth/send-otp"), send);
        let verify = answered(|e| {
            matches!(
                e,
                OtpError::SmsFailed(_)
                    | OtpError::CallFailed(_)
                    | OtpError::CountryNotAllowed
                    | OtpError::NumberTypeNotAllowed
                    | OtpError::ChannelNotAllowed
                    | OtpError::NotFound
                    | OtpError::Forbidden(_)
            )
        });
        assert_eq!(documented("/auth/verify-otp"), verify);
        // Plivo's callbacks: refused (bad input, no signature, replayed) or failing store.
        let callback = answered(|e| {
            !matches!(
                e,
                OtpError::InvalidRequest(_)
                    | OtpError::Forbidden(_)
                    | OtpError::Unavailable(_)
                    | OtpError::Internal(_)
            )
        });
        assert_eq!(documented("/plivo/callback/status"), callback);
        // A call's answer: refused as a callback is, or 404 where calls are not answered.
        let answered_call = answered(|e| {
            !matches!(
                e,
                OtpError::InvalidRequest(_)
                    | OtpError::Forbidden(_)
                    | OtpError::NotFound
                    | OtpError::Unavailable(_)
                    | OtpError::Internal(_)
            )
        });
        assert_eq!(documented("/plivo/callback/answer"), answered_call);
        // The key routes answer their document, or 404 without a signing key.
        for path in [
            "/.well-known/jwks.json",
            "/.well-known/openid-configuration",
        ] {
            let statuses: BTreeSet<u16> = openapi["paths"][path]["get"]["responses"]
                .as_mapping()
                .unwrap()
                .keys()
                .map(|k| k.as_str().unwrap().parse().unwrap())
                .collect();
            assert_eq!(statuses, BTreeSet::from([200, status(&OtpError::NotFound)]));
        }
    }
}

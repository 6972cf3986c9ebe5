//! HTTP edge: API Gateway request in, JSON response out. Parses input into domain types, calls
//! one use case, maps the outcome. Works for HTTP API (payload 2.0) and REST API (payload 1.0)
//! events alike and ignores the route path: API Gateway has already routed the request.

use lambda_http::http::{Method, StatusCode};
use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt, Response};
use serde::Serialize;
use serde_json::{Map, Value};
use tracing::Instrument;

use crate::domain::{ClientIp, InputError, OtpCode, PhoneNumber};
use crate::error::{OtpError, json_response};
use crate::service::{Caller, SendOtp, VerifyOtp};

/// Bodies above this size are refused before parsing.
pub const MAX_BODY_BYTES: usize = 8 * 1024;

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SendResponse {
    success: bool,
    message: &'static str,
    expires_in: u64,
}

#[derive(Serialize)]
struct VerifyResponse {
    success: bool,
    message: &'static str,
}

/// The JSON object in a POST body.
fn json_object(req: &Request) -> Result<Map<String, Value>, InputError> {
    if req.method() != Method::POST {
        return Err(InputError::new("only POST is supported"));
    }
    // Text and binary (base64-decoded) bodies alike; empty is zero bytes.
    let bytes: &[u8] = req.body().as_ref();
    if bytes.len() > MAX_BODY_BYTES {
        return Err(InputError::new(format!(
            "request body must be at most {MAX_BODY_BYTES} bytes"
        )));
    }
    match serde_json::from_slice::<Value>(bytes) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(InputError::new("request body must be a JSON object")),
        Err(_) => Err(InputError::new("request body must be valid JSON")),
    }
}

/// The caller as API Gateway saw it: the source IP from the request context, which the
/// client cannot set (unlike `X-Forwarded-For`).
pub fn caller(req: &Request) -> Caller {
    let ip = match req.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(ctx)) => ctx.http.source_ip.as_deref(),
        Some(RequestContext::ApiGatewayV1(ctx)) => ctx.identity.source_ip.as_deref(),
        _ => None,
    };
    Caller {
        ip: ip.and_then(ClientIp::parse),
    }
}

fn string_field<'a>(body: &'a Map<String, Value>, name: &str) -> Result<&'a str, InputError> {
    match body.get(name) {
        Some(Value::String(s)) => Ok(s),
        None | Some(Value::Null) => Err(InputError::new(format!("{name} is required"))),
        Some(_) => Err(InputError::new(format!("{name} must be a string"))),
    }
}

/// Logs the outcome of a failed request: client mistakes briefly, dependency failures with
/// their cause chain. Neither ever includes the code or the full number.
fn log_failure(err: &OtpError) {
    let status = err.status().as_u16();
    if err.status().is_server_error() {
        let cause = std::error::Error::source(err)
            .map(|s| format!("{s:#}"))
            .unwrap_or_default();
        tracing::error!(status, code = err.code(), error.message = %err, error.cause = %cause, "request failed");
    } else {
        tracing::info!(status, code = err.code(), "request refused");
    }
}

fn respond<T: Serialize>(result: Result<T, OtpError>) -> Response<Body> {
    match result {
        Ok(body) => {
            tracing::info!(status = 200, "request succeeded");
            json_response(StatusCode::OK, &body)
        }
        Err(err) => {
            log_failure(&err);
            err.to_response()
        }
    }
}

/// `POST /auth/send-otp` `{"phoneNumber": "+14155552671"}`.
pub async fn send_otp(app: &SendOtp, req: Request) -> Response<Body> {
    let span = tracing::info_span!("send_otp", phone = tracing::field::Empty);
    let result = async {
        let body = json_object(&req)?;
        let phone = PhoneNumber::parse(string_field(&body, "phoneNumber")?)?;
        tracing::Span::current().record("phone", tracing::field::display(&phone));
        let sent = app.send(&phone, &caller(&req)).await?;
        Ok(SendResponse {
            success: true,
            message: "OTP sent successfully",
            expires_in: sent.expires_in,
        })
    }
    .instrument(span.clone())
    .await;
    span.in_scope(|| respond(result))
}

/// `POST /auth/verify-otp` `{"phoneNumber": "+14155552671", "otp": "123456"}`.
pub async fn verify_otp(app: &VerifyOtp, req: Request) -> Response<Body> {
    let span = tracing::info_span!("verify_otp", phone = tracing::field::Empty);
    let result = async {
        let body = json_object(&req)?;
        let phone = PhoneNumber::parse(string_field(&body, "phoneNumber")?)?;
        tracing::Span::current().record("phone", tracing::field::display(&phone));
        let code = OtpCode::parse(string_field(&body, "otp")?, app.config().code_length)?;
        app.verify(&phone, &code, &caller(&req)).await?;
        Ok(VerifyResponse {
            success: true,
            message: "OTP verified successfully",
        })
    }
    .instrument(span.clone())
    .await;
    span.in_scope(|| respond(result))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn post(body: Body) -> Request {
        let mut req = Request::new(body);
        *req.method_mut() = Method::POST;
        req
    }

    #[test]
    fn a_json_object_body_is_accepted_as_text_or_binary() {
        let text = post(Body::Text(r#"{"phoneNumber":"+14155552671"}"#.into()));
        assert_eq!(
            string_field(&json_object(&text).unwrap(), "phoneNumber").unwrap(),
            "+14155552671"
        );
        let binary = post(Body::Binary(br#"{"phoneNumber":"+14155552671"}"#.to_vec()));
        assert!(json_object(&binary).is_ok());
    }

    #[test]
    fn malformed_bodies_are_refused_with_a_reason() {
        let cases = [
            (Body::Empty, "request body must be valid JSON"),
            (Body::Text("{".into()), "request body must be valid JSON"),
            (
                Body::Text("[1,2]".into()),
                "request body must be a JSON object",
            ),
            (
                Body::Text("\"+14155552671\"".into()),
                "request body must be a JSON object",
            ),
            (
                Body::Text(format!(r#"{{"pad":"{}"}}"#, "x".repeat(MAX_BODY_BYTES))),
                "request body must be at most 8192 bytes",
            ),
        ];
        for (body, message) in cases {
            assert_eq!(json_object(&post(body)).unwrap_err().message(), message);
        }
    }

    #[test]
    fn methods_other_than_post_are_refused() {
        let mut req = Request::new(Body::Text("{}".into()));
        *req.method_mut() = Method::GET;
        assert_eq!(
            json_object(&req).unwrap_err().message(),
            "only POST is supported"
        );
    }

    #[test]
    fn fields_must_be_present_strings() {
        let body = json_object(&post(Body::Text(
            r#"{"phoneNumber": 14155552671, "otp": null}"#.into(),
        )))
        .unwrap();
        assert_eq!(
            string_field(&body, "phoneNumber").unwrap_err().message(),
            "phoneNumber must be a string"
        );
        assert_eq!(
            string_field(&body, "otp").unwrap_err().message(),
            "otp is required"
        );
        assert_eq!(
            string_field(&body, "missing").unwrap_err().message(),
            "missing is required"
        );
    }
}

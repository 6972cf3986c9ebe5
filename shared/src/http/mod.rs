//! HTTP edge: API Gateway request in, JSON response out. Parses input into domain types, calls
//! one use case, maps the outcome, errors included (in [`error_response`], the one place an
//! error becomes a status and a body). Works for HTTP API (payload 2.0) and REST API (payload
//! 1.0) events alike and ignores the route path: API Gateway has already routed the request.

use lambda_http::http::{HeaderValue, Method, StatusCode, header};
use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt, Response};
use serde::Serialize;
use serde_json::{Map, Value};
use tracing::Instrument;

use crate::domain::{
    Caller, Channel, ClientIp, InputError, Locale, MAX_TAG_LEN, OtpCode, PhoneNumber,
};
use crate::error::{OtpError, chain};
use crate::metrics::{Facts, Operation};
use crate::service::{MessageChoice, SendOtp, VerifyOtp};
use crate::sms::{SmsSender, VoiceCaller};
use crate::store::OtpStore;
use crate::token::DISCOVERY_MAX_AGE;

mod callback;

pub use callback::plivo_callback;

/// Bodies above this size are refused before parsing.
const MAX_BODY_BYTES: usize = 8 * 1024;

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
    /// The signed proof of verification, when a signing key is configured.
    #[serde(skip_serializing_if = "Option::is_none")]
    token: Option<String>,
}

/// The JSON object in a POST body.
fn json_object(req: &Request) -> Result<Map<String, Value>, OtpError> {
    let invalid = |message: &str| Err(OtpError::InvalidRequest(message.to_owned()));
    if req.method() != Method::POST {
        return invalid("only POST is supported");
    }
    // Text and binary (base64-decoded) bodies alike; empty is zero bytes.
    let bytes: &[u8] = req.body().as_ref();
    if bytes.len() > MAX_BODY_BYTES {
        return invalid(&format!(
            "request body must be at most {MAX_BODY_BYTES} bytes"
        ));
    }
    match serde_json::from_slice::<Value>(bytes) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => invalid("request body must be a JSON object"),
        Err(_) => invalid("request body must be valid JSON"),
    }
}

/// Whether API Gateway authorized the request with IAM (SigV4): only then does the body's
/// `clientIp` count. The request context is API Gateway's own; a client cannot set it.
fn iam_authorized(req: &Request) -> bool {
    matches!(
        req.request_context_ref(),
        Some(RequestContext::ApiGatewayV2(ctx))
            if ctx.authorizer.as_ref().is_some_and(|a| a.iam.is_some())
    )
}

/// Who is asking. A backend signed in with IAM names its end user's address in `clientIp`
/// (or none: then no per-IP limit applies); anyone else is the source IP API Gateway saw,
/// which the client cannot set (unlike `X-Forwarded-For`), and may not send `clientIp`.
fn caller(req: &Request, body: &Map<String, Value>) -> Result<Caller, OtpError> {
    // A misspelt field would silently switch every per-IP limit off: name the right one.
    let squashed = |k: &str| k.replace(['_', '-'], "").to_ascii_lowercase();
    if body
        .keys()
        .any(|k| k != "clientIp" && squashed(k) == "clientip")
    {
        return Err(OtpError::InvalidRequest(
            "unknown field: the client's address goes in clientIp".to_owned(),
        ));
    }
    let named = body.contains_key("clientIp");
    if !iam_authorized(req) {
        if named {
            return Err(OtpError::InvalidRequest(
                "clientIp is accepted only from IAM-authorized callers".to_owned(),
            ));
        }
        let ip = match req.request_context_ref() {
            Some(RequestContext::ApiGatewayV2(ctx)) => ctx.http.source_ip.as_deref(),
            Some(RequestContext::ApiGatewayV1(ctx)) => ctx.identity.source_ip.as_deref(),
            _ => None,
        };
        return Ok(Caller {
            ip: ip.and_then(ClientIp::parse),
        });
    }
    if !named {
        return Ok(Caller::default());
    }
    let ip = ClientIp::parse(string_field(body, "clientIp")?).ok_or_else(|| {
        OtpError::InvalidRequest("clientIp must be an IPv4 or IPv6 address".to_owned())
    })?;
    if ip.is_local() {
        // Every user would share one budget: the backend sent its proxy's address.
        return Err(OtpError::InvalidRequest(
            "clientIp must be the end user's address, not a loopback or link-local one".to_owned(),
        ));
    }
    Ok(Caller { ip: Some(ip) })
}

/// An optional string field: absent or null is none; anything but a string is refused.
fn optional_string<'a>(
    body: &'a Map<String, Value>,
    name: &str,
) -> Result<Option<&'a str>, OtpError> {
    match body.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(OtpError::InvalidRequest(format!("{name} must be a string"))),
    }
}

fn string_field<'a>(body: &'a Map<String, Value>, name: &str) -> Result<&'a str, OtpError> {
    optional_string(body, name)?
        .ok_or_else(|| OtpError::InvalidRequest(format!("{name} is required")))
}

/// A field that did not parse: the domain says what is wrong, the field says where.
fn invalid_field(name: &'static str) -> impl Fn(InputError) -> OtpError {
    move |e| OtpError::InvalidRequest(format!("{name} {e}"))
}

/// Logs the outcome of a failed request: client mistakes briefly, dependency failures with
/// their cause chain. Neither ever includes the code or the full number.
fn log_failure(err: &OtpError) {
    let status = status(err);
    if status.is_server_error() {
        let cause = std::error::Error::source(err)
            .map(chain)
            .unwrap_or_default();
        tracing::error!(status = status.as_u16(), code = code(err), error.message = %err, error.cause = %cause, "request failed");
    } else {
        tracing::info!(
            status = status.as_u16(),
            code = code(err),
            "request refused"
        );
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
            error_response(&err)
        }
    }
}

/// Runs a request's work inside `span` and answers with its outcome.
async fn answer<T: Serialize>(
    span: tracing::Span,
    work: impl Future<Output = Result<T, OtpError>>,
) -> Response<Body> {
    let result = work.instrument(span.clone()).await;
    span.in_scope(|| respond(result))
}

/// The `phoneNumber` field, parsed, and recorded (masked) on the request's span.
fn phone_field(body: &Map<String, Value>) -> Result<PhoneNumber, OtpError> {
    let phone = PhoneNumber::parse(string_field(body, "phoneNumber")?)
        .map_err(invalid_field("phoneNumber"))?;
    tracing::Span::current().record("phone", tracing::field::display(&phone));
    Ok(phone)
}

/// The optional `locale` (a BCP 47 tag; one with no text of its own falls back, a malformed
/// one is refused) and `appHash` of a send.
fn message_choice(body: &Map<String, Value>) -> Result<MessageChoice, OtpError> {
    let locale = optional_string(body, "locale")?
        .map(|tag| {
            Locale::parse(tag).ok_or_else(|| {
                OtpError::InvalidRequest(format!(
                    "locale must be a BCP 47 language tag of at most {MAX_TAG_LEN} characters, e.g. pt-BR"
                ))
            })
        })
        .transpose()?;
    let app_hash = optional_string(body, "appHash")?.map(str::to_owned);
    let channel = match optional_string(body, "channel")? {
        None => Channel::Sms,
        Some(name) => Channel::parse(name)
            .ok_or_else(|| OtpError::InvalidRequest("channel must be sms or voice".to_owned()))?,
    };
    Ok(MessageChoice {
        locale,
        app_hash,
        channel,
    })
}

/// `POST /auth/send-otp` `{"phoneNumber": "+14155552671"}`, optionally with `"locale"`,
/// `"appHash"` and `"channel"` (and `"clientIp"` from an IAM-authorized backend).
pub async fn send_otp<S: OtpStore, M: SmsSender + VoiceCaller>(
    app: &SendOtp<S, M>,
    req: Request,
) -> Response<Body> {
    let span = tracing::info_span!("send_otp", phone = tracing::field::Empty);
    let work = app.metrics().measure(Operation::Send, async {
        let mut facts = Facts::default();
        let result = async {
            let body = json_object(&req)?;
            let phone = phone_field(&body)?;
            facts.region = phone.country();
            let choice = message_choice(&body)?;
            let sent = app
                .send_with(&phone, &caller(&req, &body)?, &choice)
                .await?;
            facts.channel = Some(sent.channel);
            let message = match sent.channel {
                Channel::Sms => {
                    facts.segments = Some(sent.segments);
                    "OTP sent successfully"
                }
                Channel::Voice => "OTP call placed",
            };
            Ok(SendResponse {
                success: true,
                message,
                expires_in: sent.expires_in,
            })
        }
        .await;
        (result, facts)
    });
    answer(span, work).await
}

/// `POST /auth/verify-otp` `{"phoneNumber": "+14155552671", "otp": "123456"}`; and, for
/// checking the tokens a right code earns, `GET /.well-known/jwks.json` and
/// `GET /.well-known/openid-configuration` (404 without a signing key).
pub async fn verify_otp<S: OtpStore>(app: &VerifyOtp<S>, req: Request) -> Response<Body> {
    if req.method() == Method::GET
        && let Some(document) = discovery_document(req.uri().path())
    {
        let served = app.metrics().measure(Operation::Keys, async {
            (discovery(app, document), Facts::default())
        });
        return served.await.unwrap_or_else(|err| error_response(&err));
    }
    let span = tracing::info_span!("verify_otp", phone = tracing::field::Empty);
    let work = app.metrics().measure(Operation::Verify, async {
        let mut facts = Facts::default();
        let result = async {
            let body = json_object(&req)?;
            let phone = phone_field(&body)?;
            facts.region = phone.country();
            let code = OtpCode::parse(string_field(&body, "otp")?, app.code_length())
                .map_err(invalid_field("otp"))?;
            app.verify(&phone, &code, &caller(&req, &body)?).await?;
            let token = app.tokens().map(|tokens| tokens.issue(&phone));
            Ok(VerifyResponse {
                success: true,
                message: "OTP verified successfully",
                token: token.transpose().map_err(OtpError::TokenFailed)?,
            })
        }
        .await;
        (result, facts)
    });
    answer(span, work).await
}

#[derive(Clone, Copy)]
enum Document {
    Jwks,
    OpenIdConfiguration,
}

fn discovery_document(path: &str) -> Option<Document> {
    if path.ends_with("/.well-known/jwks.json") {
        Some(Document::Jwks)
    } else if path.ends_with("/.well-known/openid-configuration") {
        Some(Document::OpenIdConfiguration)
    } else {
        None
    }
}

/// A discovery document, which verifiers may cache for a while.
fn discovery<S: OtpStore>(
    app: &VerifyOtp<S>,
    document: Document,
) -> Result<Response<Body>, OtpError> {
    let Some(tokens) = app.tokens() else {
        return Err(OtpError::NotFound);
    };
    let text = match document {
        Document::Jwks => tokens.jwks(),
        Document::OpenIdConfiguration => tokens.openid_configuration(),
    };
    let mut response = Response::new(Body::Text(text.to_owned()));
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    let cache = format!("public, max-age={DISCOVERY_MAX_AGE}");
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_str(&cache).expect("ASCII"),
    );
    Ok(response)
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ErrorBody<'a> {
    status_code: u16,
    error: &'a str,
    code: &'a str,
    message: &'a str,
}

/// How the caller sees `err`: the status, the stable machine-readable code clients switch
/// on, and a message safe to show.
fn describe(err: &OtpError) -> (StatusCode, &'static str, &str) {
    use StatusCode as S;
    match err {
        OtpError::InvalidRequest(message) => (S::BAD_REQUEST, "invalid_request", message),
        OtpError::CountryNotAllowed => (
            S::BAD_REQUEST,
            "country_not_allowed",
            "Codes cannot be sent to numbers in this country",
        ),
        OtpError::NumberTypeNotAllowed => (
            S::BAD_REQUEST,
            "number_type_not_allowed",
            "Codes cannot be sent to this kind of number; use a mobile number",
        ),
        OtpError::ChannelNotAllowed => (
            S::BAD_REQUEST,
            "channel_not_allowed",
            "Codes cannot be sent by voice call here; use sms",
        ),
        OtpError::InvalidOtp => (
            S::UNAUTHORIZED,
            "invalid_otp",
            "The code is invalid or has expired",
        ),
        OtpError::TooManyAttempts { .. } => (
            S::TOO_MANY_REQUESTS,
            "too_many_attempts",
            "Too many wrong codes; request a new code later",
        ),
        OtpError::RateLimited { .. } => (
            S::TOO_MANY_REQUESTS,
            "rate_limited",
            "Too many codes requested; try again later",
        ),
        OtpError::SmsFailed(_) => (
            S::BAD_GATEWAY,
            "sms_failed",
            "The SMS could not be sent; try again later",
        ),
        OtpError::CallFailed(_) => (
            S::BAD_GATEWAY,
            "call_failed",
            "The call could not be placed; try again later",
        ),
        OtpError::Unavailable(_) => (
            S::SERVICE_UNAVAILABLE,
            "unavailable",
            "The service is temporarily unavailable; try again later",
        ),
        OtpError::Internal(_) | OtpError::TokenFailed(_) => {
            (S::INTERNAL_SERVER_ERROR, "internal", "Internal error")
        }
        OtpError::NotFound => (S::NOT_FOUND, "not_found", "Not found"),
        OtpError::Forbidden(message) => (S::FORBIDDEN, "forbidden", message),
    }
}

fn status(err: &OtpError) -> StatusCode {
    describe(err).0
}

fn code(err: &OtpError) -> &'static str {
    describe(err).1
}

/// The response the caller sees for `err`. Internal detail never goes into the body.
pub fn error_response(err: &OtpError) -> Response<Body> {
    let (status, code, message) = describe(err);
    let body = ErrorBody {
        status_code: status.as_u16(),
        error: status.canonical_reason().unwrap_or("Error"),
        code,
        message,
    };
    let mut response = json_response(status, &body);
    if let OtpError::TooManyAttempts { retry_after, .. }
    | OtpError::RateLimited { retry_after, .. } = err
    {
        response.headers_mut().insert(
            header::RETRY_AFTER,
            HeaderValue::from((*retry_after).max(1)),
        );
    }
    response
}

/// A JSON response that no cache keeps.
fn json_response(status: StatusCode, body: &impl Serialize) -> Response<Body> {
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
    use std::collections::BTreeSet;

    use super::*;
    use crate::sms::SmsError;
    use crate::store::{Failure, StoreError};

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
                Body::Binary(vec![0xff, 0xfe, b'{']),
                "request body must be valid JSON",
            ),
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
            assert_eq!(describe(&json_object(&post(body)).unwrap_err()).2, message);
        }
    }

    #[test]
    fn methods_other_than_post_are_refused() {
        let mut req = Request::new(Body::Text("{}".into()));
        *req.method_mut() = Method::GET;
        assert_eq!(
            describe(&json_object(&req).unwrap_err()).2,
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
            describe(&string_field(&body, "phoneNumber").unwrap_err()).2,
            "phoneNumber must be a string"
        );
        assert_eq!(
            describe(&string_field(&body, "otp").unwrap_err()).2,
            "otp is required"
        );
        assert_eq!(
            describe(&string_field(&body, "missing").unwrap_err()).2,
            "missing is required"
        );
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
                    limit: "Attempts",
                },
                429,
                "Too Many Requests",
                "too_many_attempts",
            ),
            (
                OtpError::RateLimited {
                    retry_after: 9,
                    limit: "Attempts",
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
            limit: "Attempts",
        });
        assert_eq!(response.headers()[header::RETRY_AFTER], "27");
        let response = error_response(&OtpError::TooManyAttempts {
            retry_after: 0,
            limit: "Attempts",
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
                limit: "Attempts",
            },
            OtpError::RateLimited {
                retry_after: 1,
                limit: "Attempts",
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
                .map(|e| status(e).as_u16())
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
            assert_eq!(
                statuses,
                BTreeSet::from([200, status(&OtpError::NotFound).as_u16()])
            );
        }
    }
}

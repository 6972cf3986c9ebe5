//! Reading a request: the JSON object in its body, its fields parsed into domain types, and
//! who is asking. Every refusal is an [`OtpError::InvalidRequest`] whose text names the field
//! and never repeats its value.

use lambda_http::http::Method;
use lambda_http::request::RequestContext;
use lambda_http::{Request, RequestExt};
use serde_json::{Map, Value};

use crate::domain::{
    Caller, Channel, ClientIp, CodeLength, InputError, Locale, MAX_TAG_LEN, OtpCode, PhoneNumber,
};
use crate::error::OtpError;
use crate::service::{MessageChoice, Subject};

/// Bodies above this size are refused before parsing.
const MAX_BODY_BYTES: usize = 8 * 1024;

/// The JSON object in a POST body.
pub(super) fn json_object(req: &Request) -> Result<Map<String, Value>, OtpError> {
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
pub(super) fn caller(req: &Request, body: &Map<String, Value>) -> Result<Caller, OtpError> {
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

/// The `phoneNumber` field, parsed, and recorded (masked) on the request's span.
pub(super) fn phone_field(body: &Map<String, Value>) -> Result<PhoneNumber, OtpError> {
    let phone = PhoneNumber::parse(string_field(body, "phoneNumber")?)
        .map_err(invalid_field("phoneNumber"))?;
    tracing::Span::current().record("phone", tracing::field::display(&phone));
    Ok(phone)
}

/// What a verify names: `verificationId` (with `phoneNumber` optional beside it, then it must
/// be the id's number), else `phoneNumber` alone.
pub(super) fn subject(body: &Map<String, Value>) -> Result<Subject, OtpError> {
    let Some(id) = optional_string(body, "verificationId")? else {
        return Ok(Subject::Number(phone_field(body)?));
    };
    let id = super::verifications::parse_id(id, "verificationId")?;
    let phone = match optional_string(body, "phoneNumber")? {
        Some(_) => Some(phone_field(body)?),
        None => None,
    };
    Ok(Subject::Verification { id, phone })
}

/// The optional `locale` (a BCP 47 tag; one with no text of its own falls back, a malformed
/// one is refused) and `appHash` of a send.
pub(super) fn message_choice(body: &Map<String, Value>) -> Result<MessageChoice, OtpError> {
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

/// The `otp` field: exactly `length` digits.
pub(super) fn code_field(
    body: &Map<String, Value>,
    length: CodeLength,
) -> Result<OtpCode, OtpError> {
    OtpCode::parse(string_field(body, "otp")?, length).map_err(invalid_field("otp"))
}

#[cfg(test)]
mod tests {
    use lambda_http::Body;

    use super::*;

    /// The text of the refusal `result` holds.
    fn refusal<T: std::fmt::Debug>(result: Result<T, OtpError>) -> String {
        match result.unwrap_err() {
            OtpError::InvalidRequest(message) => message,
            other => panic!("{other:?}"),
        }
    }

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
            assert_eq!(refusal(json_object(&post(body))), message);
        }
    }

    #[test]
    fn methods_other_than_post_are_refused() {
        let mut req = Request::new(Body::Text("{}".into()));
        *req.method_mut() = Method::GET;
        assert_eq!(refusal(json_object(&req)), "only POST is supported");
    }

    #[test]
    fn fields_must_be_present_strings() {
        let body = json_object(&post(Body::Text(
            r#"{"phoneNumber": 14155552671, "otp": null}"#.into(),
        )))
        .unwrap();
        assert_eq!(
            refusal(string_field(&body, "phoneNumber")),
            "phoneNumber must be a string"
        );
        assert_eq!(refusal(string_field(&body, "otp")), "otp is required");
        assert_eq!(
            refusal(string_field(&body, "missing")),
            "missing is required"
        );
    }
}

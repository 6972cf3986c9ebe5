//! Plivo's callbacks: `POST /plivo/callback/status` (delivery reports) and
//! `POST /plivo/callback/answer` (what a voice call says).
//!
//! Nothing of a request is read before its size is checked and its Plivo signature verified,
//! over the public URL Plivo was given (`OTP_PUBLIC_BASE_URL` and the route), never the host
//! the Lambda event names. A refused request changes nothing.

use lambda_http::http::{Method, StatusCode};
use lambda_http::{Body, Request, Response};
use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;

use super::response::{error_response, serve, serve_json, uncached};
use crate::domain::{DeliveryOutcome, DeliveryStatus, Receipt};
use crate::error::OtpError;
use crate::metrics::{Facts, Operation};
use crate::service::{AnswerFetch, AnswerStep, Callbacks, Recorded, StatusReport};
use crate::sms::callback_url::{
    ANSWER_PATH, AnswerUrl, Params, STATUS_PATH, StatusUrl, params, single,
};
use crate::sms::plivo_xml;
use crate::sms::signature::{self, Signatures};
use crate::store::ReceiptStore;

/// Plivo's reports are a few hundred bytes of form fields; anything far larger is not one.
const MAX_CALLBACK_BYTES: usize = 8 * 1024;

/// A message has a handful of reports: a sequence far beyond that is not Plivo's, and would
/// leave no room for the real reports after it.
const MAX_SEQUENCE: u64 = 10_000;

#[derive(Serialize)]
struct CallbackResponse {
    success: bool,
    message: &'static str,
}

fn invalid(message: &str) -> OtpError {
    OtpError::InvalidRequest(message.to_owned())
}

/// A header's value, when it is present and printable.
fn header<'a>(req: &'a Request, name: &str) -> Option<&'a str> {
    req.headers().get(name).and_then(|v| v.to_str().ok())
}

/// The signature headers: V3 with its nonce, and V2 with its nonce.
fn signatures(req: &Request) -> Signatures<'_> {
    let pair = |sig: &str, nonce: &str| Some((header(req, sig)?, header(req, nonce)?));
    Signatures {
        v3: pair("x-plivo-signature-v3", "x-plivo-signature-v3-nonce"),
        v2: pair("x-plivo-signature-v2", "x-plivo-signature-v2-nonce"),
    }
}

/// Which of Plivo's signatures a route takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Accepted {
    /// V3, or V2 where V3 is absent (Plivo's message callbacks may carry V2 only).
    V3OrV2,
    /// V3 alone: V2 signs neither the query nor the body, so a V2 pair from any request to a
    /// route would be good for any query on it (any answer URL).
    V3Only,
}

/// Checks a callback's size and signature, for the route at `path`; the form parameters and
/// query parameters of a request Plivo signed.
fn signed_parameters<S: ReceiptStore>(
    app: &Callbacks<S>,
    req: &Request,
    path: &str,
    accepted: Accepted,
) -> Result<(Params, Params), OtpError> {
    if req.method() != Method::POST {
        return Err(invalid("only POST is supported"));
    }
    let body: &[u8] = req.body().as_ref();
    if body.len() > MAX_CALLBACK_BYTES {
        return Err(invalid(&format!(
            "request body must be at most {MAX_CALLBACK_BYTES} bytes"
        )));
    }
    let query = req.uri().query().unwrap_or_default();
    let mut url = format!("{}{path}", app.public_base_url());
    if !query.is_empty() {
        url.push('?');
        url.push_str(query);
    }
    let form = params(body);
    let token = app.auth_token().expose_secret();
    let mut signed = signatures(req);
    if accepted == Accepted::V3Only {
        signed.v2 = None;
    }
    if !signature::verify(token, "POST", &url, &form, signed) {
        tracing::warn!(
            v3 = signatures(req).v3.is_some(),
            v2 = signatures(req).v2.is_some(),
            "callback signature missing or wrong"
        );
        return Err(OtpError::Forbidden("The request is not signed by Plivo"));
    }
    Ok((form, params(query.as_bytes())))
}

/// The report a signed callback carries, and for V2 (which signs only the URL and the nonce)
/// the nonce.
fn status_report(
    req: &Request,
    form: &[(String, String)],
    query: &[(String, String)],
) -> Result<StatusReport, OtpError> {
    let url = StatusUrl::parse(query).map_err(invalid)?;
    let message_uuid = single(form, "MessageUUID")
        .filter(|u| u.len() <= 64)
        .ok_or_else(|| invalid("MessageUUID is required"))?;
    let status = single(form, "Status")
        .and_then(DeliveryStatus::parse)
        .ok_or_else(|| invalid("Status must be queued, sent, delivered, undelivered or failed"))?;
    let sequence = single(form, "Sequence")
        .and_then(|s| s.parse::<u64>().ok())
        .filter(|s| *s <= MAX_SEQUENCE)
        .ok_or_else(|| invalid("Sequence must be a number up to 10000"))?;
    let error_code = match single(form, "ErrorCode") {
        Some(code) => Some(
            code.parse::<u32>()
                .map_err(|_| invalid("ErrorCode must be a number"))?,
        ),
        None => None,
    }
    .filter(|code| *code != 0);
    // Spent whenever present, even beside a V3 signature that passed: otherwise the V2 pair
    // of a real request, seen in any log on the way, would still be good for another body.
    let v2_nonce = signatures(req).v2.map(|(_, nonce)| nonce.to_owned());
    Ok(StatusReport {
        url,
        receipt: Receipt {
            message_uuid: message_uuid.to_owned(),
            sequence,
            status,
            error_code,
        },
        to: single(form, "To").map(str::to_owned),
        v2_nonce,
    })
}

/// Plivo's callbacks: `POST /plivo/callback/status` (a delivery report) and
/// `POST /plivo/callback/answer` (what a voice call says); any other path is 404.
pub async fn plivo_callback<S: ReceiptStore>(app: &Callbacks<S>, req: Request) -> Response<Body> {
    let path = req.uri().path();
    if path.ends_with(STATUS_PATH) {
        status_callback(app, req).await
    } else if path.ends_with(ANSWER_PATH) {
        answer_callback(app, req).await
    } else {
        error_response(&OtpError::NotFound)
    }
}

/// `POST /plivo/callback/status?k=...&r=...&rg=...`, form-encoded as Plivo posts it: records
/// the report on the code it belongs to. 403 for a request Plivo did not sign or one received
/// before, 400 for one too large or malformed; 200 for a report recorded, and for one of an
/// older message (Plivo need not send it again).
async fn status_callback<S: ReceiptStore>(app: &Callbacks<S>, req: Request) -> Response<Body> {
    let span = tracing::info_span!("plivo_callback");
    let work = app.metrics().measure(Operation::Receipt, async {
        let mut facts = Facts::default();
        let result = async {
            let (form, query) = signed_parameters(app, &req, STATUS_PATH, Accepted::V3OrV2)?;
            let report = status_report(&req, &form, &query)?;
            facts.region = report.url.region;
            let message = match app.status(&report).await? {
                Recorded::Current(outcome) => {
                    facts.delivery = outcome;
                    if outcome == Some(DeliveryOutcome::Failed) {
                        facts.delivery_error = report.receipt.error_code;
                    }
                    "Report recorded"
                }
                Recorded::Stale => "Report of a replaced or older message; nothing changed",
            };
            Ok(CallbackResponse {
                success: true,
                message,
            })
        }
        .await;
        (result, facts)
    });
    serve_json(span, work).await
}

/// `POST /plivo/callback/answer?k=...&c=...&e=...&t=...`, as Plivo fetches it when the call is
/// answered (and posts to it again with the key pressed, and at hangup): Plivo XML that asks
/// for a 1, then reads the code, digit by digit, twice. Signed by Plivo with V3, unexpired,
/// for the number called and the first 1 of its call, or 403 and nothing said; XML is never
/// logged.
async fn answer_callback<S: ReceiptStore>(app: &Callbacks<S>, req: Request) -> Response<Body> {
    let span = tracing::info_span!("plivo_answer");
    let work = app.metrics().measure(Operation::Answer, async {
        let mut facts = Facts::default();
        let result = async {
            let (form, query) = signed_parameters(app, &req, ANSWER_PATH, Accepted::V3Only)?;
            let url = AnswerUrl::parse(&query).ok_or(OtpError::Forbidden(
                "The answer URL is not one this service made",
            ))?;
            let status = single(&form, "CallStatus");
            let fetch = AnswerFetch {
                to: single(&form, "To").map(str::to_owned),
                pressed: single(&form, "Digits").map(str::to_owned),
                machine: single(&form, "Machine") == Some("true"),
                ended: single(&form, "Event") == Some("Hangup")
                    || status.is_some_and(|s| s != "in-progress"),
            };
            let step = app.answer(&url, &fetch).await?;
            let (outcome, xml) = match step {
                AnswerStep::Prompt { language } => {
                    let again = format!(
                        "{}{ANSWER_PATH}?{}",
                        app.public_base_url(),
                        req.uri().query().unwrap_or_default()
                    );
                    ("Prompted", plivo_xml::press_one(&again, &language))
                }
                AnswerStep::Speak(answer) => (
                    "Spoken",
                    plivo_xml::speak_code(&answer.code, &answer.language),
                ),
                AnswerStep::Machine => ("Machine", SecretString::from(plivo_xml::HANG_UP)),
                AnswerStep::Ended => ("Ended", SecretString::from(plivo_xml::NOTHING)),
            };
            facts.outcome = Some(outcome);
            Ok(xml)
        }
        .await;
        (result, facts)
    });
    serve(span, work, |xml: SecretString| {
        let text = xml.expose_secret().to_owned();
        uncached(StatusCode::OK, "application/xml", text)
    })
    .await
}

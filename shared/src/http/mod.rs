//! HTTP edge: API Gateway request in, JSON response out. Each handler reads the request into
//! domain types ([`request`]), calls one use case and answers its outcome ([`response`], where
//! an error becomes a status and a body through the one table). Works for HTTP API (payload
//! 2.0) and REST API (payload 1.0) events alike. The send and verify handlers do not depend on
//! the route path (API Gateway has already routed the request); verify-otp tells its key
//! documents from a verify by method and path ([`discovery`]), and the callback function its
//! two routes by path ([`callback`]).

use lambda_http::http::Method;
use lambda_http::{Body, Request, Response};
use serde::Serialize;

use crate::domain::Channel;
use crate::error::OtpError;
use crate::metrics::{Facts, Operation};
use crate::service::{SendOtp, Subject, VerifyOtp};
use crate::sms::{SmsSender, VoiceCaller};
use crate::store::OtpStore;

mod callback;
mod discovery;
mod request;
mod response;
mod verifications;

pub use callback::plivo_callback;
pub use response::error_response;

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SendResponse {
    success: bool,
    message: &'static str,
    /// The id to verify, read and cancel this code's verification by.
    verification_id: String,
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
            let body = request::json_object(&req)?;
            let phone = request::phone_field(&body)?;
            facts.region = phone.country();
            let choice = request::message_choice(&body)?;
            let caller = request::caller(&req, &body)?;
            let sent = app.send_with(&phone, &caller, &choice).await?;
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
                verification_id: sent.verification_id.as_string(),
                expires_in: sent.expires_in,
            })
        }
        .await;
        (result, facts)
    });
    response::serve_json(span, work).await
}

/// `POST /auth/verify-otp` `{"verificationId": "...", "otp": "123456"}` (or by
/// `"phoneNumber"`, or both); `GET /auth/verifications/{id}` and
/// `POST /auth/verifications/{id}/cancel`; and, for checking the tokens a right code earns,
/// `GET /.well-known/jwks.json` and `GET /.well-known/openid-configuration` (404 without a
/// signing key).
pub async fn verify_otp<S: OtpStore>(app: &VerifyOtp<S>, req: Request) -> Response<Body> {
    let path = req.uri().path();
    if req.method() == Method::GET
        && let Some(document) = discovery::Document::at(path)
    {
        let served = app.metrics().measure(Operation::Keys, async {
            (discovery::serve(app, document), Facts::default())
        });
        return served.await.unwrap_or_else(|err| error_response(&err));
    }
    if let Some((action, id)) = verifications::route(req.method(), path) {
        let span = tracing::info_span!("verification", phone = tracing::field::Empty);
        let work = app.metrics().measure(Operation::Verification, async {
            (
                verifications::serve(app, action, id).await,
                Facts::default(),
            )
        });
        return response::serve_json(span, work).await;
    }
    let span = tracing::info_span!("verify_otp", phone = tracing::field::Empty);
    let work = app.metrics().measure(Operation::Verify, async {
        let mut facts = Facts::default();
        let result = async {
            let body = request::json_object(&req)?;
            let subject = request::subject(&body)?;
            if let Subject::Number(phone)
            | Subject::Verification {
                phone: Some(phone), ..
            } = &subject
            {
                facts.region = phone.country();
            }
            let code = request::code_field(&body, app.code_length())?;
            let phone = app
                .verify_by(&subject, &code, &request::caller(&req, &body)?)
                .await?;
            facts.region = phone.country();
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
    response::serve_json(span, work).await
}

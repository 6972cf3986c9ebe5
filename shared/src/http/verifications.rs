//! A verification by its id, served by verify-otp: `GET /auth/verifications/{id}` reads how it
//! stands, `POST /auth/verifications/{id}/cancel` ends it while pending.

use lambda_http::http::Method;
use serde::Serialize;

use crate::domain::{ID_CHARS, VerificationId};
use crate::error::OtpError;
use crate::service::{Verification, VerifyOtp};
use crate::store::OtpStore;

/// What a request under `/verifications/` asks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Action {
    Status,
    Cancel,
}

/// The action and the id text a method and path name, if they name one.
pub(super) fn route<'p>(method: &Method, path: &'p str) -> Option<(Action, &'p str)> {
    let (_, rest) = path.rsplit_once("/auth/verifications/")?;
    match (method, rest.strip_suffix("/cancel")) {
        (&Method::POST, Some(id)) => Some((Action::Cancel, id)),
        (&Method::GET, None) => Some((Action::Status, rest)),
        _ => None,
    }
}

/// An id as a path or body carries it: 36 URL-safe characters, else a 400 naming `field`.
pub(super) fn parse_id(text: &str, field: &str) -> Result<VerificationId, OtpError> {
    VerificationId::parse(text).ok_or_else(|| {
        OtpError::InvalidRequest(format!(
            "{field} must be the {ID_CHARS}-character id a send answered"
        ))
    })
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct VerificationResponse {
    verification_id: String,
    status: &'static str,
    channel: &'static str,
    attempts_left: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    expires_in: Option<u64>,
    /// The number, masked as the logs mask it.
    to: String,
}

/// Serves `action` on the verification `id` names.
pub(super) async fn serve<S: OtpStore>(
    app: &VerifyOtp<S>,
    action: Action,
    id_text: &str,
) -> Result<VerificationResponse, OtpError> {
    let id = parse_id(id_text, "the verification id")?;
    let verification: Verification = match action {
        Action::Status => app.status(&id).await?,
        Action::Cancel => app.cancel(&id).await?,
    };
    Ok(VerificationResponse {
        verification_id: id.as_string(),
        status: verification.status.as_str(),
        channel: verification.channel.as_str(),
        attempts_left: verification.attempts_left,
        expires_in: verification.expires_in,
        to: verification.to.masked(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_are_told_apart_by_method_and_path() {
        let id = "A".repeat(36);
        let status = format!("/auth/verifications/{id}");
        let cancel = format!("/prod/auth/verifications/{id}/cancel");
        assert_eq!(
            route(&Method::GET, &status),
            Some((Action::Status, id.as_str()))
        );
        assert_eq!(
            route(&Method::POST, &cancel),
            Some((Action::Cancel, id.as_str()))
        );
        assert_eq!(route(&Method::POST, &status), None);
        assert_eq!(route(&Method::GET, &cancel), None);
        assert_eq!(route(&Method::POST, "/auth/verify-otp"), None);
    }

    #[test]
    fn a_malformed_id_is_refused_without_being_repeated() {
        let err = parse_id("not-an-id<script>", "verificationId").unwrap_err();
        let text = err.describe().message.to_owned();
        assert_eq!(
            text,
            "verificationId must be the 36-character id a send answered"
        );
        assert!(parse_id(&"A".repeat(35), "verificationId").is_err());
    }
}

//! [`PlivoSmsSender`]: the SMS channel through Plivo's Message API, and the voice channel
//! through its Call API.

use std::sync::Arc;
use std::time::Duration;

use rand::RngExt;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use tokio::time::Instant;

use super::{SmsError, SmsSender, VoiceCaller};
use crate::config::{PlivoConfig, PlivoLog};
use crate::domain::PhoneNumber;
use crate::timing::{Dependency, timed};

/// How hard the client tries before giving up.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    pub max_attempts: u32,
    /// Time allowed for all attempts and the waits between them.
    pub total_budget: Duration,
    /// Time allowed for one request, connection included.
    pub attempt_timeout: Duration,
    /// Upper bound of the first wait; each later wait bound doubles (full jitter).
    pub base_backoff: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 3,
            total_budget: Duration::from_secs(5),
            attempt_timeout: Duration::from_millis(2_000),
            base_backoff: Duration::from_millis(200),
        }
    }
}

/// The Plivo client could not be built.
#[derive(Debug, thiserror::Error)]
pub enum SmsClientError {
    #[error("tls setup: {0}")]
    Tls(#[from] rustls::Error),
    #[error("http client setup: {0}")]
    Http(#[from] reqwest::Error),
}

#[derive(Debug, Deserialize)]
struct PlivoErrorBody {
    api_id: Option<String>,
    error: Option<serde_json::Value>,
}

/// Plivo's answer to a message accepted (`message_uuid`) or a call fired (`request_uuid`).
#[derive(Debug, Deserialize)]
struct PlivoAccepted {
    message_uuid: Option<Vec<String>>,
    request_uuid: Option<String>,
}

/// TLS for Plivo: rustls on aws-lc-rs (the stack the DynamoDB client uses) trusting the
/// Mozilla root program's CAs, compiled in. reqwest's default platform verifier would read and
/// parse the system certificate store on the first handshake, on the path of the first SMS;
/// these roots cost nothing to load.
fn public_roots_tls() -> Result<rustls::ClientConfig, rustls::Error> {
    let roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth())
}

/// One Plivo client per execution environment: it keeps its connection pool warm.
pub struct PlivoSmsSender {
    http: reqwest::Client,
    message_url: String,
    call_url: String,
    /// The caller id of voice calls: a number in E.164, without its `+`.
    caller_id: Option<String>,
    auth_id: String,
    auth_token: SecretString,
    sender_id: String,
    log: PlivoLog,
    retry: RetryPolicy,
}

/// When a request is sent again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Resend {
    /// After a refused connection, a 429, or a 5xx (Plivo's advice for messages).
    AfterServerErrors,
    /// After a refused connection or a 429 only: a call Plivo answered with a 5xx may have
    /// been placed, and a second one would ring (and bill) twice.
    OnlyIfUnsent,
}

enum Attempt {
    Sent(Option<String>),
    /// Plivo cannot have the message (no connection) or asked for a retry (429, 5xx).
    Retry(String),
    /// Plivo may or may not have the message: not retried.
    Unanswered(String),
    Fatal(SmsError),
}

impl PlivoSmsSender {
    pub fn new(config: &PlivoConfig, retry: RetryPolicy) -> Result<Self, SmsClientError> {
        let http = reqwest::Client::builder()
            .tls_backend_preconfigured(public_roots_tls()?)
            .connect_timeout(retry.attempt_timeout)
            .pool_idle_timeout(Duration::from_secs(50))
            .user_agent(concat!("otp-lambda/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Self {
            http,
            message_url: format!("{}/v1/Account/{}/Message/", config.api_url, config.auth_id),
            call_url: format!("{}/v1/Account/{}/Call/", config.api_url, config.auth_id),
            caller_id: config
                .caller_id
                .as_deref()
                .map(|id| id.trim_start_matches('+').to_owned()),
            auth_id: config.auth_id.clone(),
            auth_token: config.auth_token.clone(),
            sender_id: config.sender_id.clone(),
            log: config.log,
            retry,
        })
    }

    /// Sends `text` to `to`, retrying throttling, server errors and failed connections with
    /// jittered exponential backoff inside the retry budget. Other 4xx are not retried, and
    /// neither is a request that may have reached Plivo (a timeout waiting for the answer).
    #[tracing::instrument(name = "plivo_send", skip_all, fields(to = %to))]
    async fn send_with_retries(
        &self,
        to: &PhoneNumber,
        text: &SecretString,
        status_url: Option<&str>,
    ) -> Result<(), SmsError> {
        let mut body = serde_json::json!({
            "src": self.sender_id,
            "dst": to.e164(),
            "text": text.expose_secret(),
            "log": log_field(self.log),
        });
        if let Some(url) = status_url {
            body["url"] = url.into();
            body["method"] = "POST".into();
        }
        let uuid = self
            .post_with_retries(&self.message_url, &body, Resend::AfterServerErrors)
            .await?;
        tracing::info!(message_uuid = uuid.as_deref(), "sms queued");
        Ok(())
    }

    /// Places a call to `to` whose answer Plivo fetches from `answer_url`, with the same
    /// retries as a message.
    #[tracing::instrument(name = "plivo_call", skip_all, fields(to = %to))]
    async fn call_with_retries(&self, to: &PhoneNumber, answer_url: &str) -> Result<(), SmsError> {
        let Some(caller_id) = &self.caller_id else {
            return Err(SmsError::Refused {
                status: 0,
                api_id: None,
                error: "no caller id for voice calls (PLIVO_VOICE_CALLER_ID)".to_owned(),
            });
        };
        let body = serde_json::json!({
            "from": caller_id,
            "to": to.e164().trim_start_matches('+'),
            "answer_url": answer_url,
            "answer_method": "POST",
            // Plivo posts the hangup to the answer URL too; named here so it is plain that
            // the answer route is told when the call ends (and then says nothing).
            "hangup_url": answer_url,
            "hangup_method": "POST",
            // An answering machine is hung up on; the prompt to press 1 covers the rest.
            "machine_detection": "hangup",
            "ring_timeout": 45,
            "time_limit": 90,
        });
        // A call Plivo answered with a 5xx may still ring: it is not placed again.
        let uuid = self
            .post_with_retries(&self.call_url, &body, Resend::OnlyIfUnsent)
            .await?;
        tracing::info!(request_uuid = uuid.as_deref(), "call fired");
        Ok(())
    }

    /// POSTs `body` to `url` until Plivo accepts it (its message or request id, when it gave
    /// one) or the budget is spent.
    async fn post_with_retries(
        &self,
        url: &str,
        body: &serde_json::Value,
        resend: Resend,
    ) -> Result<Option<String>, SmsError> {
        let deadline = Instant::now() + self.retry.total_budget;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let remaining = deadline.saturating_duration_since(Instant::now());
            let timeout = self.retry.attempt_timeout.min(remaining);
            let last = match self.attempt(url, body, timeout, resend).await {
                Attempt::Sent(uuid) => {
                    tracing::debug!(attempt, "accepted");
                    return Ok(uuid);
                }
                Attempt::Fatal(err) => return Err(err),
                Attempt::Unanswered(last) => {
                    tracing::warn!(attempt, reason = %last, "plivo did not answer; not retried");
                    return Err(SmsError::Unavailable {
                        attempts: attempt,
                        last,
                    });
                }
                Attempt::Retry(reason) => reason,
            };
            tracing::warn!(attempt, reason = %last, "plivo attempt failed");
            let cap = self.retry.base_backoff * 2u32.saturating_pow(attempt - 1);
            let wait = rand::rng().random_range(Duration::ZERO..=cap);
            let remaining = deadline.saturating_duration_since(Instant::now());
            // Stop when no attempts are left, or when waiting would leave too little time
            // for the next one to finish.
            if attempt >= self.retry.max_attempts || remaining <= wait + self.retry.base_backoff {
                return Err(SmsError::Unavailable {
                    attempts: attempt,
                    last,
                });
            }
            tokio::time::sleep(wait).await;
        }
    }

    async fn attempt(
        &self,
        url: &str,
        body: &serde_json::Value,
        timeout: Duration,
        resend: Resend,
    ) -> Attempt {
        let sent = self
            .http
            .post(url)
            .basic_auth(&self.auth_id, Some(self.auth_token.expose_secret()))
            .json(body)
            .timeout(timeout)
            .send()
            .await;
        // Only a request that never left can be sent again safely: once Plivo may have it,
        // a retry could deliver (and bill) the message twice.
        let response = match sent {
            Ok(r) => r,
            Err(e) if e.is_connect() => return Attempt::Retry("connection failed".into()),
            Err(e) if e.is_timeout() => return Attempt::Unanswered("request timed out".into()),
            Err(e) => {
                return Attempt::Unanswered(format!("request failed: {}", e.without_url()));
            }
        };
        let status = response.status();
        // Reading the body is bounded by the same per-request timeout.
        let bytes = response.bytes().await.unwrap_or_default();
        if status.is_success() {
            return Attempt::Sent(accepted_uuid(&bytes));
        }
        let (api_id, error) = error_body(&bytes);
        let reason = || {
            format!(
                "status {} (api_id {}): {error}",
                status.as_u16(),
                api_id.as_deref().unwrap_or("-")
            )
        };
        if status.as_u16() == 429 {
            Attempt::Retry(reason())
        } else if status.is_server_error() {
            match resend {
                Resend::AfterServerErrors => Attempt::Retry(reason()),
                Resend::OnlyIfUnsent => Attempt::Unanswered(reason()),
            }
        } else {
            Attempt::Fatal(SmsError::Refused {
                status: status.as_u16(),
                api_id,
                error,
            })
        }
    }
}

/// The id Plivo gave an accepted message (its last part's) or call, if the body names one.
fn accepted_uuid(body: &[u8]) -> Option<String> {
    let accepted = serde_json::from_slice::<PlivoAccepted>(body).ok()?;
    accepted
        .message_uuid
        .and_then(|mut ids| ids.pop())
        .or(accepted.request_uuid)
}

/// The `api_id` and the error text (redacted) of Plivo's error body.
fn error_body(body: &[u8]) -> (Option<String>, String) {
    let parsed = serde_json::from_slice::<PlivoErrorBody>(body).ok();
    let api_id = parsed.as_ref().and_then(|b| b.api_id.clone());
    let error = parsed
        .and_then(|b| b.error)
        .map(|e| match e {
            serde_json::Value::String(s) => s,
            other => other.to_string(),
        })
        .unwrap_or_else(|| "no error text".to_owned());
    (api_id, redact(&error))
}

impl VoiceCaller for PlivoSmsSender {
    async fn call(&self, to: &PhoneNumber, answer_url: &str) -> Result<(), SmsError> {
        timed(Dependency::Plivo, self.call_with_retries(to, answer_url)).await
    }
}

impl SmsSender for PlivoSmsSender {
    async fn send(
        &self,
        to: &PhoneNumber,
        text: &SecretString,
        status_url: Option<&str>,
    ) -> Result<(), SmsError> {
        let sending = self.send_with_retries(to, text, status_url);
        timed(Dependency::Plivo, sending).await
    }
}

/// Plivo's `log` field: what Plivo keeps of the message.
fn log_field(log: PlivoLog) -> serde_json::Value {
    match log {
        PlivoLog::Off => serde_json::Value::Bool(false),
        PlivoLog::On => serde_json::Value::Bool(true),
        PlivoLog::NumberOnly => "number_only".into(),
        PlivoLog::ContentOnly => "content_only".into(),
    }
}

/// Plivo's error text may quote the destination, in any notation: every digit is hidden
/// before it reaches a log (after the cut to 500 characters, so a number the cut splits is
/// hidden too). The status and Plivo's api_id are logged beside it.
fn redact(text: &str) -> String {
    text.chars()
        .take(500)
        .map(|c| if c.is_ascii_digit() { '#' } else { c })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redact_hides_every_digit_of_the_error_text() {
        let out = redact("dst 14155552671 is invalid; +1 (415) 555-2671 too");
        assert_eq!(out, "dst ########### is invalid; +# (###) ###-#### too");
        let long = format!("{}+14155552671", "x".repeat(489));
        assert!(
            !redact(&long).contains('1'),
            "a number cut at 500 characters"
        );
    }
}

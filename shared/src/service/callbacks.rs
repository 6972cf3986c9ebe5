//! Plivo's callbacks, once the HTTP layer has checked their signature: a delivery report
//! recorded on the code it belongs to, each report at most once.

use std::sync::Arc;

use secrecy::SecretString;

use crate::clock::Clock;
use crate::config::CallbackConfig;
use crate::domain::{
    ANSWER_TTL, Answer, DeliveryOutcome, Keyring, PhoneNumber, Receipt, TicketError, mask_digits,
};
use crate::error::OtpError;
use crate::metrics::Metrics;
use crate::sms::callback_url::{AnswerUrl, StatusUrl};
use crate::store::ReceiptStore;

/// How long a callback's note lasts: longer than Plivo keeps retrying and than a message
/// can stay queued (3 h), so any replay within a week is refused.
const REPLAY_WINDOW: u64 = 7 * 24 * 3600;

/// A signed status report, as the HTTP layer read it.
#[derive(Debug, Clone)]
pub(crate) struct StatusReport {
    /// The number's item, the code's message and the region, as the status URL names them.
    pub(crate) url: StatusUrl,
    pub(crate) receipt: Receipt,
    /// The destination as Plivo reports it (`To`, often masked by Plivo already); logged
    /// masked, never stored.
    pub(crate) to: Option<String>,
    /// The nonce of a V2 signature the callback carries (whichever signature was checked).
    /// V2 signs the URL and the nonce but no body, so the nonce is spent before anything is
    /// recorded: its signature cannot carry another body.
    pub(crate) v2_nonce: Option<String>,
}

/// The replay notes' ids, one per kind of callback: what makes a callback this one.
enum Note<'a> {
    /// A report: its message and sequence.
    Report(&'a Receipt),
    /// A V2 signature's nonce.
    V2Nonce(&'a str),
    /// A call's answer: its call id.
    Answer(&'a str),
}

impl Note<'_> {
    fn id(&self) -> String {
        match self {
            Note::Report(r) => format!("status:{}:{}", r.message_uuid, r.sequence),
            Note::V2Nonce(nonce) => format!("v2-nonce:{nonce}"),
            Note::Answer(call_id) => format!("answer:{call_id}"),
        }
    }
}

/// What Plivo's signed request to an answer URL says about the call.
#[derive(Debug, Clone, Default)]
pub(crate) struct AnswerFetch {
    /// The number called, as Plivo reports it (`To`).
    pub(crate) to: Option<String>,
    /// The key pressed at the prompt (`Digits`).
    pub(crate) pressed: Option<String>,
    /// Plivo's machine detection found an answering machine (`Machine=true`).
    pub(crate) machine: bool,
    /// The call is over (`Event=Hangup`, or a `CallStatus` other than `in-progress`): the
    /// hangup notice Plivo posts to the same URL.
    pub(crate) ended: bool,
}

/// What a call says next.
#[derive(Debug)]
pub(crate) enum AnswerStep {
    /// The prompt to press 1, in the ticket's language.
    Prompt { language: String },
    /// The code, in its language.
    Speak(Answer),
    /// A machine answered: nothing.
    Machine,
    /// The call is over: nothing to say.
    Ended,
}

/// What became of a report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Recorded {
    /// Recorded on the pending code; where the message ended, when the report settles it.
    Current(Option<DeliveryOutcome>),
    /// Of a message whose code was replaced or withdrawn (a used code's message still takes
    /// reports), or older than the report already recorded: acknowledged, and nothing
    /// changed.
    Stale,
}

/// Everything the Plivo callback function needs, built once per execution environment.
pub struct Callbacks<S> {
    /// The keys from `OTP_SECRET`, in the deployment that answers calls (and only there).
    keys: Option<Keyring>,
    /// Where Plivo sends callbacks: what its signatures cover.
    public_base_url: String,
    /// What Plivo signs them with.
    auth_token: SecretString,
    store: S,
    clock: Arc<dyn Clock>,
    metrics: Metrics,
}

impl<S: ReceiptStore> Callbacks<S> {
    pub fn new(config: CallbackConfig, store: S, clock: Arc<dyn Clock>) -> Self {
        Self {
            keys: config.secret.as_ref().map(Keyring::new),
            public_base_url: config.public_base_url,
            auth_token: config.auth_token,
            store,
            clock,
            metrics: Metrics::off(),
        }
    }

    pub(crate) fn public_base_url(&self) -> &str {
        &self.public_base_url
    }

    pub(crate) fn auth_token(&self) -> &SecretString {
        &self.auth_token
    }

    /// Records a metric per request (see [`Metrics`]).
    pub fn with_metrics(mut self, metrics: Metrics) -> Self {
        self.metrics = metrics;
        self
    }

    pub(crate) fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// Records a delivery report on the number's item, if it is the pending code's and newer
    /// than the one recorded; then notes the report as seen, refusing one seen before.
    ///
    /// The record comes first and is itself idempotent (it needs a newer sequence), so a
    /// callback that fails half way can be retried by Plivo; the note decides the answer,
    /// and only a first sighting counts in the metrics. A V2 nonce is spent before the
    /// record (see [`StatusReport::v2_nonce`]).
    pub(crate) async fn status(&self, report: &StatusReport) -> Result<Recorded, OtpError> {
        let now = self.clock.now();
        let receipt = &report.receipt;
        let until = now + REPLAY_WINDOW;
        let replayed = || {
            tracing::warn!(
                status = receipt.status.as_str(),
                "a callback already received came again; refused"
            );
            Err(OtpError::Forbidden("This callback was already received"))
        };
        if let Some(nonce) = &report.v2_nonce {
            let nonce = Note::V2Nonce(nonce).id();
            if !self.store.first_sighting(&nonce, until).await? {
                return replayed();
            }
        }
        let recorded = self
            .store
            .record_delivery(&report.url.key, &report.url.message_ref, receipt, now)
            .await?;
        let identity = Note::Report(receipt).id();
        match self.store.first_sighting(&identity, until).await {
            Ok(true) => {}
            // A copy sent at the same moment noted it first, but this one recorded it (a
            // replay cannot: it needs a newer sequence): it counts, exactly once.
            Ok(false) if recorded => {
                tracing::info!("a copy of this report arrived at the same moment");
            }
            Ok(false) => return replayed(),
            // Recorded already: a replay could not record it again (it needs a newer
            // sequence), so the report stands and counts; only its note is missing.
            Err(e) if recorded => tracing::warn!(
                error.message = %crate::error::chain(&e),
                "report recorded, but its replay note could not be written"
            ),
            Err(e) => return Err(e.into()),
        }
        if !recorded {
            tracing::info!(
                status = receipt.status.as_str(),
                "report of a replaced or older message; nothing changed"
            );
            return Ok(Recorded::Stale);
        }
        let outcome = receipt.status.outcome(report.url.region);
        let to = report.to.as_deref().map(mask_digits);
        if outcome == Some(DeliveryOutcome::Failed) {
            tracing::warn!(
                to,
                region = report.url.region.map(|r| r.to_string()),
                status = receipt.status.as_str(),
                error_code = receipt.error_code,
                "sms not delivered"
            );
        } else {
            tracing::info!(status = receipt.status.as_str(), "delivery report recorded");
        }
        Ok(Recorded::Current(outcome))
    }

    /// What a call says at `fetch`: nothing once it has ended or reached a machine; until a
    /// key is pressed, only the prompt to press 1 (so a voicemail box never records the
    /// code); on a 1, the code, once. Expired, tampered with, made for another call or for
    /// another number than the one called, or spoken before: refused, and the call says
    /// nothing. Only the deployment holding `OTP_SECRET` answers calls.
    pub(crate) async fn answer(
        &self,
        url: &AnswerUrl,
        fetch: &AnswerFetch,
    ) -> Result<AnswerStep, OtpError> {
        let keys = self.keys.as_ref().ok_or(OtpError::NotFound)?;
        if fetch.ended {
            return Ok(AnswerStep::Ended);
        }
        if fetch.machine {
            tracing::info!("a machine answered the call; nothing said");
            return Ok(AnswerStep::Machine);
        }
        let now = self.clock.now();
        let binding = &url.binding;
        let answer = keys
            .tickets()
            .open(binding, &url.ticket, now)
            .map_err(|e| {
                tracing::warn!(reason = %e, "answer refused");
                match e {
                    TicketError::Expired => OtpError::Forbidden("The answer URL has expired"),
                    TicketError::Invalid => {
                        OtpError::Forbidden("The answer URL is not one this service made")
                    }
                }
            })?;
        // Plivo says whom it called; it must be the number the ticket was sealed for.
        let called = fetch
            .to
            .as_deref()
            .and_then(|to| PhoneNumber::parse(&format!("+{}", to.trim_start_matches('+'))).ok());
        if called.is_none_or(|to| keys.phone_key(&to) != binding.key) {
            tracing::warn!("an answer fetched for another number than the one called; refused");
            return Err(OtpError::Forbidden("The answer URL is not for this call"));
        }
        if fetch.pressed.as_deref() != Some("1") {
            return Ok(AnswerStep::Prompt {
                language: answer.language,
            });
        }
        let call = Note::Answer(&binding.call_id).id();
        if !self.store.first_sighting(&call, now + ANSWER_TTL).await? {
            tracing::warn!("an answer URL fetched again; refused");
            return Err(OtpError::Forbidden("This call was already answered"));
        }
        Ok(AnswerStep::Speak(answer))
    }
}
